"""GraphQL types and inputs for consents and break-glass grants."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry
from strawberry.scalars import JSON

from core.vocabulary import LegalBasis as _LegalBasis
from core.vocabulary import Purpose as _Purpose
from policies.consent_store import GrantRecord
from policies.consents import ConsentRecord, Provision
from policies.consents import ConsentStatus as _ConsentStatus
from policies.consents import Grantor as _Grantor
from policies.fhir import consent_resource
from resolvers.enums import Category

strawberry.enum(_Purpose, description="Why data is asked for.")  # registers the domain's class (types.py)
strawberry.enum(_ConsentStatus, description="FHIR R4 Consent.status.")
strawberry.enum(_Grantor, description="Who gave the consent.")
strawberry.enum(_LegalBasis, description="A legal basis for access without consent.")
Purpose = _Purpose
ConsentStatus = _ConsentStatus
Grantor = _Grantor
LegalBasis = _LegalBasis


@strawberry.enum(description="Whether a provision permits or denies.")
class ProvisionType(Enum):
    PERMIT = "permit"
    DENY = "deny"


@strawberry.type(description="One rule of a consent: who may read which categories, for which purposes, when.")
class ConsentProvision:
    type: ProvisionType
    organizations: list[str]
    categories: list[Category]
    purposes: list[Purpose]
    period_start: datetime | None
    period_end: datetime | None
    data_period_start: date | None = strawberry.field(description="Only records dated on or after this day.")
    data_period_end: date | None = strawberry.field(description="Only records dated on or before this day.")
    holders: list[str] = strawberry.field(description="The organisations holding the data it covers (FHIR actor "
                                          "role custodian); empty: wherever the data is held.")


@strawberry.type(description="A client's consent, shaped like FHIR R4 Consent.")
class Consent:
    id: strawberry.ID
    client_id: strawberry.ID
    status: ConsentStatus
    grantor: Grantor
    source_reference: str = strawberry.field(description="The signed form this consent was recorded from.")
    given_at: datetime
    recorded_by_organization: str
    recorded_at: datetime
    version: int
    provisions: list[ConsentProvision]
    revoked_at: datetime | None
    revocation_reason: str | None
    record: strawberry.Private[ConsentRecord]

    @strawberry.field(description="This consent as a FHIR R4 Consent resource.")
    def fhir(self) -> JSON:
        return JSON(consent_resource(self.record))


@strawberry.type(description="Time-limited emergency access to one client, flagged for auditor review.")
class BreakGlassGrant:
    id: strawberry.ID
    client_id: strawberry.ID
    started_at: datetime
    expires_at: datetime


@strawberry.input(description="One provision of a consent.")
class ConsentProvisionInput:
    type: ProvisionType = ProvisionType.PERMIT
    organizations: list[str]
    categories: list[Category]
    purposes: list[Purpose] = strawberry.field(default_factory=list)
    period_start: datetime | None = None
    period_end: datetime | None = None
    data_period_start: date | None = strawberry.field(
        default=None, description="Limit a permit to records dated on or after this day (FHIR dataPeriod).")
    data_period_end: date | None = strawberry.field(
        default=None, description="Limit a permit to records dated on or before this day.")
    holders: list[str] = strawberry.field(
        default_factory=list, description="Only the data these organisations hold (e.g. the school records DOE "
        "holds); empty: the categories wherever they are held.")


@strawberry.input(description="A consent as the client signed it.")
class RecordConsentInput:
    client_id: strawberry.ID
    grantor: Grantor = _Grantor.CLIENT
    source_reference: str = strawberry.field(description="The signed form, e.g. a document-management id.")
    given_at: datetime
    provisions: list[ConsentProvisionInput]


@strawberry.input(description="Access without consent: the basis, and why it is necessary now.")
class LegalBasisInput:
    basis: LegalBasis
    justification: str


def consent_view(c: ConsentRecord) -> Consent:
    """The GraphQL face of a consent."""
    return Consent(
        id=strawberry.ID(c.id), client_id=strawberry.ID(c.client_id), status=c.status, grantor=c.grantor,
        source_reference=c.source_reference, given_at=c.given_at, recorded_by_organization=c.recorded_by_org,
        recorded_at=c.recorded_at, version=c.version, revoked_at=c.revoked_at,
        revocation_reason=c.revocation_reason, record=c,
        provisions=[ConsentProvision(type=ProvisionType(p.type), organizations=list(p.organizations),
                                     categories=list(p.categories), purposes=list(p.purposes),
                                     period_start=p.period_start, period_end=p.period_end,
                                     data_period_start=p.data_period_start, data_period_end=p.data_period_end,
                                     holders=list(p.holders))
                    for p in c.provisions],
    )


def grant_view(g: GrantRecord) -> BreakGlassGrant:
    """The GraphQL face of a break-glass grant."""
    return BreakGlassGrant(id=strawberry.ID(g.id), client_id=strawberry.ID(g.client_id),
                           started_at=g.started_at, expires_at=g.expires_at)


def provisions_from(inputs: list[ConsentProvisionInput]) -> list[Provision]:
    """Domain provisions from GraphQL input (validated by the consent desk)."""
    return [
        Provision(
            type=i.type.value, organizations=tuple(o.strip() for o in i.organizations),
            categories=tuple(i.categories), purposes=tuple(i.purposes),
            period_start=i.period_start, period_end=i.period_end,
            data_period_start=i.data_period_start, data_period_end=i.data_period_end,
            holders=tuple(h.strip() for h in i.holders),
        )
        for i in inputs
    ]
