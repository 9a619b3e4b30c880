"""Matching agency records of people: blocking, comparison, Fellegi-Sunter weights estimated by EM, grades.

A first, in-memory version of the batch matcher (the index tables and the
online path build on it). Records are normalised (identity/normalize.py), paired
only when they share a blocking key, compared field by field into agreement
levels, and scored with log-likelihood weights whose m and u probabilities are
estimated from the data itself (expectation-maximisation). Strong identifiers
decide alone: the same CIN, or the same full SSN of full data quality, is
certain; two different ones are certainly not. Evidence that fits a sibling or
a twin as well as the same person (same surname and address, a different first
name or a different date of birth) is never enough to link automatically.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np
from rapidfuzz.distance import OSA, JaroWinkler

from identity.normalize import (
    address_key,
    dob_twins,
    first_name_key,
    normalize_cin,
    normalize_phone,
    normalize_sex,
    normalize_ssn,
    normalize_zip,
    surname_key,
    surname_parts,
)


class Grade(StrEnum):
    """FHIR $match grades."""

    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"
    CERTAINLY_NOT = "certainly-not"


@dataclass(frozen=True, slots=True)
class Record:
    """One agency record of a person, normalised for matching."""

    source: str
    local_id: str
    first: str = ""
    last: str = ""
    last_parts: tuple[str, ...] = ()
    dob: date | None = None
    sex: str | None = None
    ssn: str | None = None  # nine digits, trustworthy
    ssn_last4: str | None = None
    cin: str | None = None
    student_id: str | None = None
    zip: str | None = None
    phone: str | None = None
    address: str = ""

    @classmethod
    def of(cls, source: str, local_id: str, *, first_name: str | None = None, last_name: str | None = None,
           dob: date | None = None, sex: str | None = None, ssn: str | None = None, ssn_quality: int | None = None,
           cin: str | None = None, student_id: str | None = None, zip: str | None = None,
           phone: str | None = None, address: str | None = None) -> Record:
        """Normalise raw fields into a Record."""
        s = normalize_ssn(ssn, ssn_quality)
        return cls(source=source, local_id=local_id, first=first_name_key(first_name), last=surname_key(last_name),
                   last_parts=surname_parts(last_name), dob=dob, sex=normalize_sex(sex), ssn=s.full,
                   ssn_last4=s.last4, cin=normalize_cin(cin), student_id=(student_id or "").strip() or None,
                   zip=normalize_zip(zip), phone=normalize_phone(phone), address=address_key(address))


# A name rarer than average adds at most this many bits over an average name's agreement.
TF_BONUS = 2.0
MIN_RECORDS_FOR_TF = 1000  # below this, name shares say more about the file than about names

# What a household shares: where the pair could be two of one household, their agreement adds at most
# HOUSEHOLD_CAP bits (see household()).
HOUSEHOLD_FIELDS = ("addr", "phone")  # a home; a ZIP is a neighbourhood
HOUSEHOLD_CAP = 1.0

# Agreement levels per field; MISSING when either side has nothing (no evidence either way).
LEVEL_NAMES = {
    "first": ("disagree", "similar", "same"), "last": ("disagree", "similar", "one part shared", "same"),
    "dob": ("a generation apart", "disagree", "a year or one digit off", "day and month swapped", "same"),
    "sex": ("disagree", "same"),
    "zip": ("disagree", "same"), "phone": ("disagree", "same"), "ssn4": ("disagree", "same"),
    "addr": ("disagree", "similar", "same"),
}
MISSING = -1
FIELDS = ("first", "last", "dob", "sex", "zip", "phone", "ssn4", "addr")
LEVELS = {"first": 3, "last": 4, "dob": 5, "sex": 2, "zip": 2, "phone": 2, "ssn4": 2, "addr": 3}  # 0 = disagree
HOUSEHOLD_INDEXES = tuple(FIELDS.index(f) for f in HOUSEHOLD_FIELDS)


def household(vector: Sequence[int]) -> bool:
    """Could the pair be two people of one household, whose shared home says little? Yes where the surnames
    agree or are alike (a family), or the first names or dates of birth disagree (another member). A shared
    home counts fully only where first name and date of birth agree and the surnames differ: a changed
    surname (marriage) is told from a namesake by the home."""
    return vector[1] >= 1 or vector[0] == 0 or vector[2] in (0, 1)


def compare(a: Record, b: Record) -> tuple[int, ...]:
    """The agreement level of each field in FIELDS (higher = stronger agreement; 0 = disagree)."""
    x, y = a.sex, b.sex  # the one-value fields inline: this runs for every candidate pair
    sex = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.zip, b.zip
    zip_ = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.phone, b.phone
    phone = MISSING if not x or not y else 1 if x == y else 0
    x, y = a.ssn_last4, b.ssn_last4
    ssn4 = MISSING if not x or not y else 1 if x == y else 0
    return (_first(a, b), _last(a, b), _dob(a, b), sex, zip_, phone, ssn4,
            _address(a.address, b.address))


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
    if a.dob is None or b.dob is None:
        return MISSING
    if a.dob == b.dob:
        return 4
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


GENERATION_YEARS = 12


def _digits_apart(x: date, y: date) -> int:
    """How many of the eight digits of YYYYMMDD differ."""
    n = 0
    for p, q, width in ((x.year, y.year, 4), (x.month, y.month, 2), (x.day, y.day, 2)):
        for _ in range(width):
            n += p % 10 != q % 10
            p //= 10
            q //= 10
    return n


def align(a: Record, b: Record) -> tuple[tuple[int, ...], bool]:
    """The comparison vector of two records as they line up best, and whether one side's first and last name
    were written the other way round (then the names are compared crosswise).

    Compared as written, a swapped pair disagrees on both names; EM would learn from such pairs that one
    person's records often disagree on the surname, and every namesake with another surname would gain.
    """
    vector = compare(a, b)
    if (vector[0] < 2 or vector[1] < 3) and (a.first in b.last_parts or b.first in a.last_parts):
        turned = compare(a, swapped(b))
        if turned[0] > 0 and turned[1] > 0 and turned[0] + turned[1] > vector[0] + vector[1]:
            return turned, True
    return vector, False


SWAP_PENALTY = 1.0  # bits a pair loses when its names line up only crosswise
ORDER = "order"  # the pseudo-field that shows, in an explanation, that the names lined up crosswise
CROSSWISE = "first and last name written the other way round"


def swapped(r: Record) -> Record:
    """The record with first and last name the other way round (one side may have been written so)."""
    if not r.first or not r.last_parts:
        return r
    return Record(r.source, r.local_id, r.last_parts[0], r.first, (r.first,), r.dob, r.sex, r.ssn, r.ssn_last4,
                  r.cin, r.student_id, r.zip, r.phone, r.address)


@dataclass(slots=True)
class Model:
    """Fellegi-Sunter parameters: per field and level, m = P(level | match), u = P(level | non-match)."""

    m: dict[str, list[float]] = field(default_factory=dict)
    u: dict[str, list[float]] = field(default_factory=dict)
    prior: float = 0.01  # P(match) among compared pairs
    tf: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> share of records, per field
    tf_floor: float = 0.0  # the share of a name seen once
    records: int = 0  # how many records it was trained on (the review thresholds scale with it)
    keys: int = 0  # the KEY_SCHEME its records were blocked with
    _cache: tuple[tuple[int, int], dict[str, list[float]], dict[tuple[int, ...], float]] | None = field(
        default=None, repr=False, compare=False)

    def weight(self, vector: Sequence[int], a: Record | None = None, b: Record | None = None) -> float:
        """The log2 likelihood ratio of a comparison vector (missing fields add nothing); with the records,
        an exact name agreement is weighed by how common that name is."""
        known = self._known
        w = known.get(vector)
        if w is None:  # a city's pairs show a few hundred distinct vectors: each is summed once
            w = known[tuple(vector)] = self._base(vector)
        if a is not None and self.tf and (vector[0] == 2 or vector[1] == 3):
            w += self._tf_adjustment(vector, a)
        return w

    def _base(self, vector: Sequence[int]) -> float:
        """weight() without the name frequencies: the sum of weights()."""
        return sum(self.weights(vector).values())

    def _tf_adjustment(self, vector: Sequence[int], a: Record) -> float:
        adjust = 0.0
        if vector[0] == 2 and a.first:
            adjust += self._name_bonus("first", a.first)
        if vector[1] == 3 and a.last:
            adjust += self._name_bonus("last", a.last)
        return adjust

    def _name_bonus(self, name: str, value: str) -> float:
        """What an exact agreement on this name adds to (or takes from) an average name's: log2(u / share)."""
        share = self.tf[name].get(value, self.tf_floor)
        return min(TF_BONUS, math.log2(self.u[name][EXACT[name][0]] / max(share, 1e-12)))

    def weights(self, vector: Sequence[int], a: Record | None = None, b: Record | None = None
                ) -> dict[str, float]:
        """Each compared field's log2 likelihood ratio (fields missing on either side are left out).

        Term frequencies: where first or last names agree exactly, u is that name's share of all records
        (as Splink adjusts): a common name says less, a rare one more (at most TF_BONUS bits more than
        an average name). Where the first names agree exactly, the same sex adds nothing (names are mostly
        given to one sex: random pairs of one first name are nearly all of one sex too, so the sex's weight
        from all random pairs would count the name twice). Where the pair could be two members of one
        household (household()), an agreeing address or phone adds at most HOUSEHOLD_CAP bits: a family
        shares them, so there they say little about being one person (u from random pairs would take them
        for strong evidence - a parent and child at one address and phone scored 27 bits).
        """
        table = self._table
        out = {name: table[name][level] for name, level in zip(FIELDS, vector, strict=True) if level != MISSING}
        if vector[0] == 2 and vector[3] == 1:
            out["sex"] = 0.0
        if a is not None and self.tf:
            for k, name, value in ((0, "first", a.first), (1, "last", a.last)):
                if value and vector[k] == EXACT[name][0]:
                    out[name] += self._name_bonus(name, value)
        if household(vector):
            for name in HOUSEHOLD_FIELDS:
                if out.get(name, 0.0) > HOUSEHOLD_CAP:
                    out[name] = HOUSEHOLD_CAP
        return out

    @property
    def _table(self) -> dict[str, list[float]]:
        """log2(m/u) per field and level, computed once per set of parameters."""
        return self._cached[1]

    @property
    def _known(self) -> dict[tuple[int, ...], float]:
        """weight() without name frequencies, per vector seen, for the current parameters."""
        return self._cached[2]

    @property
    def _cached(self) -> tuple[tuple[int, int], dict[str, list[float]], dict[tuple[int, ...], float]]:
        key = (id(self.m), id(self.u))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, {f: [math.log2(m / u) for m, u in zip(self.m[f], self.u[f], strict=True)]
                                 for f in FIELDS}, {})
        return self._cache

    def to_json(self) -> dict[str, object]:
        """The parameters as JSON (the store keeps the model a relink trained)."""
        return {"m": self.m, "u": self.u, "prior": self.prior, "tf": self.tf, "tf_floor": self.tf_floor,
                "records": self.records, "keys": self.keys}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Model:
        """A model from to_json's output; fields it lacks get the defaults."""
        m = data.get("m") or {}
        u = data.get("u") or {}
        assert isinstance(m, dict) and isinstance(u, dict)
        tf = data.get("tf") or {}
        assert isinstance(tf, dict)
        def levels(stored: dict[str, Any], default: dict[str, tuple[float, ...]], name: str) -> list[float]:
            values = stored.get(name)  # a model stored before a field's levels changed: the defaults
            return list(values) if values and len(values) == LEVELS[name] else list(default[name])

        return cls(m={f: levels(m, DEFAULT_M, f) for f in FIELDS}, u={f: levels(u, DEFAULT_U, f) for f in FIELDS},
                   prior=float(data.get("prior", 0.01)),
                   tf={k: dict(v) for k, v in tf.items()}, tf_floor=float(data.get("tf_floor", 0.0)),
                   records=int(data.get("records", 0)),  # type: ignore[call-overload]
                   keys=int(data.get("keys", 0)))  # type: ignore[call-overload]

    @classmethod
    def default(cls) -> Model:
        """The parameters learned on a 3,000-household synthetic city: for an index never relinked."""
        return cls(m={f: list(DEFAULT_M[f]) for f in FIELDS}, u={f: list(DEFAULT_U[f]) for f in FIELDS})


