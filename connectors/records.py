"""Canonical record types: what every connector turns its agency's format into.

They are the connectors' public types; the gate and the resolvers see only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from connectors.hmis.employment import DataCollectionStage, Employed, EmploymentType, NotEmployedReason
from connectors.hmis.spec import PERMANENT_TYPES, SHELTER_TYPES
from core.vocabulary import Category


@dataclass(frozen=True, slots=True)
class Demographics:
    """Identity basics an agency holds for a person (category `identity`)."""

    first_name: str | None
    middle_name: str | None
    last_name: str | None
    dob: date | None
    sex: str | None
    not_for_release: tuple[str, ...] = ()  # what the agency withholds ("name": a directory opt-out), said so


@dataclass(frozen=True, slots=True)
class BenefitProgram:
    """One program on a benefits case, with its certification period."""

    program: str
    status: str
    certification_start: date | None
    certification_end: date | None
    amount: Decimal | None
    currency: str | None
    frequency: str | None


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice the agency sent, and when a response is due."""

    notice_id: str
    type: str
    issued_on: date
    response_due_on: date | None


@dataclass(frozen=True, slots=True)
class BenefitCase:
    """A benefits case as it concerns this client: their role, the programs, the notices."""

    case_number: str
    status: str
    relationship: str | None
    household_size: int
    programs: tuple[BenefitProgram, ...]
    notices: tuple[Notice, ...]


@dataclass(frozen=True, slots=True)
class Appointment:
    """An appointment the client must keep (category `appointments`)."""

    appointment_id: str
    agency: str
    type: str
    scheduled_at: datetime
    mode: str | None
    location: str | None
    status: str
    # what the client stands to lose by missing it, where the holder says so (a code such as
    # BENEFITS_RECERTIFICATION); None when it does not say
    at_stake: str | None = None
    duration_minutes: int | None = None
    held_here: bool = False  # scheduled in casebridge (by `agency`), not read from an agency's system


@dataclass(frozen=True, slots=True)
class RequiredDocument:
    """A document an agency asked the client for (category `documents`)."""

    document_id: str
    agency: str
    type: str
    due_on: date | None
    status: str
    # the day the agency accepted the copy it holds (its validity runs from it); None where it does not say
    accepted_on: date | None = None


@dataclass(frozen=True, slots=True)
class EmploymentStatus:
    """One employment record of a stay (HMIS EmploymentEducation.csv, HUD R6): what the client said on a date, and at
    which stage of the stay. `employment_type` is given only with YES, `not_employed_reason` only with NO."""

    record_id: str  # EmploymentEducationID
    information_date: date
    data_collection_stage: DataCollectionStage
    employed: Employed
    employment_type: EmploymentType | None = None
    not_employed_reason: NotEmployedReason | None = None


@dataclass(frozen=True, slots=True)
class HousingEnrollment:
    """A shelter stay or housing enrollment (category `housing`), from HMIS Enrollment, Exit, Project and
    EmploymentEducation.

    `project_type` is HUD's code (0 and 1 emergency shelter, 2 transitional
    housing, 3/9/10/13 permanent housing, ...); `destination` is the exit
    destination code and `destination_class` its group.
    """

    enrollment_id: str
    agency: str
    project_name: str
    project_type: int
    project_type_name: str
    entry_date: date
    move_in_date: date | None
    exit_date: date | None
    destination: int | None
    destination_class: str | None
    household_id: str | None
    relationship_to_head: int | None
    # chronically homeless at this project's start (HUD's glossary: YES, NO, DONT_KNOW, MISSING) and the step
    # that decided it (connectors/hmis/chronic.py); None where the source does not say
    chronic_at_entry: str | None = None
    chronic_reason: str | None = None
    # its employment records, oldest first (connectors/hmis/employment.py); none where the export carries no
    # EmploymentEducation.csv
    employment: tuple[EmploymentStatus, ...] = ()

    @property
    def status(self) -> str:
        """IN_SHELTER (open stay in shelter), HOUSED (moved in, not exited), ENROLLED (waiting), EXITED."""
        if self.exit_date is not None:
            return "EXITED"
        if self.project_type in SHELTER_TYPES:
            return "IN_SHELTER"
        if self.project_type in PERMANENT_TYPES and self.move_in_date is not None:
            return "HOUSED"
        return "ENROLLED"


