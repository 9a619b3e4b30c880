"""Checklists as configuration (issue 20 §1): the goals the city named, the documents each needs and how long a
copy stays valid, in a file a city edits without a release; a file that does not hold together is refused with
every problem named."""

from __future__ import annotations

import json
import subprocess
import sys
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
    """A client whose benefits case holds an accepted document some goal needs: (client, goal, document kind)."""
    lists = load()
    for person in population.people:
        for case in population.benefits[person.benefits_id or ""]["cases"]:
            for doc in case["requiredDocuments"]:
                kind = lists.kind_of(doc["type"])
                goal = next((g for g in lists.goals.values() if kind is not None and kind.code in g.documents), None)
                if doc["status"] == "ACCEPTED" and kind is not None and goal is not None:
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
    consent = {"input": {"clientId": cid, "sourceReference": "FORM-DOCS", "givenAt": "2026-11-01T10:00:00Z",
                         "provisions": [{"organizations": ["DHS"], "categories": ["DOCUMENTS"],
                                         "purposes": ["CASE_MANAGEMENT"]}]}}
    assert (await me.query("""mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }""",
                           consent)).get("errors") is None
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
      chronicHomelessness { status supportingStays { enrollmentId } } } } }"""
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
    # third-party evidence when the shelter system's own stays support it; else the intake's answers alone
    assert (copy["agency"], copy["source"]) == ("DHS", "DERIVED")
    assert copy["verified"] is bool(seen[chronic]["chronicHomelessness"]["supportingStays"])
