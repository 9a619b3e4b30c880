"""The request path's reader: reads asked for together come back together, each sees every commit before it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from identity.crosswalk import SourceRef, SqlCrosswalk
from store.engine import HotReader, make_engine, make_sessionmaker
from store.tables import Client

IDS = select(Client.id).where(Client.id.in_(bindparam("ids", expanding=True))).order_by(Client.id)


@pytest.fixture
async def reader(database_url: str) -> Any:
    engine = make_engine(database_url)
    hot = HotReader(engine)
    yield hot, make_sessionmaker(engine)
    await hot.aclose()
    await engine.dispose()


async def test_reads_see_every_commit_before_them_and_one_failure_stays_its_own(reader: Any) -> None:
    hot, sessions = reader
    crosswalk = SqlCrosswalk(sessions, reads=hot)
    assert await crosswalk.resolve(["c-1"]) == {}
    await crosswalk.link([("c-1", "benefits", "B1"), ("c-2", "edfi", "S2")])
    # asked for in one turn: a good read, a failing one, another good one
    good, bad, other = await asyncio.gather(
        hot.rows(IDS, {"ids": ["c-1", "c-2", "c-9"]}),
        hot.rows(text("SELECT * FROM no_such_table")),
        crosswalk.resolve(["c-2"]),
        return_exceptions=True)
    assert [r.id for r in good] == ["c-1", "c-2"]  # the links written a moment ago
    assert isinstance(bad, OperationalError | ProgrammingError)
    assert other == {"c-2": [SourceRef("edfi", "S2")]}
    async with sessions.begin() as session:  # a change after those reads is seen by the next one
        await session.execute(text("DELETE FROM source_links WHERE client_id = 'c-1'"))
    assert (await crosswalk.resolve(["c-1"]))["c-1"] == []
    assert len(await hot.rows(IDS, {"ids": ["c-1"]})) == 1  # the reader still works after a failed read


async def test_many_concurrent_reads_each_get_their_own_rows(reader: Any) -> None:
    hot, sessions = reader
    await SqlCrosswalk(sessions).link([(f"c-{i:02d}", "benefits", f"B{i}") for i in range(40)])
    results = await asyncio.gather(*(hot.rows(IDS, {"ids": [f"c-{i:02d}"]}) for i in range(40)))
    assert [[r.id for r in rows] for rows in results] == [[f"c-{i:02d}"] for i in range(40)]


async def test_a_read_whose_connection_the_server_dropped_is_retried_on_a_fresh_one(
        reader: Any, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("the reader keeps no server connections on SQLite")
    hot, sessions = reader
    await SqlCrosswalk(sessions).link([("c-1", "benefits", "B1")])
    await asyncio.gather(*(hot.rows(IDS, {"ids": ["c-1"]}) for _ in range(3)))  # the reader's pool holds some
    async with sessions() as session:  # a server restart, as the pooled connections see it
        await session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE pid <> pg_backend_pid() AND datname = current_database()"))
    assert [[r.id for r in rows] for rows in await asyncio.gather(
        *(hot.rows(IDS, {"ids": ["c-1"]}) for _ in range(3)))] == [["c-1"]] * 3
