"""The schooling connector against the Ed-Fi simulator: paging, descriptors, transfers, homeless status, tokens."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from connectors.config import EdfiDescriptors, SchoolingConfig
from connectors.edfi import Reach, SchoolingConnector, StudentReach, code, merge_reach, schooling_record
from connectors.records import SchoolEnrollment, SchoolingRecord
from core.errors import AgencyAuthFailed, AgencyNotFound
from core.vocabulary import Category
from demo.edfi_sim import EdfiAgency
from demo.population import Population
from demo.servers import ServerThread
from tests.gateway import caller


@pytest.fixture
def district_server(population: Population) -> Iterator[tuple[EdfiAgency, ServerThread]]:
    agency = EdfiAgency(population)
    with ServerThread(agency.app()) as server:
        yield agency, server


def truth(population: Population, student_id: str) -> list[dict[str, Any]]:
    rows = [a for a in population.edfi.school_associations
            if a["studentReference"]["studentUniqueId"] == student_id]
    return sorted(rows, key=lambda a: str(a["entryDate"]))


async def test_the_simulator_speaks_the_api_s_paging_and_auth(
    district_server: tuple[EdfiAgency, ServerThread], population: Population
) -> None:
    _, server = district_server
    async with httpx.AsyncClient(base_url=server.url) as http:
        root = (await http.get("/")).json()
        assert root["urls"]["oauth"].endswith("/oauth/token")
        assert (await http.get("/data/v3/ed-fi/students")).status_code == 401
        token = (await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                                 auth=("casebridge", "dev-edfi-secret"))).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/data/v3/ed-fi/students", params={"limit": 501}, headers=auth)).status_code == 400
        page = await http.get("/data/v3/ed-fi/students", params={"limit": 2, "offset": 1, "totalCount": "true"},
                              headers=auth)
        assert page.headers["Total-Count"] == str(len(population.edfi.students))
        assert [s["studentUniqueId"] for s in page.json()] == [
            s["studentUniqueId"] for s in population.edfi.students[1:3]]
        assert "Total-Count" not in (await http.get("/data/v3/ed-fi/schools", headers=auth)).headers


@pytest.fixture(scope="module")
def big_district() -> Iterator[tuple[Population, ServerThread]]:
    """A larger district than the session's: enough students for every quirk the simulator posts."""
    from demo.population import generate

    population = generate(seed=11, households=60)
    with ServerThread(EdfiAgency(population).app()) as server:
        yield population, server


async def test_enrollments_transfers_and_homeless_status_from_every_page(
    big_district: tuple[Population, ServerThread],
) -> None:
    population, server = big_district
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url, page_size=2))  # two items per page: paging
    try:
        ids = [str(s["studentUniqueId"]) for s in population.edfi.students]
        result = await conn.fetch(ids, frozenset({Category.SCHOOLING}))
        assert set(result.records) == set(ids)
        homeless = {str(h["studentReference"]["studentUniqueId"]): code(str(
            h["homelessPrimaryNighttimeResidenceDescriptor"])) for h in population.edfi.homeless_associations}
        saw_transfer = saw_partial = saw_overlap = saw_future_exit = False
        for sid in ids:
            (rec,) = result.records[sid].sections[Category.SCHOOLING]
            assert isinstance(rec, SchoolingRecord)
            every = truth(population, sid)
            assert sorted(e.entry_date.isoformat() for e in rec.enrollments) == [r["entryDate"] for r in every]
            rows = [r for r in every if r.get("primarySchool") is not False]  # partial ones never count
            saw_partial |= len(rows) < len(every)
            moves = [(r, n) for r, n in itertools.pairwise(rows) if r["exitWithdrawTypeDescriptor"]]
            gaps = [(date.fromisoformat(str(n["entryDate"])) - date.fromisoformat(str(r["exitWithdrawDate"]))).days
                    for r, n in moves]
            assert [(t.exit_date.isoformat(), t.entry_date.isoformat() if t.entry_date else None,
                     t.days_out_of_school) for t in rec.transfers if t.entry_date] == [
                (r["exitWithdrawDate"], n["entryDate"], max(0, gap)) for (r, n), gap in zip(moves, gaps, strict=True)]
            saw_transfer |= bool(moves)
            saw_overlap |= any(gap < 0 for gap in gaps)  # the new school's entry a day before the exit
            today = date.today()
            ahead = [r for r in rows
                     if r["exitWithdrawDate"] and date.fromisoformat(str(r["exitWithdrawDate"])) > today]
            saw_future_exit |= bool(ahead)  # a transfer dated ahead: still at that school, no negative days
            assert all(t.days_out_of_school >= 0 for t in rec.transfers)
            open_rows = [r for r in rows if not r["exitWithdrawDate"] or r in ahead]
            assert rec.current_grade == (code(str(open_rows[-1]["entryGradeLevelDescriptor"])) if open_rows else None)
            assert rec.current_school is None or not rec.current_school.isdigit()  # names, from /schools
            expected = {"Shelters": "SHELTER", "Doubled-up": "DOUBLED_UP", "Hotels/motels": "HOTEL_MOTEL",
                        "Unsheltered": "UNSHELTERED"}.get(homeless.get(sid) or "")
            assert [h.nighttime_residence for h in rec.homeless] == ([expected] if sid in homeless else [])
        assert saw_transfer and saw_partial and saw_overlap and saw_future_exit
    finally:
        await conn.aclose()


