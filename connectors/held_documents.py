"""Documents casebridge holds (category documents), beside the agencies' own document records: files sent against
a checklist (by a caseworker, held for their organisation; by the client, held in the client's own holding), and
each organisation's record of a client's documents - asked for by a date, received (a file for it arrived),
accepted (from which file, when, valid from which day), rejected (why) - with its history. One more held-here
source behind the gate (connectors/held.py says how those work).

What a caller is shown of a record never names a file they may not see: its id is withheld (the gate decided the
section the file is in, not the record's). A client's file arriving for a record an organisation keeps moves
that record to RECEIVED only where the record's holder may review that file (its staff may see it - the client's
consent - decided in Cedar: `Reviewing`), and only as seen by a caller who may see the file too (derived when read,
never written into the organisation's record before its staff may see it: the file is the client's until their
consent says otherwise); once the organisation decides on it, the arrival is written with the decision. Another
organisation's own file moves it on the same terms, never because the caller happens to see that file. That
derived arrival is shown only to the record's holder's staff and to the client (`Reviewing.shows_arrivals`):
whether the holder may review another's file is the client's consent to the holder, which a third organisation
that sees both may not read - it is shown the record as stored.

Recording a file, keeping its row and its bytes together, the upload limits and the retention run are
connectors/held_document_files.py's.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held import Group
from core.errors import AgencyUnavailable
from core.principal import CLIENT_HOLDER, RequestContext
from core.vocabulary import Category
from store.held_tables import DocumentAddressee as AddresseeRow
from store.held_tables import DocumentEvent as EventRow
from store.held_tables import DocumentFile as FileRow
from store.held_tables import DocumentRecord as RecordRow

REQUESTED, RECEIVED, ACCEPTED, REJECTED = "REQUESTED", "RECEIVED", "ACCEPTED", "REJECTED"
EXPIRED = "EXPIRED"  # never stored: an ACCEPTED record whose copy no longer holds, as shown
DECIDED = (ACCEPTED, REJECTED)  # the steps that decide on a file
WAITING = (REQUESTED, REJECTED)  # a record waiting for a file: one arriving moves it to RECEIVED (so does an
# ACCEPTED one whose validity ran out: `waiting_since`)


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
    # the organisations a client's upload is meant for (DocumentAddressee), and of those and the ones whose record
    # of it is waiting, the ones whose staff may not review it yet (no consent): set only by HeldDocuments.fetch
    addressed_to: tuple[str, ...] = ()
    not_shared_with: tuple[str, ...] = ()

    @property
    def by_client(self) -> bool:
        """Sent by the client themself (held in their own holding)."""
        return self.holder == CLIENT_HOLDER


@dataclass(frozen=True, slots=True)
class Step:
    """One step in a document record's history: `file_id` the file accepted or rejected, `received` the file that
    arrived (a RECEIVED step); either None where the caller may not see it."""

    state: str
    at: datetime
    by: str
    file_id: str | None
    reason: str | None
    received: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """An organisation's record of one kind of document for one client, with its history (oldest first)."""

    id: str
    client_id: str
    holder: str
    document: str
    state: str  # REQUESTED | RECEIVED | ACCEPTED | REJECTED
    due_on: date | None
    reason: str | None
    file_id: str | None
    accepted_on: date | None
    updated_at: datetime
    history: tuple[Step, ...]
    issued_on: date | None = None  # the accepted document's own date, where the reviewer gave it

    @property
    def valid_from(self) -> date | None:
        """The day an accepted copy's validity runs from: the document's own date if given, else its review's."""
        return _valid_from(self)


def _valid_from(record: DocumentRecord | RecordRow) -> date | None:
    return record.issued_on or record.accepted_on


def last_valid_day(valid_from: date | None, valid_days: int | None) -> date | None:
    """The last day a copy valid from `valid_from` for `valid_days` holds, or None: no start, or it does not
    expire. Every validity here (records held here, agencies' copies, derived ones) is counted by this."""
    if valid_from is None or valid_days is None:
        return None
    return valid_from + timedelta(days=valid_days)


def expired_since(state: str, valid_from: date | None, valid_days: int | None) -> datetime | None:
    """When an ACCEPTED copy stopped holding (the day after its last valid day), or None: not accepted, or it does
    not expire. From then on it is waiting for a file like a REQUESTED one, everywhere (`waiting_since`)."""
    last = last_valid_day(valid_from, valid_days) if state == ACCEPTED else None
    return None if last is None else datetime.combine(last + timedelta(days=1), time.min, UTC)


