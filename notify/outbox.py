"""The outbox: a message is recorded in the store before anything is sent, and what becomes of it is kept.

`enqueue` writes a message in the caller's transaction; its idempotency key makes a second enqueue of the same
thing (the same reminder of the same appointment at the same time) the first one. A delivery worker `claim`s due
messages with a lease (a conditional update: two workers never hold one message), sends, and writes the outcome;
a worker that dies leaves its messages to the next once the lease runs out. A provider's status callbacks move a
message forward only (queued -> sent -> delivered | failed | bounced | opted_out): a repeated or late callback
changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.held_tables import ContactPoint, ContactPreference, EarlyCallback, Message, MessageEvent

QUEUED = "queued"
SENT = "sent"
FINAL = frozenset({"delivered", "failed", "bounced", "opted_out", "cancelled", "expired"})
STATUSES = (QUEUED, SENT, *sorted(FINAL))
# how far along each status is: a callback never moves a message back
_RANK = {QUEUED: 0, SENT: 1, **{s: 2 for s in FINAL}}


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to record: to whom and where, what it says (a template and what it may show), and when."""

    idempotency_key: str
    client_id: str
    holder: str  # the organisation whose record it is about
    kind: str
    subject: str  # what it is about, e.g. appointment:HRA:APT-1
    channel: str
    contact_point_id: str
    template: str
    params: dict[str, Any]
    send_after: datetime
    expires_at: datetime | None


async def enqueue(session: AsyncSession, new: NewMessage, *, now: datetime) -> tuple[Message, bool]:
    """Record a message in the caller's transaction; (the message, whether it is queued anew). The same key twice
    is the first message, whatever became of it - except a cancelled one, wanted again (an appointment moved
    away and back): it is queued again."""
    found = (await session.execute(select(Message).where(Message.idempotency_key == new.idempotency_key))
             ).scalar_one_or_none()
    if found is not None and found.status == "cancelled":
        found.status, found.error, found.attempts, found.updated_at = QUEUED, None, 0, now
        found.send_after = found.next_attempt_at = new.send_after
        found.expires_at, found.params = new.expires_at, new.params
        session.add(MessageEvent(message_id=found.id, status=QUEUED, detail="wanted-again", at=now))
        await session.flush()
        return found, True
    if found is not None:
        return found, False
    row = Message(id=str(uuid.uuid4()), idempotency_key=new.idempotency_key, client_id=new.client_id,
                  holder=new.holder, kind=new.kind, subject=new.subject, channel=new.channel,
                  contact_point_id=new.contact_point_id, template=new.template, params=new.params,
                  send_after=new.send_after, expires_at=new.expires_at, status=QUEUED, attempts=0,
                  next_attempt_at=new.send_after, created_at=now, updated_at=now)
    session.add(row)
    session.add(MessageEvent(message_id=row.id, status=QUEUED, at=now))
    await session.flush()
    return row, True


async def reachable_at(session: AsyncSession, client_id: str) -> ContactPoint | None:
    """Where the client's messages go: their preferred channel's newest opted-in point, else any newest; None
    when they opted in nowhere."""
    points = list((await session.execute(
        select(ContactPoint).where(ContactPoint.client_id == client_id, ContactPoint.opted_in.is_(True))
        .order_by(ContactPoint.recorded_at.desc()))).scalars())
    pref = (await session.execute(
        select(ContactPreference.preferred_channel).where(ContactPreference.client_id == client_id)
        .order_by(ContactPreference.recorded_at.desc()).limit(1))).scalar_one_or_none()
    return next((p for p in points if p.channel == pref), points[0] if points else None)


async def claim(sessions: async_sessionmaker[Any], *, owner: str, now: datetime, lease: timedelta,
                limit: int) -> list[str]:
    """Lease up to `limit` due messages to `owner`: queued, due, and not leased to a live worker."""
    free = (Message.lease_until.is_(None)) | (Message.lease_until < now)
    due = (select(Message.id).where(Message.status == QUEUED, Message.next_attempt_at <= now, free)
           .order_by(Message.next_attempt_at, Message.id).limit(limit))
    got = []
    async with sessions.begin() as session:
        for mid in (await session.execute(due)).scalars().all():
            taken = await session.execute(
                update(Message).where(Message.id == mid, Message.status == QUEUED, free)
                .values(lease_owner=owner, lease_until=now + lease, attempts=Message.attempts + 1))
            if getattr(taken, "rowcount", 0) == 1:
                got.append(mid)
    return got


