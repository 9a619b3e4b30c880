"""Who is asking, and on whose behalf: the identity every decision is about."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

from core.vocabulary import LegalBasis, Purpose, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: subject, organisation, roles and OAuth client."""

    subject: str
    organization: str
    roles: frozenset[Role]
    client_id: str | None = None
    self_client: str | None = None  # for the `client` role: the casebridge client id they are

    def has(self, role: Role) -> bool:
        """Whether the principal holds `role`."""
        return role in self.roles


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request's principal, purpose of use and correlation id."""

    principal: Principal
    request_id: str
    purpose: Purpose | None = None
    operation: str | None = None
    legal_basis: LegalBasisClaim | None = None
    # Set by the HTTP layer: access-log writes started for this request, which
    # it awaits before any byte of the response leaves (see api.app). None:
    # the gate awaits each write itself before returning data.
    audit_writes: list[Awaitable[None]] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class LegalBasisClaim:
    """A legal basis the user invokes for access without consent, with their written justification."""

    basis: LegalBasis
    justification: str
