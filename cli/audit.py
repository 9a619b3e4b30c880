"""`casebridge audit ...`: verify the chain, sign checkpoints, export, retain."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import err, settings_or_exit, with_engine, with_store
from core.vocabulary import OperatorAction

app = typer.Typer(help="The access log: verify, checkpoint, export, retain.", no_args_is_help=True)
_run = with_store


_settings = settings_or_exit


@app.command("verify")
def verify_cmd(
    since: Annotated[datetime | None, typer.Option(help="Only events recorded at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only events recorded before (ISO 8601).")] = None,
    witness: Annotated[Path | None, typer.Option(
        help="Witnessed checkpoints (the gateway's witness file, or those an auditor kept, one JSON per line): the "
             "chain must still hold every one.")] = None,
) -> None:
    """Check every link, hash and signed checkpoint; name the first broken link. Exit 1 if broken."""
    from api.services import make_signer
    from audit.verify import verify
    from audit.witness import check_witnessed, read_witness

    settings = _settings()
    jwks = make_signer(settings).public_jwks()
    report = _run(settings, lambda s: verify(s, jwks=jwks, since=since, until=until))
    if witness is not None:
        try:
            entries, unreadable = read_witness(witness)
        except (OSError, UnicodeDecodeError) as exc:
            err.print(f"[red]cannot read the witness {witness}[/red] ({type(exc).__name__})")
            raise typer.Exit(2) from None
        for problem in unreadable:
            err.print(f"[yellow]{witness.name} {problem}[/yellow]")
        report.breaks = sorted([*report.breaks, *_run(settings, lambda s: check_witnessed(s, entries, jwks))],
                               key=lambda b: b.seq)
        if report.ok:
            err.print(f"every witnessed end is still in the chain ({len(entries)} witnessed checkpoints)")
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




def _operator(name: str | None, action: OperatorAction) -> Any:
    """The access record of the person running an audit command (the CLI has no token)."""
    import getpass
    import uuid

    from audit.access_records import AccessRecord

    return AccessRecord(request_id=f"cli-{uuid.uuid4().hex[:16]}", subject=name or getpass.getuser(),
                        organization="casebridge-operations", roles=("auditor",), oauth_client="casebridge-cli",
                        purpose="audit", operation=None, client_id=None, action=action.value, sections=(),
                        result="performed")


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option(help="The file: .jsonl, .csv (plus .csv.proof.json) or .json (FHIR).")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or fhir (a Bundle of BALP AuditEvents).")] = "jsonl",
    since: Annotated[datetime | None, typer.Option(help="Events recorded at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Events recorded before (ISO 8601).")] = None,
    client: Annotated[str | None, typer.Option(help="Only this client's events.")] = None,
    operator: Annotated[str | None, typer.Option(help="Who is exporting (goes to the access log).")] = None,
) -> None:
    """Export the access log with its chain proof and a signed checkpoint; the export itself is logged."""
    from dataclasses import replace

    from api.services import make_signer
    from audit.chain_writer import ChainRecorder
    from audit.export import FORMATS, keep_checkpoint, read_slice, write
    from audit.queries import LogFilter
    from store.engine import make_sessionmaker

    if fmt not in FORMATS:
        err.print(f"[red]--format is one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)
    settings = _settings()
    signer = make_signer(settings)
    flt = LogFilter(client_id=client, since=since, until=until)

    async def go(engine: Any) -> tuple[int, list[Path]]:
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            slice_ = await read_slice(session, signer, flt, reason="export")
        files = write(slice_, fmt, out)
        async with sessions.begin() as session:
            await keep_checkpoint(session, signer, slice_)
            record = replace(_operator(operator, OperatorAction.AUDIT_EXPORT), client_id=client,
                             detail=f"{fmt}: {len(slice_.events)} events")
            await ChainRecorder(engine, signer=signer).record([record], session=session)
        return len(slice_.events), files

    try:
        count, files = with_engine(settings, go)
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    err.print(f"exported {count} events to {', '.join(str(f) for f in files)}")


@app.command("verify-export")
def verify_export_cmd(
    file: Annotated[Path, typer.Argument(help="A .jsonl, .csv or .json (FHIR) export.")],
    jwks: Annotated[Path | None, typer.Option(help="The gateway's public JWKS (`casebridge audit public-key`); "
                                                   "without it the key in the file is used.")] = None,
) -> None:
    """Check an exported slice on its own: links, signed checkpoint, every event. Exit 1 if it fails."""
    from audit.export import verify_export

    keys = json.loads(jwks.read_text()) if jwks else None
    if keys is None:
        err.print("[yellow]no --jwks given: trusting the key inside the file[/yellow]")
    check = verify_export(file, keys)
    if check.ok:
        err.print(f"[green]the export verifies[/green]: {check.events} events")
        return
    err.print(f"[red]the export does not verify[/red]: {check.problem}")
    raise typer.Exit(1)


@app.command("retain")
def retain_cmd(
    operator: Annotated[str | None, typer.Option(help="Who runs retention (goes to the access log).")] = None,
) -> None:
    """Archive (JSON Lines with proof) and remove events older than the retention period."""
    from api.services import make_signer
    from audit.chain_writer import ChainRecorder
    from audit.retention import retain
    from store.engine import make_sessionmaker

    settings = _settings()
    signer = make_signer(settings)
    result = with_engine(settings, lambda engine: retain(
        make_sessionmaker(engine), signer, ChainRecorder(engine, signer=signer),
        retention_days=settings.audit.retention_days, archive_dir=settings.audit.archive_dir,
        now=datetime.now().astimezone(),
        operator=_operator(operator, OperatorAction.AUDIT_RETENTION)))
    if result.archived == 0:
        err.print("nothing is older than the retention period")
    else:
        err.print(f"archived {result.archived} events to {result.archive}; the chain now starts after seq "
                  f"{result.anchor_seq}")
