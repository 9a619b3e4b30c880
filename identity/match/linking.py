"""Linking a batch: every candidate pair graded, the certain ones clustered (union-find) so that no cluster
holds two different strong identifiers, the rest left for review."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from identity.match.blocking import block
from identity.match.compare import Vector, align
from identity.match.grading import Thresholds, grade
from identity.match.model import Model
from identity.match.person import Grade, Record
from identity.match.training import fit


@dataclass(frozen=True, slots=True)
class Edge:
    """A link that joined two records' clusters: its weight and why ('rule:cin', 'score', 'manual')."""

    a: int
    b: int
    weight: float
    why: str


NONE: frozenset[str] = frozenset()
NO_IDS = (NONE, NONE)


IDS_DIFFER = "ids-differ"  # a review reason: one person by the score, but the clusters hold different CINs or SSNs


class Doubt(NamedTuple):
    """A pair left for a steward: the records (indexes), the grade and weight, and why (grade()'s 'score' or
    'borrowed:ssn', or IDS_DIFFER)."""

    i: int
    j: int
    grade: Grade
    weight: float
    why: str


@dataclass(slots=True)
class Linkage:
    """The outcome of a batch run: clusters of record indexes, the links that made them (a spanning tree
    per cluster), and the pairs left for review."""

    clusters: list[list[int]]
    review: list[Doubt]
    compared: int
    model: Model
    edges: list[Edge] = field(default_factory=list)

    def explain(self) -> dict[int, Edge]:
        """For each record of a cluster with more than one record, the link that holds it in: the edge to
        its parent in the cluster's tree rooted at its smallest record (the root gets its first child's)."""
        adjacent: dict[int, list[Edge]] = defaultdict(list)
        for e in self.edges:
            adjacent[e.a].append(e)
            adjacent[e.b].append(e)
        out: dict[int, Edge] = {}
        for members in self.clusters:
            if len(members) < 2:
                continue
            root = min(members)
            seen, frontier = {root}, [root]
            while frontier:
                node = frontier.pop()
                for e in sorted(adjacent[node], key=lambda e: -e.weight):
                    other = e.b if e.a == node else e.a
                    if other not in seen:
                        seen.add(other)
                        out[other] = e
                        out.setdefault(root, e)
                        frontier.append(other)
        return out


def train(records: Sequence[Record]) -> tuple[list[tuple[int, int]], list[Vector], Model]:
    """The candidate pairs (blocked), their comparison vectors, and the model link() grades with."""
    pairs, model = fit(records)
    return list(pairs), [align(records[i], records[j])[0] for i, j in pairs], model

def grade_all(records: Sequence[Record], pairs: Iterable[tuple[int, int]], model: Model, limits: Thresholds,
              decided: set[tuple[int, int]]) -> list[tuple[int, int, Grade, float, str]]:
    """Every pair compared and graded (vectors are not kept); the ones that are not certainly-not, in order.

    Tried: forking two workers to grade halves took grading from 6.4 to 4.0 s at 300k records but the
    processes' proportional memory from 1.0 to 1.8 GB (reference counts copy every page they touch)."""
    out: list[tuple[int, int, Grade, float, str]] = []
    for i, j in pairs:
        if (i, j) in decided:
            continue
        a, b = records[i], records[j]
        vector, turned = align(a, b)
        g, w, why = grade(a, b, vector, model, limits, turned=turned)
        if g is not Grade.CERTAINLY_NOT:
            out.append((i, j, g, w, why))
    return out

