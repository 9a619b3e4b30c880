"""Immigration and legal milestones, and plans for a household (issue 21 §1, §2): the legal-services partner records
the steps of a client's case for itself; others see them only by the client's consent naming immigration_legal; a
plan's legal goals are met by them on the day they happened, and open again when one is marked entered in error. A
plan has goals for each child (a school enrolment), each checked against what the plan's organisation may see of
that child. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.hmis.importer import import_export
from demo.hmis_export import DELTA, write_export
from demo.population import HmisData, Population
from demo.servers import ServerThread
from gate.plan_desk import EVIDENCE
from plans.catalogue import EVIDENCE as CATALOGUE_EVIDENCE
from store.engine import make_engine, make_sessionmaker
from tests.gateway import HMIS_EXPORTED_AT, UNLINKED_CLIENT, events
from tests.test_hmis_employment import record
from tests.test_referrals import CHECK, CREATE_PLAN, PLAN_FIELDS, City, _code, _goal, open_city

RECORD = """mutation($c: ID!, $m: LegalMilestoneKind!, $on: Date!) {
  recordLegalMilestone(clientId: $c, milestone: $m, occurredOn: $on) { id milestone occurredOn agency enteredInError }
}"""
IN_ERROR = """mutation($id: ID!) { markLegalMilestoneInError(id: $id) { id enteredInError } }"""
LEGAL = """query($id: ID!) { client(id: $id) { immigrationLegal {
  access { agency status reason } milestones { id milestone occurredOn agency enteredInError } } } }"""
CONSENT = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""
MEMBER_PLAN = f"""mutation($c: ID!, $goals: [String!], $members: [PlanMemberGoalInput!]) {{
  createPlan(clientId: $c, horizonDays: 60, goals: $goals, memberGoals: $members) {{ {PLAN_FIELDS} memberGoals: goals
  {{ id code memberId status metBy evidence }} }} }}"""
ADD_GOAL = f"""mutation($p: ID!, $code: String, $title: String, $m: ID) {{
  addPlanGoal(planId: $p, code: $code, title: $title, memberId: $m) {{ {PLAN_FIELDS} members: goals {{ id memberId }}
  }} }}"""


@pytest.fixture
async def city(database_url: str, benefits_server: ServerThread, edfi_server: ServerThread, population: Population,
               settings_factory: Any) -> AsyncIterator[City]:
    async with open_city(database_url, benefits_server, edfi_server, population, settings_factory) as opened:
        yield opened


async def consent(city: City, cid: str, org: str, categories: list[str], *, grantor: str = "CLIENT",
                  recorder: str = "HRA") -> None:
    given = await city.as_(recorder).query(CONSENT, {"input": {
        "clientId": cid, "grantor": grantor, "sourceReference": "SIGNED-FORM-12",
        "givenAt": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "provisions": [{"organizations": [org], "categories": categories, "purposes": ["CASE_MANAGEMENT"]}]}})
    assert "errors" not in given, given


async def test_a_legal_partner_records_the_case_and_only_a_consent_naming_it_opens_it_to_a_caseworker(
    city: City, population: Population,
) -> None:
    person = next(p for p in population.people if p.hmis_id and p.benefits_id)
    cid = person.client_id
    hra, dhs, legal = city.as_("HRA"), city.as_("DHS"), city.as_("LEGALAID", "partner")
    filed_on = datetime.now(UTC).date() - timedelta(days=20)
    # the partner works with clients whose identity it may see: not yet
    assert _code(await legal.query(RECORD, {"c": cid, "m": "ASYLUM_APPLICATION_FILED",
                                            "on": filed_on.isoformat()})) == "FORBIDDEN"
    await consent(city, cid, "LEGALAID", ["IDENTITY"])
    made = (await legal.query(RECORD, {"c": cid, "m": "ASYLUM_APPLICATION_FILED", "on": filed_on.isoformat()}))[
        "data"]["recordLegalMilestone"]
    assert (made["milestone"], made["occurredOn"], made["agency"], made["enteredInError"]) == (
        "ASYLUM_APPLICATION_FILED", filed_on.isoformat(), "LEGALAID", False)
    logged = (await events(city.database_url))[-1]
    assert (logged.action, logged.client_id, logged.outcome) == ("legal.record", cid, "performed")
    # a filing in the future is a mistake; a hearing is set for a day to come
    ahead = (datetime.now(UTC).date() + timedelta(days=40)).isoformat()
    assert _code(await legal.query(RECORD, {"c": cid, "m": "WORK_AUTHORIZATION_FILED", "on": ahead})) == \
        "BAD_USER_INPUT"
    hearing = (await legal.query(RECORD, {"c": cid, "m": "HEARING_SCHEDULED", "on": ahead}))["data"][
        "recordLegalMilestone"]
    assert hearing["occurredOn"] == ahead

    # HRA and DHS see nothing of it without the client's consent naming immigration_legal - not even that the
    # legal partner holds something (another holder's withheld part is not shown)
    for staff in (hra, dhs):
        section = (await staff.query(LEGAL, {"id": cid}))["data"]["client"]["immigrationLegal"]
        assert section == {"access": [], "milestones": None}
    # the client sees their own case; the partner its record
    mine = (await city.client(cid).query(LEGAL, {"id": cid}))["data"]["client"]["immigrationLegal"]["milestones"]
    assert [m["milestone"] for m in mine] == ["HEARING_SCHEDULED", "ASYLUM_APPLICATION_FILED"]  # latest day first
    # a consent naming another category opens nothing of it; one naming it does
    await consent(city, cid, "HRA", ["CASEWORK", "DOCUMENTS"])
    assert (await hra.query(LEGAL, {"id": cid}))["data"]["client"]["immigrationLegal"]["milestones"] is None
    await consent(city, cid, "HRA", ["IMMIGRATION_LEGAL"])
    seen = (await hra.query(LEGAL, {"id": cid}))["data"]["client"]["immigrationLegal"]
    assert [(a["agency"], a["status"]) for a in seen["access"]] == [("LEGALAID", "SHOWN")]
    assert len(seen["milestones"]) == 2
    # only its recorder corrects it: HRA sees it and may not; DHS does not even see it
    assert _code(await hra.query(IN_ERROR, {"id": made["id"]})) == "FORBIDDEN"
    assert _code(await dhs.query(IN_ERROR, {"id": made["id"]})) == "RECORD_NOT_FOUND"
    assert (await legal.query(IN_ERROR, {"id": made["id"]}))["data"]["markLegalMilestoneInError"][
        "enteredInError"] is True
    assert _code(await legal.query(IN_ERROR, {"id": made["id"]})) == "BAD_USER_INPUT"  # once


async def test_legal_goals_are_met_by_the_milestones_on_their_day_and_open_again_when_one_was_wrong(
    city: City, population: Population,
) -> None:
    cid = next(p for p in population.people if p.hmis_id and p.benefits_id).client_id
    hra, legal = city.as_("HRA"), city.as_("LEGALAID", "partner")
    arrived = datetime.now(UTC).date() - timedelta(days=200)
    plan = (await hra.query(CREATE_PLAN, {"c": cid, "h": 60, "arrived": arrived.isoformat(), "goals": [
        "ASYLUM_APPLICATION_FILED", "WORK_AUTHORIZATION_FILED", "LEGAL_REPRESENTATION_FOUND"]}))["data"]["createPlan"]
    await consent(city, cid, "LEGALAID", ["IDENTITY"])
    filed_on = datetime.now(UTC).date() - timedelta(days=30)
    filed = (await legal.query(RECORD, {"c": cid, "m": "ASYLUM_APPLICATION_FILED", "on": filed_on.isoformat()}))[
        "data"]["recordLegalMilestone"]
    await legal.query(RECORD, {"c": cid, "m": "REPRESENTATION_AGREED", "on": filed_on.isoformat()})
    # HRA may not see the legal partner's record: its legal goals stay open
    checked = (await hra.query(CHECK, {"p": plan["id"]}))["data"]["checkPlanEvidence"]
    assert {g["code"]: g["status"] for g in checked["goals"]} == {
        "ASYLUM_APPLICATION_FILED": "OPEN", "WORK_AUTHORIZATION_FILED": "OPEN", "LEGAL_REPRESENTATION_FOUND": "OPEN"}
    await consent(city, cid, "HRA", ["IMMIGRATION_LEGAL"])
    checked = (await hra.query(CHECK, {"p": plan["id"]}))["data"]["checkPlanEvidence"]
    asylum = _goal(checked, "ASYLUM_APPLICATION_FILED")
    assert (asylum["status"], asylum["metBy"], asylum["evidence"]) == ("MET", "EVIDENCE", "legal-asylum-filed")
    assert asylum["metOn"] == filed_on.isoformat()  # the day it was filed, not the day of the check
    assert _goal(checked, "LEGAL_REPRESENTATION_FOUND")["status"] == "MET"
    # the work permit's clock runs from the day the application was filed, not from the day the check ran
    assert _goal(checked, "WORK_AUTHORIZATION_FILED")["notBefore"] == (filed_on + timedelta(days=150)).isoformat()
    assert _goal(checked, "WORK_AUTHORIZATION_FILED")["status"] == "OPEN"
    # the filing was entered in error: the goal is open again at the next check, and the clock unknown
    await legal.query(IN_ERROR, {"id": filed["id"]})
    again = (await hra.query(CHECK, {"p": plan["id"]}))["data"]["checkPlanEvidence"]
    assert (_goal(again, "ASYLUM_APPLICATION_FILED")["status"], _goal(again, "ASYLUM_APPLICATION_FILED")["metBy"]) \
        == ("OPEN", None)
    assert _goal(again, "WORK_AUTHORIZATION_FILED")["notBefore"] is None
    # recorded anew, on the right day: met on that day, and the work permit's clock with it
    right = filed_on - timedelta(days=5)
    await legal.query(RECORD, {"c": cid, "m": "ASYLUM_APPLICATION_FILED", "on": right.isoformat()})
    fixed = (await hra.query(CHECK, {"p": plan["id"]}))["data"]["checkPlanEvidence"]
    assert (_goal(fixed, "ASYLUM_APPLICATION_FILED")["status"], _goal(fixed, "ASYLUM_APPLICATION_FILED")["metOn"]) \
        == ("MET", right.isoformat())
    assert _goal(fixed, "WORK_AUTHORIZATION_FILED")["notBefore"] == (right + timedelta(days=150)).isoformat()


def _family(population: Population) -> tuple[Any, list[Any]]:
    """A household in the shelter system's records: its head and at least two children, one of them at school."""
    for household in sorted({p.household for p in population.people}):
        members = [p for p in population.people if p.household == household and p.hmis_id]
        children = [p for p in members if p.relationship == "CHILD"]
        head = next((p for p in members if p.relationship == "HEAD"), None)
        if head is not None and len(children) >= 2 and any(c.student_id for c in children):
            return head, sorted(children, key=lambda c: not c.student_id)  # the pupil first
    raise AssertionError("the test population has a sheltered family with two children, one at school")


