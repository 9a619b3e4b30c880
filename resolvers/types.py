"""GraphQL object types for a client's profile, built from the gate's disclosures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from checklists.config import Checklists, DocumentKind
from connectors import held
from connectors import records as rec
from connectors.held_documents import DocumentRecord as DocumentRecordData
from connectors.held_documents import SentFile
from connectors.held_plans import Plan as HeldPlan
from connectors.held_referrals import Referral as HeldReferral
from connectors.hmis.chronic import STREET_SHELTER_SAFE_HAVEN, ChronicStatus, StayTime, time_in_stays
from connectors.hmis.employment import DataCollectionStage, Employed, EmploymentType, NotEmployedReason
from core.errors import ErrorCode, InvalidInput, error_code
from core.vocabulary import Category as _Category
from gate import Disclosure, SectionResult, SectionStatus
from policies.decisions import Basis, basis_of
from resolvers.checklist_types import (
    STILL_NEEDED,
    ChecklistGoal,
    ChecklistItem,
    DocumentCopy,
    agency_copy,
    derived_copy,
    item_state,
)
from resolvers.document_types import (
    DocumentFile,
    DocumentRequest,
    DocumentRequestState,
    file_view,
    request_view,
)
from resolvers.enums import AccessStatus, Category, Role, WithheldReason
from resolvers.legal_types import LegalMilestone, milestone_view
from resolvers.plan_types import HouseholdMember, PlanGoalKind, ServicePlan, plan_view
from resolvers.referral_types import Referral, referral_view
from resolvers.sensitive import parts_found, without_sensitive


@strawberry.type(description="One agency's part of one section: shown, withheld (and why) or failed.")
class SourceAccess:
    category: Category
    agency: str = strawberry.field(description="The organisation that holds these records.")
    connector: str
    status: AccessStatus
    reason: WithheldReason | None = strawberry.field(
        description="For a withheld section: what would allow it. Identical whether or not data exists."
    )
    basis: Basis | None = strawberry.field(description="For a shown section: what it was shown on.")
    as_of: datetime | None = strawberry.field(description="When the agency's data was last true.")
    error_code: ErrorCode | None = strawberry.field(description=(
        "For a failed section: the error code. For a shown one: why part of it is missing (e.g. "
        "AGENCY_AUTH_FAILED when the agency's API does not let casebridge read a resource; the record names it)."))
    limited_to_data_period: bool = strawberry.field(
        description="Shown through a consent that covers only some periods of data: older or newer records "
        "are left out.")


@strawberry.type(description="The authenticated caller.")
class Viewer:
    subject: str
    organization: str
    roles: list[Role]
    client_id: strawberry.ID | None = strawberry.field(default=None, description=(
        "For a client signed in (role CLIENT): the casebridge client they are, whose profile they may read with "
        "purpose client_access. Null for staff."))


@strawberry.type
class IdentityRecord:
    agency: str
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    date_of_birth: date | None
    sex: str | None
    not_for_release: list[str] = strawberry.field(default_factory=list, description=(
        "What the agency holds but marks not for release (a FERPA directory-information opt-out: name, "
        "address, phone): withheld, neither shown nor used for matching - not unknown."))


@strawberry.type
class BenefitProgram:
    program: str
    status: str
    certification_start: date | None
    certification_end: date | None = strawberry.field(
        description="End of the certification period: recertify before it (7 CFR 273.14)."
    )
    amount: Decimal | None
    currency: str | None
    frequency: str | None


@strawberry.type
class Notice:
    notice_id: str
    type: str
    issued_on: date
    response_due_on: date | None


@strawberry.type
class BenefitCase:
    agency: str
    case_number: str
    status: str
    relationship: str | None = strawberry.field(description="This client's role on the case.")
    household_size: int
    programs: list[BenefitProgram]
    notices: list[Notice]


@strawberry.type(description="An appointment the client must keep: an agency's (read from its system) or one "
                 "scheduled in casebridge by a caseworker or partner (heldHere).")
class Appointment:
    appointment_id: str
    agency: str = strawberry.field(description="The agency holding it, or the organisation that scheduled it here.")
    type: str = strawberry.field(description="A code: the agency's own (e.g. RECERTIFICATION_INTERVIEW) or, "
                                 "for one scheduled here, an AppointmentType.")
    scheduled_at: datetime
    duration_minutes: int | None
    mode: str | None
    location: str | None
    status: str = strawberry.field(description="SCHEDULED, RESCHEDULED, COMPLETED, MISSED or CANCELED.")
    at_stake: str | None = strawberry.field(description="What missing it costs the client, where the holder says "
                                            "so (e.g. BENEFITS_RECERTIFICATION); null when it does not.")
    held_here: bool = strawberry.field(description="Scheduled in casebridge (its holder may update it).")
    reminders: list[Reminder] = strawberry.field(description="The reminders sent (or to be sent) to the client about "
                                                 "it, soonest first: by which channel, and what became of each.")


@strawberry.enum(description="What became of a message to the client.")
class MessageStatus(Enum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    BOUNCED = "bounced"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@strawberry.type(description="A reminder about an appointment: never the number or address it went to.")
class Reminder:
    channel: ContactChannel
    status: MessageStatus
    send_after: datetime = strawberry.field(description="When it is (or was) due to go.")
    sent_at: datetime | None
    error: str | None = strawberry.field(description="A code: why it failed or waits (e.g. quiet-hours, http-503).")


@strawberry.type(description="A message sent to the client (category contact): what it said and what became of it.")
class ClientMessage:
    id: strawberry.ID
    agency: str = strawberry.field(description="Who holds it: whoever recorded the contact point it went to (an "
                                   "organisation, or the client's own sign-in).")
    about: str = strawberry.field(description="The organisation whose appointment or notice it is about.")
    kind: str = strawberry.field(description="appointment_reminder or notice_due.")
    channel: ContactChannel
    status: MessageStatus
    send_after: datetime
    sent_at: datetime | None
    body: str | None = strawberry.field(description="The words sent, once sent.")
    error: str | None


@strawberry.type
class RequiredDocument:
    document_id: str
    agency: str
    type: str
    due_on: date | None
    status: str
    accepted_on: date | None = strawberry.field(default=None, description=(
        "For ACCEPTED: the day the agency accepted the copy (a kind's validity runs from it); null where the agency "
        "does not say, or sent something that is not a date."))


@strawberry.type(description="What a client said of their employment on one date of a stay (HUD HMIS R6, from the "
                 "export's EmploymentEducation.csv).")
class EmploymentStatus:
    information_date: date = strawberry.field(description="The day the answer was collected.")
    data_collection_stage: DataCollectionStage = strawberry.field(
        description="When in the stay: project start, an update, an annual assessment, project exit, after exit.")
    employed: Employed
    employment_type: EmploymentType | None = strawberry.field(
        description="Full-time, part-time or seasonal/sporadic; given only with employed YES, null if not collected.")
    not_employed_reason: NotEmployedReason | None = strawberry.field(
        description="Looking for work, unable to work or not looking; given only with employed NO, null if not "
        "collected.")


@strawberry.type(description="A shelter stay or housing enrollment (HUD HMIS Enrollment, Exit, Project and "
                 "EmploymentEducation).")
class HousingEnrollment:
    enrollment_id: str
    agency: str
    project_name: str
    project_type: int = strawberry.field(description="HUD ProjectType: 0/1 emergency shelter, 2 transitional "
                                         "housing, 3/9/10/13 permanent housing, ...")
    project_type_name: str
    entry_date: date
    move_in_date: date | None = strawberry.field(description="For permanent housing: the day the household moved in.")
    exit_date: date | None
    destination: int | None = strawberry.field(description="HUD exit destination code (e.g. 410 rental, 101 shelter).")
    destination_class: str | None = strawberry.field(
        description="The destination's group: homeless, institutional, temporary, permanent, other.")
    household_id: str | None
    relationship_to_head: int | None = strawberry.field(description="HUD RelationshipToHoH: 1 self, 2 child, ...")
    status: str = strawberry.field(description="IN_SHELTER, HOUSED (moved in), ENROLLED (waiting), EXITED.")
    chronic_at_entry: ChronicStatus | None = strawberry.field(description=(
        "Chronically homeless at this project's start, as HUD's HMIS Standard Reporting Terminology Glossary "
        "decides it from the person's own entry data."))
    chronic_reason: str | None = strawberry.field(description=(
        "The glossary's step that decided it, e.g. homeless-a-year-before-entry, four-times-twelve-months, "
        "no-disabling-condition, disabling-condition-missing."))
    employment: list[EmploymentStatus] = strawberry.field(description=(
        "Employment status as the shelter system recorded it during this stay, oldest first; empty where its export "
        "carries no EmploymentEducation.csv or none was recorded."))


@strawberry.type(description="Chronic homelessness from the shelter system's own records: the status at the start of "
                 "the newest stay, with the stays that support it (the shelter system's third-party evidence of "
                 "homelessness, where a program accepts it).")
class ChronicHomelessness:
    status: ChronicStatus
    reason: str
    enrollment_id: str = strawberry.field(description="The stay whose start it was decided at.")
    entry_date: date
    supporting_stays: list[HousingEnrollment] = strawberry.field(description=(
        "Shelter, street-outreach and safe-haven stays in the three years up to `countedTo` (the stay itself among "
        "them where it is one), oldest first: shown for a YES."))
    verified_by_stays: bool = strawberry.field(description=(
        "A YES the shelter system's own stays show, by HUD's definition: a year continuously, or four occasions or "
        "more in the three years (at least seven nights apart) adding up to a year. False for a YES on the intake's "
        "answers alone (DateToStreetESSH, times and months homeless: the client's word), and for any other status. "
        "How recent the stays are is the checklist's to weigh (the document kind's validity)."))
    nights_in_stays: int | None = strawberry.field(description=(
        "For a YES: the nights the supporting stays cover from `countedFrom` to `countedTo` (breaks under seven "
        "nights included: they do not part two occasions)."))
    occasions: int | None = strawberry.field(description="For a YES: separate occasions among the supporting stays.")
    counted_from: date | None = strawberry.field(description="For a YES: three years before `countedTo`.")
    counted_to: date | None = strawberry.field(description=(
        "For a YES: the day the time is counted up to - today while the stay it was decided at is a shelter, "
        "outreach or safe-haven stay still open (the time homeless up to now is what a program verifies), its exit "
        "once it ended, and the start of any other kind of stay."))


@strawberry.type(description="Shelter stays and housing enrollments, newest first, from the HMIS snapshot.")
class HousingSection:
    access: list[SourceAccess]
    in_shelter_now: bool | None = strawberry.field(
        description="Whether a shown stay is an open stay in shelter. Null when nothing was shown.")
    enrollments: list[HousingEnrollment] | None = strawberry.field(description="Null when nothing was shown.")
    chronic_homelessness: ChronicHomelessness | None = strawberry.field(
        description="Null when nothing was shown, or no shown stay says.")


@strawberry.type(description="One school enrollment (Ed-Fi studentSchoolAssociation); grade and exit type are "
                 "descriptor code values.")
class SchoolEnrollment:
    school_id: str
    school_name: str | None
    entry_date: date
    entry_grade: str | None
    exit_date: date | None
    exit_type: str | None
    primary: bool | None = strawberry.field(description=(
        "Ed-Fi primarySchool: false for a partial or ancillary enrollment beside the main one (such an "
        "enrollment is never the current school nor a transfer's destination); null where the district says "
        "nothing."))
    school_year: int | None = strawberry.field(description="The school year it belongs to (the year it ends).")
    current: bool = strawberry.field(description=(
        "Entered (not a preregistration), not yet left (an exit dated in the future has not happened), and "
        "not left open from a past school year."))


@strawberry.type(description="An exit coded as a transfer and the next entry; pending until the child is enrolled "
                 "again.")
class SchoolTransfer:
    from_school: str | None
    to_school: str | None
    exit_date: date
    entry_date: date | None
    days_out_of_school: int = strawberry.field(
        description="School days are not counted: calendar days from the exit to the next entry (or to today).")
    pending: bool


@strawberry.type(description="A homeless (McKinney-Vento) program spell and the primary nighttime residence.")
class HomelessProgramStatus:
    begin_date: date
    end_date: date | None
    nighttime_residence: str | None = strawberry.field(
        description="SHELTER, DOUBLED_UP, HOTEL_MOTEL, UNSHELTERED or OTHER.")
    unaccompanied_youth: bool | None


@strawberry.type(description="A student's record at one district.")
class StudentRecord:
    agency: str
    student_id: str = strawberry.field(description="The district's studentUniqueId.")
    current_school: str | None
    current_grade: str | None
    enrollments: list[SchoolEnrollment]
    transfers: list[SchoolTransfer]
    homeless_program: list[HomelessProgramStatus]
    in_homeless_program_now: bool
    overlapping_enrollments: bool = strawberry.field(description=(
        "More than one primary enrollment is current at once (the district's records disagree): the current "
        "school is the one entered last; see enrollments."))
    unreadable: list[str] = strawberry.field(description=(
        "Ed-Fi resources the district's API does not let casebridge read (its claim set lacks them), e.g. "
        "studentHomelessProgramAssociations: what they carry is missing from this record, not absent at the "
        "district."))


@strawberry.type(description="Schooling from each permitted district (Ed-Fi): school, grade, transfers, homeless "
                 "program status.")
class SchoolingSection:
    access: list[SourceAccess]
    students: list[StudentRecord] | None = strawberry.field(description="Null when nothing was shown.")


@strawberry.type(description="Identity basics (names, date of birth) as each permitted agency holds them.")
class IdentitySection:
    access: list[SourceAccess]
    records: list[IdentityRecord] | None = strawberry.field(description="Null when nothing was shown.")


@strawberry.type(description="Benefits cases, programs with certification periods, and notices.")
class BenefitsSection:
    access: list[SourceAccess]
    cases: list[BenefitCase] | None = strawberry.field(description="Null when nothing was shown.")


@strawberry.type(description="Appointments the client must keep, from every permitted agency.")
class AppointmentsSection:
    access: list[SourceAccess]
    items: list[Appointment] | None = strawberry.field(description="Null when nothing was shown.")


@strawberry.type(description="The client's immigration and legal case as the organisations that help with it "
                 "recorded it (category immigration_legal: opened to others only by the client's consent naming it).")
class ImmigrationLegalSection:
    access: list[SourceAccess]
    milestones: list[LegalMilestone] | None = strawberry.field(description="Latest day first; null when nothing "
                                                               "was shown.")


@strawberry.type(description="Documents agencies asked the client for, and the documents held in casebridge: "
                 "files sent against checklists and each organisation's record of what it asked for and reviewed.")
class DocumentsSection:
    access: list[SourceAccess]
    items: list[RequiredDocument] | None = strawberry.field(description="The agencies' document records; null when "
                                                            "nothing was shown.")
    requests: list[DocumentRequest] | None = strawberry.field(description="Organisations' records held here, "
                                                              "soonest due first; null when nothing was shown.")
    files: list[DocumentFile] | None = strawberry.field(description="Files sent here, newest first; null when "
                                                        "nothing was shown.")


@strawberry.type(description="The documents a goal needs, each with where a copy already exists - from what the gate "
                 "shows you of the client's documents at every agency and of the shelter system's records.")
class Checklist:
    goal: str
    name: str
    items: list[ChecklistItem]
    access: list[SourceAccess] = strawberry.field(description="The documents and housing parts it was built from: "
                                                  "a withheld part (and why) holds copies you may not see.")


@strawberry.type(description="A note about the client, written by a caseworker or partner and held in casebridge "
                 "for their organisation.")
class CaseNote:
    id: strawberry.ID
    agency: str = strawberry.field(description="The organisation holding the note (the writer's).")
    author: str = strawberry.field(description="Who wrote it (their sign-in subject).")
    text: str
    shared_with_client: bool = strawberry.field(description="Whether the client may read it.")
    created_at: datetime


@strawberry.type(description="Case notes from every organisation whose notes you may see: your own organisation's, "
                 "and another's where the client consented to it (category casework). Another organisation's "
                 "notes you may not see leave no trace here.")
class CaseworkSection:
    access: list[SourceAccess]
    notes: list[CaseNote] | None = strawberry.field(description="Newest first; null when nothing was shown.")
    referrals: list[Referral] | None = strawberry.field(description="Referrals to directory services, latest change "
                                                        "first; null when nothing was shown.")
    plans: list[ServicePlan] | None = strawberry.field(description="Service plans, latest change first; null when "
                                                       "nothing was shown.")


@strawberry.enum(description="How a message reaches a client: SMS (a text message to a phone number) or EMAIL.")
class ContactChannel(Enum):
    SMS = "sms"
    EMAIL = "email"


@strawberry.type(description="Where a client can be reached, and whether they agreed to be contacted there.")
class ContactPoint:
    id: strawberry.ID
    agency: str = strawberry.field(description="Who recorded it (the organisation, or the client's own sign-in).")
    channel: ContactChannel
    address: str = strawberry.field(description="The phone number (+E.164) or the email address.")
    verified: bool = strawberry.field(description="Proven to reach the client by a code sent there and returned. "
                                      "No code is sent yet: always false, and reminders go to opted-in points "
                                      "whether verified or not.")
    opted_in: bool = strawberry.field(description="Whether the client agreed to be contacted here.")
    opt_in_source: str | None = strawberry.field(description="Where the opt-in (or its withdrawal) came from: a "
                                                 "signed form's reference, or the client's own sign-in.")
    opt_in_changed_at: datetime
    recorded_by: str
    recorded_at: datetime


@strawberry.type(description="How a client prefers to be reached.")
class ContactPreferences:
    agency: str = strawberry.field(description="Who recorded them (the organisation, or the client's own sign-in).")
    preferred_channel: ContactChannel | None
    language: str = strawberry.field(description="The language messages are written in (e.g. en, es).")
    quiet_hours_from: str | None = strawberry.field(description="No messages from this time (HH:MM, local) ...")
    quiet_hours_until: str | None = strawberry.field(description="... until this time (may be past midnight).")
    recorded_at: datetime


@strawberry.type(description="How to reach the client (category contact, held in casebridge): phone numbers and "
                 "email addresses with the client's opt-in, and their preferences. The holder's staff see what "
                 "they recorded, another organisation only with the client's consent naming contact, the client "
                 "all of it.")
class ContactSection:
    access: list[SourceAccess]
    points: list[ContactPoint] | None = strawberry.field(description="Newest first; null when nothing was shown.")
    preferences: ContactPreferences | None = strawberry.field(description="The newest shown (each holder records "
                                                              "its own); null when none.")
    messages: list[ClientMessage] | None = strawberry.field(description="Messages sent (or to be sent) to the "
                                                            "client, newest first; null when nothing was shown.")


def contact_point_view(c: held.ContactPoint) -> ContactPoint:
    """The public face of one contact point."""
    return ContactPoint(id=strawberry.ID(c.id), agency=c.holder, channel=ContactChannel(c.channel), address=c.address,
                        verified=c.verified, opted_in=c.opted_in, opt_in_source=c.opt_in_source,
                        opt_in_changed_at=c.opt_in_changed_at, recorded_by=c.recorded_by, recorded_at=c.recorded_at)


def contact_preferences_view(p: held.ContactPreference) -> ContactPreferences:
    """The public face of a client's contact preferences."""
    return ContactPreferences(agency=p.holder, language=p.language,
                              preferred_channel=ContactChannel(p.preferred_channel) if p.preferred_channel else None,
                              quiet_hours_from=p.quiet_from, quiet_hours_until=p.quiet_until,
                              recorded_at=p.recorded_at)


