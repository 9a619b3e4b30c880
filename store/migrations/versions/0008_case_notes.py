"""case notes: the first record casebridge holds itself (category casework, a holder per note)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_notes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("author_subject", sa.String(255), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("shared_with_client", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_case_notes_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_case_notes"),
    )
    op.create_index("ix_case_notes_client_id_holder", "case_notes", ["client_id", "holder"])


def downgrade() -> None:
    op.drop_index("ix_case_notes_client_id_holder", table_name="case_notes")
    op.drop_table("case_notes")
