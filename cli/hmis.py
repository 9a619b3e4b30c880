"""`casebridge hmis ...`: import a HUD HMIS CSV export into the housing connector's snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from cli.common import err, settings_or_exit, with_store

app = typer.Typer(help="The housing connector's HMIS CSV snapshot.", no_args_is_help=True)


@app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="An export directory or .zip (Export.csv, Client.csv, ...).")],
    source: Annotated[str | None, typer.Option(help="The snapshot to apply it to (default: the configured "
                                                    "housing source).")] = None,
    max_problems: Annotated[int, typer.Option(help="How many problems to list.")] = 50,
    strict: Annotated[bool | None, typer.Option(
        "--strict/--lenient", help="Strict: any row that cannot be used refuses the whole export. Lenient (the "
        "default, CASEBRIDGE_HOUSING__IMPORT_STRICT): such rows are quarantined and the rest imported.")] = None,
    max_share: Annotated[float | None, typer.Option(
        min=0, max=1, help="Refuse the export when a file has more than this share of its rows quarantined "
        "(default CASEBRIDGE_HOUSING__IMPORT_MAX_QUARANTINED_SHARE, 0.05).")] = None,
) -> None:
    """Check an export and apply it in one transaction: rows that cannot be used are quarantined (listed by
    file, line and column, never their values) and the rest applied; an export that cannot be applied changes
    nothing (exit 1)."""
    from connectors.hmis.importer import import_export
    from connectors.hmis.reader import rows_left_out

    settings = settings_or_exit()
    target = source or settings.housing.source
    strict = settings.housing.import_strict if strict is None else strict
    share = settings.housing.import_max_quarantined_share if max_share is None else max_share
    with Progress(TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(file: str, done: int, total: int) -> None:
            if file not in tasks:
                tasks[file] = bar.add_task(file, total=max(total, 1))
            bar.update(tasks[file], completed=done, total=max(total, done, 1))

        try:
            report = with_store(settings, lambda sessions: import_export(
                sessions, path, source=target, progress=progress, strict=strict, max_share=share))
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
    kind = {"full": "full refresh", "delta": "delta refresh", "period": "export of a period (directive 3)"}
    table = Table(title=f"imported export {report.export_id} ({report.csv_version}, "
                        f"{kind.get(report.directive or '', report.directive)}) into '{target}', data as of "
                        f"{report.exported_at:%Y-%m-%d %H:%M} UTC")
    table.add_column("file")
    table.add_column("rows written", justify="right")
    table.add_column("soft-deleted rows", justify="right")
    table.add_column("quarantined rows", justify="right")
    table.add_column("previous version kept", justify="right")
    for name, count in report.applied.items():
        quarantined = rows_left_out(report.quarantined, name)
        table.add_row(name, str(count), str(report.removed.get(name, 0)), str(quarantined),
                      str(report.kept.get(name, 0)))
    err.print(table)
    if report.absent:
        err.print(f"not in this export (nothing of theirs changed): {', '.join(report.absent)}")
    if report.quarantined:
        err.print(f"[yellow]{report.quarantined_rows} rows quarantined[/yellow] (left out; where a row's id could "
                  "be read, the snapshot keeps its previous version):")
        for problem in report.quarantined[:max_problems]:
            err.print(f"  {problem}")
        if len(report.quarantined) > max_problems:
            err.print(f"  ... and {len(report.quarantined) - max_problems} more")
