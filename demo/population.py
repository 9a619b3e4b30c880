"""A seeded synthetic population with the benefits agency's view of each person.

The generator knows the truth (which agency records are the same person) so the
demo can link them and, later, identity resolution can be scored against it.
Everything here is invented: names come from pools of common names, SSNs use
the 9xx area numbers that are never issued, CINs follow the format only.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from demo import variants
from demo.names import BOROUGH_ZIPS, STREETS, pick_first_name, pick_surname

TWO_PART = ("Garcia", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Perez", "Sanchez", "Ramirez",
            "Torres", "Rivera", "Cruz", "Reyes", "Morales", "Ortiz", "Gutierrez", "Diaz", "Vargas", "Castillo")
PROGRAMS = ("SNAP", "CASH_ASSISTANCE", "MEDICAID", "RENTAL_ASSISTANCE", "HEAP")
DOCUMENT_TYPES = (
    "PROOF_OF_IDENTITY", "BIRTH_CERTIFICATE", "PROOF_OF_INCOME", "PROOF_OF_ADDRESS",
    "SSN_CARD", "IMMIGRATION_STATUS", "LEASE_OR_SHELTER_LETTER",
)


@dataclass(slots=True)
class Person:
    """One synthetic person: the truth behind every agency record about them."""

    client_id: str
    first_name: str
    last_name: str
    dob: date
    sex: str
    ssn: str | None
    cin: str | None
    household: int
    relationship: str
    address: str
    zip: str
    phone: str | None
    benefits_id: str | None = None
    hmis_id: str | None = None
    student_id: str | None = None  # Ed-Fi studentUniqueId


@dataclass(slots=True)
class HmisData:
    """The shelter system's records (HUD HMIS CSV fields by name; the export writer adds the rest)."""

    source_id: str = "NYC-DHS-HMIS"
    source_name: str = "Department of Homeless Services (synthetic)"
    organizations: list[dict[str, object]] = field(default_factory=list)
    projects: list[dict[str, object]] = field(default_factory=list)
    clients: list[dict[str, object]] = field(default_factory=list)
    enrollments: list[dict[str, object]] = field(default_factory=list)
    exits: list[dict[str, object]] = field(default_factory=list)
    employment: list[dict[str, object]] = field(default_factory=list)  # EmploymentEducation.csv


@dataclass(slots=True)
class EdfiData:
    """The school district's records, as Ed-Fi ODS/API v7 resources (descriptors as URIs)."""

    schools: list[dict[str, object]] = field(default_factory=list)
    students: list[dict[str, object]] = field(default_factory=list)
    school_associations: list[dict[str, object]] = field(default_factory=list)
    homeless_associations: list[dict[str, object]] = field(default_factory=list)
    # studentEducationOrganizationAssociations: where the district reaches the student (home address, phone)
    education_organization_associations: list[dict[str, object]] = field(default_factory=list)


@dataclass(slots=True)
class Population:
    """People, and each agency's records about them keyed by the agency's local id."""

    seed: int
    today: date
    people: list[Person] = field(default_factory=list)
    benefits: dict[str, dict[str, object]] = field(default_factory=dict)
    hmis: HmisData = field(default_factory=HmisData)
    edfi: EdfiData = field(default_factory=EdfiData)

    def links(self) -> list[tuple[str, str, str]]:
        """The true crosswalk: (client id, source, local id)."""
        out = [(p.client_id, "benefits", p.benefits_id) for p in self.people if p.benefits_id]
        out += [(p.client_id, "hmis", p.hmis_id) for p in self.people if p.hmis_id]
        return out + [(p.client_id, "edfi", p.student_id) for p in self.people if p.student_id]


