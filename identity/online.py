"""Matching one record at a time against the index: candidates, search, and placing records as they arrive.

Candidates come from the stored blocking keys (identity_keys), so a lookup
touches only the records that share a key with the one asked about, however
large the index. Each candidate is graded with the model the latest relink
trained (identity_models), the same grades as the batch matcher.

`place` is the incremental path: a new or changed agency record joins the
client of its best certain candidate, stays where it is while its own client
still agrees with it, or stands alone; merges of two existing clients are
never made online (they go to the review queue and the next relink). Links a
steward made by hand are left alone.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.index import (
    by_source,
    link_reason,
    load_model,
    queue_score,
    record_keys,
    record_of,
    relink,
    review_reason,
)
from identity.match import IDS_DIFFER, Grade, Model, Record, explain_pair, grade
from store.tables import (
    Client,
    ClientSuccessor,
    IdentityKey,
    IdentityRecord,
    IdentityReview,
    LinkDecision,
    SourceLink,
)

MAX_BLOCK = 200  # as the batch matcher: a key shared by more records than this says nothing


@dataclass(frozen=True, slots=True)
class Candidate:
    """One indexed record compared with the one asked about."""

    source: str
    local_id: str
    client_id: str | None
    grade: Grade
    score: float  # log2 likelihood ratio; +-inf for a rule
    why: str  # "rule:cin", "borrowed:ssn", "score", ...
    weights: dict[str, float] = field(default_factory=dict)  # per compared field
    student_id: str | None = None  # the record's student id, if its agency numbers students


async def candidates(session: AsyncSession, record: Record, model: Model, *,
                     exclude: Iterable[tuple[str, str]] = ()) -> list[Candidate]:
    """Every indexed record sharing an informative blocking key with `record`, graded, best first."""
    keys = sorted(record_keys(record))
    if not keys:
        return []
    rows = (await session.execute(select(IdentityKey.key, IdentityKey.source, IdentityKey.local_id)
                                  .where(IdentityKey.key.in_(keys)))).all()
    members: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, source, local_id in rows:
        members[key].append((source, local_id))
    skip = set(exclude)
    ids = {m for block in members.values() if len(block) <= MAX_BLOCK for m in block} - skip
    found: list[Candidate] = []
    for condition in by_source(IdentityRecord, ids):
        stmt = (select(IdentityRecord, SourceLink.client_id)
                .outerjoin(SourceLink, (SourceLink.source == IdentityRecord.source)
                           & (SourceLink.local_id == IdentityRecord.local_id))
                .where(condition))
        for row, client_id in (await session.execute(stmt)).all():
            other = record_of(row)
            vector, turned, weights = explain_pair(record, other, model)
            g, w, why = grade(record, other, vector, model, turned=turned)
            found.append(Candidate(row.source, row.local_id, client_id, g, w, why, weights, other.student_id))
    found.sort(key=lambda c: (-c.score, c.source, c.local_id))
    return found


# --- search -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What a caller knows of a person; any part may be missing."""

    first_name: str | None = None
    last_name: str | None = None
    dob: date | None = None
    sex: str | None = None
    ssn: str | None = None
    cin: str | None = None
    student_id: str | None = None

    def usable(self) -> bool:
        """Enough to search on: an identifier, or a name with a date of birth, or a first and last name."""
        r = self.record()
        return bool(r.cin or r.ssn or r.student_id or (r.last and (r.first or r.dob)) or (r.first and r.dob))

    def record(self) -> Record:
        """The query as a record to compare (an SSN typed into a search counts as full quality)."""
        return Record.of("search", "", first_name=self.first_name, last_name=self.last_name, dob=self.dob,
                         sex=self.sex, ssn=self.ssn, ssn_quality=1 if self.ssn else None, cin=self.cin,
                         student_id=self.student_id)


@dataclass(frozen=True, slots=True)
class ClientMatch:
    """A client the search found: its best record's grade and score, and why."""

    client_id: str
    grade: Grade
    score: float
    why: str
    weights: dict[str, float]


