"""The web console's files (issue 18): its queries are the public API's, its catalogues complete, its vendored files
the published packages, and the gateway serves it with a policy that lets it talk to nothing but itself and the
OpenID provider. The console in a browser is tests/test_console_browser.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import build_schema, parse, validate
from graphql.language import OperationDefinitionNode

from api.app import create_app
from core.errors import ErrorCode
from core.vocabulary import Action, Category, OperatorAction
from demo.servers import ServerThread
from policies.decisions import WithheldReason

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "api" / "console"
SCRIPTS = sorted((CONSOLE / "js").rglob("*.js"))


def _queries() -> dict[str, str]:
    return {p.stem: p.read_text() for p in sorted((CONSOLE / "queries").glob("*.graphql"))}


def _script_text() -> str:
    return "\n".join(p.read_text() for p in SCRIPTS)


def test_every_console_query_is_one_named_operation_valid_against_the_published_schema() -> None:
    schema = build_schema((ROOT / "schema.graphql").read_text())
    queries = _queries()
    assert {"Me", "ClientProfile", "SearchClients", "RecordConsent", "RevokeConsent"} <= set(queries)
    for name, text in queries.items():
        document = parse(text, max_tokens=2000)  # the gateway's default token limit
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        assert [op.name.value if op.name else None for op in operations] == [name], name
        assert validate(schema, document) == [], name


def test_the_scripts_call_only_queries_that_exist_and_every_query_is_used() -> None:
    called = set(re.findall(r"\.call\('([A-Za-z]+)'", _script_text()))
    assert called == set(_queries()), (called ^ set(_queries()))


def test_every_message_the_scripts_use_is_in_every_catalogue() -> None:
    catalogues = {p.stem: json.loads(p.read_text()) for p in (CONSOLE / "locales").glob("*.json")}
    assert {"en", "es"} <= set(catalogues)
    english = catalogues["en"]
    for code, catalogue in catalogues.items():
        assert set(catalogue) == set(english), (code, set(catalogue) ^ set(english))
        for key, text in catalogue.items():  # the same placeholders in every language
            assert set(re.findall(r"\{(\w+)\}", text)) == set(re.findall(r"\{(\w+)\}", english[key])), (code, key)
    used = set(re.findall(r"\bt\('([A-Za-z0-9_.]+)'", _script_text()))
    assert used and used <= set(english), used - set(english)
    schema = (ROOT / "schema.graphql").read_text()
    for kind in ("Role", "Purpose", "Basis", "WithheldReason", "Category", "MatchGrade", "ConsentStatus",
                 "ReviewReason", "LegalMilestoneKind", "ProgressChange", "Barrier", "PlanGoalStatus", "PlanTaskOwner"):
        body = re.search(rf"^enum {kind} \{{(.*?)^\}}", schema, re.S | re.M)
        assert body is not None, kind
        values = re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s*$", body.group(1), re.M)
        missing = [v for v in values if f"enum.{kind}.{v}" not in english]
        assert not missing, (kind, missing)  # a value the API can send is shown in words
    # keys the scripts build from a value: every value has its entry
    built = {"error.code": [c.value for c in ErrorCode], "category.plain": [c.name for c in Category],
             "withheld.open": [r.name for r in WithheldReason], "language": sorted(catalogues),
             "enum.Action": [a.value for a in (*Action, *OperatorAction)]}
    for prefix, values in built.items():
        missing = [v for v in values if f"{prefix}.{v}" not in english]
        assert not missing, (prefix, missing)


def test_the_auditors_action_filter_offers_every_action_the_log_records() -> None:
    text = (CONSOLE / "js" / "views" / "auditor.js").read_text()
    offered = set(re.findall(r"'([a-z.-]+)'", re.search(r"ACTIONS = \[(.*?)\];", text, re.S).group(1)))
    assert offered == {a.value for a in (*Action, *OperatorAction)}


def test_vendored_files_are_the_published_packages() -> None:
    vendor = files("api") / "console" / "vendor"
    manifest = json.loads((vendor / "manifest.json").read_text())
    assert {"preact-htm.js", "oidc-client-ts.js", "uswds/css/uswds.min.css"} == set(manifest)
    for name, entry in manifest.items():
        digest = base64.b64encode(hashlib.sha384((vendor / name).read_bytes()).digest()).decode()
        assert entry["integrity"] == f"sha384-{digest}", name
    css = (vendor / "uswds/css/uswds.min.css").read_text()
    for rel in set(re.findall(r"url\(\.\./([^)\"']+\.(?:woff2|svg))\)", css)):
        assert (CONSOLE / "vendor" / "uswds" / rel).is_file(), rel  # every font and icon the stylesheet names


@pytest.fixture
def gateway(settings_factory: Any, tmp_path: Path) -> Any:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                                console={"oidc_issuer": "https://id.city.example/realms/staff"})
    with ServerThread(create_app(settings)) as server:
        yield settings, server.url


def test_the_gateway_serves_the_console_to_talk_only_to_itself_and_the_provider(gateway: Any) -> None:
    settings, url = gateway
    assert httpx.get(f"{url}/app").status_code == 308
    page = httpx.get(f"{url}/app/")
    assert page.status_code == 200 and 'id="root"' in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "connect-src 'self' https://id.city.example;" in csp  # the code exchange and refreshes, nothing else
    config = httpx.get(f"{url}/app/config.json").json()
    assert config["issuer"] == "https://id.city.example/realms/staff"
    assert config["clientId"] == "casebridge-console" and config["resource"] == settings.auth.audience
    assert config["languages"] == ["en", "es"] and set(config["queries"]) == set(_queries())
    for ref in re.findall(r'(?:src|href)="(/app/[^"]+)"', page.text):
        assert httpx.get(url + ref).status_code == 200, ref
    assert httpx.get(f"{url}/app/static/queries/Me.graphql").text.startswith("query Me")
    copy = httpx.get(f"{url}/app/static/index.html")  # the page's file, reached another way: the same policy
    assert copy.headers["content-security-policy"] == csp and copy.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{url}/app/static/../console.py").status_code == 404
    assert httpx.get(f"{url}/app/static/%2e%2e/console.py").status_code == 404


def test_a_gateway_may_serve_no_console(settings_factory: Any, tmp_path: Path) -> None:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", console={"enabled": False})
    with ServerThread(create_app(settings)) as server:
        assert httpx.get(f"{server.url}/app/").status_code == 404
        assert httpx.get(f"{server.url}/app/config.json").status_code == 404
