"""Service plans casebridge holds (category casework): a client's plan for the next 30-90 days, held for the
organisation that made it and shared with the client; its goals, their tasks and progress notes. One more
held-here source behind the gate (connectors/held.py says how those work)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held import Group, cancel_messages_about, subject
from core.errors import AgencyUnavailable, InvalidInput
from core.principal import RequestContext
from core.vocabulary import Category
from store.held_tables import PlanGoal as GoalRow
from store.held_tables import PlanNote as NoteRow
from store.held_tables import PlanTask as TaskRow
from store.held_tables import ServicePlan as PlanRow


class GoalStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    MET = "MET"
    NOT_MET = "NOT_MET"
    DROPPED = "DROPPED"


class TaskOwner(StrEnum):
    """Who does a task: the plan's organisation, a partner organisation, or the client."""

    CASEWORKER = "CASEWORKER"
    PARTNER = "PARTNER"
    CLIENT = "CLIENT"


class TaskStatus(StrEnum):
    OPEN = "OPEN"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


class ProgressChange(StrEnum):
    """What changed, in a progress note."""

    STARTED = "STARTED"
    STEP_DONE = "STEP_DONE"
    WAITING_ON_OTHERS = "WAITING_ON_OTHERS"
    SETBACK = "SETBACK"
    COMPLETED = "COMPLETED"
    NO_CHANGE = "NO_CHANGE"


class Barrier(StrEnum):
    """A barrier met on the way, in a progress note."""

    DOCUMENTS_MISSING = "DOCUMENTS_MISSING"
    LANGUAGE = "LANGUAGE"
    CHILDCARE = "CHILDCARE"
    TRANSPORTATION = "TRANSPORTATION"
    WAITING_LIST = "WAITING_LIST"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    HEALTH = "HEALTH"
    HOUSING_UNSTABLE = "HOUSING_UNSTABLE"
    COST = "COST"
    LEGAL_STATUS = "LEGAL_STATUS"
    CONTACT_LOST = "CONTACT_LOST"
    OTHER = "OTHER"


# which status may follow which (a dropped goal and a cancelled task stay so; a met goal may be reopened)
GOAL_MOVES: dict[str, frozenset[str]] = {
    GoalStatus.OPEN: frozenset({GoalStatus.IN_PROGRESS, GoalStatus.MET, GoalStatus.NOT_MET, GoalStatus.DROPPED}),
    GoalStatus.IN_PROGRESS: frozenset({GoalStatus.OPEN, GoalStatus.MET, GoalStatus.NOT_MET, GoalStatus.DROPPED}),
    GoalStatus.MET: frozenset({GoalStatus.IN_PROGRESS}),
    GoalStatus.NOT_MET: frozenset({GoalStatus.IN_PROGRESS, GoalStatus.DROPPED}),
    GoalStatus.DROPPED: frozenset(),
}
TASK_MOVES: dict[str, frozenset[str]] = {
    TaskStatus.OPEN: frozenset({TaskStatus.DONE, TaskStatus.CANCELLED}),
    TaskStatus.DONE: frozenset({TaskStatus.OPEN}),
    TaskStatus.CANCELLED: frozenset(),
}


def check_move(moves: dict[str, frozenset[str]], current: str, wanted: str, field: str) -> None:
    """InvalidInput unless `wanted` may follow `current`."""
    if wanted not in moves.get(current, frozenset()):
        allowed = ", ".join(sorted(moves.get(current, frozenset()))) or "nothing: it stays so"
        raise InvalidInput(f"from {current}, this can become {allowed}", field=field, reason="invalid_transition")


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    owner: str
    owner_org: str | None
    due_on: date | None
    status: str
    referral_id: str | None


@dataclass(frozen=True, slots=True)
class Note:
    change: str
    barriers: tuple[str, ...]
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Goal:
    id: str
    code: str | None
    title: str | None
    status: str
    met_by: str | None
    met_on: date | None
    evidence: str | None
    member_id: str | None  # the household member the goal is for (a child's school enrolment); None: the client
    tasks: tuple[Task, ...]
    notes: tuple[Note, ...]


