"""Grading a pair: the identifier rules, the household guard, and the thresholds a weight is read against."""

from __future__ import annotations

import math
from dataclasses import dataclass

from identity.match.compare import ORDER, SWAP_PENALTY, Vector, align, household_only
from identity.match.model import Model
from identity.match.records import Grade, Record


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


def explain_pair(a: Record, b: Record, model: Model) -> tuple[Vector, bool, dict[str, float]]:
    """align()'s vector and turn, and each compared field's weight; a turned pair's penalty under ORDER."""
    vector, turned = align(a, b)
    weights = model.weights(vector, a, b)
    if turned:
        weights[ORDER] = -SWAP_PENALTY
    return vector, turned, weights


def grade(a: Record, b: Record, vector: Vector, model: Model,
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
