"""The benefits connector against the running benefits simulator (a real HTTP server)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from connectors.benefits import BenefitsConnector
from connectors.config import BenefitsConfig
from core.errors import AgencyAuthFailed, AgencyBadData, AgencyTimeout, AgencyUnavailable
from core.vocabulary import Category
from demo.benefits_sim import BenefitsAgency
from demo.population import Population
from demo.servers import ServerThread, free_port

ALL = frozenset(Category)
OPENAPI = json.loads((Path(__file__).parents[1] / "docs" / "benefits-api.openapi.json").read_text())


def _connector(url: str, **kw: Any) -> BenefitsConnector:
    return BenefitsConnector(BenefitsConfig(base_url=url, **kw))


@pytest.fixture
async def connector(benefits_server: ServerThread) -> AsyncIterator[BenefitsConnector]:
    conn = _connector(benefits_server.url, timeout_seconds=1.0)
    yield conn
    await conn.aclose()


def _schema_validator(name: str) -> Draft202012Validator:
    registry = Registry().with_resource("urn:benefits-api", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **OPENAPI}))
    return Draft202012Validator({"$ref": f"urn:benefits-api#/components/schemas/{name}"}, registry=registry)


async def test_known_person_comes_back_as_canonical_records(
    connector: BenefitsConnector, population: Population
) -> None:
    person = population.people[0]
    result = await connector.fetch([person.benefits_id], ALL)
    record = result.records[person.benefits_id]
    assert record.sections[Category.IDENTITY].last_name == person.last_name
    assert record.sections[Category.IDENTITY].dob == person.dob
    cases = record.sections[Category.BENEFITS]
    assert len(cases) == 1 and cases[0].programs
    assert cases[0].relationship == person.relationship
    assert record.sections[Category.APPOINTMENTS][0].type == "RECERTIFICATION_INTERVIEW"
    assert result.as_of.tzinfo is not None
    assert connector.status().state == "up"


async def test_only_the_asked_categories_are_returned(connector: BenefitsConnector, population: Population) -> None:
    pid = population.people[0].benefits_id
    result = await connector.fetch([pid], frozenset({Category.APPOINTMENTS}))
    assert set(result.records[pid].sections) == {Category.APPOINTMENTS}


async def test_unknown_person_is_absent_not_an_error(connector: BenefitsConnector) -> None:
    result = await connector.fetch(["HRA-9999999"], ALL)
    assert result.records == {}


async def test_many_people_are_fetched_in_batches_of_100(
    benefits_server: ServerThread, agency: BenefitsAgency, population: Population
) -> None:
    conn = _connector(benefits_server.url, batch_size=5)
    try:
        ids = [p.benefits_id for p in population.people][:12]
        result = await conn.fetch(ids, ALL)
        assert set(result.records) == set(ids)
        assert agency.data_requests == 3
        assert agency.token_requests == 1  # one token, reused
    finally:
        await conn.aclose()


async def test_expired_token_is_refreshed_before_use(
    benefits_server: ServerThread, agency: BenefitsAgency, population: Population
) -> None:
    agency.faults.token_ttl_seconds = 2  # the connector renews it after 1 s, before it expires
    conn = _connector(benefits_server.url)
    try:
        pid = population.people[0].benefits_id
        await conn.fetch([pid], ALL)
        await conn.fetch([pid], ALL)
        assert agency.token_requests == 1  # cached
        await asyncio.sleep(1.1)
        await conn.fetch([pid], ALL)
        assert agency.token_requests == 2
        assert agency.refused_requests == 0  # renewed before expiry, not after a 401
    finally:
        await conn.aclose()


async def test_revoked_token_is_refreshed_once_on_401(
    connector: BenefitsConnector, agency: BenefitsAgency, population: Population
) -> None:
    pid = population.people[0].benefits_id
    await connector.fetch([pid], ALL)
    agency.revoke_all_tokens()
    result = await connector.fetch([pid], ALL)
    assert pid in result.records
    assert agency.token_requests == 2


async def test_wrong_client_secret_is_an_auth_error(benefits_server: ServerThread) -> None:
    conn = _connector(benefits_server.url, client_secret="wrong")
    try:
        with pytest.raises(AgencyAuthFailed) as info:
            await conn.fetch(["HRA-0000001"], ALL)
        assert info.value.extensions["code"] == "AGENCY_AUTH_FAILED"
        assert info.value.extensions["connector"] == "benefits"
    finally:
        await conn.aclose()


async def test_agency_down_is_agency_unavailable() -> None:
    conn = _connector(f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(AgencyUnavailable):
            await conn.fetch(["HRA-0000001"], ALL)
        assert conn.status().state == "down"
        assert conn.status().last_error_code == "AGENCY_UNAVAILABLE"
    finally:
        await conn.aclose()


async def test_agency_503_is_agency_unavailable(connector: BenefitsConnector, agency: BenefitsAgency) -> None:
    agency.faults.server_error = True
    with pytest.raises(AgencyUnavailable):
        await connector.fetch(["HRA-0000001"], ALL)


async def test_slow_agency_times_out(connector: BenefitsConnector, agency: BenefitsAgency) -> None:
    agency.faults.delay_seconds = 3.0
    with pytest.raises(AgencyTimeout):
        await connector.fetch(["HRA-0000001"], ALL)


@pytest.mark.parametrize("fault", ["malformed", "not_json"])
async def test_malformed_payload_is_bad_data_and_nothing_is_cached(
    connector: BenefitsConnector, agency: BenefitsAgency, population: Population, fault: str
) -> None:
    person = population.people[0]
    setattr(agency.faults, fault, True)
    with pytest.raises(AgencyBadData) as info:
        await connector.fetch([person.benefits_id], ALL)
    # the error names fields at most, never values from the payload
    assert person.last_name not in str(info.value.extensions)
    agency.faults.clear()
    result = await connector.fetch([person.benefits_id], ALL)
    assert result.records[person.benefits_id].sections[Category.IDENTITY].last_name == person.last_name


async def test_simulator_speaks_the_published_schema(benefits_server: ServerThread, population: Population) -> None:
    async with httpx.AsyncClient(base_url=benefits_server.url) as http:
        tok = (await http.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=("casebridge", "dev-benefits-secret"))).json()
        _schema_validator("Token").validate(tok)
        headers = {"Authorization": f"Bearer {tok['access_token']}"}
        ids = [("personId", p.benefits_id) for p in population.people]
        batch = (await http.get("/v1/benefits", params=ids, headers=headers)).json()
        _schema_validator("BenefitsBatch").validate(batch)
        assert len(batch["items"]) == len(population.people)
        people = (await http.get("/v1/people", params={"limit": 500}, headers=headers)).json()
        _schema_validator("PeoplePage").validate(people)
        assert (await http.get("/v1/benefits", params=ids[:1])).status_code == 401


async def test_an_acceptance_date_is_read_and_one_that_is_not_a_date_is_unknown_counted_never_shown(
    connector: BenefitsConnector, population: Population, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = population.people[0]
    case = population.benefits[person.benefits_id]["cases"][0]  # type: ignore[index]
    monkeypatch.setitem(case, "requiredDocuments", [  # type: ignore[arg-type]
        {"documentId": "D-1", "type": "PROOF_OF_INCOME", "status": "ACCEPTED", "acceptedOn": "2026-03-02"},
        {"documentId": "D-2", "type": "PROOF_OF_INCOME", "status": "ACCEPTED", "acceptedOn": "02/03/2026"},
        {"documentId": "D-3", "type": "PROOF_OF_INCOME", "status": "ACCEPTED", "acceptedOn": 20260302},
        {"documentId": "D-4", "type": "PROOF_OF_INCOME", "status": "ACCEPTED", "acceptedOn": "2026-02-30"},
        {"documentId": "D-5", "type": "PROOF_OF_INCOME", "status": "REQUESTED"}])
    result = await connector.fetch([person.benefits_id], ALL)
    found = {d.document_id: d.accepted_on for d in result.records[person.benefits_id].sections[Category.DOCUMENTS]}
    assert found == {"D-1": date(2026, 3, 2), "D-2": None, "D-3": None, "D-4": None, "D-5": None}
    assert connector.unreadable_dates == 3
    assert "3 acceptance dates" in caplog.text and "02/03/2026" not in caplog.text and "2026-02-30" not in caplog.text


def _forward_proxy(seen: list[str], proxy_auth: list[str | None] | None = None) -> Any:
    """A plain HTTP forward proxy (an ASGI app): records each absolute URL it is asked for (and the credentials it
    was given) and forwards it."""
    proxy_auth = proxy_auth if proxy_auth is not None else []
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def forward(request: Request) -> Response:
        seen.append(f"{request.method} {request.url}")
        proxy_auth.append(request.headers.get("proxy-authorization"))
        headers = {k: v for k, v in request.headers.items() if k.lower() in {"authorization", "content-type", "accept"}}
        async with httpx.AsyncClient(trust_env=False) as http:
            resp = await http.request(request.method, str(request.url), headers=headers, content=await request.body())
        return Response(resp.content, status_code=resp.status_code,
                        headers={"content-type": resp.headers.get("content-type", "application/json")})

    return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])


@pytest.mark.parametrize("name", ["HTTP_PROXY", "http_proxy"])
async def test_agency_calls_go_through_the_proxy_the_environment_names_unless_no_proxy_excludes_the_host(
    benefits_server: ServerThread, population: Population, monkeypatch: pytest.MonkeyPatch, name: str,
) -> None:
    pid = population.people[0].benefits_id
    seen: list[str] = []
    for var in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    with ServerThread(_forward_proxy(seen)) as proxy:
        monkeypatch.setenv(name, proxy.url)
        conn = _connector(benefits_server.url)
        try:
            assert pid in (await conn.fetch([pid], ALL)).records
        finally:
            await conn.aclose()
        assert [s.split()[0] for s in seen] == ["POST", "GET"]  # the token, then the data
        assert all(s.split()[1].startswith(benefits_server.url) for s in seen)

        seen.clear()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = _connector(benefits_server.url)
        try:
            assert pid in (await direct.fetch([pid], ALL)).records
        finally:
            await direct.aclose()
        assert seen == []


async def test_a_netrc_naming_the_agencys_host_does_not_break_its_calls(
    benefits_server: ServerThread, population: Population, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password not-ours\n", encoding="utf-8")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    pid = population.people[0].benefits_id
    conn = _connector(benefits_server.url)
    try:
        assert pid in (await conn.fetch([pid], ALL)).records
    finally:
        await conn.aclose()


async def test_proxy_credentials_in_the_environment_go_to_the_proxy_and_not_to_the_agency(
    benefits_server: ServerThread, agency: BenefitsAgency, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import base64

    pid = population.people[0].benefits_id
    seen: list[str] = []
    given: list[str | None] = []
    for var in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    with ServerThread(_forward_proxy(seen, given)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://egress:s3cret@"))
        conn = _connector(benefits_server.url)
        try:
            assert pid in (await conn.fetch([pid], ALL)).records
        finally:
            await conn.aclose()
    expected = "Basic " + base64.b64encode(b"egress:s3cret").decode()
    assert len(seen) == 2 and given == [expected, expected]  # the token and the data, each through the proxy


def _redirecting(target: str, hits: list[str]) -> Any:
    """An agency API that answers every data request with a redirect to `target` (its token endpoint works)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, RedirectResponse, Response
    from starlette.routing import Route

    async def token(_request: Request) -> Response:
        return JSONResponse({"access_token": "t", "token_type": "bearer", "expires_in": 3600})

    async def data(request: Request) -> Response:
        hits.append(request.url.path)
        return RedirectResponse(target, status_code=302)

    return Starlette(routes=[Route("/oauth/token", token, methods=["POST"]), Route("/{path:path}", data)])


