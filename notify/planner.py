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

import hashlib
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.records import Appointment, BenefitCase
from core.principal import DELIVERY_WORKER, RequestContext
from core.vocabulary import Category, Purpose
from gate.disclosure import SectionStatus
from gate.gate import Gate
from notify import outbox
from notify.config import NotifySettings
from store.held_tables import ContactPoint, ContactPreference, Message

OPEN = ("SCHEDULED", "RESCHEDULED")
PLANNED_KINDS = ("appointment_reminder", "notice_due")
CATCH_UP = timedelta(hours=2)  # an appointment booked after its last lead time still gets one reminder, if this far
BATCH = 50  # clients per gate read


@dataclass(frozen=True, slots=True)
class Wanted:
    """A reminder that should exist."""

    key: str
    holder: str
    kind: str
    subject: str
    at: datetime  # what it reminds of: the appointment's time, the notice's date
    send_after: datetime
    expires_at: datetime


class ReminderPlanner:
    """Plans reminders for every client who opted in to some contact point."""

    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any], settings: NotifySettings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate, self._sessions, self._s, self._clock = gate, sessions, settings, clock
        self._zone = ZoneInfo(settings.timezone)

    async def plan(self, client_ids: Iterable[str] | None = None) -> tuple[int, int]:
        """Plan the reminders of `client_ids` (default: every client with an opted-in contact point);
        (reminders enqueued, reminders cancelled)."""
        async with self._sessions() as session:
            stmt = select(ContactPoint.client_id).where(ContactPoint.opted_in.is_(True)).distinct()
            reachable = set((await session.execute(stmt)).scalars())
            stmt = select(Message.client_id).where(Message.status == outbox.QUEUED,
                                                   Message.kind.in_(PLANNED_KINDS)).distinct()
            waiting = set((await session.execute(stmt)).scalars())
        asked = reachable | waiting if client_ids is None else set(client_ids)
        ids = sorted(reachable & asked)
        queued_only = sorted((waiting & asked) - reachable)  # opted out since: cancel what is queued
        added = cancelled = 0
        for client_id in queued_only:
            cancelled += await self._reconcile(client_id, [], None)
        ctx = RequestContext(DELIVERY_WORKER, f"plan-{uuid.uuid4().hex[:16]}", Purpose.CLIENT_NOTIFICATION,
                             "planReminders")
        for start in range(0, len(ids), BATCH):
            batch = ids[start:start + BATCH]
            disclosed = await self._gate.disclose(ctx, batch, [Category.APPOINTMENTS, Category.BENEFITS])
            for client_id, disclosure in disclosed.items():
                wanted: list[Wanted] = []
                for part in disclosure.parts(Category.APPOINTMENTS):
                    if part.status is SectionStatus.SHOWN:
                        wanted += [w for a in part.data or [] for w in self._for_appointment(part.holder, a)]
                for part in disclosure.parts(Category.BENEFITS):
                    if part.status is SectionStatus.SHOWN:
                        wanted += [w for case in part.data or [] for w in self._for_notices(part.holder, case)]
                failed = any(p.status is SectionStatus.FAILED for parts in disclosure.sections.values()
                             for p in parts)
                point = await self._point(client_id)
                n_added, n_cancelled = await self._apply(client_id, wanted, point, keep_unknown=failed)
                added, cancelled = added + n_added, cancelled + n_cancelled
        return added, cancelled

    def _for_appointment(self, holder: str, a: Appointment) -> list[Wanted]:
        if a.status not in OPEN:
            return []
        subject = f"appointment:{holder}:{a.appointment_id}"[:160]
        leads = [timedelta(hours=h) for h in sorted(self._s.appointment_lead_hours, reverse=True)]
        return self._at_leads(holder, "appointment_reminder", subject, a.scheduled_at, a.scheduled_at,
                              [(f"{int(lead.total_seconds() // 3600)}h", a.scheduled_at - lead) for lead in leads])

    def _for_notices(self, holder: str, case: BenefitCase) -> list[Wanted]:
        out = []
        for n in case.notices:
            if n.response_due_on is None:
                continue
            due = self._local(n.response_due_on, time(12, 0))
            ends = self._local(n.response_due_on + timedelta(days=1), time(0, 0))
            leads = [(f"{d}d", self._local(n.response_due_on - timedelta(days=d), time(10, 0)))
                     for d in sorted(self._s.notice_lead_days, reverse=True)]
            out += self._at_leads(holder, "notice_due", f"notice:{holder}:{n.notice_id}"[:160], due, ends, leads)
        return out

    def _at_leads(self, holder: str, kind: str, subject: str, at: datetime, expires: datetime,
                  leads: list[tuple[str, datetime]]) -> list[Wanted]:
        """One reminder per lead time still to come; if none is, one now when `at` is far enough off."""
        now = self._clock()
        out = [Wanted(f"{subject}|{at.isoformat()}|{name}", holder, kind, subject, at, when, expires)
               for name, when in leads if when > now]
        if not out and leads and at - now >= CATCH_UP:
            name, _ = leads[-1]
            out.append(Wanted(f"{subject}|{at.isoformat()}|{name}", holder, kind, subject, at, now, expires))
        return out

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, self._zone).astimezone(UTC)

    async def _point(self, client_id: str) -> ContactPoint | None:
        """Where the client's reminders go: their preferred channel's newest opted-in point, else any newest."""
        async with self._sessions() as session:
            points = list((await session.execute(
                select(ContactPoint).where(ContactPoint.client_id == client_id, ContactPoint.opted_in.is_(True))
                .order_by(ContactPoint.recorded_at.desc()))).scalars())
            pref = (await session.execute(
                select(ContactPreference.preferred_channel).where(ContactPreference.client_id == client_id)
                .order_by(ContactPreference.recorded_at.desc()).limit(1))).scalar_one_or_none()
        return next((p for p in points if p.channel == pref), points[0] if points else None)

    async def _apply(self, client_id: str, wanted: list[Wanted], point: ContactPoint | None, *,
                     keep_unknown: bool) -> tuple[int, int]:
        now = self._clock()
        keys = {_key(w.key, point): w for w in wanted} if point is not None else {}
        added = 0
        async with self._sessions.begin() as session:
            queued = list((await session.execute(select(Message).where(
                Message.client_id == client_id, Message.status == outbox.QUEUED,
                Message.kind.in_(PLANNED_KINDS)))).scalars())
            # an agency that did not answer says nothing about its appointments: keep what is queued for them
            stale = [m for m in queued if m.idempotency_key not in keys and not keep_unknown]
            await outbox.cancel_queued(session, stale, now=now, reason="no-longer-due")
            for key, w in keys.items():
                assert point is not None
                _, new = await outbox.enqueue(session, outbox.NewMessage(
                    idempotency_key=key, client_id=client_id, holder=w.holder, kind=w.kind, subject=w.subject,
                    channel=point.channel, contact_point_id=point.id, template=w.kind,
                    params={"at": w.at.isoformat()}, send_after=w.send_after, expires_at=w.expires_at), now=now)
                added += new
        return added, len(stale)

    async def _reconcile(self, client_id: str, wanted: list[Wanted], point: ContactPoint | None) -> int:
        _, cancelled = await self._apply(client_id, wanted, point, keep_unknown=False)
        return cancelled


def _key(what: str, point: ContactPoint | None) -> str:
    """The idempotency key of one reminder at one contact point (a digest of ids and times: no personal data)."""
    # the opt-in's time too: a client who opted out (STOP) and back in (START) is reminded again
    where = f"{point.id}|{point.opt_in_changed_at.isoformat()}" if point else ""
    digest = hashlib.sha256(f"{what}|{where}".encode()).hexdigest()
    return f"reminder:{digest}"
