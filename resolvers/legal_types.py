"""GraphQL types of immigration and legal milestones (issue 21 §2): what happened in a client's case, and when."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from connectors import held_legal as held
from resolvers.enums import Milestone


@strawberry.type(description="A step of the client's immigration or legal case, recorded by the organisation that "
                 "knows it (held in casebridge, category immigration_legal). What happened and when: no receipt "
                 "numbers, no free text.")
class LegalMilestone:
    id: strawberry.ID
    milestone: Milestone
    occurred_on: date = strawberry.field(description="The day it happened (a hearing: the day it is set for).")
    agency: str = strawberry.field(description="The organisation that recorded it.")
    recorded_at: datetime
    entered_in_error: bool = strawberry.field(description="Marked wrong by its recorder: kept, no longer counted.")


def milestone_view(m: held.LegalMilestone) -> LegalMilestone:
    """The public face of one milestone."""
    return LegalMilestone(id=strawberry.ID(m.id), milestone=m.milestone, occurred_on=m.occurred_on, agency=m.holder,
                          recorded_at=m.recorded_at, entered_in_error=m.entered_in_error_at is not None)
