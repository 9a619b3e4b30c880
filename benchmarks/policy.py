"""How much of a profile request's CPU goes to deciding, and how long one decision batch holds the loop.

Runs the real gateway in-process (httpx ASGITransport, so the gateway's event-loop
thread does all the request work we time) against the benefits simulator in its
own thread, over an SQLite store seeded with a synthetic population and consents.
CPU is measured with time.thread_time() on the gateway's thread: the simulator and
aiosqlite's worker thread are not counted, which makes the policy share look
larger, not smaller.

    .venv/bin/python -m benchmarks.policy [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import build_services
from api.settings import Settings
from benchmarks.common import consent_desk
from connectors.config import BenefitsConfig
from core.principal import LegalBasisClaim, Principal, RequestContext
from core.vocabulary import Action, Category, Purpose, Role
from demo.benefits_sim import BenefitsAgency
from demo.population import generate
from demo.servers import ServerThread
from identity.crosswalk import link_records
from policies.cedar import CedarDecider, CedarEngine, DeciderStats, PolicySet
from policies.consents import Grantor, Provision
from policies.decisions import Decision, Resource, Target, Verdict
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.reads import open_reads

QUERY = """query($ids: [ID!]!) { clients(ids: $ids) { id
  identity { access { status } records { lastName } }
  benefits { access { status reason } cases { caseNumber programs { program status certificationEnd } } }
  appointments { access { status } items { type scheduledAt } }
  documents { access { status } items { type dueOn } } } }"""


class TimedDecider:
    """Wraps a decider and adds up the CPU it spends (operations and sections), and its longest single call."""

    def __init__(self, inner: CedarDecider) -> None:
        self.inner = inner
        self.cpu = 0.0
        self.longest = 0.0

    async def authorize(self, ctx: RequestContext, action: Action, targets: Sequence[Target]) -> list[Verdict]:
        start = time.thread_time()
        out = await self.inner.authorize(ctx, action, targets)
        spent = time.thread_time() - start
        self.cpu += spent
        self.longest = max(self.longest, spent)
        return out

    async def decide(self, ctx: RequestContext, resources: Sequence[Resource], *,
                     claim: LegalBasisClaim | None = None) -> list[Decision]:
        start = time.thread_time()
        out = await self.inner.decide(ctx, resources, claim=claim)
        spent = time.thread_time() - start
        self.cpu += spent
        self.longest = max(self.longest, spent)
        return out


async def seed(url: str, population: Any, rng: random.Random) -> None:
    engine = make_engine(url)
    reads = open_reads(engine)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        await link_records(sessions, population.links())
        desk = consent_desk(engine, reads)
        ctx = RequestContext(Principal("bench", "DHS", frozenset({Role.CASEWORKER})), "seed", Purpose.CASE_MANAGEMENT)
        now = datetime.now(UTC)
        for person in population.people:
            if rng.random() < 0.6:  # most clients have consented to something
                cats = tuple(rng.sample([Category.APPOINTMENTS, Category.DOCUMENTS, Category.BENEFITS], k=2))
                await desk.record(ctx, client_id=person.client_id, grantor=Grantor.CLIENT, source_reference="bench",
                                  given_at=now - timedelta(days=1), provisions=[
                                      Provision("permit", ("DHS", rng.choice(["DOE", "LEGALAID"])), cats,
                                                (Purpose.CASE_MANAGEMENT,), period_end=now + timedelta(days=90))])
    finally:
        await reads.aclose()
        await engine.dispose()


async def measure(settings: Settings, ids: list[str], rounds: int, *, cold: bool) -> dict[str, float]:
    services = build_services(settings)
    timed = TimedDecider(CedarDecider(services.sessions, services.reads, CedarEngine(PolicySet.load()),
                                      store=services.consents))
    services.gate._decider = timed
    app = create_app(settings, services=services)
    key = load_or_create_dev_key(settings.auth.dev_key_file)
    token = mint_token(key, settings.auth, subject="bench", organization="DHS", roles=["caseworker"])
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}
    request_cpu, walls = [], []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        await http.post("/graphql", json={"query": QUERY, "variables": {"ids": ids}}, headers=headers)  # warm up
        timed.cpu, timed.longest = 0.0, 0.0
        stats = DeciderStats()
        for _ in range(rounds):
            if cold:
                timed.inner = CedarDecider(services.sessions, services.reads, CedarEngine(PolicySet.load()),
                                           store=services.consents)
            timed.inner.stats = stats
            c0, w0 = time.thread_time(), time.perf_counter()
            resp = await http.post("/graphql", json={"query": QUERY, "variables": {"ids": ids}}, headers=headers)
            request_cpu.append(time.thread_time() - c0)
            walls.append(time.perf_counter() - w0)
            assert resp.status_code == 200 and "errors" not in resp.json(), resp.text[:500]
    await services.aclose()
    total = sum(request_cpu)
    return {"request_cpu_ms": 1000 * total / rounds, "decide_cpu_ms": 1000 * timed.cpu / rounds,
            "share": timed.cpu / total, "eval_share": stats.evaluate_cpu / total,
            "load_share": stats.load_cpu / total, "longest_decide_ms": 1000 * timed.longest,
            "p50_wall_ms": 1000 * statistics.median(walls)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--households", type=int, default=60)
    args = parser.parse_args()
    rng = random.Random(5)
    population = generate(seed=5, households=args.households)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(seed(url, population, rng))
        with ServerThread(BenefitsAgency(population).app()) as sim:
            settings = Settings(database_url=url, auth={"dev_key_file": Path(tmp) / "key.json"},
                                benefits=BenefitsConfig(base_url=sim.url))
            all_ids = [p.client_id for p in population.people]
            rows = []
            for label, n, cold in [("1 client, warm cache", 1, False), ("50 clients, warm cache", 50, False),
                                   ("1 client, cold cache", 1, True), ("50 clients, cold cache", 50, True)]:
                ids = rng.sample(all_ids, n)
                rows.append((label, asyncio.run(measure(settings, ids, args.rounds, cold=cold))))
    print("share = CPU on the gateway's thread spent there / the whole request's CPU on that thread")
    print(f"{'request':<26}{'request CPU ms':>15}{'decide ms':>10}{'decide':>8}{'policy eval':>12}"
          f"{'consent read':>13}{'longest decide ms':>18}{'p50 wall ms':>12}")
    for label, r in rows:
        print(f"{label:<26}{r['request_cpu_ms']:>15.2f}{r['decide_cpu_ms']:>10.3f}{r['share']:>8.1%}"
              f"{r['eval_share']:>12.1%}{r['load_share']:>13.1%}{r['longest_decide_ms']:>18.2f}"
              f"{r['p50_wall_ms']:>12.1f}")


if __name__ == "__main__":
    main()
