"""Property: over random callers, consents, case notes and consent changes, every operation answers as the rules
say: nothing is disclosed without a basis, a withheld section looks the same whether or not anything is held,
refusals are typed errors, and only the client or the recording organisation - never an organisation a consent
refuses - changes a consent.

Two holders answer here: HRA through the benefits connector (identity, benefits, appointments, documents) and
DHS through the housing connector (identity, housing; an imported HMIS snapshot), and case notes are held here
for whichever organisation wrote them. The oracle below restates the rules in plain Python, independently of the
Cedar policies; it keeps its own account of every consent and note the tests recorded (`Model`), so that a client
met again, or a candidate a search turns up, is judged on everything recorded about them. The last tests show
that the properties catch policy mutants.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.pool import NullPool

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import build_services
from api.settings import Settings
from connectors.benefits import BenefitsConnector
from connectors.hmis.connector import HousingConnector
from demo.benefits_sim import BenefitsAgency
from demo.population import Person, Population, generate
from demo.servers import ServerThread
from identity.crosswalk import link_records
from identity.index import relink, sync
from policies.cedar import POLICY_FILES, SCHEMA_FILE, CedarDecider, CedarEngine, PolicySet
from policies.decisions import Basis
from store.engine import make_engine, make_sessionmaker
from store.migrate import upgrade
from store.reads import open_reads
from store.tables import SourceLink
from tests.conftest import _drop_pg_database, _fresh_pg_database, make_settings
from tests.consent_oracle import (
    BYSTANDER,
    CARE,
    CATEGORIES,
    HOLDERS,
    ITEMS,
    NATURAL_PURPOSE,
    ORGS,
    PURPOSES,
    ROLES,
    SELF,
    SOURCE_HOLDER,
    UNINVOLVED,
    Caller,
    Consent,
    Model,
    Note,
    Provision,
    identity_purposes,
    open_purposes,
    refusal,
)
from tests.gateway import seed_links

PROFILE = """query Profile($id: ID!) { client(id: $id) {
  identity { access { ...part } records { agency } }
  benefits { access { ...part } cases { agency } }
  appointments { access { ...part } items { agency } }
  documents { access { ...part } items { agency } }
  housing { access { ...part } enrollments { agency } }
  casework { access { ...part } notes { agency text sharedWithClient } } } }