async def search(sessions: async_sessionmaker[Any], query: SearchQuery, *, limit: int = 10) -> list[ClientMatch]:
    """Clients whose records match the query (certain, probable or possible), best first, like FHIR
    Patient/$match. With part of a name or no date of birth, nothing is better than probable."""
    record = query.record()
    async with sessions() as session:
        model = await load_model(session)
        found = await candidates(session, record, model)
    complete = bool(record.first and record.last and record.dob)
    best: dict[str, ClientMatch] = {}
    for c in found:
        g, why = c.grade, c.why
        if record.student_id and c.student_id == record.student_id:
            g, why = Grade.CERTAIN, "rule:student-id"  # a student id typed into a search names one student
        if g is Grade.CERTAIN and why == "score" and not complete:
            g = Grade.PROBABLE
        if g is Grade.CERTAINLY_NOT or c.client_id is None:
            continue
        score = math.inf if why.startswith("rule:") else c.score
        if c.client_id not in best or _rank(g, score) > _rank(best[c.client_id].grade, best[c.client_id].score):
            best[c.client_id] = ClientMatch(c.client_id, g, score, why, c.weights)
    return sorted(best.values(), key=lambda m: _rank(m.grade, m.score), reverse=True)[:limit]


GRADE_ORDER = {Grade.CERTAIN: 3, Grade.PROBABLE: 2, Grade.POSSIBLE: 1, Grade.CERTAINLY_NOT: 0}


def _rank(g: Grade, score: float) -> tuple[int, float]:
    return GRADE_ORDER[g], score


# --- placing new and changed records ----------------------------------------------------------------------------


@dataclass(slots=True)
class PlaceReport:
    placed: int = 0  # records whose link was written or confirmed
    joined: int = 0  # linked to an existing client
    new_clients: int = 0
    moved: int = 0  # left one client for another (or for a new one)
    kept_manual: int = 0
    review: int = 0  # review items opened
    relinked: int = 0  # clients matched again together: a placed record a steward said is the same person as others
    timings_ms: list[float] = field(default_factory=list)


async def place(sessions: async_sessionmaker[Any], keys: Sequence[tuple[str, str]], *,
                model: Model | None = None, report: PlaceReport | None = None) -> PlaceReport:
    """Match each of these (new or changed) indexed records against the index and link it (see the module),
    with `model` (default: the stored one), adding to `report` if given."""
    report = report if report is not None else PlaceReport()
    if model is None:
        async with sessions() as session:
            model = await load_model(session)
    for source, local_id in keys:
        started = time.perf_counter()
        async with sessions.begin() as session:
            together = await _place_one(session, model, (source, local_id), report)
        if together:  # as a relink obeys a steward's 'same': the record's client and its partners' matched again
            await relink(sessions, clients=sorted(together))
            report.relinked += len(together)
        report.timings_ms.append((time.perf_counter() - started) * 1000)
    return report


