"""identity: a record's street address, ZIP and phone (household-aware matching online, as in batch)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = [("address", sa.String(200)), ("zip", sa.String(10)), ("phone", sa.String(20))]


def upgrade() -> None:
    with op.batch_alter_table("identity_records") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_records") as batch:
        for name, _kind in reversed(COLUMNS):
            batch.drop_column(name)
