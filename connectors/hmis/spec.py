"""The HUD HMIS CSV layouts casebridge reads and the demo writes (FY2024 and FY2026).

Column names are the specification's. Only the files casebridge imports are
listed in full; the reader looks columns up by name, so their order and any
columns we do not use do not matter, and a missing column we need is reported.
"""

from __future__ import annotations

from enum import StrEnum

META = ("DateCreated", "DateUpdated", "UserID", "DateDeleted", "ExportID")

EXPORT = (
    "ExportID", "SourceType", "SourceID", "SourceName", "SourceContactFirst", "SourceContactLast",
    "SourceContactPhone", "SourceContactExtension", "SourceContactEmail", "ExportDate", "ExportStartDate",
    "ExportEndDate", "SoftwareName", "SoftwareVersion", "CSVVersion", "ExportPeriodType", "ExportDirective",
    "HashStatus", "ImplementationID",
)
ORGANIZATION = ("OrganizationID", "OrganizationName", "VictimServiceProvider", "OrganizationCommonName", *META)
PROJECT = (
    "ProjectID", "OrganizationID", "ProjectName", "ProjectCommonName", "OperatingStartDate", "OperatingEndDate",
    "ContinuumProject", "ProjectType", "HousingType", "RRHSubType", "ResidentialAffiliation", "TargetPopulation",
    "HOPWAMedAssistedLivingFac", "PITCount", *META,
)
_RACE = ("AmIndAKNative", "Asian", "BlackAfAmerican", "HispanicLatinaeo", "MidEastNAfrican", "NativeHIPacific",
         "White", "RaceNone", "AdditionalRaceEthnicity")
_GENDER_2024 = ("Woman", "Man", "NonBinary", "CulturallySpecific", "Transgender", "Questioning",
                "DifferentIdentity", "GenderNone", "DifferentIdentityText")
_VETERAN = ("VeteranStatus", "YearEnteredService", "YearSeparated", "WorldWarII", "KoreanWar", "VietnamWar",
            "DesertStorm", "AfghanistanOEF", "IraqOIF", "IraqOND", "OtherTheater", "MilitaryBranch", "DischargeStatus")
_NAMES = ("PersonalID", "FirstName", "MiddleName", "LastName", "NameSuffix", "NameDataQuality", "SSN",
          "SSNDataQuality", "DOB", "DOBDataQuality")
CLIENT_2024 = (*_NAMES, *_RACE, *_GENDER_2024, *_VETERAN, *META)
CLIENT_2026 = (*_NAMES, *_RACE, "Sex", *_VETERAN, *META)
ENROLLMENT = (
    "EnrollmentID", "PersonalID", "ProjectID", "EntryDate", "HouseholdID", "RelationshipToHoH", "EnrollmentCoC",
    "LivingSituation", "RentalSubsidyType", "LengthOfStay", "LOSUnderThreshold", "PreviousStreetESSH",
    "DateToStreetESSH", "TimesHomelessPastThreeYears", "MonthsHomelessPastThreeYears", "DisablingCondition",
    "DateOfEngagement", "MoveInDate", "DateOfPATHStatus", "ClientEnrolledInPATH", "ReasonNotEnrolled",
    "PercentAMI", "ReferralSource", "CountOutreachReferralApproaches", *META,
)
EXIT = (
    "ExitID", "EnrollmentID", "PersonalID", "ExitDate", "Destination", "DestinationSubsidyType",
    "OtherDestination", "HousingAssessment", "SubsidyInformation", "ProjectCompletionStatus", "EarlyExitReason",
    *META,
)
# the same columns in FY2024 and FY2026; casebridge reads the employment ones (R6, Employment Status), not the
# education ones (LastGradeCompleted, SchoolStatus)
EMPLOYMENT_EDUCATION = (
    "EmploymentEducationID", "EnrollmentID", "PersonalID", "InformationDate", "LastGradeCompleted", "SchoolStatus",
    "Employed", "EmploymentType", "NotEmployedReason", "DataCollectionStage", *META,
)


class Layout(StrEnum):
    """The column set an export uses, from Export.csv's CSVVersion."""

    FY2024 = "2024"
    FY2026 = "2026"

    @classmethod
    def of(cls, csv_version: str) -> Layout | None:
        """FY2024 for "2024 v1.3", FY2026 for "2026 v1.0"; None for anything else."""
        head = csv_version.strip().split(" ")[0]
        return cls(head) if head in {m.value for m in cls} else None


