"""Consent records shaped like FHIR R4 Consent, and the facts a decision needs from them.

A consent belongs to one client. Its provisions permit or deny named
organisations access to named categories for named purposes during a period.
A deny provision is an exception that overrides permits (FHIR nests it; we keep
the provisions flat with a `type`). Revoking sets `revoked_at`; nothing is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from core.errors import InvalidInput
from core.vocabulary import Category, Purpose


class ConsentStatus(StrEnum):
    """FHIR R4 Consent.status."""

    DRAFT = "draft"
    PROPOSED = "proposed"
    ACTIVE = "active"
    REJECTED = "rejected"
    INACTIVE = "inactive"
    ENTERED_IN_ERROR = "entered-in-error"


class Grantor(StrEnum):
    """Who gave the consent."""

    CLIENT = "client"
    GUARDIAN = "guardian"


class ConsentFact(StrEnum):
    """What a client's consents say about one (organisation, category, purpose), now."""

    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"
    EXPIRED = "expired"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Provision:
    """One permit or deny rule of a consent."""

    type: str  # "permit" | "deny"
    organizations: tuple[str, ...]
    categories: tuple[Category, ...]
    purposes: tuple[Purpose, ...]
    period_start: datetime | None = None
    period_end: datetime | None = None
    data_period_start: date | None = None
    data_period_end: date | None = None
    # the organisations holding the data it covers (FHIR actor role CST, custodian); empty: wherever held
    holders: tuple[str, ...] = ()

    def covers(self, org: str, category: Category, purpose: Purpose, holder: str) -> bool:
        """Whether this provision speaks about `org` reading `category` held by `holder` for `purpose`.

        A deny provision with no purposes denies every purpose; one naming no holders covers every holder.
        """
        if not self.names(org, category, holder):
            return False
        return purpose in self.purposes or (self.type == "deny" and not self.purposes)

    def names(self, org: str, category: Category, holder: str) -> bool:
        """Whether this provision is about `org` and `category` held by `holder`, for some purpose."""
        return (org in self.organizations and category in self.categories
                and (not self.holders or holder in self.holders))

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "type": self.type, "organizations": list(self.organizations),
            "categories": [str(c) for c in self.categories], "purposes": [str(p) for p in self.purposes],
            "period_start": _iso(self.period_start), "period_end": _iso(self.period_end),
            "data_period_start": _iso(self.data_period_start), "data_period_end": _iso(self.data_period_end),
            "holders": list(self.holders),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Provision:
        """Read the stored form."""
        return cls(
            type=data["type"], organizations=tuple(data["organizations"]),
            categories=tuple(Category(c) for c in data["categories"]),
            purposes=tuple(Purpose(p) for p in data["purposes"]),
            period_start=_dt(data.get("period_start")), period_end=_dt(data.get("period_end")),
            data_period_start=_d(data.get("data_period_start")), data_period_end=_d(data.get("data_period_end")),
            holders=tuple(data.get("holders") or ()),
        )


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """A consent as the decision and the API see it."""

    id: str
    client_id: str
    status: ConsentStatus
    grantor: Grantor
    source_reference: str
    given_at: datetime
    recorded_by_subject: str
    recorded_by_org: str
    recorded_at: datetime
    provisions: tuple[Provision, ...]
    version: int = 1
    updated_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_by_org: str | None = None
    revocation_reason: str | None = None

    def involves(self, org: str) -> bool:
        """Whether `org` recorded this consent or is named in it (as grantee, refused, or holder of the data)."""
        return org == self.recorded_by_org or self.names(org)

    def names(self, org: str) -> bool:
        """Whether a provision names `org`, as grantee, as refused, or as the holder of the data it covers."""
        return any(org in p.organizations or org in p.holders for p in self.provisions)

    def refuses(self, org: str) -> bool:
        """Whether a deny provision names `org` (whatever the consent's state: a refusal is never undone by
        the organisation it refuses)."""
        return any(p.type == "deny" and org in p.organizations for p in self.provisions)


DataPeriod = tuple[date | None, date | None]


class ConsentAnswer(NamedTuple):
    """What the consents say, which consent says it, and for a grant the periods of data it covers."""

    fact: ConsentFact
    consent_id: str | None
    data_periods: tuple[DataPeriod, ...] | None = None  # None: all of the data
    other_purpose: bool = False  # no grant, but an active permit names this org and category for other purposes


_RANK = {ConsentFact.DENIED: 4, ConsentFact.GRANTED: 3, ConsentFact.REVOKED: 2, ConsentFact.EXPIRED: 1}


