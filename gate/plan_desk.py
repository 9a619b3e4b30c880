"""The plan desk: a client's 30-60-90 day service plan (issue 21 §1, §2, §5), through the gate.

A caseworker or partner makes a plan for a client they work with - goals from the city's catalogue or free ones,
for the client or for another member of their household (each child's school enrolment) - and keeps it: tasks
with an owner (their organisation, a partner organisation, the client) and a due date, goal statuses with
structured progress notes. A referral can be a task: completing it completes the task. A goal whose
tasks are all done is met by them. A goal the catalogue ties to evidence (an active school enrolment, an active
benefits program, a job in the shelter system's records, an immigration milestone a legal partner recorded) is
checked against what the gate shows the plan's own organisation, for its purpose, about the person the goal is for:
it can be met only where that organisation may see the evidence. The client sees their plan (it is shared with them) and
marks done the tasks that are theirs. Each change is one operation with its access-log event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.held import cancel_messages_about, subject
from connectors.held_legal import LegalMilestone, Milestone, first_on
from connectors.held_plans import (
    GOAL_MOVES,
    TASK_MOVES,
    Barrier,
    GoalStatus,
    NewGoal,
    Plan,
    Plans,
    ProgressChange,
    TaskOwner,
    TaskStatus,
    add_plan,
    check_move,
    goal_row,
    move_task,
    plan_of_goal,
    plan_of_task,
    reload,
    settle,
)
from connectors.held_referrals import referral_row
from connectors.hmis.employment import employed_now
from core.errors import InvalidInput, RecordNotFound
from core.principal import RequestContext
from core.vocabulary import Action, Category
from gate.disclosure import Disclosure, SectionStatus
from gate.gate import Gate
from gate.operations import Operation
from plans.catalogue import GoalKind, on_clock
from policies.decisions import Resource
from store.held_tables import PlanGoal, PlanNote, PlanTask, ServicePlan

HORIZONS = (30, 60, 90)
MAX_TITLE = 255
MAX_GOALS = 30


class Notices(Protocol):
    """Reminds the client of a step of theirs coming due (notify/notices.py), in the operation's transaction."""

    async def task_notice(self, session: AsyncSession, *, client_id: str, holder: str, task_id: str, due_on: date,
                          now: datetime) -> None:
        ...

    async def goal_notice(self, session: AsyncSession, *, client_id: str, holder: str, goal_id: str, due_on: date,
                          now: datetime) -> None:
        ...


class Households(Protocol):
    """Who may be in a client's household (connectors/hmis/household.py): candidates, not yet decided on."""

    async def candidates(self, household_ids: Sequence[str]) -> dict[str, set[str]]:
        ...


@dataclass(frozen=True, slots=True)
class HouseholdMember:
    """Another member of a client's household as the caller may see them: their client id, how they are related
    to the household's head (HMIS RelationshipToHoH), and their name where the caller may see it."""

    client_id: str
    relationship_to_head: int | None
    first_name: str | None
    last_name: str | None
    date_of_birth: date | None