def generate(*, seed: int = 7, households: int = 60, today: date | None = None) -> Population:
    """Generate `households` families (1-6 people each) and their benefits records."""
    rng = random.Random(seed)
    today = today or datetime.now(UTC).date()
    pop = Population(seed=seed, today=today)
    next_person = 1
    issued: set[str] = set()  # an SSN or a CIN names one person
    for h in range(households):
        size = rng.choices((1, 2, 3, 4, 5, 6), weights=(30, 20, 20, 15, 10, 5))[0]
        surname = pick_surname(rng)
        if surname in TWO_PART and rng.random() < 0.35:  # a paternal and a maternal surname
            surname = f"{surname} {rng.choice(TWO_PART)}"
        address = f"{rng.randint(1, 2999)} {rng.choice(STREETS)}, Apt {rng.randint(1, 40)}"
        zip_code = rng.choice(BOROUGH_ZIPS)
        asylum = rng.random() < 0.12
        members: list[Person] = []
        given: set[str] = set()  # parents do not give two of their children one name
        for i in range(size):
            rel = "HEAD" if i == 0 else ("SPOUSE" if i == 1 and size > 2 and rng.random() < 0.6 else "CHILD")
            sex = rng.choice("FM")
            age = rng.randint(19, 64) if rel in ("HEAD", "SPOUSE") else rng.randint(0, 18)
            first_name = pick_first_name(rng, sex)
            while first_name in given:
                first_name = pick_first_name(rng, sex)
            given.add(first_name)
            person = Person(
                client_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                first_name=first_name,
                last_name=surname,
                dob=today - timedelta(days=age * 365 + rng.randint(0, 364)),
                sex=sex,
                ssn=None if asylum else _unique(issued, lambda: f"9{rng.randint(0, 99):02d}{rng.randint(1, 99):02d}"
                                                            f"{rng.randint(1, 9999):04d}"),
                cin=_unique(issued, lambda: _cin(rng)),
                household=h,
                relationship=rel,
                address=address,
                zip=zip_code,
                phone=f"+1718{rng.randint(2000000, 9999999)}" if rel == "HEAD" else None,
            )
            person.benefits_id = f"HRA-{next_person:07d}"
            next_person += 1
            members.append(person)
        pop.people.extend(members)
        _benefits_case(rng, pop, members, case_no=h)
    _shelter_system(random.Random(seed * 7919 + 1), pop)  # its own stream: the benefits data stays as it was
    _school_system(random.Random(seed * 7919 + 2), pop)
    return pop


def _unique(issued: set[str], draw: Callable[[], str]) -> str:
    """A number nobody else was issued."""
    value = draw()
    while value in issued:
        value = draw()
    issued.add(value)
    return value


def _cin(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(0, 99999):05d}{rng.choice(letters)}"


def _benefits_case(rng: random.Random, pop: Population, members: list[Person], *, case_no: int) -> None:
    """One case for the household, shared by every member's record."""
    today = pop.today
    programs = []
    ends: list[date] = []
    for program in rng.sample(PROGRAMS, k=rng.randint(1, 3)):
        start = today - timedelta(days=rng.randint(30, 330))
        end = start + timedelta(days=365 if program != "HEAP" else 120)
        ends.append(end)
        status = rng.choices(("ACTIVE", "PENDING", "DENIED", "CLOSED", "SANCTIONED"), weights=(70, 10, 5, 10, 5))[0]
        programs.append({
            "program": program,
            "status": status,
            "certificationPeriod": {"start": start.isoformat(), "end": end.isoformat()},
            "benefitAmount": None if status in ("DENIED", "PENDING") else {
                "amount": f"{rng.randint(50, 1400)}.00", "currency": "USD",
                "frequency": "MONTHLY" if program != "HEAP" else "ONE_TIME",
            },
        })
    soonest_end = min(ends)
    interview = soonest_end - timedelta(days=rng.randint(10, 45))
    appointments = [{
        "appointmentId": f"APT-{case_no:06d}-1",
        "type": "RECERTIFICATION_INTERVIEW",
        "scheduledAt": datetime.combine(interview, time(9 + rng.randint(0, 7), 0), UTC).isoformat(),
        "mode": rng.choice(("IN_PERSON", "PHONE", "VIDEO")),
        "location": "Job Center 0" + str(rng.randint(1, 9)),
        "status": "SCHEDULED" if interview >= today else rng.choice(("COMPLETED", "MISSED", "RESCHEDULED")),
    }]
    notices = [{
        "noticeId": f"NTC-{case_no:06d}-1",
        "type": "NOTICE_OF_EXPIRATION",
        "issuedOn": (soonest_end - timedelta(days=60)).isoformat(),
        "responseDueOn": (soonest_end - timedelta(days=15)).isoformat(),
    }]
    documents = [_accepted_on({
        "documentId": f"DOC-{case_no:06d}-{i}",
        "type": doc,
        "dueOn": (interview + timedelta(days=rng.randint(0, 10))).isoformat(),
        "status": rng.choice(("REQUESTED", "RECEIVED", "ACCEPTED", "REJECTED")),
    }, today) for i, doc in enumerate(rng.sample(DOCUMENT_TYPES, k=rng.randint(0, 3)), start=1)]
    case = {
        "caseNumber": f"C{70000000 + case_no:08d}",
        "status": "OPEN" if any(p["status"] in ("ACTIVE", "PENDING") for p in programs) else "CLOSED",
        "members": [{
            "personId": m.benefits_id, "cin": m.cin, "ssnLast4": m.ssn[-4:] if m.ssn else None,
            "dob": m.dob.isoformat(), "relationship": m.relationship,
        } for m in members],
        "programs": programs,
        "appointments": appointments,
        "notices": notices,
        "requiredDocuments": documents,
    }
    for m in members:
        assert m.benefits_id
        pop.benefits[m.benefits_id] = {
            "personId": m.benefits_id,
            "person": {
                "personId": m.benefits_id, "cin": m.cin, "ssnLast4": m.ssn[-4:] if m.ssn else None,
                "firstName": m.first_name, "middleName": None, "lastName": m.last_name,
                "dob": m.dob.isoformat(), "sex": m.sex,
                "address": {"street": m.address, "zip": m.zip}, "phone": m.phone[-10:] if m.phone else None,
            },
            "cases": [case],
        }


