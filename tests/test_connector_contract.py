"""One contract, every connector (benefits, housing, schooling): what the gate relies on.

A known client's record comes back under its local id with its identity; an
unknown id is simply absent; an agency that is down, slow, sends malformed data,
refuses our credentials or has no such route raises its own typed AgencyError naming the
connector — never anything else, never partial garbage — and the connector's
status says so.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, PeopleSource
from connectors.benefits import BenefitsConnector
from connectors.config import BenefitsConfig, HousingConfig, SchoolingConfig
from connectors.edfi import SchoolingConnector
from connectors.hmis.connector import HousingConnector
from connectors.hmis.importer import import_export
from core.errors import (
    AgencyAuthFailed,
    AgencyBadData,
    AgencyError,
    AgencyNotFound,
    AgencyTimeout,
    AgencyUnavailable,
)
from core.vocabulary import Category
from demo.benefits_sim import BenefitsAgency
from demo.edfi_sim import EdfiAgency
from demo.hmis_export import DELTA, write_export
from demo.population import HmisData, Population
from demo.servers import ServerThread, free_port
from store.engine import make_engine, make_sessionmaker
from store.reads import Reads, open_reads

CONNECTORS = ["benefits", "housing", "schooling"]
FAST = 0.5  # seconds: the timeout the slow agency must exceed


class Harness:
    """A connector under test and the switches that break its agency."""

    name: str
    connector: Connector

    def known(self, population: Population) -> tuple[str, str]:
        """(local id, last name as this agency holds it) of a client the agency knows."""
        raise NotImplementedError

    async def down(self) -> Connector:
        raise NotImplementedError

    async def slow(self) -> Connector:
        raise NotImplementedError

    async def malformed(self) -> Connector | None:
        """A connector whose agency sends malformed data, or None when malformed data cannot reach it."""
        raise NotImplementedError

    async def bad_credentials(self) -> Connector | None:
        raise NotImplementedError

    async def misrouted(self) -> Connector | None:
        """A connector pointed at a route its agency's API does not have (a wrong tenant or base path)."""
        return None

    async def rename(self, population: Population, local_id: str, first_name: str) -> None:
        """The agency corrects one person's first name."""
        raise NotImplementedError

    def home(self, population: Population, local_id: str) -> tuple[str, str] | None:
        """The street line and ZIP the agency holds for the person; None where it keeps no address."""
        return None

    async def move(self, local_id: str, street: str, zip_code: str) -> None:
        """The person reports a new home address to the agency."""
        raise NotImplementedError


class HttpHarness(Harness):
    def __init__(self, name: str, agency: BenefitsAgency | EdfiAgency, server: ServerThread) -> None:
        self.name, self.agency, self.server = name, agency, server
        self.connector = self.make(server.url)

    def make(self, url: str, **kw: Any) -> Connector:
        if self.name == "benefits":
            return BenefitsConnector(BenefitsConfig(base_url=url, **kw))
        return SchoolingConnector(SchoolingConfig(base_url=url, **kw))

    def known(self, population: Population) -> tuple[str, str]:
        if self.name == "benefits":
            p = population.people[0]
            assert p.benefits_id
            return p.benefits_id, p.last_name
        s = population.edfi.students[0]
        return str(s["studentUniqueId"]), str(s["lastSurname"])

    async def down(self) -> Connector:
        return self.make(f"http://127.0.0.1:{free_port()}")

    async def slow(self) -> Connector:
        self.agency.faults.delay_seconds = FAST * 3
        return self.make(self.server.url, timeout_seconds=FAST)

    async def malformed(self) -> Connector | None:
        self.agency.faults.malformed = True
        return self.connector

    async def bad_credentials(self) -> Connector | None:
        return self.make(self.server.url, client_secret="not-the-secret")

    async def misrouted(self) -> Connector | None:
        return self.make(f"{self.server.url}/no-such-tenant")

    async def rename(self, population: Population, local_id: str, first_name: str) -> None:
        if isinstance(self.agency, BenefitsAgency):
            self.agency.touch(local_id, first_name, datetime.now(UTC) + timedelta(days=1))
        else:
            self.agency.touch(local_id, first_name)

    def home(self, population: Population, local_id: str) -> tuple[str, str] | None:
        field = "benefits_id" if self.name == "benefits" else "student_id"
        person = next(p for p in population.people if getattr(p, field) == local_id)
        return person.address, person.zip

    async def move(self, local_id: str, street: str, zip_code: str) -> None:
        if isinstance(self.agency, BenefitsAgency):
            self.agency.move(local_id, street, zip_code, datetime.now(UTC) + timedelta(days=2))
        else:  # Ed-Fi versions the address apart from the student: only the address changed
            self.agency.move(local_id, street, zip_code)


