"""Whether the store keeps what it acknowledges: a commit lost in a crash may be an access event of an answer
already sent (benchmarks/load.py saw four, with PostgreSQL's fsync and synchronous_commit off)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from store.engine import is_sqlite

SQLITE_FULL = 2  # PRAGMA synchronous: 0 OFF, 1 NORMAL (WAL: the last commits may be lost), 2 FULL, 3 EXTRA


async def durability_problems(engine: AsyncEngine) -> list[str]:
    """The store's settings under which a commit it acknowledged can be lost in a crash (none: durable)."""
    problems = []
    async with engine.connect() as conn:
        if is_sqlite(str(engine.url)):
            level = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
            if level is not None and int(level) < SQLITE_FULL:
                problems.append("SQLite's synchronous is below FULL")
        else:
            for setting in ("fsync", "synchronous_commit"):
                if (await conn.exec_driver_sql(f"SHOW {setting}")).scalar() == "off":
                    problems.append(f"PostgreSQL's {setting} is off")
    return problems
