"""Contact details held here (issue 19 §1): a client's phone numbers and email addresses with their opt-in, and
how they prefer to be reached - recorded by the client or by staff, read through the gate like every category."""

from __future__ import annotations

from typing import Any

from demo.population import Population
from tests.gateway import caller, events

CONTACT = """query($id: ID!) { client(id: $id) { contact {
  access { agency status reason basis }
  points { id agency channel address optedIn optInSource verified }
  preferences { preferredChannel language quietHoursFrom quietHoursUntil agency } } } }"""
ADD = """mutation($c: ID!, $channel: ContactChannel!, $address: String!, $in: Boolean!, $src: String) {
  addContactPoint(clientId: $c, channel: $channel, address: $address, optedIn: $in, sourceReference: $src) {
    id channel address optedIn optInSource } }"""
OPT = """mutation($id: ID!, $in: Boolean!, $src: String) {
  setContactOptIn(id: $id, optedIn: $in, sourceReference: $src) { id optedIn optInSource } }"""
PREFS = """mutation($c: ID!, $lang: String!, $ch: ContactChannel, $from: String, $until: String) {
  setContactPreferences(clientId: $c, language: $lang, preferredChannel: $ch, quietHoursFrom: $from,
                        quietHoursUntil: $until) { language preferredChannel quietHoursFrom quietHoursUntil } }"""
CONSENT = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""


def _sheltered(population: Population) -> str:
    return next(p.client_id for p in population.people if p.hmis_id)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


