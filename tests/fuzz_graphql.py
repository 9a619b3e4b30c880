"""The fuzzing run of tests/test_fuzz.py, in a process of its own.

schemathesis patches Hypothesis's internals when it is imported (its PRNG registration, printer and buffer
size), which made the suite's own property tests see other threads' random use as their strategies' and
fail as flaky. So the main pytest process never imports it (`-p no:schemathesis` in pyproject.toml), and
this script does the fuzzing: it reads its configuration as JSON on stdin and prints what it saw as JSON.

    {"url": ..., "callers": [{headers}, ...], "client_ids": [...], "examples": 60, "budget_seconds": 60}
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


def register_scalars(client_ids: list[str]) -> None:
    """Values for the schema's scalars: ids of the seeded city's clients as well as random ones, dates and
    times both well-formed and not."""
    dates = st.dates().map(lambda d: nodes.String(d.isoformat()))
    schemathesis.graphql.scalar("ID", st.one_of(
        st.sampled_from(client_ids), st.uuids().map(str), st.text(max_size=40)).map(nodes.String))
    schemathesis.graphql.scalar("Date", st.one_of(dates, st.text(max_size=20).map(nodes.String)))
    schemathesis.graphql.scalar("DateTime", st.one_of(
        st.datetimes().map(lambda d: nodes.String(d.isoformat() + "Z")), st.text(max_size=30).map(nodes.String)))
    schemathesis.graphql.scalar("Decimal", st.decimals(allow_nan=False, allow_infinity=False, places=2)
                                .map(lambda d: nodes.String(str(d))))
    schemathesis.graphql.scalar("JSON", st.text(max_size=40).map(nodes.String))


def probe(operation: Any, callers: list[dict[str, str]], http: httpx.Client, examples: int,
          seen: dict[str, Any]) -> Any:
    """A seeded Hypothesis run over one root field: each drawn document sent by one of the callers."""

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), who=st.sampled_from(callers))
    def run(case: Any, who: dict[str, str]) -> None:
        response = http.post("/graphql", json={"query": case.body}, headers=who)
        seen["sent"] += 1
        label = f"{operation.label} ({response.status_code})"
        if response.status_code >= 500:
            seen["failures"].append(label)
            return
        body = response.json()
        codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
        outcome = ",".join(sorted(map(str, codes))) or "ok"
        seen["outcomes"][outcome] = seen["outcomes"].get(outcome, 0) + 1
        if "INTERNAL" in codes or None in codes:
            seen["failures"].append(f"{label}: {sorted(map(str, codes))}")

    return run


def main() -> None:
    config = json.load(sys.stdin)
    register_scalars(config["client_ids"])
    schema = schemathesis.graphql.from_path(SCHEMA_FILE)
    operations = [result.ok() for result in schema.get_all_operations()]
    seen: dict[str, Any] = {"fields": len(operations), "sent": 0, "failures": [], "outcomes": {}}
    started = time.monotonic()
    with httpx.Client(base_url=config["url"], timeout=30) as http:
        for operation in operations:
            if time.monotonic() - started > config["budget_seconds"]:
                seen["failures"].append(f"budget of {config['budget_seconds']} s spent before {operation.label}")
                break
            probe(operation, config["callers"], http, config["examples"], seen)()
    seen["seconds"] = round(time.monotonic() - started, 1)
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
