"""Reading the access log: filtered pages for auditors, unusual-access summaries, a client's disclosure report.

Events hold ids, category names and decisions only, never client data, so an
auditor reading them reads no client records.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.tables import AccessEvent

_Select = TypeVar("_Select", bound="Select[*tuple[Any, ...]]")  # a SELECT of any columns

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class LogFilter:
    """What an auditor narrows the log to; every field optional."""

    client_id: str | None = None
    subject: str | None = None
    organization: str | None = None
    purpose: str | None = None
    category: str | None = None
    outcome: str | None = None
    action: str | None = None
    legal_basis: str | None = None
    break_glass: bool | None = None
    since: datetime | None = None
    until: datetime | None = None

    def apply(self, stmt: _Select) -> _Select:
        """`stmt` with this filter's conditions."""
        e = AccessEvent
        for column, value in ((e.client_id, self.client_id), (e.subject, self.subject),
                              (e.organization, self.organization), (e.purpose, self.purpose),
                              (e.outcome, self.outcome), (e.action, self.action), (e.legal_basis, self.legal_basis),
                              (e.break_glass, self.break_glass)):
            if value is not None:
                stmt = stmt.where(column == value)
        if self.category is not None:
            stmt = stmt.where(e.categories.contains(f",{self.category},", autoescape=True))
        if self.since is not None:
            stmt = stmt.where(e.recorded_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(e.recorded_at < self.until)
        return stmt


async def extent(session: AsyncSession, flt: LogFilter) -> tuple[int, int | None, int | None]:
    """How many events match `flt`, and the first and last chain positions among them."""
    e = AccessEvent
    stmt = flt.apply(select(func.count(), func.min(e.seq), func.max(e.seq)).select_from(e))
    count, lo, hi = (await session.execute(stmt)).one()
    return int(count), lo, hi


async def page(
    session: AsyncSession, flt: LogFilter, *, first: int, before_seq: int | None,
) -> tuple[list[AccessEvent], bool]:
    """Up to `first` events, newest first, older than `before_seq`; and whether more follow."""
    first = max(1, min(first, MAX_PAGE))
    stmt = flt.apply(select(AccessEvent)).order_by(AccessEvent.seq.desc()).limit(first + 1)
    if before_seq is not None:
        stmt = stmt.where(AccessEvent.seq < before_seq)
    rows = list((await session.execute(stmt)).scalars())
    return rows[:first], len(rows) > first


@dataclass(slots=True)
class Summary:
    """Pointers at unusual access in a time window."""

    events: int = 0
    break_glass: list[AccessEvent] = field(default_factory=list)
    heavy_readers: list[tuple[str, str, int, int]] = field(default_factory=list)  # subject, org, clients, events
    outside_consent_purpose: list[tuple[AccessEvent, str]] = field(default_factory=list)  # event, category
    reads_without_consent: list[tuple[str, int, int]] = field(default_factory=list)  # org, clients, events
    refusals: list[tuple[str, str, int]] = field(default_factory=list)  # subject, org, refused operations


async def summary(
    session: AsyncSession, *, since: datetime | None, until: datetime | None, many_clients: int = 20,
) -> Summary:
    """Break-glass uses, users reading many clients, denials outside a consent's purposes, reads by
    organisations that neither hold the records nor have the client's consent, and who was refused how often."""
    window = LogFilter(since=since, until=until)
    e = AccessEvent
    out = Summary()
    out.events = int((await session.execute(window.apply(select(func.count()).select_from(e)))).scalar_one())
    out.break_glass = list((await session.execute(
        window.apply(select(e)).where(e.break_glass.is_(True)).order_by(e.seq))).scalars())
    clients = func.count(func.distinct(e.client_id))
    read = (e.action == "read") & (e.outcome != "refused")  # a refused read showed nothing: counted apart
    out.heavy_readers = [(who, org, n, events) for who, org, n, events in (await session.execute(
        window.apply(select(e.subject, e.organization, clients, func.count())).where(read)
        .group_by(e.subject, e.organization).having(clients >= many_clients).order_by(clients.desc())))]
    refused = func.count()
    out.refusals = [(who, org, n) for who, org, n in (await session.execute(
        window.apply(select(e.subject, e.organization, refused)).where(e.outcome == "refused")
        .group_by(e.subject, e.organization).order_by(refused.desc(), e.subject)))]
    no_consent: dict[str, tuple[set[str], int]] = defaultdict(lambda: (set(), 0))
    reads = await session.stream(window.apply(select(e)).where(read).order_by(e.seq))
    async for ev in reads.scalars():
        for d in ev.decisions:
            if d.get("outside_consent_purpose"):
                out.outside_consent_purpose.append((ev, str(d["category"])))
        if ev.client_id and not any(d.get("basis") in ("own-agency", "consent", "client-self") or d.get("consent_id")
                                    for d in ev.decisions):
            seen, count = no_consent[ev.organization]
            seen.add(ev.client_id)
            no_consent[ev.organization] = (seen, count + 1)
    out.reads_without_consent = sorted(((org, len(s), n) for org, (s, n) in no_consent.items()),
                                       key=lambda t: -t[2])
    return out


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One disclosure to tell a client about: who (organisation), what (category, from which agency), when, why."""

    at: datetime
    organization: str
    category: str
    holder: str
    purpose: str | None
    basis: str | None
    legal_basis: str | None
    break_glass: bool


# Actions that show client data: profile reads, and an identity steward's view of the index's records.
DISCLOSING_ACTIONS = ("read", "identity.review", "identity.explain")


async def disclosures(
    session: AsyncSession, *, client_id: str, since: datetime | None, until: datetime | None,
) -> list[Disclosure]:
    """Every category of the client's data that was disclosed to someone other than the client, oldest first."""
    e = AccessEvent
    stmt = (LogFilter(client_id=client_id, since=since, until=until).apply(select(e))
            .where(e.action.in_(DISCLOSING_ACTIONS)).order_by(e.seq))
    out = []
    for ev in (await session.execute(stmt)).scalars():
        for d in ev.decisions:
            if d.get("outcome") == "disclosed" and d.get("basis") != "client-self":  # not the client's own reads
                out.append(Disclosure(ev.recorded_at, ev.organization, str(d["category"]), str(d["holder"]),
                                      ev.purpose, _text(d.get("basis")), _text(d.get("legal_basis")),
                                      bool(d.get("break_glass"))))
    return out


def _text(value: object) -> str | None:
    """A decision's optional text field (None stays None)."""
    return None if value is None else str(value)
