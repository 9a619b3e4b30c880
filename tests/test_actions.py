"""The action vocabulary: every GraphQL field is a Cedar action, every action has rules, every refusal is logged
under its action, and no role is tested in Python outside the policies."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.vocabulary import Action
from policies.cedar import HERE, PolicySet
from resolvers.actions import MUTATION_ACTIONS, QUERY_ACTIONS
from resolvers.schema import build_schema
from tests.gateway import UNLINKED_CLIENT, caller, events

ROOT = Path(__file__).resolve().parents[1]


def test_every_query_and_mutation_is_an_action() -> None:
    schema = build_schema()._schema
    assert schema.query_type is not None and schema.mutation_type is not None
    assert set(schema.query_type.fields) == set(QUERY_ACTIONS)
    assert set(schema.mutation_type.fields) == set(MUTATION_ACTIONS)


def test_every_action_is_declared_in_the_cedar_schema_and_some_rule_permits_it() -> None:
    declared = set(re.findall(r'action "([^"]+)" appliesTo', (HERE / "casebridge.cedarschema").read_text()))
    assert declared == {a.value for a in Action}
    text = PolicySet.load().text
    permits = [chunk for chunk in text.split("@id(")[1:] if "permit (" in chunk.split(";")[0]]
    for action in Action:
        assert any(f'Action::"{action.value}"' in p for p in permits), f"no rule permits {action.value}"


# One document per field, with arguments that pass validation; a caller no rule permits anything.
DOCUMENTS: dict[str, str] = {
    "client": '{ client(id: "%(c)s") { id } }',
    "clients": '{ clients(ids: ["%(c)s"]) { id } }',
    "searchClients": '{ searchClients(input: {cin: "AB12345C"}) { score } }',
    "identityReviewQueue": "{ identityReviewQueue { withheld } }",
    "identityClient": '{ identityClient(id: "%(c)s") { id } }',
    "consents": '{ consents(clientId: "%(c)s") { id } }',
    "accessLog": "{ accessLog { pageInfo { hasNextPage } } }",
    "accessSummary": "{ accessSummary { events } }",
    "accessLogIntegrity": "{ accessLogIntegrity { ok } }",
    "accessLogExport": "{ accessLogExport { events } }",
    "disclosureReport": '{ disclosureReport(clientId: "%(c)s") { category } }',
    "recordConsent": 'mutation { recordConsent(input: {clientId: "%(c)s", sourceReference: "F", givenAt: '
                     '"2026-01-01T00:00:00Z", provisions: [{organizations: ["X"], categories: [BENEFITS], '
                     'purposes: [CASE_MANAGEMENT]}]}) { id } }',
    "startBreakGlass": 'mutation { startBreakGlass(clientId: "%(c)s", justification: "a long enough justification '
                       'for this") { id } }',
    "addCaseNote": 'mutation { addCaseNote(clientId: "%(c)s", text: "n") { id } }',
    "addContactPoint": 'mutation { addContactPoint(clientId: "%(c)s", channel: SMS, address: "212 555 0100", '
                       'optedIn: false) { id } }',
    "setContactPreferences": 'mutation { setContactPreferences(clientId: "%(c)s", language: "es") { language } }',
    "scheduleAppointment": 'mutation { scheduleAppointment(clientId: "%(c)s", type: INTAKE, mode: PHONE, '
                           'scheduledAt: "%(soon)s") { appointmentId } }',
    "requestDocument": 'mutation { requestDocument(clientId: "%(c)s", document: "BIRTH_CERTIFICATE") { id } }',
    "documentReviews": "{ documentReviews { dueAt } }",
    "directoryServices": '{ directoryServices(need: "ESOL") { id } }',
    "directoryNeeds": "{ directoryNeeds { services } }",
    "referralInbox": "{ referralInbox { id } }",
    "webhookSubscriptions": "{ webhookSubscriptions { id } }",
    "createPlan": 'mutation { createPlan(clientId: "%(c)s", horizonDays: 60, goals: ["ESOL_ENROLLED"]) { id } }',
    "recordLegalMilestone": 'mutation { recordLegalMilestone(clientId: "%(c)s", milestone: ASYLUM_APPLICATION_FILED, '
                            'occurredOn: "2026-01-05") { id } }',
    "subscribeWebhook": 'mutation { subscribeWebhook(url: "https://partner.example.org/hooks") { secret } }',
    "endWebhook": 'mutation { endWebhook(id: "00000000-0000-4000-8000-0000000000d6") { id } }',
    "referClient": 'mutation { referClient(clientId: "%(c)s", serviceId: "s-1") { id } }',
    "resolveIdentityReview": 'mutation { resolveIdentityReview(id: "1", decision: SAME_PERSON, reason: "r") '
                             '{ merged } }',
    "linkRecords": 'mutation { linkRecords(a: {source: "a", localId: "1"}, b: {source: "b", localId: "2"}, '
                   'reason: "r") { merged } }',
    "unlinkRecord": 'mutation { unlinkRecord(record: {source: "a", localId: "1"}, reason: "r") { split } }',
}
SOON = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
DOCUMENTS = {field: document % {"c": "00000000-0000-4000-8000-0000000000c1", "soon": SOON}
             for field, document in DOCUMENTS.items()}
# Refused without saying whether the thing exists (a consent id): answered as not found, logged as refused.
HIDDEN = {"consent": '{ consent(id: "k-1") { id } }', "amendConsent": 'mutation { amendConsent(id: "k-1", '
          'provisions: [{organizations: ["X"], categories: [BENEFITS], purposes: [CASE_MANAGEMENT]}]) { id } }',
          "revokeConsent": 'mutation { revokeConsent(id: "k-1") { id } }'}


async def test_every_refusal_is_a_typed_error_logged_under_the_field_s_action(
    gateway: Any, database_url: str,
) -> None:
    admin = caller(gateway, "CITY", "admin")  # a role no rule gives anything but its own session
    by_id = {"setContactOptIn", "updateAppointment", "reviewDocument", "answerReferral", "withdrawReferral",
             "addPlanTask", "setPlanTask", "updatePlanGoal", "checkPlanEvidence", "addPlanGoal",
             "markLegalMilestoneInError"}  # refused as not found: below
    assert set(DOCUMENTS) | set(HIDDEN) | {"me"} | by_id == set(QUERY_ACTIONS) | set(MUTATION_ACTIONS)
    for field, document in DOCUMENTS.items():
        before = len(await events(database_url))
        body = await admin.query(document)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", (field, body)
        logged = (await events(database_url))[before:]
        action = (QUERY_ACTIONS | MUTATION_ACTIONS)[field]
        assert [(e.action, e.outcome) for e in logged] == [(action.value, "refused")], field
    assert (await admin.query("{ me { roles } }"))["data"] == {"me": {"roles": ["ADMIN"]}}
    # a consent the caller may not see: not found, as if it did not exist - and the refusal is on record
    hra = caller(gateway, "HRA")
    recorded = await hra.query('mutation($c: ID!) { recordConsent(input: {clientId: $c, sourceReference: "F", '
                               'givenAt: "2026-01-01T00:00:00Z", provisions: [{organizations: ["DHS"], '
                               'categories: [BENEFITS], purposes: [CASE_MANAGEMENT]}]}) { id } }',
                               {"c": UNLINKED_CLIENT})
    consent_id = recorded["data"]["recordConsent"]["id"]
    for field, document in HIDDEN.items():
        before = len(await events(database_url))
        body = await admin.query(document.replace("k-1", consent_id))
        assert body["errors"][0]["extensions"]["code"] == "CONSENT_NOT_FOUND", (field, body)
        logged = (await events(database_url))[before:]
        action = (QUERY_ACTIONS | MUTATION_ACTIONS)[field]
        assert [(e.action, e.outcome) for e in logged] == [(action.value, "refused")], field
    # a contact point or an appointment (by id): not found for a caller who may not see it, the refusal on record
    for document, action in [
        ('mutation { setContactOptIn(id: "00000000-0000-4000-8000-0000000000d1", optedIn: false) { id } }',
         "contact.record"),
        ('mutation { updateAppointment(id: "00000000-0000-4000-8000-0000000000d2", status: MISSED) '
         '{ appointmentId } }', "appointment.update"),
        ('mutation { reviewDocument(fileId: "00000000-0000-4000-8000-0000000000d3", decision: ACCEPT) { id } }',
         "document.review"),
        ('mutation { answerReferral(id: "00000000-0000-4000-8000-0000000000d4", status: ACCEPTED) { id } }',
         "referral.respond"),
        ('mutation { withdrawReferral(id: "00000000-0000-4000-8000-0000000000d5") { id } }', "referral.withdraw"),
        ('mutation { addPlanTask(goalId: "00000000-0000-4000-8000-0000000000d7", title: "t", owner: CLIENT) { id } }',
         "plan.write"),
        ('mutation { setPlanTask(taskId: "00000000-0000-4000-8000-0000000000d8", status: DONE) { id } }', "plan.step"),
        ('mutation { updatePlanGoal(goalId: "00000000-0000-4000-8000-0000000000d9", change: STARTED) { id } }',
         "plan.write"),
        ('mutation { checkPlanEvidence(planId: "00000000-0000-4000-8000-0000000000da") { id } }', "plan.write"),
        ('mutation { addPlanGoal(planId: "00000000-0000-4000-8000-0000000000db", title: "t") { id } }', "plan.write"),
        ('mutation { markLegalMilestoneInError(id: "00000000-0000-4000-8000-0000000000dc") { id } }',
         "legal.record")]:
        before = len(await events(database_url))
        body = await admin.query(document)
        assert body["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND", body
        logged = (await events(database_url))[before:]
        assert [(e.action, e.outcome) for e in logged] == [(action, "refused")]


def test_no_role_is_tested_in_python_outside_the_policies() -> None:
    """Who may do what is decided by policies/*.cedar: no code outside the edge (which maps token claims to
    roles) and the policies' fact builder names a role."""
    allowed = {"api/auth.py", "cli/demo.py", "cli/main.py", "core/vocabulary.py", "core/principal.py",
               "policies/cedar.py"}
    offenders = []
    for package in ("cli", "api", "gate", "resolvers", "connectors", "identity", "policies", "audit", "store",
                    "core"):
        for path in (ROOT / package).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in allowed or "/migrations/" in rel:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Role":
                    offenders.append(f"{rel}:{node.lineno} Role.{node.attr}")
                if isinstance(node, ast.Attribute) and node.attr == "roles" and isinstance(node.ctx, ast.Load):
                    parent_is_log = rel.startswith(("audit/", "resolvers/audit_types.py"))
                    if not parent_is_log and rel != "resolvers/schema.py":  # `me` shows the caller their roles
                        offenders.append(f"{rel}:{node.lineno} .roles")
    assert offenders == []
