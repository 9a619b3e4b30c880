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
like a read of the section the file is in. The review list, and whether an organisation's staff may review a file
(whom a client's upload is meant for), are gate/document_reviews.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.access_records import AccessRecord, action_record
from checklists.config import Checklists, DocumentKind
from checklists.downloads import HeldCopy, download_slots
from checklists.files import BlobStore, DocumentSettings, Received, make_blob_store, receive, scan, verified_copy
from connectors.held_document_files import (
    add_file,
    addressed_to,
    begin_attempt,
    file_holders,
    file_row,
    hold_digest,
    remove_unused_blob,
)
from connectors.held_documents import (
    ACCEPTED,
    REJECTED,
    REQUESTED,
    DocumentRecord,
    HeldDocuments,
    SentFile,
    receive_step,
    record_step,
    sender,
    sent_file,
    waiting_holders,
    withhold_files,
)
from core.errors import AuditUnavailable, CasebridgeError, DocumentsUnavailable, InvalidInput, RecordNotFound
from core.principal import CLIENT_HOLDER, RequestContext
from core.vocabulary import Action, Category, member_of
from gate.document_reviews import DocumentReviews, ReviewItem
from gate.document_sections import file_sections
from gate.gate import Gate, section_outcome
from policies.consent_store import ConsentStore
from policies.decisions import Decision, Resource, Target
from store.held_tables import DocumentFile


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


MAX_AHEAD_DAYS = 366
ISSUED_WITHIN_DAYS = 20 * 366  # a document's own date, given at review: from this many days ago to today


class DocumentDesk:
    """Requests, uploads, reviews and downloads of a client's documents held here, through the gate."""

    def __init__(self, *, gate: Gate, source: HeldDocuments, sessions: async_sessionmaker[Any],
                 checklists: Checklists, settings: DocumentSettings, notices: Notices | None = None,
                 blobs: BlobStore | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 consents: ConsentStore | None = None, organizations: Iterable[str] = ()) -> None:
        self._gate = gate
        self._source = source
        self._sessions = sessions
        self._lists = checklists
        self._settings = settings
        self._notices = notices
        # the store the settings name unless one is given; files being sent are read to a local directory of
        # their own whatever the store (settings.incoming: the sniffing and the scanner need a local file)
        self._blobs: BlobStore = blobs or make_blob_store(settings)
        self._clock = clock
        self._reviews = DocumentReviews(gate=gate, source=source, sessions=sessions, checklists=checklists,
                                        settings=settings, clock=clock, consents=consents or ConsentStore(),
                                        organizations=organizations)
        source.review_by(self._reviews)  # a record moves to RECEIVED only through a file its holder may review

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
            return await self._shown(op, record)

    async def upload(self, ctx: RequestContext, *, client_id: str, document: str, chunks: AsyncIterator[bytes],
                     addressed_to: Sequence[str] = (), addressed_field: str = "addressedTo") -> SentFile:
        """Keep a file sent against a checklist: the caller may send it (asked before a byte is read) - and choose
        whom it is meant for (`addressed_to`, organisation codes: a client for themself) - it is within the
        limits, a PDF or a photo by its content, and clean if a scanner is configured. Its bytes and its record
        are kept together or not at all."""
        now = self._clock()
        # whose holding the file is in: the client's own when a client sends for themself (never the organisation
        # their sign-in names), else the sender's organisation's; the policies decide whether it may be sent there
        holder = CLIENT_HOLDER if ctx.principal.self_client == client_id else ctx.principal.organization
        await self._reviews.authorize_upload(ctx, client_id, holder, addressing=bool(addressed_to),
                                             field=addressed_field)
        await self._gate.require_client(client_id)
        if document not in self._lists.documents:  # refused after the gate, so logged - without the code sent
            await self.failed(ctx, client_id, "?", "unknown_document")
        kind = self._kind(document)
        await self._begin(ctx, client_id, document, now)  # the daily limit before any other work
        # a client's upload is meant for the organisations whose record of it waits, those the client's consent lets
        # see their documents, and those the client chose (each one's list shows it where its staff may see it)
        try:  # a choice of addressees refused is logged with its reason, never the codes sent
            meant = (await self._reviews.addressees(client_id, kind.code, kind.valid_days, now, chosen=addressed_to,
                                                    field=addressed_field) if holder == CLIENT_HOLDER else [])
        except InvalidInput as exc:
            await self.failed(ctx, client_id, document, _reason(exc, "store"))
            raise
        stage = "store"
        try:
            received = await receive(chunks, into=self._settings.incoming, limit=self._settings.max_bytes,
                                     idle_seconds=self._settings.read_timeout_seconds,
                                     total_seconds=self._settings.upload_timeout_seconds)
        except OSError as exc:
            await self.failed(ctx, client_id, document, "store_unavailable")
            raise DocumentsUnavailable("the file could not be kept") from exc
        except CasebridgeError as exc:
            await self.failed(ctx, client_id, document, _reason(exc, stage))
            raise
        try:
            stage = "scan"
            verdict = await scan(self._settings.scan_command, received.path,
                                 seconds=self._settings.scan_timeout_seconds)
            stage = "store"
            created = await self._put(received)  # outside the transaction: no connection waits on a store
            try:
                async with self._gate.operation(ctx, Action.DOCUMENT_UPLOAD) as op:
                    # the digest's lock until the record commits, and the bytes made sure of under it: a purge or a
                    # failed upload of the same bytes that removed them since (having checked before this lock)
                    # has them put back, and none removes them from here to the commit (hold_digest)
                    await hold_digest(op.session, received.sha256)
                    created = await self._put(received) or created
                    sent = await add_file(op.session, client_id=client_id, holder=holder, document=document,
                                          sha256=received.sha256, size=received.size,
                                          media_type=received.media_type, scan=verdict, sent_by=ctx.principal.subject,
                                          now=now, retain_until=now + timedelta(days=self._settings.retention_days),
                                          addressed_to=meant)
                    if holder != CLIENT_HOLDER:  # the organisation's own file: its record of it has it now
                        await receive_step(op.session, client_id=client_id, holder=holder, document=document,
                                           file_id=sent.id, by=ctx.principal.subject, at=now,
                                           valid_days=kind.valid_days)
                    op.log(client_id, detail=f"document file {sent.id} ({document}, {received.media_type}, "
                                             f"{received.size} bytes)")
            except BaseException:
                if created:
                    await self._forget(received.sha256)
                raise
        except CasebridgeError as exc:
            # the access log lives in the store that failed: it cannot take the failure either
            if not isinstance(exc, AuditUnavailable):
                await self.failed(ctx, client_id, document, _reason(exc, stage))
            raise
        finally:
            received.discard()
        return sent

    async def review(self, ctx: RequestContext, *, file_id: str, accept: bool, reason: str | None,
                     due_on: date | None, issued_on: date | None = None) -> DocumentRecord:
        """Accept a file sent (the caller's organisation's record of that document is ACCEPTED from today, valid
        from `issued_on` - the document's own date - where given), or reject it with a reason and a date to send
        another by (the client is told). A file that arrived after the record's last step is written as received
        then, before the decision."""
        now = self._clock()
        if accept and (reason is not None or due_on is not None):
            raise InvalidInput("a reason and a new date go with a rejection only", field="reason")
        if issued_on is not None and not accept:
            raise InvalidInput("the date a document was issued goes with an acceptance only", field="issuedOn")
        if issued_on is not None and not (
                now.date() - timedelta(days=ISSUED_WITHIN_DAYS) <= issued_on <= now.date()):
            raise InvalidInput("the date a document was issued is from 20 years ago to today", field="issuedOn")
        if not accept and (reason is None or member_of(RejectReason, reason) is None):
            raise InvalidInput(f"a rejection names its reason: one of {', '.join(RejectReason)}", field="reason")
        due = None if accept else self._due(due_on, now)
        hidden = RecordNotFound("no document file with this id is visible to you", field="fileId")
        org = ctx.principal.organization
        async with self._gate.operation(ctx, Action.DOCUMENT_REVIEW) as op:
            row, _ = await self._visible_file(op, file_id, hidden)
            sees = row.client_id in await self._gate.visible_identity(ctx, [row.client_id])
            valid_days = self._reviews.valid_days(row.document)
            # decided on the file's own section, as its place on a review list is: the organisation's own file,
            # or one meant for it - addressed to it, or of a document its record waits for
            asked = org in await waiting_holders(op.session, client_id=row.client_id, document=row.document,
                                                 valid_days=valid_days, now=now)
            await op.require(Action.DOCUMENT_REVIEW, Target.section(
                row.client_id, Category.DOCUMENTS, row.holder, sees_identity=sees,
                addressed=await addressed_to(op.session, row.id, org), asked=asked))
            if row.purged_at is not None:
                raise InvalidInput("this file's retention period has ended; ask for the document again",
                                   field="fileId")
            if issued_on is not None and valid_days is not None and issued_on + timedelta(days=valid_days) < now.date():
                raise InvalidInput(f"a copy issued on that day no longer holds: reject it as "
                                   f"{RejectReason.EXPIRED_DOCUMENT}", field="issuedOn", reason="expired_document")
            await receive_step(op.session, client_id=row.client_id, holder=org, document=row.document, file_id=row.id,
                               by=sender(row), at=row.sent_at, valid_days=valid_days)
            record = await record_step(op.session, client_id=row.client_id, holder=org, document=row.document,
                                       state=ACCEPTED if accept else REJECTED, by=ctx.principal.subject, now=now,
                                       due_on=due, reason=reason, file_id=row.id, issued_on=issued_on)
            if due is not None:
                await self._notify(op.session, record, "document_rejected", due, now)
            op.log(row.client_id, detail=f"document file {row.id} ({record.document} {record.state})")
            return await self._shown(op, record)

    async def download(self, ctx: RequestContext, *, file_id: str) -> tuple[SentFile, HeldCopy]:
        """A file's record and a checked copy of its bytes, for a caller who may see the section it is in (and, for
        a kind the checklists mark sensitive - immigration papers - that category's section of the same holder
        too). Decided first (a refusal is logged as one); then, once the download has a slot (at most
        `max_downloads_per_caller` for one caller and `max_concurrent_downloads` in the process, waited for at
        most `download_wait_seconds`: checklists/downloads.py), read from the store once and checked against the
        digest as it is copied, outside any transaction (no database connection waits on a store, which may be
        remote); then decided again (a consent revoked while the copy was read counts) and logged as downloaded
        with the read decisions that allowed it (their rules, basis and consent) - before the caller serves a
        byte. A download found purged, without a slot, or whose copy fails its check is logged as a failed
        download with its reason, never as downloaded. The copy (at its start; gone once closed, which gives back
        the slot) is what the caller serves and must close: no byte that does not match the digest is ever sent
        (a damaged blob is DOCUMENTS_UNAVAILABLE before the first byte)."""
        sent, sha256, decided, purged = await self._download_decided(ctx, file_id)

        def logged(result: str, detail: str) -> list[AccessRecord]:
            # the read decisions that let the caller have the file: an auditor sees whether the organisation's own
            # records, the client's consent (its id) or a legal basis did
            outcome = "disclosed" if result == "performed" else "failed"
            relied = [d for _, d in decided if d.legal_basis]
            return [action_record(
                ctx, Action.DOCUMENT_DOWNLOAD, sent.client_id, result=result, detail=detail,
                sections=tuple(section_outcome(r.category, r.connector, r.holder, d, outcome) for r, d in decided),
                legal_basis=relied[0].legal_basis if relied else None,
                justification=relied[0].justification if relied else None,
                break_glass=any(d.break_glass for d in relied))]

        async def refuse_purged() -> None:
            await self._gate.record(logged("failed", f"document file {sent.id} not served: purged"))
            raise RecordNotFound("this file's retention period has ended: its content was removed",
                                 field="fileId", reason="purged")

        if purged:
            await refuse_purged()
        s = self._settings
        try:
            slot = await download_slots(s.max_concurrent_downloads, s.max_downloads_per_caller).take(
                ctx.principal.subject, seconds=s.download_wait_seconds)
        except DocumentsUnavailable as exc:
            await self._gate.record(logged("failed", f"document file {sent.id} not served: "
                                                     f"{_reason(exc, 'store')}"))
            raise
        try:
            copy = HeldCopy(await verified_copy(self._blobs, sha256, into=s.incoming), slot)
        except DocumentsUnavailable as exc:
            slot.release()
            # decided again: a file purged (its blob removed) or a consent revoked while the store was read is what
            # the caller is told, and what is logged, rather than the content it no longer finds
            sent, _, decided, purged = await self._download_decided(ctx, file_id)
            if purged:
                await refuse_purged()
            await self._gate.record(logged("failed", f"document file {sent.id} not served: "
                                                     f"{_reason(exc, 'store')}"))
            raise
        except BaseException:
            slot.release()
            raise
        try:
            # decided again: a consent revoked (or a file purged) while the copy was read counts before a byte goes
            sent, _, decided, purged = await self._download_decided(ctx, file_id)
            if purged:
                await refuse_purged()
            await self._gate.record(logged("performed", f"document file {sent.id} downloaded"))
        except BaseException:
            copy.close()  # refused now, or the access log could not be written: nothing is served
            raise
        return sent, copy

    async def _download_decided(self, ctx: RequestContext, file_id: str
                                ) -> tuple[SentFile, str, list[tuple[Resource, Decision]], bool]:
        """Whether the caller may download the file (a refusal raises, logged as one): its record, digest, the read
        decisions that allow it, and whether its content was purged. Nothing else is written."""
        hidden = RecordNotFound("no document file with this id is visible to you", field="fileId")
        try:
            async with self._gate.operation(ctx, Action.DOCUMENT_DOWNLOAD) as op:
                row, sections = await self._visible_file(op, file_id, hidden)
                await op.require(Action.DOCUMENT_DOWNLOAD,
                                 Target.section(row.client_id, Category.DOCUMENTS, row.holder), hidden=hidden)
                raise _Decided(sent_file(row), row.sha256, sections, row.purged_at is not None)
        except _Decided as done:
            return done.sent, done.sha256, done.decided, done.purged

    async def reviews(self, ctx: RequestContext) -> list[ReviewItem]:
        """The caller's organisation's review list (gate/document_reviews.py)."""
        return await self._reviews.reviews(ctx)

    async def not_shared_with(self, ctx: RequestContext, files: Sequence[SentFile]) -> list[list[str] | None]:
        """For each of `files`, the organisations it is meant for whose staff may not see it yet (the client gave no
        consent), for whoever may send into its holding (the client, for their own upload:
        client-sends-own-documents); None for anyone else, who learns nothing of the client's consents from it.
        One decision step for all the holdings the files are in."""
        holdings = sorted({(f.client_id, f.holder) for f in files})
        verdicts = await self._gate.authorize_each(ctx, Action.DOCUMENT_UPLOAD, [
            Target.section(c, Category.DOCUMENTS, h) for c, h in holdings])
        sends = {k for k, v in zip(holdings, verdicts, strict=True) if v.permit}
        return [list(f.not_shared_with) if (f.client_id, f.holder) in sends else None for f in files]

    async def _begin(self, ctx: RequestContext, client_id: str, document: str, now: datetime) -> None:
        """Count the upload against the sender's daily limits (every attempt, whatever becomes of it), or refuse
        it before a byte is read."""
        s = self._settings
        async with self._gate.store_work(Action.DOCUMENT_UPLOAD), self._sessions.begin() as session:
            over = await begin_attempt(session, sender=ctx.principal.subject, client_id=client_id, now=now,
                                       per_client=s.max_files_per_day, per_sender=s.max_files_per_sender_per_day)
        if over is not None:
            await self.failed(ctx, client_id, document, "too_many_files")
            limit, where = ((s.max_files_per_day, "for one client") if over == "client"
                            else (s.max_files_per_sender_per_day, "in all"))
            raise InvalidInput(f"at most {limit} files a day {where}", field="file", reason="too_many_files")

    async def failed(self, ctx: RequestContext, client_id: str | None, document: str | None, reason: str) -> None:
        """An upload refused after the caller's token was checked (by the desk once the gate allowed it: the
        file, a limit, the scanner or a store; or by the edge before the client and the kind were read, both
        None): in the access log as a failed document.upload with its reason code - the kind's code, never the
        file's content or name."""
        what = "document file refused" if document is None else f"document file refused ({document})"
        await self._gate.record([action_record(ctx, Action.DOCUMENT_UPLOAD, client_id, result="failed",
                                               detail=f"{what}: {reason}")])

    async def _shown(self, op: Any, record: DocumentRecord) -> DocumentRecord:
        """`record` without the ids of files the caller may not see (a client's own, say, with no consent now)."""
        ids = {record.file_id, *(s.file_id for s in record.history), *(s.received for s in record.history)}
        holders = await file_holders(op.session, [i for i in ids if i is not None])
        groups = sorted(set(holders.values()))
        seen = await self._gate.decide(op.ctx, [Resource(c, Category.DOCUMENTS, h, self._source.name, held_here=True)
                                                for c, h in groups])
        allowed = {g for g, d in zip(groups, seen, strict=True) if d.permit}
        return withhold_files(record, {i for i, g in holders.items() if g in allowed})

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

    async def _visible_file(self, op: Any, file_id: str, hidden: RecordNotFound
                            ) -> tuple[DocumentFile, list[tuple[Resource, Decision]]]:
        """The file's row, if the caller may see its sections (else `hidden`, logged), and those read decisions."""
        row = await file_row(op.session, file_id)
        if row is None:
            raise op.not_found(hidden, "document-file")
        (sections,) = await file_sections(self._gate, self._lists, self._source.name, op.ctx,
                                          [(row.client_id, row.holder, row.document)])
        for _, seen in sections:
            op.require_seen(seen, row.client_id, hidden)
        return row, list(sections)

    async def _notify(self, session: AsyncSession, record: DocumentRecord, kind: str, due: date,
                      now: datetime) -> None:
        if self._notices is not None:
            await self._notices.document_notice(session, client_id=record.client_id, holder=record.holder, kind=kind,
                                                record_id=record.id, due_on=due, now=now)

    async def _put(self, received: Received) -> bool:
        try:
            return await asyncio.to_thread(self._blobs.put, received)
        except Exception as exc:  # any store's failure to keep the bytes (a disk, a bucket): no record follows
            raise DocumentsUnavailable("the file could not be kept") from exc

    async def _forget(self, sha256: str) -> None:
        """Remove bytes this upload put in the store when its record was not written - unless a file of the same
        bytes keeps them, checked under the digest's lock so that none is recorded between the check and the
        removal (remove_unused_blob)."""
        # a database that is down, or a blob store that cannot delete now, leaves the blob for the sweep: the
        # upload's own error is the answer
        with contextlib.suppress(Exception):
            await remove_unused_blob(self._sessions, sha256, self._blobs)


class _Decided(Exception):
    """Leaves a transaction that only decided (and so writes nothing): what it allowed is done after it, and
    logged then (a download's copy is read from the store outside any transaction)."""

    def __init__(self, sent: SentFile, sha256: str, decided: list[tuple[Resource, Decision]], purged: bool) -> None:
        super().__init__("decided")
        self.sent, self.sha256, self.decided, self.purged = sent, sha256, decided, purged


def _reason(exc: CasebridgeError, stage: str) -> str:
    """An upload's refusal as a code for the access log: the error's own reason, which store could not help, or
    the error's code."""
    given = exc.details.get("reason")
    if isinstance(given, str):
        return given
    if isinstance(exc, DocumentsUnavailable):
        return f"{stage}_unavailable"
    return exc.code.lower()
