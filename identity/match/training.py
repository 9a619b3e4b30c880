"""Training the model on the records at hand: u from random pairs, m by expectation-maximisation over each
kind of blocking key's pairs, name frequencies."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Sequence

from identity.match.blocking import EM_KEYS, KEY_FIELDS, KEY_SCHEME, Candidates, block
from identity.match.compare import FIELDS, LEVELS, MISSING, Vector, align
from identity.match.grading import id_odds, identifiers
from identity.match.model import (
    DEFAULT_M,
    DEFAULT_U,
    EXACT,
    M_DISAGREE_CEILING,
    M_FLOOR,
    MIN_MATCHES_PER_FIELD,
    MIN_PAIRS_FOR_EM,
    MIN_RECORDS_FOR_TF,
    MIN_RECORDS_FOR_U,
    Model,
)
from identity.match.person import Record

U_SAMPLES = 100_000  # random pairs estimate_u() compares

def estimate_u(records: Sequence[Record], *, samples: int = U_SAMPLES, seed: int = 1) -> dict[str, list[float]]:
    """u probabilities: what random pairs of records (almost all of them different people) agree on.

    The exact-agreement level is counted from the values' frequencies (the share of pairs with both values
    present that agree: sum c(c-1) over N(N-1)), which no sample of a 1M-record file could estimate - at
    1/30,000 for a date of birth, 20,000 random pairs hold none or one. The other levels are sampled
    (add-one: no level is impossible) and share what is left.
    """

    rng = random.Random(seed)
    acc = {f: [1.0] * LEVELS[f] for f in FIELDS}
    n = len(records)
    for _ in range(samples if n > 1 else 0):
        i, j = rng.randrange(n), rng.randrange(n)
        if i == j:
            continue
        for name, level in zip(FIELDS, align(records[i], records[j])[0], strict=True):
            if level != MISSING:
                acc[name][level] += 1
    out: dict[str, list[float]] = {}
    for name in FIELDS:
        exact, attribute = EXACT[name]
        counts = Counter(v for r in records if (v := getattr(r, attribute)))
        present = sum(counts.values())
        agree = sum(c * (c - 1) for c in counts.values()) / (present * (present - 1)) if present > 1 else 0.0
        agree = max(agree, 1 / max(2, samples))  # no level is impossible
        rest = sum(x for k, x in enumerate(acc[name]) if k != exact)
        out[name] = [agree if k == exact else x / rest * (1 - agree) for k, x in enumerate(acc[name])]
    return out


def estimate(vectors: Sequence[Vector] | Counter[Vector], *, u: dict[str, list[float]],
             iterations: int = 30) -> Model:
    """m and the prior by expectation-maximisation over the compared pairs' vectors (or their counts), with
    u given.

    u comes from random pairs (as it should: blocked pairs are mostly family members and the same person).
    """
    model = Model(prior=0.1)
    for name in FIELDS:  # start: matches agree
        n = LEVELS[name]
        model.m[name] = [0.05] + [0.95 * (2 ** k) / sum(2 ** j for j in range(1, n)) for k in range(1, n)]
        model.u[name] = list(u[name])
    counts = vectors if isinstance(vectors, Counter) else Counter(vectors)
    total = sum(counts.values())
    distinct = list(counts.items())
    for _ in range(iterations):
        m_acc = {f: [1e-3] * LEVELS[f] for f in FIELDS}  # tiny pseudo-counts keep every level possible
        total_p = 0.0
        for v, c in distinct:
            p = _posterior(v, model)
            total_p += p * c
            for name, level in zip(FIELDS, v, strict=True):
                if level != MISSING:
                    m_acc[name][level] += p * c
        model.prior = min(0.999, max(1e-6, total_p / max(1, total)))
        for name in FIELDS:
            ms = sum(m_acc[name])
            model.m[name] = [x / ms for x in m_acc[name]]
    return model


def _posterior(v: Vector, model: Model) -> float:
    """P(match | vector) under the model's m, u and prior."""
    lm, lu = math.log(model.prior), math.log(1 - model.prior)
    for name, level in zip(FIELDS, v, strict=True):
        if level != MISSING:
            lm += math.log(model.m[name][level])
            lu += math.log(model.u[name][level])
    return 1 / (1 + math.exp(min(50.0, lu - lm)))


def _matched_with(counts: Counter[Vector], model: Model) -> dict[str, float]:
    """How many of the pairs, by the model, are matches with each field on both sides: what EM learned that
    field's m from."""
    out = dict.fromkeys(FIELDS, 0.0)
    for v, c in counts.items():
        p = _posterior(v, model) * c
        for name, level in zip(FIELDS, v, strict=True):
            if level != MISSING:
                out[name] += p
    return out

