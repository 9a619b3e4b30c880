"""Identity over GraphQL, through the whole gateway: searchClients filtered by the consent policies, the steward's
review queue, decisions and explanations, and the access log around them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from audit.queries import disclosures
from demo.population import Person, Population
from identity.index import write_records
from identity.online import place
from tests.gateway import caller, events

SEARCH = """query Find($input: ClientSearchInput!) {
  searchClients(input: $input) { grade score matchedOn client { id identity { records { agency firstName } } } }
}"""
QUEUE = """query Queue($first: Int!, $after: String) { identityReviewQueue(first: $first, after: $after) {
  hasNextPage endCursor withheld
  items { id grade score a { source localId clientId firstName lastName dateOfBirth ssnLast4 address zip }
          b { source localId clientId firstName lastName address zip } fields { field agreement weight }
          reason identifier } } }"""
RESOLVE = """mutation Resolve($id: ID!, $decision: IdentityDecision!, $reason: String!) {
  resolveIdentityReview(id: $id, decision: $decision, reason: $reason) { decisionId clientsBefore clientsAfter merged }
}"""
EXPLAIN = """query Explain($id: ID!) { identityClient(id: $id) {
  id successors { clientId reason }
  records { how rule score decidedBy via { source localId } record { source localId }
            fields { field agreement } } } }"""
REFUSE = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""
UNLINK = """mutation Unlink($source: String!, $localId: String!, $reason: String!) {
  unlinkRecord(record: {source: $source, localId: $localId}, reason: $reason) { clientsBefore clientsAfter split }
}"""


def _head(population: Population) -> Person:
    return next(p for p in population.people if p.benefits_id and p.hmis_id and p.relationship == "HEAD")


async def _in_doubt(sessions: Any, person: Person, local_id: str) -> Any:
    """A clinic's record of the person's name without a date of birth, placed in the index: in doubt."""
    async with sessions.begin() as session:
        await write_records(session, [{"source": "clinic", "local_id": local_id, "first_name": person.first_name,
                                       "last_name": person.last_name, "synced_at": datetime.now(UTC)}])
    return await place(sessions, [("clinic", local_id)])


async def test_search_shows_only_what_the_policies_allow_and_logs_no_terms(
        indexed_gateway: Any, population: Population, database_url: str) -> None:
    gw, _sessions = indexed_gateway
    person = _head(population)
    terms = {"firstName": person.first_name, "lastName": person.last_name, "dateOfBirth": person.dob.isoformat()}
    body = await caller(gw, "HRA", "caseworker").query(SEARCH, {"input": terms})
    assert "errors" not in body, body
    (first, *_rest) = body["data"]["searchClients"]
    assert first["grade"] == "CERTAIN" and first["score"] > 16 and first["matchedOn"] == "score"
    assert {"agency": "HRA", "firstName": person.first_name} in first["client"]["identity"]["records"]
    # the client's identity at the shelter system is DHS's: not shown to HRA without consent
    assert all(r["agency"] == "HRA" for r in first["client"]["identity"]["records"])

    # a partner organisation the client never consented to sees nobody: not even that a candidate exists
    partner = await caller(gw, "LEGALAID", "partner").query(SEARCH, {"input": terms})
    assert partner == {"data": {"searchClients": []}}

    auditor = await caller(gw, "OVERSIGHT", "auditor", purpose="audit").query(SEARCH, {"input": terms})
    assert auditor["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    vague = await caller(gw, "HRA", "caseworker").query(SEARCH, {"input": {"lastName": person.last_name}})
    assert vague["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    logged = await events(database_url)
    searches = [e for e in logged if e.action == "identity.search"]
    assert all(e.client_id is None for e in searches)
    assert sorted((e.organization, e.outcome) for e in searches) == [  # HRA's and the partner's; the refusal
        ("HRA", "performed"), ("LEGALAID", "performed"), ("OVERSIGHT", "refused")]
    assert any(e.action == "read" and e.client_id == first["client"]["id"] and e.organization == "HRA"
               for e in logged)
    text = " ".join(str(e.__dict__) for e in logged)
    assert person.last_name not in text and person.dob.isoformat() not in text


async def test_a_steward_reviews_resolves_and_explains_and_every_step_is_logged(
        indexed_gateway: Any, population: Population, database_url: str) -> None:
    gw, sessions = indexed_gateway
    person = _head(population)
    assert (await _in_doubt(sessions, person, "C-1")).review >= 1

    steward = caller(gw, "CITY", "identity_steward", sub="steward-3", purpose="identity_stewardship")
    page = await steward.query(QUEUE, {"first": 50})
    assert "errors" not in page, page
    items = page["data"]["identityReviewQueue"]["items"]
    item = next(i for i in items if "C-1" in (i["a"]["localId"], i["b"]["localId"]))
    assert item["grade"] in ("PROBABLE", "POSSIBLE") and (item["reason"], item["identifier"]) == ("SCORE", None)
    assert {"field": "dob", "agreement": "missing", "weight": None} in item["fields"]
    other = item["b"] if item["a"]["localId"] == "C-1" else item["a"]
    sides = [side for i in items for side in (i["a"], i["b"])]
    held = next(side for side in sides if side["source"] == "benefits" and side["localId"] == person.benefits_id)
    assert (held["address"], held["zip"]) == (person.address, person.zip)  # side by side with the home it holds

    forbidden = await caller(gw, "HRA", "caseworker").query(QUEUE, {"first": 5})
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    misdeclared = await caller(gw, "CITY", "identity_steward", purpose="case_management").query(QUEUE, {"first": 5})
    # the index is kept for stewardship only, and the purpose is always said
    assert misdeclared["errors"][0]["extensions"]["code"] == "PURPOSE_NOT_ALLOWED"
    unsaid = await caller(gw, "CITY", "identity_steward", purpose=None).query(QUEUE, {"first": 50})
    assert unsaid["errors"][0]["extensions"]["code"] == "PURPOSE_REQUIRED"
    assert "identity_stewardship" in unsaid["errors"][0]["extensions"]["suggestion"]
    no_reason = await steward.query(RESOLVE, {"id": item["id"], "decision": "SAME_PERSON", "reason": " "})
    assert no_reason["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    done = await steward.query(RESOLVE, {"id": item["id"], "decision": "SAME_PERSON",
                                         "reason": "same person: checked the intake form"})
    assert "errors" not in done, done
    result = done["data"]["resolveIdentityReview"]
    assert result["clientsAfter"] == [other["clientId"]]
    explained = (await steward.query(EXPLAIN, {"id": other["clientId"]}))["data"]["identityClient"]
    clinic = next(r for r in explained["records"] if r["record"]["localId"] == "C-1")
    assert (clinic["how"], clinic["decidedBy"]) == ("manual", "steward-3")
    assert all(r["via"] for r in explained["records"]) and len(explained["records"]) >= 2
    again = await steward.query(RESOLVE, {"id": item["id"], "decision": "DIFFERENT_PEOPLE", "reason": "oops"})
    assert again["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    split = await steward.query(UNLINK, {"source": "clinic", "localId": "C-1", "reason": "not the same after all"})
    assert split["data"]["unlinkRecord"]["split"] == 1
    (alone,) = split["data"]["unlinkRecord"]["clientsAfter"]
    assert alone != other["clientId"]
    gone = await steward.query(UNLINK, {"source": "clinic", "localId": "C-404", "reason": "x"})
    assert gone["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND"

    logged = [e for e in await events(database_url) if e.action.startswith("identity.")]
    assert {e.action for e in logged} == {"identity.review", "identity.resolve", "identity.explain",
                                          "identity.unlink"}
    decided = [e for e in logged if e.action in ("identity.resolve", "identity.link", "identity.unlink")]
    assert {e.outcome for e in decided} == {"performed"}
    assert {e.subject for e in decided} == {"steward-3"} and len(decided) >= 2
    assert all(e.detail and e.detail.startswith("decision ") for e in decided)
    assert any(e.client_id == other["clientId"] for e in logged if e.action == "identity.review")
    # what the steward was shown is on the client's own disclosure report
    async with sessions() as session:
        report = await disclosures(session, client_id=other["clientId"], since=None, until=None)
    assert any(d.organization == "CITY" and d.category == "identity" and d.basis == "identity-stewardship"
               and d.purpose == "identity_stewardship" for d in report)
    reviewed = next(e for e in logged if e.action == "identity.review" and e.client_id == other["clientId"])
    assert {d["category"]: (d["rule_ids"], d["outcome"]) for d in reviewed.decisions}["identity"] == (
        ["steward-reviews-the-index"], "disclosed")  # decided by the Cedar policy, not a role check
    async with sessions() as session:  # the home shown beside a record is contact data, and logged as such
        shown_home = await disclosures(session, client_id=held["clientId"], since=None, until=None)
    assert any(d.organization == "CITY" and d.category == "contact" for d in shown_home)


async def test_a_relatives_borrowed_ssn_reaches_the_steward_marked_as_such(
        indexed_gateway: Any, population: Population) -> None:
    """Two records sharing an SSN whose names and dates of birth say two people (a parent's number on a
    child's tax record): not one client; the steward's queue says the identifier may be borrowed."""
    gw, sessions = indexed_gateway
    family = next(f for f in ([p for p in population.people if p.household == h]
                              for h in sorted({p.household for p in population.people})) if len(f) >= 2)
    rows = [{"source": "tax", "local_id": f"T-{k}", "first_name": who.first_name, "last_name": who.last_name,
             "dob": who.dob, "sex": who.sex, "ssn": "912345678", "ssn_last4": "5678", "ssn_quality": 1,
             "synced_at": datetime.now(UTC)} for k, who in enumerate(family[:2])]
    async with sessions.begin() as session:
        await write_records(session, rows)
    await place(sessions, [("tax", "T-0")])
    await place(sessions, [("tax", "T-1")])
    steward = caller(gw, "CITY", "identity_steward", sub="steward-4", purpose="identity_stewardship")
    page = await steward.query(QUEUE, {"first": 100})
    assert "errors" not in page, page
    item = next(i for i in page["data"]["identityReviewQueue"]["items"]
                if {i["a"]["localId"], i["b"]["localId"]} == {"T-0", "T-1"})
    assert (item["reason"], item["identifier"]) == ("POSSIBLY_BORROWED_IDENTIFIER", "ssn")
    assert item["a"]["clientId"] != item["b"]["clientId"]


async def test_a_client_who_refuses_the_stewards_organisation_is_withheld_from_the_steward(
        indexed_gateway: Any, population: Population, database_url: str) -> None:
    gw, sessions = indexed_gateway
    person = _head(population)
    assert (await _in_doubt(sessions, person, "C-7")).review >= 1
    steward = caller(gw, "CITY", "identity_steward", sub="steward-4", purpose="identity_stewardship")

    async def item() -> tuple[dict[str, Any] | None, int]:
        page = (await steward.query(QUEUE, {"first": 100}))["data"]["identityReviewQueue"]
        found = [i for i in page["items"] if "C-7" in (i["a"]["localId"], i["b"]["localId"])]
        return (found[0] if found else None), page["withheld"]

    shown, withheld = await item()
    assert shown is not None and withheld == 0
    held = shown["b"] if shown["a"]["localId"] == "C-7" else shown["a"]
    client = held["clientId"]
    assert "withheld" not in {f["agreement"] for f in shown["fields"]}
    assert held["zip"] is not None  # the index holds the home the agency gave

    async def refuse(*categories: str) -> None:
        body = await caller(gw, "DHS").query(REFUSE, {"input": {
            "clientId": client, "grantor": "CLIENT", "sourceReference": "DHS-INTAKE-FORM/2026/0077",
            "givenAt": datetime.now(UTC).isoformat(), "provisions": [{
                "type": "DENY", "organizations": ["CITY"], "categories": list(categories), "purposes": []}]}})
        assert "errors" not in body, body

    await refuse("CONTACT")  # the client keeps their home from the city's stewards: names still shown
    shown, withheld = await item()
    assert shown is not None and withheld == 0
    held = shown["b"] if shown["a"]["localId"] == "C-7" else shown["a"]
    assert (held["firstName"], held["address"], held["zip"]) == (person.first_name, None, None)
    agreement = {f["field"]: (f["agreement"], f["weight"]) for f in shown["fields"]}
    assert [agreement[f] for f in ("addr", "zip", "phone")] == [("withheld", None)] * 3  # not even "same home"
    assert agreement["last"][0] == "same"  # the names still compared

    await refuse("IDENTITY")  # ... and who they are: the pair is left out of the queue, and counted
    shown, withheld = await item()
    assert shown is None and withheld >= 1
    explained = (await steward.query(EXPLAIN, {"id": client}))["data"]["identityClient"]
    assert explained["records"] == []

    logged = [e for e in await events(database_url) if e.client_id == client and e.action.startswith("identity.")]
    rounds = [{(d["category"], d["outcome"]) for d in e.decisions} for e in logged]
    assert rounds == [{("identity", "disclosed"), ("contact", "disclosed")},  # the queue, before any refusal
                      {("identity", "disclosed"), ("contact", "withheld")},  # the home refused
                      {("identity", "withheld"), ("contact", "withheld")},  # who they are too: the queue ...
                      {("identity", "withheld"), ("contact", "withheld")}]  # ... and explaining the client
    assert all("consent-deny-provision" in d["rule_ids"] for e in logged for d in e.decisions
               if d["outcome"] == "withheld")
    async with sessions() as session:  # the client's report lists what the steward saw, and nothing withheld
        report = await disclosures(session, client_id=client, since=None, until=None)
    by_city = [d for d in report if d.organization == "CITY"]
    assert {d.at for d in by_city if d.category == "contact"} == {logged[0].recorded_at}
    assert {d.at for d in by_city if d.category == "identity"} == {logged[0].recorded_at, logged[1].recorded_at}


async def test_a_pair_one_identifier_joins_and_another_keeps_apart_heads_the_stewards_queue(
        indexed_gateway: Any) -> None:
    """Three records share an SSN; two of them carry different CINs: never one client, so the rule's pair waits
    for a steward, first in the queue (its weight is a rule's, infinite, which the queue shows as its top score)."""
    from datetime import date

    from identity.index import relink

    gw, sessions = indexed_gateway
    same = {"first_name": "Ottoline", "last_name": "Vandersteen", "dob": date(1950, 12, 30), "sex": "F",
            "ssn": "912345678", "ssn_quality": 1, "synced_at": datetime.now(UTC)}
    async with sessions.begin() as session:
        await write_records(session, [{"source": "clinic", "local_id": "A-1", **same, "cin": "AB12345C"},
                                      {"source": "clinic", "local_id": "C-1", **same},
                                      {"source": "clinic", "local_id": "D-1", **same, "cin": "XY54321Z"}])
    await relink(sessions)
    steward = caller(gw, "CITY", "identity_steward", sub="steward-3", purpose="identity_stewardship")
    page = await steward.query(QUEUE, {"first": 20})
    assert "errors" not in page, page
    first = page["data"]["identityReviewQueue"]["items"][0]
    assert first["reason"] == "IDENTIFIERS_DIFFER" and first["score"] == 99.0
    assert {first["a"]["localId"], first["b"]["localId"]} <= {"A-1", "C-1", "D-1"}
