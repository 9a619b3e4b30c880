"""the identity index: synced agency records, watermarks, steward decisions, client successors

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_records",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("local_id", sa.String(64), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("middle_name", sa.String(100), nullable=True),
        sa.Column("last_name", sa.String(100), nullable=True),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("ssn", sa.String(9), nullable=True),
        sa.Column("ssn_last4", sa.String(4), nullable=True),
        sa.Column("ssn_quality", sa.Integer(), nullable=True),
        sa.Column("name_quality", sa.Integer(), nullable=True),
        sa.Column("dob_quality", sa.Integer(), nullable=True),
        sa.Column("cin", sa.String(8), nullable=True),
        sa.Column("student_id", sa.String(32), nullable=True),
        sa.Column("updated", TS, nullable=True),
        sa.Column("synced_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("source", "local_id", name="pk_identity_records"),
    )
    op.create_table(
        "identity_watermarks",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("watermark", sa.String(64), nullable=False),
        sa.Column("synced_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_identity_watermarks"),
    )
    op.create_table(
        "identity_decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("source_a", sa.String(64), nullable=False),
        sa.Column("local_a", sa.String(64), nullable=False),
        sa.Column("source_b", sa.String(64), nullable=False),
        sa.Column("local_b", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_identity_decisions"),
    )
    op.create_table(
        "client_successors",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("old_client_id", sa.String(40), nullable=False),
        sa.Column("new_client_id", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_client_successors"),
    )
    op.create_index("ix_client_successors_old_client_id", "client_successors", ["old_client_id"])


def downgrade() -> None:
    op.drop_index("ix_client_successors_old_client_id", table_name="client_successors")
    op.drop_table("client_successors")
    op.drop_table("identity_decisions")
    op.drop_table("identity_watermarks")
    op.drop_table("identity_records")