fragment part on SourceAccess { agency status reason basis asOf }"""
CONSENT_FIELDS = "id clientId version recordedByOrganization revokedAt"
RECORD = f"mutation($i: RecordConsentInput!) {{ recordConsent(input: $i) {{ {CONSENT_FIELDS} }} }}"
AMEND = (f"mutation($id: ID!, $p: [ConsentProvisionInput!]!) "
         f"{{ amendConsent(id: $id, provisions: $p) {{ {CONSENT_FIELDS} }} }}")
REVOKE = f'mutation($id: ID!) {{ revokeConsent(id: $id, reason: "the client asked") {{ {CONSENT_FIELDS} }} }}'
CONSENTS = f"query($c: ID!) {{ consents(clientId: $c) {{ {CONSENT_FIELDS} }} }}"
CONSENT = f"query($id: ID!) {{ consent(id: $id) {{ {CONSENT_FIELDS} }} }}"
NOTE = """mutation($c: ID!, $t: String!, $s: Boolean!) {
  addCaseNote(clientId: $c, text: $t, sharedWithClient: $s) { agency text sharedWithClient } }"""
REPORT = "query($c: ID!) { disclosureReport(clientId: $c) { organization category agency } }"
SEARCH = """query($i: ClientSearchInput!) {
  searchClients(input: $i) { client { id identity { access { agency status } } } } }"""
REFUSALS = """query($f: AccessLogFilter!) { accessLog(filter: $f, first: 20) { edges { node { action outcome } } } }"""
NOBODY = {"firstName": "Quorra", "lastName": "Zyxwvutsrq", "dateOfBirth": "1903-02-01"}  # in no agency's records




# --- the world: a running gateway over a seeded store ----------------------------------------------------------


class World:
    """The gateway over HTTP, the benefits agency behind it, and the model of what was recorded through it."""

    def __init__(self, name: str, s: Settings, http: httpx.Client, agency: BenefitsAgency, model: Model,
                 people: dict[str, Person], spare: list[str]) -> None:
        self.name, self.settings, self.http, self.agency = name, s, http, agency
        self.model, self.people = model, people
        by_layout: dict[frozenset[str], list[str]] = defaultdict(list)
        for cid in people:
            by_layout[model.records[cid]].append(cid)
        self._held = {layout: itertools.cycle(ids) for layout, ids in by_layout.items()}
        self._spare = itertools.cycle(spare)
        self._serial = itertools.count()
        self._key = load_or_create_dev_key(s.auth.dev_key_file)

    def __repr__(self) -> str:
        return f"World({self.name})"

    def pair(self, layout: frozenset[str]) -> tuple[str, str]:
        """A client whose identity `layout`'s organisations hold, and one no connected agency holds a record of."""
        return next(self._held[layout]), next(self._spare)

    def caller(self, org: str, role: str, purpose: str | None, self_client: str | None = None) -> Caller:
        return Caller(org, role, purpose, f"{org}-{role}-{next(self._serial)}", self_client)

    def staff(self, org: str, purpose: str | None = "case_management") -> Caller:
        return self.caller(org, "partner" if org == "LEGALAID" else "caseworker", purpose)

    def client(self, client: str, purpose: str | None = "client_access") -> Caller:
        return self.caller(SELF, "client", purpose, client)

    def ask(self, who: Caller, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        token = mint_token(self._key, self.settings.auth, subject=who.subject, organization=who.org,
                           roles=[who.role], self_client=who.self_client)
        headers = {"Authorization": f"Bearer {token}"} | ({"X-Purpose-Of-Use": who.purpose} if who.purpose else {})
        resp = self.http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def refusals(self, who: Caller, client: str) -> list[str]:
        """The actions of the caller's refused requests about the client, as an auditor reads the access log."""
        auditor = self.caller("OVERSIGHT", "auditor", "audit")
        body = self.ask(auditor, REFUSALS, {"f": {"clientId": client, "subject": who.subject, "outcome": "refused"}})
        assert "errors" not in body, body
        return [e["node"]["action"] for e in body["data"]["accessLog"]["edges"]]


def answer(body: dict[str, Any], name: str) -> tuple[str | None, Any]:
    """(the error code, and the purposes suggested) of a refused request, or (None, the field's data)."""
    if body.get("errors"):
        (error,) = body["errors"]
        ext = error["extensions"]
        suggested = ext.get("suggestion", "").partition("one of: ")[2].rstrip(".")
        return ext["code"], frozenset(suggested.split(", ")) if suggested else frozenset()
    return None, body["data"][name]


def assert_answer(body: dict[str, Any], name: str, refused: tuple[str, frozenset[str]] | None) -> Any:
    """The field's data if the oracle allows the request; otherwise the refusal the oracle expects."""
    code, data = answer(body, name)
    if refused is None:
        assert code is None, body
        return data
    want_code, want_purposes = refused
    assert (code, data if code in ("PURPOSE_REQUIRED", "PURPOSE_NOT_ALLOWED") else frozenset()) == (
        want_code, want_purposes), body
    return None


@contextlib.contextmanager
def open_world(name: str, url: str, dev_key_file: Path, *, policies: str | None = None) -> Iterator[World]:
    """A seeded store (benefits and HMIS records linked, the identity index synced and relinked), the benefits
    simulator and a gateway with both connectors; `policies`: Cedar text to run instead of policies/*.cedar."""
    population = generate(seed=23, households=50)
    agency = BenefitsAgency(population)
    spare = [str(uuid.uuid4()) for _ in range(500)]
    with ServerThread(agency.app()) as sim:
        s = make_settings(dev_key_file, database_url=url, benefits_url=sim.url, schooling={"enabled": False})
        records = asyncio.run(_seed(s, population, spare))
        people = {p.client_id: p for p in population.people if records.get(p.client_id)}
        services = None
        if policies is not None:
            # the same gateway, deciding with these policies (a NullPool: the decider's own reads keep no
            # connection open past the server's event loop)
            store = make_engine(url, poolclass=NullPool)
            engine = CedarEngine(PolicySet(policies, SCHEMA_FILE.read_text()), parties=s.appropriate_party_bases())
            services = build_services(s, decider=CedarDecider(make_sessionmaker(store),
                                                               open_reads(store, poolclass=NullPool), engine))
        with ServerThread(create_app(s, services=services)) as gw, httpx.Client(base_url=gw.url, timeout=30) as http:
            yield World(name, s, http, agency, Model(records), people, spare)


async def _seed(s: Settings, population: Population, spare: list[str]) -> dict[str, frozenset[str]]:
    """Migrate, link and index; the organisations holding an identity record of each client."""
    engine = make_engine(s.database_url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        await seed_links(s.database_url, population)
        await link_records(sessions, [(c, "shelter", f"S-{c}") for c in spare])  # a source no connector reads
        reads = open_reads(engine)
        sources = [BenefitsConnector(s.benefits), HousingConnector(s.housing, reads)]
        try:
            await sync(sessions, sources)
            await relink(sessions)  # client ids stay those of the population, but for the few the matcher splits
        finally:
            for source in sources:
                await source.aclose()
            await reads.aclose()
        async with sessions() as session:
            rows = (await session.execute(select(SourceLink.client_id, SourceLink.source))).all()
    finally:
        await engine.dispose()
    held: dict[str, set[str]] = defaultdict(set)
    for client, source in rows:
        if source in SOURCE_HOLDER:
            held[client].add(SOURCE_HOLDER[source])
    return {c: frozenset(h) for c, h in held.items()}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          dev_key_file: Path) -> Iterator[World]:
    if request.param == "sqlite":
        with open_world("sqlite", f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('prop') / 'p.db'}",
                        dev_key_file) as w:
            yield w
        return
    base = request.getfixturevalue("postgres")
    url = asyncio.run(_fresh_pg_database(base))
    try:
        with open_world("postgres", url, dev_key_file) as w:
            yield w
    finally:
        asyncio.run(_drop_pg_database(base, url))


