"""`casebridge notify ...`: the reminders' planner and delivery worker, and the outbox at a glance."""

from __future__ import annotations

import asyncio
import signal

import typer
from rich.table import Table

from cli.common import err, settings_or_exit

app = typer.Typer(help="Reminders and updates to clients by text message and email.", no_args_is_help=True)


@app.command("run")
def run_cmd() -> None:
    """Plan reminders and send what is due until stopped (SIGTERM or Ctrl-C). Several may run at once: each
    message is leased to one worker at a time."""
    from api.services import build_services

    settings = settings_or_exit()

    async def go() -> None:
        services = build_services(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        err.print("sending reminders, expiring referrals and calling webhooks; Ctrl-C stops it"
                  if settings.notify.enabled
                  else "notifications are off: expiring referrals and calling webhooks only; Ctrl-C stops it")
        try:
            await services.run_due_work(stop)
        finally:
            await services.aclose()

    asyncio.run(go())


@app.command("status")
def status_cmd() -> None:
    """How many messages are in each status."""
    from cli.common import with_store
    from notify.outbox import STATUSES, count_by_status

    settings = settings_or_exit()

    async def count(sessions: object) -> dict[str, int]:
        async with sessions() as session:  # type: ignore[operator]
            return await count_by_status(session)

    counts = with_store(settings, count)
    table = Table("status", "messages")
    for status in STATUSES:
        table.add_row(status, str(counts.get(status, 0)))
    err.print(table)
