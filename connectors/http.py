"""An agency's REST API behind OAuth2 client credentials: one place for the token dance and error mapping."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from connectors.oauth import ClientCredentials
from core.errors import AgencyAuthFailed, AgencyBadData, AgencyTimeout, AgencyUnavailable

T = TypeVar("T")


def parse_payload(adapter: TypeAdapter[T], content: bytes, *, connector: str, what: str) -> T:
    """An agency's JSON checked against its published shape, or AgencyBadData naming where it differs.

    Only field locations, never values: the payload is personal data.
    """
    try:
        return adapter.validate_json(content)
    except ValidationError as exc:
        where = sorted({".".join(str(p) for p in e["loc"][:3]) for e in exc.errors()})[:3]
        raise AgencyBadData(f"the {connector} agency returned {what}", connector=connector, fields=where) from None


class AgencyApi:
    """GETs with a cached bearer token, refreshed once on a 401; every failure becomes a typed AgencyError."""

    def __init__(
        self, *, connector: str, base_url: str, token_url: str, client_id: str, client_secret: str,
        timeout_seconds: float, transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connector = connector
        self.timeout_seconds = timeout_seconds
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_seconds),
                                      transport=transport, headers={"Accept": "application/json"})
        self._creds = ClientCredentials(connector=connector, token_url=token_url, client_id=client_id,
                                        client_secret=client_secret)

    @classmethod
    def from_config(cls, connector: str, config: Any, transport: httpx.AsyncBaseTransport | None = None) -> AgencyApi:
        """From a connector config (base_url, client_id, client_secret, timeout_seconds); token at /oauth/token."""
        base = str(config.base_url).rstrip("/")
        return cls(connector=connector, base_url=base, token_url=f"{base}/oauth/token", client_id=config.client_id,
                   client_secret=config.client_secret.get_secret_value(), timeout_seconds=config.timeout_seconds,
                   transport=transport)

    async def get(self, path: str, *, params: Any = None) -> httpx.Response:
        """A 200 response, or AgencyTimeout / AgencyUnavailable / AgencyAuthFailed / AgencyBadData."""
        who = f"the {self.connector} agency"
        for attempt in (1, 2):
            token = await self._creds.token(self.http)
            try:
                resp = await self.http.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            except httpx.TimeoutException as exc:
                raise AgencyTimeout(f"{who} did not answer within {self.timeout_seconds:g}s",
                                    connector=self.connector) from exc
            except httpx.HTTPError as exc:
                raise AgencyUnavailable(f"{who} is unreachable", connector=self.connector) from exc
            if resp.status_code == 401 and attempt == 1:
                self._creds.invalidate(token)
                continue  # refresh (once, however many requests were refused together) and retry
            if resp.status_code in (401, 403):
                raise AgencyAuthFailed(f"{who} refused casebridge's token", connector=self.connector)
            if resp.status_code >= 500:
                raise AgencyUnavailable(f"{who} answered {resp.status_code}", connector=self.connector)
            if resp.status_code != 200:
                raise AgencyBadData(f"{who} answered {resp.status_code}", connector=self.connector)
            return resp
        raise AssertionError("unreachable")  # pragma: no cover

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