def _accepted_on(document: dict[str, object], today: date) -> dict[str, object]:
    """An accepted document carries the day the agency accepted it, from a week to over a year ago - from a stream
    of its own (the rest of the city stays as it was)."""
    if document["status"] == "ACCEPTED":
        rng = random.Random(f"accepted-{document['documentId']}")
        document["acceptedOn"] = (today - timedelta(days=rng.randint(7, 420))).isoformat()
    return document


# (ProjectID, name, HUD ProjectType): 0 ES entry/exit, 1 ES night-by-night, 2 TH, 3 PSH, 13 RRH.
SHELTER_PROJECTS = (
    ("P-101", "Intake Family Shelter (PATH)", 0), ("P-102", "Bronx Family Residence", 0),
    ("P-103", "Brooklyn Family Residence", 0), ("P-104", "Adult Drop-In Center", 1),
    ("P-201", "Transitional Residence for Families", 2), ("P-301", "Supportive Housing Residence", 3),
    ("P-401", "Rapid Re-Housing (CityFHEPS)", 13),
)
SHELTER_DRIFT = variants.Drift()


def _shelter_system(rng: random.Random, pop: Population) -> None:
    """About 40 % of households have been in shelter: stays, moves between shelters, some now housed.

    Each member's HMIS Client record is typed in again by shelter intake, so it
    drifts from the benefits record (variants.Drift); SSNs are often missing or
    partial, with the HMIS data-quality codes saying so.
    """
    hmis = pop.hmis
    hmis.organizations.append({"OrganizationID": "O-1", "OrganizationName": "Department of Homeless Services",
                               "VictimServiceProvider": 0})
    for pid, name, ptype in SHELTER_PROJECTS:
        hmis.projects.append({"ProjectID": pid, "OrganizationID": "O-1", "ProjectName": name,
                              "OperatingStartDate": date(2015, 1, 1), "ContinuumProject": 1, "ProjectType": ptype,
                              "HousingType": 2 if ptype in (0, 1, 2) else 3})
    households: dict[int, list[Person]] = {}
    for person in pop.people:
        households.setdefault(person.household, []).append(person)
    enrollment_no = exit_no = 0
    for h, members in households.items():
        if rng.random() >= 0.4:
            continue
        for m in members:
            m.hmis_id = f"{rng.getrandbits(128):032x}"
            hmis.clients.append(_hmis_client(rng, m))
        # a path through the system: one to three stays, each a household enrollment
        start = pop.today - timedelta(days=rng.randint(20, 900))
        stays = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
        for s in range(stays):
            last = s == stays - 1
            housed_next = last and rng.random() < 0.3  # the path ends in permanent housing
            pid, _name, ptype = rng.choice([p for p in SHELTER_PROJECTS if (p[2] in (3, 13)) == housed_next])
            length = rng.randint(10, 240)
            exit_day = start + timedelta(days=length)
            still_open = last and (exit_day >= pop.today or rng.random() < 0.65)
            household_id = f"HH-{h:06d}-{s}"
            move_in = start + timedelta(days=rng.randint(0, 30)) if ptype in (3, 13) else None
            for i, m in enumerate(members):
                enrollment_no += 1
                eid = f"E-{enrollment_no:08d}"
                hmis.enrollments.append({
                    "EnrollmentID": eid, "PersonalID": m.hmis_id, "ProjectID": pid, "EntryDate": start,
                    "HouseholdID": household_id, "RelationshipToHoH": 1 if i == 0 else (
                        3 if m.relationship == "SPOUSE" else 2),
                    "LivingSituation": 116 if s == 0 else 101, "DisablingCondition": rng.choice((0, 0, 0, 1, 99)),
                    "MoveInDate": move_in, **_homeless_history(eid, m.hmis_id or "", start),
                })
                if not still_open:
                    exit_no += 1
                    destination = 101 if not last else rng.choice((410, 435, 312, 101, 302, 30))
                    hmis.exits.append({"ExitID": f"X-{exit_no:08d}", "EnrollmentID": eid, "PersonalID": m.hmis_id,
                                       "ExitDate": min(exit_day, pop.today), "Destination": destination})
                if start - m.dob >= ADULT:
                    hmis.employment += _employment(eid, m.hmis_id or "", start,
                                                   None if still_open else min(exit_day, pop.today), pop.today)
            if still_open:
                break
            start = exit_day if rng.random() < 0.7 else exit_day + timedelta(days=rng.randint(1, 120))
            if start >= pop.today:
                break


