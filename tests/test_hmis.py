"""HMIS CSV import and the housing connector, on SQLite and PostgreSQL, with exports the project generates.

Good exports in both layouts (directory, zip, with a BOM) are applied. Rows that cannot be used are
quarantined - named by file, line and column, never by value - and the rest applied; exports that cannot be
applied (Export.csv or a whole file unreadable, a full refresh missing a file, too many bad rows, or any bad
row when strict) are rejected with every problem named, and the snapshot that was there before stays exactly
as it was. The shapes other systems send: ExportDirective 3, partial file sets, mismatched ExportIDs,
repeated ids, soft deletes in deltas, a BOM, CRLF, quoted newlines.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.config import HousingConfig
from connectors.hmis.connector import HousingConnector
from connectors.hmis.importer import ImportReport, import_export
from connectors.hmis.spec import Layout
from connectors.records import Demographics
from core.errors import AgencyUnavailable
from core.vocabulary import Category
from demo.hmis_export import DELTA, write_export
from demo.population import HmisData, Population
from store.reads import Reads
from store.tables import (
    HmisClient,
    HmisEmployment,
    HmisEnrollment,
    HmisExit,
    HmisImport,
    HmisProject,
    HmisSnapshot,
)

EXPORTED = datetime(2026, 11, 1, 6, 0, 0)


async def snapshot(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the snapshot tables, to compare before and after a rejected import."""
    out = {}
    async with store() as session:
        for model in (HmisSnapshot, HmisProject, HmisClient, HmisEnrollment, HmisExit, HmisEmployment):
            rows = (await session.execute(select(model))).scalars().all()
            out[model.__tablename__] = sorted(tuple(sorted((k, str(v)) for k, v in vars(r).items()
                                                           if not k.startswith("_"))) for r in rows)
    return out


def export(population: Population, tmp_path: Path, name: str = "export", **kw: Any) -> Path:
    return write_export(population.hmis, tmp_path / name, exported_at=kw.pop("exported_at", EXPORTED), **kw)


def edit(path: Path, file: str, old: str, new: str, count: int = 1) -> None:
    text = (path / file).read_text(encoding="utf-8")
    assert old in text
    (path / file).write_text(text.replace(old, new, count), encoding="utf-8", newline="")


