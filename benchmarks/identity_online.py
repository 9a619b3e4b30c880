"""Online identity matching against a large index: one new record at a time, as the connectors' sync delivers it.

    python -m benchmarks.identity_online [--records 100000] [--probes 1000] [--postgres]

Builds an index of a synthetic city's agency records (people.csv's records, in
identity_records with their blocking keys, linked to their true clients), holds
back `--probes` random records, then writes each one as a sync would and
matches it (identity.online.place): per-record latency p50/p95/p99 and how
often it landed in its true client. Then `searchClients`' matcher
(identity.online.search) on the same people by first name, last name and date
of birth. The index uses the default model (no relink at this size).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from benchmarks.common import durable_postgres, percentile
from demo.city_export import people_rows
from demo.population import generate
from identity.index import write_records
from identity.online import SearchQuery, place, search
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.tables import Client, SourceLink

RECORDS_PER_HOUSEHOLD = 4.7  # measured on the synthetic city


def index_row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A people.csv row as an identity_records row."""
    ssn = str(row.get("ssn") or "")
    dob = str(row.get("dob") or "")
    return {"source": row["source"], "local_id": row["local_id"], "first_name": row.get("first_name") or None,
            "middle_name": row.get("middle_name") or None, "last_name": row.get("last_name") or None,
            "dob": date.fromisoformat(dob) if dob else None, "sex": row.get("sex") or None,
            "ssn": ssn if ssn.isdigit() and len(ssn) == 9 else None,
            "ssn_last4": ssn[-4:] if len(ssn) >= 4 and ssn[-4:].isdigit() else None,
            "ssn_quality": 1 if ssn.isdigit() and len(ssn) == 9 else None, "name_quality": None, "dob_quality": None,
            "cin": row.get("cin") or None, "student_id": row.get("student_id") or None,
            "address": row.get("address") or None, "zip": row.get("zip") or None, "phone": row.get("phone") or None,
            "updated": None, "synced_at": now}


async def run(url: str, records: int, probes: int, seed: int) -> None:
    started = time.perf_counter()
    population = generate(seed=seed, households=max(10, int(records / RECORDS_PER_HOUSEHOLD)))
    rows = people_rows(population)
    truth = {(s, lid): c for c, s, lid in population.links()}
    now = datetime.now(UTC)
    rng = random.Random(seed)
    held = set(rng.sample(range(len(rows)), min(probes, len(rows) // 10)))
    base = [index_row(r, now) for i, r in enumerate(rows) if i not in held]
    probe = [index_row(r, now) for i, r in enumerate(rows) if i in held]
    print(f"city: {len(rows):,} records ({time.perf_counter() - started:.1f} s); index {len(base):,}, "
          f"probes {len(probe):,}")

    engine = make_engine(url)
    await upgrade(engine)
    sessions = make_sessionmaker(engine)
    started = time.perf_counter()
    for i in range(0, len(base), 20_000):
        async with sessions.begin() as session:
            await write_records(session, base[i:i + 20_000])
    clients = sorted({truth[(r["source"], r["local_id"])] for r in base})
    links = [{"client_id": truth[(r["source"], r["local_id"])], "source": r["source"], "local_id": r["local_id"],
              "how": "rule", "linked_at": now} for r in base]
    async with sessions.begin() as session:
        for i in range(0, len(clients), 5000):
            await session.execute(insert(Client), [{"id": c, "created_at": now} for c in clients[i:i + 5000]])
        for i in range(0, len(links), 5000):
            await session.execute(insert(SourceLink), links[i:i + 5000])
    print(f"index built in {time.perf_counter() - started:.1f} s")

    in_index: dict[str, int] = defaultdict(int)  # records of each true person in the index, probes placed included
    for r in base:
        in_index[truth[(r["source"], r["local_id"])]] += 1
    with_mate = right = wrong = missed = alone_right = alone_wrong = 0
    timings: list[float] = []
    for r in probe:
        key = (r["source"], r["local_id"])
        t0 = time.perf_counter()
        async with sessions.begin() as session:  # as a sync writes it ...
            await write_records(session, [r])
        await place(sessions, [key])  # ... and matches it
        timings.append((time.perf_counter() - t0) * 1000)
        async with sessions() as session:  # whom it joined: the other records of its client, by the truth
            placed = (await session.execute(select(SourceLink.client_id).where(
                SourceLink.source == key[0], SourceLink.local_id == key[1]))).scalar_one()
            others = [truth[(s, lid)] for s, lid in (await session.execute(
                select(SourceLink.source, SourceLink.local_id).where(SourceLink.client_id == placed))).all()
                if (s, lid) != key]
        true_client = truth[key]
        if in_index[true_client]:
            with_mate += 1
            right += bool(others) and all(o == true_client for o in others)
            wrong += any(o != true_client for o in others)
            missed += not others
        else:
            alone_right += not others
            alone_wrong += bool(others)
        in_index[true_client] += 1
    print(f"\nonline placement of {len(probe)} records into an index of {len(base):,}:")
    print(f"  latency per record (write + match + link): p50 {percentile(timings, 0.5):.1f} ms  "
          f"p95 {percentile(timings, 0.95):.1f} ms  p99 {percentile(timings, 0.99):.1f} ms  (target p95 <= 50 ms)")
    print(f"  with a record of the same person in the index: {with_mate}; joined the right client {right} "
          f"({right / max(1, with_mate):.1%}), joined a wrong one {wrong}, left alone or to review {missed}")
    print(f"  no record of the same person yet: {len(probe) - with_mate}; stood alone {alone_right}, "
          f"joined someone {alone_wrong}")

    indexed = {truth[(r["source"], r["local_id"])] for r in base}  # linked under their true ids
    people = [p for p in population.people if p.client_id in indexed][:len(probe)]
    search_ms: list[float] = []
    found_first = 0
    for p in people:
        t0 = time.perf_counter()
        found = await search(sessions, SearchQuery(first_name=p.first_name, last_name=p.last_name, dob=p.dob))
        search_ms.append((time.perf_counter() - t0) * 1000)
        found_first += bool(found) and found[0].client_id == p.client_id
    print(f"\nsearch (first, last, DOB) for {len(people)} people: p50 {percentile(search_ms, 0.5):.1f} ms  "
          f"p95 {percentile(search_ms, 0.95):.1f} ms; the person first {found_first / max(1, len(people)):.1%}")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="a durable PostgreSQL server instead of SQLite")
    args = parser.parse_args()
    if args.postgres:
        with durable_postgres() as url:
            asyncio.run(run(url, args.records, args.probes, args.seed))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(run(f"sqlite+aiosqlite:///{Path(tmp) / 'index.db'}", args.records, args.probes, args.seed))


if __name__ == "__main__":
    main()
