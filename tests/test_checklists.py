"""Checklists as configuration (issue 20 §1): the goals the city named, the documents each needs and how long a
copy stays valid, in a file a city edits without a release; a file that does not hold together is refused with
every problem named."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from checklists.config import SHIPPED, load
from core.errors import ConfigurationError

CLI = str(Path(sys.executable).parent / "casebridge")


def test_the_shipped_checklists_cover_the_goals_the_city_named() -> None:
    found = load()
    assert set(found.goals) == {"SUPPORTIVE_HOUSING_APPLICATION", "SHELTER_PLACEMENT", "BENEFITS_RECERTIFICATION",
                                "SCHOOL_ENROLLMENT", "WORK_AUTHORIZATION_APPLICATION"}
    housing = found.goals["SUPPORTIVE_HOUSING_APPLICATION"].documents
    assert housing[:2] == ("PHOTO_ID", "BIRTH_CERTIFICATE") and "HOMELESSNESS_VERIFICATION" in housing
    assert found.documents["PROOF_OF_INCOME"].valid_days == 60
    assert found.documents["BIRTH_CERTIFICATE"].valid_days is None  # it does not expire
    assert found.documents["HOMELESSNESS_VERIFICATION"].derived_from == "hmis-homelessness"
    assert found.documents["CHRONIC_HOMELESSNESS_VERIFICATION"].derived_from == "hmis-chronic-homelessness"
    # the codes the benefits agency uses find their kind
    kind = found.kind_of("SSN_CARD")
    assert kind is not None and kind.code == "SOCIAL_SECURITY_CARD"
    assert found.kind_of("LEASE_OR_SHELTER_LETTER") is not None and found.kind_of("NOT_A_DOCUMENT") is None
    assert all(d.name.get("es") for d in found.documents.values())  # every document in Spanish too


def test_a_city_adds_a_goal_without_a_release(tmp_path: Path) -> None:
    raw = json.loads(SHIPPED.read_text())
    raw["documents"]["LEASE_AGREEMENT"] = {"name": {"en": "Signed lease"}, "valid_days": 30}
    raw["goals"]["MOVE_IN"] = {"name": {"en": "Move-in"}, "documents": ["PHOTO_ID", "LEASE_AGREEMENT"]}
    city = tmp_path / "city-checklists.json"
    city.write_text(json.dumps(raw))
    found = load(city)
    assert found.goals["MOVE_IN"].documents == ("PHOTO_ID", "LEASE_AGREEMENT")
    out = subprocess.run([CLI, "checklists", str(city)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "MOVE_IN  Move-in: Photo ID, Signed lease (30 days)" in out.stdout


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda r: r["goals"]["SHELTER_PLACEMENT"]["documents"].append("PASSPORT_PHOTO"),
     "goals.SHELTER_PLACEMENT.documents: PASSPORT_PHOTO not among the documents"),
    (lambda r: r["documents"]["PROOF_OF_INCOME"].update(valid_days="sixty"), "documents.PROOF_OF_INCOME.valid_days"),
    (lambda r: r["documents"]["PROOF_OF_INCOME"].update(valid_days=0), "documents.PROOF_OF_INCOME.valid_days"),
    (lambda r: r["documents"]["PHOTO_ID"].update(name={"es": "Identificación"}), "documents.PHOTO_ID.name"),
    (lambda r: r["documents"]["PHOTO_ID"]["known_as"].append("SSN_CARD"), "SSN_CARD is already"),
    (lambda r: r["goals"].update({"bad code": {"documents": ["PHOTO_ID"]}}), "goals.bad code"),
    (lambda r: r["documents"]["HOMELESSNESS_VERIFICATION"].update(derived_from="a-guess"), "derived_from"),
    (lambda r: r.pop("goals"), "goals: an object"),
    (lambda r: r["documents"]["PHOTO_ID"].update(known_as=[]), "documents.PHOTO_ID.known_as"),
])
def test_a_file_that_does_not_hold_together_is_refused_naming_where(tmp_path: Path, change: object,
                                                                      complaint: str) -> None:
    raw = json.loads(SHIPPED.read_text())
    change(raw)  # type: ignore[operator]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(raw))
    with pytest.raises(ConfigurationError, match=r"checklists file bad\.json") as info:
        load(bad)
    assert complaint in info.value.message
    out = subprocess.run([CLI, "checklists", str(bad)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and complaint in out.stderr.replace("\n", " ")


def test_a_file_that_is_not_json_or_says_a_thing_twice_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text("{ goals: ")
    with pytest.raises(ConfigurationError, match="cannot be read as JSON"):
        load(bad)
    twice = tmp_path / "twice.json"  # a city's edit written as a second key would vanish without a word
    twice.write_text(SHIPPED.read_text().replace('"goals": {', '"goals": {"SHELTER_PLACEMENT": {}, ', 1))
    with pytest.raises(ConfigurationError, match="SHELTER_PLACEMENT written twice"):
        load(twice)


CHECKLIST = """query($id: ID!, $goal: String!) { client(id: $id) { checklist(goal: $goal) {
  goal items { document state copies { agency source verified status } }
  access { category agency status reason } } } }"""


def _with_accepted(population: Any) -> tuple[str, str, str]:
    """A client whose benefits case holds an accepted document some goal needs, still valid: (client, goal, document
    kind)."""
    lists = load()
    for person in population.people:
        for case in population.benefits[person.benefits_id or ""]["cases"]:
            for doc in case["requiredDocuments"]:
                kind = lists.kind_of(doc["type"])
                goal = next((g for g in lists.goals.values() if kind is not None and kind.code in g.documents), None)
                if doc["status"] == "ACCEPTED" and kind is not None and goal is not None and (
                        kind.valid_days is None
                        or date.fromisoformat(doc["acceptedOn"]) + timedelta(days=kind.valid_days) >= date.today()):
                    return person.client_id, goal.code, kind.code
    raise AssertionError("the synthetic city has an accepted document")


async def test_a_checklist_says_where_a_verified_copy_exists_only_as_far_as_the_gate_lets_you_see(
    gateway: Any, population: Any, database_url: str,
) -> None:
    from tests.gateway import caller, events

    cid, goal, kind = _with_accepted(population)
    args = {"id": cid, "goal": goal}

    def item(body: dict[str, Any]) -> dict[str, Any]:
        return next(i for i in body["data"]["client"]["checklist"]["items"] if i["document"] == kind)

    hra = await caller(gateway, "HRA").query(CHECKLIST, args)  # the benefits agency sees its own records
    assert item(hra)["state"] == "AVAILABLE"
    assert {"agency": "HRA", "source": "AGENCY", "verified": True, "status": "ACCEPTED"} in item(hra)["copies"]

    dhs = caller(gateway, "DHS")
    before = await dhs.query(CHECKLIST, args)  # no consent naming documents: no copy, and it says why
    assert item(before) == {"document": kind, "state": "NEEDED", "copies": []}
    access = before["data"]["client"]["checklist"]["access"]
    assert {"category": "DOCUMENTS", "agency": "HRA", "status": "WITHHELD", "reason": "CONSENT_REQUIRED"} in access
    logged = (await events(database_url))[-1]
    assert {d["category"] for d in logged.decisions} >= {"documents", "housing"}  # decided and on record

    me = caller(gateway, "CLIENTS", "client", purpose="client_access", self_client=cid)

    async def consent_to(*categories: str) -> None:
        consent = {"input": {"clientId": cid, "sourceReference": "FORM-DOCS", "givenAt": "2026-11-01T10:00:00Z",
                             "provisions": [{"organizations": ["DHS"], "categories": list(categories),
                                             "purposes": ["CASE_MANAGEMENT"]}]}}
        assert (await me.query("""mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }""",
                               consent)).get("errors") is None

    await consent_to("DOCUMENTS")
    sensitive = load().documents[kind].sensitive
    if sensitive is not None:  # immigration papers: documents alone do not show them (review item 12), their
        # category must be consented to as well
        assert item(await dhs.query(CHECKLIST, args)) == {"document": kind, "state": "NEEDED", "copies": []}
        await consent_to("DOCUMENTS", sensitive.name)
    after = await dhs.query(CHECKLIST, args)  # "HRA holds a verified copy", through the client's consent
    assert item(after)["state"] == "AVAILABLE" and item(after)["copies"][0]["agency"] == "HRA"
    unknown = await dhs.query(CHECKLIST, {"id": cid, "goal": "A_GOAL_NOBODY_CONFIGURED"})
    assert unknown["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_homelessness_is_verified_from_the_shelter_systems_own_records_where_one_may_see_them(
    gateway: Any, population: Any,
) -> None:
    from tests.gateway import caller

    dhs, hra = caller(gateway, "DHS"), caller(gateway, "HRA")
    housing = """query($id: ID!) { client(id: $id) { housing { inShelterNow
      chronicHomelessness { status verifiedByStays supportingStays { enrollmentId } } } } }"""
    seen = {p.client_id: (await dhs.query(housing, {"id": p.client_id}))["data"]["client"]["housing"]
            for p in population.people if p.hmis_id}

    def item(body: dict[str, Any], document: str) -> dict[str, Any]:
        return next(i for i in body["data"]["client"]["checklist"]["items"] if i["document"] == document)

    in_shelter = next(cid for cid, h in seen.items() if h["inShelterNow"])
    args = {"id": in_shelter, "goal": "SUPPORTIVE_HOUSING_APPLICATION"}
    now = item(await dhs.query(CHECKLIST, args), "HOMELESSNESS_VERIFICATION")
    assert now["state"] == "AVAILABLE"
    assert now["copies"] == [{"agency": "DHS", "source": "DERIVED", "verified": True,
                              "status": "IN_SHELTER_OR_ON_THE_STREETS"}]
    # HRA may not see DHS's housing: nothing of it, not even that a verification could be had
    assert item(await hra.query(CHECKLIST, args), "HOMELESSNESS_VERIFICATION") == {
        "document": "HOMELESSNESS_VERIFICATION", "state": "NEEDED", "copies": []}

    chronic = next(cid for cid, h in seen.items()
                   if (h["chronicHomelessness"] or {}).get("status") == "YES")
    found = item(await dhs.query(CHECKLIST, {"id": chronic, "goal": "SUPPORTIVE_HOUSING_APPLICATION"}),
                 "CHRONIC_HOMELESSNESS_VERIFICATION")
    (copy,) = found["copies"]
    # third-party evidence only when the shelter system's own stays show the time; the synthetic city's chronically
    # homeless client says so at intake and no stay of theirs shows it: received, on the client's word
    assert seen[chronic]["chronicHomelessness"]["verifiedByStays"] is False
    assert (copy["agency"], copy["source"], copy["verified"]) == ("DHS", "DERIVED", False)
    assert found["state"] == "RECEIVED"


def _disclosure(documents: list[Any], stays: list[Any]) -> Any:
    """What the gate would show of one client: HRA's document records and DHS's stays, both permitted."""
    from core.vocabulary import Category
    from gate import Disclosure, SectionResult, SectionStatus
    from policies.decisions import Decision

    shown = Decision(permit=True, rule_ids=("own-agency",), basis="own-agency")
    return Disclosure(client_id="c-1", sections={
        Category.DOCUMENTS: [SectionResult(Category.DOCUMENTS, "benefits", "HRA", SectionStatus.SHOWN, shown,
                                           data=documents)],
        Category.HOUSING: [SectionResult(Category.HOUSING, "housing", "DHS", SectionStatus.SHOWN, shown,
                                         data=stays)]})


def _stay(eid: str, ptype: int, entry: date, exit_: date | None, chronic: str | None = None) -> Any:
    from connectors.records import HousingEnrollment

    return HousingEnrollment(eid, "DHS", "A shelter", ptype, "Emergency Shelter - Entry Exit", entry, None, exit_,
                             None, None, None, 1, chronic_at_entry=chronic,
                             chronic_reason="homeless-a-year-before-entry" if chronic else None)


def _items(documents: list[Any], stays: list[Any]) -> dict[str, Any]:
    from resolvers.types import checklist_view

    found = checklist_view(_disclosure(documents, stays), load(), "SUPPORTIVE_HOUSING_APPLICATION")
    return {i.document: i for i in found.items}


def test_an_agency_copy_counts_only_while_its_acceptance_holds() -> None:
    from connectors.records import RequiredDocument

    today = datetime.now(UTC).date()
    items = _items([
        # a birth certificate does not expire: verified without a date, and since the day it was accepted with one
        RequiredDocument("D-1", "HRA", "BIRTH_CERTIFICATE", None, "ACCEPTED", accepted_on=today - timedelta(days=300)),
        # a pay stub accepted seven months ago: a proof of income holds 60 days
        RequiredDocument("D-2", "HRA", "PAY_STUB", None, "ACCEPTED", accepted_on=today - timedelta(days=210)),
        # a disability verification holds a year, but the agency does not say when it accepted this one
        RequiredDocument("D-3", "HRA", "DISABILITY_VERIFICATION", None, "ACCEPTED"),
        RequiredDocument("D-4", "HRA", "SSN_CARD", None, "ACCEPTED"),
    ], [])
    birth, income, disability, card = (items[k] for k in ("BIRTH_CERTIFICATE", "PROOF_OF_INCOME",
                                                          "DISABILITY_VERIFICATION", "SOCIAL_SECURITY_CARD"))
    assert (birth.state.value, birth.copies[0].verified, birth.since, birth.days_in_state) == (
        "AVAILABLE", True, today - timedelta(days=300), 300)
    assert (card.state.value, card.copies[0].verified, card.since) == ("AVAILABLE", True, None)  # no date: no since
    (copy,) = income.copies
    assert (income.state.value, income.needed, copy.verified, copy.unverified_reason) == (
        "EXPIRED", True, False, "EXPIRED")
    assert copy.valid_until == today - timedelta(days=150)  # and it has been expired since the day after
    assert (income.since, income.days_in_state) == (today - timedelta(days=149), 149)
    (copy,) = disability.copies
    assert (disability.state.value, copy.verified, copy.unverified_reason) == (
        "RECEIVED", False, "ACCEPTANCE_DATE_UNKNOWN")
    assert (disability.since, disability.days_in_state) == (None, None)
    assert items["PHOTO_ID"].state.value == "NEEDED" and items["PHOTO_ID"].since is None  # nothing: no start


def test_chronic_homelessness_is_verified_by_recent_stays_and_otherwise_says_why_not() -> None:
    today = datetime.now(UTC).date()

    def chronic(stays: list[Any]) -> Any:
        return _items([], stays)["CHRONIC_HOMELESSNESS_VERIFICATION"]

    # in shelter for 400 nights and still there: the shelter system's own records show it
    backed = chronic([_stay("E-1", 1, today - timedelta(days=400), None, "YES")])
    assert (backed.state.value, backed.copies[0].verified, backed.copies[0].unverified_reason) == (
        "AVAILABLE", True, None)
    # a year by the client's word, two months in shelter: received, self-reported, since the intake
    word = chronic([_stay("E-2", 0, today - timedelta(days=60), None, "YES")])
    assert (word.state.value, word.copies[0].verified, word.copies[0].unverified_reason) == (
        "RECEIVED", False, "SELF_REPORTED")
    assert (word.since, word.days_in_state) == (today - timedelta(days=60), 60)
    # four hundred nights, but they ended 120 days ago: a verification holds 90 days from the newest stay
    old = chronic([_stay("E-3", 0, today - timedelta(days=520), today - timedelta(days=120), "YES")])
    assert (old.state.value, old.copies[0].verified, old.copies[0].unverified_reason) == (
        "EXPIRED", False, "EXPIRED")
    assert old.copies[0].valid_until == today - timedelta(days=30) and old.days_in_state == 29
    # and homelessness itself, from the same stay: expired on the same day
    homeless = _items([], [_stay("E-3", 0, today - timedelta(days=520), today - timedelta(days=120), "YES")])
    assert homeless["HOMELESSNESS_VERIFICATION"].state.value == "EXPIRED"
    assert homeless["HOMELESSNESS_VERIFICATION"].copies[0].status == "LEFT"


async def test_a_proof_of_income_the_agency_accepted_long_ago_is_expired_and_one_without_a_date_is_not_counted(
    gateway: Any, population: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.gateway import caller

    person = next(p for p in population.people if p.benefits_id)
    case = population.benefits[person.benefits_id]["cases"][0]
    today = datetime.now(UTC).date()
    monkeypatch.setitem(case, "requiredDocuments", [
        {"documentId": "DOC-T-1", "type": "PROOF_OF_INCOME", "status": "ACCEPTED",
         "acceptedOn": (today - timedelta(days=400)).isoformat()},
        {"documentId": "DOC-T-2", "type": "PROOF_OF_ADDRESS", "status": "ACCEPTED"},
        {"documentId": "DOC-T-3", "type": "PROOF_OF_IDENTITY", "status": "ACCEPTED", "acceptedOn": "last spring"}])
    query = """query($id: ID!, $goal: String!) { client(id: $id) {
      documents { items { documentId acceptedOn } }
      checklist(goal: $goal) { items { document state since daysInState
        copies { agency verified unverifiedReason datedOn validUntil } } } } }"""
    body = await caller(gateway, "HRA").query(query, {"id": person.client_id, "goal": "BENEFITS_RECERTIFICATION"})
    client = body["data"]["client"]
    # the unreadable date is read as unknown: the record stays, with no date
    assert {d["documentId"]: d["acceptedOn"] for d in client["documents"]["items"]} == {
        "DOC-T-1": (today - timedelta(days=400)).isoformat(), "DOC-T-2": None, "DOC-T-3": None}
    items = {i["document"]: i for i in client["checklist"]["items"]}
    assert items["PROOF_OF_INCOME"] == {
        "document": "PROOF_OF_INCOME", "state": "EXPIRED", "since": (today - timedelta(days=339)).isoformat(),
        "daysInState": 339, "copies": [{"agency": "HRA", "verified": False, "unverifiedReason": "EXPIRED",
                                        "datedOn": (today - timedelta(days=400)).isoformat(),
                                        "validUntil": (today - timedelta(days=340)).isoformat()}]}
    address = items["PROOF_OF_ADDRESS"]
    assert (address["state"], address["copies"][0]["unverifiedReason"]) == ("RECEIVED", "ACCEPTANCE_DATE_UNKNOWN")
    assert items["PHOTO_ID"]["state"] == "AVAILABLE"  # identity does not expire: no date needed
