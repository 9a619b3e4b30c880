"""GraphiQL served by the gateway itself: the page and its assets, no CDN.

The assets are vendored under api/graphiql/assets (scripts/vendor-graphiql pins and fetches them; manifest.json
records where each came from). The page names each asset with its Subresource Integrity hash, computed here
from the files served, and a Content-Security-Policy lets it load nothing from anywhere but the gateway.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files

from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

ASSETS_PATH = "/graphiql/assets"

# The page talks only to its own origin: no inline script or style, no other host.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def ide_page() -> str:
    """The GraphiQL page, every asset referenced on this origin with its integrity hash."""
    root = files("api") / "graphiql"
    integrity = {}
    for item in (root / "assets").iterdir():
        if item.name.endswith((".js", ".css")):
            digest = base64.b64encode(hashlib.sha384(item.read_bytes()).digest()).decode()
            integrity[item.name] = f"sha384-{digest}"
    return (root / "index.html").read_text(encoding="utf-8").format(assets=ASSETS_PATH, integrity=integrity)


def ide_response(page: str) -> HTMLResponse:
    return HTMLResponse(page, headers={
        "Content-Security-Policy": CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})


def ide_assets() -> StaticFiles:
    """The vendored files (ETag and If-None-Match handled by Starlette: a reload costs 304s)."""
    return StaticFiles(packages=[("api", "graphiql/assets")])
