"""The SMS provider's webhooks: delivery status callbacks and inbound texts, each signed with the account's token.

Not behind a bearer token (the provider has none): a request whose signature (notify/providers.signature, over the
URL the provider was given and the form's fields) does not verify is refused with 403 before anything is read or
changed. A status moves a message forward only (notify/outbox.apply_status), so a repeated callback is harmless;
an inbound STOP or START changes the opt-in of every contact point of that number (notify/keywords.py).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.services import Services
from notify import outbox
from notify.providers import SMS_BAD_NUMBER, SMS_UNSUBSCRIBED, signed

log = logging.getLogger("casebridge.notify")

STATUS_PATH, INBOUND_PATH = "/hooks/sms/status", "/hooks/sms/inbound"
MAX_FORM_BYTES = 16_384
# the provider's words for where a message is -> the outbox's (queued/accepted/sending say nothing new)
_STATUS = {"sent": "sent", "delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def hook_routes(services: Services) -> list[Route]:
    """The provider's two webhooks."""
    settings = services.settings
    token = settings.notify.sms.auth_token.get_secret_value()
    base = settings.public_url.rstrip("/")

    async def form(request: Request, path: str) -> dict[str, str] | Response:
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_FORM_BYTES:
            return Response(status_code=413 if length and length.isdigit() else 411)
        fields = {k: v for k, v in (await request.form(max_fields=50)).items() if isinstance(v, str)}
        if not signed(token, base + path, fields, request.headers.get("X-Signature")):
            log.warning("a webhook call to %s was refused: its signature does not verify", path)
            return Response(status_code=403)
        return fields

    async def status(request: Request) -> Response:
        fields = await form(request, STATUS_PATH)
        if isinstance(fields, Response):
            return fields
        sid, said = fields.get("MessageSid", ""), fields.get("MessageStatus", "")
        code = _code(fields.get("ErrorCode"))
        ours = _STATUS.get(said.lower())
        if ours == "failed" and code in SMS_BAD_NUMBER:
            ours = "bounced"
        elif ours == "failed" and code in SMS_UNSUBSCRIBED:
            ours = "opted_out"
        if sid and ours:
            async with services.sessions.begin() as session:
                await outbox.apply_status(session, sid[:128], ours, now=datetime.now(UTC),
                                          error=f"sms-{code}"[:64] if code else None)
        return Response(status_code=204)

    async def inbound(request: Request) -> Response:
        fields = await form(request, INBOUND_PATH)
        if isinstance(fields, Response):
            return fields
        sid = fields.get("MessageSid", "")
        if not sid:
            return Response(status_code=400)
        await services.keywords.inbound(sid, fields.get("From", ""), fields.get("Body", "")[:1600])
        return Response(status_code=204)

    return [Route(STATUS_PATH, status, methods=["POST"]), Route(INBOUND_PATH, inbound, methods=["POST"])]


def _code(value: str | None) -> str | None:
    """A provider's error code as we keep it: digits only (a provider that echoed the number or its own text
    would put personal data in the delivery log)."""
    if value is None or value == "":
        return None
    return value if re.fullmatch(r"\d{1,8}", value) else "other"
