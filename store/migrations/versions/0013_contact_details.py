"""contact details: a client's phone numbers and email addresses with their opt-in, and how they prefer to be
reached (category contact, held here)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_points",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("opted_in", sa.Boolean(), nullable=False),
        sa.Column("opt_in_source", sa.String(255), nullable=True),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opt_in_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_contact_points_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_contact_points"),
    )
    op.create_index("ix_contact_points_client_id_holder", "contact_points", ["client_id", "holder"])
    op.create_table(
        "contact_preferences",
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("preferred_channel", sa.String(8), nullable=True),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("quiet_from", sa.String(5), nullable=True),
        sa.Column("quiet_until", sa.String(5), nullable=True),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_contact_preferences_client_id_clients"),
        sa.PrimaryKeyConstraint("client_id", name="pk_contact_preferences"),
    )


def downgrade() -> None:
    op.drop_table("contact_preferences")
    op.drop_index("ix_contact_points_client_id_holder", table_name="contact_points")
    op.drop_table("contact_points")
