"""Shared fixtures: the two stores (SQLite and a real PostgreSQL), settings, servers."""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import itertools
import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from audit.signing import CheckpointSigner, load_or_create_key
from connectors.benefits import BenefitsConnector
from connectors.config import BenefitsConfig, HousingConfig, SchoolingConfig
from connectors.edfi import SchoolingConnector
from connectors.hmis.connector import HousingConnector
from connectors.hmis.importer import import_export
from demo.benefits_sim import BenefitsAgency
from demo.edfi_sim import EdfiAgency
from demo.hmis_export import write_export
from demo.population import Population, generate
from demo.postgres import PostgresServer, find_bindir
from demo.servers import ServerThread
from identity.index import relink, sync
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.reads import Reads, open_reads

_counter = itertools.count()


@pytest.fixture(scope="session", autouse=True)
def exporter_jitter_of_its_own() -> Iterator[None]:
    """The OTLP exporter computes a backoff jitter from the shared `random` module before every export
    (opentelemetry/exporter/otlp/common/http.py, `_compute_backoff`), on the span processor's thread. Every test
    gateway exports to the suite's collector, so that state moved at any moment, and Hypothesis failed whichever
    property test was drawing then as flaky ("Do not use the random module inside strategies"). In the test
    process the exporter gets a Random of its own (tests/test_telemetry.py checks it)."""
    import random

    import opentelemetry.exporter.otlp.common.http as otlp_http

    shared = otlp_http.random
    otlp_http.random = random.Random()
    yield
    otlp_http.random = shared


@pytest.fixture(scope="session", autouse=True)
def no_personal_data_in_logs_or_spans(exporter_jitter_of_its_own: None) -> Iterator[None]:
    """Collects every log record and exported span of the session; fails on the synthetic people's data."""
    from tests import pii_watch

    handler = pii_watch.Collected()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    collector = pii_watch.Collector()
    with ServerThread(collector.app()) as server:
        os.environ["CASEBRIDGE_TEST_OTLP_ENDPOINT"] = f"{server.url}/v1/traces"
        try:
            yield
        finally:
            os.environ.pop("CASEBRIDGE_TEST_OTLP_ENDPOINT", None)
            root.removeHandler(handler)
            root.setLevel(level)
    # (that the watch sees what it should: tests/test_telemetry.py, which runs it on a name put in both)
    found = pii_watch.leaks(handler.texts, collector.bodies, pii_watch.personal_data(pii_watch.suite_populations()))
    assert found == [], f"personal data in logs or spans: {found[:20]}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The base URL of a PostgreSQL server: TEST_DATABASE_URL, or one started for this session."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    bindir = find_bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: run ./scripts/test, which installs them, "
                    "or set TEST_DATABASE_URL")
    server = PostgresServer(bindir).start()
    try:
        yield server.url()
    finally:
        server.stop()


async def _fresh_pg_database(base_url: str, *, name: str | None = None, template: str | None = None) -> str:
    name = name or f"cb_test_{os.getpid()}_{next(_counter)}"
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    finally:
        await admin.dispose()
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


async def _drop_pg_database(base_url: str, url: str) -> None:
    name = make_url(url).database
    admin = make_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database on each backend; dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'casebridge.db'}"
        return
    base = request.getfixturevalue("postgres")
    url = await _fresh_pg_database(base)
    try:
        yield url
    finally:
        await _drop_pg_database(base, url)


def _in_own_loop(fn: Any) -> None:
    """Run the coroutine function `fn` to its end in a loop of its own (a session fixture may be set up from
    inside a test's running loop)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, fn()).result()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store migrated to head, copied for each test that wants a migrated store (a copy takes a few
    milliseconds; migrating, 130 ms)."""
    path = tmp_path_factory.mktemp("template") / "migrated.db"

    async def migrate() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _in_own_loop(migrate)
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres: str) -> str:
    """The name of a PostgreSQL database migrated to head, the template each test's database is created from
    (CREATE DATABASE ... TEMPLATE copies it as fast as it copies an empty one)."""
    name = f"cb_template_{os.getpid()}"

    async def make() -> None:
        url = await _fresh_pg_database(postgres, name=name)
        engine = make_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _in_own_loop(make)
    return name


@pytest.fixture
async def database_url(request: pytest.FixtureRequest, empty_database_url: str) -> AsyncIterator[str]:
    """A fresh database on each backend, migrated to head (a copy of the session's migrated template)."""
    if empty_database_url.startswith("sqlite"):
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), make_url(empty_database_url).database or "")
        yield empty_database_url
        return
    base = request.getfixturevalue("postgres")
    template = request.getfixturevalue("migrated_postgres")
    await _drop_pg_database(base, empty_database_url)  # the empty one, made from the template instead
    url = await _fresh_pg_database(base, name=make_url(empty_database_url).database, template=template)
    yield url


@pytest.fixture(scope="session")
def population() -> Population:
    """A small synthetic population, the same for the whole session."""
    return generate(seed=11, households=12)


@pytest.fixture
def agency(population: Population) -> BenefitsAgency:
    """A fresh benefits agency simulator state (faults cleared, no tokens)."""
    return BenefitsAgency(population)


