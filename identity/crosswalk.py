"""The crosswalk from a casebridge client id to the agency records linked to it.

First version: links are written by whoever knows them (the demo seeds the
truth). The identity-resolution issue fills the same tables by matching.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from store.reads import Reads
from store.tables import Client, SourceLink


@dataclass(frozen=True, slots=True)
class SourceRef:
    """One agency record: the source system and its local id."""

    source: str
    local_id: str


class Crosswalk(Protocol):
    """Resolves client ids to their linked agency records."""

    async def resolve(self, client_ids: Sequence[str]) -> dict[str, list[SourceRef]]:
        """Linked records per known client id; unknown ids are absent."""
        ...


# Built once: a request binds only the ids.
_RESOLVE = (
    select(Client.id, SourceLink.source, SourceLink.local_id)
    .outerjoin(SourceLink, SourceLink.client_id == Client.id)
    .where(Client.id.in_(bindparam("ids", expanding=True)))
    .order_by(Client.id, SourceLink.source, SourceLink.local_id)
)


class SqlCrosswalk:
    """The crosswalk kept in the store's `clients` and `source_links` tables.

    Lookups go through `reads` (store.reads, the request path's one read path); links are written by
    `link_records`.
    """

    def __init__(self, reads: Reads) -> None:
        self._reads = reads

    async def resolve(self, client_ids: Sequence[str]) -> dict[str, list[SourceRef]]:
        """Linked records per known client id, in one query; unknown ids are absent."""
        ids = list(dict.fromkeys(client_ids))
        if not ids:
            return {}
        rows = await self._reads.rows(_RESOLVE, {"ids": ids})
        found: dict[str, list[SourceRef]] = {}
        for client_id, source, local_id in (tuple(row) for row in rows):
            refs = found.setdefault(client_id, [])
            if source is not None:
                refs.append(SourceRef(source, local_id))
        return found


async def link_records(sessions: async_sessionmaker[Any], links: Iterable[tuple[str, str, str]], *,
                       how: str = "rule") -> int:
    """Record (client id, source, local id) links, creating clients as needed.

    Links whose agency record is already linked are left alone; returns how many were added.
    """
    links = list(dict.fromkeys(links))
    if not links:
        return 0
    async with sessions.begin() as session:
        existing_clients = set((await session.execute(
            select(Client.id).where(Client.id.in_({c for c, _, _ in links}))
        )).scalars())
        linked = {(s, lid) for s, lid in (await session.execute(
            select(SourceLink.source, SourceLink.local_id)
            .where(SourceLink.local_id.in_({lid for _, _, lid in links}))
        ))}
        fresh = [(c, s, lid) for c, s, lid in links if (s, lid) not in linked]
        for client_id in dict.fromkeys(c for c, _, _ in fresh):
            if client_id not in existing_clients:
                session.add(Client(id=client_id))
        await session.flush()
        session.add_all(SourceLink(client_id=c, source=s, local_id=lid, how=how) for c, s, lid in fresh)
    return len(fresh)
