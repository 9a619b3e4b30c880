"""Read and check a HUD HMIS CSV export (a directory or a zip) without touching the store.

Everything wrong is collected as a Problem (file, line, column, what) rather
than raised at the first one, so a CoC gets the whole list back. Problems name
places, never values: an export is personal data.

Two kinds: `problems` refuse the whole export (Export.csv unreadable, a file
that cannot be read as CSV or lacks a column, a file a full refresh must
carry); `quarantined` are rows that cannot be used (a value that cannot be
read, an id empty or repeated, another export's row, a reference to nothing),
left out while the rest is imported - unless there are too many of them or the
import is strict (importer.py decides, once references to the snapshot are known).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connectors.hmis.spec import (
    DATA_COLLECTION_STAGES,
    EMPLOYMENT_TYPES,
    IMPORTED,
    META,
    NO_YES_REASONS,
    NOT_EMPLOYED_REASONS,
    READ,
    REQUIRED,
    SUPPLEMENTARY,
    Layout,
)
from connectors.hmis.values import (
    MAX_ID,
    NotACode,
    code_in,
    hmis_id,
    lenient_code,
    lenient_date,
    parse_date,
    parse_timestamp,
)

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
    directive: int | None = None  # 1 delta refresh, 2 full refresh, 3 other (a chosen period)
    period_type: int | None = None  # FY2024 ExportPeriodType: 1 updated, 2 effective, 3 reporting period, 4 other
    organizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    enrollments: dict[str, dict[str, Any]] = field(default_factory=dict)
    exits: dict[str, dict[str, Any]] = field(default_factory=dict)
    employment: dict[str, dict[str, Any]] = field(default_factory=dict)  # EmploymentEducation.csv, when carried
    deleted: dict[str, set[str]] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)  # data rows read per file (quarantined ones too)
    absent: list[str] = field(default_factory=list)  # files a delta or period export did not carry
    problems: list[Problem] = field(default_factory=list)  # the whole export is refused
    quarantined: list[Problem] = field(default_factory=list)  # rows left out
    quarantined_ids: dict[str, set[str]] = field(default_factory=dict)  # per file, the readable ids left out

    @property
    def is_full(self) -> bool:
        """A full refresh (ExportDirective 2) is the source's whole data: it replaces the snapshot."""
        return self.directive == FULL

    @property
    def is_delta(self) -> bool:
        """A delta (1) or an export of a chosen period (3 other) changes only the rows it carries."""
        return self.directive in (DELTA, OTHER)

    @property
    def kind(self) -> str | None:
        return KINDS.get(self.directive) if self.directive is not None else None

    def quarantine(self, file: str, line: int | None, column: str | None, message: str,
                   ident: str | None = None) -> None:
        """Leave a row out, saying where and why; its id (when readable) keeps the snapshot's version."""
        self.quarantined.append(Problem(file, line, column, message))
        if ident:
            self.quarantined_ids.setdefault(file, set()).add(ident)


DELTA, FULL, OTHER = 1, 2, 3  # ExportDirective
KINDS = {DELTA: "delta", FULL: "full", OTHER: "period"}
PERIOD_TYPES = (1, 2, 3, 4)

