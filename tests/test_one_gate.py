"""Every operation through the one gate, over HTTP: the defects an outside review found, each as a user meets it.

Each test names the defect it pins down; each failed before the operations were Cedar actions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from demo.population import Person, Population
from store.engine import make_engine
from tests.gateway import break_access_log, caller, events

GIVEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
RECORD = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""
REVOKE = "mutation($id: ID!) { revokeConsent(id: $id) { id revokedAt } }"
AMEND = """mutation($id: ID!, $p: [ConsentProvisionInput!]!) { amendConsent(id: $id, provisions: $p) { id } }"""
REPORT = "query($id: ID!) { disclosureReport(clientId: $id) { organization category basis } }"
SEARCH = """query($input: ClientSearchInput!) { searchClients(input: $input) { grade matchedOn client { id } } }"""
PROFILE = """query($id: ID!) { client(id: $id) {
  identity { access { agency status reason } }
  benefits { access { agency status reason basis } cases { caseNumber } }
  schooling { access { agency status reason basis } students { currentSchool } } } }"""
FERPA = """query($id: ID!, $why: String!) { client(id: $id, legalBasis: {basis: FERPA_99_36, justification: $why}) {
  benefits { access { agency status reason } }
  schooling { access { agency status reason basis } students { currentSchool } } } }"""
NOTES = """query($id: ID!) { client(id: $id) { casework {
  access { agency status reason basis } notes { agency text sharedWithClient } } } }"""
ADD_NOTE = """mutation($id: ID!, $text: String!, $shared: Boolean!) {
  addCaseNote(clientId: $id, text: $text, sharedWithClient: $shared) { id agency sharedWithClient } }"""
WHY = "Student missing since Monday; police involved; need the school of record now"


def provision(org: str, *cats: str, kind: str = "PERMIT", purposes: tuple[str, ...] = ("CASE_MANAGEMENT",),
              holders: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": kind, "organizations": [org], "categories": list(cats), "purposes": list(purposes),
            "holders": list(holders)}


async def record(gw: Any, org: str, client_id: str, *provisions: dict[str, Any]) -> str:
    body = await caller(gw, org).query(RECORD, {"input": {
        "clientId": client_id, "grantor": "CLIENT", "sourceReference": f"{org}-FORM-1", "givenAt": GIVEN,
        "provisions": list(provisions)}})
    assert "errors" not in body, body
    consent_id: str = body["data"]["recordConsent"]["id"]
    return consent_id


def code(body: dict[str, Any]) -> str:
    value: str = body["errors"][0]["extensions"]["code"]
    return value


def statuses(section: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {a["agency"]: (a["status"], a["reason"]) for a in section["access"]}


async def test_a_disclosure_report_is_for_the_client_and_those_who_may_see_them(
    gateway: Any, population: Population, database_url: str,
) -> None:
    """Defect 1: any caseworker read any client's disclosure report (the role alone was checked), and the read
    was logged as withheld although the report was shown."""
    person = population.people[0]
    await caller(gateway, "HRA").query(PROFILE, {"id": person.client_id})  # something to report: HRA read it
    for org, role in (("NYLAG", "caseworker"), ("PARKS", "caseworker"), ("LEGALAID", "partner")):
        refused = await caller(gateway, org, role).query(REPORT, {"id": person.client_id})
        assert refused["data"] is None and code(refused) == "FORBIDDEN", org
    hra = await caller(gateway, "HRA").query(REPORT, {"id": person.client_id})  # HRA holds the client's record
    assert "errors" not in hra, hra
    mine = await caller(gateway, "SELF", "client", purpose="client_access", self_client=person.client_id).query(
        REPORT, {"id": person.client_id})
    assert mine["data"]["disclosureReport"] == hra["data"]["disclosureReport"] != []
    # a partner the client consented to (identity included) acts for the client
    await record(gateway, "HRA", person.client_id, provision("LEGALAID", "IDENTITY"))
    partner = await caller(gateway, "LEGALAID", "partner").query(REPORT, {"id": person.client_id})
    assert "errors" not in partner, partner
    logged = [(e.organization, e.outcome) for e in await events(database_url) if e.action == "disclosure-report.read"]
    assert logged == [("NYLAG", "refused"), ("PARKS", "refused"), ("LEGALAID", "refused"), ("HRA", "disclosed"),
                      ("SELF", "disclosed"), ("LEGALAID", "disclosed")]


def _only_at_benefits(population: Population) -> Person:
    return next(p for p in population.people if p.cin and p.benefits_id and not p.hmis_id and not p.student_id)


async def test_search_shows_a_candidate_only_where_an_existing_identity_record_may_be_seen(
    indexed_gateway: Any, population: Population,
) -> None:
    """Defect 2: a DOE or DHS caseworker searching the CIN of a person only HRA holds got a CERTAIN candidate
    with its client id (their own, empty identity section counted as shown)."""
    indexed, _sessions = indexed_gateway
    person = _only_at_benefits(population)
    terms = {"cin": person.cin}
    found = await caller(indexed, "HRA").query(SEARCH, {"input": terms})
    assert [c["client"]["id"] for c in found["data"]["searchClients"]] == [person.client_id]
    for org in ("DOE", "DHS"):
        assert await caller(indexed, org).query(SEARCH, {"input": terms}) == {"data": {"searchClients": []}}, org
    unknown = {"cin": "ZZ99999Z"}
    for org in ("DOE", "LEGALAID"):  # the same answer for a person in the index and for nobody
        assert await caller(indexed, org).query(SEARCH, {"input": unknown}) == {"data": {"searchClients": []}}
    # consent to DHS covering identity: now DHS may see the existing HRA record, so the candidate shows
    await record(indexed, "HRA", person.client_id, provision("DHS", "IDENTITY"))
    now = await caller(indexed, "DHS").query(SEARCH, {"input": terms})
    assert [c["client"]["id"] for c in now["data"]["searchClients"]] == [person.client_id]


async def test_the_purpose_is_bound_to_the_operation(gateway: Any, population: Population) -> None:
    """Defect 3: a caseworker read own-agency data for the purposes audit, client_access or identity_stewardship;
    an auditor read the access log with no purpose at all."""
    log = "{ accessLog(first: 5) { edges { node { action } } } }"
    unsaid = await caller(gateway, "OVERSIGHT", "auditor", purpose=None).query(log)
    assert code(unsaid) == "PURPOSE_REQUIRED" and "audit" in unsaid["errors"][0]["extensions"]["suggestion"]
    wrong = await caller(gateway, "OVERSIGHT", "auditor", purpose="case_management").query(log)
    assert code(wrong) == "PURPOSE_NOT_ALLOWED"
    assert "errors" not in await caller(gateway, "OVERSIGHT", "auditor", purpose="audit").query(log)
    for purpose in ("audit", "client_access", "identity_stewardship"):
        body = await caller(gateway, "HRA", purpose=purpose).query(PROFILE, {"id": population.people[0].client_id})
        assert code(body) == "PURPOSE_NOT_ALLOWED", purpose


async def test_a_refused_organisation_cannot_lift_its_own_refusal(
    gateway: Any, population: Population, database_url: str,
) -> None:
    """Defect 4: LEGALAID, refused by a deny provision, revoked that deny (being named in it counted as being
    involved) and read the benefits next."""
    cid = population.people[1].client_id
    await record(gateway, "HRA", cid, provision("LEGALAID", "BENEFITS"))
    deny = await record(gateway, "HRA", cid, provision("LEGALAID", "BENEFITS", kind="DENY", purposes=()))
    legal_aid = caller(gateway, "LEGALAID", "partner")
    before = (await legal_aid.query(PROFILE, {"id": cid}))["data"]["client"]["benefits"]
    assert statuses(before) == {"HRA": ("WITHHELD", "CONSENT_DENIED")}
    tried = await legal_aid.query(REVOKE, {"id": deny})
    assert code(tried) == "FORBIDDEN" and tried["data"] is None
    amended = await legal_aid.query(AMEND, {"id": deny, "p": [provision("LEGALAID", "BENEFITS")]})
    assert code(amended) == "FORBIDDEN"
    after = (await legal_aid.query(PROFILE, {"id": cid}))["data"]["client"]["benefits"]
    assert statuses(after) == {"HRA": ("WITHHELD", "CONSENT_DENIED")} and after["cases"] is None
    # an organisation it merely names as grantee may not change it either; the recorder and the client may
    other = await record(gateway, "HRA", cid, provision("DHS", "DOCUMENTS"))
    assert code(await caller(gateway, "DHS").query(REVOKE, {"id": other})) == "FORBIDDEN"
    client = caller(gateway, "SELF", "client", purpose="client_access", self_client=cid)
    assert "errors" not in await client.query(REVOKE, {"id": deny})
    assert "errors" not in await caller(gateway, "HRA").query(REVOKE, {"id": other})
    refused = [(e.organization, e.action) for e in await events(database_url) if e.outcome == "refused"]
    assert refused == [("LEGALAID", "consent.revoke"), ("LEGALAID", "consent.amend"), ("DHS", "consent.revoke")]


async def test_a_legal_basis_opens_only_its_own_category_to_appropriate_parties(
    gateway: Any, population: Population,
) -> None:
    """Defect 5: FERPA 99.36 opened schooling to any organisation's caseworker (over the client's refusal), and
    a claim changed other categories' reasons (a refused benefits section said CONSENT_REQUIRED)."""
    pupil = next(p for p in population.people if p.student_id and p.benefits_id)
    for org in ("PARKS", "DHS"):
        await record(gateway, "HRA", pupil.client_id, provision(org, "BENEFITS", "SCHOOLING", kind="DENY",
                                                                purposes=()))
    parks = await caller(gateway, "PARKS", purpose="emergency").query(FERPA, {"id": pupil.client_id, "why": WHY})
    profile = parks["data"]["client"]
    assert statuses(profile["schooling"]) == {"DOE": ("WITHHELD", "CONSENT_DENIED")}
    assert profile["schooling"]["students"] is None
    assert statuses(profile["benefits"]) == {"HRA": ("WITHHELD", "CONSENT_DENIED")}
    dhs = await caller(gateway, "DHS", purpose="emergency").query(FERPA, {"id": pupil.client_id, "why": WHY})
    shown = dhs["data"]["client"]
    assert [a["basis"] for a in shown["schooling"]["access"]] == ["FERPA_99_36"] and shown["schooling"]["students"]
    assert statuses(shown["benefits"]) == {"HRA": ("WITHHELD", "CONSENT_DENIED")}  # the claim reaches no further


