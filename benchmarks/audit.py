"""The access log's cost and its behaviour under load.

1. The profile request with and without the audit write, side by side: two
   gateways on one store and one benefits simulator, each a uvicorn server
   (uvloop, httptools) in its own process as in production; requests alternated.
   Target: <= 10 % added latency at p50.
2. 64 concurrent clients for a bounded time against the audited gateway: the
   number of disclosures the clients received equals the number of disclosure
   events in the log, and the chain verifies afterwards.

    .venv/bin/python -m benchmarks.audit [--requests 300] [--seconds 10] [--postgres | --database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import build_services, make_signer
from api.settings import Settings
from audit.access_records import AccessRecord
from audit.verify import verify
from benchmarks.common import durable_postgres, percentile
from connectors.config import BenefitsConfig
from demo.benefits_sim import BenefitsAgency
from demo.population import generate
from demo.servers import ServerProcess
from identity.crosswalk import link_records
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.tables import AccessEvent

QUERY = """query($id: ID!) { client(id: $id) {
  identity { records { lastName } } benefits { cases { caseNumber programs { program status } } }
  appointments { items { type scheduledAt } } documents { items { type dueOn } } } }"""


class NoAuditRecorder:
    """The comparison only: writes nothing. Never wired into a real gateway."""

    async def record(self, records: Sequence[AccessRecord], *, session: Any = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


def bench_settings(url: str, tmp: str, sim_url: str) -> Settings:
    return Settings(database_url=url, auth={"dev_key_file": Path(tmp) / "key.json"},
                    audit={"signing_key_file": Path(tmp) / "audit.json"}, benefits=BenefitsConfig(base_url=sim_url))


def simulator(delay_ms: float = 0.0) -> Any:
    """The benefits simulator (in its own process), answering after `delay_ms`."""
    agency = BenefitsAgency(generate(seed=9, households=60))
    agency.faults.delay_seconds = delay_ms / 1000
    return agency.app()


def gateway(url: str, tmp: str, sim_url: str, audited: bool) -> Any:
    """A gateway (in its own process), with the access log or with the comparison's no-op recorder."""
    settings = bench_settings(url, tmp, sim_url)
    if audited:
        return create_app(settings)
    return create_app(settings, services=build_services(settings, recorder=NoAuditRecorder()))


async def seed(url: str, population: Any) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
        await link_records(make_sessionmaker(engine), population.links())
    finally:
        await engine.dispose()


async def side_by_side(urls: dict[str, str], headers: dict[str, str], ids: list[str], n: int) -> dict[str, list[float]]:
    walls: dict[str, list[float]] = {name: [] for name in urls}
    rng = random.Random(3)
    async with httpx.AsyncClient(timeout=30) as http:
        for url in urls.values():  # warm up both
            for _ in range(20):
                await http.post(f"{url}/graphql", json={"query": QUERY, "variables": {"id": rng.choice(ids)}},
                                headers=headers)
        for i in range(n):
            cid = rng.choice(ids)
            order = list(urls.items()) if i % 2 == 0 else list(reversed(urls.items()))
            for name, url in order:
                t0 = time.perf_counter()
                resp = await http.post(f"{url}/graphql", json={"query": QUERY, "variables": {"id": cid}},
                                       headers=headers)
                walls[name].append(time.perf_counter() - t0)
                assert resp.status_code == 200 and "errors" not in resp.json(), resp.text[:300]
    return walls


async def load(url: str, headers: dict[str, str], ids: list[str], *, clients: int, seconds: float) -> dict[str, int]:
    deadline = time.monotonic() + seconds
    counts = {"requests": 0, "disclosures": 0, "errors": 0}

    async def one(worker: int) -> None:
        rng = random.Random(worker)
        async with httpx.AsyncClient(timeout=30) as http:
            while time.monotonic() < deadline:
                resp = await http.post(f"{url}/graphql", json={"query": QUERY, "variables": {"id": rng.choice(ids)}},
                                       headers=headers)
                counts["requests"] += 1
                body = resp.json()
                if resp.status_code != 200 or body.get("errors"):
                    counts["errors"] += 1
                elif body["data"]["client"]["benefits"]["cases"] is not None:
                    counts["disclosures"] += 1

    await asyncio.gather(*(one(w) for w in range(clients)))
    return counts


