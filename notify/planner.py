"""Reminders planned from what the client must keep: appointments (every agency's, and those scheduled here) at
the configured lead times, and benefits notices before their response date.

Only for clients who gave a phone number or an email address they agreed to be reminded at. The planner reads
what a reminder is about through the gate (casebridge.cedar, rule delivery-worker-reads-what-reminders-need: a
read logged like any other, purpose client_notification) and reconciles the outbox with it: a reminder that
should exist is enqueued (its idempotency key names the appointment, its time, the lead and the contact point,
so planning twice is planning once); a queued reminder that no longer should (the appointment moved, was
cancelled or kept; the client opted out or changed their preferred channel) is cancelled before it goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held import about, cancel_messages, subject
from core.principal import DELIVERY_WORKER, RequestContext
from core.vocabulary import Category, Purpose
from gate.disclosure import SectionStatus
from gate.gate import Gate
from notify import outbox
from notify.config import NotifySettings
from store.held_tables import ContactPoint, Message

OPEN = ("SCHEDULED", "RESCHEDULED")
PLANNED_KINDS = ("appointment_reminder", "notice_due")
CATCH_UP = timedelta(hours=2)  # an appointment booked after its last lead time still gets one reminder, if this far
BATCH = 50  # clients per gate read


@dataclass(frozen=True, slots=True)
class Wanted:
    """A reminder that should exist. It is held for the organisation that recorded the contact point it goes to
    (a message shows that point's channel and what became of it); its subject names whose record it is about."""

    key: str
    kind: str
    subject: str
    at: datetime  # what it reminds of: the appointment's time, the notice's date
    lead: str  # which lead time, e.g. 24h or 7d
    send_after: datetime
    expires_at: datetime
    catch_up: bool = False  # booked after its last lead time: one reminder now


class ReminderPlanner:
    """Plans reminders for every client who opted in to some contact point."""

    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any], settings: NotifySettings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate, self._sessions, self._s, self._clock = gate, sessions, settings, clock
        self._zone = ZoneInfo(settings.timezone)

    async def plan(self, client_ids: Iterable[str] | None = None) -> tuple[int, int]:
        """Plan the reminders of `client_ids` (default: every client with an opted-in contact point, and every
        client with reminders still queued); (reminders enqueued, reminders cancelled)."""
        async with self._sessions() as session:
            stmt = select(ContactPoint.client_id).where(ContactPoint.opted_in.is_(True)).distinct()
            reachable = set((await session.execute(stmt)).scalars())
            stmt = select(Message.client_id).where(Message.status == outbox.QUEUED,
                                                   Message.kind.in_(PLANNED_KINDS)).distinct()
            waiting = set((await session.execute(stmt)).scalars())
        asked = reachable | waiting if client_ids is None else set(client_ids)
        ids = sorted(reachable & asked)
        added = cancelled = 0
        for client_id in sorted((waiting & asked) - reachable):  # opted out since: cancel what is queued
            cancelled += (await self._apply(client_id, Plan(), None))[1]
        ctx = RequestContext(DELIVERY_WORKER, f"plan-{uuid.uuid4().hex[:16]}", Purpose.CLIENT_NOTIFICATION,
                             "planReminders")
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            disclosed = await self._gate.disclose(ctx, batch, [Category.APPOINTMENTS, Category.BENEFITS])
            for client_id, disclosure in disclosed.items():
                plan = Plan()
                for category, each in ((Category.APPOINTMENTS, self._for_appointment),
                                       (Category.BENEFITS, self._for_notices)):
                    for part in disclosure.parts(category):
                        if part.status is SectionStatus.FAILED:
                            plan.unknown.add(part.holder)
                        elif part.status is SectionStatus.SHOWN:
                            for record in part.data or []:
                                each(plan, part.holder, record)
                n_added, n_cancelled = await self._apply(client_id, plan, await self._point(client_id))
                added, cancelled = added + n_added, cancelled + n_cancelled
        return added, cancelled

    def _for_appointment(self, plan: Plan, holder: str, a: Any) -> None:
        """An appointment's reminders (`a`: an Appointment)."""
        if a.status not in OPEN:
            return
        about_it = subject("appointment", holder, a.appointment_id)
        leads = [(f"{h}h", a.scheduled_at - timedelta(hours=h))
                 for h in sorted(self._s.appointment_lead_hours, reverse=True)]
        self._at_leads(plan, "appointment_reminder", about_it, a.scheduled_at, a.scheduled_at, leads)

    def _for_notices(self, plan: Plan, holder: str, case: Any) -> None:
        """The reminders of a benefits case's notices (`case`: a BenefitCase)."""
        for n in case.notices:
            if n.response_due_on is None:
                continue
            due = self._local(n.response_due_on, time(12, 0))
            ends = self._local(n.response_due_on + timedelta(days=1), time(0, 0))
            leads = [(f"{d}d", self._local(n.response_due_on - timedelta(days=d), time(10, 0)))
                     for d in sorted(self._s.notice_lead_days, reverse=True)]
            self._at_leads(plan, "notice_due", subject("notice", holder, n.notice_id), due, ends, leads)

    def _at_leads(self, plan: Plan, kind: str, subject: str, at: datetime, expires: datetime,
                  leads: list[tuple[str, datetime]]) -> None:
        """One reminder per lead time still to come; if none is, one now when `at` is far enough off. Every
        lead's reminder of something still to come stays `kept` (one due but held back by quiet hours, the cap
        or a provider that is down is not cancelled for being due)."""
        now = self._clock()
        if at <= now:
            return
        for name, when in leads:
            plan.kept.add(f"{subject}|{at.isoformat()}|{name}")
            if when > now:
                plan.wanted.append(Wanted(f"{subject}|{at.isoformat()}|{name}", kind, subject, at, name, when,
                                          expires))
        if leads and all(when <= now for _, when in leads) and at - now >= CATCH_UP:
            name, _ = leads[-1]
            plan.wanted.append(Wanted(f"{subject}|{at.isoformat()}|{name}", kind, subject, at, name, now, expires,
                                      catch_up=True))

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, self._zone).astimezone(UTC)

    async def _point(self, client_id: str) -> ContactPoint | None:
        async with self._sessions() as session:
            return await outbox.reachable_at(session, client_id)

    async def _apply(self, client_id: str, plan: Plan, point: ContactPoint | None) -> tuple[int, int]:
        """Make the client's queued reminders what `plan` says: enqueue the wanted, cancel those no longer kept
        (except for a holder that did not answer: it said nothing about its appointments)."""
        now = self._clock()
        kept = {_key(k, point) for k in plan.kept} if point is not None else set()
        wanted = {_key(w.key, point): w for w in plan.wanted} if point is not None else {}
        added = 0
        async with self._sessions.begin() as session:
            mine = list((await session.execute(select(Message).where(
                Message.client_id == client_id, Message.kind.in_(PLANNED_KINDS)))).scalars())
            stale = [m.id for m in mine if m.status == outbox.QUEUED and m.idempotency_key not in kept
                     and about(m.subject)[1] not in plan.unknown]
            cancelled = await cancel_messages(session, stale, now=now, reason="no-longer-due")
            # a catch-up is one reminder now: not again for what was already sent (under another key: a new
            # contact point, or an opt-in given again)
            done = {(m.subject, m.params.get("at"), m.params.get("lead")) for m in mine
                    if m.status in (outbox.SENT, "delivered")}
            for key, w in wanted.items():
                assert point is not None
                if w.catch_up and (w.subject, w.at.isoformat(), w.lead) in done:
                    continue
                try:
                    async with _savepoint(session):  # a planner racing this one may insert the same key first
                        _, new = await outbox.enqueue(session, outbox.NewMessage(
                            idempotency_key=key, client_id=client_id, holder=point.holder, kind=w.kind,
                            subject=w.subject, channel=point.channel, contact_point_id=point.id, template=w.kind,
                            params={"at": w.at.isoformat(), "lead": w.lead}, send_after=w.send_after,
                            expires_at=w.expires_at), now=now)
                except IntegrityError:
                    new = False
                added += new
        return added, cancelled


