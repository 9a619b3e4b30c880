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

from core.principal import LegalBasisClaim, RequestContext
from core.vocabulary import Action, Category, Purpose, member_of
from policies.consents import ConsentRecord


class Basis(StrEnum):
    """What a permitted disclosure rested on: the first permit rule that applied, least invasive first
    (cedar.PERMIT_BASES). Stored as its value in each access event's decisions."""

    OWN_AGENCY = "own-agency"
    CLIENT_SELF = "client-self"
    IDENTITY_STEWARDSHIP = "identity-stewardship"
    CONSENT = "consent"
    FERPA_99_36 = "ferpa-99.36"
    BREAK_GLASS = "break-glass"
    CLIENT_NOTIFICATION = "client-notification"  # the reminders the client asked for (the delivery worker)


def basis_of(value: str | None) -> Basis | None:
    """A stored basis as the enum (None for none, or for one this version does not know)."""
    return member_of(Basis, value)


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
    """One client's data of one category held by one organisation: an agency's, through its connector, or
    records casebridge holds itself on the organisation's behalf (held_here)."""

    client_id: str
    category: Category
    holder: str  # the organisation that holds the records, e.g. "HRA"
    connector: str
    held_here: bool = False
    shared_with_client: bool = True  # an agency's records always; records held here as their holder marked them


@dataclass(frozen=True, slots=True)
class Target:
    """What an operation acts on, as its Cedar resource: a client, a consent, the access log, the index, or
    the caller's own session; with the facts its rules look at."""

    kind: str  # the Cedar entity type: Client | Section | Consent | AccessLog | Index | Directory | Webhooks | User
    client_id: str | None = None
    consent: ConsentRecord | None = None
    sees_identity: bool = False  # the caller may see an identity record that exists for the client
    grantor: str = ""  # for recording a consent: who gives it
    category: str = ""  # for a Section: the category of the record acted on ...
    holder: str = ""  # ... and the organisation holding it
    contact_opted_in: bool = False  # for a message to a client: they agreed to be contacted where it goes
    task_owner: str = ""  # for marking a plan's task: who does it (CASEWORKER | PARTNER | CLIENT)
    # for a file on an organisation's review list: addressed to it, or asked for by its waiting record
    addressed: bool = False
    asked: bool = False

    @classmethod
    def client(cls, client_id: str, *, sees_identity: bool = False, grantor: str = "") -> Target:
        """An operation about one client."""
        return cls("Client", client_id, sees_identity=sees_identity, grantor=grantor)

    @classmethod
    def section(cls, client_id: str, category: Category, holder: str, *, sees_identity: bool = False,
                addressed: bool = False, asked: bool = False, task_owner: str = "") -> Target:
        """An operation on a record casebridge holds for `holder` (an appointment scheduled here, say); for a
        file on a review list, whether it was addressed to the caller's organisation or asked for by it; for a
        plan's task, whose task it is."""
        return cls("Section", client_id, sees_identity=sees_identity, category=str(category), holder=holder,
                   addressed=addressed, asked=asked, task_owner=task_owner)

    @classmethod
    def message_to(cls, client_id: str, *, opted_in: bool) -> Target:
        """A message to a client at one of their contact points."""
        return cls("Client", client_id, contact_opted_in=opted_in)

    @classmethod
    def of_consent(cls, consent: ConsentRecord) -> Target:
        """An operation on one consent."""
        return cls("Consent", consent.client_id, consent=consent)

    @classmethod
    def access_log(cls) -> Target:
        """An auditor's operation on the access log."""
        return cls("AccessLog")

    @classmethod
    def index(cls) -> Target:
        """A search of, or a steward's operation on, the master client index."""
        return cls("Index")

    @classmethod
    def directory(cls) -> Target:
        """The city's service directory."""
        return cls("Directory")

    @classmethod
    def worklist(cls, category: Category, org: str) -> Target:
        """Organisation `org`'s list of work waiting for it of one category (files to review, referrals to
        answer); each item in it is decided on its own."""
        return cls("Worklist", category=str(category), holder=org)

    @classmethod
    def webhooks(cls, org: str) -> Target:
        """The webhook subscriptions of organisation `org`."""
        return cls("Webhooks", holder=org)

    @classmethod
    def session(cls) -> Target:
        """The caller's own sign-in."""
        return cls("User")


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether an operation may go ahead, the rules that said so, and for a refusal the purposes of use for
    which the same caller would have been allowed (empty: not for any)."""

    permit: bool
    rule_ids: tuple[str, ...]
    purposes: tuple[Purpose, ...] = ()


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

    async def decide(self, ctx: RequestContext, resources: Sequence[Resource], *,
                     claim: LegalBasisClaim | None = None) -> list[Decision]:
        """Whether each section may be shown (action read), in order; `claim` is a legal basis the user invoked."""
        ...

    async def authorize(self, ctx: RequestContext, action: Action, targets: Sequence[Target]) -> list[Verdict]:
        """Whether the caller may perform `action` on each target, in order."""
        ...


RULE_EVALUATION_ERROR = "evaluation-error-denies"
