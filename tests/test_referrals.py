"""Closed-loop referrals and service plans (issue 21 §1, §2, §4, §5): a caseworker refers a client to a directory
service with a consent that shares exactly what the referral needs; the service's organisation answers through the
API with its own token, following FHIR Task's statuses, and sees only what the consent shares, and nothing once it
ends; the client applies themselves and may withdraw; nobody answering expires a referral; the client is told of
each change. A plan's goals count their dates from arrival, move with their tasks (a referral may be one) and with
the evidence the plan's organisation may see. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from api.app import create_app
from api.services import build_services
from api.settings import Settings
from connectors.hsds.directory import replace
from connectors.hsds.reader import read
from demo.population import Population
from demo.servers import ServerThread
from store.engine import make_engine, make_sessionmaker
from store.held_tables import Message, Referral
from store.tables import Consent
from tests.gateway import GraphQLClient, caller, events, seed_links

DIRECTORY = Path(__file__).resolve().parent.parent / "demo" / "directory"
LEGAL_ORG = "99ebaba2-224a-5911-99a3-b700be06bdb4"  # Northside Immigrant Legal Clinic, in demo/directory
FIELDS = "id clientId referredBy answeredBy status reason note shares consentId shareUntil " \
         "service { id name organizationName } history { status reason agency }"
REFER = f"""mutation($c: ID!, $s: ID!, $share: [Category!], $ref: String, $note: String, $days: Int) {{
  referClient(clientId: $c, serviceId: $s, share: $share, sourceReference: $ref, note: $note, shareDays: $days) {{
    {FIELDS} }} }}"""
ANSWER = f"""mutation($id: ID!, $status: ReferralStatus!, $reason: ReferralReason) {{
  answerReferral(id: $id, status: $status, reason: $reason) {{ {FIELDS} }} }}"""
WITHDRAW = f"""mutation($id: ID!, $reason: ReferralReason) {{ withdrawReferral(id: $id, reason: $reason) {{
  {FIELDS} }} }}"""
INBOX = f"""query($closed: Boolean!) {{ referralInbox(includeClosed: $closed) {{ {FIELDS} }} }}"""
PROFILE = """query($id: ID!) { client(id: $id) {
  identity { access { agency status reason basis } records { agency lastName } }
  housing { access { agency status reason } }
  casework { access { agency status reason } notes { id } referrals { id status answeredBy } } } }"""
SERVICES = """query($need: String!) { directoryServices(need: $need) { id name organization { id } } }"""
ADD_CONTACT = """mutation($c: ID!) { addContactPoint(clientId: $c, channel: SMS, address: "+12125550142", optedIn: true,
  sourceReference: "SIGNED-CONTACT-FORM-7") { id } }"""
NOTE = """mutation($c: ID!) { addCaseNote(clientId: $c, text: "Intake: needs legal help.") { id } }"""


@dataclass
class City:
    settings: Settings
    server: ServerThread
    database_url: str

    def as_(self, org: str, *roles: str, **kw: Any) -> GraphQLClient:
        return caller((self.settings, self.server), org, *roles, **kw)

    def client(self, cid: str, *, org: str = "CLIENTS", sub: str = "client-1") -> GraphQLClient:
        """The client `cid` signed in (under `org`: an identity provider may issue clients' tokens under an agency)."""
        return self.as_(org, "client", purpose="client_access", self_client=cid, sub=sub)

    async def service(self, need: str) -> str:
        found = await self.as_("DHS").query(SERVICES, {"need": need})
        return str(found["data"]["directoryServices"][0]["id"])

    async def change(self, stmt: Any) -> None:
        engine = make_engine(self.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                await session.execute(stmt)
        finally:
            await engine.dispose()

    async def rows(self, stmt: Any) -> list[Any]:
        engine = make_engine(self.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return list((await session.execute(stmt)).scalars())
        finally:
            await engine.dispose()


@pytest.fixture
async def city(database_url: str, benefits_server: ServerThread, edfi_server: ServerThread, population: Population,
               settings_factory: Any) -> AsyncIterator[City]:
    async with open_city(database_url, benefits_server, edfi_server, population, settings_factory) as opened:
        yield opened


@asynccontextmanager
async def open_city(database_url: str, benefits_server: ServerThread, edfi_server: ServerThread,
                    population: Population, settings_factory: Any) -> AsyncIterator[City]:
    """The gateway over the test population and the demo's directory, the legal clinic answering as LEGALAID."""
    await seed_links(database_url, population)
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await replace(session, read(DIRECTORY), now=datetime.now(UTC))
    finally:
        await engine.dispose()
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url,
                                schooling_url=edfi_server.url, benefits_timeout=1.0,
                                referrals={"receivers": {LEGAL_ORG: "LEGALAID"}})
    with ServerThread(create_app(settings)) as server:
        yield City(settings, server, database_url)


def _sheltered(population: Population) -> str:
    return next(p.client_id for p in population.people if p.hmis_id)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def _parts(section: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {a["agency"]: (a["status"], a["reason"]) for a in section["access"]}


async def test_a_caseworker_refers_the_partner_answers_and_sees_only_what_the_referral_shares_while_it_lasts(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    assert "errors" not in await dhs.query(ADD_CONTACT, {"c": cid})
    assert "errors" not in await dhs.query(NOTE, {"c": cid})
    clinic = await city.service("IMMIGRATION_LEGAL")
    made = (await dhs.query(REFER, {"c": cid, "s": clinic, "share": ["IDENTITY"], "ref": "REFERRAL-FORM-12",
                                    "note": "Arrived in March; needs help filing for asylum."}))["data"]["referClient"]
    assert (made["status"], made["referredBy"], made["answeredBy"], made["shares"]) == (
        "REQUESTED", "DHS", "LEGALAID", ["IDENTITY"])
    assert made["service"]["name"] == "Asylum and work authorization clinic" and made["consentId"]
    logged = [(e.action, e.outcome) for e in await events(city.database_url)][-2:]
    assert logged == [("consent.record", "performed"), ("referral.create", "performed")]

    # the partner's inbox, and what it may see of the client: identity (shared), its own side of the referral
    (waiting,) = (await legal.query(INBOX, {"closed": False}))["data"]["referralInbox"]
    assert (waiting["id"], waiting["note"]) == (made["id"], "Arrived in March; needs help filing for asylum.")
    seen = (await legal.query(PROFILE, {"id": cid}))["data"]["client"]
    assert _parts(seen["identity"])["DHS"] == ("SHOWN", None)
    assert _parts(seen["housing"])["DHS"] == ("WITHHELD", "CONSENT_REQUIRED")  # not shared
    assert seen["casework"]["notes"] == [] and [r["id"] for r in seen["casework"]["referrals"]] == [made["id"]]
    assert _parts(seen["casework"]) == {"LEGALAID": ("SHOWN", None)}  # DHS's case notes: no trace

    for status in ("ACCEPTED", "IN_PROGRESS"):
        assert (await legal.query(ANSWER, {"id": made["id"], "status": status}))["data"]["answerReferral"][
            "status"] == status
    wrong = await legal.query(ANSWER, {"id": made["id"], "status": "RECEIVED"})
    assert _code(wrong) == "BAD_USER_INPUT" and wrong["errors"][0]["extensions"]["reason"] == "invalid_transition"
    done = (await legal.query(ANSWER, {"id": made["id"], "status": "COMPLETED"}))["data"]["answerReferral"]
    assert [(h["status"], h["agency"]) for h in done["history"]] == [
        ("REQUESTED", "DHS"), ("ACCEPTED", "LEGALAID"), ("IN_PROGRESS", "LEGALAID"), ("COMPLETED", "LEGALAID")]
    again = await legal.query(ANSWER, {"id": made["id"], "status": "FAILED", "reason": "OTHER"})
    assert again["errors"][0]["extensions"]["reason"] == "final"

    # the referral ended: what it shared ends with it
    after = (await legal.query(PROFILE, {"id": cid}))["data"]["client"]
    assert _parts(after["identity"])["DHS"] == ("WITHHELD", "CONSENT_REVOKED") and after["identity"]["records"] is None
    assert (await legal.query(INBOX, {"closed": False}))["data"]["referralInbox"] == []
    assert [r["status"] for r in (await legal.query(INBOX, {"closed": True}))["data"]["referralInbox"]] == [
        "COMPLETED"]
    mine = (await dhs.query(PROFILE, {"id": cid}))["data"]["client"]["casework"]["referrals"]
    assert [(r["id"], r["status"]) for r in mine] == [(made["id"], "COMPLETED")]
    # the client was told of each of the partner's answers: by a message with a link, naming nothing
    told = await city.rows(select(Message).where(Message.kind == "referral_update"))
    assert len(told) == 3 and all(m.client_id == cid for m in told)


async def test_only_the_receiver_answers_a_rejection_says_why_and_a_revoked_consent_shares_nothing_more(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    clinic = await city.service("IMMIGRATION_LEGAL")
    made = (await dhs.query(REFER, {"c": cid, "s": clinic, "share": ["IDENTITY"], "ref": "F-1"}))["data"][
        "referClient"]
    for other in (dhs, city.as_("HRA"), city.as_("LEGALAID", "auditor", purpose="audit")):
        assert _code(await other.query(ANSWER, {"id": made["id"], "status": "ACCEPTED"})) in (
            "RECORD_NOT_FOUND", "FORBIDDEN")
    assert _code(await legal.query(ANSWER, {"id": made["id"], "status": "REJECTED"})) == "BAD_USER_INPUT"
    # the client revokes the referral's consent: the partner sees the referral it holds, and nothing of the client
    revoked = await city.client(cid).query('mutation($id: ID!) { revokeConsent(id: $id) { status } }',
                                           {"id": made["consentId"]})
    assert "errors" not in revoked, revoked
    seen = (await legal.query(PROFILE, {"id": cid}))["data"]["client"]
    assert _parts(seen["identity"])["DHS"] == ("WITHHELD", "CONSENT_REVOKED")
    rejected = (await legal.query(ANSWER, {"id": made["id"], "status": "REJECTED", "reason": "NO_CAPACITY"}))[
        "data"]["answerReferral"]
    assert (rejected["status"], rejected["reason"]) == ("REJECTED", "NO_CAPACITY")
    # sharing needs a form reference, a known service, and an organisation to share with
    esol = await city.service("ESOL")
    assert _code(await dhs.query(REFER, {"c": cid, "s": clinic, "share": ["IDENTITY"]})) == "BAD_USER_INPUT"
    assert _code(await dhs.query(REFER, {"c": cid, "s": esol, "share": ["IDENTITY"], "ref": "F"})) == \
        "BAD_USER_INPUT"
    assert _code(await dhs.query(REFER, {"c": cid, "s": "no-such-service"})) == "BAD_USER_INPUT"
    assert _code(await dhs.query(REFER, {"c": cid, "s": clinic, "share": ["CASEWORK"], "ref": "F"})) == \
        "BAD_USER_INPUT"


async def test_once_the_referrals_consent_runs_out_the_partner_sees_nothing_more_of_the_client(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    made = (await dhs.query(REFER, {"c": cid, "s": await city.service("IMMIGRATION_LEGAL"), "share": ["IDENTITY"],
                                    "ref": "F-3", "days": 30}))["data"]["referClient"]
    assert "errors" not in await legal.query(ANSWER, {"id": made["id"], "status": "ACCEPTED"})
    assert _parts((await legal.query(PROFILE, {"id": cid}))["data"]["client"]["identity"])["DHS"] == ("SHOWN", None)
    (consent,) = await city.rows(select(Consent).where(Consent.id == made["consentId"]))
    ran_out = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    # 30 days later, as it were: the consent's end moved into the past (a new version of the row, as every change
    # of provisions is: the gateway's parsed consents are keyed by it)
    await city.change(update(Consent).where(Consent.id == consent.id).values(
        provisions=[{**p, "period_end": ran_out} for p in consent.provisions], version=consent.version + 1))
    seen = (await legal.query(PROFILE, {"id": cid}))["data"]["client"]
    assert _parts(seen["identity"])["DHS"] == ("WITHHELD", "CONSENT_EXPIRED") and seen["identity"]["records"] is None
    # its own side of the referral is still its own: it can say where the work stands
    assert (await legal.query(ANSWER, {"id": made["id"], "status": "IN_PROGRESS"}))["data"]["answerReferral"][
        "status"] == "IN_PROGRESS"


async def test_the_client_applies_themself_and_withdraws_and_the_referrer_cannot_see_it_without_consent(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    me, dhs = city.client(cid), city.as_("DHS")
    esol = await city.service("ESOL")
    applied = (await me.query(REFER, {"c": cid, "s": esol}))["data"]["referClient"]
    assert (applied["referredBy"], applied["answeredBy"], applied["status"], applied["consentId"]) == (
        "CLIENT", None, "REQUESTED", None)  # the client's own (whatever their token names); nobody answers for the
    # ESOL class here: it waits, then expires
    clinic = await city.service("IMMIGRATION_LEGAL")
    asked = (await me.query(REFER, {"c": cid, "s": clinic, "share": ["CONTACT"]}))["data"]["referClient"]
    consent = (await city.rows(select(Consent).where(Consent.id == asked["consentId"])))[0]
    assert (consent.grantor, consent.source_reference) == ("client", "the client's own sign-in")
    assert _code(await me.query(REFER, {"c": next(p.client_id for p in population.people if p.client_id != cid),
                                        "s": esol})) == "FORBIDDEN"  # for themself only
    # DHS (which the client never consented to) sees neither, and cannot withdraw them
    theirs = (await dhs.query(PROFILE, {"id": cid}))["data"]["client"]["casework"]
    assert theirs["referrals"] == [] and "CLIENT" not in _parts(theirs) and "CLIENTS" not in _parts(theirs)
    assert _code(await dhs.query(WITHDRAW, {"id": asked["id"]})) == "RECORD_NOT_FOUND"
    withdrawn = (await me.query(WITHDRAW, {"id": asked["id"], "reason": "CLIENT_DECLINED"}))["data"][
        "withdrawReferral"]
    assert (withdrawn["status"], withdrawn["reason"]) == ("CANCELLED", "CLIENT_DECLINED")
    assert (await city.rows(select(Consent).where(Consent.id == asked["consentId"])))[0].revoked_at is not None
    # a referral made by DHS: the client may withdraw it too
    made = (await dhs.query(REFER, {"c": cid, "s": clinic}))["data"]["referClient"]
    assert (await me.query(WITHDRAW, {"id": made["id"]}))["data"]["withdrawReferral"]["status"] == "CANCELLED"


async def test_a_referral_nobody_answers_expires_and_its_consent_ends(city: City, population: Population) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    clinic = await city.service("IMMIGRATION_LEGAL")
    made = (await dhs.query(REFER, {"c": cid, "s": clinic, "share": ["IDENTITY"], "ref": "F-2"}))["data"][
        "referClient"]
    fresh = (await dhs.query(REFER, {"c": cid, "s": await city.service("ESOL")}))["data"]["referClient"]
    await city.change(update(Referral).where(Referral.id == made["id"]).values(
        created_at=datetime.now(UTC) - timedelta(days=15)))
    services = build_services(city.settings)
    try:
        assert await services.referrals.expire_unanswered() == 1
    finally:
        await services.aclose()
    mine = {r["id"]: r["status"] for r in (await dhs.query(PROFILE, {"id": cid}))["data"]["client"]["casework"][
        "referrals"]}
    assert mine == {made["id"]: "EXPIRED", fresh["id"]: "REQUESTED"}
    assert (await city.rows(select(Consent).where(Consent.id == made["consentId"])))[0].revoked_at is not None
    logged = [e for e in await events(city.database_url) if e.action == "referral.respond"]
    assert [(e.subject, e.client_id, e.outcome) for e in logged] == [("casebridge-referrals", cid, "performed")]


PLAN_FIELDS = """id agency horizonDays startsOn endsOn arrivedOn met goals { id code name area status metBy metOn
  evidence dueOn notBefore tasks { id title owner ownerOrg status referralId } notes { change barriers } }"""
CREATE_PLAN = f"""mutation($c: ID!, $h: Int!, $goals: [String!], $free: [String!], $arrived: Date) {{
  createPlan(clientId: $c, horizonDays: $h, goals: $goals, freeGoals: $free, arrivedOn: $arrived) {{
    {PLAN_FIELDS} }} }}"""
ADD_TASK = f"""mutation($g: ID!, $t: String!, $o: PlanTaskOwner!, $org: String, $r: ID) {{
  addPlanTask(goalId: $g, title: $t, owner: $o, ownerOrg: $org, referralId: $r) {{ {PLAN_FIELDS} }} }}"""
SET_TASK = f"""mutation($t: ID!, $s: PlanTaskStatus!) {{ setPlanTask(taskId: $t, status: $s) {{ {PLAN_FIELDS} }} }}"""
UPDATE_GOAL = f"""mutation($g: ID!, $c: ProgressChange!, $b: [Barrier!], $s: PlanGoalStatus) {{
  updatePlanGoal(goalId: $g, change: $c, barriers: $b, status: $s) {{ {PLAN_FIELDS} }} }}"""
CHECK = f"""mutation($p: ID!) {{ checkPlanEvidence(planId: $p) {{ {PLAN_FIELDS} }} }}"""
PLANS = f"""query($id: ID!) {{ client(id: $id) {{ casework {{ access {{ agency status }}
  plans {{ {PLAN_FIELDS} }} }} }} }}"""


def _goal(plan: dict[str, Any], code: str) -> dict[str, Any]:
    return next(g for g in plan["goals"] if g["code"] == code or g["name"] == code)


async def test_a_plan_counts_its_deadlines_from_arrival_and_its_goals_move_with_their_tasks(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    arrived = (datetime.now(UTC).date() - timedelta(days=100))
    plan = (await dhs.query(CREATE_PLAN, {"c": cid, "h": 60, "arrived": arrived.isoformat(), "goals": [
        "ASYLUM_APPLICATION_FILED", "WORK_AUTHORIZATION_FILED", "ESOL_ENROLLED"], "free": ["Open a bank account"]}
    ))["data"]["createPlan"]
    assert (plan["agency"], plan["horizonDays"], plan["met"]) == ("DHS", 60, 0)
    assert _goal(plan, "ASYLUM_APPLICATION_FILED")["dueOn"] == (arrived + timedelta(days=365)).isoformat()
    assert _goal(plan, "WORK_AUTHORIZATION_FILED")["notBefore"] is None  # its clock starts with the asylum filing
    assert _goal(plan, "Open a bank account")["area"] == "OTHER"
    esol = _goal(plan, "ESOL_ENROLLED")
    plan = (await dhs.query(ADD_TASK, {"g": esol["id"], "t": "Go to the first class", "o": "CLIENT"}))["data"][
        "addPlanTask"]
    plan = (await dhs.query(ADD_TASK, {"g": esol["id"], "t": "Call the library", "o": "CASEWORKER"}))["data"][
        "addPlanTask"]
    tasks = {t["title"]: t for t in _goal(plan, "ESOL_ENROLLED")["tasks"]}
    # the client marks done what is theirs, not the caseworker's: the policies say so, and the refusal is logged
    before = len(await events(city.database_url))
    assert _code(await me.query(SET_TASK, {"t": tasks["Call the library"]["id"], "s": "DONE"})) == "FORBIDDEN"
    assert [(e.action, e.outcome) for e in (await events(city.database_url))[before:]] == [("plan.step", "refused")]
    plan = (await me.query(SET_TASK, {"t": tasks["Go to the first class"]["id"], "s": "DONE"}))["data"]["setPlanTask"]
    assert _goal(plan, "ESOL_ENROLLED")["status"] == "IN_PROGRESS"
    plan = (await dhs.query(SET_TASK, {"t": tasks["Call the library"]["id"], "s": "DONE"}))["data"]["setPlanTask"]
    assert (_goal(plan, "ESOL_ENROLLED")["status"], _goal(plan, "ESOL_ENROLLED")["metBy"]) == ("MET", "TASKS")
    # the asylum application filed: the work authorization's clock starts (150 days)
    asylum = _goal(plan, "ASYLUM_APPLICATION_FILED")
    plan = (await dhs.query(UPDATE_GOAL, {"g": asylum["id"], "c": "COMPLETED", "b": ["DOCUMENTS_MISSING"],
                                          "s": "MET"}))["data"]["updatePlanGoal"]
    assert _goal(plan, "WORK_AUTHORIZATION_FILED")["notBefore"] == (
        datetime.now(UTC).date() + timedelta(days=150)).isoformat()
    assert _goal(plan, "ASYLUM_APPLICATION_FILED")["notes"] == [{"change": "COMPLETED",
                                                                 "barriers": ["DOCUMENTS_MISSING"]}]
    assert plan["met"] == 2
    # a status follows another only as the plan's rules say: a dropped goal stays dropped, a done task is undone
    # (open), never cancelled
    bank = _goal(plan, "Open a bank account")
    assert "errors" not in await dhs.query(UPDATE_GOAL, {"g": bank["id"], "c": "SETBACK", "s": "DROPPED"})
    refused = await dhs.query(UPDATE_GOAL, {"g": bank["id"], "c": "STARTED", "s": "IN_PROGRESS"})
    assert refused["errors"][0]["extensions"]["reason"] == "invalid_transition"
    assert _code(await dhs.query(ADD_TASK, {"g": bank["id"], "t": "x", "o": "CLIENT"})) == "BAD_USER_INPUT"
    undone = await dhs.query(SET_TASK, {"t": tasks["Call the library"]["id"], "s": "CANCELLED"})
    assert undone["errors"][0]["extensions"]["reason"] == "invalid_transition"
    # the client reads their plan; another organisation without the client's consent sees none of it
    mine = (await me.query(PLANS, {"id": cid}))["data"]["client"]["casework"]["plans"]
    assert [p["id"] for p in mine] == [plan["id"]]
    hra = city.as_("HRA")
    assert (await hra.query(PLANS, {"id": cid}))["data"]["client"]["casework"]["plans"] in ([], None)
    assert _code(await hra.query(ADD_TASK, {"g": esol["id"], "t": "x", "o": "CLIENT"})) == "RECORD_NOT_FOUND"
    assert _code(await dhs.query(CREATE_PLAN, {"c": cid, "h": 45, "goals": ["ESOL_ENROLLED"]})) == "BAD_USER_INPUT"
    assert _code(await dhs.query(CREATE_PLAN, {"c": cid, "h": 30, "goals": ["NO_SUCH_GOAL"]})) == "BAD_USER_INPUT"


async def test_a_step_the_client_owns_is_reminded_before_it_is_due_and_not_once_it_is_done(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    assert "errors" not in await dhs.query(ADD_CONTACT, {"c": cid})
    plan = (await dhs.query(CREATE_PLAN, {"c": cid, "h": 30, "goals": ["ESOL_ENROLLED"]}))["data"]["createPlan"]
    due = datetime.now(UTC).date() + timedelta(days=10)
    added = await dhs.query(ADD_TASK.replace("$r: ID)", "$r: ID, $due: Date)").replace(
        "referralId: $r)", "referralId: $r, dueOn: $due)"), {"g": plan["goals"][0]["id"], "t": "First ESOL class",
                                                             "o": "CLIENT", "due": due.isoformat()})
    task = added["data"]["addPlanTask"]["goals"][0]["tasks"][0]
    (reminder,) = await city.rows(select(Message).where(Message.kind == "task_due"))
    assert reminder.status == "queued" and reminder.send_after.date() == due - timedelta(days=2)
    assert reminder.subject == f"task:DHS:{task['id']}"
    assert "errors" not in await me.query(SET_TASK, {"t": task["id"], "s": "DONE"})
    (after,) = await city.rows(select(Message).where(Message.kind == "task_due"))
    assert after.status == "cancelled"


async def test_a_deadline_of_the_plan_is_reminded_before_it_comes_and_not_once_the_goal_is_met(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    assert "errors" not in await dhs.query(ADD_CONTACT, {"c": cid})
    arrived = datetime.now(UTC).date() - timedelta(days=300)  # the asylum application is due in 65 days
    plan = (await dhs.query(CREATE_PLAN, {"c": cid, "h": 60, "arrived": arrived.isoformat(),
                                          "goals": ["ASYLUM_APPLICATION_FILED"]}))["data"]["createPlan"]
    due = arrived + timedelta(days=365)
    queued = await city.rows(select(Message).where(Message.kind == "goal_due"))
    assert sorted(m.send_after.date() for m in queued) == [due - timedelta(days=30), due - timedelta(days=7)]
    assert all(m.status == "queued" and m.subject == f"goal:DHS:{plan['goals'][0]['id']}" for m in queued)
    assert "errors" not in await dhs.query(UPDATE_GOAL, {"g": plan["goals"][0]["id"], "c": "COMPLETED",
                                                          "s": "MET"})
    assert {m.status for m in await city.rows(select(Message).where(Message.kind == "goal_due"))} == {"cancelled"}


async def test_a_referral_that_is_a_task_completes_it_and_moves_the_goal(city: City, population: Population) -> None:
    cid = _sheltered(population)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    plan = (await dhs.query(CREATE_PLAN, {"c": cid, "h": 30, "goals": ["LEGAL_REPRESENTATION_FOUND"]}))["data"][
        "createPlan"]
    referral = (await dhs.query(REFER, {"c": cid, "s": await city.service("IMMIGRATION_LEGAL")}))["data"][
        "referClient"]
    goal = plan["goals"][0]
    plan = (await dhs.query(ADD_TASK, {"g": goal["id"], "t": "See the legal clinic", "o": "PARTNER",
                                       "org": "LEGALAID", "r": referral["id"]}))["data"]["addPlanTask"]
    assert plan["goals"][0]["tasks"][0]["referralId"] == referral["id"]
    for status in ("ACCEPTED", "COMPLETED"):
        assert "errors" not in await legal.query(ANSWER, {"id": referral["id"], "status": status})
    (after,) = (await dhs.query(PLANS, {"id": cid}))["data"]["client"]["casework"]["plans"]
    assert (after["goals"][0]["status"], after["goals"][0]["metBy"], after["goals"][0]["tasks"][0]["status"]) == (
        "MET", "TASKS", "DONE")


async def test_a_goal_met_by_a_completed_referral_is_no_longer_reminded_of_its_deadline(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    assert "errors" not in await dhs.query(ADD_CONTACT, {"c": cid})
    arrived = datetime.now(UTC).date() - timedelta(days=300)
    plan = (await dhs.query(CREATE_PLAN, {"c": cid, "h": 60, "arrived": arrived.isoformat(),
                                          "goals": ["ASYLUM_APPLICATION_FILED"]}))["data"]["createPlan"]
    goal = plan["goals"][0]
    referral = (await dhs.query(REFER, {"c": cid, "s": await city.service("IMMIGRATION_LEGAL")}))["data"][
        "referClient"]
    assert "errors" not in await dhs.query(ADD_TASK, {"g": goal["id"], "t": "File with the clinic's help",
                                                      "o": "PARTNER", "org": "LEGALAID", "r": referral["id"]})
    reminders = select(Message).where(Message.kind == "goal_due", Message.subject == f"goal:DHS:{goal['id']}")
    assert {m.status for m in await city.rows(reminders)} == {"queued"}
    for status in ("ACCEPTED", "COMPLETED"):
        assert "errors" not in await legal.query(ANSWER, {"id": referral["id"], "status": status})
    (after,) = (await dhs.query(PLANS, {"id": cid}))["data"]["client"]["casework"]["plans"]
    assert (after["goals"][0]["status"], after["goals"][0]["metBy"]) == ("MET", "TASKS")
    # the client is not told their application is due once it is done
    assert {m.status for m in await city.rows(reminders)} == {"cancelled"}


async def test_an_evidence_goal_is_met_only_where_the_plans_organisation_sees_the_evidence_and_follows_the_data(
    city: City, population: Population,
) -> None:
    pupil = next(p for p in population.people if p.student_id)
    doe, dhs = city.as_("DOE"), city.as_("DHS")
    ours = (await doe.query(CREATE_PLAN, {"c": pupil.client_id, "h": 30, "goals": ["CHILD_ENROLLED_IN_SCHOOL"]}))[
        "data"]["createPlan"]
    checked = (await doe.query(CHECK, {"p": ours["id"]}))["data"]["checkPlanEvidence"]["goals"][0]
    assert (checked["status"], checked["metBy"]) == ("MET", "EVIDENCE")
    # said by its kind only: whoever may read the plan (casework) learns nothing of the school record itself
    assert checked["evidence"] == "schooling-enrolled" and str(pupil.student_id) not in str(checked)
    # the district withdraws the student: the goal is open again at the next check
    kept = [dict(a) for a in population.edfi.school_associations]
    try:
        for a in population.edfi.school_associations:
            if a.get("studentReference", {}).get("studentUniqueId") == pupil.student_id:  # type: ignore[union-attr]
                a["exitWithdrawDate"] = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
        again = (await doe.query(CHECK, {"p": ours["id"]}))["data"]["checkPlanEvidence"]["goals"][0]
        assert (again["status"], again["metBy"], again["evidence"]) == ("OPEN", None, None)
    finally:
        population.edfi.school_associations[:] = kept
    if pupil.hmis_id:  # DHS (which may not see the district's records) never finds the evidence
        theirs = (await dhs.query(CREATE_PLAN, {"c": pupil.client_id, "h": 30,
                                                "goals": ["CHILD_ENROLLED_IN_SCHOOL"]}))["data"]["createPlan"]
        seen = (await dhs.query(CHECK, {"p": theirs["id"]}))["data"]["checkPlanEvidence"]["goals"][0]
        assert seen["status"] == "OPEN"


async def test_a_clients_application_is_their_own_whatever_organisation_their_sign_in_names(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    # the city's identity provider issues clients' tokens under an agency: this client's token names DHS
    me = city.client(cid, org="DHS", sub="client-under-dhs")
    applied = (await me.query(REFER, {"c": cid, "s": await city.service("ESOL")}))["data"]["referClient"]
    assert (applied["referredBy"], applied["status"]) == ("CLIENT", "REQUESTED")  # never held for DHS
    # DHS, which the client never consented to, neither sees it nor withdraws it, though the token named DHS
    theirs = (await dhs.query(PROFILE, {"id": cid}))["data"]["client"]["casework"]
    assert theirs["referrals"] == [] and applied["id"] not in str(theirs)
    assert _code(await dhs.query(WITHDRAW, {"id": applied["id"]})) == "RECORD_NOT_FOUND"
    mine = (await me.query(PROFILE, {"id": cid}))["data"]["client"]["casework"]["referrals"]
    assert [r["id"] for r in mine] == [applied["id"]]
