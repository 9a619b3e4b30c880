"""Witnessed checkpoints: a log cut short or rewritten after its checkpoints were deleted verifies on its own, and
is caught against the witness kept outside the database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, update

from audit.chain_writer import ChainRecorder
from audit.signing import CheckpointSigner, load_or_create_key
from audit.verify import verify
from audit.witness import check_witnessed, read_witness, witness
from demo.population import Population
from demo.servers import ServerThread
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint
from tests.gateway import caller, seed_links
from tests.test_audit_chain import record, rewrite_from


async def _events(engine: Any, signer: CheckpointSigner, first: int, n: int) -> None:
    async with ChainRecorder(engine, signer=signer, checkpoint_every=1000) as recorder:
        for i in range(first, first + n):
            await recorder.record([record(i)])


async def _cut_short(store: Any, keep: int) -> None:
    """What someone with the database can do: delete the newest events, move the head back, delete every
    checkpoint."""
    async with store.begin() as session:
        kept = (await session.execute(select(AccessEvent.hash).where(AccessEvent.seq == keep))).scalar_one()
        await session.execute(delete(AccessEvent).where(AccessEvent.seq > keep))
        await session.execute(update(AuditChainHead).values(seq=keep, hash=kept))
        await session.execute(delete(AuditCheckpoint))


async def test_a_log_cut_short_verifies_alone_and_is_caught_by_the_witness(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path,
) -> None:
    path = tmp_path / "witness.jsonl"
    await _events(engine, signer, 0, 6)
    first = await witness(store, signer, path)
    await _events(engine, signer, 6, 4)
    await witness(store, signer, path)
    assert await witness(store, signer, path) is not None  # nothing new: no second line for the same end
    entries, unreadable = read_witness(path)
    assert [e["seq"] for e in entries] == [6, 10] and unreadable == [] and first["seq"] == 6
    jwks = signer.public_jwks()
    assert await check_witnessed(store, entries, jwks) == []
    await _cut_short(store, keep=8)
    assert (await verify(store, jwks=jwks)).ok  # alone, the shortened log holds
    breaks = await check_witnessed(store, entries, jwks)
    assert [(b.seq, "cut short" in b.problem) for b in breaks] == [(10, True)]


async def test_a_tail_rewritten_past_a_witnessed_end_is_caught(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path,
) -> None:
    path = tmp_path / "witness.jsonl"
    await _events(engine, signer, 0, 8)
    await witness(store, signer, path)
    async with store.begin() as session:  # edit event 3, rehash everything after it, drop the checkpoints
        await rewrite_from(session, 3)
        await session.execute(delete(AuditCheckpoint))
    jwks = signer.public_jwks()
    assert (await verify(store, jwks=jwks)).ok
    (b,) = await check_witnessed(store, read_witness(path)[0], jwks)
    assert b.seq == 8 and "rewritten" in b.problem


async def test_a_forged_witness_line_is_not_trusted(
    engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path,
) -> None:
    await _events(engine, signer, 0, 3)
    entry = await witness(store, signer, None)
    forged = {**entry, "seq": 2}  # the signature says 3
    other = CheckpointSigner(load_or_create_key(tmp_path / "not-ours.json"))
    await _events(engine, signer, 3, 1)
    foreign = await witness(store, other, None)  # signed with a key that is not the gateway's
    breaks = await check_witnessed(store, [forged, foreign], signer.public_jwks())
    assert len(breaks) == 2 and all("witnessed checkpoint" in b.problem for b in breaks)


async def test_cli_verify_with_the_witness_exits_1_on_a_log_cut_short(
    engine: Any, database_url: str, store: Any, tmp_path: Path,
) -> None:
    env = {**os.environ, "CASEBRIDGE_DATABASE_URL": database_url,
           "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE": str(tmp_path / "k.json"),
           "CASEBRIDGE_AUTH__DEV_KEY_FILE": str(tmp_path / "dev.json")}
    signer = CheckpointSigner(load_or_create_key(tmp_path / "k.json"))
    path = tmp_path / "witness.jsonl"
    await _events(engine, signer, 0, 5)
    await witness(store, signer, path)
    cli = [str(Path(sys.executable).parent / "casebridge"), "audit", "verify", "--witness", str(path)]
    ok = await asyncio.to_thread(subprocess.run, cli, env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "every witnessed end" in ok.stderr, ok.stderr
    await _cut_short(store, keep=3)
    cut = await asyncio.to_thread(subprocess.run, cli, env=env, capture_output=True, text=True, timeout=60)
    assert cut.returncode == 1 and "seq 5" in cut.stderr and "cut short" in cut.stderr


async def test_the_gateway_witnesses_on_its_cadence_and_auditors_get_the_latest_checkpoint(
    database_url: str, benefits_server: ServerThread, population: Population, settings_factory: Any,
    tmp_path: Path,
) -> None:
    from api.app import create_app

    await seed_links(database_url, population)
    path = tmp_path / "witness.jsonl"
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url,
                                audit={"witness_file": path, "witness_every_seconds": 0.2,
                                       "signing_key_file": tmp_path / "audit-key.json"})
    with ServerThread(create_app(settings)) as server:
        gw = (settings, server)
        await caller(gw).query('query($id: ID!) { client(id: $id) { id } }', {"id": population.people[0].client_id})
        for _ in range(50):
            if path.exists() and path.read_text().strip():
                break
            await asyncio.sleep(0.1)
        body = await caller(gw, "OVERSIGHT", "auditor", purpose="audit").query(
            "{ accessLogIntegrity { ok headSeq latestCheckpoint { seq hash signature reason } } }")
    witnessed = [json.loads(line) for line in path.read_text().splitlines()]
    assert witnessed and witnessed[0]["seq"] >= 1 and witnessed[0]["reason"] == "witness"
    integrity = body["data"]["accessLogIntegrity"]
    assert integrity["ok"] and integrity["latestCheckpoint"]["seq"] >= witnessed[0]["seq"]
    assert integrity["latestCheckpoint"]["signature"].count(".") == 2  # a compact JWS to keep
