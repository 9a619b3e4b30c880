"""Apply an HMIS CSV export to the snapshot tables: all of it in one transaction, or nothing.

A full refresh (ExportDirective 2) replaces the source's snapshot; a delta (1)
and an export of a chosen period (3, "other") replace the rows they carry and
remove the rows they mark deleted, leaving the rest. EmploymentEducation.csv is
optional: a full refresh without it leaves the source no employment records; a
delta or a period's export without it changes none. Rows that cannot be used
are quarantined - left out, named by file, line and column in the report and in
the import's record - while the rest is applied; where a quarantined row's id is
readable, the snapshot keeps its previous version. The whole export changes
nothing, and comes back with every problem listed, when Export.csv or a whole
file cannot be read, when it is not newer than the snapshot, when a delta comes
before any full export, when a file has more than `max_share` of its rows
quarantined, or, with `strict`, when any row is.
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

from connectors.hmis.reader import (
    DELTA,
    ParsedExport,
    Problem,
    Progress,
    dangling,
    judge,
    read_export,
    rows_left_out,
)
from connectors.hmis.spec import Layout
from store.tables import (
    HmisClient,
    HmisEmployment,
    HmisEnrollment,
    HmisExit,
    HmisImport,
    HmisProject,
    HmisSnapshot,
)

CHUNK = 500
MAX_SHARE = 0.05  # of a file's rows that may be quarantined before the whole export is refused
QUARANTINE_KEPT = 1000  # problems kept in the import's record (the count is always whole)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did, or every reason it did nothing."""

    source: str
    export_id: str
    csv_version: str
    directive: str | None  # "full" | "delta" | "period"
    exported_at: datetime | None
    period_type: int | None = None
    applied: dict[str, int] = field(default_factory=dict)  # rows written per file
    removed: dict[str, int] = field(default_factory=dict)  # soft-deleted rows: skipped (full) or removed (delta)
    kept: dict[str, int] = field(default_factory=dict)  # quarantined rows whose previous version stays
    absent: tuple[str, ...] = ()  # files a delta or period export did not carry (nothing of theirs changed)
    quarantined: tuple[Problem, ...] = ()  # rows left out, by file, line and column
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the export was applied."""
        return not self.problems

    @property
    def quarantined_rows(self) -> int:
        return rows_left_out(self.quarantined)


class _Rejected(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problems")
        self.problems = problems


async def import_export(
    sessions: async_sessionmaker[Any], path: Path, *, source: str = "hmis", progress: Progress | None = None,
    strict: bool = False, max_share: float = MAX_SHARE,
) -> ImportReport:
    """Read, check and apply the export at `path` to `source`'s snapshot."""
    parsed = await asyncio.to_thread(read_export, path, progress)
    if parsed.problems:
        return _report(source, parsed)
    try:
        async with sessions.begin() as session:
            applied, kept = await _apply(session, source, parsed, strict=strict, max_share=max_share)
    except _Rejected as exc:
        return _report(source, parsed, problems=exc.problems)
    return _report(source, parsed, applied=applied, kept=kept)


def _report(source: str, parsed: ParsedExport, problems: Sequence[Problem] | None = None,
            applied: dict[str, int] | None = None, kept: dict[str, int] | None = None) -> ImportReport:
    return ImportReport(
        source=source, export_id=parsed.export_id, csv_version=parsed.csv_version, directive=parsed.kind,
        exported_at=_utc(parsed.exported_at) if parsed.exported_at else None, period_type=parsed.period_type,
        applied=applied or {}, removed={k: len(v) for k, v in parsed.deleted.items() if v},
        kept={k: v for k, v in (kept or {}).items() if v}, absent=tuple(parsed.absent),
        quarantined=tuple(parsed.quarantined),
        problems=tuple(parsed.problems if problems is None else problems),
    )


_TABLES = (  # file, model, key column: in dependency order
    ("Project.csv", HmisProject, HmisProject.project_id),
    ("Client.csv", HmisClient, HmisClient.personal_id),
    ("Enrollment.csv", HmisEnrollment, HmisEnrollment.enrollment_id),
    ("Exit.csv", HmisExit, HmisExit.exit_id),
    ("EmploymentEducation.csv", HmisEmployment, HmisEmployment.employment_education_id),
)


