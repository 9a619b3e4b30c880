"""Records casebridge holds itself, as one more source behind the gate (DESIGN.md, Records held here).

An agency's connector holds its records for one organisation; a held-here source
holds items for many - each item carries its holder (the organisation that
recorded it) and whether the holder shared it with the client. The gate asks a
source which (client, category, holder, shared) groups it holds, decides each
group as it decides an agency's section, and fetches only the permitted ones.

Case notes (category casework), contact details (category contact: a client's phone numbers and email
addresses with their opt-in, and how they prefer to be reached) and appointments scheduled here (category
appointments, beside the benefits agency's own).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.records import Appointment
from core.errors import AgencyUnavailable
from core.principal import RequestContext
from core.vocabulary import Category
from store.held_tables import Appointment as AppointmentRow
from store.held_tables import CaseNote as CaseNoteRow
from store.held_tables import ContactPoint as ContactPointRow
from store.held_tables import ContactPreference as ContactPreferenceRow
from store.held_tables import Message as MessageRow
from store.held_tables import MessageEvent as MessageEventRow

# (client id, category, holder organisation, shared with the client)
Group = tuple[str, Category, str, bool]


class HeldSource(Protocol):
    """Items casebridge holds for many holders, fetched only group by permitted group."""

    name: str  # shown as the section's connector, e.g. "casebridge-notes"
    categories: frozenset[Category]
    # True: the caller's own organisation has a part in every section of these categories, held or not (case
    # notes, contact: where staff write). False: a part only where something is held (appointments, whose
    # section is mostly an agency's: no empty part beside it for every caller).
    own_part_always: bool

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which groups hold at least one item (never the items themselves)."""
        ...

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[Any]]:
        """The items of `groups`, as `viewer` (the caller the gate decided them for) is shown them; raises
        AgencyUnavailable if the store cannot be read."""
        ...

    def sort_key(self, item: Any) -> Any:
        """How a section's items are ordered (descending)."""
        ...

    def as_of(self) -> datetime:
        """When the source's data was true (held here: now)."""
        ...


@dataclass(frozen=True, slots=True)
class CaseNote:
    """A note about a client, written by a caseworker or partner, held for their organisation."""

    id: str
    client_id: str
    holder: str
    author: str
    text: str
    shared_with_client: bool
    created_at: datetime


MAX_NOTE = 10_000  # characters


