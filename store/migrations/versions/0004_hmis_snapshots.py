"""housing connector snapshots: the last imported HUD HMIS CSV export per source

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _source() -> sa.Column[str]:
    return sa.Column("source", sa.String(64), nullable=False)


def _updated() -> sa.Column[Any]:
    return sa.Column("date_updated", TS, nullable=False)


def upgrade() -> None:
    op.create_table(
        "hmis_snapshots",
        _source(),
        sa.Column("export_id", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("csv_version", sa.String(16), nullable=False),
        sa.Column("exported_at", TS, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("source", name="pk_hmis_snapshots"),
    )
    op.create_table(
        "hmis_imports",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        _source(),
        sa.Column("export_id", sa.String(32), nullable=False),
        sa.Column("directive", sa.String(8), nullable=False),
        sa.Column("csv_version", sa.String(16), nullable=False),
        sa.Column("exported_at", TS, nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hmis_imports"),
    )
    op.create_index("ix_hmis_imports_source", "hmis_imports", ["source"])
    op.create_table(
        "hmis_projects",
        _source(),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("organization_name", sa.String(255), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("project_type", sa.Integer(), nullable=False),
        _updated(),
        sa.PrimaryKeyConstraint("source", "project_id", name="pk_hmis_projects"),
    )
    op.create_table(
        "hmis_clients",
        _source(),
        sa.Column("personal_id", sa.String(32), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=True),
        sa.Column("middle_name", sa.String(100), nullable=True),
        sa.Column("last_name", sa.String(100), nullable=True),
        sa.Column("name_suffix", sa.String(20), nullable=True),
        sa.Column("name_data_quality", sa.Integer(), nullable=True),
        sa.Column("ssn", sa.String(9), nullable=True),
        sa.Column("ssn_data_quality", sa.Integer(), nullable=True),
        sa.Column("dob", sa.Date(), nullable=True),
        sa.Column("dob_data_quality", sa.Integer(), nullable=True),
        sa.Column("sex", sa.String(1), nullable=True),
        _updated(),
        sa.PrimaryKeyConstraint("source", "personal_id", name="pk_hmis_clients"),
    )
    op.create_table(
        "hmis_enrollments",
        _source(),
        sa.Column("enrollment_id", sa.String(32), nullable=False),
        sa.Column("personal_id", sa.String(32), nullable=False),
        sa.Column("project_id", sa.String(32), nullable=False),
        sa.Column("entry_date", sa.Date(), nullable=False),
        sa.Column("household_id", sa.String(32), nullable=True),
        sa.Column("relationship_to_hoh", sa.Integer(), nullable=True),
        sa.Column("living_situation", sa.Integer(), nullable=True),
        sa.Column("move_in_date", sa.Date(), nullable=True),
        _updated(),
        sa.PrimaryKeyConstraint("source", "enrollment_id", name="pk_hmis_enrollments"),
    )
    op.create_index("ix_hmis_enrollments_person", "hmis_enrollments", ["source", "personal_id"])
    op.create_table(
        "hmis_exits",
        _source(),
        sa.Column("exit_id", sa.String(32), nullable=False),
        sa.Column("enrollment_id", sa.String(32), nullable=False),
        sa.Column("personal_id", sa.String(32), nullable=False),
        sa.Column("exit_date", sa.Date(), nullable=False),
        sa.Column("destination", sa.Integer(), nullable=True),
        _updated(),
        sa.PrimaryKeyConstraint("source", "exit_id", name="pk_hmis_exits"),
    )
    op.create_index("ix_hmis_exits_enrollment", "hmis_exits", ["source", "enrollment_id"])


def downgrade() -> None:
    op.drop_index("ix_hmis_exits_enrollment", table_name="hmis_exits")
    op.drop_table("hmis_exits")
    op.drop_index("ix_hmis_enrollments_person", table_name="hmis_enrollments")
    op.drop_table("hmis_enrollments")
    op.drop_table("hmis_clients")
    op.drop_table("hmis_projects")
    op.drop_index("ix_hmis_imports_source", table_name="hmis_imports")
    op.drop_table("hmis_imports")
    op.drop_table("hmis_snapshots")
