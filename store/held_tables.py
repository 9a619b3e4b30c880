"""Tables of the records casebridge holds itself, made by the people who use it (DESIGN.md, Records held here).

Each item has a holder (the organisation that recorded it, or the client) and a
category, and the gate decides on it exactly as on an agency's record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class CaseNote(Base):
    """A caseworker's note about a client (category casework), held for the organisation that wrote it."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_client_id_holder", "client_id", "holder"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation that recorded it
    category: Mapped[str] = mapped_column(String(32), default="casework")
    author_subject: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    # whether the client may read it (self-service): the holder's choice when writing it
    shared_with_client: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactPoint(Base):
    """A phone number (for text messages) or an email address of a client's (category contact), with the client's
    opt-in to be contacted there; held for the organisation that recorded it (or the client's own sign-in)."""

    __tablename__ = "contact_points"
    __table_args__ = (Index("ix_contact_points_client_id_holder", "client_id", "holder"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    holder: Mapped[str] = mapped_column(String(64))  # the organisation that recorded it
    channel: Mapped[str] = mapped_column(String(8))  # sms | email
    address: Mapped[str] = mapped_column(String(320))  # +E.164 for sms, the mailbox for email
    verified: Mapped[bool] = mapped_column(default=False)  # proven to reach the client (a code sent and returned)
    opted_in: Mapped[bool] = mapped_column(default=False)  # the client agreed to be contacted here
    opt_in_source: Mapped[str | None] = mapped_column(String(255))  # the signed form, or the client's own sign-in
    recorded_by: Mapped[str] = mapped_column(String(255))  # who recorded it (their sign-in subject)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    opt_in_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactPreference(Base):
    """How a client prefers to be reached (category contact): one row per client and holder, each holder's last."""

    __tablename__ = "contact_preferences"

    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), primary_key=True)
    # the organisation that recorded it (or the client's sign-in): each holder keeps its own, seen as it is decided
    holder: Mapped[str] = mapped_column(String(64), primary_key=True)
    preferred_channel: Mapped[str | None] = mapped_column(String(8))  # sms | email | None: no preference
    language: Mapped[str] = mapped_column(String(16), default="en")
    quiet_from: Mapped[str | None] = mapped_column(String(5))  # HH:MM, local time: no messages from ...
    quiet_until: Mapped[str | None] = mapped_column(String(5))  # ... until (may wrap past midnight)
    recorded_by: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