async def test_a_household_plan_checks_each_childs_school_as_the_plans_organisation_may_see_that_child(
    city: City, population: Population,
) -> None:
    head, (pupil, other, *_) = _family(population)
    dhs = city.as_("DHS")
    members = [{"code": "CHILD_ENROLLED_IN_SCHOOL", "memberId": child.client_id} for child in (pupil, other)]
    members.append({"code": "JOB_STARTED", "memberId": other.client_id})  # checked against nothing: see below
    plan = (await dhs.query(MEMBER_PLAN, {"c": head.client_id, "goals": ["ESOL_ENROLLED"], "members": members}))[
        "data"]["createPlan"]
    school = {g["memberId"]: g["id"] for g in plan["memberGoals"] if g["code"] == "CHILD_ENROLLED_IN_SCHOOL"}
    assert set(school) == {pupil.client_id, other.client_id}
    # DHS may not see the district's records of either child: nothing is met by evidence it cannot see
    checked = (await dhs.query(CHECK, {"p": plan["id"]}))["data"]["checkPlanEvidence"]
    assert {g["status"] for g in checked["goals"]} == {"OPEN"}
    # the parent consents, for the child at school, to DHS seeing the child's school records
    await consent(city, pupil.client_id, "DHS", ["SCHOOLING"], grantor="GUARDIAN", recorder="DHS")
    status = {g["id"]: g["status"] for g in (await dhs.query(CHECK, {"p": plan["id"]}))["data"][
        "checkPlanEvidence"]["goals"]}
    assert (status[school[pupil.client_id]], status[school[other.client_id]]) == ("MET", "OPEN")
    # a member's job, benefits or immigration case is theirs: a goal for them is not checked against it (what the
    # plan shows is read by the plan's client and by whoever may read its casework)
    job = next(g for g in checked["goals"] if g["code"] == "JOB_STARTED")
    assert status[job["id"]] == "OPEN"


