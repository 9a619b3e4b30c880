"""Alembic environment: always handed a live connection by store.migrate."""

from alembic import context

import store.directory_tables
import store.held_tables  # noqa: F401  (registers the held-here tables on Base.metadata)
from store.tables import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we never run alembic's CLI directly
    raise RuntimeError("run migrations with `casebridge migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
