"""SQLite's read path and its writer: the standard-library driver, each unit of work whole on a thread.

aiosqlite hops to its thread for every step of a statement (checkout, execute,
fetch, reset). Run whole on a thread with the standard-library driver, a read
costs one hop, and the access log's write one hop per transaction
(benchmarks/README.md: the reads; the access log's cost).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, Executable, Row, create_engine, event

T = TypeVar("T")

READ_THREADS = 4  # reads at once; a profile request makes at most three at a time


class SqliteReads:
    """Each read whole on one of the reader's threads, on a pooled connection in autocommit (a thread per
    pooled connection: a read never waits for one).

    Measured (benchmarks/reads.py, a profile request's five reads, 2026-12-05): 1.19 ms at p50 against 3.13 ms
    through an ORM session on aiosqlite.
    """

    def __init__(self, url: URL) -> None:
        self._engine = stdlib_sqlite(url, isolation_level="AUTOCOMMIT", pool_size=READ_THREADS, max_overflow=0)
        self._executor = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="casebridge-sqlite-reader")

    async def rows(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        """The statement's rows."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._rows, statement, params)

    def _rows(self, statement: Executable, params: Mapping[str, Any] | None) -> Sequence[Row[Any]]:
        with self._engine.connect() as conn:
            return conn.execute(statement, params).all()

    async def aclose(self) -> None:
        """Stop the reader's threads and close the pooled connections."""
        self._executor.shutdown(wait=True)
        self._engine.dispose()


class SqliteWriter:
    """One connection, used only from its own thread, for short write transactions (the access log's).

    The connection opens on first use and reopens after an error.
    """

    def __init__(self, url: URL) -> None:
        self._engine = stdlib_sqlite(url)
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


def stdlib_sqlite(url: URL, **kwargs: Any) -> Engine:
    """A synchronous engine on the standard-library driver for an aiosqlite URL, with the store's pragmas."""
    engine = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": 30}, hide_parameters=True,
                           **kwargs)
    event.listen(engine, "connect", sqlite_pragmas)
    return engine


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Foreign keys on, write-ahead log, and a wait of up to 30 s for another writer's lock."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
