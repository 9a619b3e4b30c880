"""The access log's one writer: lock the chain head, insert the events, move the head.

Every append — a group of requests' records, or a change's own record inside the
change's transaction — runs the same three statements in one transaction:
LOCK_HEAD takes the head's row lock (PostgreSQL) or the write lock (SQLite) and
reads where the chain ends, the events are inserted with their hashes, and the
head moves to the last one. Concurrent writers (other replicas, the command
line) therefore extend a single chain. On PostgreSQL a writer that wrote the
head last appends with one statement instead (audit.postgres_append).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Executable, bindparam, false, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from audit.access_records import AccessRecord, checkpoint_values, event_row
from audit.chain import event_hash
from audit.postgres_append import Head, append_if_head_is
from audit.signing import CheckpointSigner
from core.errors import AuditUnavailable
from store.engine import STORE_FAILURES, is_sqlite
from store.sqlite import SqliteWriter
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint, table_of

_HEAD = table_of(AuditChainHead)
# Taking the lock and reading the head in one statement: a row lock on
# PostgreSQL, the write lock on SQLite (so no reader snapshot goes stale).
LOCK_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
             .returning(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.anchor_seq))
_INSERT_EVENTS = insert(table_of(AccessEvent))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_INSERT_CHECKPOINT = insert(table_of(AuditCheckpoint))

MAX_GROUP = 256  # records in one transaction at most

log = logging.getLogger("casebridge.audit")


@dataclass(frozen=True, slots=True)
class _Append:
    """What extends the chain by a group of records, worked out once the head is locked."""

    rows: list[dict[str, Any]]
    seq: int
    hash: str
    anchor: int
    checkpoint: dict[str, Any] | None

    @property
    def head(self) -> Head:
        """Where the chain ends once this is written."""
        return self.seq, self.hash, self.anchor

    def statements(self) -> list[tuple[Executable, Any]]:
        out: list[tuple[Executable, Any]] = [
            (_INSERT_EVENTS, self.rows), (_MOVE_HEAD, {"new_seq": self.seq, "new_hash": self.hash})]
        if self.checkpoint is not None:
            out.append((_INSERT_CHECKPOINT, self.checkpoint))
        return out


class ChainRecorder:
    """Appends access records to the hash chain; records that arrive together share one transaction.

    A record queued while a write is in flight waits for the next write,
    which takes everything queued by then (up to MAX_GROUP records): under load
    one commit serves many requests. Each caller returns once its records are
    committed; every caller of a failed transaction gets AuditUnavailable. Every
    `checkpoint_every` events a signed checkpoint is written in the same
    transaction. Used from one event loop (the gateway's).
    """

    def __init__(
        self, engine: AsyncEngine, *, signer: CheckpointSigner | None = None, checkpoint_every: int = 1000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._signer = signer
        self._every = checkpoint_every
        self._clock = clock
        self._sqlite = SqliteWriter(engine.url) if is_sqlite(str(engine.url)) else None
        self._head: Head | None = None  # where this writer left the chain (PostgreSQL), if it knows
        self._queue: deque[tuple[Sequence[AccessRecord], asyncio.Future[None]]] = deque()
        self._writing: asyncio.Task[None] | None = None

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` (in `session`'s transaction if given, else with whatever else is queued), or raise
        AuditUnavailable."""
        if not records:
            return
        if session is None:
            await self._queued(records)
            return
        self._head = None  # this writer no longer knows where the chain ends
        try:
            await self._append_async(await session.connection(), records)
        except STORE_FAILURES as exc:
            raise AuditUnavailable("the access log could not be written") from exc

    async def __aenter__(self) -> ChainRecorder:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Wait for queued records to be written, then close the writer's connection."""
        if self._writing is not None:
            await asyncio.shield(self._writing)
        if self._sqlite is not None:
            await self._sqlite.aclose()

    async def _queued(self, records: Sequence[AccessRecord]) -> None:
        done = asyncio.get_running_loop().create_future()
        self._queue.append((records, done))
        if self._writing is None or self._writing.get_loop() is not asyncio.get_running_loop():
            self._writing = asyncio.create_task(self._write_queued(), name="casebridge-access-log-writer")
        await done

    async def _write_queued(self) -> None:
        """Write what is queued, a group per transaction, until nothing is."""
        try:
            while self._queue:
                group = [self._queue.popleft()]
                size = len(group[0][0])
                while self._queue and size + len(self._queue[0][0]) <= MAX_GROUP:
                    group.append(self._queue.popleft())
                    size += len(group[-1][0])
                failure: BaseException | None = None
                try:
                    await self._write([r for records, _ in group for r in records])
                except BaseException as exc:  # every waiter hears of it, whatever it was
                    failure = exc
                    log.error("the access log could not be written (%s)", type(exc).__name__)
                _settle([done for _, done in group], failure)
                if failure is not None and not isinstance(failure, Exception):
                    raise failure
        finally:  # cancelled: nothing queued may wait for ever
            self._writing = None
            _settle([done for _, done in self._queue], RuntimeError("the access log's writer stopped"))
            self._queue.clear()

    async def _write(self, records: Sequence[AccessRecord]) -> None:
        """One transaction: on SQLite whole on the writer's thread; on PostgreSQL one statement where this
        writer knows the head and no checkpoint is due, else locked on a pooled connection."""
        if self._sqlite is not None:
            await self._sqlite.run(lambda conn: self._append_on(conn, records))
            return
        head, self._head = self._head, None  # unknown until this write is done
        if head is not None and not self._checkpoint_due(head[0], len(records)):
            plan = self._append(head, records)
            if await append_if_head_is(self._engine, head, plan.rows, plan.seq, plan.hash):
                self._head = plan.head
                return
        async with self._engine.begin() as conn:
            self._head = await self._append_async(conn, records)

    def _append_on(self, conn: Connection, records: Sequence[AccessRecord]) -> None:
        head = conn.execute(LOCK_HEAD).one()
        for statement, params in self._append(head, records).statements():
            conn.execute(statement, params)

    async def _append_async(self, conn: AsyncConnection, records: Sequence[AccessRecord]) -> Head:
        head = (await conn.execute(LOCK_HEAD)).one()
        plan = self._append(head, records)
        for statement, params in plan.statements():
            await conn.execute(statement, params)
        return plan.head

    def _append(self, head: Sequence[Any], records: Sequence[AccessRecord]) -> _Append:
        """The events after `head` (seq, hash, anchor_seq), each hashed with the one before it."""
        seq, prev, anchor = int(head[0]), str(head[1]), int(head[2])
        first = seq + 1
        now = self._clock()
        rows = []
        for r in records:
            seq += 1
            row = event_row(r, now)
            row.update(seq=seq, prev_hash=prev, hash=event_hash(seq=seq, prev_hash=prev, event=row))
            prev = row["hash"]
            rows.append(row)
        checkpoint = None
        if self._signer is not None and self._checkpoint_due(first - 1, len(records)):
            checkpoint = checkpoint_values(self._signer, seq=seq, hash=prev, count=seq - anchor, now=now,
                                           reason="periodic")
        return _Append(rows, seq, prev, anchor, checkpoint)


    def _checkpoint_due(self, seq: int, count: int) -> bool:
        """Whether appending `count` events after `seq` crosses a multiple of checkpoint_every."""
        return self._signer is not None and seq // self._every != (seq + count) // self._every


def _settle(waiters: list[asyncio.Future[None]], failure: BaseException | None) -> None:
    for done in waiters:
        if done.done():
            continue
        if failure is None:
            done.set_result(None)
        else:
            error = AuditUnavailable("the access log could not be written")
            error.__cause__ = failure
            done.set_exception(error)


async def log_writable(engine: AsyncEngine) -> bool:
    """Whether the access log can be written now: takes the chain head's lock and inserts no rows into the
    events table (a real write, to the real table, of nothing), then rolls back. For /readyz."""
    e = table_of(AccessEvent)
    columns = [c for c in e.c if not c.primary_key]
    nothing = insert(e).from_select([c.name for c in columns], select(*columns).where(false()))
    try:
        async with engine.connect() as conn, conn.begin() as tx:
            if (await conn.execute(LOCK_HEAD)).first() is None:
                return False
            await conn.execute(nothing)
            await tx.rollback()
    except Exception:  # any failure to write means not ready
        return False
    return True
