"""The values of an HMIS CSV export, read: dates and timestamps as HUD writes them (and as exports in the wild
do), HUD's response codes (strictly, or leniently where a bad value must not cost the record), and ids that point
to other records. A value that cannot be read raises ValueError; its message names the column's rule, never the
value (an export is personal data)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

MAX_ID = 32  # PersonalID and the other HMIS ids are at most 32 characters


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


def lenient_code(value: str) -> int | None:
    """A HUD response code, or None (read as 99, data not collected) for a value that is none."""
    v = value.strip()
    return int(v) if v.isascii() and v.isdigit() and len(v) <= 4 else None


def lenient_date(value: str) -> date | None:
    """A date, or None (not collected) for a value that is none."""
    try:
        return parse_date(value)
    except ValueError:
        return None


class NotACode(ValueError):
    """A number that is not one of the response list's codes; its message names the list, never the value."""


def hmis_id(value: str) -> str:
    """An HMIS id, a record's own or one that refers to another (at most 32 characters, as the store keeps them): an
    empty or longer one is reported by its column, never stored cut. (A NUL byte never reaches here: the reader sets
    aside a row with one first.)"""
    if not value:
        raise NotACode("empty")
    if len(value) > MAX_ID:
        raise NotACode(f"longer than {MAX_ID} characters")
    return value


def code_in(codes: dict[int, str]) -> Callable[[str], int]:
    """A parser for one of HUD's response lists: a number that is not on it is reported as such."""
    listed = ", ".join(str(c) for c in codes)

    def parse(value: str) -> int:
        code = int(value)
        if code not in codes:
            raise NotACode(f"not one of HUD's codes for this column ({listed})")
        return code
    return parse