# file -> (key column, attribute of ParsedExport, {column: parser})
FIELDS: dict[str, tuple[str, str, dict[str, Callable[[str], Any]]]] = {
    "Organization.csv": ("OrganizationID", "organizations", {"OrganizationName": str}),
    "Project.csv": ("ProjectID", "projects", {"OrganizationID": hmis_id, "ProjectName": str, "ProjectType": int}),
    "Client.csv": ("PersonalID", "clients", {
        "FirstName": str, "MiddleName": str, "LastName": str, "NameSuffix": str, "NameDataQuality": int,
        "SSN": str, "SSNDataQuality": int, "DOB": parse_date, "DOBDataQuality": int, "Sex": int,
        "Woman": int, "Man": int,
    }),
    "Enrollment.csv": ("EnrollmentID", "enrollments", {
        "PersonalID": hmis_id, "ProjectID": hmis_id, "EntryDate": parse_date, "HouseholdID": hmis_id,
        "RelationshipToHoH": int, "LivingSituation": int, "MoveInDate": parse_date,
        # what chronic homelessness at project start is decided on (connectors/hmis/chronic.py): a value that
        # is no code reads as "data not collected", never loses the stay
        "LengthOfStay": lenient_code, "LOSUnderThreshold": lenient_code, "PreviousStreetESSH": lenient_code,
        "DateToStreetESSH": lenient_date, "TimesHomelessPastThreeYears": lenient_code,
        "MonthsHomelessPastThreeYears": lenient_code, "DisablingCondition": lenient_code,
    }),
    "Exit.csv": ("ExitID", "exits", {
        "EnrollmentID": hmis_id, "PersonalID": hmis_id, "ExitDate": parse_date, "Destination": int,
    }),
    # one employment record: a row with a code off HUD's list is quarantined (the stay itself is not touched)
    "EmploymentEducation.csv": ("EmploymentEducationID", "employment", {
        "EnrollmentID": hmis_id, "PersonalID": hmis_id, "InformationDate": parse_date,
        "DataCollectionStage": code_in(DATA_COLLECTION_STAGES), "Employed": code_in(NO_YES_REASONS),
        "EmploymentType": code_in(EMPLOYMENT_TYPES), "NotEmployedReason": code_in(NOT_EMPLOYED_REASONS),
    }),
}
NOT_NULL = {"Project.csv": ("ProjectType",), "Enrollment.csv": ("PersonalID", "ProjectID", "EntryDate"),
            "Exit.csv": ("EnrollmentID", "PersonalID", "ExitDate"),
            "EmploymentEducation.csv": ("EnrollmentID", "PersonalID", "InformationDate", "DataCollectionStage")}
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
    for name in (*IMPORTED, *SUPPLEMENTARY):
        if name not in texts:
            if out.is_full and name in IMPORTED:  # a full refresh without Exit.csv cannot mean "no exits"
                out.problems.append(Problem(name, None, None, "missing from a full export, which must carry "
                                            "every file (an absent file cannot mean there are none)"))
            elif not out.is_full:  # a delta or a period's export without a file: nothing of that kind changed
                out.absent.append(name)
            # (a full refresh without a supplementary file: the source has none of its rows)
    if out.problems:
        return out
    for name in READ:
        if name in texts:
            _read_file(name, texts[name], out, progress)
    return out


def _files(path: Path, problems: list[Problem]) -> dict[str, str] | None:
    """File texts by canonical name (any case, any folder inside a zip), as UTF-8 with or without a BOM."""
    wanted = {n.lower(): n for n in ("Export.csv", *READ)}
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