async def test_school_names_are_read_once_and_a_revoked_token_is_refreshed_once(
    district_server: tuple[EdfiAgency, ServerThread], population: Population
) -> None:
    agency, server = district_server
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url))
    try:
        sid = str(population.edfi.students[0]["studentUniqueId"])
        await conn.fetch([sid], frozenset({Category.SCHOOLING}))
        requests = agency.data_requests
        agency.revoke_all_tokens()
        await conn.fetch([sid], frozenset({Category.SCHOOLING}))
        # student, enrollments and homeless are asked at once: all three refused, one refresh, all three again
        assert agency.token_requests == 2 and agency.refused_requests == 3
        assert agency.data_requests - requests == 3  # and no second /schools read
    finally:
        await conn.aclose()


SCHOOLING = """query($id: ID!) { client(id: $id) { schooling {
  access { agency connector status reason }
  students { studentId currentSchool currentGrade inHomelessProgramNow
             transfers { fromSchool toSchool daysOutOfSchool pending } homelessProgram { nighttimeResidence } } } } }"""


async def test_the_district_sees_its_students_and_other_agencies_need_consent(
    gateway: Any, population: Population
) -> None:
    child = next(p for p in population.people if p.student_id)
    doe, hra = caller(gateway, "DOE"), caller(gateway, "HRA")
    body = await doe.query(SCHOOLING, {"id": child.client_id})
    assert "errors" not in body, body
    section = body["data"]["client"]["schooling"]
    assert section["access"] == [{"agency": "DOE", "connector": "schooling", "status": "SHOWN", "reason": None}]
    (student,) = section["students"]
    assert student["studentId"] == child.student_id and student["currentGrade"]
    other = (await hra.query(SCHOOLING, {"id": child.client_id}))["data"]["client"]["schooling"]
    assert other == {"access": [{"agency": "DOE", "connector": "schooling", "status": "WITHHELD",
                                 "reason": "CONSENT_REQUIRED"}], "students": None}


async def test_sex_is_read_where_data_standard_5_keeps_it(
    district_server: tuple[EdfiAgency, ServerThread], population: Population
) -> None:
    # DS5: sex on studentEducationOrganizationAssociations; students' birthSexDescriptor is optional (most of the
    # simulated district's students have none).
    _, server = district_server
    without = [s for s in population.edfi.students if "birthSexDescriptor" not in s]
    assert len(without) > len(population.edfi.students) // 2
    truth_sex = {p.student_id: p.sex for p in population.people if p.student_id}
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url))
    try:
        ids = [str(s["studentUniqueId"]) for s in population.edfi.students]
        result = await conn.fetch(ids, frozenset({Category.IDENTITY}))
        assert {i: result.records[i].sections[Category.IDENTITY].sex for i in ids} == {i: truth_sex[i] for i in ids}
        listed = await conn.list_people()
        assert {p.local_id: p.sex for p in listed.people} == {i: truth_sex[i] for i in ids}
    finally:
        await conn.aclose()