async def test_an_unwritable_access_log_answers_the_same_for_every_operation(
    gateway: Any, population: Population, database_url: str,
) -> None:
    """Defect 6: on an unwritable store reads answered AUDIT_UNAVAILABLE but startBreakGlass and recordConsent
    INTERNAL, and /readyz still said ready."""
    _settings, server = gateway
    assert httpx.get(f"{server.url}/readyz").json()["accessLog"] == "writable"
    await break_access_log(database_url)
    cid = population.people[2].client_id
    glass = """mutation($id: ID!, $why: String!) {
      startBreakGlass(clientId: $id, justification: $why, minutes: 5) { id } }"""
    attempts = [
        await caller(gateway, "HRA").query(PROFILE, {"id": cid}),
        await caller(gateway, "DHS", purpose="emergency").query(glass, {"id": cid, "why": WHY}),
        await caller(gateway, "HRA").query(RECORD, {"input": {
            "clientId": cid, "grantor": "CLIENT", "sourceReference": "F-1", "givenAt": GIVEN,
            "provisions": [provision("DHS", "DOCUMENTS")]}}),
        await caller(gateway, "HRA").query("query($id: ID!) { consents(clientId: $id) { id } }", {"id": cid}),
        await caller(gateway, "HRA").query(ADD_NOTE, {"id": cid, "text": "note", "shared": False}),
        await caller(gateway, "OVERSIGHT", "auditor", purpose="audit").query("{ accessSummary { events } }"),
        await caller(gateway, "PARKS").query(REPORT, {"id": cid}),  # a refusal, too, must be on record
        await caller(gateway, "CITY", "identity_steward", purpose="identity_stewardship").query(
            "{ identityReviewQueue { withheld } }"),
    ]
    assert [code(a) for a in attempts] == ["AUDIT_UNAVAILABLE"] * len(attempts)
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 503 and ready.json()["accessLog"] == "not writable"


