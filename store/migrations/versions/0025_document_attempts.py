"""document attempts and issued-on: every upload attempt a sender makes (kept or refused: counted against the daily
limits before a byte is read), and the day an accepted document was issued (its validity runs from it)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_attempts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_document_attempts_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_document_attempts"),
    )
    op.create_index("ix_document_attempts_sender_at", "document_attempts", ["sender", "at"])
    op.add_column("document_records", sa.Column("issued_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("document_records") as batch:
        batch.drop_column("issued_on")
    op.drop_index("ix_document_attempts_sender_at", table_name="document_attempts")
    op.drop_table("document_attempts")
