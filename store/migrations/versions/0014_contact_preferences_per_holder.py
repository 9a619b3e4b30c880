"""contact preferences: one row per client and holder (as every held record), so that one organisation's record
never replaces another's it may not see

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_preferences", recreate="always") as batch:
        batch.drop_constraint("pk_contact_preferences", type_="primary")
        batch.create_primary_key("pk_contact_preferences", ["client_id", "holder"])


def downgrade() -> None:
    # one row per client again: the newest of each client's rows is kept
    op.execute("DELETE FROM contact_preferences WHERE EXISTS (SELECT 1 FROM contact_preferences newer "
               "WHERE newer.client_id = contact_preferences.client_id "
               "AND newer.recorded_at > contact_preferences.recorded_at)")
    with op.batch_alter_table("contact_preferences", recreate="always") as batch:
        batch.drop_constraint("pk_contact_preferences", type_="primary")
        batch.create_primary_key("pk_contact_preferences", ["client_id"])
