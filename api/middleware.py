"""The ASGI edge of every request: a request id, a span, and authentication of /graphql and /documents."""

from __future__ import annotations

import re
import uuid
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import TokenVerifier, bearer_token
from api.http import GRAPHQL_RESPONSE_JSON, check_request, prefers_graphql_response, read_body, replay
from core.errors import AuthenticationError, CasebridgeError, InvalidInput
from core.vocabulary import Purpose
from resolvers.errors import edge_error_body

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
PURPOSE_HEADER = "x-purpose-of-use"


class EdgeMiddleware:
    """Assigns a request id, opens the request span and authenticates GraphQL requests.

    Authentication failures answer 401 before GraphQL runs; the GraphiQL page
    (a GET asking for HTML) is served without a token.
    """

    def __init__(self, app: ASGIApp, *, verifier: TokenVerifier, tracer: trace.Tracer,
                 guarded_path: str = "/graphql", files_path: str = "/documents",
                 max_body_bytes: int = 1_000_000) -> None:
        self.app = app
        self.verifier = verifier
        self.tracer = tracer
        self.guarded_path = guarded_path
        self.files_path = files_path
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":  # no subscriptions: never a way around authentication
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status_holder: dict[str, int] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        with self.tracer.start_as_current_span(
            f"{scope['method']} {scope['path'] if scope['path'] in _KNOWN_PATHS else 'other'}",
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": scope["method"], "casebridge.request_id": request_id},
        ) as span:
            try:
                if self._guarded(scope, headers):
                    modern = prefers_graphql_response(headers.get("accept"))
                    state["graphql_response_json"] = modern
                    try:
                        state["principal"] = await self.verifier.verify(bearer_token(headers.get("authorization")))
                        state["purpose"] = _purpose(headers.get(PURPOSE_HEADER))
                        if scope["method"] == "POST" and not self._files(scope):  # the body, bounded and checked
                            # before any work (a file's body is read by its route, against its own limit, once the
                            # gate has said the caller may send it)
                            body = await read_body(receive, declared=headers.get("content-length"),
                                                   limit=self.max_body_bytes)
                            check_request(headers.get("content-type"), body)
                            receive = replay(body)
                    except CasebridgeError as exc:
                        span.set_attribute("casebridge.error_code", exc.code)
                        await _error_response(exc, send_with_id, modern=modern,
                                              token_sent="authorization" in headers)
                        return
                    span.set_attribute("casebridge.organization", state["principal"].organization)
                await self.app(scope, receive, send_with_id)
            finally:
                if "status" in status_holder:
                    span.set_attribute("http.response.status_code", status_holder["status"])

    def _files(self, scope: Scope) -> bool:
        path = str(scope["path"]).rstrip("/")
        return path == self.files_path or path.startswith(self.files_path + "/")

    def _guarded(self, scope: Scope, headers: dict[str, str]) -> bool:
        if self._files(scope):
            return True
        if scope["path"].rstrip("/") != self.guarded_path:
            return False
        ide_page = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
        return not ide_page


_KNOWN_PATHS = frozenset({"/graphql", "/documents", "/healthz", "/readyz", "/.well-known/jwks.json"})


def _purpose(value: str | None) -> Purpose | None:
    if value is None or not value.strip():
        return None
    try:
        return Purpose(value.strip().lower())
    except ValueError:
        raise InvalidInput(
            "unknown purpose of use", header="X-Purpose-Of-Use",
            suggestion="Use one of: " + ", ".join(p.value for p in Purpose) + ".",
        ) from None


async def _error_response(exc: CasebridgeError, send: Any, *, modern: bool, token_sent: bool) -> None:
    """A request error: nothing was executed, so no `data` (GraphQL over HTTP); the media type the client
    prefers; for a 401 the RFC 6750 challenge (`invalid_token` only when a token was sent)."""
    body = edge_error_body(exc)
    media = GRAPHQL_RESPONSE_JSON if modern else "application/json"
    headers = [(b"content-type", f"{media}; charset=utf-8".encode()), (b"content-length", str(len(body)).encode())]
    if isinstance(exc, AuthenticationError):
        headers.append((b"www-authenticate", b'Bearer error="invalid_token"' if token_sent else b"Bearer"))
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