def waiting_since(record: DocumentRecord | RecordRow, valid_days: int | None, now: datetime) -> datetime | None:
    """Since when `record` waits for a file (asked for, rejected, or accepted and run out by `now`), or None."""
    if record.state in WAITING:
        return record.updated_at
    ran_out = expired_since(record.state, _valid_from(record), valid_days)
    return ran_out if ran_out is not None and ran_out <= now else None


def waiting_clause(valid_days: Mapping[str, int | None], now: datetime) -> ColumnElement[bool]:
    """SQL: a record row waiting for a file at `now`, as `waiting_since` says (per kind's validity: accepted, its
    `last_valid_day` before today)."""
    r, today = RecordRow, now.date()
    ran_out = [and_(r.document == code, func.coalesce(r.issued_on, r.accepted_on) < today - timedelta(days=days))
               for code, days in sorted(valid_days.items()) if days is not None]
    if not ran_out:
        return r.state.in_(WAITING)
    return or_(r.state.in_(WAITING), and_(r.state == ACCEPTED, or_(*ran_out)))


Ask = tuple[str, str, str, str]  # (client id, an organisation, the holder of a file of that client, its kind)


class Reviewing(Protocol):
    """What the records need to know of the checklists and of the policies (gate/document_reviews.py answers)."""

    def valid_days(self, document: str) -> int | None:
        """How long an accepted copy of a document kind holds (None: it does not expire, or unknown kind)."""
        ...

    async def may_review(self, asks: Sequence[Ask]) -> set[Ask]:
        """Of (client, organisation, file holder, document kind), those where the organisation's staff may review
        that holder's files of that kind of the client sent for it (see them, and they are meant for it) - decided
        in Cedar."""
        ...

    async def shows_arrivals(self, viewer: RequestContext, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of (client, record holder), those whose records `viewer` is shown moved by another holder's file: the
        holder's own staff and the client - decided in Cedar."""
        ...


class HeldDocuments:
    """Files and document records in the store (category documents), each held for its holder and shared with
    the client, whose documents they are."""

    name = "casebridge-documents"
    categories = frozenset({Category.DOCUMENTS})
    own_part_always = False  # the documents section is mostly the agencies': no empty part beside them

    def __init__(self, sessions: async_sessionmaker[Any]) -> None:
        self._sessions = sessions
        self._reviewing: Reviewing | None = None

    def review_by(self, reviewing: Reviewing) -> None:
        """Who may review what (the document desk, built after this source): until then a file moves only its
        own holder's record (written when it is sent), never another's."""
        self._reviewing = reviewing

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

    async def fetch(self, groups: Sequence[Group], *, viewer: RequestContext | None = None,
                    ) -> dict[Group, list[SentFile | DocumentRecord]]:
        """The files and document records of the permitted groups; the records as the caller may see them (a file
        of a group not permitted is never named; one of a permitted group that arrived for a record waiting for
        it shows the record RECEIVED)."""
        if not groups:
            return {}
        keys = [(cid, holder) for cid, _cat, holder, _shared in groups]
        f, r, e, a = FileRow, RecordRow, EventRow, AddresseeRow
        try:
            async with self._sessions() as session:
                rows = list((await session.execute(select(f).where(tuple_(f.client_id, f.holder).in_(keys))))
                            .scalars())
                addressed: dict[str, list[str]] = defaultdict(list)
                if rows:
                    for fid, org in (await session.execute(select(a.file_id, a.organization).where(
                            a.file_id.in_([x.id for x in rows])).order_by(a.organization))).all():
                        addressed[fid].append(org)
                records = [document_record(x, []) for x in (await session.execute(
                    select(r).where(tuple_(r.client_id, r.holder).in_(keys)))).scalars()]
                steps: dict[str, list[Step]] = defaultdict(list)
                if records:
                    for ev in (await session.execute(select(e).where(e.record_id.in_([x.id for x in records]))
                                                     .order_by(e.at, e.id))).scalars():
                        steps[ev.record_id].append(_step(ev))
        except SQLAlchemyError as exc:
            raise AgencyUnavailable("documents could not be read", connector=self.name) from exc
        records = [dataclasses.replace(x, history=tuple(steps.get(x.id, []))) for x in records]
        files = [dataclasses.replace(sent_file(x), addressed_to=tuple(addressed.get(x.id, []))) for x in rows]
        return await self._shown(files, records, viewer)

    async def _shown(self, files: list[SentFile], records: list[DocumentRecord], viewer: RequestContext | None,
                     ) -> dict[Group, list[SentFile | DocumentRecord]]:
        """The files and records of the permitted groups as `viewer` sees them: a record waiting for a file is
        RECEIVED where one of these files came since - its holder's own, or (shown to the holder's staff and the
        client only) another's its holder may review; a client's file says which of the organisations it is meant
        for may not review it yet - worked out only for the client themself as viewer, the one its answer may go
        to (resolvers/document_types.py: decided in Cedar there; here only what is not worth asking is skipped:
        a question per addressee of every file, on every read of the documents)."""
        now = datetime.now(UTC)
        reviewing = self._reviewing
        waiting = {rec.id: since for rec in records if (since := waiting_since(
            rec, reviewing.valid_days(rec.document) if reviewing else None, now)) is not None}
        seen: dict[tuple[str, str], list[SentFile]] = defaultdict(list)
        for x in files:
            seen[(x.client_id, x.document)].append(x)
        waiting_for: dict[tuple[str, str], set[str]] = defaultdict(set)  # whose record of it waits
        moved = [rec for rec in records if rec.id in waiting and any(
            x.holder != rec.holder for x in seen[(rec.client_id, rec.document)])]
        # asked (of the policies) only where the answer may be shown: no one else's view depends on it
        shows = (await reviewing.shows_arrivals(viewer, sorted({(r.client_id, r.holder) for r in moved}))
                 if moved and viewer is not None and reviewing is not None else set())
        asks: set[Ask] = set()
        for rec in records:
            if rec.id in waiting:
                waiting_for[(rec.client_id, rec.document)].add(rec.holder)
        for rec in moved:
            if (rec.client_id, rec.holder) in shows:
                asks.update((rec.client_id, rec.holder, x.holder, rec.document)
                            for x in seen[(rec.client_id, rec.document)] if x.holder != rec.holder)
        me = viewer.principal.self_client if viewer is not None else None
        meant = {x.id: {*x.addressed_to, *waiting_for[(x.client_id, x.document)]} for x in files
                 if x.by_client and x.client_id == me}
        asks.update((x.client_id, org, x.holder, x.document) for x in files for org in meant.get(x.id, ()))
        allowed = await reviewing.may_review(sorted(asks)) if asks and reviewing is not None else set()
        out: dict[Group, list[SentFile | DocumentRecord]] = defaultdict(list)
        for x in files:
            if x.id in meant:
                x = dataclasses.replace(x, not_shared_with=tuple(sorted(
                    o for o in meant[x.id] if (x.client_id, o, x.holder, x.document) not in allowed)))
            out[(x.client_id, Category.DOCUMENTS, x.holder, True)].append(x)
        visible = {x.id for x in files}
        for rec in records:
            mine = [x for x in seen[(rec.client_id, rec.document)] if x.holder == rec.holder or (
                (rec.client_id, rec.holder) in shows and (rec.client_id, rec.holder, x.holder, x.document) in allowed)]
            record = arrived(rec, mine, since=waiting.get(rec.id))
            out[(rec.client_id, Category.DOCUMENTS, rec.holder, True)].append(withhold_files(record, visible))
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
                          row.file_id, row.accepted_on, row.updated_at, tuple(steps), row.issued_on)


