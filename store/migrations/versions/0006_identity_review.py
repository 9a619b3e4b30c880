"""identity: why each link was made, blocking keys, trained models, the steward's review queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
LINK_COLUMNS: list[tuple[str, sa.types.TypeEngine[Any]]] = [("rule", sa.String(32)), ("score", sa.Float()), ("via_source", sa.String(64)),
                ("via_local_id", sa.String(64)), ("decided_by", sa.String(255))]


def upgrade() -> None:
    with op.batch_alter_table("source_links") as batch:
        for name, kind in LINK_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_table(
        "identity_keys",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("key", "source", "local_id", name="pk_identity_keys"),
    )
    op.create_index("ix_identity_keys_record", "identity_keys", ["source", "local_id"])
    op.create_table(
        "identity_models",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("trained_at", TS, nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identity_models"),
    )
    op.create_table(
        "identity_review",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("source_a", sa.String(64), nullable=False),
        sa.Column("local_a", sa.String(64), nullable=False),
        sa.Column("source_b", sa.String(64), nullable=False),
        sa.Column("local_b", sa.String(64), nullable=False),
        sa.Column("grade", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("found_at", TS, nullable=False),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolved_by", sa.String(255), nullable=True),
        sa.Column("decision_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_identity_review"),
    )
    op.create_index("ix_identity_review_status_score", "identity_review", ["status", "score"])
    for side in ("a", "b"):
        op.create_index(f"ix_identity_review_{side}", "identity_review", [f"source_{side}", f"local_{side}"])
        op.create_index(f"ix_identity_decisions_{side}", "identity_decisions", [f"source_{side}", f"local_{side}"])


def downgrade() -> None:
    for side in ("a", "b"):
        op.drop_index(f"ix_identity_decisions_{side}", table_name="identity_decisions")
        op.drop_index(f"ix_identity_review_{side}", table_name="identity_review")
    op.drop_index("ix_identity_review_status_score", table_name="identity_review")
    op.drop_table("identity_review")
    op.drop_table("identity_models")
    op.drop_index("ix_identity_keys_record", table_name="identity_keys")
    op.drop_table("identity_keys")
    with op.batch_alter_table("source_links") as batch:
        for name, _kind in reversed(LINK_COLUMNS):
            batch.drop_column(name)
