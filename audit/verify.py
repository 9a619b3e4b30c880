"""Checking the chain: every link, every hash, every signed checkpoint; the first break is named."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from audit.chain import event_hash
from audit.signing import verify_statement
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint, table_of

BATCH = 2000


@dataclass(frozen=True, slots=True)
class Break:
    """The first place the chain does not hold."""

    seq: int
    event_id: int | None
    problem: str


@dataclass(slots=True)
class Report:
    """What `verify` checked and what it found."""

    events_checked: int = 0
    checkpoints_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_seq: int = 0
    breaks: list[Break] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the chain holds."""
        return not self.breaks

    @property
    def first_break(self) -> Break | None:
        """The earliest break, by position."""
        return min(self.breaks, key=lambda b: b.seq) if self.breaks else None


class ChainWalk:
    """Checks events in order: contiguous positions, links, hashes."""

    def __init__(self, *, expected_seq: int | None, prev_hash: str | None) -> None:
        self.expected = expected_seq
        self.prev = prev_hash
        self.breaks: list[Break] = []
        self.count = 0
        self.hashes: dict[int, str] = {}

    def feed(self, events: Iterable[Any]) -> None:
        """Check the next events (rows or mappings with seq, prev_hash, hash, id and the content)."""
        for ev in events:
            get: Callable[[str], Any] = ev.get if isinstance(ev, dict) else functools.partial(getattr, ev)
            seq, prev, digest = get("seq"), get("prev_hash"), get("hash")
            event_id = get("id")
            if self.expected is not None and seq != self.expected:
                self.breaks.append(Break(self.expected, None, f"events {self.expected}..{seq - 1} are missing"))
            elif self.prev is not None and prev != self.prev:
                self.breaks.append(Break(seq, event_id, "does not link to the previous event"))
            if event_hash(seq=seq, prev_hash=prev, event=ev) != digest:
                self.breaks.append(Break(seq, event_id, "content does not match its hash (altered)"))
            self.expected, self.prev = seq + 1, digest
            self.hashes[seq] = digest
            self.count += 1
            if self.breaks:
                return  # the first break is what an auditor needs; past it nothing is trustworthy


async def verify(
    sessions: async_sessionmaker[Any], *, jwks: dict[str, Any], since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Verify the whole chain (or the events recorded in [since, until)) and its checkpoints."""
    report = Report()
    async with sessions() as session:
        head = (await session.execute(select(AuditChainHead).where(AuditChainHead.id == 1))).scalar_one()
        report.head_seq = head.seq
        whole = since is None and until is None
        walk = ChainWalk(expected_seq=head.anchor_seq + 1 if whole else None,
                         prev_hash=head.anchor_hash if whole else None)
        # plain rows, streamed: no ORM identity map growing with the log (expunging one mid-stream is
        # refused by SQLAlchemy 2.1 once a log is longer than a batch)
        events = table_of(AccessEvent)
        stmt = select(*events.c).where(events.c.seq > head.anchor_seq).order_by(events.c.seq)
        if since is not None:
            stmt = stmt.where(events.c.recorded_at >= since)
        if until is not None:
            stmt = stmt.where(events.c.recorded_at < until)
        result = await session.stream(stmt.execution_options(yield_per=BATCH))
        async for partition in result.partitions(BATCH):
            if report.first_seq is None and partition:
                report.first_seq = partition[0].seq
            walk.feed(partition)
            if walk.breaks:
                break
        await result.close()
        report.events_checked, report.breaks = walk.count, walk.breaks
        report.last_seq = walk.expected - 1 if walk.expected is not None else None
        if whole and not walk.breaks:
            if (walk.expected or 1) - 1 != head.seq:
                report.breaks.append(Break(walk.expected or 1, None,
                                           f"the chain head says {head.seq} events; the last is "
                                           f"{(walk.expected or 1) - 1}"))
            elif walk.prev != head.hash:
                report.breaks.append(Break(head.seq, None, "the chain head's hash does not match the last event"))
        checkpoints = (await session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq))).scalars().all()
        for cp in checkpoints:
            report.checkpoints_checked += 1
            problem = _checkpoint_problem(cp, jwks, walk.hashes, head, whole)
            if problem:
                report.breaks.append(Break(cp.seq, None, problem))
    report.breaks.sort(key=lambda b: b.seq)
    return report


def _checkpoint_problem(cp: Any, jwks: dict[str, Any], hashes: dict[int, str], head: Any, whole: bool) -> str | None:
    try:
        statement = verify_statement(cp.signature, jwks)
    except ValueError as exc:
        return f"checkpoint at {cp.seq}: {exc}"
    if (statement["seq"], statement["hash"]) != (cp.seq, cp.hash):
        return f"checkpoint at {cp.seq}: the stored row differs from what was signed"
    if cp.seq in hashes and hashes[cp.seq] != cp.hash:
        return f"checkpoint at {cp.seq}: the event there is not the one that was signed"
    if whole and cp.seq > head.seq:
        return f"checkpoint at {cp.seq}: signed after events the log no longer has (truncated)"
    if whole and cp.seq == head.anchor_seq and cp.hash != head.anchor_hash:
        return f"checkpoint at {cp.seq}: the retention anchor does not match"
    return None
