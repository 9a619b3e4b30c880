"""Categories, purposes of use, roles and actions: the words of consent, disclosure and the access log."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


def member_of(kind: type[E], value: object) -> E | None:
    """`value` as a member of the enum `kind`; None for None or for a value it lacks (one stored by another
    version, say): what a stored string becomes on its way out."""
    try:
        return kind(value) if value is not None else None
    except ValueError:
        return None


class Category(StrEnum):
    """The unit of consent and of disclosure (DESIGN.md, Domain)."""

    IDENTITY = "identity"
    BENEFITS = "benefits"
    HOUSING = "housing"
    SCHOOLING = "schooling"
    DOCUMENTS = "documents"
    APPOINTMENTS = "appointments"
    CASEWORK = "casework"
    CONTACT = "contact"
    IMMIGRATION_LEGAL = "immigration_legal"


class Purpose(StrEnum):
    """Why data is asked for; sent with every client-data request."""

    CASE_MANAGEMENT = "case_management"
    CARE_COORDINATION = "care_coordination"
    ELIGIBILITY = "eligibility"
    EMERGENCY = "emergency"
    AUDIT = "audit"
    CLIENT_ACCESS = "client_access"
    IDENTITY_STEWARDSHIP = "identity_stewardship"  # keeping the master client index right (review, decide)
    CLIENT_NOTIFICATION = "client_notification"  # a message to the client they asked for (casebridge's worker)


# HL7 v3 PurposeOfUse (ActReason) codes where one fits exactly; FHIR Consent and AuditEvent use them.
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
V3_PURPOSE_OF_USE = {
    Purpose.CASE_MANAGEMENT: "CAREMGT",
    Purpose.CARE_COORDINATION: "COC",
    Purpose.ELIGIBILITY: "ELIGDTRM",
    Purpose.EMERGENCY: "ETREAT",
    Purpose.CLIENT_ACCESS: "PATRQT",
    Purpose.IDENTITY_STEWARDSHIP: "RECORDMGT",
}


class Role(StrEnum):
    """What a principal does; mapped from token claims."""

    CASEWORKER = "caseworker"
    PARTNER = "partner"
    AUDITOR = "auditor"
    IDENTITY_STEWARD = "identity_steward"
    CLIENT = "client"
    ADMIN = "admin"
    NOTIFIER = "notifier"  # casebridge's delivery worker (core.principal.DELIVERY_WORKER); never from a token
    SCHEDULER = "scheduler"  # casebridge's scheduled jobs (core.principal.REFERRAL_EXPIRY); never from a token


# Roles only casebridge's own workers hold: a token that claims one gets nothing for it (api/auth.py).
SYSTEM_ROLES = frozenset({Role.NOTIFIER, Role.SCHEDULER})


class LegalBasis(StrEnum):
    """A statute or emergency rule that allows access without consent; always justified and flagged."""

    FERPA_99_36 = "ferpa-99.36"  # 34 CFR 99.36: health-or-safety emergency, education records
    BREAK_GLASS = "break-glass"  # time-limited emergency grant, reviewed by an auditor


class Action(StrEnum):
    """Every operation a caller can ask for: a Cedar action in policies/casebridge.cedarschema (the same id),
    and the `action` of its access-log events. Who may perform which on what, for which purpose, is decided
    in policies/*.cedar and nowhere else."""

    READ = "read"  # open client profiles; and, per section, disclose one category held by one organisation
    SEARCH = "identity.search"
    CONSENT_READ = "consent.read"
    CONSENT_RECORD = "consent.record"
    CONSENT_AMEND = "consent.amend"
    CONSENT_REVOKE = "consent.revoke"
    BREAK_GLASS = "break-glass.start"
    AUDIT_READ = "audit.read"
    AUDIT_SUMMARY = "audit.summary"
    AUDIT_VERIFY = "audit.verify"
    AUDIT_EXPORT = "audit.export"
    DISCLOSURE_REPORT = "disclosure-report.read"
    IDENTITY_REVIEW = "identity.review"
    IDENTITY_EXPLAIN = "identity.explain"
    IDENTITY_RESOLVE = "identity.resolve"
    IDENTITY_LINK = "identity.link"
    IDENTITY_UNLINK = "identity.unlink"
    CASE_NOTE_ADD = "case-note.add"
    CONTACT_RECORD = "contact.record"  # a client's contact points, their opt-in, their preferences
    APPOINTMENT_SCHEDULE = "appointment.schedule"  # an appointment held here, for the caller's organisation
    APPOINTMENT_UPDATE = "appointment.update"  # rescheduled, completed, missed, cancelled
    DOCUMENT_REQUEST = "document.request"  # ask the client for a document, by a date (held here)
    DOCUMENT_UPLOAD = "document.upload"  # send a file against a checklist (a caseworker's, or the client's own)
    DOCUMENT_REVIEW = "document.review"  # accept or reject a file sent; list the files awaiting review
    DOCUMENT_DOWNLOAD = "document.download"  # a file's bytes, from a section the caller may see
    REFERRAL_CREATE = "referral.create"  # refer a client to a directory service (or apply, for oneself)
    REFERRAL_RESPOND = "referral.respond"  # the receiving organisation answers; its inbox
    REFERRAL_WITHDRAW = "referral.withdraw"  # the referrer or the client cancels it
    PLAN_WRITE = "plan.write"  # make and keep a client's service plan (its organisation's)
    PLAN_STEP = "plan.step"  # mark a plan's task done: the plan's organisation, or the client for their own
    LEGAL_RECORD = "legal.record"  # an immigration or legal milestone (its organisation's), or marking one in error
    WEBHOOK_MANAGE = "webhook.manage"  # an organisation's subscriptions to its referrals' changes, and their log
    DIRECTORY_SEARCH = "directory.search"  # the city's service directory (no client's data: not logged)
    NOTIFICATION_DELIVER = "notification.deliver"  # a message to a client at a contact point they opted in to
    SESSION_READ = "session.read"  # the caller's own sign-in (`me`): about no client, so not logged


class OperatorAction(StrEnum):
    """What the operator's command line writes to the access log (it runs beside the gateway, not through it)."""

    AUDIT_EXPORT = "audit.export"
    AUDIT_RETENTION = "audit.retention"
    DOCUMENT_RETENTION = "document.retention"  # files' content removed at the end of their retention period
    DIRECTORY_IMPORT = "directory.import"  # the service directory replaced by an HSDS import
