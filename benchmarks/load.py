"""Load and faults: many caseworkers at once, an agency that dies, a database that restarts (issue 15, §6).

The gateway runs as in production (uvicorn, uvloop, httptools, its own process) on a PostgreSQL server with
fsync on; the benefits and Ed-Fi simulators run in their own processes with an injected latency; a pool of
concurrent callers (aiohttp) asks for whole client profiles, each request with its own X-Request-Id. Three
phases, one after another, on the same gateway:

1. steady: `concurrency` callers for `seconds`. Target: 0 5xx, no error at all.
2. agency: the benefits simulator is killed (SIGKILL) a third of the way in and started again on the same port
   at two thirds. Target: only the benefits section fails (FAILED, the other sections SHOWN), each such request
   answered within the connector's deadline; benefits shown again once the agency is back (the circuit
   breaker's cooldown bounds how soon).
3. store: PostgreSQL is crashed (pg_ctl stop -m immediate) a third of the way in and started again at two
   thirds. Target: no client data while it is down, every request refused with AUDIT_UNAVAILABLE (fail
   closed); served again within 5 s of the server accepting connections.

Then the access log: the chain verifies whole (no gap, no fork), and every response that showed a client's
data has its access event (by request id): events >= disclosures, and the surplus (events whose answer was
lost in the crash) is at most the requests in flight.

    .venv/bin/python -m benchmarks.load [--seconds 60] [--concurrency 64] [--latency-ms 20]

tests/test_load.py runs the same phases for a few seconds each with fewer callers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import make_signer
from api.settings import Settings
from audit.verify import verify
from benchmarks.common import agency_sim, consent_desk, percentile
from connectors.config import BenefitsConfig, SchoolingConfig
from connectors.hmis.importer import import_export
from core.principal import Principal, RequestContext
from core.vocabulary import Category, Purpose, Role
from demo.hmis_export import write_export
from demo.population import Population, generate
from demo.servers import ServerProcess, free_port
from identity.crosswalk import link_records
from policies.consents import Grantor, Provision
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.reads import open_reads
from store.tables import AccessEvent

SEED, HOUSEHOLDS = 5, 60
SECTIONS = ("benefits", "housing", "schooling")
PROFILE = """query Profile($id: ID!) { client(id: $id) { id
  identity { access { status } records { lastName } }
  benefits { access { status } cases { caseNumber programs { program status certificationEnd } } }
  housing { access { status } inShelterNow enrollments { projectName entryDate exitDate } }
  schooling { access { status } students { currentSchool currentGrade } } } }"""
AGENCY_TIMEOUT_SECONDS = 1.0
BREAKER_COOLDOWN_SECONDS = 2.0


@dataclass
class Outcome:
    """One profile request as the caller saw it (times in seconds since the run began)."""

    started: float
    ended: float
    request_id: str
    status: int  # HTTP status; 0 when the connection failed
    codes: frozenset[str] = frozenset()  # the errors' extensions.code
    sections: dict[str, str] = field(default_factory=dict)  # section -> SHOWN / WITHHELD / FAILED

    @property
    def shown(self) -> bool:
        """Client data came back (the profile, any section)."""
        return bool(self.sections)

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Phase:
    name: str
    outcomes: list[Outcome]
    fault_at: float | None = None  # when the fault began (seconds since the run began)
    healed_at: float | None = None  # when the failed part was back (accepting connections)
    # when bringing it back began: a request that ended before this was served wholly while it was down (healed_at
    # is noted when the event loop gets round to it, possibly after requests the restarted part already served)
    restarting_at: float | None = None


# -- the parts, each in its own process ---------------------------------------------------------------------------


def load_settings(url: str, tmp: str, benefits_url: str, schooling_url: str) -> Settings:
    return Settings(
        database_url=url, auth={"dev_key_file": Path(tmp) / "key.json"},
        audit={"signing_key_file": Path(tmp) / "audit.json", "witness_every_seconds": 0},
        benefits=BenefitsConfig(base_url=benefits_url, timeout_seconds=AGENCY_TIMEOUT_SECONDS),
        schooling=SchoolingConfig(base_url=schooling_url, timeout_seconds=AGENCY_TIMEOUT_SECONDS),
        federation={"breaker_cooldown_seconds": BREAKER_COOLDOWN_SECONDS})


def gateway(url: str, tmp: str, benefits_url: str, schooling_url: str) -> Any:
    """The gateway, in its own process."""
    return create_app(load_settings(url, tmp, benefits_url, schooling_url))


async def seed(url: str, population: Population, tmp: Path) -> list[str]:
    """Migrate, link the city, import its shelter export, and record each client's consent for DHS; the ids of
    clients with records at all three agencies."""
    engine = make_engine(url)
    reads = open_reads(engine)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        await link_records(sessions, population.links())
        report = await import_export(sessions, write_export(population.hmis, tmp / "hmis"))
        assert report.ok, report.problems
        desk = consent_desk(engine, reads)
        ctx = RequestContext(Principal("load", "DHS", frozenset({Role.CASEWORKER})), "seed", Purpose.CASE_MANAGEMENT)
        now = datetime.now(UTC)
        full = [p for p in population.people if p.benefits_id and p.hmis_id and p.student_id]
        for person in full:
            await desk.record(ctx, client_id=person.client_id, grantor=Grantor.CLIENT, source_reference="load",
                              given_at=now - timedelta(days=1), provisions=[Provision(
                                  "permit", ("DHS",), (Category.IDENTITY, Category.BENEFITS, Category.SCHOOLING),
                                  (Purpose.CASE_MANAGEMENT,), period_end=now + timedelta(days=90))])
        return [p.client_id for p in full]
    finally:
        await reads.aclose()
        await engine.dispose()


# -- the load -----------------------------------------------------------------------------------------------------

async def hammer(url: str, headers: dict[str, str], clients: list[str], *, concurrency: int, seconds: float,
                 epoch: float, fault: Callable[[], Any] | None = None) -> list[Outcome]:
    """`concurrency` callers asking for profiles for `seconds`; `fault` (a coroutine function) runs beside them,
    and the callers go on for a third of `seconds` after it returns (the part it broke is back), and at least
    long enough for the circuit breaker to try the agency again."""
    outcomes: list[Outcome] = []
    deadline = [time.monotonic() + seconds]
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

        async def caller(k: int) -> None:
            i = k
            while time.monotonic() < deadline[0]:
                i += concurrency
                outcomes.append(await one(http, url, headers, clients[i % len(clients)], epoch))

        async def faulting() -> None:
            deadline[0] = float("inf")
            await fault()  # type: ignore[misc]  # set just before this task starts
            deadline[0] = time.monotonic() + max(seconds / 3, BREAKER_COOLDOWN_SECONDS + 2)

        tasks = [asyncio.create_task(caller(k)) for k in range(concurrency)]
        if fault is not None:
            tasks.append(asyncio.create_task(faulting()))
        await asyncio.gather(*tasks)
    return outcomes


async def one(http: aiohttp.ClientSession, url: str, headers: dict[str, str], client_id: str,
              epoch: float) -> Outcome:
    request_id = uuid.uuid4().hex
    started = time.monotonic() - epoch
    try:
        async with http.post(f"{url}/graphql", json={"query": PROFILE, "variables": {"id": client_id}},
                             headers={**headers, "X-Request-Id": request_id}) as resp:
            status, raw = resp.status, await resp.read()
    except (TimeoutError, aiohttp.ClientError):
        return Outcome(started, time.monotonic() - epoch, request_id, 0)
    ended = time.monotonic() - epoch
    try:
        body = json.loads(raw)
    except ValueError:
        return Outcome(started, ended, request_id, status, frozenset({"NOT_JSON"}))
    codes = frozenset(str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or [])
    profile = (body.get("data") or {}).get("client") or {}
    # A section whose every agency failed is null, with the agency's error (AGENCY_UNAVAILABLE, AGENCY_TIMEOUT).
    sections = {s: profile[s]["access"][0]["status"] if profile[s] else "FAILED"
                for s in SECTIONS if profile and s in profile}
    return Outcome(started, ended, request_id, status, codes, sections)


# -- the run ------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    phases: list[Phase]
    warm: list[Outcome]
    chain_breaks: list[str]
    events: int
    events_read: set[str]  # request ids with an access event


def run(*, seconds: float, concurrency: int, latency_ms: float, pg: Any) -> Run:
    """All three phases against `pg` (demo.postgres.PostgresServer, started); returns what was seen."""
    population = generate(seed=SEED, households=HOUSEHOLDS)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        url = pg.url()
        clients = asyncio.run(seed(url, population, tmp))
        b_port = free_port()
        benefits = ServerProcess(agency_sim, "benefits", latency_ms, SEED, HOUSEHOLDS, port=b_port).start()
        try:
            with ServerProcess(agency_sim, "edfi", latency_ms, SEED, HOUSEHOLDS) as e:
                b_url = f"http://127.0.0.1:{b_port}"
                settings = load_settings(url, tmp_dir, b_url, e.url)
                make_signer(settings)
                token = mint_token(load_or_create_dev_key(settings.auth.dev_key_file), settings.auth,
                                   subject="load", organization="DHS", roles=["caseworker"])
                headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}
                with ServerProcess(gateway, url, tmp_dir, b_url, e.url) as gw:
                    epoch = time.monotonic()
                    # warm: tokens at both agencies, connections, caches (logged too: kept for the event count)
                    warm = asyncio.run(hammer(gw.url, headers, clients, concurrency=4, seconds=1.0, epoch=epoch))
                    phases: list[Phase] = []

                    phases.append(Phase("steady", asyncio.run(hammer(
                        gw.url, headers, clients, concurrency=concurrency, seconds=seconds, epoch=epoch))))

                    agency = Phase("agency", [])

                    async def kill_agency() -> None:
                        nonlocal benefits
                        await asyncio.sleep(seconds / 3)
                        os.kill(benefits.process.pid, signal.SIGKILL)  # ours: started above
                        agency.fault_at = time.monotonic() - epoch
                        await asyncio.sleep(seconds / 3)
                        await asyncio.to_thread(benefits.process.join, 5)
                        benefits = await asyncio.to_thread(
                            ServerProcess(agency_sim, "benefits", latency_ms, SEED, HOUSEHOLDS, port=b_port).start)
                        agency.healed_at = time.monotonic() - epoch

                    agency.outcomes = asyncio.run(hammer(gw.url, headers, clients, concurrency=concurrency,
                                                         seconds=seconds, epoch=epoch, fault=kill_agency))
                    phases.append(agency)

                    store = Phase("store", [])

                    async def crash_store() -> None:
                        await asyncio.sleep(seconds / 3)
                        await asyncio.to_thread(pg.halt, "immediate")
                        store.fault_at = time.monotonic() - epoch
                        await asyncio.sleep(seconds / 3)
                        store.restarting_at = time.monotonic() - epoch
                        await asyncio.to_thread(pg.resume)
                        store.healed_at = time.monotonic() - epoch

                    store.outcomes = asyncio.run(hammer(gw.url, headers, clients, concurrency=concurrency,
                                                        seconds=seconds, epoch=epoch, fault=crash_store))
                    phases.append(store)
        finally:
            benefits.stop()
        breaks, events, read = asyncio.run(_access_log(url, settings))
    return Run(phases, warm, breaks, events, read)


async def _access_log(url: str, settings: Settings) -> tuple[list[str], int, set[str]]:
    from sqlalchemy import func, select

    engine = make_engine(url)
    try:
        sessions = make_sessionmaker(engine)
        report = await verify(sessions, jwks=make_signer(settings).public_jwks())
        async with sessions() as session:
            count = (await session.execute(select(func.count()).select_from(AccessEvent))).scalar_one()
            read = set((await session.execute(select(AccessEvent.request_id))).scalars())
        return [f"{b.seq}: {b.problem}" for b in report.breaks], count, read
    finally:
        await engine.dispose()


# -- what the run shows -------------------------------------------------------------------------------------------

@dataclass
class Findings:
    """The targets of issue 15 §6, measured (tests/test_load.py asserts them; main() prints them)."""

    server_errors: int  # 5xx or a failed connection, all phases
    steady_errors: int  # any error in the steady phase
    collateral: int  # agency phase: a section other than benefits not SHOWN
    agency_slowest_failed: float  # agency phase: the slowest request whose benefits section FAILED (s)
    agency_failed_p50: float  # ... and the median of those (s), beside the steady phase's median
    steady_p50: float
    agency_recovery: float | None  # agency back -> first benefits SHOWN (s)
    leaked_while_down: int  # store phase: client data answered by a request made wholly while PostgreSQL was down
    refusals_while_down: Counter[str]  # store phase: the error codes of requests made wholly while it was down
    store_recovery: float | None  # PostgreSQL accepting connections -> first profile shown (s)
    failed_after_recovery: int  # store phase: requests started after recovery that showed nothing
    undisclosed: int  # responses that showed data but have no access event
    surplus_events: int  # profile events whose response showed nothing (answer lost to the crash)
    chain_breaks: list[str]

    @classmethod
    def of(cls, run: Run) -> Findings:
        steady, agency, store = run.phases
        everything = [o for p in run.phases for o in p.outcomes]
        assert agency.fault_at is not None and agency.healed_at is not None
        assert store.fault_at is not None and store.healed_at is not None and store.restarting_at is not None
        failed = [o for o in agency.outcomes if o.sections.get("benefits") == "FAILED"]
        back = [o.started for o in agency.outcomes
                if o.started >= agency.healed_at and o.sections.get("benefits") == "SHOWN"]
        down = [o for o in store.outcomes if o.started >= store.fault_at and o.ended <= store.restarting_at]
        shown_after = [o.started for o in store.outcomes if o.started >= store.healed_at and o.shown]
        recovered = min(shown_after) if shown_after else None
        shown_ids = {o.request_id for o in everything + run.warm if o.shown}
        return cls(
            server_errors=sum(1 for o in everything if o.status >= 500 or o.status == 0),
            steady_errors=sum(1 for o in steady.outcomes if o.codes or not o.shown),
            collateral=sum(1 for o in agency.outcomes
                           if any(o.sections.get(s) != "SHOWN" for s in ("housing", "schooling"))),
            agency_slowest_failed=max((o.seconds for o in failed), default=0.0),
            agency_failed_p50=statistics.median(o.seconds for o in failed) if failed else 0.0,
            steady_p50=statistics.median(o.seconds for o in steady.outcomes),
            agency_recovery=min(back) - agency.healed_at if back else None,
            leaked_while_down=sum(1 for o in down if o.shown),
            refusals_while_down=Counter(c for o in down for c in (o.codes or {"NO_ERROR"})),
            store_recovery=recovered - store.healed_at if recovered is not None else None,
            failed_after_recovery=sum(1 for o in store.outcomes
                                      if recovered is not None and o.started > recovered + 0.5 and not o.shown),
            undisclosed=len(shown_ids - run.events_read),
            surplus_events=len(run.events_read - shown_ids),
            chain_breaks=run.chain_breaks,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="each phase's length")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="each agency's injected latency")
    args = parser.parse_args()
    from demo.postgres import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    pg = PostgresServer(bindir, durable=True).start()
    try:
        result = run(seconds=args.seconds, concurrency=args.concurrency, latency_ms=args.latency_ms, pg=pg)
    finally:
        pg.stop()
    f = Findings.of(result)
    print(f"{args.concurrency} concurrent profile requests, {args.seconds:g} s per phase, agency latency "
          f"{args.latency_ms:g} ms, agency deadline {AGENCY_TIMEOUT_SECONDS:g} s, breaker cooldown "
          f"{BREAKER_COOLDOWN_SECONDS:g} s, PostgreSQL fsync on")
    for phase in result.phases:
        walls = [o.seconds for o in phase.outcomes]
        print(f"  {phase.name:7} {len(walls):6} requests  {len(walls) / args.seconds:7.1f}/s  p50 "
              f"{1000 * statistics.median(walls):7.1f} ms  p99 {1000 * percentile(walls, 0.99):7.1f} ms")
    print(f"5xx or failed connections: {f.server_errors} (target 0); steady-phase errors: {f.steady_errors} "
          f"(target 0)")
    print(f"agency killed: other sections not shown {f.collateral} (target 0); requests with benefits FAILED: "
          f"p50 {1000 * f.agency_failed_p50:.1f} ms (steady phase p50 {1000 * f.steady_p50:.1f} ms), slowest "
          f"{f.agency_slowest_failed:.2f} s; benefits shown again {_s(f.agency_recovery)} after the agency "
          f"returned (cooldown {BREAKER_COOLDOWN_SECONDS:g} s)")
    print(f"PostgreSQL crashed: data shown while down {f.leaked_while_down} (target 0); answers while down "
          f"{dict(f.refusals_while_down)}; served again {_s(f.store_recovery)} after it accepted connections "
          f"(target <= 5 s); failures after that {f.failed_after_recovery}")
    print(f"access log: {result.events} events; responses with data but no event {f.undisclosed} (target 0); "
          f"events whose answer was lost {f.surplus_events}; chain breaks {f.chain_breaks or 'none'}")


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


if __name__ == "__main__":
    main()
