"""Blocking: the keys two records must share one of to be compared at all, and the candidate pairs."""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np

from identity.match.person import Record
from identity.normalize import dob_twins

# Which blocking keys blocking_keys() gives: a stored index whose keys were made otherwise has them remade.
# 2: month-and-day keys carry the other name's initial; SSN-4 + ZIP and phone keys a name's initial.
# 3: names + birth year. 4: ZIP + date of birth and SSN-4 + ZIP, for records lacking a name (UNNAMED_KEYS).
# 5: other identifiers (oid, and oid~ for one typed wrong); postal codes of any country (leading zeros dropped);
# the address with the first initial, for records lacking a date of birth. 6: names in any script
# transliterated (anyascii), and an HMIS date of data quality 2 keyed by its year only.
KEY_SCHEME = 6


def blocking_keys(r: Record) -> list[tuple[str, str]]:
    """Keys two records must share one of to be compared at all (the index stores them as 'kind:value')."""
    return name_keys(r) + unnamed_keys(r) + undated_keys(r)


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


def undated_keys(r: Record) -> list[tuple[str, str]]:
    """A surname mistyped and no date of birth: the home and the first initial (UNDATED_KEYS)."""
    return [("addr+initial", f"{r.address}|{r.first[:1]}")] if r.address else []


def name_keys(r: Record) -> list[tuple[str, str]]:
    """The keys other than unnamed_keys() and undated_keys()."""
    out: list[tuple[str, str]] = []
    add = out.append
    first, parts = r.first, r.last_parts
    if r.cin:
        add(("cin", r.cin))
    if r.ssn:
        add(("ssn", r.ssn))
    if r.student_id:
        add(("sid", r.student_id))
    if r.other_id:
        add(("oid", r.other_id))
        oid = r.other_id
        # one character typed wrong or two swapped: the id with two neighbouring characters left out agrees
        # (FEBRL4: 5 true pairs that shared no other key - names swapped and a year off, or no date of birth)
        for k in range(len(oid) - 1) if len(oid) >= 5 else ():
            add(("oid~", f"{k}|{oid[:k]}{oid[k + 2:]}"))
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
UNDATED_KEYS = {"last+initial", "first+last", "swapped", "addr+initial"}
# Keys that pair a record only with records lacking a first or a last name: with both names, the names'
# keys find a pair; a ZIP gathers a neighbourhood (a city's few ZIPs made these the largest kinds of all).
UNNAMED_KEYS = {"zip+dob", "ssn4+zip"}

# The comparison fields each blocking key forces to agree: EM must not learn m for those from its pairs.
KEY_FIELDS = {
    "cin": set(), "ssn": {"ssn4"}, "sid": set(), "oid": {"oid"}, "oid~": set(),
    "first+dob": {"first", "dob"}, "last+dob": {"last", "dob"},
    "first+md+initial": {"first", "dob"}, "last+md+initial": {"last", "dob"}, "ssn4+year": {"ssn4", "dob"},
    "ssn4+first": {"ssn4", "first"}, "ssn4+last": {"ssn4", "last"}, "ssn4+zip+initial": {"ssn4", "zip"},
    "ssn4+zip": {"ssn4", "zip"}, "zip+dob": {"zip", "dob"},
    "dob+initials": {"dob"}, "last+initial": {"last"}, "first+last": {"first", "last"},
    "swapped": {"first", "last"}, "phone+initial": {"phone"}, "addr+initial": {"addr"}, "names+year": {"first", "last"},
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
    # so too the address keys, which pair only with a record lacking a date of birth (at 1M records every
    # record carrying them cost 95.8 s and 3.2 GB against 85.3 s and 2.8 GB without them)
    loose: set[tuple[str, str]] = set()
    for r in records:
        if unnamed(r):
            loose.update(unnamed_keys(r))
        if r.dob is None:
            loose.update(undated_keys(r))
    ids: dict[tuple[str, str], int] = {}
    kinds: dict[str, int] = {}
    kind_of = array("q")  # per key id
    key_ids, members = array("q"), array("q")
    for i, r in enumerate(records):
        own = name_keys(r)
        if loose:  # a named (dated) record carries these keys only where an unnamed (undated) record shares them
            own += [key for key in unnamed_keys(r) + undated_keys(r) if key in loose]
        for key in set(own):
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