async def test_a_provision_may_name_the_holder_of_the_data_it_covers(gateway: Any, population: Population) -> None:
    """Consent: "my school records held by DOE, to DHS" - and no other holder's."""
    pupil = next(p for p in population.people if p.student_id and p.benefits_id)
    await record(gateway, "HRA", pupil.client_id, provision("DHS", "SCHOOLING", "BENEFITS", holders=("DOE",)))
    shown = (await caller(gateway, "DHS").query(PROFILE, {"id": pupil.client_id}))["data"]["client"]
    assert [(a["agency"], a["status"], a["basis"]) for a in shown["schooling"]["access"]] == [
        ("DOE", "SHOWN", "CONSENT")]
    assert statuses(shown["benefits"]) == {"HRA": ("WITHHELD", "CONSENT_REQUIRED")}  # HRA holds these: not covered


async def test_case_notes_are_held_here_and_decided_like_an_agency_s_records(
    gateway: Any, population: Population, database_url: str,
) -> None:
    """Records casebridge holds itself: a note is its writer's organisation's; another organisation reads it only
    with the client's consent naming casework; the client only if it was shared; withheld notes leave no trace."""
    noted, quiet = [p.client_id for p in population.people if p.benefits_id and not p.hmis_id][:2]  # not DHS's
    hra = caller(gateway, "HRA")
    for cid in (noted,):
        for text_, shared in (("Birth certificate requested from the registry", True),
                              ("Client seemed unwell; follow up", False)):
            added = await hra.query(ADD_NOTE, {"id": cid, "text": text_, "shared": shared})
            assert added["data"]["addCaseNote"]["agency"] == "HRA", added
    mine = (await hra.query(NOTES, {"id": noted}))["data"]["client"]["casework"]
    assert [n["text"] for n in mine["notes"]] == ["Client seemed unwell; follow up",
                                                   "Birth certificate requested from the registry"]
    assert [(a["agency"], a["status"], a["basis"]) for a in mine["access"]] == [("HRA", "SHOWN", "OWN_AGENCY")]
    # DHS: its own (empty) part only; HRA's notes leave no trace, with notes held or not
    dhs = caller(gateway, "DHS")
    with_notes = (await dhs.query(NOTES, {"id": noted}))["data"]["client"]["casework"]
    without = (await dhs.query(NOTES, {"id": quiet}))["data"]["client"]["casework"]
    assert with_notes == without == {"access": [{"agency": "DHS", "status": "SHOWN", "reason": None,
                                                 "basis": "OWN_AGENCY"}], "notes": []}
    # DHS may not write a note about a client it cannot see; with consent to identity and casework it may read
    refused = await dhs.query(ADD_NOTE, {"id": noted, "text": "x", "shared": False})
    assert code(refused) == "FORBIDDEN"
    await record(gateway, "HRA", noted, provision("DHS", "CASEWORK"))
    read = (await dhs.query(NOTES, {"id": noted}))["data"]["client"]["casework"]
    assert [n["agency"] for n in read["notes"]] == ["HRA", "HRA"]
    assert ("HRA", "SHOWN") in [(a["agency"], a["status"]) for a in read["access"]]
    # the client reads only what HRA shared with them
    client = caller(gateway, "SELF", "client", purpose="client_access", self_client=noted)
    theirs = (await client.query(NOTES, {"id": noted}))["data"]["client"]["casework"]
    assert [n["text"] for n in theirs["notes"]] == ["Birth certificate requested from the registry"]
    # an auditor never; a partner without consent neither
    assert code(await caller(gateway, "OVERSIGHT", "auditor", purpose="audit").query(NOTES, {"id": noted})) == (
        "FORBIDDEN")
    partner = (await caller(gateway, "LEGALAID", "partner").query(NOTES, {"id": noted}))["data"]["client"]
    assert partner["casework"]["notes"] == []  # its own part (nothing written), HRA's not there
    bad = await hra.query(ADD_NOTE, {"id": noted, "text": " ", "shared": False})
    assert code(bad) == "BAD_USER_INPUT"
    written = [e for e in await events(database_url) if e.action == "case-note.add"]
    assert [(e.organization, e.outcome) for e in written] == [("HRA", "performed")] * 2 + [("DHS", "refused")]
    assert all("Birth" not in str(e.__dict__) for e in await events(database_url))  # no note text in the log


