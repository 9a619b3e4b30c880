"""The Fellegi-Sunter model: per field and agreement level, m and u, and the weights they give a pair."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from identity.match.compare import (
    FIELDS,
    FIRST,
    HOUSEHOLD_CAP,
    HOUSEHOLD_FIELDS,
    LAST,
    LEVELS,
    MISSING,
    SEX,
    Vector,
    household,
)
from identity.match.person import Record

# A name rarer than average adds at most this many bits over an average name's agreement.
TF_BONUS = 2.0
MIN_RECORDS_FOR_TF = 1000  # below this, name shares say more about the file than about names
MIN_MATCHES_PER_FIELD = 300  # fewer matched pairs with the field than this in a kind: not learned there
M_FLOOR = 0.002  # the least m of any level: no level is ever impossible

# m by level, as estimated on a 3,000-household synthetic city; used when a run has too few pairs to learn.
MIN_PAIRS_FOR_EM = 200
DEFAULT_M = {
    "first": (0.02, 0.05, 0.93), "last": (0.05, 0.04, 0.03, 0.88), "dob": (0.002, 0.01, 0.03, 0.007, 0.95, 0.95),
    "sex": (0.02, 0.98), "zip": (0.3, 0.7), "phone": (0.3, 0.7), "ssn4": (0.01, 0.99), "addr": (0.3, 0.1, 0.6),
    "oid": (0.05, 0.05, 0.9),
}

# u by level, from random pairs of a 3,000-household synthetic city: in a small file random pairs are too
# often the same person or family to estimate u from.
MIN_RECORDS_FOR_U = 1000
DEFAULT_U = {
    "first": (0.985, 0.001, 0.014), "last": (0.983, 0.001, 0.004, 0.012),
    "dob": (0.75, 0.2331, 0.0004, 0.0001, 0.0004, 0.016),  # the last: the same year, one known by its year only
    "sex": (0.5, 0.5), "zip": (0.9, 0.1), "phone": (0.999, 0.001), "ssn4": (0.9998, 0.0002),
    "addr": (0.9995, 0.0002, 0.0003), "oid": (0.9998, 0.0001, 0.0001),
}

# Upper bounds for P(field disagrees outright | same person). With few distinct names (or many namesakes),
# EM cannot tell namesakes from one person and learns a large m for disagreement; entry errors beyond the
# levels compare() already forgives (swapped day/month, a year off, one slip in a name) are rare.
M_DISAGREE_CEILING = {"dob": {0: 0.002, 1: 0.01}, "first": {0: 0.05}, "last": {0: 0.08}, "sex": {0: 0.02}}

# Each field's exact-agreement level and the value it compares (u for that level is counted, not sampled).
EXACT = {"first": (2, "first"), "last": (3, "last"), "dob": (4, "dob"), "sex": (1, "sex"), "zip": (1, "zip"),
         "phone": (1, "phone"), "ssn4": (1, "ssn_last4"), "addr": (2, "address"),
         "oid": (2, "other_id")}

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
    # per identifier kind ('cin', 'ssn', 'student-id'), the share of its pairs whose other fields said someone
    # else when trained (grading.id_odds); a kind not here gets grading.DEFAULT_ID_ERROR
    id_error: dict[str, float] = field(default_factory=dict)
    _cache: tuple[tuple[int, int], dict[str, list[float]], dict[Vector, float]] | None = field(
        default=None, repr=False, compare=False)

    def weight(self, vector: Vector, a: Record | None = None, b: Record | None = None) -> float:
        """The log2 likelihood ratio of a comparison vector (missing fields add nothing); with the records,
        an exact name agreement is weighed by how common that name is."""
        known = self._known
        w = known.get(vector)
        if w is None:  # a city's pairs show a few hundred distinct vectors: each is summed once
            w = known[vector] = self._base(vector)
        if a is not None and self.tf and (vector[FIRST] == 2 or vector[LAST] == 3):
            w += self._tf_adjustment(vector, a)
        return w

    def _base(self, vector: Sequence[int]) -> float:
        """weight() without the name frequencies: the sum of weights()."""
        return sum(self.weights(vector).values())

    def _tf_adjustment(self, vector: Sequence[int], a: Record) -> float:
        adjust = 0.0
        if vector[FIRST] == 2 and a.first:
            adjust += self._name_bonus("first", a.first)
        if vector[LAST] == 3 and a.last:
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
        if vector[FIRST] == 2 and vector[SEX] == 1:
            out["sex"] = 0.0
        if a is not None and self.tf:
            for k, name, value in ((FIRST, "first", a.first), (LAST, "last", a.last)):
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
    def _known(self) -> dict[Vector, float]:
        """weight() without name frequencies, per vector seen, for the current parameters."""
        return self._cached[2]

    @property
    def _cached(self) -> tuple[tuple[int, int], dict[str, list[float]], dict[Vector, float]]:
        key = (id(self.m), id(self.u))
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, {f: [math.log2(m / u) for m, u in zip(self.m[f], self.u[f], strict=True)]
                                 for f in FIELDS}, {})
        return self._cache

    def to_json(self) -> dict[str, object]:
        """The parameters as JSON (the store keeps the model a relink trained)."""
        return {"m": self.m, "u": self.u, "prior": self.prior, "tf": self.tf, "tf_floor": self.tf_floor,
                "records": self.records, "keys": self.keys, "id_error": self.id_error}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Model:
        """A model from to_json's output; fields it lacks get the defaults."""
        m = data.get("m") or {}
        u = data.get("u") or {}
        assert isinstance(m, dict) and isinstance(u, dict)
        tf = data.get("tf") or {}
        id_error = data.get("id_error") or {}
        assert isinstance(tf, dict) and isinstance(id_error, dict)

        def levels(stored: dict[str, Any], default: dict[str, tuple[float, ...]], name: str) -> list[float]:
            values = stored.get(name)  # a model stored before a field's levels changed: the defaults
            return list(values) if values and len(values) == LEVELS[name] else list(default[name])

        return cls(m={f: levels(m, DEFAULT_M, f) for f in FIELDS}, u={f: levels(u, DEFAULT_U, f) for f in FIELDS},
                   prior=float(data.get("prior", 0.01)),
                   tf={k: dict(v) for k, v in tf.items()}, tf_floor=float(data.get("tf_floor", 0.0)),
                   records=int(data.get("records", 0)), keys=int(data.get("keys", 0)),
                   id_error={str(k): float(v) for k, v in id_error.items()})

    @classmethod
    def default(cls) -> Model:
        """The parameters learned on a 3,000-household synthetic city: for an index never relinked."""
        return cls(m={f: list(DEFAULT_M[f]) for f in FIELDS}, u={f: list(DEFAULT_U[f]) for f in FIELDS})
