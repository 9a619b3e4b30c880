"""A service directory in Open Referral's Human Services Data Specification (HSDS 3.x): read from a tabular data
package (datapackage.json beside organizations.csv, services.csv, locations.csv, service_at_location.csv,
addresses.csv, languages.csv, schedules.csv, attributes.csv, taxonomy_terms.csv) or from JSON (compiled service
objects - one, a list, or an API page {"contents": [...]} - or the tabular form {"services": [...], ...}).

What casebridge keeps of it is what a caseworker or a client needs to choose a service and refer to it: the
organisation, the service (status, description, eligibility, ages, how to apply, fees), where it is (address,
coordinates), the languages it is offered in, its hours, and the needs it meets (its attributes' taxonomy terms).
A row that cannot be used is left out and named (file, row, field, what is wrong); a row that can be used with a
flaw (an id that is not a UUID, coordinates off the globe) is kept and the flaw named.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = frozenset({"active", "inactive", "defunct", "temporarily closed"})
LOCATION_TYPES = frozenset({"physical", "postal", "virtual"})
FREQS = frozenset({"WEEKLY", "MONTHLY"})
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?(Z|[+-]\d\d:?\d\d)?$")
_DAY = re.compile(r"^(-?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$")
_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
MAX_FILE_BYTES = 50 << 20
MAX_TEXT = 4000


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with the directory: where (file, row - the header is row 1 of a CSV file; an index in
    JSON), which field, what. `dropped`: the row was left out (else kept, with the flaw named)."""

    file: str
    row: int | None
    field: str | None
    message: str
    dropped: bool = True

    def __str__(self) -> str:
        where = self.file + (f" row {self.row}" if self.row is not None else "") + (
            f" {self.field}" if self.field else "")
        return f"{where}: {self.message}{'' if self.dropped else ' (kept)'}"


@dataclass(frozen=True, slots=True)
class Need:
    """A need a service meets: a taxonomy term (its code where it has one, its name, its taxonomy)."""

    code: str
    name: str
    taxonomy: str | None = None


@dataclass(frozen=True, slots=True)
class Hours:
    """When a service (or a service at a location) is open: RRULE-style days and times, or words."""

    freq: str | None
    byday: str | None
    opens_at: str | None
    closes_at: str | None
    description: str | None


@dataclass
class Organization:
    id: str
    name: str
    description: str | None
    website: str | None
    email: str | None


@dataclass
class Location:
    id: str
    organization_id: str | None
    name: str | None
    location_type: str
    latitude: float | None
    longitude: float | None
    address_1: str | None = None
    city: str | None = None
    state_province: str | None = None
    postal_code: str | None = None
    country: str | None = None
    languages: list[str] = field(default_factory=list)


@dataclass
class Service:
    id: str
    organization_id: str
    name: str
    description: str | None
    status: str
    url: str | None
    email: str | None
    eligibility_description: str | None
    minimum_age: float | None
    maximum_age: float | None
    application_process: str | None
    fees_description: str | None
    languages: list[str] = field(default_factory=list)
    needs: list[Need] = field(default_factory=list)
    hours: list[Hours] = field(default_factory=list)
    location_ids: list[str] = field(default_factory=list)


@dataclass
class Directory:
    """A directory as read: what can be used, and every problem."""

    organizations: dict[str, Organization] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return sum(1 for p in self.problems if p.dropped)


class Unreadable(Exception):
    """The directory cannot be read at all (no such file, not JSON, no services file): nothing to import."""


def read(path: Path) -> Directory:
    """A directory from `path`: a data package (its directory, or its datapackage.json) or a JSON file."""
    if path.is_dir():
        return _tabular({name: rows for name, rows in _csv_files(path)})
    if path.name == "datapackage.json":
        return _tabular({name: rows for name, rows in _csv_files(path.parent)})
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise Unreadable(f"{path.name}: larger than {MAX_FILE_BYTES} bytes")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise Unreadable(f"{path.name}: cannot be read as JSON ({type(exc).__name__})") from None
    return read_json(raw, path.name)


def read_json(raw: Any, name: str = "directory.json") -> Directory:
    """A directory from parsed JSON: compiled services (one, a list, or a page), or the tabular form."""
    if isinstance(raw, dict) and isinstance(raw.get("services"), list) and "name" not in raw:
        tables = {k.removesuffix(".csv"): [(i, row) for i, row in enumerate(v) if isinstance(row, dict)]
                  for k, v in raw.items() if isinstance(v, list)}
        return _tabular(tables, source=name)
    if isinstance(raw, dict) and isinstance(raw.get("contents"), list):
        raw = raw["contents"]
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise Unreadable(f"{name}: neither services nor the tabular form")
    out = Directory()
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            out.problems.append(Problem(name, i, None, "not an object"))
            continue
        _compiled_service(out, item, name, i)
    return out


