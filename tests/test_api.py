"""The gateway over real HTTP, on SQLite and PostgreSQL, with the benefits simulator running."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from api.app import create_app
from core.errors import AuditUnavailable
from demo.benefits_sim import BenefitsAgency
from demo.population import Population
from demo.servers import ServerThread, free_port
from tests.gateway import UNLINKED_CLIENT, break_access_log, caller, events, seed_links, token

PROFILE = """query Profile($id: ID!) {
  client(id: $id) {
    id
    identity { access { agency status reason } records { firstName lastName dateOfBirth } }
    benefits {
      access { agency connector status reason asOf errorCode }
      cases { caseNumber status relationship householdSize
              programs { program status certificationStart certificationEnd amount frequency }
              notices { type issuedOn responseDueOn } }
    }
    appointments { access { status reason } items { type scheduledAt mode status agency } }
    documents { access { status reason } items { type dueOn status } }
  }
}"""


async def test_own_agency_caseworker_reads_benefits_through_the_gate(
    gateway: Any, population: Population, database_url: str
) -> None:
    person = population.people[0]
    record = population.benefits[person.benefits_id]
    body = await caller(gateway).query(PROFILE, {"id": person.client_id}, operation_name="Profile")
    assert "errors" not in body
    profile = body["data"]["client"]
    assert profile["identity"]["records"] == [
        {"firstName": person.first_name, "lastName": person.last_name, "dateOfBirth": person.dob.isoformat()}]
    benefits = profile["benefits"]
    assert benefits["access"][0]["status"] == "SHOWN" and benefits["access"][0]["asOf"]
    case = benefits["cases"][0]
    assert case["caseNumber"] == record["cases"][0]["caseNumber"]
    assert case["householdSize"] == len(record["cases"][0]["members"])
    assert [p["program"] for p in case["programs"]] == [p["program"] for p in record["cases"][0]["programs"]]
    assert profile["appointments"]["items"][0]["type"] == "RECERTIFICATION_INTERVIEW"
    assert profile["appointments"]["items"][0]["agency"] == "HRA"
    assert len(profile["documents"]["items"]) == len(record["cases"][0]["requiredDocuments"])

    (event,) = await events(database_url)
    assert (event.client_id, event.organization, event.purpose, event.operation, event.outcome) == (
        person.client_id, "HRA", "case_management", "Profile", "disclosed")
    assert {d["category"] for d in event.decisions} == {"identity", "benefits", "appointments", "documents"}
    assert all(d["rule_ids"] == ["own-agency-reads-own-records"] for d in event.decisions if d["holder"] == "HRA")
    # what the shelter system and the district hold is theirs: withheld from HRA without consent, and decided
    # (and logged) whether or not they hold anything about this person
    assert sorted((d["holder"], d["category"], d["outcome"]) for d in event.decisions if d["holder"] != "HRA") == [
        ("DHS", "identity", "withheld"), ("DOE", "identity", "withheld")]
    assert person.last_name not in str(event.__dict__)  # the log never holds the data


async def test_only_selected_sections_are_fetched_and_logged(
    gateway: Any, population: Population, database_url: str
) -> None:
    query = "query($id: ID!) { client(id: $id) { ...B } } fragment B on ClientProfile { benefits { cases { status } } }"
    body = await caller(gateway).query(query, {"id": population.people[0].client_id})
    assert body["data"]["client"]["benefits"]["cases"]
    (event,) = await events(database_url)
    assert [d["category"] for d in event.decisions] == ["benefits"]


async def test_another_agency_sees_withheld_sections_identical_with_or_without_records(
    gateway: Any, population: Population, agency: BenefitsAgency, database_url: str
) -> None:
    dhs = caller(gateway, "DHS")
    outside_shelter = next(p for p in population.people if p.hmis_id is None)  # DHS holds nothing of theirs
    held = (await dhs.query(PROFILE, {"id": outside_shelter.client_id}))["data"]["client"]
    not_held = (await dhs.query(PROFILE, {"id": UNLINKED_CLIENT}))["data"]["client"]
    for profile in (held, not_held):
        assert profile["benefits"] == {"access": [{"agency": "HRA", "connector": "benefits", "status": "WITHHELD",
                                                   "reason": "CONSENT_REQUIRED", "asOf": None, "errorCode": None}],
                                       "cases": None}
        assert profile["appointments"] == {"access": [{"status": "WITHHELD", "reason": "CONSENT_REQUIRED"}],
                                           "items": None}
    assert {k: v for k, v in held.items() if k != "id"} == {k: v for k, v in not_held.items() if k != "id"}
    assert agency.data_requests == 0  # a denied category is never fetched
    logged = await events(database_url)
    assert len(logged) == 2 and all({d["outcome"] for d in e.decisions if d["holder"] == "HRA"} == {"withheld"}
                                    for e in logged)


async def test_auditor_never_reads_client_data(gateway: Any, population: Population, database_url: str) -> None:
    client_id = population.people[0].client_id
    for purpose in ("audit", "case_management"):  # separation of duties: not for any purpose
        body = await caller(gateway, "OVERSIGHT", "auditor", purpose=purpose).query(PROFILE, {"id": client_id})
        assert body["data"]["client"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert population.people[0].last_name not in str(body)
    assert [(e.action, e.outcome, e.client_id) for e in await events(database_url)] == [
        ("read", "refused", client_id)] * 2


async def test_a_purpose_that_does_not_fit_the_role_is_a_typed_error_and_is_logged(
    gateway: Any, population: Population, database_url: str, agency: BenefitsAgency,
) -> None:
    client_id = population.people[0].client_id
    for purpose in ("audit", "client_access", "identity_stewardship"):  # HRA's own records, the wrong purposes
        body = await caller(gateway, "HRA", purpose=purpose).query(PROFILE, {"id": client_id})
        assert body["data"]["client"] is None
        error = body["errors"][0]["extensions"]
        assert error["code"] == "PURPOSE_NOT_ALLOWED"
        assert "case_management" in error["suggestion"] and "audit" not in error["suggestion"]
    assert agency.data_requests == 0
    assert {(e.action, e.outcome, e.purpose) for e in await events(database_url)} == {
        ("read", "refused", p) for p in ("audit", "client_access", "identity_stewardship")}


async def test_purpose_of_use_is_required_for_client_data(gateway: Any, population: Population) -> None:
    body = await caller(gateway, purpose=None).query(PROFILE, {"id": population.people[0].client_id})
    assert body["data"]["client"] is None
    assert body["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert "X-Purpose-Of-Use" in body["errors"][0]["extensions"]["suggestion"]
    resp = await caller(gateway, purpose="curiosity").post(PROFILE, {"id": population.people[0].client_id})
    assert resp.status_code == 400
    assert resp.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_unknown_client_is_a_typed_error(gateway: Any) -> None:
    body = await caller(gateway).query(PROFILE, {"id": "7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f"})
    assert body["data"]["client"] is None
    assert body["errors"][0]["extensions"]["code"] == "CLIENT_NOT_FOUND"


async def test_agency_down_gives_a_partial_result_with_a_typed_error(
    database_url: str, population: Population, settings_factory: Any
) -> None:
    await seed_links(database_url, population)
    settings = settings_factory(database_url=database_url, benefits_url=f"http://127.0.0.1:{free_port()}")
    with ServerThread(create_app(settings)) as server:
        gw = (settings, server)
        body = await caller(gw).query("query($id: ID!) { client(id: $id) { id benefits { cases { status } } } }",
                                      {"id": population.people[0].client_id})
        ready = httpx.get(f"{server.url}/readyz").json()
    assert body["data"]["client"] == {"id": population.people[0].client_id, "benefits": None}
    (error,) = body["errors"]
    assert error["path"] == ["client", "benefits"]
    assert error["extensions"] == {"code": "AGENCY_UNAVAILABLE", "connector": "benefits"}
    assert ready["connectors"]["benefits"]["state"] == "down"
    assert ready["connectors"]["benefits"]["lastErrorCode"] == "AGENCY_UNAVAILABLE"
    assert [e.outcome for e in await events(database_url)] == ["failed"]


async def test_malformed_agency_json_is_a_typed_error_and_is_not_cached(
    gateway: Any, population: Population, agency: BenefitsAgency
) -> None:
    q = "query($id: ID!) { client(id: $id) { benefits { cases { caseNumber } } } }"
    hra = caller(gateway)
    agency.faults.malformed = True
    body = await hra.query(q, {"id": population.people[0].client_id})
    assert body["errors"][0]["extensions"]["code"] == "AGENCY_BAD_DATA"
    assert body["data"]["client"]["benefits"] is None
    agency.faults.clear()
    body = await hra.query(q, {"id": population.people[0].client_id})
    assert "errors" not in body and body["data"]["client"]["benefits"]["cases"]


async def test_audit_log_unavailable_releases_no_data(
    gateway: Any, population: Population, database_url: str, agency: BenefitsAgency
) -> None:
    await break_access_log(database_url)
    body = await caller(gateway).query(PROFILE, {"id": population.people[0].client_id})
    assert body["data"]["client"] is None
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert population.people[0].last_name not in str(body)


@pytest.mark.parametrize(("document", "code"), [
    ("{ client(id: 1) { id ", "GRAPHQL_PARSE_FAILED"),
    ("{ nonsense }", "GRAPHQL_VALIDATION_FAILED"),
    ("{ " + " ".join(f"a{i}: me {{ subject }}" for i in range(20)) + " }", "TOO_MANY_ALIASES"),
    ("{ me { subject " + "subject " * 3000 + "} }", "QUERY_TOO_LARGE"),
    ("{ me { subject " + "#\n" * 3000 + "} }", "QUERY_TOO_LARGE"),  # comments count toward the limit
    ("{ me { subject } } } " + "x " * 3000, "GRAPHQL_PARSE_FAILED"),  # it stops at the stray brace first
    ("query { client(id: \"x\") { benefits { cases { programs { program } } } } }", "QUERY_TOO_DEEP"),
])
async def test_bad_documents_get_stable_codes_never_500(
    database_url: str, settings_factory: Any, document: str, code: str
) -> None:
    settings = settings_factory(database_url=database_url, limits={"max_depth": 3})
    with ServerThread(create_app(settings)) as server:
        resp = await caller((settings, server)).post(document)
    assert resp.status_code in (200, 400)
    assert resp.json()["errors"][0]["extensions"]["code"] == code


async def test_a_variable_of_the_wrong_shape_is_bad_input_and_never_echoed_or_logged(
    gateway: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    """graphql's own coercion of a variable (an object given for an ID) quotes the value in its message: the
    answer names the variable, never the value, and nothing is logged as if it were a fault of ours."""
    given = {"name": "Jane Roe", "dob": "1984-07-19"}
    body = await caller(gateway).query("query($id: ID!) { client(id: $id) { id } }", {"id": given})
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["variable"] == "id"
    assert "Jane Roe" not in str(body) and "Jane Roe" not in caplog.text


async def test_non_json_body_is_a_400(gateway: Any) -> None:
    settings, server = gateway
    resp = httpx.post(f"{server.url}/graphql", content=b"{not json",
                      headers={"Authorization": f"Bearer {token(settings, 'HRA', 'caseworker')}",
                               "Content-Type": "application/json"})
    assert resp.status_code == 400


async def test_request_id_is_returned_and_reused(gateway: Any) -> None:
    _, server = gateway
    resp = await caller(gateway).post("{ me { subject } }", headers={"X-Request-Id": "trace-abc-12345"})
    assert resp.headers["x-request-id"] == "trace-abc-12345"
    assert httpx.get(f"{server.url}/healthz").headers["x-request-id"]


async def test_health_and_readiness(gateway: Any) -> None:
    _, server = gateway
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "alive"}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["store"] == "up" and ready.json()["connectors"]["benefits"]["state"] == "unknown"


@pytest.mark.postgres
@pytest.mark.parametrize("empty_database_url", ["postgres"], indirect=True)
def test_production_is_not_ready_on_a_store_that_may_lose_commits(
    database_url: str, settings_factory: Any, tmp_path: Any, dev_key_file: Any,
) -> None:
    # The suite's own PostgreSQL runs with fsync and synchronous_commit off, for speed: fine for development
    # (said in /readyz), refused in production, where a crash would lose events of answers already sent.
    import json

    from api.keys import load_or_create_dev_key, public_jwks

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(load_or_create_dev_key(dev_key_file))))
    production = settings_factory(
        database_url=database_url, environment="production",
        auth={"jwks_file": jwks, "issuer": "https://idp.city.test"},
        benefits_secret="prod-secret", schooling={"client_secret": "prod-secret"},
        notify={"sms": {"auth_token": "prod-sms-token", "base_url": "https://sms.provider.test"}},
        audit={"signing_key_file": tmp_path / "audit.json"})
    with ServerThread(create_app(production)) as server:
        refused = httpx.get(f"{server.url}/readyz", timeout=30)
    with ServerThread(create_app(settings_factory(database_url=database_url))) as server:
        development = httpx.get(f"{server.url}/readyz", timeout=30)
    assert refused.status_code == 503 and refused.json()["store"] == "up"
    assert refused.json()["durabilityProblems"] == ["PostgreSQL's fsync is off",
                                                    "PostgreSQL's synchronous_commit is off"]
    assert development.status_code == 200 and development.json()["durable"] is False
    # `casebridge serve` refuses to start on it in production, before listening
    import os
    import subprocess
    import sys

    env = {**os.environ, "CASEBRIDGE_ENVIRONMENT": "production", "CASEBRIDGE_DATABASE_URL": database_url,
           "CASEBRIDGE_AUTH__JWKS_FILE": str(jwks), "CASEBRIDGE_AUTH__ISSUER": "https://idp.city.test",
           "CASEBRIDGE_BENEFITS__CLIENT_SECRET": "prod-secret", "CASEBRIDGE_SCHOOLING__CLIENT_SECRET": "prod-secret",
           "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE": str(tmp_path / "audit.json"),
           "CASEBRIDGE_NOTIFY__SMS__AUTH_TOKEN": "prod-sms-token",
           "CASEBRIDGE_NOTIFY__SMS__BASE_URL": "https://sms.provider.test"}
    serve = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--port", str(free_port())], env=env,
                           capture_output=True, text=True, timeout=60)
    assert serve.returncode == 2 and "fsync is off" in serve.stderr, serve.stderr


def test_readiness_fails_when_the_store_is_unreachable(settings_factory: Any) -> None:
    settings = settings_factory(database_url=f"postgresql+asyncpg://nobody@127.0.0.1:{free_port()}/none")
    with ServerThread(create_app(settings)) as server:
        resp = httpx.get(f"{server.url}/readyz", timeout=30)
    assert resp.status_code == 503 and resp.json()["store"] == "down"


def test_development_serves_graphiql_and_introspection(settings_factory: Any, tmp_path: Any) -> None:
    settings = settings_factory(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    with ServerThread(create_app(settings)) as server:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
        body = httpx.post(f"{server.url}/graphql", json={"query": "{ __schema { queryType { name } } }"},
                          headers={"Authorization": f"Bearer {token(settings, 'HRA', 'caseworker')}"}).json()
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_production_hides_graphiql_and_introspection(
    settings_factory: Any, tmp_path: Any, dev_key_file: Any
) -> None:
    # production with the dev key file presented as an external JWKS file, so our test tokens verify
    import json

    from api.keys import load_or_create_dev_key, public_jwks

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(load_or_create_dev_key(dev_key_file))))
    settings = settings_factory(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", environment="production",
        auth={"jwks_file": jwks, "issuer": "https://idp.city.test"}, benefits_secret="prod-secret",
        schooling={"client_secret": "prod-secret"},
        notify={"sms": {"auth_token": "prod-sms-token", "base_url": "https://sms.provider.test"}},
    )
    with ServerThread(create_app(settings)) as server:
        page = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
        body = httpx.post(f"{server.url}/graphql", json={"query": "{ __schema { queryType { name } } }"},
                          headers={"Authorization": f"Bearer {token(settings, 'HRA', 'caseworker')}"}).json()
        jwks_route = httpx.get(f"{server.url}/.well-known/jwks.json")
    assert "graphiql" not in page.text.lower()
    assert body["errors"][0]["extensions"]["code"] == "INTROSPECTION_DISABLED"
    assert jwks_route.status_code == 404




async def test_profiles_of_several_clients_are_fetched_in_one_batch(
    gateway: Any, population: Population, agency: BenefitsAgency, database_url: str
) -> None:
    ids = [p.client_id for p in population.people[:3]]
    query = "query { " + " ".join(
        f'c{i}: client(id: "{cid}") {{ id benefits {{ cases {{ caseNumber }} }} }}' for i, cid in enumerate(ids)
    ) + " }"
    body = await caller(gateway).query(query)
    assert [body["data"][f"c{i}"]["id"] for i in range(3)] == ids
    assert agency.data_requests == 1  # one agency call for the three clients, not three
    assert sorted(e.client_id for e in await events(database_url)) == sorted(ids)


async def test_unexpected_errors_are_masked(database_url: str, settings_factory: Any) -> None:
    from api.services import build_services

    class BuggyCrosswalk:  # a bug, not a failing store: its message must not reach the caller
        async def resolve(self, ids: Any) -> Any:
            raise RuntimeError("bug while reading Quorra's record")

    settings = settings_factory(database_url=database_url)
    services = build_services(settings)
    services.gate._crosswalk = BuggyCrosswalk()
    with ServerThread(create_app(settings, services=services)) as server:
        body = await caller((settings, server)).query('{ client(id: "7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f") { id } }')
    assert body["data"]["client"] is None
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["extensions"] == {"code": "INTERNAL"}


async def test_a_store_that_fails_is_audit_unavailable_not_a_bug(empty_database_url: str,
                                                                 settings_factory: Any) -> None:
    settings = settings_factory(database_url=empty_database_url)  # never migrated: every store read fails
    with ServerThread(create_app(settings)) as server:
        body = await caller((settings, server)).query('{ client(id: "7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f") { id } }')
    assert body["data"]["client"] is None
    assert body["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"


async def test_clients_list_keeps_order_and_nulls_unknown_ids(
    gateway: Any, population: Population, agency: BenefitsAgency
) -> None:
    ids = [p.client_id for p in population.people[:4]]
    body = await caller(gateway).query(
        "query($ids: [ID!]!) { clients(ids: $ids) { id benefits { cases { caseNumber } } } }",
        {"ids": [ids[2], "7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f", *ids[:2]]})
    assert [c and c["id"] for c in body["data"]["clients"]] == [ids[2], None, ids[0], ids[1]]
    assert agency.data_requests == 1
    too_many = await caller(gateway).query("query($ids: [ID!]!) { clients(ids: $ids) { id } }",
                                          {"ids": [f"00000000-0000-4000-8000-{i:012d}" for i in range(101)]})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_repeated_document_is_validated_once_with_the_limits_still_enforced() -> None:
    from resolvers.limits import validation_cache  # the process-wide LRU
    from resolvers.schema import build_schema

    schema = build_schema(cache_size=97, max_depth=3)  # a size of its own: a fresh cache
    for _ in range(3):
        assert (await schema.execute("query Q { __typename }")).errors is None
    info = validation_cache(97).cache_info()
    assert (info.misses, info.hits) == (1, 2)
    too_deep = "query { client(id: \"x\") { benefits { cases { programs { program } } } } }"
    for _ in range(2):
        result = await schema.execute(too_deep)
        assert result.errors and "exceeds maximum operation depth" in result.errors[0].message


class _SlowRecorder:
    """Takes its time over each write, then succeeds or fails as told; notes when each write finished."""

    def __init__(self, fail: BaseException | None) -> None:
        self.fail = fail
        self.finished: list[float] = []

    async def record(self, records: Any, *, session: object = None) -> None:
        await asyncio.sleep(0.3)
        self.finished.append(time.monotonic())
        if self.fail is not None:
            raise self.fail

    async def aclose(self) -> None:
        return None


@pytest.mark.parametrize("fail", [None, AuditUnavailable("the access log could not be written"),
                                  RuntimeError("a bug in a recorder")], ids=["ok", "unavailable", "bug"])
async def test_no_response_leaves_before_its_access_log_write_is_done(
    database_url: str, benefits_server: ServerThread, population: Population, settings_factory: Any,
    fail: BaseException | None,
) -> None:
    from api.services import build_services

    await seed_links(database_url, population)
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url)
    recorder = _SlowRecorder(fail)
    app = create_app(settings, services=build_services(settings, recorder=recorder))
    person = population.people[0]
    with ServerThread(app) as server:
        body = await caller((settings, server)).query(PROFILE, {"id": person.client_id})
        received = time.monotonic()
    assert len(recorder.finished) == 1 and recorder.finished[0] <= received
    if fail is None:
        assert "errors" not in body and body["data"]["client"]["benefits"]["cases"]
    else:
        assert body["data"] == {"client": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["AUDIT_UNAVAILABLE"]
        assert person.last_name not in str(body) and "a bug" not in str(body)


HOUSING = """query($id: ID!) { client(id: $id) {
  housing { access { agency connector status reason asOf } inShelterNow
            enrollments { enrollmentId projectName projectTypeName entryDate moveInDate exitDate destinationClass
                          status } }
  benefits { access { status reason } cases { caseNumber } } } }"""


async def test_the_shelter_system_shows_its_own_stays_and_other_agencies_need_consent(
    gateway: Any, population: Population
) -> None:
    from tests.gateway import HMIS_EXPORTED_AT
    from tests.test_hmis import truth_in_shelter

    sheltered = [p for p in population.people if p.hmis_id]
    assert sheltered and any(truth_in_shelter(population, p.hmis_id) for p in sheltered if p.hmis_id)
    dhs, hra = caller(gateway, "DHS"), caller(gateway, "HRA")
    for person in sheltered:
        assert person.hmis_id is not None
        body = await dhs.query(HOUSING, {"id": person.client_id})
        assert "errors" not in body, body
        housing = body["data"]["client"]["housing"]
        assert housing["access"] == [{"agency": "DHS", "connector": "housing", "status": "SHOWN", "reason": None,
                                      "asOf": HMIS_EXPORTED_AT.isoformat() + "+00:00"}]
        truth = [e for e in population.hmis.enrollments if e["PersonalID"] == person.hmis_id]
        assert sorted(e["enrollmentId"] for e in housing["enrollments"]) == sorted(
            str(e["EnrollmentID"]) for e in truth)
        assert housing["inShelterNow"] is truth_in_shelter(population, person.hmis_id)
        assert body["data"]["client"]["benefits"]["access"][0]["reason"] == "CONSENT_REQUIRED"  # HRA's, not DHS's
        other = (await hra.query(HOUSING, {"id": person.client_id}))["data"]["client"]["housing"]
        assert other == {"access": [{"agency": "DHS", "connector": "housing", "status": "WITHHELD",
                                     "reason": "CONSENT_REQUIRED", "asOf": None}],
                         "inShelterNow": None, "enrollments": None}
