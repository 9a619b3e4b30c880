"""The webhook desk: an organisation's subscriptions to the changes of its referrals (connectors/webhooks.py).

Staff who help clients (partners' systems are run by partners' staff) subscribe their own organisation - never
another's (the policies compare the subscriptions' organisation with the caller's) - to a URL, get the signing
secret once, list their subscriptions with their delivery log, and end one (policies/operations.cedar, action
webhook.manage). A URL must be https (plain http only to this machine, where the settings allow it) with no
credentials in it and no address of a private, loopback or link-local network written out: a subscription is not
a way into the city's network. Subscribing and ending are logged (a change of what leaves casebridge); reading them
is not (no client's data).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.webhooks import EVENTS, FAILED, PENDING, WebhookSettings, new_secret, public_address
from core.errors import InvalidInput, RecordNotFound
from core.principal import RequestContext
from core.vocabulary import Action
from gate.gate import Gate
from policies.decisions import Target
from store.held_tables import WebhookDelivery, WebhookSubscription

MAX_SUBSCRIPTIONS = 10
MAX_URL = 2000
LOG = 50  # deliveries shown per subscription


class WebhookDesk:
    """Subscriptions and their delivery log, through the gate."""

    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any], settings: WebhookSettings,
                 production: bool, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._sessions = sessions
        self._settings = settings
        self._production = production
        self._clock = clock

    async def subscribe(self, ctx: RequestContext, *, url: str, events: Sequence[str]) -> tuple[WebhookSubscription,
                                                                                                  str]:
        """Subscribe the caller's organisation; (the subscription, its signing secret - shown this once)."""
        where = self._check_url(url)
        wanted = list(dict.fromkeys(events or EVENTS))
        if any(e not in EVENTS for e in wanted):
            raise InvalidInput(f"the events are {', '.join(EVENTS)}", field="events")
        org = ctx.principal.organization
        async with self._gate.operation(ctx, Action.WEBHOOK_MANAGE, Target.webhooks(org)) as op:
            mine = (await op.session.execute(select(WebhookSubscription.id).where(
                WebhookSubscription.org == org, WebhookSubscription.active.is_(True)))).all()
            if len(mine) >= MAX_SUBSCRIPTIONS:
                raise InvalidInput(f"an organisation has at most {MAX_SUBSCRIPTIONS} subscriptions; end one first",
                                   field="url")
            secret = new_secret()
            sub = WebhookSubscription(id=str(uuid.uuid4()), org=org, url=where, secret=secret, events=wanted,
                                      active=True, created_by=ctx.principal.subject, created_at=self._clock())
            op.session.add(sub)
            await op.session.flush()
            op.log(None, detail=f"webhook subscription {sub.id} ({', '.join(wanted)})")
        return sub, secret

    async def end(self, ctx: RequestContext, *, subscription_id: str) -> WebhookSubscription:
        """End one of the caller's organisation's subscriptions (its log stays)."""
        hidden = RecordNotFound("no subscription of your organisation has this id", field="id")
        own = Target.webhooks(ctx.principal.organization)
        async with self._gate.operation(ctx, Action.WEBHOOK_MANAGE, own) as op:
            sub = await op.session.get(WebhookSubscription, subscription_id)
            if sub is None:
                raise op.not_found(hidden, "webhook-subscription")
            # another organisation's is not the caller's to end: it does not exist for them
            await op.require(Action.WEBHOOK_MANAGE, Target.webhooks(sub.org), hidden=hidden)
            sub.active = False  # and what it still had to send is not sent (claim takes active subscriptions' only)
            await op.session.execute(update(WebhookDelivery).where(
                WebhookDelivery.subscription_id == sub.id, WebhookDelivery.status == PENDING).values(
                status=FAILED, last_result="subscription-ended"))
            await op.session.flush()
            op.log(None, detail=f"webhook subscription {sub.id} ended")
        return sub

    async def list(self, ctx: RequestContext) -> list[tuple[WebhookSubscription, list[WebhookDelivery]]]:
        """The caller's organisation's subscriptions, each with its latest deliveries."""
        await self._gate.authorize(ctx, Action.WEBHOOK_MANAGE, [Target.webhooks(ctx.principal.organization)])
        async with self._gate.store_work(Action.WEBHOOK_MANAGE), self._sessions() as session:
            subs = list((await session.execute(select(WebhookSubscription).where(
                WebhookSubscription.org == ctx.principal.organization)
                .order_by(WebhookSubscription.created_at.desc()))).scalars())
            out = []
            for sub in subs:
                log = list((await session.execute(select(WebhookDelivery).where(
                    WebhookDelivery.subscription_id == sub.id).order_by(WebhookDelivery.created_at.desc())
                    .limit(LOG))).scalars())
                out.append((sub, log))
        return out

    def _check_url(self, url: str) -> str:
        text = url.strip()
        if len(text) > MAX_URL:
            raise InvalidInput(f"a URL is at most {MAX_URL} characters", field="url")
        parts = urlsplit(text)
        host = parts.hostname or ""
        try:
            _ = parts.port  # a port is a number from 1 to 65535
            host.encode("idna")
        except (ValueError, UnicodeError):
            raise InvalidInput("a webhook URL has a valid host name and port", field="url") from None
        if parts.port == 0:
            raise InvalidInput("a webhook URL has a valid host name and port", field="url")
        loopback = host in ("localhost", "127.0.0.1", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback and self._settings.allow_loopback_http
                                            and not self._production):
            raise InvalidInput("a webhook URL is https", field="url")
        if not host or parts.username or parts.password or parts.fragment:
            raise InvalidInput("a webhook URL names a host, with no credentials or fragment in it", field="url")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and not loopback and not public_address(address):
            raise InvalidInput("a webhook URL does not point into a private network", field="url")
        if loopback and parts.scheme == "https" and self._production:
            raise InvalidInput("a webhook URL does not point at this machine", field="url")
        return text