async def test_a_member_goal_is_for_someone_of_the_clients_household_and_goals_are_added_as_the_plan_goes(
    city: City, population: Population,
) -> None:
    head, (child, *_) = _family(population)
    dhs = city.as_("DHS")
    plan = (await dhs.query(CREATE_PLAN, {"c": head.client_id, "h": 30, "goals": ["HOUSING_SEARCH"]}))["data"][
        "createPlan"]
    added = (await dhs.query(ADD_GOAL, {"p": plan["id"], "code": "CHILD_ENROLLED_IN_SCHOOL", "m": child.client_id}))[
        "data"]["addPlanGoal"]
    assert [g["memberId"] for g in added["members"]].count(child.client_id) == 1
    added = (await dhs.query(ADD_GOAL, {"p": plan["id"], "title": "Winter coats for the children"}))["data"][
        "addPlanGoal"]
    assert _goal(added, "Winter coats for the children")["area"] == "OTHER"
    # a client DHS does not work with, and one that does not exist, are refused alike (the policies); a client DHS
    # works with who is not of this household, and the plan's own client, are not household members
    unknown = "00000000-0000-4000-8000-00000000beef"
    stranger = next(p for p in population.people if p.hmis_id and p.household != head.household)
    for member, code in ((UNLINKED_CLIENT, "FORBIDDEN"), (unknown, "FORBIDDEN"),
                         (stranger.client_id, "BAD_USER_INPUT"), (head.client_id, "BAD_USER_INPUT")):
        assert _code(await dhs.query(ADD_GOAL, {"p": plan["id"], "code": "CHILD_ENROLLED_IN_SCHOOL",
                                                "m": member})) == code, member
    assert _code(await dhs.query(MEMBER_PLAN, {"c": head.client_id, "members": [
        {"code": "CHILD_ENROLLED_IN_SCHOOL", "memberId": stranger.client_id}]})) == "BAD_USER_INPUT"
    assert _code(await dhs.query(ADD_GOAL, {"p": plan["id"], "code": "ESOL_ENROLLED", "title": "x"})) == \
        "BAD_USER_INPUT"
    # another organisation cannot add to DHS's plan: it does not exist for them
    assert _code(await city.as_("HRA").query(ADD_GOAL, {"p": plan["id"], "title": "x"})) == "RECORD_NOT_FOUND"
    assert len((await dhs.query(CHECK, {"p": plan["id"]}))["data"]["checkPlanEvidence"]["goals"]) == 3