async def _apply(session: AsyncSession, source: str, p: ParsedExport, *, strict: bool, max_share: float,
                 ) -> tuple[dict[str, int], dict[str, int]]:
    assert p.exported_at is not None and p.layout is not None
    exported_at = _utc(p.exported_at)
    snap = (await session.execute(
        select(HmisSnapshot).where(HmisSnapshot.source == source).with_for_update())).scalar_one_or_none()
    problems: list[Problem] = []
    if snap is not None and snap.exported_at >= exported_at:
        problems.append(Problem("Export.csv", 2, "ExportDate",
                                "not newer than the snapshot already imported; nothing changed"))
    if p.directive == DELTA and snap is None:
        problems.append(Problem("Export.csv", 2, "ExportDirective",
                                "a delta export needs a full export of this source imported first"))
    if problems:
        raise _Rejected(problems)

    kept = await _kept(session, source, p)  # per file, ids whose snapshot rows stay
    dangling(p, kept["Client.csv"], kept["Project.csv"], kept["Enrollment.csv"])
    problems = judge(p, strict=strict, max_share=max_share)
    if problems:
        raise _Rejected(problems)

    rows = {"Project.csv": (p.projects, _project_row(p)),
            "Client.csv": (p.clients, lambda k, r: _client_row(k, r, p.layout)),
            "Enrollment.csv": (p.enrollments, _enrollment_row), "Exit.csv": (p.exits, _exit_row),
            "EmploymentEducation.csv": (p.employment, _employment_row)}
    applied = {}
    for name, model, key in reversed(_TABLES):  # remove dependants first
        carried = rows[name][0]
        if p.is_delta:
            gone = set(carried) | p.deleted.get(name, set())
            for chunk in _chunks(sorted(gone)):
                await session.execute(delete(model).where(model.source == source, key.in_(chunk)))
        elif not kept[name]:  # a full refresh replaces everything...
            await session.execute(delete(model).where(model.source == source))
        else:  # ...but the previous versions of quarantined rows (few: at most max_share of a file)
            every = set((await session.execute(select(key).where(model.source == source))).scalars())
            for chunk in _chunks(sorted(every - kept[name])):
                await session.execute(delete(model).where(model.source == source, key.in_(chunk)))
    for name, _model, _key in _TABLES:
        carried, to_row = rows[name]
        values = [{"source": source, **to_row(k, r)} for k, r in carried.items()]
        for chunk in _chunks(values, 2000):
            await session.execute(insert(_model), chunk)
        applied[name] = len(values)
    snapshot = {"export_id": p.export_id, "source_id": p.source_id, "csv_version": p.csv_version,
                "exported_at": exported_at, "imported_at": datetime.now(UTC)}
    if snap is None:
        session.add(HmisSnapshot(source=source, **snapshot))
    else:
        for k, v in snapshot.items():
            setattr(snap, k, v)
    session.add(HmisImport(
        source=source, export_id=p.export_id, directive=p.kind, period_type=p.period_type,
        csv_version=p.csv_version, exported_at=exported_at, counts=applied,
        quarantined_rows=rows_left_out(p.quarantined),
        quarantined=[{"file": q.file, "line": q.line, "column": q.column, "message": q.message}
                     for q in p.quarantined[:QUARANTINE_KEPT]]))
    return applied, ({name: len(kept[name] & p.quarantined_ids.get(name, set())) for name, _, _ in _TABLES}
                     if not p.is_delta else {})


async def _kept(session: AsyncSession, source: str, p: ParsedExport) -> dict[str, set[str]]:
    """Per file, the ids whose rows the snapshot keeps after this export and that its rows may refer to: after a
    full refresh only the previous versions of quarantined rows; after a delta or period export every row it
    neither replaces nor deletes (only those referred to are looked up)."""
    async def existing(model: Any, key: Any, wanted: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(set(wanted))):
            found |= set((await session.execute(select(key).where(model.source == source, key.in_(chunk))))
                         .scalars())
        return found

    if not p.is_delta:
        return {name: await existing(model, key, p.quarantined_ids.get(name, set())) for name, model, key in _TABLES}
    wanted = {"Client.csv": [e["PersonalID"] for e in p.enrollments.values()],
              "Project.csv": [e["ProjectID"] for e in p.enrollments.values()],
              "Enrollment.csv": [r["EnrollmentID"] for r in (*p.exits.values(), *p.employment.values())],
              "Exit.csv": [], "EmploymentEducation.csv": []}
    return {name: await existing(model, key, wanted[name]) - p.deleted.get(name, set())
            for name, model, key in _TABLES}


def _project_row(p: ParsedExport) -> Any:
    def row(key: str, r: dict[str, Any]) -> dict[str, Any]:
        org = p.organizations.get(r["OrganizationID"] or "")
        return {"project_id": key, "organization_name": org["OrganizationName"] if org else None,
                "name": r["ProjectName"] or key, "project_type": r["ProjectType"],
                "date_updated": r["DateUpdated"]}
    return row


def _client_row(key: str, r: dict[str, Any], layout: Layout | None) -> dict[str, Any]:
    if layout is Layout.FY2026:
        sex = {0: "F", 1: "M"}.get(r["Sex"]) if isinstance(r.get("Sex"), int) else None
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
            "move_in_date": r["MoveInDate"], "length_of_stay": r["LengthOfStay"],
            "los_under_threshold": r["LOSUnderThreshold"], "previous_street_essh": r["PreviousStreetESSH"],
            "date_to_street_essh": r["DateToStreetESSH"],
            "times_homeless_past_three_years": r["TimesHomelessPastThreeYears"],
            "months_homeless_past_three_years": r["MonthsHomelessPastThreeYears"],
            "disabling_condition": r["DisablingCondition"], "date_updated": r["DateUpdated"]}


def _exit_row(key: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"exit_id": key, "enrollment_id": r["EnrollmentID"], "personal_id": r["PersonalID"],
            "exit_date": r["ExitDate"], "destination": r["Destination"], "date_updated": r["DateUpdated"]}


def _employment_row(key: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"employment_education_id": key, "enrollment_id": r["EnrollmentID"], "personal_id": r["PersonalID"],
            "information_date": r["InformationDate"], "data_collection_stage": r["DataCollectionStage"],
            "employed": r["Employed"], "employment_type": r["EmploymentType"],
            "not_employed_reason": r["NotEmployedReason"], "date_updated": r["DateUpdated"]}


def _utc(moment: datetime) -> datetime:
    """HMIS timestamps carry no zone; casebridge reads them as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