async def renew(sessions: async_sessionmaker[Any], message_id: str, *, owner: str, now: datetime,
                lease: timedelta) -> bool:
    """Hold the lease for another `lease` just before sending: False if it is no longer ours (it ran out and
    another worker took the message), and then this worker must not send it."""
    async with sessions.begin() as session:
        held = await session.execute(
            update(Message).where(Message.id == message_id, Message.lease_owner == owner, Message.status == QUEUED)
            .values(lease_until=now + lease))
        return getattr(held, "rowcount", 0) == 1


def finish(session: AsyncSession, row: Message, status: str, *, now: datetime, error: str | None = None) -> None:
    """A message's attempt ended: `status` (sent, or a final one), lease released, the step on its log."""
    row.status, row.error, row.updated_at = status, error, now
    row.lease_owner = row.lease_until = None
    session.add(MessageEvent(message_id=row.id, status=status, detail=error, at=now))


def defer(session: AsyncSession, row: Message, until: datetime, *, now: datetime, why: str,
          counts: bool = True) -> None:
    """Try again at `until` (a failed attempt's backoff, quiet hours, the frequency cap); `counts`: whether the
    attempt counts towards the limit (a wait for quiet hours does not)."""
    row.next_attempt_at, row.error, row.updated_at = until, why, now
    row.lease_owner = row.lease_until = None
    if not counts:
        row.attempts = max(0, row.attempts - 1)
    session.add(MessageEvent(message_id=row.id, status="retry" if counts else "waiting", detail=why, at=now))


async def sent_since(session: AsyncSession, client_id: str, since: datetime) -> list[datetime]:
    """When the client was sent messages since `since` (for the frequency cap), oldest first."""
    stmt = (select(Message.sent_at).where(Message.client_id == client_id, Message.sent_at.is_not(None),
                                          Message.sent_at >= since).order_by(Message.sent_at))
    return [t for t in (await session.execute(stmt)).scalars() if t is not None]


async def apply_status(session: AsyncSession, provider_message_id: str, status: str, *, now: datetime,
                       error: str | None = None, channel: str = "sms") -> bool:
    """A provider's word on a message it took (sent, delivered, failed, bounced, opted_out): applied if it moves
    the message forward, else ignored (a repeated or late callback). A callback for an id no message carries
    yet (it came before the worker wrote the id down) is kept and applied when it does. Whether anything
    changed."""
    if status not in _RANK:
        return False
    row = (await session.execute(select(Message).where(Message.provider_message_id == provider_message_id,
                                                       Message.channel == channel).with_for_update())
           ).scalar_one_or_none()
    if row is None:
        session.add(EarlyCallback(provider_message_id=provider_message_id, status=status, detail=error, at=now))
        await session.flush()
        return False
    return _forward(session, row, status, error=error, now=now)


def _forward(session: AsyncSession, row: Message, status: str, *, error: str | None, now: datetime) -> bool:
    if _RANK[status] <= _RANK.get(row.status, 2) or row.status in FINAL:
        return False
    row.status, row.updated_at = status, now
    if error:
        row.error = error
    session.add(MessageEvent(message_id=row.id, status=status, detail=error, at=now))
    return True


async def apply_early(session: AsyncSession, row: Message, *, now: datetime) -> None:
    """The callbacks that came before the worker wrote `row`'s provider id, applied in the order they came."""
    early = list((await session.execute(select(EarlyCallback).where(
        EarlyCallback.provider_message_id == row.provider_message_id).order_by(EarlyCallback.id))).scalars())
    for callback in early:
        _forward(session, row, callback.status, error=callback.detail, now=now)
        await session.delete(callback)


async def count_by_status(session: AsyncSession) -> dict[str, int]:
    """How many messages are in each status (for the operator)."""
    rows = (await session.execute(select(Message.status, func.count()).group_by(Message.status))).all()
    return {status: int(n) for status, n in rows}
