"""`casebridge directory ...`: the city's service directory (Open Referral HSDS 3.x)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import err, record_operator, settings_or_exit, with_engine
from core.vocabulary import OperatorAction

app = typer.Typer(help="The service directory referrals go to (Open Referral HSDS).", no_args_is_help=True)
SHOWN_PROBLEMS = 50


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="An HSDS data package (its folder, or its datapackage.json) or a "
                                              "JSON file of services.")],
    operator: Annotated[str | None, typer.Option(help="Who imports (goes to the access log).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Read and report; change nothing.")] = False,
) -> None:
    """Replace the directory with the one at PATH. Rows that cannot be used are left out and named (file, row,
    field); exit 0 when nothing was wrong, 1 when something was (the rest imported), 2 when nothing could be."""
    from connectors.hsds.directory import replace
    from connectors.hsds.reader import Unreadable, read
    from store.engine import make_sessionmaker

    settings = settings_or_exit()
    try:
        found = read(path)
    except Unreadable as exc:
        err.print(f"[red]nothing imported[/red]: {exc}")
        raise typer.Exit(2) from None
    for problem in found.problems[:SHOWN_PROBLEMS]:
        err.print(str(problem), highlight=False, markup=False)
    if len(found.problems) > SHOWN_PROBLEMS:
        err.print(f"... and {len(found.problems) - SHOWN_PROBLEMS} more")
    if not found.services:
        err.print("[red]nothing imported[/red]: no service could be read")
        raise typer.Exit(2)
    summary = (f"{len(found.organizations)} organizations, {len(found.services)} services, "
               f"{len(found.locations)} locations; {found.dropped} rows left out")
    if dry_run:
        err.print(f"would import {summary}")
    else:
        async def go(engine: Any) -> None:
            async with make_sessionmaker(engine).begin() as session:  # the directory and its record together
                await replace(session, found, now=datetime.now(UTC))
                await record_operator(engine, settings, OperatorAction.DIRECTORY_IMPORT.value, operator,
                                      [(None, summary)], session=session)

        with_engine(settings, go)
        err.print(f"imported {summary}")
    if found.problems:
        raise typer.Exit(1)
