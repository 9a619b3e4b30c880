"""GraphQL types of referrals (issue 21 §4): FHIR Task's statuses, who referred whom to what, what it shares."""

from __future__ import annotations

from datetime import datetime

import strawberry

from connectors import held_referrals as held
from resolvers.enums import Category, ReferralReason, ReferralStatus


@strawberry.type(description="One change of a referral's status.")
class ReferralStep:
    status: ReferralStatus
    reason: ReferralReason | None
    agency: str = strawberry.field(description="The organisation that made it (CASEBRIDGE: it expired).")
    at: datetime


@strawberry.type(description="The directory service a referral is to.")
class ReferredService:
    id: strawberry.ID
    name: str = strawberry.field(description="As the directory named it when the referral was made.")
    organization_name: str


@strawberry.type(description="A referral of a client to a directory service (held in casebridge, category casework): "
                 "its referrer's record, and the answering organisation's.")
class Referral:
    id: strawberry.ID
    client_id: strawberry.ID
    referred_by: str = strawberry.field(description="The referring organisation, or the client's own sign-in (an "
                                        "application).")
    answered_by: str | None = strawberry.field(description="The organisation that answers it through casebridge; "
                                               "null: none does (it expires unanswered).")
    service: ReferredService
    status: ReferralStatus
    reason: ReferralReason | None
    note: str | None = strawberry.field(description="What the referrer tells the service.")
    shares: list[Category] = strawberry.field(description="What its consent shares with the answering organisation.")
    consent_id: strawberry.ID | None
    share_until: datetime | None = strawberry.field(description="When what it shares stops being shared (sooner if "
                                                    "the referral ends or the consent is revoked).")
    created_at: datetime
    updated_at: datetime
    history: list[ReferralStep]


def referral_view(r: held.Referral) -> Referral:
    """The public face of one referral."""
    return Referral(
        id=strawberry.ID(r.id), client_id=strawberry.ID(r.client_id), referred_by=r.from_org, answered_by=r.to_org,
        service=ReferredService(id=strawberry.ID(r.service_id), name=r.service_name,
                                organization_name=r.organization_name),
        status=ReferralStatus(r.status), reason=ReferralReason(r.reason) if r.reason else None, note=r.note,
        shares=[Category(c) for c in r.categories], consent_id=strawberry.ID(r.consent_id) if r.consent_id else None,
        share_until=r.share_until, created_at=r.created_at, updated_at=r.updated_at,
        history=[ReferralStep(status=ReferralStatus(s.status), reason=ReferralReason(s.reason) if s.reason else None,
                              agency=s.by_org, at=s.at) for s in r.history])
