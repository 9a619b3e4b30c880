"""Records casebridge holds itself, as one more source behind the gate (DESIGN.md, Records held here).

An agency's connector holds its records for one organisation; a held-here source
holds items for many - each item carries its holder (the organisation that
recorded it) and whether the holder shared it with the client. The gate asks a
source which (client, category, holder, shared) groups it holds, decides each
group as it decides an agency's section, and fetches only the permitted ones.

The first such source is case notes (category casework).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import AgencyUnavailable
from core.vocabulary import Category
from store.held_tables import CaseNote as CaseNoteRow

# (client id, category, holder organisation, shared with the client)
Group = tuple[str, Category, str, bool]


class HeldSource(Protocol):
    """Items casebridge holds for many holders, fetched only group by permitted group."""

    name: str  # shown as the section's connector, e.g. "casebridge-notes"
    categories: frozenset[Category]

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which groups hold at least one item (never the items themselves)."""
        ...

    async def fetch(self, groups: Sequence[Group]) -> dict[Group, list[Any]]:
        """The items of `groups`; raises AgencyUnavailable if the store cannot be read."""
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

    async def fetch(self, groups: Sequence[Group]) -> dict[Group, list[CaseNote]]:
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
