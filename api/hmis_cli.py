"""`casebridge hmis ...`: import a HUD HMIS CSV export into the housing connector's snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from api.cli_common import err, settings_or_exit, with_store

app = typer.Typer(help="The housing connector's HMIS CSV snapshot.", no_args_is_help=True)


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="An export directory or .zip (Export.csv, Client.csv, ...).")],
    source: Annotated[str | None, typer.Option(help="The snapshot to apply it to (default: the configured "
                                                    "housing source).")] = None,
    max_problems: Annotated[int, typer.Option(help="How many problems to list.")] = 50,
) -> None:
    """Check an export and apply it in one transaction; on any problem nothing changes (exit 1)."""
    from connectors.hmis.importer import import_export

    settings = settings_or_exit()
    target = source or settings.housing.source
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(file: str, done: int, total: int) -> None:
            if file not in tasks:
                tasks[file] = bar.add_task(file, total=max(total, 1))
            bar.update(tasks[file], completed=done, total=max(total, done, 1))

        try:
            report = with_store(settings, lambda sessions: import_export(sessions, path, source=target,
                                                                          progress=progress))
        except SQLAlchemyError as exc:
            err.print(f"[red]the store cannot take the import[/red] ({type(exc).__name__}); is it migrated? "
                      "Run [bold]casebridge migrate[/bold]. Nothing was changed.")
            raise typer.Exit(2) from None
    if not report.ok:
        err.print(f"[red]the export was not imported[/red] ({len(report.problems)} problems); "
                  f"the snapshot '{target}' is unchanged:")
        for problem in report.problems[:max_problems]:
            err.print(f"  {problem}")
        if len(report.problems) > max_problems:
            err.print(f"  ... and {len(report.problems) - max_problems} more")
        raise typer.Exit(1)
    table = Table(title=f"imported export {report.export_id} ({report.csv_version}, {report.directive}) "
                        f"into '{target}', data as of {report.exported_at:%Y-%m-%d %H:%M} UTC")
    table.add_column("file")
    table.add_column("rows written", justify="right")
    table.add_column("soft-deleted rows", justify="right")
    for name, count in report.applied.items():
        table.add_row(name, str(count), str(report.removed.get(name, 0)))
    err.print(table)
