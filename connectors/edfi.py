"""The schooling connector: a district's Ed-Fi ODS/API v7 (Data Standard 5) over REST with OAuth2.

Per student: the student resource (identity), the studentSchoolAssociations
(enrollment history, current school and grade, transfers and the days between
them) and the studentHomelessProgramAssociations (McKinney-Vento status and
nighttime residence), each read page by page (offset/limit, Total-Count).
School names are read once and cached. Descriptors are URIs; only their code
values matter, mapped in configuration (connectors.config.EdfiDescriptors).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from connectors.base import ConnectorStatus, StatusTracker
from connectors.config import EdfiDescriptors, SchoolingConfig
from connectors.http import AgencyApi, parse_payload
from connectors.records import (
    Demographics,
    FetchResult,
    HomelessProgramStatus,
    PeopleBatch,
    SchoolEnrollment,
    SchoolingRecord,
    SchoolTransfer,
    SourcePerson,
    SourceRecord,
)
from core.errors import AgencyAuthFailed, AgencyBadData
from core.vocabulary import Category

SCHOOLS_TTL_SECONDS = 3600.0


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _StudentRef(_Wire):
    studentUniqueId: str


class _SchoolRef(_Wire):
    schoolId: int | str


class _Student(_Wire):
    studentUniqueId: str
    firstName: str | None = None
    middleName: str | None = None
    lastSurname: str | None = None
    birthDate: date | None = None
    birthSexDescriptor: str | None = None


class _Address(_Wire):
    addressTypeDescriptor: str | None = None
    streetNumberName: str
    apartmentRoomSuiteNumber: str | None = None
    postalCode: str | None = None
    doNotPublishIndicator: bool | None = None  # FERPA directory information: the family opted out


class _Telephone(_Wire):
    telephoneNumberTypeDescriptor: str | None = None
    telephoneNumber: str
    orderOfPriority: int | None = None
    doNotPublishIndicator: bool | None = None


class _EdOrgRef(_Wire):
    educationOrganizationId: int | str


class _Indicator(_Wire):
    indicatorName: str
    indicator: str | None = None


class StudentReach(_Wire):
    """A studentEducationOrganizationAssociation: what one education organisation holds of the student - how it
    reaches them, and (Data Standard 5) their sex."""

    studentReference: _StudentRef
    educationOrganizationReference: _EdOrgRef | None = None
    sexDescriptor: str | None = None
    addresses: list[_Address] = []
    telephones: list[_Telephone] = []
    studentIndicators: list[_Indicator] = []


@dataclasses.dataclass(frozen=True, slots=True)
class Reach:
    """A student's associations merged: home street line and ZIP, phone, sex code, and what the district marks
    not for release (FERPA directory opt-outs: neither used nor shown)."""

    street: str | None = None
    zip: str | None = None
    phone: str | None = None
    sex: str | None = None  # the descriptor's code value
    withheld: frozenset[str] = frozenset()  # "name", "address", "phone"


_YES = frozenset({"yes", "y", "true", "1", "opt out", "opted out"})


def merge_reach(rows: Sequence[StudentReach], descriptors: EdfiDescriptors) -> Reach:
    """One Reach from every association of a student, whatever order the API lists them in: associations in
    education-organisation order; the address of the first type in `home_address_types` (a mailing P.O. box
    comes after the home), the phone of the first type in `home_phone_types` then by its order of priority;
    the first sex the district's associations give. An address or phone marked not for release is skipped."""
    rows = sorted(rows, key=lambda r: str(r.educationOrganizationReference.educationOrganizationId)
                  if r.educationOrganizationReference else "")
    sex = next((c for r in rows if (c := code(r.sexDescriptor))), None)
    opt_out = set(descriptors.directory_opt_out_indicators)
    if any(i.indicatorName in opt_out and (i.indicator or "").strip().lower() in _YES
           for r in rows for i in r.studentIndicators):  # the whole directory: name, address, phone
        return Reach(sex=sex, withheld=frozenset({"name", "address", "phone"}))
    addresses = [a for r in rows for a in r.addresses]
    phones = [t for r in rows for t in r.telephones]
    withheld = frozenset({"address"} if any(a.doNotPublishIndicator for a in addresses) else set()) | (
        {"phone"} if any(t.doNotPublishIndicator for t in phones) else set())
    address_rank = {c: i for i, c in enumerate(descriptors.home_address_types)}
    phone_rank = {c: i for i, c in enumerate(descriptors.home_phone_types)}
    address = min((a for a in addresses if not a.doNotPublishIndicator), default=None,
                  key=lambda a: address_rank.get(code(a.addressTypeDescriptor) or "", len(address_rank)))
    phone = min((t for t in phones if not t.doNotPublishIndicator), default=None,
                key=lambda t: (phone_rank.get(code(t.telephoneNumberTypeDescriptor) or "", len(phone_rank)),
                               t.orderOfPriority if t.orderOfPriority is not None else 1 << 30))
    street = ", ".join(p for p in (address.streetNumberName, address.apartmentRoomSuiteNumber) if p) \
        if address else None
    return Reach(street, address.postalCode if address else None, phone.telephoneNumber if phone else None, sex,
                 withheld)


