"""The identity index in the store: sync agency demographics, relink everything, keep client ids stable.

`sync` asks each connector for the people changed since its watermark and
upserts them into identity_records. `relink` matches all records (identity.match)
under the steward's decisions, then writes the crosswalk so that a client id
never changes meaning silently: a cluster keeps the id most of its records
had; an id whose records now fall in several clusters stays with the biggest
part, and the others get new ids recorded as its successors (split); ids
joined into one cluster point to the surviving one (merge). Links a steward
made by hand are never undone by the algorithm. Every link says why it was
made (a rule, or a score, through which record; or a steward's decision); the
pairs the matcher could not decide go to the review queue; the trained model is
kept for online matching, search and explanations.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from identity.match import IDS_DIFFER, KEY_SCHEME, Edge, Model, Record, blocking_keys, link
from store.tables import (
    Client,
    ClientSuccessor,
    IdentityKey,
    IdentityModel,
    IdentityRecord,
    IdentityReview,
    IdentityWatermark,
    LinkDecision,
    SourceLink,
)

CHUNK = 500


class PeopleSource(Protocol):
    """A connector that lists the people its agency knows (connectors.base.PeopleSource, structurally:
    identity/ does not import connectors/)."""

    source: str

    async def list_people(self, since: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class RelinkReport:
    records: int
    clients: int
    new_clients: int
    merged: int  # client ids that now point to another
    split: int  # new client ids carved out of an existing one
    moved_links: int
    review_pairs: int


SYNCED = ("first_name", "middle_name", "last_name", "dob", "sex", "ssn", "ssn_last4", "ssn_quality", "name_quality",
          "dob_quality", "cin", "student_id", "address", "zip", "phone", "updated", "known_since")


async def sync(sessions: async_sessionmaker[Any], sources: Sequence[PeopleSource]) -> dict[str, int]:
    """Pull every source's changes since its watermark into identity_records; records written per source."""
    return {source.source: len(await sync_source(sessions, source)) for source in sources}


async def sync_source(sessions: async_sessionmaker[Any], source: PeopleSource) -> list[tuple[str, str]]:
    """Pull one source's changes since its watermark into identity_records; the (source, local id) written."""
    async with sessions() as session:
        mark = await session.get(IdentityWatermark, source.source)
    batch = await source.list_people(mark.watermark if mark else None)
    now = datetime.now(UTC)
    rows = {(p.source, p.local_id): {"source": p.source, "local_id": p.local_id, "synced_at": now,
                                     **{k: getattr(p, k) for k in SYNCED},
                                     "not_for_release": ",".join(p.not_for_release) or None} for p in batch.people}
    async with sessions.begin() as session:  # the changed records replace their old versions, in bulk
        await write_records(session, list(rows.values()))
        await session.merge(IdentityWatermark(source=source.source, watermark=batch.watermark, synced_at=now))
    return sorted(rows)


def by_source(table: Any, keys: Iterable[tuple[str, str]], *, side: str = "") -> list[ColumnElement[bool]]:
    """Conditions selecting these (source, local id) rows of `table`, one per source and CHUNK ids (`side` "_a" or
    "_b": by a pair table's source_a / local_a or source_b / local_b).

    Not `(source, local_id) IN (...)`: SQLite scans the whole table for a row-value IN.
    """
    ids: dict[str, list[str]] = defaultdict(list)
    for source, local_id in sorted(set(keys)):
        ids[source].append(local_id)
    sources, locals_ = getattr(table, f"source{side}"), getattr(table, f"local{side}" if side else "local_id")
    return [and_(sources == source, locals_.in_(local[i:i + CHUNK]))
            for source, local in ids.items() for i in range(0, len(local), CHUNK)]