async def test_checking_that_a_member_goal_is_for_the_household_does_not_read_who_the_member_is(
    city: City, population: Population,
) -> None:
    """Whether someone is of the client's household is read from their stays alone: the access log holds no
    identity section of the member from making or adding a goal for them (the household list itself, which
    names them, is another read)."""
    head, (child, other, *_) = _family(population)
    dhs = city.as_("DHS")

    def identity_reads(logged: list[Any], member: str) -> list[Any]:
        return [d for e in logged if e.client_id == member for d in e.decisions if d["category"] == "identity"]

    before = len(await events(city.database_url))
    plan = (await dhs.query(MEMBER_PLAN, {"c": head.client_id, "goals": ["HOUSING_SEARCH"], "members": [
        {"code": "CHILD_ENROLLED_IN_SCHOOL", "memberId": child.client_id}]}))["data"]["createPlan"]
    logged = (await events(city.database_url))[before:]
    # the child's stay in the household was read, and logged, to check it; not their identity
    assert {d["category"] for e in logged if e.client_id == child.client_id and e.action == "read"
            for d in e.decisions} == {"housing"}
    assert identity_reads(logged, child.client_id) == [] and identity_reads(logged, other.client_id) == []
    before = len(logged) + before
    added = await dhs.query(ADD_GOAL, {"p": plan["id"], "code": "CHILD_ENROLLED_IN_SCHOOL", "m": other.client_id})
    assert "errors" not in added, added
    logged = (await events(city.database_url))[before:]
    assert any(e.client_id == other.client_id and e.action == "read" for e in logged)
    assert identity_reads(logged, other.client_id) == [] and identity_reads(logged, child.client_id) == []
    # the household list is what shows their names, and reads their identity to do so
    before = len(logged) + before
    listed = (await dhs.query(HOUSEHOLD, {"id": head.client_id}))["data"]["client"]["household"]
    assert {m["clientId"] for m in listed} >= {child.client_id, other.client_id} and all(m["firstName"] for m in listed)
    assert identity_reads((await events(city.database_url))[before:], child.client_id)