def note_view(n: held.CaseNote) -> CaseNote:
    """The public face of one case note."""
    return CaseNote(id=strawberry.ID(n.id), agency=n.holder, author=n.author, text=n.text,
                    shared_with_client=n.shared_with_client, created_at=n.created_at)


def source_access(part: SectionResult) -> SourceAccess:
    """The public face of one agency's part of a section."""
    return SourceAccess(
        category=part.category, agency=part.holder, connector=part.connector,
        status=part.status, reason=part.decision.reason,
        basis=basis_of(part.decision.basis) if part.decision.permit else None,
        as_of=part.as_of, error_code=error_code(part.error.code) if part.error else None,
        limited_to_data_period=part.decision.permit and part.decision.data_periods is not None,
    )


def shown(parts: list[SectionResult]) -> list[SectionResult] | None:
    """The shown parts, or None when none was shown; raises when every part failed."""
    failed = [p for p in parts if p.status is SectionStatus.FAILED]
    if parts and len(failed) == len(parts):
        assert failed[0].error is not None
        raise failed[0].error  # the section is null, the error says which agency and why
    return shown_only(parts) or None


def identity_records(parts: list[SectionResult]) -> list[IdentityRecord]:
    """Identity records from the shown parts."""
    out = []
    for p in parts:
        d: rec.Demographics | None = p.data
        if d is not None:
            out.append(IdentityRecord(agency=p.holder, first_name=d.first_name, middle_name=d.middle_name,
                                      last_name=d.last_name, date_of_birth=d.dob, sex=d.sex,
                                      not_for_release=list(d.not_for_release)))
    return out


