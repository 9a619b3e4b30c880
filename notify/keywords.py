"""Carrier keywords on inbound text messages: STOP ends messages to that number, START brings them back, HELP asks
what this is.

A text from a number is the client's own word about being contacted there: each client who gave that number has
their opt-in changed (START: only where a STOP by text ended it) through the contact desk as if they had signed in
themself (core.principal.client_by_text;
policies/operations.cedar, client-records-own-contact-details), with its access-log event. A family phone shared
by several clients stops for all of them. The provider answers the keyword itself (as the common providers do
for STOP, START and HELP, with the texts the city registered); casebridge records what it changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.errors import InvalidInput
from core.principal import RequestContext, client_by_text
from core.vocabulary import Purpose
from gate.contact_desk import ContactDesk, normalize_address
from store.held_tables import ContactPoint, InboundText


class Keyword(StrEnum):
    STOP = "STOP"
    START = "START"
    HELP = "HELP"


# The words carriers treat as each keyword (CTIA; the common providers' lists), in English and Spanish.
WORDS = {
    Keyword.STOP: {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE", "PARAR", "ALTO",
                   "CANCELAR", "BAJA"},
    Keyword.START: {"START", "YES", "UNSTOP", "SUBSCRIBE", "OPTIN", "SI", "SÍ", "COMENZAR", "ALTA"},
    Keyword.HELP: {"HELP", "INFO", "AYUDA"},
}
SOURCE = {Keyword.STOP: "STOP by text message", Keyword.START: "START by text message"}


def keyword(body: str) -> Keyword | None:
    """The keyword a text is, if it is one: the whole message, one word, any case, punctuation around it."""
    word = body.strip().strip(".!¡¿?").upper()
    return next((k for k, words in WORDS.items() if word in words), None)


class Keywords:
    """Applies STOP and START from a number to every contact point of it."""

    def __init__(self, *, contact: ContactDesk, sessions: async_sessionmaker[Any],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._contact, self._sessions, self._clock = contact, sessions, clock

    async def inbound(self, provider_sid: str, from_number: str, body: str) -> tuple[Keyword | None, int]:
        """Handle one inbound text, once (a replayed webhook call with the same provider id changes nothing);
        (its keyword, how many contact points changed)."""
        word = keyword(body)
        if word not in SOURCE:
            return word, 0
        try:
            number = normalize_address("sms", from_number)
        except InvalidInput:  # not a number we could have recorded: nothing to change
            return word, 0
        try:
            async with self._sessions.begin() as session:
                session.add(InboundText(provider_sid=provider_sid[:64], received_at=self._clock()))
        except IntegrityError:
            return word, 0  # already acted on
        async with self._sessions() as session:
            points = list((await session.execute(
                select(ContactPoint.id, ContactPoint.client_id, ContactPoint.opted_in, ContactPoint.opt_in_source)
                .where(ContactPoint.channel == "sms", ContactPoint.address == number))).all())
        want = word is Keyword.START
        changed = 0
        for point_id, client_id, opted_in, source in points:
            if bool(opted_in) == want:
                continue
            # START undoes a STOP by text, and nothing else: never an opt-out the client gave on a form or in
            # their account, nor a number recorded without their agreement (someone else's START on a shared
            # phone must not opt them in)
            if want and source != SOURCE[Keyword.STOP]:
                continue
            ctx = RequestContext(client_by_text(client_id), f"sms-{uuid.uuid4().hex[:16]}", Purpose.CLIENT_ACCESS,
                                 "inboundText")
            await self._contact.set_opt_in(ctx, point_id=point_id, opted_in=want, source_reference=SOURCE[word])
            changed += 1
        return word, changed
