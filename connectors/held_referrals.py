"""Referrals casebridge holds (category casework): a client referred to a directory service by a caseworker, or
applying themselves, with FHIR Task's statuses. A referral is held for its referrer (or the client) and, where
the service's organisation answers through casebridge, for that organisation too: each side is its holder's
record, decided by the gate like any other (connectors/held.py says how held sources work).

The status machine (which change may follow which) is the referral's own rule, here; who may make a change is the
policies' (gate/referral_desk.py asks them).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held import Group
from core.errors import AgencyUnavailable, InvalidInput
from core.principal import RequestContext
from core.vocabulary import Category
from store.held_tables import Referral as ReferralRow
from store.held_tables import ReferralEvent as EventRow


class ReferralStatus(StrEnum):
    """FHIR Task's statuses a referral moves through (R4 TaskStatus, upper case), and EXPIRED: nobody answered
    in time (FHIR: failed, with that reason)."""

    REQUESTED = "REQUESTED"
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    IN_PROGRESS = "IN_PROGRESS"
    ON_HOLD = "ON_HOLD"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


class ReferralReason(StrEnum):
    """Why a referral was rejected, failed or was cancelled."""

    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    NO_CAPACITY = "NO_CAPACITY"
    CLIENT_DECLINED = "CLIENT_DECLINED"
    CLIENT_UNREACHABLE = "CLIENT_UNREACHABLE"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    CLIENT_MOVED = "CLIENT_MOVED"
    DUPLICATE = "DUPLICATE"
    OTHER = "OTHER"


S = ReferralStatus
FINAL = frozenset({S.REJECTED, S.COMPLETED, S.CANCELLED, S.FAILED, S.EXPIRED})
# what the receiving organisation may answer, from each status
ANSWERS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    S.REQUESTED: frozenset({S.RECEIVED, S.ACCEPTED, S.REJECTED}),
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.ON_HOLD, S.COMPLETED, S.FAILED}),
    S.IN_PROGRESS: frozenset({S.ON_HOLD, S.COMPLETED, S.FAILED}),
    S.ON_HOLD: frozenset({S.IN_PROGRESS, S.COMPLETED, S.FAILED}),
}
NEEDS_REASON = frozenset({S.REJECTED, S.FAILED})
UNANSWERED = frozenset({S.REQUESTED, S.RECEIVED})


def check_answer(current: str, wanted: ReferralStatus, reason: str | None) -> None:
    """InvalidInput unless the receiving organisation may answer `wanted` to a referral that is `current`."""
    now = ReferralStatus(current)
    if now in FINAL:
        raise InvalidInput(f"this referral is {now} and stays so", field="status", reason="final")
    if wanted not in ANSWERS.get(now, frozenset()):
        allowed = ", ".join(sorted(ANSWERS.get(now, frozenset())))
        raise InvalidInput(f"a referral that is {now} can become {allowed}", field="status",
                           reason="invalid_transition")
    _check_reason(wanted, reason)


def check_withdrawal(current: str, reason: str | None) -> None:
    """InvalidInput unless a referral that is `current` may still be cancelled."""
    if ReferralStatus(current) in FINAL:
        raise InvalidInput(f"this referral is {current} and stays so", field="id", reason="final")
    _check_reason(S.CANCELLED, reason)


def _check_reason(status: ReferralStatus, reason: str | None) -> None:
    if reason is not None and reason not in ReferralReason.__members__:
        raise InvalidInput(f"a reason is one of {', '.join(ReferralReason)}", field="reason")
    if status in NEEDS_REASON and reason is None:
        raise InvalidInput(f"a referral {status.lower()} says why: one of {', '.join(ReferralReason)}",
                           field="reason")
    if status not in NEEDS_REASON | {S.CANCELLED} and reason is not None:
        raise InvalidInput("a reason goes with a rejection, a failure or a cancellation", field="reason")


@dataclass(frozen=True, slots=True)
class ReferralStep:
    status: str
    reason: str | None
    by_org: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Referral:
    """A referral as its holders' sections show it."""

    id: str
    client_id: str
    from_org: str
    to_org: str | None
    service_id: str
    service_name: str
    organization_name: str
    status: str
    reason: str | None
    note: str | None
    categories: tuple[str, ...]
    consent_id: str | None
    share_until: datetime | None
    created_at: datetime
    updated_at: datetime
    history: tuple[ReferralStep, ...]


