"""The directory desk: the city's service directory (Open Referral HSDS, connectors/hsds), searched by need,
language and place by whoever helps a client choose a service, or by a client applying themselves
(policies/operations.cedar, action directory.search). What is on offer is no client's data: a search is decided,
and a refusal logged, but an answer is not an access to anyone's records."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from connectors.hsds.directory import MAX_RESULTS, Found, Query, needs, search
from core.errors import InvalidInput
from core.principal import RequestContext
from core.vocabulary import Action
from gate.gate import Gate
from policies.decisions import Target

MAX_WORDS = 200
MAX_RADIUS_KM = 500.0


class DirectoryDesk:
    """Searches the service directory through the gate."""

    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any]) -> None:
        self._gate = gate
        self._sessions = sessions

    async def search(self, ctx: RequestContext, q: Query) -> list[Found]:
        """Services matching `q`, nearest first where a place is given."""
        _check(q)
        await self._gate.authorize(ctx, Action.DIRECTORY_SEARCH, [Target.directory()])
        async with self._gate.store_work(Action.DIRECTORY_SEARCH), self._sessions() as session:
            return await search(session, q)

    async def needs(self, ctx: RequestContext) -> list[tuple[dict[str, Any], int]]:
        """The needs the directory's active services meet, with how many meet each."""
        await self._gate.authorize(ctx, Action.DIRECTORY_SEARCH, [Target.directory()])
        async with self._gate.store_work(Action.DIRECTORY_SEARCH), self._sessions() as session:
            return await needs(session)


def _check(q: Query) -> None:
    for name, value in (("need", q.need), ("language", q.language), ("text", q.text), ("postalCode", q.postal_code)):
        if value is not None and len(value) > MAX_WORDS:
            raise InvalidInput(f"{name} is at most {MAX_WORDS} characters", field=name)
    if (q.latitude is None) != (q.longitude is None):
        raise InvalidInput("a place has both a latitude and a longitude", field="near")
    if q.latitude is not None and not -90 <= q.latitude <= 90:
        raise InvalidInput("a latitude is from -90 to 90", field="near.latitude")
    if q.longitude is not None and not -180 <= q.longitude <= 180:
        raise InvalidInput("a longitude is from -180 to 180", field="near.longitude")
    if q.radius_km is not None and (q.latitude is None or not 0 < q.radius_km <= MAX_RADIUS_KM):
        raise InvalidInput(f"a radius (above 0, at most {MAX_RADIUS_KM:g} km) goes with a place", field="near.radiusKm")
    if not 1 <= q.limit <= MAX_RESULTS:
        raise InvalidInput(f"ask for 1 to {MAX_RESULTS} services", field="first")
