"""hmis imports: the export period's type and the rows left out (quarantined), by file, line and column

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("hmis_imports") as batch:
        batch.add_column(sa.Column("period_type", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quarantined_rows", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("quarantined", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("hmis_imports") as batch:
        batch.drop_column("quarantined")
        batch.drop_column("quarantined_rows")
        batch.drop_column("period_type")
