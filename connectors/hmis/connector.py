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

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.base import ConnectorStatus, StatusTracker
from connectors.config import HousingConfig
from connectors.hmis.spec import PROJECT_TYPES, destination_class
from connectors.records import Demographics, FetchResult, HousingEnrollment, PeopleBatch, SourcePerson, SourceRecord
from core.errors import AgencyTimeout, AgencyUnavailable
from core.vocabulary import Category
from store.tables import HmisClient, HmisEnrollment, HmisExit, HmisProject, HmisSnapshot

CHUNK = 500


class HousingConnector:
    """Reads the snapshot tables one query per table for a whole batch of local ids (HMIS PersonalIDs)."""

    name = "housing"
    categories = frozenset({Category.IDENTITY, Category.HOUSING})

    def __init__(self, config: HousingConfig, sessions: async_sessionmaker[Any]) -> None:
        self._config = config
        self._sessions = sessions
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
        src = self.source
        async with self._sessions() as session:
            snap = (await session.execute(select(HmisSnapshot).where(HmisSnapshot.source == src))).scalar_one_or_none()
            if snap is None:
                raise AgencyUnavailable("no HMIS export has been imported yet", connector=self.name,
                                        suggestion="Import one: casebridge hmis import PATH.")
            clients: dict[str, HmisClient] = {}
            stays: dict[str, list[HousingEnrollment]] = defaultdict(list)
            for chunk in (ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)):
                for c in (await session.execute(select(HmisClient).where(
                        HmisClient.source == src, HmisClient.personal_id.in_(chunk)))).scalars():
                    clients[c.personal_id] = c
                if Category.HOUSING not in categories:
                    continue
                rows = await session.execute(
                    select(HmisEnrollment, HmisProject, HmisExit)
                    .join(HmisProject, (HmisProject.source == HmisEnrollment.source)
                          & (HmisProject.project_id == HmisEnrollment.project_id))
                    .outerjoin(HmisExit, (HmisExit.source == HmisEnrollment.source)
                               & (HmisExit.enrollment_id == HmisEnrollment.enrollment_id))
                    .where(HmisEnrollment.source == src, HmisEnrollment.personal_id.in_(chunk)))
                for e, p, x in rows.all():
                    stays[e.personal_id].append(self._stay(e, p, x))
        records = {}
        for pid, c in clients.items():
            sections: dict[Category, Any] = {}
            if Category.IDENTITY in categories:
                sections[Category.IDENTITY] = Demographics(c.first_name, c.middle_name, c.last_name, c.dob, c.sex)
            if Category.HOUSING in categories:
                sections[Category.HOUSING] = sorted(stays.get(pid, []), key=lambda s: (s.entry_date, s.enrollment_id),
                                                    reverse=True)
            records[pid] = SourceRecord(pid, sections)
        return FetchResult(as_of=snap.exported_at, records=records)

    async def list_people(self, since: str | None = None) -> PeopleBatch:
        """Client.csv rows of the snapshot updated after `since` (a DateUpdated the last call returned)."""
        stmt = select(HmisClient).where(HmisClient.source == self.source).order_by(HmisClient.date_updated)
        if since:
            stmt = stmt.where(HmisClient.date_updated > datetime.fromisoformat(since))
        with self._status.track(), self._store_errors():
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).scalars().all()
        people = [SourcePerson(
            source=self.source, local_id=c.personal_id, first_name=c.first_name, middle_name=c.middle_name,
            last_name=c.last_name, dob=c.dob, sex=c.sex, ssn=c.ssn, ssn_last4=c.ssn[-4:] if c.ssn else None,
            ssn_quality=c.ssn_data_quality, name_quality=c.name_data_quality, dob_quality=c.dob_data_quality,
            updated=c.date_updated) for c in rows]
        watermark = max((p.updated.isoformat() for p in people if p.updated), default=since or "")
        return PeopleBatch(people, watermark)

    def _stay(self, e: HmisEnrollment, p: HmisProject, x: HmisExit | None) -> HousingEnrollment:
        return HousingEnrollment(
            enrollment_id=e.enrollment_id, agency=self.organization, project_name=p.name,
            project_type=p.project_type, project_type_name=PROJECT_TYPES.get(p.project_type, "Other"),
            entry_date=e.entry_date, move_in_date=e.move_in_date, exit_date=x.exit_date if x else None,
            destination=x.destination if x else None, destination_class=destination_class(x.destination if x else None),
            household_id=e.household_id, relationship_to_head=e.relationship_to_hoh,
        )

    def status(self) -> ConnectorStatus:
        """The last known health of the snapshot."""
        return self._status.snapshot()

    async def aclose(self) -> None:
        """Nothing to release: the gateway's store is closed by its owner."""
        return None

