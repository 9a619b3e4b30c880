"""What every `casebridge` subcommand shares: the error console and settings loading."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from api.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

err = Console(stderr=True)


def settings_or_exit() -> Settings:
    """Settings from the environment, or a clear message and exit code 2."""
    try:
        return Settings()
    except ValueError as exc:
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None


T = TypeVar("T")


def with_store(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(sessions)` on the configured store, then close it."""
    from store.engine import make_sessionmaker

    return with_engine(settings, lambda engine: fn(make_sessionmaker(engine)))


def with_engine(settings: Settings, fn: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `fn(engine)` on the configured store, then close it."""
    from store.engine import make_engine

    async def go() -> T:
        engine = make_engine(settings.database_url)
        try:
            return await fn(engine)
        finally:
            await engine.dispose()

    return asyncio.run(go())


@contextlib.asynccontextmanager
async def agencies(settings: Settings, engine: AsyncEngine,
                   ) -> AsyncIterator[tuple[async_sessionmaker[Any], list[Any]]]:
    """Sessions on the store and the enabled agency connectors (the housing snapshot read through the request
    path's reader), every one closed after."""
    from api.services import build_connectors
    from store.engine import make_sessionmaker
    from store.reads import open_reads

    reads = open_reads(engine)
    sources = build_connectors(settings, reads)
    try:
        yield make_sessionmaker(engine), sources
    finally:
        for source in sources:
            await source.aclose()
        await reads.aclose()


async def record_operator(engine: AsyncEngine, settings: Settings, action: str, operator: str | None,
                          events: list[tuple[str | None, str]], *, session: Any = None) -> None:
    """Write the access-log events of an operator's command (it runs beside the gateway, with no token): one per
    (client id or None, detail); in `session`'s transaction where given, so that the change and its record
    commit together or not at all."""
    import getpass
    import uuid

    from api.services import make_signer
    from audit.access_records import AccessRecord
    from audit.chain_writer import ChainRecorder

    request_id = f"cli-{uuid.uuid4().hex[:16]}"
    records = [AccessRecord(request_id=request_id, subject=operator or getpass.getuser(),
                            organization="casebridge-operations", roles=("operator",), oauth_client="casebridge-cli",
                            purpose=None, operation=None, client_id=client_id, action=action, sections=(),
                            detail=detail, result="performed") for client_id, detail in events]
    recorder = ChainRecorder(engine, signer=make_signer(settings))
    try:
        await recorder.record(records, session=session)
    finally:
        await recorder.aclose()