@dataclass(frozen=True, slots=True)
class SchoolEnrollment:
    """One studentSchoolAssociation: a school, entered and perhaps left (descriptor code values)."""

    school_id: str
    school_name: str | None
    entry_date: date
    entry_grade: str | None
    exit_date: date | None
    exit_type: str | None
    primary: bool | None = None  # primarySchool: False for a partial or ancillary enrollment beside the main one
    school_year: int | None = None  # the school year it belongs to (Ed-Fi: the year the school year ends)
    current: bool = False  # entered, not yet left, and of this school year (decided by the connector)


@dataclass(frozen=True, slots=True)
class SchoolTransfer:
    """An exit coded as a transfer, and the next entry; pending (no entry yet) counts days to today."""

    from_school: str | None
    to_school: str | None
    exit_date: date
    entry_date: date | None
    days_out_of_school: int


@dataclass(frozen=True, slots=True)
class HomelessProgramStatus:
    """A McKinney-Vento (homeless program) association and the primary nighttime residence."""

    begin_date: date
    end_date: date | None
    nighttime_residence: str | None  # SHELTER, DOUBLED_UP, HOTEL_MOTEL, UNSHELTERED, OTHER (configured mapping)
    unaccompanied_youth: bool | None


@dataclass(frozen=True, slots=True)
class SchoolingRecord:
    """A student's record at one district (category `schooling`)."""

    student_id: str
    agency: str
    current_school: str | None
    current_grade: str | None
    enrollments: tuple[SchoolEnrollment, ...]
    transfers: tuple[SchoolTransfer, ...]
    homeless: tuple[HomelessProgramStatus, ...]
    overlapping: bool = False  # more than one primary enrollment current at once: the district's records disagree
    unreadable: tuple[str, ...] = ()  # Ed-Fi resources the district refused casebridge: what they carry is missing


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One agency's data about one person, split by category."""

    local_id: str
    sections: dict[Category, Any] = field(default_factory=dict)
    # per category, why part of it is missing (e.g. a resource the agency's API refused): the section is shown
    # with what was read, and says what is not there
    incomplete: dict[Category, Any] = field(default_factory=dict)  # Category -> core.errors.AgencyError


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one connector call returned: records by local id, and when they were true.

    A local id the agency does not know is simply absent.
    """

    as_of: datetime
    records: dict[str, SourceRecord]


@dataclass(frozen=True, slots=True)
class SourcePerson:
    """One agency's demographics of one person, for the identity index (never program data).

    `*_quality` are HUD HMIS data-quality codes where the source has them (1 full,
    2 partial, 8/9/99 unknown, refused, not collected); None where it has none.
    """

    source: str
    local_id: str
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    dob: date | None
    sex: str | None
    ssn: str | None = None  # 9 characters, 'x' for unknown digits (HMIS)
    ssn_last4: str | None = None
    ssn_quality: int | None = None
    name_quality: int | None = None
    dob_quality: int | None = None
    cin: str | None = None
    student_id: str | None = None
    address: str | None = None  # the street line (number, street, unit)
    zip: str | None = None
    phone: str | None = None
    updated: datetime | None = None
    # since when the agency has known the person (its earliest enrolment or entry): a date of birth after it is
    # weak evidence (a typo, or the date of the enrolment written in the wrong field)
    known_since: date | None = None
    # what the agency marks not for release ("address", "phone": a FERPA directory-information opt-out): left out
    # above, and said so, so that a steward reads "withheld", not "unknown"
    not_for_release: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PeopleBatch:
    """The people changed since a watermark, and the watermark to ask from next time (opaque to callers)."""

    people: list[SourcePerson]
    watermark: str