@pytest.fixture
def benefits_server(agency: BenefitsAgency) -> Iterator[ServerThread]:
    """The benefits simulator as a real HTTP server on 127.0.0.1."""
    with ServerThread(agency.app()) as server:
        yield server


@pytest.fixture
def district(population: Population) -> EdfiAgency:
    """A fresh school district (Ed-Fi) simulator state."""
    return EdfiAgency(population)


@pytest.fixture
def edfi_server(district: EdfiAgency) -> Iterator[ServerThread]:
    """The Ed-Fi simulator as a real HTTP server on 127.0.0.1."""
    with ServerThread(district.app()) as server:
        yield server


@pytest.fixture(scope="session")
def dev_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One development signing key for the session."""
    return tmp_path_factory.mktemp("keys") / "dev-signing-key.json"


def make_settings(dev_key_file: Path, **overrides: Any) -> Settings:
    """Development settings with the test key; `benefits_url`, `database_url` and others as given."""
    benefits_url = overrides.pop("benefits_url", "http://127.0.0.1:9")
    schooling_url = overrides.pop("schooling_url", "http://127.0.0.1:9")
    timeout = overrides.pop("benefits_timeout", 2.0)
    secret = overrides.pop("benefits_secret", "dev-benefits-secret")
    auth = overrides.pop("auth", {})
    audit = overrides.pop("audit", {})
    # the test city names DHS an appropriate party in FERPA 99.36 health-or-safety emergencies
    overrides.setdefault("appropriate_parties", {"ferpa-99.36": ["DHS"]})
    # every gateway exports its spans to the session's collector (tests/pii_watch.py)
    if "CASEBRIDGE_TEST_OTLP_ENDPOINT" in os.environ:
        overrides.setdefault("telemetry", {"exporter": "otlp",
                                           "otlp_endpoint": os.environ["CASEBRIDGE_TEST_OTLP_ENDPOINT"]})
    return Settings(
        auth={"dev_key_file": dev_key_file, **auth},
        audit={"signing_key_file": dev_key_file.with_name("audit-key.json"), **audit},
        benefits=BenefitsConfig(base_url=benefits_url, timeout_seconds=timeout, client_secret=secret),
        schooling=overrides.pop("schooling", {"base_url": schooling_url, "timeout_seconds": timeout}),
        **overrides,
    )


@pytest.fixture
def settings_factory(dev_key_file: Path) -> Any:
    """Build Settings for a test (see make_settings)."""
    return lambda **kw: make_settings(dev_key_file, **kw)


@pytest.fixture
async def gateway(
    database_url: str, benefits_server: ServerThread, edfi_server: ServerThread, population: Population,
    settings_factory: Any,
) -> AsyncIterator[tuple[Settings, ServerThread]]:
    """The whole gateway on 127.0.0.1 over a migrated, seeded store (with the HMIS snapshot imported) and the
    running benefits and Ed-Fi simulators."""
    from api.app import create_app
    from tests.gateway import seed_links

    await seed_links(database_url, population)
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url,
                                schooling_url=edfi_server.url, benefits_timeout=1.0)
    with ServerThread(create_app(settings)) as server:
        yield settings, server


@pytest.fixture
async def indexed(database_url: str, population: Population, tmp_path: Path) -> Any:
    """The store with the three agencies' people synced into the index."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    reads = open_reads(engine)
    assert (await import_export(sessions, write_export(population.hmis, tmp_path / "hmis",
                                                       exported_at=datetime(2026, 11, 1)))).ok
    own = copy.deepcopy(population)
    benefits, district = BenefitsAgency(own), EdfiAgency(own)
    with ServerThread(benefits.app()) as b, ServerThread(district.app()) as e:
        sources = [BenefitsConnector(BenefitsConfig(base_url=b.url)), HousingConnector(HousingConfig(), reads),
                   SchoolingConnector(SchoolingConfig(base_url=e.url))]
        written = await sync(sessions, sources)
        yield sessions, sources, written, benefits
        for s in sources:
            await s.aclose()
    await reads.aclose()
    await engine.dispose()


@pytest.fixture
async def indexed_gateway(gateway: Any, database_url: str) -> Any:
    """The gateway, with the three agencies' people synced into the identity index and linked."""
    settings, _server = gateway
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    reads = open_reads(engine)
    sources = [BenefitsConnector(settings.benefits), HousingConnector(settings.housing, reads),
               SchoolingConnector(settings.schooling)]
    try:
        await sync(sessions, sources)
        await relink(sessions)
        yield gateway, sessions
    finally:
        for s in sources:
            await s.aclose()
        await reads.aclose()
        await engine.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> CheckpointSigner:
    """A checkpoint signer with a key of the test's own."""
    return CheckpointSigner(load_or_create_key(tmp_path / "audit-key.json"))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The migrated test database's engine."""
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine: AsyncEngine) -> Any:
    """Sessions on the migrated test database."""
    return make_sessionmaker(engine)


@pytest.fixture
async def reads(engine: AsyncEngine) -> AsyncIterator[Reads]:
    """The request path's reader on the migrated test database."""
    reads = open_reads(engine)
    yield reads
    await reads.aclose()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep each phase's report on the test (`item.rep_call`): browser tests screenshot the page when it failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
