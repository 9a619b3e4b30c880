"""The decision step of the gate: a protocol, its value types, and the first decider.

A decision never has side effects; it names the rules that made it so that
the audit record can say why. An error while deciding is a deny.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.principal import Principal
from core.vocabulary import Category, Purpose, Role


class WithheldReason(StrEnum):
    """What would allow a withheld section; the same whether or not data exists."""

    CONSENT_REQUIRED = "CONSENT_REQUIRED"
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
    """Permit or deny, the ids of the deciding rules, and for a deny what would allow it."""

    permit: bool
    rule_ids: tuple[str, ...]
    basis: str | None = None  # e.g. "own-agency", a consent id, a legal basis
    reason: WithheldReason | None = None


class Decider(Protocol):
    """Decides a batch of (principal, resource, purpose) questions at once."""

    async def decide(
        self, principal: Principal, purpose: Purpose, resources: Sequence[Resource]
    ) -> list[Decision]:
        """One decision per resource, in order."""
        ...


# Rule ids are stable: they go into the access log.
RULE_OWN_AGENCY = "own-agency-reads-own-records"
RULE_AUDITOR_NO_CLIENT_DATA = "auditor-never-reads-client-data"
RULE_DEFAULT_DENY = "default-deny"
RULE_EVALUATION_ERROR = "evaluation-error-denies"

_READERS = frozenset({Role.CASEWORKER})


class OwnAgencyDecider:
    """First decider: an agency's caseworkers read the records their own agency holds.

    Basis: an agency's own staff using its own records for its own program
    needs no cross-agency consent. Everything else is denied, and a deny says
    consent would be needed. The consent issue replaces this with Cedar policies.
    """

    async def decide(
        self, principal: Principal, purpose: Purpose, resources: Sequence[Resource]
    ) -> list[Decision]:
        """One decision per resource, in order."""
        return [self._one(principal, r) for r in resources]

    @staticmethod
    def _one(principal: Principal, resource: Resource) -> Decision:
        if principal.has(Role.AUDITOR) and not principal.roles & _READERS:
            return Decision(False, (RULE_AUDITOR_NO_CLIENT_DATA,), reason=WithheldReason.NOT_PERMITTED_FOR_ROLE)
        if principal.roles & _READERS and principal.organization == resource.holder:
            return Decision(True, (RULE_OWN_AGENCY,), basis="own-agency")
        if not principal.roles & _READERS:
            return Decision(False, (RULE_DEFAULT_DENY,), reason=WithheldReason.NOT_PERMITTED_FOR_ROLE)
        return Decision(False, (RULE_DEFAULT_DENY,), reason=WithheldReason.CONSENT_REQUIRED)
