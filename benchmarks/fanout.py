"""The unified profile fetched from three agencies at once: does it cost only the slowest agency?

The benefits and Ed-Fi simulators answer every data request after an injected
latency (default 50 ms), each a uvicorn server in its own process; the housing
connector reads the imported HMIS snapshot from the store (no agency in the
path, as deployed). A DHS caseworker, whose clients consented to benefits and
schooling for case management, asks for the profile (identity, benefits,
housing, schooling) over HTTP.

1. One client, side by side in one run: each connector's own fetch latency
   (called directly, in this process) and the profile over HTTP. Ratio = profile
   p50 / the slowest connector's own p50 (target <= 1.10), and the same at p99.
2. A 50-client `clients(ids:)` list: connector calls per agency (the gate's
   fan-out, target 1 each). Inside one call the benefits connector asks for up
   to 100 people per HTTP request; Ed-Fi has no multi-student filter, so the
   schooling connector reads each student (8 at a time).

    .venv/bin/python -m benchmarks.fanout [--latency-ms 50] [--rounds 60] [--postgres] [--timeline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import build_services, make_signer
from api.settings import Settings
from benchmarks.common import agency_sim, consent_desk, durable_postgres, percentile
from benchmarks.timeline import summary, timed_gateway
from connectors.base import Connector
from connectors.benefits import BenefitsConnector
from connectors.config import BenefitsConfig, HousingConfig, SchoolingConfig
from connectors.edfi import SchoolingConnector
from connectors.hmis.connector import HousingConnector
from connectors.hmis.importer import import_export
from core.principal import Principal, RequestContext
from core.vocabulary import Category, Purpose, Role
from demo.hmis_export import write_export
from demo.population import Population, generate
from demo.servers import ServerProcess
from identity.crosswalk import link_records
from policies.consents import Grantor, Provision
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.reads import open_reads

SEED, HOUSEHOLDS = 5, 120
PROFILE = """query($id: ID!) { client(id: $id) { id
  identity { access { status } records { lastName } }
  benefits { access { status } cases { caseNumber programs { program status certificationEnd } } }
  housing { access { status } inShelterNow enrollments { projectName entryDate exitDate } }
  schooling { access { status } students { currentSchool currentGrade transfers { daysOutOfSchool } } } } }"""
LIST = PROFILE.replace("query($id: ID!) { client(id: $id) {", "query($ids: [ID!]!) { clients(ids: $ids) {")



def bench_settings(url: str, tmp: str, benefits_url: str, schooling_url: str) -> Settings:
    return Settings(database_url=url, auth={"dev_key_file": Path(tmp) / "key.json"},
                    audit={"signing_key_file": Path(tmp) / "audit.json"},
                    benefits=BenefitsConfig(base_url=benefits_url), schooling=SchoolingConfig(base_url=schooling_url))


def gateway(url: str, tmp: str, benefits_url: str, schooling_url: str) -> Any:
    """The gateway, in its own process."""
    return create_app(bench_settings(url, tmp, benefits_url, schooling_url))


async def seed(url: str, population: Population, tmp: Path) -> None:
    engine = make_engine(url)
    reads = open_reads(engine)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        await link_records(sessions, population.links())
        report = await import_export(sessions, write_export(population.hmis, tmp / "hmis"))
        assert report.ok, report.problems
        desk = consent_desk(engine, reads)
        ctx = RequestContext(Principal("bench", "DHS", frozenset({Role.CASEWORKER})), "seed", Purpose.CASE_MANAGEMENT)
        now = datetime.now(UTC)
        for person in population.people:
            await desk.record(ctx, client_id=person.client_id, grantor=Grantor.CLIENT, source_reference="bench",
                              given_at=now - timedelta(days=1), provisions=[Provision(
                                  "permit", ("DHS",), (Category.IDENTITY, Category.BENEFITS, Category.SCHOOLING),
                                  (Purpose.CASE_MANAGEMENT,), period_end=now + timedelta(days=90))])
    finally:
        await reads.aclose()
        await engine.dispose()


async def own_latency(connectors: dict[str, Connector], ids: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Each connector's fetch of one client's records, called directly (no gateway)."""
    out: dict[str, list[float]] = {name: [] for name in connectors}
    for _ in range(rounds):
        for name, conn in connectors.items():
            t0 = time.perf_counter()
            await conn.fetch([ids[name]], conn.categories)
            out[name].append(time.perf_counter() - t0)
    return out


async def profile_latency(url: str, headers: dict[str, str], client_id: str, rounds: int) -> list[float]:
    """The profile over HTTP, one request at a time (aiohttp: a lean client, as the connectors use)."""
    walls = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        for _ in range(rounds):
            t0 = time.perf_counter()
            async with http.post(f"{url}/graphql", json={"query": PROFILE, "variables": {"id": client_id}},
                                 headers=headers) as resp:
                raw = await resp.read()
            walls.append(time.perf_counter() - t0)
            body = json.loads(raw)
            assert "errors" not in body, body
            assert all(body["data"]["client"][s]["access"][0]["status"] == "SHOWN"
                       for s in ("benefits", "housing", "schooling")), body
    return walls