# --- what the tests do through the gateway, each answer checked against the oracle ------------------------------


def _period(kind: str) -> dict[str, str]:
    now = datetime.now(UTC)
    start, end = {"active": (now - timedelta(days=30), now + timedelta(days=30)),
                  "expired": (now - timedelta(days=60), now - timedelta(days=1)),
                  "future": (now + timedelta(days=1), now + timedelta(days=60))}[kind]
    return {"periodStart": start.isoformat(), "periodEnd": end.isoformat()}


def _provisions(provisions: tuple[Provision, ...], kind: str) -> list[dict[str, Any]]:
    return [{"type": p.type.upper(), "organizations": list(p.orgs), "categories": [c.upper() for c in p.categories],
             "purposes": [u.upper() for u in p.purposes], "holders": list(p.holders), **_period(kind)}
            for p in provisions]


@dataclass(frozen=True)
class ConsentSpec:
    recorder: str  # an organisation, whose staff records it from a signed form; or "client": the client themself
    kind: str  # active | expired | future | revoked (active, then revoked by the client)
    provisions: tuple[Provision, ...]


def record(w: World, client: str, spec: ConsentSpec) -> Consent:
    """Record the consent (and revoke it, for kind revoked) as the spec says; both are always allowed."""
    who = w.client(client) if spec.recorder == "client" else w.staff(spec.recorder)
    kind = "active" if spec.kind == "revoked" else spec.kind
    body = w.ask(who, RECORD, {"i": {"clientId": client, "grantor": "CLIENT", "sourceReference": "form-prop",
                                     "givenAt": (datetime.now(UTC) - timedelta(days=30)).isoformat(),
                                     "provisions": _provisions(spec.provisions, kind)}})
    assert "errors" not in body, body
    got = body["data"]["recordConsent"]
    consent = Consent(got["id"], client, got["recordedByOrganization"], kind, spec.provisions)
    assert consent.recorded_by == who.org
    w.model.consents[client].append(consent)
    if spec.kind == "revoked":
        revoked = w.ask(w.client(client), REVOKE, {"id": consent.id})
        assert "errors" not in revoked, revoked
        consent.revoked = True
    return consent


def write_note(w: World, writer: Caller, client: str, shared: bool) -> None:
    """A case note, written where the writer may see the client's identity (FORBIDDEN otherwise)."""
    text = f"note {uuid.uuid4()}"
    refused = refusal(writer, identity_purposes(w.model, writer, client))
    body = w.ask(writer, NOTE, {"c": client, "t": text, "s": shared})
    if "errors" not in body:  # the model follows what the gateway did, right or wrong
        w.model.notes[client].append(Note(writer.org, text, shared))
    note = assert_answer(body, "addCaseNote", refused)
    if note is not None:
        assert note == {"agency": writer.org, "text": text, "sharedWithClient": shared}