class Referrals:
    """Referrals in the store: each is in its referrer's section and, where one answers here, its receiver's."""

    name = "casebridge-referrals"
    categories = frozenset({Category.CASEWORK})
    own_part_always = False  # the case notes' part is the caller's own always; referrals add a part where held

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        if Category.CASEWORK not in categories:
            return set()
        r = ReferralRow
        stmt = select(r.client_id, r.from_org, r.to_org).where(r.client_id.in_(list(client_ids))).distinct()
        try:
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).all()
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("referrals could not be read", connector=self.name) from exc
        out = set()
        for cid, sender, receiver in rows:
            out.add((cid, Category.CASEWORK, sender, True))
            if receiver:
                out.add((cid, Category.CASEWORK, receiver, True))
        return out

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[Referral]]:
        if not groups:
            return {}
        r = ReferralRow
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        wanted = set(keys)
        out: dict[Group, list[Referral]] = defaultdict(list)
        try:
            async with self._sessions() as session:
                rows = list((await session.execute(select(r).where(or_(
                    tuple_(r.client_id, r.from_org).in_(keys), tuple_(r.client_id, r.to_org).in_(keys))))).scalars())
                steps = await _steps(session, [x.id for x in rows])
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("referrals could not be read", connector=self.name) from exc
        for row in rows:
            item = referral(row, steps.get(row.id, []))
            for holder in {row.from_org, row.to_org}:
                if holder is not None and (row.client_id, holder) in wanted:
                    out[(row.client_id, Category.CASEWORK, holder, True)].append(item)
        return dict(out)

    def sort_key(self, item: Referral) -> Any:
        return (item.updated_at, item.id)

    def as_of(self) -> datetime:
        return datetime.now(UTC)


async def _steps(session: AsyncSession, ids: list[str]) -> dict[str, list[ReferralStep]]:
    out: dict[str, list[ReferralStep]] = defaultdict(list)
    if ids:
        e = EventRow
        for ev in (await session.execute(select(e).where(e.referral_id.in_(ids)).order_by(e.at, e.id))).scalars():
            out[ev.referral_id].append(ReferralStep(ev.status, ev.reason, ev.by_org, ev.at))
    return out


def referral(row: ReferralRow, steps: Sequence[ReferralStep]) -> Referral:
    return Referral(row.id, row.client_id, row.from_org, row.to_org, row.service_id, row.service_name,
                    row.organization_name, row.status, row.reason, row.note, tuple(row.categories), row.consent_id,
                    row.share_until, row.created_at, row.updated_at, tuple(steps))


async def add_referral(session: AsyncSession, *, client_id: str, from_org: str, to_org: str | None, service_id: str,
                       service_name: str, organization_name: str, note: str | None, categories: Sequence[str],
                       consent_id: str | None, share_until: datetime | None, by: str, now: datetime) -> Referral:
    row = ReferralRow(id=str(uuid.uuid4()), client_id=client_id, from_org=from_org, to_org=to_org,
                      service_id=service_id, service_name=service_name, organization_name=organization_name,
                      status=S.REQUESTED.value, reason=None, note=note, categories=list(categories),
                      consent_id=consent_id, share_until=share_until, recorded_by=by, created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    session.add(EventRow(referral_id=row.id, status=row.status, reason=None, by_org=from_org, by=by, at=now))
    await session.flush()
    return referral(row, [ReferralStep(row.status, None, from_org, now)])


async def referral_row(session: AsyncSession, referral_id: str, *, for_update: bool = False) -> ReferralRow | None:
    stmt = select(ReferralRow).where(ReferralRow.id == referral_id)
    return (await session.execute(stmt.with_for_update() if for_update else stmt)).scalar_one_or_none()


async def move(session: AsyncSession, row: ReferralRow, status: ReferralStatus, *, reason: str | None, by_org: str,
               by: str, now: datetime) -> Referral:
    """Record a status change (already checked) in the caller's transaction."""
    row.status, row.reason, row.updated_at = status.value, reason, now
    session.add(EventRow(referral_id=row.id, status=status.value, reason=reason, by_org=by_org, by=by, at=now))
    await session.flush()
    return referral(row, (await _steps(session, [row.id])).get(row.id, []))


async def unanswered_before(session: AsyncSession, cutoff: datetime) -> list[ReferralRow]:
    """Referrals still waiting for an answer that were made before `cutoff`."""
    return list((await session.execute(select(ReferralRow).where(
        ReferralRow.status.in_([s.value for s in UNANSWERED]), ReferralRow.created_at < cutoff)
        .with_for_update())).scalars())