async def test_people_are_listed_with_their_first_enrolment_full_or_changed(
    district_server: tuple[EdfiAgency, ServerThread], population: Population
) -> None:
    # known_since (issue 17): a date of birth after the district's first enrolment of the student is weak evidence
    agency, server = district_server
    firsts: dict[str, str] = {}
    for a in population.edfi.school_associations:
        sid = str(a["studentReference"]["studentUniqueId"])
        firsts[sid] = min(firsts.get(sid, "9999"), str(a["entryDate"]))
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url))
    try:
        everyone = await conn.list_people()
        assert {p.local_id: p.known_since.isoformat() if p.known_since else None for p in everyone.people} == firsts
        sid = next(i for i in firsts if sum(str(a["studentReference"]["studentUniqueId"]) == i
                                            for a in population.edfi.school_associations) > 1)
        agency.touch(sid, "Corrected")  # only the student changed: the later listing reads their enrolments itself
        changed = await conn.list_people(everyone.watermark)
        assert [(p.local_id, p.known_since.isoformat() if p.known_since else None) for p in changed.people] == [
            (sid, firsts[sid])]  # the earliest ever, not only what changed in the window
    finally:
        await conn.aclose()


async def test_a_claim_set_without_a_resource_costs_only_what_it_carries(
    district_server: tuple[EdfiAgency, ServerThread], population: Population
) -> None:
    agency, server = district_server
    agency.claim_set_excludes = {"studentHomelessProgramAssociations"}  # least privilege, common in districts
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url))
    try:
        sheltered = str(population.edfi.homeless_associations[0]["studentReference"]["studentUniqueId"])
        result = await conn.fetch([sheltered], frozenset({Category.SCHOOLING, Category.IDENTITY}))
        record = result.records[sheltered]
        (schooling,) = record.sections[Category.SCHOOLING]
        assert schooling.enrollments and record.sections[Category.IDENTITY].last_name  # the rest stands
        assert schooling.homeless == () and schooling.unreadable == ("studentHomelessProgramAssociations",)
        agency.claim_set_excludes = {"students"}  # without the student resource there is nothing to stand on
        with pytest.raises(AgencyAuthFailed) as refused:
            await conn.fetch([sheltered], frozenset({Category.SCHOOLING}))
        assert "students" in refused.value.message and refused.value.details["status"] == 403
    finally:
        await conn.aclose()


async def test_an_ods_api_v7_route_context_and_a_wrong_one(population: Population) -> None:
    agency = EdfiAgency(population, route_context="district-a/2026")
    with ServerThread(agency.app()) as server:
        right = SchoolingConnector(SchoolingConfig(base_url=server.url, route_context="district-a/2026"))
        # the old advice, the segment in the data path only: the token endpoint is not where it is asked for
        wrong = SchoolingConnector(SchoolingConfig(base_url=server.url, data_path="/district-a/2026/data/v3/ed-fi"))
        try:
            sid = str(population.edfi.students[0]["studentUniqueId"])
            assert sid in (await right.fetch([sid], frozenset({Category.SCHOOLING}))).records
            assert len((await right.list_people()).people) == len(population.edfi.students)  # change queries too
            with pytest.raises(AgencyNotFound) as caught:
                await wrong.fetch([sid], frozenset({Category.SCHOOLING}))
            assert "token endpoint" in caught.value.message and "malformed" not in caught.value.message
            assert caught.value.code == "AGENCY_NOT_FOUND"
        finally:
            await right.aclose()
            await wrong.aclose()


def _seoa(edorg: int, *, addresses: list[dict[str, Any]] | None = None, phones: list[dict[str, Any]] | None = None,
          sex: str | None = None) -> StudentReach:
    return StudentReach.model_validate({
        "studentReference": {"studentUniqueId": "s1"},
        "educationOrganizationReference": {"educationOrganizationId": edorg},
        **({"sexDescriptor": f"uri://ed-fi.org/SexDescriptor#{sex}"} if sex else {}),
        "addresses": addresses or [], "telephones": phones or []})


def _address(kind: str, street: str, **more: Any) -> dict[str, Any]:
    return {"addressTypeDescriptor": f"uri://state.example/AddressTypeDescriptor#{kind}", "streetNumberName": street,
            "postalCode": "10001", **more}


