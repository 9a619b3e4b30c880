"""The document desk: a client's documents held here, against the checklists (issue 20 §2, §4, §5).

Staff ask a client for a document by a date (their organisation's record of it, REQUESTED); a file is sent against
it - by the caseworker, held for their organisation, or by the client from their own view, held for the client
and reaching an organisation only through the client's consent; whoever may see the file and keeps a record of
that document reviews it: ACCEPTED (valid from that day for as long as the kind's validity says) or REJECTED
with a coded reason and a new date. A request and a rejection tell the client (the reminders' outbox: a date and
a link, never what the document is). Each step is one operation with its access-log event, naming ids and the
document kind's code, never the file's content or name.

Files travel beside GraphQL (api/documents.py): the upload is authorized before a byte of it is read, read to a
temporary file with its limit, sniffed and scanned, kept in the blob store, and recorded; the download is decided
like a read of the section the file is in.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checklists.config import Checklists, DocumentKind
from checklists.files import BlobStore, DocumentSettings, LocalBlobStore, Received, receive, scan
from connectors.held_documents import (
    ACCEPTED,
    REJECTED,
    REQUESTED,
    DocumentRecord,
    HeldDocuments,
    SentFile,
    add_file,
    digest_in_use,
    file_row,
    record_step,
    sent_file,
)
from core.errors import DocumentsUnavailable, InvalidInput, RecordNotFound
from core.principal import RequestContext
from core.vocabulary import Action, Category, member_of
from gate.gate import Gate
from policies.decisions import Resource, Target
from store.held_tables import DocumentEvent, DocumentFile
from store.held_tables import DocumentRecord as RecordRow


class RejectReason(StrEnum):
    """Why a file sent was not accepted (the client sees it in their own view, never in a message)."""

    ILLEGIBLE = "ILLEGIBLE"
    INCOMPLETE = "INCOMPLETE"  # a page or a side missing
    EXPIRED_DOCUMENT = "EXPIRED_DOCUMENT"  # the document itself is out of date
    WRONG_DOCUMENT = "WRONG_DOCUMENT"
    NAME_MISMATCH = "NAME_MISMATCH"
    NOT_ACCEPTED_BY_PROGRAM = "NOT_ACCEPTED_BY_PROGRAM"  # a copy the program does not take (e.g. needs an original)
    OTHER = "OTHER"


class Notices(Protocol):
    """Tells the client of a request or a rejection (notify/notices.py), in the operation's transaction."""

    async def document_notice(self, session: AsyncSession, *, client_id: str, holder: str, kind: str,
                              record_id: str, due_on: date, now: datetime) -> None:
        ...


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A file awaiting the caller's organisation's review, by when, and its record of that document if any."""

    file: SentFile
    due_at: datetime
    record_state: str | None
    record_due_on: date | None


MAX_AHEAD_DAYS = 366
REVIEW_LIST = 100  # files per review list, oldest first
_SCAN_CANDIDATES = 1000


class DocumentDesk:
    """Requests, uploads, reviews and downloads of a client's documents held here, through the gate."""

    def __init__(self, *, gate: Gate, source: HeldDocuments, sessions: async_sessionmaker[Any],
                 checklists: Checklists, settings: DocumentSettings, notices: Notices | None = None,
                 blobs: BlobStore | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._source = source
        self._sessions = sessions
        self._lists = checklists
        self._settings = settings
        self._notices = notices
        self._local = LocalBlobStore(settings.blob_dir)
        self._blobs: BlobStore = blobs or self._local
        self._clock = clock

    @property
    def blobs(self) -> BlobStore:
        """Where the files' bytes are kept."""
        return self._blobs

    async def request(self, ctx: RequestContext, *, client_id: str, document: str, due_on: date | None,
                      ) -> DocumentRecord:
        """Ask the client for a document by `due_on` (default: in the configured number of days)."""
        now = self._clock()
        self._kind(document)
        due = self._due(due_on, now)
        org = ctx.principal.organization
        await self._gate.authorize_for_client(ctx, Action.DOCUMENT_REQUEST, client_id, held=(Category.DOCUMENTS, org))
        await self._gate.require_client(client_id)
        async with self._gate.operation(ctx, Action.DOCUMENT_REQUEST) as op:
            record = await record_step(op.session, client_id=client_id, holder=org, document=document,
                                       state=REQUESTED, by=ctx.principal.subject, now=now, due_on=due)
            await self._notify(op.session, record, "document_requested", due, now)
            op.log(client_id, detail=f"document record {record.id} ({document} {REQUESTED})")
        return record

    async def upload(self, ctx: RequestContext, *, client_id: str, document: str,
                     chunks: AsyncIterator[bytes]) -> SentFile:
        """Keep a file sent against a checklist: the caller may send it (asked before a byte is read), it is
        within the limits, a PDF or a photo by its content, and clean if a scanner is configured. Its bytes and
        its record are kept together or not at all."""
        now = self._clock()
        self._kind(document)
        org = ctx.principal.organization
        await self._gate.authorize_for_client(ctx, Action.DOCUMENT_UPLOAD, client_id, held=(Category.DOCUMENTS, org))
        await self._gate.require_client(client_id)
        if await self._sent_today(client_id, ctx.principal.subject, now) >= self._settings.max_files_per_day:
            raise InvalidInput(f"at most {self._settings.max_files_per_day} files a day for one client",
                               field="file", reason="too_many_files")
        try:
            received = await receive(chunks, into=self._local.incoming, limit=self._settings.max_bytes)
        except OSError as exc:
            raise DocumentsUnavailable("the file could not be kept") from exc
        try:
            verdict = await scan(self._settings.scan_command, received.path,
                                 seconds=self._settings.scan_timeout_seconds)
            created = await self._put(received)
            try:
                async with self._gate.operation(ctx, Action.DOCUMENT_UPLOAD) as op:
                    sent = await add_file(op.session, client_id=client_id, holder=org, document=document,
                                          sha256=received.sha256, size=received.size,
                                          media_type=received.media_type, scan=verdict, sent_by=ctx.principal.subject,
                                          now=now, retain_until=now + timedelta(days=self._settings.retention_days))
                    op.log(client_id, detail=f"document file {sent.id} ({document}, {received.media_type}, "
                                             f"{received.size} bytes)")
            except BaseException:
                if created:
                    await self._forget(received.sha256)
                raise
            # the same bytes sent at once by another upload that then failed may have been removed meanwhile
            if self._blobs.open(received.sha256) is None:
                await self._put(received)
        finally:
            received.discard()
        return sent

    async def review(self, ctx: RequestContext, *, file_id: str, accept: bool, reason: str | None,
                     due_on: date | None) -> DocumentRecord:
        """Accept a file sent (the caller's organisation's record of that document is ACCEPTED from today), or
        reject it with a reason and a date to send another by (the client is told)."""
        now = self._clock()
        if accept and (reason is not None or due_on is not None):
            raise InvalidInput("a reason and a new date go with a rejection only", field="reason")
        if not accept and (reason is None or member_of(RejectReason, reason) is None):
            raise InvalidInput(f"a rejection names its reason: one of {', '.join(RejectReason)}", field="reason")
        due = None if accept else self._due(due_on, now)
        hidden = RecordNotFound("no document file with this id is visible to you", field="fileId")
        org = ctx.principal.organization
        async with self._gate.operation(ctx, Action.DOCUMENT_REVIEW) as op:
            row = await self._visible_file(op, file_id, hidden)
            sees = row.client_id in await self._gate.visible_identity(ctx, [row.client_id])
            await op.require(Action.DOCUMENT_REVIEW,
                             Target.section(row.client_id, Category.DOCUMENTS, org, sees_identity=sees))
            if row.purged_at is not None:
                raise InvalidInput("this file's retention period has ended; ask for the document again",
                                   field="fileId")
            record = await record_step(op.session, client_id=row.client_id, holder=org, document=row.document,
                                       state=ACCEPTED if accept else REJECTED, by=ctx.principal.subject, now=now,
                                       due_on=due, reason=reason, file_id=row.id)
            if due is not None:
                await self._notify(op.session, record, "document_rejected", due, now)
            op.log(row.client_id, detail=f"document file {row.id} ({record.document} {record.state})")
        return record

    async def download(self, ctx: RequestContext, *, file_id: str) -> tuple[SentFile, Path]:
        """A file's record and the path of its bytes, for a caller who may see the section it is in; the bytes
        are checked against their digest first."""
        hidden = RecordNotFound("no document file with this id is visible to you", field="fileId")
        async with self._gate.operation(ctx, Action.DOCUMENT_DOWNLOAD) as op:
            row = await self._visible_file(op, file_id, hidden)
            await op.require(Action.DOCUMENT_DOWNLOAD, Target.section(row.client_id, Category.DOCUMENTS, row.holder),
                             hidden=hidden)
            if row.purged_at is not None:
                raise RecordNotFound("this file's retention period has ended: its content was removed",
                                     field="fileId", reason="purged")
            path = self._blobs.open(row.sha256)
            if path is None or await asyncio.to_thread(_digest, path) != row.sha256:
                raise DocumentsUnavailable("the file's content cannot be read")
            op.log(row.client_id, detail=f"document file {row.id} downloaded")
            return sent_file(row), path

    async def reviews(self, ctx: RequestContext) -> list[ReviewItem]:
        """Files the caller may see that their organisation has not decided on yet - those it sent, and those for
        clients whose documents it keeps a record of - each due `review_days` after it was sent, soonest first:
        the caseworker's review list. Logged per client shown."""
        org = ctx.principal.organization
        f, e, r = DocumentFile, DocumentEvent, RecordRow
        decided = exists().where(e.file_id == f.id, e.record_id == r.id, r.holder == org)
        # the organisation's own work: files it sent, and files for clients whose documents it keeps a record of
        # (it asked for one): not every file in the city it may happen to see
        tracked = exists().where(r.client_id == f.client_id, r.holder == org)
        # may the caller review their organisation's documents at all (else FORBIDDEN, logged); then, per client
        async with self._gate.operation(ctx, Action.DOCUMENT_REVIEW, Target.worklist(Category.DOCUMENTS, org)) as op:
            rows = list((await op.session.execute(
                select(f).where(f.purged_at.is_(None), ~decided, (f.holder == org) | tracked)
                .order_by(f.sent_at, f.id).limit(_SCAN_CANDIDATES)
            )).scalars())
            seen = await self._gate.decide(ctx, [Resource(x.client_id, Category.DOCUMENTS, x.holder,
                                                          self._source.name, held_here=True) for x in rows])
            rows = [x for x, d in zip(rows, seen, strict=True) if d.permit]
            clients = sorted({x.client_id for x in rows})
            sees = await self._gate.visible_identity(ctx, clients) if clients else set()
            verdicts = await self._gate.authorize_each(ctx, Action.DOCUMENT_REVIEW, [
                Target.section(c, Category.DOCUMENTS, org, sees_identity=c in sees) for c in clients])
            mine = {c for c, v in zip(clients, verdicts, strict=True) if v.permit}
            rows = [x for x in rows if x.client_id in mine][:REVIEW_LIST]
            records = {(x.client_id, x.document): x for x in (await op.session.execute(select(r).where(
                r.holder == org, r.client_id.in_([x.client_id for x in rows])))).scalars()} if rows else {}
            out = []
            for x in rows:
                rec = records.get((x.client_id, x.document))
                out.append(ReviewItem(sent_file(x), x.sent_at + timedelta(days=self._settings.review_days),
                                      rec.state if rec else None, rec.due_on if rec else None))
            for client_id in sorted({x.client_id for x in rows}):
                op.log(client_id, detail=f"review list: {sum(x.client_id == client_id for x in rows)} file(s)")
            if not rows:
                op.log(None, detail="review list: none")
        return sorted(out, key=lambda i: (i.due_at, i.file.id))

    async def _sent_today(self, client_id: str, subject: str, now: datetime) -> int:
        f = DocumentFile
        async with self._gate.store_work(Action.DOCUMENT_UPLOAD), self._sessions() as session:
            found = await session.execute(select(func.count()).select_from(f).where(
                f.client_id == client_id, f.sent_by == subject, f.sent_at > now - timedelta(days=1)))
            return int(found.scalar_one())

    def _kind(self, document: str) -> DocumentKind:
        kind = self._lists.documents.get(document)
        if kind is None:
            raise InvalidInput("not a document kind of the checklists configuration", field="document")
        return kind

    def _due(self, due_on: date | None, now: datetime) -> date:
        today = now.date()
        due = due_on or today + timedelta(days=self._settings.request_days)
        if due < today or due > today + timedelta(days=MAX_AHEAD_DAYS):
            raise InvalidInput("a due date is from today to a year ahead", field="dueOn")
        return due

    async def _visible_file(self, op: Any, file_id: str, hidden: RecordNotFound) -> DocumentFile:
        row = await file_row(op.session, file_id)
        if row is None:
            raise op.not_found(hidden, "document-file")
        (seen,) = await self._gate.decide(op.ctx, [Resource(row.client_id, Category.DOCUMENTS, row.holder,
                                                            self._source.name, held_here=True)])
        op.require_seen(seen, row.client_id, hidden)
        return row

    async def _notify(self, session: AsyncSession, record: DocumentRecord, kind: str, due: date,
                      now: datetime) -> None:
        if self._notices is not None:
            await self._notices.document_notice(session, client_id=record.client_id, holder=record.holder, kind=kind,
                                                record_id=record.id, due_on=due, now=now)

    async def _put(self, received: Received) -> bool:
        try:
            return await asyncio.to_thread(self._blobs.put, received)
        except OSError as exc:
            raise DocumentsUnavailable("the file could not be kept") from exc

    async def _forget(self, sha256: str) -> None:
        """Remove bytes this upload put in the store when its record was not written (unless a record of another
        upload of the same bytes was written meanwhile)."""
        try:
            async with self._sessions() as session:
                if await digest_in_use(session, sha256):
                    return
        except Exception:  # the store is down: leave the blob for the sweep rather than risk a row without it
            return
        await asyncio.to_thread(self._blobs.delete, sha256)


def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
