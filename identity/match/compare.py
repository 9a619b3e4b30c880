"""Comparing two records field by field: each field's agreement level, and the vector of them all.

A Vector holds one agreement level per field of FIELDS, in that order (MISSING where either side lacks the
field); FIRST, LAST, DOB, ... name the positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rapidfuzz.distance import OSA, JaroWinkler

from identity.match.person import Record, swapped
from identity.normalize import dob_twins

# What a household shares: where the pair could be two of one household, their agreement adds at most
# HOUSEHOLD_CAP bits (see household()).
HOUSEHOLD_FIELDS = ("addr", "phone")  # a home; a ZIP is a neighbourhood
HOUSEHOLD_CAP = 1.0

# Agreement levels per field; MISSING when either side has nothing (no evidence either way).
LEVEL_NAMES = {
    "first": ("disagree", "similar", "same"), "last": ("disagree", "similar", "one part shared", "same"),
    "dob": ("a generation apart", "disagree", "a year or one digit off", "day and month swapped", "same",
            "same year (a date known only by its year)"),
    "sex": ("disagree", "same"),
    "zip": ("disagree", "same"), "phone": ("disagree", "same"), "ssn4": ("disagree", "same"),
    "addr": ("disagree", "similar", "same"), "oid": ("disagree", "one character off", "same"),
}
MISSING = -1
FIELDS = ("first", "last", "dob", "sex", "zip", "phone", "ssn4", "addr", "oid")  # oid: Record.other_id
FIRST, LAST, DOB, SEX, ZIP, PHONE, SSN4, ADDR, OID = range(len(FIELDS))  # each field's place in a Vector
Vector = tuple[int, ...]  # one agreement level per field of FIELDS, in that order
# Dates of birth this many years apart or more: a parent and a child of one name (Jr. and Sr.) are the classic
# false merge, and get a level of their own.
GENERATION_YEARS = 12
YEAR_ONLY = 5  # the dob level of two records born the same year, one known only by its year
LEVELS = {name: len(levels) for name, levels in LEVEL_NAMES.items()}  # 0 = disagree

def household(vector: Sequence[int]) -> bool:
    """Could the pair be two people of one household, whose shared home says little? Yes where the surnames
    agree or are alike (a family), or the first names or dates of birth disagree (another member). A shared
    home counts fully only where first name and date of birth agree and the surnames differ: a changed
    surname (marriage) is told from a namesake by the home."""
    return vector[LAST] >= 1 or vector[FIRST] == 0 or vector[DOB] in (0, 1)


def compare(a: Record, b: Record) -> Vector:
    """The agreement level of each field in FIELDS (0 = disagree; higher = stronger agreement, but for dob's
    YEAR_ONLY, a level of its own weaker than 'same')."""
    x, y = a.sex, b.sex  # the one-value fields inline: this runs for every candidate pair
    sex = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.zip, b.zip
    zip_ = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.phone, b.phone
    phone = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.ssn_last4, b.ssn_last4
    ssn4 = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.other_id, b.other_id
    oid = MISSING if not x or not y else 2 if x == y else 1 if len(x) >= 5 and OSA.distance(x, y) <= 1 else 0
    return (_first(a, b), _last(a, b), _dob(a, b), sex, zip_, phone, ssn4, _address(a.address, b.address), oid)


def _address(x: str, y: str) -> int:
    """Same street address, similar (the house number agrees and the rest is close), or not."""
    if not x or not y:
        return MISSING
    if x == y:
        return 2
    nx, ny = x.split(" ", 1)[0], y.split(" ", 1)[0]
    if nx == ny and JaroWinkler.similarity(x, y) >= 0.85:
        return 1
    return 0


def _first(a: Record, b: Record) -> int:
    if not a.first or not b.first:
        return MISSING
    if a.first == b.first:
        return 2
    return 1 if _close(a.first, b.first) else 0


def _close(x: str, y: str) -> bool:
    """One keyboard slip apart (a transposition counts as one), or Jaro-Winkler >= 0.9."""
    return (min(len(x), len(y)) >= 3 and OSA.distance(x, y) <= 1) or JaroWinkler.similarity(x, y) >= 0.9


def _last(a: Record, b: Record) -> int:
    if not a.last or not b.last:
        return MISSING
    if a.last == b.last:
        return 3
    if set(a.last_parts) & set(b.last_parts):
        return 2  # a two-part surname recorded whole on one side and in part on the other
    return 1 if _close(a.last, b.last) else 0


def _dob(a: Record, b: Record) -> int:
    """The dates' agreement level. An implausible date (Record.dob_weak: before 1900, a system's placeholder,
    still to come, after the source first knew the person) is weak evidence: agreeing, it counts as close;
    disagreeing, it says nothing. Where one side knows only the year (Record.birth_year): the same year is a
    level of its own (YEAR_ONLY, weaker than a date; it is not 'stronger' for being the last), years a
    generation apart disagree, others say nothing."""
    if a.dob is None or b.dob is None:
        year_a = a.dob.year if a.dob is not None else a.birth_year
        year_b = b.dob.year if b.dob is not None else b.birth_year
        if year_a is None or year_b is None:
            return MISSING
        return YEAR_ONLY if year_a == year_b else 0 if abs(year_a - year_b) >= GENERATION_YEARS else MISSING
    if a.dob == b.dob:
        return 2 if a.dob_weak or b.dob_weak else 4
    if a.dob_weak or b.dob_weak:
        return MISSING
    if b.dob in dob_twins(a.dob):
        return 3  # day and month swapped
    if (a.dob.month, a.dob.day) == (b.dob.month, b.dob.day) and abs(a.dob.year - b.dob.year) == 1:
        return 2
    x, y = a.dob, b.dob
    if abs(x.year - y.year) >= GENERATION_YEARS:
        return 0  # a parent and a child of one name (Jr. and Sr.) are the classic false merge
    # one digit mistyped: exactly one of year, month, day differs, in one digit
    differ = (x.year != y.year) + (x.month != y.month) + (x.day != y.day)
    if differ == 1 and _digits_apart(x, y) == 1:
        return 2
    return 1


def _digits_apart(x: date, y: date) -> int:
    """How many of the eight digits of YYYYMMDD differ."""
    n = 0
    for p, q, width in ((x.year, y.year, 4), (x.month, y.month, 2), (x.day, y.day, 2)):
        for _ in range(width):
            n += p % 10 != q % 10
            p //= 10
            q //= 10
    return n


def align(a: Record, b: Record) -> tuple[Vector, bool]:
    """The comparison vector of two records as they line up best, and whether one side's first and last name
    were written the other way round (then the names are compared crosswise).

    Compared as written, a swapped pair disagrees on both names; EM would learn from such pairs that one
    person's records often disagree on the surname, and every namesake with another surname would gain.
    """
    vector = compare(a, b)
    if (vector[FIRST] < 2 or vector[LAST] < 3) and (a.first in b.last_parts or b.first in a.last_parts):
        turned = compare(a, swapped(b))
        if turned[FIRST] > 0 and turned[LAST] > 0 and turned[FIRST] + turned[LAST] > vector[FIRST] + vector[LAST]:
            return turned, True
    return vector, False

SWAP_PENALTY = 1.0  # bits a pair loses when its names line up only crosswise
ORDER = "order"  # the pseudo-field that shows, in an explanation, that the names lined up crosswise
CROSSWISE = "first and last name written the other way round"

def household_only(vector: Vector) -> bool:
    """Not enough for an automatic link: what a sibling or twin would also give (the first name or the date
    of birth disagrees outright), a surname that disagrees where no address or phone is shared, or names
    with no date of birth and no shared phone or address - unless an identifier agrees (the last four digits
    of an SSN; another identifier whole or one keystroke off: siblings and twins have different numbers, one
    in 10,000 share the last four, and two unrelated numbers one digit or one swap apart are rarer still) and
    the pair does not look like another member of the family all the same: two of first name, date of birth
    and sex disagreeing is a relative whose number was copied onto a record."""
    first, last, dob, phone, ssn4, address = (vector[FIRST], vector[LAST], vector[DOB], vector[PHONE], vector[SSN4],
                                              vector[ADDR])
    if (ssn4 == 1 or vector[OID] >= 1) and (first == 0) + (dob in (0, 1)) + (vector[SEX] == 0) < 2:
        return False
    if first == 0 or dob in (0, 1):
        return True
    if last == 0:  # a surname changed (marriage) or a namesake: the same home tells them apart
        return phone != 1 and address < 1
    # without a date of birth (or with its year only), names alone (however rare) do not link: namesakes; a
    # shared phone or address may
    return dob in (MISSING, YEAR_ONLY) and phone != 1 and address != 2
