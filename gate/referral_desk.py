"""The referral desk: closed-loop referrals to directory services (issue 21 §4), through the gate.

A caseworker refers a client they work with to a service in the directory, or the client applies themselves;
what the service's organisation may then see of the client goes with a consent made with the referral (named
categories, an expiry, for that organisation only), recorded in the same operation. The organisation answers
through the API with its own token, on its own side of the referral (FHIR Task's statuses: received, accepted or
rejected, in progress, on hold, completed or failed); the referrer or the client may cancel it; nobody answering
in time expires it. When a referral ends, its consent ends too. The client is told of each change (a message with
a link, never the service or the reason). Each step is one operation with its access-log event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.access_records import AccessRecord, action_record
from connectors import webhooks
from connectors.held_plans import complete_tasks_of_referral
from connectors.held_referrals import (
    FINAL,
    Referral,
    Referrals,
    ReferralStatus,
    add_referral,
    check_answer,
    check_withdrawal,
    move,
    referral_row,
    unanswered_before,
)
from core.errors import InvalidInput, RecordNotFound
from core.principal import CLIENT_HOLDER, RequestContext
from core.principal import REFERRAL_EXPIRY as EXPIRY
from core.vocabulary import Action, Category, Purpose
from gate.consent_desk import check_reference
from gate.gate import Gate
from gate.operations import refused_record
from policies.consent_store import ConsentStore
from policies.consents import Grantor, Provision
from policies.decisions import Resource, Target
from store.directory_tables import DirectoryOrganization, DirectoryService
from store.held_tables import Referral as ReferralRow

# what a referral may share with the service's organisation (its own side of the referral it sees as its own)
SHAREABLE = (Category.IDENTITY, Category.CONTACT, Category.DOCUMENTS, Category.APPOINTMENTS, Category.BENEFITS,
             Category.HOUSING, Category.SCHOOLING, Category.IMMIGRATION_LEGAL)
MAX_NOTE = 1000
INBOX = 100


class ReferralSettings(BaseModel):
    """Which organisation answers for which directory organisation, and how long things wait."""

    # the HSDS organization id -> the organisation code its staff's tokens carry (e.g. {"<uuid>": "LEGALAID"}):
    # referrals to its services reach it through the API; others are recorded, and expire unanswered
    receivers: dict[str, str] = {}
    answer_days: int = Field(default=14, ge=1, le=365)  # unanswered (requested, received) this long: expired
    share_days: int = Field(default=90, ge=1, le=366)  # how long a referral's consent lasts, unless asked


class Notices(Protocol):
    """Tells the client a referral changed (notify/notices.py), in the operation's transaction."""

    async def referral_notice(self, session: AsyncSession, *, client_id: str, holder: str, referral_id: str,
                              now: datetime) -> None:
        ...


