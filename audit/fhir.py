"""Access events as FHIR R4 AuditEvent resources following IHE BALP (Basic Audit Log Patterns)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audit.chain import timestamp
from core.vocabulary import V3_ACT_REASON, V3_PURPOSE_OF_USE, Purpose, member_of

BALP = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/"
PROFILES = {"read": "IHE.BasicAudit.PatientRead"}
# FHIR AuditEvent.action (C create, R read, U update, D delete, E execute) per casebridge action
ACTIONS = {"read": "R", "consent.record": "C", "consent.amend": "U", "consent.revoke": "U", "consent.read": "R",
           "audit.read": "R", "audit.summary": "R", "audit.verify": "E", "audit.export": "E",
           "disclosure-report.read": "R", "break-glass.start": "E", "audit.retention": "D",
           "identity.review": "R", "identity.explain": "R", "identity.search": "E",
           "identity.resolve": "U", "identity.link": "U", "identity.unlink": "U", "case-note.add": "C",
           "contact.record": "U", "appointment.schedule": "C", "appointment.update": "U",
           "notification.deliver": "E",
           "session.read": "R",
           "identity.decide": "U"}  # (the one action of steward decisions in events written before 2026-12)
OUTCOMES = {"disclosed": "0", "performed": "0", "withheld": "4", "refused": "4", "failed": "8"}


def audit_event(e: Any) -> dict[str, Any]:
    """One access event (a row or a mapping) as a BALP-shaped AuditEvent."""
    get: Callable[[str], Any] = e.get if isinstance(e, dict) else (lambda n: getattr(e, n))
    action = get("action")
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"casebridge-{get('seq')}",
        "meta": {"profile": [BALP + PROFILES.get(action, "IHE.BasicAudit.Read" if ACTIONS.get(action) == "R"
                                                  else "IHE.BasicAudit.Create")]},
        "extension": [{"url": "urn:casebridge:access-log:seq", "valueInteger": get("seq")},
                      {"url": "urn:casebridge:access-log:hash", "valueString": get("hash")}],
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest",
                 "display": "RESTful Operation"},
        "subtype": [{"system": "urn:casebridge:action", "code": action}],
        "action": ACTIONS.get(action, "E"),
        "recorded": timestamp(get("recorded_at")),
        "outcome": OUTCOMES.get(get("outcome"), "0"),
        "agent": _agents(get),
        "source": {"observer": {"display": "casebridge gateway"}, "type": [{
            "system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4",
            "display": "Application Server"}]},
        "entity": _entities(get),
    }
    if action == "read":
        resource["subtype"].insert(0, {"system": "http://hl7.org/fhir/restful-interaction", "code": "read"})
    reasons = sorted({d.get("reason") for d in get("decisions") or [] if d.get("reason")})
    if reasons:
        resource["outcomeDesc"] = "withheld: " + ", ".join(reasons)
    if get("purpose"):
        purpose = get("purpose")
        known = member_of(Purpose, purpose)
        code = V3_PURPOSE_OF_USE.get(known) if known is not None else None
        resource["purposeOfEvent"] = [{"coding": [{"system": V3_ACT_REASON, "code": code} if code
                                                  else {"system": "urn:casebridge:purpose-of-use", "code": purpose}]}]
    if get("break_glass"):
        resource["purposeOfEvent"] = [*resource.get("purposeOfEvent", []), {"coding": [{
            "system": V3_ACT_REASON, "code": "BTG", "display": "break the glass"}]}]
    return resource


def _agents(get: Any) -> list[dict[str, Any]]:
    user: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                             "code": "IRCP", "display": "information recipient"}]},
        "who": {"identifier": {"system": "urn:casebridge:subject", "value": get("subject"),
                               "assigner": {"display": get("organization")}}},
        "requestor": True,
        "role": [{"coding": [{"system": "urn:casebridge:role", "code": r}]} for r in get("roles") or []],
    }
    if get("justification"):
        user["policy"] = [f"urn:casebridge:legal-basis:{get('legal_basis')}"]
    agents = [user]
    if get("oauth_client"):
        agents.append({
            "type": {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110150",
                                 "display": "Application"}]},
            "who": {"identifier": {"system": "urn:casebridge:oauth-client", "value": get("oauth_client")}},
            "requestor": False,
        })
    return agents


def _entities(get: Any) -> list[dict[str, Any]]:
    entities = []
    if get("client_id"):  # exactly one patient entity: one event is one client's part of a request
        entities.append({
            "what": {"reference": f"Patient/{get('client_id')}"},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1",
                     "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        })
    detail = [{"type": f"{d['category']}@{d['holder']}",
               "valueString": f"{d['outcome']}; {d['decision']} by {','.join(d['rule_ids'])}"
                              + (f"; basis {d['basis']}" if d.get("basis") else "")
                              + (f"; consent {d['consent_id']}" if d.get("consent_id") else "")}
              for d in get("decisions") or []]
    request: dict[str, Any] = {
        "what": {"identifier": {"system": "urn:casebridge:request-id", "value": get("request_id")}},
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2",
                 "display": "System Object"},
        "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "24", "display": "Query"},
    }
    if get("operation"):
        request["name"] = get("operation")
    if detail:
        request["detail"] = detail
    entities.append(request)
    return entities
