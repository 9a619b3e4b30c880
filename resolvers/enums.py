"""The domain's enums, each exposed once in the schema: strawberry.enum registers the class itself (and returns
it), so the schema's names are the domain's classes. Registered here, before any GraphQL type names one (a type
that named an enum not yet registered would make a second definition of it)."""

from __future__ import annotations

import strawberry

from connectors.held_legal import Milestone
from connectors.held_plans import Barrier, GoalStatus, ProgressChange, TaskOwner, TaskStatus
from connectors.held_referrals import ReferralReason, ReferralStatus
from connectors.hmis.chronic import ChronicStatus
from connectors.hmis.employment import DataCollectionStage, Employed, EmploymentType, NotEmployedReason
from core.errors import ErrorCode
from core.vocabulary import Category as _Category
from core.vocabulary import Role as _Role
from gate import SectionStatus
from gate.appointment_desk import AppointmentChange as _AppointmentChange
from gate.appointment_desk import AppointmentMode as _AppointmentMode
from gate.appointment_desk import AppointmentType as _AppointmentType
from gate.appointment_desk import AtStake as _AtStake
from gate.document_desk import RejectReason
from policies.decisions import Basis
from policies.decisions import WithheldReason as _WithheldReason

# The domain's enums, each exposed once: strawberry.enum registers the class itself (and returns it), so the
# schema's names are the domain's classes, by another name here.
strawberry.enum(_Category, description="The unit of consent and of disclosure.")
strawberry.enum(_Role, description="What a caller does.")
strawberry.enum(_WithheldReason, description="Why a section is withheld, and so what would allow it.")
strawberry.enum(_AppointmentType, description="What is scheduled in casebridge (an agency's appointments keep "
                "their own types).")
strawberry.enum(_AppointmentMode, description="Where an appointment takes place.")
strawberry.enum(_AtStake, description="What missing an appointment would cost the client.")
strawberry.enum(_AppointmentChange, description="What becomes of an appointment held here.")
strawberry.enum(ChronicStatus, description=(
    "HUD's answer: YES, NO, DONT_KNOW (the client doesn't know or prefers not to answer), MISSING (data not "
    "collected)."))
strawberry.enum(Employed, description=(
    "HUD's answer to \"Employed?\" (HMIS R6): YES, NO, CLIENT_DOESNT_KNOW, CLIENT_PREFERS_NOT_TO_ANSWER, "
    "DATA_NOT_COLLECTED."))
strawberry.enum(EmploymentType, description="HUD's type of employment (R6.A), asked of someone employed; "
                "SEASONAL_SPORADIC includes day labor.")
strawberry.enum(NotEmployedReason, description="HUD's reason not employed (R6.B), asked of someone not employed.")
strawberry.enum(DataCollectionStage, description="When in a stay HMIS collected a record: at project start, an "
                "update, an annual assessment, project exit, or after exit.")
Category = _Category
Role = _Role
WithheldReason = _WithheldReason


strawberry.enum(Basis, description="What a disclosure rested on: the caller's own agency's records, the client "
                "reading their own, identity stewardship, the client's consent, FERPA's health-or-safety "
                "emergency (34 CFR 99.36), or break-glass.")
strawberry.enum(ErrorCode, description="What went wrong: the code of a GraphQL error's extensions, and of a "
                "section that failed or was shown in part.")
strawberry.enum(SectionStatus, name="AccessStatus",
                description="Whether a section from one agency was shown, withheld or failed.")
AccessStatus = SectionStatus  # the gate's own enum, under the schema's name
strawberry.enum(RejectReason, description="Why a file sent was not accepted.")
strawberry.enum(ReferralStatus, description="FHIR Task's statuses (R4, upper case) a referral moves through, and "
                "EXPIRED: nobody answered in time.")
strawberry.enum(ReferralReason, description="Why a referral was rejected, failed or was cancelled.")

strawberry.enum(GoalStatus, name="PlanGoalStatus", description="Where a plan's goal stands.")
strawberry.enum(TaskOwner, name="PlanTaskOwner", description="Who does a plan's task: the plan's organisation, a "
                "partner organisation, or the client.")
strawberry.enum(TaskStatus, name="PlanTaskStatus", description="Where a plan's task stands.")
strawberry.enum(ProgressChange, description="What changed, in a progress note on a goal.")
strawberry.enum(Barrier, description="A barrier met on the way to a goal.")
strawberry.enum(Milestone, name="LegalMilestoneKind", description="A step of an immigration or legal case "
                "(USCIS and EOIR forms: I-589 asylum, I-821 TPS, G-28/EOIR-28 representation, AR-11/EOIR-33 change "
                "of address, I-765 work authorization).")

__all__ = [
                "AccessStatus",
                "Barrier",
                "Basis",
                "Category",
                "ChronicStatus",
                "DataCollectionStage",
                "Employed",
                "EmploymentType",
                "ErrorCode",
                "GoalStatus",
                "Milestone",
                "NotEmployedReason",
                "ProgressChange",
                "ReferralReason",
                "ReferralStatus",
                "RejectReason",
                "Role",
                "TaskOwner",
                "TaskStatus",
                "WithheldReason",
]
