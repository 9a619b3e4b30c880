"""The `casebridge` command: serve, migrate, export-schema, token, demo."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer

from api.settings import Settings
from cli.audit import app as audit_app
from cli.common import err, settings_or_exit
from cli.directory import app as directory_app
from cli.documents import app as documents_app
from cli.hmis import app as hmis_app
from cli.identity import app as identity_app
from cli.notify import app as notify_app
from core.vocabulary import Role

app = typer.Typer(help="casebridge: one consented, audited view of a client's records across agencies.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(audit_app, name="audit")
app.add_typer(directory_app, name="directory")
app.add_typer(documents_app, name="documents")
app.add_typer(hmis_app, name="hmis")
app.add_typer(identity_app, name="identity")
app.add_typer(notify_app, name="notify")


_settings = settings_or_exit


@app.command()
def migrate() -> None:
    """Create or upgrade the store's tables (Alembic, to head)."""
    from store.engine import make_engine
    from store.migrate import current_revision, upgrade

    settings = _settings()

    async def run() -> str | None:
        engine = make_engine(settings.database_url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    revision = asyncio.run(run())
    err.print(f"store migrated to revision [bold]{revision}[/bold]")


@app.command("export-schema")
def export_schema(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
) -> None:
    """Print the GraphQL schema (SDL) that the code defines: the contract in schema.graphql."""
    from resolvers.schema import schema_sdl

    sdl = schema_sdl()
    if out is None:
        sys.stdout.write(sdl)
    else:
        out.write_text(sdl)
        err.print(f"wrote {out}")


@app.command()
def token(
    role: Annotated[list[Role], typer.Option(help="A role; repeat for several.")],
    org: Annotated[str, typer.Option(help="The caller's organisation, e.g. HRA, DHS, DOE.")],
    sub: Annotated[str, typer.Option(help="The subject (user id).")] = "dev-user",
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 8 * 3600,
    client_id: Annotated[str | None, typer.Option(help="For --role client: the casebridge client id.")] = None,
) -> None:
    """Print a development bearer token signed with the gateway's own key."""
    from api.keys import load_or_create_dev_key, mint_token

    settings = _settings()
    if not settings.is_development or not settings.auth.uses_dev_keys:
        err.print("[red]tokens can only be minted by a development gateway with its own key[/red]")
        raise typer.Exit(2)
    key = load_or_create_dev_key(settings.auth.dev_key_file)
    typer.echo(mint_token(key, settings.auth, subject=sub, organization=org,
                          roles=[r.value for r in role], ttl_seconds=ttl, self_client=client_id))


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the gateway with uvicorn (uvloop, httptools)."""
    import uvicorn

    settings = _settings()
    _require_migrated(settings)
    uvicorn.run("api.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                loop="uvloop", http="httptools", proxy_headers=True, access_log=False)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Gateway port on 127.0.0.1.")] = 8000,
    benefits_port: Annotated[int, typer.Option(help="Benefits simulator port on 127.0.0.1.")] = 8101,
    schooling_port: Annotated[int, typer.Option(help="Ed-Fi (school district) simulator port on 127.0.0.1.")] = 8102,
    idp_port: Annotated[int, typer.Option(help="Development OpenID provider port on 127.0.0.1.")] = 8103,
    sms_port: Annotated[int, typer.Option(help="SMS provider simulator port on 127.0.0.1.")] = 8104,
    smtp_port: Annotated[int, typer.Option(help="The demo mailbox's SMTP port on 127.0.0.1.")] = 8025,
    webhook_port: Annotated[int, typer.Option(help="The demo partner system's webhook receiver port.")] = 8105,
    households: Annotated[int, typer.Option(help="Synthetic households to generate.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 7,
    serve_forever: Annotated[bool, typer.Option("--serve/--no-serve", help="Keep serving.")] = True,
) -> None:
    """Migrate, seed a synthetic city (importing its shelter export), start the agency simulators and the gateway."""
    from cli.demo import busy_port, run_demo

    busy = busy_port({"--port": port, "--benefits-port": benefits_port, "--schooling-port": schooling_port,
                      "--idp-port": idp_port, "--sms-port": sms_port, "--smtp-port": smtp_port,
                      "--webhook-port": webhook_port})
    if busy is not None:
        flag, number = busy.split()
        err.print(f"[red]port {number} on 127.0.0.1 is in use[/red]: choose another with {flag} N "
                  "(or stop what is using it)", soft_wrap=True)
        raise typer.Exit(2)

    run_demo(_settings(), port=port, benefits_port=benefits_port, schooling_port=schooling_port, idp_port=idp_port,
             sms_port=sms_port, smtp_port=smtp_port, webhook_port=webhook_port, households=households, seed=seed,
             serve_forever=serve_forever)


@app.command("checklists")
def checklists_cmd(
    path: Annotated[Path | None, typer.Argument(help="A checklists file (default: CASEBRIDGE_CHECKLISTS_FILE, "
                                                     "else the one shipped).")] = None,
) -> None:
    """Check a checklists file and list its goals with the documents each needs (exit 2 and every problem named
    when it does not hold together)."""
    from checklists.config import load
    from core.errors import ConfigurationError

    try:
        found = load(path or _settings().checklists_file)
    except ConfigurationError as exc:
        err.print(f"[red]{exc.message}[/red]", soft_wrap=True)
        raise typer.Exit(2) from None
    for goal in found.goals.values():
        docs = ", ".join(
            f"{found.documents[d].name['en']}" + (f" ({found.documents[d].valid_days} days)"
                                                   if found.documents[d].valid_days else "") for d in goal.documents)
        print(f"{goal.code}  {goal.name['en']}: {docs}")


@app.command()
def city(
    out: Annotated[Path, typer.Argument(help="Directory to write the city into.")],
    households: Annotated[int, typer.Option(help="Households (about 2.7 people and 4.7 agency records each).")] = 60,
    seed: Annotated[int, typer.Option(help="Seed: the same seed writes the same city.")] = 7,
    layout: Annotated[str, typer.Option(help="HMIS CSV layout: 2024 or 2026.")] = "2024",
    noise: Annotated[bool, typer.Option(help="Add to people.csv what real files hold besides: a tax source with "
                                             "relatives' borrowed SSNs, a register with duplicates, "
                                             "name-and-address intakes, placeholder dates.")] = False,
) -> None:
    """Write a synthetic city: each agency's records in its format, people.csv, and the truth (truth.csv)."""
    from connectors.hmis.spec import Layout
    from demo.city_export import write_city
    from demo.population import generate

    if Layout.of(layout) is None:
        err.print("[red]--layout is 2024 or 2026[/red]")
        raise typer.Exit(2)
    with err.status(f"generating {households} households (seed {seed})"):
        population = generate(seed=seed, households=households)
        counts = write_city(population, out, layout=Layout(layout), noise=noise)
    err.print(f"wrote {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def _require_migrated(settings: Settings) -> None:
    """Refuse a store not at the current schema, and in production one that may lose commits it acknowledged
    (the access log's events among them): one connection for both questions."""
    from store.durability import durability_problems
    from store.engine import make_engine
    from store.migrate import current_revision, head_revision

    async def check() -> tuple[str | None, list[str]]:
        engine = make_engine(settings.database_url)
        try:
            return await current_revision(engine), await durability_problems(engine)
        finally:
            await engine.dispose()

    revision, problems = asyncio.run(check())
    if revision != head_revision():
        err.print("[red]the store is not at the current schema:[/red] run [bold]casebridge migrate[/bold] first")
        raise typer.Exit(2)
    if problems and not settings.is_development:
        err.print(f"[red]the store may lose commits it acknowledged:[/red] {'; '.join(problems)}. Turn them on: "
                  "an access event lost in a crash is an answer sent with no record of it.")
        raise typer.Exit(2)
    for problem in problems:
        err.print(f"[yellow]not durable:[/yellow] {problem} (refused in production)")


if __name__ == "__main__":  # pragma: no cover
    app()
