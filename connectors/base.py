"""The Connector protocol every agency adapter implements, and its health report."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from connectors.records import FetchResult, PeopleBatch
from core.errors import AgencyError
from core.vocabulary import Category


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """The last thing we know about an agency: when it last answered, and the last failure."""

    name: str
    state: str  # "unknown" | "up" | "down"
    last_success: datetime | None = None
    last_failure: datetime | None = None
    last_error_code: str | None = None
    circuit: str = "closed"  # closed | open | half-open (connectors.federation)


@runtime_checkable
class Connector(Protocol):
    """One agency's records, reached through its own format.

    `fetch` raises only `core.errors.AgencyError` subclasses; it never returns
    partial garbage. Local ids the agency does not know are absent from the result.
    """

    name: str  # stable connector name, shown in errors (e.g. "benefits")
    source: str  # crosswalk source key for this agency's local ids
    organization: str  # the agency that holds the records (e.g. "HRA")
    categories: frozenset[Category]

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        """Records for `local_ids`, limited to `categories`."""
        ...

    def status(self) -> ConnectorStatus:
        """The last known health of the agency."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class PeopleSource(Protocol):
    """A connector that can list the people its agency knows, for the identity index."""

    name: str
    source: str

    async def list_people(self, since: str | None = None) -> PeopleBatch:
        """Everyone (since=None), or the people changed since a watermark an earlier call returned."""
        ...


class StatusTracker:
    """Keeps a connector's last success and failure for /readyz."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._success: datetime | None = None
        self._failure: datetime | None = None
        self._code: str | None = None

    def ok(self) -> None:
        """Record a successful call."""
        self._success = datetime.now(UTC)

    def failed(self, code: str) -> None:
        """Record a failed call and its error code."""
        self._failure = datetime.now(UTC)
        self._code = code

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Around one call to the agency: an AgencyError out of it is a failure (re-raised), else a success."""
        try:
            yield
        except AgencyError as exc:
            self.failed(exc.code)
            raise
        self.ok()

    def snapshot(self) -> ConnectorStatus:
        """The status as of now."""
        if self._success is None and self._failure is None:
            state = "unknown"
        elif self._failure is not None and (self._success is None or self._failure > self._success):
            state = "down"
        else:
            state = "up"
        return ConnectorStatus(self.name, state, self._success, self._failure, self._code)
