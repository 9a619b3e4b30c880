"""The request path's reads, side by side: what the dialect's reader (store.reads) saves over plainer ways.

A profile request reads the store in two turns of the event loop: the
crosswalk and the consents at once, then the housing snapshot's three tables at
once. Each round does exactly that with each reader in turn, on one store
(alternated, so that a busy moment costs each the same): the wall time of the
round and the event loop's CPU (`time.thread_time()` on the loop's thread;
the readers' own threads are not counted).

- SQLite: `SqliteReads` (each read whole on a worker thread with the
  standard-library driver) against aiosqlite through an ORM session.
- PostgreSQL (`--postgres`): `PostgresReads` (a pool of its own, autocommit, no
  ping per checkout) against the store engine's pool (pinged, autocommit set
  per checkout) and against an ORM session.

    .venv/bin/python -m benchmarks.reads [--rounds 400] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.common import durable_postgres
from connectors.hmis.connector import _CLIENTS, _SNAPSHOT, _STAYS
from connectors.hmis.importer import import_export
from demo.hmis_export import write_export
from demo.population import generate
from identity.crosswalk import _RESOLVE, link_records
from policies.consent_store import _FOR_CLIENTS
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.reads import open_reads

Rows = Callable[[Executable, Mapping[str, Any] | None], Awaitable[Sequence[Row[Any]]]]


def engine_pool_reads(engine: AsyncEngine) -> Rows:
    """A connection of the store engine's pool (pinged at checkout), autocommit set on it."""
    autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def rows(statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        async with autocommit.connect() as conn:
            return (await conn.execute(statement, params)).all()

    return rows


def session_reads(engine: AsyncEngine) -> Rows:
    """Each read in a fresh ORM session."""
    sessions = make_sessionmaker(engine)

    async def rows(statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        async with sessions() as session:
            return list((await session.execute(statement, params)).all())

    return rows


async def one_request(rows: Rows, client_id: str, person_id: str) -> None:
    """A profile request's reads: two turns of the loop."""
    await asyncio.gather(rows(_RESOLVE, {"ids": [client_id]}), rows(_FOR_CLIENTS, {"ids": [client_id]}))
    await asyncio.gather(rows(_SNAPSHOT, {"src": "hmis"}), rows(_CLIENTS, {"src": "hmis", "ids": [person_id]}),
                         rows(_STAYS, {"src": "hmis", "ids": [person_id]}))


async def measure(url: str, rounds: int, tmp: Path) -> dict[str, tuple[list[float], list[float]]]:
    population = generate(seed=5, households=60)
    engine = make_engine(url)
    await upgrade(engine)
    await link_records(make_sessionmaker(engine), population.links())
    assert (await import_export(make_sessionmaker(engine), write_export(population.hmis, tmp / "hmis"))).ok
    person = next(p for p in population.people if p.hmis_id)
    reads = open_reads(engine)
    readers: dict[str, Rows] = {"store.reads (ours)": reads.rows}
    if not url.startswith("sqlite"):
        readers["store engine's pool"] = engine_pool_reads(engine)
    readers["ORM session per read"] = session_reads(engine)
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in readers}
    try:
        for i in range(rounds + 20):
            for name, rows in (readers.items() if i % 2 else reversed(readers.items())):
                w0, c0 = time.perf_counter(), time.thread_time()
                await one_request(rows, person.client_id, str(person.hmis_id))
                if i >= 20:  # the first rounds warm every reader up
                    out[name][0].append(time.perf_counter() - w0)
                    out[name][1].append(time.thread_time() - c0)
    finally:
        await reads.aclose()
        await engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=400)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server (fsync on)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            with durable_postgres() as url:
                results = asyncio.run(measure(url, args.rounds, Path(tmp)))
        else:
            results = asyncio.run(measure(f"sqlite+aiosqlite:///{Path(tmp) / 'reads.db'}", args.rounds, Path(tmp)))
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(f"a profile request's five reads in two turns, {args.rounds} rounds, {store}, alternated")
    print(f"{'':24}{'wall p50 ms':>12}{'loop CPU p50 ms':>17}")
    ours = statistics.median(results["store.reads (ours)"][0])
    for name, (walls, cpus) in results.items():
        print(f"{name:24}{1000 * statistics.median(walls):>12.2f}{1000 * statistics.median(cpus):>17.2f}"
              f"   x{statistics.median(walls) / ours:.2f}")


if __name__ == "__main__":
    main()
