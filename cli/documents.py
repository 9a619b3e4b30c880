"""`casebridge documents ...`: the files sent against checklists - their retention, and blobs no record keeps."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import err, record_operator, settings_or_exit, with_engine
from core.vocabulary import OperatorAction

if TYPE_CHECKING:
    from api.settings import Settings
    from checklists.blobs import BlobStore

app = typer.Typer(help="Files sent against checklists: retention, and the blob store.", no_args_is_help=True)
ORPHAN_AGE_SECONDS = 3600  # a blob this old that no record refers to is left over from a failed upload


def _blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name (the gateway's own hook), or a clear message and exit code 2."""
    from checklists.files import make_blob_store
    from core.errors import ConfigurationError

    try:
        return make_blob_store(settings.documents)
    except ConfigurationError as exc:
        err.print(f"[red]{exc.message}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command("purge")
def purge_cmd(
    operator: Annotated[str | None, typer.Option(help="Who runs retention (goes to the access log).")] = None,
) -> None:
    """Remove the content of files past their retention period (their records stay), a batch of files per
    transaction, and write one access-log event per client and batch whose files were purged."""
    from connectors.held_document_files import purge_expired
    from store.engine import make_sessionmaker

    settings = settings_or_exit()
    blobs = _blob_store(settings)

    async def go(engine: Any) -> tuple[int, int]:
        async def record(session: Any, by_client: dict[str, int]) -> None:
            await record_operator(engine, settings, OperatorAction.DOCUMENT_RETENTION.value, operator,
                                  [(cid, f"{n} file(s) past retention purged") for cid, n in sorted(by_client.items())],
                                  session=session)

        done = await purge_expired(make_sessionmaker(engine), blobs, record, now=datetime.now(UTC))
        return done.files, done.blobs

    files, removed = with_engine(settings, go)
    err.print(f"{files} file(s) past their retention period purged; {removed} blob(s) removed")


@app.command("sweep")
def sweep_cmd() -> None:
    """Remove blobs no record refers to (left by an upload that failed while the store was down), half-written
    blobs, and files a killed process left in the incoming directory, once they are an hour old, and upload
    attempts older than a day (they name a sender and a client; uploads remove them too, but none may come); and
    name records whose content is missing."""
    from checklists.files import remove_stale_incoming
    from cli.common import with_store
    from connectors.held_document_files import forget_every_old_attempt, kept_digests, remove_unused_blob

    settings = settings_or_exit()
    blobs = _blob_store(settings)

    async def go(sessions: Any) -> tuple[set[str], dict[str, float], int, int]:
        attempts = await forget_every_old_attempt(sessions, now=datetime.now(UTC))
        kept = await kept_digests(sessions)
        # listed after `kept`: a blob an upload put, or used again, since then is young here and left alone
        present: dict[str, float] = await asyncio.to_thread(blobs.digests)
        now, removed = time.time(), 0
        for sha in sorted(present.keys() - kept):
            if now - present[sha] > ORPHAN_AGE_SECONDS:
                # `kept` is old by now: whether a file keeps the blob is asked again, under the digest's lock,
                # as it is removed (an upload of the same bytes since then puts them back before it commits)
                removed += await remove_unused_blob(sessions, sha, blobs)
        return kept, present, removed, attempts

    kept, present, removed, attempts = with_store(settings, go)
    leftovers = (blobs.remove_leftovers(ORPHAN_AGE_SECONDS)
                 + remove_stale_incoming(settings.documents.incoming, ORPHAN_AGE_SECONDS))
    missing = len(kept - present.keys())
    err.print(f"{removed} blob(s) no record refers to removed; {leftovers} half-written or abandoned file(s) "
              f"removed; {attempts} upload attempt(s) older than a day removed; {missing} record(s) whose content "
              "is missing")
    if missing:
        raise typer.Exit(1)