async def _place_one(session: AsyncSession, model: Model, key: tuple[str, str], report: PlaceReport) -> set[str]:
    """Place one record; the clients to match again together instead, where a steward said it is the same
    person as other records (placing it alone could leave them behind: a relink joins them first)."""
    row = await session.get(IdentityRecord, key)
    if row is None:
        return set()
    link = (await session.execute(select(SourceLink).where(
        SourceLink.source == key[0], SourceLink.local_id == key[1]))).scalar_one_or_none()
    if link is not None and link.how == "manual":
        report.kept_manual += 1
        return set()
    different, same = await _decisions(session, key)
    if same:
        if link is None:  # not in the index's clients yet: a client of its own, which the relink then resolves
            own = _new_client(session, report)
            await session.flush()
            session.add(SourceLink(source=key[0], local_id=key[1], client_id=own, linked_at=datetime.now(UTC),
                                   **link_reason(None)))
        report.placed += 1
        return {link.client_id if link is not None else own, *await _clients_of(session, same)}
    record = record_of(row)

    # a steward's `different` holds for the clients, as every relink obeys it: none of those clients' records
    # links this one or is asked about with it
    apart = await _clients_of(session, different)
    found = [c for c in await candidates(session, record, model, exclude=[key])
             if (c.source, c.local_id) not in different and c.client_id not in apart]
    current = link.client_id if link is not None else None
    mates = await _members(session, current, exclude=key) if current else []
    certain = [c for c in found if c.grade is Grade.CERTAIN and c.client_id is not None]
    # a certain candidate's client joins only if it holds no CIN or SSN other than the record's (its own client
    # too: the record's identifier may have changed); a client refused so is asked about as 'ids-differ'
    target: Candidate | None = None
    differ: set[str] = set()
    for c in sorted(certain, key=lambda c: c.client_id != current):  # its own client first
        assert c.client_id is not None
        if c.client_id in differ:
            continue
        if await _compatible(session, record, c.client_id):
            target = c
            break
        differ.add(c.client_id)
    now = datetime.now(UTC)
    if target is not None and target.client_id != current:
        if current is None:
            report.joined += 1
        elif not mates:
            session.add(ClientSuccessor(old_client_id=current, new_client_id=target.client_id, reason="merge"))
            report.moved += 1
        else:
            session.add(ClientSuccessor(old_client_id=current, new_client_id=target.client_id, reason="split"))
            report.moved += 1
        assert target.client_id is not None  # a certain candidate is a linked record (chosen among those)
        client_id: str = target.client_id
    elif target is None and current is not None and mates:
        client_id = _new_client(session, report)  # its client no longer agrees with it: it stands alone
        session.add(ClientSuccessor(old_client_id=current, new_client_id=client_id, reason="split"))
        report.moved += 1
    elif current is None and target is None:
        client_id = _new_client(session, report)
    else:
        assert current is not None  # the branches above took every case where it is None
        client_id = current
    await session.flush()
    values = (link_reason(target.why, target.score, (target.source, target.local_id)) if target
              else link_reason(None)) | {"client_id": client_id, "linked_at": now}
    if link is None:
        session.add(SourceLink(source=key[0], local_id=key[1], **values))
    else:
        await session.execute(update(SourceLink).where(SourceLink.id == link.id).values(**values))
    report.placed += 1
    members = ({key, *mates} if client_id == current else
               {(src, lid) for src, lid in (await session.execute(select(SourceLink.source, SourceLink.local_id)
                                                                   .where(SourceLink.client_id == client_id))).all()})
    items = await _open_items(session, key)
    _withdraw_answered(items, key, members, now)
    # what is left in doubt goes to the steward: other clients that look like the same person, but none a steward
    # already kept apart from this client (a decision between any two of their records holds for the clients)
    doubtful = [c for c in found if c.client_id not in (None, client_id) and (c.source, c.local_id) not in same
                and c.grade in (Grade.CERTAIN, Grade.PROBABLE, Grade.POSSIBLE)]
    if doubtful:
        settled = await _kept_apart(session, client_id, members)
        doubtful = [c for c in doubtful if c.client_id not in settled]
    report.review += _open_review(session, key, doubtful, [i for i in items if i.status == "open"], differ)
    return set()


async def _decisions(session: AsyncSession, key: tuple[str, str]) -> tuple[set[tuple[str, str]],
                                                                           set[tuple[str, str]]]:
    """The records a steward said are (not) the same person as this one: the latest decision per pair."""
    rows = (await session.execute(select(LinkDecision).where(
        ((LinkDecision.source_a == key[0]) & (LinkDecision.local_a == key[1]))
        | ((LinkDecision.source_b == key[0]) & (LinkDecision.local_b == key[1]))).order_by(LinkDecision.id))).scalars()
    latest: dict[tuple[str, str], str] = {}
    for d in rows:
        other = (d.source_b, d.local_b) if (d.source_a, d.local_a) == key else (d.source_a, d.local_a)
        latest[other] = d.decision
    return ({o for o, d in latest.items() if d == "different"}, {o for o, d in latest.items() if d == "same"})


def _new_client(session: AsyncSession, report: PlaceReport) -> str:
    """A new client's id (its row added, counted in `report`)."""
    client_id = str(uuid.uuid4())
    session.add(Client(id=client_id))
    report.new_clients += 1
    return client_id


def _withdraw_answered(items: Sequence[IdentityReview], key: tuple[str, str], members: set[tuple[str, str]],
                       now: datetime) -> None:
    """Withdraw the record's open review items whose other record is now in its client (`members`): no longer a
    question."""
    for item in items:
        if ((item.source_b, item.local_b) if (item.source_a, item.local_a) == key
                else (item.source_a, item.local_a)) in members:
            item.status, item.resolved_at = "withdrawn", now


