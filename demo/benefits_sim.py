"""A benefits agency simulator: a real HTTP API serving docs/benefits-api.openapi.json.

OAuth2 client credentials at /oauth/token (HTTP Basic), bearer tokens that
expire, a batch read of benefits records and a paged demographics listing.
Tests switch `faults` to make the agency slow, broken or revoke its tokens.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demo.population import Population

MAX_BATCH = 100


@dataclass
class Faults:
    """What the simulated agency does wrong right now."""

    malformed: bool = False  # 200 with a body that is not the published shape
    not_json: bool = False  # 200 with a body that is not JSON at all
    server_error: bool = False  # 503 on data endpoints
    delay_seconds: float = 0.0  # sleep before answering data endpoints
    token_ttl_seconds: int = 3600

    def clear(self) -> None:
        """Back to a healthy agency."""
        self.__init__()  # type: ignore[misc]  # a dataclass reset to its defaults, in place (tests hold it)


@dataclass(kw_only=True)
class OAuthAgency:
    """What every simulated agency API shares: OAuth2 client credentials, bearer checks, injected faults."""

    clients: dict[str, str] = field(default_factory=dict)  # client id -> secret
    faults: Faults = field(default_factory=Faults)
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    token_requests: int = 0
    data_requests: int = 0
    refused_requests: int = 0  # data requests answered 401

    def revoke_all_tokens(self) -> None:
        """Forget every issued token, as an agency does after a key rotation."""
        self.tokens.clear()

    async def _token(self, request: Request) -> Response:
        self.token_requests += 1
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        client_id, secret = basic_credentials(request)
        if client_id is None or not secrets.compare_digest(self.clients.get(client_id, ""), secret or ""):
            return JSONResponse({"error": "invalid_client"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="agency"'})
        token = secrets.token_urlsafe(24)
        ttl = self.faults.token_ttl_seconds
        self.tokens[token] = time.monotonic() + ttl
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": ttl})

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        expiry = self.tokens.get(token) if scheme.lower() == "bearer" else None
        return expiry is not None and expiry > time.monotonic()

    async def _guard(self, request: Request) -> Response | None:
        if not self._authorized(request):
            self.refused_requests += 1
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        self.data_requests += 1
        if self.faults.delay_seconds:
            await asyncio.sleep(self.faults.delay_seconds)
        if self.faults.server_error:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        if self.faults.not_json:
            return Response("<html>maintenance</html>", media_type="application/json")
        return None


@dataclass
class BenefitsAgency(OAuthAgency):
    """The simulator's state: its records, its OAuth clients, tokens and counters."""

    population: Population
    clients: dict[str, str] = field(default_factory=lambda: {"casebridge": "dev-benefits-secret"}, kw_only=True)
    updated: dict[str, datetime] = field(default_factory=dict)  # personId -> last change (default: today)

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/v1/benefits", self._benefits, methods=["GET"]),
            Route("/v1/people", self._people, methods=["GET"]),
            Route("/v1/health", self._health, methods=["GET"]),
        ])

    async def _health(self, _request: Request) -> Response:
        return JSONResponse({"status": "up"})

    async def _benefits(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        ids = request.query_params.getlist("personId")
        if not ids or len(ids) > MAX_BATCH:
            return JSONResponse({"error": "invalid_request",
                                 "error_description": f"give 1 to {MAX_BATCH} personId parameters"},
                                status_code=400)
        items: list[Any] = [self.population.benefits[i] for i in ids if i in self.population.benefits]
        if self.faults.malformed:
            items = [{"personId": i["personId"], "cases": "not-a-list"} for i in items] or [{"cases": 3}]
        return JSONResponse({"asOf": now_iso(), "items": items})

    async def _people(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
            limit = min(500, max(1, int(request.query_params.get("limit", 100))))
            since = request.query_params.get("updatedSince")
            after = datetime.fromisoformat(since) if since else None
        except ValueError:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        created = datetime.combine(self.population.today, datetime.min.time(), UTC)
        people = [{**cast("dict[str, Any]", r["person"]), "updatedAt": self.updated.get(pid, created)}
                  for pid, r in self.population.benefits.items()]
        if after is not None:
            people = [p for p in people if p["updatedAt"] > after]
        people.sort(key=lambda p: (p["updatedAt"], p["personId"]))
        page = [{**p, "updatedAt": p["updatedAt"].isoformat()} for p in people[offset:offset + limit]]
        return JSONResponse({"asOf": now_iso(), "total": len(people), "items": page})

    def move(self, person_id: str, street: str, zip_code: str, when: datetime) -> None:
        """The person reports a new home address at `when`."""
        record = self.population.benefits[person_id]
        record["person"] = {**_person(record), "address": {"street": street, "zip": zip_code}}
        self.updated[person_id] = when

    def touch(self, person_id: str, first_name: str, when: datetime) -> None:
        """A clerk corrects a person's first name at `when` (for incremental sync tests)."""
        record = self.population.benefits[person_id]
        record["person"] = {**_person(record), "firstName": first_name}
        self.updated[person_id] = when


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _person(record: dict[str, object]) -> dict[str, object]:
    """A benefits record's person (a dict, as the generator writes it)."""
    person = record["person"]
    assert isinstance(person, dict)
    return person
