"""The async engine and session factory, built from a URL at start-up (never at import)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, create_engine, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine

T = TypeVar("T")


def is_sqlite(url: str) -> bool:
    """Whether `url` names an SQLite database."""
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the engine for `url` (sqlite+aiosqlite or postgresql+asyncpg).

    Statement parameters are hidden from error messages: they can be personal data.
    """
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        _ensure_sqlite_dir(url)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """Sessions that never expire loaded objects on commit (no lazy loads under asyncio)."""
    return async_sessionmaker(engine, expire_on_commit=False)


class SyncWriter:
    """One connection to an SQLite store, used only from its own thread, for short write transactions.

    aiosqlite hops to a thread for every statement; a transaction run whole on
    this thread costs one hop. The connection opens on first use and reopens
    after an error.
    """

    def __init__(self, url: URL) -> None:
        self._engine = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": 30},
                                     hide_parameters=True)
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: Connection | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction on the writer's thread; commits, or rolls back and raises."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="casebridge-sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._transaction, work)

    async def aclose(self) -> None:
        """Close the connection (on its thread) and stop the thread."""
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
            self._executor.shutdown(wait=False)
            self._executor = None
        self._engine.dispose()

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        if self._conn is None:
            self._conn = self._engine.connect()
        try:
            with self._conn.begin():
                return work(self._conn)
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


class AsyncWriter:
    """One autocommitting connection held for short writes from one task at a time (PostgreSQL).

    Saves the pool's checkout, pre-ping and reset round trips on every write;
    each statement commits on its own. Opens on first use; after an error it is
    dropped and reopened next time.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None

    async def run(self, work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `work` on the connection (every statement autocommitted); raises on error."""
        if self._conn is None:
            conn = await self._engine.connect()
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
        try:
            return await work(self._conn)
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Return the connection."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except Exception:  # a broken connection: invalidated either way
                await conn.invalidate()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _ensure_sqlite_dir(url: str) -> None:
    from pathlib import Path

    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