def benefit_cases(parts: list[SectionResult]) -> list[BenefitCase]:
    """Benefit cases from the shown parts."""
    return [
        BenefitCase(
            agency=p.holder, case_number=c.case_number, status=c.status, relationship=c.relationship,
            household_size=c.household_size,
            programs=[program_view(pr) for pr in c.programs],
            notices=[notice_view(n) for n in c.notices],
        )
        for p in parts for c in p.data
    ]


def student_record(r: rec.SchoolingRecord) -> StudentRecord:
    """The public face of one district's record of a student."""
    today = datetime.now(UTC).date()  # as the connector dates pending transfers
    return StudentRecord(
        agency=r.agency, student_id=r.student_id, current_school=r.current_school, current_grade=r.current_grade,
        enrollments=[enrollment_view(e) for e in r.enrollments],
        transfers=[transfer_view(t) for t in r.transfers],
        homeless_program=[homeless_view(h) for h in r.homeless],
        in_homeless_program_now=any(h.begin_date <= today and (h.end_date is None or h.end_date >= today)
                                    for h in r.homeless),
        overlapping_enrollments=r.overlapping, unreadable=list(r.unreadable),
    )


def shown_only(parts: list[SectionResult]) -> list[SectionResult]:
    """The shown parts of a category read alongside a section (what a message or a copy is about): never raises,
    so that an agency down in that category fails its own section, not this one."""
    return [p for p in parts if p.status is SectionStatus.SHOWN]


