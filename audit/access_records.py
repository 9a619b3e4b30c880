"""The audit step of the gate: the access record and the recorder protocol (the recorder: audit.chain_writer)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from audit.chain import timestamp
from audit.signing import CheckpointSigner
from core.principal import RequestContext
from core.vocabulary import Action
from store.tables import AuditCheckpoint, table_of


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
        """Append `records` durably (inside `session`'s transaction if given), or raise AuditUnavailable."""
        ...

    async def aclose(self) -> None:
        """Finish pending writes and release connections."""
        ...


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


def event_row(r: AccessRecord, now: datetime) -> dict[str, Any]:
    """The access_events row of a record (without its place in the chain: seq, prev_hash, hash)."""
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