async def test_an_agency_that_redirects_is_bad_data_and_the_redirect_is_not_followed(
    benefits_server: ServerThread, population: Population,
) -> None:
    hits: list[str] = []
    pid = population.people[0].benefits_id
    # the redirect points at a working benefits API: following it would have answered
    with ServerThread(_redirecting(f"{benefits_server.url}/v1/benefits?ids={pid}", hits)) as moved:
        conn = _connector(moved.url)
        try:
            with pytest.raises(AgencyBadData) as info:
                await conn.fetch([pid], ALL)
        finally:
            await conn.aclose()
    assert "redirect" in str(info.value) and info.value.extensions["connector"] == "benefits"
    assert "base URL" in (info.value.suggestion or "")
    assert hits == ["/v1/benefits"]  # asked once, and the place it pointed to was never asked


def test_an_https_agencys_proxy_credentials_go_on_the_connect_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from yarl import URL

    from connectors.http import agency_session

    for var in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://egress:s3cret@proxy.example:3128")
    headers, options = agency_session(URL("https://benefits.example/api"), {"Accept": "application/json"})
    assert headers == {"Accept": "application/json"}  # never on the request the agency reads (inside the tunnel)
    assert options["proxy"] == URL("http://proxy.example:3128") and options["allow_redirects"] is False
    assert options["proxy_headers"]["Proxy-Authorization"].startswith("Basic ")
    monkeypatch.setenv("NO_PROXY", "benefits.example")
    assert agency_session(URL("https://benefits.example/api"), {}) == ({}, {"allow_redirects": False})
