"""The plain-Python oracle of the consent property test: who may see, change and do what, restated from
DESIGN.md and the one-gate issue independently of the Cedar policies (tests/test_consent_properties.py drives
the gateway against it)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace

ORGS = ["HRA", "DHS", "DOE", "LEGALAID"]
CARE = ("case_management", "care_coordination", "eligibility", "emergency")
PURPOSES = [*CARE, "audit", "client_access", "identity_stewardship", None]  # None: no X-Purpose-Of-Use header
STAFF = ("caseworker", "partner")
ROLES = ["caseworker", "caseworker", "partner", "partner", "client", "client", "auditor", "identity_steward", "admin"]
NATURAL_PURPOSE = {"client": "client_access", "auditor": "audit", "identity_steward": "identity_stewardship"}
HOLDERS = {"identity": ("HRA", "DHS"), "benefits": ("HRA",), "appointments": ("HRA",), "documents": ("HRA",),
           "housing": ("DHS",)}  # agency sections and who holds them; casework is held here
CATEGORIES = [*HOLDERS, "casework"]
SOURCE_HOLDER = {"benefits": "HRA", "hmis": "DHS"}
ITEMS = {"identity": "records", "benefits": "cases", "appointments": "items", "documents": "items",
         "housing": "enrollments", "casework": "notes"}
SELF = "SELF"  # the organisation claim of a client's own token
UNINVOLVED = "ACS"  # an organisation no generated consent names (it may record some, though)
BYSTANDER = "NYCHA"  # an organisation no consent names and none of these tests acts for
WITHHELD_BY = {"denied": "CONSENT_DENIED", "revoked": "CONSENT_REVOKED", "expired": "CONSENT_EXPIRED",
               "none": "CONSENT_REQUIRED"}


# --- the model: what the tests recorded, as the oracle sees it --------------------------------------------------


@dataclass(frozen=True)
class Provision:
    type: str  # permit | deny
    orgs: tuple[str, ...]
    categories: tuple[str, ...]
    purposes: tuple[str, ...]  # a deny naming none refuses every purpose
    holders: tuple[str, ...] = ()  # none: wherever the data is held


@dataclass
class Consent:
    id: str
    client: str
    recorded_by: str  # the recording organisation (SELF when the client recorded it)
    kind: str  # active | expired | future: where its provisions' period lies
    provisions: tuple[Provision, ...]
    revoked: bool = False
    version: int = 1

    def names(self, org: str) -> bool:
        return any(org in p.orgs or org in p.holders for p in self.provisions)

    def refuses(self, org: str) -> bool:
        return any(p.type == "deny" and org in p.orgs for p in self.provisions)


@dataclass(frozen=True)
class Note:
    holder: str
    text: str
    shared: bool


@dataclass(frozen=True)
class Caller:
    org: str
    role: str
    purpose: str | None
    subject: str
    self_client: str | None = None  # for a client: who they are

    @property
    def staff(self) -> bool:
        return self.role in STAFF

    def is_client(self, client: str) -> bool:
        return self.role == "client" and self.self_client == client


@dataclass
class Model:
    """Every consent and note recorded through the gateway, and the agency records each client has."""

    records: dict[str, frozenset[str]]  # client -> the organisations holding an identity record of them
    consents: dict[str, list[Consent]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[Note]] = field(default_factory=lambda: defaultdict(list))

    def consents_say(self, client: str, org: str, category: str, holder: str, purpose: str | None) -> str:
        """What the client's consents say about `org` reading `category` held by `holder` for `purpose`:
        an active refusal beats an active grant, which beats a revoked grant, which beats an expired one."""
        said = set()
        for c in self.consents[client]:
            if c.kind == "future":
                continue  # not in force yet: says nothing
            for p in c.provisions:
                if org not in p.orgs or category not in p.categories or (p.holders and holder not in p.holders):
                    continue
                if purpose not in p.purposes and not (p.type == "deny" and not p.purposes):
                    continue
                if p.type == "deny":
                    if c.kind == "active" and not c.revoked:
                        said.add("denied")
                else:
                    said.add("revoked" if c.revoked else "expired" if c.kind == "expired" else "granted")
        return next((s for s in ("denied", "granted", "revoked", "expired") if s in said), "none")

    def section(self, who: Caller, client: str, category: str, holder: str, *, held_here: bool = False,
                shared: bool = True) -> tuple[str, str | None, str | None]:
        """(status, withheld reason, basis) of one holder's part of one section."""
        if who.role == "client":
            if who.is_client(client) and who.purpose == "client_access" and shared:
                return "SHOWN", None, "client-self"
            return "WITHHELD", "NOT_PERMITTED_FOR_ROLE", None
        if not who.staff or who.purpose not in CARE:
            return "WITHHELD", "NOT_PERMITTED_FOR_ROLE", None
        if holder == who.org and (who.role == "caseworker" or held_here):
            return "SHOWN", None, "own-agency"  # its own records (a partner: only what it recorded here)
        said = self.consents_say(client, who.org, category, holder, who.purpose)
        if said == "granted":
            return "SHOWN", None, "consent"
        return "WITHHELD", WITHHELD_BY[said], None

    def sees_identity(self, who: Caller, client: str) -> bool:
        """Whether the caller may see an identity record that exists for the client."""
        return any(self.section(who, client, "identity", h)[0] == "SHOWN" for h in self.records.get(client, ()))

    def casework(self, who: Caller, client: str) -> tuple[dict[str, tuple[str, str | None, str | None]], set[str]]:
        """The casework parts the caller is shown (their own organisation's always; another holder's only where
        some of its notes may be seen: no trace otherwise) and the texts of the notes shown."""
        parts = {who.org: self.section(who, client, "casework", who.org, held_here=True)}
        texts = set()
        for note in self.notes[client]:
            part = self.section(who, client, "casework", note.holder, held_here=True, shared=note.shared)
            if part[0] == "SHOWN":
                parts[note.holder] = part
                texts.add(note.text)
        return parts, texts

    def may_see_consent(self, who: Caller, c: Consent) -> bool:
        if who.role == "client":
            return who.is_client(c.client) and who.purpose == "client_access"
        return who.staff and who.purpose in CARE and (c.recorded_by == who.org or c.names(who.org))

    def change_purposes(self, who: Caller, c: Consent) -> set[str]:
        """The purposes for which the caller may amend or revoke the consent."""
        if who.is_client(c.client):
            return {"client_access"}
        if c.refuses(who.org):
            return set()  # an organisation the consent refuses never changes it
        return set(CARE) if who.staff and c.recorded_by == who.org else set()


def open_purposes(who: Caller, client: str) -> set[str]:
    """The purposes for which the caller may open the client's profile, list their consents or search."""
    if who.staff:
        return set(CARE)
    return {"client_access"} if who.is_client(client) else set()


def identity_purposes(m: Model, who: Caller, client: str) -> set[str]:
    """The purposes for which staff may act for a client (its disclosure report, a case note): the care purposes
    for which they may see one of the client's identity records."""
    return {p for p in CARE if who.staff and m.sees_identity(replace(who, purpose=p), client)}


def refusal(who: Caller, purposes: set[str]) -> tuple[str, frozenset[str]] | None:
    """The error for a caller whose purpose is not among `purposes` (None: allowed), with the purposes suggested."""
    if who.purpose in purposes:
        return None
    if not purposes:
        return "FORBIDDEN", frozenset()
    return ("PURPOSE_REQUIRED" if who.purpose is None else "PURPOSE_NOT_ALLOWED"), frozenset(purposes)