def _rows(name: str, text: str, out: ParsedExport, required: tuple[str, ...], key: str | None = None,
          ) -> Iterator[tuple[int, dict[str, str]]]:
    """The file's rows with the line each starts on; rows that cannot be used are quarantined (by their id, when
    `key` names a column that can still be read)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    start = 2
    try:
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        for c in missing:
            out.problems.append(Problem(name, 1, c, "column missing"))
        if missing:
            return
        for row in reader:
            line, spanned = start, reader.line_num - start + 1
            start = reader.line_num + 1
            out.rows[name] = out.rows.get(name, 0) + 1  # every data row read, used or not
            ident = (row.get(key) or "").strip() if key else ""
            ident = ident if ident and "\x00" not in ident and len(ident) <= MAX_ID else ""
            if None in row or any(v is None for v in row.values()):
                if spanned > 1:  # a quote left open swallowed the lines after it: which rows they were is lost
                    out.problems.append(Problem(name, line, None, f"a quote opened here is not closed where the row "
                                                f"ends: {spanned} lines read as one row"))
                    return
                many = None in row
                out.quarantine(name, line, None, f"{'more' if many else 'fewer'} cells than the header has columns",
                               ident if not many else None)
                continue
            nul = next((column for column, v in row.items() if "\x00" in v), None)
            if nul is not None:  # no store keeps one in text (PostgreSQL refuses it)
                out.quarantine(name, line, nul, "contains a NUL byte", ident)
                continue
            yield line, row
    except csv.Error as exc:  # a field past the limit, a quote never closed: the file stops here
        # (the reader counts the lines of the rows it finished: the fault is in the next one). What follows is
        # lost, not one row: the whole export is refused.
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
    if out.directive not in (None, *KINDS):
        out.problems.append(Problem("Export.csv", line, "ExportDirective",
                                    "must be 1 (delta refresh), 2 (full refresh) or 3 (other)"))
    period = (row.get("ExportPeriodType") or "").strip()
    if period:  # optional for casebridge: kept in the import's record
        out.period_type = int(period) if period.isdigit() else None
        if out.period_type not in PERIOD_TYPES:
            out.problems.append(Problem("Export.csv", line, "ExportPeriodType",
                                        "must be 1 (updated), 2 (effective), 3 (reporting period) or 4 (other)"))
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
    repeats: dict[str, list[dict[str, Any]]] = {}
    total = text.count("\n")
    count = 0
    for line, row in _rows(name, text, out, required, key):
        count += 1
        if progress is not None and count % 5000 == 0:
            progress(name, count, total)
        ident = row[key].strip()
        try:
            hmis_id(ident)
        except NotACode as exc:
            out.quarantine(name, line, key, str(exc))
            continue
        if row["ExportID"].strip() != out.export_id:
            out.quarantine(name, line, "ExportID", "does not match Export.csv", ident)
            continue
        if row["DateDeleted"].strip():
            deleted.add(ident)
            continue
        parsed: dict[str, Any] = {"_line": line}
        bad = []
        for column, parse in parsers.items():
            value = row.get(column)
            if value is None or value.strip() == "":
                parsed[column] = None
                if column in NOT_NULL.get(name, ()):
                    bad.append((column, "empty"))
                continue
            try:
                parsed[column] = parse(value.strip())
            except NotACode as exc:
                bad.append((column, str(exc)))
            except ValueError:  # its message may quote the value: never passed on
                bad.append((column, "cannot be read"))
        try:
            parsed["DateUpdated"] = parse_timestamp(row["DateUpdated"])
        except ValueError:
            bad.append(("DateUpdated", "cannot be read"))
        for column, why in bad:
            out.quarantine(name, line, column, why, ident)
        if bad:
            continue
        repeats.setdefault(ident, []).append(parsed)
        target.setdefault(ident, parsed)
    _keep_latest(name, key, repeats, target, out)
    if progress is not None:
        progress(name, count, count)


def _keep_latest(name: str, key: str, repeats: dict[str, list[dict[str, Any]]], target: dict[str, dict[str, Any]],
                 out: ParsedExport) -> None:
    """One row per id: of rows repeating an id the one updated last is kept (the first of equals), the others are
    quarantined, each naming the line kept."""
    for ident, rows in repeats.items():
        if len(rows) < 2:
            continue
        keep = max(rows, key=lambda r: r["DateUpdated"])  # max keeps the first of equals
        target[ident] = keep
        for row in rows:
            if row is not keep:
                out.quarantine(name, row["_line"], key,
                               f"repeated id: line {keep['_line']} is kept (the one updated last, or the first of "
                               "equals)")


def dangling(out: ParsedExport, clients: set[str], projects: set[str], enrollments: set[str]) -> int:
    """Quarantine rows that refer to rows existing neither in the export nor in `clients`/`projects`/
    `enrollments` (what the snapshot keeps), repeating until none is left: an enrollment of a client left out
    goes, and then its exits and employment records. Returns how many rows were quarantined."""
    before = len(out.quarantined)
    known = {"PersonalID": clients | set(out.clients), "ProjectID": projects | set(out.projects)}
    while True:
        found = 0
        for eid, e in list(out.enrollments.items()):
            missing = [c for c, ids in known.items() if e[c] not in ids]
            if missing:
                del out.enrollments[eid]
                found += 1
                for column in missing:
                    out.quarantine("Enrollment.csv", e["_line"], column,
                                   "refers to a " + ("client" if column == "PersonalID" else "project")
                                   + " that is neither in the export nor in the snapshot", eid)
        stays = enrollments | set(out.enrollments)
        for xid, x in list(out.exits.items()):
            if x["EnrollmentID"] not in stays:
                del out.exits[xid]
                found += 1
                out.quarantine("Exit.csv", x["_line"], "EnrollmentID",
                               "refers to an enrollment that is neither in the export nor in the snapshot", xid)
        for rid, r in list(out.employment.items()):
            if r["EnrollmentID"] not in stays:
                del out.employment[rid]
                found += 1
                out.quarantine("EmploymentEducation.csv", r["_line"], "EnrollmentID",
                               "refers to an enrollment that is neither in the export nor in the snapshot", rid)
        if not found:
            return len(out.quarantined) - before


def rows_left_out(problems: Iterable[Problem], file: str | None = None) -> int:
    """How many rows (of `file`, or of every file) the quarantine problems name: a row may have several."""
    return len({(p.file, p.line) for p in problems if file is None or p.file == file})


QUARANTINE_FLOOR = 10  # a share means nothing in a file of a few rows: a 3-row delta with one bad row still imports


def judge(out: ParsedExport, *, strict: bool, max_share: float) -> list[Problem]:
    """Whether the rows left out refuse the whole export: any of them when strict; otherwise a file with more
    than `max_share` of its rows left out, and more than QUARANTINE_FLOOR (a CoC's daily feed always has a few;
    a broken one has many)."""
    if strict:
        return [Problem(p.file, p.line, p.column, f"{p.message} (strict import: nothing was imported)")
                for p in out.quarantined]
    problems = []
    for name, rows in out.rows.items():
        bad = rows_left_out(out.quarantined, name)
        if bad > QUARANTINE_FLOOR and bad > max_share * rows:
            problems.append(Problem(name, None, None, f"{bad} of {rows} rows cannot be used, more than the "
                                    f"{max_share:.0%} an import may leave out; nothing was imported"))
    return problems
