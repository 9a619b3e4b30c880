"""Who is asking, and on whose behalf: the identity every decision is about."""

from __future__ import annotations

from dataclasses import dataclass

from core.vocabulary import LegalBasis, Purpose, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: subject, organisation, roles and OAuth client."""

    subject: str
    organization: str
    roles: frozenset[Role]
    client_id: str | None = None
    self_client: str | None = None  # for the `client` role: the casebridge client id they are
    # (No role test here: who may do what is decided by the policies, never by a check in Python.)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """One request's principal, purpose of use, GraphQL operation name and correlation id.

    Built once, at the edge, and never replaced: what a single field asks for
    (a legal basis, say) is an argument of the gate call, not part of this."""

    principal: Principal
    request_id: str
    purpose: Purpose | None = None
    operation: str | None = None


@dataclass(frozen=True, slots=True)
class LegalBasisClaim:
    """A legal basis the user invokes for access without consent, with their written justification."""

    basis: LegalBasis
    justification: str


# casebridge's delivery worker (notify/worker.py): it sends the messages clients asked for, each through the gate
DELIVERY_WORKER = Principal("casebridge-delivery-worker", "CASEBRIDGE", frozenset({Role.NOTIFIER}))


# casebridge itself, when nobody answered a referral in time (gate/referral_desk.expire_unanswered)
REFERRAL_EXPIRY = Principal("casebridge-referrals", "CASEBRIDGE", frozenset({Role.SCHEDULER}))

# The holding of what a client sends for themself (their own uploads): no organisation's, reached by an organisation
# only through the client's consent. No token may name it as its organisation (api/auth.py), so no staff member's
# organisation can be it.
CLIENT_HOLDER = "CLIENT"
RESERVED_ORGANIZATIONS = frozenset({CLIENT_HOLDER})

BY_TEXT = "client-by-text-message"
# casebridge asking the policies about an organisation rather than a caller: may its staff review a client's file
# (see it, and it is meant for them)? gate/document_reviews.may_review. Nothing is ever done or shown as it.
DOCUMENT_REVIEWERS = "casebridge-document-reviewers"
# The subjects casebridge's own workers act as: no token may carry one (api/auth.py).
SYSTEM_SUBJECTS = frozenset({DELIVERY_WORKER.subject, REFERRAL_EXPIRY.subject, BY_TEXT, DOCUMENT_REVIEWERS})


def staff_of(org: str) -> Principal:
    """A caseworker of `org`, as the policies see one: for asking what its staff may do (DOCUMENT_REVIEWERS)."""
    return Principal(DOCUMENT_REVIEWERS, org, frozenset({Role.CASEWORKER}))


def client_by_text(client_id: str) -> Principal:
    """A client speaking by text message (STOP, START) from a number they gave: their own word about being
    contacted, as if they had signed in (the provider's signed webhook vouches for the number)."""
    return Principal(BY_TEXT, "CLIENTS", frozenset({Role.CLIENT}), self_client=client_id)