class CaseNotes:
    """Case notes in the store."""

    name = "casebridge-notes"
    categories = frozenset({Category.CASEWORK})
    own_part_always = True

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which (client, holder, shared) groups hold notes."""
        if Category.CASEWORK not in categories:
            return set()
        n = CaseNoteRow
        stmt = (select(n.client_id, n.holder, n.shared_with_client).where(n.client_id.in_(list(client_ids)))
                .distinct())
        try:
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).all()
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("case notes could not be read", connector=self.name) from exc
        return {(cid, Category.CASEWORK, holder, bool(shared)) for cid, holder, shared in rows}

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[CaseNote]]:
        """The notes of the permitted groups."""
        if not groups:
            return {}
        n = CaseNoteRow
        keys = [(cid, holder, shared) for cid, _cat, holder, shared in groups]
        stmt = select(n).where(tuple_(n.client_id, n.holder, n.shared_with_client).in_(keys))
        out: dict[Group, list[CaseNote]] = defaultdict(list)
        try:
            async with self._sessions() as session:
                for row in (await session.execute(stmt)).scalars():
                    out[(row.client_id, Category.CASEWORK, row.holder, row.shared_with_client)].append(_note(row))
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("case notes could not be read", connector=self.name) from exc
        return dict(out)

    def sort_key(self, item: CaseNote) -> Any:
        """Newest first."""
        return (item.created_at, item.id)

    def as_of(self) -> datetime:
        """Held here, so true now."""
        return datetime.now(UTC)


async def add_note(session: AsyncSession, *, client_id: str, holder: str, author: str, text: str,
                   shared_with_client: bool, now: datetime) -> CaseNote:
    """Write one note in the caller's transaction (the gate's operation, with its access-log event)."""
    row = CaseNoteRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, category=Category.CASEWORK.value,
                      author_subject=author, text=text, shared_with_client=shared_with_client, created_at=now)
    session.add(row)
    await session.flush()
    return _note(row)


def _note(row: CaseNoteRow) -> CaseNote:
    return CaseNote(row.id, row.client_id, row.holder, row.author_subject, row.text, bool(row.shared_with_client),
                    row.created_at)


@dataclass(frozen=True, slots=True)
class ContactPoint:
    """Where a client can be reached (a phone for text messages, an email address) and whether they agreed to be."""

    id: str
    client_id: str
    holder: str
    channel: str  # sms | email
    address: str
    verified: bool
    opted_in: bool
    opt_in_source: str | None
    recorded_by: str
    recorded_at: datetime
    opt_in_changed_at: datetime


@dataclass(frozen=True, slots=True)
class ContactPreference:
    """How a client prefers to be reached: a channel, a language, hours without messages."""

    client_id: str
    holder: str
    preferred_channel: str | None
    language: str
    quiet_from: str | None
    quiet_until: str | None
    recorded_by: str
    recorded_at: datetime


# What a message is about, as its subject says it: kind:holder:id (at most 160 characters). Written and read here
# only (the planner, the appointment desk, the profile's sections).
SUBJECT_CATEGORIES = {"appointment": Category.APPOINTMENTS, "notice": Category.BENEFITS, "document": Category.DOCUMENTS,
                      "referral": Category.CASEWORK, "task": Category.CASEWORK, "goal": Category.CASEWORK}


def subject(kind: str, holder: str, record_id: str) -> str:
    """The subject of messages about one record: e.g. subject("appointment", "HRA", "APT-1")."""
    return f"{kind}:{holder}:{record_id}"[:160]


def about(subject_: str) -> tuple[Category | None, str]:
    """(category, holder) of the record a subject names; (None, "") for one that is not of this form."""
    kind, _, rest = subject_.partition(":")
    return SUBJECT_CATEGORIES.get(kind), rest.partition(":")[0]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message to the client (a reminder), as the client and the staff who may see it read it: what it said,
    by which channel, and what became of it. Held for the organisation whose record it is about."""

    id: str
    client_id: str
    holder: str
    kind: str  # appointment_reminder | notice_due | document_requested | document_rejected
    subject: str  # what it is about: appointment:<holder>:<id>, notice:<holder>:<id>, document:<holder>:<id>
    channel: str
    status: str  # queued | sent | delivered | failed | bounced | opted_out | cancelled | expired
    send_after: datetime
    sent_at: datetime | None
    body: str | None  # what was sent, once sent
    error: str | None
    updated_at: datetime

    @property
    def recorded_at(self) -> datetime:  # ordered with the contact points, newest first
        return self.updated_at


def sent_message(row: MessageRow) -> SentMessage:
    """One outbox row as the section shows it."""
    return SentMessage(row.id, row.client_id, row.holder, row.kind, row.subject, row.channel, row.status,
                       row.send_after, row.sent_at, row.body, row.error, row.updated_at)


class ContactDetails:
    """Contact points and preferences in the store (category contact), each held for whoever recorded it; and
    the messages sent to the client, each held for the organisation whose record it is about."""

    name = "casebridge-contact"
    categories = frozenset({Category.CONTACT})
    own_part_always = True

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which (client, holder) groups hold contact details (always the client's own to read)."""
        if Category.CONTACT not in categories:
            return set()
        ids = list(client_ids)
        points = select(ContactPointRow.client_id, ContactPointRow.holder).where(ContactPointRow.client_id.in_(ids))
        prefs = select(ContactPreferenceRow.client_id, ContactPreferenceRow.holder).where(
            ContactPreferenceRow.client_id.in_(ids))
        sent = select(MessageRow.client_id, MessageRow.holder).where(MessageRow.client_id.in_(ids))
        try:
            async with self._sessions() as session:
                rows = [*(await session.execute(points.distinct())).all(), *(await session.execute(prefs)).all(),
                        *(await session.execute(sent.distinct())).all()]
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("contact details could not be read", connector=self.name) from exc
        return {(cid, Category.CONTACT, holder, True) for cid, holder in rows}

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[ContactPoint | ContactPreference | SentMessage]]:
        """The contact points, preferences and messages of the permitted groups."""
        if not groups:
            return {}
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        out: dict[Group, list[ContactPoint | ContactPreference | SentMessage]] = defaultdict(list)
        try:
            async with self._sessions() as session:
                p, q = ContactPointRow, ContactPreferenceRow
                for row in (await session.execute(select(p).where(tuple_(p.client_id, p.holder).in_(keys)))).scalars():
                    out[(row.client_id, Category.CONTACT, row.holder, True)].append(_point(row))
                for pref in (await session.execute(select(q).where(tuple_(q.client_id, q.holder).in_(keys)))).scalars():
                    out[(pref.client_id, Category.CONTACT, pref.holder, True)].append(_preference(pref))
                m = MessageRow
                for msg in (await session.execute(select(m).where(tuple_(m.client_id, m.holder).in_(keys)))).scalars():
                    out[(msg.client_id, Category.CONTACT, msg.holder, True)].append(sent_message(msg))
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("contact details could not be read", connector=self.name) from exc
        return dict(out)

    def sort_key(self, item: ContactPoint | ContactPreference | SentMessage) -> Any:
        """Newest first."""
        return (item.recorded_at, getattr(item, "id", ""))

    def as_of(self) -> datetime:
        """Held here, so true now."""
        return datetime.now(UTC)


