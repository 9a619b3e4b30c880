"""The web console at /app, served by the gateway: one page, its ES modules, catalogues, queries and vendored files.

The console is a client of the public GraphQL API like any partner's front-end would be: it signs people in
with the city's OpenID provider (authorization code with PKCE, in the browser) and sends their access token
and purpose of use with every request to /graphql. It asks for nothing the API does not offer; its queries are
the named documents under api/console/queries, checked against schema.graphql by the tests. No build step:
the files under api/console are served as they are (scripts/vendor-console refreshes the third-party ones).
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.settings import Settings

CONSOLE_PATH = "/app"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def console_routes(settings: Settings) -> list[BaseRoute]:
    """/app (the page), /app/config.json (where to sign in), /app/static/... (everything else)."""
    root = files("api") / "console"
    issuer = str(settings.console.oidc_issuer or settings.auth.issuer).rstrip("/")
    languages = sorted(item.name.removesuffix(".json") for item in (root / "locales").iterdir()
                       if item.name.endswith(".json"))
    config = {
        "issuer": issuer, "clientId": settings.console.client_id, "scope": settings.console.scope,
        "resource": settings.console.resource or settings.auth.audience, "graphql": "/graphql",
        "documents": "/documents",
        "requestDays": settings.documents.request_days,  # a document asked for is due this many days later
        "languages": languages,
        "organizations": [{"code": code, "name": name} for code, name in settings.console.organizations.items()],
        "queries": sorted(item.name.removesuffix(".graphql")
                                                  for item in (root / "queries").iterdir()
                                                  if item.name.endswith(".graphql")),
    }
    # Scripts, styles, fonts and images from this origin only (and a document's photo the page fetched itself, as a
    # blob: URL); calls to /graphql, /documents and to the provider's token endpoint (the code exchange and
    # refreshes); no inline script or style, no frames, no other host.
    connect = "'self'" + (f" {_origin(issuer)}" if issuer.startswith(("http://", "https://")) else "")
    csp = (f"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
           f"connect-src {connect}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    page = (root / "index.html").read_text(encoding="utf-8")
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
               "Cache-Control": "no-store"}

    async def index(_request: Request) -> Response:
        return HTMLResponse(page, headers=headers)

    async def to_index(_request: Request) -> Response:
        return RedirectResponse(f"{CONSOLE_PATH}/", status_code=308)

    async def console_config(_request: Request) -> Response:
        return JSONResponse(config, headers={"Cache-Control": "no-store"})

    static = _WithHeaders(StaticFiles(packages=[("api", "console")]),
                          {k: v for k, v in headers.items() if k != "Cache-Control"})  # ETags revalidate them
    return [
        Route(CONSOLE_PATH, to_index, methods=["GET"]),
        Route(f"{CONSOLE_PATH}/", index, methods=["GET"]),
        Route(f"{CONSOLE_PATH}/config.json", console_config, methods=["GET"]),
        Mount(f"{CONSOLE_PATH}/static", app=static),
    ]


class _WithHeaders:
    """Every response of `app` carries `headers`: a file under /app/static (index.html among them) is never
    served without the page's policy."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.raw]
            await send(message)

        await self.app(scope, receive, send_with_headers)
