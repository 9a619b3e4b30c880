"""Name pools for the synthetic population: common names, no real person's record."""

from __future__ import annotations

import random

FIRST_FEMALE = (
    "Maria Ana Aisha Fatima Grace Jasmine Keisha Linh Mei Nadia Olga Priya Rosa Sofia "
    "Tanisha Valentina Yolanda Zainab Amara Carmen Daniela Esperanza Imani Jade Leila "
    "Marisol Naomi Patience Ruth Samira Teresa Wei Xiomara Yasmin Abigail Brianna Chloe"
).split()
FIRST_MALE = (
    "Jose Mohammed Andre Carlos David Ibrahim Jamal Kwame Luis Malik Marcus Nikolai Omar "
    "Pedro Rafael Samuel Tariq Victor Wilson Yusuf Ahmed Bakary Cheng Darnell Emeka Felix "
    "Gabriel Hassan Isaac Jerome Kofi Lamar Mateo Nathaniel Oscar Quincy Rashid Tyrone"
).split()
SURNAMES = (
    "Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres "
    "Johnson Williams Brown Jones Davis Miller Wilson Moore Taylor Thomas Jackson White "
    "Harris Martin Thompson Robinson Clark Lewis Walker Young Allen King Wright Scott "
    "Nguyen Chen Wang Li Zhang Kim Park Diallo Traore Toure Okafor Mensah Ali Khan Hussain "
    "Ahmed Singh Patel Cohen Levy Rivera Cruz Reyes Morales Ortiz Gutierrez Diaz Vargas "
    "Castillo Jimenez Ruiz Alvarez Romero Medina Herrera Aguilar Ivanova Petrov Kowalski"
).split()
STREETS = (
    "Atlantic Ave|Grand Concourse|Broadway|Fulton St|Jamaica Ave|Flatbush Ave|Nostrand Ave|"
    "Fordham Rd|Westchester Ave|Roosevelt Ave|Amsterdam Ave|Lenox Ave|Utica Ave|Victory Blvd"
).split("|")
BOROUGH_ZIPS = ("10451", "10452", "10456", "10029", "10035", "11207", "11212", "11233", "11368", "11432", "10301")


# Real name distributions have long tails: the commonest surname is about 1 % of people, thousands of
# others are rare. The common names above head each pool; synthetic names (syllables, a fixed seed) make
# the tail, and a draw follows a Zipf-like law over the pool, so namesakes are as common as in a city.
_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "br", "kr", "tr",
           "h", "j", "y", "w", "dr", "gr", "st")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ia", "ei")
_CODAS = ("", "", "", "n", "r", "l", "s", "k", "m", "th", "nd", "rt")


def _synthetic(rng: random.Random, syllables: tuple[int, int], ending: tuple[str, ...]) -> str:
    parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
             for _ in range(rng.randint(*syllables))]
    return ("".join(parts) + rng.choice(ending)).capitalize()


def _pool(head: tuple[str, ...] | list[str], size: int, seed: int, syllables: tuple[int, int],
          ending: tuple[str, ...]) -> tuple[list[str], list[float]]:
    """`head` then synthetic names up to `size`, with cumulative Zipf-like weights 1/(rank + shift)."""
    rng = random.Random(seed)
    names, seen = list(head), set(head)
    while len(names) < size:
        name = _synthetic(rng, syllables, ending)
        if name not in seen and len(name) >= 3:
            seen.add(name)
            names.append(name)
    shift = 10 if size > 5000 else 3
    cumulative, total = [], 0.0
    for rank in range(1, size + 1):
        total += 1 / (rank + shift)
        cumulative.append(total)
    return names, cumulative


_SURNAME_POOL = _pool(SURNAMES, 30_000, 101, (2, 3), ("", "", "ez", "ov", "son", "i", "a", "er"))
_FEMALE_POOL = _pool(FIRST_FEMALE, 2_000, 102, (2, 3), ("a", "e", "i", "ah", "ia"))
_MALE_POOL = _pool(FIRST_MALE, 2_000, 103, (1, 2), ("", "o", "an", "el", "us"))


def pick_surname(rng: random.Random) -> str:
    """A surname, drawn as often as in a large city (one draw from rng)."""
    names, cumulative = _SURNAME_POOL
    return rng.choices(names, cum_weights=cumulative)[0]


def pick_first_name(rng: random.Random, sex: str) -> str:
    """A first name for sex F or M, drawn as often as in a large city (one draw from rng)."""
    names, cumulative = _FEMALE_POOL if sex == "F" else _MALE_POOL
    return rng.choices(names, cum_weights=cumulative)[0]
