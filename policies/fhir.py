"""A consent as a FHIR R4 Consent resource (JSON)."""

from __future__ import annotations

from typing import Any

from core.vocabulary import V3_ACT_REASON as ACT_REASON
from core.vocabulary import V3_PURPOSE_OF_USE as V3_PURPOSE
from policies.consents import ConsentRecord, ConsentStatus, Grantor, Provision

CATEGORY_SYSTEM = "urn:casebridge:category"
PURPOSE_SYSTEM = "urn:casebridge:purpose-of-use"
ORG_SYSTEM = "urn:casebridge:organization"


def consent_resource(c: ConsentRecord) -> dict[str, Any]:
    """The FHIR R4 Consent for `c`: a deny-by-default root provision with our provisions nested as exceptions."""
    status = ConsentStatus.INACTIVE if c.revoked_at is not None else c.status
    performer: dict[str, Any] = (
        {"reference": f"Patient/{c.client_id}"} if c.grantor is Grantor.CLIENT
        else {"type": "RelatedPerson", "display": "guardian"}
    )
    resource: dict[str, Any] = {
        "resourceType": "Consent",
        "id": c.id,
        "meta": {"versionId": str(c.version), "lastUpdated": (c.updated_at or c.recorded_at).isoformat()},
        "status": str(status),
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                              "code": "patient-privacy", "display": "Privacy Consent"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent"}]}],
        "patient": {"reference": f"Patient/{c.client_id}"},
        "dateTime": c.given_at.isoformat(),
        "performer": [performer],
        "organization": [{"identifier": {"system": ORG_SYSTEM, "value": c.recorded_by_org}}],
        "sourceReference": {"display": c.source_reference},
        "policy": [{"uri": "urn:casebridge:policy:consent:v1"}],
        "provision": {"type": "deny", "provision": [_provision(p) for p in c.provisions]},
    }
    if c.revoked_at is not None:
        resource["extension"] = [{"url": "urn:casebridge:consent:revoked-at",
                                  "valueDateTime": c.revoked_at.isoformat()}]
    return resource


def _provision(p: Provision) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": p.type,
        "actor": [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                 "code": "IRCP", "display": "information recipient"}]},
            "reference": {"identifier": {"system": ORG_SYSTEM, "value": org}},
        } for org in p.organizations] + [{
            "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                                 "code": "CST", "display": "custodian"}]},
            "reference": {"identifier": {"system": ORG_SYSTEM, "value": org}},
        } for org in p.holders],
        "action": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "access"}]}],
        "class": [{"system": CATEGORY_SYSTEM, "code": str(cat)} for cat in p.categories],
    }
    if p.purposes:
        out["purpose"] = [
            {"system": ACT_REASON, "code": V3_PURPOSE[purpose]} if purpose in V3_PURPOSE
            else {"system": PURPOSE_SYSTEM, "code": str(purpose)}
            for purpose in p.purposes
        ]
    if p.period_start or p.period_end:
        out["period"] = {k: v.isoformat() for k, v in (("start", p.period_start), ("end", p.period_end)) if v}
    if p.data_period_start or p.data_period_end:
        out["dataPeriod"] = {k: v.isoformat() for k, v in (("start", p.data_period_start),
                                                           ("end", p.data_period_end)) if v}
    return out
