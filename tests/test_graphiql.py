"""GraphiQL works with no network: its page and every asset come from the gateway (issue 15, §8).

Checked in a real browser (Debian's Chromium, driven by Playwright) with every request that does not go to
the gateway refused: the page loads, a query runs with a token typed into the Headers tab, and the page
asks for nothing elsewhere and breaks none of its own Content-Security-Policy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import sync_playwright

from api.app import create_app
from api.ide import ASSETS_PATH
from demo.servers import ServerThread
from tests.gateway import token

CHROMIUM = os.environ.get("CASEBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium")
# Chromium as root in a container, with no background calls home (they are refused here and flood the log).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def gateway(settings_factory: Any, tmp_path: Path) -> Any:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with ServerThread(create_app(settings)) as server:
        yield settings, server.url


def test_the_page_names_only_assets_the_gateway_serves_with_their_integrity(gateway: Any) -> None:
    _settings, url = gateway
    page = httpx.get(f"{url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references and all(r.startswith(ASSETS_PATH + "/") or r == "data:," for r in references), references
    for ref, integrity in re.findall(r'(?:src|href)="([^"]+)" integrity="([^"]+)"', page.text):
        asset = httpx.get(url + ref)
        assert asset.status_code == 200, ref
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert integrity == f"sha384-{digest}", ref
        again = httpx.get(url + ref, headers={"If-None-Match": asset.headers["etag"]})
        assert again.status_code == 304  # a reload costs no megabytes
    assert httpx.get(f"{url}{ASSETS_PATH}/../app.py").status_code == 404


def test_vendored_assets_are_the_published_packages() -> None:
    # manifest.json is written by scripts/vendor-graphiql from the npm registry's packages; an edit by hand shows.
    assets = files("api") / "graphiql" / "assets"
    manifest = json.loads((assets / "manifest.json").read_text())
    assert {"graphiql.min.js", "react.production.min.js", "react-dom.production.min.js"} <= set(manifest)
    for name, entry in manifest.items():
        digest = base64.b64encode(hashlib.sha384((assets / name).read_bytes()).digest()).decode()
        assert entry["integrity"] == f"sha384-{digest}", name


def test_production_serves_no_graphiql_assets(settings_factory: Any, tmp_path: Path, dev_key_file: Any) -> None:
    from api.keys import load_or_create_dev_key, public_jwks

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(load_or_create_dev_key(dev_key_file))))
    settings = settings_factory(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", environment="production",
        auth={"jwks_file": jwks, "issuer": "https://idp.city.test"}, benefits_secret="prod-secret",
        schooling={"client_secret": "prod-secret"},
        notify={"sms": {"auth_token": "prod-sms-token", "base_url": "https://sms.provider.test"}})
    with ServerThread(create_app(settings)) as server:
        assert httpx.get(f"{server.url}{ASSETS_PATH}/graphiql.min.js").status_code == 404


@pytest.mark.browser
def test_graphiql_runs_a_query_in_a_browser_with_no_network_but_the_gateway(gateway: Any) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: ./scripts/test installs Debian's chromium")
    settings, url = gateway
    elsewhere: list[str] = []
    console_errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()

            def only_the_gateway(route: Any) -> None:
                if route.request.url.startswith(url + "/"):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_gateway)
            page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
            page.goto(f"{url}/graphql", timeout=30_000)
            page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=30_000)
            headers = json.dumps({"Authorization": f"Bearer {token(settings, 'HRA', 'caseworker', sub='dana')}",
                                  "X-Purpose-Of-Use": "case_management"})
            # The Headers tab is open (the page opens it: that is where a newcomer puts the token).
            page.eval_on_selector(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
                                  "(el, value) => el.CodeMirror.setValue(value)", headers)
            page.click(".graphiql-execute-button")
            page.wait_for_function(
                "() => (document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() || '')"
                ".includes('organization')", timeout=30_000)
            result = json.loads(page.eval_on_selector(".result-window .CodeMirror", "el => el.CodeMirror.getValue()"))
        finally:
            browser.close()
    assert result == {"data": {"me": {"subject": "dana", "organization": "HRA", "roles": ["CASEWORKER"]}}}
    assert elsewhere == []
    # Before a token is typed GraphiQL's schema request is refused (401): expected. Nothing else may fail:
    # no asset blocked by the page's Content-Security-Policy, none refused for its integrity hash.
    assert [e for e in console_errors if "401" not in e] == []