def program_view(pr: rec.BenefitProgram) -> BenefitProgram:
    """The public face of one BenefitProgram record."""
    return BenefitProgram(
        program=pr.program, status=pr.status, certification_start=pr.certification_start,
        certification_end=pr.certification_end, amount=pr.amount, currency=pr.currency, frequency=pr.frequency)


def notice_view(n: rec.Notice) -> Notice:
    """The public face of one Notice record."""
    return Notice(
        notice_id=n.notice_id, type=n.type, issued_on=n.issued_on, response_due_on=n.response_due_on)


def enrollment_view(e: rec.SchoolEnrollment) -> SchoolEnrollment:
    """The public face of one SchoolEnrollment record."""
    return SchoolEnrollment(
        school_id=e.school_id, school_name=e.school_name, entry_date=e.entry_date, entry_grade=e.entry_grade,
        exit_date=e.exit_date, exit_type=e.exit_type, primary=e.primary, school_year=e.school_year,
        current=e.current)


def transfer_view(t: rec.SchoolTransfer) -> SchoolTransfer:
    """The public face of one SchoolTransfer record."""
    return SchoolTransfer(
        from_school=t.from_school, to_school=t.to_school, exit_date=t.exit_date, entry_date=t.entry_date,
        days_out_of_school=t.days_out_of_school, pending=t.entry_date is None)