class _SchoolYearRef(_Wire):
    schoolYear: int


class _SchoolAssociation(_Wire):
    studentReference: _StudentRef
    schoolReference: _SchoolRef
    entryDate: date
    entryGradeLevelDescriptor: str | None = None
    exitWithdrawDate: date | None = None
    exitWithdrawTypeDescriptor: str | None = None
    primarySchool: bool | None = None
    schoolYearTypeReference: _SchoolYearRef | None = None


class _ProgramRef(_Wire):
    programTypeDescriptor: str | None = None


class _HomelessAssociation(_Wire):
    studentReference: _StudentRef
    beginDate: date
    endDate: date | None = None
    programReference: _ProgramRef | None = None
    homelessPrimaryNighttimeResidenceDescriptor: str | None = None
    homelessUnaccompaniedYouth: bool | None = None


class _School(_Wire):
    schoolId: int | str
    nameOfInstitution: str | None = None


M = TypeVar("M", bound=_Wire)


@functools.cache
def _list_adapter(model: type[M]) -> TypeAdapter[list[M]]:
    """Built once per resource model: building a TypeAdapter compiles a schema (about a millisecond)."""
    return TypeAdapter(list[model])  # type: ignore[valid-type]  # a runtime type argument, which mypy cannot see


async def _none() -> list[Any]:
    return []


def code(descriptor: str | None) -> str | None:
    """A descriptor URI's code value: 'uri://ed-fi.org/ExitWithdrawTypeDescriptor#Transferred' -> 'Transferred'."""
    if not descriptor:
        return None
    return descriptor.rsplit("#", 1)[-1]


def school_year(day: date) -> int:
    """The school year `day` falls in, named as Ed-Fi names it: by the calendar year it ends in (July to June)."""
    return day.year + 1 if day.month >= 7 else day.year


