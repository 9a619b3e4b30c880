"""Exports of the access log — JSON Lines, CSV, a FHIR Bundle of BALP AuditEvents — each with its chain proof.

The proof is the hash skeleton of the exported range (seq, prev_hash, hash for
every position from the first exported event to the last, so a client-filtered
export still links) and a checkpoint on the last position signed with the
gateway's key. `verify_export` checks a file on its own with the public JWKS.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from audit.access_records import add_checkpoint
from audit.chain import CONTENT_FIELDS, event_hash, timestamp
from audit.fhir import audit_event
from audit.queries import LogFilter
from audit.signing import CheckpointSigner, verify_statement
from store.tables import AccessEvent

FORMATS = ("jsonl", "csv", "fhir")
COLUMNS = ("seq", "prev_hash", "hash", *CONTENT_FIELDS)
PROOF_VERSION = 1


@dataclass(frozen=True, slots=True)
class Slice:
    """Events read for an export, the skeleton that links them, and the signed end."""

    events: list[dict[str, Any]]
    links: list[tuple[int, str, str]]
    proof: dict[str, Any]


async def read_slice(
    session: AsyncSession, signer: CheckpointSigner, flt: LogFilter, *, reason: str,
    max_seq: int | None = None,
) -> Slice:
    """The events matching `flt` (oldest first) and a signed proof of the range they span."""
    stmt = flt.apply(select(AccessEvent)).order_by(AccessEvent.seq)
    if max_seq is not None:
        stmt = stmt.where(AccessEvent.seq <= max_seq)
    events = [row_dict(r) for r in (await session.execute(stmt)).scalars()]
    if not events:
        return Slice([], [], {})
    lo, hi = events[0]["seq"], events[-1]["seq"]
    links = [(int(s), str(p), str(h)) for s, p, h in (await session.execute(
        select(AccessEvent.seq, AccessEvent.prev_hash, AccessEvent.hash)
        .where(AccessEvent.seq.between(lo, hi)).order_by(AccessEvent.seq)))]
    statement = {"seq": hi, "hash": links[-1][2], "count": len(events), "created_at": timestamp(datetime.now(UTC)),
                 "reason": reason}
    proof = {
        "type": "proof", "chain": "casebridge-access-log", "version": PROOF_VERSION, "from_seq": lo, "to_seq": hi,
        "events": len(events), "links": [list(link) for link in links],
        "checkpoint": {**statement, "key_id": signer.key_id, "signature": signer.sign(statement)},
        "jwks": signer.public_jwks(),
    }
    return Slice(events, links, proof)


def row_dict(row: Any) -> dict[str, Any]:
    """An event row as plain data (times as chain timestamps)."""
    out = {name: getattr(row, name) for name in COLUMNS}
    out["recorded_at"] = timestamp(out["recorded_at"])
    out["roles"] = list(out["roles"] or [])
    out["break_glass"] = bool(out["break_glass"])
    return out


SUFFIX = {"jsonl": ".jsonl", "csv": ".csv", "fhir": ".json"}


async def keep_checkpoint(session: AsyncSession, signer: CheckpointSigner, slice_: Slice) -> None:
    """Store, in the caller's transaction, the checkpoint an export's proof carries: the statement the file holds
    (the same position, count, reason and time), so that the log's checkpoints and the file's agree."""
    if not slice_.proof:
        return
    cp = slice_.proof["checkpoint"]
    signed_at = datetime.strptime(cp["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    await add_checkpoint(session, signer, seq=cp["seq"], hash=cp["hash"], count=cp["count"], now=signed_at,
                         reason=cp["reason"])


MEDIA_TYPE = {"jsonl": "application/jsonl", "csv": "text/csv", "fhir": "application/fhir+json"}


def render(slice_: Slice, fmt: str) -> str:
    """The export as text: JSON Lines (the proof first, then one event per line), CSV (the events; its proof is
    `json.dumps(slice_.proof)`, kept beside it), or the FHIR Bundle."""
    if fmt not in FORMATS:
        raise ValueError(f"format is one of {', '.join(FORMATS)}")
    if fmt == "jsonl":
        lines = [json.dumps(slice_.proof, sort_keys=True)]
        lines += [json.dumps({"type": "event", **e}, sort_keys=True) for e in slice_.events]
        return "\n".join(lines) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(COLUMNS)
        for e in slice_.events:
            writer.writerow([json.dumps(e[c]) if c in ("roles", "decisions") else _safe(_cell(e[c])) for c in COLUMNS])
        return buffer.getvalue()
    return json.dumps(bundle(slice_), indent=1, sort_keys=True)


def write(slice_: Slice, fmt: str, out: Path) -> list[Path]:
    """Write the slice as `fmt` to `out` (CSV also writes OUT.proof.json); fsynced; returns the files.

    The file's suffix says its format (.jsonl, .csv, .json for the FHIR Bundle), so that it can be checked alone.
    """
    text = render(slice_, fmt)
    if out.suffix != SUFFIX[fmt]:
        raise ValueError(f"a {fmt} export is named *{SUFFIX[fmt]}")
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [out]
    with _durable(out) as fh:
        fh.write(text)
    if fmt == "csv":
        proof_path = out.with_name(out.name + ".proof.json")
        with _durable(proof_path) as fh:
            fh.write(json.dumps(slice_.proof, sort_keys=True))
        files.append(proof_path)
    return files


def bundle(slice_: Slice) -> dict[str, Any]:
    """A FHIR collection Bundle: the AuditEvents, the proof as a Binary, the checkpoint JWS as Bundle.signature."""
    proof = json.dumps(slice_.proof, sort_keys=True).encode()
    entries = [{"fullUrl": f"urn:casebridge:access-log:{e['seq']}", "resource": audit_event(e)} for e in slice_.events]
    entries.append({"fullUrl": "urn:casebridge:access-log:proof", "resource": {
        "resourceType": "Binary", "contentType": "application/json", "data": base64.b64encode(proof).decode()}})
    out: dict[str, Any] = {"resourceType": "Bundle", "type": "collection",
                           "timestamp": timestamp(datetime.now(UTC)), "entry": entries}
    if slice_.proof:
        cp = slice_.proof["checkpoint"]
        out["signature"] = {
            "type": [{"system": "urn:iso-astm:E1762-95:2013", "code": "1.2.840.10065.1.12.1.14",
                      "display": "Source Signature"}],
            "when": cp["created_at"], "who": {"display": "casebridge gateway"}, "sigFormat": "application/jose",
            "data": base64.b64encode(cp["signature"].encode()).decode(),
        }
    return out


@dataclass(frozen=True, slots=True)
class ExportCheck:
    """What checking an export found."""

    ok: bool
    events: int
    problem: str | None = None


def verify_export(path: Path, jwks: dict[str, Any] | None = None) -> ExportCheck:
    """Check an export file on its own: its skeleton links, its signed end, and every event against the skeleton."""
    try:
        proof, events, hashes_only = _load(path)
        if not proof:
            return ExportCheck(True, 0) if not events else ExportCheck(False, len(events), "no proof in the export")
        links = [tuple(link) for link in proof["links"]]
        for (s1, _, h1), (s2, p2, _) in itertools.pairwise(links):
            if s2 != s1 + 1 or p2 != h1:
                return ExportCheck(False, len(events), f"the proof's links break at seq {s2}")
        statement = verify_statement(proof["checkpoint"]["signature"], jwks or proof["jwks"])
        if (statement["seq"], statement["hash"]) != (links[-1][0], links[-1][2]):
            return ExportCheck(False, len(events), "the signed checkpoint is not the end of the proof")
        by_seq = {s: (p, h) for s, p, h in links}
        for e in events:
            seq = e["seq"]
            if seq not in by_seq:
                return ExportCheck(False, len(events), f"event {seq} is outside the proof")
            if hashes_only:
                if e["hash"] != by_seq[seq][1]:
                    return ExportCheck(False, len(events), f"event {seq} does not match the proof")
                continue
            if (e["prev_hash"], e["hash"]) != by_seq[seq] or event_hash(seq=seq, prev_hash=e["prev_hash"],
                                                                        event=e) != e["hash"]:
                return ExportCheck(False, len(events), f"event {seq} was altered")
        if len(events) != proof["events"]:
            return ExportCheck(False, len(events), f"the proof covers {proof['events']} events, the file has "
                                                   f"{len(events)}")
    except (ValueError, KeyError, TypeError) as exc:
        return ExportCheck(False, 0, f"unreadable export: {exc}")
    return ExportCheck(True, len(events))


def _load(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:  # a quoted cell may hold a line break
            text = fh.read()
    else:
        text = path.read_text()
    if path.suffix == ".csv":
        proof_path = path.with_name(path.name + ".proof.json")
        proof = json.loads(proof_path.read_text()) if proof_path.exists() else {}
        events = [_from_csv(row) for row in csv.DictReader(io.StringIO(text, newline=""))]  # quoted newlines kept
        return proof, events, False
    if path.suffix == ".jsonl":
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        proof = next((line for line in lines if line.get("type") == "proof"), {})
        events = [_parse_times({k: v for k, v in line.items() if k != "type"})
                  for line in lines if line.get("type") == "event"]
        return proof, events, False
    doc = json.loads(text)
    if doc.get("resourceType") != "Bundle":
        raise ValueError("not a casebridge export")
    proof, events = {}, []
    for entry in doc.get("entry", []):
        res = entry["resource"]
        if res["resourceType"] == "Binary":
            proof = json.loads(base64.b64decode(res["data"]))
        elif res["resourceType"] == "AuditEvent":
            ext = {x["url"]: x for x in res.get("extension", [])}
            events.append({"seq": ext["urn:casebridge:access-log:seq"]["valueInteger"],
                           "hash": ext["urn:casebridge:access-log:hash"]["valueString"]})
    return proof, events, True


# A spreadsheet runs a cell that starts with one of these as a formula: a caseworker's free text (a break-glass
# justification) must not run on the auditor's machine. Such a cell is written with a leading apostrophe (so is one
# that starts with an apostrophe), which reading takes off again before the event is hashed.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def _safe(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def _unsafe(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def _from_csv(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: (_unsafe(v) if v != "" else None) for k, v in row.items()}
    out["seq"] = int(row["seq"])
    out["roles"] = json.loads(row["roles"])
    out["decisions"] = json.loads(row["decisions"])
    out["break_glass"] = row["break_glass"] == "true"
    out["categories"] = row["categories"]
    return _parse_times(out)


def _parse_times(e: dict[str, Any]) -> dict[str, Any]:
    e["recorded_at"] = datetime.strptime(e["recorded_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return e


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


class _durable:
    """Write a file and fsync it before closing: an archive must be on disk before events are deleted."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        self.fh = open(self.path, "w", newline="", encoding="utf-8")
        return self.fh

    def __exit__(self, *exc: object) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()


__all__ = ["FORMATS", "ExportCheck", "Slice", "bundle", "read_slice", "verify_export", "write"]