def check_profile(w: World, who: Caller, client: str) -> dict[str, Any] | None:
    """Open the client's profile as `who`; every holder's part of every section as the oracle says."""
    refused = refusal(who, open_purposes(who, client))
    profile = assert_answer(w.ask(who, PROFILE, {"id": client}), "client", refused)
    if refused is not None:
        assert w.refusals(who, client) == ["read"]  # an auditor sees the refusal in the access log
        return None
    m = w.model
    for category, holders in HOLDERS.items():
        check_section(profile, category, {h: m.section(who, client, category, h) for h in holders},
                      m.records.get(client, frozenset()) if category == "identity" else None)
    parts, texts = m.casework(who, client)
    check_section(profile, "casework", parts)
    assert {n["text"] for n in profile["casework"]["notes"] or []} == texts, profile["casework"]
    return profile


def check_section(profile: dict[str, Any], category: str, want: dict[str, tuple[str, str | None, str | None]],
                  identity_at: frozenset[str] | None = None) -> None:
    """Each holder's part is there with the status, reason and basis the oracle says (and no other part); the
    items come only from the parts shown."""
    section = profile[category]
    got = {a["agency"]: (a["status"], a["reason"], a["basis"]) for a in section["access"]}
    # the oracle speaks the stored values (own-agency); the schema's Basis enum their names (OWN_AGENCY)
    want = {h: (status, reason, Basis(basis).name if basis else None) for h, (status, reason, basis) in want.items()}
    assert got == want, (category, section["access"])
    assert all(a["asOf"] is None for a in section["access"] if a["status"] == "WITHHELD")
    shown = {h for h, (status, _, _) in want.items() if status == "SHOWN"}
    items = section[ITEMS[category]]
    if not shown:
        assert items is None, section  # nothing shown, not even an empty list
        return
    assert {i["agency"] for i in items} <= shown, section  # nothing from a holder whose part was withheld
    if identity_at is not None:  # and every shown identity record that exists is there
        assert {i["agency"] for i in items} == shown & identity_at, section


# --- scenarios --------------------------------------------------------------------------------------------------


@st.composite
def provisions(draw: st.DrawFn, org: str | None = None, purpose: str | None = None) -> Provision:
    """One provision, naming `org` for `purpose` more often than not, so that the interesting cases come up."""
    kind = draw(st.sampled_from(["permit", "permit", "deny"]))
    about = org is not None and (draw(st.booleans()) or draw(st.booleans()))
    orgs = ({org} if about and org else set()) | set(draw(st.lists(st.sampled_from(ORGS), max_size=2)))
    purposes = ({purpose} if about and purpose in CARE else set()) | set(draw(st.lists(st.sampled_from(CARE),
                                                                                       max_size=2)))
    if kind == "permit" and not purposes:
        purposes = {draw(st.sampled_from(CARE))}
    return Provision(
        kind, tuple(sorted(orgs or {draw(st.sampled_from(ORGS))})),
        tuple(draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True))),
        tuple(sorted(purposes)),  # a deny may name none: every purpose
        draw(st.sampled_from([(), (), (), ("HRA",), ("DHS",), ("HRA", "DHS"), ("LEGALAID",)])))


@st.composite
def consent_specs(draw: st.DrawFn, org: str | None = None, purpose: str | None = None) -> ConsentSpec:
    """A consent about `org` (by default about the organisation recording it: granting or refusing itself)."""
    recorder = draw(st.sampled_from([*ORGS, "client"]))
    about = org or (recorder if recorder in ORGS else None)
    return ConsentSpec(recorder, draw(st.sampled_from(["active", "active", "active", "expired", "future", "revoked"])),
                       tuple(draw(st.lists(provisions(about, purpose), min_size=1, max_size=2))))


MOSTLY = st.sampled_from([True, True, True, False])
LAYOUTS = st.sampled_from([frozenset({"HRA"}), frozenset({"HRA", "DHS"})])