def _homeless_history(eid: str, hmis_id: str, entry: date) -> dict[str, object]:
    """What an intake asks about the time homeless before this entry (HMIS 3.917): since when, how many times and
    how many months in the past three years - from a stream of its own (the rest of the city stays as it was)."""
    rng = random.Random(f"{eid}-{hmis_id}")
    times = rng.choice((1, 2, 3, 4, 4, 8, 99))
    return {
        "DateToStreetESSH": entry - timedelta(days=rng.choice((rng.randint(0, 364), rng.randint(365, 1500)))),
        "TimesHomelessPastThreeYears": times,
        "MonthsHomelessPastThreeYears": rng.choice((101, 103, 106, 111, 112, 113, 99)) if times != 99 else 99,
        "LengthOfStay": rng.choice((2, 3, 4, 5)), "LOSUnderThreshold": 1, "PreviousStreetESSH": 1,
    }


ADULT = timedelta(days=18 * 365 + 4)


def _employment(eid: str, hmis_id: str, entry: date, exit_date: date | None, today: date) -> list[dict[str, object]]:
    """What intake asks an adult about work (HMIS R6): at the stay's start, at an update when a job starts, and at
    exit - from a stream of its own (the rest of the city stays as it was)."""
    rng = random.Random(f"employment-{eid}-{hmis_id}")

    def record(stage: int, day: date, employed: int, kind: int | None, reason: int | None) -> dict[str, object]:
        return {"EmploymentEducationID": f"{eid}-R6-{stage}", "EnrollmentID": eid, "PersonalID": hmis_id,
                "InformationDate": day, "Employed": employed, "EmploymentType": kind, "NotEmployedReason": reason,
                "DataCollectionStage": stage}

    employed = rng.choices((1, 0, 8, 9, 99), weights=(22, 66, 3, 3, 6))[0]
    kind = rng.choices((1, 2, 3), weights=(35, 40, 25))[0] if employed == 1 else None
    reason = rng.choices((1, 2, 3), weights=(60, 25, 15))[0] if employed == 0 else None
    rows = [record(1, entry, employed, kind, reason)]
    until = exit_date or today
    if reason == 1 and rng.random() < 0.4:  # looking for work, and found it during the stay
        hired = entry + timedelta(days=rng.randint(14, 150))
        if hired < until:
            employed, kind, reason = 1, rng.choices((1, 2, 3), weights=(40, 40, 20))[0], None
            rows.append(record(2, hired, employed, kind, reason))
    if exit_date is not None:
        rows.append(record(3, exit_date, employed, kind, reason))
    return rows


