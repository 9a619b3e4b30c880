"""service plans: a client's 30-60-90 day plan, its goals, their tasks (a referral may be one) and structured
progress notes (category casework)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "service_plans",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(40), nullable=False),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("arrived_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["clients.id"], name="fk_service_plans_client_id_clients"),
        sa.PrimaryKeyConstraint("id", name="pk_service_plans"),
    )
    op.create_index("ix_service_plans_client_id_holder", "service_plans", ["client_id", "holder"])
    op.create_table(
        "plan_goals",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("plan_id", sa.String(40), nullable=False),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("met_by", sa.String(32), nullable=True),
        sa.Column("met_on", sa.Date(), nullable=True),
        sa.Column("evidence", sa.String(255), nullable=True),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["service_plans.id"], name="fk_plan_goals_plan_id_service_plans"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_goals"),
    )
    op.create_index("ix_plan_goals_plan_id", "plan_goals", ["plan_id"])
    op.create_table(
        "plan_tasks",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("goal_id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(16), nullable=False),
        sa.Column("owner_org", sa.String(64), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("referral_id", sa.String(40), nullable=True),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["goal_id"], ["plan_goals.id"], name="fk_plan_tasks_goal_id_plan_goals"),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"], name="fk_plan_tasks_referral_id_referrals"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_tasks"),
    )
    op.create_index("ix_plan_tasks_goal_id", "plan_tasks", ["goal_id"])
    op.create_index("ix_plan_tasks_referral_id", "plan_tasks", ["referral_id"])
    op.create_table(
        "plan_notes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("goal_id", sa.String(40), nullable=False),
        sa.Column("change", sa.String(32), nullable=False),
        sa.Column("barriers", sa.JSON(), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.ForeignKeyConstraint(["goal_id"], ["plan_goals.id"], name="fk_plan_notes_goal_id_plan_goals"),
        sa.PrimaryKeyConstraint("id", name="pk_plan_notes"),
    )
    op.create_index("ix_plan_notes_goal_id", "plan_notes", ["goal_id"])


def downgrade() -> None:
    op.drop_index("ix_plan_notes_goal_id", table_name="plan_notes")
    op.drop_table("plan_notes")
    op.drop_index("ix_plan_tasks_referral_id", table_name="plan_tasks")
    op.drop_index("ix_plan_tasks_goal_id", table_name="plan_tasks")
    op.drop_table("plan_tasks")
    op.drop_index("ix_plan_goals_plan_id", table_name="plan_goals")
    op.drop_table("plan_goals")
    op.drop_index("ix_service_plans_client_id_holder", table_name="service_plans")
    op.drop_table("service_plans")
