"""Normalisation: every agency's way of writing a person brought to one comparable form.

Names lose case, accents and punctuation; nicknames map to the formal name they
stand for; a two-part or hyphenated surname keeps its parts. Dates of birth are
read from ISO and the common US forms, and a date whose day and month could be
swapped knows its twin. An SSN counts as strong evidence only when all nine
digits are known and its HMIS data quality is 1 (full); otherwise only its last
four digits are kept, as weak evidence. A CIN counts only in its NY format.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from anyascii import anyascii

# Nicknames and short forms -> the formal first name (both sides normalised). One formal name per
# nickname; where a nickname is shared (e.g. "sam"), the commonest formal name is listed.
NICKNAMES = {
    "abby": "abigail", "al": "albert", "alex": "alexander", "andy": "andrew", "bea": "beatrice",
    "ben": "benjamin", "beth": "elizabeth", "betty": "elizabeth", "bill": "william", "billy": "william",
    "bob": "robert", "bobby": "robert", "bri": "brianna", "cathy": "catherine", "charlie": "charles",
    "chris": "christopher", "dan": "daniel", "danny": "daniel", "dani": "daniela", "dave": "david",
    "ed": "edward", "eddie": "edward", "espe": "esperanza", "gabe": "gabriel", "greg": "gregory",
    "ibra": "ibrahim", "ike": "isaac", "jerry": "jerome", "jim": "james", "jimmy": "james", "joe": "joseph",
    "joey": "joseph", "john": "john", "johnny": "john", "jon": "jonathan", "kate": "katherine",
    "katie": "katherine", "kolya": "nikolai", "larry": "lawrence", "liz": "elizabeth", "mari": "marisol",
    "matt": "matthew", "mike": "michael", "mo": "mohammed", "nate": "nathaniel", "nick": "nicholas",
    "pat": "patience", "pepe": "jose", "peggy": "margaret", "rafa": "rafael", "rob": "robert",
    "sam": "samuel", "steve": "stephen", "sue": "susan", "teresa": "teresa", "tere": "teresa",
    "tom": "thomas", "tommy": "thomas", "tony": "anthony", "vale": "valentina", "vic": "victor",
    "will": "william", "yoli": "yolanda",
}
# Spellings of one name across transliterations -> one key (both sides normalised).
TRANSLITERATIONS = {
    "muhammad": "mohammed", "mohamed": "mohammed", "mohammad": "mohammed", "muhammed": "mohammed",
    "ahmad": "ahmed", "hussein": "hussain", "husain": "hussain", "youssef": "yusuf", "yousef": "yusuf",
    "fatimah": "fatima", "zaynab": "zainab", "petroff": "petrov", "olha": "olga", "mykola": "nikolai",
    "tarek": "tariq", "tareq": "tariq", "rachid": "rashid", "jallow": "diallo", "chan": "chen",
}
CIN = re.compile(r"^[A-Z]{2}\d{5}[A-Z]$")
_NOT_LETTER = re.compile(r"[^a-z\s-]")
_SPACES = re.compile(r"[\s-]+")
SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


def _latin(text: str) -> str:
    """The text in Latin letters: any script transliterated (Łukasz, Straße, Мария -> Lukasz, Strasse, Mariya)."""
    return text if text.isascii() else anyascii(unicodedata.normalize("NFC", text))


@lru_cache(maxsize=262_144)  # names and dates repeat: a city has far fewer than records
def fold(text: str | None) -> str:
    """Lower case, in Latin letters (any script transliterated: Łukasz, Straße, Мария -> lukasz, strasse,
    mariya), accents and punctuation gone, hyphens and runs of spaces as one space."""
    if not text:
        return ""
    plain = _latin(text).lower()
    plain = plain.replace("'", "").replace("\u2019", "")  # O'Brien and O\u2019Brien -> obrien
    return _SPACES.sub(" ", _NOT_LETTER.sub(" ", plain)).strip()


@lru_cache(maxsize=262_144)  # names and dates repeat: a city has far fewer than records
def first_name_key(name: str | None) -> str:
    """A first name's comparison key: folded, its first word, nickname and transliteration resolved."""
    words = fold(name).split()
    if not words:
        return ""
    word = words[0]
    word = TRANSLITERATIONS.get(word, word)
    return NICKNAMES.get(word, word)


