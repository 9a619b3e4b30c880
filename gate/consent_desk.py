"""The consent desk: record, amend, revoke and read consents, and open break-glass grants.

Each operation goes through the gate's operation path: the policies decide who
may do what (policies/operations.cedar: the client, or the organisation that
recorded a consent; never an organisation a consent refuses), and each change is
written together with its access-log event in one transaction: no audit record,
no change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from core.errors import ConsentNotFound, InvalidInput
from core.principal import RequestContext
from core.vocabulary import Action
from gate.gate import MAX_JUSTIFICATION, MIN_JUSTIFICATION, Gate
from gate.operations import Operation, Refused, refused_record
from policies.consent_store import ConsentStore, GrantRecord, to_record
from policies.consents import ConsentRecord, Grantor, Provision, validate_provisions
from policies.decisions import Target, Verdict

MAX_BREAK_GLASS_MINUTES = 240
CLOCK_SKEW = timedelta(minutes=5)


class ConsentDesk:
    """Consent changes and reads, each decided by the policies and audited in its own transaction."""

    def __init__(
        self, *, gate: Gate, store: ConsentStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._gate = gate
        self._store = store
        self._clock = clock

    async def record(
        self, ctx: RequestContext, *, client_id: str, grantor: Grantor, source_reference: str,
        given_at: datetime, provisions: Sequence[Provision],
    ) -> ConsentRecord:
        """Record a client's consent, given on a signed form."""
        now = self._clock()
        check_reference(source_reference)
        if given_at.tzinfo is None or given_at > now + CLOCK_SKEW:
            raise InvalidInput("givenAt must be a time with a zone, not in the future", field="givenAt")
        validate_provisions(provisions)
        target = Target.client(client_id, grantor=grantor.value)
        async with self._gate.operation(ctx, Action.CONSENT_RECORD, target) as op:
            await self._gate.require_client(client_id)
            consent = await self._store.add(
                op.session, client_id=client_id, grantor=grantor, source_reference=source_reference.strip(),
                given_at=given_at, provisions=provisions, subject=ctx.principal.subject,
                org=ctx.principal.organization, now=now)
            op.log(client_id, detail=consent.id)
        return consent

    async def amend(
        self, ctx: RequestContext, *, consent_id: str, provisions: Sequence[Provision],
        source_reference: str | None,
    ) -> ConsentRecord:
        """Replace a consent's provisions; the previous version is kept."""
        validate_provisions(provisions)
        if source_reference is not None:
            check_reference(source_reference)
        now = self._clock()
        async with self._gate.operation(ctx, Action.CONSENT_AMEND) as op:
            row, current = await self._visible(op, consent_id, for_update=True)
            await op.require(Action.CONSENT_AMEND, Target.of_consent(current))
            if current.revoked_at is not None:
                raise InvalidInput("a revoked consent cannot be amended", field="id",
                                   suggestion="Record a new consent instead.")
            consent = await self._store.amend(op.session, row, provisions=provisions,
                                              source_reference=source_reference, subject=ctx.principal.subject,
                                              now=now)
            op.log(consent.client_id, detail=consent.id)
        return consent

    async def revoke(self, ctx: RequestContext, *, consent_id: str, reason: str | None) -> ConsentRecord:
        """Revoke from now on (a timestamp; nothing is deleted)."""
        if reason is not None and len(reason) > 500:
            raise InvalidInput("the reason is at most 500 characters", field="reason")
        now = self._clock()
        async with self._gate.operation(ctx, Action.CONSENT_REVOKE) as op:
            row, current = await self._visible(op, consent_id, for_update=True)
            await op.require(Action.CONSENT_REVOKE, Target.of_consent(current))
            if current.revoked_at is not None:
                raise InvalidInput("this consent is already revoked", field="id")
            consent = await self._store.revoke(op.session, row, subject=ctx.principal.subject,
                                               org=ctx.principal.organization, reason=reason, now=now)
            op.log(consent.client_id, detail=consent.id)
        return consent

    async def list_for_client(self, ctx: RequestContext, client_id: str) -> list[ConsentRecord]:
        """The client's consents the policies let the caller see (each decided on its own)."""
        async with self._gate.operation(ctx, Action.CONSENT_READ, Target.client(client_id)) as op:
            await self._gate.require_client(client_id)
            consents = await self._store.list_for_client(op.session, client_id)
            verdicts = await self._gate.authorize_each(ctx, Action.CONSENT_READ,
                                                       [Target.of_consent(c) for c in consents])
            shown = [c for c, v in zip(consents, verdicts, strict=True) if v.permit]
            op.log(client_id, result="disclosed", detail=_ids(shown))
        return shown

    async def get(self, ctx: RequestContext, consent_id: str) -> ConsentRecord:
        """One consent the caller may see."""
        async with self._gate.operation(ctx, Action.CONSENT_READ) as op:
            _, consent = await self._visible(op, consent_id)
            op.log(consent.client_id, result="disclosed", detail=consent.id)
        return consent

    async def break_glass(
        self, ctx: RequestContext, *, client_id: str, justification: str, minutes: int,
    ) -> GrantRecord:
        """Open time-limited emergency access to one client, flagged for auditor review."""
        text = justification.strip()
        if not MIN_JUSTIFICATION <= len(text) <= MAX_JUSTIFICATION:
            raise InvalidInput(f"the justification must be {MIN_JUSTIFICATION} to {MAX_JUSTIFICATION} characters",
                               field="justification")
        if not 1 <= minutes <= MAX_BREAK_GLASS_MINUTES:
            raise InvalidInput(f"break-glass lasts 1 to {MAX_BREAK_GLASS_MINUTES} minutes", field="minutes")
        now = self._clock()
        p = ctx.principal
        async with self._gate.operation(ctx, Action.BREAK_GLASS, Target.client(client_id)) as op:
            await self._gate.require_client(client_id)
            grant = await self._store.add_grant(op.session, client_id=client_id, subject=p.subject,
                                                org=p.organization, justification=text, now=now,
                                                expires_at=now + timedelta(minutes=minutes))
            op.log(client_id, detail=grant.id, legal_basis="break-glass", justification=text, break_glass=True)
        return grant

    async def _visible(self, op: Operation, consent_id: str, *, for_update: bool = False
                       ) -> tuple[Any, ConsentRecord]:
        """The consent, if the policies let the caller see it; otherwise CONSENT_NOT_FOUND (its existence is not
        revealed; the refusal is logged)."""
        row = await self._store.get(op.session, consent_id, for_update=for_update)
        hidden = ConsentNotFound("no consent with this id is visible to you")
        if row is None:  # refused and logged like a consent the caller may not see: the same answer, the same work
            raise Refused(hidden, refused_record(op.ctx, op.action, Target("Consent"),
                                                 Verdict(False, ("no-such-consent",))))
        consent = to_record(row)
        await op.require(Action.CONSENT_READ, Target.of_consent(consent), hidden=hidden)
        return row, consent


def _ids(consents: Sequence[ConsentRecord]) -> str | None:
    return ("consents " + ",".join(c.id for c in consents))[:500] if consents else None


def check_reference(reference: str) -> None:
    if not reference.strip() or len(reference) > 200:
        raise InvalidInput("sourceReference names the signed form (1-200 characters)", field="sourceReference")
