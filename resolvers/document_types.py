"""GraphQL types of the documents held here (issue 20): files sent, each organisation's record of a client's
documents (requested, received, accepted, rejected, expired), and the review list. Nothing here names a file the
caller may not see (connectors/held_documents.py withholds those ids), nor a client's sign-in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import Enum

import strawberry
from strawberry.dataloader import DataLoader

from checklists.config import DocumentKind
from connectors.held_documents import ACCEPTED, DocumentRecord, SentFile, last_valid_day
from gate.document_reviews import ReviewItem
from resolvers.context import Context
from resolvers.enums import RejectReason


@strawberry.enum(description="An organisation's record of one document: REQUESTED of the client by a date, "
                 "RECEIVED (a file for it arrived since, awaiting the organisation's review; shown only to a caller "
                 "who may see that file), ACCEPTED (a file it reviewed, valid for as long as the document kind's "
                 "validity), REJECTED (with a reason: needed again by a date), EXPIRED (accepted, but its validity ran "
                 "out: needed again).")
class DocumentRequestState(Enum):
    REQUESTED = "REQUESTED"
    RECEIVED = "RECEIVED"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


@strawberry.enum(description="A review's outcome.")
class ReviewDecision(Enum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"


@strawberry.enum(description="Whether a file was scanned for viruses: CLEAN, or NOT_SCANNED where the city "
                 "configured no scanner.")
class ScanResult(Enum):
    CLEAN = "CLEAN"
    NOT_SCANNED = "NOT_SCANNED"


@strawberry.type(description="A file sent against a checklist: a scan or photo of one kind of document. Its "
                 "content is fetched with GET /documents/{id} (the same token and purpose), decided and logged like "
                 "any read; its name is never kept.")
class DocumentFile:
    id: strawberry.ID
    agency: str = strawberry.field(description="Who holds it: the sender's organisation, or CLIENT - the client's "
                                   "own, whatever organisation their sign-in names (it reaches an organisation only "
                                   "by the client's consent).")
    document: str = strawberry.field(description="The document kind's code (checklists configuration).")
    media_type: str = strawberry.field(description="What it is, read from its content: application/pdf, "
                                       "image/jpeg, image/png, image/heic, image/webp or image/tiff.")
    size: int = strawberry.field(description="Bytes.")
    scan: ScanResult
    sent_by: str | None = strawberry.field(description="The staff member who sent it (their sign-in subject); null "
                                           "when the client sent it (sentByClient): a client's sign-in is never "
                                           "shown.")
    sent_by_client: bool = strawberry.field(description="The client sent it themself.")
    sent_at: datetime
    retain_until: datetime = strawberry.field(description="Its content is removed after this (its record stays).")
    purged: bool = strawberry.field(description="Its content was removed at the end of its retention period.")
    awaiting_review: bool = strawberry.field(description="No organisation whose records you may see has accepted or "
                                             "rejected it yet.")
    sent: strawberry.Private[SentFile]

    @strawberry.field(description="For the client's own upload, to the client (whoever may send into the file's "
                      "holding): the organisations it is meant for - addressed to them, or asked for by their "
                      "record of it - whose staff may not see it yet, because the client's consent does not let them "
                      "(it is not shared with them yet, so it does not await their review). Null for anyone else.")
    async def not_shared_with(self, info: strawberry.Info) -> list[str] | None:
        if not self.sent.by_client:  # a file staff sent is their organisation's own: meant for no one else
            return None
        loader = info.context.loaders.setdefault("not_shared_with", _not_shared_loader(info.context))
        answer: list[str] | None = await loader.load(self.sent)
        return answer


def _not_shared_loader(context: Context) -> DataLoader[SentFile, list[str] | None]:
    """Batches every file's notSharedWith of a request into one decision step (the desk's)."""
    desk = context.documents

    async def load(files: list[SentFile]) -> list[list[str] | None]:
        return await desk.not_shared_with(context.request, files)

    return DataLoader(load_fn=load)


@strawberry.type(description="One step of an organisation's record of a document, and how long it lasted.")
class DocumentStep:
    state: DocumentRequestState
    at: datetime
    days: float = strawberry.field(description="How long it lasted (until the next step, or now), in days.")
    file_id: strawberry.ID | None = strawberry.field(description="The file received, accepted or rejected (null "
                                                     "where you may not see it).")
    reason: RejectReason | None


@strawberry.type(description="An organisation's record of one of the client's documents (held in casebridge for "
                 "it, shared with the client): asked for by a date, accepted, rejected with a reason, or expired.")
class DocumentRequest:
    id: strawberry.ID
    agency: str = strawberry.field(description="The organisation whose record it is.")
    document: str
    state: DocumentRequestState
    due_on: date | None = strawberry.field(description="Asked for (or to be sent again) by this day.")
    reason: RejectReason | None = strawberry.field(description="Why the last file was rejected.")
    file_id: strawberry.ID | None = strawberry.field(description="The file last accepted or rejected (null where "
                                                     "you may not see it).")
    accepted_on: date | None
    issued_on: date | None = strawberry.field(description="The accepted document's own date, where the reviewer "
                                              "gave it: its validity runs from it (else from acceptedOn).")
    valid_until: date | None = strawberry.field(description="An accepted copy holds until this day (null: it does "
                                                "not expire, or none was accepted).")
    since: datetime = strawberry.field(description="When it entered its present state.")
    days_in_state: float = strawberry.field(description="How long it has been in its present state, in days.")
    history: list[DocumentStep] = strawberry.field(description="Every step, oldest first.")


@strawberry.type(description="A file awaiting your organisation's review, and by when.")
class DocumentReview:
    client_id: strawberry.ID
    file: DocumentFile
    due_at: datetime = strawberry.field(description="When the review is due: the city's review days after it "
                                        "became your organisation's to review - sent, or (for a file not addressed "
                                        "to it) asked for, or your organisation let see it by the client's consent, "
                                        "whichever came last.")
    request_state: DocumentRequestState | None = strawberry.field(description="Your organisation's record of that "
                                                                  "document, if it has one (EXPIRED: accepted, but "
                                                                  "its validity ran out - waiting again).")
    request_due_on: date | None


def valid_until(record: DocumentRecord, kind: DocumentKind | None) -> date | None:
    """The last day an accepted copy holds (None: it does not expire, or it is not accepted)."""
    if record.state != ACCEPTED or kind is None:
        return None
    return last_valid_day(record.valid_from, kind.valid_days)


def request_state(record: DocumentRecord, kind: DocumentKind | None, today: date) -> DocumentRequestState:
    """The record's state now: an accepted copy whose validity ran out is EXPIRED (needed again)."""
    until = valid_until(record, kind)
    if until is not None and until < today:
        return DocumentRequestState.EXPIRED
    return DocumentRequestState(record.state)


