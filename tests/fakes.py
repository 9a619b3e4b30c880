"""Small real implementations of the gate's protocols, for tests (no patching of our code)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from audit.access_records import AccessRecord
from connectors.base import ConnectorStatus, StatusTracker
from connectors.records import Appointment, FetchResult, SourceRecord
from core.errors import AgencyError, AuditUnavailable
from core.principal import LegalBasisClaim, RequestContext
from core.vocabulary import Action, Category, Purpose
from identity.crosswalk import SourceRef
from policies.decisions import Decision, Resource, Target, Verdict


class DictCrosswalk:
    def __init__(self, links: dict[str, list[SourceRef]]) -> None:
        self.links = links

    async def resolve(self, client_ids: Sequence[str]) -> dict[str, list[SourceRef]]:
        return {c: list(self.links[c]) for c in client_ids if c in self.links}


class FakeConnector:
    """An agency holding appointments for some local ids; records every call."""

    def __init__(self, name: str, organization: str, held: dict[str, int],
                 categories: frozenset[Category] = frozenset({Category.APPOINTMENTS, Category.DOCUMENTS}),
                 fail: AgencyError | None = None, crash: bool = False) -> None:
        self.name = name
        self.source = name
        self.organization = organization
        self.categories = categories
        self.held = held  # local id -> number of appointments
        self.fail = fail
        self.crash = crash
        self.calls: list[tuple[tuple[str, ...], frozenset[Category]]] = []
        self._status = StatusTracker(name)

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        self.calls.append((tuple(local_ids), categories))
        if self.crash:
            raise RuntimeError("bug")
        if self.fail:
            raise self.fail
        when = datetime(2026, 12, 1, 9, tzinfo=UTC)
        records = {
            lid: SourceRecord(lid, {c: [Appointment(f"{lid}-{i}", self.organization, "X", when, None, None,
                                                    "SCHEDULED") for i in range(self.held[lid])]
                                    for c in categories})
            for lid in local_ids if lid in self.held
        }
        return FetchResult(as_of=datetime(2026, 11, 24, tzinfo=UTC), records=records)

    def status(self) -> ConnectorStatus:
        return self._status.snapshot()

    async def aclose(self) -> None:
        return None


class TableDecider:
    """Permits exactly the (organisation, category, holder) triples it is given."""

    def __init__(self, allowed: set[tuple[str, Category, str]], explode: bool = False,
                 operations: set[Action] | None = None) -> None:
        self.allowed = allowed
        self.explode = explode
        self.operations = set(Action) if operations is None else operations  # allowed to anyone with a purpose
        self.calls = 0

    async def authorize(self, ctx: RequestContext, action: Action, targets: Sequence[Target]) -> list[Verdict]:
        ok = action in self.operations and ctx.purpose is not None
        return [Verdict(ok, ("test-operation",), () if ok else (Purpose.CASE_MANAGEMENT,))] * len(targets)

    async def decide(self, ctx: RequestContext, resources: Sequence[Resource], *,
                     claim: LegalBasisClaim | None = None) -> list[Decision]:
        principal = ctx.principal
        self.calls += 1
        if self.explode:
            raise RuntimeError("policy engine down")
        from policies.decisions import WithheldReason

        return [Decision(True, ("test-permit",), basis="test") if (principal.organization, r.category, r.holder)
                in self.allowed else Decision(False, ("test-deny",), reason=WithheldReason.CONSENT_REQUIRED)
                for r in resources]


class ListRecorder:
    def __init__(self, broken: bool = False) -> None:
        self.records: list[AccessRecord] = []
        self.writes = 0
        self.broken = broken

    async def record(self, records: Sequence[AccessRecord], *, session: object = None) -> None:
        if self.broken:
            raise AuditUnavailable("the access log could not be written")
        self.writes += 1
        self.records.extend(records)

    async def aclose(self) -> None:
        return None
