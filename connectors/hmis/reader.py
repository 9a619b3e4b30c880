"""Read and check a HUD HMIS CSV export (a directory or a zip) without touching the store.

Everything wrong is collected as a Problem (file, line, column, what) rather
than raised at the first one, so a CoC gets the whole list back. Problems name
places, never values: an export is personal data.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.hmis.spec import IMPORTED, META, REQUIRED, Layout

Progress = Callable[[str, int, int], None]  # (file, rows done, rows in file)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an export. `line` counts the header as line 1."""

    file: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f" line {self.line}" if self.line else "") + (f" {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(slots=True)
class ParsedExport:
    """What an export says, typed; `deleted` holds the ids of soft-deleted rows per file."""

    export_id: str = ""
    source_id: str = ""
    source_name: str | None = None
    csv_version: str = ""
    layout: Layout | None = None
    exported_at: datetime | None = None
    start: date | None = None
    end: date | None = None
    directive: int | None = None  # 1 delta, 2 full
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[str, dict[str, Any]] = field(default_factory=dict)
    exits: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: dict[str, set[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def is_delta(self) -> bool:
        """A delta export (ExportDirective 1) changes only the rows it carries."""
        return self.directive == 1


def parse_date(value: str) -> date:
    """yyyy-mm-dd (the standard), also with a time, or mm/dd/yyyy (seen in the wild)."""
    v = value.strip()
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%m/%d/%Y"):
        try:
            return datetime.strptime(v, fmt).date()
        except ValueError:
            continue
    raise ValueError("not a date")


def parse_timestamp(value: str) -> datetime:
    """yyyy-mm-dd hh:mm:ss (the standard), also ISO with T, or a bare date."""
    v = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(v, fmt)
        except ValueError:
            continue
    raise ValueError("not a timestamp")


# file -> (key column, attribute of ParsedExport, {column: parser})
FIELDS: dict[str, tuple[str, str, dict[str, Callable[[str], Any]]]] = {
    "Organization.csv": ("OrganizationID", "organizations", {"OrganizationName": str}),
    "Project.csv": ("ProjectID", "projects", {"OrganizationID": str, "ProjectName": str, "ProjectType": int}),
    "Client.csv": ("PersonalID", "clients", {
        "FirstName": str, "MiddleName": str, "LastName": str, "NameSuffix": str, "NameDataQuality": int,
        "SSN": str, "SSNDataQuality": int, "DOB": parse_date, "DOBDataQuality": int, "Sex": int,
        "Woman": int, "Man": int,
    }),
    "Enrollment.csv": ("EnrollmentID", "enrollments", {
        "PersonalID": str, "ProjectID": str, "EntryDate": parse_date, "HouseholdID": str,
        "RelationshipToHoH": int, "LivingSituation": int, "MoveInDate": parse_date,
    }),
    "Exit.csv": ("ExitID", "exits", {
        "EnrollmentID": str, "PersonalID": str, "ExitDate": parse_date, "Destination": int,
    }),
}
NOT_NULL = {"Project.csv": ("ProjectType",), "Enrollment.csv": ("PersonalID", "ProjectID", "EntryDate"),
            "Exit.csv": ("EnrollmentID", "ExitDate")}
MAX_ID = 32  # PersonalID and the other HMIS ids are at most 32 characters
# Limits before work: one file of an export, unpacked (a large CoC's Client.csv is a few hundred MB), and how
# far a zip entry may inflate (CSV packs 5-20x; a zip bomb packs 1,000x and more).
MAX_FILE_BYTES = 2 << 30
MAX_RATIO = 100
RATIO_SLACK = 1 << 20  # tiny files inflate far more than 100x: allow any entry its first MB
FIELD_LIMIT = 131_072  # the csv module's own limit on one field (characters)


def read_export(path: Path, progress: Progress | None = None) -> ParsedExport:
    """Read and check an export; the result's `problems` is empty when it can be imported."""
    out = ParsedExport()
    texts = _files(path, out.problems)
    if texts is None:
        return out
    if "Export.csv" not in texts:
        out.problems.append(Problem("Export.csv", None, None, "missing: every export starts with Export.csv"))
        return out
    _read_export_row(texts["Export.csv"], out)
    if out.layout is None:
        return out
    for name in IMPORTED[1:]:
        if name not in texts:
            out.problems.append(Problem(name, None, None, "missing from the export"))
    for name in ("Organization.csv", *IMPORTED[1:]):
        if name in texts:
            _read_file(name, texts[name], out, progress)
    _check_references(out)
    return out


def _files(path: Path, problems: list[Problem]) -> dict[str, str] | None:
    """File texts by canonical name (any case, any folder inside a zip), as UTF-8 with or without a BOM."""
    wanted = {n.lower(): n for n in ("Export.csv", "Organization.csv", *IMPORTED[1:])}
    raw: dict[str, bytes] = {}
    try:
        if path.is_dir():
            for f in path.iterdir():
                if f.name.lower() in wanted:
                    if f.stat().st_size > MAX_FILE_BYTES:
                        problems.append(Problem(wanted[f.name.lower()], None, None,
                                                f"larger than {MAX_FILE_BYTES} bytes"))
                        return None
                    raw[wanted[f.name.lower()]] = f.read_bytes()
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    base = info.filename.rsplit("/", 1)[-1].lower()
                    if base in wanted and not info.is_dir():
                        data = _unzipped(zf, info, wanted[base], problems)
                        if data is None:
                            return None
                        raw[wanted[base]] = data
        else:
            what = "not found" if not path.exists() else "neither a directory nor a zip file"
            problems.append(Problem(path.name or str(path), None, None, what))
            return None
    except (OSError, zipfile.BadZipFile) as exc:
        problems.append(Problem(path.name, None, None, f"cannot be read ({type(exc).__name__})"))
        return None
    texts = {}
    for name, data in raw.items():
        try:
            texts[name] = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, None, None, f"not UTF-8 text (byte {exc.start})"))
    return texts


def _unzipped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, problems: list[Problem]) -> bytes | None:
    """One entry, read in chunks and refused as soon as it passes the size or compression-ratio limit (a zip
    bomb is refused after reading a little of it, naming the entry; the sizes its header declares may lie)."""
    if info.file_size > MAX_FILE_BYTES or info.file_size > MAX_RATIO * max(info.compress_size, 1) + RATIO_SLACK:
        problems.append(Problem(name, None, None, "refused: it unpacks to more than the import allows "
                                f"({MAX_FILE_BYTES} bytes, or {MAX_RATIO}x its packed size)"))
        return None
    allowed = min(MAX_FILE_BYTES, MAX_RATIO * max(info.compress_size, 1) + RATIO_SLACK)
    chunks, total = [], 0
    with zf.open(info) as stream:
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > allowed:
                problems.append(Problem(name, None, None, "refused: it unpacks to more than its header says and "
                                        "more than the import allows"))
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def _rows(name: str, text: str, out: ParsedExport, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        for c in missing:
            out.problems.append(Problem(name, 1, c, "column missing"))
        if missing:
            return
        for row in reader:
            if None in row:  # more cells than columns
                out.problems.append(Problem(name, reader.line_num, None, "more cells than the header has columns"))
                continue
            if any(v is None for v in row.values()):  # fewer cells than columns
                out.problems.append(Problem(name, reader.line_num, None, "fewer cells than the header has columns"))
                continue
            nul = next((column for column, v in row.items() if "\x00" in v), None)
            if nul is not None:  # no store keeps one in text (PostgreSQL refuses it)
                out.problems.append(Problem(name, reader.line_num, nul, "contains a NUL byte"))
                continue
            yield reader.line_num, row
    except csv.Error as exc:  # a field past the limit, a quote never closed: the file stops here
        # (the reader counts the lines of the rows it finished: the fault is in the next one)
        out.problems.append(Problem(name, reader.line_num + 1, None, f"not readable as CSV from here: {_why(exc)}"))


def _why(exc: csv.Error) -> str:
    """The csv module's reason, which names the fault and never the data."""
    text = str(exc).lower()
    if "field larger" in text:
        return f"a field is longer than {FIELD_LIMIT} characters"
    if "nul" in text:
        return "a NUL byte"
    if "end of data" in text or "eof" in text:
        return "a quote is never closed"
    return "malformed"


def _read_export_row(text: str, out: ParsedExport) -> None:
    rows = list(_rows("Export.csv", text, out, REQUIRED["Export.csv"]))
    if len(rows) != 1:
        if not out.problems:
            out.problems.append(Problem("Export.csv", None, None, f"has {len(rows)} rows; exactly one is expected"))
        return
    line, row = rows[0]
    out.export_id, out.source_id = row["ExportID"].strip(), row["SourceID"].strip()
    out.source_name = row.get("SourceName") or None
    out.csv_version = row["CSVVersion"].strip()
    if not out.export_id:
        out.problems.append(Problem("Export.csv", line, "ExportID", "empty"))
    layout = Layout.of(out.csv_version)
    if layout is None:
        out.problems.append(Problem("Export.csv", line, "CSVVersion",
                                    "not an FY2024 or FY2026 version (expected e.g. '2024 v1.3' or '2026 v1.0')"))
    for column, parse, attr in (("ExportDate", parse_timestamp, "exported_at"),
                                ("ExportStartDate", parse_date, "start"), ("ExportEndDate", parse_date, "end"),
                                ("ExportDirective", int, "directive")):
        try:
            setattr(out, attr, parse(row[column]))
        except ValueError:
            out.problems.append(Problem("Export.csv", line, column, "cannot be read"))
    if out.directive not in (None, 1, 2):
        out.problems.append(Problem("Export.csv", line, "ExportDirective", "must be 1 (delta) or 2 (full)"))
    if not out.problems:
        out.layout = layout


def _read_file(name: str, text: str, out: ParsedExport, progress: Progress | None) -> None:
    key, attr, parsers = FIELDS[name]
    assert out.layout is not None
    required = (*REQUIRED[name], *META)
    if name == "Client.csv":
        required += ("Sex",) if out.layout is Layout.FY2026 else ("Woman", "Man")
    target: dict[str, dict[str, Any]] = getattr(out, attr)
    deleted = out.deleted.setdefault(name, set())
    first_line: dict[str, int] = {}
    total = text.count("\n")
    count = 0
    for line, row in _rows(name, text, out, required):
        count += 1
        if progress is not None and count % 5000 == 0:
            progress(name, count, total)
        if row["ExportID"].strip() != out.export_id:
            out.problems.append(Problem(name, line, "ExportID", "does not match Export.csv"))
            continue
        ident = row[key].strip()
        if not ident or len(ident) > MAX_ID:
            out.problems.append(Problem(name, line, key, "empty" if not ident else f"longer than {MAX_ID} characters"))
            continue
        if row["DateDeleted"].strip():
            deleted.add(ident)
            continue
        if ident in first_line:
            out.problems.append(Problem(name, line, key, f"duplicate (first on line {first_line[ident]})"))
            continue
        first_line[ident] = line
        parsed: dict[str, Any] = {"_line": line}
        ok = True
        for column, parse in parsers.items():
            value = row.get(column)
            if value is None or value.strip() == "":
                parsed[column] = None
                if column in NOT_NULL.get(name, ()):
                    out.problems.append(Problem(name, line, column, "empty"))
                    ok = False
                continue
            try:
                parsed[column] = parse(value.strip())
            except ValueError:
                out.problems.append(Problem(name, line, column, "cannot be read"))
                ok = False
        try:
            parsed["DateUpdated"] = parse_timestamp(row["DateUpdated"])
        except ValueError:
            out.problems.append(Problem(name, line, "DateUpdated", "cannot be read"))
            ok = False
        if ok:
            target[ident] = parsed
    out.rows[name] = count
    if progress is not None:
        progress(name, count, count)


def _check_references(out: ParsedExport) -> None:
    """In a full export every enrollment names a client and a project, every exit an enrollment."""
    if out.is_delta or out.problems:
        return  # a delta may point at rows of the snapshot; the importer checks those
    for problem in dangling(out, set(out.clients), set(out.projects), set(out.enrollments)):
        out.problems.append(problem)


def dangling(out: ParsedExport, clients: set[str], projects: set[str], enrollments: set[str]) -> list[Problem]:
    """References to rows that exist neither in the export nor in `clients`/`projects`/`enrollments`."""
    found = []
    for eid, e in out.enrollments.items():
        if e["PersonalID"] not in clients:
            found.append(Problem("Enrollment.csv", e["_line"], "PersonalID", f"enrollment {eid}: no such client"))
        if e["ProjectID"] not in projects:
            found.append(Problem("Enrollment.csv", e["_line"], "ProjectID", f"enrollment {eid}: no such project"))
    for xid, x in out.exits.items():
        if x["EnrollmentID"] not in enrollments:
            found.append(Problem("Exit.csv", x["_line"], "EnrollmentID", f"exit {xid}: no such enrollment"))
    return found
