"""The audit step of the gate: the access record, the recorder protocol and the first recorder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.chain import event_hash, timestamp
from audit.signing import CheckpointSigner
from core.errors import AuditUnavailable
from core.principal import RequestContext
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


class ChainRecorder:
    """Appends access records to the hash chain, all of a request in one transaction.

    Appenders first lock the chain head (an UPDATE of its one row: a row lock on
    PostgreSQL, the write lock on SQLite), so concurrent writers extend a single
    chain. Every `checkpoint_every` events a signed checkpoint is written too.
    """

    def __init__(
        self, sessions: async_sessionmaker[Any], *, signer: CheckpointSigner | None = None,
        checkpoint_every: int = 1000, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._signer = signer
        self._every = checkpoint_every
        self._clock = clock

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` in one transaction (or in the caller's), or raise AuditUnavailable."""
        if not records:
            return
        try:
            if session is not None:
                await self._append(session, records)
                return
            async with self._sessions.begin() as own:
                await self._append(own, records)
        except (SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable("the access log could not be written") from exc

    async def _append(self, session: AsyncSession, records: Sequence[AccessRecord]) -> None:
        head = AuditChainHead.__table__
        await session.execute(update(head).where(head.c.id == 1).values(seq=head.c.seq))  # take the lock first
        seq, prev, anchor = (await session.execute(
            select(head.c.seq, head.c.hash, head.c.anchor_seq).where(head.c.id == 1))).one()
        now = self._clock()
        rows = []
        for r in records:
            seq += 1
            row = _row(r, now)
            row.update(seq=seq, prev_hash=prev, hash=event_hash(seq=seq, prev_hash=prev, event=row))
            prev = row["hash"]
            rows.append(row)
        await session.execute(insert(AccessEvent.__table__), rows)
        await session.execute(update(head).where(head.c.id == 1).values(seq=seq, hash=prev))
        first = rows[0]["seq"]
        if self._signer is not None and (first - 1) // self._every != seq // self._every:
            await add_checkpoint(session, self._signer, seq=seq, hash=prev, count=seq - anchor, now=now,
                                 reason="periodic")


async def add_checkpoint(
    session: AsyncSession, signer: CheckpointSigner, *, seq: int, hash: str, count: int, now: datetime, reason: str,
) -> dict[str, Any]:
    """Sign and store a checkpoint; returns it as exported (with its signature)."""
    statement = {"seq": seq, "hash": hash, "count": count, "created_at": timestamp(now), "reason": reason}
    signature = signer.sign(statement)
    await session.execute(insert(AuditCheckpoint.__table__).values(
        seq=seq, hash=hash, count=count, created_at=now, reason=reason, key_id=signer.key_id, signature=signature))
    return {**statement, "key_id": signer.key_id, "signature": signature}


def _row(r: AccessRecord, now: datetime) -> dict[str, Any]:
    categories = sorted({s.category for s in r.sections})
    return {
        "request_id": r.request_id, "recorded_at": now, "subject": r.subject, "organization": r.organization,
        "roles": list(r.roles), "oauth_client": r.oauth_client, "purpose": r.purpose, "operation": r.operation,
        "client_id": r.client_id, "action": r.action,
        "categories": f",{','.join(categories)}," if categories else "",
        "decisions": [{**asdict(s), "rule_ids": list(s.rule_ids)} for s in r.sections],
        "outcome": r.outcome, "detail": r.detail, "legal_basis": r.legal_basis,
        "justification": r.justification, "break_glass": r.break_glass,
    }
