"""Does a search leave a trace in time? A caller who may see nobody searches for a person the index holds and for
one it does not; the answers are the same ([]), and the work should be too.

Runs the real gateway in-process (httpx ASGITransport) over an SQLite store whose identity index holds the
benefits agency's people (synced from its simulator and linked), and times searches by identifier (CIN) and by
name and date of birth, alternating indexed and unknown people, for callers who may see none of them: a partner
with no consent, and another agency's caseworker (the person is held only by the benefits agency). Prints the
medians of each kind per run, their difference, and the run-to-run spread of the medians (the issue's bar: the
difference is no larger than that spread).

    .venv/bin/python -m benchmarks.search_trace [--searches 50] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import build_services
from api.settings import Settings
from connectors.benefits import BenefitsConnector
from connectors.config import BenefitsConfig
from demo.benefits_sim import BenefitsAgency
from demo.population import Person, generate
from demo.servers import ServerThread
from identity.index import relink, sync
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade

SEARCH = "query($input: ClientSearchInput!) { searchClients(input: $input) { score client { id } } }"


async def index(url: str, settings: Settings) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        source = BenefitsConnector(settings.benefits)
        await sync(sessions, [source])
        await source.aclose()
        await relink(sessions)
    finally:
        await engine.dispose()


def terms(p: Person, kind: str) -> dict[str, Any]:
    if kind == "cin":
        return {"cin": p.cin}
    return {"firstName": p.first_name, "lastName": p.last_name, "dateOfBirth": p.dob.isoformat()}


async def measure(settings: Settings, known: list[Person], unknown: list[Person], searches: int,
                  org: str, role: str, kind: str) -> tuple[float, float]:
    """Median milliseconds per search of indexed and of unknown people (alternating), and checks both are []."""
    services = build_services(settings)
    app = create_app(settings, services=services)
    key = load_or_create_dev_key(settings.auth.dev_key_file)
    token = mint_token(key, settings.auth, subject="bench", organization=org, roles=[role])
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}
    took: dict[str, list[float]] = {"indexed": [], "unknown": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as http:
        for p in (known[0], unknown[0]) * 5:  # warm up: caches, connections, compiled statements
            await http.post("/graphql", json={"query": SEARCH, "variables": {"input": terms(p, kind)}},
                            headers=headers)
        for i in range(searches):
            for label, people in (("indexed", known), ("unknown", unknown)) if i % 2 else (
                    ("unknown", unknown), ("indexed", known)):
                p = people[i % len(people)]
                t0 = time.perf_counter()
                resp = await http.post("/graphql", json={"query": SEARCH, "variables": {"input": terms(p, kind)}},
                                       headers=headers)
                took[label].append(1000 * (time.perf_counter() - t0))
                assert resp.json() == {"data": {"searchClients": []}}, resp.text[:300]
    await services.aclose()
    return statistics.median(took["indexed"]), statistics.median(took["unknown"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    population = generate(seed=7, households=40)
    held = [p for p in population.people if p.benefits_id and p.cin and not p.hmis_id and not p.student_id]
    unknown = [Person(f"u-{i}", p.first_name + "x", p.last_name + "q", p.dob, p.sex, None, f"ZZ{i:05d}Q", 0, "HEAD",
                      p.address, p.zip, None) for i, p in enumerate(held)]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        with ServerThread(BenefitsAgency(population).app()) as sim:
            settings = Settings(database_url=url, auth={"dev_key_file": Path(tmp) / "key.json"},
                                benefits=BenefitsConfig(base_url=sim.url), housing={"enabled": False},
                                schooling={"enabled": False})
            asyncio.run(index(url, settings))
            print(f"{len(held)} indexed people held only by the benefits agency; {args.searches} searches of each "
                  f"kind per run, alternating")
            print(f"{'quantum':<9}{'caller':<22}{'terms':<10}{'run':>4}{'indexed ms':>12}{'unknown ms':>12}"
                  f"{'difference':>12}")
            for quantum, org, role, kind in [(q, o, r, k) for q in (0.0, settings.limits.search_quantum_ms)
                                             for o, r in (("LEGALAID", "partner"), ("DOE", "caseworker"))
                                             for k in ("cin", "name+dob")]:
                limits = settings.limits.model_copy(update={"search_quantum_ms": quantum})
                run_settings = settings.model_copy(update={"limits": limits})
                rows = [asyncio.run(measure(run_settings, held, unknown, args.searches, org, role, kind))
                        for _ in range(args.runs)]
                for n, (a, b) in enumerate(rows):
                    print(f"{quantum:<9.0f}{org + ' ' + role:<22}{kind:<10}{n + 1:>4}{a:>12.2f}{b:>12.2f}"
                          f"{a - b:>+12.2f}")
                diffs = [a - b for a, b in rows]
                spread = max(max(r) for r in rows) - min(min(r) for r in rows)
                spread_each = max(max(a for a, _ in rows) - min(a for a, _ in rows),
                                  max(b for _, b in rows) - min(b for _, b in rows))
                print(f"{'':<35}  median difference {statistics.median(diffs):+.2f} ms; "
                      f"run-to-run spread of one kind's median {spread_each:.2f} ms (all medians {spread:.2f})")


if __name__ == "__main__":
    main()
