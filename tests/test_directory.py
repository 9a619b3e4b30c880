"""The service directory (issue 21 §3): Open Referral HSDS 3.x imported from a tabular data package or from JSON,
with every row that cannot be used named by file and row; searched by need, language and place through the gate,
by staff helping a client or by a client applying themselves. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from connectors.hsds.directory import Query, replace, search
from connectors.hsds.reader import Unreadable, read, read_json
from demo.population import Population
from store.engine import make_engine, make_sessionmaker
from tests.gateway import caller, events

DEMO = Path(__file__).resolve().parent.parent / "demo" / "directory"
SEARCH = """query($need: String, $language: String, $text: String, $near: NearInput, $postal: String) {
  directoryServices(need: $need, language: $language, text: $text, near: $near, postalCode: $postal) {
    id name status languages needs { code name } hours { byday opensAt closesAt } eligibility minimumAge
    organization { name website } locations { name address1 city postalCode distanceKm } } }"""
HARBOR = {"latitude": 40.7033, "longitude": -74.0170}


async def _import(database_url: str, path: Path) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            from datetime import UTC, datetime
            await replace(session, read(path), now=datetime.now(UTC))
    finally:
        await engine.dispose()


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_the_demo_package_reads_whole() -> None:
    found = read(DEMO)
    assert found.problems == []
    assert (len(found.organizations), len(found.services), len(found.locations)) == (5, 5, 5)
    esol = next(s for s in found.services.values() if s.name == "ESOL classes for adults")
    assert [n.code for n in esol.needs] == ["ESOL"] and "ht" in esol.languages and esol.minimum_age == 18
    assert [(h.byday, h.opens_at, h.closes_at) for h in esol.hours] == [("MO,WE", "18:00", "20:00")]
    place = found.locations[esol.location_ids[0]]
    assert (place.address_1, place.postal_code, place.country) == ("10 Harbor Plaza", "10004", "US")


def test_rows_that_cannot_be_used_are_named_by_file_and_row_and_the_rest_is_kept(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    shutil.copytree(DEMO, pkg)
    services = _rows(pkg / "services.csv")
    services[1]["status"] = "open"  # row 3: not an HSDS status
    services[2]["organization_id"] = "00000000-0000-4000-8000-000000000000"  # row 4: no such organization
    services[3]["id"] = "jobs-1"  # row 5: not a UUID - kept, named
    services[4]["maximum_age"] = "400"  # row 6: an age no one has - kept without it
    _write(pkg / "services.csv", services)
    locations = _rows(pkg / "locations.csv")
    locations[0]["latitude"] = "100"  # off the globe: the place is kept without coordinates
    locations[1]["location_type"] = "building"  # not a location type: left out
    _write(pkg / "locations.csv", locations)
    addresses = _rows(pkg / "addresses.csv")
    addresses[2]["city"] = ""
    _write(pkg / "addresses.csv", addresses)
    schedules = _rows(pkg / "schedules.csv")
    schedules[0]["byday"] = "MONDAY"
    _write(pkg / "schedules.csv", schedules)

    found = read(pkg)
    named = {(p.file, p.row, p.field, p.dropped) for p in found.problems}
    assert ("services.csv", 3, "status", True) in named
    assert ("services.csv", 4, "organization_id", True) in named
    assert ("services.csv", 5, "id", False) in named
    assert ("services.csv", 6, "maximum_age", False) in named
    assert ("locations.csv", 2, "latitude", False) in named
    assert ("locations.csv", 3, "location_type", True) in named
    assert ("addresses.csv", 4, "city", True) in named
    assert ("schedules.csv", 2, "byday", True) in named
    # what refers to a row left out is named too, never silently linked
    assert any(p.file == "service_at_location.csv" and p.dropped for p in found.problems)
    assert set(s.name for s in found.services.values()) == {
        "ESOL classes for adults", "Job search and placement", "Primary care clinic"}
    assert found.services["jobs-1"].name == "Job search and placement"
    assert all(str(p).startswith(p.file) for p in found.problems)  # "services.csv row 3 status: ..."


def test_a_package_without_services_or_not_json_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(Unreadable):
        read(tmp_path / "empty")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(Unreadable):
        read(tmp_path / "bad.json")


def test_the_json_forms_compiled_services_a_page_and_the_tabular_form() -> None:
    service = {
        "id": "4a1c9b54-4f6a-4b55-9a0a-000000000001", "name": "Legal clinic", "status": "active",
        "eligibility_description": "Anyone", "minimum_age": 16,
        "organization": {"id": "4a1c9b54-4f6a-4b55-9a0a-0000000000aa", "name": "Clinic", "description": "A clinic"},
        "languages": [{"id": "l1", "code": "FR"}],
        "schedules": [{"id": "s1", "freq": "WEEKLY", "byday": "TU", "opens_at": "10:00:00", "closes_at": "17:00Z"}],
        "attributes": [{"id": "a1", "link_entity": "service", "taxonomy_term": {
            "id": "t1", "code": "IMMIGRATION_LEGAL", "name": "Immigration legal help", "description": "x",
            "taxonomy_detail": {"id": "x1", "name": "city-needs", "description": "x"}}}],
        "service_at_locations": [{"id": "sal1", "location": {
            "id": "4a1c9b54-4f6a-4b55-9a0a-0000000000bb", "location_type": "physical", "latitude": 40.7,
            "longitude": -74.0, "addresses": [{"id": "ad1", "address_1": "1 Main St", "city": "New York",
                                               "state_province": "NY", "postal_code": "10001", "country": "us",
                                               "address_type": "physical"}]}}],
    }
    for shape in (service, [service], {"total_items": 1, "contents": [service]}):
        found = read_json(json.loads(json.dumps(shape)))
        (svc,) = found.services.values()
        assert (svc.languages, [n.code for n in svc.needs], svc.hours[0].opens_at) == (
            ["fr"], ["IMMIGRATION_LEGAL"], "10:00")
        (place,) = found.locations.values()
        assert (place.postal_code, place.country, place.latitude) == ("10001", "US", 40.7)
    broken = read_json([{**service, "status": "maybe"}, "not an object"])
    assert broken.services == {} and [p.row for p in broken.problems] == [0, 1]
    tabular = read_json({"organizations.csv": [{"id": "o1", "name": "Org"}],
                         "services": [{"id": "s1", "organization_id": "o1", "name": "S", "status": "active"}]})
    assert list(tabular.services) == ["s1"]


async def test_search_by_need_language_words_and_place(database_url: str) -> None:
    await _import(database_url, DEMO)
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            esol = await search(session, Query(need="esol"))
            assert [f.service.name for f in esol] == ["ESOL classes for adults"]
            assert [f.service.name for f in await search(session, Query(need="job search"))] == [
                "Job search and placement", "OSHA-10 construction safety course"]  # part of a term's name
            assert [f.service.name for f in await search(session, Query(need="EMPLOYMENT"))] == [
                "Job search and placement", "OSHA-10 construction safety course"]
            assert [f.service.name for f in await search(session, Query(language="wo"))] == [
                "Asylum and work authorization clinic"]
            assert [f.service.name for f in await search(session, Query(text="I-589"))] == [
                "Asylum and work authorization clinic"]
            near = await search(session, Query(latitude=HARBOR["latitude"], longitude=HARBOR["longitude"],
                                               radius_km=2.0))
            assert [f.service.name for f in near][0] == "ESOL classes for adults"  # nearest first
            assert all(f.nearest_km is not None and f.nearest_km <= 2.0 for f in near)
            assert "Primary care clinic" not in {f.service.name for f in near}  # in the Bronx
            assert [f.service.name for f in await search(session, Query(postal_code="10451"))] == [
                "Primary care clinic"]
    finally:
        await engine.dispose()


async def test_staff_and_clients_search_through_the_gate_others_are_refused(
    gateway: Any, database_url: str, population: Population,
) -> None:
    await _import(database_url, DEMO)
    dhs = caller(gateway, "DHS")
    got = await dhs.query(SEARCH, {"need": "ESOL", "near": HARBOR})
    (esol,) = got["data"]["directoryServices"]
    assert esol["organization"]["name"] == "Harbor Public Library" and esol["minimumAge"] == 18
    assert esol["locations"][0]["distanceKm"] == 0.0 and esol["hours"] == [
        {"byday": "MO,WE", "opensAt": "18:00", "closesAt": "20:00"}]
    me = caller(gateway, "CLIENTS", "client", purpose="client_access", self_client=population.people[0].client_id)
    assert len((await me.query(SEARCH, {"language": "es"}))["data"]["directoryServices"]) == 5
    needs = (await me.query("{ directoryNeeds { need { code } services } }"))["data"]["directoryNeeds"]
    assert needs[0] == {"need": {"code": "EMPLOYMENT"}, "services": 2}
    before = len(await events(database_url))
    auditor = caller(gateway, "OVERSIGHT", "auditor", purpose="audit")
    refused = await auditor.query(SEARCH, {"need": "ESOL"})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert [(e.action, e.outcome) for e in (await events(database_url))[before:]] == [
        ("directory.search", "refused")]
    bad = await dhs.query(SEARCH, {"near": {"latitude": 95, "longitude": 0}})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(await events(database_url)) == before + 1  # a search is no access to anyone's records


async def test_the_import_command_reports_problems_and_replaces_the_directory(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from cli.main import app

    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", database_url)
    monkeypatch.setenv("CASEBRIDGE_AUDIT__SIGNING_KEY_FILE", str(tmp_path / "audit-key.json"))
    runner = CliRunner()
    clean = await asyncio.to_thread(runner.invoke, app, ["directory", "import", str(DEMO), "--operator", "it"])
    assert clean.exit_code == 0, clean.output
    assert "5 organizations, 5 services, 5 locations; 0 rows left out" in clean.output
    pkg = tmp_path / "pkg"
    shutil.copytree(DEMO, pkg)
    services = _rows(pkg / "services.csv")
    services[0]["status"] = "open"
    _write(pkg / "services.csv", services)
    flawed = await asyncio.to_thread(runner.invoke, app, ["directory", "import", str(pkg / "datapackage.json")])
    assert flawed.exit_code == 1 and "services.csv row 2 status" in flawed.output
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            assert [f.service.name for f in await search(session, Query(need="ESOL"))] == []  # replaced whole
    finally:
        await engine.dispose()
    unreadable = await asyncio.to_thread(runner.invoke, app, ["directory", "import", str(tmp_path)])
    assert unreadable.exit_code == 2 and "nothing imported" in unreadable.output
    logged = [e for e in await events(database_url) if e.action == "directory.import"]
    assert [e.subject for e in logged][0] == "it" and len(logged) == 2
