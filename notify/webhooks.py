"""Sends the webhook deliveries recorded with each referral change (connectors/webhooks.py): signed, with a timeout,
retried with exponential backoff and jitter until the subscriber answers 2xx or `max_attempts` is reached; what
became of each try is in the delivery log. A subscriber's URL was checked when it subscribed
(gate/webhook_desk.py); redirects are not followed; and at each call its host name is resolved, every address it
has must be a public one (this machine's only in development, where the settings allow it), and the call goes to
the address that was checked - a name that points into the city's network, now or a moment after the check (DNS
rebinding), is not called."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import ssl
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    WebhookSettings,
    claim,
    finish,
    public_address,
    sign,
)

log = logging.getLogger("casebridge.webhooks")


class Blocked(Exception):
    """A subscriber's host that must not be called (its code is the delivery log's result)."""


class WebhookSender:
    """Makes the due webhook calls."""

    def __init__(self, *, sessions: async_sessionmaker[Any], settings: WebhookSettings, production: bool = True,
                 http: httpx.AsyncClient | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._sessions = sessions
        self._s = settings
        self._loopback_ok = settings.allow_loopback_http and not production
        # made on the first delivery: an HTTP client's TLS context costs 20 ms (cProfile, 2026-12-05), paid by every
        # gateway start otherwise, most of which never call a webhook
        self._http = http
        self._clock = clock

    async def deliver_due(self, limit: int = 20) -> int:
        """Try every due delivery once; how many were delivered."""
        now = self._clock()
        due = await claim(self._sessions, now=now, lease=timedelta(seconds=self._s.lease_seconds), limit=limit)
        if due and self._http is None:
            # no connection kept between calls: each call's TLS handshake checks the certificate against its own
            # subscriber's name (a kept connection is matched by address only); no proxy from the environment
            # (one would connect by the name again, past the address check)
            verify = ssl.create_default_context(cafile=str(self._s.ca_file)) if self._s.ca_file else True
            self._http = httpx.AsyncClient(timeout=self._s.timeout_seconds, follow_redirects=False, trust_env=False,
                                           limits=httpx.Limits(max_keepalive_connections=0), verify=verify)
        delivered = 0
        for d in due:
            assert self._http is not None
            try:
                url, host, extensions = await self._pinned(d.url)
                resp = await self._http.post(url, content=d.body, extensions=extensions, headers={
                    "Host": host, "Content-Type": "application/json", SIGNATURE_HEADER: sign(d.secret, d.body),
                    DELIVERY_HEADER: d.id, "User-Agent": "casebridge-webhooks"})
                ok, result = 200 <= resp.status_code < 300, f"http-{resp.status_code}"
            except Blocked as exc:
                ok, result = False, str(exc)
            except httpx.TimeoutException:
                ok, result = False, "timeout"
            except Exception as exc:  # any failure is this delivery's try, never the round's: the others go on
                ok, result = False, type(exc).__name__.lower()[:64]
            now = self._clock()
            retry = None if ok or d.attempts >= self._s.max_attempts else now + self._backoff(d.attempts)
            await finish(self._sessions, d.id, ok=ok, result=result, now=now, retry_at=retry)
            delivered += ok
            if not ok:
                log.warning("webhook delivery %s: %s (attempt %d%s)", d.id, result, d.attempts,
                            "" if retry else ", given up")
        return delivered

    async def _pinned(self, url: str) -> tuple[str, str, dict[str, Any]]:
        """(the URL with its host replaced by the address checked, the Host header, the TLS server name): the
        host resolved now, each of its addresses checked, the first one called - with the certificate still
        checked against the name."""
        try:
            parts = urlsplit(url)
            name = (parts.hostname or "").encode("idna").decode("ascii")  # an international name, as DNS knows it
            port = parts.port
        except (ValueError, UnicodeError):
            raise Blocked("bad-url") from None
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                name, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
            addresses = [ipaddress.ip_address(str(info[4][0])) for info in found]
        except (OSError, ValueError, UnicodeError):
            raise Blocked("unresolvable") from None
        if not addresses or not all(public_address(a) or (a.is_loopback and self._loopback_ok) for a in addresses):
            raise Blocked("blocked-address")
        first = addresses[0]
        at = f":{port}" if port else ""
        where = urlunsplit((parts.scheme, (f"[{first}]" if first.version == 6 else str(first)) + at,
                            parts.path or "/", parts.query, ""))
        return where, name + at, ({"sni_hostname": name} if parts.scheme == "https" else {})

    def _backoff(self, attempts: int) -> timedelta:
        base = min(self._s.backoff_seconds * 2 ** max(0, attempts - 1), self._s.backoff_max_seconds)
        return timedelta(seconds=base * random.uniform(0.8, 1.2))  # jitter, not a secret

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()

