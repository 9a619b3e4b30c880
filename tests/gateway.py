"""Helpers to run the whole gateway over real HTTP in tests."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from api.keys import load_or_create_dev_key, mint_token
from api.settings import Settings
from connectors.hmis.importer import import_export
from demo.hmis_export import write_export
from demo.population import Population
from identity.crosswalk import link_records
from store.engine import make_engine, make_sessionmaker
from store.tables import AccessEvent

UNLINKED_CLIENT = "00000000-0000-4000-8000-00000000cafe"  # a client with no benefits record


async def seed_links(database_url: str, population: Population) -> None:
    """Link the population's benefits and HMIS records (importing its HMIS export once), plus one client
    no agency holds a record of."""
    engine = make_engine(database_url)
    try:
        sessions = make_sessionmaker(engine)
        await link_records(sessions, population.links())
        await link_records(sessions, [(UNLINKED_CLIENT, "shelter", "DHS-77")])
        with tempfile.TemporaryDirectory() as tmp:
            export = write_export(population.hmis, Path(tmp) / "hmis", exported_at=HMIS_EXPORTED_AT)
            report = await import_export(sessions, export)
        assert report.ok or "not newer" in report.problems[0].message, report.problems
    finally:
        await engine.dispose()


HMIS_EXPORTED_AT = datetime(2026, 11, 1, 6, 0, 0)




def token(settings: Settings, org: str, *roles: str, sub: str = "tester") -> str:
    """A development token for `org` with `roles`."""
    return mint_token(load_or_create_dev_key(settings.auth.dev_key_file), settings.auth, subject=sub,
                      organization=org, roles=list(roles))


class GraphQLClient:
    """Posts GraphQL documents to a running gateway as one caller."""

    def __init__(self, url: str, bearer: str | None, purpose: str | None = "case_management") -> None:
        self.url = url
        self.headers = {} if bearer is None else {"Authorization": f"Bearer {bearer}"}
        if purpose:
            self.headers["X-Purpose-Of-Use"] = purpose

    async def post(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        """The raw response."""
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            body: dict[str, Any] = {"query": query}
            if variables:
                body["variables"] = variables
            if "operation_name" in kw:
                body["operationName"] = kw.pop("operation_name")
            headers = {**self.headers, **kw.pop("headers", {})}
            return await http.post("/graphql", json=body, headers=headers, **kw)

    async def query(self, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """The JSON body; fails on a non-200 status."""
        resp = await self.post(query, variables, **kw)
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result


def caller(gw: Any, org: str = "HRA", *roles: str, purpose: str | None = "case_management",
           self_client: str | None = None, sub: str = "tester") -> GraphQLClient:
    """A GraphQL client for a running gateway `gw` = (settings, server), as `org` with `roles`."""
    settings, server = gw
    bearer = mint_token(load_or_create_dev_key(settings.auth.dev_key_file), settings.auth, subject=sub,
                        organization=org, roles=list(roles or ("caseworker",)), self_client=self_client)
    return GraphQLClient(server.url, bearer, purpose)


async def events(database_url: str) -> list[AccessEvent]:
    """Every access event, oldest first."""
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            return list((await session.execute(select(AccessEvent).order_by(AccessEvent.id))).scalars())
    finally:
        await engine.dispose()


async def break_access_log(database_url: str) -> None:
    """Make the access log unwritable, as a failed or full disk would: its events table is gone."""
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE access_events"))
    finally:
        await engine.dispose()
