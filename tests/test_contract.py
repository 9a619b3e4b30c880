"""The checked-in contracts: schema.graphql matches the code; the import layers point down."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from resolvers.schema import schema_sdl

ROOT = Path(__file__).parents[1]


def test_schema_graphql_is_what_the_code_exports() -> None:
    checked_in = (ROOT / "schema.graphql").read_text()
    assert checked_in == schema_sdl(), (
        "schema.graphql drifted from the code: run `casebridge export-schema --out schema.graphql` and review the diff"
    )


def test_import_layers_point_down() -> None:
    """policies/, identity/, audit/, store/ know no web or GraphQL library (import-linter contracts)."""
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