# Each field's exact-agreement level and the value it compares (u for that level is counted, not sampled).
EXACT = {"first": (2, "first"), "last": (3, "last"), "dob": (4, "dob"), "sex": (1, "sex"), "zip": (1, "zip"),
         "phone": (1, "phone"), "ssn4": (1, "ssn_last4"), "addr": (2, "address")}
U_SAMPLES = 100_000


def estimate_u(records: Sequence[Record], *, samples: int = U_SAMPLES, seed: int = 1) -> dict[str, list[float]]:
    """u probabilities: what random pairs of records (almost all of them different people) agree on.

    The exact-agreement level is counted from the values' frequencies (the share of pairs with both values
    present that agree: sum c(c-1) over N(N-1)), which no sample of a 1M-record file could estimate - at
    1/30,000 for a date of birth, 20,000 random pairs hold none or one. The other levels are sampled
    (add-one: no level is impossible) and share what is left.
    """
    import random

    rng = random.Random(seed)
    acc = {f: [1.0] * LEVELS[f] for f in FIELDS}
    n = len(records)
    for _ in range(samples if n > 1 else 0):
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j:
            continue
        for name, level in zip(FIELDS, align(records[i], records[j])[0], strict=True):
            if level != MISSING:
                acc[name][level] += 1
    out: dict[str, list[float]] = {}
    for name in FIELDS:
        exact, attribute = EXACT[name]
        counts = Counter(v for r in records if (v := getattr(r, attribute)))
        present = sum(counts.values())
        agree = sum(c * (c - 1) for c in counts.values()) / (present * (present - 1)) if present > 1 else 0.0
        agree = max(agree, 1 / max(2, samples))  # no level is impossible
        rest = sum(x for k, x in enumerate(acc[name]) if k != exact)
        out[name] = [agree if k == exact else x / rest * (1 - agree) for k, x in enumerate(acc[name])]
    return out


