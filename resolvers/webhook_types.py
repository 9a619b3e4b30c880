"""GraphQL types of webhook subscriptions and their delivery log (connectors/webhooks.py)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from store.held_tables import WebhookDelivery as DeliveryRow
from store.held_tables import WebhookSubscription as SubscriptionRow


@strawberry.type(description="One call made (or to make) to a subscriber: what became of it.")
class WebhookDelivery:
    id: strawberry.ID
    event: str
    status: str = strawberry.field(description="pending (to try, or to try again), delivered (answered 2xx) or "
                                   "failed (given up).")
    attempts: int
    last_result: str | None = strawberry.field(description="What the last try got: http-<status>, timeout, ...")
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None


@strawberry.type(description="Your organisation's subscription to its referrals' changes: each change is a signed "
                 "POST to its URL (header Casebridge-Signature: t=<unix seconds>,v1=<HMAC-SHA256 of \"<t>.<body>\" "
                 "with the secret>; Casebridge-Delivery: the delivery's id, the same on every retry).")
class WebhookSubscription:
    id: strawberry.ID
    url: str
    events: list[str]
    active: bool
    created_at: datetime
    deliveries: list[WebhookDelivery] = strawberry.field(description="The latest calls, newest first.")


@strawberry.type(description="A new subscription and its signing secret, shown this once: keep it.")
class WebhookSubscribed:
    subscription: WebhookSubscription
    secret: str


def subscription_view(sub: SubscriptionRow, log: list[DeliveryRow]) -> WebhookSubscription:
    return WebhookSubscription(
        id=strawberry.ID(sub.id), url=sub.url, events=list(sub.events), active=bool(sub.active),
        created_at=sub.created_at,
        deliveries=[WebhookDelivery(id=strawberry.ID(d.id), event=d.event, status=d.status, attempts=d.attempts,
                                    last_result=d.last_result, created_at=d.created_at,
                                    next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                                    delivered_at=d.delivered_at) for d in log])