def arrived(record: DocumentRecord, files: Iterable[SentFile], *, since: datetime | None) -> DocumentRecord:
    """`record` as a caller who may see `files` (of its client and document, each one its holder may review)
    sees it: waiting for a file since `since` (asked for, rejected, or accepted and run out: `waiting_since`)
    while one of them arrived after that and after its last step, it is RECEIVED since the first such."""
    if since is None:
        return record
    last = max(since, record.history[-1].at) if record.history else since
    came = [f for f in files if f.sent_at > last and not f.purged]
    if not came:
        return record
    first = min(came, key=lambda f: (f.sent_at, f.id))
    step = Step(RECEIVED, first.sent_at, sender(first), None, None, received=first.id)
    return dataclasses.replace(record, state=RECEIVED, history=(*record.history, step))


def withhold_files(record: DocumentRecord, visible: set[str]) -> DocumentRecord:
    """`record` without the ids of files not in `visible` (those the caller may not see)."""
    def shown(file_id: str | None) -> str | None:
        return file_id if file_id in visible else None

    return dataclasses.replace(record, file_id=shown(record.file_id), history=tuple(
        dataclasses.replace(s, file_id=shown(s.file_id), received=shown(s.received)) for s in record.history))


def sender(f: SentFile | FileRow) -> str:
    """Who sent a file, as a record's step names it: the staff member, or the client (never their sign-in)."""
    return CLIENT_HOLDER if f.holder == CLIENT_HOLDER else f.sent_by


