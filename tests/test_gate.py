"""The gate: decide -> fetch -> audit -> return, with nothing around it."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import AgencyTimeout, AuditUnavailable, PurposeRequired
from core.principal import Principal, RequestContext
from core.vocabulary import Category, Purpose, Role
from gate import Gate, SectionStatus
from identity.crosswalk import SourceRef
from tests.fakes import DictCrosswalk, FakeConnector, ListRecorder, TableDecider

APPTS = Category.APPOINTMENTS
DOCS = Category.DOCUMENTS


def ctx(org: str = "DHS", purpose: Purpose | None = Purpose.CASE_MANAGEMENT) -> RequestContext:
    return RequestContext(Principal("u1", org, frozenset({Role.CASEWORKER})), "req-0001", purpose, "Op")


def world(**kw: object) -> tuple[Gate, FakeConnector, FakeConnector, ListRecorder, TableDecider]:
    hra = FakeConnector("benefits", "HRA", {"h1": 2})
    dhs = FakeConnector("shelter", "DHS", {"s1": 1, "s2": 0}, fail=kw.get("shelter_fail"),
                        crash=bool(kw.get("shelter_crash")))
    crosswalk = DictCrosswalk({
        "c-with": [SourceRef("benefits", "h1"), SourceRef("shelter", "s1")],  # held at both
        "c-without": [SourceRef("shelter", "s2")],  # nothing at HRA
    })
    decider = TableDecider(kw.get("allowed", {("DHS", APPTS, "DHS")}), explode=bool(kw.get("explode")))
    recorder = ListRecorder(broken=bool(kw.get("audit_broken")))
    gate = Gate(crosswalk=crosswalk, decider=decider, connectors=[hra, dhs], recorder=recorder)
    return gate, hra, dhs, recorder, decider


async def test_permitted_sections_are_shown_and_denied_ones_never_fetched() -> None:
    gate, hra, dhs, recorder, _ = world()
    out = await gate.disclose(ctx(), ["c-with"], [APPTS, DOCS])
    parts = {(p.category, p.holder): p for cat in out["c-with"].sections.values() for p in cat}
    assert parts[(APPTS, "DHS")].status is SectionStatus.SHOWN
    assert len(parts[(APPTS, "DHS")].data) == 1
    for key in [(APPTS, "HRA"), (DOCS, "HRA"), (DOCS, "DHS")]:
        assert parts[key].status is SectionStatus.WITHHELD and parts[key].data is None
    assert hra.calls == []  # a denied agency is never called
    assert dhs.calls == [(("s1",), frozenset({APPTS}))]  # only the permitted category is asked for
    assert recorder.writes == 1


async def test_withheld_looks_the_same_whether_or_not_the_agency_holds_data() -> None:
    gate, *_ = world()
    out = await gate.disclose(ctx(), ["c-with", "c-without"], [APPTS])
    with_ = next(p for p in out["c-with"].parts(APPTS) if p.holder == "HRA")
    without = next(p for p in out["c-without"].parts(APPTS) if p.holder == "HRA")
    assert with_.status is SectionStatus.WITHHELD
    assert with_ == without  # every field: status, decision, reason, as_of, data, error


async def test_every_client_is_audited_in_one_write_with_rule_ids() -> None:
    gate, _, _, recorder, _ = world()
    await gate.disclose(ctx(), ["c-with", "c-without"], [APPTS])
    assert recorder.writes == 1
    assert [r.client_id for r in recorder.records] == ["c-with", "c-without"]
    rec = recorder.records[0]
    assert rec.purpose == "case_management" and rec.operation == "Op" and rec.request_id == "req-0001"
    by_holder = {s.holder: s for s in rec.sections}
    assert by_holder["DHS"].outcome == "disclosed" and by_holder["DHS"].rule_ids == ("test-permit",)
    assert by_holder["HRA"].outcome == "withheld" and by_holder["HRA"].rule_ids == ("test-deny",)
    assert rec.outcome == "disclosed"


async def test_audit_failure_releases_nothing() -> None:
    gate, *_ = world(audit_broken=True)
    with pytest.raises(AuditUnavailable):
        await gate.disclose(ctx(), ["c-with"], [APPTS])


async def test_no_purpose_no_data_and_no_agency_call() -> None:
    gate, hra, dhs, recorder, decider = world()
    with pytest.raises(PurposeRequired):
        await gate.disclose(ctx(purpose=None), ["c-with"], [APPTS])
    assert hra.calls == dhs.calls == [] and decider.calls == 0
    # the refusal itself is on record, and says so
    assert [(r.action, r.outcome, r.client_id) for r in recorder.records] == [("read", "refused", "c-with")]


async def test_an_evaluation_error_is_a_deny() -> None:
    gate, hra, dhs, recorder, _ = world(explode=True)
    out = await gate.disclose(ctx(), ["c-with"], [APPTS])
    assert all(p.status is SectionStatus.WITHHELD for p in out["c-with"].parts(APPTS))
    assert hra.calls == dhs.calls == []
    assert recorder.records[0].sections[0].rule_ids == ("evaluation-error-denies",)


@pytest.mark.parametrize("kw", [{"shelter_fail": AgencyTimeout("slow", connector="shelter")}, {"shelter_crash": True}])
async def test_a_failing_agency_costs_only_its_section(kw: dict[str, object]) -> None:
    gate, _, _, recorder, _ = world(allowed={("DHS", APPTS, "DHS"), ("DHS", APPTS, "HRA")}, **kw)
    out = await gate.disclose(ctx(), ["c-with"], [APPTS])
    parts = {p.holder: p for p in out["c-with"].parts(APPTS)}
    assert parts["HRA"].status is SectionStatus.SHOWN and len(parts["HRA"].data) == 2
    assert parts["DHS"].status is SectionStatus.FAILED
    assert parts["DHS"].error is not None and parts["DHS"].error.connector == "shelter"
    outcomes = {s.holder: (s.outcome, s.error_code) for s in recorder.records[0].sections}
    assert outcomes["DHS"][0] == "failed" and outcomes["DHS"][1] in ("AGENCY_TIMEOUT", "AGENCY_UNAVAILABLE")


async def test_permitted_but_not_held_is_an_honest_empty_section() -> None:
    gate, hra, _, _, _ = world(allowed={("DHS", APPTS, "HRA")})
    out = await gate.disclose(ctx(), ["c-without"], [APPTS])
    part = next(p for p in out["c-without"].parts(APPTS) if p.holder == "HRA")
    assert part.status is SectionStatus.SHOWN and part.data == []
    assert hra.calls == []


async def test_unknown_clients_are_absent() -> None:
    gate, *_ = world()
    assert await gate.disclose(ctx(), ["nobody"], [APPTS]) == {}


class _Timed(FakeConnector):
    """Takes `seconds` to answer; notes when each call started (in the shared `log`)."""

    def __init__(self, name: str, seconds: float, log: list[str], held: dict[str, int]) -> None:
        super().__init__(name, "DHS", held)
        self.seconds, self.log = seconds, log

    async def fetch(self, local_ids, categories):
        self.log.append(self.name)
        await asyncio.sleep(self.seconds)
        return await super().fetch(local_ids, categories)


async def test_the_slowest_agency_is_asked_first() -> None:
    log: list[str] = []
    quick, slow = _Timed("quick", 0.0, log, {"q1": 1}), _Timed("slow", 0.05, log, {"s1": 1})
    gate = Gate(crosswalk=DictCrosswalk({"c": [SourceRef("quick", "q1"), SourceRef("slow", "s1")]}),
                decider=TableDecider({("DHS", APPTS, "DHS")}), connectors=[quick, slow], recorder=ListRecorder())
    await gate.disclose(ctx(), ["c"], [APPTS])
    assert log == ["quick", "slow"]  # no history yet: in configured order
    log.clear()
    out = await gate.disclose(ctx(), ["c"], [APPTS])
    assert log == ["slow", "quick"]
    assert all(p.status is SectionStatus.SHOWN for p in out["c"].sections[APPTS])


def test_a_store_outage_is_logged_once_per_window_not_once_per_request(caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy.exc import OperationalError

    from core.vocabulary import Action
    from gate.operations import OutageLog

    now = [100.0]
    outages = OutageLog(window=10.0, clock=lambda: now[0])
    failure = OperationalError("SELECT 1", {}, ConnectionRefusedError())
    with caplog.at_level("ERROR", logger="casebridge.gate"):
        for _ in range(500):  # a busy minute's requests while PostgreSQL is down
            outages.failed(Action.READ, failure)
        now[0] += 10.5
        outages.failed(Action.READ, failure)
    lines = [r.getMessage() for r in caplog.records if "store failed" in r.getMessage()]
    assert lines == ["the store failed during read (OperationalError)",
                     "the store failed during read (OperationalError); 499 more store failures in the last 10 s"]
