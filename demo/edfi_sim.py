"""A school district simulator: the subset of the Ed-Fi ODS/API v7 that casebridge uses, as a real HTTP API.

`GET /` (discovery), `POST /oauth/token` (HTTP Basic key:secret, client
credentials, expiring bearer tokens), and under `/data/v3/ed-fi/`: students,
studentSchoolAssociations, studentHomelessProgramAssociations and schools, with
the API's paging (`offset`, `limit` up to 500, `totalCount=true` adds a
`Total-Count` header), its filters by `studentUniqueId` and `schoolId`, and change
queries (`/changeQueries/v1/availableChangeVersions`, `minChangeVersion` /
`maxChangeVersion` on students).
Tests switch `faults` to make the district slow, broken or revoke its tokens, run it behind an ODS/API v7
route context (`route_context="district-a/2025"`: every route under that prefix, the token endpoint too), or
give casebridge a claim set without some resources (`claim_set_excludes`: those answer 403).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from demo.benefits_sim import OAuthAgency
from demo.population import Population, student_of

DATA = "/data/v3/ed-fi"
MAX_LIMIT = 500
DEFAULT_LIMIT = 25


@dataclass
class EdfiAgency(OAuthAgency):
    """The district's records and its API's state: OAuth clients, tokens, counters."""

    population: Population
    clients: dict[str, str] = field(default_factory=lambda: {"casebridge": "dev-edfi-secret"}, kw_only=True)
    versions: dict[str, int] = field(default_factory=dict)  # studentUniqueId -> change version of the student
    # studentUniqueId -> change version of the student's education organization association, where it changed
    # on its own (Ed-Fi versions every resource separately)
    reach_versions: dict[str, int] = field(default_factory=dict)
    route_context: str = ""  # v7: a tenant and/or school-year segment in front of every route
    claim_set_excludes: set[str] = field(default_factory=set)  # resources casebridge's claim set lacks: 403

    def touch(self, student_id: str, first_name: str) -> None:
        """A registrar corrects a student's first name: the student's change version moves past all others."""
        student = next(s for s in self.population.edfi.students if s["studentUniqueId"] == student_id)
        student["firstName"] = first_name
        self.versions[student_id] = self._newest() + 1

    def move(self, student_id: str, street: str, zip_code: str) -> None:
        """The family reports a new home address: only the association's change version moves."""
        mine = [a for a in self.population.edfi.education_organization_associations if student_of(a) == student_id]
        reach = next((a for a in mine if a["addresses"]), mine[0])  # the district's, not a school's address-less one
        had = reach["addresses"]
        first: dict[str, object] = had[0] if isinstance(had, list) and had else {}
        reach["addresses"] = [{**first, "streetNumberName": street, "apartmentRoomSuiteNumber": None,
                               "postalCode": zip_code, "doNotPublishIndicator": False}]
        self.reach_versions[student_id] = self._newest() + 1

    def _newest(self) -> int:
        return max((*self.versions.values(), *self.reach_versions.values()), default=0)

    def app(self) -> Starlette:
        """The ASGI app."""
        edfi = self.population.edfi
        for n, student in enumerate(edfi.students, start=1):
            self.versions.setdefault(str(student["studentUniqueId"]), n)
        self._resources: dict[str, list[dict[str, Any]]] = {
            "students": edfi.students, "studentSchoolAssociations": edfi.school_associations,
            "studentHomelessProgramAssociations": edfi.homeless_associations, "schools": edfi.schools,
            "studentEducationOrganizationAssociations": edfi.education_organization_associations,
        }
        self._by_student: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for name, items in self._resources.items():
            index: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for item in items:
                if key := _student_of(item):
                    index[key].append(item)
            self._by_student[name] = index
        prefix = "/" + self.route_context.strip("/") if self.route_context.strip("/") else ""
        routes = [Route(f"{prefix}/", self._discovery, methods=["GET"]),
                  Route(f"{prefix}/oauth/token", self._token, methods=["POST"]),
                  Route(f"{prefix}/changeQueries/v1/availableChangeVersions", self._versions, methods=["GET"])]
        routes += [Route(f"{prefix}{DATA}/{name}", self._endpoint(name), methods=["GET"]) for name in self._resources]
        return Starlette(routes=routes)

    async def _discovery(self, request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        if self.route_context.strip("/"):
            base += "/" + self.route_context.strip("/")
        return JSONResponse({"version": "7.1", "dataModels": [{"name": "Ed-Fi", "version": "5.0.0"}],
                             "urls": {"oauth": f"{base}/oauth/token", "dataManagementApi": f"{base}/data/v3/"}})

    async def _versions(self, request: Request) -> Response:
        if (refused := await self._guard(request)) is not None:
            return refused
        return JSONResponse({"oldestChangeVersion": 0, "newestChangeVersion": self._newest()})

    def _endpoint(self, name: str) -> Any:
        async def handle(request: Request) -> Response:
            if (refused := await self._guard(request)) is not None:
                return refused
            if name in self.claim_set_excludes:  # as the ODS/API answers a claim set without the resource
                return JSONResponse({"detail": "Access to the resource could not be authorized.",
                                     "type": "urn:ed-fi:api:security:authorization:", "title": "Authorization Denied",
                                     "status": 403}, status_code=403)
            q = request.query_params
            try:
                offset = int(q.get("offset", 0))
                limit = int(q.get("limit", DEFAULT_LIMIT))
            except ValueError:
                return _bad_request("offset and limit must be integers")
            if offset < 0 or not 0 < limit <= MAX_LIMIT:
                return _bad_request(f"limit must be between 1 and {MAX_LIMIT}; offset must not be negative")
            student = q.get("studentUniqueId")
            items = self._by_student[name].get(student, []) if student else self._resources[name]
            if name != "schools" and ("minChangeVersion" in q or "maxChangeVersion" in q):
                try:
                    lo, hi = int(q.get("minChangeVersion", 0)), int(q.get("maxChangeVersion", 2**62))
                except ValueError:
                    return _bad_request("change versions must be integers")
                # a student's change version stands for its associations too, unless one changed on its own
                own = self.reach_versions if name == "studentEducationOrganizationAssociations" else {}
                items = [i for i in items if lo <= own.get(k := _student_of(i), self.versions.get(k, 0)) <= hi]
            if (school := q.get("schoolId")) is not None:
                items = [i for i in items if str((i.get("schoolReference") or {}).get("schoolId", i.get("schoolId")))
                         == school]
            page = items[offset:offset + limit]
            if self.faults.malformed:
                page = [{"studentReference": "not-an-object", "entryDate": 7} for _ in page] or [{"id": 3}]
            headers = {"Total-Count": str(len(items))} if q.get("totalCount", "").lower() == "true" else {}
            return JSONResponse(page, headers=headers)

        return handle


def _student_of(item: dict[str, Any]) -> str:
    ref = item.get("studentReference")
    return str(item.get("studentUniqueId") or (ref.get("studentUniqueId") if isinstance(ref, dict) else ""))


def _bad_request(message: str) -> Response:
    return JSONResponse({"detail": "The request is invalid.", "type": "urn:ed-fi:api:bad-request",
                         "title": "Bad Request", "status": 400, "errors": [message]}, status_code=400)
