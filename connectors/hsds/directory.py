"""The service directory in the store: replaced whole by an import, searched by need, language and place.

A city's directory holds hundreds to a few thousand services: a search reads the active ones with their places and
filters them here (needs and languages are lists per service; distance is a great-circle one), which keeps the
store's part plain on both dialects.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from connectors.hsds.reader import Directory
from store.directory_tables import (
    DirectoryLocation,
    DirectoryOrganization,
    DirectoryService,
    DirectoryServiceLocation,
)

EARTH_KM = 6371.0088
MAX_RESULTS = 100


@dataclass(frozen=True, slots=True)
class Imported:
    organizations: int
    services: int
    locations: int


async def replace(session: AsyncSession, d: Directory, *, now: datetime) -> Imported:
    """Make the store's directory `d`, in the caller's transaction (a search sees the old one or the new one)."""
    for table in (DirectoryServiceLocation, DirectoryService, DirectoryLocation, DirectoryOrganization):
        await session.execute(delete(table))
    session.add_all(DirectoryOrganization(id=o.id, name=o.name, description=o.description, website=o.website,
                                          email=o.email) for o in d.organizations.values())
    session.add_all(DirectoryLocation(
        id=x.id, organization_id=x.organization_id, name=x.name, location_type=x.location_type, latitude=x.latitude,
        longitude=x.longitude, address_1=x.address_1, city=x.city, state_province=x.state_province,
        postal_code=x.postal_code, country=x.country, languages=x.languages) for x in d.locations.values())
    await session.flush()
    session.add_all(DirectoryService(
        id=s.id, organization_id=s.organization_id, name=s.name, description=s.description, status=s.status,
        url=s.url, email=s.email, eligibility_description=s.eligibility_description, minimum_age=s.minimum_age,
        maximum_age=s.maximum_age, application_process=s.application_process, fees_description=s.fees_description,
        languages=s.languages, needs=[asdict(n) for n in s.needs], hours=[asdict(h) for h in s.hours],
        imported_at=now) for s in d.services.values())
    await session.flush()
    session.add_all(DirectoryServiceLocation(service_id=s.id, location_id=lid)
                    for s in d.services.values() for lid in s.location_ids)
    await session.flush()
    return Imported(len(d.organizations), len(d.services), len(d.locations))


@dataclass(frozen=True, slots=True)
class Place:
    """Where a service is offered, and how far from the place asked about (km), where both are known."""

    location: DirectoryLocation
    distance_km: float | None


@dataclass(frozen=True, slots=True)
class Found:
    """A service that matched, with its organisation and places (nearest first)."""

    service: DirectoryService
    organization: DirectoryOrganization
    places: list[Place]
    languages: list[str]

    @property
    def nearest_km(self) -> float | None:
        return min((p.distance_km for p in self.places if p.distance_km is not None), default=None)


@dataclass(frozen=True, slots=True)
class Query:
    """What a person looks for: a need (a taxonomy term's code or part of its name), a language (ISO 639 code or
    name), words in the name or description, a place (coordinates and a radius, or a postal code)."""

    need: str | None = None
    language: str | None = None
    text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float | None = None
    postal_code: str | None = None
    include_inactive: bool = False
    limit: int = 20


async def search(session: AsyncSession, q: Query) -> list[Found]:
    """Services matching `q`: nearest first where a place was given, else by name."""
    stmt = select(DirectoryService, DirectoryOrganization).join(
        DirectoryOrganization, DirectoryOrganization.id == DirectoryService.organization_id)
    if not q.include_inactive:
        stmt = stmt.where(DirectoryService.status == "active")
    rows = (await session.execute(stmt)).all()
    links = defaultdict(list)
    for sid, loc in (await session.execute(select(DirectoryServiceLocation.service_id, DirectoryLocation).join(
            DirectoryLocation, DirectoryLocation.id == DirectoryServiceLocation.location_id))).all():
        links[sid].append(loc)
    need, lang, words = _fold(q.need), _fold(q.language), _fold(q.text)
    out = []
    for svc, org in rows:
        if need and not any(need == _fold(n.get("code")) or need in _fold(n.get("name")) for n in svc.needs):
            continue
        langs = list(dict.fromkeys([*svc.languages, *(x for loc in links[svc.id] for x in loc.languages)]))
        if lang and lang not in langs:
            continue
        if words and words not in _fold(svc.name) and words not in _fold(svc.description) and words not in _fold(
                org.name):
            continue
        places = [Place(loc, _km(q, loc)) for loc in links[svc.id]]
        if q.postal_code and not any(_fold(p.location.postal_code) == _fold(q.postal_code) for p in places):
            continue
        if q.radius_km is not None and not any(p.distance_km is not None and p.distance_km <= q.radius_km
                                               for p in places):
            continue
        places.sort(key=lambda p: (p.distance_km is None, p.distance_km or 0.0, p.location.id))
        out.append(Found(svc, org, places, langs))
    far = math.inf
    out.sort(key=lambda f: (f.nearest_km if f.nearest_km is not None else far, _fold(f.service.name), f.service.id))
    return out[:max(1, min(q.limit, MAX_RESULTS))]


async def needs(session: AsyncSession) -> list[tuple[dict[str, Any], int]]:
    """The needs active services meet, each with how many services meet it, most common first."""
    counted: dict[tuple[str, str], int] = defaultdict(int)
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for (terms,) in (await session.execute(select(DirectoryService.needs).where(
            DirectoryService.status == "active"))).all():
        for n in terms:
            key = (str(n.get("code")), str(n.get("name")))
            counted[key] += 1
            seen[key] = n
    return sorted(((seen[k], c) for k, c in counted.items()), key=lambda x: (-x[1], str(x[0].get("name"))))


def _km(q: Query, loc: DirectoryLocation) -> float | None:
    if q.latitude is None or q.longitude is None or loc.latitude is None or loc.longitude is None:
        return None
    p1, p2 = math.radians(q.latitude), math.radians(loc.latitude)
    dp, dl = p2 - p1, math.radians(loc.longitude - q.longitude)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return round(2 * EARTH_KM * math.asin(min(1.0, math.sqrt(a))), 2)


def _fold(value: Any) -> str:
    return str(value or "").strip().casefold()
