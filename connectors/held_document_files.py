"""The files of the documents casebridge holds (connectors/held_documents.py holds their records and shows them):
a file's row and the organisations it is meant for, recorded once its bytes are in the blob store; the lock on a
digest that keeps a file's row and its bytes together, and the removal of bytes no kept file refers to; the upload
attempts counted against the daily limits; and the retention run that removes the content of files past their
period. Each in the caller's transaction, or in transactions of its own where it says so.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import case, delete, false, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from connectors.held_documents import SentFile, sent_file
from store.held_tables import DocumentAddressee as AddresseeRow
from store.held_tables import DocumentAttempt as AttemptRow
from store.held_tables import DocumentFile as FileRow

ATTEMPTS_KEPT = timedelta(days=1)  # an upload attempt counts against the daily limits this long, then is removed
_ATTEMPTS_SWEPT = 500  # old attempt rows removed per attempt at most (a backlog goes over the next ones)


class Blobs(Protocol):
    """The blob store (checklists.blobs.BlobStore), of which removals need only `delete` - which may block, so it
    is called in a worker thread."""

    def delete(self, sha256: str) -> None:
        ...


async def add_file(session: AsyncSession, *, client_id: str, holder: str, document: str, sha256: str, size: int,
                   media_type: str, scan: str, sent_by: str, now: datetime, retain_until: datetime,
                   addressed_to: Iterable[str] = ()) -> SentFile:
    """Record one file's metadata in the caller's transaction (its bytes are already in the blob store), and the
    organisations it is meant for."""
    row = FileRow(id=str(uuid.uuid4()), client_id=client_id, holder=holder, document=document, sha256=sha256,
                  size=size, media_type=media_type, scan=scan, sent_by=sent_by, sent_at=now,
                  retain_until=retain_until, purged_at=None)
    session.add(row)
    await session.flush()
    meant = sorted(set(addressed_to))
    session.add_all(AddresseeRow(file_id=row.id, organization=org, addressed_at=now) for org in meant)
    await session.flush()
    return dataclasses.replace(sent_file(row), addressed_to=tuple(meant))


async def addressed_to(session: AsyncSession, file_id: str, organization: str) -> bool:
    """Whether a file was addressed to `organization` (by default, or by its sender's choice)."""
    found = await session.execute(select(AddresseeRow.file_id).where(
        AddresseeRow.file_id == file_id, AddresseeRow.organization == organization).limit(1))
    return found.first() is not None


async def file_row(session: AsyncSession, file_id: str) -> FileRow | None:
    """One file's row by id (its client and holder, for the gate to decide on; its digest, for the blob)."""
    return await session.get(FileRow, file_id)


async def file_holders(session: AsyncSession, file_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The (client, holder) of each file, by id (for the gate to decide which of them a caller may see)."""
    ids = sorted(set(file_ids))
    if not ids:
        return {}
    rows = await session.execute(select(FileRow.id, FileRow.client_id, FileRow.holder).where(FileRow.id.in_(ids)))
    return {fid: (cid, holder) for fid, cid, holder in rows.all()}


async def digest_in_use(session: AsyncSession, sha256: str) -> bool:
    """Whether a file whose bytes are still kept refers to `sha256`."""
    found = await session.execute(select(FileRow.id).where(FileRow.sha256 == sha256, FileRow.purged_at.is_(None))
                                  .limit(1))
    return found.first() is not None


async def hold_digest(session: AsyncSession, sha256: str) -> None:
    """Take, until the caller's transaction ends, the lock that puts in turn what is done with the bytes kept
    under `sha256`: an upload recording them (which, holding it, makes sure they are in the blob store before its
    record commits) and a removal of them (which, holding it, checks that no kept file refers to them, then
    removes them). So neither happens inside the other's check-then-act: a record never commits between a
    removal's check and its delete. PostgreSQL: an advisory lock on the digest; SQLite: the database's write lock
    (its writers take turns), taken now by a write that changes nothing - while it is held no upload commits."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                              {"key": f"casebridge-blob:{sha256}"})
    else:
        await session.execute(update(FileRow).where(false()).values(sha256=FileRow.sha256)
                              .execution_options(synchronize_session=False))


async def remove_unused_blob(sessions: async_sessionmaker[Any], sha256: str, blobs: Blobs) -> bool:
    """Remove the bytes kept under `sha256` from `blobs` unless a file whose content is kept refers to them,
    checked and removed in one transaction holding the digest's lock (`hold_digest`); True if removed. An
    upload of the same bytes that put them before the lock was taken finds them gone once it holds the lock, and
    puts them back before its record commits."""
    async with sessions.begin() as session:
        await hold_digest(session, sha256)
        if await digest_in_use(session, sha256):
            return False
        await asyncio.to_thread(blobs.delete, sha256)
        return True


async def begin_attempt(session: AsyncSession, *, sender: str, client_id: str, now: datetime, per_client: int,
                        per_sender: int) -> str | None:
    """Count an upload `sender` begins for `client_id`, in the caller's transaction, unless they reached a limit
    in the last day: None, or which one ("client": files for this client, "sender": files in all). Every attempt
    counts, kept or refused after; one refused for a limit does not (it read nothing, and would keep a phone
    stuck in a loop refused for ever). The count and the insert are one transaction taken in turns per sender
    (an advisory lock on PostgreSQL; SQLite's writers take turns, the delete below making this one a writer
    first), so uploads at once cannot pass a limit together."""
    a = AttemptRow
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                              {"key": f"casebridge-document-attempts:{sender}"})
    since = now - ATTEMPTS_KEPT
    await session.execute(delete(a).where(a.sender == sender, a.at <= since))  # a day's are all a limit needs
    await forget_old_attempts(session, now=now)  # and nobody's are kept longer (a sign-in subject, a client id)
    total, mine = (await session.execute(select(func.count(), func.coalesce(func.sum(case(
        (a.client_id == client_id, 1), else_=0)), 0)).where(a.sender == sender, a.at > since))).one()
    if int(mine) >= per_client:
        return "client"
    if int(total) >= per_sender:
        return "sender"
    session.add(a(sender=sender, client_id=client_id, at=now))
    await session.flush()
    return None


async def forget_old_attempts(session: AsyncSession, *, now: datetime, batch: int = _ATTEMPTS_SWEPT) -> int:
    """Remove attempt rows older than a day, whoever sent them (at most `batch`, oldest first), in the caller's
    transaction: what they name (a sign-in subject, a client id) is kept no longer than the limits need it. On
    PostgreSQL rows another attempt is removing are skipped (never waited for: two senders' transactions would
    otherwise lock the same old rows in two orders)."""
    a = AttemptRow
    old = select(a.id).where(a.at <= now - ATTEMPTS_KEPT).order_by(a.at, a.id).limit(batch)
    if session.get_bind().dialect.name == "postgresql":
        old = old.with_for_update(skip_locked=True)
    ids = list((await session.execute(old)).scalars())
    if ids:
        await session.execute(delete(a).where(a.id.in_(ids)))
    return len(ids)


async def forget_every_old_attempt(sessions: async_sessionmaker[Any], *, now: datetime) -> int:
    """Remove every attempt row older than a day, a batch per transaction (`forget_old_attempts`): for the sweep,
    so that rows naming a sender and a client do not stay for good once uploads stop; how many."""
    removed = 0
    while True:
        async with sessions.begin() as session:
            done = await forget_old_attempts(session, now=now)
        if not done:
            return removed
        removed += done


@dataclass(frozen=True, slots=True)
class Purged:
    """What a retention run removed: files whose content was removed, per client (for the access log)."""

    files: int
    blobs: int
    by_client: dict[str, int]


PURGE_BATCH = 200  # files per retention transaction: never every expired row locked at once


async def purge_expired(sessions: async_sessionmaker[Any], blobs: Blobs, record: Any, *, now: datetime,
                        batch: int = PURGE_BATCH) -> Purged:
    """Remove the content of files past their retention period, `batch` files per transaction: each is marked
    purged (its record stays: what was accepted, when, by whom) and `record(session, files per client)` writes
    the access log in that transaction; once it committed, each of that batch's blobs is deleted unless a file
    still kept shares it, checked under the digest's lock (`remove_unused_blob`: a file of the same bytes sent
    meanwhile keeps them). A run stopped half way leaves whole batches done (and any blob of theirs not yet
    deleted to `casebridge documents sweep`)."""
    files = removed = 0
    by_client: dict[str, int] = defaultdict(int)
    while True:
        async with sessions.begin() as session:
            rows = list((await session.execute(select(FileRow).where(
                FileRow.retain_until < now, FileRow.purged_at.is_(None))
                .order_by(FileRow.client_id, FileRow.id).limit(batch).with_for_update())).scalars())
            if not rows:
                break
            these: dict[str, int] = defaultdict(int)
            for row in rows:
                row.purged_at = now
                these[row.client_id] += 1
            digests = sorted({row.sha256 for row in rows})
            await record(session, dict(these))
        files += len(rows)
        for client_id, n in these.items():
            by_client[client_id] += n
        for sha in digests:
            removed += await remove_unused_blob(sessions, sha, blobs)
    return Purged(files, removed, dict(by_client))


async def kept_digests(sessions: async_sessionmaker[Any]) -> set[str]:
    """The digests of every file whose content is still kept (for the sweep of blobs no record refers to)."""
    async with sessions() as session:
        return set((await session.execute(select(FileRow.sha256).where(FileRow.purged_at.is_(None)))).scalars())