def estimate(vectors: Sequence[tuple[int, ...]] | Counter[tuple[int, ...]], *, u: dict[str, list[float]],
             iterations: int = 30) -> Model:
    """m and the prior by expectation-maximisation over the compared pairs' vectors (or their counts), with
    u given.

    u comes from random pairs (as it should: blocked pairs are mostly family members and the same person).
    """
    model = Model(prior=0.1)
    for name in FIELDS:  # start: matches agree
        n = LEVELS[name]
        model.m[name] = [0.05] + [0.95 * (2 ** k) / sum(2 ** j for j in range(1, n)) for k in range(1, n)]
        model.u[name] = list(u[name])
    counts = vectors if isinstance(vectors, Counter) else Counter(vectors)
    total = sum(counts.values())
    distinct = list(counts.items())
    for _ in range(iterations):
        m_acc = {f: [1e-3] * LEVELS[f] for f in FIELDS}  # tiny pseudo-counts keep every level possible
        total_p = 0.0
        for v, c in distinct:
            p = _posterior(v, model)
            total_p += p * c
            for name, level in zip(FIELDS, v, strict=True):
                if level != MISSING:
                    m_acc[name][level] += p * c
        model.prior = min(0.999, max(1e-6, total_p / max(1, total)))
        for name in FIELDS:
            ms = sum(m_acc[name])
            model.m[name] = [x / ms for x in m_acc[name]]
    return model


def _posterior(v: tuple[int, ...], model: Model) -> float:
    """P(match | vector) under the model's m, u and prior."""
    lm, lu = math.log(model.prior), math.log(1 - model.prior)
    for name, level in zip(FIELDS, v, strict=True):
        if level != MISSING:
            lm += math.log(model.m[name][level])
            lu += math.log(model.u[name][level])
    return 1 / (1 + math.exp(min(50.0, lu - lm)))