@dataclass(frozen=True, slots=True)
class NewGoal:
    """A goal to add: from the catalogue (`code`) or free (`title`), for the client or one member of their
    household (`member_id`)."""

    code: str | None = None
    title: str | None = None
    member_id: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    client_id: str
    holder: str
    horizon_days: int
    starts_on: date
    arrived_on: date | None
    updated_at: datetime
    goals: tuple[Goal, ...]


class Plans:
    """Service plans in the store, each in its organisation's casework section."""

    name = "casebridge-plans"
    categories = frozenset({Category.CASEWORK})
    own_part_always = False

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        if Category.CASEWORK not in categories:
            return set()
        stmt = select(PlanRow.client_id, PlanRow.holder).where(PlanRow.client_id.in_(list(client_ids))).distinct()
        try:
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).all()
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("plans could not be read", connector=self.name) from exc
        return {(cid, Category.CASEWORK, holder, True) for cid, holder in rows}

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[Plan]]:
        if not groups:
            return {}
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        out: dict[Group, list[Plan]] = defaultdict(list)
        try:
            async with self._sessions() as session:
                rows = list((await session.execute(select(PlanRow).where(
                    tuple_(PlanRow.client_id, PlanRow.holder).in_(keys)))).scalars())
                for plan in await plans_of(session, rows):
                    out[(plan.client_id, Category.CASEWORK, plan.holder, True)].append(plan)
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("plans could not be read", connector=self.name) from exc
        return dict(out)

    def sort_key(self, item: Plan) -> Any:
        return (item.updated_at, item.id)

    def as_of(self) -> datetime:
        return datetime.now(UTC)


async def plans_of(session: AsyncSession, rows: Sequence[PlanRow]) -> list[Plan]:
    """Whole plans (goals, tasks, notes) for plan rows."""
    if not rows:
        return []
    goals = list((await session.execute(select(GoalRow).where(GoalRow.plan_id.in_([r.id for r in rows]))
                                        .order_by(GoalRow.id))).scalars())
    goal_ids = [g.id for g in goals]
    tasks: dict[str, list[Task]] = defaultdict(list)
    notes: dict[str, list[Note]] = defaultdict(list)
    if goal_ids:
        for t in (await session.execute(select(TaskRow).where(TaskRow.goal_id.in_(goal_ids))
                                        .order_by(TaskRow.due_on, TaskRow.id))).scalars():
            tasks[t.goal_id].append(Task(t.id, t.title, t.owner, t.owner_org, t.due_on, t.status, t.referral_id))
        for n in (await session.execute(select(NoteRow).where(NoteRow.goal_id.in_(goal_ids))
                                        .order_by(NoteRow.at, NoteRow.id))).scalars():
            notes[n.goal_id].append(Note(n.change, tuple(n.barriers), n.by, n.at))
    by_plan: dict[str, list[Goal]] = defaultdict(list)
    for g in goals:
        by_plan[g.plan_id].append(Goal(g.id, g.code, g.title, g.status, g.met_by, g.met_on, g.evidence, g.member_id,
                                       tuple(tasks[g.id]), tuple(notes[g.id])))
    return [Plan(r.id, r.client_id, r.holder, r.horizon_days, r.starts_on, r.arrived_on, r.updated_at,
                 tuple(by_plan[r.id])) for r in rows]


async def add_plan(session: AsyncSession, *, client_id: str, holder: str, horizon_days: int, starts_on: date,
                   arrived_on: date | None, goals: Sequence[NewGoal], by: str, now: datetime) -> Plan:
    """A new plan with its goals, in the caller's transaction."""
    row = PlanRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, horizon_days=horizon_days,
                  starts_on=starts_on, arrived_on=arrived_on, recorded_by=by, created_at=now, updated_at=now)
    session.add(row)
    await session.flush()
    session.add_all(goal_row(row.id, goal, now) for goal in goals)
    await session.flush()
    return (await plans_of(session, [row]))[0]