def homeless_view(h: rec.HomelessProgramStatus) -> HomelessProgramStatus:
    """The public face of one HomelessProgramStatus record."""
    return HomelessProgramStatus(
        begin_date=h.begin_date, end_date=h.end_date, nighttime_residence=h.nighttime_residence,
        unaccompanied_youth=h.unaccompanied_youth)


def appointment_view(a: rec.Appointment, reminders: list[held.SentMessage] | None = None) -> Appointment:
    """The public face of one Appointment record, with its reminders."""
    return Appointment(
        appointment_id=a.appointment_id, agency=a.agency, type=a.type, scheduled_at=a.scheduled_at,
        duration_minutes=a.duration_minutes, mode=a.mode, location=a.location, status=a.status, at_stake=a.at_stake,
        held_here=a.held_here, reminders=[reminder_view(m) for m in reminders or []])


def reminder_view(m: held.SentMessage) -> Reminder:
    """The public face of a reminder, as part of its appointment."""
    return Reminder(channel=ContactChannel(m.channel), status=MessageStatus(m.status), send_after=m.send_after,
                    sent_at=m.sent_at, error=m.error)


def message_view(m: held.SentMessage) -> ClientMessage:
    """The public face of a message to the client."""
    return ClientMessage(id=strawberry.ID(m.id), agency=m.holder, about=held.about(m.subject)[1], kind=m.kind,
                         channel=ContactChannel(m.channel),
                         status=MessageStatus(m.status), send_after=m.send_after, sent_at=m.sent_at, body=m.body,
                         error=m.error)


def document_view(d: rec.RequiredDocument) -> RequiredDocument:
    """The public face of one RequiredDocument record."""
    return RequiredDocument(
        document_id=d.document_id, agency=d.agency, type=d.type, due_on=d.due_on, status=d.status,
        accepted_on=d.accepted_on)


def stay_view(s: rec.HousingEnrollment) -> HousingEnrollment:
    """The public face of one HousingEnrollment record."""
    return HousingEnrollment(
        enrollment_id=s.enrollment_id, agency=s.agency, project_name=s.project_name, project_type=s.project_type,
        project_type_name=s.project_type_name, entry_date=s.entry_date, move_in_date=s.move_in_date,
        exit_date=s.exit_date, destination=s.destination, destination_class=s.destination_class,
        household_id=s.household_id, relationship_to_head=s.relationship_to_head, status=s.status,
        chronic_at_entry=ChronicStatus(s.chronic_at_entry) if s.chronic_at_entry else None,
        chronic_reason=s.chronic_reason, employment=[employment_view(r) for r in s.employment])


def employment_view(r: rec.EmploymentStatus) -> EmploymentStatus:
    """The public face of one EmploymentStatus record."""
    return EmploymentStatus(information_date=r.information_date, data_collection_stage=r.data_collection_stage,
                            employed=r.employed, employment_type=r.employment_type,
                            not_employed_reason=r.not_employed_reason)




def chronic_view(stays: list[rec.HousingEnrollment], today: date | None = None) -> ChronicHomelessness | None:
    """The status at the start of the newest stay that says, and for a YES the shelter system's stays that
    support it (ES, SO and SH stays overlapping the three years counted) and whether they show the time."""
    found = _chronic(stays, today or datetime.now(UTC).date())
    return found[0] if found else None