def _matched_with(counts: Counter[tuple[int, ...]], model: Model) -> dict[str, float]:
    """How many of the pairs, by the model, are matches with each field on both sides: what EM learned that
    field's m from."""
    out = dict.fromkeys(FIELDS, 0.0)
    for v, c in counts.items():
        p = _posterior(v, model) * c
        for name, level in zip(FIELDS, v, strict=True):
            if level != MISSING:
                out[name] += p
    return out


# Which blocking keys blocking_keys() gives: a stored index whose keys were made otherwise has them remade.
# 2: month-and-day keys carry the other name's initial; SSN-4 + ZIP and phone keys a name's initial.
# 3: names + birth year. 4: ZIP + date of birth and SSN-4 + ZIP, for records lacking a name (UNNAMED_KEYS).
KEY_SCHEME = 4


def blocking_keys(r: Record) -> list[tuple[str, str]]:
    """Keys two records must share one of to be compared at all (the index stores them as 'kind:value')."""
    return name_keys(r) + unnamed_keys(r)


def unnamed(r: Record) -> bool:
    """Lacks a first or a last name (the records UNNAMED_KEYS pair with)."""
    return not r.first or not r.last


def unnamed_keys(r: Record) -> list[tuple[str, str]]:
    """The keys of UNNAMED_KEYS: for a record lacking a first or last name whose other name is mistyped, the ZIP
    with the date of birth or with the SSN's last four digits."""
    out = []
    if r.zip:
        if r.dob is not None:
            out.append(("zip+dob", f"{r.zip}|{r.dob}"))
        if r.ssn_last4:
            out.append(("ssn4+zip", f"{r.ssn_last4}|{r.zip}"))
    return out


def name_keys(r: Record) -> list[tuple[str, str]]:
    """The keys other than unnamed_keys()."""
    out: list[tuple[str, str]] = []
    add = out.append
    first, parts = r.first, r.last_parts
    if r.cin:
        add(("cin", r.cin))
    if r.ssn:
        add(("ssn", r.ssn))
    if r.student_id:
        add(("sid", r.student_id))
    if r.dob is not None:
        dob, month_day, year = _dob_texts(r.dob)
        for d in dob:
            if first:
                add(("first+dob", f"{first}|{d}"))
            for part in parts:
                add(("last+dob", f"{part}|{d}"))
        # month and day survive a year typed one off; with the other name's initial, since a name and a birthday
        # alone gather the namesakes of a city (at 1M records these two kinds made 7.5 M of 12.8 M pairs, 831
        # of the true pairs no other key found)
        initial_last, initial_first = r.last[:1], first[:1]
        if first:
            add(("first+md+initial", f"{first}|{month_day}|{initial_last}"))
        for part in parts:
            add(("last+md+initial", f"{part}|{month_day}|{initial_first}"))
        if r.ssn_last4:
            add(("ssn4+year", f"{r.ssn_last4}|{year}"))
        if first and r.last:  # both names mistyped past their first letters (or written the other way round)
            x, y = first[0], r.last[0]
            add(("dob+initials", f"{dob[0]}|{x}{y}" if x <= y else f"{dob[0]}|{y}{x}"))
    if r.ssn_last4:  # survives a date of birth and one name both written wrong
        if r.zip:  # ... and one name but its initial
            for initial in {first[:1], r.last[:1]} - {""}:
                add(("ssn4+zip+initial", f"{r.ssn_last4}|{r.zip}|{initial}"))
        if first:
            add(("ssn4+first", f"{r.ssn_last4}|{first}"))
        for part in parts:
            add(("ssn4+last", f"{r.ssn_last4}|{part}"))
    if first:
        for part in parts:
            add(("first+last", f"{first}|{part}"))
            add(("last+initial", f"{part}|{first[0]}"))  # a slip in the first name and no date of birth
        for part in parts:
            low, high = (first, part) if first <= part else (part, first)
            add(("swapped", f"{low}|{high}"))
            if r.dob is not None:  # the day or month mistyped (either way round); namesakes of one year are few
                add(("names+year", f"{low}|{high}|{r.dob.year}"))
    if r.phone:  # a household shares its phone: with the first initial
        add(("phone+initial", f"{r.phone}|{first[:1]}"))
    return out


@lru_cache(maxsize=65_536)
def _dob_texts(d: date) -> tuple[tuple[str, ...], str, str]:
    """The date (first) and its day-month twin as text, its month-day, its year: dates repeat in a city."""
    twins = sorted(dob_twins(d), key=lambda t: t != d)
    return tuple(str(t) for t in twins), f"{d.month:02d}-{d.day:02d}", str(d.year)


# The kinds of key EM learns m from: two fields agreeing exactly, so that most of their pairs are one
# person. Looser keys (a name with the month and day, initials, one identifier fragment) gather namesakes
# in a large city, and EM would take them for matches with entry errors.
EM_KEYS = {"first+dob", "last+dob", "first+last", "swapped", "ssn4+year"}
# Keys that pair a record only with records lacking a date of birth (the dated ones have better keys: a
# name and a date, names and a birth year, initials and a date). A full name alone paired 3.3 M of a
# million-record city's 5 M candidate pairs, namesakes born other years. EM still learns from all of a kind's
# pairs (the dated ones teach how one person's dates of birth differ).
UNDATED_KEYS = {"last+initial", "first+last", "swapped"}
# Keys that pair a record only with records lacking a first or a last name: with both names, the names'
# keys find a pair; a ZIP gathers a neighbourhood (a city's few ZIPs made these the largest kinds of all).
UNNAMED_KEYS = {"zip+dob", "ssn4+zip"}