async def _open_items(session: AsyncSession, key: tuple[str, str]) -> list[IdentityReview]:
    """The record's open review items, found by the record on each side's index and then filtered by status: with
    the status in the query SQLite walks every open item through the status index (EXPLAIN QUERY PLAN). Read once
    per placement (benchmarks/README.md, online matching: p50 +1 ms at 100k records)."""
    r = IdentityReview
    found = (await session.execute(select(r).where(
        ((r.source_a == key[0]) & (r.local_a == key[1])) | ((r.source_b == key[0]) & (r.local_b == key[1]))))).scalars()
    return [item for item in found if item.status == "open"]


async def _kept_apart(session: AsyncSession, client_id: str, members: set[tuple[str, str]]) -> set[str]:
    """The clients a steward kept apart from this one (its records: `members`): the latest decision between a
    record of each is 'different'."""
    d = LinkDecision
    sides = [*by_source(d, members, side="_a"), *by_source(d, members, side="_b")]
    rows = (await session.execute(select(d).where(or_(*sides)).order_by(d.id))).scalars()
    latest: dict[tuple[tuple[str, str], tuple[str, str]], str] = {}
    for row in rows:
        a, b = (row.source_a, row.local_a), (row.source_b, row.local_b)
        latest[(min(a, b), max(a, b))] = row.decision
    others = {b if a in members else a for (a, b), decision in latest.items() if decision == "different"}
    return await _clients_of(session, others - members) - {client_id}


async def _clients_of(session: AsyncSession, keys: set[tuple[str, str]]) -> set[str]:
    """The clients these records are linked to now."""
    out: set[str] = set()
    for condition in by_source(SourceLink, keys):
        out.update(client_id for (client_id,) in await session.execute(select(SourceLink.client_id).where(condition)))
    return out


async def _members(session: AsyncSession, client_id: str, *, exclude: tuple[str, str]) -> list[tuple[str, str]]:
    rows = (await session.execute(select(SourceLink.source, SourceLink.local_id)
                                  .where(SourceLink.client_id == client_id))).all()
    return [(s, lid) for s, lid in rows if (s, lid) != exclude]


async def _compatible(session: AsyncSession, record: Record, client_id: str) -> bool:
    """Whether the client holds no CIN or SSN other than the record's own (two people never share one id)."""
    if not record.cin and not record.ssn:
        return True
    rows = (await session.execute(select(IdentityRecord).join(SourceLink, (SourceLink.source == IdentityRecord.source)
                                                              & (SourceLink.local_id == IdentityRecord.local_id))
                                  .where(SourceLink.client_id == client_id))).scalars()
    for other in map(record_of, rows):
        if record.cin and other.cin and other.cin != record.cin:
            return False
        if record.ssn and other.ssn and other.ssn != record.ssn:
            return False
    return True


def _open_review(session: AsyncSession, key: tuple[str, str], doubtful: Sequence[Candidate],
                 open_items: Sequence[IdentityReview], differ: Collection[str] = ()) -> int:
    """Open review items between the record and the best doubtful record of each other client (`differ`: clients
    a certain candidate could not join, holding another CIN or SSN)."""
    best: dict[str, Candidate] = {}
    for c in doubtful:
        assert c.client_id is not None
        if c.client_id not in best:
            best[c.client_id] = c
    if not best:
        return 0
    others = [(c.source, c.local_id) for c in best.values()]
    existing = set()
    for item in open_items:
        existing.add((item.source_a, item.local_a) if (item.source_b, item.local_b) == key
                     else (item.source_b, item.local_b))
    opened = 0
    for c, other in zip(best.values(), others, strict=True):
        if other in existing:
            continue
        a, b = min(key, other), max(key, other)
        g = Grade.PROBABLE if c.grade is Grade.CERTAIN else c.grade  # certain but another client: a merge to review
        session.add(IdentityReview(source_a=a[0], local_a=a[1], source_b=b[0], local_b=b[1], grade=str(g),
                                   score=queue_score(c.score), status="open",
                                   reason=IDS_DIFFER if c.client_id in differ else review_reason(c.why)))
        opened += 1
    return opened