@dataclass(frozen=True)
class CallerSpec:
    org: str
    role: str
    purpose: str | None
    own: bool  # a client: asking about themself (otherwise about someone else)

    def of(self, w: World, held: str, other: str) -> Caller:
        if self.role == "client":
            return w.caller(SELF, "client", self.purpose, held if self.own else other)
        return w.caller(self.org, self.role, self.purpose)


@st.composite
def callers(draw: st.DrawFn) -> CallerSpec:
    role = draw(st.sampled_from(ROLES))
    natural = st.just(NATURAL_PURPOSE[role]) if role in NATURAL_PURPOSE else st.sampled_from(CARE)
    purpose = draw(natural if draw(MOSTLY) else st.sampled_from(PURPOSES))
    return CallerSpec(draw(st.sampled_from(ORGS)), role, purpose, draw(MOSTLY))


@dataclass(frozen=True)
class ReadScenario:
    layout: frozenset[str]
    caller: CallerSpec
    consents: tuple[ConsentSpec, ...]
    notes: tuple[tuple[str, bool], ...]  # (the writer's organisation, shared with the client)


@st.composite
def read_scenarios(draw: st.DrawFn) -> ReadScenario:
    who = draw(callers())
    return ReadScenario(draw(LAYOUTS), who, tuple(draw(st.lists(consent_specs(who.org, who.purpose), min_size=1,
                                                                  max_size=3))),
                        tuple(draw(st.lists(st.tuples(st.sampled_from(ORGS), st.booleans()), max_size=3))))


ACTORS = ["client", "other-client", "recorder", "recorder", "grantee", "refused", "refused", "unrelated", "auditor"]


@dataclass(frozen=True)
class Attempt:
    op: str  # amend | revoke | record
    consent: int  # which of the scenario's consents (modulo their number)
    actor: str  # one of ACTORS, resolved against that consent
    pick: int  # which of several organisations fitting `actor`
    purpose: str | None  # a staff actor's purpose
    provisions: tuple[Provision, ...]  # for amend and record
    grantor: str  # for record


@dataclass(frozen=True)
class ChangeScenario:
    layout: frozenset[str]
    consents: tuple[ConsentSpec, ...]
    attempts: tuple[Attempt, ...]


@st.composite
def change_scenarios(draw: st.DrawFn) -> ChangeScenario:
    attempts = st.builds(
        Attempt, st.sampled_from(["amend", "revoke", "revoke", "record"]), st.integers(0, 2),
        st.sampled_from(ACTORS), st.integers(0, 3),
        st.one_of(st.sampled_from(CARE), st.sampled_from(CARE), st.sampled_from(PURPOSES)),
        st.lists(provisions(), min_size=1, max_size=2).map(tuple), st.sampled_from(["CLIENT", "CLIENT", "GUARDIAN"]))
    return ChangeScenario(draw(LAYOUTS), tuple(draw(st.lists(consent_specs(), min_size=1, max_size=3))),
                          tuple(draw(st.lists(attempts, min_size=1, max_size=4))))


def consent_for(consents: list[Consent], a: Attempt) -> Consent:
    """The consent an attempt is about: for a refused (granted) organisation's attempt, one that refuses (grants)
    some organisation, where there is one."""
    n = a.consent % len(consents)
    wanted = {"refused": "deny", "grantee": "permit"}.get(a.actor)
    ordered = consents[n:] + consents[:n]
    return next((c for c in ordered if wanted is None or any(p.type == wanted for p in c.provisions)), ordered[0])


def actor(w: World, a: Attempt, c: Consent, other: str) -> Caller:
    """The caller `a.actor` names for consent `c`: its client, another client, an auditor, or staff of the
    organisation that recorded it, of one it grants, refuses, or does not involve."""
    if a.actor in ("client", "other-client"):
        return w.client(c.client if a.actor == "client" else other, "client_access" if a.pick else a.purpose)
    if a.actor == "auditor":
        return w.caller("OVERSIGHT", "auditor", "audit")
    fitting = {
        "recorder": [c.recorded_by] if c.recorded_by in ORGS else [],
        "grantee": sorted({o for p in c.provisions if p.type == "permit" for o in p.orgs}),
        "refused": sorted({o for p in c.provisions if p.type == "deny" for o in p.orgs}),
        "unrelated": [o for o in [*ORGS, UNINVOLVED] if o != c.recorded_by and not c.names(o)],
    }[a.actor] or ORGS
    return w.staff(fitting[a.pick % len(fitting)], a.purpose)