@dataclass
class Plan:
    """What one client's reminders should be: `wanted` (to enqueue), `kept` (the keys of every lead of what is
    still to come: not cancelled), and the holders that did not answer (`unknown`: their queued reminders stay)."""

    wanted: list[Wanted] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)


def _savepoint(session: AsyncSession) -> contextlib.AbstractAsyncContextManager[Any]:
    """A savepoint on PostgreSQL (an insert that loses a race rolls back alone). Not on SQLite: its driver opens
    the transaction at the first write, and a savepoint would open it at a read instead, whose snapshot a
    concurrent writer (the access log) makes stale: the insert then fails at once with "database is locked"
    (seen in the demo at start-up). SQLite's writers take turns anyway."""
    if session.bind is None or session.bind.dialect.name == "sqlite":
        return contextlib.nullcontext()
    return session.begin_nested()



def _key(what: str, point: ContactPoint | None) -> str:
    """The idempotency key of one reminder at one contact point (a digest of ids and times: no personal data)."""
    # the opt-in's time too: a client who opted out (STOP) and back in (START) is reminded again
    where = f"{point.id}|{point.opt_in_changed_at.isoformat()}" if point else ""
    digest = hashlib.sha256(f"{what}|{where}".encode()).hexdigest()
    return f"reminder:{digest}"