def schooling_record(student_id: str, agency: str, enrollments: Sequence[SchoolEnrollment],
                     homeless: tuple[HomelessProgramStatus, ...], transferred: set[str],
                     today: date) -> SchoolingRecord:
    """A district's record of a student, deciding which enrollment is current and where each transfer went.

    Current: entered by today (a preregistration is not), not left (an exit dated after today has not happened)
    and not left open from a past school year. The current school is the primary current enrollment entered
    last (a partial or ancillary one, primarySchool false, never is); two primary ones at once are reported as
    overlapping. A transfer (an exit coded as one) goes to the next primary enrollment entered after it, even
    one entered a little before the exit (the new school's records ran ahead); days out of school are never
    negative, and an exit still to come counts none yet."""
    this_year = school_year(today)

    def is_current(e: SchoolEnrollment) -> bool:
        return (e.entry_date <= today and (e.exit_date is None or e.exit_date > today)
                and (e.school_year is None or e.school_year >= this_year))

    ordered = sorted((dataclasses.replace(e, current=is_current(e)) for e in enrollments),
                     key=lambda e: (e.entry_date, e.school_id))
    primary = [e for e in ordered if e.primary is not False]
    transfers = []
    for e in primary:
        if e.exit_date is None or e.exit_type not in transferred:
            continue
        after = next((n for n in primary if n.entry_date > e.entry_date and n.school_id != e.school_id), None)
        until = after.entry_date if after else today
        transfers.append(SchoolTransfer(
            from_school=e.school_name or e.school_id,
            to_school=(after.school_name or after.school_id) if after else None,
            exit_date=e.exit_date, entry_date=after.entry_date if after else None,
            days_out_of_school=max(0, (until - e.exit_date).days)))
    current = [e for e in primary if e.current]
    now = current[-1] if current else None
    return SchoolingRecord(
        student_id=student_id, agency=agency, current_school=(now.school_name or now.school_id) if now else None,
        current_grade=now.entry_grade if now else None, enrollments=tuple(ordered), transfers=tuple(transfers),
        homeless=homeless, overlapping=len({e.school_id for e in current}) > 1)


