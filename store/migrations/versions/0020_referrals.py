"""referrals of clients to directory services (category casework, FHIR Task statuses) and their history

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("from_org", sa.String(64), nullable=False),
        sa.Column("to_org", sa.String(64), nullable=True),
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("service_name", sa.String(4000), nullable=False),
        sa.Column("organization_name", sa.String(4000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("consent_id", sa.String(40), nullable=True),
        sa.Column("share_until", _WHEN, nullable=True),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_referrals_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_referrals"),
    )
    op.create_index("ix_referrals_client_id", "referrals", ["client_id"])
    op.create_index("ix_referrals_to_org_status", "referrals", ["to_org", "status"])
    op.create_table(
        "referral_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.Column("by_org", sa.String(64), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], name="fk_referral_events_referral_id_referrals"),
        sa.PrimaryKeyConstraint("id", name="pk_referral_events"),
    )
    op.create_index("ix_referral_events_referral_id", "referral_events", ["referral_id"])


def downgrade() -> None:
    op.drop_index("ix_referral_events_referral_id", table_name="referral_events")
    op.drop_table("referral_events")
    op.drop_index("ix_referrals_to_org_status", table_name="referrals")
    op.drop_index("ix_referrals_client_id", table_name="referrals")
    op.drop_table("referrals")
