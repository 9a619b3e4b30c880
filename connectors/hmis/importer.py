"""Apply an HMIS CSV export to the snapshot tables: all of it in one transaction, or nothing.

A full export (ExportDirective 2) replaces the source's snapshot; a delta (1)
replaces the rows it carries and removes the rows it marks deleted. An export
with any problem — in its files or against the snapshot (a delta with no full
export before it, an export older than the snapshot, references to rows that
exist nowhere) — changes nothing and comes back with every problem listed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.hmis.reader import ParsedExport, Problem, Progress, dangling, read_export
from connectors.hmis.spec import Layout
from store.tables import HmisClient, HmisEnrollment, HmisExit, HmisImport, HmisProject, HmisSnapshot

CHUNK = 500


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did, or every reason it did nothing."""

    source: str
    export_id: str
    csv_version: str
    directive: str | None  # "full" | "delta"
    exported_at: datetime | None
    applied: dict[str, int] = field(default_factory=dict)  # rows written per file
    removed: dict[str, int] = field(default_factory=dict)  # soft-deleted rows: skipped (full) or removed (delta)
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the export was applied."""
        return not self.problems


class _Rejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


async def import_export(
    sessions: async_sessionmaker[Any], path: Path, *, source: str = "hmis", progress: Progress | None = None,
) -> ImportReport:
    """Read, check and apply the export at `path` to `source`'s snapshot."""
    parsed = await asyncio.to_thread(read_export, path, progress)
    report = _report(source, parsed)
    if parsed.problems:
        return report
    try:
        async with sessions.begin() as session:
            applied = await _apply(session, source, parsed)
    except _Rejected as exc:
        return _report(source, parsed, problems=exc.problems)
    return ImportReport(**{**_fields(report), "applied": applied})


def _report(source: str, parsed: ParsedExport, problems: Sequence[Problem] | None = None) -> ImportReport:
    return ImportReport(
        source=source, export_id=parsed.export_id, csv_version=parsed.csv_version,
        directive=None if parsed.directive is None else ("delta" if parsed.is_delta else "full"),
        exported_at=_utc(parsed.exported_at) if parsed.exported_at else None,
        removed={k: len(v) for k, v in parsed.deleted.items() if v},
        problems=tuple(parsed.problems if problems is None else problems),
    )


def _fields(report: ImportReport) -> dict[str, Any]:
    return {name: getattr(report, name) for name in report.__slots__}


async def _apply(session: AsyncSession, source: str, p: ParsedExport) -> dict[str, int]:
    assert p.exported_at is not None and p.layout is not None
    exported_at = _utc(p.exported_at)
    snap = (await session.execute(
        select(HmisSnapshot).where(HmisSnapshot.source == source).with_for_update())).scalar_one_or_none()
    problems: list[Problem] = []
    if snap is not None and snap.exported_at >= exported_at:
        problems.append(Problem("Export.csv", 2, "ExportDate",
                                "not newer than the snapshot already imported; nothing changed"))
    if p.is_delta and snap is None:
        problems.append(Problem("Export.csv", 2, "ExportDirective",
                                "a delta export needs a full export of this source imported first"))
    if p.is_delta and not problems:
        problems += await _dangling_in_snapshot(session, source, p)
    if problems:
        raise _Rejected(problems)

    tables = (
        (HmisProject, HmisProject.project_id, "Project.csv", p.projects, _project_row(p)),
        (HmisClient, HmisClient.personal_id, "Client.csv", p.clients, lambda k, r: _client_row(k, r, p.layout)),
        (HmisEnrollment, HmisEnrollment.enrollment_id, "Enrollment.csv", p.enrollments, _enrollment_row),
        (HmisExit, HmisExit.exit_id, "Exit.csv", p.exits, _exit_row),
    )
    applied = {}
    for model, key, name, rows, _to_row in reversed(tables):  # remove dependants first
        if p.is_delta:
            gone = set(rows) | p.deleted.get(name, set())
            for chunk in _chunks(sorted(gone)):
                await session.execute(delete(model).where(model.source == source, key.in_(chunk)))
        else:
            await session.execute(delete(model).where(model.source == source))
    for model, _key, name, rows, to_row in tables:
        values = [{"source": source, **to_row(k, r)} for k, r in rows.items()]
        for chunk in _chunks(values, 2000):
            await session.execute(insert(model), chunk)
        applied[name] = len(values)
    snapshot = {"export_id": p.export_id, "source_id": p.source_id, "csv_version": p.csv_version,
                "exported_at": exported_at, "imported_at": datetime.now(UTC)}
    if snap is None:
        session.add(HmisSnapshot(source=source, **snapshot))
    else:
        for k, v in snapshot.items():
            setattr(snap, k, v)
    session.add(HmisImport(source=source, export_id=p.export_id, directive="delta" if p.is_delta else "full",
                           csv_version=p.csv_version, exported_at=exported_at, counts=applied))
    return applied


