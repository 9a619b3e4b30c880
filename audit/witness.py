"""Witnessed checkpoints: where the chain ended, signed, kept outside the database.

A chain that verifies proves it was not edited inside; it cannot prove it was not
cut short - someone with the database can delete the newest events, move the
head back and delete the checkpoints, and what is left verifies. So at a fixed
cadence (every `checkpoint_every` events, by the appenders, and every
`witness_every_seconds`, here) the gateway signs where the chain ends and, once
that is committed, appends the signed checkpoint to a witness outside the
database: a file (JSON lines, append-only; put it on another machine's mount,
or ship it to write-once storage). Auditors keep witnessed checkpoints too
(`accessLogIntegrity.latestCheckpoint`). `casebridge audit verify --witness
FILE` then proves the chain still holds every witnessed end: the event at each
witnessed position is the one that was signed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.access_records import add_checkpoint
from audit.chain import timestamp
from audit.checkpoints import lock_head
from audit.signing import CheckpointSigner, verify_statement
from audit.verify import Break
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint

log = logging.getLogger("casebridge.audit")
FIELDS = ("seq", "hash", "count", "created_at", "reason", "key_id", "signature")


async def witness(sessions: async_sessionmaker[Any], signer: CheckpointSigner, path: Path | None) -> dict[str, Any]:
    """Sign where the chain ends now (unless the newest checkpoint already does), commit it, then append it to
    the witness file (if one is configured)."""
    async with sessions.begin() as session:
        seq, digest, anchor, _ = await lock_head(session)  # as appenders do: the end cannot move meanwhile
        newest = await _newest(session)
        if newest is not None and newest["seq"] == seq:
            return newest  # nothing new since it was signed
        checkpoint = await add_checkpoint(session, signer, seq=seq, hash=digest, count=seq - anchor,
                                          now=datetime.now(UTC), reason="witness")
    entry = {k: checkpoint[k] for k in FIELDS}
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")
    return entry


async def latest(sessions: async_sessionmaker[Any]) -> dict[str, Any] | None:
    """The newest signed checkpoint, as an auditor keeps it (None before the first)."""
    async with sessions() as session:
        return await _newest(session)


async def _newest(session: AsyncSession) -> dict[str, Any] | None:
    row = (await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(),
                                                                  AuditCheckpoint.id.desc()).limit(1))
           ).scalar_one_or_none()
    if row is None:
        return None
    return {k: timestamp(row.created_at) if k == "created_at" else getattr(row, k) for k in FIELDS}


def read_witness(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The witnessed checkpoints in a file, and the lines that could not be read (by number)."""
    entries, problems = [], []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict) or not all(k in entry for k in ("seq", "hash", "signature")):
                raise ValueError("not a checkpoint")
        except ValueError:
            problems.append(f"line {n}: not a witnessed checkpoint")
            continue
        entries.append(entry)
    return entries, problems


async def check_witnessed(sessions: async_sessionmaker[Any], entries: Iterable[dict[str, Any]],
                          jwks: dict[str, Any]) -> list[Break]:
    """Each witnessed checkpoint must be signed by our key and still be in the chain: the event at its
    position, with the hash that was signed (or, before the retention anchor, archived at that anchor)."""
    out = []
    async with sessions() as session:
        head = (await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1))).scalar_one()
        for entry in entries:
            seq, digest = int(entry["seq"]), str(entry["hash"])
            try:
                statement = verify_statement(str(entry["signature"]), jwks)
            except ValueError as exc:
                out.append(Break(seq, None, f"witnessed checkpoint at {seq}: {exc}"))
                continue
            if (statement["seq"], statement["hash"]) != (seq, digest):
                out.append(Break(seq, None, f"witnessed checkpoint at {seq}: differs from what was signed"))
                continue
            if seq < head.anchor_seq:
                continue  # archived by retention: its archive's proof covers it
            if seq == head.anchor_seq:
                found = head.anchor_hash
            else:
                found = (await session.execute(select(AccessEvent.hash).where(AccessEvent.seq == seq))
                         ).scalar_one_or_none()
            if found is None or seq > head.seq:
                out.append(Break(seq, None, f"the log no longer reaches the witnessed end at {seq}: it was cut "
                                            "short"))
            elif found != digest:
                out.append(Break(seq, None, f"the event at the witnessed end {seq} is not the one that was signed: "
                                            "the log was rewritten"))
    return sorted(out, key=lambda b: b.seq)