def request_view(record: DocumentRecord, kind: DocumentKind | None, now: datetime | None = None) -> DocumentRequest:
    """The public face of an organisation's record of one document."""
    now = now or datetime.now(UTC)
    state = request_state(record, kind, now.date())
    steps = list(record.history)
    history = []
    for i, s in enumerate(steps):
        end = steps[i + 1].at if i + 1 < len(steps) else now
        file = s.file_id or s.received
        history.append(DocumentStep(state=DocumentRequestState(s.state), at=s.at, days=_days(end - s.at),
                                    file_id=strawberry.ID(file) if file else None,
                                    reason=RejectReason(s.reason) if s.reason else None))
    since = steps[-1].at if steps else record.updated_at
    until = valid_until(record, kind)
    if state is DocumentRequestState.EXPIRED and until is not None:  # expired the day after its last valid day
        since = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
        history.append(DocumentStep(state=state, at=since, days=_days(now - since), file_id=None, reason=None))
    return DocumentRequest(
        id=strawberry.ID(record.id), agency=record.holder, document=record.document, state=state,
        due_on=record.due_on, reason=RejectReason(record.reason) if record.reason else None,
        file_id=strawberry.ID(record.file_id) if record.file_id else None, accepted_on=record.accepted_on,
        issued_on=record.issued_on, valid_until=until, since=since, days_in_state=_days(now - since), history=history)


def file_view(f: SentFile, *, awaiting_review: bool) -> DocumentFile:
    """The public face of one file sent."""
    return DocumentFile(id=strawberry.ID(f.id), agency=f.holder, document=f.document, media_type=f.media_type,
                        size=f.size, scan=ScanResult(f.scan.upper().replace("-", "_")),
                        sent_by=None if f.by_client else f.sent_by, sent_by_client=f.by_client,
                        sent_at=f.sent_at, retain_until=f.retain_until, purged=f.purged,
                        awaiting_review=awaiting_review, sent=f)


def review_view(item: ReviewItem) -> DocumentReview:
    """The public face of one file on the review list."""
    return DocumentReview(client_id=strawberry.ID(item.file.client_id), file=file_view(item.file, awaiting_review=True),
                          due_at=item.due_at,
                          request_state=DocumentRequestState(item.record_state) if item.record_state else None,
                          request_due_on=item.record_due_on)


def _days(span: timedelta) -> float:
    return round(max(span.total_seconds(), 0.0) / 86_400, 2)