def test_several_associations_merge_alike_in_any_order() -> None:
    rows = [_seoa(255901, addresses=[_address("Mailing", "PO Box 12"), _address("Home", "1 Main St")],
                  phones=[{"telephoneNumberTypeDescriptor": "uri://x/TelephoneNumberTypeDescriptor#Mobile",
                           "telephoneNumber": "2125550101", "orderOfPriority": 2},
                          {"telephoneNumberTypeDescriptor": "uri://x/TelephoneNumberTypeDescriptor#Mobile",
                           "telephoneNumber": "2125550100", "orderOfPriority": 1}]),
            _seoa(255902, sex="Female"),  # another school's association, with no address: wipes nothing
            _seoa(255903, addresses=[_address("Home", "9 Elsewhere Ave")], sex="Male")]
    merged = {merge_reach(list(order), EdfiDescriptors()) for order in itertools.permutations(rows)}
    assert merged == {Reach("1 Main St", "10001", "2125550100", "Female", frozenset())}
    # A state whose physical address is coded "M", listed after a mailing P.O. box:
    state = EdfiDescriptors(home_address_types=["M"])
    coded = _seoa(1, addresses=[_address("P", "PO Box 7"), _address("M", "22 Real Rd")])
    assert merge_reach([coded], state).street == "22 Real Rd"


def test_directory_information_a_family_opted_out_of_is_neither_used_nor_shown() -> None:
    opted = _seoa(1, addresses=[_address("Home", "1 Hidden St", doNotPublishIndicator=True)],
                  phones=[{"telephoneNumber": "2125550199", "doNotPublishIndicator": True}])
    reach = merge_reach([opted], EdfiDescriptors())
    assert (reach.street, reach.zip, reach.phone) == (None, None, None)
    assert reach.withheld == frozenset({"address", "phone"})


def _enrolled(school: str, entry: date, exit_: date | None = None, *, transfer: bool = False,
              primary: bool | None = None, year: int | None = None) -> SchoolEnrollment:
    return SchoolEnrollment(school_id=school, school_name=f"School {school}", entry_date=entry,
                            entry_grade="Third grade", exit_date=exit_,
                            exit_type="Transferred" if transfer else None, primary=primary, school_year=year)


def test_which_enrollment_is_current_and_where_a_transfer_went() -> None:
    today = date(2026, 12, 4)
    decide = functools.partial(schooling_record, "s1", "DOE", homeless=(), transferred={"Transferred"}, today=today)
    # The new school's entry is dated a day before the old school's exit: a transfer that happened, not one
    # pending for 415 days while the same record names the new school as current.
    early = decide(enrollments=[_enrolled("A", date(2026, 9, 8), date(2026, 10, 10), transfer=True),
                                _enrolled("B", date(2026, 10, 9))])
    assert (early.current_school, [(t.to_school, t.days_out_of_school) for t in early.transfers]) == (
        "School B", [("School B", 0)])
    # An exit dated in the future has not happened: still at A, no negative days out of school.
    ahead = decide(enrollments=[_enrolled("A", date(2026, 9, 8), date(2026, 12, 20), transfer=True)])
    assert ahead.current_school == "School A" and [t.days_out_of_school for t in ahead.transfers] == [0]
    # A partial enrollment (primarySchool false) beside the main one is neither current school nor destination.
    partial = decide(enrollments=[_enrolled("A", date(2026, 9, 8), date(2026, 10, 1), transfer=True),
                                  _enrolled("P", date(2026, 9, 20), primary=False),
                                  _enrolled("B", date(2026, 10, 20), primary=True)])
    assert partial.current_school == "School B" and partial.transfers[0].to_school == "School B"
    assert partial.transfers[0].days_out_of_school == 19 and not partial.overlapping
    assert {e.school_id: e.current for e in partial.enrollments} == {"A": False, "P": True, "B": True}
    # Left open from a past school year, or preregistered for next term: not current.
    stale = decide(enrollments=[_enrolled("OLD", date(2024, 9, 5), year=2025),
                                _enrolled("NEXT", date(2027, 1, 15), year=2027)])
    assert stale.current_school is None and not any(e.current for e in stale.enrollments)
    # Two primary enrollments open at once: the last entered is current, and the overlap is reported.
    both = decide(enrollments=[_enrolled("A", date(2026, 9, 8)), _enrolled("B", date(2026, 11, 2))])
    assert both.current_school == "School B" and both.overlapping


