"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it takes: the demo's and the tests' mail.

Each message is kept in memory and, with `directory`, written there as one .eml file (what the demo's banner
points at). Addresses in `refuse` are refused at RCPT with 550 (a mailbox that does not exist: a bounce), those in
`defer` with 451 (try again later).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from demo.servers import free_port


@dataclass
class Mailbox:
    """Messages taken, by recipient, and what to refuse."""

    directory: Path | None = None
    refuse: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)
    messages: list[EmailMessage] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        if address in self.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        data = raw if isinstance(raw, bytes) else str(raw).encode()
        message = message_from_bytes(data, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(message)
            n = len(self.messages)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{n:04d}.eml").write_bytes(data)
        return "250 Message accepted for delivery"


class MailServer:
    """The mailbox served over SMTP on 127.0.0.1, started and stopped with a context manager."""

    def __init__(self, mailbox: Mailbox, *, port: int | None = None) -> None:
        self.mailbox = mailbox
        self.port = port or free_port()
        self._controller = Controller(mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._controller.stop()
