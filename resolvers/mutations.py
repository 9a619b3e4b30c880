"""Mutations: consents and break-glass. Thin: the consent desk decides who may, and audits."""

from __future__ import annotations

import strawberry

from resolvers.consent_types import (
    BreakGlassGrant,
    Consent,
    ConsentProvisionInput,
    RecordConsentInput,
    consent_view,
    grant_view,
    provisions_from,
)
from resolvers.context import Info


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Record a client's consent from a signed form (caseworker, partner, or the client)."
    )
    async def record_consent(self, info: Info, input: RecordConsentInput) -> Consent:
        ctx = info.context
        consent = await ctx.consents.record(
            ctx.request, client_id=str(input.client_id), grantor=input.grantor,
            source_reference=input.source_reference, given_at=input.given_at,
            provisions=provisions_from(input.provisions))
        return consent_view(consent)

    @strawberry.mutation(description="Replace a consent's provisions; the previous version is kept.")
    async def amend_consent(
        self, info: Info, id: strawberry.ID, provisions: list[ConsentProvisionInput],
        source_reference: str | None = None,
    ) -> Consent:
        ctx = info.context
        return consent_view(await ctx.consents.amend(
            ctx.request, consent_id=str(id), provisions=provisions_from(provisions),
            source_reference=source_reference))

    @strawberry.mutation(description="Revoke a consent from the next request on. Nothing is deleted.")
    async def revoke_consent(self, info: Info, id: strawberry.ID, reason: str | None = None) -> Consent:
        ctx = info.context
        return consent_view(await ctx.consents.revoke(ctx.request, consent_id=str(id), reason=reason))

    @strawberry.mutation(description="Open time-limited emergency access to one client (caseworker, purpose "
                         "emergency, written justification). Flagged for auditor review.")
    async def start_break_glass(
        self, info: Info, client_id: strawberry.ID, justification: str, minutes: int = 60,
    ) -> BreakGlassGrant:
        ctx = info.context
        return grant_view(await ctx.consents.break_glass(
            ctx.request, client_id=str(client_id), justification=justification, minutes=minutes))
