"""The benefits connector: casebridge's published benefits JSON over REST with OAuth2.

The wire shape is docs/benefits-api.openapi.json; pydantic models below check
it, and anything else is an AGENCY_BAD_DATA error rather than partial data.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, TypeAdapter

from connectors.base import ConnectorStatus, StatusTracker
from connectors.config import BenefitsConfig
from connectors.http import AgencyApi, parse_payload
from connectors.records import (
    Appointment,
    BenefitCase,
    BenefitProgram,
    Demographics,
    FetchResult,
    Notice,
    PeopleBatch,
    RequiredDocument,
    SourcePerson,
    SourceRecord,
)
from core.errors import AgencyError
from core.vocabulary import Category


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Person(_Wire):
    personId: str
    firstName: str | None = None
    middleName: str | None = None
    lastName: str | None = None
    dob: date | None = None
    sex: str | None = None


class _Member(_Wire):
    personId: str
    relationship: str | None = None


class _Period(_Wire):
    start: date | None = None
    end: date | None = None


class _Money(_Wire):
    amount: Decimal
    currency: str
    frequency: str


class _Program(_Wire):
    program: str
    status: Literal["ACTIVE", "PENDING", "DENIED", "CLOSED", "SANCTIONED"]
    certificationPeriod: _Period | None = None
    benefitAmount: _Money | None = None


class _Appointment(_Wire):
    appointmentId: str
    type: str
    scheduledAt: datetime
    mode: str | None = None
    location: str | None = None
    status: Literal["SCHEDULED", "COMPLETED", "MISSED", "CANCELED", "RESCHEDULED"]
    atStake: str | None = None  # what missing it costs, where the agency says so


# What an appointment of a known type puts at stake when the agency does not say (atStake): missing a
# recertification interview closes the case at the end of its certification period.
_AT_STAKE = {"RECERTIFICATION_INTERVIEW": "BENEFITS_RECERTIFICATION"}


class _Notice(_Wire):
    noticeId: str
    type: str
    issuedOn: date
    responseDueOn: date | None = None


class _Document(_Wire):
    documentId: str
    type: str
    dueOn: date | None = None
    status: Literal["REQUESTED", "RECEIVED", "ACCEPTED", "REJECTED"]
    # read leniently (accepted_on): a date that cannot be read costs the copy its date, not the client's records
    acceptedOn: object = None


class _Case(_Wire):
    caseNumber: str
    status: str
    members: list[_Member] = []
    programs: list[_Program] = []
    appointments: list[_Appointment] = []
    notices: list[_Notice] = []
    requiredDocuments: list[_Document] = []


class _Record(_Wire):
    personId: str
    person: _Person
    cases: list[_Case]


class _Batch(_Wire):
    asOf: datetime
    items: list[_Record]


class _Address(_Wire):
    street: str
    zip: str


class _ListedPerson(_Person):
    cin: str | None = None
    ssnLast4: str | None = None
    address: _Address | None = None
    phone: str | None = None
    updatedAt: datetime


class _PeoplePage(_Wire):
    total: int
    items: list[_ListedPerson]


M = TypeVar("M", bound=_Wire)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
log = logging.getLogger("casebridge.connectors")
_BATCH = TypeAdapter(_Batch)
_PEOPLE_PAGE = TypeAdapter(_PeoplePage)


class BenefitsConnector:
    """Reads benefits records in batches of up to 100 people per call."""

    name = "benefits"
    categories = frozenset({Category.IDENTITY, Category.BENEFITS, Category.APPOINTMENTS, Category.DOCUMENTS})

    def __init__(
        self, config: BenefitsConfig, *, tracer: trace.Tracer | None = None,
    ) -> None:
        self.config = config
        self.source = config.source
        self.organization = config.organization
        self._api = AgencyApi.from_config(self.name, config)
        self._status = StatusTracker(self.name)
        self.unreadable_dates = 0  # acceptance dates read as unknown since start (the values are never kept)
        self._tracer = tracer or trace.get_tracer("casebridge.connectors")

    def status(self) -> ConnectorStatus:
        """The last known health of the agency."""
        return self._status.snapshot()

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._api.aclose()

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        """Benefits records for `local_ids`, as canonical records limited to `categories`."""
        wanted = categories & self.categories
        ids = list(dict.fromkeys(local_ids))
        with self._tracer.start_as_current_span(
            "connector.fetch",
            attributes={"casebridge.connector": self.name, "casebridge.record_count": len(ids),
                        "casebridge.categories": sorted(wanted)},
        ) as span:
            try:
                with self._status.track():
                    chunks = [ids[i:i + self.config.batch_size] for i in range(0, len(ids), self.config.batch_size)]
                    batches = await asyncio.gather(*(self._get_batch(c) for c in chunks)) if chunks else []
            except AgencyError as exc:
                span.set_attribute("casebridge.error_code", exc.code)
                raise
        as_of = min((b.asOf for b in batches), default=None) or datetime.now(UTC)
        records: dict[str, SourceRecord] = {}
        today, unreadable = datetime.now(UTC).date(), 0
        for batch in batches:
            for item in batch.items:
                if item.personId in ids:
                    records[item.personId], unknown = self._canonical(item, wanted, today)
                    unreadable += unknown
        if unreadable:
            self.unreadable_dates += unreadable
            log.warning("the %s agency sent %d acceptance dates that are not dates; read as unknown", self.name,
                        unreadable)
        return FetchResult(as_of=as_of, records=records)

    async def list_people(self, since: str | None = None) -> PeopleBatch:
        """Demographics changed since `since` (an updatedAt the last call returned), page by page."""
        people: list[SourcePerson] = []
        watermark = since or ""
        offset = 0
        with self._status.track():
            while True:
                params: dict[str, Any] = {"offset": offset, "limit": 500}
                if since:
                    params["updatedSince"] = since
                page = self._parse(_PEOPLE_PAGE, (await self._api.get("/v1/people", params=params)).content)
                for p in page.items:
                    people.append(SourcePerson(
                        source=self.source, local_id=p.personId, first_name=p.firstName, middle_name=p.middleName,
                        last_name=p.lastName, dob=p.dob, sex=p.sex, ssn_last4=p.ssnLast4, cin=p.cin,
                        address=p.address.street if p.address else None,
                        zip=p.address.zip if p.address else None, phone=p.phone, updated=p.updatedAt))
                    watermark = max(watermark, p.updatedAt.isoformat())
                offset += len(page.items)
                if not page.items or offset >= page.total:
                    break
        return PeopleBatch(people, watermark)

    def _parse(self, adapter: TypeAdapter[M], content: bytes) -> M:
        return parse_payload(adapter, content, connector=self.name,
                             what="data that does not match the published schema")

    async def _get_batch(self, ids: list[str]) -> _Batch:
        resp = await self._api.get("/v1/benefits", params=[("personId", i) for i in ids])
        return self._parse(_BATCH, resp.content)

    def _canonical(self, item: _Record, wanted: frozenset[Category], today: date) -> tuple[SourceRecord, int]:
        """The record as casebridge keeps it, and how many acceptance dates in it were read as unknown."""
        sections: dict[Category, Any] = {}
        unreadable = 0
        if Category.IDENTITY in wanted:
            p = item.person
            sections[Category.IDENTITY] = Demographics(p.firstName, p.middleName, p.lastName, p.dob, p.sex)
        if Category.BENEFITS in wanted:
            sections[Category.BENEFITS] = [self._case(item.personId, c) for c in item.cases]
        if Category.APPOINTMENTS in wanted:
            sections[Category.APPOINTMENTS] = [
                Appointment(a.appointmentId, self.organization, a.type, a.scheduledAt, a.mode, a.location, a.status,
                            at_stake=a.atStake or _AT_STAKE.get(a.type))
                for c in item.cases for a in c.appointments
            ]
        if Category.DOCUMENTS in wanted:
            read = [(d, _accepted_on(d.acceptedOn, today)) for c in item.cases for d in c.requiredDocuments]
            sections[Category.DOCUMENTS] = [
                RequiredDocument(d.documentId, self.organization, d.type, d.dueOn, d.status, accepted_on=on)
                for d, on in read
            ]
            unreadable = sum(d.acceptedOn is not None and on is None for d, on in read)
        return SourceRecord(local_id=item.personId, sections=sections), unreadable

    @staticmethod
    def _case(person_id: str, case: _Case) -> BenefitCase:
        # Other members' identifiers stay at the agency: only this client's role and the size.
        relationship = next((m.relationship for m in case.members if m.personId == person_id), None)
        return BenefitCase(
            case_number=case.caseNumber, status=case.status, relationship=relationship,
            household_size=len(case.members),
            programs=tuple(
                BenefitProgram(
                    p.program, p.status,
                    p.certificationPeriod.start if p.certificationPeriod else None,
                    p.certificationPeriod.end if p.certificationPeriod else None,
                    p.benefitAmount.amount if p.benefitAmount else None,
                    p.benefitAmount.currency if p.benefitAmount else None,
                    p.benefitAmount.frequency if p.benefitAmount else None,
                ) for p in case.programs
            ),
            notices=tuple(Notice(n.noticeId, n.type, n.issuedOn, n.responseDueOn) for n in case.notices),
        )


def _accepted_on(value: object, today: date) -> date | None:
    """An ISO date (YYYY-MM-DD) not after tomorrow; anything else is read as absent (counted by the caller, never
    shown: it is the agency's data)."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        found = date.fromisoformat(value)
    except ValueError:  # 2026-02-30 has the shape of a date
        return None
    return found if found <= today + timedelta(days=1) else None  # a date to come is a typo
