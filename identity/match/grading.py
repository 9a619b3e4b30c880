"""Grading a pair: the identifier rules, the household guard, and the thresholds a weight is read against."""

from __future__ import annotations

import math
from dataclasses import dataclass

from identity.match.compare import MISSING, ORDER, SSN4, SWAP_PENALTY, Vector, align, household_only
from identity.match.model import Model
from identity.match.person import Grade, Record

CERTAIN = 13.0  # bits from which a pair links automatically (Thresholds)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Weights (log2) at or above which a pair is certain, probable, possible.

    `certain` is where every data set measured (the synthetic city clean and noisy, FEBRL1-4 as they come)
    kept its precision to four decimals, with a margin (benchmarks/README.md, "Held-out kinds of data")."""

    certain: float = CERTAIN
    probable: float = 12.0
    possible: float = 10.0

    @classmethod
    def for_records(cls, n: int) -> Thresholds:
        """The thresholds for an index of n records. A weight is a likelihood ratio; what it means depends
        on how many people could be the other one: with a prior of 1/n that two records are one person, a
        pair goes to review only from a 5 % chance on (possible) and is probable from 20 % on. In a small
        index the fixed floors apply; the auto-link threshold never moves. Above it the bands matter only for a
        pair the household guard keeps from linking (two members of one household look alike): such a pair waits
        for a steward where its chance of being one person is 5 % or more, like any other. (Capping the bands at
        the auto-link threshold sent every guarded pair of 13 bits and more to review: at 1M records 21,195 pairs,
        90 % of them two people, 2.98 % of the records against 1.29 %; benchmarks/README.md.)"""
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


# A shared identifier is evidence, not a verdict: a tax or benefits record may carry a spouse's, parent's or
# child's number ("copied from a household member"), and families share papers. What the other fields say
# (their weight, in bits) is added to the prior odds the identifier gives (log2((1 - e) / e), e the share of
# that identifier's pairs the training found contradicted, Model.id_error); a pair links automatically from
# ID_SURE bits on (P >= 0.999). With no error learned (e = DEFAULT_ID_ERROR), an identifier links unless the
# other fields speak against it; below ID_SURE the pair goes to review and the identifier is marked possibly
# borrowed (why: 'borrowed:ssn'). Two different CINs or SSNs stay certainly not one person (a client never
# holds two).
ID_SURE = 10.0
DEFAULT_ID_ERROR = 0.001


def identifiers(a: Record, b: Record) -> tuple[str | None, str | None]:
    """Of the identifiers both records carry - CIN, full SSN, a student id (of one source: districts number
    students each their own way) - the first that differs and the first that agrees. An identifier of no
    known kind (other_id) is a field like the others (compare.OID), its error rate learned by EM."""
    differs = agrees = None
    for kind, x, y in (("cin", a.cin, b.cin), ("ssn", a.ssn, b.ssn),
                       ("student-id", a.student_id, b.student_id if a.source == b.source else None)):
        if x and y:
            if x != y:
                differs = differs or kind
            else:
                agrees = agrees or kind
    return differs, agrees


def id_odds(kind: str, vector: Vector, a: Record, b: Record, model: Model, *, turned: bool = False,
            prior: bool = True) -> float:
    """Log2 odds that a pair sharing identifier `kind` is one person: the identifier's prior odds and the
    other fields' weight (the SSN's last four digits are the SSN again, not more evidence); without the
    prior, the other fields' weight alone."""
    e = model.id_error.get(kind, DEFAULT_ID_ERROR)
    rest = vector if kind != "ssn" else (*vector[:SSN4], MISSING, *vector[SSN4 + 1:])
    odds = math.log2((1 - e) / e) if prior else 0.0
    return odds + model.weight(rest, a, b) - (SWAP_PENALTY if turned else 0.0)


def grade(a: Record, b: Record, vector: Vector, model: Model,
          thresholds: Thresholds | None = None, *, turned: bool = False) -> tuple[Grade, float, str]:
    """The grade of a pair, its weight, and why ('rule:ssn', 'borrowed:ssn', 'rule:ssn-differs', 'score');
    `vector` and `turned` as align() gives them (a turned pair costs SWAP_PENALTY bits)."""
    if thresholds is None:
        thresholds = Thresholds.for_records(model.records)
    differs, kind = identifiers(a, b) if a.cin or a.ssn or a.student_id else (None, None)
    if differs is not None:
        return Grade.CERTAINLY_NOT, -math.inf, f"rule:{differs}-differs"
    if kind is not None:
        odds = id_odds(kind, vector, a, b, model, turned=turned)
        if odds >= ID_SURE:
            return Grade.CERTAIN, math.inf, f"rule:{kind}"
        return Grade.PROBABLE, odds, f"borrowed:{kind}"
    w = model.weight(vector, a, b) - (SWAP_PENALTY if turned else 0.0)
    if w >= thresholds.certain and not household_only(vector):
        return Grade.CERTAIN, w, "score"
    if w >= thresholds.probable:
        return Grade.PROBABLE, w, "score"
    if w >= thresholds.possible:
        return Grade.POSSIBLE, w, "score"
    return Grade.CERTAINLY_NOT, w, "score"
