"""`casebridge demo`: a whole synthetic city block on 127.0.0.1, ready for a first query."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import uvicorn
from rich.console import Console

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.settings import Settings
from connectors.config import BenefitsConfig
from demo.benefits_sim import BenefitsAgency
from demo.population import Population, generate
from demo.servers import ServerThread
from identity.crosswalk import SqlCrosswalk
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade

FIRST_QUERY = """query FirstLook($id: ID!) {
  client(id: $id) {
    id
    identity { records { agency firstName lastName dateOfBirth } }
    benefits {
      access { agency status reason asOf }
      cases { caseNumber status programs { program status certificationEnd } notices { type responseDueOn } }
    }
    appointments { access { agency status reason } items { type scheduledAt mode status } }
    documents { items { type dueOn status } }
  }
}"""

console = Console()


async def seed(settings: Settings, population: Population) -> int:
    """Migrate the store and link the population's benefits records to their clients."""
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        return await SqlCrosswalk(make_sessionmaker(engine)).link(population.links())
    finally:
        await engine.dispose()


def demo_tokens(settings: Settings) -> dict[str, str]:
    """Tokens for the three demo callers: the record-holding agency, another agency, an auditor."""
    key = load_or_create_dev_key(settings.auth.dev_key_file)
    mk = lambda sub, org, role: mint_token(key, settings.auth, subject=sub, organization=org, roles=[role])  # noqa: E731
    return {
        "HRA caseworker (benefits agency: sees its own records)": mk("demo-hra-caseworker", "HRA", "caseworker"),
        "DHS caseworker (shelter agency: withheld, CONSENT_REQUIRED)": mk("demo-dhs-caseworker", "DHS", "caseworker"),
        "auditor (never reads client data)": mk("demo-auditor", "OVERSIGHT", "auditor"),
    }


def run_demo(
    settings: Settings, *, port: int, benefits_port: int, households: int, seed: int, serve_forever: bool,
) -> dict[str, Any] | None:
    """Seed, start the simulator and the gateway, print how to use them; optionally check and stop."""
    population = generate(seed=seed, households=households)
    added = asyncio.run(globals()["seed"](settings, population))
    agency = BenefitsAgency(population)
    sim = ServerThread(agency.app(), port=benefits_port).start()
    settings = settings.model_copy(update={
        "benefits": BenefitsConfig(**{**settings.benefits.model_dump(), "base_url": sim.url}),
        "public_url": f"http://127.0.0.1:{port}",
    })
    tokens = demo_tokens(settings)
    client_id = population.people[0].client_id
    _banner(settings, port, sim.url, len(population.people), added, tokens, client_id)
    app = create_app(settings)
    try:
        if serve_forever:
            uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                        access_log=False, log_level="warning")
            return None
        with ServerThread(app, port=port) as gateway:
            return _first_query(gateway.url, next(iter(tokens.values())), client_id)
    finally:
        sim.stop()


def _first_query(url: str, token: str, client_id: str) -> dict[str, Any]:
    resp = httpx.post(f"{url}/graphql", json={"query": FIRST_QUERY, "variables": {"id": client_id}},
                      headers={"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"},
                      timeout=30)
    body: dict[str, Any] = resp.json()
    console.print_json(json.dumps(body))
    return body


def _banner(settings: Settings, port: int, sim_url: str, people: int, added: int,
            tokens: dict[str, str], client_id: str) -> None:
    url = f"http://127.0.0.1:{port}"
    lines = [
        f"[bold]casebridge gateway[/bold]  {url}/graphql   (GraphiQL: open it in a browser)",
        f"benefits agency simulator  {sim_url}",
        f"store  {settings.database_url}   synthetic people: {people} ({added} links added)",
        "",
        "[bold]Headers[/bold] (GraphiQL: the Headers tab):",
        '  {"Authorization": "Bearer <token>", "X-Purpose-Of-Use": "case_management"}',
        "",
        "[bold]Demo tokens[/bold] (8 hours; more with `casebridge token --role caseworker --org DHS`):",
    ]
    for who, tok in tokens.items():
        lines += [f"  [cyan]{who}[/cyan]", f"  {tok}", ""]
    lines += [f"[bold]A first query[/bold] (variables: {{\"id\": \"{client_id}\"}}):", FIRST_QUERY, "",
              "[bold]Or with curl:[/bold]",
              f"  curl -s {url}/graphql -H 'Authorization: Bearer <token>' -H 'X-Purpose-Of-Use: case_management' "
              f"-H 'Content-Type: application/json' -d '{{\"query\": \"{{ client(id: \\\"{client_id}\\\") "
              "{ benefits { cases { caseNumber programs { program status certificationEnd } } } } }\"}'"]
    console.rule("casebridge demo")
    for line in lines:  # tokens must stay whole for copying: no panel, no wrapping
        console.print(line, soft_wrap=True, highlight=False)
    console.rule()
