"""Webhooks to partner systems (issue 21 §4): an organisation subscribes a URL to the changes of its referrals; each
change is recorded as one delivery per subscription in the same transaction as the change (so a call exists exactly
when its cause does), then sent, signed, and retried until the subscriber answers 2xx or it gives up - every try in
the delivery log. A payload names the event, the referral's id, its status and when: the subscriber fetches the
rest through the API with its own token, as the gate allows.

Signing (verify with `verify`): header `Casebridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<body>" keyed with the subscription's secret>`, and `Casebridge-Delivery: <delivery id>` (the same on every
retry: a subscriber that saw it already can ignore it).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.held_tables import WebhookDelivery, WebhookSubscription

EVENTS = ("referral.changed",)
SIGNATURE_HEADER, DELIVERY_HEADER = "Casebridge-Signature", "Casebridge-Delivery"
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
TOLERANCE_SECONDS = 300


class WebhookSettings(BaseModel):
    """How webhook calls are made and retried."""

    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    max_attempts: int = Field(default=8, ge=1, le=50)
    backoff_seconds: float = Field(default=30.0, ge=0.01, le=3600)
    backoff_max_seconds: float = Field(default=3600.0, ge=1, le=86_400)
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    # plain http to this machine (a developer's receiver, the demo's); never in production
    allow_loopback_http: bool = True
    # the certificate authorities partners' certificates are checked against, where the city runs its own (a PEM
    # file); unset: the system's
    ca_file: Path | None = None


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, *, at: int | None = None) -> str:
    """The signature header's value for `body` sent at `at` (unix seconds; default now)."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify(secret: str, header: str | None, body: bytes, *, now: int | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret`, sent within `tolerance` seconds of `now` (a replay later
    fails)."""
    if not header:
        return False
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs((int(time.time()) if now is None else now) - t) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


async def enqueue(session: AsyncSession, *, orgs: Sequence[str], event: str, payload: dict[str, Any],
                  now: datetime) -> int:
    """Record one delivery per active subscription of `orgs` to `event`, in the caller's transaction."""
    subs = (await session.execute(select(WebhookSubscription).where(
        WebhookSubscription.org.in_(list(dict.fromkeys(orgs))), WebhookSubscription.active.is_(True)))).scalars()
    n = 0
    for sub in subs:
        if event not in sub.events:
            continue
        delivery_id = str(uuid.uuid4())
        session.add(WebhookDelivery(id=delivery_id, subscription_id=sub.id, event=event,
                                    payload={**payload, "event": event, "deliveryId": delivery_id},
                                    status=PENDING, attempts=0, next_attempt_at=now, created_at=now))
        n += 1
    await session.flush()
    return n


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to make now: where, signed with what, saying what."""

    id: str
    url: str
    secret: str
    body: bytes
    attempts: int


async def claim(sessions: async_sessionmaker[Any], *, now: datetime, lease: timedelta, limit: int) -> list[Due]:
    """Lease up to `limit` due deliveries (conditional updates: two senders never take the same one)."""
    free = (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until < now)
    out = []
    async with sessions.begin() as session:
        rows = (await session.execute(select(WebhookDelivery, WebhookSubscription).join(
            WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id).where(
            WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now, free,
            WebhookSubscription.active.is_(True))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))).all()
        for delivery, sub in rows:
            tries = delivery.attempts + 1  # read before the update (which refreshes the loaded row)
            taken = await session.execute(update(WebhookDelivery).where(
                WebhookDelivery.id == delivery.id, WebhookDelivery.status == PENDING, free).values(
                lease_until=now + lease, attempts=WebhookDelivery.attempts + 1))
            if getattr(taken, "rowcount", 0) == 1:
                body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
                out.append(Due(delivery.id, sub.url, sub.secret, body, tries))
    return out


async def finish(sessions: async_sessionmaker[Any], delivery_id: str, *, ok: bool, result: str, now: datetime,
                 retry_at: datetime | None) -> None:
    """Write what became of one try: delivered, to be tried again at `retry_at`, or failed (no `retry_at`)."""
    status = DELIVERED if ok else (PENDING if retry_at is not None else FAILED)
    async with sessions.begin() as session:
        await session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(
            status=status, last_result=result[:64], lease_until=None, next_attempt_at=retry_at or now,
            delivered_at=now if ok else None))


_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A public address, and, for an IPv6 one that carries an IPv4 address (mapped, 6to4, Teredo, NAT64), a public
    one inside too."""
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None and not inner.is_global:
            return False
    return True
