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
import functools
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from connectors.base import ConnectorStatus, StatusTracker
from connectors.config import SchoolingConfig
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
from core.errors import AgencyBadData
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


class _Telephone(_Wire):
    telephoneNumberTypeDescriptor: str | None = None
    telephoneNumber: str


class StudentReach(_Wire):
    """A studentEducationOrganizationAssociation: how the district reaches the student."""

    studentReference: _StudentRef
    addresses: list[_Address] = []
    telephones: list[_Telephone] = []

    def home(self) -> tuple[str | None, str | None, str | None]:
        """The home address's street line and ZIP (else the first address's), and the first phone (home first)."""
        address = min(self.addresses, key=lambda a: code(a.addressTypeDescriptor) != "Home", default=None)
        phone = min(self.telephones, key=lambda t: code(t.telephoneNumberTypeDescriptor) != "Home", default=None)
        street = None
        if address is not None:
            street = ", ".join(p for p in (address.streetNumberName, address.apartmentRoomSuiteNumber) if p)
        return street, address.postalCode if address else None, phone.telephoneNumber if phone else None


class _SchoolAssociation(_Wire):
    studentReference: _StudentRef
    schoolReference: _SchoolRef
    entryDate: date
    entryGradeLevelDescriptor: str | None = None
    exitWithdrawDate: date | None = None
    exitWithdrawTypeDescriptor: str | None = None


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
    return TypeAdapter(list[model])  # type: ignore[valid-type]


async def _none() -> list[Any]:
    return []


def code(descriptor: str | None) -> str | None:
    """A descriptor URI's code value: 'uri://ed-fi.org/ExitWithdrawTypeDescriptor#Transferred' -> 'Transferred'."""
    if not descriptor:
        return None
    return descriptor.rsplit("#", 1)[-1]


class SchoolingConnector:
    """Reads a district's Ed-Fi API for a batch of studentUniqueIds."""

    name = "schooling"
    categories = frozenset({Category.IDENTITY, Category.SCHOOLING})

    def __init__(self, config: SchoolingConfig) -> None:
        self.config = config
        self.source = config.source
        self.organization = config.organization
        self._api = AgencyApi.from_config(self.name, config)
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
            students, reach = await asyncio.gather(
                self._all("students", _Student, window),
                self._all("studentEducationOrganizationAssociations", StudentReach, window))
            homes = {r.studentReference.studentUniqueId: r.home() for r in reach}
            listed = {s.studentUniqueId for s in students}
            moved = sorted(set(homes) - listed)  # only the address changed: the student, to list them whole
            gate = asyncio.Semaphore(8)

            async def one(student_id: str) -> list[_Student]:
                async with gate:
                    return await self._all("students", _Student, {"studentUniqueId": student_id})

            for found in await asyncio.gather(*(one(i) for i in moved)):
                students += found
        people = []
        for s in students:
            street, zip_code, phone = homes.get(s.studentUniqueId, (None, None, None))
            people.append(SourcePerson(
                source=self.source, local_id=s.studentUniqueId, first_name=s.firstName, middle_name=s.middleName,
                last_name=s.lastSurname, dob=s.birthDate,
                sex=self.config.descriptors.sex.get(code(s.birthSexDescriptor) or ""), student_id=s.studentUniqueId,
                address=street, zip=zip_code, phone=phone))
        return PeopleBatch(people, str(newest))

    async def _student(self, student_id: str, wanted: frozenset[Category]) -> SourceRecord | None:
        """The student and their associations, asked at once (one round trip, not two)."""
        params = {"studentUniqueId": student_id}
        schooling = Category.SCHOOLING in wanted
        students, enrollments, homeless = await asyncio.gather(
            self._all("students", _Student, params),
            self._all("studentSchoolAssociations", _SchoolAssociation, params) if schooling else _none(),
            self._all("studentHomelessProgramAssociations", _HomelessAssociation, params) if schooling else _none())
        if not students:
            return None  # the district does not know this id (its associations, if any, are not shown)
        sections: dict[Category, Any] = {}
        s = students[0]
        if Category.IDENTITY in wanted:
            sex = self.config.descriptors.sex.get(code(s.birthSexDescriptor) or "")
            sections[Category.IDENTITY] = Demographics(s.firstName, s.middleName, s.lastSurname, s.birthDate, sex)
        if schooling:
            sections[Category.SCHOOLING] = [self._record(student_id, enrollments, homeless)]
        return SourceRecord(student_id, sections)

    def _record(self, student_id: str, rows: list[_SchoolAssociation],
                homeless: list[_HomelessAssociation]) -> SchoolingRecord:
        d = self.config.descriptors
        enrollments = tuple(sorted((SchoolEnrollment(
            school_id=str(r.schoolReference.schoolId), school_name=self._schools.get(str(r.schoolReference.schoolId)),
            entry_date=r.entryDate, entry_grade=code(r.entryGradeLevelDescriptor), exit_date=r.exitWithdrawDate,
            exit_type=code(r.exitWithdrawTypeDescriptor)) for r in rows), key=lambda e: (e.entry_date, e.school_id)))
        transfers = []
        today = datetime.now(UTC).date()
        for i, e in enumerate(enrollments):
            if e.exit_date is None or e.exit_type not in d.transferred:
                continue
            after = next((n for n in enrollments[i + 1:] if n.entry_date >= e.exit_date), None)
            transfers.append(SchoolTransfer(
                from_school=e.school_name or e.school_id, to_school=(after.school_name or after.school_id) if after
                else None, exit_date=e.exit_date, entry_date=after.entry_date if after else None,
                days_out_of_school=((after.entry_date if after else today) - e.exit_date).days))
        current = [e for e in enrollments if e.exit_date is None or e.exit_date >= today]
        status = tuple(HomelessProgramStatus(
            begin_date=h.beginDate, end_date=h.endDate,
            nighttime_residence=(d.nighttime_residence.get(c, "OTHER")
                                 if (c := code(h.homelessPrimaryNighttimeResidenceDescriptor)) else None),
            unaccompanied_youth=h.homelessUnaccompaniedYouth)
            for h in homeless
            if h.programReference is None or code(h.programReference.programTypeDescriptor) in d.homeless_programs)
        return SchoolingRecord(
            student_id=student_id, agency=self.organization,
            current_school=(current[-1].school_name or current[-1].school_id) if current else None,
            current_grade=current[-1].entry_grade if current else None,
            enrollments=enrollments, transfers=tuple(transfers), homeless=status)

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
