"""The audit step of the gate: the access record, the recorder protocol and the first recorder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import AuditUnavailable
from store.tables import AccessEvent


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
    client_id: str
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


class AuditRecorder(Protocol):
    """Durably appends access records; raises AuditUnavailable if it cannot."""

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` in one write (inside `session`'s transaction if given), or raise AuditUnavailable."""
        ...


class TableAuditRecorder:
    """Appends access records to the `access_events` table, all of a request in one transaction."""

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append `records` in one transaction (or in the caller's), or raise AuditUnavailable."""
        if not records:
            return
        try:
            if session is not None:
                session.add_all(_row(r) for r in records)
                await session.flush()
                return
            async with self._sessions.begin() as own:
                own.add_all(_row(r) for r in records)
        except (SQLAlchemyError, OSError) as exc:
            raise AuditUnavailable("the access log could not be written") from exc


def _row(r: AccessRecord) -> AccessEvent:
    return AccessEvent(
        request_id=r.request_id, subject=r.subject, organization=r.organization,
        roles=list(r.roles), oauth_client=r.oauth_client, purpose=r.purpose,
        operation=r.operation, client_id=r.client_id, action=r.action,
        decisions=[{**asdict(s), "rule_ids": list(s.rule_ids)} for s in r.sections],
        outcome=r.outcome, detail=r.detail, legal_basis=r.legal_basis, justification=r.justification,
        break_glass=r.break_glass,
    )
