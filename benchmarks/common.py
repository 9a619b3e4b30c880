"""What the benchmarks share: a throwaway durable PostgreSQL server, percentiles."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any


@contextlib.contextmanager
def durable_postgres() -> Iterator[str]:
    """A PostgreSQL server from the Debian binaries with fsync on (as in production); yields its URL."""
    from demo.postgres import PostgresServer, find_bindir

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)")
    server = PostgresServer(bindir, durable=True).start()
    try:
        yield server.url()
    finally:
        server.stop()


def agency_sim(kind: str, latency_ms: float, seed: int, households: int) -> Any:
    """A simulated agency ("benefits" or "edfi") over the synthetic city (seed, households), answering every data
    request after `latency_ms`: the app for demo.servers.ServerProcess, built in the child process."""
    from demo.benefits_sim import BenefitsAgency
    from demo.edfi_sim import EdfiAgency
    from demo.population import generate

    population = generate(seed=seed, households=households)
    agency = BenefitsAgency(population) if kind == "benefits" else EdfiAgency(population)
    agency.faults.delay_seconds = latency_ms / 1000
    return agency.app()


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def consent_desk(engine: Any, reads: Any) -> Any:
    """A consent desk behind its own gate (no connectors), for seeding benchmark stores through the gate; the
    caller closes `reads`."""
    from audit.chain_writer import ChainRecorder
    from gate import Gate
    from gate.consent_desk import ConsentDesk
    from identity.crosswalk import SqlCrosswalk
    from policies.cedar import CedarDecider, CedarEngine, PolicySet
    from policies.consent_store import ConsentStore
    from store.engine import make_sessionmaker

    sessions = make_sessionmaker(engine)
    gate = Gate(crosswalk=SqlCrosswalk(reads), decider=CedarDecider(sessions, reads, CedarEngine(PolicySet.load())),
                connectors=[], recorder=ChainRecorder(engine), sessions=sessions)
    return ConsentDesk(gate=gate, store=ConsentStore())