async def test_a_directory_opt_out_is_withheld_from_the_index_and_said_so(
    district_server: tuple[EdfiAgency, ServerThread], population: Population, store: Any,
) -> None:
    from sqlalchemy import select

    from identity.index import sync
    from store.tables import IdentityRecord

    _, server = district_server
    opted = {str(a["studentReference"]["studentUniqueId"])
             for a in population.edfi.education_organization_associations
             if any(x.get("doNotPublishIndicator") for x in a["addresses"])}
    assert opted
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url))
    try:
        await sync(store, [conn])
    finally:
        await conn.aclose()
    async with store() as session:
        rows = {r.local_id: r for r in (await session.execute(
            select(IdentityRecord).where(IdentityRecord.source == "edfi"))).scalars()}
    for sid, row in rows.items():
        if sid in opted:  # neither kept nor matched on, and the record says why it is empty
            assert (row.address, row.zip, row.not_for_release) == (None, None, "address")
        else:
            assert row.address and row.not_for_release is None


async def test_a_district_s_directory_opt_out_indicator_withholds_the_name_too(population: Population) -> None:
    import copy

    own = copy.deepcopy(population)  # the session's population stays as it is
    reach = own.edfi.education_organization_associations[0]
    sid = str(reach["studentReference"]["studentUniqueId"])
    reach["studentIndicators"] = [{"indicatorName": "FERPA Directory Opt Out", "indicator": "Yes"}]
    with ServerThread(EdfiAgency(own).app()) as server:
        configured = SchoolingConnector(SchoolingConfig(base_url=server.url, descriptors=EdfiDescriptors(
            directory_opt_out_indicators=["FERPA Directory Opt Out"])))
        unaware = SchoolingConnector(SchoolingConfig(base_url=server.url))
        try:
            ident = (await configured.fetch([sid], frozenset({Category.IDENTITY}))).records[sid].sections[
                Category.IDENTITY]
            assert (ident.first_name, ident.last_name) == (None, None) and ident.dob is not None
            assert ident.not_for_release == ("address", "name", "phone")
            listed = {p.local_id: p for p in (await configured.list_people()).people}[sid]
            assert (listed.first_name, listed.last_name, listed.address) == (None, None, None)
            assert listed.not_for_release == ("address", "name", "phone")
            # the indicator's name is the district's own: until it is configured, nothing is withheld for it
            plain = (await unaware.fetch([sid], frozenset({Category.IDENTITY}))).records[sid].sections[
                Category.IDENTITY]
            assert plain.last_name and "name" not in plain.not_for_release
        finally:
            await configured.aclose()
            await unaware.aclose()


async def test_every_student_is_listed_with_the_home_whichever_association_comes_first(
    big_district: tuple[Population, ServerThread],
) -> None:
    population, server = big_district
    seoas = population.edfi.education_organization_associations
    order = [str(a["studentReference"]["studentUniqueId"]) for a in seoas]
    first_without = {sid for sid, a in zip(order, seoas, strict=True)
                     if order.count(sid) > 1 and not a["addresses"] and order.index(sid) == seoas.index(a)}
    assert first_without  # the simulator lists a school's address-less association first for some students
    opted = {sid for sid, a in zip(order, seoas, strict=True)
             if any(x.get("doNotPublishIndicator") for x in a["addresses"])}
    conn = SchoolingConnector(SchoolingConfig(base_url=server.url))
    try:
        listed = {p.local_id: p for p in (await conn.list_people()).people}
    finally:
        await conn.aclose()
    for person in population.people:
        if person.student_id is None:
            continue
        got = listed[person.student_id]
        expected = (None, None) if person.student_id in opted else (person.address, person.zip)
        assert (got.address, got.zip) == expected, person.student_id


async def test_a_resource_the_district_refuses_is_named_in_the_shown_section(
    gateway: Any, district: EdfiAgency, population: Population
) -> None:
    district.claim_set_excludes = {"studentHomelessProgramAssociations"}
    child = next(p for p in population.people if p.student_id)
    body = await caller(gateway, "DOE").query("""query($id: ID!) { client(id: $id) { schooling {
      access { agency status errorCode } students { studentId currentSchool unreadable homelessProgram { beginDate } } }
    } }""", {"id": child.client_id})
    assert "errors" not in body, body
    section = body["data"]["client"]["schooling"]
    assert section["access"] == [{"agency": "DOE", "status": "SHOWN", "errorCode": "AGENCY_AUTH_FAILED"}]
    (student,) = section["students"]
    assert student["currentSchool"] and student["unreadable"] == ["studentHomelessProgramAssociations"]
    assert student["homelessProgram"] == []
