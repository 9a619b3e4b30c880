"""Normalisation of names, dates of birth and identifiers before matching (identity/normalize.py)."""

from __future__ import annotations

from datetime import date

import pytest

from identity.normalize import (
    address_key,
    dob_twins,
    first_name_key,
    fold,
    normalize_cin,
    normalize_phone,
    normalize_sex,
    normalize_ssn,
    normalize_zip,
    parse_date,
    surname_key,
    surname_parts,
)


@pytest.mark.parametrize(("raw", "folded"), [
    ("  José  ", "jose"), ("NGUYỄN", "nguyen"), ("O'Brien", "obrien"), ("O\u2019Brien", "obrien"), ("Traoré", "traore"),
    ("Mary-Kate", "mary kate"), ("", ""), (None, ""), ("Ana  Maria", "ana maria"), ("D'Angelo Jr.", "dangelo jr"),
])
def test_fold_drops_case_accents_and_punctuation(raw: str | None, folded: str) -> None:
    assert fold(raw) == folded


@pytest.mark.parametrize(("a", "b"), [
    ("Sam", "Samuel"), ("Bob", "ROBERT"), ("Nate", "Nathaniel"), ("Muhammad", "Mohammed"), ("Mohamed", "mohammed"),
    ("Youssef", "Yusuf"), ("Mykola", "Nikolai"), ("Kolya", "Nikolai"), ("José", "Jose"), ("Ana Maria", "Ana"),
])
def test_nicknames_and_transliterations_meet(a: str, b: str) -> None:
    assert first_name_key(a) == first_name_key(b)


def test_different_first_names_stay_different() -> None:
    assert first_name_key("Maria") != first_name_key("Mario")
    assert first_name_key("Samuel") != first_name_key("Samira")
    assert first_name_key(None) == ""


@pytest.mark.parametrize(("raw", "parts"), [
    ("García-López", ("garcia", "lopez")), ("Garcia Lopez", ("garcia", "lopez")), ("GARCIA", ("garcia",)),
    ("Smith Jr", ("smith",)), ("Hussein", ("hussain",)), ("de la Cruz", ("de", "la", "cruz")),
])
def test_compound_surnames_keep_their_parts(raw: str, parts: tuple[str, ...]) -> None:
    assert surname_parts(raw) == parts
    assert surname_key(raw) == " ".join(parts)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2011-03-04", date(2011, 3, 4)), ("03/04/2011", date(2011, 3, 4)), ("3/4/2011", date(2011, 3, 4)),
    ("03-04-2011", date(2011, 3, 4)), ("20110304", date(2011, 3, 4)), ("03/04/11", date(2011, 3, 4)),
    ("03/04/59", date(1959, 3, 4)), ("2011/03/04", date(2011, 3, 4)), ("", None), (None, None),
])
def test_dates_of_birth_in_iso_and_us_forms(raw: str | None, expected: date | None) -> None:
    assert parse_date(raw, today=date(2026, 11, 25)) == expected


