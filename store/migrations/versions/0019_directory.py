"""the service directory (Open Referral HSDS 3.x): organisations, services, locations, services at locations

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_TEXT = sa.String(4000)


def upgrade() -> None:
    op.create_table(
        "directory_organizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", _TEXT, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("website", _TEXT, nullable=True),
        sa.Column("email", _TEXT, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_directory_organizations"),
    )
    op.create_table(
        "directory_locations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=True),
        sa.Column("name", _TEXT, nullable=True),
        sa.Column("location_type", sa.String(16), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("address_1", _TEXT, nullable=True),
        sa.Column("city", _TEXT, nullable=True),
        sa.Column("state_province", _TEXT, nullable=True),
        sa.Column("postal_code", sa.String(32), nullable=True),
        sa.Column("country", sa.String(2), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directory_locations"),
    )
    op.create_table(
        "directory_services",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("organization_id", sa.String(64), nullable=False),
        sa.Column("name", _TEXT, nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("url", _TEXT, nullable=True),
        sa.Column("email", _TEXT, nullable=True),
        sa.Column("eligibility_description", sa.Text(), nullable=True),
        sa.Column("minimum_age", sa.Float(), nullable=True),
        sa.Column("maximum_age", sa.Float(), nullable=True),
        sa.Column("application_process", sa.Text(), nullable=True),
        sa.Column("fees_description", sa.Text(), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["directory_organizations.id"],
                                name="fk_directory_services_organization_id_directory_organizations"),
        sa.PrimaryKeyConstraint("id", name="pk_directory_services"),
    )
    op.create_index("ix_directory_services_status", "directory_services", ["status"])
    op.create_table(
        "directory_service_locations",
        sa.Column("service_id", sa.String(64), nullable=False),
        sa.Column("location_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["directory_services.id"],
                                name="fk_directory_service_locations_service_id_directory_services"),
        sa.ForeignKeyConstraint(["location_id"], ["directory_locations.id"],
                                name="fk_directory_service_locations_location_id_directory_locations"),
        sa.PrimaryKeyConstraint("service_id", "location_id", name="pk_directory_service_locations"),
    )


def downgrade() -> None:
    op.drop_table("directory_service_locations")
    op.drop_index("ix_directory_services_status", table_name="directory_services")
    op.drop_table("directory_services")
    op.drop_table("directory_locations")
    op.drop_table("directory_organizations")
