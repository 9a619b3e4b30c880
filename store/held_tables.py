"""Tables of the records casebridge holds itself, made by the people who use it (DESIGN.md, Records held here).

Each item has a holder (the organisation that recorded it, or the client) and a
category, and the gate decides on it exactly as on an agency's record.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, BigId, utcnow


class CaseNote(Base):
    """A caseworker's note about a client (category casework), held for the organisation that wrote it."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_client_id_holder", "client_id", "holder"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation that recorded it
    category: Mapped[str] = mapped_column(String(32), default="casework")
    author_subject: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    # whether the client may read it (self-service): the holder's choice when writing it
    shared_with_client: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactPoint(Base):
    """A phone number (for text messages) or an email address of a client's (category contact), with the client's
    opt-in to be contacted there; held for the organisation that recorded it (or the client's own sign-in)."""

    __tablename__ = "contact_points"
    __table_args__ = (Index("ix_contact_points_client_id_holder", "client_id", "holder"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation that recorded it
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    address: Mapped[str] = mapped_column(String(320))  # +E.164 for sms, the mailbox for email
    verified: Mapped[bool] = mapped_column(default=False)  # proven to reach the client (a code sent and returned)
    opted_in: Mapped[bool] = mapped_column(default=False)  # the client agreed to be contacted here
    opt_in_source: Mapped[str | None] = mapped_column(String(255))  # the signed form, or the client's own sign-in
    recorded_by: Mapped[str] = mapped_column(String(255))  # who recorded it (their sign-in subject)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    opt_in_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactPreference(Base):
    """How a client prefers to be reached (category contact): one row per client and holder, each holder's last."""

    __tablename__ = "contact_preferences"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    # the organisation that recorded it (or the client's sign-in): each holder keeps its own, seen as it is decided
    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(8))  # sms | email | None: no preference
    language: Mapped[str] = mapped_column(String(16), default="en")
    quiet_from: Mapped[str | None] = mapped_column(String(5))  # HH:MM, local time: no messages from ...
    quiet_until: Mapped[str | None] = mapped_column(String(5))  # ... until (may wrap past midnight)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Appointment(Base):
    """An appointment a caseworker or partner scheduled with a client (category appointments): a housing
    interview, a legal consultation, an intake. Held for the organisation that scheduled it; the client always
    sees their own (an appointment is for them to keep)."""

    __tablename__ = "appointments"
    __table_args__ = (Index("ix_appointments_client_id_holder", "client_id", "holder"),
                      Index("ix_appointments_scheduled_at", "scheduled_at"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation that scheduled it
    type: Mapped[str] = mapped_column(String(40))  # a code, e.g. HOUSING_INTERVIEW (gate/appointment_desk.TYPES)
    scheduled_at: Mapped[datetime]
    duration_minutes: Mapped[int | None]
    mode: Mapped[str] = mapped_column(String(16))  # IN_PERSON | PHONE | VIDEO
    location: Mapped[str | None] = mapped_column(String(255))  # an office's address or a call-in line
    status: Mapped[str] = mapped_column(String(16))  # SCHEDULED | RESCHEDULED | COMPLETED | MISSED | CANCELED
    at_stake: Mapped[str | None] = mapped_column(String(40))  # a code, e.g. HOUSING_PLACEMENT
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """A message to a client (an appointment reminder, a notice's reply date, a service update), recorded before it
    is sent (the outbox, notify/outbox.py) and kept with what became of it (category contact, held for the
    organisation whose record it is about)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_due", "status", "next_attempt_at"),
                      Index("ix_messages_client_id_subject", "client_id", "subject"),
                      Index("ix_messages_provider_message_id", "provider_message_id", unique=True))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # one message per thing to say (e.g. this reminder of this appointment at this time): enqueued twice, kept once;
    # sent to the provider with it, so that a send retried after a crash is not delivered twice
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation whose record it is about
    kind: Mapped[str] = mapped_column(String(32))  # appointment_reminder | notice_due | service_update
    subject: Mapped[str] = mapped_column(String(160))  # what it is about, e.g. appointment:<holder>:<id>
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    contact_point_id: Mapped[str] = mapped_column(ForeignKey("contact_points.id"))
    template: Mapped[str] = mapped_column(String(48))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)  # what the template may show: a date, a time, a link
    send_after: Mapped[datetime]
    expires_at: Mapped[datetime | None]  # not sent after this (the appointment's time): expired
    # queued | sent | delivered | failed | bounced | opted_out | cancelled | expired
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(64))  # the delivery worker sending it now ...
    lease_until: Mapped[datetime | None]  # ... until then (a worker that died leaves it to the next)
    provider_message_id: Mapped[str | None] = mapped_column(String(320))  # an SMS id, or an email's Message-ID
    error: Mapped[str | None] = mapped_column(String(64))  # a code (the provider's, or ours), never a text
    body: Mapped[str | None] = mapped_column(Text)  # what was sent, once sent
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class MessageEvent(Base):
    """What became of a message, step by step: sent, retried, delivered, failed (the delivery log)."""

    __tablename__ = "message_events"
    __table_args__ = (Index("ix_message_events_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"))
    status: Mapped[str] = mapped_column(String(16))  # a status, or "retry" for an attempt that will be repeated
    detail: Mapped[str | None] = mapped_column(String(64))  # an error code
    at: Mapped[datetime] = mapped_column(default=utcnow)


class EarlyCallback(Base):
    """A provider's status callback that came before the worker wrote down the provider's id for the message (the
    provider answers, then calls back at once): kept until the worker writes it, then applied."""

    __tablename__ = "message_early_callbacks"
    __table_args__ = (Index("ix_message_early_callbacks_provider_message_id", "provider_message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_message_id: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundText(Base):
    """An inbound text the provider sent us (by its id): each is acted on once, so a replayed webhook call
    (a captured START after the client's STOP) changes nothing."""

    __tablename__ = "inbound_texts"

    provider_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentFile(Base):
    """A file sent against a checklist (category documents): a scan or a photo of one kind of document, sent by a
    caseworker (held for their organisation) or by the client (held for the client, reaching an organisation
    only through the client's consent). Its bytes are in the blob store under `sha256`; its name is never kept."""

    __tablename__ = "document_files"
    __table_args__ = (Index("ix_document_files_client_id_holder", "client_id", "holder"),
                      Index("ix_document_files_sha256", "sha256"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    # the sender's organisation, or the client's own holding (core.principal.CLIENT_HOLDER) for a client's upload
    holder: Mapped[str] = mapped_column(String(64))
    document: Mapped[str] = mapped_column(String(64))  # the document kind's code (checklists configuration)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    media_type: Mapped[str] = mapped_column(String(64))  # from the file's first bytes, never from its sender
    scan: Mapped[str] = mapped_column(String(16))  # clean | not-scanned
    sent_by: Mapped[str] = mapped_column(String(255))  # who sent it (their sign-in subject)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    retain_until: Mapped[datetime]  # then its bytes are purged (its record stays)
    purged_at: Mapped[datetime | None]


class DocumentRecord(Base):
    """An organisation's record of one kind of document for one client (category documents): asked of the client
    by a date, accepted (which file, when: it then holds until the kind's validity runs out), or rejected (why,
    and by when to send another). One per client, organisation and kind; its history in document_events."""

    __tablename__ = "document_records"
    __table_args__ = (Index("ix_document_records_client_id_holder", "client_id", "holder"),
                      UniqueConstraint("client_id", "holder", "document",
                                       name="uq_document_records_client_id_holder_document"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation whose record it is
    document: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # REQUESTED | ACCEPTED | REJECTED
    due_on: Mapped[date | None]  # asked for (or to be sent again) by this day
    reason: Mapped[str | None] = mapped_column(String(32))  # why the last file was rejected (a code)
    file_id: Mapped[str | None] = mapped_column(ForeignKey("document_files.id"))  # the file last decided on
    accepted_on: Mapped[date | None]
    issued_on: Mapped[date | None]  # the accepted document's own date, where the reviewer gave it (validity from it)
    recorded_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentEvent(Base):
    """One step of a document record: asked for, accepted, rejected (with the file and the reason)."""

    __tablename__ = "document_events"
    __table_args__ = (Index("ix_document_events_record_id", "record_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("document_records.id"))
    state: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(ForeignKey("document_files.id"))
    reason: Mapped[str | None] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class DocumentAddressee(Base):
    """An organisation a client's upload is meant for: by default those whose record of that document was
    waiting for a file when it came, and those the client's consent let see their documents then; or one the
    client chose. It puts the file on that organisation's review list - where its staff may see it (the
    client's consent), decided in Cedar when the list is read."""

    __tablename__ = "document_addressees"
    __table_args__ = (Index("ix_document_addressees_organization", "organization"),)

    file_id: Mapped[str] = mapped_column(ForeignKey("document_files.id"), primary_key=True)
    organization: Mapped[str] = mapped_column(String(64), primary_key=True)
    addressed_at: Mapped[datetime]


class DocumentAttempt(Base):
    """One upload a sender began (kept or refused), counted against the daily limits before a byte is read; kept
    a day (removed by the next attempt of anyone, or `casebridge documents sweep`)."""

    __tablename__ = "document_attempts"
    __table_args__ = (Index("ix_document_attempts_sender_at", "sender", "at"),
                      Index("ix_document_attempts_at", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sender: Mapped[str] = mapped_column(String(255))  # their sign-in subject
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    at: Mapped[datetime]


class Referral(Base):
    """A referral of a client to a service in the directory (category casework), shaped after FHIR Task: made by a
    caseworker (held for their organisation) or by the client applying themselves (held for the client), and,
    where the service's organisation answers through casebridge, held for it too (its side: what it was asked,
    what it answered). What it shares of the client goes with a consent of its own (`consent_id`)."""

    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_client_id", "client_id"), Index("ix_referrals_to_org_status", "to_org",
                                                                         "status"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    from_org: Mapped[str] = mapped_column(String(64))  # the referring organisation, or the client's own sign-in
    to_org: Mapped[str | None] = mapped_column(String(64))  # the organisation that answers; None: none does here
    service_id: Mapped[str] = mapped_column(String(64))  # the directory's service (HSDS id)
    service_name: Mapped[str] = mapped_column(String(4000))  # as the directory named it when referred
    organization_name: Mapped[str] = mapped_column(String(4000))
    # FHIR Task: REQUESTED RECEIVED ACCEPTED REJECTED IN_PROGRESS ON_HOLD COMPLETED CANCELLED FAILED EXPIRED
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))  # why it was rejected, failed or cancelled (a code)
    note: Mapped[str | None] = mapped_column(Text)  # what the referrer tells the service (no more than it needs)
    categories: Mapped[list[str]] = mapped_column(JSON)  # what the referral's consent shares
    consent_id: Mapped[str | None] = mapped_column(String(40))
    share_until: Mapped[datetime | None]
    recorded_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReferralEvent(Base):
    """One change of a referral's status: who (organisation, sign-in subject), when, why."""

    __tablename__ = "referral_events"
    __table_args__ = (Index("ix_referral_events_referral_id", "referral_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.id"))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    by_org: Mapped[str] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSubscription(Base):
    """A partner system that asked to be told when its referrals change: where (an https URL), with which secret
    the calls are signed, for which events. An organisation's own; it sees and ends only its own."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (Index("ix_webhook_subscriptions_org", "org"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    org: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(128))  # signs each call (HMAC-SHA256); shown once, when made
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One call to a subscriber, recorded with the change that causes it and tried until it is answered 2xx or
    gives up (the delivery log). Its payload names ids and a status only."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_subscription_id", "subscription_id"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_result: Mapped[str | None] = mapped_column(String(64))  # "http-503", "timeout", "refused", ...
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class ServicePlan(Base):
    """A client's plan for the next 30, 60 or 90 days (category casework), held for the organisation that made
    it and shared with the client: goals from the city's catalogue (plans/catalogue.json) or free ones."""

    __tablename__ = "service_plans"
    __table_args__ = (Index("ix_service_plans_client_id_holder", "client_id", "holder"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))
    horizon_days: Mapped[int]
    starts_on: Mapped[date]
    arrived_on: Mapped[date | None]  # the client's arrival (the asylum application's one-year clock)
    recorded_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanGoal(Base):
    """One goal of a plan: from the catalogue (`code`) or free (`title`), with where it stands."""

    __tablename__ = "plan_goals"
    __table_args__ = (Index("ix_plan_goals_plan_id", "plan_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("service_plans.id"))
    code: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # OPEN | IN_PROGRESS | MET | NOT_MET | DROPPED
    met_by: Mapped[str | None] = mapped_column(String(32))  # STAFF | TASKS | EVIDENCE
    met_on: Mapped[date | None]
    evidence: Mapped[str | None] = mapped_column(String(255))  # what met it (ids and a code, no data)
    # a goal for another member of the client's household (a child's school enrolment): that member's client id
    member_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanTask(Base):
    """A step towards a goal: who does it (the caseworker's organisation, a partner organisation, the client), by
    when, where it stands; a referral may be the step (completing it completes the task)."""

    __tablename__ = "plan_tasks"
    __table_args__ = (Index("ix_plan_tasks_goal_id", "goal_id"), Index("ix_plan_tasks_referral_id", "referral_id"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    goal_id: Mapped[str] = mapped_column(ForeignKey("plan_goals.id"))
    title: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(16))  # CASEWORKER | PARTNER | CLIENT
    owner_org: Mapped[str | None] = mapped_column(String(64))  # the partner organisation, where a partner owns it
    due_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(16))  # OPEN | DONE | CANCELLED
    referral_id: Mapped[str | None] = mapped_column(ForeignKey("referrals.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class PlanNote(Base):
    """A structured progress note on a goal: what changed and the barriers met, from coded lists."""

    __tablename__ = "plan_notes"
    __table_args__ = (Index("ix_plan_notes_goal_id", "goal_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    goal_id: Mapped[str] = mapped_column(ForeignKey("plan_goals.id"))
    change: Mapped[str] = mapped_column(String(32))
    barriers: Mapped[list[str]] = mapped_column(JSON)
    by: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LegalMilestone(Base):
    """A step of a client's immigration or legal case (category immigration_legal) - an application filed, a work
    permit granted, representation agreed, a hearing - on the day it happened (or is set for), recorded by the
    organisation that knows it (a legal-services partner) and held for it, shared with the client. No receipt
    numbers, no free text: what happened and when."""

    __tablename__ = "legal_milestones"
    __table_args__ = (Index("ix_legal_milestones_client_id_holder", "client_id", "holder"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))
    milestone: Mapped[str] = mapped_column(String(48))
    occurred_on: Mapped[date]
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # set when the holder found the record wrong: kept (the log refers to it), no longer counted
    entered_in_error_at: Mapped[datetime | None]
