"""A person's record as the matcher sees it: normalised once, compared many times, and the grades a pair gets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from identity.normalize import (
    address_key,
    first_name_key,
    implausible_dob,
    normalize_cin,
    normalize_other_id,
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
    other_id: str | None = None  # an identifier two sources share, of no kind known here (compared as a field)
    birth_year: int | None = None  # where only the year of birth is known (dob is then None)
    # the date of birth is weak evidence (normalize.implausible_dob): before 1900, a placeholder, after today or
    # after the source first knew the person
    dob_weak: bool = False

    @classmethod
    def of(cls, source: str, local_id: str, *, first_name: str | None = None, last_name: str | None = None,
           dob: date | None = None, sex: str | None = None, ssn: str | None = None, ssn_quality: int | None = None,
           cin: str | None = None, student_id: str | None = None, zip: str | None = None,
           phone: str | None = None, address: str | None = None, other_id: str | None = None,
           dob_quality: int | None = None, birth_year: int | None = None,
           known_since: date | None = None, today: date | None = None) -> Record:
        """Normalise raw fields into a Record. A date of HMIS DOBDataQuality 2 (approximate or partial: often
        1 January of the year told) counts for its year only, and not at all where the date is implausible (a
        placeholder's year says nothing). `known_since`: the source's earliest enrolment or entry of the
        person; a date of birth after it is weak evidence. Callers normalising many records pass `today`."""
        weak = dob is not None and implausible_dob(dob, known_since, today=today)
        if dob is not None and dob_quality == 2:
            birth_year = None if weak else dob.year
            dob, weak = None, False
        s = normalize_ssn(ssn, ssn_quality)
        return cls(source=source, local_id=local_id, first=first_name_key(first_name), last=surname_key(last_name),
                   last_parts=surname_parts(last_name), dob=dob, sex=normalize_sex(sex), ssn=s.full,
                   ssn_last4=s.last4, cin=normalize_cin(cin), student_id=(student_id or "").strip() or None,
                   zip=normalize_zip(zip), phone=normalize_phone(phone), address=address_key(address),
                   other_id=normalize_other_id(other_id), birth_year=birth_year if dob is None else None,
                   dob_weak=weak)


def swapped(r: Record) -> Record:
    """The record with first and last name the other way round (one side may have been written so)."""
    if not r.first or not r.last_parts:
        return r
    return dataclasses.replace(r, first=r.last_parts[0], last=r.first, last_parts=(r.first,))
