"""The ASGI application factory: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from api.keys import load_or_create_dev_key, public_jwks
from api.middleware import EdgeMiddleware
from api.services import Services, build_services
from api.settings import Settings
from core.errors import AuditUnavailable
from core.principal import RequestContext
from resolvers.context import Context
from resolvers.errors import add_codes
from resolvers.schema import build_schema


class _GraphQLApp(GraphQL[Context, None]):
    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        state = request.scope["state"]
        principal = state.get("principal")  # absent only for the GraphiQL page (see EdgeMiddleware)
        writes: list[Awaitable[None]] = state.setdefault("audit_writes", [])
        ctx = None if principal is None else RequestContext(
            principal=principal, request_id=state["request_id"], purpose=state.get("purpose"), audit_writes=writes)
        return Context(gate=self.services.gate, consents=self.services.desk, audit=self.services.audit_desk,
                       identity=self.services.identity_desk, request_context=ctx)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:  # type: ignore[override]
        # The access-log writes of this request ran while the result was completed;
        # none of it leaves before they are durable, and all of it is dropped if one failed.
        failure = await _settle(request.scope["state"].get("audit_writes") or [])
        if failure is not None:
            fields = result.data or {}
            return {"data": {name: None for name in fields} or None,
                    "errors": [{"message": failure.message, "extensions": failure.extensions}]}
        data = await super().process_result(request, result)
        if data.get("errors"):
            add_codes(data["errors"])  # type: ignore[arg-type]
        return data


async def _settle(writes: list[Awaitable[None]]) -> AuditUnavailable | None:
    """Await every pending write; the first failure (any error counts: fail closed), else None."""
    failure: AuditUnavailable | None = None
    while writes:
        pending, writes[:] = list(writes), []
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException) and failure is None:
                failure = outcome if isinstance(outcome, AuditUnavailable) else AuditUnavailable(
                    "the access log could not be written")
    return failure


def create_app(settings: Settings, *, services: Services | None = None) -> Starlette:
    """The gateway: /graphql, /healthz, /readyz, and in development the dev JWKS."""
    services = services or build_services(settings)
    schema = build_schema(
        max_depth=settings.limits.max_depth, max_tokens=settings.limits.max_tokens,
        max_aliases=settings.limits.max_aliases, cache_size=settings.limits.cache_size,
        introspection=settings.introspection_enabled,
    )
    graphql = _GraphQLApp(
        services, schema=schema, graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=False,
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        store_ok = True
        try:
            async with services.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the store means not ready
            store_ok = False
        connectors = {
            s.name: {"state": s.state, "lastSuccess": _iso(s.last_success),
                     "lastFailure": _iso(s.last_failure), "lastErrorCode": s.last_error_code,
                     "circuit": s.circuit}
            for s in (c.status() for c in services.connectors)
        }
        body = {"status": "ready" if store_ok else "not ready", "store": "up" if store_ok else "down",
                "connectors": connectors}
        return JSONResponse(body, status_code=200 if store_ok else 503)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
    ]
    if settings.auth.uses_dev_keys and settings.is_development:
        jwks = public_jwks(load_or_create_dev_key(settings.auth.dev_key_file))

        async def dev_jwks(_request: Request) -> Response:
            return JSONResponse(jwks)

        routes.append(Route("/.well-known/jwks.json", dev_jwks, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await services.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.services = services
    app.add_middleware(
        EdgeMiddleware, verifier=services.verifier,
        tracer=services.tracer_provider.get_tracer("casebridge.api"),
    )
    return app


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def app_from_environment() -> Starlette:
    """The app for `uvicorn --factory`: settings from the environment."""
    return create_app(Settings())
