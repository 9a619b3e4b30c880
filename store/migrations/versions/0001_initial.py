"""initial: clients, source links (crosswalk), access events

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "clients",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clients"),
    )
    op.create_table(
        "source_links",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.id"], name="fk_source_links_client_id_clients"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_source_links"),
        sa.UniqueConstraint("source", "local_id", name="uq_source_links_source_local_id"),
    )
    op.create_index("ix_source_links_client_id", "source_links", ["client_id"])
    op.create_table(
        "access_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("organization", sa.String(64), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("oauth_client", sa.String(255), nullable=True),
        sa.Column("purpose", sa.String(32), nullable=True),
        sa.Column("operation", sa.String(255), nullable=True),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_events"),
    )
    op.create_index("ix_access_events_request_id", "access_events", ["request_id"])
    op.create_index(
        "ix_access_events_client_id_recorded_at", "access_events", ["client_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_table("access_events")
    op.drop_table("source_links")
    op.drop_table("clients")