def _chronic(stays: list[rec.HousingEnrollment], today: date,
             ) -> tuple[ChronicHomelessness, list[rec.HousingEnrollment], rec.HousingEnrollment, StayTime] | None:
    """The finding, its supporting stays, the stay it was decided at and what the stays show of the time."""
    decided = [s for s in stays if s.chronic_at_entry is not None]
    if not decided:
        return None
    newest = max(decided, key=lambda s: (s.entry_date, s.enrollment_id))
    status = ChronicStatus(newest.chronic_at_entry or "MISSING")
    # counted up to the point it is decided at: a shelter, outreach or safe-haven stay's own time counts (an open
    # one up to today); any other project (housing) looks back from its start, as HUD's "at project start" does
    until = min(newest.exit_date or today, today) if newest.project_type in STREET_SHELTER_SAFE_HAVEN \
        else newest.entry_date
    street = [s for s in stays if s.project_type in STREET_SHELTER_SAFE_HAVEN]
    # counts only the nights inside the three years, whichever of these stays are outside them
    time = time_in_stays(((s.entry_date, s.exit_date) for s in street), until=until)
    since = time.since
    support = sorted((s for s in street if s.entry_date <= until and (s.exit_date is None or s.exit_date >= since)),
                     key=lambda s: (s.entry_date, s.enrollment_id))
    yes = status is ChronicStatus.YES
    view = ChronicHomelessness(
        status=status, reason=newest.chronic_reason or "", enrollment_id=newest.enrollment_id,
        entry_date=newest.entry_date, supporting_stays=[stay_view(s) for s in support] if yes else [],
        verified_by_stays=yes and time.shows_chronic, nights_in_stays=time.nights if yes else None,
        occasions=time.occasions if yes else None, counted_from=since if yes else None,
        counted_to=until if yes else None)
    return view, support, newest, time