class CountingConnector:
    """Counts the gate's calls to a connector (the fan-out), passing them through."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0
        self.name, self.source, self.organization = inner.name, inner.source, inner.organization
        self.categories = inner.categories

    async def fetch(self, local_ids: Any, categories: Any) -> Any:
        self.calls += 1
        return await self.inner.fetch(local_ids, categories)

    def status(self) -> Any:
        return self.inner.status()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def list_calls(settings: Settings, headers: dict[str, str], ids: list[str]) -> tuple[dict[str, int], float]:
    """The 50-client list in-process, counting the gate's calls per connector."""
    services = build_services(settings)
    counted = [CountingConnector(c) for c in services.gate._connectors]
    services.gate._connectors = counted  # type: ignore[assignment]  # a counting wrapper, same protocol
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw", timeout=60) as http:
        t0 = time.perf_counter()
        resp = await http.post("/graphql", json={"query": LIST, "variables": {"ids": ids}}, headers=headers)
        wall = time.perf_counter() - t0
        body = resp.json()
        assert "errors" not in body and len(body["data"]["clients"]) == len(ids), str(body)[:500]
    return {c.name: c.calls for c in counted}, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--postgres", action="store_true",
                        help="use a throwaway PostgreSQL server (fsync on) instead of an SQLite file")
    parser.add_argument("--timeline", action="store_true",
                        help="also print where the time goes inside the gateway (benchmarks/timeline.py)")
    args = parser.parse_args()
    if args.postgres:
        with durable_postgres() as url:
            run(args, url)
        return
    run(args, None)


def run(args: argparse.Namespace, database_url: str | None) -> None:
    population = generate(seed=SEED, households=HOUSEHOLDS)
    full = [p for p in population.people if p.benefits_id and p.hmis_id and p.student_id]
    assert full, "no client with records at all three agencies"
    person = full[0]
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url = database_url or f"sqlite+aiosqlite:///{tmp / 'fanout.db'}"
        asyncio.run(seed(url, population, tmp))
        city = (args.latency_ms, SEED, HOUSEHOLDS)
        with ServerProcess(agency_sim, "benefits", *city) as b, ServerProcess(agency_sim, "edfi", *city) as e:
            settings = bench_settings(url, tmp_dir, b.url, e.url)
            make_signer(settings)
            token = mint_token(load_or_create_dev_key(settings.auth.dev_key_file), settings.auth, subject="bench",
                               organization="DHS", roles=["caseworker"])
            headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}

            async def direct() -> dict[str, list[float]]:
                engine = make_engine(url)
                reads = open_reads(engine)
                conns: dict[str, Connector] = {
                    "benefits": BenefitsConnector(BenefitsConfig(base_url=b.url)),
                    "housing": HousingConnector(HousingConfig(), reads),
                    "schooling": SchoolingConnector(SchoolingConfig(base_url=e.url)),
                }
                ids = {"benefits": person.benefits_id, "housing": person.hmis_id, "schooling": person.student_id}
                try:
                    await own_latency(conns, ids, 5)  # warm: tokens, school names, connections
                    return await own_latency(conns, ids, args.rounds)  # type: ignore[arg-type]  # ids: all set
                finally:
                    for c in conns.values():
                        await c.aclose()
                    await reads.aclose()
                    await engine.dispose()

            marks = tmp / "timeline.jsonl"
            served = (timed_gateway, gateway, str(marks)) if args.timeline else (gateway,)
            with ServerProcess(*served, url, tmp_dir, b.url, e.url) as gw:
                asyncio.run(profile_latency(gw.url, headers, person.client_id, 5))  # warm
                own: dict[str, list[float]] = {}
                walls: list[float] = []
                for _ in range(2):  # interleave the two measurements: same machine state for both
                    half = asyncio.run(direct())
                    for k, v in half.items():
                        own.setdefault(k, []).extend(v)
                    walls += asyncio.run(profile_latency(gw.url, headers, person.client_id, args.rounds))
            steps = summary(marks, skip=5) if args.timeline else []
            fifty = [p.client_id for p in population.people[:50]]
            calls, list_wall = asyncio.run(list_calls(settings, headers, fifty))
    store = "PostgreSQL" if database_url else "SQLite"
    print(f"1. one client's profile (identity, benefits, housing, schooling), agency latency {args.latency_ms:g} ms, "
          f"{len(walls)} requests, store {store}")
    print(f"{'':22}{'p50 ms':>10}{'p99 ms':>10}")
    for name, v in own.items():
        print(f"{name + ' connector alone':22}{1000 * statistics.median(v):>10.1f}{1000 * percentile(v, 0.99):>10.1f}")
    slowest = max(own, key=lambda k: statistics.median(own[k]))
    print(f"{'profile over HTTP':22}{1000 * statistics.median(walls):>10.1f}{1000 * percentile(walls, 0.99):>10.1f}")
    print(f"ratio profile / slowest connector ({slowest}): p50 "
          f"{statistics.median(walls) / statistics.median(own[slowest]):.3f} (target <= 1.10), p99 "
          f"{percentile(walls, 0.99) / percentile(own[slowest], 0.99):.3f}")
    print(f"2. a 50-client list: {1000 * list_wall:.0f} ms; connector calls per agency: "
          + ", ".join(f"{k} {v}" for k, v in calls.items()) + " (target: 1 each)")
    if steps:
        print("3. inside the gateway, median ms since the request arrived (the marks cost a little: "
              "the ratio above is not this benchmark's result)")
        for name, at in steps:
            print(f"{at:9.2f}  {name}")


if __name__ == "__main__":
    main()
