"""Federation: bounded retries for transient failures, a circuit breaker per agency, and one broken agency
costing only its own section."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from api.app import create_app
from connectors.base import ConnectorStatus
from connectors.federation import FederationPolicy, Resilient
from connectors.records import FetchResult
from core.errors import AgencyBadData, AgencyError, AgencyTimeout, AgencyUnavailable
from core.vocabulary import Category
from demo.benefits_sim import BenefitsAgency
from demo.edfi_sim import EdfiAgency
from demo.population import Population
from demo.servers import ServerThread
from tests.gateway import caller, seed_links

OK = FetchResult(as_of=datetime(2026, 11, 1, tzinfo=UTC), records={})


class Scripted:
    """A connector that answers from a script: a FetchResult, or an error to raise."""

    name, source, organization = "scripted", "scripted", "AGENCY"
    categories = frozenset({Category.BENEFITS})

    def __init__(self, *script: FetchResult | AgencyError) -> None:
        self.script = list(script)
        self.calls = 0

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        self.calls += 1
        outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(outcome, AgencyError):
            raise outcome
        await asyncio.sleep(0)
        return outcome

    def status(self) -> ConnectorStatus:
        return ConnectorStatus(self.name, "unknown")

    async def aclose(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def down() -> AgencyUnavailable:
    return AgencyUnavailable("down", connector="scripted")


def policy(**kw: Any) -> FederationPolicy:
    return FederationPolicy(**{"retries": 2, "backoff_seconds": 0.001, "breaker_threshold": 3,
                               "breaker_cooldown_seconds": 30, **kw})


async def test_a_transient_failure_is_retried_and_a_refusal_is_not() -> None:
    flaky = Scripted(down(), AgencyTimeout("slow", connector="scripted"), OK)
    assert await Resilient(flaky, policy()).fetch(["a"], frozenset({Category.BENEFITS})) is OK
    assert flaky.calls == 3
    bad = Scripted(AgencyBadData("garbage", connector="scripted"), OK)
    with pytest.raises(AgencyBadData):
        await Resilient(bad, policy()).fetch(["a"], frozenset({Category.BENEFITS}))
    assert bad.calls == 1


async def test_retries_are_bounded() -> None:
    dead = Scripted(down())
    with pytest.raises(AgencyUnavailable):
        await Resilient(dead, policy(retries=2)).fetch(["a"], frozenset({Category.BENEFITS}))
    assert dead.calls == 3


async def test_the_circuit_opens_fails_fast_then_lets_one_trial_through() -> None:
    clock = Clock()
    dead = Scripted(down())
    conn = Resilient(dead, policy(retries=0), clock=clock)
    for _ in range(3):
        with pytest.raises(AgencyUnavailable):
            await conn.fetch(["a"], frozenset({Category.BENEFITS}))
    assert dead.calls == 3 and conn.status().circuit == "open"
    with pytest.raises(AgencyUnavailable) as fast:
        await conn.fetch(["a"], frozenset({Category.BENEFITS}))
    assert dead.calls == 3  # the agency was not asked
    assert fast.value.extensions["circuit"] == "open" and fast.value.extensions["connector"] == "scripted"

    clock.now += 31  # cooldown over: one trial; it fails, the circuit reopens at once
    assert conn.circuit == "half-open"
    with pytest.raises(AgencyUnavailable):
        await conn.fetch(["a"], frozenset({Category.BENEFITS}))
    assert dead.calls == 4 and conn.circuit == "open"

    clock.now += 31
    dead.script = [OK]  # the agency is back: the trial closes the circuit
    assert await conn.fetch(["a"], frozenset({Category.BENEFITS})) is OK
    assert conn.circuit == "closed"


async def test_while_half_open_only_one_call_is_a_trial() -> None:
    clock = Clock()

    class Slow(Scripted):
        async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
            self.calls += 1
            await asyncio.sleep(0.05)
            return OK

    inner = Slow(OK)
    conn = Resilient(inner, policy(retries=0, breaker_threshold=1), clock=clock)
    conn._failed()  # one failure opens it (threshold 1)
    clock.now += 31
    results = await asyncio.gather(*(conn.fetch(["a"], frozenset({Category.BENEFITS})) for _ in range(3)),
                                   return_exceptions=True)
    assert inner.calls == 1
    assert sum(r is OK for r in results) == 1 and sum(isinstance(r, AgencyError) for r in results) == 2
    assert conn.circuit == "closed"


PROFILE = """query($id: ID!) { client(id: $id) {
  benefits { access { status } cases { caseNumber } }
  schooling { access { status errorCode } students { studentId } } } }"""


async def test_a_stopped_agency_costs_only_its_section_and_its_circuit_opens(
    database_url: str, population: Population, settings_factory: Any
) -> None:
    await seed_links(database_url, population)
    child = next(p for p in population.people if p.student_id and p.benefits_id)
    benefits, district = BenefitsAgency(population), EdfiAgency(population)
    with ServerThread(benefits.app()) as b, ServerThread(district.app()) as d:
        settings = settings_factory(database_url=database_url, benefits_url=b.url, schooling_url=d.url,
                                    federation={"retries": 1, "backoff_seconds": 0.01, "breaker_threshold": 2,
                                                "breaker_cooldown_seconds": 0.5})
        with ServerThread(create_app(settings)) as gw:
            hra_doe = [caller((settings, gw), "HRA"), caller((settings, gw), "DOE")]
            for who in hra_doe:
                assert "errors" not in await who.query(PROFILE, {"id": child.client_id})
            d.stop()  # the district goes away while the gateway runs
            for _ in range(2):
                body = await hra_doe[1].query(PROFILE, {"id": child.client_id})
                assert body["data"]["client"]["schooling"] is None
                assert [(e["extensions"]["code"], e["extensions"]["connector"], e["path"]) for e in body["errors"]] == [
                    ("AGENCY_UNAVAILABLE", "schooling", ["client", "schooling"])]
            hra = await hra_doe[0].query(PROFILE, {"id": child.client_id})  # HRA's own section is untouched
            assert hra["data"]["client"]["benefits"]["cases"]
            async with httpx.AsyncClient() as http:
                ready = (await http.get(f"{gw.url}/readyz")).json()
            assert ready["connectors"]["schooling"]["circuit"] == "open"
            assert ready["connectors"]["benefits"]["circuit"] == "closed"
            fast = await hra_doe[1].query(PROFILE, {"id": child.client_id})
            assert fast["errors"][0]["extensions"]["circuit"] == "open"  # refused without asking the district