async def durable_commit_ms(url: str, n: int = 200, idle_ms: float = 4.0) -> float:
    """The p50 of one durable commit on this store, the smallest there is: one small row inserted and committed
    on the driver alone, into a scratch table dropped afterwards, after `idle_ms` idle (as between sequential
    requests; an idle store's fsync is slower). A commit must change something: SQLite does not write a page
    whose bytes an UPDATE left as they were, so `SET seq = seq` commits without an fsync (0.03 ms against
    1.2 ms on the dev machine, 2026-12-05; the tables here before that day measured that)."""
    create, insert, drop = ("CREATE TABLE bench_commit (n INTEGER)", "INSERT INTO bench_commit VALUES ({})",
                            "DROP TABLE bench_commit")
    took = []
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(make_url(url).database or "", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(create)
        try:
            for i in range(n):
                await asyncio.sleep(idle_ms / 1000)
                t0 = time.perf_counter()
                conn.execute("BEGIN")
                conn.execute(insert.format("?"), (i,))
                conn.execute("COMMIT")
                took.append(time.perf_counter() - t0)
        finally:
            conn.execute(drop)
            conn.close()
    else:
        import asyncpg

        pg = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
        await pg.execute(create)
        try:
            for i in range(n):
                await asyncio.sleep(idle_ms / 1000)
                t0 = time.perf_counter()
                await pg.execute(insert.format("$1"), i)  # autocommit: the statement is its own transaction
                took.append(time.perf_counter() - t0)
        finally:
            await pg.execute(drop)
            await pg.close()
    return 1000 * statistics.median(took)


async def log_counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as session:
            reads = (await session.execute(select(func.count()).select_from(AccessEvent)
                                           .where(AccessEvent.action == "read"))).scalar_one()
            disclosed = (await session.execute(select(func.count()).select_from(AccessEvent).where(
                AccessEvent.action == "read", AccessEvent.outcome == "disclosed"))).scalar_one()
        return int(reads), int(disclosed)
    finally:
        await engine.dispose()


async def chain_ok(settings: Settings) -> tuple[bool, int]:
    engine = make_engine(settings.database_url)
    try:
        report = await verify(make_sessionmaker(engine), jwks=make_signer(settings).public_jwks())
        return report.ok, report.events_checked
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--agency-delay-ms", type=float, default=0.0,
                        help="the benefits simulator's injected latency (0: the worst case for the ratio)")
    parser.add_argument("--postgres", action="store_true",
                        help="start a throwaway PostgreSQL server (fsync on) from the Debian binaries and use it")
    args = parser.parse_args()
    if args.postgres:
        with durable_postgres() as url:
            args.database_url = url
            run(args)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    population = generate(seed=9, households=60)
    ids = [p.client_id for p in population.people]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(seed(url, population))
        with ServerProcess(simulator, args.agency_delay_ms) as sim:
            settings = bench_settings(url, tmp, sim.url)
            token = mint_token(load_or_create_dev_key(settings.auth.dev_key_file), settings.auth,
                               subject="bench", organization="HRA", roles=["caseworker"])
            headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}
            make_signer(settings)  # create the key before two processes race to
            with ServerProcess(gateway, url, tmp, sim.url, True) as a, \
                    ServerProcess(gateway, url, tmp, sim.url, False) as b:
                walls = asyncio.run(side_by_side({"with audit": a.url, "without audit": b.url}, headers, ids,
                                                 args.requests))
                plain = asyncio.run(load(b.url, headers, ids, clients=args.clients, seconds=args.seconds))
                before_reads, before_disclosed = asyncio.run(log_counts(url))
                counts = asyncio.run(load(a.url, headers, ids, clients=args.clients, seconds=args.seconds))
            reads, disclosed = asyncio.run(log_counts(url))
            ok, checked = asyncio.run(chain_ok(settings))
            commit = asyncio.run(durable_commit_ms(url))
    w, wo = walls["with audit"], walls["without audit"]
    store = "PostgreSQL" if args.database_url and "postgresql" in args.database_url else "SQLite"
    print(f"1. profile request over HTTP, {args.requests} each, alternated ({store}, "
          f"agency latency {args.agency_delay_ms:g} ms)")
    print(f"{'':16}{'p50 ms':>10}{'p90 ms':>10}{'p99 ms':>10}")
    for name, v in (("without audit", wo), ("with audit", w)):
        print(f"{name:16}{1000 * statistics.median(v):>10.2f}{1000 * percentile(v, 0.9):>10.2f}"
              f"{1000 * percentile(v, 0.99):>10.2f}")
    print(f"added latency at p50: {statistics.median(w) / statistics.median(wo) - 1:+.1%} (target <= +10 %), "
          f"{1000 * (statistics.median(w) - statistics.median(wo)):.2f} ms; one durable commit alone: {commit:.2f} ms "
          "(target: the write adds no more than that)")
    print(f"2. {args.clients} concurrent clients for {args.seconds:g} s against each gateway")
    for name, c in (("without audit", plain), ("with audit", counts)):
        print(f"{name:16}requests {c['requests']} ({c['requests'] / args.seconds:.0f}/s), errors {c['errors']}")
    logged = disclosed - before_disclosed
    print(f"disclosures received {counts['disclosures']}, disclosure events logged {logged}, "
          f"read events {reads - before_reads}: {'EQUAL' if counts['disclosures'] == logged else 'DIFFERENT'}")
    print(f"chain verifies: {ok} ({checked} events)")


if __name__ == "__main__":
    main()
