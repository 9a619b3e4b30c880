"""The one read path for reads on every request's path: the crosswalk, the consents, the housing snapshot.

Each read is one statement in autocommit, so that it sees every commit before it (a revoked consent counts
from the next request) and no connection holds a snapshot. `open_reads(engine)` gives the dialect's reader:
`store.sqlite.SqliteReads` or `store.postgres.PostgresReads`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Executable, Row
from sqlalchemy.ext.asyncio import AsyncEngine

from store.engine import is_sqlite
from store.postgres import PostgresReads
from store.sqlite import SqliteReads


class Reads(Protocol):
    """Runs one read-only statement and returns its rows."""

    async def rows(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        """The statement's rows, read from the latest committed state."""
        ...

    async def aclose(self) -> None:
        """Release what the reader holds (the engine it was opened on stays open)."""
        ...


def open_reads(engine: AsyncEngine, **pool_options: Any) -> Reads:
    """The reader for `engine`'s store (no I/O until the first read); `pool_options` for PostgreSQL's own pool
    (e.g. a NullPool where the reads run on an event loop that ends before the reader is closed)."""
    return SqliteReads(engine.url) if is_sqlite(str(engine.url)) else PostgresReads(engine.url, **pool_options)
