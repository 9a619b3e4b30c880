"""Immigration and legal milestones casebridge holds (category immigration_legal): the steps of a client's case
that the organisation which knows them - a legal-services partner, most often - records as they happen: an
asylum application filed, representation agreed, a work permit applied for and granted, a hearing set. Each is
held for its recorder and shared with the client, and reaches anyone else only by a consent the client gives for
this category (no emergency opens it: policies/casebridge.cedar). One more held-here source behind the gate
(connectors/held.py says how those work).

What is held is what happened and on which day - never a receipt or alien number, never free text: a plan needs
to know that the application was filed and when its clocks start, not what the file says.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held import Group
from core.errors import AgencyUnavailable
from core.principal import RequestContext
from core.vocabulary import Category
from store.held_tables import LegalMilestone as MilestoneRow


class Milestone(StrEnum):
    """The steps of an immigration or legal case a plan counts on (USCIS and EOIR forms named where one is)."""

    ASYLUM_APPLICATION_FILED = "ASYLUM_APPLICATION_FILED"  # I-589, with USCIS or the immigration court
    TPS_APPLICATION_FILED = "TPS_APPLICATION_FILED"  # I-821
    PAROLE_OR_STATUS_GRANTED = "PAROLE_OR_STATUS_GRANTED"
    REPRESENTATION_AGREED = "REPRESENTATION_AGREED"  # G-28 or EOIR-28 filed by the client's representative
    CHANGE_OF_ADDRESS_FILED = "CHANGE_OF_ADDRESS_FILED"  # AR-11 / EOIR-33: a missed one costs a hearing notice
    BIOMETRICS_ATTENDED = "BIOMETRICS_ATTENDED"
    WORK_AUTHORIZATION_FILED = "WORK_AUTHORIZATION_FILED"  # I-765
    WORK_AUTHORIZATION_GRANTED = "WORK_AUTHORIZATION_GRANTED"  # the EAD approved
    WORK_AUTHORIZATION_DENIED = "WORK_AUTHORIZATION_DENIED"
    HEARING_SCHEDULED = "HEARING_SCHEDULED"  # the day is the hearing's
    HEARING_ATTENDED = "HEARING_ATTENDED"
    DECISION_RECEIVED = "DECISION_RECEIVED"


# Milestones whose day may lie ahead (a hearing is set for a day to come); every other one has happened.
MAY_BE_AHEAD = frozenset({Milestone.HEARING_SCHEDULED})


@dataclass(frozen=True, slots=True)
class LegalMilestone:
    """One milestone as the section shows it."""

    id: str
    client_id: str
    holder: str
    milestone: Milestone
    occurred_on: date
    recorded_by: str
    recorded_at: datetime
    entered_in_error_at: datetime | None


class LegalMilestones:
    """Milestones in the store (category immigration_legal), each held for its recorder, shared with the client."""

    name = "casebridge-legal"
    categories = frozenset({Category.IMMIGRATION_LEGAL})
    own_part_always = False  # a part only where an organisation recorded something

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which (client, holder) groups hold milestones."""
        if Category.IMMIGRATION_LEGAL not in categories:
            return set()
        m = MilestoneRow
        stmt = select(m.client_id, m.holder).where(m.client_id.in_(list(client_ids))).distinct()
        try:
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).all()
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("legal milestones could not be read", connector=self.name) from exc
        return {(cid, Category.IMMIGRATION_LEGAL, holder, True) for cid, holder in rows}

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[LegalMilestone]]:
        """The milestones of the permitted groups, those entered in error included (marked)."""
        if not groups:
            return {}
        m = MilestoneRow
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        out: dict[Group, list[LegalMilestone]] = defaultdict(list)
        try:
            async with self._sessions() as session:
                for row in (await session.execute(select(m).where(tuple_(m.client_id, m.holder).in_(keys)))).scalars():
                    out[(row.client_id, Category.IMMIGRATION_LEGAL, row.holder, True)].append(milestone_of(row))
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("legal milestones could not be read", connector=self.name) from exc
        return dict(out)

    def sort_key(self, item: LegalMilestone) -> Any:
        """Latest day first."""
        return (item.occurred_on, item.recorded_at, item.id)

    def as_of(self) -> datetime:
        """Held here, so true now."""
        return datetime.now(UTC)


def first_on(milestones: Iterable[LegalMilestone], wanted: Milestone, *, today: date) -> date | None:
    """The earliest day `wanted` happened among `milestones` (those entered in error and those still ahead do not
    count); None if it has not."""
    days = [m.occurred_on for m in milestones
            if m.milestone is wanted and m.entered_in_error_at is None and m.occurred_on <= today]
    return min(days, default=None)


async def add_milestone(session: AsyncSession, *, client_id: str, holder: str, milestone: Milestone,
                        occurred_on: date, by: str, now: datetime) -> LegalMilestone:
    """Write one milestone in the caller's transaction (the gate's operation, with its access-log event)."""
    row = MilestoneRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, milestone=milestone.value,
                       occurred_on=occurred_on, recorded_by=by, recorded_at=now, entered_in_error_at=None)
    session.add(row)
    await session.flush()
    return milestone_of(row)


async def milestone_row(session: AsyncSession, milestone_id: str) -> MilestoneRow | None:
    """The row of one milestone, locked for a change; None if there is none with this id."""
    return await session.get(MilestoneRow, milestone_id, with_for_update=True)


def milestone_of(row: MilestoneRow) -> LegalMilestone:
    """One row as the section shows it."""
    return LegalMilestone(row.id, row.client_id, row.holder, Milestone(row.milestone), row.occurred_on,
                          row.recorded_by, row.recorded_at, row.entered_in_error_at)

