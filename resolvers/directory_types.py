"""GraphQL types of the service directory (Open Referral HSDS 3.x, connectors/hsds)."""

from __future__ import annotations

from typing import Any

import strawberry

from connectors.hsds.directory import Found, Query


@strawberry.type(description="A need a service meets: a taxonomy term of the directory (its code, its name).")
class DirectoryNeed:
    code: str
    name: str
    taxonomy: str | None


@strawberry.type(description="A need, and how many active services meet it.")
class DirectoryNeedCount:
    need: DirectoryNeed
    services: int


@strawberry.type(description="When a service is open (HSDS schedule: RRULE-style days, local times), or in words.")
class ServiceHours:
    freq: str | None = strawberry.field(description="WEEKLY or MONTHLY.")
    byday: str | None = strawberry.field(description="Days, e.g. MO,WE,FR (MONTHLY: 1MO, -1FR).")
    opens_at: str | None = strawberry.field(description="HH:MM.")
    closes_at: str | None = strawberry.field(description="HH:MM.")
    description: str | None


@strawberry.type(description="An organisation offering services.")
class ServiceOrganization:
    id: strawberry.ID
    name: str
    description: str | None
    website: str | None
    email: str | None


@strawberry.type(description="Where a service is offered.")
class ServiceLocation:
    id: strawberry.ID
    name: str | None
    location_type: str = strawberry.field(description="physical, postal or virtual.")
    address_1: str | None
    city: str | None
    state_province: str | None
    postal_code: str | None
    country: str | None
    latitude: float | None
    longitude: float | None
    distance_km: float | None = strawberry.field(description="From the place asked about, where both are known.")


@strawberry.type(description="A service in the city's directory (Open Referral HSDS).")
class DirectoryService:
    id: strawberry.ID
    name: str
    description: str | None
    status: str = strawberry.field(description="active, inactive, defunct or temporarily closed.")
    url: str | None
    email: str | None
    eligibility: str | None = strawberry.field(description="Who may use it, in the directory's words.")
    minimum_age: float | None
    maximum_age: float | None
    application_process: str | None
    fees: str | None
    languages: list[str] = strawberry.field(description="ISO 639 codes (or names, where the directory gave no "
                                            "code), at the service or its places.")
    needs: list[DirectoryNeed]
    hours: list[ServiceHours]
    organization: ServiceOrganization
    locations: list[ServiceLocation] = strawberry.field(description="Nearest first, where a place was asked about.")


@strawberry.input(description="A place to search around.")
class NearInput:
    latitude: float
    longitude: float
    radius_km: float | None = strawberry.field(default=None, description="Only services within this distance.")


def query_of(need: str | None, language: str | None, text: str | None, near: NearInput | None,
             postal_code: str | None, include_inactive: bool, first: int) -> Query:
    """The directory's query from the field's arguments."""
    return Query(need=need, language=language, text=text, latitude=near.latitude if near else None,
                 longitude=near.longitude if near else None, radius_km=near.radius_km if near else None,
                 postal_code=postal_code, include_inactive=include_inactive, limit=first)


def need_view(n: dict[str, Any]) -> DirectoryNeed:
    return DirectoryNeed(code=str(n.get("code") or ""), name=str(n.get("name") or ""), taxonomy=n.get("taxonomy"))


def service_view(f: Found) -> DirectoryService:
    """The public face of one directory service."""
    s, o = f.service, f.organization
    return DirectoryService(
        id=strawberry.ID(s.id), name=s.name, description=s.description, status=s.status, url=s.url, email=s.email,
        eligibility=s.eligibility_description, minimum_age=s.minimum_age, maximum_age=s.maximum_age,
        application_process=s.application_process, fees=s.fees_description, languages=f.languages,
        needs=[need_view(n) for n in s.needs],
        hours=[ServiceHours(freq=h.get("freq"), byday=h.get("byday"), opens_at=h.get("opens_at"),
                            closes_at=h.get("closes_at"), description=h.get("description")) for h in s.hours],
        organization=ServiceOrganization(id=strawberry.ID(o.id), name=o.name, description=o.description,
                                         website=o.website, email=o.email),
        locations=[ServiceLocation(
            id=strawberry.ID(p.location.id), name=p.location.name, location_type=p.location.location_type,
            address_1=p.location.address_1, city=p.location.city, state_province=p.location.state_province,
            postal_code=p.location.postal_code, country=p.location.country, latitude=p.location.latitude,
            longitude=p.location.longitude, distance_km=p.distance_km) for p in f.places])
