"""Notices the client is sent when staff need something from them (issue 20 §5): a document asked for by a date,
or one sent that could not be accepted and is needed again; news of a referral, and a plan's step of the client's
coming due (issue 21). Recorded in
the outbox in the same transaction as the request, the review or the referral's change (so a notice exists
exactly when its cause does), sent by the delivery worker like any reminder - through the gate, to a contact
point the client opted in to, in their language, outside their quiet hours. The words name only the date and
the link: never the document, the service, the agency or the reason.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from connectors.held import subject
from notify import outbox
from notify.config import NotifySettings

DOCUMENT_KINDS = ("document_requested", "document_rejected")
GOAL_LEAD_DAYS = (30, 7)  # a plan's deadline is reminded this many days before


class ClientNotices:
    """gate.document_desk.Notices, gate.referral_desk.Notices and gate.plan_desk.Notices: messages to where the
    client opted in (nothing when they opted in nowhere: staff see the request or the change without it)."""

    def __init__(self, settings: NotifySettings) -> None:
        self._zone = ZoneInfo(settings.timezone)

    async def document_notice(self, session: AsyncSession, *, client_id: str, holder: str, kind: str,
                              record_id: str, due_on: date, now: datetime) -> None:
        """A document asked for, or to send again, by `due_on`: now (one per request or rejection and date)."""
        if kind not in DOCUMENT_KINDS:
            raise ValueError(f"not a document notice: {kind}")
        due = self._local(due_on, time(17, 0))  # the close of the due day
        await self._queue(session, client_id, kind, subject("document", holder, record_id),
                          [(due_on.isoformat(), "now", now)], at=due, expires=max(due, now + timedelta(hours=1)),
                          now=now)

    async def referral_notice(self, session: AsyncSession, *, client_id: str, holder: str, referral_id: str,
                              now: datetime) -> None:
        """News of a referral (its new status is for the client to see in their own view): now."""
        await self._queue(session, client_id, "referral_update", subject("referral", holder, referral_id),
                          [(now.isoformat(), "now", now)], at=now, expires=now + timedelta(days=7), now=now)

    async def task_notice(self, session: AsyncSession, *, client_id: str, holder: str, task_id: str, due_on: date,
                          now: datetime) -> None:
        """A plan's step the client owns: two days before it is due (at 10:00), or now if that has passed and it
        is still to come."""
        await self._before(session, client_id, "task_due", subject("task", holder, task_id), due_on, (2,), now)

    async def goal_notice(self, session: AsyncSession, *, client_id: str, holder: str, goal_id: str, due_on: date,
                          now: datetime) -> None:
        """A deadline in the client's plan (an asylum application's year): 30 and 7 days before it (at 10:00),
        those still to come; one now if both have passed and the day has not."""
        await self._before(session, client_id, "goal_due", subject("goal", holder, goal_id), due_on, GOAL_LEAD_DAYS,
                           now)

    async def _before(self, session: AsyncSession, client_id: str, kind: str, about: str, due_on: date,
                      lead_days: tuple[int, ...], now: datetime) -> None:
        """Reminders `lead_days` before `due_on` (at 10:00) still to come, else one now; none once it is past."""
        due = self._local(due_on, time(17, 0))
        if due <= now:
            return
        leads = [(due_on.isoformat(), f"{d}d", self._local(due_on - timedelta(days=d), time(10, 0)))
                 for d in lead_days]
        to_come = [lead for lead in leads if lead[2] > now]
        await self._queue(session, client_id, kind, about, to_come or [(*leads[-1][:2], now)], at=due, expires=due,
                          now=now)

    async def _queue(self, session: AsyncSession, client_id: str, kind: str, about: str,
                     sends: list[tuple[str, str, datetime]], *, at: datetime, expires: datetime,
                     now: datetime) -> None:
        """One message of `kind` about `about` per (what, lead, when) in `sends`, to where the client is reached.
        The key names what it is about, which send, and the contact point as opted in now: the same twice is
        once, and an opt-in given again (after STOP) is reminded again."""
        point = await outbox.reachable_at(session, client_id)
        if point is None:
            return
        for what, lead, when in sends:
            key = f"{kind}:" + hashlib.sha256(f"{about}|{what}|{lead}|{point.id}|"
                                              f"{point.opt_in_changed_at.isoformat()}".encode()).hexdigest()
            await outbox.enqueue(session, outbox.NewMessage(
                idempotency_key=key, client_id=client_id, holder=point.holder, kind=kind, subject=about,
                channel=point.channel, contact_point_id=point.id, template=kind,
                params={"at": at.isoformat(), "lead": lead}, send_after=when, expires_at=expires), now=now)

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, self._zone).astimezone(UTC)

