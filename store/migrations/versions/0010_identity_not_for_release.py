"""identity records: what the agency marks not for release (a directory-information opt-out), said so

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_records") as batch:
        batch.add_column(sa.Column("not_for_release", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_records") as batch:
        batch.drop_column("not_for_release")