async def test_a_steward_s_decision_is_not_made_when_it_cannot_be_logged(
    indexed_gateway: Any, population: Population, database_url: str,
) -> None:
    """Every operation, the index's decisions included: no access-log event, no change."""
    indexed, _sessions = indexed_gateway
    a = next(p for p in population.people if p.benefits_id)
    b = next(p for p in population.people if p.hmis_id and p.client_id != a.client_id)
    await break_access_log(database_url)
    steward = caller(indexed, "CITY", "identity_steward", purpose="identity_stewardship")
    link = await steward.query(
        'mutation($a: String!, $b: String!) { linkRecords(a: {source: "benefits", localId: $a}, '
        'b: {source: "hmis", localId: $b}, reason: "same person, per the signed intake form") { merged } }',
        {"a": a.benefits_id, "b": b.hmis_id})
    assert code(link) == "AUDIT_UNAVAILABLE", link
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:  # the two records still belong to their own clients
            rows = (await conn.execute(text("SELECT local_id, client_id FROM source_links WHERE local_id IN "
                                            "(:a, :b)"), {"a": a.benefits_id, "b": b.hmis_id})).all()
    finally:
        await engine.dispose()
    assert dict(rows) == {a.benefits_id: a.client_id, b.hmis_id: b.client_id}