async def test_a_job_goal_is_met_by_the_shelter_systems_newest_answer_as_the_plans_organisation_may_see_it(
    city: City, population: Population, tmp_path: Path,
) -> None:
    ended = {e["EnrollmentID"] for e in population.hmis.exits}
    stay = next(e for e in population.hmis.enrollments if e["EnrollmentID"] not in ended
                and e["RelationshipToHoH"] == 1)  # a head of household in shelter now
    eid, pid, entry = str(stay["EnrollmentID"]), str(stay["PersonalID"]), stay["EntryDate"]
    assert isinstance(entry, date)
    cid = next(p.client_id for p in population.people if p.hmis_id == pid)
    dhs, hra = city.as_("DHS"), city.as_("HRA")
    plans = {org: (await who.query(CREATE_PLAN, {"c": cid, "h": 90, "goals": ["JOB_STARTED"]}))["data"]["createPlan"]
             for org, who in (("DHS", dhs), ("HRA", hra))}
    assert _goal((await dhs.query(CHECK, {"p": plans["DHS"]["id"]}))["data"]["checkPlanEvidence"],
                 "JOB_STARTED")["status"] == "OPEN"
    # an update in the shelter system's next export: the client found a job (the newest answer; earlier ones: no)
    hired = datetime.now(UTC).date() - timedelta(days=1)
    delta = write_export(HmisData(source_id=population.hmis.source_id, employment=[
        record("J-1", eid, pid, hired, 2, 1, kind=1)]), tmp_path / "delta",
        exported_at=HMIS_EXPORTED_AT + timedelta(days=1), directive=DELTA, export_id="3003")
    engine = make_engine(city.database_url)
    try:
        assert (await import_export(make_sessionmaker(engine), delta)).ok
    finally:
        await engine.dispose()
    job = _goal((await dhs.query(CHECK, {"p": plans["DHS"]["id"]}))["data"]["checkPlanEvidence"], "JOB_STARTED")
    assert (job["status"], job["metBy"], job["evidence"]) == ("MET", "EVIDENCE", "housing-employed")
    assert job["metOn"] == hired.isoformat()  # the day the shelter system recorded it
    # a plan for a client who arrived after that answer was taken: a job from before is not this plan's
    later = (await dhs.query(CREATE_PLAN, {"c": cid, "h": 30, "goals": ["JOB_STARTED"],
                                           "arrived": (hired + timedelta(days=1)).isoformat()}))["data"]["createPlan"]
    assert _goal((await dhs.query(CHECK, {"p": later["id"]}))["data"]["checkPlanEvidence"],
                 "JOB_STARTED")["status"] == "OPEN"
    # HRA, which may not see the shelter system's records, never finds it
    assert _goal((await hra.query(CHECK, {"p": plans["HRA"]["id"]}))["data"]["checkPlanEvidence"],
                 "JOB_STARTED")["status"] == "OPEN"


