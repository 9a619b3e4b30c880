"""The identity steward's work: the review queue, decisions, manual link and unlink, and explanations.

Every decision is a row in identity_decisions (who, when, why) that every later
relink obeys; it takes effect at once by relinking just the clients it touches.
Nothing here checks roles or writes the access log: the steward desk
(gate/identity_desk.py) does, around these functions.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.errors import ClientNotFound, InvalidInput, RecordNotFound, ReviewItemNotFound
from identity.index import RelinkReport, by_source, load_model, queue_score, record_of, relink, successors_of
from identity.match import CROSSWISE, FIELDS, LEVEL_NAMES, MISSING, ORDER, Model, explain_pair
from store.tables import IdentityRecord, IdentityReview, LinkDecision, SourceLink

Key = tuple[str, str]
MAX_REASON = 1000
# Called inside a decision's transaction with the decision id and the clients it touches: the steward desk
# writes the access log there, so a decision that cannot be audited is not made.
AuditHook = Callable[[AsyncSession, int, list[str]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class IndexedRecord:
    """One agency record as the index holds it (demographics only; an SSN shows its last four digits)."""

    source: str
    local_id: str
    client_id: str | None
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    dob: date | None
    sex: str | None
    ssn_last4: str | None
    ssn_quality: int | None
    cin: str | None
    student_id: str | None
    address: str | None = None
    zip: str | None = None
    phone: str | None = None
    not_for_release: tuple[str, ...] = ()  # withheld by the agency (directory opt-out), not unknown


@dataclass(frozen=True, slots=True)
class FieldAgreement:
    """How one field compares between two records, and the weight (log2) it adds."""

    field: str
    agreement: str  # a LEVEL_NAMES entry, or "missing"
    weight: float | None


@dataclass(frozen=True, slots=True)
class ReviewItem:
    id: int
    grade: str
    score: float
    status: str
    found_at: datetime
    a: IndexedRecord
    b: IndexedRecord
    fields: list[FieldAgreement]
    reason: str  # index.review_reason(): 'score', 'borrowed:ssn', 'ids-differ'



@dataclass(frozen=True, slots=True)
class LinkExplanation:
    """Why a record belongs to its client."""

    record: IndexedRecord
    how: str  # rule | score | manual
    rule: str | None
    score: float | None
    via: Key | None
    decided_by: str | None
    linked_at: datetime
    fields: list[FieldAgreement]  # compared with `via`, when there is one


@dataclass(frozen=True, slots=True)
class ClientExplanation:
    client_id: str
    links: list[LinkExplanation]
    successors: list[tuple[str, str]]  # when the id no longer stands alone: (new id, merge|split)


@dataclass(frozen=True, slots=True)
class DecisionResult:
    decision_id: int
    clients_before: list[str]
    clients_after: list[str]
    report: RelinkReport


def agreement(a: IdentityRecord, b: IdentityRecord, model: Model) -> list[FieldAgreement]:
    """Per-field agreement between two indexed records and each field's weight under the model."""
    ra, rb = record_of(a), record_of(b)
    vector, turned, weights = explain_pair(ra, rb, model)
    out = [FieldAgreement(name, "missing" if level == MISSING else LEVEL_NAMES[name][level],
                          round(weights[name], 2) if name in weights else None)
           for name, level in zip(FIELDS, vector, strict=True)]
    if turned:
        out.append(FieldAgreement(ORDER, CROSSWISE, weights[ORDER]))
    return out


def _indexed(r: IdentityRecord, client_id: str | None) -> IndexedRecord:
    return IndexedRecord(source=r.source, local_id=r.local_id, client_id=client_id, first_name=r.first_name,
                         middle_name=r.middle_name, last_name=r.last_name, dob=r.dob, sex=r.sex,
                         ssn_last4=r.ssn_last4 or (r.ssn[-4:] if r.ssn and r.ssn[-4:].isdigit() else None),
                         ssn_quality=r.ssn_quality, cin=r.cin, student_id=r.student_id, address=r.address,
                         zip=r.zip, phone=r.phone,
                         not_for_release=tuple(r.not_for_release.split(",")) if r.not_for_release else ())


async def _records(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, tuple[IdentityRecord, str | None]]:
    out: dict[Key, tuple[IdentityRecord, str | None]] = {}
    for condition in by_source(IdentityRecord, keys):
        stmt = (select(IdentityRecord, SourceLink.client_id)
                .outerjoin(SourceLink, (SourceLink.source == IdentityRecord.source)
                           & (SourceLink.local_id == IdentityRecord.local_id))
                .where(condition))
        out.update({(r.source, r.local_id): (r, cid) for r, cid in (await session.execute(stmt)).all()})
    return out


async def review_queue(sessions: async_sessionmaker[Any], *, first: int, after: int | None = None
                       ) -> tuple[list[ReviewItem], bool]:
    """Open review items, most likely the same person first (then oldest), with both records side by side."""
    r = IdentityReview
    async with sessions() as session:
        stmt = select(r).where(r.status == "open").order_by(r.score.desc(), r.id).limit(first + 1)
        last = await session.get(r, after) if after is not None else None
        if last is not None:  # keyset: after the last item seen in (score desc, id) order, even if since resolved
            stmt = stmt.where((r.score < last.score) | ((r.score == last.score) & (r.id > last.id)))
        items = list((await session.execute(stmt)).scalars())
        page, more = items[:first], len(items) > first
        found = await _records(session, [k for i in page for k in ((i.source_a, i.local_a), (i.source_b, i.local_b))])
        model = await load_model(session)
    out = []
    for item in page:
        a, b = found.get((item.source_a, item.local_a)), found.get((item.source_b, item.local_b))
        if a is None or b is None:
            continue  # a record the agency no longer lists
        out.append(ReviewItem(id=item.id, grade=item.grade, score=queue_score(item.score), status=item.status,
                              found_at=item.found_at, a=_indexed(*a), b=_indexed(*b),
                              fields=agreement(a[0], b[0], model), reason=item.reason or "score"))
    return out, more