async def test_staff_and_the_client_record_contact_details_each_sees_what_the_gate_allows(
    gateway: Any, population: Population, database_url: str,
) -> None:
    cid = _sheltered(population)
    dhs = caller(gateway, "DHS")  # the shelter system holds this client's record: DHS sees the identity
    added = await dhs.query(ADD, {"c": cid, "channel": "SMS", "address": "(212) 555-0142", "in": True,
                                  "src": "SIGNED-CONTACT-FORM-88"})
    point = added["data"]["addContactPoint"]
    assert (point["address"], point["channel"], point["optedIn"]) == ("+12125550142", "SMS", True)
    # the log names ids only: never the number, in any of its spellings (a random id may hold "555" by chance)
    assert all(n not in (e.detail or "") for e in await events(database_url) for n in ("2125550142", "555-0142"))

    seen = (await dhs.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]
    assert [(p["agency"], p["address"]) for p in seen["points"]] == [("DHS", "+12125550142")]
    assert seen["access"] == [{"agency": "DHS", "status": "SHOWN", "reason": None, "basis": "OWN_AGENCY"}]

    hra = caller(gateway, "HRA")  # no consent naming contact: withheld, and the point does not exist for HRA
    withheld = (await hra.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]
    assert withheld["points"] == []  # its own part (nothing recorded), never DHS's
    # another holder's part HRA may not see leaves no trace (as case notes): whether DHS holds any is not said
    assert [(a["agency"], a["status"]) for a in withheld["access"]] == [("HRA", "SHOWN")]
    assert _code(await hra.query(OPT, {"id": point["id"], "in": False})) == "RECORD_NOT_FOUND"

    me = caller(gateway, "CLIENTS", "client", purpose="client_access", self_client=cid, sub="client-1")
    own = await me.query(ADD, {"c": cid, "channel": "EMAIL", "address": "Someone@Example.ORG", "in": True,
                               "src": "client's own sign-in"})
    assert own["data"]["addContactPoint"]["address"] == "Someone@example.org"
    mine = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["points"]
    assert {p["channel"] for p in mine} == {"SMS", "EMAIL"}  # the client sees every contact point of theirs
    out = await me.query(OPT, {"id": point["id"], "in": False})  # and withdraws the opt-in DHS recorded
    assert out["data"]["setContactOptIn"]["optedIn"] is False
    again = (await dhs.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["points"]
    assert [p["optedIn"] for p in again] == [False]

    consent = {"input": {"clientId": cid, "sourceReference": "FORM-C", "givenAt": "2026-11-01T10:00:00Z",
                         "provisions": [{"organizations": ["HRA"], "categories": ["CONTACT"],
                                         "purposes": ["CASE_MANAGEMENT"]}]}}
    assert (await me.query(CONSENT, consent)).get("errors") is None
    opened = (await hra.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]
    assert {p["address"] for p in opened["points"]} == {"+12125550142", "Someone@example.org"}

    other = population.people[-1].client_id
    outsider = caller(gateway, "CLIENTS", "client", purpose="client_access", self_client=other)
    refused = await outsider.query(ADD, {"c": cid, "channel": "SMS", "address": "2125550100", "in": False})
    assert _code(refused) == "FORBIDDEN"  # another client records nothing about this one


async def test_bad_contact_details_are_refused_without_echoing_them(gateway: Any, population: Population) -> None:
    cid = _sheltered(population)
    dhs = caller(gateway, "DHS")
    for channel, address in [("SMS", "call me maybe"), ("SMS", "555-01"), ("SMS", "12+125550100"),
                             ("EMAIL", "not-an-address"), ("EMAIL", "a@b")]:
        body = await dhs.query(ADD, {"c": cid, "channel": channel, "address": address, "in": False})
        assert _code(body) == "BAD_USER_INPUT", (channel, address)
        assert address not in body["errors"][0]["message"]
    no_source = await dhs.query(ADD, {"c": cid, "channel": "SMS", "address": "2125550100", "in": True})
    assert _code(no_source) == "BAD_USER_INPUT" and "where it came from" in no_source["errors"][0]["message"]
    for lang, start, end in [("english please", None, None), ("es", "22:00", None), ("es", "25:00", "07:00")]:
        assert _code(await dhs.query(PREFS, {"c": cid, "lang": lang, "from": start, "until": end})) == "BAD_USER_INPUT"
    prefs = await dhs.query(PREFS, {"c": cid, "lang": "es", "ch": "SMS", "from": "21:00", "until": "08:00"})
    assert prefs["data"]["setContactPreferences"] == {"language": "es", "preferredChannel": "SMS",
                                                      "quietHoursFrom": "21:00", "quietHoursUntil": "08:00"}
    seen = (await dhs.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["preferences"]
    assert seen["language"] == "es" and seen["agency"] == "DHS"
    hra = caller(gateway, "HRA")  # another organisation records its own, and never replaces DHS's it cannot see
    assert (await hra.query(PREFS, {"c": cid, "lang": "en", "ch": "EMAIL"})).get("errors") is None
    kept = (await dhs.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["preferences"]
    assert (kept["language"], kept["agency"]) == ("es", "DHS")
    own = (await hra.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["preferences"]
    assert (own["language"], own["agency"]) == ("en", "HRA")


async def test_the_contact_section_stands_when_an_agency_its_messages_are_about_is_down(
    gateway: Any, population: Population, benefits_server: Any,
) -> None:
    """A message is shown with the appointments or notices it is about: when the benefits agency is down, those
    are unknown, and the contact section (the client's own numbers, held here) still stands."""
    cid = next(p.client_id for p in population.people if p.hmis_id and p.benefits_id)
    hra = caller(gateway, "HRA")  # HRA's own benefits part is the only one: down, every part of benefits failed
    added = await hra.query(ADD, {"c": cid, "channel": "SMS", "address": "212 555 0142", "in": True,
                                  "src": "SIGNED-CONTACT-FORM-7"})
    assert "errors" not in added, added
    benefits_server.stop()
    got = await hra.query("""query($id: ID!) { client(id: $id) { contact { points { id } messages { id } } } }""",
                          {"id": cid})
    assert got["data"]["client"]["contact"]["points"] == [{"id": added["data"]["addContactPoint"]["id"]}]
    assert got["data"]["client"]["contact"]["messages"] == [] and "errors" not in got
