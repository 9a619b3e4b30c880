"""document addressees: the organisations a client's upload is meant for (its review lists); attempts found by
age for removal; client uploads made before 0025 moved to the client's own holding

Before 0025 a client's upload was held for the organisation their token named. Which files those are the access
log says: the upload's event (document.upload, performed) names the file's id, its sender's subject and roles.
Each file whose upload event was made with the client role, by its sender, for its client, is moved to CLIENT
(its records' steps name files by id only, so they stay true); one its former holder has not decided on is
addressed to that holder, so that it stays on that organisation's review list.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

CLIENT_HOLDER = "CLIENT"  # core.principal.CLIENT_HOLDER (a migration never imports live code)


def upgrade() -> None:
    op.create_table(
        "document_addressees",
        sa.Column("file_id", sa.String(40), nullable=False),
        sa.Column("organization", sa.String(64), nullable=False),
        sa.Column("addressed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["file_id"], ["document_files.id"],
                                name="fk_document_addressees_file_id_document_files"),
        sa.PrimaryKeyConstraint("file_id", "organization", name="pk_document_addressees"),
    )
    op.create_index("ix_document_addressees_organization", "document_addressees", ["organization"])
    op.create_index("ix_document_attempts_at", "document_attempts", ["at"])
    # the JSON list of roles as text: '["client"]' on SQLite and PostgreSQL alike
    uploaded_by_client = (
        "document_files.holder <> :client AND EXISTS ("
        " SELECT 1 FROM access_events e WHERE e.action = 'document.upload' AND e.outcome = 'performed'"
        " AND e.client_id = document_files.client_id AND e.subject = document_files.sent_by"
        " AND e.detail LIKE 'document file ' || document_files.id || ' (%'"
        " AND CAST(e.roles AS TEXT) LIKE '%\"client\"%')")
    # each such file not yet decided on stays on the list of the organisation it was held for (the one the
    # upload's token named), now as an addressee: moved to the client's holding it would be on nobody's list
    op.execute(sa.text(
        "INSERT INTO document_addressees (file_id, organization, addressed_at)"
        " SELECT document_files.id, document_files.holder, document_files.sent_at FROM document_files"
        " WHERE " + uploaded_by_client + " AND NOT EXISTS ("
        " SELECT 1 FROM document_events ev JOIN document_records r ON r.id = ev.record_id"
        " WHERE ev.file_id = document_files.id AND r.holder = document_files.holder"
        " AND ev.state IN ('ACCEPTED', 'REJECTED'))").bindparams(client=CLIENT_HOLDER))
    op.execute(sa.text("UPDATE document_files SET holder = :client WHERE " + uploaded_by_client)
               .bindparams(client=CLIENT_HOLDER))


def downgrade() -> None:
    # the files moved to the client's holding stay there: which organisation a token named is no holder
    op.drop_index("ix_document_attempts_at", table_name="document_attempts")
    op.drop_index("ix_document_addressees_organization", table_name="document_addressees")
    op.drop_table("document_addressees")
