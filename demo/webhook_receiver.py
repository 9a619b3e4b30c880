"""A partner system's webhook endpoint, for the demo and the tests: it checks each call's signature
(connectors/webhooks.verify) and keeps what it was told; it can be told to fail the next calls, to show retries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from connectors.webhooks import DELIVERY_HEADER, SIGNATURE_HEADER, verify

PATH = "/hooks/casebridge"


@dataclass
class WebhookReceiver:
    """What a partner's system received: each verified call's payload, and every refused one's reason."""

    secret: str = ""
    fail_next: int = 0  # answer 503 to this many calls first
    received: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            body = await request.body()
            if not verify(self.secret, request.headers.get(SIGNATURE_HEADER), body):
                self.refused.append("bad signature")
                return Response(status_code=401)
            if self.fail_next > 0:
                self.fail_next -= 1
                return Response(status_code=503)
            delivery = request.headers.get(DELIVERY_HEADER, "")
            if delivery not in self.seen:  # a retry of a call already taken changes nothing
                self.seen.add(delivery)
                self.received.append(json.loads(body))
            return Response(status_code=204)

        async def received(_request: Request) -> Response:
            return JSONResponse(self.received)

        return Starlette(routes=[Route(PATH, hook, methods=["POST"]), Route("/received", received, methods=["GET"])])
