"""The access log's hash chain: one chain under concurrent writers; every edit or deletion found in its place."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update

from audit.access_records import AccessRecord, SectionOutcome
from audit.chain import event_hash
from audit.chain_writer import ChainRecorder
from audit.checkpoints import checkpoint_head
from audit.signing import CheckpointSigner, load_or_create_key
from audit.verify import verify
from core.errors import AuditUnavailable
from store.engine import make_engine
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint


def record(n: int, client: str = "c-1") -> AccessRecord:
    return AccessRecord(
        request_id=f"req-{n}", subject="worker", organization="DHS", roles=("caseworker",), oauth_client=None,
        purpose="case_management", operation="Profile", client_id=client, action="read",
        sections=(SectionOutcome("benefits", "benefits", "HRA", "deny", ("default-deny",), None, "withheld",
                                 reason="CONSENT_REQUIRED"),),
    )


@pytest.fixture
async def engine(database_url: str) -> Any:
    """The store's engine with room for the concurrent writers below (conftest's `store` sessions ride on it)."""
    engine = make_engine(database_url, pool_size=20) if not database_url.startswith("sqlite") else make_engine(
        database_url)
    yield engine
    await engine.dispose()


async def test_concurrent_writers_keep_one_valid_chain(
    engine: Any, database_url: str, store: Any, signer: CheckpointSigner
) -> None:
    second_engine = make_engine(database_url)  # a second "replica" with its own pool
    recorders = [ChainRecorder(engine, signer=signer, checkpoint_every=50),
                 ChainRecorder(second_engine, signer=signer, checkpoint_every=50)]
    try:
        async def writer(w: int) -> None:
            for i in range(15):
                await recorders[w % 2].record([record(w * 100 + i), record(w * 100 + i, client="c-2")])

        await asyncio.gather(*(writer(w) for w in range(8)))
    finally:
        for r in recorders:
            await r.aclose()
        await second_engine.dispose()
    report = await verify(store, jwks=signer.public_jwks())
    assert report.ok, report.breaks
    assert (report.events_checked, report.head_seq, report.first_seq, report.last_seq) == (240, 240, 1, 240)
    assert report.checkpoints_checked >= 4  # one per 50 events crossed
    async with store() as session:
        seqs = list((await session.execute(select(AccessEvent.seq).order_by(AccessEvent.id))).scalars())
    assert sorted(seqs) == list(range(1, 241))


async def rewrite_from(session: Any, seq: int) -> None:
    """What someone with the database can do: edit the event at `seq`, recompute every hash after it and move
    the head to the new end."""
    rows = (await session.execute(select(AccessEvent).where(AccessEvent.seq >= seq)
                                  .order_by(AccessEvent.seq))).scalars().all()
    prev = rows[0].prev_hash
    for row in rows:
        if row.seq == seq:
            row.organization = "HRA"
        row.prev_hash = prev
        row.hash = event_hash(seq=row.seq, prev_hash=prev, event=row)
        prev = row.hash
    await session.execute(update(AuditChainHead).values(hash=prev))


async def _chain(engine: Any, signer: CheckpointSigner, n: int = 10) -> None:
    async with ChainRecorder(engine, signer=signer, checkpoint_every=1000) as recorder:
        for i in range(n):
            await recorder.record([record(i)])


async def _first_break(store: Any, signer: CheckpointSigner) -> tuple[int, str]:
    report = await verify(store, jwks=signer.public_jwks())
    assert not report.ok
    b = report.first_break
    assert b is not None
    return b.seq, b.problem


async def test_an_edited_event_is_found_at_its_position(engine: Any, store: Any, signer: CheckpointSigner) -> None:
    await _chain(engine, signer)
    async with store.begin() as session:
        await session.execute(update(AccessEvent).where(AccessEvent.seq == 4).values(organization="HRA"))
    seq, problem = await _first_break(store, signer)
    assert seq == 4 and "altered" in problem


async def test_an_edited_decision_is_found(engine: Any, store: Any, signer: CheckpointSigner) -> None:
    await _chain(engine, signer)
    async with store.begin() as session:
        row = (await session.execute(select(AccessEvent).where(AccessEvent.seq == 7))).scalar_one()
        row.decisions = [{**row.decisions[0], "outcome": "disclosed"}]
    assert await _first_break(store, signer) == (7, "content does not match its hash (altered)")


async def test_a_deleted_event_is_found_at_its_position(engine: Any, store: Any, signer: CheckpointSigner) -> None:
    await _chain(engine, signer)
    async with store.begin() as session:
        await session.execute(delete(AccessEvent).where(AccessEvent.seq == 6))
    seq, problem = await _first_break(store, signer)
    assert seq == 6 and "missing" in problem


async def test_a_rewritten_tail_is_caught_by_the_signed_checkpoint(
    engine: Any, store: Any, signer: CheckpointSigner,
) -> None:
    await _chain(engine, signer, n=8)
    async with store.begin() as session:
        await checkpoint_head(session, signer, reason="manual")
    async with store.begin() as session:
        await rewrite_from(session, 3)
    seq, problem = await _first_break(store, signer)
    assert seq == 8 and "not the one that was signed" in problem


async def test_a_truncated_tail_is_caught_by_the_signed_checkpoint(
    engine: Any, store: Any, signer: CheckpointSigner,
) -> None:
    await _chain(engine, signer, n=8)
    async with store.begin() as session:
        await checkpoint_head(session, signer, reason="manual")
        five = (await session.execute(select(AccessEvent.hash).where(AccessEvent.seq == 5))).scalar_one()
    async with store.begin() as session:
        await session.execute(delete(AccessEvent).where(AccessEvent.seq > 5))
        await session.execute(update(AuditChainHead).values(seq=5, hash=five))
    seq, problem = await _first_break(store, signer)
    assert seq == 8 and "truncated" in problem


async def test_a_forged_checkpoint_is_found(engine: Any, store: Any, signer: CheckpointSigner, tmp_path: Path) -> None:
    await _chain(engine, signer, n=3)
    forger = CheckpointSigner(load_or_create_key(tmp_path / "not-ours.json"))
    async with store.begin() as session:
        await checkpoint_head(session, forger, reason="manual")
    seq, problem = await _first_break(store, signer)
    assert seq == 3 and "signature" in problem


async def test_periodic_checkpoints_are_signed(engine: Any, store: Any, signer: CheckpointSigner) -> None:
    async with ChainRecorder(engine, signer=signer, checkpoint_every=10) as recorder:
        for i in range(25):
            await recorder.record([record(i)])
    async with store() as session:
        cps = (await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))).scalars().all()
    assert [(c.seq, c.count, c.reason) for c in cps] == [(10, 10, "periodic"), (20, 20, "periodic")]
    assert (await verify(store, jwks=signer.public_jwks())).checkpoints_checked == 2


async def test_cli_verify_names_the_first_broken_link(
    engine: Any, database_url: str, store: Any, tmp_path: Path,
) -> None:
    env = {**os.environ, "CASEBRIDGE_DATABASE_URL": database_url,
           "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE": str(tmp_path / "k.json"),
           "CASEBRIDGE_AUTH__DEV_KEY_FILE": str(tmp_path / "dev.json")}
    cli = [str(Path(sys.executable).parent / "casebridge"), "audit"]
    signer = CheckpointSigner(load_or_create_key(tmp_path / "k.json"))
    await _chain(engine, signer, n=5)
    ok = await asyncio.to_thread(subprocess.run, [*cli, "verify"], env=env, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "5 events" in ok.stderr
    async with store.begin() as session:
        await session.execute(text("UPDATE access_events SET purpose = 'emergency' WHERE seq = 2"))
    broken = await asyncio.to_thread(subprocess.run, [*cli, "verify"], env=env, capture_output=True, text=True,
                                     timeout=60)
    assert broken.returncode == 1 and "seq 2" in broken.stderr and "altered" in broken.stderr


async def test_concurrent_requests_share_a_transaction_and_each_waits_for_its_commit(
    engine: Any, store: Any, signer: CheckpointSigner
) -> None:
    async with ChainRecorder(engine, signer=signer) as recorder:
        await recorder.record([record(0)])  # the writer's connection is open

        async def one(i: int) -> int:
            await recorder.record([record(i), record(i, client="c-2")])
            async with store() as session:  # committed by the time record() returns
                return int((await session.execute(select(func.count()).select_from(AccessEvent)
                                                  .where(AccessEvent.request_id == f"req-{i}"))).scalar_one())

        assert await asyncio.gather(*(one(i) for i in range(1, 41))) == [2] * 40
    async with store() as session:
        rows = (await session.execute(select(AccessEvent.request_id, AccessEvent.recorded_at, AccessEvent.seq)
                                      .order_by(AccessEvent.seq))).all()
    assert len(rows) == 81
    transactions = {at for _, at, _ in rows}  # one clock reading per transaction
    assert len(transactions) < 41  # grouped: fewer transactions than requests
    by_request: dict[str, list[int]] = {}
    for rid, _, seq in rows:
        by_request.setdefault(rid, []).append(seq)
    assert all(v[1] - v[0] == 1 for rid, v in by_request.items() if rid != "req-0")  # a request's records adjoin
    assert (await verify(store, jwks=signer.public_jwks())).ok


async def test_a_failed_group_fails_every_waiter_and_the_next_group_is_written(
    engine: Any, database_url: str, store: Any, signer: CheckpointSigner
) -> None:
    async with ChainRecorder(engine, signer=signer) as recorder:
        await recorder.record([record(0)])
        async with store.begin() as session:
            await session.execute(text("ALTER TABLE access_events RENAME TO access_events_away"))
        results = await asyncio.gather(*(recorder.record([record(i)]) for i in range(1, 9)), return_exceptions=True)
        assert all(isinstance(r, AuditUnavailable) for r in results), results
        async with store.begin() as session:
            await session.execute(text("ALTER TABLE access_events_away RENAME TO access_events"))
        await recorder.record([record(9)])
    async with store() as session:
        ids = list((await session.execute(select(AccessEvent.request_id).order_by(AccessEvent.seq))).scalars())
    assert ids == ["req-0", "req-9"]  # nothing half-written, and the log works again
    assert (await verify(store, jwks=signer.public_jwks())).ok


async def test_a_writer_whose_head_moved_under_it_appends_after_the_other_writer(
    engine: Any, database_url: str, store: Any, signer: CheckpointSigner
) -> None:
    other_engine = make_engine(database_url)
    try:
        async with ChainRecorder(engine, signer=signer) as mine, \
                ChainRecorder(other_engine, signer=signer) as theirs:
            await mine.record([record(1)])  # mine now knows where the chain ends
            await theirs.record([record(2)])  # ... and is wrong about it from here
            async with store.begin() as session:  # a consent change, inside its own transaction
                await mine.record([record(3)], session=session)
            await mine.record([record(4), record(4, client="c-2")])
            await theirs.record([record(5)])
    finally:
        await other_engine.dispose()
    async with store() as session:
        rows = (await session.execute(select(AccessEvent.seq, AccessEvent.request_id)
                                      .order_by(AccessEvent.seq))).all()
    assert [tuple(r) for r in rows] == [(1, "req-1"), (2, "req-2"), (3, "req-3"), (4, "req-4"), (5, "req-4"),
                                        (6, "req-5")]
    assert (await verify(store, jwks=signer.public_jwks())).ok


async def test_record_returns_once_durable_and_raises_when_the_log_cannot_be_written(
    engine: Any, store: Any, signer: CheckpointSigner
) -> None:
    async with ChainRecorder(engine, signer=signer) as recorder:
        await recorder.record([record(1), record(1, client="c-2")])
        async with store() as session:
            assert (await session.execute(select(func.count()).select_from(AccessEvent))).scalar_one() == 2
        async with store.begin() as session:
            await session.execute(text("ALTER TABLE access_events RENAME TO access_events_away"))
        with pytest.raises(AuditUnavailable):
            await recorder.record([record(2)])
        async with store.begin() as session:
            await session.execute(text("ALTER TABLE access_events_away RENAME TO access_events"))
    assert (await verify(store, jwks=signer.public_jwks())).ok


async def test_a_log_longer_than_one_batch_verifies_and_a_break_past_the_first_batch_is_found(
    engine: Any, store: Any, signer: CheckpointSigner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("audit.verify.BATCH", 50)  # the real batch is 2000 events; the walk is the same
    async with ChainRecorder(engine, signer=signer) as recorder:
        for start in range(0, 120, 40):
            await recorder.record([record(i) for i in range(start, start + 40)])
    report = await verify(store, jwks=signer.public_jwks())
    assert report.ok and report.events_checked == 120
    async with store.begin() as session:
        await session.execute(update(AccessEvent).where(AccessEvent.seq == 107).values(subject="someone-else"))
    report = await verify(store, jwks=signer.public_jwks())
    assert not report.ok and report.breaks[0].seq == 107
