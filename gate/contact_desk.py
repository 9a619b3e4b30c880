"""The contact desk: how to reach a client, and whether they agreed to be reached (category contact, held here).

A phone number (for text messages) or an email address is recorded for a client with their opt-in, by the client
or by staff who help them (policies/operations.cedar, action contact.record); it is held for whoever recorded it
and read through the profile's `contact` section like any record: the holder's staff read it, another
organisation only with the client's consent naming contact, the client always. An opt-in names where it came from
(a signed form, or the client's own sign-in) and can be withdrawn; changing it needs both the right to record
contact details for the client and the right to see that contact point (else it is "not found"). Each change is
one operation with its access-log event, which names the contact point's id, never its number or address.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from connectors.held import (
    ContactDetails,
    ContactPoint,
    ContactPreference,
    add_contact_point,
    contact_point,
    set_opt_in,
    set_preference,
)
from core.errors import InvalidInput, RecordNotFound
from core.principal import RequestContext
from core.vocabulary import Action, Category
from gate.gate import Gate
from policies.decisions import Resource, Target

CHANNELS = ("sms", "email")
MAX_SOURCE = 255
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
_HOUR = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def normalize_address(channel: str, address: str) -> str:
    """A phone number as +E.164 (a 10-digit number is taken as North American), an email address trimmed with its
    domain in lower case; InvalidInput (naming the field, never the value) when it is neither."""
    text = address.strip()
    if channel == "email":
        if len(text) > 254 or not _EMAIL.match(text):
            raise InvalidInput("not an email address", field="address")
        local, _, domain = text.rpartition("@")
        return f"{local}@{domain.lower()}"
    if channel != "sms":
        raise InvalidInput(f"the channel is one of {', '.join(CHANNELS)}", field="channel")
    if re.search(r"[^\d\s()+.\-]", text) or text.count("+") > 1 or ("+" in text and not text.startswith("+")):
        raise InvalidInput("not a phone number", field="address")
    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and len(digits) == 10:
        digits = "1" + digits
    if not 11 <= len(digits) <= 15:
        raise InvalidInput("a phone number has its country code and 10 to 14 more digits", field="address")
    return "+" + digits


class ContactDesk:
    """Records contact points, opt-ins and preferences through the gate, each with its access-log event."""

    def __init__(self, *, gate: Gate, source: ContactDetails,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._source = source
        self._clock = clock

    async def add_point(self, ctx: RequestContext, *, client_id: str, channel: str, address: str, opted_in: bool,
                        source_reference: str | None) -> ContactPoint:
        """Record a phone number or email address for a client, with whether they agreed to be contacted there."""
        value = normalize_address(channel, address)
        source = _source(opted_in, source_reference)
        await self._gate.authorize_for_client(ctx, Action.CONTACT_RECORD, client_id)
        await self._gate.require_client(client_id)
        async with self._gate.operation(ctx, Action.CONTACT_RECORD) as op:
            point = await add_contact_point(op.session, client_id=client_id, holder=ctx.principal.organization,
                                            recorded_by=ctx.principal.subject, channel=channel, address=value,
                                            opted_in=opted_in, opt_in_source=source, now=self._clock())
            op.log(client_id, detail=f"contact point {point.id} ({channel}, opted {'in' if opted_in else 'out'})")
        return point

    async def set_opt_in(self, ctx: RequestContext, *, point_id: str, opted_in: bool,
                         source_reference: str | None) -> ContactPoint:
        """Give or withdraw the client's agreement to be contacted at one contact point."""
        source = _source(opted_in, source_reference)
        hidden = RecordNotFound("no contact point with this id is visible to you", field="id")
        async with self._gate.operation(ctx, Action.CONTACT_RECORD) as op:
            found = await contact_point(op.session, point_id)
            if found is None:
                raise op.not_found(hidden, "contact-point")
            sees = found.client_id in await self._gate.visible_identity(ctx, [found.client_id])
            await op.require(Action.CONTACT_RECORD, Target.client(found.client_id, sees_identity=sees), hidden=hidden)
            # and the contact point itself must be one the caller may see (its holder's, or by the client's consent)
            (seen,) = await self._gate.decide(ctx, [Resource(found.client_id, Category.CONTACT, found.holder,
                                                             self._source.name, held_here=True)])
            op.require_seen(seen, found.client_id, hidden)
            point = await set_opt_in(op.session, point_id, opted_in=opted_in, source=source, now=self._clock())
            op.log(found.client_id, detail=f"contact point {point_id} (opted {'in' if opted_in else 'out'})")
        return point

    async def set_preference(self, ctx: RequestContext, *, client_id: str, preferred_channel: str | None,
                             language: str, quiet_from: str | None, quiet_until: str | None) -> ContactPreference:
        """Record how the client prefers to be reached: a channel (or none), a language, hours without messages."""
        if preferred_channel is not None and preferred_channel not in CHANNELS:
            raise InvalidInput(f"the channel is one of {', '.join(CHANNELS)}", field="preferredChannel")
        lang = language.strip()
        if not _LANGUAGE.match(lang):
            raise InvalidInput("a language is a code such as en, es or zh-Hant", field="language")
        if (quiet_from is None) != (quiet_until is None):
            raise InvalidInput("quiet hours need both a start and an end", field="quietHoursFrom")
        for name, hour in (("quietHoursFrom", quiet_from), ("quietHoursUntil", quiet_until)):
            if hour is not None and not _HOUR.match(hour):
                raise InvalidInput("a time is HH:MM, 00:00 to 23:59", field=name)
        await self._gate.authorize_for_client(ctx, Action.CONTACT_RECORD, client_id)
        await self._gate.require_client(client_id)
        async with self._gate.operation(ctx, Action.CONTACT_RECORD) as op:
            pref = await set_preference(op.session, client_id=client_id, holder=ctx.principal.organization,
                                        recorded_by=ctx.principal.subject, preferred_channel=preferred_channel,
                                        language=lang, quiet_from=quiet_from, quiet_until=quiet_until,
                                        now=self._clock())
            op.log(client_id, detail="contact preferences")
        return pref


def _source(opted_in: bool, source_reference: str | None) -> str | None:
    """Where an opt-in came from: required for an opt-in (a signed form's reference, or the client's own words for
    their own sign-in), kept for an opt-out when given."""
    text = (source_reference or "").strip()
    if len(text) > MAX_SOURCE:
        raise InvalidInput(f"a source reference is at most {MAX_SOURCE} characters", field="sourceReference")
    if opted_in and not text:
        raise InvalidInput("an opt-in names where it came from (the signed form, or the client's own sign-in)",
                           field="sourceReference")
    return text or None
