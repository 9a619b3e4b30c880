"""The casebridge command: token, export-schema, migrate, and the demo answering its first query."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from api.auth import KeySource, TokenVerifier
from api.settings import Settings
from core.vocabulary import Role
from demo.servers import free_port
from resolvers.schema import schema_sdl
from store.migrate import head_revision

CLI = str(Path(sys.executable).parent / "casebridge")


def cli(*args: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "CASEBRIDGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
               "CASEBRIDGE_AUTH__DEV_KEY_FILE": str(tmp_path / "key.json"), **env}
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, env=environ, cwd=tmp_path)


def test_token_prints_a_token_the_gateway_accepts(tmp_path: Path) -> None:
    out = cli("token", "--role", "caseworker", "--org", "DHS", "--sub", "w-1", tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr
    settings = Settings(auth={"dev_key_file": tmp_path / "key.json"})
    principal = asyncio.run(TokenVerifier(settings.auth, KeySource(settings.auth)).verify(out.stdout.strip()))
    assert (principal.subject, principal.organization, principal.roles) == ("w-1", "DHS", frozenset({Role.CASEWORKER}))


def test_token_refuses_an_unknown_role(tmp_path: Path) -> None:
    out = cli("token", "--role", "superuser", "--org", "DHS", tmp_path=tmp_path)
    assert out.returncode == 2 and "superuser" in out.stderr


def test_token_refuses_outside_development(tmp_path: Path) -> None:
    out = cli("token", "--role", "caseworker", "--org", "DHS", tmp_path=tmp_path,
              CASEBRIDGE_AUTH__JWKS_URL="https://idp.test/jwks")
    assert out.returncode == 2 and "development" in out.stderr


def test_export_schema_prints_the_sdl(tmp_path: Path) -> None:
    out = cli("export-schema", tmp_path=tmp_path)
    assert out.returncode == 0 and out.stdout == schema_sdl()


def test_serve_refuses_an_unmigrated_store_and_migrate_fixes_it(tmp_path: Path) -> None:
    refused = cli("serve", "--port", str(free_port()), tmp_path=tmp_path)
    assert refused.returncode == 2 and "casebridge migrate" in refused.stderr
    migrated = cli("migrate", tmp_path=tmp_path)
    assert migrated.returncode == 0 and f"revision {head_revision()}" in migrated.stderr


def test_demo_answers_its_first_query_with_benefits(tmp_path: Path) -> None:
    out = cli("demo", "--no-serve", "--households", "5", "--port", str(free_port()),
              "--benefits-port", str(free_port()), tmp_path=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Bearer <token>" in out.stdout and "X-Purpose-Of-Use" in out.stdout
    assert out.stdout.count("eyJ") >= 3  # three whole demo tokens
    assert '"caseNumber"' in out.stdout and '"certificationEnd"' in out.stdout
    assert '"errors"' not in out.stdout