async def _dangling_in_snapshot(session: AsyncSession, source: str, p: ParsedExport) -> list[Problem]:
    """A delta's references must land on rows in the delta or still in the snapshot after it."""
    async def existing(model: Any, key: Any, wanted: Iterable[str], removed: set[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(set(wanted) - removed)):
            found |= set((await session.execute(select(key).where(model.source == source, key.in_(chunk))))
                         .scalars())
        return found

    clients = set(p.clients) | await existing(
        HmisClient, HmisClient.personal_id, (e["PersonalID"] for e in p.enrollments.values()),
        p.deleted.get("Client.csv", set()))
    projects = set(p.projects) | await existing(
        HmisProject, HmisProject.project_id, (e["ProjectID"] for e in p.enrollments.values()),
        p.deleted.get("Project.csv", set()))
    enrollments = set(p.enrollments) | await existing(
        HmisEnrollment, HmisEnrollment.enrollment_id, (x["EnrollmentID"] for x in p.exits.values()),
        p.deleted.get("Enrollment.csv", set()))
    return dangling(p, clients, projects, enrollments)


def _project_row(p: ParsedExport) -> Any:
    def row(key: str, r: dict[str, Any]) -> dict[str, Any]:
        org = p.organizations.get(r["OrganizationID"] or "")
        return {"project_id": key, "organization_name": org["OrganizationName"] if org else None,
                "name": r["ProjectName"] or key, "project_type": r["ProjectType"],
                "date_updated": r["DateUpdated"]}
    return row


def _client_row(key: str, r: dict[str, Any], layout: Layout | None) -> dict[str, Any]:
    if layout is Layout.FY2026:
        sex = {0: "F", 1: "M"}.get(r.get("Sex"))  # type: ignore[arg-type]
    else:
        woman, man = r.get("Woman") == 1, r.get("Man") == 1
        sex = "F" if woman and not man else "M" if man and not woman else None
    ssn = r["SSN"]
    if ssn is not None and (len(ssn) != 9 or not all(c.isdigit() or c in "xX" for c in ssn)):
        ssn = None  # not an SSN as HMIS writes one: kept out, the data-quality code stays
    return {
        "personal_id": key, "first_name": r["FirstName"], "middle_name": r["MiddleName"], "last_name": r["LastName"],
        "name_suffix": r["NameSuffix"], "name_data_quality": r["NameDataQuality"],
        "ssn": ssn.lower() if ssn else None, "ssn_data_quality": r["SSNDataQuality"], "dob": r["DOB"],
        "dob_data_quality": r["DOBDataQuality"], "sex": sex, "date_updated": r["DateUpdated"],
    }


def _enrollment_row(key: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"enrollment_id": key, "personal_id": r["PersonalID"], "project_id": r["ProjectID"],
            "entry_date": r["EntryDate"], "household_id": r["HouseholdID"],
            "relationship_to_hoh": r["RelationshipToHoH"], "living_situation": r["LivingSituation"],
            "move_in_date": r["MoveInDate"], "date_updated": r["DateUpdated"]}


def _exit_row(key: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"exit_id": key, "enrollment_id": r["EnrollmentID"], "personal_id": r["PersonalID"],
            "exit_date": r["ExitDate"], "destination": r["Destination"], "date_updated": r["DateUpdated"]}


def _utc(moment: datetime) -> datetime:
    """HMIS timestamps carry no zone; casebridge reads them as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
