"""Migrations create every table, match the models, and read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import store.directory_tables
import store.held_tables  # noqa: F401  (the held-here tables are part of the schema too)
from store.engine import make_engine
from store.migrate import current_revision, downgrade, head_revision, upgrade
from store.tables import Base


def _shape(sync_conn: Any) -> dict[str, Any]:
    """Tables, columns (name, generic type, nullable), unique constraints and indexes."""
    insp = inspect(sync_conn)
    shape: dict[str, Any] = {}
    for table in sorted(t for t in insp.get_table_names() if t != "alembic_version"):
        shape[table] = {
            "columns": [(c["name"], type(c["type"]).__mro__[0].__name__.upper().replace("BIGINT", "INTEGER"),
                         c["nullable"]) for c in insp.get_columns(table)],
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"])) for i in insp.get_indexes(table)
                              if not i.get("duplicates_constraint")),
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
        }
    return shape


async def test_upgrade_creates_the_models_tables_exactly(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata)
            )
            shape = await conn.run_sync(_shape)
        assert diff == []
        assert set(shape) == set(Base.metadata.tables)
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_back(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        await upgrade(engine)
        await downgrade(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(lambda c: inspect(c).get_table_names()) in ([], ["alembic_version"])
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_sqlite_and_postgres_get_the_same_schema(tmp_path: Any, postgres: str) -> None:
    from tests.conftest import _drop_pg_database, _fresh_pg_database

    shapes = []
    pg_url = await _fresh_pg_database(postgres)
    try:
        for url in (f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", pg_url):
            engine = make_engine(url)
            try:
                await upgrade(engine)
                async with engine.connect() as conn:
                    shapes.append(await conn.run_sync(_shape))
            finally:
                await engine.dispose()
    finally:
        await _drop_pg_database(postgres, pg_url)
    sqlite_shape, pg_shape = shapes
    assert sqlite_shape.keys() == pg_shape.keys()
    for table in sqlite_shape:
        assert [c[0] for c in sqlite_shape[table]["columns"]] == [c[0] for c in pg_shape[table]["columns"]], table
        assert [c[2] for c in sqlite_shape[table]["columns"]] == [c[2] for c in pg_shape[table]["columns"]], table
        assert sqlite_shape[table]["unique"] == pg_shape[table]["unique"], table
        assert sqlite_shape[table]["indexes"] == pg_shape[table]["indexes"], table
        assert sqlite_shape[table]["pk"] == pg_shape[table]["pk"], table


def test_migrations_keep_their_own_copy_of_what_they_compute() -> None:
    """A migration never imports live code (0003 chains the events written before the chain existed with its
    own copy of the hash); the copy still gives version 1's hash, which old chains are verified against."""
    import ast
    import importlib.util
    from datetime import UTC, datetime
    from pathlib import Path

    from audit.chain import event_hash

    folder = Path(__file__).parent.parent / "store" / "migrations" / "versions"
    ours = {"api", "resolvers", "gate", "connectors", "identity", "policies", "audit", "store", "core", "demo"}
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] in ours for n in names), f"{path.name} imports live code"
    spec = importlib.util.spec_from_file_location("m0003", folder / "0003_audit_chain.py")
    assert spec and spec.loader
    m0003 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0003)
    event = {"request_id": "r-1", "recorded_at": datetime(2026, 11, 24, 9, 30, 1, 5, tzinfo=UTC), "subject": "s",
             "organization": "org", "roles": ["caseworker"], "oauth_client": "c", "purpose": "TREAT",
             "operation": "profile", "client_id": None, "action": "profile.read", "categories": ",benefits,",
             "decisions": [{"category": "benefits", "allowed": True}], "outcome": "ok", "detail": None,
             "legal_basis": None, "justification": None, "break_glass": 0}
    for seq, prev in ((1, "0" * 64), (7, "ab" * 32)):
        assert m0003.event_hash(seq=seq, prev_hash=prev, event=event) == event_hash(seq=seq, prev_hash=prev,
                                                                                     event=event)


async def test_0026_moves_a_clients_earlier_upload_to_their_holding_and_keeps_it_on_its_former_holders_list(
    empty_database_url: str,
) -> None:
    """Before 0025 a client's upload was held for the organisation their sign-in named (here DHS): 0026 moves it
    to the client's own holding and, if DHS had not decided on it, addresses it to DHS - else on nobody's list."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from store.held_tables import DocumentAddressee, DocumentEvent, DocumentFile, DocumentRecord
    from store.tables import AccessEvent, Client

    engine = make_engine(empty_database_url)
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    try:
        await upgrade(engine, "0025")
        async with engine.begin() as conn:
            await conn.execute(Client.__table__.insert().values(id="c-1", created_at=now))
            for seq, fid in enumerate(("f-waiting", "f-decided"), start=1):
                await conn.execute(DocumentFile.__table__.insert().values(
                    id=fid, client_id="c-1", holder="DHS", document="PHOTO_ID", sha256="ab" * 32, size=10,
                    media_type="image/png", scan="clean", sent_by="client-1", sent_at=now,
                    retain_until=now + timedelta(days=365), purged_at=None))
                await conn.execute(AccessEvent.__table__.insert().values(
                    seq=seq, prev_hash="0" * 64, hash=f"{seq}" * 64, request_id=f"r-{seq}", recorded_at=now,
                    subject="client-1", organization="DHS", roles=["client"], oauth_client=None,
                    purpose="client_access", operation=None, client_id="c-1", action="document.upload",
                    categories=",documents,", decisions=[], outcome="performed",
                    detail=f"document file {fid} (PHOTO_ID, image/png, 10 bytes)", legal_basis=None,
                    justification=None, break_glass=False))
            await conn.execute(DocumentRecord.__table__.insert().values(
                id="rec-1", client_id="c-1", holder="DHS", document="PHOTO_ID", state="REJECTED",
                recorded_by="cw-1", created_at=now, updated_at=now, reason="ILLEGIBLE", file_id="f-decided"))
            await conn.execute(DocumentEvent.__table__.insert().values(
                record_id="rec-1", state="REJECTED", file_id="f-decided", reason="ILLEGIBLE", by="cw-1", at=now))
        await upgrade(engine)
        async with engine.connect() as conn:
            holders = dict((await conn.execute(select(DocumentFile.id, DocumentFile.holder))).all())
            addressed = (await conn.execute(select(DocumentAddressee.file_id, DocumentAddressee.organization)
                                            )).all()
        assert holders == {"f-waiting": "CLIENT", "f-decided": "CLIENT"}
        assert [tuple(a) for a in addressed] == [("f-waiting", "DHS")]  # the decided one is off every list
    finally:
        await engine.dispose()