class SnapshotHarness(Harness):
    """The housing connector reads the imported HMIS snapshot in casebridge's own store."""

    name = "housing"

    def __init__(self, sessions: Any, reads: Reads, tmp: Path) -> None:
        self.sessions, self.reads, self.tmp = sessions, reads, tmp
        self.connector = HousingConnector(HousingConfig(), reads)
        self.engines: list[Any] = []
        self.readers: list[Reads] = []

    def known(self, population: Population) -> tuple[str, str]:
        c = population.hmis.clients[0]
        return str(c["PersonalID"]), str(c["LastName"])

    async def down(self) -> Connector:
        engine = make_engine(f"sqlite+aiosqlite:///{self.tmp / 'never-migrated.db'}")  # no snapshot tables
        self.engines.append(engine)
        self.readers.append(reads := open_reads(engine))
        return HousingConnector(HousingConfig(), reads)

    async def slow(self) -> Connector:
        return HousingConnector(HousingConfig(timeout_seconds=1e-9), self.reads)

    async def malformed(self) -> Connector | None:
        return None  # a malformed export is refused at import (tests/test_hmis.py); see the test below

    async def bad_credentials(self) -> Connector | None:
        return None  # no agency credentials: the snapshot is in casebridge's own store

    async def rename(self, population: Population, local_id: str, first_name: str) -> None:
        client = next(c for c in population.hmis.clients if c["PersonalID"] == local_id)
        delta = HmisData(source_id=population.hmis.source_id, clients=[{**client, "FirstName": first_name}])
        path = write_export(delta, self.tmp / "delta", exported_at=datetime(2026, 11, 2), directive=DELTA,
                            export_id="1002")
        assert (await import_export(self.sessions, path)).ok


@pytest.fixture(params=CONNECTORS)
async def harness(
    request: pytest.FixtureRequest, population: Population, database_url: str, tmp_path: Path
) -> AsyncIterator[Harness]:
    name = request.param
    if name == "housing":
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        report = await import_export(sessions, write_export(population.hmis, tmp_path / "hmis",
                                                            exported_at=datetime(2026, 11, 1)))
        assert report.ok
        reads = open_reads(engine)
        snap = SnapshotHarness(sessions, reads, tmp_path)
        yield snap
        for r in snap.readers:
            await r.aclose()
        for e in snap.engines:
            await e.dispose()
        await reads.aclose()
        await engine.dispose()
        return
    own = copy.deepcopy(population)  # the agency may change its records (rename); the session's population stays
    agency: BenefitsAgency | EdfiAgency = BenefitsAgency(own) if name == "benefits" else EdfiAgency(own)
    with ServerThread(agency.app()) as server:
        h = HttpHarness(name, agency, server)
        yield h
        await h.connector.aclose()


async def _fails_with(connector: Connector, error: type[AgencyError], local_id: str) -> None:
    with pytest.raises(AgencyError) as caught:
        await connector.fetch([local_id], frozenset({Category.IDENTITY}))
    assert type(caught.value) is error, caught.value
    assert caught.value.extensions["connector"] == connector.name
    status = connector.status()
    assert (status.state, status.last_error_code) == ("down", error.code)
    await connector.aclose()


async def test_a_known_client_comes_back_with_identity_and_an_unknown_one_is_absent(
    harness: Harness, population: Population
) -> None:
    local_id, last_name = harness.known(population)
    result = await harness.connector.fetch([local_id, "no-such-record"], frozenset({Category.IDENTITY}))
    assert set(result.records) == {local_id}
    assert result.records[local_id].sections[Category.IDENTITY].last_name == last_name
    assert result.as_of.tzinfo is not None
    assert harness.connector.status().state == "up"


