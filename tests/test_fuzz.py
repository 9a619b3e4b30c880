"""schemathesis on schema.graphql against the real gateway (issue 15, §7): 0 5xx, 0 INTERNAL.

Every root field of the published schema, queries and mutations, with arguments Hypothesis draws from the
schema's types, sent over HTTP by callers of every role. IDs are drawn from the seeded city's clients as well
as at random, so that requests reach the gate, the agencies and the store rather than stopping at the edge.
Seeded (derandomized) and bounded: a fixed number of examples per field, under a minute in all. The drawing
runs in a process of its own (tests/fuzz_graphql.py says why); the gateway runs here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from api.keys import load_or_create_dev_key, mint_token
from demo.population import Population
from resolvers.actions import MUTATION_ACTIONS, QUERY_ACTIONS
from tests.gateway import token

EXAMPLES_PER_FIELD = 60
BUDGET_SECONDS = 60


@pytest.mark.parametrize("empty_database_url", ["sqlite"], indirect=True)
def test_no_field_answers_5xx_or_internal(gateway: Any, population: Population) -> None:
    settings_, server = gateway
    clients = sorted({link[0] for link in population.links()})[:50]
    roles = [("HRA", "caseworker", "case_management"), ("DHS", "caseworker", "emergency"),
             ("LEGALAID", "partner", "care_coordination"), ("CITY", "auditor", "audit"),
             ("CITY", "identity_steward", "identity_stewardship"), ("DHS", "caseworker", None)]
    callers = [{"Authorization": f"Bearer {token(settings_, org, role)}", **({"X-Purpose-Of-Use": p} if p else {})}
               for org, role, p in roles]
    own = clients[0]
    client_token = mint_token(load_or_create_dev_key(settings_.auth.dev_key_file), settings_.auth,
                              subject=f"client-{uuid.UUID(own).hex[:8]}", organization="CLIENT", roles=["client"],
                              self_client=own)
    callers.append({"Authorization": f"Bearer {client_token}", "X-Purpose-Of-Use": "client_access"})
    config = {"url": server.url, "callers": callers, "client_ids": clients, "examples": EXAMPLES_PER_FIELD,
              "budget_seconds": BUDGET_SECONDS}
    run = subprocess.run([sys.executable, "-m", "tests.fuzz_graphql"], input=json.dumps(config),
                         capture_output=True, text=True, timeout=BUDGET_SECONDS + 60)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout)
    every_field = len(QUERY_ACTIONS) + len(MUTATION_ACTIONS)  # every root field of the schema (tests/test_actions)
    assert seen["fields"] == every_field and seen["sent"] >= seen["fields"] * 10, seen
    assert seen["failures"] == []
    # The run reached past the edge: answers with data, and refusals by the gate, not only malformed input.
    outcomes = seen["outcomes"]
    assert outcomes.get("ok", 0) >= seen["sent"] // 20 and outcomes.get("FORBIDDEN", 0) > 0, outcomes


def test_the_suite_never_imports_schemathesis() -> None:
    # Its import patches Hypothesis for every property test in the process (tests/fuzz_graphql.py).
    assert "schemathesis" not in sys.modules