# --- the tabular form ---------------------------------------------------------------------------------------------

FILES = ("organizations", "services", "locations", "service_at_location", "addresses", "languages", "schedules",
         "attributes", "taxonomy_terms", "taxonomies")
Rows = list[tuple[int, dict[str, Any]]]


def _csv_files(folder: Path) -> Iterable[tuple[str, Rows]]:
    """Each table's rows: where the package's datapackage.json says each resource is, else <name>.csv beside it."""
    paths = {name: folder / f"{name}.csv" for name in FILES}
    descriptor = folder / "datapackage.json"
    if descriptor.is_file():
        try:
            package = json.loads(descriptor.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise Unreadable(f"datapackage.json: cannot be read as JSON ({type(exc).__name__})") from None
        for res in package.get("resources", []) if isinstance(package, dict) else []:
            name, where = (res.get("name"), res.get("path")) if isinstance(res, dict) else (None, None)
            if name in paths and isinstance(where, str) and not where.startswith(("/", "http:", "https:")):
                inside = (folder / where).resolve()
                if folder.resolve() in inside.parents:  # a package names files inside itself only
                    paths[name] = inside
    if not paths["services"].is_file():
        raise Unreadable(f"{folder.name}: no services table (an HSDS data package holds services.csv, "
                         "organizations.csv, locations.csv, ...)")
    for name, path in paths.items():
        if not path.is_file():
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            raise Unreadable(f"{path.name}: larger than {MAX_FILE_BYTES} bytes")
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise Unreadable(f"{path.name}: cannot be read as UTF-8 ({type(exc).__name__})") from None
        try:
            rows = [(n, {k.strip(): (v or "").strip() for k, v in row.items() if isinstance(k, str) and isinstance(
                v, str)}) for n, row in enumerate(csv.DictReader(io.StringIO(text)), start=2)]
        except csv.Error as exc:
            raise Unreadable(f"{path.name}: not CSV ({exc})") from None
        yield name, rows


def _tabular(tables: dict[str, Rows], source: str | None = None) -> Directory:
    out = Directory()

    def where(table: str) -> str:
        return f"{source}:{table}" if source else f"{table}.csv"

    for n, row in tables.get("organizations", []):
        org = _organization(out, row, where("organizations"), n)
        if org is not None:
            out.organizations[org.id] = org
    for n, row in tables.get("locations", []):
        loc = _location(out, row, where("locations"), n)
        if loc is not None:
            out.locations[loc.id] = loc
    for n, row in tables.get("addresses", []):
        _address(out, row, where("addresses"), n, out.locations.get(_text(row.get("location_id")) or ""))
    for n, row in tables.get("services", []):
        svc = _service(out, row, where("services"), n, _text(row.get("organization_id")))
        if svc is not None:
            out.services[svc.id] = svc
    for n, row in tables.get("service_at_location", []):
        sid, lid = _text(row.get("service_id")), _text(row.get("location_id"))
        if sid not in out.services or lid not in out.locations:
            out.problems.append(Problem(where("service_at_location"), n, "service_id" if sid not in out.services
                                        else "location_id", "names a service or location not in the directory"))
            continue
        assert sid is not None and lid is not None
        if lid not in out.services[sid].location_ids:
            out.services[sid].location_ids.append(lid)
    for n, row in tables.get("languages", []):
        lang = _language(row)
        if lang is None:
            out.problems.append(Problem(where("languages"), n, "code", "a language has a code or a name"))
            continue
        sid, lid = _text(row.get("service_id")), _text(row.get("location_id"))
        if sid in out.services:
            _add(out.services[sid].languages, lang)
        elif lid in out.locations:
            _add(out.locations[lid].languages, lang)
        else:
            out.problems.append(Problem(where("languages"), n, "service_id", "names no service or location "
                                                                             "in the directory"))
    for n, row in tables.get("schedules", []):
        sid = _text(row.get("service_id"))
        hours = _hours(out, row, where("schedules"), n)
        if hours is None:
            continue
        if sid in out.services:
            out.services[sid].hours.append(hours)
        elif not (_text(row.get("location_id")) or _text(row.get("service_at_location_id"))):
            out.problems.append(Problem(where("schedules"), n, "service_id", "names no service in the directory"))
    terms = {}
    for _n, row in tables.get("taxonomy_terms", []):
        tid = _text(row.get("id"))
        if tid and _text(row.get("name")):
            terms[tid] = _need({**row, "taxonomy": row.get("taxonomy")})
    for n, row in tables.get("attributes", []):
        if (_text(row.get("link_entity")) or "service").lower() != "service":
            continue
        sid, tid = _text(row.get("link_id")), _text(row.get("taxonomy_term_id"))
        need = terms.get(tid or "")
        if sid not in out.services:
            out.problems.append(Problem(where("attributes"), n, "link_id", "names no service in the directory"))
        elif need is None:
            out.problems.append(Problem(where("attributes"), n, "taxonomy_term_id",
                                        "names no taxonomy term in the directory"))
        else:
            _add(out.services[sid].needs, need)
    return out


# --- the JSON form ------------------------------------------------------------------------------------------------

def _compiled_service(out: Directory, item: dict[str, Any], name: str, i: int) -> None:
    at = f"{name}"
    org_raw = item.get("organization")
    org_id = _text(item.get("organization_id"))
    if isinstance(org_raw, dict):
        org = _organization(out, org_raw, at, i, prefix="organization.")
        if org is None:
            return
        out.organizations.setdefault(org.id, org)
        org_id = org.id
    svc = _service(out, item, at, i, org_id)
    if svc is None:
        return
    for j, sal in enumerate(item.get("service_at_locations") or []):
        loc_raw = sal.get("location") if isinstance(sal, dict) else None
        if not isinstance(loc_raw, dict):
            out.problems.append(Problem(at, i, f"service_at_locations[{j}].location", "no location"))
            continue
        loc = _location(out, {**loc_raw, "organization_id": loc_raw.get("organization_id") or org_id}, at, i,
                        prefix=f"service_at_locations[{j}].location.")
        if loc is None:
            continue
        for k, addr in enumerate(loc_raw.get("addresses") or []):
            if isinstance(addr, dict):
                _address(out, addr, at, i, loc, prefix=f"service_at_locations[{j}].location.addresses[{k}].")
        for lang_raw in loc_raw.get("languages") or []:
            lang = _language(lang_raw) if isinstance(lang_raw, dict) else None
            if lang:
                _add(loc.languages, lang)
        out.locations.setdefault(loc.id, loc)
        _add(svc.location_ids, loc.id)
        for sched in sal.get("schedules") or []:
            hours = _hours(out, sched, at, i) if isinstance(sched, dict) else None
            if hours is not None:
                svc.hours.append(hours)
    for lang_raw in item.get("languages") or []:
        lang = _language(lang_raw) if isinstance(lang_raw, dict) else None
        if lang:
            _add(svc.languages, lang)
    for sched in item.get("schedules") or []:
        hours = _hours(out, sched, at, i) if isinstance(sched, dict) else None
        if hours is not None:
            svc.hours.append(hours)
    for attr in item.get("attributes") or []:
        term = attr.get("taxonomy_term") if isinstance(attr, dict) else None
        if isinstance(term, dict) and _text(term.get("name")):
            detail = term.get("taxonomy_detail")
            taxonomy = detail.get("name") if isinstance(detail, dict) else term.get("taxonomy")
            _add(svc.needs, _need({**term, "taxonomy": taxonomy}))
    out.services[svc.id] = svc


# --- one object of each kind --------------------------------------------------------------------------------------

def _id(out: Directory, row: dict[str, Any], at: str, n: int, prefix: str) -> str | None:
    value = _text(row.get("id"))
    if not value or not _ID.match(value):
        out.problems.append(Problem(at, n, prefix + "id", "no id, or one with characters an id cannot have"))
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        out.problems.append(Problem(at, n, prefix + "id", "not a UUID, as HSDS 3 asks", dropped=False))
    return value


def _organization(out: Directory, row: dict[str, Any], at: str, n: int, prefix: str = "") -> Organization | None:
    oid = _id(out, row, at, n, prefix)
    name = _text(row.get("name"))
    if oid is None:
        return None
    if not name:
        out.problems.append(Problem(at, n, prefix + "name", "an organization has a name"))
        return None
    return Organization(oid, name, _text(row.get("description")), _text(row.get("website")),
                        _text(row.get("email")))


def _service(out: Directory, row: dict[str, Any], at: str, n: int, org_id: str | None,
             prefix: str = "") -> Service | None:
    sid = _id(out, row, at, n, prefix)
    if sid is None:
        return None
    name, status = _text(row.get("name")), (_text(row.get("status")) or "").lower()
    if not name:
        out.problems.append(Problem(at, n, prefix + "name", "a service has a name"))
        return None
    if status not in STATUSES:
        out.problems.append(Problem(at, n, prefix + "status", f"one of {', '.join(sorted(STATUSES))}"))
        return None
    if not org_id or org_id not in out.organizations:
        out.problems.append(Problem(at, n, prefix + "organization_id", "names no organization in the directory"))
        return None
    ages = []
    for key in ("minimum_age", "maximum_age"):
        age = _number(row.get(key))
        if age is not None and not 0 <= age <= 130:
            out.problems.append(Problem(at, n, prefix + key, "an age from 0 to 130", dropped=False))
            age = None
        ages.append(age)
    return Service(sid, org_id, name, _text(row.get("description")), status, _text(row.get("url")),
                   _text(row.get("email")), _text(row.get("eligibility_description")), ages[0], ages[1],
                   _text(row.get("application_process")), _text(row.get("fees_description")))


def _location(out: Directory, row: dict[str, Any], at: str, n: int, prefix: str = "") -> Location | None:
    lid = _id(out, row, at, n, prefix)
    if lid is None:
        return None
    kind = (_text(row.get("location_type")) or "").lower()
    if kind not in LOCATION_TYPES:
        out.problems.append(Problem(at, n, prefix + "location_type", f"one of {', '.join(sorted(LOCATION_TYPES))}"))
        return None
    lat, lon = _number(row.get("latitude")), _number(row.get("longitude"))
    if (lat is None) != (lon is None) or (lat is not None and not -90 <= lat <= 90) or (
            lon is not None and not -180 <= lon <= 180):
        out.problems.append(Problem(at, n, prefix + "latitude", "coordinates off the globe (or only one of "
                                    "the two): left out", dropped=False))
        lat = lon = None
    return Location(lid, _text(row.get("organization_id")), _text(row.get("name")), kind, lat, lon)


def _address(out: Directory, row: dict[str, Any], at: str, n: int, loc: Location | None, prefix: str = "") -> None:
    if loc is None:
        out.problems.append(Problem(at, n, prefix + "location_id", "names no location in the directory"))
        return
    missing = [k for k in ("address_1", "city", "state_province", "postal_code", "country") if not _text(row.get(k))]
    kind = (_text(row.get("address_type")) or "physical").lower()
    if missing or kind not in LOCATION_TYPES:
        out.problems.append(Problem(at, n, prefix + (missing[0] if missing else "address_type"),
                                    "an address has address_1, city, state_province, postal_code and country"
                                    if missing else f"one of {', '.join(sorted(LOCATION_TYPES))}"))
        return
    if kind == "postal" and loc.address_1:  # a physical address is where a client goes: it wins
        return
    loc.address_1, loc.city, loc.state_province = _text(row["address_1"]), _text(row["city"]), _text(
        row["state_province"])
    loc.postal_code, loc.country = _text(row["postal_code"]), (_text(row["country"]) or "").upper()[:2]


def _language(row: dict[str, Any]) -> str | None:
    code, name = (_text(row.get("code")) or "").lower(), _text(row.get("name"))
    return code[:8] if code else (name.lower()[:40] if name else None)


def _hours(out: Directory, row: dict[str, Any], at: str, n: int) -> Hours | None:
    freq = (_text(row.get("freq")) or "").upper() or None
    if freq is not None and freq not in FREQS:
        out.problems.append(Problem(at, n, "freq", "WEEKLY or MONTHLY"))
        return None
    byday = (_text(row.get("byday")) or "").upper().replace(" ", "") or None
    if byday and not all(_DAY.match(d) for d in byday.split(",")):
        out.problems.append(Problem(at, n, "byday", "days as MO,TU,... (MONTHLY: 1MO, -1FR)"))
        return None
    times = []
    for key in ("opens_at", "closes_at"):
        value = _text(row.get(key))
        if value and not _TIME.match(value):
            out.problems.append(Problem(at, n, key, "a time as HH:MM (with its zone, e.g. 09:00-05:00)"))
            return None
        times.append(value[:5] if value else None)
    return Hours(freq, byday, times[0], times[1], _text(row.get("description")))


def _need(term: dict[str, Any]) -> Need:
    name = _text(term.get("name")) or ""
    code = _text(term.get("code")) or name
    return Need(code[:64], name[:200], (_text(term.get("taxonomy")) or None))


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] if text else None


def _number(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # not NaN


def _add(items: list[Any], item: Any) -> None:
    if item not in items:
        items.append(item)


__all__ = ["Directory", "Hours", "Location", "Need", "Organization", "Problem", "Service", "Unreadable", "read",
           "read_json"]
