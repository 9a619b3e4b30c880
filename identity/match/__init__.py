"""Matching agency records of people: blocking, comparison, Fellegi-Sunter weights estimated by EM, grades.

Records are normalised (identity/normalize.py) into a Record (person.py), paired
only when they share a blocking key (blocking.py), compared field by field into
agreement levels (compare.py), and scored with log-likelihood weights (model.py)
whose m and u probabilities are estimated from the data itself by
expectation-maximisation (training.py). grading.py turns a weight into a FHIR
$match grade: strong identifiers, the household guard, the thresholds.
linking.py clusters a batch. Strong identifiers decide alone: the same CIN, or
the same full SSN of full data quality, is certain; two different ones are
certainly not. Evidence that fits a sibling or a twin as well as the same person
(same surname and address, a different first name or a different date of birth)
is never enough to link automatically.

The names below are what the rest of casebridge uses (identity.index, the online
matcher, the steward's desk, link-csv, the benchmarks).
"""

from identity.match.blocking import KEY_SCHEME, blocking_keys, candidate_pairs
from identity.match.compare import CROSSWISE, FIELDS, LEVEL_NAMES, MISSING, ORDER, Vector, align, household_only
from identity.match.grading import Thresholds, explain_pair, grade
from identity.match.linking import IDS_DIFFER, Doubt, Edge, Linkage, link, train
from identity.match.model import Model
from identity.match.person import Grade, Record

__all__ = [
    "CROSSWISE",
    "FIELDS",
    "IDS_DIFFER",
    "KEY_SCHEME",
    "LEVEL_NAMES",
    "MISSING",
    "ORDER",
    "Doubt",
    "Edge",
    "Grade",
    "Linkage",
    "Model",
    "Record",
    "Thresholds",
    "Vector",
    "align",
    "blocking_keys",
    "candidate_pairs",
    "explain_pair",
    "grade",
    "household_only",
    "link",
    "train",
]
