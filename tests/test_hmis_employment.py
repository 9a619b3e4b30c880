"""Employment status from the HMIS export's EmploymentEducation.csv (issue 21 §2), on SQLite and PostgreSQL.

The file is optional: an export without it imports, with no employment. Carried, it is read as the other files
are: a code off HUD's list, an unreadable date or a record of a stay that exists nowhere is quarantined by file,
line and column (never by value), soft-deleted records are skipped, and the rest shows on each stay, oldest first.
`employed_now` answers "does the shelter system say the client works?" from the newest record.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.config import HousingConfig
from connectors.hmis.connector import HousingConnector
from connectors.hmis.employment import DataCollectionStage, Employed, EmploymentType, NotEmployedReason, employed_now
from connectors.hmis.importer import ImportReport, import_export
from connectors.hmis.spec import Layout
from connectors.records import EmploymentStatus, HousingEnrollment
from core.vocabulary import Category
from demo.hmis_export import DELTA, write_export
from demo.population import HmisData, Population
from store.engine import make_engine, make_sessionmaker
from store.reads import Reads
from tests.gateway import HMIS_EXPORTED_AT, caller
from tests.test_hmis import line_of, snapshot

EXPORTED = datetime(2026, 11, 1, 6, 0)
FILE = "EmploymentEducation.csv"


def record(rid: str, eid: str, pid: str, day: Any, stage: int, employed: int | None, kind: Any = None,
           reason: Any = None, **extra: Any) -> dict[str, object]:
    return {"EmploymentEducationID": rid, "EnrollmentID": eid, "PersonalID": pid, "InformationDate": day,
            "DataCollectionStage": stage, "Employed": employed, "EmploymentType": kind, "NotEmployedReason": reason,
            **extra}


def city(*employment: dict[str, object]) -> HmisData:
    """Ana: a shelter stay where she found work, then rapid re-housing; Tom: in shelter, nobody asked."""
    data = HmisData()
    data.organizations = [{"OrganizationID": "O-1", "OrganizationName": "DHS"}]
    data.projects = [{"ProjectID": "P-ES", "OrganizationID": "O-1", "ProjectName": "Family Shelter", "ProjectType": 0},
                     {"ProjectID": "P-RRH", "OrganizationID": "O-1", "ProjectName": "Rapid Re-Housing",
                      "ProjectType": 13}]
    for pid, first in (("ANA", "Ana"), ("TOM", "Tom")):
        data.clients.append({"PersonalID": pid, "FirstName": first, "LastName": "Test", "NameDataQuality": 1,
                             "SSNDataQuality": 99, "DOB": date(1985, 3, 1), "DOBDataQuality": 1, "Sex": 0})
    data.enrollments = [
        {"EnrollmentID": "E-ANA-1", "PersonalID": "ANA", "ProjectID": "P-ES", "EntryDate": date(2026, 1, 10),
         "HouseholdID": "HH-1", "RelationshipToHoH": 1},
        {"EnrollmentID": "E-ANA-2", "PersonalID": "ANA", "ProjectID": "P-RRH", "EntryDate": date(2026, 5, 1),
         "HouseholdID": "HH-2", "RelationshipToHoH": 1},
        {"EnrollmentID": "E-TOM", "PersonalID": "TOM", "ProjectID": "P-ES", "EntryDate": date(2026, 3, 1),
         "HouseholdID": "HH-3", "RelationshipToHoH": 1},
    ]
    data.exits = [{"ExitID": "X-ANA-1", "EnrollmentID": "E-ANA-1", "PersonalID": "ANA", "ExitDate": date(2026, 5, 1),
                   "Destination": 435}]
    data.employment = list(employment) if employment else [
        record("R-3", "E-ANA-1", "ANA", date(2026, 5, 1), 3, 1, kind=1),  # written first, and ids out of date order
        # not employed, looking for work (a type left over from an earlier answer is not shown beside a NO)
        record("R-7", "E-ANA-1", "ANA", date(2026, 1, 10), 1, 0, kind=2, reason=1),
        record("R-2", "E-ANA-1", "ANA", date(2026, 3, 15), 2, 1, kind=2),  # a part-time job
        record("R-4", "E-ANA-2", "ANA", date(2026, 5, 1), 1, 1, kind=1),
        record("R-5", "E-TOM", "TOM", date(2026, 3, 1), 1, 99),
    ]
    return data


def seen(stay: HousingEnrollment) -> list[tuple[Any, ...]]:
    return [(r.information_date, r.data_collection_stage, r.employed, r.employment_type, r.not_employed_reason)
            for r in stay.employment]


async def stays_of(reads: Reads, *people: str) -> dict[str, HousingEnrollment]:
    """Every stay of `people` as the housing connector shows it, by enrollment id."""
    result = await HousingConnector(HousingConfig(), reads).fetch(list(people), frozenset({Category.HOUSING}))
    return {s.enrollment_id: s for r in result.records.values() for s in r.sections[Category.HOUSING]}


def write(data: HmisData, tmp_path: Path, name: str, **kw: Any) -> Path:
    return write_export(data, tmp_path / name, exported_at=kw.pop("exported_at", EXPORTED), **kw)


@pytest.mark.parametrize("layout", [Layout.FY2024, Layout.FY2026])
async def test_each_stay_shows_its_employment_oldest_first(
    store: Any, reads: Reads, tmp_path: Path, layout: Layout,
) -> None:
    report = await import_export(store, write(city(), tmp_path, "export", layout=layout))
    assert report.ok and report.quarantined == (), report.problems
    assert report.applied[FILE] == 5
    stays = await stays_of(reads, "ANA", "TOM")
    S, Y = DataCollectionStage, Employed
    assert seen(stays["E-ANA-1"]) == [
        (date(2026, 1, 10), S.PROJECT_START, Y.NO, None, NotEmployedReason.LOOKING_FOR_WORK),
        (date(2026, 3, 15), S.UPDATE, Y.YES, EmploymentType.PART_TIME, None),
        (date(2026, 5, 1), S.PROJECT_EXIT, Y.YES, EmploymentType.FULL_TIME, None)]
    assert seen(stays["E-ANA-2"]) == [(date(2026, 5, 1), S.PROJECT_START, Y.YES, EmploymentType.FULL_TIME, None)]
    assert seen(stays["E-TOM"]) == [(date(2026, 3, 1), S.PROJECT_START, Y.DATA_NOT_COLLECTED, None, None)]
    assert employed_now([stays["E-ANA-1"], stays["E-ANA-2"]]) == date(2026, 5, 1)
    assert employed_now([stays["E-TOM"]]) is None


async def test_an_export_without_the_file_imports_with_no_employment(
    store: Any, reads: Reads, tmp_path: Path,
) -> None:
    path = write(city(), tmp_path, "export")
    (path / FILE).unlink()  # many CoCs' exports carry it, some do not
    report = await import_export(store, path)
    assert report.ok and report.problems == () and report.quarantined == ()
    assert report.applied[FILE] == 0 and FILE not in report.absent
    stays = await stays_of(reads, "ANA", "TOM")
    assert set(stays) == {"E-ANA-1", "E-ANA-2", "E-TOM"} and all(s.employment == () for s in stays.values())


async def test_a_full_refresh_without_the_file_has_none_and_a_delta_without_it_changes_none(
    store: Any, reads: Reads, tmp_path: Path,
) -> None:
    assert (await import_export(store, write(city(), tmp_path, "first"))).ok
    delta = write(HmisData(clients=city().clients[:1]), tmp_path, "delta", directive=DELTA, export_id="1002",
                  exported_at=EXPORTED + timedelta(days=1))
    (delta / FILE).unlink()
    report = await import_export(store, delta)
    assert report.ok and FILE in report.absent  # nothing of it changed
    assert len(seen((await stays_of(reads, "ANA"))["E-ANA-1"])) == 3

    full = write(city(), tmp_path, "full", export_id="1003", exported_at=EXPORTED + timedelta(days=2))
    (full / FILE).unlink()  # the source's whole data, and it says nothing of employment
    assert (await import_export(store, full)).ok
    stays = await stays_of(reads, "ANA", "TOM")
    assert all(s.employment == () for s in stays.values()) and employed_now(stays.values()) is None


async def _rejected(store: Any, path: Path, before: dict[str, Any]) -> ImportReport:
    report = await import_export(store, path, strict=True)
    assert not report.ok and await snapshot(store) == before  # nothing changed
    return report


async def test_codes_off_hud_s_lists_are_reported_by_line_and_column(
    store: Any, reads: Reads, tmp_path: Path,
) -> None:
    assert (await import_export(store, write(city(), tmp_path, "first"))).ok
    before = await snapshot(store)
    data = city()
    data.employment = [
        record("R-1", "E-ANA-1", "ANA", date(2026, 1, 10), 1, 0, reason=1),
        record("R-2", "E-ANA-1", "ANA", date(2026, 3, 15), 2, 7),  # Employed 7: no such answer
        record("R-3", "E-ANA-1", "ANA", date(2026, 5, 1), 3, 1, kind="x"),  # not a number
        record("R-4", "E-ANA-2", "ANA", date(2026, 5, 1), 4, 1, kind=1),  # there is no stage 4
        record("R-5", "E-TOM", "TOM", "31/31/2026", 1, 99),  # a date that is none
        record("R-6", "E-TOM", "T" * 40, date(2026, 5, 2), 2, 0, reason=1),  # no HMIS id is that long
    ]
    path = write(data, tmp_path, "bad", exported_at=EXPORTED + timedelta(days=1))
    where = [(FILE, line_of(path, FILE, rid), column) for rid, column in (
        ("R-2", "Employed"), ("R-3", "EmploymentType"), ("R-4", "DataCollectionStage"), ("R-5", "InformationDate"),
        ("R-6", "PersonalID"))]

    strict = await _rejected(store, path, before)
    assert [(p.file, p.line, p.column) for p in strict.problems] == where
    report = await import_export(store, path)  # five bad records do not stop the shelter's update
    assert report.ok and [(p.file, p.line, p.column) for p in report.quarantined] == where
    assert [p.message for p in report.quarantined] == [
        "not one of HUD's codes for this column (0, 1, 8, 9, 99)", "cannot be read",
        "not one of HUD's codes for this column (1, 2, 3, 5, 6)", "cannot be read", "longer than 32 characters"]
    assert report.kept == {FILE: 4}  # the records keep what the last export said
    assert "ANA" not in str(report.quarantined) and "2026" not in str(report.quarantined)
    stays = await stays_of(reads, "ANA", "TOM")
    assert set(stays) == {"E-ANA-1", "E-ANA-2", "E-TOM"}  # a bad record never loses the stay
    assert [r.record_id for r in stays["E-ANA-1"].employment] == ["R-1", "R-2", "R-3"]
    assert stays["E-ANA-1"].employment[1].employment_type is EmploymentType.PART_TIME  # R-2's previous version


async def test_a_record_of_a_stay_that_exists_nowhere_is_left_out(
    store: Any, reads: Reads, tmp_path: Path,
) -> None:
    assert (await import_export(store, write(city(), tmp_path, "first"))).ok
    before = await snapshot(store)
    stray = record("R-STRAY", "E-NOPE", "ANA", date(2026, 6, 1), 2, 1, kind=1)
    path = write(HmisData(employment=[stray, record("R-6", "E-ANA-2", "ANA", date(2026, 6, 1), 2, 0, reason=2)]),
                 tmp_path, "delta", directive=DELTA, export_id="1002", exported_at=EXPORTED + timedelta(days=1))
    strict = await _rejected(store, path, before)
    assert [(p.file, p.line, p.column) for p in strict.problems] == [(FILE, 2, "EnrollmentID")]
    report = await import_export(store, path)
    assert report.ok and report.applied[FILE] == 1
    assert [(p.file, p.line, p.column) for p in report.quarantined] == [(FILE, 2, "EnrollmentID")]
    assert "E-NOPE" not in str(report.quarantined)
    stays = await stays_of(reads, "ANA")
    assert [r.record_id for r in stays["E-ANA-2"].employment] == ["R-4", "R-6"]
    assert employed_now(stays.values()) is None  # the newest record: not employed, unable to work


async def test_the_records_of_a_stay_left_out_go_with_it(store: Any, reads: Reads, tmp_path: Path) -> None:
    data = city()
    data.enrollments[2] = {**data.enrollments[2], "EntryDate": "yesterday"}  # Tom's stay cannot be read
    report = await import_export(store, write(data, tmp_path, "export"))
    assert report.ok, report.problems
    assert [(p.file, p.column) for p in report.quarantined] == [("Enrollment.csv", "EntryDate"),
                                                                 (FILE, "EnrollmentID")]
    assert set(await stays_of(reads, "ANA", "TOM")) == {"E-ANA-1", "E-ANA-2"}


async def test_soft_deleted_records_are_skipped_or_removed(store: Any, reads: Reads, tmp_path: Path) -> None:
    data = city()
    data.employment = [{**r, "DateDeleted": datetime(2026, 10, 1)} if r["EmploymentEducationID"] == "R-2" else r
                       for r in data.employment]
    report = await import_export(store, write(data, tmp_path, "full"))
    assert report.ok and report.removed == {FILE: 1} and report.applied[FILE] == 4
    stays = await stays_of(reads, "ANA")
    assert [r.record_id for r in stays["E-ANA-1"].employment] == ["R-7", "R-3"]

    gone = [{**r, "DateDeleted": datetime(2026, 11, 1)} for r in city().employment
            if r["EmploymentEducationID"] in ("R-3", "R-4")]  # the job at exit and at re-housing: entered in error
    delta = write(HmisData(employment=gone), tmp_path, "delta", directive=DELTA, export_id="1002",
                  exported_at=EXPORTED + timedelta(days=1))
    report = await import_export(store, delta)
    assert report.ok and report.removed == {FILE: 2}
    stays = await stays_of(reads, "ANA")
    assert [r.record_id for r in stays["E-ANA-1"].employment] == ["R-7"] and stays["E-ANA-2"].employment == ()
    assert employed_now(stays.values()) is None


async def test_a_file_without_a_column_casebridge_needs_refuses_the_export(
    store: Any, tmp_path: Path,
) -> None:
    path = write(city(), tmp_path, "export")
    text = (path / FILE).read_text()
    (path / FILE).write_text(text.replace("Employed,", "Employd,", 1))
    report = await import_export(store, path)
    assert [(p.file, p.line, p.column) for p in report.problems] == [(FILE, 1, "Employed")]


HOUSING = """query($id: ID!) { client(id: $id) { housing {
  enrollments { enrollmentId
    employment { informationDate dataCollectionStage employed employmentType notEmployedReason } } } } }"""
STAGES = {1: "PROJECT_START", 2: "UPDATE", 3: "PROJECT_EXIT"}
ANSWERS = {0: "NO", 1: "YES", 8: "CLIENT_DOESNT_KNOW", 9: "CLIENT_PREFERS_NOT_TO_ANSWER", 99: "DATA_NOT_COLLECTED"}
TYPES = {1: "FULL_TIME", 2: "PART_TIME", 3: "SEASONAL_SPORADIC"}
REASONS = {1: "LOOKING_FOR_WORK", 2: "UNABLE_TO_WORK", 3: "NOT_LOOKING_FOR_WORK"}


def expected(r: dict[str, Any]) -> dict[str, Any]:
    """What the schema shows for one record the generator wrote: a type only with YES, a reason only with NO."""
    return {"informationDate": r["InformationDate"].isoformat(),
            "dataCollectionStage": STAGES[r["DataCollectionStage"]], "employed": ANSWERS[r["Employed"]],
            "employmentType": TYPES.get(r["EmploymentType"]) if r["Employed"] == 1 else None,
            "notEmployedReason": REASONS.get(r["NotEmployedReason"]) if r["Employed"] == 0 else None}


async def test_the_housing_section_shows_employment_per_stay_to_the_shelter_system_only(
    gateway: Any, population: Population, tmp_path: Path,
) -> None:
    # the city's export as the gateway imported it, and a delta with a search and a job in the first stay
    settings, _server = gateway
    first = population.hmis.enrollments[0]
    eid, pid, entry = str(first["EnrollmentID"]), str(first["PersonalID"]), first["EntryDate"]
    assert isinstance(entry, date)
    added = [record("T-1", eid, pid, entry + timedelta(days=1), 2, 0, reason=1),
             record("T-2", eid, pid, entry + timedelta(days=2), 2, 1, kind=3)]
    delta = write_export(HmisData(source_id=population.hmis.source_id, employment=added), tmp_path / "delta",
                         exported_at=HMIS_EXPORTED_AT + timedelta(days=1), directive=DELTA, export_id="2002")
    engine = make_engine(settings.database_url)
    try:
        assert (await import_export(make_sessionmaker(engine), delta)).ok
    finally:
        await engine.dispose()
    truth = [*population.hmis.employment, *added]
    worked = [p for p in population.people if p.hmis_id and any(r["PersonalID"] == p.hmis_id for r in truth)]
    assert any(p.hmis_id == pid for p in worked)
    dhs, hra = caller(gateway, "DHS"), caller(gateway, "HRA")
    every: dict[str, list[dict[str, Any]]] = {}
    for person in worked:
        body = await dhs.query(HOUSING, {"id": person.client_id})
        assert "errors" not in body, body
        shown = {e["enrollmentId"]: e["employment"] for e in body["data"]["client"]["housing"]["enrollments"]}
        assert set(shown) == {str(e["EnrollmentID"]) for e in population.hmis.enrollments
                              if e["PersonalID"] == person.hmis_id}
        for stay_id, employment in shown.items():
            mine = sorted((r for r in truth if r["EnrollmentID"] == stay_id),
                          key=lambda r: (str(r["InformationDate"]), str(r["DataCollectionStage"])))
            assert employment == [expected(r) for r in mine]
        every.update(shown)
        other = await hra.query(HOUSING, {"id": person.client_id})  # another agency, without consent
        assert other["data"]["client"]["housing"]["enrollments"] is None
    assert {"informationDate": (entry + timedelta(days=2)).isoformat(), "dataCollectionStage": "UPDATE",
            "employed": "YES", "employmentType": "SEASONAL_SPORADIC", "notEmployedReason": None} in every[eid]


def stay(eid: str, entry: date, *records: EmploymentStatus) -> HousingEnrollment:
    return HousingEnrollment(enrollment_id=eid, agency="DHS", project_name="Shelter", project_type=0,
                             project_type_name="Emergency Shelter - Entry Exit", entry_date=entry, move_in_date=None,
                             exit_date=None, destination=None, destination_class=None, household_id=None,
                             relationship_to_head=1, employment=records)


def said(rid: str, day: date, stage: DataCollectionStage, employed: Employed) -> EmploymentStatus:
    return EmploymentStatus(record_id=rid, information_date=day, data_collection_stage=stage, employed=employed)


D, S, Y = date(2026, 6, 1), DataCollectionStage, Employed


@pytest.mark.parametrize(("stays", "expected"), [
    ([], None),
    ([stay("E-1", D)], None),  # a stay with no employment records
    ([stay("E-1", D, said("R-1", D, S.PROJECT_START, Y.YES))], D),
    # the newest record wins, whatever it says
    ([stay("E-1", D, said("R-1", D, S.PROJECT_START, Y.NO), said("R-2", D + timedelta(days=30), S.UPDATE, Y.YES))],
     D + timedelta(days=30)),
    ([stay("E-1", D, said("R-1", D, S.PROJECT_START, Y.YES), said("R-2", D + timedelta(days=30), S.UPDATE, Y.NO))],
     None),
    ([stay("E-1", D, said("R-1", D, S.PROJECT_START, Y.YES),
           said("R-2", D + timedelta(days=9), S.ANNUAL_ASSESSMENT, Y.DATA_NOT_COLLECTED))], None),
    ([stay("E-1", D, said("R-1", D, S.PROJECT_START, Y.YES),
           said("R-2", D + timedelta(days=9), S.UPDATE, Y.CLIENT_PREFERS_NOT_TO_ANSWER))], None),
    # across stays: the newest record, not the newest stay's
    ([stay("E-2", D + timedelta(days=60), said("R-9", D + timedelta(days=60), S.PROJECT_START, Y.NO)),
      stay("E-1", D, said("R-1", D + timedelta(days=90), S.POST_EXIT, Y.YES))], D + timedelta(days=90)),
    # one date: the later stage in a stay's life wins (exit after annual assessment, though HUD codes them 3 and 5)
    ([stay("E-1", D, said("R-1", D, S.PROJECT_EXIT, Y.YES), said("R-2", D, S.ANNUAL_ASSESSMENT, Y.NO))], D),
    ([stay("E-1", D, said("R-1", D, S.PROJECT_START, Y.YES), said("R-2", D, S.UPDATE, Y.NO))], None),
    ([stay("E-1", D, said("R-1", D, S.PROJECT_EXIT, Y.YES)), stay("E-2", D, said("R-2", D, S.PROJECT_START, Y.NO))],
     D),
])
def test_employed_now(stays: list[HousingEnrollment], expected: date | None) -> None:
    assert employed_now(stays) == expected
    assert employed_now(list(reversed(stays))) == expected  # whatever order the stays come in


def test_each_code_hud_lists_reads_as_its_answer_and_only_those() -> None:
    """The reader accepts the codes of connectors/hmis/spec.py's lists; each answer is read from the same codes
    (connectors/hmis/employment.py): a code one side knows and the other not would be a record read wrong."""
    from connectors.hmis.spec import DATA_COLLECTION_STAGES, EMPLOYMENT_TYPES, NO_YES_REASONS, NOT_EMPLOYED_REASONS

    answered = {c for c in NO_YES_REASONS if Employed.of(c) is not Employed.DATA_NOT_COLLECTED}
    assert answered == set(NO_YES_REASONS) - {99}
    assert {c for c in EMPLOYMENT_TYPES if EmploymentType.of(c) is not None} == set(EMPLOYMENT_TYPES) - {99}
    assert {c for c in NOT_EMPLOYED_REASONS if NotEmployedReason.of(c) is not None} == set(NOT_EMPLOYED_REASONS) - {99}
    assert len({DataCollectionStage.of(c) for c in DATA_COLLECTION_STAGES}) == len(DataCollectionStage)
