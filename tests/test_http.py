"""GraphQL over HTTP at the edge: media types and status codes, malformed bodies, and limits before work."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.http import prefers_graphql_response
from api.keys import load_or_create_dev_key, mint_token
from demo.servers import ServerThread
from resolvers.limits import validation_cache

MODERN = "application/graphql-response+json"


@pytest.fixture
def gw(settings_factory: Any, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path / 'h.db'}",
                                limits={"max_body_bytes": 100_000})
    token = mint_token(load_or_create_dev_key(settings.auth.dev_key_file), settings.auth, subject="u1",
                       organization="HRA", roles=["caseworker"])
    with ServerThread(create_app(settings)) as server:
        yield server.url, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(("accept", "modern"), [
    (None, False), ("application/json", False), ("*/*", False), (MODERN, True),
    (f"{MODERN}, application/json;q=0.9", True), (f"application/json, {MODERN};q=0.5", False),
    (f"{MODERN};q=0", False), (f"{MODERN};q=abc, application/json", False),
])
def test_accept_negotiation(accept: str | None, modern: bool) -> None:
    assert prefers_graphql_response(accept) is modern


def test_media_types_and_status_codes(gw: tuple[str, dict[str, str]]) -> None:
    url, auth = gw
    with httpx.Client(base_url=url, headers=auth) as http:
        ok = http.post("/graphql", json={"query": "{ me { subject } }"}, headers={"accept": MODERN})
        assert ok.status_code == 200 and ok.headers["content-type"] == f"{MODERN}; charset=utf-8"
        assert ok.json() == {"data": {"me": {"subject": "u1"}}}
        for document in ("{ me { subject ", "{ nonsense }"):  # parse and validation failures: nothing ran
            modern = http.post("/graphql", json={"query": document}, headers={"accept": MODERN})
            assert modern.status_code == 400 and modern.headers["content-type"].startswith(MODERN)
            assert "data" not in modern.json() and modern.json()["errors"][0]["extensions"]["code"].startswith(
                "GRAPHQL_")
            legacy = http.post("/graphql", json={"query": document}, headers={"accept": "application/json"})
            assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")
        # a field error is not a request error: 200 with data, in either media type
        field = http.post("/graphql", json={"query": '{ client(id: "nobody") { id } }'}, headers={"accept": MODERN})
        assert field.status_code == 200 and field.json()["data"] == {"client": None}


@pytest.mark.parametrize(("body", "content_type", "reason"), [
    (b'{"query": "{ me { subject } }"', "application/json", "invalid_json"),
    (b"[" * 100_00 + b"]" * 100_00, "application/json", "too_deep"),
    (b'{"query": "{ me { subject } }", "variables": ' + b'{"a":' * 80 + b"1" + b"}" * 81, "application/json",
     "too_deep"),
    (b'"{ me { subject } }"', "application/json", "not_an_object"),
    (b'[{"query": "{ me { subject } }"}]', "application/json", "not_an_object"),
    (b'{"query": "\xff\xfe"}', "application/json", "invalid_utf8"),
    (b'{"query": "{ me { subject } }"}', "text/plain", "unsupported_content_type"),
    (b'{"query": "{ me { subject } }"}', None, "unsupported_content_type"),
    (b'{"query": 5}', "application/json", "no_query"),
    (b'{"query": "{ me { subject } }", "variables": [1]}', "application/json", "bad_field"),
    (b'{"query": "{ me { subject } }", "operationName": 7}', "application/json", "bad_field"),
])
def test_a_malformed_body_is_a_typed_400(gw: tuple[str, dict[str, str]], body: bytes, content_type: str | None,
                                         reason: str) -> None:
    url, auth = gw
    headers = {**auth, **({"content-type": content_type} if content_type else {})}
    resp = httpx.post(f"{url}/graphql", content=body, headers=headers)
    assert resp.status_code == 400, resp.text[:300]
    error = resp.json()["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("BAD_USER_INPUT", reason)
    assert "data" not in resp.json()


def test_a_body_past_the_limit_is_refused_before_it_is_read(gw: tuple[str, dict[str, str]]) -> None:
    url, auth = gw
    big = json.dumps({"query": "{ me { subject } }", "variables": {"x": "a" * 200_000}}).encode()
    declared = httpx.post(f"{url}/graphql", content=big, headers={**auth, "content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

    def chunks() -> Iterator[bytes]:  # no Content-Length: refused as the stream passes the limit
        for i in range(0, len(big), 10_000):
            yield big[i:i + 10_000]
    streamed = httpx.post(f"{url}/graphql", content=chunks(), headers={**auth, "content-type": "application/json"})
    assert streamed.status_code == 413


def test_a_huge_declared_body_is_answered_at_once(gw: tuple[str, dict[str, str]]) -> None:
    """A client announcing 50 MB is answered before it sends them, and nobody else waits."""
    url, auth = gw
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        head = (f"POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Authorization: {auth['Authorization']}\r\nContent-Length: 50000000\r\n\r\n")
        sock.sendall(head.encode() + b'{"query": "')  # 11 of the 50,000,000 bytes announced
        answer = sock.recv(4096).decode("latin-1")
        assert answer.startswith("HTTP/1.1 413")  # answered without waiting for the rest
    me = httpx.post(f"{url}/graphql", json={"query": "{ me { subject } }"}, headers=auth)
    assert me.status_code == 200


async def test_wrong_bodies_never_cost_other_requests(gw: tuple[str, dict[str, str]]) -> None:
    url, auth = gw
    async with httpx.AsyncClient(base_url=url, headers=auth, timeout=10) as http:
        bad = [http.post("/graphql", content=b"[" * 50_000, headers={"content-type": "application/json"})
               for _ in range(5)]
        results = await asyncio.gather(*bad, http.post("/graphql", json={"query": "{ me { subject } }"}))
    assert [r.status_code for r in results] == [400] * 5 + [200]


AUDIT = Path(__file__).parent / "http_audit"


def test_the_graphql_over_http_audit_passes(gw: tuple[str, dict[str, str]]) -> None:
    """graphql-http's server audit (the GraphQL-over-HTTP specification's own checks) against the real gateway:
    no error and no warning. Its notices are the GETs casebridge does not serve (queries only by POST)."""
    import shutil
    import subprocess

    node = shutil.which("node")
    assert node is not None and (AUDIT / "node_modules" / "graphql-http").is_dir(), "./scripts/test installs them"
    url, auth = gw
    token = auth["Authorization"].removeprefix("Bearer ")
    out = subprocess.run([node, str(AUDIT / "audit.mjs"), f"{url}/graphql", token], capture_output=True,
                         text=True, timeout=120, check=True)
    results = json.loads(out.stdout)
    assert len(results) > 50
    assert [(r["status"], r["name"]) for r in results if r["status"] in ("warn", "error")] == []
    assert {r["name"] for r in results if r["status"] == "notice"} <= {
        "MAY accept application/x-www-form-urlencoded formatted GET requests",
        "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
        "application/graphql-response+json",
        "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json"}


@pytest.mark.parametrize("document", [
    '{ client(id: "%s") { id } }', '{ clients(ids: ["%s"]) { id } }', '{ consents(clientId: "%s") { id } }',
    '{ disclosureReport(clientId: "%s") { category } }', '{ identityClient(id: "%s") { id } }',
    '{ consent(id: "%s") { id } }', 'mutation { revokeConsent(id: "%s") { id } }',
    'mutation { addCaseNote(clientId: "%s", text: "n") { id } }',
    'mutation { startBreakGlass(clientId: "%s", justification: "a long enough justification here") { id } }',
])
def test_an_id_that_is_not_a_uuid_is_refused_at_the_edge_and_never_echoed(
    gw: tuple[str, dict[str, str]], document: str,
) -> None:
    url, auth = gw
    huge = "x" * 60_000 + "-marker"
    for bad in (huge, "no-such-client", "1 OR 1=1"):
        resp = httpx.post(f"{url}/graphql", json={"query": document % bad}, headers={**auth, "x-purpose-of-use":
                                                                                      "case_management"})
        error = resp.json()["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", resp.text[:300]
        assert bad not in resp.text and len(resp.content) < 2_000


def test_a_window_that_ends_before_it_starts_is_refused(gw: tuple[str, dict[str, str]]) -> None:
    url, auth = gw
    q = ('{ disclosureReport(clientId: "7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f", since: "2026-12-02T00:00:00Z", '
         'until: "2026-12-01T00:00:00Z") { category } }')
    resp = httpx.post(f"{url}/graphql", json={"query": q}, headers={**auth, "x-purpose-of-use": "case_management"})
    error = resp.json()["errors"][0]["extensions"]
    assert (error["code"], error["field"]) == ("BAD_USER_INPUT", "since")


def test_a_value_that_does_not_fit_its_type_is_bad_input_and_is_neither_echoed_nor_logged(
    gw: tuple[str, dict[str, str]], caplog: pytest.LogCaptureFixture,
) -> None:
    url, auth = gw
    q = "query($i: ClientSearchInput!) { searchClients(input: $i) { score } }"
    for dob in ("08/16/1975", "Jane Quorra"):
        variables = {"i": {"lastName": "Q", "dateOfBirth": dob}}
        resp = httpx.post(f"{url}/graphql", json={"query": q, "variables": variables},
                          headers={**auth, "x-purpose-of-use": "case_management"})
        error = resp.json()["errors"][0]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "variable": "i"}, resp.text
        assert dob not in resp.text
        # The same value written into the document itself: answered alike, with the type it should have had.
        literal = '{ searchClients(input: {lastName: "Q", dateOfBirth: "' + dob + '"}) { score } }'
        resp = httpx.post(f"{url}/graphql", json={"query": literal},
                          headers={**auth, "x-purpose-of-use": "case_management"})
        error = resp.json()["errors"][0]
        assert error["extensions"] == {"code": "BAD_USER_INPUT", "expected": "Date"}, resp.text
        assert dob not in resp.text
    logged = " ".join(r.getMessage() + str(r.exc_info) for r in caplog.records)
    assert "08/16/1975" not in logged and "Quorra" not in logged


def test_a_document_too_costly_to_validate_is_refused_at_once_and_costs_others_nothing(
    gw: tuple[str, dict[str, str]],
) -> None:
    url, auth = gw
    heavy = '{ client(id: "7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f") { ' + (
        "schooling { students { transfers { fromSchool } } } " * 190) + "} }"
    wide = "{ me { " + " ".join(f"a{i}: subject" for i in range(10)) + " } }"  # aliases are limited apart
    directives = "{ me { " + "subject @include(if: true) " * 25 + "} }"

    validated = validation_cache(512).cache_info().misses

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=url, headers=auth, timeout=10) as http:
            answers = await asyncio.gather(*(http.post("/graphql", json={"query": q})
                                             for q in (heavy, heavy, "{ me { costlyCheck: subject } }")))
            return [a.json() for a in answers]

    h1, h2, me = asyncio.run(run())
    assert h1["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX" == h2["errors"][0]["extensions"]["code"]
    assert me["data"] == {"me": {"costlyCheck": "u1"}}
    # refused before validation: only `me` (a text no other test sends) reached the validator
    assert validation_cache(512).cache_info().misses - validated == 1
    for q in (directives,):
        body = httpx.post(f"{url}/graphql", json={"query": q}, headers=auth).json()
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert httpx.post(f"{url}/graphql", json={"query": wide}, headers=auth).json()["data"]["me"]["a0"] == "u1"


def test_field_suggestions_only_in_development(settings_factory: Any, tmp_path: Path) -> None:
    from resolvers.schema import build_schema

    for suggestions, hinted in ((True, True), (False, False)):
        schema = build_schema(suggestions=suggestions, cache_size=11 if suggestions else 13)
        result = asyncio.run(schema.execute('{ clien(id: "x") { id } }'))
        assert result.errors and ("Did you mean" in result.errors[0].message) is hinted
