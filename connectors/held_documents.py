"""Documents casebridge holds (category documents), beside the agencies' own document records: files sent against
a checklist (by a caseworker, held for their organisation; by the client, held for the client), and each
organisation's record of a client's documents - asked for by a date, accepted (from which file, when), rejected
(why) - with its history. One more held-here source behind the gate (connectors/held.py says how those work).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held import Group
from core.errors import AgencyUnavailable
from core.vocabulary import Category
from store.held_tables import DocumentEvent as EventRow
from store.held_tables import DocumentFile as FileRow
from store.held_tables import DocumentRecord as RecordRow

REQUESTED, ACCEPTED, REJECTED = "REQUESTED", "ACCEPTED", "REJECTED"


@dataclass(frozen=True, slots=True)
class SentFile:
    """A file sent against a checklist: what kind of document it is, what it is (its type, size), who sent it
    and when, until when it is kept. Its bytes are fetched only by a download through the gate."""

    id: str
    client_id: str
    holder: str
    document: str
    media_type: str
    size: int
    scan: str
    sent_by: str
    sent_at: datetime
    retain_until: datetime
    purged: bool


@dataclass(frozen=True, slots=True)
class Step:
    """One step in a document record's history."""

    state: str
    at: datetime
    by: str
    file_id: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """An organisation's record of one kind of document for one client, with its history (oldest first)."""

    id: str
    client_id: str
    holder: str
    document: str
    state: str  # REQUESTED | ACCEPTED | REJECTED
    due_on: date | None
    reason: str | None
    file_id: str | None
    accepted_on: date | None
    updated_at: datetime
    history: tuple[Step, ...]


class HeldDocuments:
    """Files and document records in the store (category documents), each held for its holder and shared with
    the client, whose documents they are."""

    name = "casebridge-documents"
    categories = frozenset({Category.DOCUMENTS})
    own_part_always = False  # the documents section is mostly the agencies': no empty part beside them

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions

    async def holdings(self, client_ids: Sequence[str], categories: Sequence[Category]) -> set[Group]:
        """Which (client, holder) groups hold files or document records."""
        if Category.DOCUMENTS not in categories:
            return set()
        ids = list(client_ids)
        files = select(FileRow.client_id, FileRow.holder).where(FileRow.client_id.in_(ids)).distinct()
        records = select(RecordRow.client_id, RecordRow.holder).where(RecordRow.client_id.in_(ids)).distinct()
        try:
            async with self._sessions() as session:
                rows = [*(await session.execute(files)).all(), *(await session.execute(records)).all()]
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("documents could not be read", connector=self.name) from exc
        return {(cid, Category.DOCUMENTS, holder, True) for cid, holder in rows}

    async def fetch(self, groups: Sequence[Group]) -> dict[Group, list[SentFile | DocumentRecord]]:
        """The files and document records of the permitted groups."""
        if not groups:
            return {}
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        out: dict[Group, list[SentFile | DocumentRecord]] = defaultdict(list)
        f, r, e = FileRow, RecordRow, EventRow
        try:
            async with self._sessions() as session:
                for row in (await session.execute(select(f).where(tuple_(f.client_id, f.holder).in_(keys)))).scalars():
                    out[(row.client_id, Category.DOCUMENTS, row.holder, True)].append(sent_file(row))
                records = list((await session.execute(
                    select(r).where(tuple_(r.client_id, r.holder).in_(keys)))).scalars())
                steps: dict[str, list[Step]] = defaultdict(list)
                if records:
                    for ev in (await session.execute(select(e).where(e.record_id.in_([x.id for x in records]))
                                                     .order_by(e.at, e.id))).scalars():
                        steps[ev.record_id].append(Step(ev.state, ev.at, ev.by, ev.file_id, ev.reason))
                for rec in records:
                    out[(rec.client_id, Category.DOCUMENTS, rec.holder, True)].append(
                        document_record(rec, steps.get(rec.id, [])))
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("documents could not be read", connector=self.name) from exc
        return dict(out)

    def sort_key(self, item: SentFile | DocumentRecord) -> Any:
        """Newest first."""
        return (item.sent_at if isinstance(item, SentFile) else item.updated_at, item.id)

    def as_of(self) -> datetime:
        """Held here, so true now."""
        return datetime.now(UTC)


