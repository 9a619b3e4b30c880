"""HMIS CSV import and the housing connector, on SQLite and PostgreSQL, with exports the project generates.

Good exports in both layouts (directory, zip, with a BOM) are applied; bad ones
are rejected with every problem named by file, line and column, and the
snapshot that was there before stays exactly as it was.
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
from store.tables import HmisClient, HmisEnrollment, HmisExit, HmisProject, HmisSnapshot

EXPORTED = datetime(2026, 11, 1, 6, 0, 0)


async def snapshot(store: Any) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the snapshot tables, to compare before and after a rejected import."""
    out = {}
    async with store() as session:
        for model in (HmisSnapshot, HmisProject, HmisClient, HmisEnrollment, HmisExit):
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
    store: Any, population: Population, tmp_path: Path, layout: Layout
) -> None:
    report = await import_export(store, export(population, tmp_path, layout=layout))
    assert report.ok, report.problems
    hmis = population.hmis
    assert report.applied == {"Project.csv": len(hmis.projects), "Client.csv": len(hmis.clients),
                              "Enrollment.csv": len(hmis.enrollments), "Exit.csv": len(hmis.exits)}
    assert report.directive == "full" and report.csv_version.startswith(layout.value)

    conn = HousingConnector(HousingConfig(), store)
    people = [p for p in population.people if p.hmis_id]
    result = await conn.fetch([p.hmis_id for p in people] + ["no-such-id"],  # type: ignore[list-item]
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


async def _rejected(store: Any, path: Path, before: dict[str, Any]) -> ImportReport:
    report = await import_export(store, path)
    assert not report.ok
    assert await snapshot(store) == before  # nothing changed
    return report


async def test_a_missing_file_is_rejected(store: Any, population: Population, tmp_path: Path) -> None:
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    (bad / "Client.csv").unlink()
    report = await _rejected(store, bad, before)
    assert [(p.file, p.message) for p in report.problems] == [("Client.csv", "missing from the export")]


async def test_a_wrong_export_id_is_named_by_line(store: Any, population: Population, tmp_path: Path) -> None:
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    third = population.hmis.enrollments[2]["EnrollmentID"]
    line = line_of(bad, "Enrollment.csv", str(third))
    text = (bad / "Enrollment.csv").read_text().splitlines()
    text[line - 1] = text[line - 1].rsplit(",", 1)[0] + ",9999"
    (bad / "Enrollment.csv").write_text("\r\n".join(text) + "\r\n")
    report = await _rejected(store, bad, before)
    assert [(p.file, p.line, p.column) for p in report.problems] == [("Enrollment.csv", line, "ExportID")]


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
    report = await _rejected(store, bad, before)
    assert [(p.file, p.line, p.column, p.message) for p in report.problems] == [
        ("Client.csv", 2, "DOB", "cannot be read"), ("Enrollment.csv", line, "EntryDate", "cannot be read")]
    assert "1980" not in str(report.problems)  # places, never values


async def test_a_duplicate_personal_id_is_rejected(store: Any, population: Population, tmp_path: Path) -> None:
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    lines = (bad / "Client.csv").read_text().splitlines()
    lines.append(lines[1])
    (bad / "Client.csv").write_text("\r\n".join(lines) + "\r\n")
    report = await _rejected(store, bad, before)
    assert [(p.file, p.line, p.column, p.message) for p in report.problems] == [
        ("Client.csv", len(lines), "PersonalID", "duplicate (first on line 2)")]


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


async def test_a_delta_pointing_at_nothing_is_rejected(store: Any, population: Population, tmp_path: Path) -> None:
    before = await _with_previous(store, population, tmp_path)
    stray = {"ExitID": "X-STRAY", "EnrollmentID": "E-NOPE", "PersonalID": "p", "ExitDate": date(2026, 11, 5),
             "Destination": 410}
    path = write_export(HmisData(exits=[stray]), tmp_path / "delta", exported_at=EXPORTED + timedelta(days=3),
                        directive=DELTA, export_id="1003")
    report = await _rejected(store, path, before)
    assert [(p.file, p.line, p.column) for p in report.problems] == [("Exit.csv", 2, "EnrollmentID")]


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


async def test_no_snapshot_is_a_typed_agency_error(store: Any) -> None:
    with pytest.raises(AgencyUnavailable) as caught:
        await HousingConnector(HousingConfig(), store).fetch(["x"], frozenset({Category.HOUSING}))
    assert caught.value.extensions["connector"] == "housing"
    assert HousingConnector(HousingConfig(), store).status().state == "unknown"


def test_cli_import_reports_problems_and_exits_1(
    database_url: str, population: Population, tmp_path: Path
) -> None:
    good = export(population, tmp_path)
    bad = export(population, tmp_path, "bad", exported_at=EXPORTED + timedelta(days=1))
    (bad / "Exit.csv").unlink()
    env = {**os.environ, "CASEBRIDGE_DATABASE_URL": database_url}
    cmd = [sys.executable, "-m", "api.cli", "hmis", "import"]
    ok = subprocess.run([*cmd, str(good)], env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "imported export 1001" in ok.stderr
    rejected = subprocess.run([*cmd, str(bad)], env=env, capture_output=True, text=True, timeout=120)
    assert rejected.returncode == 1
    assert "Exit.csv: missing from the export" in rejected.stderr and "unchanged" in rejected.stderr


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
    before = await _with_previous(store, population, tmp_path)
    bad = export(population, tmp_path, exported_at=EXPORTED + timedelta(days=7))
    line, row = _client_line(bad, population)
    cells = row.split(",")
    broken = {"huge_field": ",".join([cells[0], "x" * 10_000_000, *cells[2:]]),
              "short_row": ",".join(cells[:3]),
              "unbalanced_quote": ",".join([cells[0], '"' + cells[1], *cells[2:]]),
              "nul_byte": ",".join([cells[0], cells[1] + "\x00", *cells[2:]])}[fault]
    _replace_line(bad, line, broken)
    report = await _rejected(store, bad, before)
    client = [p for p in report.problems if p.file == "Client.csv"]
    assert client and all(p.line is not None and p.line >= line for p in client), report.problems
    assert "x" * 20 not in str(report.problems)  # problems name places, never the data


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