async def add_contact_point(session: AsyncSession, *, client_id: str, holder: str, recorded_by: str, channel: str,
                            address: str, opted_in: bool, opt_in_source: str | None, now: datetime) -> ContactPoint:
    """Record one contact point in the caller's transaction (the gate's operation, with its access-log event)."""
    row = ContactPointRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, channel=channel, address=address,
                          verified=False, opted_in=opted_in, opt_in_source=opt_in_source, recorded_by=recorded_by,
                          recorded_at=now, opt_in_changed_at=now)
    session.add(row)
    await session.flush()
    return _point(row)


async def contact_point(session: AsyncSession, point_id: str) -> ContactPoint | None:
    """One contact point by id (its holder and client, for the gate to decide on), or None."""
    row = await session.get(ContactPointRow, point_id)
    return _point(row) if row is not None else None


async def set_opt_in(session: AsyncSession, point_id: str, *, opted_in: bool, source: str | None,
                     now: datetime) -> ContactPoint:
    """Change a contact point's opt-in in the caller's transaction."""
    row = await session.get(ContactPointRow, point_id)
    assert row is not None  # the desk read it in this transaction
    if bool(row.opted_in) != opted_in:  # the time of the last change of mind, not of the last click
        row.opt_in_changed_at = now
    row.opted_in, row.opt_in_source = opted_in, source
    await session.flush()
    return _point(row)


async def set_preference(session: AsyncSession, *, client_id: str, holder: str, recorded_by: str,
                         preferred_channel: str | None, language: str, quiet_from: str | None,
                         quiet_until: str | None, now: datetime) -> ContactPreference:
    """Record how a client prefers to be reached (replacing what this holder recorded before; another holder's
    record stays theirs), in the caller's transaction."""
    row = await session.get(ContactPreferenceRow, (client_id, holder))
    if row is None:
        row = ContactPreferenceRow(client_id=client_id, holder=holder)
        session.add(row)
    row.recorded_by, row.recorded_at = recorded_by, now
    row.preferred_channel, row.language, row.quiet_from, row.quiet_until = (
        preferred_channel, language, quiet_from, quiet_until)
    await session.flush()
    return _preference(row)


def _point(row: ContactPointRow) -> ContactPoint:
    return ContactPoint(row.id, row.client_id, row.holder, row.channel, row.address, bool(row.verified),
                        bool(row.opted_in), row.opt_in_source, row.recorded_by, row.recorded_at, row.opt_in_changed_at)


def _preference(row: ContactPreferenceRow) -> ContactPreference:
    return ContactPreference(row.client_id, row.holder, row.preferred_channel, row.language, row.quiet_from,
                             row.quiet_until, row.recorded_by, row.recorded_at)


APPOINTMENT_STATUSES = ("SCHEDULED", "RESCHEDULED", "COMPLETED", "MISSED", "CANCELED")