def link(records: Sequence[Record], thresholds: Thresholds | None = None, *,
         same: Sequence[tuple[int, int]] = (), different: Sequence[tuple[int, int]] = (),
         model: Model | None = None) -> Linkage:
    """Block, compare, estimate (unless a model is given), grade, and cluster the certain pairs (union-find).

    `same` and `different` are a steward's decisions (record index pairs): `same` pairs are joined first,
    whatever the score; no link, automatic or not, ever joins the two sides of a `different` pair.
    """
    if model is None:
        pairs, model = fit(records)
    else:
        pairs = block(records)
    limits = thresholds or Thresholds.for_records(model.records)
    parent = list(range(len(records)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    apart = [(min(i, j), max(i, j)) for i, j in different]

    def allowed(a: int, b: int) -> bool:
        return not apart or not any({find(x), find(y)} == {a, b} for x, y in apart)

    review: list[Doubt] = []
    certain: list[tuple[float, int, int, str]] = [(math.inf, i, j, "manual") for i, j in same]  # the steward's
    edges: list[Edge] = []
    decided = set(apart) | {(min(i, j), max(i, j)) for i, j in same}
    for i, j, g, w, why in grade_all(records, pairs, model, limits, decided):
        if g is Grade.CERTAIN:
            certain.append((w, i, j, why))
        elif g in (Grade.PROBABLE, Grade.POSSIBLE):
            review.append(Doubt(i, j, g, w, why))
    # strong identifiers each cluster holds: two clusters with different CINs or SSNs never merge,
    # however good a bridging pair looks (the strongest links are made first). An identifier possibly
    # borrowed (a pair sharing it that its other fields contradict) neither links nor keeps apart: on
    # those records it is no evidence at all, and the fields decide (a child's record carrying a parent's
    # SSN joins the child by name and date of birth; the pair with the parent waits for review).
    doubted = {(k, d.why.removeprefix("borrowed:")) for d in review if d.why.startswith("borrowed:")
               for k in (d.i, d.j)}
    ids: dict[int, tuple[frozenset[str], frozenset[str]]] = {
        i: (frozenset((r.cin,)) if r.cin and (i, "cin") not in doubted else NONE,
            frozenset((r.ssn,)) if r.ssn and (i, "ssn") not in doubted else NONE)
        for i, r in enumerate(records) if r.cin or r.ssn}
    for w, i, j, why in sorted(certain, key=lambda c: (c[0], c[3] == "manual", -c[1], -c[2]), reverse=True):
        a, b = find(i), find(j)
        if a == b:
            continue
        (cins_a, ssns_a), (cins_b, ssns_b) = ids.get(a, NO_IDS), ids.get(b, NO_IDS)
        manual = why == "manual"
        conflict = (cins_a and cins_b and not cins_a & cins_b) or (ssns_a and ssns_b and not ssns_a & ssns_b)
        if (conflict and not manual) or not allowed(a, b):
            if not manual:
                review.append(Doubt(i, j, Grade.PROBABLE, w, IDS_DIFFER))  # one person by the score, not the ids
            continue
        parent[a] = b
        if cins_a or cins_b or ssns_a or ssns_b:
            ids[b] = (cins_a | cins_b, ssns_a | ssns_b)
        edges.append(Edge(i, j, w, why))
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(len(records)):
        clusters[find(i)].append(i)
    return Linkage(list(clusters.values()), _one_per_clusters(review, find, allowed), len(pairs), model, edges)


def _one_per_clusters(review: Sequence[Doubt], find: Callable[[int], int], allowed: Callable[[int, int], bool]
                      ) -> list[Doubt]:
    """The steward's doubts, one per pair of clusters: a steward decides whether two clusters are one person, and
    that decision holds for every pair of their records (`same` joins the clusters, `different` keeps them
    apart). Of several doubtful pairs between two clusters the one kept shows the most: a possibly borrowed
    identifier first (its mark must be seen), then clusters whose identifiers differ, then the best score. A
    pair inside one cluster is no longer in doubt, nor one between clusters a steward already kept apart. On the
    noisy synthetic city (10k people) the 473 doubtful pairs were 239 pairs of clusters (benchmarks/README.md)."""
    def rank(d: Doubt) -> tuple[bool, bool, bool, float]:
        return d.why.startswith("borrowed:"), d.why == IDS_DIFFER, d.grade is Grade.PROBABLE, d.weight

    best: dict[tuple[int, int], Doubt] = {}
    for d in review:
        a, b = find(d.i), find(d.j)
        if a == b or not allowed(a, b):
            continue
        key = (min(a, b), max(a, b))
        if key not in best or rank(d) > rank(best[key]):
            best[key] = d
    return sorted(best.values(), key=lambda d: (d.i, d.j))
