"""Mutations. Thin: the desk behind each decides who may (through the gate), and audits."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from gate.appointment_desk import AppointmentChange, AppointmentMode, AppointmentType, AtStake
from resolvers import ids
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
from resolvers.document_types import DocumentRequest, ReviewDecision, request_view
from resolvers.enums import (
    Barrier,
    Category,
    GoalStatus,
    Milestone,
    ProgressChange,
    ReferralReason,
    ReferralStatus,
    RejectReason,
    TaskOwner,
    TaskStatus,
)
from resolvers.identity_types import (
    IdentityDecision,
    IdentityDecisionResult,
    SourceRecordInput,
    decision_view,
    parse_id,
)
from resolvers.legal_types import LegalMilestone, milestone_view
from resolvers.plan_types import PlanMemberGoalInput, ServicePlan, plan_view
from resolvers.referral_types import Referral, referral_view
from resolvers.types import (
    Appointment,
    CaseNote,
    ContactChannel,
    ContactPoint,
    ContactPreferences,
    appointment_view,
    contact_point_view,
    contact_preferences_view,
    note_view,
)
from resolvers.webhook_types import WebhookSubscribed, WebhookSubscription, subscription_view


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Record a client's consent from a signed form (caseworker, partner, or the client)."
    )
    async def record_consent(self, info: Info, input: RecordConsentInput) -> Consent:
        ctx = info.context
        consent = await ctx.consents.record(
            ctx.request, client_id=ids.client_id(input.client_id), grantor=input.grantor,
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
            ctx.request, consent_id=ids.consent_id(id), provisions=provisions_from(provisions),
            source_reference=source_reference))

    @strawberry.mutation(description="Revoke a consent from the next request on. Nothing is deleted.")
    async def revoke_consent(self, info: Info, id: strawberry.ID, reason: str | None = None) -> Consent:
        ctx = info.context
        return consent_view(await ctx.consents.revoke(ctx.request, consent_id=ids.consent_id(id), reason=reason))

    @strawberry.mutation(description="Open time-limited emergency access to one client (caseworker, purpose "
                         "emergency, written justification). Flagged for auditor review.")
    async def start_break_glass(
        self, info: Info, client_id: strawberry.ID, justification: str, minutes: int = 60,
    ) -> BreakGlassGrant:
        ctx = info.context
        return grant_view(await ctx.consents.break_glass(
            ctx.request, client_id=ids.client_id(client_id), justification=justification, minutes=minutes))

    @strawberry.mutation(description="Write a case note about a client for your organisation (caseworker or partner, "
                         "a care purpose, a client whose identity you may see). Your organisation holds it; "
                         "another organisation reads it only with the client's consent naming casework, the client "
                         "only if you share it. Audited.")
    async def add_case_note(
        self, info: Info, client_id: strawberry.ID, text: str, shared_with_client: bool = False,
    ) -> CaseNote:
        ctx = info.context
        return note_view(await ctx.notes.add(ctx.request, client_id=ids.client_id(client_id), text=text,
                                             shared_with_client=shared_with_client))

    @strawberry.mutation(description="Record a phone number (for text messages) or an email address of a client's, "
                         "with whether they agreed to be contacted there; an opt-in names where it came from (the "
                         "signed form, or the client's own sign-in). Staff for a client whose identity they may "
                         "see, or the client; held for the caller's organisation; audited (never the number).")
    async def add_contact_point(
        self, info: Info, client_id: strawberry.ID, channel: ContactChannel, address: str, opted_in: bool,
        source_reference: str | None = None,
    ) -> ContactPoint:
        ctx = info.context
        return contact_point_view(await ctx.contact.add_point(
            ctx.request, client_id=ids.client_id(client_id), channel=channel.value, address=address,
            opted_in=opted_in, source_reference=source_reference))

    @strawberry.mutation(description="Give or withdraw the client's agreement to be contacted at one contact point "
                         "(a withdrawal needs no source; an opt-in names one). Audited.")
    async def set_contact_opt_in(
        self, info: Info, id: strawberry.ID, opted_in: bool, source_reference: str | None = None,
    ) -> ContactPoint:
        ctx = info.context
        return contact_point_view(await ctx.contact.set_opt_in(
            ctx.request, point_id=ids.uuid_id(id, "id", what="contact point"), opted_in=opted_in,
            source_reference=source_reference))

    @strawberry.mutation(description="Record how the client prefers to be reached: a channel (or none), the "
                         "language of messages, and quiet hours (both or neither). Replaces what was recorded "
                         "before. Audited.")
    async def set_contact_preferences(
        self, info: Info, client_id: strawberry.ID, language: str, preferred_channel: ContactChannel | None = None,
        quiet_hours_from: str | None = None, quiet_hours_until: str | None = None,
    ) -> ContactPreferences:
        ctx = info.context
        return contact_preferences_view(await ctx.contact.set_preference(
            ctx.request, client_id=ids.client_id(client_id),
            preferred_channel=preferred_channel.value if preferred_channel else None, language=language,
            quiet_from=quiet_hours_from, quiet_until=quiet_hours_until))

    @strawberry.mutation(description="Schedule an appointment with a client (a housing interview, a legal "
                         "consultation, an intake): caseworker or partner, a care purpose, a client whose identity you "
                         "may see. Held for your organisation; shown beside the agencies' appointments to whoever "
                         "may see your organisation's appointments, and always to the client. Audited.")
    async def schedule_appointment(
        self, info: Info, client_id: strawberry.ID, type: AppointmentType, scheduled_at: datetime,
        mode: AppointmentMode, location: str | None = None, duration_minutes: int | None = None,
        at_stake: AtStake | None = None,
    ) -> Appointment:
        ctx = info.context
        held = await ctx.appointments.schedule(
            ctx.request, client_id=ids.client_id(client_id), type=type.value, scheduled_at=scheduled_at,
            mode=mode.value, location=location, duration_minutes=duration_minutes,
            at_stake=at_stake.value if at_stake else None)
        return appointment_view(held.appointment)

    @strawberry.mutation(description="Reschedule an appointment your organisation scheduled here (with its new time, "
                         "and mode or place if they change), or mark it completed, missed or cancelled. A completed, "
                         "missed or cancelled appointment stays so. Audited.")
    async def update_appointment(
        self, info: Info, id: strawberry.ID, status: AppointmentChange, scheduled_at: datetime | None = None,
        mode: AppointmentMode | None = None, location: str | None = None,
    ) -> Appointment:
        ctx = info.context
        held = await ctx.appointments.update(
            ctx.request, appointment_id=ids.uuid_id(id, "id", what="appointment"), status=status.value,
            scheduled_at=scheduled_at, mode=mode.value if mode else None, location=location)
        return appointment_view(held.appointment)

    @strawberry.mutation(description="Ask the client for a document by a date (default: the city's request days "
                         "ahead): your organisation's record of it, held here and shared with the client, who is sent "
                         "a message (a date and a link only) where they opted in. Caseworker or partner, a care "
                         "purpose, a client whose identity you may see. Audited.")
    async def request_document(self, info: Info, client_id: strawberry.ID, document: str,
                               due_on: date | None = None) -> DocumentRequest:
        ctx = info.context
        record = await ctx.documents.request(ctx.request, client_id=ids.client_id(client_id), document=document,
                                             due_on=due_on)
        return request_view(record, ctx.checklists.documents.get(record.document))

    @strawberry.mutation(description="Accept a file sent for a client's document (your organisation's record of it "
                         "is ACCEPTED from today, valid as long as the document kind says from `issuedOn` - the "
                         "document's own date, from 20 years ago to today - where given, else from today), or reject "
                         "it with a reason and a date to send another by (the client is told). A file you may see; "
                         "your organisation's record only. Audited.")
    async def review_document(self, info: Info, file_id: strawberry.ID, decision: ReviewDecision,
                              reason: RejectReason | None = None, due_on: date | None = None,
                              issued_on: date | None = None) -> DocumentRequest:
        ctx = info.context
        record = await ctx.documents.review(
            ctx.request, file_id=ids.uuid_id(file_id, "fileId", what="document file"),
            accept=decision is ReviewDecision.ACCEPT, reason=reason.value if reason else None, due_on=due_on,
            issued_on=issued_on)
        return request_view(record, ctx.checklists.documents.get(record.document))

    @strawberry.mutation(description="Refer a client to a service in the directory, or apply for oneself (a client): "
                         "held for your organisation (or the client). What `share` names goes to the service's "
                         "organisation by a consent made with the referral, for `shareDays` (default the city's), on "
                         "the signed form `sourceReference` (the client's own sign-in when they apply); it ends when "
                         "the referral does. Audited.")
    async def refer_client(
        self, info: Info, client_id: strawberry.ID, service_id: strawberry.ID, share: list[Category] | None = None,
        share_days: int | None = None, source_reference: str | None = None, note: str | None = None,
    ) -> Referral:
        ctx = info.context
        made = await ctx.referrals.refer(ctx.request, client_id=ids.client_id(client_id), service_id=str(service_id),
                                         share=share or [], share_days=share_days,
                                         source_reference=source_reference, note=note)
        return referral_view(made)

    @strawberry.mutation(description="Answer a referral made to your organisation: RECEIVED, ACCEPTED, REJECTED (with "
                         "a reason), IN_PROGRESS, ON_HOLD, COMPLETED or FAILED (with a reason), as its status allows "
                         "(FHIR Task). The client is told there is news. Audited.")
    async def answer_referral(self, info: Info, id: strawberry.ID, status: ReferralStatus,
                              reason: ReferralReason | None = None) -> Referral:
        ctx = info.context
        done = await ctx.referrals.respond(ctx.request, referral_id=ids.uuid_id(id, "id", what="referral"),
                                           status=status, reason=reason.value if reason else None)
        return referral_view(done)

    @strawberry.mutation(description="Cancel a referral: its referrer's staff, or the client it is for. What it "
                         "shared stops being shared. Audited.")
    async def withdraw_referral(self, info: Info, id: strawberry.ID, reason: ReferralReason | None = None
                                ) -> Referral:
        ctx = info.context
        done = await ctx.referrals.withdraw(ctx.request, referral_id=ids.uuid_id(id, "id", what="referral"),
                                            reason=reason.value if reason else None)
        return referral_view(done)

    @strawberry.mutation(description="Make a service plan for a client you work with, for the next 30, 60 or 90 days: "
                         "goals from the city's catalogue (planGoals) and free ones, and catalogue goals for other "
                         "members of the client's household (each child enrolled in school; clients you work with). "
                         "`arrivedOn` starts the clocks the catalogue counts from arrival (the asylum application's "
                         "year). Audited.")
    async def create_plan(self, info: Info, client_id: strawberry.ID, horizon_days: int,
                          goals: list[str] | None = None, free_goals: list[str] | None = None,
                          arrived_on: date | None = None,
                          member_goals: list[PlanMemberGoalInput] | None = None) -> ServicePlan:
        ctx = info.context
        made = await ctx.plans.create(
            ctx.request, client_id=ids.client_id(client_id), horizon_days=horizon_days, arrived_on=arrived_on,
            goals=goals or [], free_goals=free_goals or [],
            member_goals=[(g.code, ids.client_id(g.member_id, "memberGoals")) for g in member_goals or []])
        return plan_view(made, ctx.plans.catalogue)

    @strawberry.mutation(description="Add a goal to a plan as it goes: from the catalogue (`code`) or free (`title`), "
                         "for the client or for another member of their household (`memberId`). Audited.")
    async def add_plan_goal(self, info: Info, plan_id: strawberry.ID, code: str | None = None,
                            title: str | None = None, member_id: strawberry.ID | None = None) -> ServicePlan:
        ctx = info.context
        plan = await ctx.plans.add_goal(
            ctx.request, plan_id=ids.uuid_id(plan_id, "planId", what="plan"), code=code, title=title,
            member_id=ids.client_id(member_id, "memberId") if member_id is not None else None)
        return plan_view(plan, ctx.plans.catalogue)

    @strawberry.mutation(description="Add a task to a plan's goal: who does it (your organisation, a partner "
                         "organisation, the client), by when; a referral your organisation made for the client may be "
                         "the task (completing it completes the task). Audited.")
    async def add_plan_task(self, info: Info, goal_id: strawberry.ID, title: str, owner: TaskOwner,
                            owner_org: str | None = None, due_on: date | None = None,
                            referral_id: strawberry.ID | None = None) -> ServicePlan:
        ctx = info.context
        plan = await ctx.plans.add_task(
            ctx.request, goal_id=ids.uuid_id(goal_id, "goalId", what="goal"), title=title, owner=owner,
            owner_org=owner_org, due_on=due_on,
            referral_id=ids.uuid_id(referral_id, "referralId", what="referral") if referral_id else None)
        return plan_view(plan, ctx.plans.catalogue)

    @strawberry.mutation(description="Mark a plan's task done, cancelled or open again: the plan's organisation, or "
                         "the client for a task that is theirs. A goal whose tasks are all done is met. Audited.")
    async def set_plan_task(self, info: Info, task_id: strawberry.ID, status: TaskStatus) -> ServicePlan:
        ctx = info.context
        plan = await ctx.plans.set_task(ctx.request, task_id=ids.uuid_id(task_id, "taskId", what="task"),
                                        status=status)
        return plan_view(plan, ctx.plans.catalogue)

    @strawberry.mutation(description="A progress note on a plan's goal (what changed, the barriers met) and, where it "
                         "changed, its status. Audited.")
    async def update_plan_goal(self, info: Info, goal_id: strawberry.ID, change: ProgressChange,
                               barriers: list[Barrier] | None = None, status: GoalStatus | None = None
                               ) -> ServicePlan:
        ctx = info.context
        plan = await ctx.plans.update_goal(ctx.request, goal_id=ids.uuid_id(goal_id, "goalId", what="goal"),
                                           status=status, change=change, barriers=barriers or [])
        return plan_view(plan, ctx.plans.catalogue)

    @strawberry.mutation(description="Check a plan's evidence-tied goals (a child enrolled in school, benefits "
                         "enrolled) against what the gate shows your organisation for your purpose: met while the "
                         "evidence is there, open again when it is gone. The read is logged like any. Audited.")
    async def check_plan_evidence(self, info: Info, plan_id: strawberry.ID) -> ServicePlan:
        ctx = info.context
        plan = await ctx.plans.check_evidence(ctx.request, plan_id=ids.uuid_id(plan_id, "planId", what="plan"))
        return plan_view(plan, ctx.plans.catalogue)

    @strawberry.mutation(description="Record a step of a client's immigration or legal case (an application filed, a "
                         "work permit granted, a hearing set) for your organisation, on the day it happened (a "
                         "hearing: the day it is set for). Others see it only by the client's consent naming "
                         "immigration_legal. Audited.")
    async def record_legal_milestone(self, info: Info, client_id: strawberry.ID, milestone: Milestone,
                                     occurred_on: date) -> LegalMilestone:
        ctx = info.context
        return milestone_view(await ctx.legal.record(ctx.request, client_id=ids.client_id(client_id),
                                                     milestone=milestone, occurred_on=occurred_on))

    @strawberry.mutation(description="Mark a legal milestone your organisation recorded as entered in error: it is "
                         "kept, and no longer counts (a plan's goal it met opens again at the next evidence check). "
                         "Audited.")
    async def mark_legal_milestone_in_error(self, info: Info, id: strawberry.ID) -> LegalMilestone:
        ctx = info.context
        return milestone_view(await ctx.legal.enter_in_error(
            ctx.request, milestone_id=ids.uuid_id(id, "id", what="legal milestone")))

    @strawberry.mutation(description="Subscribe your organisation's system to its referrals' changes (event "
                         "referral.changed): a signed POST to `url` (https) at each change, retried until answered "
                         "2xx. The signing secret is in the answer, this once. Staff (partners' included).")
    async def subscribe_webhook(self, info: Info, url: str, events: list[str] | None = None) -> WebhookSubscribed:
        ctx = info.context
        sub, secret = await ctx.webhooks.subscribe(ctx.request, url=url, events=events or [])
        return WebhookSubscribed(subscription=subscription_view(sub, []), secret=secret)

    @strawberry.mutation(description="End one of your organisation's webhook subscriptions (its log stays).")
    async def end_webhook(self, info: Info, id: strawberry.ID) -> WebhookSubscription:
        ctx = info.context
        return subscription_view(await ctx.webhooks.end(
            ctx.request, subscription_id=ids.uuid_id(id, "id", what="subscription")), [])

    @strawberry.mutation(description="Decide an open review item: the same person (their clients merge) or "
                         "different people (never linked again by the matcher). Identity stewards; audited.")
    async def resolve_identity_review(
        self, info: Info, id: strawberry.ID, decision: IdentityDecision, reason: str,
    ) -> IdentityDecisionResult:
        ctx = info.context
        return decision_view(await ctx.identity.resolve(ctx.request, parse_id(id, "id"), decision.value, reason))

    @strawberry.mutation(description="Link two agency records by hand: the same person; their clients merge. "
                         "Identity stewards; audited; never undone by the matcher.")
    async def link_records(
        self, info: Info, a: SourceRecordInput, b: SourceRecordInput, reason: str,
    ) -> IdentityDecisionResult:
        ctx = info.context
        return decision_view(await ctx.identity.link(ctx.request, a.key("a"), b.key("b"), reason))

    @strawberry.mutation(description="Take an agency record out of its client by hand: not the same person as "
                         "the others there. Identity stewards; audited; never undone by the matcher.")
    async def unlink_record(self, info: Info, record: SourceRecordInput, reason: str) -> IdentityDecisionResult:
        ctx = info.context
        return decision_view(await ctx.identity.unlink(ctx.request, record.key("record"), reason))