def sent_file(row: FileRow) -> SentFile:
    """One file row as the section shows it."""
    return SentFile(row.id, row.client_id, row.holder, row.document, row.media_type, row.size, row.scan,
                    row.sent_by, row.sent_at, row.retain_until, row.purged_at is not None)


def document_record(row: RecordRow, steps: Sequence[Step]) -> DocumentRecord:
    """One record row (and its history) as the section shows it."""
    return DocumentRecord(row.id, row.client_id, row.holder, row.document, row.state, row.due_on, row.reason,
                          row.file_id, row.accepted_on, row.updated_at, tuple(steps))


async def add_file(session: AsyncSession, *, client_id: str, holder: str, document: str, sha256: str, size: int,
                   media_type: str, scan: str, sent_by: str, now: datetime, retain_until: datetime) -> SentFile:
    """Record one file's metadata in the caller's transaction (its bytes are already in the blob store)."""
    row = FileRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, document=document, sha256=sha256,
                  size=size, media_type=media_type, scan=scan, sent_by=sent_by, sent_at=now,
                  retain_until=retain_until, purged_at=None)
    session.add(row)
    await session.flush()
    return sent_file(row)


async def file_row(session: AsyncSession, file_id: str) -> FileRow | None:
    """One file's row by id (its client and holder, for the gate to decide on; its digest, for the blob)."""
    return await session.get(FileRow, file_id)


async def record_step(session: AsyncSession, *, client_id: str, holder: str, document: str, state: str, by: str,
                      now: datetime, due_on: date | None = None, reason: str | None = None,
                      file_id: str | None = None) -> DocumentRecord:
    """Move the organisation's record of one document to `state` (making the record if it has none), and add the
    step to its history, in the caller's transaction."""
    row = (await session.execute(select(RecordRow).where(
        RecordRow.client_id == client_id, RecordRow.holder == holder, RecordRow.document == document)
        .with_for_update())).scalar_one_or_none()
    if row is None:
        row = RecordRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, document=document,
                        recorded_by=by, created_at=now)
        session.add(row)
    row.state, row.due_on, row.reason, row.updated_at = state, due_on, reason, now
    if file_id is not None:
        row.file_id = file_id
    row.accepted_on = now.date() if state == ACCEPTED else None
    await session.flush()
    session.add(EventRow(record_id=row.id, state=state, file_id=file_id, reason=reason, by=by, at=now))
    await session.flush()
    steps = (await session.execute(select(EventRow).where(EventRow.record_id == row.id)
                                   .order_by(EventRow.at, EventRow.id))).scalars()
    return document_record(row, [Step(e.state, e.at, e.by, e.file_id, e.reason) for e in steps])


async def digest_in_use(session: AsyncSession, sha256: str) -> bool:
    """Whether a file whose bytes are still kept refers to `sha256`."""
    found = await session.execute(select(FileRow.id).where(FileRow.sha256 == sha256, FileRow.purged_at.is_(None))
                                  .limit(1))
    return found.first() is not None


@dataclass(frozen=True, slots=True)
class Purged:
    """What a retention run removed: files whose content was removed, per client (for the access log)."""

    files: int
    blobs: int
    by_client: dict[str, int]


async def purge_expired(sessions: async_sessionmaker[Any], delete_blob: Any, record: Any, *,
                        now: datetime) -> Purged:
    """Remove the content of files past their retention period: each is marked purged (its record stays: what was
    accepted, when, by whom) and `record(session, files per client)` writes the access log in that transaction;
    once it committed, the bytes are deleted unless a file still kept shares them."""
    async with sessions.begin() as session:
        rows = list((await session.execute(select(FileRow).where(
            FileRow.retain_until < now, FileRow.purged_at.is_(None)).with_for_update())).scalars())
        by_client: dict[str, int] = defaultdict(int)
        for row in rows:
            row.purged_at = now
            by_client[row.client_id] += 1
        digests = sorted({row.sha256 for row in rows})
        if by_client:
            await record(session, dict(by_client))
    removed = 0
    async with sessions() as session:
        for sha in digests:
            if not await digest_in_use(session, sha):
                await delete_blob(sha)
                removed += 1
    return Purged(len(rows), removed, dict(by_client))


async def kept_digests(sessions: async_sessionmaker[Any]) -> set[str]:
    """The digests of every file whose content is still kept (for the sweep of blobs no record refers to)."""
    async with sessions() as session:
        return set((await session.execute(select(FileRow.sha256).where(FileRow.purged_at.is_(None)))).scalars())
