"""The audit step of the gate: the access record, the recorder protocol and the first recorder."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Executable, bindparam, false, insert, select, text, update
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from audit.chain import event_hash, timestamp
from audit.signing import CheckpointSigner
from core.errors import AuditUnavailable
from core.principal import RequestContext
from core.vocabulary import Action
from store.engine import AsyncWriter, SyncWriter, is_sqlite
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint, table_of


@dataclass(frozen=True, slots=True)
class SectionOutcome:
    """One category from one agency: the decision, its rules and basis, and what happened."""

    category: str
    connector: str
    holder: str
    decision: str  # "permit" | "deny"
    rule_ids: tuple[str, ...]
    basis: str | None
    outcome: str  # "disclosed" | "withheld" | "failed"
    error_code: str | None = None
    reason: str | None = None  # for a withheld section: what would allow it
    consent_id: str | None = None
    legal_basis: str | None = None
    break_glass: bool = False
    outside_consent_purpose: bool = False


_SECTION_FIELDS = tuple(f.name for f in fields(SectionOutcome))


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """One client's part of one request. Never the disclosed data itself."""

    request_id: str
    subject: str
    organization: str
    roles: tuple[str, ...]
    oauth_client: str | None
    purpose: str | None
    operation: str | None
    client_id: str | None
    action: str
    sections: tuple[SectionOutcome, ...]
    legal_basis: str | None = None
    justification: str | None = None  # the user's own words for a legal basis
    break_glass: bool = False
    detail: str | None = None  # ids only, e.g. the consent id of a consent change
    # what the operation did, where its sections do not say it: "disclosed" (a read that showed something),
    # "performed" (a change made), "refused" (the policies did not allow it; nothing was done or shown)
    result: str | None = None

    @property
    def outcome(self) -> str:
        """The result where one was given; else disclosed if any section was, failed if any failed, else
        withheld."""
        if self.result is not None:
            return self.result
        outcomes = {s.outcome for s in self.sections}
        for o in ("disclosed", "failed"):
            if o in outcomes:
                return o
        return "withheld"


def action_record(
    ctx: RequestContext, action: Action, client_id: str | None, *, detail: str | None = None,
    sections: tuple[SectionOutcome, ...] = (), **extra: Any,
) -> AccessRecord:
    """The access record of one action by the request's principal."""
    p = ctx.principal
    return AccessRecord(
        request_id=ctx.request_id, subject=p.subject, organization=p.organization, roles=tuple(sorted(p.roles)),
        oauth_client=p.client_id, purpose=str(ctx.purpose) if ctx.purpose else None, operation=ctx.operation,
        client_id=client_id, action=action.value, sections=sections, detail=detail, **extra,
    )


