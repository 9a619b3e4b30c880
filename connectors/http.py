"""An agency's REST API behind OAuth2 client credentials: one place for the token dance and error mapping.

The HTTP client is aiohttp, not httpx: measured against the Ed-Fi simulator on
127.0.0.1 (benchmarks/README.md, fan-out), a GET costs ~0.2 ms of the event
loop's CPU with aiohttp and ~0.7 ms with httpx, and three concurrent GETs (one
student's resources) 0.4 ms against 2.2 ms (httpcore checks every pooled
connection's socket through anyio on each request). Every profile request
makes several such calls on the gateway's one event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp.helpers import get_env_proxy_for_url
from multidict import CIMultiDictProxy
from pydantic import TypeAdapter, ValidationError
from yarl import URL

from connectors.oauth import REDIRECT_REFUSED, REDIRECT_SUGGESTION, ClientCredentials
from core.errors import AgencyAuthFailed, AgencyBadData, AgencyNotFound, AgencyTimeout, AgencyUnavailable

T = TypeVar("T")

Params = Mapping[str, str | int] | Sequence[tuple[str, str | int]]


def parse_payload(adapter: TypeAdapter[T], content: bytes, *, connector: str, what: str) -> T:
    """An agency's JSON checked against its published shape, or AgencyBadData naming where it differs.

    Only field locations, never values: the payload is personal data.
    """
    try:
        return adapter.validate_json(content)
    except ValidationError as exc:
        where = sorted({".".join(str(p) for p in e["loc"][:3]) for e in exc.errors()})[:3]
        raise AgencyBadData(f"the {connector} agency returned {what}", connector=connector, fields=where) from None


@dataclass(frozen=True, slots=True)
class AgencyResponse:
    """A response read whole: status, headers (case-insensitive) and body."""

    status_code: int
    headers: CIMultiDictProxy[str]
    content: bytes

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not)."""
        return json.loads(self.content)


class HttpSession:
    """An aiohttp session opened on first use in the running event loop (and again if the loop changed), and the
    options every request to the agency is sent with (`options`), both worked out by agency_session when it
    opens."""

    def __init__(self, *, base_url: str, timeout_seconds: float, headers: Mapping[str, str] | None = None) -> None:
        self._base = URL(base_url)
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._headers = dict(headers or {})
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.options: dict[str, Any] = {}

    def get(self) -> aiohttp.ClientSession:
        """The session for the running loop."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            headers, self.options = agency_session(self._base, self._headers)
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=headers, raise_for_status=False)
            self._loop = loop
        return self._session

    async def aclose(self) -> None:
        """Close the connection pool (if it belongs to the running loop; a finished loop took it along)."""
        session, self._session = self._session, None
        if session is not None and not session.closed and self._loop is asyncio.get_running_loop():
            await session.close()


def agency_session(url: URL, headers: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """The default headers of a session for the agency at `url`, and the options each of its requests is sent
    with: no redirect followed, and the proxy the environment names for it (HTTP_PROXY / HTTPS_PROXY and
    NO_PROXY; its credentials from its URL or ~/.netrc), looked up once.

    aiohttp's `trust_env` looks the proxy up, and the request's own credentials in ~/.netrc, on a worker thread
    before every request: two thread hops per agency GET (benchmarks/README.md: schooling 53.71 -> 52.17 ms at
    50 ms latency), and a ~/.netrc naming the agency's host made every call a ValueError beside our bearer token.
    A redirect is not followed: an agency's API answers where it is configured, and a redirect would take the
    proxy chosen for the agency's host (or NO_PROXY's exemption of it) to another host. The proxy's credentials
    go to the proxy alone: on the CONNECT of an https agency, else on the request the proxy forwards (aiohttp
    deprecates its proxy_auth, and applies proxy_headers to a CONNECT only).
    """
    out, options = dict(headers), dict[str, Any](allow_redirects=False)
    try:
        proxy, credentials = get_env_proxy_for_url(url)
    except LookupError:  # no proxy for the scheme, or NO_PROXY names the host
        return out, options
    options["proxy"] = proxy
    if credentials is not None:
        if url.scheme == "https":
            options["proxy_headers"] = {"Proxy-Authorization": credentials.encode()}
        else:
            out["Proxy-Authorization"] = credentials.encode()
    return out, options


class AgencyApi:
    """GETs with a cached bearer token, refreshed once on a 401; every failure becomes a typed AgencyError."""

    def __init__(
        self, *, connector: str, base_url: str, token_url: str, client_id: str, client_secret: str,
        timeout_seconds: float,
    ) -> None:
        self.connector = connector
        self.timeout_seconds = timeout_seconds
        self._base = base_url.rstrip("/")
        self._urls: dict[str, URL] = {}
        self.http = HttpSession(base_url=self._base, timeout_seconds=timeout_seconds,
                                headers={"Accept": "application/json"})
        self._creds = ClientCredentials(connector=connector, token_url=token_url, client_id=client_id,
                                        client_secret=client_secret)

    @classmethod
    def from_config(cls, connector: str, config: Any) -> AgencyApi:
        """From a connector config (base_url, client_id, client_secret, timeout_seconds); token at /oauth/token."""
        base = str(config.base_url).rstrip("/")
        return cls(connector=connector, base_url=base, token_url=f"{base}/oauth/token", client_id=config.client_id,
                   client_secret=config.client_secret.get_secret_value(), timeout_seconds=config.timeout_seconds)

    async def get(self, path: str, *, params: Params | None = None) -> AgencyResponse:
        """A 200 response, or AgencyTimeout / AgencyUnavailable / AgencyAuthFailed / AgencyBadData."""
        who = f"the {self.connector} agency"
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base + path)
        for attempt in (1, 2):
            session = self.http.get()
            token = await self._creds.token(session, self.http.options)
            try:
                async with session.get(url, params=params, headers={"Authorization": f"Bearer {token}"},
                                       **self.http.options) as r:
                    resp = AgencyResponse(r.status, r.headers, await r.read())
            except TimeoutError as exc:
                raise AgencyTimeout(f"{who} did not answer within {self.timeout_seconds:g}s",
                                    connector=self.connector) from exc
            except aiohttp.ClientError as exc:
                raise AgencyUnavailable(f"{who} is unreachable", connector=self.connector) from exc
            if resp.status_code == 401 and attempt == 1:
                self._creds.invalidate(token)
                continue  # refresh (once, however many requests were refused together) and retry
            if resp.status_code == 401:
                raise AgencyAuthFailed(f"{who} refused casebridge's token", connector=self.connector)
            if resp.status_code == 403:  # the token is good; its claim set does not cover this resource
                resource = path.rstrip("/").rsplit("/", 1)[-1]
                raise AgencyAuthFailed(f"{who} does not let casebridge read {resource}", connector=self.connector,
                                       resource=resource, status=403)
            if resp.status_code == 404:
                raise AgencyNotFound(f"{who} has no route {path} (HTTP 404)", connector=self.connector)
            if resp.status_code >= 500:
                raise AgencyUnavailable(f"{who} answered {resp.status_code}", connector=self.connector)
            if 300 <= resp.status_code < 400:
                raise AgencyBadData(f"{who} answered {resp.status_code}, {REDIRECT_REFUSED}", connector=self.connector,
                                    suggestion=REDIRECT_SUGGESTION)
            if resp.status_code != 200:
                raise AgencyBadData(f"{who} answered {resp.status_code}", connector=self.connector)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
