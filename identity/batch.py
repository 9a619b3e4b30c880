"""The generic batch interface: person records in a CSV file in, one client id per record out.

Input columns (any may be missing or empty but local_id): source, local_id,
first_name, middle_name, last_name, dob, sex, ssn, cin, student_id, other_id
(an identifier the sources share, of any kind), address, zip (a postal code
of any country), phone, known_since (the source's earliest enrolment, entry or
intake of the person: a date of birth after it is weak evidence). Other files' headers are recognised (ALIASES: FEBRL's
rec_id, given_name, surname, date_of_birth, soc_sec_id, postcode; address
parts over several columns), and any column can be mapped by name. Without a
source column the file is one source, deduplicated. DOB in ISO, a common US
form, day first where the day says so, or with the month's name; a year alone
is matched as one. Output:
source, local_id, client_id, match_grade — one row per input record, records
of one person sharing a client_id. A row that cannot be read whole is reported
by line number; what can be used of it still is (an unreadable DOB counts as
missing), and a row without source or local_id is reported and left out of the
output. Values a column cannot use are counted per column.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

from identity.match import Grade, Record, link
from identity.normalize import birth_year, parse_date

COLUMNS = ("source", "local_id", "first_name", "middle_name", "last_name", "dob", "sex", "ssn", "cin",
           "student_id", "other_id", "address", "zip", "phone", "known_since")
# Headers other files use for our columns (lower case, spaces and dashes as underscores): a file in its own
# shape needs no reshaping. FEBRL's soc_sec_id is no US SSN (seven digits): an identifier of its own kind.
ALIASES = {
    "local_id": ("rec_id", "record_id", "id", "personalid", "person_id", "client_number", "case_number"),
    "first_name": ("given_name", "firstname", "first", "forename", "given"),
    "middle_name": ("middlename", "middle", "middle_initial"),
    "last_name": ("surname", "lastname", "last", "family_name", "familyname"),
    "dob": ("date_of_birth", "birth_date", "birthdate", "dateofbirth", "birthday"),
    "sex": ("gender",),
    "ssn": ("social_security_number", "socialsecuritynumber"),
    "other_id": ("soc_sec_id", "national_id", "id_number", "tax_id", "tin"),
    "zip": ("postcode", "postal_code", "zipcode", "zip_code", "post_code"),
    "phone": ("phone_number", "telephone", "tel", "mobile"),
    "known_since": ("enrolment_date", "enrollment_date", "entry_date", "intake_date", "registration_date",
                    "enrolled_on", "date_of_entry", "first_seen"),
}
# Columns whose cells, in the header's order, make up one address (a street line split over columns).
ADDRESS_PARTS = ("street_number", "house_number", "address_1", "address_2", "address1", "address2", "street",
                 "suburb", "city", "town", "state")
DEFAULT_SOURCE = "file"  # a file without a source column: one source, its records deduplicated
OUTPUT = ("source", "local_id", "client_id", "match_grade")
NAMESPACE = uuid.UUID("6f0b8f0e-2b61-4d8e-9a51-0c1e5b1c0a57")  # casebridge batch client ids


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Something wrong with one input line (the header is line 1); names the column, never the value."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" {self.column}" if self.column else "") + f": {self.message}"


@dataclass(slots=True)
class BatchResult:
    rows: list[dict[str, str]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    records: int = 0
    clusters: int = 0
    review_pairs: int = 0
    unusable: Counter[str] = field(default_factory=Counter)  # per column, values it could not use


class ReadResult(NamedTuple):
    """The records read, the problems found line by line, and per column how many values it could not use."""

    records: list[Record]
    problems: list[RowProblem]
    unusable: Counter[str]


# Columns whose values are used only when they read as what they are; the rest is counted, not used.
CHECKED: tuple[tuple[str, Callable[[Record], object]], ...] = (
    ("ssn", lambda r: r.ssn or r.ssn_last4), ("zip", lambda r: r.zip), ("cin", lambda r: r.cin),
    ("phone", lambda r: r.phone), ("sex", lambda r: r.sex), ("other_id", lambda r: r.other_id))


def _header_name(text: str) -> str:
    """A header as compared: lower case, spaces and dashes as underscores ('Date of Birth' = date_of_birth)."""
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def header_map(header: list[str], columns: dict[str, str] | None = None
               ) -> tuple[dict[str, list[int]], list[RowProblem]]:
    """Which cells make each of COLUMNS: `columns` first (ours -> the file's header), then our own names,
    then ALIASES and ADDRESS_PARTS; and the problems with the header (an unknown column is ignored, named)."""
    names = [_header_name(h) for h in header]
    problems: list[RowProblem] = []
    where: dict[str, list[int]] = {}
    taken: set[int] = set()
    for given, theirs in (columns or {}).items():
        ours = _header_name(given)
        if ours not in COLUMNS:
            problems.append(RowProblem(1, ours, f"not a column link-csv reads (one of {', '.join(COLUMNS)})"))
            continue
        found = [k for k, h in enumerate(names) if h == _header_name(theirs)]
        if not found:
            problems.append(RowProblem(1, ours, "the file has no column of the name it is mapped to"))
            continue
        where[ours] = found[-1:]
        taken.update(found)
    for ours in COLUMNS:
        if ours in where:
            continue
        for name in (ours, *ALIASES.get(ours, ())):
            found = [k for k, h in enumerate(names) if h == name and k not in taken]
            if found:  # a repeated column: its last cell counts
                where[ours] = found[-1:]
                taken.update(found)
                break
    parts = [k for k, h in enumerate(names) if h in ADDRESS_PARTS and k not in taken]
    if parts:
        where["address"] = sorted(where.get("address", []) + parts)
        taken.update(parts)
    for k, h in enumerate(names):
        if h and k not in taken:
            problems.append(RowProblem(1, h, "unknown column, ignored"))
    if "local_id" not in where:
        problems.append(RowProblem(1, "local_id", "column missing: every record needs a local id"))
    return where, problems


def read_records(text: str, columns: dict[str, str] | None = None) -> ReadResult:
    """Records from CSV text, the problems found line by line, and the values each column could not use.
    `columns` maps our column names to the file's (--column ssn=soc_sec_id); without a source column, every
    record is of one source (DEFAULT_SOURCE) and the file is deduplicated."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    where, problems = header_map(header, columns)
    width = len(header)
    records: list[Record] = []
    seen: dict[tuple[str, str], int] = {}
    last = reader.line_num
    unusable: Counter[str] = Counter()
    today = date.today()  # once for the file: dates are checked against it on every row
    try:
        for cells in reader:
            first, last = last + 1, reader.line_num
            _read_row(cells, first, last, where, width, records, seen, problems, unusable, today)
    except csv.Error as exc:  # a field past the csv limit: reading stops, and says where
        problems.append(RowProblem(last + 1, None, f"not readable as CSV from here ({_why(exc)}); the rest of "
                                                   "the file is left out"))
    return ReadResult(records, problems, unusable)


def _why(exc: csv.Error) -> str:
    """The csv module's reason, which names the fault and never the data."""
    return "a cell is too long" if "field larger" in str(exc).lower() else "malformed CSV"


def _read_row(cells: list[str], first: int, line: int, where: dict[str, list[int]], width: int,
              records: list[Record],
              seen: dict[tuple[str, str], int], problems: list[RowProblem], unusable: Counter[str],
              today: date) -> None:
    """One record (the lines first..line: more than one when a quoted cell spans lines), or a problem."""
    if not cells:
        return  # a blank line
    if line > first and any("\n" in c or "\r" in c for c in cells):
        # a quote opened and not closed where it should be swallows the lines after it: never silently
        problems.append(RowProblem(first, None, f"a quoted cell runs over lines {first}-{line} (a quote left "
                                                "open?): those lines are left out"))
        return
    row = {name: " ".join(c for k in at if k < len(cells) and (c := cells[k].strip())) for name, at in where.items()}
    if len(cells) > width:
        problems.append(RowProblem(line, None, "more cells than the header has columns; extra cells ignored"))
    source = row.get("source", "") if "source" in where else DEFAULT_SOURCE
    local_id = row.get("local_id", "")
    if not source or not local_id:
        problems.append(RowProblem(line, "source" if not source else "local_id", "empty: row left out"))
        return
    if (source, local_id) in seen:
        problems.append(RowProblem(line, "local_id", f"repeats line {seen[(source, local_id)]}: row left out"))
        return
    seen[(source, local_id)] = line
    dob = year = None
    if row.get("dob"):
        try:
            dob = parse_date(row["dob"], today=today)
        except ValueError as exc:
            year = birth_year(row["dob"], today=today)
            if year is None:
                problems.append(RowProblem(line, "dob", f"{exc}: matched without a date of birth"))
    known_since = None
    if row.get("known_since"):
        try:
            known_since = parse_date(row["known_since"], today=today)
        except ValueError as exc:
            problems.append(RowProblem(line, "known_since", f"{exc}: not used"))
    record = Record.of(
        source, local_id, first_name=row.get("first_name"), last_name=row.get("last_name"), dob=dob,
        sex=row.get("sex"), ssn=row.get("ssn") or None, cin=row.get("cin"), student_id=row.get("student_id"),
        zip=row.get("zip"), phone=row.get("phone"), address=row.get("address"), other_id=row.get("other_id"),
        birth_year=year, known_since=known_since, today=today)
    unusable.update(column for column, used in CHECKED if row.get(column) and not used(record))
    records.append(record)


def link_csv(text: str, columns: dict[str, str] | None = None) -> BatchResult:
    """Link the records in CSV `text` (read_records' `columns`); a deterministic client id per cluster (same
    input, same ids)."""
    records, problems, unusable = read_records(text, columns)
    result = BatchResult(problems=problems, records=len(records), unusable=unusable)
    if not records:
        return result
    linkage = link(records)
    pending: dict[int, Grade] = {}
    for doubt in linkage.review:
        for k in (doubt.i, doubt.j):
            if pending.get(k) is not Grade.PROBABLE:
                pending[k] = doubt.grade
    for members in linkage.clusters:
        cid = client_id(records[i] for i in members)
        for i in sorted(members):
            r = records[i]
            graded = Grade.CERTAIN.value if len(members) > 1 else (pending[i].value if i in pending else "none")
            result.rows.append({"source": r.source, "local_id": r.local_id, "client_id": cid,
                                "match_grade": graded})
    result.clusters = len(linkage.clusters)
    result.review_pairs = len(linkage.review)
    order = {(r.source, r.local_id): n for n, r in enumerate(records)}
    result.rows.sort(key=lambda row: order[(row["source"], row["local_id"])])  # the input's order
    return result


def client_id(records: Iterator[Record]) -> str:
    """A stable id for a cluster: a UUID (v5) of its smallest (source, local id)."""
    first = min((r.source, r.local_id) for r in records)
    digest = hashlib.sha256("\x1f".join(first).encode()).hexdigest()
    return str(uuid.uuid5(NAMESPACE, digest))


def write_rows(rows: list[dict[str, str]], path: Path) -> None:
    """The output CSV."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=OUTPUT)
        writer.writeheader()
        writer.writerows(rows)
