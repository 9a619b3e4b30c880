"""Consents over HTTP: recorded, enforced at the gate, revoked from the very next request, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from demo.benefits_sim import BenefitsAgency
from demo.population import Population
from store.engine import make_engine, make_sessionmaker
from store.tables import BreakGlassGrant, ConsentVersion
from tests.gateway import caller, events

SECTIONS = """query($id: ID!) { client(id: $id) {
  benefits { access { status reason } cases { caseNumber } }
  appointments { access { status reason } items { type } }
  documents { access { status reason } items { type } }
} }"""
RECORD = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) {
  id status version clientId recordedByOrganization provisions { type organizations categories purposes }
  fhir } }"""
REVOKE = "mutation($id: ID!) { revokeConsent(id: $id, reason: \"client asked\") { id status revokedAt } }"
GIVEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def consent_input(client_id: str, **provision: Any) -> dict[str, Any]:
    return {"clientId": client_id, "grantor": "CLIENT", "sourceReference": "DHS-INTAKE-FORM/2026/0042",
            "givenAt": GIVEN, "provisions": [{
                "type": "PERMIT", "organizations": ["DHS"], "categories": ["APPOINTMENTS", "DOCUMENTS"],
                "purposes": ["CASE_MANAGEMENT"], **provision}]}


def statuses(profile: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {name: (s["access"][0]["status"], s["access"][0]["reason"]) for name, s in profile.items()}


async def test_consent_opens_exactly_its_categories_for_its_purpose(
    gateway: Any, population: Population, database_url: str
) -> None:
    cid = population.people[0].client_id
    dhs = caller(gateway, "DHS")
    recorded = await dhs.query(RECORD, {"input": consent_input(cid)})
    assert "errors" not in recorded, recorded
    consent = recorded["data"]["recordConsent"]
    assert (consent["status"], consent["version"], consent["recordedByOrganization"]) == ("ACTIVE", 1, "DHS")

    profile = (await dhs.query(SECTIONS, {"id": cid}))["data"]["client"]
    assert statuses(profile) == {"benefits": ("WITHHELD", "CONSENT_REQUIRED"), "appointments": ("SHOWN", None),
                                 "documents": ("SHOWN", None)}
    assert profile["appointments"]["items"][0]["type"] == "RECERTIFICATION_INTERVIEW"

    other_purpose = caller(gateway, "DHS", purpose="eligibility")
    profile = (await other_purpose.query(SECTIONS, {"id": cid}))["data"]["client"]
    assert statuses(profile)["appointments"] == ("WITHHELD", "CONSENT_REQUIRED")

    read = [e for e in await events(database_url) if e.action == "read"][0]
    by_cat = {d["category"]: d for d in read.decisions}
    assert by_cat["appointments"]["rule_ids"] == ["consent-permits-grantee"]
    assert by_cat["appointments"]["consent_id"] == consent["id"] and by_cat["appointments"]["basis"] == "consent"
    assert by_cat["benefits"]["outcome"] == "withheld" and by_cat["benefits"]["reason"] == "CONSENT_REQUIRED"
    assert [e.action for e in await events(database_url)][0] == "consent.record"


async def test_revocation_takes_effect_on_the_very_next_request(
    gateway: Any, population: Population, database_url: str, agency: BenefitsAgency
) -> None:
    cid = population.people[1].client_id
    dhs = caller(gateway, "DHS")
    consent_id = (await dhs.query(RECORD, {"input": consent_input(cid)}))["data"]["recordConsent"]["id"]
    assert statuses((await dhs.query(SECTIONS, {"id": cid}))["data"]["client"])["documents"] == ("SHOWN", None)
    calls_before = agency.data_requests
    revoked = (await caller(gateway, "DHS", sub="another-worker").query(REVOKE, {"id": consent_id}))
    assert revoked["data"]["revokeConsent"]["status"] == "INACTIVE" and revoked["data"]["revokeConsent"]["revokedAt"]
    profile = (await dhs.query(SECTIONS, {"id": cid}))["data"]["client"]
    assert statuses(profile)["documents"] == ("WITHHELD", "CONSENT_REVOKED")
    assert profile["documents"]["items"] is None
    assert agency.data_requests == calls_before  # nothing fetched once nothing is permitted
    assert [e.action for e in await events(database_url) if e.action.startswith("consent")] == [
        "consent.record", "consent.revoke"]


async def test_roles_that_may_not_record_consent_get_forbidden(gateway: Any, population: Population) -> None:
    cid = population.people[0].client_id
    for org, role in [("OVERSIGHT", "auditor"), ("HRA", "identity_steward"), ("HRA", "admin")]:
        body = await caller(gateway, org, role).query(RECORD, {"input": consent_input(cid)})
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    other = await caller(gateway, "NOBODY", "client", self_client="someone-else").query(
        RECORD, {"input": consent_input(cid)})
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_bad_consent_input_is_refused_and_nothing_is_written(
    gateway: Any, population: Population, database_url: str
) -> None:
    cid = population.people[0].client_id
    dhs = caller(gateway, "DHS")
    cases = [
        ({"purposes": []}, "BAD_USER_INPUT"),
        ({"organizations": []}, "BAD_USER_INPUT"),
        ({"periodStart": "2027-01-01T00:00:00+00:00", "periodEnd": "2026-01-01T00:00:00+00:00"}, "BAD_USER_INPUT"),
        ({"type": "DENY", "dataPeriodStart": "2025-01-01"}, "BAD_USER_INPUT"),
        ({"dataPeriodStart": "2026-01-01", "dataPeriodEnd": "2025-01-01"}, "BAD_USER_INPUT"),
    ]
    for provision, code in cases:
        body = await dhs.query(RECORD, {"input": consent_input(cid, **provision)})
        assert body["errors"][0]["extensions"]["code"] == code, provision
    body = await dhs.query(RECORD, {"input": {**consent_input("7f1c2b9e-0d3a-4c55-9f6e-2a8b1c0d9e7f")}})
    assert body["errors"][0]["extensions"]["code"] == "CLIENT_NOT_FOUND"
    body = await dhs.query(RECORD, {"input": {**consent_input(cid), "sourceReference": " "}})
    assert body["errors"][0]["extensions"]["field"] == "sourceReference"
    assert (await dhs.query("query($id: ID!) { consents(clientId: $id) { id } }", {"id": cid}))["data"] == {
        "consents": []}
    assert [e.action for e in await events(database_url)] == ["consent.read"]


async def test_partner_reaches_only_clients_who_consented_to_it(gateway: Any, population: Population) -> None:
    consented, other = population.people[2].client_id, population.people[3].client_id
    legal_aid = caller(gateway, "LEGALAID", "partner")
    await caller(gateway, "DHS").query(RECORD, {"input": consent_input(consented, organizations=["LEGALAID"])})
    yes = (await legal_aid.query(SECTIONS, {"id": consented}))["data"]["client"]
    no = (await legal_aid.query(SECTIONS, {"id": other}))["data"]["client"]
    assert statuses(yes)["appointments"] == ("SHOWN", None)
    assert statuses(no) == {k: ("WITHHELD", "CONSENT_REQUIRED") for k in ("benefits", "appointments", "documents")}


async def test_a_client_reads_their_own_profile_only(gateway: Any, population: Population) -> None:
    me, someone = population.people[0].client_id, population.people[1].client_id
    client = caller(gateway, "SELF", "client", purpose="client_access", self_client=me)
    mine = (await client.query(SECTIONS, {"id": me}))["data"]["client"]
    assert statuses(mine)["benefits"] == ("SHOWN", None) and mine["benefits"]["cases"]
    theirs = await client.query(SECTIONS, {"id": someone})
    assert theirs["data"]["client"] is None and theirs["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # by their client identity alone: a token claiming an agency's organisation changes nothing
    claiming = caller(gateway, "HRA", "client", purpose="client_access", self_client=me)
    assert (await claiming.query(SECTIONS, {"id": someone}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    as_staff = caller(gateway, "HRA", "client", purpose="case_management", self_client=me)
    assert (await as_staff.query(SECTIONS, {"id": someone}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_break_glass_is_justified_time_limited_and_flagged(
    gateway: Any, population: Population, database_url: str
) -> None:
    cid = population.people[4].client_id
    start = """mutation($id: ID!, $why: String!) { startBreakGlass(clientId: $id, justification: $why, minutes: 30)
               { id expiresAt } }"""
    why = "Client collapsed at intake; need current benefits and appointments to coordinate care"
    refused = await caller(gateway, "DHS").query(start, {"id": cid, "why": why})
    assert refused["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_ALLOWED"
    assert refused["errors"][0]["extensions"]["suggestion"] == "Send X-Purpose-Of-Use with one of: emergency."
    emergency = caller(gateway, "DHS", purpose="emergency")
    short = await emergency.query(start, {"id": cid, "why": "because"})
    assert short["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    grant = (await emergency.query(start, {"id": cid, "why": why}))["data"]["startBreakGlass"]
    expires = datetime.fromisoformat(grant["expiresAt"])
    assert timedelta(minutes=29) < expires - datetime.now(UTC) <= timedelta(minutes=30)

    profile = (await emergency.query(SECTIONS, {"id": cid}))["data"]["client"]
    assert statuses(profile)["benefits"] == ("SHOWN", None)
    everyone_else = (await caller(gateway, "DHS", sub="colleague", purpose="emergency").query(
        SECTIONS, {"id": cid}))["data"]["client"]
    assert statuses(everyone_else)["benefits"] == ("WITHHELD", "CONSENT_REQUIRED")  # the grant is personal

    log = await events(database_url)
    refusal, started = [e for e in log if e.action == "break-glass.start"]
    assert (refusal.outcome, refusal.purpose, refusal.break_glass) == ("refused", "case_management", False)
    read = [e for e in log if e.action == "read" and e.subject == "tester"][0]
    assert started.outcome == "performed"
    assert (started.action, started.break_glass, started.justification) == ("break-glass.start", True, why)
    assert (read.break_glass, read.legal_basis, read.justification) == (True, "break-glass", why)
    assert read.decisions[0]["rule_ids"] == ["break-glass-emergency"]

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await session.execute(update(BreakGlassGrant).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    finally:
        await engine.dispose()
    profile = (await emergency.query(SECTIONS, {"id": cid}))["data"]["client"]
    assert statuses(profile)["benefits"] == ("WITHHELD", "CONSENT_REQUIRED")


async def test_ferpa_basis_needs_justification_and_emergency_purpose(gateway: Any, population: Population) -> None:
    q = """query($id: ID!, $why: String!) { client(id: $id, legalBasis: {basis: FERPA_99_36, justification: $why})
           { benefits { access { status reason } } } }"""
    cid = population.people[0].client_id
    short = await caller(gateway, "DOE", purpose="emergency").query(q, {"id": cid, "why": "urgent"})
    assert short["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    wrong_purpose = await caller(gateway, "DOE").query(q, {"id": cid, "why": "student missing since Monday, police"})
    assert wrong_purpose["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    ok = await caller(gateway, "DOE", purpose="emergency").query(q, {"id": cid, "why": "student missing since Monday"})
    # FERPA 99.36 covers education records only: benefits stay withheld
    assert ok["data"]["client"]["benefits"]["access"][0] == {"status": "WITHHELD", "reason": "CONSENT_REQUIRED"}


async def test_amend_keeps_history_and_consents_are_visible_only_to_those_involved(
    gateway: Any, population: Population, database_url: str
) -> None:
    cid = population.people[5].client_id
    dhs = caller(gateway, "DHS")
    consent_id = (await dhs.query(RECORD, {"input": consent_input(cid)}))["data"]["recordConsent"]["id"]
    amend = """mutation($id: ID!, $p: [ConsentProvisionInput!]!) { amendConsent(id: $id, provisions: $p)
               { version provisions { categories } } }"""
    new = [{"organizations": ["DHS"], "categories": ["BENEFITS"], "purposes": ["CASE_MANAGEMENT"]}]
    amended = (await dhs.query(amend, {"id": consent_id, "p": new}))["data"]["amendConsent"]
    assert amended == {"version": 2, "provisions": [{"categories": ["BENEFITS"]}]}
    assert statuses((await dhs.query(SECTIONS, {"id": cid}))["data"]["client"])["benefits"] == ("SHOWN", None)
    hra_amend = await caller(gateway, "HRA").query(amend, {"id": consent_id, "p": new})
    assert hra_amend["errors"][0]["extensions"]["code"] == "CONSENT_NOT_FOUND"  # not involved: not revealed

    listing = "query($id: ID!) { consents(clientId: $id) { id version } }"
    assert (await dhs.query(listing, {"id": cid}))["data"]["consents"] == [{"id": consent_id, "version": 2}]
    assert (await caller(gateway, "HRA").query(listing, {"id": cid}))["data"]["consents"] == []
    own = caller(gateway, "SELF", "client", purpose="client_access", self_client=cid)
    assert len((await own.query(listing, {"id": cid}))["data"]["consents"]) == 1
    auditor = await caller(gateway, "OVERSIGHT", "auditor").query(listing, {"id": cid})
    assert auditor["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            history = list((await session.execute(select(ConsentVersion))).scalars())
    finally:
        await engine.dispose()
    assert [(h.consent_id, h.version) for h in history] == [(consent_id, 1)]
    assert history[0].snapshot["provisions"][0]["categories"] == ["appointments", "documents"]


async def test_consent_exports_as_a_fhir_consent(gateway: Any, population: Population) -> None:
    cid = population.people[0].client_id
    fhir = (await caller(gateway, "DHS").query(RECORD, {"input": consent_input(cid)}))["data"]["recordConsent"]["fhir"]
    assert fhir["resourceType"] == "Consent" and fhir["status"] == "active"
    for required in ("scope", "category", "patient", "dateTime", "policy", "provision"):  # R4: scope, category 1..*
        assert fhir[required], required
    assert fhir["patient"] == {"reference": f"Patient/{cid}"}
    assert fhir["scope"]["coding"][0]["code"] == "patient-privacy"
    (exception,) = fhir["provision"]["provision"]
    assert fhir["provision"]["type"] == "deny" and exception["type"] == "permit"
    assert exception["actor"][0]["reference"]["identifier"]["value"] == "DHS"
    assert {c["code"] for c in exception["class"]} == {"appointments", "documents"}
    assert exception["purpose"] == [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                     "code": "CAREMGT"}]


async def test_a_consent_limited_to_a_period_of_data_shows_only_records_inside_it(
    gateway: Any, population: Population
) -> None:
    person = population.people[6]
    case = population.benefits[person.benefits_id]["cases"][0]
    interview = datetime.fromisoformat(case["appointments"][0]["scheduledAt"]).date()
    cid = person.client_id
    dhs = caller(gateway, "DHS")
    window = {"dataPeriodStart": interview.isoformat(), "dataPeriodEnd": interview.isoformat()}
    body = await dhs.query(RECORD, {"input": consent_input(cid, **window)})
    assert body["data"]["recordConsent"]["fhir"]["provision"]["provision"][0]["dataPeriod"] == {
        "start": interview.isoformat(), "end": interview.isoformat()}
    query = """query($id: ID!) { client(id: $id) {
      appointments { access { status limitedToDataPeriod } items { scheduledAt } }
      documents { access { status limitedToDataPeriod } items { dueOn } } } }"""
    profile = (await dhs.query(query, {"id": cid}))["data"]["client"]
    assert profile["appointments"]["access"][0] == {"status": "SHOWN", "limitedToDataPeriod": True}
    assert [a["scheduledAt"][:10] for a in profile["appointments"]["items"]] == [interview.isoformat()]
    expected_docs = sorted(d["dueOn"] for d in case["requiredDocuments"] if d["dueOn"] == interview.isoformat())
    assert sorted(d["dueOn"] for d in profile["documents"]["items"]) == expected_docs

    # a second consent without a data period lifts the limit
    await dhs.query(RECORD, {"input": consent_input(cid)})
    profile = (await dhs.query(query, {"id": cid}))["data"]["client"]
    assert profile["documents"]["access"][0]["limitedToDataPeriod"] is False
    assert len(profile["documents"]["items"]) == len(case["requiredDocuments"])