async def test_every_category_it_offers_comes_back_when_asked(harness: Harness, population: Population) -> None:
    local_id, _ = harness.known(population)
    result = await harness.connector.fetch([local_id], harness.connector.categories)
    assert set(result.records[local_id].sections) == set(harness.connector.categories)


async def test_agency_down_is_agency_unavailable(harness: Harness, population: Population) -> None:
    await _fails_with(await harness.down(), AgencyUnavailable, harness.known(population)[0])


async def test_agency_slow_is_agency_timeout(harness: Harness, population: Population) -> None:
    await _fails_with(await harness.slow(), AgencyTimeout, harness.known(population)[0])


async def test_malformed_data_is_agency_bad_data_or_never_arrives(
    harness: Harness, population: Population, tmp_path: Path
) -> None:
    local_id, last_name = harness.known(population)
    broken = await harness.malformed()
    if broken is not None:
        with pytest.raises(AgencyBadData) as caught:
            await broken.fetch([local_id], broken.categories)
        assert caught.value.extensions["connector"] == broken.name
        assert last_name not in str(caught.value.extensions)  # places, never values
        return
    # a snapshot connector: the malformed export is refused and the last good data is still served
    bad = write_export(population.hmis, tmp_path / "bad", exported_at=datetime(2026, 11, 1) + timedelta(days=1))
    (bad / "Enrollment.csv").write_text("EnrollmentID,PersonalID\r\nonly,two columns\r\n")
    assert not (await import_export(harness.sessions, bad)).ok
    result = await harness.connector.fetch([local_id], frozenset({Category.IDENTITY}))
    assert result.records[local_id].sections[Category.IDENTITY].last_name == last_name


async def test_refused_credentials_are_agency_auth_failed(harness: Harness, population: Population) -> None:
    refused = await harness.bad_credentials()
    if refused is None:
        pytest.skip("the housing snapshot is read from casebridge's own store: there are no agency credentials")
    await _fails_with(refused, AgencyAuthFailed, harness.known(population)[0])



async def test_a_route_the_agency_does_not_have_is_agency_not_found(harness: Harness, population: Population) -> None:
    # a 404 is a configuration to fix (base URL, tenant, school year), said as such: not "malformed", not retried
    misrouted = await harness.misrouted()
    if misrouted is None:
        pytest.skip("the housing snapshot is read from casebridge's own store: there is no route to get wrong")
    await _fails_with(misrouted, AgencyNotFound, harness.known(population)[0])


async def test_people_are_listed_whole_then_only_what_changed(harness: Harness, population: Population) -> None:
    local_id, last_name = harness.known(population)
    source = harness.connector
    assert isinstance(source, PeopleSource)
    everyone = await source.list_people()
    listed = {p.local_id: p for p in everyone.people}
    assert listed[local_id].last_name == last_name and listed[local_id].source == source.source
    assert len(listed) == len(everyone.people)
    assert (await source.list_people(everyone.watermark)).people == []  # nothing changed since
    await harness.rename(population, local_id, "Renamed")
    changed = await source.list_people(everyone.watermark)
    assert [(p.local_id, p.first_name) for p in changed.people] == [(local_id, "Renamed")]
    assert (await source.list_people(changed.watermark)).people == []


async def test_people_are_listed_with_the_home_the_agency_holds(harness: Harness, population: Population) -> None:
    local_id, _ = harness.known(population)
    home = harness.home(population, local_id)
    source = harness.connector
    assert isinstance(source, PeopleSource)
    everyone = await source.list_people()
    person = next(p for p in everyone.people if p.local_id == local_id)
    if home is None:  # the HMIS client file keeps no address: nothing is made up
        assert all(p.address is None and p.zip is None and p.phone is None for p in everyone.people)
        return
    assert (person.address, person.zip) == home  # the street line and ZIP the agency holds (identity matching)
    await harness.move(local_id, "77 Linden Blvd", "11226")
    moved = await source.list_people(everyone.watermark)
    assert [(p.local_id, p.address, p.zip, p.first_name) for p in moved.people] == [
        (local_id, "77 Linden Blvd", "11226", person.first_name)]  # listed whole, with the new address