def layout_files(layout: Layout) -> dict[str, tuple[str, ...]]:
    """The files casebridge writes and imports, with their columns, in dependency order."""
    return {
        "Export.csv": EXPORT, "Organization.csv": ORGANIZATION, "Project.csv": PROJECT,
        "Client.csv": CLIENT_2024 if layout is Layout.FY2024 else CLIENT_2026,
        "Enrollment.csv": ENROLLMENT, "Exit.csv": EXIT, "EmploymentEducation.csv": EMPLOYMENT_EDUCATION,
    }


# The columns each file must have for casebridge to use it (beyond META, which every file but Export needs).
REQUIRED = {
    "Export.csv": ("ExportID", "SourceID", "ExportDate", "ExportStartDate", "ExportEndDate", "CSVVersion",
                   "ExportDirective"),
    "Organization.csv": ("OrganizationID", "OrganizationName"),
    "Project.csv": ("ProjectID", "OrganizationID", "ProjectName", "ProjectType"),
    "Client.csv": ("PersonalID", "FirstName", "MiddleName", "LastName", "NameDataQuality", "SSN", "SSNDataQuality",
                   "DOB", "DOBDataQuality"),
    "Enrollment.csv": ("EnrollmentID", "PersonalID", "ProjectID", "EntryDate", "HouseholdID", "RelationshipToHoH",
                       "MoveInDate"),
    "Exit.csv": ("ExitID", "EnrollmentID", "PersonalID", "ExitDate", "Destination"),
    "EmploymentEducation.csv": ("EmploymentEducationID", "EnrollmentID", "PersonalID", "InformationDate", "Employed",
                                "EmploymentType", "NotEmployedReason", "DataCollectionStage"),
}
# The data files casebridge imports (a full refresh must carry each), in dependency order.
IMPORTED = ("Project.csv", "Client.csv", "Enrollment.csv", "Exit.csv")
# Imported when an export carries them: many CoCs' exports do, some do not. A full refresh without one has none of
# its rows (not an error); a delta or a period's export without one changes none of them.
SUPPLEMENTARY = ("EmploymentEducation.csv",)
# Every file casebridge reads, in dependency order (a file is read after those its rows refer to). Organization.csv
# is optional too: a project's organisation name is shown if present.
READ = ("Organization.csv", *IMPORTED, *SUPPLEMENTARY)

PROJECT_TYPES = {
    0: "Emergency Shelter - Entry Exit", 1: "Emergency Shelter - Night-by-Night", 2: "Transitional Housing",
    3: "PH - Permanent Supportive Housing", 4: "Street Outreach", 6: "Services Only", 7: "Other",
    8: "Safe Haven", 9: "PH - Housing Only", 10: "PH - Housing with Services", 11: "Day Shelter",
    12: "Homelessness Prevention", 13: "PH - Rapid Re-Housing", 14: "Coordinated Entry",
}
SHELTER_TYPES = frozenset({0, 1, 2, 8})  # a night in one of these is a night in shelter
PERMANENT_TYPES = frozenset({3, 9, 10, 13})  # housed once MoveInDate is set


# HUD's response lists (HMIS Data Dictionary FY2024, unchanged in FY2026) for EmploymentEducation.csv
DATA_COLLECTION_STAGES = {1: "project start", 2: "update", 3: "project exit", 5: "annual assessment",
                          6: "post-exit"}  # 5.03.1
NO_YES_REASONS = {0: "no", 1: "yes", 8: "client doesn't know", 9: "client prefers not to answer",
                  99: "data not collected"}  # 1.8
EMPLOYMENT_TYPES = {1: "full-time", 2: "part-time", 3: "seasonal / sporadic (including day labor)",
                    99: "data not collected"}  # R6.A
NOT_EMPLOYED_REASONS = {1: "looking for work", 2: "unable to work", 3: "not looking for work",
                        99: "data not collected"}  # R6.B


def destination_class(code: int | None) -> str | None:
    """HUD's destination groups: homeless, institutional, temporary, permanent, other."""
    if code is None:
        return None
    return {1: "homeless", 2: "institutional", 3: "temporary", 4: "permanent"}.get(code // 100, "other")
