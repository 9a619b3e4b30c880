"""What every `casebridge` subcommand shares: the error console and settings loading."""

from __future__ import annotations

import typer
from rich.console import Console

from api.settings import Settings

err = Console(stderr=True)


def settings_or_exit() -> Settings:
    """Settings from the environment, or a clear message and exit code 2."""
    try:
        return Settings()
    except ValueError as exc:
        err.print(f"[red]invalid settings:[/red] {exc}")
        raise typer.Exit(2) from None