@lru_cache(maxsize=262_144)  # names and dates repeat: a city has far fewer than records
def surname_parts(name: str | None) -> tuple[str, ...]:
    """A surname's parts: 'García-López' and 'Garcia Lopez' -> ('garcia', 'lopez'); suffixes dropped."""
    parts = [p for p in fold(name).split() if p not in SUFFIXES]
    return tuple(TRANSLITERATIONS.get(p, p) for p in parts)


@lru_cache(maxsize=262_144)  # names and dates repeat: a city has far fewer than records
def surname_key(name: str | None) -> str:
    """The whole surname as one comparison key ('garcia lopez')."""
    return " ".join(surname_parts(name))


# Tried in order: a US month-first form wins where the day could be a month; day first where it cannot be.
_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y%m%d", "%m/%d/%y", "%Y/%m/%d", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%d %H:%M:%S", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y.%m.%d", "%d/%m/%y",
                 "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d-%b-%Y", "%d-%b-%y", "%Y-%b-%d")


def parse_date(text: str | None, *, today: date | None = None) -> date | None:
    """A date (of birth, of an enrolment) from ISO, a common US form (MM/DD/YYYY, MM-DD-YYYY, YYYYMMDD,
    MM/DD/YY), day first where the day cannot be a month (31/12/1950, 31.12.1950), or with the month's name
    (5 Jan 1950, Jan 5, 1950, 05-JAN-1950). Any valid date is read, however long ago (how plausible it is,
    the matcher judges).

    None for an empty value; ValueError for anything unreadable or in the future.
    Two-digit years are read as the most recent year not in the future.
    """
    if text is None or not text.strip():
        return None
    value = text.strip()
    today = today or date.today()
    if len(value) == 10 and value[4] == "-" and value[7] == "-":  # ISO, nearly every feed: the fast way
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise ValueError("not a date") from None
        if parsed > today:
            raise ValueError("a date in the future")
        return parsed
    value = value.replace(",", " ").replace("  ", " ")  # Jan 5, 1950
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        if fmt.endswith("%y") and parsed > today:
            parsed = parsed.replace(year=parsed.year - 100)
        if parsed > today:
            raise ValueError("a date in the future")
        return parsed
    raise ValueError("not a date")


# Dates systems write when the date of birth is unknown (their epochs and minimums), read as dates all the same.
PLACEHOLDER_DOBS = frozenset({date(1900, 1, 1), date(1901, 1, 1), date(1899, 12, 31), date(1800, 1, 1),
                              date(1753, 1, 1), date(1, 1, 1), date(1970, 1, 1)})


def implausible_dob(d: date, known_since: date | None = None, *, today: date | None = None) -> bool:
    """A date of birth that is weak evidence: before 1900 (no client is that old; a typed or a default year), a
    placeholder some systems write for 'unknown', a date still to come, or one after the source first knew the
    person (`known_since`: its earliest enrolment or entry; often that date written in the wrong field).
    Callers normalising many records pass `today` once."""
    return (d.year < 1900 or d in PLACEHOLDER_DOBS or d > (today or date.today())
            or (known_since is not None and d > known_since))


def birth_year(text: str | None, *, today: date | None = None) -> int | None:
    """A year of birth written alone ('1950'), or None: what a file knows of a date it does not have whole."""
    value = (text or "").strip()
    year = int(value) if len(value) == 4 and value.isdigit() else None
    return year if year is not None and 1800 <= year <= (today or date.today()).year else None


@lru_cache(maxsize=262_144)  # names and dates repeat: a city has far fewer than records
def dob_twins(d: date | None) -> frozenset[date]:
    """The date and, when day and month could be read the other way round, its swapped twin."""
    if d is None:
        return frozenset()
    out = {d}
    if d.day <= 12 and d.day != d.month:
        out.add(d.replace(month=d.day, day=d.month))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Ssn:
    """What an SSN value is worth as evidence."""

    full: str | None  # all nine digits, trustworthy (data quality full or unstated)
    last4: str | None