async def review_item(sessions: async_sessionmaker[Any], item_id: int) -> IdentityReview:
    async with sessions() as session:
        item: IdentityReview | None = await session.get(IdentityReview, item_id)
    if item is None:
        raise ReviewItemNotFound("no review item has this id")
    return item


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"a reason of 1 to {MAX_REASON} characters is required", field="reason")
    return reason


async def decide(sessions: async_sessionmaker[Any], a: Key, b: Key, decision: str, *, reason: str, by: str,
                 review_id: int | None = None, audit: AuditHook | None = None) -> DecisionResult:
    """Record that two records are (not) the same person, and relink the clients they belong to now."""
    if decision not in ("same", "different"):
        raise InvalidInput("the decision is same or different", field="decision")
    if a == b:
        raise InvalidInput("a record is always the same person as itself", field="records")
    reason = _reason(reason)
    async with sessions.begin() as session:
        found = await _records(session, [a, b])
        for key, name in ((a, "a"), (b, "b")):
            if key not in found:
                raise RecordNotFound("no indexed agency record has this source and local id", field=name)
        before = sorted({cid for _, cid in found.values() if cid})
        row = LinkDecision(source_a=a[0], local_a=a[1], source_b=b[0], local_b=b[1], decision=decision,
                           reason=reason, decided_by=by)
        session.add(row)
        await session.flush()
        decision_id = row.id
        if review_id is not None:
            item = await session.get(IdentityReview, review_id)
            if item is None or item.status != "open":
                raise InvalidInput("this review item is no longer open", field="id")
            item.status, item.resolved_at, item.resolved_by, item.decision_id = (
                "resolved", datetime.now(UTC), by, decision_id)
        if audit is not None:
            await audit(session, decision_id, before)
    return await _apply(sessions, [a, b], decision_id, before)


async def unlink(sessions: async_sessionmaker[Any], record: Key, *, reason: str, by: str,
                 audit: AuditHook | None = None) -> DecisionResult:
    """Take a record out of its client: it is not the same person as any other record there."""
    reason = _reason(reason)
    async with sessions.begin() as session:
        link = (await session.execute(select(SourceLink).where(
            SourceLink.source == record[0], SourceLink.local_id == record[1]))).scalar_one_or_none()
        if link is None:
            raise RecordNotFound("no linked agency record has this source and local id", field="record")
        mates = [(s, lid) for s, lid in (await session.execute(select(SourceLink.source, SourceLink.local_id).where(
            SourceLink.client_id == link.client_id))).all() if (s, lid) != record]
        if not mates:
            raise InvalidInput("this record is already alone in its client", field="record")
        rows = [LinkDecision(source_a=record[0], local_a=record[1], source_b=s, local_b=lid, decision="different",
                             reason=reason, decided_by=by) for s, lid in mates]
        session.add_all(rows)
        await session.flush()
        decision_id, before = rows[0].id, [link.client_id]
        if audit is not None:
            await audit(session, decision_id, before)
    return await _apply(sessions, [record], decision_id, before, leaving=[record])


async def _apply(sessions: async_sessionmaker[Any], keys: Sequence[Key], decision_id: int,
                 before: list[str], *, leaving: Sequence[Key] = ()) -> DecisionResult:
    report = await relink(sessions, clients=before, leaving=leaving)
    async with sessions() as session:
        after = sorted({cid for _, cid in (await _records(session, keys)).values() if cid})
    return DecisionResult(decision_id=decision_id, clients_before=before, clients_after=after, report=report)


async def explain(sessions: async_sessionmaker[Any], client_id: str) -> ClientExplanation:
    """Which agency records a client links and why; where an old id went."""
    async with sessions() as session:
        links = list((await session.execute(select(SourceLink).where(SourceLink.client_id == client_id)
                                             .order_by(SourceLink.source, SourceLink.local_id))).scalars())
        keys = [(ln.source, ln.local_id) for ln in links]
        vias = [(ln.via_source, ln.via_local_id) for ln in links if ln.via_source and ln.via_local_id]
        found = await _records(session, [*keys, *vias])
        model = await load_model(session)
    successors = await successors_of(sessions, client_id)
    if not links and not successors:
        raise ClientNotFound("no client has this id", client_id=client_id)
    out = []
    for ln in links:
        mine = found.get((ln.source, ln.local_id))
        if mine is None:
            continue
        via = (ln.via_source, ln.via_local_id) if ln.via_source and ln.via_local_id else None
        other = found.get(via) if via else None
        out.append(LinkExplanation(
            record=_indexed(*mine), how=ln.how, rule=ln.rule,
            score=ln.score if ln.score is None or math.isfinite(ln.score) else None, via=via,
            decided_by=ln.decided_by, linked_at=ln.linked_at,
            fields=agreement(mine[0], other[0], model) if other else []))
    return ClientExplanation(client_id=client_id, links=out, successors=successors)