class PlanDesk:
    """Service plans made and kept through the gate."""

    def __init__(self, *, gate: Gate, source: Plans, catalogue: dict[str, GoalKind], notices: Notices | None = None,
                 households: Households | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._households = households
        self._notices = notices
        self._gate = gate
        self._source = source
        self._catalogue = catalogue
        self._clock = clock

    @property
    def catalogue(self) -> dict[str, GoalKind]:
        return self._catalogue

    async def create(self, ctx: RequestContext, *, client_id: str, horizon_days: int, arrived_on: date | None,
                     goals: Sequence[str], free_goals: Sequence[str],
                     member_goals: Sequence[tuple[str, str]] = ()) -> Plan:
        """Make a plan for the caller's organisation: catalogue goals by code, free goals by title, and catalogue
        goals for other members of the client's household ((code, member's client id): each child's school)."""
        now = self._clock()
        if horizon_days not in HORIZONS:
            raise InvalidInput("a plan looks 30, 60 or 90 days ahead", field="horizonDays")
        if arrived_on is not None and not date(1900, 1, 1) <= arrived_on <= now.date():
            raise InvalidInput("an arrival date is a day that has come", field="arrivedOn")
        unknown = [g for g in [*goals, *(code for code, _ in member_goals)] if g not in self._catalogue]
        if unknown:
            raise InvalidInput("not goals of the city's catalogue", field="goals")
        titles = [_title(t) for t in free_goals]
        wanted = [*(NewGoal(code=g) for g in dict.fromkeys(goals)), *(NewGoal(title=t) for t in titles),
                  *(NewGoal(code=code, member_id=member) for code, member in dict.fromkeys(member_goals))]
        if not 1 <= len(wanted) <= MAX_GOALS:
            raise InvalidInput(f"a plan has 1 to {MAX_GOALS} goals", field="goals")
        org = ctx.principal.organization
        await self._gate.authorize_for_client(ctx, Action.PLAN_WRITE, client_id, held=(Category.CASEWORK, org))
        await self._gate.require_client(client_id)
        members = sorted({g.member_id for g in wanted if g.member_id})
        for member in members:
            await self._member(ctx, member)
        if members:
            await self._in_household(ctx, client_id, members, "memberGoals")
        async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
            plan = await add_plan(op.session, client_id=client_id, holder=org, horizon_days=horizon_days,
                                  starts_on=now.date(), arrived_on=arrived_on, goals=wanted,
                                  by=ctx.principal.subject, now=now)
            await self._deadlines(op.session, plan, now)
            op.log(client_id, detail=f"plan {plan.id} ({len(wanted)} goals)")
        return plan

    async def add_goal(self, ctx: RequestContext, *, plan_id: str, code: str | None, title: str | None,
                       member_id: str | None) -> Plan:
        """Add a goal to a plan as it goes: from the catalogue (`code`) or free (`title`), for the client or for
        another member of their household (`member_id`)."""
        now = self._clock()
        if (code is None) == (title is None):
            raise InvalidInput("a goal is either from the catalogue (code) or free (title)", field="code")
        if code is not None and code not in self._catalogue:
            raise InvalidInput("not a goal of the city's catalogue", field="code")
        goal = NewGoal(code=code, title=_title(title) if title is not None else None, member_id=member_id)
        if member_id is not None:  # whose plan it is, then whether the member is of their household
            await self._member(ctx, member_id)
            async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
                found = await self._plan(op, plan_id)
                op.log(found.client_id, detail=f"plan {found.id}: a goal for a household member asked")
            await self._in_household(ctx, found.client_id, [member_id], "memberId")
        async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
            plan = await self._plan(op, plan_id, lock=True)
            client_id = plan.client_id
            count = (await op.session.execute(select(func.count()).select_from(PlanGoal).where(
                PlanGoal.plan_id == plan.id))).scalar_one()
            if count >= MAX_GOALS:
                raise InvalidInput(f"a plan has 1 to {MAX_GOALS} goals", field="planId")
            added = goal_row(plan.id, goal, now)
            op.session.add(added)
            plan.updated_at = now
            await op.session.flush()
            op.log(client_id, detail=f"plan {plan.id}: goal {added.id} added")
            return await self._deadlines(op.session, await reload(op.session, plan), now)

    async def household(self, ctx: RequestContext, client_id: str, *, names: bool = True) -> list[HouseholdMember]:
        """The other members of the client's households in the shelter system's records, for a household plan: a
        member is listed only where the caller may see both the client's stay in the household and the member's
        own stay in it (each read through the gate, and logged, as any read); with `names`, the name where the
        caller may see the member's identity (without, their identity is not read: none of the names is set)."""
        if self._households is None:
            return []
        mine = (await self._gate.disclose(ctx, [client_id], [Category.HOUSING])).get(client_id)
        households = {s.household_id for s in _shown(mine, Category.HOUSING) if getattr(s, "household_id", None)} \
            if mine is not None else set()
        candidates = {c: h for c, h in (await self._households.candidates(sorted(households))).items()
                      if c != client_id} if households else {}
        if not candidates:
            return []
        seen = await self._gate.disclose(ctx, sorted(candidates),
                                         [Category.HOUSING, *([Category.IDENTITY] if names else [])])
        out = []
        for member, disclosed in sorted(seen.items()):
            stays = [s for s in _shown(disclosed, Category.HOUSING) if s.household_id in households]
            if not stays:
                continue
            stay = max(stays, key=lambda s: (s.entry_date, s.enrollment_id))
            identity = _shown(disclosed, Category.IDENTITY)
            who = identity[0] if identity else None
            out.append(HouseholdMember(member, stay.relationship_to_head, getattr(who, "first_name", None),
                                       getattr(who, "last_name", None), getattr(who, "dob", None)))
        return out

    async def _in_household(self, ctx: RequestContext, client_id: str, members: Sequence[str], field: str) -> None:
        """InvalidInput unless each of `members` is another member of the client's household as the records the
        caller may see show it (`household`): a plan's member goal is about the client's own household, not any
        client the caller works with. Only their stays are read for it, not who they are."""
        known = {m.client_id for m in await self.household(ctx, client_id, names=False)}
        if any(m not in known for m in members):
            raise InvalidInput("a member goal is for another member of the client's household, as the shelter "
                               "system's records you may see show it", field=field, reason="not_in_household")

    async def _member(self, ctx: RequestContext, member_id: str) -> None:
        """A goal for another member of the client's household is written into the plan about them: allowed as a
        plan about that person would be (the caller works with them), and they exist."""
        await self._gate.authorize_for_client(ctx, Action.PLAN_WRITE, member_id,
                                              held=(Category.CASEWORK, ctx.principal.organization))
        await self._gate.require_client(member_id)

    async def add_task(self, ctx: RequestContext, *, goal_id: str, title: str, owner: TaskOwner,
                       owner_org: str | None, due_on: date | None, referral_id: str | None) -> Plan:
        """Add a step to a goal: who does it, by when; a referral (one the caller's organisation made for this
        client) may be the step."""
        now = self._clock()
        text = _title(title)
        if (owner is TaskOwner.PARTNER) != bool(owner_org):
            raise InvalidInput("a partner's task names the partner organisation (and only a partner's)",
                               field="ownerOrg")
        if due_on is not None and due_on < now.date() - timedelta(days=1):
            raise InvalidInput("a due date is a day to come", field="dueOn")
        async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
            plan, goal = await self._goal(op, goal_id)
            if goal.status == GoalStatus.DROPPED.value:
                raise InvalidInput("this goal was dropped and stays so", field="goalId", reason="final")
            if referral_id is not None:
                referral = await referral_row(op.session, referral_id)
                if referral is None or referral.client_id != plan.client_id or referral.from_org != plan.holder:
                    raise InvalidInput("a task's referral is one the plan's organisation made for this client",
                                       field="referralId")
            task_id = str(uuid.uuid4())
            op.session.add(PlanTask(id=task_id, goal_id=goal.id, title=text, owner=owner.value, owner_org=owner_org,
                                    due_on=due_on, status=TaskStatus.OPEN.value, referral_id=referral_id,
                                    updated_at=now))
            if owner is TaskOwner.CLIENT and due_on is not None and self._notices is not None:
                await op.session.flush()
                await self._notices.task_notice(op.session, client_id=plan.client_id, holder=plan.holder,
                                                task_id=task_id, due_on=due_on, now=now)
            if goal.status == GoalStatus.OPEN.value:
                goal.status = GoalStatus.IN_PROGRESS.value
            goal.updated_at = plan.updated_at = now
            await op.session.flush()
            await settle(op.session, goal, now=now)
            op.log(plan.client_id, detail=f"plan {plan.id} goal {goal.id}: task added")
            return await self._deadlines(op.session, await reload(op.session, plan), now)

    async def set_task(self, ctx: RequestContext, *, task_id: str, status: TaskStatus) -> Plan:
        """Mark a task done, cancelled or open again: the plan's organisation, or the client for their own."""
        now = self._clock()
        hidden = RecordNotFound("no plan task with this id is visible to you", field="taskId")
        async with self._gate.operation(ctx, Action.PLAN_STEP) as op:
            found = await plan_of_task(op.session, task_id)
            if found is None:
                raise op.not_found(hidden, "plan-task")
            plan, goal, task = found
            await self._require(op, plan, Action.PLAN_STEP, hidden, task_owner=task.owner)
            check_move(TASK_MOVES, task.status, status.value, "status")
            plan.updated_at = now
            await move_task(op.session, plan, goal, task, status, now=now)
            op.log(plan.client_id, detail=f"plan {plan.id} task {task.id} ({status})")
            return await self._deadlines(op.session, await reload(op.session, plan), now)

    async def update_goal(self, ctx: RequestContext, *, goal_id: str, status: GoalStatus | None,
                          change: ProgressChange, barriers: Sequence[Barrier]) -> Plan:
        """A progress note on a goal (what changed, the barriers met), and its new status where it changed."""
        now = self._clock()
        async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
            plan, goal = await self._goal(op, goal_id)
            if status is not None and status.value != goal.status:
                check_move(GOAL_MOVES, goal.status, status.value, "status")
                goal.status = status.value
                goal.met_by, goal.met_on = ("STAFF", now.date()) if status is GoalStatus.MET else (None, None)
                goal.evidence = None
            goal.updated_at = plan.updated_at = now
            op.session.add(PlanNote(goal_id=goal.id, change=change.value, barriers=[b.value for b in barriers],
                                    by=ctx.principal.subject, at=now))
            await op.session.flush()
            op.log(plan.client_id, detail=f"plan {plan.id} goal {goal.id} ({goal.status}, {change})")
            return await self._deadlines(op.session, await reload(op.session, plan), now)

    async def check_evidence(self, ctx: RequestContext, *, plan_id: str) -> Plan:
        """Check the plan's evidence-tied goals against what the gate shows the caller's organisation - the
        plan's own - for the caller's purpose: met while the evidence is there, open again when it is gone."""
        now = self._clock()
        async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
            plan = await self._plan(op, plan_id)
            client_id = plan.client_id
            # how far back evidence of a new step may date: the client's arrival, else a horizon before the plan
            floor = plan.arrived_on or plan.starts_on - timedelta(days=plan.horizon_days)
            needs: dict[str, set[Category]] = {}
            for g in (await op.session.execute(_goals(plan.id, lock=False))).scalars():
                evidence = self._evidence_of(g)
                if evidence is not None:
                    needs.setdefault(g.member_id or client_id, set()).add(EVIDENCE[evidence][0])
            op.log(client_id, detail=f"plan {plan.id}: evidence check asked")
        # read as any read is: decided per section for the caller, logged (outside the plan's transaction); about
        # each person only the categories their own goals need
        today = now.date()
        disclosed: dict[str, Disclosure] = {}
        by_need: dict[frozenset[Category], list[str]] = {}
        for person, wanted in needs.items():
            by_need.setdefault(frozenset(wanted), []).append(person)
        for categories, people in by_need.items():
            disclosed.update(await self._gate.disclose(ctx, sorted(people), sorted(categories)))
        async with self._gate.operation(ctx, Action.PLAN_WRITE) as op:
            plan = await self._plan(op, plan_id, lock=True)  # still visible: a consent may have ended meanwhile
            goals = [g for g in (await op.session.execute(_goals(plan.id))).scalars()]
            changed = 0
            for goal in goals:
                evidence = self._evidence_of(goal)
                if evidence is None or goal.status == GoalStatus.DROPPED.value:
                    continue
                about = disclosed.get(goal.member_id or client_id)
                since = EVIDENCE[evidence][1](about, today, floor) if about is not None else None
                found = evidence if since is not None else None
                if found and goal.status != GoalStatus.MET.value:
                    goal.status, goal.met_by, goal.met_on, goal.evidence = (GoalStatus.MET.value, "EVIDENCE",
                                                                            since, found)
                    changed += 1
                elif found and goal.met_by == "EVIDENCE" and goal.met_on != since:  # the record was corrected
                    goal.met_on = since
                    changed += 1
                elif not found and goal.met_by == "EVIDENCE":
                    goal.status, goal.met_by, goal.met_on, goal.evidence = (GoalStatus.OPEN.value, None, None, None)
                    changed += 1
                goal.updated_at = now
            if changed:
                plan.updated_at = now
            await op.session.flush()
            op.log(client_id, detail=f"plan {plan.id}: evidence checked ({changed} goals changed)")
            return await self._deadlines(op.session, await reload(op.session, plan), now)

    def _evidence_of(self, goal: PlanGoal) -> str | None:
        """The evidence kind that checks `goal`, if any. A goal for another member of the household is checked
        against their school enrolment only: what the plan shows of it (met, on which day) is read by the plan's
        client and whoever may read the plan's casework, and a spouse's immigration case, job or benefits are
        theirs, not their household's."""
        kind = self._catalogue.get(goal.code or "")
        if kind is None or kind.evidence not in EVIDENCE:
            return None
        return kind.evidence if goal.member_id is None or kind.evidence in MEMBER_EVIDENCE else None

    async def _deadlines(self, session: AsyncSession, plan: Plan, now: datetime) -> Plan:
        """Reminders of the plan's deadlines as they now stand: queued for each goal still to meet whose deadline
        is known (counted from arrival, or from another goal met), cancelled for goals met, dropped or not met."""
        if self._notices is None:
            return plan
        met_on = {(g.code, g.member_id): g.met_on for g in plan.goals if g.code and g.met_on}
        for goal in plan.goals:
            kind = self._catalogue.get(goal.code or "")
            clock = kind.deadline if kind else None
            if clock is None:
                continue
            if goal.status in (GoalStatus.MET, GoalStatus.NOT_MET, GoalStatus.DROPPED):
                await cancel_messages_about(session, plan.client_id, subject("goal", plan.holder, goal.id), now=now,
                                            reason="goal-closed")
                continue
            due_on = on_clock(clock, arrived_on=plan.arrived_on, met_on=met_on, member_id=goal.member_id)
            if due_on is not None:
                await self._notices.goal_notice(session, client_id=plan.client_id, holder=plan.holder,
                                                goal_id=goal.id, due_on=due_on, now=now)
        return plan

    async def _plan(self, op: Operation, plan_id: str, *, lock: bool = False) -> ServicePlan:
        """The plan `plan_id`, if the caller may see it and keep it (plan.write); else it does not exist for them."""
        hidden = RecordNotFound("no plan with this id is visible to you", field="planId")
        plan = await op.session.get(ServicePlan, plan_id, with_for_update=lock)
        if plan is None:
            raise op.not_found(hidden, "plan")
        await self._require(op, plan, Action.PLAN_WRITE, hidden)
        return plan

    async def _goal(self, op: Operation, goal_id: str) -> tuple[ServicePlan, PlanGoal]:
        """A goal and its plan, if the caller may see the plan and keep it (plan.write); else not found."""
        hidden = RecordNotFound("no plan goal with this id is visible to you", field="goalId")
        found = await plan_of_goal(op.session, goal_id)
        if found is None:
            raise op.not_found(hidden, "plan-goal")
        await self._require(op, found[0], Action.PLAN_WRITE, hidden)
        return found

    async def _require(self, op: Any, plan: ServicePlan, action: Action, hidden: RecordNotFound, *,
                       task_owner: str = "") -> None:
        """The caller may see the plan (else it does not exist for them) and may do `action` on it (for a task:
        the policies look at whose task it is)."""
        await self._gate.require_held(op, action, Resource(plan.client_id, Category.CASEWORK, plan.holder,
                                                           self._source.name, held_here=True),
                                      hidden, task_owner=task_owner)


def _goals(plan_id: str, *, lock: bool = True) -> Any:
    """A plan's goals, locked for a change unless only read."""
    stmt = select(PlanGoal).where(PlanGoal.plan_id == plan_id)
    return stmt.with_for_update() if lock else stmt


# What meets an evidence-tied goal, by the kind the catalogue names (plans/catalogue.EVIDENCE): the category the
# gate must show the plan's organisation, and the day the evidence holds from in what it shows (the day a
# milestone happened; today, where a record says only that it is so); None where it does not show it. What met a
# goal is said by its kind only: a plan is casework, read by whoever may read the organisation's casework, who may
# not see the records themselves (no district, student id, case, program, project or case form).
Check = Callable[[Disclosure, date, date], date | None]  # (what the gate shows, today, how far back it may date)


def _shown(disclosure: Disclosure, category: Category) -> list[Any]:
    """The items of `category` the disclosure shows (an agency's identity is one record, its other sections lists)."""
    return [item for part in disclosure.parts(category) if part.status is SectionStatus.SHOWN and part.data
            for item in (part.data if isinstance(part.data, list) else [part.data])]


def _enrolled(disclosure: Disclosure, today: date, _floor: date) -> date | None:
    """Today, if the disclosure shows an active school enrolment."""
    return today if any(getattr(s, "current_school", None) for s in _shown(disclosure, Category.SCHOOLING)) else None


def _benefits(disclosure: Disclosure, today: date, _floor: date) -> date | None:
    """Today, if the disclosure shows an active benefits program."""
    return today if any(program.status == "ACTIVE" for case in _shown(disclosure, Category.BENEFITS)
                        for program in getattr(case, "programs", [])) else None


def _employed(disclosure: Disclosure, today: date, floor: date) -> date | None:
    """The day the shelter system's newest employment answer was taken, if it says employed and was taken since
    `floor` (the client's arrival, or a horizon before the plan began): a job of years ago is not this plan's."""
    since = employed_now(_shown(disclosure, Category.HOUSING))
    return since if since is not None and floor <= since <= today else None


def _milestone(wanted: Milestone) -> Check:
    def check(disclosure: Disclosure, today: date, _floor: date) -> date | None:
        """The day `wanted` first happened, among the milestones the disclosure shows."""
        shown = [m for m in _shown(disclosure, Category.IMMIGRATION_LEGAL) if isinstance(m, LegalMilestone)]
        return first_on(shown, wanted, today=today)
    return check


# what a goal for another member of the household may be checked against (see PlanDesk._evidence_of)
MEMBER_EVIDENCE = frozenset({"schooling-enrolled"})
EVIDENCE: dict[str, tuple[Category, Check]] = {
    "schooling-enrolled": (Category.SCHOOLING, _enrolled),
    "benefits-active": (Category.BENEFITS, _benefits),
    "housing-employed": (Category.HOUSING, _employed),
    "legal-asylum-filed": (Category.IMMIGRATION_LEGAL, _milestone(Milestone.ASYLUM_APPLICATION_FILED)),
    "legal-representation": (Category.IMMIGRATION_LEGAL, _milestone(Milestone.REPRESENTATION_AGREED)),
    "legal-work-authorization-filed": (Category.IMMIGRATION_LEGAL, _milestone(Milestone.WORK_AUTHORIZATION_FILED)),
    "legal-work-authorization-granted": (Category.IMMIGRATION_LEGAL,
                                         _milestone(Milestone.WORK_AUTHORIZATION_GRANTED)),
}


def _title(text: str) -> str:
    value = text.strip()
    if not 1 <= len(value) <= MAX_TITLE:
        raise InvalidInput(f"a title is 1 to {MAX_TITLE} characters", field="title")
    return value
