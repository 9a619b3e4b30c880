"""`casebridge identity ...`: link person records in batch."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.common import agencies, err

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine


app = typer.Typer(help="Identity resolution: which agency records are the same person.", no_args_is_help=True)


@app.command("link-csv")
def link_csv_cmd(
    input: Annotated[Path, typer.Argument(help="CSV with a local_id and any of: source, first_name, middle_name, "
                                               "last_name, dob, sex, ssn, cin, student_id, other_id, address, zip, "
                                               "phone (common other headers are recognised).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write source,local_id,client_id,match_grade.")],
    column: Annotated[list[str] | None, typer.Option(
        "--column", help="ours=theirs: read our column from the file's column of that name (repeatable), "
                         "e.g. --column other_id=soc_sec_id --column zip=postcode.")] = None,
    max_problems: Annotated[int, typer.Option(help="How many problems to list.")] = 50,
) -> None:
    """Link the records of a CSV file: one output row per input record, one client_id per person."""
    from identity.batch import link_csv, write_rows

    try:
        text = input.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"[red]cannot read {input}[/red] ({type(exc).__name__})")
        raise typer.Exit(2) from None
    columns: dict[str, str] = {}
    for mapping in column or []:
        ours, sep, theirs = mapping.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            err.print(f"[red]--column {mapping!r}: write it as ours=theirs[/red]")
            raise typer.Exit(2)
        columns[ours.strip()] = theirs.strip()
    with err.status(f"linking {input.name}"):
        result = link_csv(text, columns)
    for problem in result.problems[:max_problems]:
        err.print(f"[yellow]{input.name} {problem}[/yellow]")
    if len(result.problems) > max_problems:
        err.print(f"... and {len(result.problems) - max_problems} more problems")
    if any(p.line == 1 and "column missing" in p.message for p in result.problems):
        raise typer.Exit(2)
    write_rows(result.rows, out)
    review = sum(row["match_grade"] in ("probable", "possible") for row in result.rows)
    if result.unusable:
        err.print("values not used (not what the column holds): " + ", ".join(
            f"{column} {n}" for column, n in sorted(result.unusable.items())))
    err.print(f"{result.records} records -> {result.clusters} clients; {review} records with a candidate link "
              f"to review; {len(result.problems)} problems; wrote {out}")


@app.command("link")
def link_cmd(
    sync_first: Annotated[bool, typer.Option("--sync/--no-sync", help="Pull each agency's changes first.")] = True,
) -> None:
    """Sync the agencies' people into the identity index, then relink everything (client ids stay stable)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cli.common import settings_or_exit, with_engine
    from identity.index import RelinkReport, relink, sync

    settings = settings_or_exit()

    async def go(engine: AsyncEngine) -> tuple[dict[str, int], RelinkReport]:
        written: dict[str, int] = {}
        async with agencies(settings, engine) as (sessions, sources):
            with Progress(TextColumn("{task.description:<28}"), BarColumn(), TimeElapsedColumn(),
                          console=err) as bar:
                if sync_first:
                    task = bar.add_task("syncing agencies", total=len(sources))
                    for source in sources:
                        bar.update(task, description=f"syncing {source.name}")
                        written.update(await sync(sessions, [source]))
                        bar.advance(task)
                task = bar.add_task("matching and relinking", total=1)
                report = await relink(sessions)
                bar.advance(task)
        return written, report

    written, report = with_engine(settings, go)
    for source, count in written.items():
        err.print(f"synced {count} changed records from {source}")
    err.print(f"{report.records} records -> {report.clients} clients ({report.new_clients} new, "
              f"{report.merged} merged into another, {report.split} split off); "
              f"{report.moved_links} links written; {report.review_pairs} pairs to review")


@app.command("sync")
def sync_cmd() -> None:
    """Pull each agency's new and changed people and match them into the index one by one (online); run
    `identity link` for the first load and for merges the online path leaves to review."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cli.common import settings_or_exit, with_engine
    from identity.index import load_model, sync_source
    from identity.online import PlaceReport, place

    settings = settings_or_exit()

    async def go(engine: AsyncEngine) -> tuple[dict[str, int], PlaceReport]:
        written: dict[str, int] = {}
        total = PlaceReport()
        async with agencies(settings, engine) as (sessions, sources):
            async with sessions() as session:
                model = await load_model(session)  # once: it holds the name frequencies
            with Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(),
                          TimeElapsedColumn(), console=err) as bar:
                for source in sources:
                    task = bar.add_task(f"syncing {source.name}", total=None)
                    keys = await sync_source(sessions, source)
                    written[source.source] = len(keys)
                    bar.update(task, total=max(1, len(keys)), description=f"matching {source.name}")
                    for i in range(0, len(keys), 100):
                        await place(sessions, keys[i:i + 100], model=model, report=total)
                        bar.advance(task, len(keys[i:i + 100]))
                    bar.update(task, completed=max(1, len(keys)))
        return written, total

    written, report = with_engine(settings, go)
    for source, count in written.items():
        err.print(f"synced {count} changed records from {source}")
    times = sorted(report.timings_ms) or [0.0]
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    err.print(f"{report.placed} records matched ({report.joined} joined a client, {report.new_clients} new clients, "
              f"{report.moved} moved, {report.kept_manual} kept as a steward linked them, {report.relinked} clients "
              f"matched again with the records a steward joined them to); {report.review} pairs sent to review; "
              f"p95 {p95:.1f} ms per record")
