"""`casebridge audit ...`: verify the chain, sign checkpoints, export, retain."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import typer

from api.cli_common import err, settings_or_exit
from api.settings import Settings

app = typer.Typer(help="The access log: verify, checkpoint, export, retain.", no_args_is_help=True)
T = TypeVar("T")


def _run(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    from store.engine import make_engine, make_sessionmaker

    async def go() -> T:
        engine = make_engine(settings.database_url)
        try:
            return await fn(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


_settings = settings_or_exit


@app.command("verify")
def verify_cmd(
    since: Annotated[datetime | None, typer.Option(help="Only events recorded at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only events recorded before (ISO 8601).")] = None,
) -> None:
    """Check every link, hash and signed checkpoint; name the first broken link. Exit 1 if broken."""
    from api.services import make_signer
    from audit.verify import verify

    settings = _settings()
    jwks = make_signer(settings).public_jwks()
    report = _run(settings, lambda s: verify(s, jwks=jwks, since=since, until=until))
    if report.ok:
        err.print(f"[green]the access log verifies[/green]: {report.events_checked} events "
                  f"(seq {report.first_seq}..{report.last_seq}), {report.checkpoints_checked} signed checkpoints")
        return
    b = report.first_break
    assert b is not None
    err.print(f"[red]the access log is broken[/red] at seq {b.seq}"
              + (f" (event id {b.event_id})" if b.event_id is not None else "") + f": {b.problem}")
    raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Sign a checkpoint at the current end of the chain."""
    from api.services import make_signer
    from audit.checkpoints import checkpoint_head

    settings = _settings()
    signer = make_signer(settings)

    async def go(sessions: Any) -> dict[str, Any]:
        async with sessions.begin() as session:
            return await checkpoint_head(session, signer, reason="manual")

    cp = _run(settings, go)
    err.print(f"checkpoint signed at seq {cp['seq']} ({cp['count']} events)")


@app.command("public-key")
def public_key_cmd() -> None:
    """Print the JWKS an auditor uses to check checkpoints and exports."""
    from api.services import make_signer

    sys.stdout.write(json.dumps(make_signer(_settings()).public_jwks(), indent=2) + "\n")


__all__ = ["app"]


