"""OAuth2 client-credentials tokens for agency APIs: cached, refreshed before expiry."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Mapping
from typing import Any

import aiohttp

from core.errors import AgencyAuthFailed, AgencyBadData, AgencyNotFound, AgencyTimeout, AgencyUnavailable

REFRESH_MARGIN_SECONDS = 30.0
# what an agency answering with a redirect is told (casebridge follows none: connectors.http.agency_session)
REDIRECT_REFUSED = "a redirect, which casebridge does not follow"
REDIRECT_SUGGESTION = "Set the connector's base URL to where the agency's API answers."


class ClientCredentials:
    """Fetches and caches one bearer token (RFC 6749 section 4.4, HTTP Basic client auth)."""

    def __init__(
        self, *, connector: str, token_url: str, client_id: str, client_secret: str,
        scope: str | None = None,
    ) -> None:
        self.connector = connector
        self.token_url = token_url
        self._auth = "Basic " + base64.b64encode(f"{client_id}:{client_secret}".encode()).decode("ascii")
        self._scope = scope
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self, http: aiohttp.ClientSession, options: Mapping[str, Any] | None = None) -> str:
        """A valid token; fetches a new one if missing (see invalidate) or close to expiry (`options` go with the
        request: connectors.http.request_options)."""
        async with self._lock:
            if self._token is None or time.monotonic() >= self._expires_at:
                await self._fetch(http, options or {})
            assert self._token is not None
            return self._token

    def invalidate(self, token: str | None = None) -> None:
        """Drop the cached token (the agency said 401 to it); a token already replaced is left alone, so
        concurrent requests refused together refresh once."""
        if token is None or token == self._token:
            self._token = None

    async def _fetch(self, http: aiohttp.ClientSession, options: Mapping[str, Any]) -> None:
        who = f"the {self.connector} agency"
        data = {"grant_type": "client_credentials"}
        if self._scope:
            data["scope"] = self._scope
        try:
            async with http.post(self.token_url, data=data, headers={"Authorization": self._auth}, **options) as resp:
                status, content = resp.status, await resp.read()
        except TimeoutError as exc:
            raise AgencyTimeout(f"{who}'s token endpoint timed out",
                connector=self.connector) from exc
        except aiohttp.ClientError as exc:
            raise AgencyUnavailable(f"{who}'s token endpoint is unreachable",
                connector=self.connector) from exc
        if status in (400, 401, 403):
            raise AgencyAuthFailed(
                f"{who} refused casebridge's client credentials", connector=self.connector,
                suggestion="Check the connector's client id and secret.",
            )
        if status == 404:
            raise AgencyNotFound(f"{who} has no token endpoint where casebridge asks (HTTP 404)",
                                 connector=self.connector)
        if status >= 500:
            raise AgencyUnavailable(f"{who}'s token endpoint answered {status}",
                                    connector=self.connector)
        if 300 <= status < 400:
            raise AgencyBadData(f"{who}'s token endpoint answered {status}, {REDIRECT_REFUSED}",
                                connector=self.connector, suggestion=REDIRECT_SUGGESTION)
        if status != 200:
            raise AgencyBadData(f"{who}'s token endpoint answered {status}", connector=self.connector)
        try:
            body = json.loads(content)
            token = body["access_token"]
            ttl = float(body.get("expires_in", 300))
            if not isinstance(token, str) or not token:
                raise ValueError("empty token")
        except (ValueError, KeyError, TypeError) as exc:
            raise AgencyBadData(f"{who}'s token response is malformed",
                connector=self.connector) from exc
        self._token = token
        self._expires_at = time.monotonic() + max(0.0, ttl - min(REFRESH_MARGIN_SECONDS, ttl / 2))
