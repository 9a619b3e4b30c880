"""The decision step of the gate: its protocol and value types.

A decision never has side effects; it names the rules that made it so that the
audit record can say why, and for a deny what would allow it. An error while
deciding is a deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from core.principal import RequestContext
from core.vocabulary import Category


class WithheldReason(StrEnum):
    """What would allow a withheld section. Never depends on whether the agency holds data."""

    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    CONSENT_EXPIRED = "CONSENT_EXPIRED"
    CONSENT_REVOKED = "CONSENT_REVOKED"
    CONSENT_DENIED = "CONSENT_DENIED"
    NOT_PERMITTED_FOR_ROLE = "NOT_PERMITTED_FOR_ROLE"
    POLICY_ERROR = "POLICY_ERROR"


@dataclass(frozen=True, slots=True)
class Resource:
    """One client's data of one category held by one agency (through one connector)."""

    client_id: str
    category: Category
    holder: str  # the organisation that holds the records, e.g. "HRA"
    connector: str


@dataclass(frozen=True, slots=True)
class Decision:
    """Permit or deny, the deciding rule ids, and what it relied on (or, for a deny, what would allow it)."""

    permit: bool
    rule_ids: tuple[str, ...]
    basis: str | None = None  # own-agency | consent | client-self | identity-stewardship | ferpa-99.36 | break-glass
    reason: WithheldReason | None = None
    consent_id: str | None = None
    legal_basis: str | None = None
    justification: str | None = None
    break_glass: bool = False
    grant_id: str | None = None
    # a grant by consent limited to periods of data: only records dated inside them are shown
    data_periods: tuple[tuple[date | None, date | None], ...] | None = None
    # denied while a consent names this organisation and category for other purposes (auditors watch for it)
    outside_consent_purpose: bool = False


class Decider(Protocol):
    """Decides a batch of questions for one request at once."""

    async def decide(self, ctx: RequestContext, resources: Sequence[Resource]) -> list[Decision]:
        """One decision per resource, in order."""
        ...


RULE_EVALUATION_ERROR = "evaluation-error-denies"
