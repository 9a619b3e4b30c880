"""Records a real city holds that the synthetic city's three agencies do not: the noise kinds of issue 17.

Four sources on top of the city's people, each record with its truth:

- `tax`: one record per person with an SSN, as a tax or benefits file holds it; in a share of them the SSN
  is another household member's (census simulators call this "copy from household member"; caseworkers
  know it from families sharing papers).
- `register`: a one-source register with several records for some people (spelling slips, nicknames,
  missing, swapped or shifted dates, a postcode that changed), never deduplicated - as HMIS systems hold
  duplicate client records.
- `intake`: a name and an address only (a walk-in intake form).
- dates outside 1900-today: a share of the new records carry a system's placeholder (1900-01-01) or a year
  typed a century off (1985 -> 1885).

Deterministic for a seed. Used by `python -m benchmarks.identity --noise`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from demo import variants
from demo.population import Person, Population

LIGHT = variants.Drift(nickname=0.03, typo=0.02, swap_names=0.0, transliteration=0.02, second_surname=0.02,
                       dob_day_month_swap=0.01, dob_year_off=0.01, dob_missing=0.02)
REGISTER = variants.Drift(nickname=0.15, typo=0.15, swap_names=0.03, transliteration=0.05, second_surname=0.05,
                          dob_day_month_swap=0.05, dob_year_off=0.05, dob_missing=0.05)  # HMIS: DOB missing < 5 %


@dataclass(frozen=True, slots=True)
class Noise:
    """How much of each kind: shares of people (register, intake) or of records (borrowed, odd dates)."""

    borrowed: float = 0.04  # tax records carrying a household member's SSN
    register: float = 0.10  # people with 2-6 register records
    intake: float = 0.08  # people with a name-and-address-only intake record
    odd_dates: float = 0.01  # new records with a placeholder or a century-off date of birth
    moved: float = 0.3  # register records with another postcode and no street address


def noisy_rows(population: Population, *, seed: int, noise: Noise = Noise()
               ) -> tuple[list[dict[str, object]], list[tuple[str, str, str]]]:
    """The extra records (people.csv's columns) and their truth (client id, source, local id)."""
    rng = random.Random(seed)
    households: dict[int, list[Person]] = defaultdict(list)
    for p in population.people:
        households[p.household].append(p)
    postcodes = sorted({p.zip for p in population.people})
    rows: list[dict[str, object]] = []
    truth: list[tuple[str, str, str]] = []

    def add(source: str, local_id: str, p: Person, drift: variants.Drift, **fields: object) -> None:
        born = variants.dob(rng, p.dob, drift)
        if born is not None and rng.random() < noise.odd_dates:
            born = date(1900, 1, 1) if rng.random() < 0.5 else born.replace(year=born.year - 100, day=min(born.day, 28))
        row: dict[str, object] = {
            "source": source, "local_id": local_id, "first_name": variants.first_name(rng, p.first_name, drift),
            "last_name": variants.last_name(rng, p.last_name, drift), "dob": born.isoformat() if born else "",
            "sex": p.sex, "address": p.address, "zip": p.zip}
        if rng.random() < drift.swap_names:
            row["first_name"], row["last_name"] = row["last_name"], row["first_name"]
        row.update(fields)
        rows.append(row)
        truth.append((p.client_id, source, local_id))

    for n, p in enumerate(population.people):
        if p.ssn:
            others = [q for q in households[p.household] if q is not p and q.ssn]
            ssn = rng.choice(others).ssn if others and rng.random() < noise.borrowed else p.ssn
            add("tax", f"TX{n:07d}", p, LIGHT, ssn=ssn)
        if rng.random() < noise.register:
            for k in range(rng.randint(2, 6)):
                moved = rng.random() < noise.moved
                add("register", f"RG{n:07d}-{k}", p, REGISTER,
                    **({"zip": rng.choice(postcodes), "address": ""} if moved else {}))
        if rng.random() < noise.intake:
            add("intake", f"IN{n:07d}", p, LIGHT, dob="", sex="")
    return rows, truth