@pytest.mark.parametrize("bad", ["31/31/2011", "yesterday", "2011-02-30", "2031-01-01", "13/13/13"])
def test_unreadable_or_future_dates_are_errors(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_date(bad, today=date(2026, 11, 25))


def test_a_date_whose_day_could_be_a_month_has_a_twin() -> None:
    assert dob_twins(date(2011, 3, 4)) == {date(2011, 3, 4), date(2011, 4, 3)}
    assert dob_twins(date(2011, 3, 25)) == {date(2011, 3, 25)}  # 25 is no month
    assert dob_twins(date(2011, 5, 5)) == {date(2011, 5, 5)}
    assert dob_twins(None) == frozenset()


@pytest.mark.parametrize(("value", "quality", "full", "last4"), [
    ("900-12-3456", 1, "900123456", "3456"),  # all nine, full quality: strong
    ("900123456", None, "900123456", "3456"),  # no quality code (not HMIS): taken as given
    ("900123456", 2, None, "3456"),  # HMIS says partial: never strong
    ("900123456", 8, None, "3456"), ("900123456", 99, None, "3456"),
    ("xxxxx3456", 2, None, "3456"),  # unknown digits as HMIS writes them
    ("3456", None, None, "3456"),  # a last four alone (benefits records)
    ("000123456", 1, None, None), ("666123456", 1, None, None), ("900003456", 1, None, None),  # never issued
    ("12345", 1, None, None), ("", None, None, None), (None, None, None, None),
])
def test_an_ssn_is_strong_only_when_whole_and_of_full_quality(
    value: str | None, quality: int | None, full: str | None, last4: str | None
) -> None:
    ssn = normalize_ssn(value, quality)
    assert (ssn.full, ssn.last4) == (full, last4)


def test_identifiers_and_contact_fields() -> None:
    assert normalize_cin(" ab12345c ") == "AB12345C"
    assert normalize_cin("AB1234C") is None and normalize_cin("1212345C") is None and normalize_cin(None) is None
    assert normalize_phone("+1 (718) 555-0134") == "7185550134" and normalize_phone("555-0134") is None
    assert normalize_zip("11207-1234") == "11207" and normalize_zip("112") is None
    assert [normalize_sex(v) for v in ("F", "female", "M", "Male", "1", "0", "x", None)] == [
        "F", "F", "M", "M", "M", "F", None, None]
    assert address_key("2999 Atlantic Avenue, Apartment 4") == address_key("2999 ATLANTIC AVE APT 4")


def test_link_csv_never_drops_a_row_silently() -> None:
    """An unbalanced quote swallows the lines after it: they are reported by line, not lost without a word; a
    cell past the csv limit stops reading with a problem; values a column cannot use are counted per column."""
    import re

    from identity.batch import link_csv

    header = "source,local_id,first_name,last_name,dob,ssn,zip"
    rows = ["a,1,Ana,Diaz,1980-01-02,123456789,10001", 'a,2,"Bo,Li,1981-02-03,,10002',
            "a,3,Cy,Ng,1982-03-04,,10003", "a,4,Di,Ox,1983-04-05,,10004", "a,5,Ed,Po,1984-05-06,,10005"]
    result = link_csv("\n".join([header, *rows]) + "\n")
    placed = {k + 2 for k, r in enumerate(rows) if r.split(",")[1] in {x["local_id"] for x in result.rows}}
    reported = set()
    for p in result.problems:
        span = re.search(r"lines (\d+)-(\d+)", p.message)
        if span:
            reported |= set(range(int(span[1]), int(span[2]) + 1))
    assert reported and min(reported) == 3  # named from the line the quote opened on
    assert placed | reported == set(range(2, 7))  # every input line is either linked or named in a problem
    too_long = link_csv(header + "\na,1," + "x" * 200_000 + ",Diaz,,,\n")
    assert too_long.rows == [] and too_long.problems[0].line == 2 and "too long" in too_long.problems[0].message
    counted = link_csv("\n".join([header, "a,1,Ana,Diaz,1980-01-02,12345,ABCDE"]) + "\n")
    assert counted.unusable == {"ssn": 1, "zip": 1} and len(counted.rows) == 1


def test_names_in_any_script_are_compared_in_latin_letters() -> None:
    """A letter outside a-z is transliterated, not dropped: Łukasz was 'ukasz', Straße 'stra e', and a name
    written in Cyrillic or Chinese was no name at all (the record matched as nameless)."""
    from identity.match import Record
    from identity.match.compare import FIRST, LAST, compare
    from identity.normalize import address_key, fold

    assert [fold(n) for n in ("Łukasz", "Øyvind", "Straße", "Æsa", "José-María", "O\u2019Brien")] == [
        "lukasz", "oyvind", "strasse", "aesa", "jose maria", "obrien"]
    assert fold("Мария") == "mariya" and fold("Иванова") == "ivanova" and fold("张伟") == "zhangwei"
    assert address_key("12 Hauptstraße") == "12 hauptstrasse"
    cyrillic = Record.of("a", "1", first_name="Мария", last_name="Иванова", dob=date(1990, 4, 5))
    latin = Record.of("b", "2", first_name="Maria", last_name="Ivanova", dob=date(1990, 4, 5))
    v = compare(cyrillic, latin)
    assert v[FIRST] >= 1 and v[LAST] == 3  # a transliteration's spelling is close; the surname the same