def _hmis_client(rng: random.Random, m: Person) -> dict[str, object]:
    first = variants.first_name(rng, m.first_name, SHELTER_DRIFT)
    last = variants.last_name(rng, m.last_name, SHELTER_DRIFT)
    if rng.random() < SHELTER_DRIFT.swap_names:
        first, last = last, first
    born = variants.dob(rng, m.dob, SHELTER_DRIFT)
    ssn, ssn_dq = None, 99
    if m.ssn is not None:
        r = rng.random()
        if r < 0.55:
            ssn, ssn_dq = m.ssn, 1
        elif r < 0.75:
            ssn, ssn_dq = "xxxxx" + m.ssn[-4:], 2
        else:
            ssn_dq = rng.choice((8, 9, 99))
    return {
        "PersonalID": m.hmis_id, "FirstName": first, "LastName": last, "NameDataQuality": 1,
        "SSN": ssn, "SSNDataQuality": ssn_dq, "DOB": born, "DOBDataQuality": 1 if born else rng.choice((8, 9, 99)),
        "Sex": 0 if m.sex == "F" else 1, "VeteranStatus": 0 if m.relationship == "CHILD" else rng.choice((0, 0, 1, 8)),
    }


ED_FI = "uri://ed-fi.org"
SCHOOLS = (
    (100101, "P.S. 101 Atlantic", "Elementary"), (100102, "P.S. 212 Fordham", "Elementary"),
    (100103, "P.S. 35 Nostrand", "Elementary"), (100201, "I.S. 318 Jamaica", "Middle"),
    (100202, "M.S. 45 Grand Concourse", "Middle"), (100301, "Fulton Street High School", "High"),
    (100302, "Roosevelt Avenue High School", "High"), (100303, "Victory Boulevard High School", "High"),
)
GRADES = ("Kindergarten", "First grade", "Second grade", "Third grade", "Fourth grade", "Fifth grade", "Sixth grade",
          "Seventh grade", "Eighth grade", "Ninth grade", "Tenth grade", "Eleventh grade", "Twelfth grade")
SCHOOL_DRIFT = variants.Drift(nickname=0.05, typo=0.03, swap_names=0.01, dob_day_month_swap=0.01,
                              dob_year_off=0.005, dob_missing=0.0)