def attempt_change(w: World, a: Attempt, c: Consent, other: str) -> None:
    """One record, amend or revoke attempt: the answer the oracle expects (the model follows what the gateway
    did, right or wrong), and a refusal in the access log."""
    who, m = actor(w, a, c, other), w.model
    expected: tuple[str, frozenset[str]] | None
    if a.op == "record":
        expected = refusal(who, set(CARE) if who.staff else {"client_access"} if (
            who.is_client(c.client) and a.grantor == "CLIENT") else set())
        body = w.ask(who, RECORD, {"i": {"clientId": c.client, "grantor": a.grantor, "sourceReference": "form-prop",
                                         "givenAt": datetime.now(UTC).isoformat(),
                                         "provisions": _provisions(a.provisions, "active")}})
        if "errors" not in body:
            got = body["data"]["recordConsent"]
            m.consents[c.client].append(Consent(got["id"], c.client, got["recordedByOrganization"], "active",
                                                a.provisions))
        assert_answer(body, "recordConsent", expected)
    else:
        if not m.may_see_consent(who, c):
            expected = "CONSENT_NOT_FOUND", frozenset()  # its existence does not show
        else:
            expected = refusal(who, m.change_purposes(who, c))
            if expected is None and c.revoked:
                expected = "BAD_USER_INPUT", frozenset()  # already revoked: nothing left to change
        version = c.version
        if a.op == "amend":
            body = w.ask(who, AMEND, {"id": c.id, "p": _provisions(a.provisions, c.kind)})
            if "errors" not in body:
                c.provisions, c.version = a.provisions, body["data"]["amendConsent"]["version"]
        else:
            body = w.ask(who, REVOKE, {"id": c.id})
            c.revoked = c.revoked or "errors" not in body
        done = assert_answer(body, f"{a.op}Consent", expected)
        if done is not None:
            assert (done["id"], done["revokedAt"] is not None, done["version"]) == (
                c.id, c.revoked, version + (a.op == "amend"))
    if expected is not None and expected[0] != "BAD_USER_INPUT":
        assert len(w.refusals(who, c.client)) == 1  # an auditor sees the refusal in the access log
    if expected is not None and expected[0] == "FORBIDDEN":
        assert w.refusals(who, c.client) == [f"consent.{a.op}"]
        if a.op == "revoke":
            still_applies(w, c)


def still_applies(w: World, c: Consent) -> None:
    """A consent whose revocation was refused still stands: its client sees it unrevoked, and each organisation
    it grants something to is shown what the oracle says (for an active consent: what it grants)."""
    seen = w.ask(w.client(c.client), CONSENT, {"id": c.id})
    assert (seen["data"]["consent"]["revokedAt"] is None, seen["data"]["consent"]["version"]) == (
        not c.revoked, c.version), seen
    for p in c.provisions:
        if p.type == "permit":
            check_profile(w, w.staff(p.orgs[0], p.purposes[0]), c.client)


@dataclass(frozen=True)
class OtherScenario:
    layout: frozenset[str]
    caller: CallerSpec
    consents: tuple[ConsentSpec, ...]


@st.composite
def other_scenarios(draw: st.DrawFn) -> OtherScenario:
    who = draw(callers())
    consents = st.one_of(consent_specs(who.org, who.purpose), consent_specs())  # about the caller, or anyone
    return OtherScenario(draw(LAYOUTS), who, tuple(draw(st.lists(consents, min_size=1, max_size=3))))


# --- the properties ---------------------------------------------------------------------------------------------


