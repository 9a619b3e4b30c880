"""identity records: since when the agency has known the person (its earliest enrolment or entry), so that a
date of birth after it counts as weak evidence

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_records") as batch:
        batch.add_column(sa.Column("known_since", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identity_records") as batch:
        batch.drop_column("known_since")
