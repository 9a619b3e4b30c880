"""The delivery worker: sends what the outbox holds, through the gate, at least once and (with the provider's
idempotency) once.

Each due message is leased (notify/outbox.claim), then, in order: not after it expired (the appointment's time);
only where the policies allow (Cedar action notification.deliver: a contact point the client opted in to - a
STOP since it was queued stops it, `opted_out`); not in the client's quiet hours (it waits for their end); not
past the per-client cap of messages in 24 hours (it waits for the window); then its words in the client's language
(notify/templates), the provider's answer, and one gate operation that writes the outcome with its access-log
event (the message's id and channel, never the address or the words). A provider that is down is tried again
with exponential backoff, `failed` after `max_attempts`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.principal import DELIVERY_WORKER, RequestContext
from core.vocabulary import Action, Purpose
from gate.gate import Gate
from gate.operations import refused_record
from notify import outbox
from notify.config import NotifySettings
from notify.providers import Outcome, Outgoing, Sender
from notify.templates import Templates
from policies.decisions import Target
from store.held_tables import ContactPoint, ContactPreference, Message

log = logging.getLogger("casebridge.notify")


class DeliveryWorker:
    """Claims due messages and sends each through the gate; `run` until stopped, or `run_once` for one pass."""

    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any], senders: Mapping[str, Sender],
                 templates: Templates, settings: NotifySettings, owner: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate, self._sessions, self._senders = gate, sessions, dict(senders)
        self._templates, self._s, self._clock = templates, settings, clock
        self._zone = ZoneInfo(settings.timezone)
        self.owner = owner or f"worker-{uuid.uuid4().hex[:12]}"

    def _ctx(self) -> RequestContext:
        return RequestContext(DELIVERY_WORKER, f"delivery-{uuid.uuid4().hex[:16]}", Purpose.CLIENT_NOTIFICATION,
                              "deliverMessage")

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, polling every `poll_seconds` when nothing is due."""
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except Exception as exc:  # the store or the gate failed: nothing was lost, try again after a pause
                log.error("a delivery pass failed (%s); the messages stay queued", type(exc).__name__)
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._s.poll_seconds)

    async def run_once(self, limit: int = 10) -> int:
        """Claim and deliver the messages due now, a few at a time (each lease is renewed just before its send);
        how many were handled. One that fails stays queued and leased until its lease ends; the rest go on."""
        now = self._clock()
        ids = await outbox.claim(self._sessions, owner=self.owner, now=now, lease=self._lease, limit=limit)
        for mid in ids:
            try:
                await self._deliver(mid)
            except Exception as exc:  # the store, the gate or a template failed for this one: the next may go
                log.error("delivering a message failed (%s); it is tried again after its lease", type(exc).__name__)
        return len(ids)

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self._s.lease_seconds)

    async def _deliver(self, message_id: str) -> None:
        now = self._clock()
        async with self._sessions() as session:
            msg = await session.get(Message, message_id)
            if msg is None or msg.lease_owner != self.owner:
                return
            point = await session.get(ContactPoint, msg.contact_point_id)
            prefs = (await session.execute(
                select(ContactPreference).where(ContactPreference.client_id == msg.client_id)
                .order_by(ContactPreference.recorded_at.desc()).limit(1))).scalar_one_or_none()
            sent = await outbox.sent_since(session, msg.client_id, now - timedelta(hours=24))
        assert point is not None  # a foreign key; contact points are never deleted
        ctx = self._ctx()
        if msg.attempts > self._s.max_attempts:  # claimed again and again without an outcome (workers died)
            await self._finish(message_id, "failed", "too-many-attempts")
            return
        if msg.expires_at is not None and now >= msg.expires_at:
            await self._finish(message_id, "expired", "expired-before-sent")
            return
        (verdict,) = await self._gate.authorize_each(
            ctx, Action.NOTIFICATION_DELIVER, [Target.message_to(msg.client_id, opted_in=point.opted_in)])
        if not verdict.permit:
            await self._gate.record([refused_record(ctx, Action.NOTIFICATION_DELIVER, Target.client(msg.client_id),
                                                    verdict)])
            if not point.opted_in:  # the client withdrew their opt-in (STOP) after it was queued: never sent
                await self._finish(message_id, "opted_out", "not-opted-in")
            else:  # refused for another reason (a policy error): not the client's doing; tried again, then failed
                await self._defer(message_id, now + self._backoff(msg.attempts), "refused-by-policy", counts=True,
                                  expires=msg.expires_at, attempts=msg.attempts)
            return
        quiet_end = quiet_until(prefs, now, self._zone)
        if quiet_end is not None:
            await self._defer(message_id, quiet_end, "quiet-hours", counts=False, expires=msg.expires_at)
            return
        if len(sent) >= self._s.daily_cap:
            await self._defer(message_id, sent[-self._s.daily_cap] + timedelta(hours=24), "frequency-cap",
                              counts=False, expires=msg.expires_at)
            return
        sender = self._senders.get(msg.channel)
        if sender is None:
            await self._defer(message_id, now + self._backoff(msg.attempts), "no-provider", counts=True,
                              expires=msg.expires_at, attempts=msg.attempts)
            return
        words = self._templates.render(msg.template, msg.channel, prefs.language if prefs else "en",
                                       at=datetime.fromisoformat(msg.params["at"]), zone=self._zone,
                                       link=self._s.link)
        if not await outbox.renew(self._sessions, message_id, owner=self.owner, now=self._clock(), lease=self._lease):
            return  # our lease ran out and another worker has it: it sends, not us
        result = await sender.send(Outgoing(msg.idempotency_key, point.address, words.subject, words.body))
        async with self._gate.operation(ctx, Action.NOTIFICATION_DELIVER) as op:
            row = (await op.session.execute(select(Message).where(Message.id == message_id).with_for_update())
                   ).scalar_one()
            now = self._clock()
            if row.lease_owner != self.owner or row.status != outbox.QUEUED:
                # sent while another worker (whose lease began after ours ran out) sent it too: the provider's
                # idempotency keeps one; the other worker writes what became of it
                op.log(row.client_id, detail=f"message {row.id} sent after its lease ran out ({row.channel})")
            elif result.outcome is Outcome.ACCEPTED:
                row.provider_message_id, row.sent_at = result.provider_message_id, now
                row.body = words.body if words.subject is None else f"{words.subject}\n\n{words.body}"
                outbox.finish(op.session, row, outbox.SENT, now=now)
                await outbox.apply_early(op.session, row, now=now)
                op.log(row.client_id, detail=f"message {row.id} sent ({row.channel})")
            elif result.outcome is Outcome.RETRY and row.attempts < self._s.max_attempts:
                outbox.defer(op.session, row, now + self._backoff(row.attempts), now=now, why=result.error or "retry")
                op.log(row.client_id, result="failed", detail=f"message {row.id} to retry ({result.error})"[:500])
            else:
                status = "bounced" if result.outcome is Outcome.BOUNCED else "failed"
                outbox.finish(op.session, row, status, now=now, error=result.error)
                op.log(row.client_id, result="failed", detail=f"message {row.id} {status} ({result.error})"[:500])

    def _backoff(self, attempts: int) -> timedelta:
        """Exponential, capped, with jitter (so that many messages to a provider that was down do not return at
        one moment)."""
        base = min(self._s.backoff_seconds * 2 ** max(0, attempts - 1), self._s.backoff_max_seconds)
        return timedelta(seconds=base * random.uniform(0.8, 1.2))  # jitter, not a secret

    async def _finish(self, message_id: str, status: str, why: str) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(Message, message_id)
            if row is not None and row.lease_owner == self.owner:
                outbox.finish(session, row, status, now=self._clock(), error=why)

    async def _defer(self, message_id: str, until: datetime, why: str, *, counts: bool, expires: datetime | None,
                     attempts: int = 0) -> None:
        until = max(until, self._clock() + timedelta(seconds=1))  # never to a moment already past
        if expires is not None and until >= expires:  # it would go out after what it reminds of
            await self._finish(message_id, "expired", why)
            return
        if counts and attempts >= self._s.max_attempts:
            await self._finish(message_id, "failed", why)
            return
        async with self._sessions.begin() as session:
            row = await session.get(Message, message_id)
            if row is not None and row.lease_owner == self.owner:
                outbox.defer(session, row, until, now=self._clock(), why=why, counts=counts)


def quiet_until(prefs: ContactPreference | None, now: datetime, zone: ZoneInfo) -> datetime | None:
    """When the client's quiet hours end, if `now` is inside them (local time; the hours may wrap midnight)."""
    if prefs is None or not prefs.quiet_from or not prefs.quiet_until:
        return None
    start, end = time.fromisoformat(prefs.quiet_from), time.fromisoformat(prefs.quiet_until)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside or start == end:
        return None
    # compared in UTC: on the night the clocks go back a local time comes twice (fold 0 and 1), and the end of the
    # quiet hours is the first of them still to come
    for day in (local.date() + timedelta(days=n) for n in range(3)):
        later = [ends for fold in (0, 1) if (ends := datetime.combine(day, end, zone).replace(fold=fold)
                                             .astimezone(UTC)) > now]
        if later:
            return min(later)
    return now + timedelta(days=1)  # not reached: some day within three has the hour