def _school_system(rng: random.Random, pop: Population) -> None:
    """School-age children (5-18) have an Ed-Fi student record, enrollments, and transfers.

    A child whose family entered shelter often changes school: an exit with the
    Transferred descriptor, then, after a lag of days to weeks, an entry at a new
    school. Children in the shelter system have a homeless program association
    with their nighttime residence.
    """
    edfi = pop.edfi
    for sid, name, level in SCHOOLS:
        grades = {"Elementary": GRADES[:6], "Middle": GRADES[6:9], "High": GRADES[9:]}[level]
        edfi.schools.append({"schoolId": sid, "nameOfInstitution": name,
                             "gradeLevels": [{"gradeLevelDescriptor": f"{ED_FI}/GradeLevelDescriptor#{g}"}
                                             for g in grades]})
    in_shelter = {e["PersonalID"] for e in pop.hmis.enrollments}
    home_phone = {m.household: m.phone for m in pop.people if m.phone}
    year_start = date(pop.today.year if pop.today.month >= 9 else pop.today.year - 1, 9, 8)
    issued: set[str] = set()  # a district never gives two students one id
    for m in pop.people:
        age = (pop.today - m.dob).days // 365
        if not 5 <= age <= 18 or rng.random() < 0.05:  # a few are not (yet) in the district's records
            continue
        m.student_id = f"{rng.randint(10**8, 10**9 - 1)}"
        while m.student_id in issued:
            m.student_id = f"{rng.randint(10**8, 10**9 - 1)}"
        issued.add(m.student_id)
        born = variants.dob(rng, m.dob, SCHOOL_DRIFT) or m.dob
        first = variants.first_name(rng, m.first_name, SCHOOL_DRIFT)
        edfi.students.append({
            "id": f"{rng.getrandbits(128):032x}", "studentUniqueId": m.student_id, "firstName": first,
            "middleName": None, "lastSurname": variants.last_name(rng, m.last_name, SCHOOL_DRIFT),
            "birthDate": born.isoformat(),
            # Data Standard 5 keeps sex on the education organisation association (below); the student's
            # birth sex is optional, and most districts leave it out (here three in four, by id, no random draw)
            **({"birthSexDescriptor": f"{ED_FI}/SexDescriptor#" + ("Female" if m.sex == "F" else "Male")}
               if int(hashlib.sha256(m.student_id.encode()).hexdigest(), 16) % 4 == 0 else {}),
        })
        edfi.education_organization_associations.append(_reach(m, home_phone.get(m.household)))
        grade = GRADES[min(12, max(0, age - 5))]
        level = "Elementary" if age - 5 <= 5 else "Middle" if age - 5 <= 8 else "High"
        schools = [s for s in SCHOOLS if s[2] == level]
        sheltered = m.hmis_id in in_shelter
        moves = rng.choices((0, 1, 2), weights=(30, 50, 20) if sheltered else (85, 13, 2))[0]
        entry, school = year_start, rng.choice(schools)
        for move in range(moves + 1):
            exit_date = exit_type = None
            if move < moves:
                exit_date = entry + timedelta(days=rng.randint(20, 90))
                if exit_date >= pop.today:
                    exit_date = None
                else:
                    exit_type = f"{ED_FI}/ExitWithdrawTypeDescriptor#Transferred"
            edfi.school_associations.append({
                "id": f"{rng.getrandbits(128):032x}", "studentReference": {"studentUniqueId": m.student_id},
                "schoolReference": {"schoolId": school[0]}, "entryDate": entry.isoformat(),
                "entryGradeLevelDescriptor": f"{ED_FI}/GradeLevelDescriptor#{grade}",
                "entryTypeDescriptor": f"{ED_FI}/EntryTypeDescriptor#" + ("Transfer" if move else "Next year school"),
                "exitWithdrawDate": exit_date.isoformat() if exit_date else None,
                "exitWithdrawTypeDescriptor": exit_type, "primarySchool": True,
                "schoolYearTypeReference": {"schoolYear": year_start.year + 1},
            })
            if exit_date is None:
                break
            entry = exit_date + timedelta(days=rng.choice((1, 3, 7, 12, 21, 35)))  # the lag between schools
            if entry >= pop.today:
                break
            school = rng.choice([s for s in schools if s != school] or schools)
        if int(hashlib.sha256(f"partial|{m.student_id}".encode()).hexdigest(), 16) % 6 == 0:
            # a partial enrollment beside the main one (an afternoon program at another school), as SIS
            # products post them: never the current school nor a transfer's destination (no random draw)
            other = next(s for s in SCHOOLS if s[2] == level and s[0] != school[0])
            edfi.school_associations.append({
                "id": hashlib.sha256(f"ssa-partial|{m.student_id}".encode()).hexdigest()[:32],
                "studentReference": {"studentUniqueId": m.student_id}, "schoolReference": {"schoolId": other[0]},
                "entryDate": (year_start + timedelta(days=14)).isoformat(),
                "entryGradeLevelDescriptor": f"{ED_FI}/GradeLevelDescriptor#{grade}",
                "entryTypeDescriptor": f"{ED_FI}/EntryTypeDescriptor#Other", "exitWithdrawDate": None,
                "exitWithdrawTypeDescriptor": None, "primarySchool": False,
                "schoolYearTypeReference": {"schoolYear": year_start.year + 1},
            })
        if sheltered or rng.random() < 0.03:
            residence = "Shelters" if sheltered else rng.choice(("Doubled-up", "Hotels/motels", "Unsheltered"))
            edfi.homeless_associations.append({
                "id": f"{rng.getrandbits(128):032x}", "studentReference": {"studentUniqueId": m.student_id},
                "educationOrganizationReference": {"educationOrganizationId": DISTRICT_ID},
                "programReference": {"educationOrganizationId": DISTRICT_ID, "programName": "McKinney-Vento",
                                     "programTypeDescriptor": f"{ED_FI}/ProgramTypeDescriptor#Homeless"},
                "beginDate": (year_start + timedelta(days=rng.randint(0, 40))).isoformat(), "endDate": None,
                "homelessPrimaryNighttimeResidenceDescriptor":
                    f"{ED_FI}/HomelessPrimaryNighttimeResidenceDescriptor#{residence}",
                "homelessUnaccompaniedYouth": False, "awaitingFosterCare": False,
            })
    _district_quirks(pop)


