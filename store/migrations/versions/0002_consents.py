"""consents, their versions, break-glass grants; legal basis and break-glass on access events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("grantor", sa.String(16), nullable=False),
        sa.Column("source_reference", sa.String(200), nullable=False),
        sa.Column("given_at", TS, nullable=False),
        sa.Column("recorded_by_subject", sa.String(255), nullable=False),
        sa.Column("recorded_by_org", sa.String(64), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("provisions", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.Column("revoked_by_subject", sa.String(255), nullable=True),
        sa.Column("revoked_by_org", sa.String(64), nullable=True),
        sa.Column("revocation_reason", sa.String(500), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_consents_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_client_id", "consents", ["client_id"])
    op.create_table(
        "consent_versions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("consent_id", sa.String(40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("replaced_at", TS, nullable=False),
        sa.Column("replaced_by_subject", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["consent_id"], ["consents.id"], name="fk_consent_versions_consent_id_consents"),
        sa.PrimaryKeyConstraint("id", name="pk_consent_versions"),
        sa.UniqueConstraint("consent_id", "version", name="uq_consent_versions_consent_id_version"),
    )
    op.create_index("ix_consent_versions_consent_id", "consent_versions", ["consent_id"])
    op.create_table(
        "break_glass_grants",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("organization", sa.String(64), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("reviewed_at", TS, nullable=True),
        sa.Column("reviewed_by", sa.String(255), nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_break_glass_grants_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_break_glass_grants"),
    )
    op.create_index("ix_break_glass_grants_client_id_subject", "break_glass_grants", ["client_id", "subject"])
    with op.batch_alter_table("access_events") as batch:
        batch.add_column(sa.Column("legal_basis", sa.String(32), nullable=True))
        batch.add_column(sa.Column("justification", sa.Text(), nullable=True))
        batch.add_column(sa.Column("break_glass", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("access_events") as batch:
        batch.drop_column("break_glass")
        batch.drop_column("justification")
        batch.drop_column("legal_basis")
    op.drop_table("break_glass_grants")
    op.drop_table("consent_versions")
    op.drop_table("consents")
