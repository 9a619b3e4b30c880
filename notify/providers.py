"""The small adapters to the providers that carry messages: an SMTP server for email, an HTTP SMS provider.

Each answers one question - did the provider take the message (ACCEPTED, with its id), should it be tried again
later (RETRY: the provider was down, slow or said "try later"), or will it never go (FAILED, or BOUNCED: the
address itself was refused)? - with an error code, never the provider's text (it may echo the address).

Sending twice is what a crash between "the provider took it" and "the outbox wrote that down" would do. The SMS
provider gets the message's idempotency key (`Idempotency-Key`, as Stripe, Plivo, MessageBird and others honour
it; the demo's simulator does): the same key is one message. SMTP has no such thing: a retried email carries the
same Message-ID (from the key), which mail stores use to drop a copy, but an SMTP server may deliver both. The
window is the moment between the server's "250 OK" and the outbox's commit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from enum import StrEnum
from typing import Protocol

import aiohttp
import aiosmtplib

from notify.config import SmsSettings, SmtpSettings


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    RETRY = "retry"
    FAILED = "failed"
    BOUNCED = "bounced"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message as it leaves: where to, what it says, and the key that makes a repeat the same message."""

    idempotency_key: str
    to: str
    subject: str | None
    body: str


@dataclass(frozen=True, slots=True)
class SendResult:
    outcome: Outcome
    provider_message_id: str | None = None
    error: str | None = None  # a code: smtp-550, http-503, timeout, ...


class Sender(Protocol):
    """A provider for one channel."""

    channel: str

    async def send(self, message: Outgoing) -> SendResult: ...

    async def aclose(self) -> None: ...


class SmtpSender:
    """Email through an SMTP server (aiosmtplib), one connection per message."""

    channel = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self._s = settings
        self._domain = settings.from_address.rpartition("@")[2] or "casebridge.invalid"

    def message_id(self, key: str) -> str:
        """The Message-ID of every try of one message: from its idempotency key, so a repeat is the same message."""
        return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{self._domain}>"

    async def send(self, message: Outgoing) -> SendResult:
        email = EmailMessage()
        email["From"], email["To"] = self._s.from_address, message.to
        email["Subject"] = message.subject or ""
        email["Date"] = formatdate(usegmt=True)
        email["Message-ID"] = mid = self.message_id(message.idempotency_key)
        email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to a reminder
        email.set_content(message.body)
        password = self._s.password.get_secret_value() if self._s.password else None
        try:
            await aiosmtplib.send(
                email, hostname=self._s.host, port=self._s.port, username=self._s.username, password=password,
                use_tls=self._s.security == "tls", start_tls=self._s.security == "starttls",
                timeout=self._s.timeout_seconds)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            code = min((r.code for r in exc.recipients), default=550)
            return _smtp(code, bounced=True)
        except aiosmtplib.SMTPRecipientRefused as exc:
            return _smtp(exc.code, bounced=True)
        except aiosmtplib.SMTPAuthenticationError as exc:
            return SendResult(Outcome.RETRY, error=f"smtp-auth-{exc.code}")  # our configuration: keep, retry
        except aiosmtplib.SMTPResponseException as exc:
            return _smtp(exc.code, bounced=False)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return SendResult(Outcome.RETRY, error=f"smtp-{type(exc).__name__}"[:64])
        return SendResult(Outcome.ACCEPTED, provider_message_id=mid)

    async def aclose(self) -> None:
        return None


def _smtp(code: int, *, bounced: bool) -> SendResult:
    if 400 <= code < 500:
        return SendResult(Outcome.RETRY, error=f"smtp-{code}")
    return SendResult(Outcome.BOUNCED if bounced else Outcome.FAILED, error=f"smtp-{code}")


# The provider's error codes that say the number itself is no good (not a moment's trouble): a bounce.
SMS_BAD_NUMBER = frozenset({"21211", "21614", "30006"})  # invalid number, not a mobile, landline/unreachable
SMS_UNSUBSCRIBED = frozenset({"21610"})  # the recipient replied STOP at the carrier


class HttpSmsSender:
    """Text messages through an HTTP provider: POST {base}/v1/Accounts/{account}/Messages (form: To, From, Body,
    StatusCallback), HTTP basic auth with the account and its token, the idempotency key in a header."""

    channel = "sms"

    def __init__(self, settings: SmsSettings, *, status_callback: str | None) -> None:
        self._s = settings
        self._callback = status_callback
        self._http: aiohttp.ClientSession | None = None

    async def send(self, message: Outgoing) -> SendResult:
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self._s.timeout_seconds))
        form = {"To": message.to, "From": self._s.from_number, "Body": message.body}
        if self._callback:
            form["StatusCallback"] = self._callback
        url = f"{self._s.base_url.rstrip('/')}/v1/Accounts/{self._s.account}/Messages"
        basic = base64.b64encode(f"{self._s.account}:{self._s.auth_token.get_secret_value()}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Idempotency-Key": message.idempotency_key}
        try:
            async with self._http.post(url, data=form, headers=headers) as resp:
                if resp.status >= 500 or resp.status == 429:
                    return SendResult(Outcome.RETRY, error=f"http-{resp.status}")
                answer = await resp.json(content_type=None)
                if resp.status >= 400:
                    raw = str(answer.get("code", "")) if isinstance(answer, Mapping) else ""
                    code = raw if re.fullmatch(r"\d{1,8}", raw) else ""  # digits only: never the provider's text
                    if code in SMS_BAD_NUMBER:
                        return SendResult(Outcome.BOUNCED, error=f"sms-{code}")
                    if code in SMS_UNSUBSCRIBED:
                        return SendResult(Outcome.BOUNCED, error=f"sms-{code}")
                    if resp.status in (401, 403):  # our credentials: nothing the message can do, keep it
                        return SendResult(Outcome.RETRY, error=f"http-{resp.status}")
                    return SendResult(Outcome.FAILED, error=f"sms-{code or resp.status}"[:64])
                sid = answer.get("sid") if isinstance(answer, Mapping) else None
                if not isinstance(sid, str) or not sid:
                    return SendResult(Outcome.RETRY, error="sms-no-id")
                return SendResult(Outcome.ACCEPTED, provider_message_id=sid[:128])
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return SendResult(Outcome.RETRY, error=f"sms-{type(exc).__name__}"[:64])

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


def signature(token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature of a provider's callback: HMAC-SHA256 with the account's token over the URL it was sent to
    followed by each form field's name and value in name order (as the common providers sign), in base64."""
    payload = url + "".join(f"{k}{params[k]}" for k in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha256).digest()).decode()


def signed(token: str, url: str, params: Mapping[str, str], given: str | None) -> bool:
    """Whether a callback carries the signature of the account's token (compared in constant time)."""
    return given is not None and hmac.compare_digest(signature(token, url, params).encode(),
                                                     given.encode("utf-8", "replace"))
