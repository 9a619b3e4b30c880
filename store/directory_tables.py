"""The service directory (Open Referral HSDS, connectors/hsds): organisations, their services and where they are.
Not a client's record: the city's list of what is on offer, replaced whole by each import."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.tables import Base, utcnow


class DirectoryOrganization(Base):
    __tablename__ = "directory_organizations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(4000))
    description: Mapped[str | None] = mapped_column(Text)
    website: Mapped[str | None] = mapped_column(String(4000))
    email: Mapped[str | None] = mapped_column(String(4000))


class DirectoryLocation(Base):
    __tablename__ = "directory_locations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(4000))
    location_type: Mapped[str] = mapped_column(String(16))  # physical | postal | virtual
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address_1: Mapped[str | None] = mapped_column(String(4000))
    city: Mapped[str | None] = mapped_column(String(4000))
    state_province: Mapped[str | None] = mapped_column(String(4000))
    postal_code: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    languages: Mapped[list[str]] = mapped_column(JSON)


class DirectoryService(Base):
    __tablename__ = "directory_services"
    __table_args__ = (Index("ix_directory_services_status", "status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("directory_organizations.id"))
    name: Mapped[str] = mapped_column(String(4000))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32))  # active | inactive | defunct | temporarily closed
    url: Mapped[str | None] = mapped_column(String(4000))
    email: Mapped[str | None] = mapped_column(String(4000))
    eligibility_description: Mapped[str | None] = mapped_column(Text)
    minimum_age: Mapped[float | None] = mapped_column(Float)
    maximum_age: Mapped[float | None] = mapped_column(Float)
    application_process: Mapped[str | None] = mapped_column(Text)
    fees_description: Mapped[str | None] = mapped_column(Text)
    languages: Mapped[list[str]] = mapped_column(JSON)  # ISO 639 codes (or names where the directory gave none)
    needs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # taxonomy terms: code, name, taxonomy
    hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # freq, byday, opens_at, closes_at, description
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class DirectoryServiceLocation(Base):
    __tablename__ = "directory_service_locations"

    service_id: Mapped[str] = mapped_column(ForeignKey("directory_services.id"), primary_key=True)
    location_id: Mapped[str] = mapped_column(ForeignKey("directory_locations.id"), primary_key=True)