def _one_in(n: int, what: str, student_id: str) -> bool:
    """A deterministic one-in-n pick of students (no random draw: adding a quirk changes no other record)."""
    return int(hashlib.sha256(f"{what}|{student_id}".encode()).hexdigest(), 16) % n == 0


def student_of(association: dict[str, object]) -> str:
    """The studentUniqueId an Ed-Fi association refers to."""
    ref = association["studentReference"]
    assert isinstance(ref, dict)
    return str(ref["studentUniqueId"])


def _district_quirks(pop: Population) -> None:
    """What real districts' records carry besides the plain case: a second education organisation association
    (a school's own, without an address) listed before or after the district's; a new school's entry dated a
    day before the old school's transfer exit; a transfer exit dated in the future."""
    edfi = pop.edfi
    listed: list[dict[str, object]] = []  # rebuilt in one pass (list.index per insert took 16 min at 1M records)
    for reach in edfi.education_organization_associations:
        sid = student_of(reach)
        if not _one_in(8, "second-seoa", sid):
            listed.append(reach)
            continue
        school = {"id": hashlib.sha256(f"seoa-school|{sid}".encode()).hexdigest()[:32],
                  "educationOrganizationReference": {"educationOrganizationId": SCHOOLS[0][0]},
                  "studentReference": {"studentUniqueId": sid}, "sexDescriptor": reach["sexDescriptor"],
                  "addresses": [], "telephones": []}
        listed += [school, reach] if _one_in(2, "before", sid) else [reach, school]
    edfi.education_organization_associations = listed
    by_student: dict[str, list[dict[str, object]]] = {}
    for row in edfi.school_associations:
        if row.get("primarySchool") is not False:
            by_student.setdefault(student_of(row), []).append(row)
    for sid, rows in by_student.items():
        for old, new in itertools.pairwise(rows):
            if old["exitWithdrawTypeDescriptor"] and _one_in(5, "overlap", sid):
                new["entryDate"] = (date.fromisoformat(str(old["exitWithdrawDate"])) - timedelta(days=1)).isoformat()
        last = rows[-1]
        if last["exitWithdrawDate"] is None and _one_in(9, "future-exit", sid):
            last["exitWithdrawDate"] = (pop.today + timedelta(days=10)).isoformat()
            last["exitWithdrawTypeDescriptor"] = f"{ED_FI}/ExitWithdrawTypeDescriptor#Transferred"


def _reach(m: Person, phone: str | None) -> dict[str, object]:
    """The district's studentEducationOrganizationAssociation: the family's home address and phone as the
    district holds them (drawn from no random stream: adding it changed no other record)."""
    street, _, unit = m.address.partition(", ")
    # one family in 12 opted out of directory information: its address is not for release (no random draw)
    opted_out = int(hashlib.sha256(f"ferpa|{m.student_id}".encode()).hexdigest(), 16) % 12 == 0
    return {
        "id": hashlib.sha256(f"seoa|{m.student_id}".encode()).hexdigest()[:32],
        "educationOrganizationReference": {"educationOrganizationId": DISTRICT_ID},
        "studentReference": {"studentUniqueId": m.student_id},
        "sexDescriptor": f"{ED_FI}/SexDescriptor#" + ("Female" if m.sex == "F" else "Male"),
        "addresses": [{"addressTypeDescriptor": f"{ED_FI}/AddressTypeDescriptor#Home", "streetNumberName": street,
                       "apartmentRoomSuiteNumber": unit or None, "city": "New York",
                       "stateAbbreviationDescriptor": f"{ED_FI}/StateAbbreviationDescriptor#NY",
                       "postalCode": m.zip, "periods": [], "doNotPublishIndicator": opted_out}],
        "telephones": [{"telephoneNumberTypeDescriptor": f"{ED_FI}/TelephoneNumberTypeDescriptor#Home",
                        "telephoneNumber": phone[-10:]}] if phone else [],
    }


DISTRICT_ID = 100000  # the local education agency's educationOrganizationId


def write_truth(population: Population, path: Path, extra: list[tuple[str, str, str]] | None = None) -> int:
    """The truth as CSV (client_id,source,local_id): which agency records are the same person (and `extra`
    links, demo/noise.py's). Returns rows."""
    import csv

    rows = sorted(population.links() + (extra or []))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("client_id", "source", "local_id"))
        writer.writerows(rows)
    return len(rows)
