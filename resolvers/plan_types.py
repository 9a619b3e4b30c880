"""GraphQL types of service plans (issue 21 §1): goals with their dates, tasks with owners, progress notes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import strawberry

from connectors import held_plans as held
from plans.catalogue import Clock, GoalKind, on_clock
from resolvers.enums import Barrier, GoalStatus, ProgressChange, TaskOwner, TaskStatus


@strawberry.type(description="A step towards a goal.")
class PlanTask:
    id: strawberry.ID
    title: str
    owner: TaskOwner
    owner_org: str | None = strawberry.field(description="The partner organisation, for a partner's task.")
    due_on: date | None
    status: TaskStatus
    referral_id: strawberry.ID | None = strawberry.field(description="The referral that is this step: completing "
                                                         "it completes the task.")


@strawberry.type(description="A structured progress note on a goal.")
class PlanNote:
    change: ProgressChange
    barriers: list[Barrier]
    by: str
    at: datetime


@strawberry.type(description="One goal of a plan: from the city's catalogue (code) or free (title).")
class PlanGoal:
    id: strawberry.ID
    code: str | None
    name: str = strawberry.field(description="The catalogue's English words, or the free goal's title.")
    area: str = strawberry.field(description="LEGAL, WORK, EDUCATION, EMPLOYMENT, SCHOOL, BENEFITS, HOUSING, HEALTH "
                                 "or OTHER.")
    status: GoalStatus
    met_by: str | None = strawberry.field(description="STAFF, TASKS (all done) or EVIDENCE (seen by the plan's "
                                          "organisation).")
    met_on: date | None
    evidence: str | None = strawberry.field(description="What met it, where evidence did, by its kind only "
                                            "(schooling-enrolled, benefits-active, legal-asylum-filed, ...): never "
                                            "the record itself.")
    member_id: strawberry.ID | None = strawberry.field(description="The member of the client's household the goal "
                                                       "is for (a child's school enrolment); null: the client.")
    due_on: date | None = strawberry.field(description="The deadline the law or the process sets (e.g. the asylum "
                                           "application, a year after arrival), where known.")
    not_before: date | None = strawberry.field(description="The first day it can be done (e.g. a work authorization, "
                                               "150 days after the asylum application), where known.")
    tasks: list[PlanTask]
    notes: list[PlanNote]


@strawberry.type(description="A client's service plan for the next 30, 60 or 90 days (held in casebridge for the "
                 "organisation that made it, category casework; shared with the client).")
class ServicePlan:
    id: strawberry.ID
    agency: str
    horizon_days: int
    starts_on: date
    ends_on: date
    arrived_on: date | None
    goals: list[PlanGoal]
    met: int = strawberry.field(description="How many goals are met.")


@strawberry.input(description="A catalogue goal for another member of the client's household.")
class PlanMemberGoalInput:
    code: str = strawberry.field(description="A goal of the city's catalogue (planGoals), e.g. "
                                 "CHILD_ENROLLED_IN_SCHOOL.")
    member_id: strawberry.ID = strawberry.field(description="The member's client id (a client you work with).")


@strawberry.type(description="Another member of the client's household in the shelter system's records (the same "
                 "HMIS household), as far as the gate lets you see them.")
class HouseholdMember:
    client_id: strawberry.ID
    relationship_to_head: int | None = strawberry.field(description="HMIS RelationshipToHoH: 1 self (head), 2 child, "
                                                        "3 spouse or partner, 4 other relative, 5 unrelated.")
    first_name: str | None = strawberry.field(description="Null where you may not see the member's identity.")
    last_name: str | None
    date_of_birth: date | None


@strawberry.type(description="A goal of the city's plan catalogue.")
class PlanGoalKind:
    code: str
    name: str
    area: str
    evidence: str | None


def plan_view(p: held.Plan, catalogue: dict[str, GoalKind]) -> ServicePlan:
    """The public face of one plan; dates worked out from the catalogue's clocks."""
    # a clock counted from another goal counts from the same person's (the client's, or one member's)
    met_on = {(g.code, g.member_id): g.met_on for g in p.goals if g.code and g.met_on}

    def when(clock: Clock | None, member_id: str | None) -> date | None:
        return on_clock(clock, arrived_on=p.arrived_on, met_on=met_on, member_id=member_id)

    goals = []
    for g in p.goals:
        kind = catalogue.get(g.code or "")
        goals.append(PlanGoal(
            id=strawberry.ID(g.id), code=g.code, name=(kind.name["en"] if kind else g.title) or "",
            area=kind.area if kind else "OTHER", status=GoalStatus(g.status), met_by=g.met_by, met_on=g.met_on,
            evidence=g.evidence, member_id=strawberry.ID(g.member_id) if g.member_id else None,
            due_on=when(kind.deadline if kind else None, g.member_id),
            not_before=when(kind.not_before if kind else None, g.member_id),
            tasks=[PlanTask(id=strawberry.ID(t.id), title=t.title, owner=TaskOwner(t.owner), owner_org=t.owner_org,
                            due_on=t.due_on, status=TaskStatus(t.status),
                            referral_id=strawberry.ID(t.referral_id) if t.referral_id else None) for t in g.tasks],
            notes=[PlanNote(change=ProgressChange(n.change), barriers=[Barrier(b) for b in n.barriers], by=n.by,
                            at=n.at) for n in g.notes]))
    return ServicePlan(id=strawberry.ID(p.id), agency=p.holder, horizon_days=p.horizon_days, starts_on=p.starts_on,
                       ends_on=p.starts_on + timedelta(days=p.horizon_days), arrived_on=p.arrived_on, goals=goals,
                       met=sum(g.status is GoalStatus.MET for g in goals))
