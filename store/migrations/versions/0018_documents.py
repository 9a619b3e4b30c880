"""documents sent against checklists (files, kept by content hash in the blob store) and each organisation's
record of a client's documents (asked for, accepted, rejected) with its history

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "document_files",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("document", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("scan", sa.String(16), nullable=False),
        sa.Column("sent_by", sa.String(255), nullable=False),
        sa.Column("sent_at", _WHEN, nullable=False),
        sa.Column("retain_until", _WHEN, nullable=False),
        sa.Column("purged_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_document_files_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_document_files"),
    )
    op.create_index("ix_document_files_client_id_holder", "document_files", ["client_id", "holder"])
    op.create_index("ix_document_files_sha256", "document_files", ["sha256"])
    op.create_table(
        "document_records",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("document", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("file_id", sa.String(40), nullable=True),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_document_records_client_id_clients"),
        sa.ForeignKeyConstraint(["file_id"], ["document_files.id"], name="fk_document_records_file_id_document_files"),
        sa.PrimaryKeyConstraint("id", name="pk_document_records"),
        sa.UniqueConstraint("client_id", "holder", "document", name="uq_document_records_client_id_holder_document"),
    )
    op.create_index("ix_document_records_client_id_holder", "document_records", ["client_id", "holder"])
    op.create_table(
        "document_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("file_id", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["document_records.id"],
                                name="fk_document_events_record_id_document_records"),
        sa.ForeignKeyConstraint(["file_id"], ["document_files.id"], name="fk_document_events_file_id_document_files"),
        sa.PrimaryKeyConstraint("id", name="pk_document_events"),
    )
    op.create_index("ix_document_events_record_id", "document_events", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_document_events_record_id", table_name="document_events")
    op.drop_table("document_events")
    op.drop_index("ix_document_records_client_id_holder", table_name="document_records")
    op.drop_table("document_records")
    op.drop_index("ix_document_files_sha256", table_name="document_files")
    op.drop_index("ix_document_files_client_id_holder", table_name="document_files")
    op.drop_table("document_files")
