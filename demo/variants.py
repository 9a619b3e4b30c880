"""How one person's demographics drift between agencies: the errors identity resolution must see through.

Each function takes the truth and a random source and returns what a clerk at
another agency typed. Rates are set by the caller (demo/population.py), so the
same code serves the demo (mild) and the identity benchmarks (harsh).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

NICKNAMES = {
    "Abigail": "Abby", "Samuel": "Sam", "Nathaniel": "Nate", "Gabriel": "Gabe", "Mohammed": "Mohamed",
    "Jose": "Pepe", "Rafael": "Rafa", "Nikolai": "Kolya", "Isaac": "Ike", "Valentina": "Vale",
    "Esperanza": "Espe", "Daniela": "Dani", "Teresa": "Tere", "Marisol": "Mari", "Victor": "Vic",
    "Jerome": "Jerry", "Yolanda": "Yoli", "Brianna": "Bri", "Patience": "Pat", "Ibrahim": "Ibra",
}
# Spellings a name takes when it is written down from speech, or from another script.
TRANSLITERATIONS = {
    "Mohammed": "Muhammad", "Ahmed": "Ahmad", "Hussain": "Hussein", "Yusuf": "Youssef", "Fatima": "Fatimah",
    "Zainab": "Zaynab", "Petrov": "Petroff", "Nguyen": "Nguyễn",
    "Chen": "Chan", "Traore": "Traoré", "Toure": "Touré", "Diallo": "Jallow", "Okafor": "Okafo",
    "Olga": "Olha", "Nikolai": "Mykola", "Tariq": "Tarek", "Rashid": "Rachid",
}


@dataclass(frozen=True, slots=True)
class Drift:
    """Per-field rates of error for one agency's records."""

    nickname: float = 0.10
    typo: float = 0.05
    swap_names: float = 0.02
    transliteration: float = 0.05
    second_surname: float = 0.05  # a two-part surname recorded whole, hyphenated or in part
    dob_day_month_swap: float = 0.02
    dob_year_off: float = 0.02
    dob_missing: float = 0.02


def first_name(rng: random.Random, name: str, drift: Drift) -> str:
    """A first name as another agency wrote it."""
    r = rng.random()
    if r < drift.nickname and name in NICKNAMES:
        return NICKNAMES[name]
    if r < drift.nickname + drift.transliteration and name in TRANSLITERATIONS:
        return TRANSLITERATIONS[name]
    if rng.random() < drift.typo:
        return typo(rng, name)
    return name


def last_name(rng: random.Random, name: str, drift: Drift) -> str:
    """A surname as another agency wrote it (two-part surnames split, joined or hyphenated)."""
    if " " in name or "-" in name:
        parts = name.replace("-", " ").split()
        if rng.random() < drift.second_surname * 4:
            return rng.choice((parts[0], " ".join(parts), "-".join(parts)))
    if rng.random() < drift.transliteration and name in TRANSLITERATIONS:
        return TRANSLITERATIONS[name]
    if rng.random() < drift.typo:
        return typo(rng, name)
    return name


def typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: a dropped, doubled, swapped or replaced letter."""
    if len(word) < 3:
        return word
    i = rng.randint(1, len(word) - 2)
    kind = rng.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + rng.choice("aeiounrst") + word[i + 1:]


def dob(rng: random.Random, true: date, drift: Drift) -> date | None:
    """A date of birth as another agency recorded it, or None when it was not collected."""
    r = rng.random()
    if r < drift.dob_missing:
        return None
    r -= drift.dob_missing
    if r < drift.dob_day_month_swap and true.day <= 12 and true.day != true.month:
        try:
            return true.replace(month=true.day, day=true.month)
        except ValueError:
            return true
    r -= drift.dob_day_month_swap
    if r < drift.dob_year_off:
        shifted = true.year + rng.choice((-1, 1))
        return true.replace(year=shifted) if not (true.month == 2 and true.day == 29) else true - timedelta(days=365)
    return true