def profiles_hold(w: World, s: ReadScenario) -> None:
    """Profile reads over both holders and notes held here: each part as the oracle says; a withheld part looks
    the same for a client the holder knows and one it does not; nothing permitted at HRA, nothing asked of it."""
    held, not_held = w.pair(s.layout)
    for spec in s.consents:
        record(w, held, spec)
        record(w, not_held, spec)
    for org, shared in s.notes:
        write_note(w, w.staff(org), held, shared)
    write_note(w, w.staff("HRA"), not_held, False)  # nobody may see this client's identity: FORBIDDEN
    who = s.caller.of(w, held, not_held)
    calls_before = w.agency.data_requests
    profiles = {cid: check_profile(w, who, cid) for cid in (held, not_held)}
    m = w.model
    if profiles[held] is not None and profiles[not_held] is not None:
        for category, holders in HOLDERS.items():
            for h in holders:
                want = m.section(who, held, category, h)
                if want[0] == "WITHHELD" and want == m.section(who, not_held, category, h):
                    parts = [next(a for a in p[category]["access"] if a["agency"] == h) for p in profiles.values()]
                    assert parts[0] == parts[1], (category, parts)
    if all(m.section(who, held, c, "HRA")[0] != "SHOWN" for c, hs in HOLDERS.items() if "HRA" in hs):
        assert w.agency.data_requests == calls_before  # nothing permitted at HRA, nothing fetched from it


def changes_hold(w: World, s: ChangeScenario) -> None:
    """Consent changes by every kind of caller: only the client or the recording organisation changes a consent,
    never an organisation it refuses; one the caller may not see is not found; the client sees the result."""
    held, other = w.pair(s.layout)
    consents = [record(w, held, spec) for spec in s.consents]
    for a in s.attempts:
        attempt_change(w, a, consent_for(consents, a), other)
    body = w.ask(w.client(held), CONSENTS, {"c": held})
    assert {(c["id"], c["version"], c["revokedAt"] is not None) for c in body["data"]["consents"]} == {
        (c.id, c.version, c.revoked) for c in w.model.consents[held]}


def other_actions_hold(w: World, s: OtherScenario) -> None:
    """Consent visibility, the disclosure report and search, each as the oracle says."""
    held, not_held = w.pair(s.layout)
    mine = [record(w, held, spec) for spec in s.consents]
    who, m = s.caller.of(w, held, not_held), w.model

    listed = assert_answer(w.ask(who, CONSENTS, {"c": held}), "consents", refusal(who, open_purposes(who, held)))
    if listed is not None:
        assert {c["id"] for c in listed} == {c.id for c in m.consents[held] if m.may_see_consent(who, c)}, listed
    bystander = w.staff(BYSTANDER)
    assert w.ask(bystander, CONSENTS, {"c": held})["data"]["consents"] == []
    unseen = w.ask(bystander, CONSENT, {"id": mine[-1].id})
    assert unseen == w.ask(bystander, CONSENT, {"id": str(uuid.uuid4())})  # the same as a consent never recorded
    assert answer(unseen, "consent")[0] == "CONSENT_NOT_FOUND"
    for c in mine:
        one = assert_answer(w.ask(who, CONSENT, {"id": c.id}), "consent",
                            None if m.may_see_consent(who, c) else ("CONSENT_NOT_FOUND", frozenset()))
        if one is not None:
            assert (one["clientId"], one["recordedByOrganization"], one["revokedAt"] is not None) == (
                held, c.recorded_by, c.revoked)

    for client in (held, not_held):
        if who.role == "client":
            refused = refusal(who, {"client_access"} if who.is_client(client) else set())
        else:  # staff, for a care purpose, about a client whose identity they may see (for that purpose)
            refused = refusal(who, identity_purposes(m, who, client))
        report = assert_answer(w.ask(who, REPORT, {"c": client}), "disclosureReport", refused)
        assert report is None or isinstance(report, list)

    person = w.people[held]
    terms = {"firstName": person.first_name, "lastName": person.last_name, "dateOfBirth": person.dob.isoformat()}
    assert w.ask(bystander, SEARCH, {"i": terms}) == w.ask(bystander, SEARCH, {"i": NOBODY}) == {
        "data": {"searchClients": []}}
    refused = refusal(who, set(CARE) if who.staff else set())
    found = assert_answer(w.ask(who, SEARCH, {"i": terms}), "searchClients", refused)
    nobody = assert_answer(w.ask(who, SEARCH, {"i": NOBODY}), "searchClients", refused)
    if found is not None:
        assert nobody == []
        ids = [f["client"]["id"] for f in found]
        assert all(m.sees_identity(who, cid) for cid in ids), found  # only those with an identity record to see
        assert (held in ids) == m.sees_identity(who, held), found
        for f in found:
            assert {a["agency"]: a["status"] for a in f["client"]["identity"]["access"]} == {
                h: m.section(who, f["client"]["id"], "identity", h)[0] for h in HOLDERS["identity"]}
        if not any(m.sees_identity(who, cid) for cid in m.records):
            assert found == []  # a caller who may see nobody learns of nobody