def test_every_evidence_kind_a_catalogue_may_name_is_one_the_plan_desk_checks() -> None:
    assert set(EVIDENCE) == CATALOGUE_EVIDENCE


HOUSEHOLD = """query($id: ID!) { client(id: $id) { household { clientId relationshipToHead firstName lastName } } }"""


async def test_the_household_of_a_client_lists_only_members_whose_stay_there_the_caller_may_see(
    city: City, population: Population,
) -> None:
    def members(household: int) -> list[Any]:
        return [p for p in population.people if p.household == household and p.hmis_id]
    head, *children = next(m for m in (members(h) for h in sorted({p.household for p in population.people}))
                           if len(m) >= 3 and m[0].relationship == "HEAD")
    dhs, hra = city.as_("DHS"), city.as_("HRA")
    found = (await dhs.query(HOUSEHOLD, {"id": head.client_id}))["data"]["client"]["household"]
    assert {(m["clientId"], m["relationshipToHead"]) for m in found} == {(c.client_id, 2) for c in children}
    assert all(m["firstName"] for m in found)  # the shelter system's own records: DHS sees their names
    # HRA may not see the shelter system's records: no one
    assert (await hra.query(HOUSEHOLD, {"id": head.client_id}))["data"]["client"]["household"] == []
    # the head lets HRA see their stays: the children are still not shown (their own stays are not opened) ...
    await consent(city, head.client_id, "HRA", ["HOUSING"])
    assert (await hra.query(HOUSEHOLD, {"id": head.client_id}))["data"]["client"]["household"] == []
    # ... until the parent consents for the first child too; then only that child, with no name (identity not
    # opened to HRA by it; HRA's own benefits record of the child is another matter)
    await consent(city, children[0].client_id, "HRA", ["HOUSING"], grantor="GUARDIAN")
    shown = (await hra.query(HOUSEHOLD, {"id": head.client_id}))["data"]["client"]["household"]
    assert [m["clientId"] for m in shown] == [children[0].client_id]


async def test_households_are_answered_for_one_client_per_request(city: City, population: Population) -> None:
    head, _children = _family(population)
    dhs = city.as_("DHS")
    other = next(p.client_id for p in population.people if p.hmis_id and p.household != head.household)
    many = await dhs.query("query($ids: [ID!]!) { clients(ids: $ids) { household { clientId } } }",
                           {"ids": [head.client_id, other]})
    assert {e["extensions"]["code"] for e in many["errors"]} == {"BAD_USER_INPUT"}
    aliased = await dhs.query("query($id: ID!) { a: client(id: $id) { household { clientId } } "
                              "b: client(id: $id) { household { clientId } } }", {"id": head.client_id})
    assert aliased["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
