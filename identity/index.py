"""The identity index in the store: sync agency demographics, relink everything, keep client ids stable.

`sync` asks each connector for the people changed since its watermark and
upserts them into identity_records. `relink` matches all records (identity.match)
under the steward's decisions, then writes the crosswalk so that a client id
never changes meaning silently: a cluster keeps the id most of its records
had; an id whose records now fall in several clusters stays with the biggest
part, and the others get new ids recorded as its successors (split); ids
joined into one cluster point to the surviving one (merge). Links a steward
made by hand are never undone by the algorithm.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import delete, insert, select, tuple_, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from identity.match import Record, link
from store.tables import Client, ClientSuccessor, IdentityRecord, IdentityWatermark, LinkDecision, SourceLink

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
          "dob_quality", "cin", "student_id", "updated")


async def sync(sessions: async_sessionmaker[Any], sources: Sequence[PeopleSource]) -> dict[str, int]:
    """Pull every source's changes since its watermark into identity_records; records written per source."""
    written: dict[str, int] = {}
    for source in sources:
        async with sessions() as session:
            mark = await session.get(IdentityWatermark, source.source)
        batch = await source.list_people(mark.watermark if mark else None)
        now = datetime.now(UTC)
        rows = {(p.source, p.local_id): {"source": p.source, "local_id": p.local_id, "synced_at": now,
                                         **{k: getattr(p, k) for k in SYNCED}} for p in batch.people}
        async with sessions.begin() as session:  # the changed records replace their old versions, in bulk
            keys = sorted(rows)
            for i in range(0, len(keys), CHUNK):
                chunk = keys[i:i + CHUNK]
                await session.execute(delete(IdentityRecord).where(
                    tuple_(IdentityRecord.source, IdentityRecord.local_id).in_(chunk)))
            values = list(rows.values())
            for i in range(0, len(values), CHUNK):
                await session.execute(insert(IdentityRecord), values[i:i + CHUNK])
            await session.merge(IdentityWatermark(source=source.source, watermark=batch.watermark, synced_at=now))
        written[source.source] = len(rows)
    return written


def _record(r: IdentityRecord) -> Record:
    return Record.of(r.source, r.local_id, first_name=r.first_name, last_name=r.last_name, dob=r.dob, sex=r.sex,
                     ssn=r.ssn or (f"xxxxx{r.ssn_last4}" if r.ssn_last4 else None), ssn_quality=r.ssn_quality,
                     cin=r.cin, student_id=r.student_id)


async def relink(sessions: async_sessionmaker[Any]) -> RelinkReport:
    """Match every record in the index and rewrite the crosswalk, keeping ids stable (see the module)."""
    async with sessions() as session:
        rows = list((await session.execute(select(IdentityRecord).order_by(IdentityRecord.source,
                                                                             IdentityRecord.local_id))).scalars())
        current: dict[tuple[str, str], str] = {(s, lid): cid for s, lid, cid in (await session.execute(
            select(SourceLink.source, SourceLink.local_id, SourceLink.client_id))).all()}
        decisions = list((await session.execute(select(LinkDecision).order_by(LinkDecision.id))).scalars())
    records = [_record(r) for r in rows]
    index = {(r.source, r.local_id): i for i, r in enumerate(records)}
    latest: dict[tuple[tuple[str, str], tuple[str, str]], str] = {}
    for d in decisions:  # the latest decision about a pair stands
        a, b = (d.source_a, d.local_a), (d.source_b, d.local_b)
        if a in index and b in index:
            latest[(min(a, b), max(a, b))] = d.decision
    same = [(index[a], index[b]) for (a, b), what in latest.items() if what == "same"]
    different = [(index[a], index[b]) for (a, b), what in latest.items() if what == "different"]
    linkage = link(records, same=same, different=different)

    # which old id each cluster keeps: the one most of its records had (ties: the smallest id)
    clusters = sorted(linkage.clusters, key=lambda c: (-len(c), min(c)))
    old_of = [current.get((r.source, r.local_id)) for r in records]
    holders: dict[str, list[int]] = defaultdict(list)  # old id -> clusters holding its records
    assigned: dict[int, str] = {}
    taken: set[str] = set()
    for n, members in enumerate(clusters):
        votes = Counter(old for i in members if (old := old_of[i]) is not None)
        for old in votes:
            holders[old].append(n)
        for old, _count in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if old not in taken:
                assigned[n] = old
                taken.add(old)
                break
    successors: list[tuple[str, str, str]] = []
    new_clients = 0
    for n in range(len(clusters)):
        if n not in assigned:
            assigned[n] = str(uuid.uuid4())
            new_clients += 1
    for old, parts in holders.items():
        keeper = next((n for n in parts if assigned[n] == old), None)
        for n in parts:
            if assigned[n] == old:
                continue
            successors.append((old, assigned[n], "split" if keeper is not None else "merge"))
    moved = 0
    async with sessions.begin() as session:
        known = set((await session.execute(select(Client.id))).scalars())
        for cid in set(assigned.values()) - known:
            session.add(Client(id=cid))
        await session.flush()
        for n, members in enumerate(clusters):
            cid = assigned[n]
            for i in members:
                key = (records[i].source, records[i].local_id)
                had = old_of[i]
                if had is None:
                    session.add(SourceLink(client_id=cid, source=key[0], local_id=key[1], how="score"))
                    moved += 1
                elif had != cid:
                    await session.execute(update(SourceLink).where(
                        SourceLink.source == key[0], SourceLink.local_id == key[1]).values(client_id=cid, how="score"))
                    moved += 1
        for old, new, reason in successors:
            session.add(ClientSuccessor(old_client_id=old, new_client_id=new, reason=reason))
    merged = sum(1 for s in successors if s[2] == "merge")
    return RelinkReport(records=len(records), clients=len(clusters), new_clients=new_clients, merged=merged,
                        split=len(successors) - merged, moved_links=moved, review_pairs=len(linkage.review))


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