@settings(max_examples=120, deadline=None)
@given(scenario=read_scenarios())
def test_profiles_show_each_holders_part_only_on_a_basis(world: World, scenario: ReadScenario) -> None:
    profiles_hold(world, scenario)


@settings(max_examples=120, deadline=None)
@given(scenario=change_scenarios())
def test_only_the_client_or_the_recorder_changes_a_consent_never_a_refused_organisation(
        world: World, scenario: ChangeScenario) -> None:
    changes_hold(world, scenario)


@settings(max_examples=80, deadline=None)
@given(scenario=other_scenarios())
def test_consents_disclosure_reports_and_search_show_only_what_the_caller_may_see(
        world: World, scenario: OtherScenario) -> None:
    other_actions_hold(world, scenario)


# --- the properties catch policy mutants -------------------------------------------------------------------------

OWN_AGENCY_ORG_CHECK = """@id("own-agency-reads-own-records")
permit (principal, action == Casebridge::Action::"read", resource is Casebridge::Section)
when {
  principal.roles.contains("caseworker") &&
  resource.holder == principal.org &&"""
CONSENT_VISIBILITY_ORG_CHECK = """ &&
  (resource.recorded_by == principal.org || resource.names.contains(principal.org))
};"""
REFUSED_NEVER_CHANGES = """@id("refused-organisation-never-changes-consent")
forbid (principal, action in [Casebridge::Action::"consent.amend", Casebridge::Action::"consent.revoke"], resource)
when { resource.refuses.contains(principal.org) }
unless { principal.self_client != "" && resource.client == principal.self_client };"""
NAMED_MAY_REVOKE = """@id("mutant-named-organisation-revokes")
permit (principal, action == Casebridge::Action::"consent.revoke", resource)
when {
  (principal.roles.contains("caseworker") || principal.roles.contains("partner")) &&
  resource.names.contains(principal.org)
};"""


# name -> (the rule text replaced, its replacement, the scenarios and the property that must catch it)
MUTANTS: dict[str, tuple[str, str, st.SearchStrategy[Any], Callable[[World, Any], None]]] = {
    # every caseworker reads every agency's records as if its own
    "own-agency-without-org-check": (OWN_AGENCY_ORG_CHECK, OWN_AGENCY_ORG_CHECK.replace(
        "\n  resource.holder == principal.org &&", ""), read_scenarios(), profiles_hold),
    # every staff member sees every consent
    "consent-visible-without-org-check": (CONSENT_VISIBILITY_ORG_CHECK, "\n};", other_scenarios(),
                                          other_actions_hold),
    # no refusal protects a consent, and any organisation it names may revoke it
    "refused-organisation-revokes": (REFUSED_NEVER_CHANGES, NAMED_MAY_REVOKE, change_scenarios(), changes_hold),
    # no refusal protects a consent: a recording organisation it refuses changes it
    "refused-recorder-changes": (REFUSED_NEVER_CHANGES, "", change_scenarios(), changes_hold),
}


@pytest.mark.parametrize("name", list(MUTANTS))  # on SQLite only: a fresh store of its own, whatever the backend
def test_the_properties_catch_a_policy_mutant(name: str, tmp_path: Path, dev_key_file: Path) -> None:
    """The same gateway deciding with one rule of policies/*.cedar broken (on SQLite): its property finds a
    scenario it fails on within a few dozen examples."""
    old, new, scenarios, holds = MUTANTS[name]
    policies = "\n".join(f.read_text() for f in POLICY_FILES)
    assert policies.count(old) == 1, "the mutated rule is no longer in policies/*.cedar: update the mutant"
    caught: list[str] = []

    def violated(w: World, scenario: Any) -> bool:
        try:
            holds(w, scenario)
        except AssertionError as exc:
            caught.append(f"{scenario!r}: {exc}")
            return True
        return False

    with open_world(f"mutant {name}", f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", dev_key_file,
                    policies=policies.replace(old, new)) as w:
        find(scenarios, lambda s: violated(w, s),
             settings=settings(max_examples=150, phases=[Phase.generate], database=None, deadline=None))
    assert caught
    print(f"{name} caught by {caught[0][:2000]}")