async def write_records(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace identity records (column dicts) and their blocking keys, in bulk."""
    keys = [(r["source"], r["local_id"]) for r in rows]
    for table in (IdentityRecord, IdentityKey):
        for condition in by_source(table, keys):
            await session.execute(delete(table).where(condition))
    for i in range(0, len(rows), CHUNK):
        await session.execute(insert(IdentityRecord), list(rows[i:i + CHUNK]))
    today = date.today()
    blocking = [{"key": k, "source": r["source"], "local_id": r["local_id"]}
                for r in rows for k in record_keys(record_of(r, today))]
    for i in range(0, len(blocking), CHUNK * 4):
        await session.execute(insert(IdentityKey), blocking[i:i + CHUNK * 4])


def record_keys(r: Record) -> set[str]:
    """The record's blocking keys as stored in identity_keys ("kind:value")."""
    return {f"{kind}:{value}"[:200] for kind, value in blocking_keys(r)}


def record_of(r: IdentityRecord | dict[str, Any], today: date | None = None) -> Record:
    """The matcher's view of a stored identity record (a row or its column dict); `today` once for many."""
    get = r.get if isinstance(r, dict) else lambda name: getattr(r, name)
    last4 = get("ssn_last4")
    return Record.of(str(get("source")), str(get("local_id")), first_name=get("first_name"), last_name=get("last_name"),
                     dob=get("dob"), sex=get("sex"), ssn=get("ssn") or (f"xxxxx{last4}" if last4 else None),
                     ssn_quality=get("ssn_quality"), cin=get("cin"), student_id=get("student_id"),
                     address=get("address"), zip=get("zip"), phone=get("phone"), dob_quality=get("dob_quality"),
                     known_since=get("known_since"), today=today)


async def load_model(session: AsyncSession) -> Model:
    """The model the latest relink trained, or the defaults for an index never relinked."""
    row = (await session.execute(select(IdentityModel.parameters).order_by(IdentityModel.id.desc())
                                 .limit(1))).scalar_one_or_none()
    return Model.from_json(row) if row else Model.default()


async def _ensure_keys(sessions: async_sessionmaker[Any], *, full: bool) -> None:
    """Blocking keys for records synced before the index kept them; on a full relink also for an index blocked
    with another KEY_SCHEME than today's (the latest relink's model says which): all remade, once. (Not on a
    steward's partial relink: that would rebuild every key of the index for one decision.)"""
    async with sessions() as session:
        have_records = (await session.execute(select(func.count()).select_from(IdentityRecord))).scalar_one()
        have_keys = (await session.execute(select(func.count()).select_from(IdentityKey))).scalar_one()
        stale = full and (await load_model(session)).keys != KEY_SCHEME
        if not have_records or (have_keys and not stale):
            return
        rows = list((await session.execute(select(IdentityRecord))).scalars())
    today = date.today()
    keys = [{"key": k, "source": r.source, "local_id": r.local_id} for r in rows
            for k in record_keys(record_of(r, today))]
    async with sessions.begin() as session:
        await session.execute(delete(IdentityKey))
        for i in range(0, len(keys), CHUNK * 4):
            await session.execute(insert(IdentityKey), keys[i:i + CHUNK * 4])


async def relink(sessions: async_sessionmaker[Any], *, clients: Collection[str] | None = None,
                 leaving: Collection[tuple[str, str]] = ()) -> RelinkReport:
    """Match every record in the index and rewrite the crosswalk, keeping ids stable (see the module).

    With `clients`, only those clients' records are matched again, with the model the last full relink
    trained (what a steward's decision changes, at once); review items between them are renewed. Records
    `leaving` (a steward took them out of their client) never keep their client's id: the id, and the consents
    and casework on it, stay with the records left.
    """
    await _ensure_keys(sessions, full=clients is None)
    rows, current_links, model, decisions = await _read_index(sessions, clients)
    today = date.today()
    records = [record_of(r, today) for r in rows]
    index = {(r.source, r.local_id): i for i, r in enumerate(records)}
    latest = _latest_decisions(decisions, index)
    same = [(index[a], index[b]) for (a, b), d in latest.items() if d.decision == "same"]
    different = [(index[a], index[b]) for (a, b), d in latest.items() if d.decision == "different"]
    linkage = link(records, same=same, different=different, model=model)
    clusters = sorted(linkage.clusters, key=lambda c: (-len(c), min(c)))
    ids = _keep_ids(clusters, [ln.client_id if (ln := current_links.get((r.source, r.local_id))) else None
                               for r in records], leaving={index[k] for k in leaving if k in index})
    why = linkage.explain()
    async with sessions.begin() as session:
        await _add_clients(session, set(ids.assigned.values()))
        moved = 0
        for n, members in enumerate(clusters):
            for i in members:
                values = {"client_id": ids.assigned[n], **_reason(i, why.get(i), records, latest)}
                moved += await _write_link(session, (records[i].source, records[i].local_id), values,
                                           current_links)
        session.add_all(ClientSuccessor(old_client_id=old, new_client_id=new, reason=reason)
                        for old, new, reason in ids.successors)
        cluster_of = {i: n for n, members in enumerate(clusters) for i in members}
        review = [(records[d.i], records[d.j], d.grade, d.weight, d.why) for d in linkage.review
                  if cluster_of[d.i] != cluster_of[d.j]]
        await _write_review(session, review, within=None if clients is None else set(index))
        if clients is None:
            session.add(IdentityModel(records=len(records), parameters=linkage.model.to_json()))
    merged = sum(1 for s in ids.successors if s[2] == "merge")
    return RelinkReport(records=len(records), clients=len(clusters), new_clients=ids.new_clients, merged=merged,
                        split=len(ids.successors) - merged, moved_links=moved, review_pairs=len(linkage.review))


async def _read_index(sessions: async_sessionmaker[Any], clients: Collection[str] | None
                      ) -> tuple[list[IdentityRecord], dict[tuple[str, str], SourceLink], Model | None,
                                 list[LinkDecision]]:
    """The records to match (all, or those of `clients`), their current links, the model to grade with (None:
    train one; a partial relink uses the last full one's) and the steward's decisions."""
    async with sessions() as session:
        if clients is None:
            rows = list((await session.execute(select(IdentityRecord).order_by(
                IdentityRecord.source, IdentityRecord.local_id))).scalars())
            current = {(ln.source, ln.local_id): ln for ln in (await session.execute(select(SourceLink))).scalars()}
            model = None
        else:
            joined = (select(IdentityRecord, SourceLink).join(SourceLink, (SourceLink.source == IdentityRecord.source)
                                                              & (SourceLink.local_id == IdentityRecord.local_id))
                      .where(SourceLink.client_id.in_(sorted(set(clients))))
                      .order_by(IdentityRecord.source, IdentityRecord.local_id))
            pairs = (await session.execute(joined)).all()
            rows = [r for r, _ in pairs]
            current = {(ln.source, ln.local_id): ln for _, ln in pairs}
            model = await load_model(session)
        decisions = list((await session.execute(select(LinkDecision).order_by(LinkDecision.id))).scalars())
    return rows, current, model, decisions


def _latest_decisions(decisions: Sequence[LinkDecision], index: dict[tuple[str, str], int]
                      ) -> dict[tuple[tuple[str, str], tuple[str, str]], LinkDecision]:
    """The steward's latest decision about each pair of records being matched (the latest one stands)."""
    latest: dict[tuple[tuple[str, str], tuple[str, str]], LinkDecision] = {}
    for d in decisions:
        a, b = (d.source_a, d.local_a), (d.source_b, d.local_b)
        if a in index and b in index:
            latest[(min(a, b), max(a, b))] = d
    return latest


@dataclass(slots=True)
class KeptIds:
    """Each cluster's client id, the successors the old ids leave, and how many ids are new."""

    assigned: dict[int, str]
    successors: list[tuple[str, str, str]]  # (old id, new id, 'split' | 'merge')
    new_clients: int


def _keep_ids(clusters: Sequence[Sequence[int]], old_of: Sequence[str | None], *,
              leaving: Collection[int] = ()) -> KeptIds:
    """Which old id each cluster keeps: the one most of its records had (ties: the smallest id), the records
    `leaving` their client not counted; a cluster keeping none gets a new one; an old id whose records went
    elsewhere leaves a successor each."""
    holders: dict[str, list[int]] = defaultdict(list)  # old id -> clusters holding its records
    assigned: dict[int, str] = {}
    taken: set[str] = set()
    for n, members in enumerate(clusters):
        held = {old for i in members if (old := old_of[i]) is not None}
        votes = Counter(old for i in members if (old := old_of[i]) is not None and i not in leaving)
        for old in held:
            holders[old].append(n)
        for old, _count in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if old not in taken:
                assigned[n] = old
                taken.add(old)
                break
    new_clients = 0
    for n in range(len(clusters)):
        if n not in assigned:
            assigned[n] = str(uuid.uuid4())
            new_clients += 1
    successors = []
    for old, parts in holders.items():
        keeper = next((n for n in parts if assigned[n] == old), None)
        successors += [(old, assigned[n], "split" if keeper is not None else "merge")
                       for n in parts if assigned[n] != old]
    return KeptIds(assigned, successors, new_clients)


async def _add_clients(session: AsyncSession, ids: set[str]) -> None:
    """Client rows for the ids not yet known."""
    ordered = sorted(ids)
    known: set[str] = set()
    for i in range(0, len(ordered), CHUNK):
        known |= set((await session.execute(select(Client.id).where(Client.id.in_(ordered[i:i + CHUNK])))).scalars())
    session.add_all(Client(id=cid) for cid in ids - known)
    await session.flush()


async def _write_link(session: AsyncSession, key: tuple[str, str], values: dict[str, Any],
                      current: dict[tuple[str, str], SourceLink]) -> int:
    """Write one record's link where it changed; 1 if the record moved to another client (or is new)."""
    had = current.get(key)
    if had is None:
        session.add(SourceLink(source=key[0], local_id=key[1], **values))
        return 1
    if any(getattr(had, k) != v for k, v in values.items()):
        await session.execute(update(SourceLink).where(
            SourceLink.source == key[0], SourceLink.local_id == key[1]).values(**values))
        return int(had.client_id != values["client_id"])
    return 0


def link_reason(why: str | None, weight: float = 0.0, via: tuple[str, str] | None = None,
                decided_by: str | None = None) -> dict[str, Any]:
    """The source_links columns that say why a record is linked: `why` is a grade's 'rule:cin', 'score' or
    'manual' (None: nothing joined it to anyone), through the record `via`."""
    rule = why.removeprefix("rule:") if why and why.startswith("rule:") else None
    how = "manual" if why == "manual" else "rule" if rule else "score"
    scored = why == "score"
    return {"how": how, "rule": rule, "score": round(weight, 3) if scored else None,
            "via_source": via[0] if via else None, "via_local_id": via[1] if via else None,
            "decided_by": decided_by if how == "manual" else None}


def _reason(i: int, edge: Edge | None, records: Sequence[Record],
            decisions: dict[tuple[tuple[str, str], tuple[str, str]], LinkDecision]) -> dict[str, Any]:
    """How record i was linked, for its source_links row."""
    if edge is None:
        return link_reason(None)
    me = (records[i].source, records[i].local_id)
    other = records[edge.b if edge.a == i else edge.a]
    via = (other.source, other.local_id)
    d = decisions.get((min(me, via), max(me, via))) if edge.why == "manual" else None
    return link_reason(edge.why, edge.weight, via, d.decided_by if d else None)


async def _write_review(session: AsyncSession, pairs: Sequence[tuple[Record, Record, Any, float, str]], *,
                        within: set[tuple[str, str]] | None) -> None:
    """Make the open review queue these pairs: items still undecided keep their id (and are rescored);
    those no longer in doubt are withdrawn; new ones are added. With `within`, only items between those
    records are considered."""
    def key(a: tuple[str, str], b: tuple[str, str]) -> tuple[tuple[str, str], tuple[str, str]]:
        return (min(a, b), max(a, b))

    wanted = {key((a.source, a.local_id), (b.source, b.local_id)): (str(g), w, review_reason(why))
              for a, b, g, w, why in pairs}
    open_items = list((await session.execute(select(IdentityReview).where(IdentityReview.status == "open")))
                      .scalars())
    now = datetime.now(UTC)
    for item in open_items:
        k = key((item.source_a, item.local_a), (item.source_b, item.local_b))
        if within is not None and not (k[0] in within and k[1] in within):
            continue
        if k in wanted:
            grade, score, reason = wanted.pop(k)
            item.grade, item.score, item.reason = grade, queue_score(score), reason
        else:
            item.status, item.resolved_at = "withdrawn", now
    session.add_all(IdentityReview(source_a=a[0], local_a=a[1], source_b=b[0], local_b=b[1], grade=g,
                                   score=queue_score(w), status="open", reason=reason)
                    for (a, b), (g, w, reason) in wanted.items())


QUEUE_TOP = 99.0  # the score a certain pair is queued with (a rule's weight is infinite; JSON has no infinity)


def queue_score(weight: float) -> float:
    """A doubtful pair's weight as the review queue orders and shows it: a certain pair (a rule, its weight
    infinite) kept apart by differing identifiers first."""
    return round(weight, 3) if math.isfinite(weight) else QUEUE_TOP


def review_reason(why: str) -> str:
    """What a review item says of why the pair is in doubt: a possibly borrowed identifier ('borrowed:ssn'),
    identifiers that differ between the clusters ('ids-differ'), or the score ('score': a certain pair of
    two clients, a probable or possible one)."""
    return why if why.startswith("borrowed:") or why == IDS_DIFFER else "score"


async def successors_of(sessions: async_sessionmaker[Any], client_id: str) -> list[tuple[str, str]]:
    """What an old client id now resolves to: (new id, merge|split), following chains."""
    out: list[tuple[str, str]] = []
    frontier, seen = [client_id], {client_id}
    async with sessions() as session:
        while frontier:
            rows = (await session.execute(select(ClientSuccessor.new_client_id, ClientSuccessor.reason)
                                          .where(ClientSuccessor.old_client_id.in_(frontier)))).all()
            frontier = []
            for new, reason in rows:
                if new not in seen:
                    seen.add(new)
                    out.append((new, reason))
                    frontier.append(new)
    return out
