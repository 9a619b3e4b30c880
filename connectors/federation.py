"""What keeps one slow or broken agency from costing more than its own section: retries and a circuit breaker.

`Resilient` wraps any Connector. A read that fails for a reason that may pass
(AgencyUnavailable, AgencyTimeout) is retried a bounded number of times with
exponential backoff and jitter (reads are idempotent); a refusal of our
credentials or malformed data is not retried. After `threshold` failed calls in
a row the circuit opens: calls fail at once, without touching the agency, for
`cooldown_seconds`; then one trial call is let through (half-open), and its
outcome closes or reopens the circuit.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from pydantic import BaseModel, Field

from connectors.base import Connector, ConnectorStatus
from connectors.records import FetchResult
from core.errors import AgencyError, AgencyTimeout, AgencyUnavailable
from core.vocabulary import Category

RETRIABLE = (AgencyUnavailable, AgencyTimeout)


class FederationPolicy(BaseModel):
    """Retries and circuit breaking for every connector."""

    retries: int = Field(default=1, ge=0, le=5)  # extra attempts after the first, for transient failures
    backoff_seconds: float = Field(default=0.05, ge=0, le=5)  # first wait; doubles per attempt, with jitter
    breaker_threshold: int = Field(default=5, ge=1, le=1000)  # failed calls in a row that open the circuit
    breaker_cooldown_seconds: float = Field(default=30.0, gt=0, le=3600)


class Resilient:
    """A connector behind retries and a circuit breaker; looks like the connector it wraps."""

    def __init__(self, inner: Connector, policy: FederationPolicy, *,
                 clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None) -> None:
        self.inner = inner
        self.policy = policy
        self.name = inner.name
        self.source = inner.source
        self.organization = inner.organization
        self.categories = inner.categories
        self._clock = clock
        self._rng = rng or random.Random()
        self._failures = 0
        self._open_until: float | None = None
        self._trial = False  # a half-open trial call is in flight

    @property
    def circuit(self) -> str:
        """closed, open, or half-open (the cooldown is over; the next call is a trial)."""
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until else "half-open"

    async def fetch(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        """The inner fetch, retried on transient failures, refused at once while the circuit is open."""
        state = self.circuit
        if state == "open" or (state == "half-open" and self._trial):
            raise AgencyUnavailable(f"the {self.name} agency failed repeatedly; not asking it again yet",
                                    connector=self.name, circuit="open",
                                    suggestion="The section comes back once the agency answers again.")
        self._trial = state == "half-open"
        try:
            result = await self._with_retries(local_ids, categories)
        except AgencyError:
            self._failed()
            raise
        finally:
            self._trial = False
        self._failures, self._open_until = 0, None
        return result

    async def _with_retries(self, local_ids: Sequence[str], categories: frozenset[Category]) -> FetchResult:
        delay = self.policy.backoff_seconds
        attempts = 1 if self.circuit == "half-open" else 1 + self.policy.retries
        for attempt in range(1, attempts + 1):
            try:
                return await self.inner.fetch(local_ids, categories)
            except RETRIABLE:
                if attempt == attempts:
                    raise
            await asyncio.sleep(delay * (0.5 + self._rng.random()))  # jitter: replicas do not retry in step
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(self) -> None:
        self._failures += 1
        if self.circuit == "half-open" or self._failures >= self.policy.breaker_threshold:
            self._open_until = self._clock() + self.policy.breaker_cooldown_seconds

    def status(self) -> ConnectorStatus:
        """The inner connector's status, with the circuit's state."""
        return replace(self.inner.status(), circuit=self.circuit)

    async def aclose(self) -> None:
        """Close the inner connector."""
        await self.inner.aclose()