class Appointments:
    """Appointments scheduled in casebridge (category appointments), each held for the organisation that
    scheduled it and shared with the client, whose appointment it is."""

    name = "casebridge-appointments"
    categories = frozenset({Category.APPOINTMENTS})
    own_part_always = False

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which (client, holder) groups hold appointments."""
        if Category.APPOINTMENTS not in categories:
            return set()
        a = AppointmentRow
        stmt = select(a.client_id, a.holder).where(a.client_id.in_(list(client_ids))).distinct()
        try:
            async with self._sessions() as session:
                rows = (await session.execute(stmt)).all()
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("appointments could not be read", connector=self.name) from exc
        return {(cid, Category.APPOINTMENTS, holder, True) for cid, holder in rows}

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[Appointment]]:
        """The appointments of the permitted groups."""
        if not groups:
            return {}
        a = AppointmentRow
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        out: dict[Group, list[Appointment]] = defaultdict(list)
        try:
            async with self._sessions() as session:
                for row in (await session.execute(select(a).where(tuple_(a.client_id, a.holder).in_(keys)))).scalars():
                    out[(row.client_id, Category.APPOINTMENTS, row.holder, True)].append(_appointment(row))
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("appointments could not be read", connector=self.name) from exc
        return dict(out)

    def sort_key(self, item: Appointment) -> Any:
        """Latest first (the profile orders the merged list soonest first)."""
        return (item.scheduled_at, item.appointment_id)

    def as_of(self) -> datetime:
        """Held here, so true now."""
        return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class HeldAppointment:
    """An appointment held here, with what the gate decides on (its client and holder)."""

    client_id: str
    appointment: Appointment


async def add_appointment(session: AsyncSession, *, client_id: str, holder: str, recorded_by: str, type: str,
                          scheduled_at: datetime, duration_minutes: int | None, mode: str, location: str | None,
                          at_stake: str | None, now: datetime) -> HeldAppointment:
    """Record one appointment in the caller's transaction (the gate's operation, with its access-log event)."""
    row = AppointmentRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, type=type,
                         scheduled_at=scheduled_at, duration_minutes=duration_minutes, mode=mode, location=location,
                         status="SCHEDULED", at_stake=at_stake, recorded_by=recorded_by, recorded_at=now,
                         updated_at=now)
    session.add(row)
    await session.flush()
    return HeldAppointment(client_id, _appointment(row))


async def held_appointment(session: AsyncSession, appointment_id: str) -> HeldAppointment | None:
    """One appointment held here by id (with its client and holder, for the gate to decide on), or None."""
    row = await session.get(AppointmentRow, appointment_id)
    return HeldAppointment(row.client_id, _appointment(row)) if row is not None else None


async def change_appointment(session: AsyncSession, appointment_id: str, *, status: str,
                             scheduled_at: datetime | None, mode: str | None, location: str | None,
                             now: datetime) -> HeldAppointment:
    """Change an appointment's status, time or place in the caller's transaction (None: unchanged)."""
    row = await session.get(AppointmentRow, appointment_id)
    assert row is not None  # the desk read it in this transaction
    row.status, row.updated_at = status, now
    if scheduled_at is not None:
        row.scheduled_at = scheduled_at
    if mode is not None:
        row.mode = mode
    if location is not None:
        row.location = location or None
    await session.flush()
    return HeldAppointment(row.client_id, _appointment(row))


def _appointment(row: AppointmentRow) -> Appointment:
    return Appointment(row.id, row.holder, row.type, row.scheduled_at, row.mode, row.location, row.status,
                       at_stake=row.at_stake, duration_minutes=row.duration_minutes, held_here=True)


async def cancel_messages(session: AsyncSession, ids: Sequence[str], *, now: datetime, reason: str) -> int:
    """Cancel queued messages in the caller's transaction: a conditional update, so a message a worker is sending
    right now (a live lease) or just sent is never overwritten. How many were cancelled."""
    cancelled = 0
    for mid in ids:
        done = await session.execute(
            update(MessageRow).where(MessageRow.id == mid, MessageRow.status == "queued",
                                     (MessageRow.lease_until.is_(None)) | (MessageRow.lease_until < now))
            .values(status="cancelled", error=reason, updated_at=now, lease_owner=None, lease_until=None))
        if getattr(done, "rowcount", 0) == 1:
            session.add(MessageEventRow(message_id=mid, status="cancelled", detail=reason, at=now))
            cancelled += 1
    await session.flush()
    return cancelled


async def cancel_messages_about(session: AsyncSession, client_id: str, subject_: str, *, now: datetime,
                                reason: str) -> int:
    """Cancel the queued messages about one record (a plan's task done, say), at once."""
    ids = list((await session.execute(select(MessageRow.id).where(
        MessageRow.client_id == client_id, MessageRow.subject == subject_, MessageRow.status == "queued"))).scalars())
    return await cancel_messages(session, ids, now=now, reason=reason)


async def cancel_reminders_of(session: AsyncSession, appointment: HeldAppointment, *, now: datetime) -> int:
    """Cancel the queued reminders of one appointment held here (it was kept, missed, cancelled or moved): at
    once, not at the planner's next pass."""
    about_it = subject("appointment", appointment.appointment.agency, appointment.appointment.appointment_id)
    return await cancel_messages_about(session, appointment.client_id, about_it, now=now,
                                       reason="appointment-changed")