class ReferralDesk:
    """Referrals made, answered, withdrawn and expired, through the gate."""

    def __init__(self, *, gate: Gate, source: Referrals, sessions: async_sessionmaker[Any], consents: ConsentStore,
                 settings: ReferralSettings, notices: Notices | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._source = source
        self._sessions = sessions
        self._consents = consents
        self._settings = settings
        self._notices = notices
        self._clock = clock

    async def refer(self, ctx: RequestContext, *, client_id: str, service_id: str, share: Sequence[Category],
                    share_days: int | None, source_reference: str | None, note: str | None) -> Referral:
        """Refer a client to a directory service (or apply, for oneself), sharing `share` with the service's
        organisation for `share_days` by a consent made with it (on the signed form `source_reference`; the
        client's own sign-in when they apply themselves)."""
        now = self._clock()
        shared = tuple(dict.fromkeys(share))
        if any(c not in SHAREABLE for c in shared):
            raise InvalidInput(f"a referral shares some of {', '.join(SHAREABLE)}", field="share")
        days = share_days or self._settings.share_days
        if not 1 <= days <= 366:
            raise InvalidInput("a referral shares for 1 to 366 days", field="shareDays")
        text = (note or "").strip() or None
        if text is not None and len(text) > MAX_NOTE:
            raise InvalidInput(f"a note is at most {MAX_NOTE} characters", field="note")
        own = ctx.principal.self_client == client_id  # the client applying for themself
        reference = (source_reference or "").strip() or ("the client's own sign-in" if own else "")
        if shared and not reference:
            raise InvalidInput("what a referral shares needs the client's consent: the signed form's reference",
                               field="sourceReference")
        if shared:
            check_reference(reference)  # as any consent's: it is one
        # the client's own application is held in their own holding, never for the organisation their sign-in
        # names (as a client's own upload is: gate/document_desk.py); the policies decide whether it may be made
        org = CLIENT_HOLDER if own else ctx.principal.organization
        await self._gate.authorize_for_client(ctx, Action.REFERRAL_CREATE, client_id, held=(Category.CASEWORK, org))
        await self._gate.require_client(client_id)
        async with self._gate.operation(ctx, Action.REFERRAL_CREATE) as op:
            found = (await op.session.execute(
                select(DirectoryService, DirectoryOrganization).join(
                    DirectoryOrganization, DirectoryOrganization.id == DirectoryService.organization_id)
                .where(DirectoryService.id == service_id, DirectoryService.status == "active"))).first()
            if found is None:
                raise InvalidInput("no active service in the directory has this id", field="serviceId")
            service, organization = found
            to_org = self._settings.receivers.get(organization.id)
            if shared and to_org is None:
                raise InvalidInput("this service's organisation does not answer through casebridge: nothing can "
                                   "be shared with it", field="share")
            consent_id = None
            if shared and to_org is not None:
                await op.require(Action.CONSENT_RECORD, Target.client(client_id, grantor=Grantor.CLIENT.value))
                consent = await self._consents.add(
                    op.session, client_id=client_id, grantor=Grantor.CLIENT, source_reference=reference,
                    given_at=now, provisions=[Provision("permit", (to_org,), shared, (
                        Purpose.CASE_MANAGEMENT, Purpose.CARE_COORDINATION), period_start=now,
                        period_end=now + timedelta(days=days))], subject=ctx.principal.subject, org=org, now=now)
                consent_id = consent.id
                op.records.append(action_record(ctx, Action.CONSENT_RECORD, client_id, detail=consent.id,
                                                result="performed"))
            made = await add_referral(
                op.session, client_id=client_id, from_org=org, to_org=to_org, service_id=service.id,
                service_name=service.name, organization_name=organization.name, note=text,
                categories=[c.value for c in shared], consent_id=consent_id,
                share_until=now + timedelta(days=days) if consent_id else None, by=ctx.principal.subject, now=now)
            await webhooks.enqueue(op.session, orgs=[org, *([to_org] if to_org else [])], event="referral.changed",
                                   payload=_payload(made.id, made.status, now), now=now)
            op.log(client_id, detail=f"referral {made.id} ({made.status})")  # never to what: a need shows in it
        return made

    async def respond(self, ctx: RequestContext, *, referral_id: str, status: ReferralStatus,
                      reason: str | None) -> Referral:
        """The receiving organisation's answer: received, accepted, rejected (why), in progress, on hold,
        completed or failed (why), as the referral's status allows."""
        hidden = RecordNotFound("no referral with this id is visible to you", field="id")
        now = self._clock()
        async with self._gate.operation(ctx, Action.REFERRAL_RESPOND) as op:
            row = await referral_row(op.session, referral_id, for_update=True)
            if row is None or row.to_org is None:
                raise op.not_found(hidden, "referral")
            await self._see(op, row, row.to_org, hidden)
            await op.require(Action.REFERRAL_RESPOND, Target.section(row.client_id, Category.CASEWORK, row.to_org),
                             hidden=hidden)
            check_answer(row.status, status, reason)
            done = await self._move(op.session, row, status, reason, ctx, now, op.records)
            op.log(row.client_id, detail=f"referral {row.id} ({status})")
        return done


    async def withdraw(self, ctx: RequestContext, *, referral_id: str, reason: str | None) -> Referral:
        """Cancel a referral: its referrer's staff, or the client it is for."""
        hidden = RecordNotFound("no referral with this id is visible to you", field="id")
        now = self._clock()
        async with self._gate.operation(ctx, Action.REFERRAL_WITHDRAW) as op:
            row = await referral_row(op.session, referral_id, for_update=True)
            if row is None:
                raise op.not_found(hidden, "referral")
            await self._see(op, row, row.from_org, hidden)
            sees = row.client_id in await self._gate.visible_identity(ctx, [row.client_id])
            await op.require(Action.REFERRAL_WITHDRAW, Target.section(row.client_id, Category.CASEWORK, row.from_org,
                                                                      sees_identity=sees), hidden=hidden)
            check_withdrawal(row.status, reason)
            done = await self._move(op.session, row, ReferralStatus.CANCELLED, reason, ctx, now, op.records)
            op.log(row.client_id, detail=f"referral {row.id} ({ReferralStatus.CANCELLED})")
        return done

    async def inbox(self, ctx: RequestContext, *, include_closed: bool) -> list[Referral]:
        """The referrals made to the caller's organisation, newest change first (open ones only unless asked):
        the partner's list to answer. Logged per client shown."""
        org = ctx.principal.organization
        async with self._gate.operation(ctx, Action.REFERRAL_RESPOND, Target.worklist(Category.CASEWORK, org)) as op:
            stmt = select(ReferralRow).where(ReferralRow.to_org == org)
            if not include_closed:
                stmt = stmt.where(ReferralRow.status.not_in([s.value for s in FINAL]))
            rows = list((await op.session.execute(stmt.order_by(ReferralRow.updated_at.desc(), ReferralRow.id)
                                                  .limit(INBOX))).scalars())
            seen = await self._gate.decide(ctx, [Resource(r.client_id, Category.CASEWORK, org, self._source.name,
                                                          held_here=True) for r in rows])
            rows = [r for r, d in zip(rows, seen, strict=True) if d.permit]
            found = await self._source.fetch([(r.client_id, Category.CASEWORK, org, True) for r in rows])
            items = {x.id: x for group in found.values() for x in group}
            for client_id in sorted({r.client_id for r in rows}):
                op.log(client_id, detail=f"referral inbox: {sum(r.client_id == client_id for r in rows)}")
            if not rows:
                op.log(None, detail="referral inbox: none")
        return [items[r.id] for r in rows if r.id in items]

    async def expire_unanswered(self) -> int:
        """Expire the referrals nobody answered within `answer_days` (their consents end too); how many."""
        now = self._clock()
        ctx = RequestContext(EXPIRY, f"expire-{uuid.uuid4().hex[:16]}", None, "expireReferrals")
        async with self._gate.store_work(Action.REFERRAL_RESPOND), self._sessions.begin() as session:
            due = await unanswered_before(session, now - timedelta(days=self._settings.answer_days))
            # each expiry is the scheduler's answer on the receiving side, as the policies allow it
            targets = [Target.section(row.client_id, Category.CASEWORK, row.to_org or row.from_org) for row in due]
            verdicts = await self._gate.authorize_each(ctx, Action.REFERRAL_RESPOND, targets) if due else []
            rows = [row for row, v in zip(due, verdicts, strict=True) if v.permit]
            records = [refused_record(ctx, Action.REFERRAL_RESPOND, t, v)
                       for t, v in zip(targets, verdicts, strict=True) if not v.permit]
            records += [action_record(ctx, Action.REFERRAL_RESPOND, row.client_id, result="performed",
                                      detail=f"referral {row.id} ({ReferralStatus.EXPIRED})") for row in rows]
            for row in rows:
                await self._move(session, row, ReferralStatus.EXPIRED, None, ctx, now, records)
            await self._gate.record(records, session=session)
        return len(rows)

    async def _see(self, op: Any, row: ReferralRow, side: str, hidden: RecordNotFound) -> None:
        """The caller may see this side of the referral (else it does not exist for them)."""
        (seen,) = await self._gate.decide(op.ctx, [Resource(row.client_id, Category.CASEWORK, side, self._source.name,
                                                            held_here=True)])
        op.require_seen(seen, row.client_id, hidden)

    async def _move(self, session: AsyncSession, row: ReferralRow, status: ReferralStatus, reason: str | None,
                    ctx: RequestContext, now: datetime, records: list[AccessRecord]) -> Referral:
        """Record a change (its webhook calls, a plan's task it completes, the client's notice); a referral that
        ends revokes its consent, with that consent.revoke in `records` (the operation's access-log events)."""
        who = ctx.principal
        done = await move(session, row, status, reason=reason, by_org=who.organization, by=who.subject, now=now)
        await webhooks.enqueue(session, orgs=[row.from_org, *([row.to_org] if row.to_org else [])],
                               event="referral.changed", payload=_payload(row.id, status.value, now), now=now)
        if status is ReferralStatus.COMPLETED:  # a plan's task it is: done, and its goal settles
            await complete_tasks_of_referral(session, row.id, now=now)
        if status in FINAL and row.consent_id:  # what it shared ends with it
            consent = await self._consents.get(session, row.consent_id, for_update=True)
            if consent is not None and consent.revoked_at is None:
                await self._consents.revoke(session, consent, subject=who.subject, org=who.organization,
                                            reason=f"referral {status.lower()}", now=now)
                records.append(action_record(ctx, Action.CONSENT_REVOKE, row.client_id, detail=consent.id,
                                             result="performed"))
        if self._notices is not None and who.self_client != row.client_id:  # not for what the client did
            await self._notices.referral_notice(session, client_id=row.client_id, holder=row.from_org,
                                                referral_id=row.id, now=now)
        return done


def _payload(referral_id: str, status: str, at: datetime) -> dict[str, Any]:
    """What a webhook call says of a referral's change: ids, its status, when - the rest through the API."""
    return {"referralId": referral_id, "status": status, "at": at.isoformat()}
