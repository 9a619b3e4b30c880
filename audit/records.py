"""The audit step of the gate: the access record, the recorder protocol and the first recorder."""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, Executable, bindparam, insert, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from audit.chain import event_hash, timestamp
from audit.signing import CheckpointSigner
from core.errors import AuditUnavailable
from core.principal import RequestContext
from store.engine import AsyncWriter, SyncWriter, is_sqlite
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint


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

    @property
    def outcome(self) -> str:
        """disclosed if anything was, else failed if anything failed, else withheld."""
        outcomes = {s.outcome for s in self.sections}
        for o in ("disclosed", "failed"):
            if o in outcomes:
                return o
        return "withheld"


def action_record(
    ctx: RequestContext, action: str, client_id: str | None, *, detail: str | None = None,
    sections: tuple[SectionOutcome, ...] = (), **extra: Any,
) -> AccessRecord:
    """The access record of one action by the request's principal."""
    p = ctx.principal
    return AccessRecord(
        request_id=ctx.request_id, subject=p.subject, organization=p.organization, roles=tuple(sorted(p.roles)),
        oauth_client=p.client_id, purpose=str(ctx.purpose) if ctx.purpose else None, operation=ctx.operation,
        client_id=client_id, action=action, sections=sections, detail=detail, **extra,
    )


class AuditRecorder(Protocol):
    """Durably appends access records; raises AuditUnavailable if it cannot."""

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` in one write (inside `session`'s transaction if given), or raise AuditUnavailable."""
        ...

    async def aclose(self) -> None:
        """Finish pending writes and release connections."""
        ...


_HEAD = AuditChainHead.__table__
# Taking the lock and reading the head in one statement: a row lock on
# PostgreSQL, the write lock on SQLite (so no reader snapshot goes stale).
LOCK_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
             .returning(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.anchor_seq))
# Built once: statements are compiled once and their cache keys are cheap.
_INSERT_EVENTS = insert(AccessEvent.__table__)
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
_INSERT_CHECKPOINT = insert(AuditCheckpoint.__table__)


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
            loop = asyncio.get_running_loop()
            group = self._groups.get(loop)
            if group is None:
                group = self._groups[loop] = _GroupCommit(self._write, self._max_group)
            await group.submit(records)
            return
        try:
            plan = self._plan((await session.execute(LOCK_HEAD)).one(), records)
            for statement, params in plan.statements():
                await session.execute(statement, params)
        except (SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable("the access log could not be written") from exc

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

    async def _write(self, records: Sequence[AccessRecord]) -> None:
        """One transaction for a group of records."""
        try:
            if self._sqlite is not None:
                await self._sqlite.run(lambda conn: self._append_sync(conn, records))
            else:
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
        plan = self._plan(conn.execute(LOCK_HEAD).one(), records)
        for statement, params in plan.statements():
            conn.execute(statement, params)

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
    columns = [c for c in AccessEvent.__table__.c if c.name != "id"]
    pg = postgresql.dialect()
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


class _GroupCommit:
    """Queues submissions on one event loop; a single task writes them, a group per transaction."""

    def __init__(self, write: Callable[[Sequence[AccessRecord]], Awaitable[None]], max_group: int) -> None:
        self._write = write
        self._max = max_group
        self._pending: deque[tuple[Sequence[AccessRecord], asyncio.Future[None]]] = deque()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, records: Sequence[AccessRecord]) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._pending.append((records, done))
        if self._task is None:
            self._task = loop.create_task(self._drain(), name="casebridge-audit-group-commit")
        await done

    async def drained(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        try:
            while self._pending:
                group, size = [], 0
                while self._pending and (not group or size + len(self._pending[0][0]) <= self._max):
                    item = self._pending.popleft()
                    group.append(item)
                    size += len(item[0])
                try:
                    await self._write([r for records, _ in group for r in records])
                except BaseException as exc:  # every waiter hears of it, whatever it was
                    for _, done in group:
                        if not done.done():
                            failure = AuditUnavailable("the access log could not be written")
                            failure.__cause__ = exc
                            done.set_exception(failure)
                    if not isinstance(exc, Exception):
                        raise
                    continue
                for _, done in group:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._task = None
            for _, done in self._pending:  # only if cancelled: nothing queued may wait forever
                if not done.done():
                    done.set_exception(AuditUnavailable("the access log could not be written"))
            self._pending.clear()


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
    await session.execute(insert(AuditCheckpoint.__table__).values(**values))
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