def consent_fact(
    consents: Iterable[ConsentRecord], *, org: str, category: Category, purpose: Purpose | None, holder: str,
    now: datetime,
) -> ConsentAnswer:
    """What the client's consents say about `org` reading `category` held by `holder` for `purpose` at `now`,
    and which consent. Without a purpose they say nothing.

    Precedence: an active deny > an active permit > a revoked permit > an expired permit > nothing.
    Draft, proposed, rejected and entered-in-error consents say nothing. A grant covers the union of
    the data periods of every permit that grants it; one permit without a data period covers all data.
    """
    best: tuple[int, ConsentFact, str | None] = (0, ConsentFact.NONE, None)
    periods: list[DataPeriod] = []
    unlimited = False
    other_purpose = False
    for consent in consents:
        if consent.status not in (ConsentStatus.ACTIVE, ConsentStatus.INACTIVE):
            continue
        revoked = consent.revoked_at is not None and consent.revoked_at <= now
        if consent.status is ConsentStatus.INACTIVE and not revoked:
            continue
        for prov in consent.provisions:
            if purpose is None or not prov.covers(org, category, purpose, holder):
                if (prov.type == "permit" and not revoked and prov.names(org, category, holder)
                        and _in_force(prov, now)):
                    other_purpose = True
                continue
            if prov.period_start is not None and now < prov.period_start:
                continue  # not yet in force
            ended = prov.period_end is not None and now >= prov.period_end
            if prov.type == "deny":
                fact = None if (revoked or ended) else ConsentFact.DENIED
            elif revoked:
                fact = ConsentFact.REVOKED
            else:
                fact = ConsentFact.EXPIRED if ended else ConsentFact.GRANTED
            if fact is ConsentFact.GRANTED:
                if prov.data_period_start is None and prov.data_period_end is None:
                    unlimited = True
                else:
                    periods.append((prov.data_period_start, prov.data_period_end))
            if fact is not None and _RANK[fact] > best[0]:
                best = (_RANK[fact], fact, consent.id)
    if best[1] is ConsentFact.GRANTED and not unlimited:
        return ConsentAnswer(best[1], best[2], tuple(periods))
    return ConsentAnswer(best[1], best[2], other_purpose=best[1] is ConsentFact.NONE and other_purpose)


def _in_force(prov: Provision, now: datetime) -> bool:
    started = prov.period_start is None or prov.period_start <= now
    return started and (prov.period_end is None or now < prov.period_end)


def validate_provisions(provisions: Sequence[Provision]) -> None:
    """Refuse provisions that would be ambiguous or grant everything; InvalidInput says which."""
    if not provisions:
        raise InvalidInput("a consent needs at least one provision", field="provisions")
    for i, p in enumerate(provisions):
        where = f"provisions[{i}]"
        if p.type not in ("permit", "deny"):
            raise InvalidInput("provision type must be permit or deny", field=f"{where}.type")
        if not p.organizations or any(not o.strip() or len(o) > 64 for o in p.organizations):
            raise InvalidInput("name the organisations (1-64 characters each)", field=f"{where}.organizations")
        if not p.categories:
            raise InvalidInput("name the categories of data", field=f"{where}.categories")
        if any(not h.strip() or len(h) > 64 for h in p.holders):
            raise InvalidInput("name the holders of the data (1-64 characters each), or none for wherever held",
                               field=f"{where}.holders")
        if p.type == "permit" and not p.purposes:
            raise InvalidInput("a permit must name the purposes of use", field=f"{where}.purposes")
        if p.period_start and p.period_end and p.period_end <= p.period_start:
            raise InvalidInput("the period must end after it starts", field=f"{where}.period")
        if (p.data_period_start or p.data_period_end) and p.type == "deny":
            raise InvalidInput("a deny provision covers all of the data; data periods limit permits",
                               field=f"{where}.dataPeriod")
        if p.data_period_start and p.data_period_end and p.data_period_end < p.data_period_start:
            raise InvalidInput("the data period must end after it starts", field=f"{where}.dataPeriod")
        for t in (p.period_start, p.period_end):
            if t is not None and t.tzinfo is None:
                raise InvalidInput("times must carry a time zone", field=f"{where}.period")


def _iso(v: date | datetime | None) -> str | None:
    return v.isoformat() if v is not None else None


def _dt(v: str | None) -> datetime | None:
    return datetime.fromisoformat(v) if v else None


def _d(v: str | None) -> date | None:
    return date.fromisoformat(v) if v else None
