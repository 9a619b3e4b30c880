"""The housing connector: shelter stays and housing enrollments from the imported HMIS snapshot.

The data is the CoC's latest export, so its freshness (`as_of`) is the export's
ExportDate, not the time of the query.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import ConnectorStatus, StatusTracker
from connectors.config import HousingConfig
from connectors.hmis.chronic import EntryFacts, chronic_at_start
from connectors.hmis.employment import DataCollectionStage, Employed, EmploymentType, NotEmployedReason
from connectors.hmis.spec import PROJECT_TYPES, destination_class
from connectors.records import (
    Demographics,
    EmploymentStatus,
    FetchResult,
    HousingEnrollment,
    PeopleBatch,
    SourcePerson,
    SourceRecord,
)
from core.errors import AgencyTimeout, AgencyUnavailable
from core.vocabulary import Category
from store.reads import Reads
from store.tables import HmisClient, HmisEmployment, HmisEnrollment, HmisExit, HmisProject, HmisSnapshot, table_of

CHUNK = 500

# Built once; a fetch binds the source and the PersonalIDs.
_SNAPSHOT = select(HmisSnapshot.exported_at).where(HmisSnapshot.source == bindparam("src"))
_CLIENTS = select(HmisClient.personal_id, HmisClient.first_name, HmisClient.middle_name, HmisClient.last_name,
                  HmisClient.dob, HmisClient.sex).where(
    HmisClient.source == bindparam("src"), HmisClient.personal_id.in_(bindparam("ids", expanding=True)))
# a client's earliest project entry, as when the shelter system first knew them (read with the client)
_FIRST_ENTRY = (select(func.min(HmisEnrollment.entry_date))
                .where(HmisEnrollment.source == HmisClient.source, HmisEnrollment.personal_id == HmisClient.personal_id)
                .scalar_subquery().label("first_entry"))
_E = HmisEnrollment
_STAY_COLUMNS = (
    _E.personal_id, _E.enrollment_id, _E.entry_date, _E.move_in_date, _E.household_id, _E.relationship_to_hoh,
    HmisProject.name.label("project_name"), HmisProject.project_type, HmisExit.exit_date, HmisExit.destination,
    _E.living_situation, _E.los_under_threshold, _E.previous_street_essh, _E.date_to_street_essh,
    _E.times_homeless_past_three_years, _E.months_homeless_past_three_years, _E.disabling_condition)


def _stays_where(condition: Any) -> Any:
    return (select(*_STAY_COLUMNS)
            .join(HmisProject, (HmisProject.source == _E.source) & (HmisProject.project_id == _E.project_id))
            .outerjoin(HmisExit, (HmisExit.source == _E.source) & (HmisExit.enrollment_id == _E.enrollment_id))
            .where(_E.source == bindparam("src"), condition))


_STAYS = _stays_where(_E.personal_id.in_(bindparam("ids", expanding=True)))
# the employment records of the same stays, found through the enrollment (its PersonalID is the one that counts)
_W = HmisEmployment
_EMPLOYMENT = (select(_W.enrollment_id, _W.employment_education_id, _W.information_date, _W.data_collection_stage,
                      _W.employed, _W.employment_type, _W.not_employed_reason)
               .join(_E, (_E.source == _W.source) & (_E.enrollment_id == _W.enrollment_id))
               .where(_E.source == bindparam("src"), _E.personal_id.in_(bindparam("ids", expanding=True))))


class HousingConnector:
    """Reads the snapshot tables one query per table for a whole batch of local ids (HMIS PersonalIDs)."""

    name = "housing"
    categories = frozenset({Category.IDENTITY, Category.HOUSING})

    def __init__(self, config: HousingConfig, reads: Reads) -> None:
        self._config = config
        self._reads = reads
        self.source = config.source
        self.organization = config.organization
        self._status = StatusTracker(self.name)

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        """Records for the PersonalIDs the snapshot knows; AgencyUnavailable if there is no snapshot."""
        with self._status.track(), self._store_errors():
            async with asyncio.timeout(self._config.timeout_seconds):
                return await self._read(list(dict.fromkeys(local_ids)), categories)

    @contextlib.contextmanager
    def _store_errors(self) -> Iterator[None]:
        """The store's failures as the agency errors the gate expects."""
        try:
            yield
        except TimeoutError:
            raise AgencyTimeout("the housing snapshot did not answer in time", connector=self.name) from None
        except SQLAlchemyError:
            raise AgencyUnavailable("the housing snapshot cannot be read", connector=self.name) from None

    async def _read(self, ids: list[str], categories: frozenset[Category]) -> FetchResult:
        housing = Category.HOUSING in categories
        chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
        reads = [self._reads.rows(_SNAPSHOT, {"src": self.source})]
        reads += [self._reads.rows(_CLIENTS, {"src": self.source, "ids": c}) for c in chunks]
        if housing:
            reads += [self._reads.rows(_STAYS, {"src": self.source, "ids": c}) for c in chunks]
            reads += [self._reads.rows(_EMPLOYMENT, {"src": self.source, "ids": c}) for c in chunks]
        # independent statements, read at once; each is finished (done or failed) before an error is raised
        found = await asyncio.gather(*reads, return_exceptions=True)
        failed = next((f for f in found if isinstance(f, BaseException)), None)
        if failed is not None:
            raise failed
        results = [f for f in found if not isinstance(f, BaseException)]  # all of them, for the type checker
        snap = results[0]
        if not snap:
            raise AgencyUnavailable("no HMIS export has been imported yet", connector=self.name,
                                    suggestion="Import one: casebridge hmis import PATH.")
        clients = {c.personal_id: c for rows in results[1:1 + len(chunks)] for c in rows}
        employment: dict[str, list[EmploymentStatus]] = defaultdict(list)
        for rows in results[1 + 2 * len(chunks):]:
            for row in rows:
                employment[row.enrollment_id].append(_employment(row))
        stays: dict[str, list[HousingEnrollment]] = defaultdict(list)
        for rows in results[1 + len(chunks):1 + 2 * len(chunks)]:
            for row in rows:
                stays[row.personal_id].append(self._stay(row, employment.get(row.enrollment_id, [])))
        records = {}
        for pid, c in clients.items():
            sections: dict[Category, Any] = {}
            if Category.IDENTITY in categories:
                sections[Category.IDENTITY] = Demographics(c.first_name, c.middle_name, c.last_name, c.dob, c.sex)
            if housing:
                sections[Category.HOUSING] = sorted(stays.get(pid, []), key=lambda s: (s.entry_date, s.enrollment_id),
                                                    reverse=True)
            records[pid] = SourceRecord(pid, sections)
        return FetchResult(as_of=snap[0].exported_at, records=records)

    async def list_people(self, since: str | None = None) -> PeopleBatch:
        """Client.csv rows of the snapshot updated after `since` (a DateUpdated the last call returned), each
        with the person's earliest project entry (Enrollment.csv EntryDate) as when the shelter system first
        knew them (refreshed when the client's row is: an enrolment back-dated alone waits for that)."""
        stmt = (select(table_of(HmisClient), _FIRST_ENTRY).where(HmisClient.source == self.source)
                .order_by(HmisClient.date_updated))
        if since:
            stmt = stmt.where(HmisClient.date_updated > datetime.fromisoformat(since))
        with self._status.track(), self._store_errors():
            rows = await self._reads.rows(stmt)
        people = [SourcePerson(
            source=self.source, local_id=c.personal_id, first_name=c.first_name, middle_name=c.middle_name,
            last_name=c.last_name, dob=c.dob, sex=c.sex, ssn=c.ssn, ssn_last4=c.ssn[-4:] if c.ssn else None,
            ssn_quality=c.ssn_data_quality, name_quality=c.name_data_quality, dob_quality=c.dob_data_quality,
            updated=c.date_updated, known_since=c.first_entry) for c in rows]
        watermark = max((p.updated.isoformat() for p in people if p.updated), default=since or "")
        return PeopleBatch(people, watermark)

    def _stay(self, row: Any, employment: list[EmploymentStatus]) -> HousingEnrollment:
        # the person's own entry data only: HUD's household rule (a member chronically homeless at the household's
        # start makes every member so) would tell whoever may see this person's stays that another member has a
        # disabling condition - their health data, which this person's consent does not open
        found = chronic_at_start(_facts(row))
        return HousingEnrollment(
            enrollment_id=row.enrollment_id, agency=self.organization, project_name=row.project_name,
            project_type=row.project_type, project_type_name=PROJECT_TYPES.get(row.project_type, "Other"),
            entry_date=row.entry_date, move_in_date=row.move_in_date, exit_date=row.exit_date,
            destination=row.destination, destination_class=destination_class(row.destination),
            household_id=row.household_id, relationship_to_head=row.relationship_to_hoh,
            chronic_at_entry=found.status.value, chronic_reason=found.reason,
            employment=tuple(sorted(employment, key=lambda r: (r.information_date, r.data_collection_stage.order,
                                                               r.record_id))),
        )

    def status(self) -> ConnectorStatus:
        """The last known health of the snapshot."""
        return self._status.snapshot()

    async def aclose(self) -> None:
        """Nothing to release: the gateway's store is closed by its owner."""
        return None



def _employment(row: Any) -> EmploymentStatus:
    employed = Employed.of(row.employed)
    # HUD asks the type only of someone employed and the reason only of someone not: a value left behind by an
    # answer changed later is not shown beside the new answer
    return EmploymentStatus(
        record_id=row.employment_education_id, information_date=row.information_date,
        data_collection_stage=DataCollectionStage.of(row.data_collection_stage), employed=employed,
        employment_type=EmploymentType.of(row.employment_type) if employed is Employed.YES else None,
        not_employed_reason=NotEmployedReason.of(row.not_employed_reason) if employed is Employed.NO else None)


def _facts(row: Any) -> EntryFacts:
    return EntryFacts(row.project_type, row.entry_date, row.disabling_condition, row.living_situation,
                      row.los_under_threshold, row.previous_street_essh, row.date_to_street_essh,
                      row.times_homeless_past_three_years, row.months_homeless_past_three_years)
