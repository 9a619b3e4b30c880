"""The legal desk: immigration and legal milestones (issue 21 §2), recorded by the organisation that knows them.

A legal-services partner (or any caseworker who works with the client) records a step of the client's case - an
application filed, a work permit granted - for its own organisation, category immigration_legal; and marks one
it recorded as entered in error. What it records opens to others only by the consents the client gives for this
category (policies/casebridge.cedar). Each change is one operation (`legal.record`) with its access-log event.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from connectors.held_legal import MAY_BE_AHEAD, LegalMilestone, Milestone, add_milestone, milestone_of, milestone_row
from core.errors import InvalidInput, RecordNotFound
from core.principal import RequestContext
from core.vocabulary import Action, Category
from gate.gate import Gate
from policies.decisions import Resource

EARLIEST = date(1950, 1, 1)
AHEAD = timedelta(days=3 * 366)  # a hearing is rarely set further out than this


class LegalDesk:
    """Milestones recorded and corrected through the gate."""

    def __init__(self, *, gate: Gate, source_name: str,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._source_name = source_name
        self._clock = clock

    async def record(self, ctx: RequestContext, *, client_id: str, milestone: Milestone,
                     occurred_on: date) -> LegalMilestone:
        """Record that `milestone` happened on `occurred_on` (a hearing: the day it is set for), held for the
        caller's organisation."""
        now = self._clock()
        latest = now.date() + (AHEAD if milestone in MAY_BE_AHEAD else timedelta(days=1))
        if not EARLIEST <= occurred_on <= latest:
            raise InvalidInput("the day it happened: not in the future" if milestone not in MAY_BE_AHEAD
                               else "the day it is set for: within three years", field="occurredOn")
        org = ctx.principal.organization
        await self._gate.authorize_for_client(ctx, Action.LEGAL_RECORD, client_id,
                                              held=(Category.IMMIGRATION_LEGAL, org))
        await self._gate.require_client(client_id)
        async with self._gate.operation(ctx, Action.LEGAL_RECORD) as op:
            found = await add_milestone(op.session, client_id=client_id, holder=org, milestone=milestone,
                                        occurred_on=occurred_on, by=ctx.principal.subject, now=now)
            op.log(client_id, detail=f"legal milestone {found.id}")  # ids only: the log says nothing of the case
        return found

    async def enter_in_error(self, ctx: RequestContext, *, milestone_id: str) -> LegalMilestone:
        """Mark a milestone the caller's organisation recorded as entered in error: kept, no longer counted."""
        now = self._clock()
        hidden = RecordNotFound("no legal milestone with this id is visible to you", field="id")
        async with self._gate.operation(ctx, Action.LEGAL_RECORD) as op:
            row = await milestone_row(op.session, milestone_id)
            if row is None:
                raise op.not_found(hidden, "legal-milestone")
            await self._gate.require_held(op, Action.LEGAL_RECORD, Resource(
                row.client_id, Category.IMMIGRATION_LEGAL, row.holder, self._source_name, held_here=True), hidden)
            if row.entered_in_error_at is not None:
                raise InvalidInput("this milestone is already marked entered in error", field="id", reason="final")
            row.entered_in_error_at = now
            await op.session.flush()
            op.log(row.client_id, detail=f"legal milestone {row.id}: entered in error")
            return milestone_of(row)