class AuditRecorder(Protocol):
    """Durably appends access records; raises AuditUnavailable if it cannot."""

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` in one write (inside `session`'s transaction if given), or raise AuditUnavailable."""
        ...

    async def begin(self, records: Sequence[AccessRecord]) -> Awaitable[None]:
        """Hand `records` to the log; returns once the write is under way, with what to await for it to be
        durable (which raises AuditUnavailable if it failed). Nothing may be released before that."""
        ...

    async def aclose(self) -> None:
        """Finish pending writes and release connections."""
        ...


_HEAD = table_of(AuditChainHead)
# Taking the lock and reading the head in one statement: a row lock on
# PostgreSQL, the write lock on SQLite (so no reader snapshot goes stale).
LOCK_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
             .returning(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.anchor_seq))
# Built once: statements are compiled once and their cache keys are cheap.
_INSERT_EVENTS = insert(table_of(AccessEvent))
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_INSERT_CHECKPOINT = insert(table_of(AuditCheckpoint))


@dataclass(frozen=True, slots=True)
class _Append:
    """The statements that extend the chain by a group of records (computed after the head is locked)."""

    rows: list[dict[str, Any]]
    seq: int
    hash: str
    checkpoint: dict[str, Any] | None

    def statements(self) -> list[tuple[Executable, Any]]:
        out: list[tuple[Executable, Any]] = [
            (_INSERT_EVENTS, self.rows), (_MOVE_HEAD, {"new_seq": self.seq, "new_hash": self.hash}),
        ]
        if self.checkpoint is not None:
            out.append((_INSERT_CHECKPOINT, self.checkpoint))
        return out


class ChainRecorder:
    """Appends access records to the hash chain; concurrent requests share one transaction (group commit).

    Appenders first lock the chain head, so concurrent writers (other replicas,
    the CLI) extend a single chain. Within a process, records arriving while a
    write is in flight are queued and written together in the next transaction;
    each caller returns only once its records are committed, and every caller
    of a failed transaction gets AuditUnavailable. On SQLite the write runs on
    one dedicated thread with the standard-library driver: one thread hop per
    group instead of one per statement. Every `checkpoint_every` events a signed
    checkpoint is written too.
    """

    def __init__(
        self, sessions: async_sessionmaker[Any], *, signer: CheckpointSigner | None = None,
        checkpoint_every: int = 1000, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_group: int = 256,
    ) -> None:
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._signer = signer
        self._every = checkpoint_every
        self._clock = clock
        self._max_group = max_group
        self._groups: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _GroupCommit] = weakref.WeakKeyDictionary()
        self._sqlite = SyncWriter(self._engine.url) if is_sqlite(str(self._engine.url)) else None
        self._pg = None if self._sqlite else AsyncWriter(self._engine)
        self._pg_head: tuple[int, str, int] | None = None  # where this writer left the chain (PostgreSQL)

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` (in `session`'s transaction if given, else group-committed), or raise AuditUnavailable."""
        if not records:
            return
        if session is None:
            await (await self.begin(records))
            return
        try:
            plan = self._plan((await session.execute(LOCK_HEAD)).one(), records)
            for statement, params in plan.statements():
                await session.execute(statement, params)
        except (SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable("the access log could not be written") from exc

    async def begin(self, records: Sequence[AccessRecord]) -> Awaitable[None]:
        """Queue `records` for the next group commit; returns once that group's commit has started.

        What the caller does meanwhile (the gateway renders the response) overlaps
        the commit's wait for the disk: on SQLite the writer thread signals as it
        commits, on PostgreSQL the statement has been sent. The returned future
        completes when the records are durable, or raises AuditUnavailable.
        """
        if not records:
            return started(_nothing())
        loop = asyncio.get_running_loop()
        group = self._groups.get(loop)
        if group is None:
            group = self._groups[loop] = _GroupCommit(self._write, self._max_group)
        return await group.stage(records)

    async def __aenter__(self) -> ChainRecorder:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Wait for queued records to be written, then close the writer's connection."""
        group = self._groups.get(asyncio.get_running_loop())
        if group is not None:
            await group.drained()
        if self._sqlite is not None:
            await self._sqlite.aclose()
        if self._pg is not None:
            await self._pg.aclose()

    async def _write(self, records: Sequence[AccessRecord], committing: Callable[[], None]) -> None:
        """One transaction for a group of records; `committing()` once its commit has started."""
        try:
            if self._sqlite is not None:
                loop = asyncio.get_running_loop()
                await self._sqlite.run(lambda conn: self._append_sync(conn, records),
                                       committing=lambda: _soon(loop, committing))
            else:
                committing()  # its waiters run once this task waits for the server: the statement has been sent
                await self._write_pg(records)
        except (SQLAlchemyError, OSError) as exc:
            self._pg_head = None
            raise AuditUnavailable("the access log could not be written") from exc

    async def _write_pg(self, records: Sequence[AccessRecord]) -> None:
        """One round trip when this process wrote the head last, else lock it first.

        Fast path: the events and the head's move in one autocommitted statement
        that moves the head only from where this writer left it (compare and
        swap); if another writer moved it meanwhile, nothing is written and the
        locked path runs. Groups that cross a checkpoint take the locked path.
        """
        head = self._pg_head
        if head is not None and self._pg is not None:
            plan = self._plan(head, records)
            if plan.checkpoint is None:
                written = await self._pg.run(lambda conn: _pg_execute(conn, head, plan))
                if written:
                    self._pg_head = (plan.seq, plan.hash, head[2])
                    return
        self._pg_head = None
        async with self._engine.begin() as conn:
            locked = _head_tuple((await conn.execute(LOCK_HEAD)).one())
            plan = self._plan(locked, records)
            if not await _pg_execute(conn, locked, plan):  # the head is locked: it cannot have moved
                raise RuntimeError("the chain head moved under its lock")
            if plan.checkpoint is not None:
                await conn.execute(_INSERT_CHECKPOINT, plan.checkpoint)
        self._pg_head = (plan.seq, plan.hash, locked[2])

    def _append_sync(self, conn: Connection, records: Sequence[AccessRecord]) -> None:
        """On the writer's thread: the statements straight on the driver's connection.

        The same statements as on PostgreSQL, with each column's own bind processor
        (so the stored values are what SQLAlchemy stores). This runs between the
        hand-over and the commit, while the request waits: SQLAlchemy's execution
        of the three statements took ~0.5 ms of it.
        """
        sql = _sqlite_append(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]  # sqlite3's, never None here
        try:
            plan = self._plan(cursor.execute(sql.lock).fetchone(), records)
            cursor.executemany(sql.insert, [sql.values(row) for row in plan.rows])
            cursor.execute(sql.move, (plan.seq, plan.hash))
        finally:
            cursor.close()
        if plan.checkpoint is not None:
            conn.execute(_INSERT_CHECKPOINT, plan.checkpoint)

    def _plan(self, head: Any, records: Sequence[AccessRecord]) -> _Append:
        seq, prev, anchor = _head_tuple(head)
        first = seq + 1
        now = self._clock()
        rows = []
        for r in records:
            seq += 1
            row = _row(r, now)
            row.update(seq=seq, prev_hash=prev, hash=event_hash(seq=seq, prev_hash=prev, event=row))
            prev = row["hash"]
            rows.append(row)
        checkpoint = None
        if self._signer is not None and (first - 1) // self._every != seq // self._every:
            checkpoint = checkpoint_values(self._signer, seq=seq, hash=prev, count=seq - anchor, now=now,
                                           reason="periodic")
        return _Append(rows, seq, prev, checkpoint)


@dataclass(frozen=True)
class _SqliteAppend:
    """The chain's append as SQL for the stdlib sqlite3 driver, with each event column's bind processor."""

    lock: str
    insert: str
    move: str
    columns: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def values(self, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[name] if process is None or row[name] is None else process(row[name])
                     for name, process in self.columns)


@functools.cache
def _sqlite_append(dialect: Any) -> _SqliteAppend:
    columns = [c for c in table_of(AccessEvent).c if c.name != "id"]
    head = _HEAD.name
    return _SqliteAppend(  # table and column names only; every value is a bound parameter
        lock=f"UPDATE {head} SET seq = seq WHERE id = 1 RETURNING seq, hash, anchor_seq",  # noqa: S608
        insert=f"INSERT INTO {AccessEvent.__tablename__} ({', '.join(c.name for c in columns)}) "  # noqa: S608
               f"VALUES ({', '.join('?' for _ in columns)})",
        move=f"UPDATE {head} SET seq = ?, hash = ? WHERE id = 1",  # noqa: S608
        columns=tuple((c.name, c.type.bind_processor(dialect)) for c in columns),
    )


def _head_tuple(row: Any) -> tuple[int, str, int]:
    return int(row[0]), str(row[1]), int(row[2])


async def _pg_execute(conn: AsyncConnection, head: tuple[int, str, int], plan: _Append) -> bool:
    """Insert the plan's events and move the head, if the head is still `head`; whether it was."""
    params: dict[str, Any] = {"new_seq": plan.seq, "new_hash": plan.hash,
                              "old_seq": head[0], "old_hash": head[1], "old_anchor": head[2]}
    for i, row in enumerate(plan.rows):
        params.update({f"{k}_{i}": v for k, v in row.items()})
    result = await conn.execute(_pg_append(len(plan.rows)), params)
    return bool(result.rowcount == len(plan.rows))


@functools.lru_cache(maxsize=64)
def _pg_append(n: int) -> Executable:
    """n events and the head's move in one statement (a data-modifying CTE), compiled once per n.

    The head moves only from (old_seq, old_hash, old_anchor); if it is elsewhere,
    the statement inserts nothing. (SQLAlchemy does not cache multi-row VALUES;
    as typed text it is cached like any other statement.)
    """
    columns = [c for c in table_of(AccessEvent).c if c.name != "id"]
    make_dialect: Callable[[], Dialect] = PGDialect  # SQLAlchemy leaves its constructor untyped
    pg = make_dialect()
    values = ", ".join(
        "(" + ", ".join(f"CAST(:{c.name}_{i} AS {c.type.compile(dialect=pg)})" for c in columns) + ")"
        for i in range(n))
    names = ", ".join(c.name for c in columns)
    sql = (  # table and column names, types and placeholders only; every value is a bound parameter
        f"WITH moved AS (UPDATE {_HEAD.name} SET seq = :new_seq, hash = :new_hash "  # noqa: S608
        "WHERE id = 1 AND seq = :old_seq AND hash = :old_hash AND anchor_seq = :old_anchor RETURNING id) "
        f"INSERT INTO {AccessEvent.__tablename__} ({names}) "
        f"SELECT * FROM (VALUES {values}) AS v ({names}) WHERE EXISTS (SELECT 1 FROM moved)")
    binds = [bindparam(f"{c.name}_{i}", type_=c.type) for i in range(n) for c in columns]
    binds += [bindparam(name, type_=_HEAD.c[col].type) for name, col in
              (("new_seq", "seq"), ("new_hash", "hash"), ("old_seq", "seq"), ("old_hash", "hash"),
               ("old_anchor", "anchor_seq"))]
    return text(sql).bindparams(*binds)


_Write = Callable[[Sequence[AccessRecord], Callable[[], None]], Awaitable[None]]


class _GroupCommit:
    """Queues submissions on one event loop; a single task writes them, a group per transaction.

    Each submission has two futures: `staged` (its group's commit has started;
    never fails) and `done` (durable, or AuditUnavailable).
    """

    def __init__(self, write: _Write, max_group: int) -> None:
        self._write = write
        self._max = max_group
        self._pending: deque[tuple[Sequence[AccessRecord], asyncio.Future[None], asyncio.Future[None]]] = deque()
        self._task: asyncio.Task[None] | None = None

    async def stage(self, records: Sequence[AccessRecord]) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        staged: asyncio.Future[None] = loop.create_future()
        done: asyncio.Future[None] = loop.create_future()
        done.add_done_callback(_retrieved)
        self._pending.append((records, staged, done))
        if self._task is None:
            self._task = loop.create_task(self._drain(), name="casebridge-audit-group-commit")
        await staged
        return done

    async def drained(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group: list[tuple[Sequence[AccessRecord], asyncio.Future[None], asyncio.Future[None]]] = []
                size = 0
                while self._pending and (not group or size + len(self._pending[0][0]) <= self._max):
                    item = self._pending.popleft()
                    group.append(item)
                    size += len(item[0])

                def committing(group: list[Any] = group) -> None:
                    for _, staged, _ in group:
                        if not staged.done():
                            staged.set_result(None)

                try:
                    await self._write([r for records, _, _ in group for r in records], committing)
                except BaseException as exc:  # every waiter hears of it, whatever it was
                    committing()
                    for _, _, done in group:
                        if not done.done():
                            failure = AuditUnavailable("the access log could not be written")
                            failure.__cause__ = exc
                            done.set_exception(failure)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                committing()
                for _, _, done in group:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._task = None
            for _, staged, done in self._pending:  # only if cancelled: nothing queued may wait forever
                if not staged.done():
                    staged.set_result(None)
                if not done.done():
                    done.set_exception(AuditUnavailable("the access log could not be written"))
            self._pending.clear()


def started(write: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """`write` running as a task whose failure its awaiter reports (never 'exception was never retrieved')."""
    task = asyncio.ensure_future(write)
    task.add_done_callback(_retrieved)
    return task


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


async def _nothing() -> None:
    return None


def checkpoint_values(
    signer: CheckpointSigner, *, seq: int, hash: str, count: int, now: datetime, reason: str,
) -> dict[str, Any]:
    """A signed checkpoint row for audit_checkpoints."""
    statement = {"seq": seq, "hash": hash, "count": count, "created_at": timestamp(now), "reason": reason}
    return {"seq": seq, "hash": hash, "count": count, "created_at": now, "reason": reason,
            "key_id": signer.key_id, "signature": signer.sign(statement)}


async def add_checkpoint(
    session: AsyncSession, signer: CheckpointSigner, *, seq: int, hash: str, count: int, now: datetime, reason: str,
) -> dict[str, Any]:
    """Sign and store a checkpoint; returns it as exported (with its signature)."""
    values = checkpoint_values(signer, seq=seq, hash=hash, count=count, now=now, reason=reason)
    await session.execute(insert(table_of(AuditCheckpoint)).values(**values))
    return {**values, "created_at": timestamp(now)}


def _row(r: AccessRecord, now: datetime) -> dict[str, Any]:
    categories = sorted({s.category for s in r.sections})
    return {
        "request_id": r.request_id, "recorded_at": now, "subject": r.subject, "organization": r.organization,
        "roles": list(r.roles), "oauth_client": r.oauth_client, "purpose": r.purpose, "operation": r.operation,
        "client_id": r.client_id, "action": r.action,
        "categories": f",{','.join(categories)}," if categories else "",
        "decisions": [{**{f: getattr(s, f) for f in _SECTION_FIELDS}, "rule_ids": list(s.rule_ids)}
                      for s in r.sections],
        "outcome": r.outcome, "detail": r.detail, "legal_basis": r.legal_basis,
        "justification": r.justification, "break_glass": r.break_glass,
    }


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


def _soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    """Run `callback` on `loop` from another thread (its handle is not needed)."""
    loop.call_soon_threadsafe(callback)