def _step(e: EventRow) -> Step:
    if e.state == RECEIVED:
        return Step(e.state, e.at, e.by, None, e.reason, received=e.file_id)
    return Step(e.state, e.at, e.by, e.file_id, e.reason)


async def waiting_holders(session: AsyncSession, *, client_id: str, document: str,
                          valid_days: int | None, now: datetime) -> list[str]:
    """The organisations whose record of `document` for the client waits for a file now."""
    r = RecordRow
    found = await session.execute(select(r.holder).where(
        r.client_id == client_id, r.document == document, waiting_clause({document: valid_days}, now)))
    return sorted(found.scalars())


async def record_step(session: AsyncSession, *, client_id: str, holder: str, document: str, state: str, by: str,
                      now: datetime, due_on: date | None = None, reason: str | None = None,
                      file_id: str | None = None, issued_on: date | None = None) -> DocumentRecord:
    """Move the organisation's record of one document to `state` (making the record if it has none), and add the
    step to its history, in the caller's transaction."""
    row = await _record_row(session, client_id=client_id, holder=holder, document=document, state=state, by=by,
                            now=now)
    row.state, row.due_on, row.reason, row.updated_at = state, due_on, reason, now
    if file_id is not None:
        row.file_id = file_id
    row.accepted_on = now.date() if state == ACCEPTED else None
    row.issued_on = issued_on if state == ACCEPTED else None
    await session.flush()
    session.add(EventRow(record_id=row.id, state=state, file_id=file_id, reason=reason, by=by, at=now))
    await session.flush()
    steps = (await session.execute(select(EventRow).where(EventRow.record_id == row.id)
                                   .order_by(EventRow.at, EventRow.id))).scalars()
    return document_record(row, [_step(e) for e in steps])


async def receive_step(session: AsyncSession, *, client_id: str, holder: str, document: str, file_id: str, by: str,
                       at: datetime, valid_days: int | None) -> bool:
    """A file for the organisation's record of a document arrived at `at`: a record waiting for one (asked for,
    rejected, or accepted with its validity run out) whose last step is older moves to RECEIVED (its due date and
    last reason stay), in the caller's transaction. No record: nothing (a file arriving asks for nothing)."""
    row = (await session.execute(select(RecordRow).where(
        RecordRow.client_id == client_id, RecordRow.holder == holder, RecordRow.document == document)
        .with_for_update())).scalar_one_or_none()
    if row is None or row.updated_at >= at:
        return False
    since = waiting_since(row, valid_days, at)  # asked for, rejected, or accepted and run out by then
    if since is None or since > at:
        return False
    row.state, row.updated_at, row.accepted_on, row.issued_on = RECEIVED, at, None, None
    session.add(EventRow(record_id=row.id, state=RECEIVED, file_id=file_id, reason=None, by=by, at=at))
    await session.flush()
    return True


async def _record_row(session: AsyncSession, *, client_id: str, holder: str, document: str, state: str, by: str,
                      now: datetime) -> RecordRow:
    """The organisation's record of one document, locked; made if it has none. Two first steps at once (two
    caseworkers asking, a review beside a request) both go through: the insert that loses the race does nothing
    and both then take the one row (PostgreSQL's insert waits for the other's commit; SQLite's writers take
    turns, its driver opening the transaction at the first write)."""
    where = (RecordRow.client_id == client_id, RecordRow.holder == holder, RecordRow.document == document)
    found = (await session.execute(select(RecordRow).where(*where).with_for_update())).scalar_one_or_none()
    if found is not None:
        return found
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(RecordRow).values(
        id=str(uuid.uuid4()), client_id=client_id, holder=holder, document=document, state=state, recorded_by=by,
        created_at=now, updated_at=now).on_conflict_do_nothing(index_elements=["client_id", "holder", "document"]))
    return (await session.execute(select(RecordRow).where(*where).with_for_update()
                                  .execution_options(populate_existing=True))).scalar_one()
