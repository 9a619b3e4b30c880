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
    """gate.document_desk.Notices and gate.referral_desk.Notices: one message per request, rejection or referral
    change, to where the client opted in."""

    def __init__(self, settings: NotifySettings) -> None:
        self._zone = ZoneInfo(settings.timezone)

    async def document_notice(self, session: AsyncSession, *, client_id: str, holder: str, kind: str,
                              record_id: str, due_on: date, now: datetime) -> None:
        """Queue the notice (nothing when the client opted in nowhere: staff see the request without it)."""
        if kind not in DOCUMENT_KINDS:
            raise ValueError(f"not a document notice: {kind}")
        point = await outbox.reachable_at(session, client_id)
        if point is None:
            return
        due = datetime.combine(due_on, time(17, 0), self._zone).astimezone(UTC)  # the close of the due day
        # the same request (or rejection) with the same date, to the same point, is one message
        key = "notice:" + hashlib.sha256(f"{kind}|{record_id}|{due_on.isoformat()}|{point.id}|"
                                         f"{point.opt_in_changed_at.isoformat()}".encode()).hexdigest()
        await outbox.enqueue(session, outbox.NewMessage(
            idempotency_key=key, client_id=client_id, holder=point.holder, kind=kind,
            subject=subject("document", holder, record_id), channel=point.channel, contact_point_id=point.id,
            template=kind, params={"at": due.isoformat(), "lead": "now"}, send_after=now,
            expires_at=max(due, now + timedelta(hours=1))), now=now)

    async def referral_notice(self, session: AsyncSession, *, client_id: str, holder: str, referral_id: str,
                              now: datetime) -> None:
        """Queue news of a referral (its new status is for the client to see in their own view)."""
        point = await outbox.reachable_at(session, client_id)
        if point is None:
            return
        key = "referral:" + hashlib.sha256(f"{referral_id}|{now.isoformat()}|{point.id}".encode()).hexdigest()
        await outbox.enqueue(session, outbox.NewMessage(
            idempotency_key=key, client_id=client_id, holder=point.holder, kind="referral_update",
            subject=subject("referral", holder, referral_id), channel=point.channel, contact_point_id=point.id,
            template="referral_update", params={"at": now.isoformat(), "lead": "now"}, send_after=now,
            expires_at=now + timedelta(days=7)), now=now)

    async def task_notice(self, session: AsyncSession, *, client_id: str, holder: str, task_id: str, due_on: date,
                          now: datetime) -> None:
        """Queue a reminder of a plan's step the client owns, two days before it is due (at 10:00), or now if that
        has passed and it is still to come."""
        point = await outbox.reachable_at(session, client_id)
        if point is None:
            return
        due = datetime.combine(due_on, time(17, 0), self._zone).astimezone(UTC)
        if due <= now:
            return
        send = max(now, datetime.combine(due_on - timedelta(days=2), time(10, 0), self._zone).astimezone(UTC))
        key = "task:" + hashlib.sha256(f"{task_id}|{due_on.isoformat()}|{point.id}|"
                                       f"{point.opt_in_changed_at.isoformat()}".encode()).hexdigest()
        await outbox.enqueue(session, outbox.NewMessage(
            idempotency_key=key, client_id=client_id, holder=point.holder, kind="task_due",
            subject=subject("task", holder, task_id), channel=point.channel, contact_point_id=point.id,
            template="task_due", params={"at": due.isoformat(), "lead": "2d"}, send_after=send, expires_at=due),
            now=now)

    async def goal_notice(self, session: AsyncSession, *, client_id: str, holder: str, goal_id: str, due_on: date,
                          now: datetime) -> None:
        """Queue reminders of a deadline in the client's plan (an asylum application's year): 30 and 7 days
        before it (at 10:00), those still to come; one now if both have passed and the day has not."""
        point = await outbox.reachable_at(session, client_id)
        if point is None:
            return
        due = datetime.combine(due_on, time(17, 0), self._zone).astimezone(UTC)
        if due <= now:
            return
        leads = [(f"{d}d", datetime.combine(due_on - timedelta(days=d), time(10, 0), self._zone).astimezone(UTC))
                 for d in GOAL_LEAD_DAYS]
        wanted = [(name, when) for name, when in leads if when > now] or [(f"{GOAL_LEAD_DAYS[-1]}d", now)]
        for name, when in wanted:
            key = "goal:" + hashlib.sha256(f"{goal_id}|{due_on.isoformat()}|{name}|{point.id}|"
                                           f"{point.opt_in_changed_at.isoformat()}".encode()).hexdigest()
            await outbox.enqueue(session, outbox.NewMessage(
                idempotency_key=key, client_id=client_id, holder=point.holder, kind="goal_due",
                subject=subject("goal", holder, goal_id), channel=point.channel, contact_point_id=point.id,
                template="goal_due", params={"at": due.isoformat(), "lead": name}, send_after=when,
                expires_at=due), now=now)