def estimate_by_key(by_key: dict[str, list[tuple[int, int]]], vectors: dict[tuple[int, int], Vector],
                    u: dict[str, list[float]]) -> Model:
    """m per field from EM over each kind of key's pairs, never from the pairs whose key forced that field to
    agree (as Splink trains: a field the blocking fixed says nothing about matches).

    Of the kinds that leave a field free, only those that leave the most *other* evidence free teach its m
    (averaged if several). A field that is the only evidence left in its pairs cannot be learned there: EM
    cannot tell a namesake who shares first name and date of birth from the same person under another
    surname, and takes a share of namesakes for matches (measured at 300k records: m(surname disagrees)
    0.028 from first name + date of birth pairs, 0.0016 from SSN-4 + birth year pairs, 0.00004 true).
    The weights need m and u only; the prior is left at its default (no threshold uses it).
    """
    if len(vectors) < MIN_PAIRS_FOR_EM:  # too little to learn from: what larger runs learned
        return Model(m={f: list(DEFAULT_M[f]) for f in FIELDS}, u=dict(u))
    learned: dict[str, list[tuple[int, list[float]]]] = defaultdict(list)  # field -> (other evidence, m)
    for kind, pairs in by_key.items():
        fixed = KEY_FIELDS.get(kind, set())
        if len(pairs) < 30 or kind not in EM_KEYS:
            continue
        masked: Counter[Vector] = Counter()
        for v, c in Counter(vectors[p] for p in pairs).items():  # mask each distinct vector once
            masked[tuple(MISSING if name in fixed else level for name, level in zip(FIELDS, v, strict=True))] += c
        model = estimate(masked, u=u)
        present = _present(masked)
        matched = _matched_with(masked, model)
        evidence = {name for name in FIELDS if name not in fixed and name != "sex"
                    and present[name] >= 0.5 * len(pairs)}  # sex follows from a fixed first name
        for name in FIELDS:
            if name not in fixed and matched[name] >= MIN_MATCHES_PER_FIELD:
                learned[name].append((len(evidence - {name}), model.m[name]))
    sums = {f: [0.0] * LEVELS[f] for f in FIELDS}
    runs = dict.fromkeys(FIELDS, 0)
    for name, found in learned.items():
        most = max(n for n, _m in found)
        for n, m_found in found:
            if n == most:
                sums[name] = [a + b for a, b in zip(sums[name], m_found, strict=True)]
                runs[name] += 1
    m = {f: [x / runs[f] for x in sums[f]] if runs[f] else list(DEFAULT_M[f]) for f in FIELDS}
    for name in FIELDS:  # no level is ever impossible: one odd record must not weigh -30 bits
        floored = [max(M_FLOOR, x) for x in m[name]]
        m[name] = [x / sum(floored) for x in floored]
    for name, ceilings in M_DISAGREE_CEILING.items():  # what we know of how often one person's records disagree
        for level, ceiling in ceilings.items():
            if m[name][level] > ceiling:
                rest = sum(x for k, x in enumerate(m[name]) if k != level)
                m[name] = [ceiling if k == level else x * (1 - ceiling) / rest for k, x in enumerate(m[name])]
    return Model(m=m, u=dict(u))


def _present(masked: Counter[Vector]) -> dict[str, int]:
    """How many of the pairs have each field on both sides."""
    return {name: sum(c for v, c in masked.items() if v[k] != MISSING) for k, name in enumerate(FIELDS)}

# EM needs a sample, not every pair: at most this many pairs of each kind of key are compared to learn m.
EM_SAMPLE = 30_000


def fit(records: Sequence[Record]) -> tuple[Candidates, Model]:
    """The candidate pairs (blocked) and the model: u from random pairs, m by EM over a sample of each kind
    of key's pairs, name frequencies."""
    pairs = block(records)
    sample = {kind: pairs.sample(kind, EM_SAMPLE) for kind in EM_KEYS & pairs.by_kind.keys()}
    vectors = {p: align(records[p[0]], records[p[1]])[0] for found in sample.values() for p in found}
    u = estimate_u(records) if len(records) >= MIN_RECORDS_FOR_U else {f: list(DEFAULT_U[f]) for f in FIELDS}
    model = estimate_by_key(sample, vectors, u)
    if len(records) >= MIN_RECORDS_FOR_TF:
        model.tf, model.tf_floor = term_frequencies(records)
    model.records, model.keys = len(records), KEY_SCHEME
    model.id_error = id_errors(records, pairs, model)
    return pairs, model


# The identifier each kind of blocking key is, as grading names it.
ID_KEYS = {"cin": "cin", "ssn": "ssn", "sid": "student-id"}
ID_ERROR_PRIOR = 1000  # pseudo-pairs, none contradicted: with few pairs an identifier is trusted as by default


def id_errors(records: Sequence[Record], pairs: Candidates, model: Model) -> dict[str, float]:
    """How often each identifier is wrong, learned from the file: among a sample of the pairs that share it,
    the share whose other fields speak against one person (weight below 0: a relative's number, a typed
    number that is someone else's), with ID_ERROR_PRIOR uncontradicted pseudo-pairs so that a small file
    neither trusts nor doubts an identifier more than the default (grading.DEFAULT_ID_ERROR)."""
    out = {}
    for key, kind in ID_KEYS.items():
        agree = contradicted = 0
        for i, j in pairs.sample(key, EM_SAMPLE):
            a, b = records[i], records[j]
            if identifiers(a, b) != (None, kind):  # graded by this identifier (grading.grade)
                continue
            vector, turned = align(a, b)
            agree += 1
            contradicted += id_odds(kind, vector, a, b, model, turned=turned, prior=False) < 0
        out[kind] = (contradicted + 1) / (agree + ID_ERROR_PRIOR)
    return out


def term_frequencies(records: Sequence[Record]) -> tuple[dict[str, dict[str, float]], float]:
    """Each first and last name's share of the records (names seen once are left to the floor)."""
    n = len(records)
    out: dict[str, dict[str, float]] = {}
    for name in ("first", "last"):
        counts = Counter(getattr(r, name) for r in records if getattr(r, name))
        out[name] = {value: c / n for value, c in counts.items() if c > 1}
    return out, 1 / n
