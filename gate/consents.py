"""The consent desk: record, amend, revoke and read consents, and open break-glass grants.

Each change is written together with its access-log event in one transaction:
no audit record, no change. Who may do what is decided here, by role and
organisation; a refusal is a typed FORBIDDEN error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from audit.records import AuditRecorder, action_record
from core.errors import ClientNotFound, ConsentNotFound, InvalidInput, PermissionDenied, PurposeRequired
from core.principal import RequestContext
from core.vocabulary import Purpose, Role
from gate.gate import MAX_JUSTIFICATION, MIN_JUSTIFICATION
from identity.crosswalk import Crosswalk
from policies.consent_store import ConsentStore, GrantRecord, to_record
from policies.consents import ConsentRecord, Grantor, Provision, validate_provisions

STAFF = frozenset({Role.CASEWORKER, Role.PARTNER})
MAX_BREAK_GLASS_MINUTES = 240
CLOCK_SKEW = timedelta(minutes=5)


class ConsentDesk:
    """Consent changes and reads, each audited in the same transaction."""

    def __init__(
        self, *, sessions: async_sessionmaker[Any], store: ConsentStore, crosswalk: Crosswalk,
        recorder: AuditRecorder, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._store = store
        self._crosswalk = crosswalk
        self._recorder = recorder
        self._clock = clock

    async def record(
        self, ctx: RequestContext, *, client_id: str, grantor: Grantor, source_reference: str,
        given_at: datetime, provisions: Sequence[Provision],
    ) -> ConsentRecord:
        """Record a client's consent, given on a signed form."""
        p = ctx.principal
        is_self = p.has(Role.CLIENT) and p.self_client == client_id
        if not (p.roles & STAFF or is_self):
            raise PermissionDenied("your role may not record consent",
                                   suggestion="Consent is recorded by a caseworker, a partner, or the client.")
        if is_self and not p.roles & STAFF and grantor is not Grantor.CLIENT:
            raise InvalidInput("a client records their own consent as grantor CLIENT", field="grantor")
        now = self._clock()
        _check_reference(source_reference)
        if given_at.tzinfo is None or given_at > now + CLOCK_SKEW:
            raise InvalidInput("givenAt must be a time with a zone, not in the future", field="givenAt")
        validate_provisions(provisions)
        await self._require_client(client_id)
        async with self._sessions.begin() as session:
            consent = await self._store.add(
                session, client_id=client_id, grantor=grantor, source_reference=source_reference.strip(),
                given_at=given_at, provisions=provisions, subject=p.subject, org=p.organization, now=now)
            event = action_record(ctx, "consent.record", client_id, detail=consent.id)
            await self._recorder.record([event], session=session)
        return consent

    async def amend(
        self, ctx: RequestContext, *, consent_id: str, provisions: Sequence[Provision],
        source_reference: str | None,
    ) -> ConsentRecord:
        """Replace a consent's provisions; the previous version is kept."""
        validate_provisions(provisions)
        if source_reference is not None:
            _check_reference(source_reference)
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await self._store.get(session, consent_id, for_update=True)
            current = await self._visible(ctx, row)
            recorder_org = ctx.principal.organization == current.recorded_by_org and ctx.principal.roles & STAFF
            if not (recorder_org or self._is_self(ctx, current)):
                raise PermissionDenied("only the recording organisation or the client may amend a consent")
            if current.revoked_at is not None:
                raise InvalidInput("a revoked consent cannot be amended", field="id",
                                   suggestion="Record a new consent instead.")
            assert row is not None
            consent = await self._store.amend(session, row, provisions=provisions, source_reference=source_reference,
                                              subject=ctx.principal.subject, now=now)
            await self._recorder.record([action_record(ctx, "consent.amend", consent.client_id, detail=consent.id)],
                                        session=session)
        return consent

    async def revoke(self, ctx: RequestContext, *, consent_id: str, reason: str | None) -> ConsentRecord:
        """Revoke from now on (a timestamp; nothing is deleted)."""
        if reason is not None and len(reason) > 500:
            raise InvalidInput("the reason is at most 500 characters", field="reason")
        now = self._clock()
        async with self._sessions.begin() as session:
            row = await self._store.get(session, consent_id, for_update=True)
            current = await self._visible(ctx, row)
            if not (ctx.principal.roles & STAFF or self._is_self(ctx, current)):
                raise PermissionDenied("your role may not revoke consent")
            if current.revoked_at is not None:
                raise InvalidInput("this consent is already revoked", field="id")
            assert row is not None
            consent = await self._store.revoke(session, row, subject=ctx.principal.subject,
                                               org=ctx.principal.organization, reason=reason, now=now)
            await self._recorder.record([action_record(ctx, "consent.revoke", consent.client_id, detail=consent.id)],
                                        session=session)
        return consent

    async def list_for_client(self, ctx: RequestContext, client_id: str) -> list[ConsentRecord]:
        """The consents the caller may see: all of them for the client, those involving their org for staff."""
        p = ctx.principal
        is_self = p.has(Role.CLIENT) and p.self_client == client_id
        if not (p.roles & STAFF or is_self):
            raise PermissionDenied("your role may not read consents")
        await self._require_client(client_id)
        async with self._sessions.begin() as session:
            consents = await self._store.list_for_client(session, client_id)
            await self._recorder.record([action_record(ctx, "consent.read", client_id)], session=session)
        return [c for c in consents if is_self or c.involves(p.organization)]

    async def get(self, ctx: RequestContext, consent_id: str) -> ConsentRecord:
        """One consent the caller may see."""
        async with self._sessions.begin() as session:
            consent = await self._visible(ctx, await self._store.get(session, consent_id))
            await self._recorder.record([action_record(ctx, "consent.read", consent.client_id, detail=consent.id)],
                                        session=session)
        return consent

    async def break_glass(
        self, ctx: RequestContext, *, client_id: str, justification: str, minutes: int,
    ) -> GrantRecord:
        """Open time-limited emergency access to one client, flagged for auditor review."""
        p = ctx.principal
        if not p.has(Role.CASEWORKER):
            raise PermissionDenied("only caseworkers may break the glass")
        if ctx.purpose is not Purpose.EMERGENCY:
            raise PurposeRequired("break-glass access is for the emergency purpose of use only",
                                  suggestion="Send X-Purpose-Of-Use: emergency.")
        text = justification.strip()
        if not MIN_JUSTIFICATION <= len(text) <= MAX_JUSTIFICATION:
            raise InvalidInput(f"the justification must be {MIN_JUSTIFICATION} to {MAX_JUSTIFICATION} characters",
                               field="justification")
        if not 1 <= minutes <= MAX_BREAK_GLASS_MINUTES:
            raise InvalidInput(f"break-glass lasts 1 to {MAX_BREAK_GLASS_MINUTES} minutes", field="minutes")
        await self._require_client(client_id)
        now = self._clock()
        async with self._sessions.begin() as session:
            grant = await self._store.add_grant(session, client_id=client_id, subject=p.subject,
                                                org=p.organization, justification=text, now=now,
                                                expires_at=now + timedelta(minutes=minutes))
            event = action_record(ctx, "break-glass.start", client_id, detail=grant.id, legal_basis="break-glass",
                                  justification=text, break_glass=True)
            await self._recorder.record([event], session=session)
        return grant

    async def _require_client(self, client_id: str) -> None:
        if client_id not in await self._crosswalk.resolve([client_id]):
            raise ClientNotFound("no client has this id", client_id=client_id)

    async def _visible(self, ctx: RequestContext, row: Any) -> ConsentRecord:
        """The consent, if the caller may see it; otherwise CONSENT_NOT_FOUND (existence is not revealed)."""
        if row is None:
            raise ConsentNotFound("no consent with this id is visible to you")
        consent = to_record(row)
        p = ctx.principal
        if self._is_self(ctx, consent) or (p.roles & STAFF and consent.involves(p.organization)):
            return consent
        raise ConsentNotFound("no consent with this id is visible to you")

    @staticmethod
    def _is_self(ctx: RequestContext, consent: ConsentRecord) -> bool:
        return ctx.principal.has(Role.CLIENT) and ctx.principal.self_client == consent.client_id


def _check_reference(reference: str) -> None:
    if not reference.strip() or len(reference) > 200:
        raise InvalidInput("sourceReference names the signed form (1-200 characters)", field="sourceReference")