# The comparison fields each blocking key forces to agree: EM must not learn m for those from its pairs.
KEY_FIELDS = {
    "cin": set(), "ssn": {"ssn4"}, "sid": set(), "first+dob": {"first", "dob"}, "last+dob": {"last", "dob"},
    "first+md+initial": {"first", "dob"}, "last+md+initial": {"last", "dob"}, "ssn4+year": {"ssn4", "dob"},
    "ssn4+first": {"ssn4", "first"}, "ssn4+last": {"ssn4", "last"}, "ssn4+zip+initial": {"ssn4", "zip"},
    "ssn4+zip": {"ssn4", "zip"}, "zip+dob": {"zip", "dob"},
    "dob+initials": {"dob"}, "last+initial": {"last"}, "first+last": {"first", "last"},
    "swapped": {"first", "last"}, "phone+initial": {"phone"}, "names+year": {"first", "last"},
}


@dataclass(slots=True)
class Candidates:
    """The pairs blocking found, as sorted codes i * n + j (i < j): all of them, and per kind of key."""

    n: int
    codes: np.ndarray
    by_kind: dict[str, np.ndarray]

    def __len__(self) -> int:
        return int(self.codes.size)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for start in range(0, self.codes.size, 1 << 16):
            yield from self._pairs(self.codes[start:start + (1 << 16)])

    def sample(self, kind: str, size: int, *, seed: int = 1) -> list[tuple[int, int]]:
        """At most `size` of one kind's pairs, drawn at random (the same ones for the same records)."""
        codes = self.by_kind.get(kind, np.empty(0, np.int64))
        if codes.size > size:
            codes = np.sort(np.random.default_rng(seed).choice(codes, size, replace=False))
        return list(self._pairs(codes))

    def _pairs(self, codes: np.ndarray) -> Iterator[tuple[int, int]]:
        return zip((codes // self.n).tolist(), (codes % self.n).tolist(), strict=True)


def block(records: Sequence[Record], *, max_block: int = 200) -> Candidates:
    """Index pairs sharing a blocking key; blocks over `max_block` are skipped as uninformative.

    The keys are gathered in Python; the pairs of every block are formed in numpy, blocks of one size at a
    time (a block of s records gives its s(s-1)/2 pairs by one fancy index), as integer codes: a set of
    a million-record city's 12 M (i, j) tuples took more time and memory than the comparisons.
    """
    n = len(records)
    # the keys of UNNAMED_KEYS pair only with a record lacking a name: the few such records' values, so that
    # the rest of the city does not carry a million keys that would be dropped (87 s against 77 s at 1M)
    loose = {key for r in records if unnamed(r) for key in unnamed_keys(r)}
    ids: dict[tuple[str, str], int] = {}
    kinds: dict[str, int] = {}
    kind_of = array("q")  # per key id
    key_ids, members = array("q"), array("q")
    for i, r in enumerate(records):
        keys = name_keys(r)
        if loose:  # a named record carries these keys only where an unnamed record shares them
            keys += [key for key in unnamed_keys(r) if key in loose]
        for key in set(keys):
            k = ids.get(key)
            if k is None:
                k = ids[key] = len(ids)
                kind_of.append(kinds.setdefault(key[0], len(kinds)))
            key_ids.append(k)
            members.append(i)
    del ids
    keys = np.frombuffer(key_ids, np.int64)
    order = np.argsort(keys, kind="stable")  # stable: a block's records ascend, so i < j in every pair
    keys, held = keys[order], np.frombuffer(members, np.int64)[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.empty(0, np.int64)
    sizes = np.diff(np.r_[starts, keys.size])
    kind_codes = np.frombuffer(kind_of, np.int64)
    found, found_kinds = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= max_block)]).tolist():
        first = starts[sizes == size]
        block_members = held[first[:, None] + np.arange(size)]
        a, b = np.triu_indices(size, 1)
        found.append((block_members[:, a] * n + block_members[:, b]).ravel())
        found_kinds.append(np.repeat(kind_codes[keys[first]], a.size))
    codes, code_kinds = np.concatenate(found), np.concatenate(found_kinds)
    by_kind = {kind: _distinct(codes[code_kinds == k]) for kind, k in kinds.items() if kind in EM_KEYS}
    undated = np.fromiter((r.dob is None for r in records), bool, n)
    nameless = np.fromiter((unnamed(r) for r in records), bool, n)
    for restricted, lacking in ((UNDATED_KEYS, undated), (UNNAMED_KEYS, nameless)):
        for kind in restricted & kinds.keys():  # only pairs with a record that lacks it
            drop = (code_kinds == kinds[kind]) & ~(lacking[codes // n] | lacking[codes % n])
            codes, code_kinds = codes[~drop], code_kinds[~drop]
    by_kind.update({kind: _distinct(codes[code_kinds == k]) for kind, k in kinds.items() if kind not in EM_KEYS})
    return Candidates(n, _distinct(codes), by_kind)


def _distinct(codes: np.ndarray) -> np.ndarray:
    """Sorted, each once (np.unique hashes first, which took 3x as long on these arrays)."""
    codes = np.sort(codes)
    return codes[np.r_[True, codes[1:] != codes[:-1]]] if codes.size else codes


def candidate_pairs(records: Sequence[Record], *, max_block: int = 200) -> set[tuple[int, int]]:
    """Index pairs sharing any blocking key."""
    return set(block(records, max_block=max_block))


def estimate_by_key(by_key: dict[str, list[tuple[int, int]]], vectors: dict[tuple[int, int], tuple[int, ...]],
                    u: dict[str, list[float]]) -> Model:
    """m per field from EM over each kind of key's pairs, never from the pairs whose key forced that field to
    agree (as Splink trains: a field the blocking fixed says nothing about matches).

    Of the kinds that leave a field free, only those that leave the most *other* evidence free teach its m
    (averaged if several). A field that is the only evidence left in its pairs cannot be learned there: EM
    cannot tell a namesake who shares first name and date of birth from the same person under another
    surname, and takes a share of namesakes for matches (measured at 300k records: m(surname disagrees)
    0.028 from first name + date of birth pairs, 0.0016 from SSN-4 + birth year pairs, 0.00004 true).
    The weights need m and u only; the prior is left at its default (no threshold uses it).
    """
    if len(vectors) < MIN_PAIRS_FOR_EM:  # too little to learn from: what larger runs learned
        return Model(m={f: list(DEFAULT_M[f]) for f in FIELDS}, u=dict(u))
    learned: dict[str, list[tuple[int, list[float]]]] = defaultdict(list)  # field -> (other evidence, m)
    for kind, pairs in by_key.items():
        fixed = KEY_FIELDS.get(kind, set())
        if len(pairs) < 30 or kind not in EM_KEYS:
            continue
        masked: Counter[tuple[int, ...]] = Counter()
        for v, c in Counter(vectors[p] for p in pairs).items():  # mask each distinct vector once
            masked[tuple(MISSING if name in fixed else level for name, level in zip(FIELDS, v, strict=True))] += c
        model = estimate(masked, u=u)
        present = _present(masked)
        matched = _matched_with(masked, model)
        evidence = {name for name in FIELDS if name not in fixed and name != "sex"
                    and present[name] >= 0.5 * len(pairs)}  # sex follows from a fixed first name
        for name in FIELDS:
            if name not in fixed and matched[name] >= MIN_MATCHES_PER_FIELD:
                learned[name].append((len(evidence - {name}), model.m[name]))
    sums = {f: [0.0] * LEVELS[f] for f in FIELDS}
    runs = dict.fromkeys(FIELDS, 0)
    for name, found in learned.items():
        most = max(n for n, _m in found)
        for n, m_found in found:
            if n == most:
                sums[name] = [a + b for a, b in zip(sums[name], m_found, strict=True)]
                runs[name] += 1
    m = {f: [x / runs[f] for x in sums[f]] if runs[f] else list(DEFAULT_M[f]) for f in FIELDS}
    for name in FIELDS:  # no level is ever impossible: one odd record must not weigh -30 bits
        floored = [max(M_FLOOR, x) for x in m[name]]
        m[name] = [x / sum(floored) for x in floored]
    for name, ceilings in M_DISAGREE_CEILING.items():  # what we know of how often one person's records disagree
        for level, ceiling in ceilings.items():
            if m[name][level] > ceiling:
                rest = sum(x for k, x in enumerate(m[name]) if k != level)
                m[name] = [ceiling if k == level else x * (1 - ceiling) / rest for k, x in enumerate(m[name])]
    return Model(m=m, u=dict(u))


def _present(masked: Counter[tuple[int, ...]]) -> dict[str, int]:
    """How many of the pairs have each field on both sides."""
    return {name: sum(c for v, c in masked.items() if v[k] != MISSING) for k, name in enumerate(FIELDS)}


MIN_MATCHES_PER_FIELD = 300  # fewer matched pairs with the field than this in a kind: not learned there
M_FLOOR = 0.002  # the least m of any level: no level is ever impossible

# m by level, as estimated on a 3,000-household synthetic city; used when a run has too few pairs to learn.
MIN_PAIRS_FOR_EM = 200
DEFAULT_M = {
    "first": (0.02, 0.05, 0.93), "last": (0.05, 0.04, 0.03, 0.88), "dob": (0.002, 0.01, 0.03, 0.007, 0.95),
    "sex": (0.02, 0.98), "zip": (0.3, 0.7), "phone": (0.3, 0.7), "ssn4": (0.01, 0.99), "addr": (0.3, 0.1, 0.6),
}

# u by level, from random pairs of a 3,000-household synthetic city: in a small file random pairs are too
# often the same person or family to estimate u from.
MIN_RECORDS_FOR_U = 1000
DEFAULT_U = {
    "first": (0.985, 0.001, 0.014), "last": (0.983, 0.001, 0.004, 0.012), "dob": (0.75, 0.2491, 0.0004, 0.0001, 0.0004),
    "sex": (0.5, 0.5), "zip": (0.9, 0.1), "phone": (0.999, 0.001), "ssn4": (0.9998, 0.0002),
    "addr": (0.9995, 0.0002, 0.0003),
}

# Upper bounds for P(field disagrees outright | same person). With few distinct names (or many namesakes),
# EM cannot tell namesakes from one person and learns a large m for disagreement; entry errors beyond the
# levels compare() already forgives (swapped day/month, a year off, one slip in a name) are rare.
M_DISAGREE_CEILING = {"dob": {0: 0.002, 1: 0.01}, "first": {0: 0.05}, "last": {0: 0.08}, "sex": {0: 0.02}}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Weights (log2) at or above which a pair is certain, probable, possible."""

    certain: float = 16.0
    probable: float = 12.0
    possible: float = 10.0

    @classmethod
    def for_records(cls, n: int) -> Thresholds:
        """The thresholds for an index of n records. A weight is a likelihood ratio; what it means depends
        on how many people could be the other one: with a prior of 1/n that two records are one person, a
        pair goes to review only from a 5 % chance on (possible) and is probable from 20 % on. In a small
        index the fixed floors apply; the auto-link threshold never moves."""
        if n <= 1:
            return cls()
        scale = math.log2(n)
        return cls(probable=max(12.0, scale - 2.0), possible=max(10.0, scale - 4.25))


def explain_pair(a: Record, b: Record, model: Model) -> tuple[tuple[int, ...], bool, dict[str, float]]:
    """align()'s vector and turn, and each compared field's weight; a turned pair's penalty under ORDER."""
    vector, turned = align(a, b)
    weights = model.weights(vector, a, b)
    if turned:
        weights[ORDER] = -SWAP_PENALTY
    return vector, turned, weights


def grade(a: Record, b: Record, vector: tuple[int, ...], model: Model,
          thresholds: Thresholds | None = None, *, turned: bool = False) -> tuple[Grade, float, str]:
    """The grade of a pair, its weight, and why (a rule, or 'score'); `vector` and `turned` as align() gives
    them (a turned pair costs SWAP_PENALTY bits)."""
    if thresholds is None:
        thresholds = Thresholds.for_records(model.records)
    if a.cin and b.cin:
        return (Grade.CERTAIN, math.inf, "rule:cin") if a.cin == b.cin else (Grade.CERTAINLY_NOT, -math.inf,
                                                                              "rule:cin-differs")
    if a.ssn and b.ssn:
        return (Grade.CERTAIN, math.inf, "rule:ssn") if a.ssn == b.ssn else (Grade.CERTAINLY_NOT, -math.inf,
                                                                              "rule:ssn-differs")
    if a.student_id and b.student_id and a.source == b.source == "edfi":
        same = a.student_id == b.student_id
        return (Grade.CERTAIN, math.inf, "rule:student-id") if same else (Grade.CERTAINLY_NOT, -math.inf,
                                                                           "rule:student-id-differs")
    w = model.weight(vector, a, b) - (SWAP_PENALTY if turned else 0.0)
    if w >= thresholds.certain and not household_only(vector):
        return Grade.CERTAIN, w, "score"
    if w >= thresholds.probable:
        return Grade.PROBABLE, w, "score"
    if w >= thresholds.possible:
        return Grade.POSSIBLE, w, "score"
    return Grade.CERTAINLY_NOT, w, "score"


def household_only(vector: tuple[int, ...]) -> bool:
    """Not enough for an automatic link: what a sibling or twin would also give (the first name or the date
    of birth disagrees outright), a surname that disagrees where no address or phone is shared, or names
    with no date of birth and no shared phone or address - unless the last four digits of an SSN agree
    (siblings and twins have different numbers; one in 10,000 share the last four)."""
    first, last, dob, phone, ssn4, address = vector[0], vector[1], vector[2], vector[5], vector[6], vector[7]
    if ssn4 == 1:
        return False
    if first == 0 or dob in (0, 1):
        return True
    if last == 0:  # a surname changed (marriage) or a namesake: the same home tells them apart
        return phone != 1 and address < 1
    # without a date of birth, names alone (however rare) do not link: namesakes; a shared phone or address may
    return dob == MISSING and phone != 1 and address != 2


@dataclass(frozen=True, slots=True)
class Edge:
    """A link that joined two records' clusters: its weight and why ('rule:cin', 'score', 'manual')."""

    a: int
    b: int
    weight: float
    why: str


NONE: frozenset[str] = frozenset()
NO_IDS = (NONE, NONE)


@dataclass(slots=True)
class Linkage:
    """The outcome of a batch run: clusters of record indexes, the links that made them (a spanning tree
    per cluster), and the pairs left for review."""

    clusters: list[list[int]]
    review: list[tuple[int, int, Grade, float]]
    compared: int
    model: Model
    edges: list[Edge] = field(default_factory=list)

    def explain(self) -> dict[int, Edge]:
        """For each record of a cluster with more than one record, the link that holds it in: the edge to
        its parent in the cluster's tree rooted at its smallest record (the root gets its first child's)."""
        adjacent: dict[int, list[Edge]] = defaultdict(list)
        for e in self.edges:
            adjacent[e.a].append(e)
            adjacent[e.b].append(e)
        out: dict[int, Edge] = {}
        for members in self.clusters:
            if len(members) < 2:
                continue
            root = min(members)
            seen, frontier = {root}, [root]
            while frontier:
                node = frontier.pop()
                for e in sorted(adjacent[node], key=lambda e: -e.weight):
                    other = e.b if e.a == node else e.a
                    if other not in seen:
                        seen.add(other)
                        out[other] = e
                        out.setdefault(root, e)
                        frontier.append(other)
        return out


def train(records: Sequence[Record]) -> tuple[list[tuple[int, int]], list[tuple[int, ...]], Model]:
    """The candidate pairs (blocked), their comparison vectors, and the model link() grades with."""
    pairs, model = fit(records)
    return list(pairs), [align(records[i], records[j])[0] for i, j in pairs], model


# EM needs a sample, not every pair: at most this many pairs of each kind of key are compared to learn m.
EM_SAMPLE = 30_000


def fit(records: Sequence[Record]) -> tuple[Candidates, Model]:
    """The candidate pairs (blocked) and the model: u from random pairs, m by EM over a sample of each kind
    of key's pairs, name frequencies."""
    pairs = block(records)
    sample = {kind: pairs.sample(kind, EM_SAMPLE) for kind in EM_KEYS & pairs.by_kind.keys()}
    vectors = {p: align(records[p[0]], records[p[1]])[0] for found in sample.values() for p in found}
    u = estimate_u(records) if len(records) >= MIN_RECORDS_FOR_U else {f: list(DEFAULT_U[f]) for f in FIELDS}
    model = estimate_by_key(sample, vectors, u)
    if len(records) >= MIN_RECORDS_FOR_TF:
        model.tf, model.tf_floor = term_frequencies(records)
    model.records, model.keys = len(records), KEY_SCHEME
    return pairs, model


def grade_all(records: Sequence[Record], pairs: Iterable[tuple[int, int]], model: Model, limits: Thresholds,
              decided: set[tuple[int, int]]) -> list[tuple[int, int, Grade, float, str]]:
    """Every pair compared and graded (vectors are not kept); the ones that are not certainly-not, in order.

    Tried: forking two workers to grade halves took grading from 6.4 to 4.0 s at 300k records but the
    processes' proportional memory from 1.0 to 1.8 GB (reference counts copy every page they touch)."""
    out = []
    for i, j in pairs:
        if (i, j) in decided:
            continue
        a, b = records[i], records[j]
        vector, turned = align(a, b)
        g, w, why = grade(a, b, vector, model, limits, turned=turned)
        if g is not Grade.CERTAINLY_NOT:
            out.append((i, j, g, w, why))
    return out


def term_frequencies(records: Sequence[Record]) -> tuple[dict[str, dict[str, float]], float]:
    """Each first and last name's share of the records (names seen once are left to the floor)."""
    n = len(records)
    out: dict[str, dict[str, float]] = {}
    for name in ("first", "last"):
        counts = Counter(getattr(r, name) for r in records if getattr(r, name))
        out[name] = {value: c / n for value, c in counts.items() if c > 1}
    return out, 1 / n


def link(records: Sequence[Record], thresholds: Thresholds | None = None, *,
         same: Sequence[tuple[int, int]] = (), different: Sequence[tuple[int, int]] = (),
         model: Model | None = None) -> Linkage:
    """Block, compare, estimate (unless a model is given), grade, and cluster the certain pairs (union-find).

    `same` and `different` are a steward's decisions (record index pairs): `same` pairs are joined first,
    whatever the score; no link, automatic or not, ever joins the two sides of a `different` pair.
    """
    if model is None:
        pairs, model = fit(records)
    else:
        pairs = block(records)
    limits = thresholds or Thresholds.for_records(model.records)
    parent = list(range(len(records)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    # strong identifiers each cluster holds: two clusters with different CINs or SSNs never merge,
    # however good a bridging pair looks (the strongest links are made first)
    ids: dict[int, tuple[frozenset[str], frozenset[str]]] = {
        i: (frozenset((r.cin,)) if r.cin else NONE, frozenset((r.ssn,)) if r.ssn else NONE)
        for i, r in enumerate(records) if r.cin or r.ssn}
    apart = [(min(i, j), max(i, j)) for i, j in different]

    def allowed(a: int, b: int) -> bool:
        return not apart or not any({find(x), find(y)} == {a, b} for x, y in apart)

    review: list[tuple[int, int, Grade, float]] = []
    certain: list[tuple[float, int, int, str]] = [(math.inf, i, j, "manual") for i, j in same]  # the steward's
    edges: list[Edge] = []
    decided = set(apart) | {(min(i, j), max(i, j)) for i, j in same}
    for i, j, g, w, why in grade_all(records, pairs, model, limits, decided):
        if g is Grade.CERTAIN:
            certain.append((w, i, j, why))
        elif g in (Grade.PROBABLE, Grade.POSSIBLE):
            review.append((i, j, g, w))
    for w, i, j, why in sorted(certain, key=lambda c: (c[0], c[3] == "manual", -c[1], -c[2]), reverse=True):
        a, b = find(i), find(j)
        if a == b:
            continue
        (cins_a, ssns_a), (cins_b, ssns_b) = ids.get(a, NO_IDS), ids.get(b, NO_IDS)
        manual = why == "manual"
        conflict = (cins_a and cins_b and not cins_a & cins_b) or (ssns_a and ssns_b and not ssns_a & ssns_b)
        if (conflict and not manual) or not allowed(a, b):
            if not manual:
                review.append((i, j, Grade.PROBABLE, w))  # the same person by the score, not by the identifiers
            continue
        parent[a] = b
        if cins_a or cins_b or ssns_a or ssns_b:
            ids[b] = (cins_a | cins_b, ssns_a | ssns_b)
        edges.append(Edge(i, j, w, why))
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        clusters[find(i)].append(i)
    return Linkage(list(clusters.values()), review, len(pairs), model, edges)
