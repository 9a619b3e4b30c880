"""Exports with their chain proof (JSON Lines, CSV, FHIR BALP), checked on their own; retention across the cut."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select

from audit.access_records import AccessRecord, SectionOutcome
from audit.chain_writer import ChainRecorder
from audit.export import read_slice, verify_export, write
from audit.queries import LogFilter
from audit.retention import retain
from audit.signing import CheckpointSigner, load_or_create_key
from audit.verify import verify
from store.tables import AccessEvent, AuditChainHead

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def read_event(n: int, client: str | None = None, outcome: str = "disclosed") -> AccessRecord:
    return AccessRecord(
        request_id=f"req-{n}", subject=f"worker-{n % 3}", organization="HRA", roles=("caseworker",),
        oauth_client="portal", purpose="case_management", operation="Profile", client_id=client or f"client-{n % 4}",
        action="read", sections=(
            SectionOutcome("benefits", "benefits", "HRA", "permit", ("own-agency-reads-own-records",), "own-agency",
                           outcome),
            SectionOutcome("documents", "benefits", "HRA", "permit", ("own-agency-reads-own-records",), "own-agency",
                           outcome)),
    )


async def _fill(engine: Any, signer: CheckpointSigner, n: int = 12, *, at: datetime | None = None) -> None:
    clock = (lambda: at) if at else (lambda: datetime.now(UTC))
    async with ChainRecorder(engine, signer=signer, clock=clock) as recorder:
        for i in range(n):
            await recorder.record([read_event(i)])


async def _export(store: Any, signer: CheckpointSigner, fmt: str, out: Path, **flt: Any) -> list[Path]:
    async with store() as session:
        slice_ = await read_slice(session, signer, LogFilter(**flt), reason="export")
    return write(slice_, fmt, out)


async def test_jsonl_export_verifies_alone_and_any_edit_fails_it(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path
) -> None:
    await _fill(engine, signer)
    (out,) = await _export(store, signer, "jsonl", tmp_path / "log.jsonl")
    jwks = signer.public_jwks()
    assert verify_export(out, jwks).ok and verify_export(out, jwks).events == 12
    lines = out.read_text().splitlines()

    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:5], lines[5].replace('"HRA"', '"DHS"', 1), *lines[6:]]) + "\n")
    check = verify_export(edited, jwks)
    assert not check.ok and "event 5 was altered" in str(check.problem)

    dropped = tmp_path / "dropped.jsonl"
    dropped.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    assert "covers 12 events" in str(verify_export(dropped, jwks).problem)

    stranger = CheckpointSigner(load_or_create_key(tmp_path / "other.json")).public_jwks()
    assert "signature" in str(verify_export(out, stranger).problem)


async def test_a_client_filtered_export_still_links(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path,
) -> None:
    await _fill(engine, signer)
    (out,) = await _export(store, signer, "jsonl", tmp_path / "one.jsonl", client_id="client-1")
    check = verify_export(out, signer.public_jwks())
    assert check.ok and check.events == 3  # events 2, 6, 10, linked through the skeleton of 2..10


async def test_csv_export_with_its_proof_verifies(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path,
) -> None:
    await _fill(engine, signer, n=5)
    out, proof = await _export(store, signer, "csv", tmp_path / "log.csv")
    assert proof.name == "log.csv.proof.json"
    assert verify_export(out, signer.public_jwks()).ok
    out.write_text(out.read_text().replace("case_management", "emergency", 1))
    assert not verify_export(out, signer.public_jwks()).ok


async def test_fhir_export_is_a_bundle_of_balp_audit_events(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path
) -> None:
    await _fill(engine, signer, n=6)
    (out,) = await _export(store, signer, "fhir", tmp_path / "log.json")
    bundle = json.loads(out.read_text())
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert bundle["signature"]["sigFormat"] == "application/jose" and bundle["signature"]["data"]
    events = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AuditEvent"]
    assert len(events) == 6
    for ev in events:
        # FHIR R4 AuditEvent: type 1..1, recorded 1..1, agent 1..* with requestor, source 1..1 with observer
        assert ev["type"]["code"] and ev["recorded"].endswith("Z")
        assert ev["agent"] and all("requestor" in a for a in ev["agent"])
        assert sum(a["requestor"] for a in ev["agent"]) == 1
        assert ev["source"]["observer"]
        assert ev["action"] == "R" and ev["outcome"] == "0"
        assert ev["meta"]["profile"] == [
            "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"]
        patients = [x for x in ev["entity"] if x.get("role", {}).get("code") == "1"]
        assert len(patients) == 1 and patients[0]["what"]["reference"].startswith("Patient/client-")
        assert ev["purposeOfEvent"][0]["coding"][0]["code"] == "CAREMGT"
    assert verify_export(out, signer.public_jwks()).ok


async def test_retention_archives_then_removes_and_the_chain_still_verifies(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path
) -> None:
    await _fill(engine, signer, n=5, at=NOW - timedelta(days=400))
    await _fill(engine, signer, n=3, at=NOW - timedelta(days=10))
    operator = AccessRecord(request_id="cli-1", subject="ops", organization="ops", roles=("auditor",),
                            oauth_client=None, purpose="audit", operation=None, client_id=None,
                            action="audit.retention", sections=())
    async with ChainRecorder(engine, signer=signer) as recorder:
        result = await retain(store, signer, recorder, retention_days=365, archive_dir=tmp_path / "archive",
                              now=NOW, operator=operator)
    assert (result.archived, result.anchor_seq) == (5, 5)
    assert result.archive is not None and verify_export(result.archive, signer.public_jwks()).ok
    report = await verify(store, jwks=signer.public_jwks())
    assert report.ok, report.breaks
    assert (report.first_seq, report.last_seq) == (6, 9)  # 3 kept + the retention event itself
    async with store() as session:
        assert (await session.execute(select(AuditChainHead.anchor_seq))).scalar_one() == 5
        assert (await session.execute(select(AccessEvent.action).where(AccessEvent.seq == 9))).scalar_one() == (
            "audit.retention")
    async with ChainRecorder(engine, signer=signer) as recorder:
        again = await retain(store, signer, recorder, retention_days=365, archive_dir=tmp_path / "archive",
                             now=NOW, operator=operator)
    assert again.archived == 0
    async with store.begin() as session:  # removing the first kept event is still found
        await session.execute(delete(AccessEvent).where(AccessEvent.seq == 6))
    broken = await verify(store, jwks=signer.public_jwks())
    assert broken.first_break is not None and broken.first_break.seq == 6


async def test_cli_export_and_verify_export(engine: Any, database_url: str, store: Any, tmp_path: Path) -> None:
    signer = CheckpointSigner(load_or_create_key(tmp_path / "k.json"))
    await _fill(engine, signer, n=4)
    env = {**os.environ, "CASEBRIDGE_DATABASE_URL": database_url,
           "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE": str(tmp_path / "k.json"),
           "CASEBRIDGE_AUTH__DEV_KEY_FILE": str(tmp_path / "dev.json")}
    cli = [str(Path(sys.executable).parent / "casebridge"), "audit"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=60)

    exported = await asyncio.to_thread(run, "export", "--format", "fhir", "--out", str(tmp_path / "x.json"),
                                       "--operator", "auditor-7")
    assert exported.returncode == 0, exported.stderr
    keys = await asyncio.to_thread(run, "public-key")
    (tmp_path / "jwks.json").write_text(keys.stdout)
    checked = await asyncio.to_thread(run, "verify-export", str(tmp_path / "x.json"), "--jwks",
                                      str(tmp_path / "jwks.json"))
    assert checked.returncode == 0 and "4 events" in checked.stderr
    wrong = await asyncio.to_thread(run, "export", "--format", "fhir", "--out", str(tmp_path / "x.jsonl"))
    assert wrong.returncode == 2 and "*.json" in wrong.stderr
    async with store() as session:
        last = (await session.execute(select(AccessEvent).order_by(AccessEvent.seq.desc()).limit(1))).scalar_one()
    assert (last.action, last.subject, last.detail) == ("audit.export", "auditor-7", "fhir: 4 events")
    assert (await verify(store, jwks=signer.public_jwks())).ok
