"""immigration and legal milestones held here (category immigration_legal), and plan goals for another member of
the client's household

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "legal_milestones",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("milestone", sa.String(48), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", _WHEN, nullable=False),
        sa.Column("entered_in_error_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_legal_milestones_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_legal_milestones"),
    )
    op.create_index("ix_legal_milestones_client_id_holder", "legal_milestones", ["client_id", "holder"])
    with op.batch_alter_table("plan_goals") as batch:
        batch.add_column(sa.Column("member_id", sa.String(40), nullable=True))
        batch.create_foreign_key("fk_plan_goals_member_id_clients", "clients", ["member_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("plan_goals") as batch:
        batch.drop_constraint("fk_plan_goals_member_id_clients", type_="foreignkey")
        batch.drop_column("member_id")
    op.drop_index("ix_legal_milestones_client_id_holder", table_name="legal_milestones")
    op.drop_table("legal_milestones")