def normalize_ssn(value: str | None, quality: int | None = None) -> Ssn:
    """Nine known digits with data quality 1 (or none given) are strong; a known last four is weak.

    HMIS writes unknown digits as 'x'; data quality 2 (partial), 8, 9, 99 never make an SSN strong.
    Numbers that are never issued (area 000 or 666, group 00, serial 0000) are not evidence at all;
    the 9xx area is kept (synthetic data uses it).
    """
    if not value:
        return Ssn(None, None)
    chars = "".join(c for c in value.lower() if c.isdigit() or c == "x")
    if len(chars) == 4 and chars.isdigit():
        return Ssn(None, chars if chars != "0000" else None)
    if len(chars) != 9:
        return Ssn(None, None)
    last4 = chars[5:] if chars[5:].isdigit() and chars[5:] != "0000" else None
    known = chars.isdigit() and quality in (None, 1)
    if known and (chars[:3] in ("000", "666") or chars[3:5] == "00" or chars[5:] == "0000"):
        return Ssn(None, None)
    return Ssn(chars if known else None, last4)


def normalize_cin(value: str | None) -> str | None:
    """A NY Medicaid CIN (two letters, five digits, a letter) upper-cased, or None if it is not one."""
    if not value:
        return None
    v = value.strip().upper().replace(" ", "")
    return v if CIN.match(v) else None


def normalize_phone(value: str | None) -> str | None:
    """A phone number's digits as compared: a US number's ten (a leading 1 dropped), another country's last
    nine (0412 345 678 and +61 412 345 678 agree); None for a number without its area code (555-0134: one
    in each area code) or one digit repeated."""
    digits = "".join(c for c in value or "" if c.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and not digits.startswith("0"):
        return digits
    digits = digits[-9:]
    return digits if len(digits) == 9 and len(set(digits)) > 1 else None


def normalize_zip(value: str | None) -> str | None:
    """A postal code as compared: a US ZIP's five digits (ZIP+4 cut); another country's code (4 to 10 digits,
    or 5 to 10 letters and digits: 2000, SW1A 1AA, K1A 0B1, 75008) upper-cased without spaces. Leading zeros
    are dropped from an all-digit code, so that 02139 and a spreadsheet's 2139 agree (and 0800 and 800).
    None for anything else."""
    if not value:
        return None
    plain = "".join(c for c in value.upper() if c.isalnum())
    if len(plain) == 9 and plain.isdigit():  # ZIP+4
        plain = plain[:5]
    if not 4 <= len(plain) <= 10 or not plain.isascii():
        return None
    if plain.isdigit():
        plain = plain.lstrip("0")
        return plain if len(plain) >= 2 and set(plain) != {"9"} else None
    return plain if len(plain) >= 5 and any(c.isdigit() for c in plain) else None


def normalize_other_id(value: str | None) -> str | None:
    """An identifier of a kind the matcher does not know (a tax number, a national id, a client number two
    sources share): its letters and digits upper-cased; None for fewer than 3 or one character repeated
    (000000, 9999999: a placeholder, not a number)."""
    plain = "".join(c for c in (value or "").upper() if c.isalnum())
    return plain if len(plain) >= 3 and len(set(plain)) > 1 else None


def normalize_sex(value: str | None) -> str | None:
    """F or M from the usual spellings; None for anything else (unknown is not a disagreement)."""
    v = (value or "").strip().lower()
    return {"f": "F", "female": "F", "woman": "F", "0": "F", "m": "M", "male": "M", "man": "M", "1": "M"}.get(v)


def address_key(value: str | None) -> str:
    """A street address folded (digits kept), with unit words and common street-type spellings made one."""
    if not value:
        return ""
    plain = _latin(value).lower()
    words = re.sub(r"[^a-z0-9#\s]", " ", plain).split()
    table = {"avenue": "ave", "av": "ave", "street": "st", "road": "rd", "boulevard": "blvd", "place": "pl",
             "apartment": "apt", "unit": "apt", "#": "apt"}
    return " ".join(table.get(w, w) for w in words)