def line_of(path: Path, file: str, needle: str) -> int:
    for n, line in enumerate((path / file).read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


def truth_in_shelter(population: Population, hmis_id: str) -> bool:
    exited = {x["EnrollmentID"] for x in population.hmis.exits}
    types = {p["ProjectID"]: p["ProjectType"] for p in population.hmis.projects}
    return any(e["PersonalID"] == hmis_id and e["EnrollmentID"] not in exited and types[e["ProjectID"]] in (0, 1, 2, 8)
               for e in population.hmis.enrollments)


@pytest.mark.parametrize("layout", [Layout.FY2024, Layout.FY2026])
async def test_a_full_export_becomes_the_snapshot_and_the_connector_reads_it(
    store: Any, reads: Reads, population: Population, tmp_path: Path, layout: Layout
) -> None:
    report = await import_export(store, export(population, tmp_path, layout=layout))
    assert report.ok, report.problems
    hmis = population.hmis
    assert report.applied == {"Project.csv": len(hmis.projects), "Client.csv": len(hmis.clients),
                              "Enrollment.csv": len(hmis.enrollments), "Exit.csv": len(hmis.exits),
                              "EmploymentEducation.csv": len(hmis.employment)}
    assert report.directive == "full" and report.csv_version.startswith(layout.value)

    conn = HousingConnector(HousingConfig(), reads)
    people = [p for p in population.people if p.hmis_id]
    result = await conn.fetch([p.hmis_id for p in people] + ["no-such-id"],
                              frozenset({Category.HOUSING, Category.IDENTITY}))
    assert result.as_of.replace(tzinfo=None) == EXPORTED  # the data's freshness is the export's date
    assert set(result.records) == {p.hmis_id for p in people}
    for p in people:
        assert p.hmis_id is not None
        rec = result.records[p.hmis_id]
        stays = rec.sections[Category.HOUSING]
        source = [e for e in hmis.enrollments if e["PersonalID"] == p.hmis_id]
        assert sorted(s.enrollment_id for s in stays) == sorted(str(e["EnrollmentID"]) for e in source)
        assert [s.entry_date for s in stays] == sorted((s.entry_date for s in stays), reverse=True)
        assert any(s.status == "IN_SHELTER" for s in stays) == truth_in_shelter(population, p.hmis_id)
        ident: Demographics = rec.sections[Category.IDENTITY]
        client = next(c for c in hmis.clients if c["PersonalID"] == p.hmis_id)
        assert (ident.first_name, ident.last_name, ident.dob) == (client["FirstName"], client["LastName"],
                                                                   client["DOB"])
        assert ident.sex == ("F" if client["Sex"] == 0 else "M")  # from Woman/Man (FY2024) or Sex (FY2026)


async def test_zip_and_byte_order_mark_and_any_folder_inside_the_zip(
    store: Any, population: Population, tmp_path: Path
) -> None:
    directory = export(population, tmp_path)
    for f in directory.iterdir():  # some exports start every file with a BOM
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    import zipfile

    archive = tmp_path / "hmis.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in directory.iterdir():
            zf.write(f, f"export-2026-11/{f.name.lower()}")
    report = await import_export(store, archive)
    assert report.ok, report.problems
    assert report.applied["Client.csv"] == len(population.hmis.clients)


async def _with_previous(store: Any, population: Population, tmp_path: Path) -> dict[str, Any]:
    assert (await import_export(store, export(population, tmp_path, "previous"))).ok
    return await snapshot(store)


async def _rejected(store: Any, path: Path, before: dict[str, Any], **kw: Any) -> ImportReport:
    report = await import_export(store, path, **kw)
    assert not report.ok
    assert await snapshot(store) == before  # nothing changed
    return report


async def _rows(store: Any, model: Any, key: Any) -> dict[str, Any]:
    async with store() as session:
        return {getattr(r, key.key): r for r in (await session.execute(select(model))).scalars()}


@pytest.mark.parametrize("missing", ["Client.csv", "Exit.csv"])
async def test_a_full_refresh_missing_a_file_is_rejected(
    store: Any, population: Population, tmp_path: Path, missing: str,
) -> None:
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    (bad / missing).unlink()  # without Exit.csv a full refresh would reopen every stay
    report = await _rejected(store, bad, before)
    assert [(p.file, p.line) for p in report.problems] == [(missing, None)]
    assert "missing from a full export" in report.problems[0].message


async def test_a_row_of_another_export_is_quarantined_and_the_rest_imported(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    third = population.hmis.enrollments[2]["EnrollmentID"]
    line = line_of(bad, "Enrollment.csv", str(third))
    text = (bad / "Enrollment.csv").read_text().splitlines()
    text[line - 1] = text[line - 1].rsplit(",", 1)[0] + ",9999"
    (bad / "Enrollment.csv").write_text("\r\n".join(text) + "\r\n")
    strict = await _rejected(store, bad, before, strict=True)  # all or nothing, for those who want it
    assert [(p.file, p.line, p.column) for p in strict.problems] == [("Enrollment.csv", line, "ExportID")]

    report = await import_export(store, bad)
    assert report.ok, report.problems
    assert [(p.file, p.line, p.column) for p in report.quarantined] == [("Enrollment.csv", line, "ExportID")]
    assert report.applied["Enrollment.csv"] == len(population.hmis.enrollments) - 1
    assert report.kept == {"Enrollment.csv": 1}  # the quarantined stay keeps its previous version
    assert str(third) in await _rows(store, HmisEnrollment, HmisEnrollment.enrollment_id)
    async with store() as session:
        record = (await session.execute(select(HmisImport).order_by(HmisImport.id.desc()))).scalars().first()
    assert record is not None and record.quarantined_rows == 1
    assert record.quarantined == [{"file": "Enrollment.csv", "line": line, "column": "ExportID",
                                   "message": "does not match Export.csv"}]


async def test_unreadable_dates_are_each_reported(store: Any, population: Population, tmp_path: Path) -> None:
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    first = population.hmis.clients[0]
    assert isinstance(first["DOB"], date)
    edit(bad, "Client.csv", first["DOB"].isoformat(), "31/31/1980")
    entry = population.hmis.enrollments[1]
    line = line_of(bad, "Enrollment.csv", str(entry["EnrollmentID"]))
    edit(bad, "Enrollment.csv", f"{entry['EnrollmentID']},{entry['PersonalID']},{entry['ProjectID']},"
         f"{entry['EntryDate']}", f"{entry['EnrollmentID']},{entry['PersonalID']},{entry['ProjectID']},yesterday")
    report = await _rejected(store, bad, before, strict=True)
    expected = [("Client.csv", 2, "DOB"), ("Enrollment.csv", line, "EntryDate")]
    assert [(p.file, p.line, p.column) for p in report.problems] == expected
    assert all(p.message.startswith("cannot be read") for p in report.problems)
    assert "1980" not in str(report.problems)  # places, never values
    lenient = await import_export(store, bad)
    assert lenient.ok and [(p.file, p.line, p.column, p.message) for p in lenient.quarantined] == [
        (f, n, c, "cannot be read") for f, n, c in expected]
    assert "1980" not in str(lenient.quarantined)


async def test_a_repeated_personal_id_keeps_the_row_updated_last(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    lines = (bad / "Client.csv").read_text().splitlines()
    newer = lines[1].replace("2026-11-08 06:00:00", "2026-11-08 07:00:00").replace(
        str(population.hmis.clients[0]["FirstName"]), "Renamed", 1)
    assert newer != lines[1]
    lines += [lines[1], newer]  # the same row again, then a later version of it
    (bad / "Client.csv").write_text("\r\n".join(lines) + "\r\n")
    report = await import_export(store, bad)
    assert report.ok, report.problems
    assert [(p.line, p.column) for p in report.quarantined] == [(2, "PersonalID"), (len(lines) - 1, "PersonalID")]
    assert all(f"line {len(lines)} is kept" in p.message for p in report.quarantined)
    clients = await _rows(store, HmisClient, HmisClient.personal_id)
    assert clients[str(population.hmis.clients[0]["PersonalID"])].first_name == "Renamed"


async def test_unknown_versions_old_exports_and_early_deltas_are_rejected(
    store: Any, population: Population, tmp_path: Path
) -> None:
    delta_first = export(population, tmp_path, "delta", directive=DELTA)
    report = await import_export(store, delta_first)
    assert [p.column for p in report.problems] == ["ExportDirective"]
    assert await snapshot(store) == {t: [] for t in await snapshot(store)}

    before = await _with_previous(store, population, tmp_path)
    older = export(population, tmp_path, "older", exported_at=EXPORTED - timedelta(days=1), export_id="900")
    assert [p.column for p in (await _rejected(store, older, before)).problems] == ["ExportDate"]
    odd = export(population, tmp_path, "odd", exported_at=EXPORTED + timedelta(days=1))
    edit(odd, "Export.csv", "2024 v1.3", "2022 v1.0")
    assert [(p.column, p.line) for p in (await _rejected(store, odd, before)).problems] == [("CSVVersion", 2)]
    missing_dir = tmp_path / "nowhere"
    assert [p.message for p in (await _rejected(store, missing_dir, before)).problems] == ["not found"]


async def test_a_delta_changes_only_its_rows_and_removes_soft_deleted_ones(
    store: Any, population: Population, tmp_path: Path
) -> None:
    assert (await import_export(store, export(population, tmp_path, "full"))).ok
    hmis = population.hmis
    renamed = {**hmis.clients[0], "FirstName": "Renamed"}
    gone = hmis.enrollments[-1]
    new_exit = {"ExitID": "X-NEW", "EnrollmentID": hmis.enrollments[0]["EnrollmentID"],
                "PersonalID": hmis.enrollments[0]["PersonalID"], "ExitDate": date(2026, 11, 5), "Destination": 410}
    delta = HmisData(source_id=hmis.source_id, clients=[renamed], exits=[new_exit],
                     enrollments=[{**gone, "DateDeleted": datetime(2026, 11, 9)}])
    path = write_export(delta, tmp_path / "delta", exported_at=EXPORTED + timedelta(days=10), directive=DELTA,
                        export_id="1002")
    report = await import_export(store, path)
    assert report.ok, report.problems
    assert report.directive == "delta" and report.removed == {"Enrollment.csv": 1}
    async with store() as session:
        names = {r[0]: r[1] for r in await session.execute(select(HmisClient.personal_id, HmisClient.first_name))}
        enrollments = set((await session.execute(select(HmisEnrollment.enrollment_id))).scalars())
        exits = set((await session.execute(select(HmisExit.exit_id))).scalars())
        snap = (await session.execute(select(HmisSnapshot))).scalar_one()
    assert names[str(renamed["PersonalID"])] == "Renamed"
    assert len(names) == len(hmis.clients)  # the rest stays as the full export left it
    assert enrollments == {str(e["EnrollmentID"]) for e in hmis.enrollments} - {str(gone["EnrollmentID"])}
    assert exits == {str(x["ExitID"]) for x in hmis.exits} | {"X-NEW"}
    assert snap.export_id == "1002"


async def test_a_delta_row_pointing_at_nothing_is_quarantined(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    before = await _with_previous(store, population, tmp_path)
    hmis = population.hmis
    stray = {"ExitID": "X-STRAY", "EnrollmentID": "E-NOPE", "PersonalID": "p", "ExitDate": date(2026, 11, 5),
             "Destination": 410}
    real = {"ExitID": "X-REAL", "EnrollmentID": hmis.enrollments[0]["EnrollmentID"],
            "PersonalID": hmis.enrollments[0]["PersonalID"], "ExitDate": date(2026, 11, 5), "Destination": 410}
    path = write_export(HmisData(source_id=hmis.source_id, exits=[stray, real]), tmp_path / "delta",
                        exported_at=EXPORTED + timedelta(days=3), directive=DELTA, export_id="1003")
    strict = await _rejected(store, path, before, strict=True)
    assert [(p.file, p.line, p.column) for p in strict.problems] == [("Exit.csv", 2, "EnrollmentID")]
    report = await import_export(store, path)  # one bad row does not stop the shelter's update
    assert report.ok and report.applied["Exit.csv"] == 1
    assert [(p.file, p.line, p.column) for p in report.quarantined] == [("Exit.csv", 2, "EnrollmentID")]
    assert "E-NOPE" not in str(report.quarantined)
    exits = await _rows(store, HmisExit, HmisExit.exit_id)
    assert "X-REAL" in exits and "X-STRAY" not in exits


async def test_soft_deleted_rows_of_a_full_export_are_skipped(
    store: Any, population: Population, tmp_path: Path
) -> None:
    hmis = population.hmis
    dropped = hmis.exits[0]
    data = HmisData(source_id=hmis.source_id, organizations=hmis.organizations, projects=hmis.projects,
                    clients=hmis.clients, enrollments=hmis.enrollments,
                    exits=[{**dropped, "DateDeleted": datetime(2026, 10, 1)}, *hmis.exits[1:]])
    report = await import_export(store, write_export(data, tmp_path / "x", exported_at=EXPORTED))
    assert report.ok and report.removed == {"Exit.csv": 1}
    assert report.applied["Exit.csv"] == len(hmis.exits) - 1


async def test_no_snapshot_is_a_typed_agency_error(reads: Reads) -> None:
    with pytest.raises(AgencyUnavailable) as caught:
        await HousingConnector(HousingConfig(), reads).fetch(["x"], frozenset({Category.HOUSING}))
    assert caught.value.extensions["connector"] == "housing"
    assert HousingConnector(HousingConfig(), reads).status().state == "unknown"


def test_cli_import_reports_problems_and_exits_1(
    database_url: str, population: Population, tmp_path: Path
) -> None:
    good = export(population, tmp_path)
    bad = export(population, tmp_path, "bad", exported_at=EXPORTED + timedelta(days=1))
    (bad / "Exit.csv").unlink()  # a full refresh must carry every file
    env = {**os.environ, "CASEBRIDGE_DATABASE_URL": database_url}
    cmd = [sys.executable, "-m", "cli.main", "hmis", "import"]
    ok = subprocess.run([*cmd, str(good)], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "imported export 1001" in ok.stderr
    rejected = subprocess.run([*cmd, str(bad)], env=env, capture_output=True, text=True, timeout=120)
    assert rejected.returncode == 1
    assert "Exit.csv: missing from a full export" in rejected.stderr and "unchanged" in rejected.stderr
    one_bad = export(population, tmp_path, "one-bad", exported_at=EXPORTED + timedelta(days=2))
    edit(one_bad, "Client.csv", population.hmis.clients[0]["DOB"].isoformat(), "31/31/1980")
    strict = subprocess.run([*cmd, "--strict", str(one_bad)], env=env, capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1 and "Client.csv line 2 DOB" in strict.stderr
    lenient = subprocess.run([*cmd, str(one_bad)], env=env, capture_output=True, text=True, timeout=120)
    assert lenient.returncode == 0, lenient.stderr
    assert "1 rows quarantined" in lenient.stderr and "Client.csv line 2 DOB: cannot be read" in lenient.stderr
    assert "1980" not in lenient.stderr


def _client_line(bad: Path, population: Population, n: int = 3) -> tuple[int, str]:
    """The line number and text of the n-th client row of an export's Client.csv."""
    personal = str(population.hmis.clients[n]["PersonalID"])
    line = line_of(bad, "Client.csv", personal)
    return line, (bad / "Client.csv").read_text().splitlines()[line - 1]


def _replace_line(bad: Path, line: int, text: str) -> None:
    rows = (bad / "Client.csv").read_text().splitlines()
    rows[line - 1] = text
    (bad / "Client.csv").write_text("\r\n".join(rows) + "\r\n", newline="")


@pytest.mark.parametrize("fault", ["huge_field", "short_row", "unbalanced_quote", "nul_byte"])
async def test_a_broken_row_is_a_problem_by_file_and_line_never_a_crash(
    store: Any, population: Population, tmp_path: Path, fault: str,
) -> None:
    # A field past the CSV limit or a quote never closed loses the rest of the file: the export is refused.
    # A short row or a NUL byte loses one row: quarantined (strict: refused).
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    line, row = _client_line(bad, population)
    cells = row.split(",")
    broken = {"huge_field": ",".join([cells[0], "x" * 10_000_000, *cells[2:]]),
              "short_row": ",".join(cells[:3]),
              "unbalanced_quote": ",".join([cells[0], '"' + cells[1], *cells[2:]]),
              "nul_byte": ",".join([cells[0], cells[1] + "\x00", *cells[2:]])}[fault]
    _replace_line(bad, line, broken)
    report = await _rejected(store, bad, before, strict=True)
    client = [p for p in report.problems if p.file == "Client.csv"]
    assert client and all(p.line is not None and p.line >= line for p in client), report.problems
    assert "x" * 20 not in str(report.problems)  # problems name places, never the data
    lenient = await import_export(store, bad)
    if fault in ("huge_field", "unbalanced_quote"):  # an open quote swallows the rows after it: refused
        assert not lenient.ok and await snapshot(store) == before
    else:
        assert lenient.ok and [(p.file, p.line) for p in lenient.quarantined] == [("Client.csv", line)]


async def test_a_zip_bomb_is_refused_early_naming_the_entry(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    import zipfile

    before = await _with_previous(store, population, tmp_path)
    good = export(population, tmp_path, "parts", exported_at=EXPORTED + timedelta(days=7))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in good.iterdir():
            if f.name != "Client.csv":
                zf.write(f, f.name)
        header = (good / "Client.csv").read_text().splitlines()[0]
        zf.writestr("Client.csv", header + "\r\n" + "0" * 200_000_000)  # 200 MB of one byte: packs ~1000x
    assert bomb.stat().st_size < 1_000_000
    report = await _rejected(store, bomb, before)
    assert [(p.file, p.line) for p in report.problems] == [("Client.csv", None)]
    assert "refused" in report.problems[0].message


async def test_an_export_of_a_period_replaces_only_what_it_carries(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    # ExportDirective 3 ("other"), e.g. a reporting period's export, with only the files it has rows for.
    assert (await import_export(store, export(population, tmp_path, "full"))).ok
    hmis = population.hmis
    renamed = {**hmis.clients[1], "FirstName": "Renamed"}
    period = write_export(HmisData(source_id=hmis.source_id, clients=[renamed]), tmp_path / "period",
                          exported_at=EXPORTED + timedelta(days=2), directive=3, export_id="1010")
    edit(period, "Export.csv", ",2024 v1.3,4,3,", ",2024 v1.3,3,3,")  # ExportPeriodType 3: reporting period
    for name in ("Enrollment.csv", "Exit.csv", "Project.csv"):
        (period / name).unlink()
    report = await import_export(store, period)
    assert report.ok, report.problems
    assert (report.directive, report.period_type) == ("period", 3)
    assert report.absent == ("Project.csv", "Enrollment.csv", "Exit.csv")
    assert report.applied["Client.csv"] == 1
    clients = await _rows(store, HmisClient, HmisClient.personal_id)
    assert len(clients) == len(hmis.clients) and clients[str(renamed["PersonalID"])].first_name == "Renamed"
    assert len(await _rows(store, HmisExit, HmisExit.exit_id)) == len(hmis.exits)  # absent: nothing changed
    async with store() as session:
        record = (await session.execute(select(HmisImport).order_by(HmisImport.id.desc()))).scalars().first()
    assert record is not None and (record.directive, record.period_type) == ("period", 3)


async def test_a_delta_without_some_files_changes_only_what_it_carries(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    assert (await import_export(store, export(population, tmp_path, "full"))).ok
    hmis = population.hmis
    gone = hmis.exits[0]
    delta = write_export(HmisData(source_id=hmis.source_id, exits=[{**gone, "DateDeleted": datetime(2026, 11, 2)}]),
                         tmp_path / "delta", exported_at=EXPORTED + timedelta(days=1), directive=DELTA,
                         export_id="1011")
    for name in ("Client.csv", "Enrollment.csv", "Project.csv", "Organization.csv"):
        (delta / name).unlink()
    report = await import_export(store, delta)
    assert report.ok, report.problems
    assert report.removed == {"Exit.csv": 1} and set(report.absent) == {"Client.csv", "Enrollment.csv", "Project.csv"}
    exits = await _rows(store, HmisExit, HmisExit.exit_id)
    assert str(gone["ExitID"]) not in exits and len(exits) == len(hmis.exits) - 1
    assert len(await _rows(store, HmisClient, HmisClient.personal_id)) == len(hmis.clients)


async def test_too_many_bad_rows_refuse_the_export(store: Any, tmp_path: Path) -> None:
    from demo.population import generate

    population = generate(seed=3, households=40)  # enough clients for a share to mean something
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    lines = (bad / "Client.csv").read_text().splitlines()
    broken = max(11, len(lines) // 4)  # a quarter of the file: a broken feed, not a few bad rows
    assert broken < len(lines)
    for i in range(1, broken + 1):
        lines[i] = lines[i].replace("2026-11-08 06:00:00", "08 Nov 2026")
    (bad / "Client.csv").write_text("\r\n".join(lines) + "\r\n")
    report = await _rejected(store, bad, before)
    assert [(p.file, p.line, p.column) for p in report.problems] == [("Client.csv", None, None)]
    assert f"{broken} of {len(lines) - 1} rows cannot be used" in report.problems[0].message
    allowed = await import_export(store, bad, max_share=0.5)  # a CoC may set the share it accepts
    assert allowed.ok and allowed.quarantined_rows >= broken


async def test_a_client_left_out_takes_its_stays_with_it_unless_the_snapshot_has_them(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    hmis = population.hmis
    client = next(c for c in hmis.clients if c["DOB"] is not None
                  and any(e["PersonalID"] == c["PersonalID"] for e in hmis.enrollments))
    person = client["PersonalID"]
    stays = {str(e["EnrollmentID"]) for e in hmis.enrollments if e["PersonalID"] == person}
    first = export(population, tmp_path, "first")
    edit(first, "Client.csv", f"\n{person},", f"\n{person}{'x' * 40},")  # an id too long: unusable
    report = await import_export(store, first)
    assert report.ok, report.problems
    left_out = {(p.file, p.column) for p in report.quarantined}
    assert ("Client.csv", "PersonalID") in left_out and ("Enrollment.csv", "PersonalID") in left_out
    assert not stays & set(await _rows(store, HmisEnrollment, HmisEnrollment.enrollment_id))

    # A later full refresh brings the client; the next one has its date of birth unreadable: the client's
    # previous version stays, and so do its stays.
    assert (await import_export(store, export(population, tmp_path, "second",
                                              exported_at=EXPORTED + timedelta(days=1)))).ok
    assert stays <= set(await _rows(store, HmisEnrollment, HmisEnrollment.enrollment_id))
    third = export(population, tmp_path, "third", exported_at=EXPORTED + timedelta(days=2))
    rows = (third / "Client.csv").read_text().splitlines()
    line = next(n for n, row in enumerate(rows, start=1) if row.startswith(f"{person},"))
    rows[line - 1] = rows[line - 1].replace(client["DOB"].isoformat(), "not a date")
    (third / "Client.csv").write_text("\r\n".join(rows) + "\r\n")
    report = await import_export(store, third)
    assert report.ok and [(p.file, p.line, p.column) for p in report.quarantined] == [("Client.csv", line, "DOB")]
    assert report.kept == {"Client.csv": 1}
    assert str(person) in await _rows(store, HmisClient, HmisClient.personal_id)
    assert stays <= set(await _rows(store, HmisEnrollment, HmisEnrollment.enrollment_id))


async def test_crlf_quoted_newlines_and_a_bom_are_read_with_true_line_numbers(
    store: Any, population: Population, tmp_path: Path,
) -> None:
    hmis = population.hmis
    projects = [{**hmis.projects[0], "ProjectName": "Shelter on\r\nTwo Lines"}, *hmis.projects[1:]]
    data = HmisData(source_id=hmis.source_id, organizations=hmis.organizations, projects=projects,
                    clients=hmis.clients, enrollments=hmis.enrollments, exits=hmis.exits)
    path = write_export(data, tmp_path / "x", exported_at=EXPORTED)
    for f in path.iterdir():
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    text = (path / "Project.csv").read_bytes().decode("utf-8-sig")
    last_line = text.count("\r\n")  # physical lines: the quoted newline makes one more than there are rows
    head, last = text.rstrip("\r\n").rsplit("\r\n", 1)
    assert last.endswith(",1001")  # ExportID, the last column
    (path / "Project.csv").write_text("\ufeff" + head + "\r\n" + last[:-4] + "9999\r\n", encoding="utf-8",
                                      newline="")
    report = await import_export(store, path)
    assert report.ok, report.problems
    names = {r.name for r in (await _rows(store, HmisProject, HmisProject.project_id)).values()}
    assert "Shelter on\r\nTwo Lines" in names or "Shelter on\nTwo Lines" in names
    assert [(p.file, p.line, p.column) for p in report.quarantined][:1] == [("Project.csv", last_line, "ExportID")]
