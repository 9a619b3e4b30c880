"""The ASGI application factory: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from api.console import console_routes
from api.documents import document_routes
from api.hooks import hook_routes
from api.http import GRAPHQL_RESPONSE_JSON
from api.ide import ASSETS_PATH, ide_assets, ide_page, ide_response
from api.keys import load_or_create_dev_key, public_jwks
from api.middleware import EdgeMiddleware
from api.services import Services, build_services
from api.settings import Settings
from audit.chain_writer import log_writable
from audit.witness import witness
from core.principal import RequestContext
from resolvers.context import Context
from resolvers.errors import response_errors
from resolvers.schema import build_schema
from store.durability import durability_problems
from store.engine import STORE_FAILURES


class _GraphQLApp(GraphQL[Context, None]):
    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.services = services
        self._ide_page = ide_page() if self.graphql_ide else ""

    async def render_graphql_ide(self, request: Request) -> Response:
        return ide_response(self._ide_page)  # our page and assets, served here (api/ide.py), not strawberry's CDN

    # strawberry's hooks also take a WebSocket; this app serves no subscriptions, so ours take a Request
    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]  # ^
        return Context(gate=self.services.gate, consents=self.services.desk, audit=self.services.audit_desk,
                       identity=self.services.identity_desk, notes=self.services.notes,
                       contact=self.services.contact, appointments=self.services.appointments,
                       documents=self.services.documents, directory=self.services.directory,
                       referrals=self.services.referrals, webhooks=self.services.webhooks,
                       plans=self.services.plans, legal=self.services.legal,
                       checklists=self.services.checklists, request_context=None)

    async def execute_operation(self, request: Request, request_adapter: Any, request_data: Any,
                                context: Context, root_value: Any, sub_response: Any) -> Any:
        # The request context is built here, once, when the operation's name is known (the body has been read),
        # and is never replaced. Absent only for the GraphiQL page (see EdgeMiddleware), which runs no resolver.
        state = request.scope["state"]
        principal = state.get("principal")
        name = getattr(request_data, "operation_name", None)
        if principal is not None:
            context.request_context = RequestContext(
                principal=principal, request_id=state["request_id"], purpose=state.get("purpose"),
                operation=name[:255] if isinstance(name, str) and name else None)
        return await super().execute_operation(
            request=request, request_adapter=request_adapter, request_data=request_data, context=context,
            root_value=root_value, sub_response=sub_response)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        if result.errors:
            data["errors"] = cast("list[object]", response_errors(result.errors))
        state = request.scope["state"]
        # A request error: the document did not parse or validate, so nothing ran (no error has a path).
        if result.data is None and result.errors and all(e.path is None for e in result.errors):
            state["request_error"] = True
            if state.get("graphql_response_json"):
                data.pop("data", None)  # GraphQL over HTTP: a request error carries no data
        return data

    async def run(self, request: Request, context: Any = UNSET,  # type: ignore[override]  # HTTP only, as above
                  root_value: Any = UNSET) -> Any:
        response = await super().run(request, context=context, root_value=root_value)
        state = request.scope["state"]
        if state.get("graphql_response_json") and isinstance(response, Response) and (
                response.headers.get("content-type", "").startswith("application/json")):
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
            if state.get("request_error"):
                response.status_code = 400
        return response


log = logging.getLogger("casebridge.api")


def create_app(settings: Settings, *, services: Services | None = None) -> Starlette:
    """The gateway: /graphql, /healthz, /readyz, and in development the dev JWKS."""
    services = services or build_services(settings)
    schema = build_schema(
        max_depth=settings.limits.max_depth, max_tokens=settings.limits.max_tokens,
        max_aliases=settings.limits.max_aliases, cache_size=settings.limits.cache_size,
        introspection=settings.introspection_enabled, suggestions=settings.is_development,
    )
    graphql = _GraphQLApp(
        services, schema=schema, graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=False,
    )

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "alive"})

    async def readyz(_request: Request) -> Response:
        # Ready only while the access log can be written: no audit record, no data. In production also only on
        # a store that keeps what it acknowledges (a crash must not lose the events of answers already sent).
        store_ok = await log_writable(services.engine)
        try:
            undurable = await durability_problems(services.engine) if store_ok else []
        except STORE_FAILURES:
            store_ok, undurable = False, []
        connectors = {
            s.name: {"state": s.state, "lastSuccess": _iso(s.last_success),
                     "lastFailure": _iso(s.last_failure), "lastErrorCode": s.last_error_code,
                     "circuit": s.circuit}
            for s in (c.status() for c in services.connectors)
        }
        ready = store_ok and not (undurable and not settings.is_development)
        body = {"status": "ready" if ready else "not ready", "store": "up" if store_ok else "down",
                "accessLog": "writable" if store_ok else "not writable", "durable": store_ok and not undurable,
                "durabilityProblems": undurable, "connectors": connectors}
        return JSONResponse(body, status_code=200 if ready else 503)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/graphql", graphql, methods=["GET", "POST"]),
        *document_routes(services),
    ]
    if settings.graphiql_enabled:
        routes.append(Mount(ASSETS_PATH, app=ide_assets()))
    if settings.console.enabled:
        routes.extend(console_routes(settings))
    if settings.notify.enabled:
        routes.extend(hook_routes(services))
    if settings.auth.uses_dev_keys and settings.is_development:
        jwks = public_jwks(load_or_create_dev_key(settings.auth.dev_key_file))

        async def dev_jwks(_request: Request) -> Response:
            return JSONResponse(jwks)

        routes.append(Route("/.well-known/jwks.json", dev_jwks, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        witnessing = (asyncio.create_task(_witness_every(services, settings.audit.witness_every_seconds))
                      if settings.audit.witness_every_seconds > 0 else None)
        stop_notifying = asyncio.Event()
        notifying = (asyncio.create_task(services.run_due_work(stop_notifying))
                     if settings.notify.run_in_gateway else None)
        try:
            yield
        finally:
            stop_notifying.set()
            if notifying is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await notifying
            if witnessing is not None:
                witnessing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await witnessing
            await services.aclose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.services = services
    app.add_middleware(
        EdgeMiddleware, verifier=services.verifier,
        tracer=services.tracer_provider.get_tracer("casebridge.api"), max_body_bytes=settings.limits.max_body_bytes,
    )
    return app


async def _witness_every(services: Services, seconds: float) -> None:
    """Sign where the access log ends every `seconds`, and append it to the witness (audit/witness.py)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await witness(services.sessions, services.signer, services.settings.audit.witness_file)
        except Exception as exc:  # the next round tries again; readiness reports an unwritable log
            log.error("witnessing the access log failed (%s)", type(exc).__name__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def app_from_environment() -> Starlette:
    """The app for `uvicorn --factory`: settings from the environment."""
    return create_app(Settings())
