"""hmis employment: EmploymentEducation.csv's employment answers per stay (HUD R6 Employment Status), imported
when an export carries the file

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hmis_employment",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("employment_education_id", sa.String(32), nullable=False),
        sa.Column("enrollment_id", sa.String(32), nullable=False),
        sa.Column("personal_id", sa.String(32), nullable=False),
        sa.Column("information_date", sa.Date(), nullable=False),
        sa.Column("data_collection_stage", sa.Integer(), nullable=False),
        sa.Column("employed", sa.Integer(), nullable=True),
        sa.Column("employment_type", sa.Integer(), nullable=True),
        sa.Column("not_employed_reason", sa.Integer(), nullable=True),
        sa.Column("date_updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "employment_education_id", name="pk_hmis_employment"),
    )
    op.create_index("ix_hmis_employment_enrollment", "hmis_employment", ["source", "enrollment_id"])


def downgrade() -> None:
    op.drop_index("ix_hmis_employment_enrollment", table_name="hmis_employment")
    op.drop_table("hmis_employment")
