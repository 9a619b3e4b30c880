"""The request path's reader: each read sees every commit before it; reads at once each get their own rows."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import bindparam, select, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from identity.crosswalk import SourceRef, SqlCrosswalk, link_records
from store.reads import Reads
from store.tables import Client

IDS = select(Client.id).where(Client.id.in_(bindparam("ids", expanding=True))).order_by(Client.id)


async def test_reads_see_every_commit_before_them_and_one_failure_stays_its_own(store: Any, reads: Reads) -> None:
    crosswalk = SqlCrosswalk(reads)
    assert await crosswalk.resolve(["c-1"]) == {}
    await link_records(store, [("c-1", "benefits", "B1"), ("c-2", "edfi", "S2")])
    # asked for at once: a good read, a failing one, another good one
    good, bad, other = await asyncio.gather(
        reads.rows(IDS, {"ids": ["c-1", "c-2", "c-9"]}),
        reads.rows(text("SELECT * FROM no_such_table")),
        crosswalk.resolve(["c-2"]),
        return_exceptions=True)
    assert [r.id for r in good] == ["c-1", "c-2"]  # the links written a moment ago
    assert isinstance(bad, OperationalError | ProgrammingError)
    assert other == {"c-2": [SourceRef("edfi", "S2")]}
    async with store.begin() as session:  # a change after those reads is seen by the next one
        await session.execute(text("DELETE FROM source_links WHERE client_id = 'c-1'"))
    assert (await crosswalk.resolve(["c-1"]))["c-1"] == []
    assert len(await reads.rows(IDS, {"ids": ["c-1"]})) == 1  # the reader still works after a failed read


async def test_many_concurrent_reads_each_get_their_own_rows(store: Any, reads: Reads) -> None:
    await link_records(store, [(f"c-{i:02d}", "benefits", f"B{i}") for i in range(40)])
    results = await asyncio.gather(*(reads.rows(IDS, {"ids": [f"c-{i:02d}"]}) for i in range(40)))
    assert [[r.id for r in rows] for rows in results] == [[f"c-{i:02d}"] for i in range(40)]


async def test_a_read_after_the_server_dropped_its_connections_still_answers(
        store: Any, reads: Reads, database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("no server connections on SQLite")
    await link_records(store, [("c-1", "benefits", "B1")])
    await asyncio.gather(*(reads.rows(IDS, {"ids": ["c-1"]}) for _ in range(3)))  # the pool holds some
    async with store() as session:  # a server restart, as the pooled connections see it
        await session.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE pid <> pg_backend_pid() AND datname = current_database()"))
    assert [[r.id for r in rows] for rows in await asyncio.gather(
        *(reads.rows(IDS, {"ids": ["c-1"]}) for _ in range(3)))] == [["c-1"]] * 3
