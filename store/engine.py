"""The async engine and session factory, built from a URL at start-up (never at import)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import URL, Connection, Engine, Executable, Row, create_engine, event
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine

T = TypeVar("T")

# What a store that is down or failing raises: SQLAlchemy's errors, and the driver's own when a connection cannot
# be made (asyncpg raises OSError for a refused connection and TimeoutError for a slow one, which SQLAlchemy passes
# on unwrapped: seen in benchmarks/load.py with PostgreSQL stopped).
STORE_FAILURES: tuple[type[BaseException], ...] = (SQLAlchemyError, OSError, TimeoutError)


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
        self._engine = stdlib_sqlite(url)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: Connection | None = None

    async def run(self, work: Callable[[Connection], T], *, committing: Callable[[], None] | None = None) -> T:
        """Run `work` in one transaction on the writer's thread; commits, or rolls back and raises.

        `committing` is called on the writer's thread after `work`, as the commit starts.
        """
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="casebridge-sqlite-writer")
        return await asyncio.get_running_loop().run_in_executor(self._executor, self._transaction, work, committing)

    async def aclose(self) -> None:
        """Close the connection (on its thread) and stop the thread."""
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
            self._executor.shutdown(wait=False)
            self._executor = None
        self._engine.dispose()

    def _transaction(self, work: Callable[[Connection], T], committing: Callable[[], None] | None) -> T:
        if self._conn is None:
            self._conn = self._engine.connect()
        try:
            with self._conn.begin():
                result = work(self._conn)
                if committing is not None:
                    committing()
                return result
        except BaseException:
            self._close()
            raise

    def _close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()


class Reads(Protocol):
    """Runs one read-only statement and returns its rows."""

    async def rows(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        """The statement's rows, read from the latest committed state."""
        ...


class SessionReads:
    """Each read in a fresh ORM session: for tools and tests that hold only a session factory."""

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def rows(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        """The statement's rows."""
        async with self._sessions() as session:
            result = await session.execute(statement, params)
            return list(result.all())


READ_THREADS = 2
READ_POOL = 4  # PostgreSQL connections kept for the hot reads (more open when needed, up to SQLAlchemy's overflow)


class HotReader:
    """Reads on every request's path (the crosswalk, consents, the housing snapshot): no ORM session.

    On SQLite the statements asked for in one turn of the event loop run
    together on a reader thread with the standard-library driver, each thread
    keeping its connection: one thread hop for a request's reads, where aiosqlite
    through a session took six per read (checkout, execute, fetch, rollback, ...)
    and about 1.5 ms of the event loop's time. Reads autocommit, so each one sees
    every commit before it (a revoked consent counts from the next request). On
    PostgreSQL a pooled connection in autocommit mode, without a session, from a
    pool of its own that does not ping a connection at each checkout (the ping is
    a round trip: two reads at once took 0.77 ms with it, 0.54 ms without);
    a read that finds its connection gone is retried once on a fresh one.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        sqlite = is_sqlite(str(engine.url))
        # autocommit: each read sees every commit before it, and no connection holds a snapshot
        self._async = None if sqlite else create_async_engine(
            engine.url, hide_parameters=True, isolation_level="AUTOCOMMIT", pool_size=READ_POOL)
        self._sync = stdlib_sqlite(engine.url, isolation_level="AUTOCOMMIT", pool_size=READ_THREADS) if sqlite else None
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[_Read] = []
        self._local = threading.local()  # each reader thread keeps its connection (no pool checkout per read)
        self._opened: list[Connection] = []
        self._opened_lock = threading.Lock()

    async def rows(self, statement: Executable, params: Mapping[str, Any] | None = None) -> Sequence[Row[Any]]:
        """The statement's rows, read from the latest committed state."""
        if self._sync is None:
            assert self._async is not None
            try:
                async with self._async.connect() as conn:
                    return (await conn.execute(statement, params)).all()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            async with self._async.connect() as conn:  # the server restarted since: every pooled one is gone
                return (await conn.execute(statement, params)).all()
        loop = asyncio.get_running_loop()
        read = _Read(statement, params, loop.create_future())
        self._pending.append(read)
        if len(self._pending) == 1:
            loop.call_soon(self._flush, loop)  # what else is asked for in this turn goes along
        return await read.future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._pending = self._pending, []
        if self._executor is None:
            self._executor = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="casebridge-sqlite-reader")
        try:
            self._executor.submit(self._read_batch, batch, loop)
        except RuntimeError as exc:  # shut down
            _deliver([(r.future, None, exc) for r in batch])

    def _read_batch(self, batch: list[_Read], loop: asyncio.AbstractEventLoop) -> None:
        done: list[tuple[asyncio.Future[Sequence[Row[Any]]], Any, BaseException | None]] = []
        for read in batch:
            try:
                done.append((read.future, self._read(read.statement, read.params), None))
            except Exception as exc:  # that read fails; the others in the batch are unaffected
                done.append((read.future, None, exc))
        loop.call_soon_threadsafe(_deliver, done)

    def _read(self, statement: Executable, params: Mapping[str, Any] | None) -> Sequence[Row[Any]]:
        assert self._sync is not None
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._sync.connect()
            with self._opened_lock:
                self._opened.append(conn)
        try:
            return conn.execute(statement, params).all()
        except BaseException:
            self._local.conn = None  # after an error the connection may be broken: a fresh one next time
            with self._opened_lock:
                self._opened.remove(conn)
            conn.close()
            raise

    async def aclose(self) -> None:
        """Stop the reader threads and close their connections."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        if self._sync is not None:
            self._sync.dispose()
        if self._async is not None:
            await self._async.dispose()


@dataclass(frozen=True, slots=True)
class _Read:
    statement: Executable
    params: Mapping[str, Any] | None
    future: asyncio.Future[Sequence[Row[Any]]]


def _deliver(done: Sequence[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, rows, error in done:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(rows)


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


def stdlib_sqlite(url: URL, **kwargs: Any) -> Engine:
    """A synchronous engine on the standard-library driver for an aiosqlite URL, with the store's pragmas."""
    engine = create_engine(url.set(drivername="sqlite"), connect_args={"timeout": 30}, hide_parameters=True,
                           **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


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