def goal_row(plan_id: str, goal: NewGoal, now: datetime) -> GoalRow:
    """A new goal of plan `plan_id`, open (add it to the caller's session)."""
    return GoalRow(id=str(uuid.uuid4()), plan_id=plan_id, code=goal.code, title=goal.title, member_id=goal.member_id,
                   status=GoalStatus.OPEN.value, updated_at=now)


async def plan_of_goal(session: AsyncSession, goal_id: str) -> tuple[PlanRow, GoalRow] | None:
    found = (await session.execute(select(PlanRow, GoalRow).join(GoalRow, GoalRow.plan_id == PlanRow.id)
                                   .where(GoalRow.id == goal_id).with_for_update())).first()
    return (found[0], found[1]) if found else None


async def plan_of_task(session: AsyncSession, task_id: str) -> tuple[PlanRow, GoalRow, TaskRow] | None:
    found = (await session.execute(select(PlanRow, GoalRow, TaskRow).join(GoalRow, GoalRow.plan_id == PlanRow.id)
                                   .join(TaskRow, TaskRow.goal_id == GoalRow.id).where(TaskRow.id == task_id)
                                   .with_for_update())).first()
    return (found[0], found[1], found[2]) if found else None


async def reload(session: AsyncSession, plan: PlanRow) -> Plan:
    return (await plans_of(session, [plan]))[0]


async def settle(session: AsyncSession, goal: GoalRow, *, now: datetime) -> None:
    """A goal whose tasks are all done (at least one, none cancelled only) is met by them; one met by its tasks
    whose tasks are no longer all done is open again. Goals met otherwise (by staff, by evidence) stay."""
    tasks = list((await session.execute(select(TaskRow).where(TaskRow.goal_id == goal.id))).scalars())
    live = [t for t in tasks if t.status != TaskStatus.CANCELLED.value]
    done = bool(live) and all(t.status == TaskStatus.DONE.value for t in live)
    if done and goal.status not in (GoalStatus.MET.value, GoalStatus.DROPPED.value):
        goal.status, goal.met_by, goal.met_on, goal.updated_at = GoalStatus.MET.value, "TASKS", now.date(), now
    elif not done and goal.met_by == "TASKS" and goal.status == GoalStatus.MET.value:
        goal.status, goal.met_by, goal.met_on, goal.updated_at = GoalStatus.IN_PROGRESS.value, None, None, now
    await session.flush()


async def move_task(session: AsyncSession, plan: PlanRow, goal: GoalRow, task: TaskRow, status: TaskStatus, *,
                    now: datetime) -> None:
    """Task `task` (of `goal`, of `plan`) becomes `status`, in the caller's transaction: a task no longer open is no
    longer reminded of; its goal settles, and a goal met so is no longer reminded of its deadline."""
    task.status, task.updated_at = status.value, now
    if status is not TaskStatus.OPEN:
        await cancel_messages_about(session, plan.client_id, subject("task", plan.holder, task.id), now=now,
                                    reason="task-closed")
    await session.flush()
    await settle(session, goal, now=now)
    if goal.status == GoalStatus.MET.value:
        await cancel_messages_about(session, plan.client_id, subject("goal", plan.holder, goal.id), now=now,
                                    reason="goal-closed")


async def complete_tasks_of_referral(session: AsyncSession, referral_id: str, *, now: datetime) -> int:
    """A referral completed: the open plan tasks that are it are done (`move_task`). How many tasks."""
    open_tasks = (select(TaskRow, GoalRow, PlanRow).join(GoalRow, GoalRow.id == TaskRow.goal_id)
                  .join(PlanRow, PlanRow.id == GoalRow.plan_id)
                  .where(TaskRow.referral_id == referral_id, TaskRow.status == TaskStatus.OPEN.value))
    found = list((await session.execute(open_tasks)).all())
    for task, goal, plan in found:
        await move_task(session, plan, goal, task, TaskStatus.DONE, now=now)
    return len(found)
