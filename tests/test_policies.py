"""The Cedar policies, rule by rule: a decision table with permit and deny cases."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.errors import ConfigurationError
from core.principal import LegalBasisClaim, Principal, RequestContext
from core.vocabulary import Category, LegalBasis, Purpose, Role
from policies.cedar import SCHEMA_FILE, CedarDecider, CedarEngine, PolicySet
from policies.consent_store import GrantRecord
from policies.consents import ConsentFact, ConsentRecord, ConsentStatus, Grantor, Provision, consent_fact
from policies.decisions import Resource, WithheldReason

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
DAY = timedelta(days=1)
CLIENT = "client-1"
ENGINE = CedarEngine(PolicySet.load(), parties={"DHS": ["ferpa-99.36"]})  # DHS: a FERPA emergency party


def consent(*provisions: Provision, revoked: bool = False, status: ConsentStatus = ConsentStatus.ACTIVE,
            cid: str = "consent-1") -> ConsentRecord:
    return ConsentRecord(
        id=cid, client_id=CLIENT, status=status, grantor=Grantor.CLIENT, source_reference="form-1",
        given_at=NOW - 10 * DAY, recorded_by_subject="w", recorded_by_org="DHS", recorded_at=NOW - 10 * DAY,
        provisions=provisions, revoked_at=NOW - DAY if revoked else None,
    )


def permit(org: str = "DHS", cats: Sequence[Category] = (Category.BENEFITS,),
           purposes: Sequence[Purpose] = (Purpose.CASE_MANAGEMENT,), start: datetime | None = None,
           end: datetime | None = None, kind: str = "permit", holders: Sequence[str] = ()) -> Provision:
    return Provision(kind, (org,), tuple(cats), tuple(purposes), start, end, holders=tuple(holders))


class FakeStore:
    def __init__(self, consents: Sequence[ConsentRecord] = (), grant: GrantRecord | None = None) -> None:
        self.consents = list(consents)
        self.grant = grant

    async def for_clients(self, _session: Any, client_ids: Sequence[str]) -> dict[str, list[ConsentRecord]]:
        return {CLIENT: self.consents}

    async def active_grants(self, _session: Any, **kw: Any) -> dict[str, GrantRecord]:
        return {CLIENT: self.grant} if self.grant and self.grant.expires_at > kw["now"] else {}


class _NoReads:
    """The fake store reads nothing from the store."""

    async def rows(self, *_args: Any) -> Any:
        raise AssertionError("the decider reads consents through its consent store")

    async def aclose(self) -> None:
        return None


class _Sessions:
    def __call__(self) -> Any:
        @contextlib.asynccontextmanager
        async def cm() -> Any:
            yield None
        return cm()


async def decide(
    *, org: str = "DHS", roles: Sequence[Role] = (Role.CASEWORKER,), category: Category = Category.BENEFITS,
    holder: str = "HRA", purpose: Purpose = Purpose.CASE_MANAGEMENT, consents: Sequence[ConsentRecord] = (),
    grant: GrantRecord | None = None, basis: LegalBasisClaim | None = None, self_client: str | None = None,
    held_here: bool = False, shared: bool = True,
) -> Any:
    decider = CedarDecider(_Sessions(), _NoReads(), ENGINE, store=FakeStore(consents, grant), clock=lambda: NOW)
    ctx = RequestContext(Principal("u1", org, frozenset(roles), self_client=self_client), "r1", purpose)
    resource = Resource(CLIENT, category, holder, "conn", held_here=held_here, shared_with_client=shared)
    (decision,) = await decider.decide(ctx, [resource], claim=basis)
    return decision


GRANT = GrantRecord("g1", CLIENT, "u1", "DHS", "fire in the unit, need contacts now", NOW - DAY / 24, NOW + DAY / 24)
FERPA = LegalBasisClaim(LegalBasis.FERPA_99_36, "student missing since Monday, police involved")

TABLE: list[tuple[str, dict[str, Any], bool, str | None, str]] = [
    # own-agency-reads-own-records
    ("own agency caseworker", {"org": "HRA"}, True, None, "own-agency-reads-own-records"),
    ("own agency, partner role", {"org": "HRA", "roles": (Role.PARTNER,)}, False, "CONSENT_REQUIRED",
     "partner-requires-consent"),
    ("other agency, no consent", {}, False, "CONSENT_REQUIRED", "default-deny"),
    # consent-permits-grantee
    ("consent names org, category, purpose", {"consents": [consent(permit())]}, True, None,
     "consent-permits-grantee"),
    ("consent for another purpose", {"consents": [consent(permit())], "purpose": Purpose.ELIGIBILITY}, False,
     "CONSENT_REQUIRED", "default-deny"),
    ("consent for another category", {"consents": [consent(permit(cats=[Category.HOUSING]))]}, False,
     "CONSENT_REQUIRED", "default-deny"),
    ("consent for another grantee", {"consents": [consent(permit(org="DOE"))]}, False, "CONSENT_REQUIRED",
     "default-deny"),
    ("consent not yet in force", {"consents": [consent(permit(start=NOW + DAY))]}, False, "CONSENT_REQUIRED",
     "default-deny"),
    ("draft consent", {"consents": [consent(permit(), status=ConsentStatus.DRAFT)]}, False, "CONSENT_REQUIRED",
     "default-deny"),
    ("partner with consent", {"roles": (Role.PARTNER,), "org": "LEGALAID",
                              "consents": [consent(permit(org="LEGALAID"))]}, True, None, "consent-permits-grantee"),
    # expired-consent-forbids / revoked-consent-forbids / consent-deny-provision
    ("expired consent", {"consents": [consent(permit(end=NOW - DAY))]}, False, "CONSENT_EXPIRED",
     "expired-consent-forbids"),
    ("revoked consent", {"consents": [consent(permit(), revoked=True)]}, False, "CONSENT_REVOKED",
     "revoked-consent-forbids"),
    ("revoked consent, own agency still reads", {"org": "HRA", "consents": [consent(permit(org="HRA"),
                                                                                    revoked=True)]},
     True, None, "own-agency-reads-own-records"),
    ("revoked one, another active", {"consents": [consent(permit(), revoked=True),
                                                  consent(permit(), cid="consent-2")]}, True, None,
     "consent-permits-grantee"),
    ("deny provision beats a permit", {"consents": [consent(permit(), permit(kind="deny", purposes=()))]}, False,
     "CONSENT_DENIED", "consent-deny-provision"),
    # ferpa-99.36-health-safety-emergency
    ("FERPA emergency, schooling", {"category": Category.SCHOOLING, "holder": "DOE", "basis": FERPA,
                                    "purpose": Purpose.EMERGENCY}, True, None, "ferpa-99.36-health-safety-emergency"),
    ("FERPA for benefits", {"basis": FERPA, "purpose": Purpose.EMERGENCY}, False, "CONSENT_REQUIRED",
     "default-deny"),
    ("FERPA without emergency purpose", {"category": Category.SCHOOLING, "holder": "DOE", "basis": FERPA},
     False, "CONSENT_REQUIRED", "default-deny"),
    # break-glass-emergency
    ("break-glass with a grant", {"grant": GRANT, "purpose": Purpose.EMERGENCY}, True, None,
     "break-glass-emergency"),
    ("break-glass, wrong purpose", {"grant": GRANT}, False, "CONSENT_REQUIRED", "default-deny"),
    ("break-glass, immigration", {"grant": GRANT, "purpose": Purpose.EMERGENCY,
                                  "category": Category.IMMIGRATION_LEGAL}, False, "CONSENT_REQUIRED", "default-deny"),
    ("break-glass expired", {"grant": GrantRecord("g1", CLIENT, "u1", "DHS", "x" * 30, NOW - DAY, NOW - DAY / 2),
                             "purpose": Purpose.EMERGENCY}, False, "CONSENT_REQUIRED", "default-deny"),
    # client-reads-own-profile
    ("client reads self", {"roles": (Role.CLIENT,), "self_client": CLIENT, "purpose": Purpose.CLIENT_ACCESS},
     True, None, "client-reads-own-profile"),
    ("client reads another", {"roles": (Role.CLIENT,), "self_client": "client-2", "purpose": Purpose.CLIENT_ACCESS},
     False, "NOT_PERMITTED_FOR_ROLE", "default-deny"),
    ("client self, staff purpose", {"roles": (Role.CLIENT,), "self_client": CLIENT}, False,
     "NOT_PERMITTED_FOR_ROLE", "default-deny"),
    # auditor-never-reads-client-data
    ("auditor", {"roles": (Role.AUDITOR,), "org": "HRA", "purpose": Purpose.AUDIT}, False,
     "NOT_PERMITTED_FOR_ROLE", "auditor-never-reads-client-data"),
    ("auditor who is also a caseworker", {"roles": (Role.AUDITOR, Role.CASEWORKER), "org": "HRA"}, False,
     "NOT_PERMITTED_FOR_ROLE", "auditor-never-reads-client-data"),
    # partner-requires-consent
    ("partner, no consent", {"roles": (Role.PARTNER,)}, False, "CONSENT_REQUIRED", "partner-requires-consent"),
    ("partner, break-glass grant", {"roles": (Role.PARTNER,), "grant": GRANT, "purpose": Purpose.EMERGENCY},
     False, "CONSENT_REQUIRED", "partner-requires-consent"),
    # steward-reviews-the-index: identity basics and contact details, for stewardship only
    ("steward, index identity", {"roles": (Role.IDENTITY_STEWARD,), "org": "CITY", "category": Category.IDENTITY,
                                 "purpose": Purpose.IDENTITY_STEWARDSHIP}, True, None, "steward-reviews-the-index"),
    ("steward, index contact", {"roles": (Role.IDENTITY_STEWARD,), "org": "CITY", "category": Category.CONTACT,
                                "purpose": Purpose.IDENTITY_STEWARDSHIP}, True, None, "steward-reviews-the-index"),
    ("steward, programme records", {"roles": (Role.IDENTITY_STEWARD,), "org": "CITY",
                                    "purpose": Purpose.IDENTITY_STEWARDSHIP}, False, "NOT_PERMITTED_FOR_ROLE",
     "default-deny"),
    ("steward, another purpose", {"roles": (Role.IDENTITY_STEWARD,), "org": "CITY", "category": Category.IDENTITY},
     False, "NOT_PERMITTED_FOR_ROLE", "default-deny"),
    ("steward, the client refused the steward's org", {
        "roles": (Role.IDENTITY_STEWARD,), "org": "CITY", "category": Category.IDENTITY,
        "purpose": Purpose.IDENTITY_STEWARDSHIP,
        "consents": [consent(permit(org="CITY", cats=[Category.IDENTITY], purposes=(), kind="deny"))]},
     False, "CONSENT_DENIED", "consent-deny-provision"),
    ("caseworker, stewardship purpose", {"category": Category.IDENTITY, "purpose": Purpose.IDENTITY_STEWARDSHIP},
     False, "NOT_PERMITTED_FOR_ROLE", "default-deny"),  # no consent would open it for that purpose
    # purpose bound to the role: own records for the care purposes only
    ("own agency, audit purpose", {"org": "HRA", "purpose": Purpose.AUDIT}, False, "NOT_PERMITTED_FOR_ROLE",
     "default-deny"),
    ("own agency, client_access purpose", {"org": "HRA", "purpose": Purpose.CLIENT_ACCESS}, False,
     "NOT_PERMITTED_FOR_ROLE", "default-deny"),
    ("own agency, emergency", {"org": "HRA", "purpose": Purpose.EMERGENCY}, True, None,
     "own-agency-reads-own-records"),
    # FERPA 99.36 scoped: appropriate parties only, schooling only, nothing else changed
    ("FERPA, not an appropriate party", {"org": "PARKS", "category": Category.SCHOOLING, "holder": "DOE",
                                         "basis": FERPA, "purpose": Purpose.EMERGENCY}, False, "CONSENT_REQUIRED",
     "default-deny"),
    ("FERPA, party over the client's refusal", {
        "category": Category.SCHOOLING, "holder": "DOE", "basis": FERPA, "purpose": Purpose.EMERGENCY,
        "consents": [consent(permit(cats=[Category.SCHOOLING], purposes=(), kind="deny"))]}, True, None,
     "ferpa-99.36-health-safety-emergency"),
    ("FERPA, not a party, refused", {
        "org": "PARKS", "category": Category.SCHOOLING, "holder": "DOE", "basis": FERPA,
        "purpose": Purpose.EMERGENCY,
        "consents": [consent(permit(org="PARKS", cats=[Category.SCHOOLING], purposes=(), kind="deny"))]},
     False, "CONSENT_DENIED", "consent-deny-provision"),
    ("FERPA claimed, a refused benefits section keeps its reason", {
        "basis": FERPA, "purpose": Purpose.EMERGENCY, "consents": [consent(permit(purposes=(), kind="deny"))]},
     False, "CONSENT_DENIED", "consent-deny-provision"),
    ("FERPA claimed, a revoked benefits consent keeps its reason", {
        "basis": FERPA, "purpose": Purpose.EMERGENCY,
        "consents": [consent(permit(purposes=(Purpose.EMERGENCY,)), revoked=True)]},
     False, "CONSENT_REVOKED", "revoked-consent-forbids"),
    # a provision naming the holder (custodian) covers that holder's data only
    ("consent for DOE's schooling, DOE holds it", {
        "category": Category.SCHOOLING, "holder": "DOE",
        "consents": [consent(permit(cats=[Category.SCHOOLING], holders=("DOE",)))]}, True, None,
     "consent-permits-grantee"),
    ("consent for DOE's schooling, another holder", {
        "category": Category.SCHOOLING, "holder": "CHARTER-1",
        "consents": [consent(permit(cats=[Category.SCHOOLING], holders=("DOE",)))]}, False, "CONSENT_REQUIRED",
     "default-deny"),
    # records held here: the recorder's own, the client's when shared, another organisation's by consent
    ("note, the recorder's caseworker", {"category": Category.CASEWORK, "holder": "DHS", "held_here": True}, True,
     None, "recorder-reads-what-it-recorded-here"),
    ("note, the recorder's partner staff", {"roles": (Role.PARTNER,), "org": "LEGALAID",
                                            "category": Category.CASEWORK, "holder": "LEGALAID", "held_here": True},
     True, None, "recorder-reads-what-it-recorded-here"),
    ("note, another organisation", {"category": Category.CASEWORK, "holder": "HRA", "held_here": True}, False,
     "CONSENT_REQUIRED", "default-deny"),
    ("note, another organisation with consent", {
        "category": Category.CASEWORK, "holder": "HRA", "held_here": True,
        "consents": [consent(permit(cats=[Category.CASEWORK]))]}, True, None, "consent-permits-grantee"),
    ("note, a partner not holding it", {"roles": (Role.PARTNER,), "org": "LEGALAID", "category": Category.CASEWORK,
                                        "holder": "DHS", "held_here": True}, False, "CONSENT_REQUIRED",
     "partner-requires-consent"),
    ("note shared with the client", {"roles": (Role.CLIENT,), "self_client": CLIENT, "purpose": Purpose.CLIENT_ACCESS,
                                     "category": Category.CASEWORK, "holder": "DHS", "held_here": True}, True, None,
     "client-reads-own-profile"),
    ("note not shared with the client", {
        "roles": (Role.CLIENT,), "self_client": CLIENT, "purpose": Purpose.CLIENT_ACCESS,
        "category": Category.CASEWORK, "holder": "DHS", "held_here": True, "shared": False}, False,
     "NOT_PERMITTED_FOR_ROLE", "default-deny"),
    ("a client's token naming an agency gives no agency access", {
        "roles": (Role.CLIENT,), "org": "HRA", "self_client": "client-2", "purpose": Purpose.CASE_MANAGEMENT},
     False, "NOT_PERMITTED_FOR_ROLE", "default-deny"),
    # roles with no reading rule
    ("identity steward", {"roles": (Role.IDENTITY_STEWARD,), "org": "HRA"}, False, "NOT_PERMITTED_FOR_ROLE",
     "default-deny"),
    ("admin", {"roles": (Role.ADMIN,), "org": "HRA"}, False, "NOT_PERMITTED_FOR_ROLE", "default-deny"),
]


@pytest.mark.parametrize(("case", "kw", "permitted", "reason", "rule"), TABLE, ids=[t[0] for t in TABLE])
async def test_decision_table(case: str, kw: dict[str, Any], permitted: bool, reason: str | None, rule: str) -> None:
    d = await decide(**kw)
    assert d.permit is permitted
    assert (d.reason.value if d.reason else None) == reason
    assert rule in d.rule_ids


async def test_decisions_name_what_they_relied_on() -> None:
    by_consent = await decide(consents=[consent(permit())])
    assert (by_consent.basis, by_consent.consent_id) == ("consent", "consent-1")
    glass = await decide(grant=GRANT, purpose=Purpose.EMERGENCY)
    assert (glass.basis, glass.legal_basis, glass.break_glass, glass.grant_id) == (
        "break-glass", "break-glass", True, "g1")
    assert glass.justification == GRANT.justification
    ferpa = await decide(category=Category.SCHOOLING, holder="DOE", basis=FERPA, purpose=Purpose.EMERGENCY)
    assert (ferpa.legal_basis, ferpa.justification) == ("ferpa-99.36", FERPA.justification)
    stewardship = await decide(org="CITY", roles=(Role.IDENTITY_STEWARD,), category=Category.IDENTITY,
                               purpose=Purpose.IDENTITY_STEWARDSHIP)
    assert (stewardship.basis, stewardship.consent_id, stewardship.legal_basis) == ("identity-stewardship", None, None)
    own = await decide(org="HRA", grant=GRANT, purpose=Purpose.EMERGENCY)
    assert own.basis == "own-agency" and not own.break_glass  # the least invasive basis is the one relied on


async def test_identical_facts_are_evaluated_once() -> None:
    engine = CedarEngine(PolicySet.load())
    decider = CedarDecider(_Sessions(), _NoReads(), engine, store=FakeStore([consent(permit())]), clock=lambda: NOW)
    ctx = RequestContext(Principal("u1", "DHS", frozenset({Role.CASEWORKER})), "r1", Purpose.CASE_MANAGEMENT)
    resources = [Resource(CLIENT, c, "HRA", "benefits") for c in (Category.BENEFITS, Category.DOCUMENTS)] * 50
    decisions = await decider.decide(ctx, resources)
    assert [d.permit for d in decisions[:2]] == [True, False]
    # 100 questions, 2 distinct fact tuples, and for the deny one what a consent would do (its reason)
    assert engine.evaluations == 3
    await decider.decide(ctx, resources)
    assert engine.evaluations == 3  # cached exactly across requests


def test_an_invalid_policy_set_is_refused() -> None:
    schema = SCHEMA_FILE.read_text()
    with pytest.raises(ConfigurationError):
        PolicySet("permit (principal, action, resource) when { context.no_such_fact };", schema)
    with pytest.raises(ConfigurationError):
        PolicySet("permit (principal, action, resource) when {", schema)


def test_every_rule_has_an_id_and_a_basis_comment() -> None:
    lines = PolicySet.load().text.splitlines()
    ids = [i for i, line in enumerate(lines) if line.startswith("@id(")]
    assert len(ids) == sum(line.startswith(("permit (", "forbid (")) for line in lines) >= 10
    for i in ids:
        comment = []
        j = i - 1
        while j >= 0 and lines[j].startswith("//"):
            comment.append(lines[j])
            j -= 1
        assert any(c.startswith("// Basis:") for c in comment), f"{lines[i]} has no comment naming its basis"


@pytest.mark.parametrize(("consents", "expected"), [
    ([], ConsentFact.NONE),
    ([consent(permit())], ConsentFact.GRANTED),
    ([consent(permit(end=NOW - DAY))], ConsentFact.EXPIRED),
    ([consent(permit(), revoked=True)], ConsentFact.REVOKED),
    ([consent(permit(), revoked=True), consent(permit(end=NOW - DAY), cid="c2")], ConsentFact.REVOKED),
    ([consent(permit()), consent(permit(kind="deny"), cid="c2")], ConsentFact.DENIED),
    ([consent(permit(kind="deny"), revoked=True), consent(permit(), cid="c2")], ConsentFact.GRANTED),
    ([consent(permit(), status=ConsentStatus.ENTERED_IN_ERROR)], ConsentFact.NONE),
])
def test_consent_fact_precedence(consents: list[ConsentRecord], expected: ConsentFact) -> None:
    fact = consent_fact(consents, org="DHS", category=Category.BENEFITS, purpose=Purpose.CASE_MANAGEMENT, holder="HRA",
                        now=NOW).fact
    assert fact is expected


def test_withheld_reasons_cover_every_forbid_rule() -> None:
    from policies.cedar import FORBID_REASONS, HERE

    text = (HERE / "casebridge.cedar").read_text()  # the section (disclosure) rules; operations.cedar refuses whole
    forbid_ids = {chunk.split('")')[0].strip('"') for chunk in text.split("@id(")[1:]
                  if "forbid (" in chunk.split(";")[0]}
    assert forbid_ids == set(FORBID_REASONS)
    assert all(isinstance(r, WithheldReason) for r in FORBID_REASONS.values())


async def test_a_grant_carries_the_union_of_its_data_periods() -> None:
    window = (date(2026, 1, 1), date(2026, 6, 30))
    limited = Provision("permit", ("DHS",), (Category.BENEFITS,), (Purpose.CASE_MANAGEMENT,),
                        data_period_start=window[0], data_period_end=window[1])
    d = await decide(consents=[consent(limited)])
    assert d.permit and d.data_periods == (window,)
    both = await decide(consents=[consent(limited), consent(permit(), cid="consent-2")])
    assert both.permit and both.data_periods is None  # one unlimited grant covers all data
    hra_limited = Provision("permit", ("HRA",), (Category.BENEFITS,), (Purpose.CASE_MANAGEMENT,),
                            data_period_start=window[0])
    own = await decide(org="HRA", consents=[consent(hra_limited)])
    assert own.basis == "own-agency" and own.data_periods is None  # the agency's own records are not limited


async def test_a_deny_notes_a_consent_for_other_purposes() -> None:
    d = await decide(consents=[consent(permit())], purpose=Purpose.ELIGIBILITY)
    assert not d.permit and d.outside_consent_purpose
    assert not (await decide(purpose=Purpose.ELIGIBILITY)).outside_consent_purpose
    assert not (await decide(consents=[consent(permit(), revoked=True)], purpose=Purpose.ELIGIBILITY)
                ).outside_consent_purpose