@strawberry.type(description="One client's unified profile: every section decided, fetched and audited by the gate.")
class ClientProfile:
    id: strawberry.ID
    disclosure: strawberry.Private[Disclosure]

    @strawberry.field(description="Identity basics from each permitted agency.")
    def identity(self) -> IdentitySection | None:
        parts = self.disclosure.parts(_Category.IDENTITY)
        visible = shown(parts)
        return IdentitySection(access=[source_access(p) for p in parts],
                               records=identity_records(visible) if visible else None)

    @strawberry.field(description="Benefits: cases, programs, certification periods, notices.")
    def benefits(self) -> BenefitsSection | None:
        parts = self.disclosure.parts(_Category.BENEFITS)
        visible = shown(parts)
        return BenefitsSection(access=[source_access(p) for p in parts],
                               cases=benefit_cases(visible) if visible else None)

    @strawberry.field(description="Housing: shelter stays, housing enrollments, moves, exits; in shelter now.")
    def housing(self) -> HousingSection | None:
        parts = self.disclosure.parts(_Category.HOUSING)
        visible = shown(parts)
        if not visible:
            return HousingSection(access=[source_access(p) for p in parts], in_shelter_now=None, enrollments=None,
                                  chronic_homelessness=None)
        stays = sorted((s for p in visible for s in p.data), key=lambda s: s.entry_date, reverse=True)
        return HousingSection(
            access=[source_access(p) for p in parts],
            in_shelter_now=any(s.status == "IN_SHELTER" for s in stays),
            enrollments=[stay_view(s) for s in stays], chronic_homelessness=chronic_view(stays))

    @strawberry.field(description="Schooling: current school and grade, enrollments, transfers and the days "
                      "between them, homeless program status.")
    def schooling(self) -> SchoolingSection | None:
        parts = self.disclosure.parts(_Category.SCHOOLING)
        visible = shown(parts)
        return SchoolingSection(access=[source_access(p) for p in parts],
                                students=[student_record(r) for p in visible for r in p.data] if visible else None)

    @strawberry.field(description="Appointments from every permitted agency and those scheduled here, soonest "
                      "first, each with its reminders.")
    def appointments(self) -> AppointmentsSection | None:
        parts = self.disclosure.parts(_Category.APPOINTMENTS)
        visible = shown(parts)
        if not visible:
            return AppointmentsSection(access=[source_access(p) for p in parts], items=None)
        # an appointment's reminders: the messages about it the caller was shown of the client's contact details
        # (asked for with them: resolvers/schema.NESTED_CATEGORIES), never more
        reminders: dict[str, list[held.SentMessage]] = {}
        for m in (i for p in shown_only(self.disclosure.parts(_Category.CONTACT)) for i in p.data):
            if isinstance(m, held.SentMessage) and m.kind == "appointment_reminder":
                reminders.setdefault(m.subject, []).append(m)
        def of(holder: str, a: rec.Appointment) -> list[held.SentMessage]:
            found = reminders.get(held.subject("appointment", holder, a.appointment_id), [])
            return sorted(found, key=lambda m: m.send_after)

        found = sorted((appointment_view(a, of(p.holder, a)) for p in visible for a in p.data),
                       key=lambda a: a.scheduled_at)
        return AppointmentsSection(access=[source_access(p) for p in parts], items=found)

    @strawberry.field(description="Documents agencies asked for, with due dates and status.")
    def documents(self, info: strawberry.Info) -> DocumentsSection | None:
        parts = self.disclosure.parts(_Category.DOCUMENTS)
        visible = shown(parts)
        if not visible:
            return DocumentsSection(access=[source_access(p) for p in parts], items=None, requests=None, files=None)
        # a copy of a sensitive kind (immigration papers) only where the gate opens its category too
        found = [i for _, i in without_sensitive(self.disclosure, parts_found(visible),
                                                       info.context.checklists)]
        kinds = info.context.checklists.documents
        records = [r for r in found if isinstance(r, DocumentRecordData)]
        return DocumentsSection(
            access=[source_access(p) for p in parts],
            items=[document_view(d) for d in found if isinstance(d, rec.RequiredDocument)],
            requests=sorted((request_view(r, kinds.get(r.document)) for r in records),
                            key=lambda r: (r.due_on or date.max, str(r.id))),
            files=_files_view([f for f in found if isinstance(f, SentFile)], records))

    @strawberry.field(description="Case notes held in casebridge (category casework), newest first.")
    def casework(self, info: strawberry.Info) -> CaseworkSection | None:
        parts = self.disclosure.parts(_Category.CASEWORK)
        visible = shown(parts)
        found = [i for p in visible or [] for i in p.data]
        notes = sorted((n for n in found if isinstance(n, held.CaseNote)), key=lambda n: (n.created_at, n.id),
                       reverse=True)
        # a referral is in its referrer's part and its receiver's: once
        referrals = sorted({r.id: r for r in found if isinstance(r, HeldReferral)}.values(),
                           key=lambda r: (r.updated_at, r.id), reverse=True)
        # case notes and referrals are two sources of one organisation's casework: one line per part as decided
        access = list({(a.agency, a.status, a.reason, a.basis): a for a in map(source_access, parts)}.values())
        plans = sorted((x for x in found if isinstance(x, HeldPlan)), key=lambda x: (x.updated_at, x.id), reverse=True)
        catalogue = info.context.plans.catalogue
        return CaseworkSection(access=access, notes=[note_view(n) for n in notes] if visible else None,
                               referrals=[referral_view(r) for r in referrals] if visible else None,
                               plans=[plan_view(x, catalogue) for x in plans] if visible else None)

    @strawberry.field(description="Immigration and legal milestones (an application filed, a work permit "
                      "granted, a hearing set), from the organisations that recorded them.")
    def immigration_legal(self) -> ImmigrationLegalSection | None:
        parts = self.disclosure.parts(_Category.IMMIGRATION_LEGAL)
        visible = shown(parts)
        found = sorted((m for p in visible or [] for m in p.data),
                       key=lambda m: (m.occurred_on, m.recorded_at, m.id), reverse=True)
        return ImmigrationLegalSection(access=[source_access(p) for p in parts],
                                       milestones=[milestone_view(m) for m in found] if visible else None)

    @strawberry.field(description="The documents a goal needs (e.g. SUPPORTIVE_HOUSING_APPLICATION; the city's "
                      "checklists configuration) and where a copy of each already exists, as far as the gate lets "
                      "you see the client's documents at each agency and the shelter system's records.")
    def checklist(self, info: strawberry.Info, goal: str) -> Checklist:
        return checklist_view(self.disclosure, info.context.checklists, goal)

    @strawberry.field(description="The other members of the client's households in the shelter system's records, "
                      "for a household plan: each listed only where you may see the client's stay in the household "
                      "and the member's own (both read through the gate and logged); the name where you may see "
                      "the member's identity. One client's household per request.")
    async def household(self, info: strawberry.Info) -> list[HouseholdMember]:
        ctx = info.context
        ctx.once("household")  # a list of clients, or aliases, would multiply the reads of every member
        found = await ctx.plans.household(ctx.request, str(self.id))
        return [HouseholdMember(client_id=strawberry.ID(m.client_id), relationship_to_head=m.relationship_to_head,
                                first_name=m.first_name, last_name=m.last_name, date_of_birth=m.date_of_birth)
                for m in found]

    @strawberry.field(description="The goals a service plan can have (the city's plan catalogue).")
    def plan_goals(self, info: strawberry.Info) -> list[PlanGoalKind]:
        return [PlanGoalKind(code=k.code, name=k.name["en"], area=k.area, evidence=k.evidence)
                for k in info.context.plans.catalogue.values()]

    @strawberry.field(description="The goals a checklist can be asked for (the city's checklists configuration), "
                      "each with the documents it needs.")
    def checklist_goals(self, info: strawberry.Info) -> list[ChecklistGoal]:
        lists: Checklists = info.context.checklists
        return [ChecklistGoal(code=g.code, name=g.name["en"], documents=list(g.documents))
                for g in lists.goals.values()]

    @strawberry.field(description="How to reach the client (category contact): phone numbers and email addresses "
                      "with the client's opt-in, and their preferences.")
    def contact(self) -> ContactSection | None:
        parts = self.disclosure.parts(_Category.CONTACT)
        visible = shown(parts)
        found = [i for p in visible or [] for i in p.data]
        points = sorted((i for i in found if isinstance(i, held.ContactPoint)),
                        key=lambda c: (c.recorded_at, c.id), reverse=True)
        # each holder keeps its own; the newest of those the caller may see is the client's word
        pref = max((i for i in found if isinstance(i, held.ContactPreference)), key=lambda c: c.recorded_at,
                   default=None)
        # a message says when an appointment is or a notice needs an answer: shown only with what it is about
        about = {(c, p.holder) for c in (_Category.APPOINTMENTS, _Category.BENEFITS, _Category.DOCUMENTS,
                                         _Category.CASEWORK)
                 for p in shown_only(self.disclosure.parts(c))}
        sent = sorted((i for i in found if isinstance(i, held.SentMessage) and held.about(i.subject) in about),
                      key=lambda m: (m.sent_at or m.send_after, m.id), reverse=True)
        return ContactSection(access=[source_access(p) for p in parts],
                              points=[contact_point_view(c) for c in points] if visible else None,
                              preferences=contact_preferences_view(pref) if pref else None,
                              messages=[message_view(m) for m in sent] if visible else None)


