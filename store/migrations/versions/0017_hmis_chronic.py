"""hmis enrollments: what chronic homelessness at project start is decided on (DisablingCondition,
DateToStreetESSH, TimesHomelessPastThreeYears, MonthsHomelessPastThreeYears, LengthOfStay, LOSUnderThreshold,
PreviousStreetESSH), as exported

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COLUMNS = (("length_of_stay", sa.Integer()), ("los_under_threshold", sa.Integer()),
           ("previous_street_essh", sa.Integer()), ("date_to_street_essh", sa.Date()),
           ("times_homeless_past_three_years", sa.Integer()), ("months_homeless_past_three_years", sa.Integer()),
           ("disabling_condition", sa.Integer()))


def upgrade() -> None:
    with op.batch_alter_table("hmis_enrollments") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hmis_enrollments") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