class SchoolingConnector:
    """Reads a district's Ed-Fi API for a batch of studentUniqueIds."""

    name = "schooling"
    categories = frozenset({Category.IDENTITY, Category.SCHOOLING})

    def __init__(self, config: SchoolingConfig) -> None:
        self.config = config
        self.source = config.source
        self.organization = config.organization
        base = str(config.base_url).rstrip("/")
        if context := config.route_context.strip("/"):
            base += "/" + context  # v7: the token endpoint, data and change queries all sit under it
        self._api = AgencyApi(connector=self.name, base_url=base, token_url=f"{base}/oauth/token",
                              client_id=config.client_id, client_secret=config.client_secret.get_secret_value(),
                              timeout_seconds=config.timeout_seconds)
        self._data = config.data_path.rstrip("/")
        self._status = StatusTracker(self.name)
        self._schools: dict[str, str] = {}
        self._schools_until = 0.0
        self._schools_lock = asyncio.Lock()

    def status(self) -> ConnectorStatus:
        """The last known health of the district's API."""
        return self._status.snapshot()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._api.aclose()

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        """Schooling and identity for the studentUniqueIds the district knows; others are absent."""
        wanted = categories & self.categories
        ids = list(dict.fromkeys(local_ids))
        gate = asyncio.Semaphore(self.config.concurrency)

        async def one(student_id: str) -> SourceRecord | None:
            async with gate:
                return await self._student(student_id, wanted)

        with self._status.track():
            if Category.SCHOOLING in wanted:
                await self._school_names()
            found = await asyncio.gather(*(one(i) for i in ids))
        return FetchResult(as_of=datetime.now(UTC), records={r.local_id: r for r in found if r is not None})

    async def list_people(self, since: str | None = None) -> PeopleBatch:
        """Students changed after change version `since` (all when None), up to the newest version now."""
        with self._status.track():
            resp = await self._api.get("/changeQueries/v1/availableChangeVersions")
            try:
                newest = int(resp.json()["newestChangeVersion"])
            except (ValueError, KeyError, TypeError):
                raise AgencyBadData(f"the {self.name} agency's change versions are unreadable",
                                    connector=self.name) from None
            low = int(since) + 1 if since else 0
            window = {"minChangeVersion": str(low), "maxChangeVersion": str(newest)}
            # the first (full) listing reads every school association at once; a later one reads each changed
            # student's own below, so that the earliest entry is the earliest ever, not the earliest changed
            students, reach, enrolled = await asyncio.gather(
                self._all("students", _Student, window),
                self._all("studentEducationOrganizationAssociations", StudentReach, window),
                self._all("studentSchoolAssociations", _SchoolAssociation, window) if since is None else _none())
            by_student: dict[str, list[StudentReach]] = {}
            for r in reach:
                by_student.setdefault(r.studentReference.studentUniqueId, []).append(r)
            listed = {s.studentUniqueId for s in students}
            moved = sorted(set(by_student) - listed)  # only the address changed: the student, to list them whole
            gate = asyncio.Semaphore(8)

            async def one(student_id: str) -> list[_Student]:
                async with gate:
                    return await self._all("students", _Student, {"studentUniqueId": student_id})

            for listed_whole in await asyncio.gather(*(one(i) for i in moved)):
                students += listed_whole
            # a student listed for a change of their own, whose associations did not change: read those too
            unread = sorted(listed - set(by_student))
            for sid, reaches in zip(unread, await asyncio.gather(*(self._reach(i, gate) for i in unread)),
                                    strict=True):
                by_student[sid] = reaches
            entries: dict[str, list[date]] = {}
            if since is None:
                for a in enrolled:
                    entries.setdefault(a.studentReference.studentUniqueId, []).append(a.entryDate)
            else:
                ids = sorted({s.studentUniqueId for s in students})
                for sid, schools in zip(ids, await asyncio.gather(*(self._enrolments(i, gate) for i in ids)),
                                        strict=True):
                    entries[sid] = [a.entryDate for a in schools]
        people = []
        for s in students:
            home = merge_reach(by_student.get(s.studentUniqueId, []), self.config.descriptors)
            first = min(entries.get(s.studentUniqueId) or [], default=None)
            named = "name" not in home.withheld
            people.append(SourcePerson(
                source=self.source, local_id=s.studentUniqueId, first_name=s.firstName if named else None,
                middle_name=s.middleName if named else None, last_name=s.lastSurname if named else None,
                dob=s.birthDate, sex=self._sex(s, home), student_id=s.studentUniqueId,
                address=home.street, zip=home.zip, phone=home.phone, not_for_release=tuple(sorted(home.withheld)),
                known_since=first))  # the district's first enrolment: a date of birth after it is weak evidence
        return PeopleBatch(people, str(newest))

    async def _enrolments(self, student_id: str, gate: asyncio.Semaphore) -> list[_SchoolAssociation]:
        async with gate:
            return await self._all("studentSchoolAssociations", _SchoolAssociation, {"studentUniqueId": student_id})

    async def _reach(self, student_id: str, gate: asyncio.Semaphore) -> list[StudentReach]:
        async with gate:
            return await self._all("studentEducationOrganizationAssociations", StudentReach,
                                   {"studentUniqueId": student_id})

    def _sex(self, student: _Student, reach: Reach) -> str | None:
        """Data Standard 5 keeps sex on the education organisation association; the student's birth sex, which
        is optional, stands in where no association gives one."""
        mapped = self.config.descriptors.sex
        return mapped.get(reach.sex or "") or mapped.get(code(student.birthSexDescriptor) or "")

    async def _student(self, student_id: str, wanted: frozenset[Category]) -> SourceRecord | None:
        """The student and their associations, asked at once (one round trip, not two)."""
        params = {"studentUniqueId": student_id}
        schooling = Category.SCHOOLING in wanted
        identity = Category.IDENTITY in wanted
        refused: list[str] = []  # a claim set without a resource costs only what that resource carries
        students, reach, enrollments, homeless = await asyncio.gather(
            self._all("students", _Student, params),
            self._part("studentEducationOrganizationAssociations", StudentReach, params, refused) if identity
            else _none(),
            self._part("studentSchoolAssociations", _SchoolAssociation, params, refused) if schooling else _none(),
            self._part("studentHomelessProgramAssociations", _HomelessAssociation, params, refused) if schooling
            else _none())
        if not students:
            return None  # the district does not know this id (its associations, if any, are not shown)
        sections: dict[Category, Any] = {}
        s = students[0]
        if identity:
            merged = merge_reach(reach, self.config.descriptors)
            named = "name" not in merged.withheld
            sections[Category.IDENTITY] = Demographics(
                s.firstName if named else None, s.middleName if named else None, s.lastSurname if named else None,
                s.birthDate, self._sex(s, merged), not_for_release=tuple(sorted(merged.withheld)))
        incomplete: dict[Category, Any] = {}
        for category, resources in ((Category.IDENTITY, ("studentEducationOrganizationAssociations",)),
                                    (Category.SCHOOLING, ("studentSchoolAssociations",
                                                          "studentHomelessProgramAssociations"))):
            missing = sorted(r for r in refused if r in resources)  # asked only when the category was wanted
            if missing:
                incomplete[category] = AgencyAuthFailed(
                    f"the {self.name} agency does not let casebridge read {', '.join(missing)}: what "
                    f"{'it carries' if len(missing) == 1 else 'they carry'} is missing",
                    connector=self.name, resources=missing, status=403)
        if schooling:
            record = self._record(student_id, enrollments, homeless)
            sections[Category.SCHOOLING] = [dataclasses.replace(record, unreadable=tuple(sorted(refused)))]
        return SourceRecord(student_id, sections, incomplete)

    async def _part(self, resource: str, model: type[M], params: dict[str, str], refused: list[str]) -> list[M]:
        """A resource that only part of a record comes from: refused (403: the district's claim set does not
        include it), it is left out and named, and the rest of the record stands."""
        try:
            return await self._all(resource, model, params)
        except AgencyAuthFailed as exc:
            if exc.details.get("status") != 403:
                raise
            refused.append(resource)
            return []

    def _record(self, student_id: str, rows: list[_SchoolAssociation],
                homeless: list[_HomelessAssociation]) -> SchoolingRecord:
        d = self.config.descriptors
        today = datetime.now(UTC).date()
        enrollments = [SchoolEnrollment(
            school_id=str(r.schoolReference.schoolId), school_name=self._schools.get(str(r.schoolReference.schoolId)),
            entry_date=r.entryDate, entry_grade=code(r.entryGradeLevelDescriptor), exit_date=r.exitWithdrawDate,
            exit_type=code(r.exitWithdrawTypeDescriptor), primary=r.primarySchool,
            school_year=r.schoolYearTypeReference.schoolYear if r.schoolYearTypeReference else None) for r in rows]
        status = tuple(HomelessProgramStatus(
            begin_date=h.beginDate, end_date=h.endDate,
            nighttime_residence=(d.nighttime_residence.get(c, "OTHER")
                                 if (c := code(h.homelessPrimaryNighttimeResidenceDescriptor)) else None),
            unaccompanied_youth=h.homelessUnaccompaniedYouth)
            for h in homeless
            if h.programReference is None or code(h.programReference.programTypeDescriptor) in d.homeless_programs)
        return schooling_record(student_id, self.organization, enrollments, status, set(d.transferred), today)

    async def _school_names(self) -> None:
        async with self._schools_lock:
            if time.monotonic() < self._schools_until:
                return
            schools = await self._all("schools", _School, {})
            self._schools = {str(s.schoolId): s.nameOfInstitution or str(s.schoolId) for s in schools}
            self._schools_until = time.monotonic() + SCHOOLS_TTL_SECONDS

    async def _all(self, resource: str, model: type[M], params: dict[str, str]) -> list[M]:
        """Every item of a resource, page by page (limit = page size, Total-Count on the first page)."""
        adapter = _list_adapter(model)
        out: list[M] = []
        offset, total = 0, None
        limit = self.config.page_size
        while True:
            query = {**params, "offset": str(offset), "limit": str(limit)}
            if total is None:
                query["totalCount"] = "true"
            resp = await self._api.get(f"{self._data}/{resource}", params=query)
            if total is None:
                try:
                    total = int(resp.headers.get("Total-Count", ""))
                except ValueError:
                    total = -1  # not given: read until a short page
            page = parse_payload(adapter, resp.content, connector=self.name,
                                 what=f"{resource} that are not Ed-Fi resources")
            out.extend(page)
            offset += len(page)
            if len(page) < limit or (total >= 0 and offset >= total) or not page:
                return out