def checklist_view(disclosure: Disclosure, lists: Checklists, goal_code: str) -> Checklist:
    """A goal's documents, each with the copies the disclosure shows: the agencies' document records the caller may
    see (by the codes each kind is known as), what casebridge derives from records the caller may see, and files
    sent here with the organisations' records of them (requested, accepted, rejected, expired); a copy of a
    sensitive kind (immigration papers) only where the gate opens its category too (resolvers/sensitive.py)."""
    goal = lists.goals.get(goal_code)
    if goal is None:
        raise InvalidInput(f"the goals are {', '.join(sorted(lists.goals))}", field="goal")
    docs = disclosure.parts(_Category.DOCUMENTS)
    housing = disclosure.parts(_Category.HOUSING)
    # the shown parts only: an agency that failed leaves its part FAILED in `access`, the rest of the list stands
    found = [(p.holder, d) for p, d in without_sensitive(disclosure, parts_found(shown_only(docs)), lists)]
    held_records = [d for _, d in found if isinstance(d, DocumentRecordData)]
    sent = [d for _, d in found if isinstance(d, SentFile)]
    agency_docs = [(holder, d) for holder, d in found if isinstance(d, rec.RequiredDocument)]
    stays = [(p.holder, list(p.data)) for p in shown_only(housing)]
    now = datetime.now(UTC)
    today = now.date()
    items = []
    for code in goal.documents:
        kind = lists.documents[code]
        copies = [agency_copy(holder, d, kind, today)
                  for holder, d in agency_docs if d.type in kind.known_as and d.status in ("ACCEPTED", "RECEIVED")]
        copies.extend(_derived_copies(kind, stays, today))
        mine = [r for r in held_records if r.document == code]
        requests = [request_view(r, kind, now) for r in mine]
        files = _files_view([f for f in sent if f.document == code], mine)
        copies.extend(DocumentCopy(agency=r.agency, source="UPLOAD", verified=True, status="ACCEPTED",
                                   document_id=str(r.file_id) if r.file_id else None)
                      for r in requests if r.state is DocumentRequestState.ACCEPTED)
        copies.extend(DocumentCopy(agency=f.agency, source="UPLOAD", verified=False, status="RECEIVED",
                                   document_id=str(f.id)) for f in files if f.awaiting_review and not f.purged)
        state, since = item_state(copies, requests, files)
        due = min((r.due_on for r in requests if r.due_on is not None and r.state in
                   (DocumentRequestState.REQUESTED, DocumentRequestState.REJECTED)), default=None)
        items.append(ChecklistItem(document=code, name=kind.name["en"], valid_days=kind.valid_days, state=state,
                                   needed=state in STILL_NEEDED, due_on=due, copies=copies, requests=requests,
                                   files=files, since=since,
                                   days_in_state=(today - since).days if since is not None else None))
    return Checklist(goal=goal.code, name=goal.name["en"], items=items,
                     access=[source_access(p) for p in [*docs, *housing]])


def _derived_copies(kind: DocumentKind, stays: list[tuple[str, list[Any]]], today: date) -> list[DocumentCopy]:
    """What casebridge derives of `kind` from the shelter system's stays the caller may see; each holds for the
    kind's validity from the end of the newest stay it rests on (an open one: while it is open)."""
    copies = []
    if kind.derived_from == "hmis-homelessness":  # homeless now: an open (or lately ended) stay of the kind
        for holder, mine in stays:
            homeless = [x for x in mine if x.project_type in STREET_SHELTER_SAFE_HAVEN and x.move_in_date is None]
            if homeless:
                newest = max(homeless, key=lambda x: (x.exit_date is None, x.exit_date, x.entry_date,
                                                      x.enrollment_id))
                copy = derived_copy(holder, status="IN_SHELTER_OR_ON_THE_STREETS", document_id=newest.enrollment_id,
                                    dated_on=newest.entry_date, last_day=newest.exit_date, kind=kind, today=today)
                if newest.exit_date is not None:
                    copy.status = "LEFT_LATELY" if copy.verified else "LEFT"
                copies.append(copy)
    if kind.derived_from == "hmis-chronic-homelessness":  # by HUD's definition, at the newest stay's start
        for holder, mine in stays:
            found = _chronic(mine, today)
            if found is None or found[0].status is not ChronicStatus.YES:
                continue
            view, support, decided, time = found
            shown_on = time.shown_on if view.verified_by_stays else None
            # third-party evidence only where the shelter system's own stays show the time; the intake's answers
            # alone are the client's word (they hold while the stay they were taken at does)
            rests_on = support if view.verified_by_stays else [*support, decided]
            copies.append(derived_copy(
                holder, status=view.reason, document_id=view.enrollment_id,
                dated_on=shown_on if view.verified_by_stays else decided.entry_date, last_day=_last_day(rests_on),
                kind=kind, today=today, self_reported=not view.verified_by_stays))
    return copies


def _last_day(stays: list[rec.HousingEnrollment]) -> date | None:
    """The day the newest of `stays` ended; None while one is open."""
    if any(s.exit_date is None for s in stays):
        return None
    return max(s.exit_date for s in stays if s.exit_date is not None)


def _files_view(files: list[SentFile], records: list[DocumentRecordData]) -> list[DocumentFile]:
    """Files sent, newest first; each awaiting review unless one of the records shown decided on it."""
    decided = {s.file_id for r in records for s in r.history if s.file_id}
    return [file_view(f, awaiting_review=f.id not in decided)
            for f in sorted(files, key=lambda f: (f.sent_at, f.id), reverse=True)]


# Which profile field reads which category: the gate is asked only for what the query selects.
FIELD_CATEGORIES: dict[str, _Category] = {
    "identity": _Category.IDENTITY,
    "benefits": _Category.BENEFITS,
    "housing": _Category.HOUSING,
    "schooling": _Category.SCHOOLING,
    "appointments": _Category.APPOINTMENTS,
    "documents": _Category.DOCUMENTS,
    "casework": _Category.CASEWORK,
    "contact": _Category.CONTACT,
    "immigrationLegal": _Category.IMMIGRATION_LEGAL,
}
