"""An SMS provider simulator, shaped like the common HTTP providers, for the demo and the tests.

    POST /v1/Accounts/{account}/Messages   form To, From, Body, StatusCallback; HTTP basic auth (account, token);
                                           an Idempotency-Key header makes a repeat the same message (same sid)
    then, to StatusCallback, signed status callbacks (X-Signature, notify.providers.signature): sent, then
    delivered - or failed, or undelivered with a carrier error code, as the number's outcome says.

    GET  /sim/messages                     every message it took (and its own keyword replies), newest last
    POST /sim/outcome   {"to", "outcome"}  what happens to the next messages to a number: deliver (default), fail,
                                           bounce (undelivered, 30006), invalid (refused: 21211), unavailable
                                           (HTTP 503, as a provider that is down), hold (taken, answered only after
                                           `hold_seconds`: the moment a sender may crash in)
    POST /sim/inbound   {"from", "body"}   a client's text to the city's number: answered (STOP, START, HELP, as
                                           providers do) and sent to the gateway's inbound webhook, signed
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notify.config import DEMO_SMS_TOKEN
from notify.keywords import Keyword, keyword
from notify.providers import signature

OUTCOMES = ("deliver", "fail", "bounce", "invalid", "unavailable", "hold")
REPLIES = {
    Keyword.STOP: "You will get no more messages from this number. Reply START to get them again.",
    Keyword.START: "You will get reminders from this number again. Reply STOP to end, HELP for help.",
    Keyword.HELP: "City reminders from casebridge. Ask your caseworker, or sign in to your account. Reply STOP to "
                  "end.",
}


@dataclass
class SmsProvider:
    """The simulator's state: what it took, and what it does next to each number."""

    account: str = "demo-account"
    token: str = DEMO_SMS_TOKEN
    inbound_url: str | None = None  # the gateway's /hooks/sms/inbound
    hold_seconds: float = 5.0
    messages: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    requests: int = 0  # every send request, repeats and refusals included
    _by_key: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, number: str) -> list[dict[str, Any]]:
        """The messages taken for one number."""
        with self._lock:
            return [m for m in self.messages if m["to"] == number]

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/v1/Accounts/{account}/Messages", self._send, methods=["POST"]),
            Route("/sim/messages", self._list, methods=["GET"]),
            Route("/sim/outcome", self._outcome, methods=["POST"]),
            Route("/sim/inbound", self._inbound, methods=["POST"]),
        ])

    def _authorized(self, request: Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account}:{self.token}".encode()).decode()
        return (request.path_params["account"] == self.account
                and secrets.compare_digest(request.headers.get("authorization", ""), expected))

    async def _send(self, request: Request) -> Response:
        with self._lock:
            self.requests += 1
        if not self._authorized(request):
            return JSONResponse({"code": 20003, "message": "Authenticate"}, status_code=401)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        to, key = form.get("To", ""), request.headers.get("idempotency-key")
        with self._lock:
            if key and key in self._by_key:  # the same message again: the same answer, nothing sent twice
                return JSONResponse(_public(self._by_key[key]), status_code=200)
            outcome = self.outcomes.get(to, "deliver")
            if outcome == "unavailable":
                return JSONResponse({"code": 20500, "message": "Service unavailable"}, status_code=503)
            if outcome == "invalid" or not to.startswith("+"):
                return JSONResponse({"code": 21211, "message": "The 'To' number is not a valid phone number"},
                                    status_code=400)
            message = {"sid": "SM" + secrets.token_hex(16), "to": to, "from": form.get("From", ""),
                       "body": form.get("Body", ""), "status": "queued", "at": datetime.now(UTC).isoformat(),
                       "callback": form.get("StatusCallback")}
            self.messages.append(message)
            if key:
                self._by_key[key] = message
        if outcome == "hold":  # answer late, or not at all if the sender is gone by then
            deadline = asyncio.get_running_loop().time() + self.hold_seconds
            while asyncio.get_running_loop().time() < deadline:
                if await request.is_disconnected():
                    return Response(status_code=499)
                await asyncio.sleep(0.05)
        return JSONResponse(_public(message), status_code=201,
                            background=BackgroundTask(self._report, message, outcome))

    async def _report(self, message: dict[str, Any], outcome: str) -> None:
        """The status callbacks of one message: sent, then where it ended."""
        ends: dict[str, tuple[str, str | None]] = {"fail": ("failed", "30008"), "bounce": ("undelivered", "30006")}
        steps: list[tuple[str, str | None]] = [("sent", None), ends.get(outcome, ("delivered", None))]
        for status, code in steps:
            message["status"] = status
            if message["callback"]:
                fields = {"MessageSid": message["sid"], "MessageStatus": status, "To": message["to"]}
                if code:
                    fields["ErrorCode"] = code
                await self._post(message["callback"], fields)

    async def _post(self, url: str, fields: dict[str, str]) -> None:
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:
                await http.post(url, data=fields, headers={"X-Signature": signature(self.token, url, fields)})
        except httpx.HTTPError:
            pass  # like a provider: a callback that fails is not retried here

    async def _list(self, _request: Request) -> Response:
        with self._lock:
            return JSONResponse([_public(m) for m in self.messages])

    async def _outcome(self, request: Request) -> Response:
        body = await request.json()
        if body.get("outcome") not in OUTCOMES or not isinstance(body.get("to"), str):
            return JSONResponse({"error": f"outcome is one of {', '.join(OUTCOMES)}; to is a number"},
                                status_code=400)
        with self._lock:
            self.outcomes[body["to"]] = body["outcome"]
        return JSONResponse({"to": body["to"], "outcome": body["outcome"]})

    async def _inbound(self, request: Request) -> Response:
        body = await request.json()
        sender, text = str(body.get("from", "")), str(body.get("body", ""))
        word = keyword(text)
        if word is not None:  # the provider answers the keyword itself
            with self._lock:
                self.messages.append({"sid": "SM" + secrets.token_hex(16), "to": sender, "from": "city",
                                      "body": REPLIES[word], "status": "delivered",
                                      "at": datetime.now(UTC).isoformat(), "callback": None})
        if self.inbound_url:
            await self._post(self.inbound_url, {"MessageSid": "SM" + secrets.token_hex(16), "From": sender,
                                                "To": "city", "Body": text})
        return JSONResponse({"keyword": word.value if word else None})

    def inbound(self, sender: str, text: str) -> None:
        """A client's text (for tests): as POST /sim/inbound, from this thread."""
        if self.inbound_url:
            fields = {"MessageSid": "SM" + secrets.token_hex(16), "From": sender, "To": "city", "Body": text}
            httpx.post(self.inbound_url, data=fields,
                       headers={"X-Signature": signature(self.token, self.inbound_url, fields)}, timeout=5.0)


def _public(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "callback"}
