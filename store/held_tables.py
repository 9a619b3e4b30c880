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
