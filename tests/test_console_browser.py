"""The web console in a real browser (issue 18): Debian's Chromium driven by Playwright against the real gateway,
the agency simulators, the store and the development OpenID provider (oidc-provider on Node.js).

Each role's main path end to end, signed in the way production signs in (authorization code with PKCE); every
page checked by axe-core (no serious or critical WCAG 2.1 A/AA violation) and against its Content-Security-Policy;
each role's main page screenshotted at phone and desktop width into var/screenshots/console for review; a failing
test leaves a screenshot of where it stopped in var/screenshots/failures.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.settings import Settings
from audit.export import verify_export
from cli.demo import BREAK_GLASS_WHY, DEMO_ORGANIZATIONS, demo_users, seed, seed_index, verified_at_hra
from demo.benefits_sim import BenefitsAgency
from demo.edfi_sim import EdfiAgency
from demo.idp import DEMO_PASSWORD, DemoUser, DevIdentityProvider
from demo.mailbox import Mailbox, MailServer
from demo.photos import id_card_png
from demo.population import Person, Population, generate
from demo.servers import ServerThread, free_port
from demo.sms_provider import SmsProvider
from tests.conftest import make_settings
from tests.gateway import UNLINKED_CLIENT, seed_links

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CASEBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
AXE = ROOT / "tests" / "console_audit" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / "var" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Short-lived access tokens: the console renews them with its refresh token while the tests run (oidc-client-ts
# renews 60 s before expiry, so every ~10 s here).
ACCESS_TOKEN_SECONDS = 70
MULTI = DemoUser("dhs-lead", "DHS caseworker and identity steward", "demo-dhs-lead", "DHS",
                 ("caseworker", "identity_steward"))


@dataclass
class City:
    settings: Settings
    url: str
    idp: DevIdentityProvider
    population: Population
    browser: Browser
    benefits: ServerThread
    mailbox: Mailbox
    pages: list[Page] = field(default_factory=list)

    def token(self, sub: str, org: str, role: str, self_client: str | None = None) -> str:
        return mint_token(load_or_create_dev_key(self.settings.auth.dev_key_file), self.settings.auth,
                          subject=sub, organization=org, roles=[role], self_client=self_client)

    def graphql(self, bearer: str, purpose: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        resp = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=30,
                          headers={"Authorization": f"Bearer {bearer}", "X-Purpose-Of-Use": purpose})
        body: dict[str, Any] = resp.json()
        return body


@pytest.fixture(scope="module")
def city(dev_key_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    if not AXE.is_file():
        pytest.fail("axe-core is missing: npm ci --prefix tests/console_audit (./scripts/test does it)")
    tmp = tmp_path_factory.mktemp("console")
    population = generate(seed=7, households=10)
    verified_at_hra(population)  # as the demo: HRA verified the sheltered client's birth certificate
    settings = make_settings(dev_key_file, database_url=f"sqlite+aiosqlite:///{tmp / 'console.db'}",
                             console={"organizations": DEMO_ORGANIZATIONS}, documents={"blob_dir": tmp / "blobs"})
    asyncio.run(seed(settings, population, export_dir=tmp / "hmis"))
    asyncio.run(seed_links(settings.database_url, population))  # and a client only the shelter system knows
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    provider, mailbox = SmsProvider(inbound_url=f"{url}/hooks/sms/inbound"), Mailbox()
    with ServerThread(BenefitsAgency(population).app()) as benefits, \
            ServerThread(EdfiAgency(population).app()) as district, \
            ServerThread(provider.app()) as sms, MailServer(mailbox) as mail:
        # the gateway plans and sends reminders itself, as in the demo, every 2 seconds here
        notify = settings.notify.model_copy(update={
            "run_in_gateway": True, "plan_every_seconds": 2.0, "poll_seconds": 0.5, "link": f"{url}/app/",
            "sms": settings.notify.sms.model_copy(update={"base_url": sms.url}),
            "smtp": settings.notify.smtp.model_copy(update={"port": mail.port})})
        settings = settings.model_copy(update={
            "benefits": settings.benefits.model_copy(update={"base_url": benefits.url}),
            "schooling": settings.schooling.model_copy(update={"base_url": district.url}), "public_url": url,
            "notify": notify})
        asyncio.run(seed_index(settings, population))
        users = [*demo_users(population), MULTI]
        with DevIdentityProvider(users, settings.auth, url, port=free_port(),
                                 access_token_seconds=ACCESS_TOKEN_SECONDS) as idp:
            settings = settings.model_copy(update={"auth": settings.auth.model_copy(
                update={"issuer": idp.issuer, "jwks_url": idp.jwks_url})})
            with ServerThread(create_app(settings), port=port), sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    yield City(settings, url, idp, population, browser, benefits, mailbox)
                finally:
                    browser.close()


@dataclass
class Session:
    """One person's browser tab: what it sent and what the page complained about."""

    page: Page
    context: BrowserContext
    graphql: list[tuple[str, str | None]] = field(default_factory=list)  # (operation, X-Purpose-Of-Use)
    problems: list[str] = field(default_factory=list)


@pytest.fixture
def tab(city: City, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Open a fresh browser (own storage) at a viewport; screenshots the page if the test failed."""
    opened: list[Session] = []

    def open_tab(viewport: dict[str, int] = DESKTOP) -> Session:
        context = city.browser.new_context(viewport=viewport, accept_downloads=True)
        page = context.new_page()
        session = Session(page, context)
        page.on("request", lambda r: session.graphql.append(
            (json.loads(r.post_data or "{}").get("operationName", ""), r.headers.get("x-purpose-of-use")))
            if r.url.endswith("/graphql") else None)
        page.on("console", lambda m: session.problems.append(m.text) if "Content Security Policy" in m.text
                or (m.type == "error" and "favicon" not in m.text and "401" not in m.text) else None)
        page.on("pageerror", lambda e: session.problems.append(str(e)))
        opened.append(session)
        return session

    yield open_tab
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for i, session in enumerate(opened):
        if failed:
            (SHOTS / "failures").mkdir(parents=True, exist_ok=True)
            session.page.screenshot(path=SHOTS / "failures" / f"{request.node.name}-{i}.png", full_page=True)
        session.context.close()


def sign_in(session: Session, city: City, username: str, path: str = "/app/") -> Page:
    page = session.page
    page.goto(city.url + path)
    check_accessible(page, "sign-in")
    page.get_by_role("button", name=re.compile("^(Sign in|Iniciar sesión)$")).click()
    page.wait_for_url(re.compile(re.escape(city.idp.issuer) + "/interaction/"))
    check_accessible(page, "the provider's sign-in page")
    page.select_option("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(city.url) + "/app/"))
    expect(page.get_by_test_id("who")).to_be_visible()
    return page


def check_accessible(page: Page, where: str) -> None:
    """axe-core (WCAG 2.0/2.1 A and AA rules) finds no serious or critical violation on the page as it is."""
    page.wait_for_load_state("networkidle")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())  # evaluated by the browser's debugger: the page's CSP stays as it is
    result = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: "
                           "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
    bad = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{where}: {bad}"


def screenshot_both(city: City, session: Session, role: str) -> None:
    """The page at desktop and at phone width, for review."""
    out = SHOTS / "console"
    out.mkdir(parents=True, exist_ok=True)
    page = session.page
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(200)
        page.screenshot(path=out / f"{role}-{name}.png", full_page=True)
        check_accessible(page, f"{role} at {name} width")
    page.set_viewport_size(DESKTOP)


def tick(page: Page, input_id: str) -> None:
    """Tick a USWDS checkbox the way a person does: by its label (the input itself is drawn off-screen)."""
    page.locator(f"label[for='{input_id}']").click()
    expect(page.locator(f"#{input_id}")).to_be_checked()


def section(page: Page, name: str) -> Any:
    return page.locator(f"[data-section='{name}']")


def choose_purpose(page: Page, label: str) -> None:
    button = page.get_by_test_id("purpose-bar").get_by_role("button", name=label)
    button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("purpose-current")).to_have_text(label)


def _clients(population: Population) -> tuple[Person, Person, Person]:
    """Three clients known to the shelter system (DHS sees their identity) and to the benefits agency, none of the
    demo's seeded cases, one for each test that changes what DHS may see (so that the tests run in any order):
    the caseworker's consent, the break-glass, the withheld screen."""
    seeded = {p.client_id for p in population.people[:2]}
    known = [p for p in population.people[2:] if p.hmis_id and p.benefits_id and p.client_id not in seeded]
    worked = next(p for p in known if p.relationship == "HEAD")
    glass, held = [p for p in known if p is not worked][:2]
    return worked, glass, held


def test_a_caseworker_finds_a_client_opens_the_profile_and_records_and_revokes_a_consent(city: City, tab: Any) -> None:
    person, _, _ = _clients(city.population)
    session = tab()
    page = sign_in(session, city, "dhs-caseworker")
    expect(page.get_by_test_id("who")).to_contain_text("demo-dhs-caseworker (DHS)")
    expect(page.get_by_label("View as")).to_have_count(0)  # one role, one view
    search = page.get_by_role("button", name="Search", exact=True)
    expect(search).to_be_disabled()  # nothing is looked at before the purpose is chosen
    choose_purpose(page, "Case management")
    page.fill("#firstName", person.first_name)
    page.fill("#lastName", person.last_name)
    search.click()
    results = page.locator("table").filter(has=page.get_by_role("columnheader", name="Matched on"))
    expect(results).to_be_visible()
    row = results.locator("tbody tr").first
    expect(row).to_contain_text(f"{person.first_name} {person.last_name}")
    expect(row.locator("td").nth(1)).to_have_text(re.compile("^(Certain|Probable|Possible)$"))
    check_accessible(page, "search results")
    row.get_by_role("link", name="Open profile").click()

    benefits = section(page, "benefits")
    expect(benefits.locator("[data-status='WITHHELD']")).to_contain_text("no consent covers it")
    expect(benefits).to_contain_text("Opens when the client's consent is recorded")
    expect(section(page, "housing").locator("[data-status='SHOWN']")).to_contain_text("its own record")
    check_accessible(page, "profile")
    screenshot_both(city, session, "caseworker")

    page.get_by_role("button", name="Record consent from a signed form").click()
    page.fill("#consent-form", "FORM-2026-0417")
    expect(page.locator("#consent-orgs-DHS")).to_be_checked()  # the caseworker's own organisation, to start with
    tick(page, "consent-categories-BENEFITS")
    expect(page.get_by_role("region", name="What this consent opens")).to_contain_text("DHS may see Benefits")
    check_accessible(page, "consent form")
    page.get_by_role("button", name="Record consent", exact=True).click()
    expect(page.get_by_text("The consent is recorded.")).to_be_visible()
    expect(benefits.locator("[data-status='SHOWN']")).to_contain_text("the client's consent")
    expect(benefits).to_contain_text("Case ")

    consent = page.locator("[data-consent][data-status='ACTIVE']").filter(has_text="FORM-2026-0417")
    consent.get_by_role("button", name="Revoke").click()
    page.fill("#revoke-reason", "client asked to stop sharing")
    page.get_by_role("button", name="Revoke this consent").click()
    expect(benefits.locator("[data-status='WITHHELD']")).to_contain_text("the client revoked consent")
    page.reload()  # a revoked consent hides the section on the next load, too
    expect(section(page, "benefits").locator("[data-status='WITHHELD']")).to_be_visible()
    expect(section(page, "benefits")).not_to_contain_text("Case ")

    page.get_by_role("button", name="Add a case note").click()
    page.fill("#note-text", "Met at intake; helping with the recertification interview.")
    page.get_by_role("button", name="Save note").click()
    expect(section(page, "casework")).to_contain_text("helping with the recertification interview")

    purposes = {purpose for operation, purpose in session.graphql if operation != "Me"}
    assert purposes == {"CASE_MANAGEMENT"}, purposes  # every call about a client said why (`me` is about nobody)
    assert not session.problems, session.problems


def test_break_glass_asks_for_a_justification_and_counts_down(city: City, tab: Any) -> None:
    _, person, _ = _clients(city.population)
    session = tab()
    page = sign_in(session, city, "dhs-caseworker", f"/app/#/client/{person.client_id}")
    choose_purpose(page, "Case management")
    expect(section(page, "benefits").locator("[data-status='WITHHELD']")).to_be_visible()
    page.get_by_role("button", name="Emergency access").click()
    page.fill("#glass-why", "too short")
    page.get_by_role("button", name="Open emergency access").click()
    expect(page.get_by_text("Write at least 20 characters.")).to_be_visible()
    page.fill("#glass-why", "Client collapsed at intake; need benefits status to arrange hospital care")
    page.select_option("#glass-minutes", "15")
    check_accessible(page, "break-glass form")
    page.get_by_role("button", name="Open emergency access").click()
    timer = page.get_by_role("timer")
    expect(timer).to_have_text(re.compile(r"^1[45]:\d\d$"))
    first = timer.inner_text()
    page.wait_for_timeout(2100)
    assert timer.inner_text() != first  # it counts down
    expect(page.get_by_test_id("purpose-current")).to_have_text("Emergency")
    expect(section(page, "benefits").locator("[data-status='SHOWN']")).to_contain_text("emergency access")
    check_accessible(page, "a profile under emergency access")
    assert session.graphql[-1] == ("ClientProfile", "EMERGENCY")


def test_a_withheld_section_looks_the_same_whether_or_not_the_agency_holds_anything(city: City, tab: Any) -> None:
    _, _, held = _clients(city.population)
    session = tab()
    page = sign_in(session, city, "dhs-caseworker", f"/app/#/client/{held.client_id}")
    choose_purpose(page, "Care coordination")
    screens = []
    for client_id in (held.client_id, UNLINKED_CLIENT):  # the second: no benefits record anywhere
        page.goto(f"{city.url}/app/#/client/{client_id}")
        expect(page.locator(f"[data-client='{client_id}']")).to_be_visible()  # this client's answer, not the last
        benefits = section(page, "benefits")
        expect(benefits.locator("[data-status='WITHHELD']")).to_be_visible()
        screens.append(benefits.inner_html())
    assert screens[0] == screens[1]


def test_a_client_reads_their_record_manages_consents_and_sees_who_looked(city: City, tab: Any) -> None:
    me = city.population.people[0]  # the demo's client user; DHS holds their consent for appointments/documents
    dhs = city.token("demo-dhs-caseworker", "DHS", "caseworker")
    seen = city.graphql(dhs, "case_management",
                        "query($id: ID!) { client(id: $id) { appointments { items { type } } } }", {"id": me.client_id})
    assert seen["data"]["client"]["appointments"]["items"] is not None
    session = tab(PHONE)
    page = sign_in(session, city, "client")
    expect(page.get_by_role("heading", name="Your casebridge record")).to_be_visible()
    expect(section(page, "identity").locator("[data-status='SHOWN']").first).to_contain_text("own access")
    expect(page.get_by_role("heading", name="Coming up")).to_be_visible()
    screenshot_both(city, session, "client")

    page.get_by_role("link", name="Who has seen it").click()
    seen_table = page.get_by_role("table", name="Who has seen your information")
    expect(seen_table).to_contain_text("DHS")
    expect(seen_table).to_contain_text("Appointments")
    check_accessible(page, "disclosure report")

    page.get_by_role("link", name="Who may see it").click()
    dhs_consent = page.locator("[data-consent][data-status='ACTIVE']").filter(has_text="DEMO-SIGNED-CONSENT-FORM")
    expect(dhs_consent).to_contain_text("DHS may see your name, date of birth")
    expect(dhs_consent).to_contain_text("your appointments with agencies")
    page.get_by_role("button", name="Give a consent").click()
    tick(page, "consent-orgs-LEGALAID")
    tick(page, "consent-categories-CASEWORK")
    expect(page.get_by_role("region", name="What this consent opens")).to_contain_text(
        "LEGALAID may see notes your caseworkers write")
    check_accessible(page, "give a consent")
    page.get_by_role("button", name="Record consent", exact=True).click()
    # the consent just given (the demo's referral gave LEGALAID another one already): once it shows, the list is
    # the one loaded after it was recorded
    expect(page.locator("[data-consent][data-status='ACTIVE']").filter(
        has_text="LEGALAID may see notes your caseworkers write")).to_be_visible()
    dhs_consent.get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Revoke this consent").click()
    expect(page.locator("[data-consent][data-status='INACTIVE']").filter(
        has_text="DEMO-SIGNED-CONSENT-FORM")).to_be_visible()

    worker = tab()  # the caseworker's next load no longer shows what the revoked consent opened
    page = sign_in(worker, city, "dhs-caseworker", f"/app/#/client/{me.client_id}")
    choose_purpose(page, "Case management")
    expect(section(page, "appointments").locator("[data-status='WITHHELD']")).to_contain_text(
        "the client revoked consent")
    assert not session.problems, session.problems


def test_an_identity_steward_decides_a_pair_from_the_queue(city: City, tab: Any) -> None:
    session = tab()
    page = sign_in(session, city, "steward")
    item = page.locator("[data-review]").filter(has_text="intake WALKIN-0001")
    expect(item).to_be_visible()
    expect(item.locator("tbody tr").filter(has_text="Last name")).to_contain_text("same")
    expect(item.locator("tbody tr").filter(has_text="Date of birth")).to_contain_text("missing")
    screenshot_both(city, session, "steward")
    item.get_by_role("button", name="Same person").click()
    expect(item.get_by_text("Write the reason first.")).to_be_visible()
    item.get_by_label("Reason for your decision").fill("Called the client: the walk-in was her, same address")
    item.get_by_role("button", name="Same person").click()
    expect(page.get_by_text("Decided: the same person")).to_be_visible()
    expect(page.locator("[data-review]").filter(has_text="intake WALKIN-0001")).to_have_count(0)
    page.get_by_role("link", name="Link and unlink").click()
    check_accessible(page, "link and unlink")
    page.fill("#unlink-source", "intake")  # and undone by hand: not her after all
    page.fill("#unlink-local", "WALKIN-0001")
    page.fill("#unlink-reason", "Second call: the walk-in was her cousin of the same name")
    page.get_by_role("button", name="Unlink").click()
    expect(page.get_by_text("The record is unlinked.")).to_be_visible()
    assert not session.problems, session.problems


def test_an_auditor_pages_filters_verifies_and_exports_the_log(city: City, tab: Any, tmp_path: Path) -> None:
    hra = city.token("demo-hra-caseworker", "HRA", "caseworker")
    for person in city.population.people[:30]:  # more events than one page holds
        city.graphql(hra, "eligibility", "query($id: ID!) { client(id: $id) { id } }", {"id": person.client_id})
    session = tab()
    page = sign_in(session, city, "auditor")
    rows = page.locator("[aria-labelledby='log-h'] tbody tr")
    expect(rows).to_have_count(25)
    screenshot_both(city, session, "auditor")
    newest = rows.first.locator("td").first.inner_text()
    page.get_by_role("button", name="Older events").click()
    expect(rows.first.locator("td").first).not_to_have_text(newest)
    older = int(rows.first.locator("td").first.inner_text())
    assert older < int(newest)
    page.get_by_role("button", name="Newer events").click()
    expect(page.get_by_role("button", name="Newer events")).to_have_count(0)
    expect(rows.first.locator("td").first).not_to_have_text(str(older))
    # back at the newest page, which now also holds the auditor's own reads of the log (each is logged)
    assert int(rows.first.locator("td").first.inner_text()) > int(newest)

    page.fill("#f-org", "HRA")
    page.select_option("#f-purpose", "eligibility")
    page.get_by_role("button", name="Apply").click()
    expect(rows.first).to_contain_text("(HRA)")
    assert all("(HRA)" in r for r in rows.all_inner_texts())

    with page.expect_download() as downloaded:
        page.get_by_role("button", name="Download").click()
    path = tmp_path / downloaded.value.suggested_filename
    downloaded.value.save_as(path)
    check = verify_export(path)
    assert check.ok and check.events >= 25, check
    expect(page.get_by_text(re.compile(r"events downloaded as casebridge-access-log-"))).to_be_visible()

    page.get_by_role("link", name="Integrity").click()
    expect(page.get_by_role("heading", name="Intact")).to_be_visible()
    check_accessible(page, "integrity")
    page.get_by_role("link", name="Unusual access").click()
    expect(page.get_by_role("table", name="Emergency access")).to_contain_text(BREAK_GLASS_WHY)
    check_accessible(page, "unusual access")
    assert not session.problems, session.problems


def test_sign_in_refreshes_the_token_ends_when_it_expires_and_signs_out(city: City, tab: Any) -> None:
    session = tab()
    page = sign_in(session, city, "hra-caseworker")
    stored = "JSON.parse(sessionStorage.getItem(Object.keys(sessionStorage).find(k => k.startsWith('oidc.user:'))))"
    first = page.evaluate(stored)
    assert first["refresh_token"] and first["access_token"]
    for _ in range(60):  # renewed ~10 s after sign-in; polled from here (the page's CSP forbids eval)
        renewed = page.evaluate(stored)
        if renewed["access_token"] != first["access_token"]:
            break
        page.wait_for_timeout(500)
    assert renewed["refresh_token"] != first["refresh_token"]  # rotated
    choose_purpose(page, "Eligibility")
    page.fill("#firstName", city.population.people[0].first_name)
    page.fill("#lastName", city.population.people[0].last_name)
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("table", name=re.compile("^Results"))).to_be_visible()  # the renewed token works

    # The refresh token lapses (a long lunch): the next call says so and offers to sign in again.
    page.evaluate(f"""(() => {{ const k = Object.keys(sessionStorage).find(k => k.startsWith('oidc.user:'));
        const u = {stored}; u.expires_at = 1; delete u.refresh_token;
        sessionStorage.setItem(k, JSON.stringify(u)); }})()""")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Your session has ended")).to_be_visible()

    page.get_by_role("button", name="Sign in").first.click()  # the provider's session still stands: no form
    page.wait_for_url(re.compile(re.escape(city.url) + "/app/"))
    expect(page.get_by_test_id("who")).to_contain_text("demo-hra-caseworker")
    token = page.evaluate(stored)["refresh_token"]

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(re.escape(city.idp.issuer)))
    page.get_by_role("button", name="Sign out").click()  # the provider asks, so that no other site signs you out
    page.wait_for_url(re.compile(re.escape(city.url) + "/app/"))
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('oidc.user:')).length") == 0
    refused = httpx.post(f"{city.idp.issuer}/token", data={"grant_type": "refresh_token", "refresh_token": token,
                                                          "client_id": "casebridge-console"})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"  # revoked at sign-out


def test_the_console_speaks_spanish_and_remembers_it(city: City, tab: Any) -> None:
    session = tab()
    page = sign_in(session, city, "doe-liaison")
    page.select_option("#language", "es")
    expect(page.get_by_role("heading", name="Buscar un cliente")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    choose_purpose(page, "Gestión de casos")
    page.reload()
    expect(page.get_by_role("heading", name="Buscar un cliente")).to_be_visible()
    check_accessible(page, "search in Spanish")
    pupil = next(p for p in city.population.people if p.student_id)
    page.goto(f"{city.url}/app/#/client/{pupil.client_id}")
    expect(section(page, "schooling").locator("[data-status='SHOWN']")).to_contain_text("registro propio")
    check_accessible(page, "a profile in Spanish")
    assert not session.problems, session.problems


def test_a_person_with_two_roles_switches_between_their_views(city: City, tab: Any) -> None:
    session = tab()
    page = sign_in(session, city, "dhs-lead")
    view = page.get_by_label("View as")
    expect(view).to_have_value("CASEWORKER")
    expect(page.get_by_role("heading", name="Find a client")).to_be_visible()
    view.select_option("IDENTITY_STEWARD")
    expect(page.get_by_role("heading", name=re.compile("^Identity review"))).to_be_visible()
    page.reload()  # the choice holds for the tab
    expect(page.get_by_role("heading", name=re.compile("^Identity review"))).to_be_visible()
    check_accessible(page, "two roles")


def test_contact_details_by_the_client_and_by_a_caseworker(city: City, tab: Any) -> None:
    session = tab(PHONE)
    page = sign_in(session, city, "client", "/app/#/contact")
    # the demo's client asked for reminders by email from their own sign-in (cli/demo.seed)
    expect(page.locator("[data-contact='EMAIL']")).to_contain_text("demo-client@example.org")
    page.get_by_role("button", name="Add or change how to reach me").click()
    page.fill("#contact-address", "(212) 555-0199")
    expect(page.locator("#contact-optin")).to_be_checked()
    check_accessible(page, "the client's contact form")
    page.get_by_role("button", name="Add", exact=True).click()
    mine = page.locator("[data-contact='SMS']")
    expect(mine).to_contain_text("+12125550199")
    expect(mine).to_contain_text("agreed to be contacted (the client's own sign-in)")
    expect(mine).to_contain_text("recorded by you")  # not by the organisation code their sign-in carries
    page.get_by_role("button", name="Add or change how to reach me").click()
    page.select_option("#contact-language", "es")
    page.fill("#contact-quiet-from", "21:00")
    page.fill("#contact-quiet-until", "08:00")
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_test_id("contact-preferences")).to_contain_text("Español")
    expect(page.get_by_test_id("contact-preferences")).to_contain_text("No messages from 21:00 to 08:00")
    mine.get_by_role("button", name="Stop messages here").click()
    expect(page.locator("[data-contact='SMS'][data-opted='false']")).to_be_visible()

    _, _, held = _clients(city.population)
    worker = tab()
    page = sign_in(worker, city, "dhs-caseworker", f"/app/#/client/{held.client_id}")
    choose_purpose(page, "Case management")
    page.get_by_role("button", name="Contact details").click()
    page.select_option("#contact-channel", "EMAIL")
    page.fill("#contact-address", "client.demo@example.org")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#contact-form:invalid")).to_have_count(1)  # an opt-in needs its signed form: not sent
    expect(section(page, "contact").locator("[data-contact='EMAIL']")).to_have_count(0)
    page.fill("#contact-form", "CONTACT-FORM-12")
    check_accessible(page, "the caseworker's contact form")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(section(page, "contact").locator("[data-contact='EMAIL']")).to_contain_text("CONTACT-FORM-12")
    assert not session.problems and not worker.problems, (session.problems, worker.problems)


def test_appointments_from_every_agency_with_their_reminders_and_the_clients_messages(city: City, tab: Any) -> None:
    """A DHS caseworker schedules an appointment and marks one cancelled; each appointment shows its reminders;
    the client sees both agencies' appointments and, in their own view, the messages sent to them."""
    me = city.population.people[0]  # the demo's client: DHS sees their appointments by their consent
    for _ in range(100):  # the gateway plans and sends the reminder of the seed's housing interview
        if any(m["To"] == "demo-client@example.org" for m in city.mailbox.messages):
            break
        time.sleep(0.2)
    assert city.mailbox.messages, "the gateway sent the demo client's reminder"
    # (another test revokes the seed's consent) the client lets DHS see their appointments and how they are reached
    mine = city.token("demo-client", "CLIENTS", "client", self_client=me.client_id)
    given = city.graphql(mine, "client_access", """mutation($input: RecordConsentInput!) {
        recordConsent(input: $input) { id } }""", {"input": {
        "clientId": me.client_id, "sourceReference": "FORM-REMINDERS-1", "givenAt": "2026-11-20T10:00:00Z",
        "provisions": [{"organizations": ["DHS"], "categories": ["APPOINTMENTS", "CONTACT"],
                        "purposes": ["CASE_MANAGEMENT"]}]}})
    assert given.get("errors") is None, given
    worker = tab()
    page = sign_in(worker, city, "dhs-caseworker", f"/app/#/client/{me.client_id}")
    choose_purpose(page, "Case management")
    listed = section(page, "appointments")
    expect(listed).to_contain_text("Housing interview")  # the seed's, held here for DHS
    expect(listed).to_contain_text("a housing placement")
    expect(listed.locator("[data-reminder]").first).to_be_visible(timeout=20_000)  # planned and sent by the gateway
    page.get_by_role("button", name="Schedule an appointment").click()
    page.select_option("#appt-type", "LEGAL_CONSULTATION")
    page.fill("#appt-day", "2031-01-01")  # too far ahead: the API refuses it, and says why
    page.fill("#appt-time", "10:30")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.get_by_text("an appointment is at most two years ahead")).to_be_visible()
    day = (datetime.now() + timedelta(days=10)).date().isoformat()
    page.fill("#appt-day", day)
    page.select_option("#appt-mode", "PHONE")
    page.fill("#appt-location", "We will call you")
    check_accessible(page, "scheduling an appointment")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.get_by_text("The appointment is scheduled.")).to_be_visible()
    row = listed.locator("tr", has_text="Legal consultation")
    expect(row).to_contain_text("Scheduled")
    row.get_by_role("button", name="Cancel").click()
    expect(listed.locator("tr", has_text="Legal consultation")).to_contain_text("Cancelled")
    check_accessible(page, "appointments with reminders")

    session = tab(PHONE)
    page = sign_in(session, city, "client", "/app/#/contact")
    expect(page.get_by_role("heading", name="Messages")).to_be_visible()
    sent = page.locator("tr", has=page.locator("[data-message='SENT'], [data-message='DELIVERED']"))
    expect(sent.first).to_contain_text("You have an appointment")
    check_accessible(page, "the client's messages")
    assert any(m["To"] == "demo-client@example.org" for m in city.mailbox.messages)
    assert not worker.problems and not session.problems, (worker.problems, session.problems)


CONSENTS = """query($id: ID!) { consents(clientId: $id) { id sourceReference status provisions {
  type organizations categories purposes holders dataPeriodStart dataPeriodEnd } } }"""


def test_a_client_changing_one_provision_keeps_every_other_limit(city: City, tab: Any) -> None:
    me = city.population.people[0]
    mine = city.token("demo-client", "CLIENTS", "client", self_client=me.client_id)
    recorded = city.graphql(mine, "client_access", """mutation($input: RecordConsentInput!) {
        recordConsent(input: $input) { id } }""", {"input": {
        "clientId": me.client_id, "sourceReference": "FORM-LIMITS-7", "givenAt": "2026-11-20T10:00:00Z",
        "provisions": [
            {"type": "PERMIT", "organizations": ["HRA"], "categories": ["BENEFITS"], "purposes": ["ELIGIBILITY"],
             "holders": ["HRA"], "dataPeriodStart": "2025-01-01"},
            {"type": "DENY", "organizations": ["HRA"], "categories": ["IMMIGRATION_LEGAL"], "purposes": []}]}})
    assert recorded.get("errors") is None, recorded
    session = tab(PHONE)
    page = sign_in(session, city, "client", "/app/#/consents")
    consent = page.locator("[data-consent][data-status='ACTIVE']").filter(has_text="FORM-LIMITS-7")
    expect(consent.locator("[data-provision='PERMIT']")).to_contain_text("Only records held by HRA")
    expect(consent.locator("[data-provision='DENY']")).to_contain_text("HRA may never see")
    expect(consent.locator("[data-provision='DENY']").get_by_role("button")).to_have_count(0)  # a refusal stays
    consent.locator("[data-provision='PERMIT']").get_by_role("button", name=re.compile("^Change")).click()
    tick(page, "consent-categories-SCHOOLING")
    check_accessible(page, "change a consent")
    page.get_by_role("button", name="Save the change").click()
    expect(page.get_by_text("Your consents are updated.")).to_be_visible()
    after = next(c for c in city.graphql(mine, "client_access", CONSENTS, {"id": me.client_id})["data"]["consents"]
                 if c["id"] == recorded["data"]["recordConsent"]["id"])
    permit, deny = after["provisions"]
    assert permit["type"] == "PERMIT" and set(permit["categories"]) == {"BENEFITS", "SCHOOLING"}
    assert permit["holders"] == ["HRA"] and permit["dataPeriodStart"] == "2025-01-01"  # its limits kept
    assert (deny["type"], deny["categories"]) == ("DENY", ["IMMIGRATION_LEGAL"])  # the other provision untouched


def test_a_client_sends_a_photo_from_their_phone_and_the_caseworker_reviews_what_was_sent(city: City, tab: Any) -> None:
    """The demo's seed: DHS asked the sheltered client for a photo ID, the client sent one, and the client's housing
    consent lets DHS see their documents (HRA's verified birth certificate among them)."""
    phone = tab(PHONE)
    page = sign_in(phone, city, "client-in-shelter", "/app/#/documents")
    checklist = section(page, "checklist")
    expect(checklist.locator("[data-document='PHOTO_ID']")).to_have_attribute("data-state", "RECEIVED")
    expect(checklist.locator("[data-document='BIRTH_CERTIFICATE']")).to_contain_text("Verified at HRA")
    card = checklist.locator("[data-document='SOCIAL_SECURITY_CARD']")
    # who should review it: those the client works with (DHS by consent and request, HRA holding a copy)
    card.get_by_text("Who should review this?").click()
    expect(card.locator("[data-address] input[type='checkbox']")).to_have_count(2)
    tick(page, "to-SOCIAL_SECURITY_CARD-HRA")
    card.locator("input[data-send='camera']").set_input_files(
        files=[{"name": "IMG_0042.png", "mimeType": "image/png", "buffer": id_card_png(seed=3)}])
    expect(page.get_by_text("The file was sent.")).to_be_visible()
    expect(card).to_have_attribute("data-state", "RECEIVED")
    # addressed to HRA too, which the client's consent does not let see their documents yet: the client is told
    expect(card.locator("[data-not-shared='HRA']")).to_be_visible()
    check_accessible(page, "the client's documents")

    desk = tab()
    staff = sign_in(desk, city, "dhs-caseworker")
    choose_purpose(staff, "Case management")
    reviews = section(staff, "reviews")
    expect(reviews.locator("tbody tr")).to_have_count(2)  # the photo ID and the card, soonest due first
    check_accessible(staff, "documents to review")
    reviews.get_by_role("link").first.click()
    checklist = section(staff, "checklist")
    photo = checklist.locator("[data-document='PHOTO_ID']")
    photo.get_by_role("button", name="View").click()
    expect(photo.locator("img.cb-document")).to_be_visible()  # the photo itself, fetched with the token
    photo.get_by_role("button", name="Accept").click()
    expect(staff.get_by_text("The document was accepted.")).to_be_visible()
    expect(photo).to_have_attribute("data-state", "ACCEPTED")
    card = checklist.locator("[data-document='SOCIAL_SECURITY_CARD']")
    card.get_by_label("Reason").select_option("ILLEGIBLE")
    card.get_by_role("button", name="Reject").click()
    expect(card).to_have_attribute("data-state", "REJECTED")
    check_accessible(staff, "the caseworker's checklist")
    screenshot_both(city, desk, "documents")

    page.reload()
    expect(section(page, "checklist").locator("[data-document='SOCIAL_SECURITY_CARD'] [data-request='REJECTED']")
           ).to_contain_text("it cannot be read")
    assert any(operation == "ReviewDocument" and purpose == "CASE_MANAGEMENT" for operation, purpose in desk.graphql)
    assert not phone.problems and not desk.problems, (phone.problems, desk.problems)


def test_a_client_reads_their_plan_marks_a_step_applies_for_a_service_and_the_partner_accepts_a_referral(
    city: City, tab: Any,
) -> None:
    """The demo's seed: DHS keeps a 60-day plan for the demo client and referred them to the legal clinic, which the
    legal-aid partner answers; the client applied for an ESOL class."""
    phone = tab(PHONE)
    page = sign_in(phone, city, "client", "/app/#/plan")
    plan = section(page, "plan")
    esol = plan.locator("[data-goal='ESOL_ENROLLED']")
    expect(esol).to_have_attribute("data-status", "IN_PROGRESS")
    expect(plan.locator("[data-goal='ASYLUM_APPLICATION_FILED']")).to_contain_text("Due by")
    # the caseworker's steps are not the client's to mark
    expect(plan.locator("[data-goal='LEGAL_REPRESENTATION_FOUND']").get_by_role("button", name="Mark done")
           ).to_have_count(0)
    esol.get_by_role("button", name="Mark done").click()
    expect(page.get_by_text("The step is marked.")).to_be_visible()
    expect(esol).to_have_attribute("data-status", "MET")
    finder = plan.locator("[data-section='directory']")
    finder.get_by_label("What is needed").select_option("EMPLOYMENT")
    finder.get_by_role("button", name="Search").click()
    finder.locator("[data-service='Job search and placement']").get_by_role("button", name="Apply").click()
    expect(page.get_by_text("You applied.")).to_be_visible()
    expect(plan.get_by_role("row").filter(has_text="Job search and placement")).to_contain_text("Asked")
    check_accessible(page, "the client's plan and services")

    partner = tab()
    desk = sign_in(partner, city, "legal-aid")
    choose_purpose(desk, "Care coordination")
    inbox = section(desk, "inbox")
    row = inbox.get_by_role("row").filter(has_text="Asylum and work authorization clinic")
    expect(row).to_contain_text("Arrived this spring")  # what the referrer tells the service
    check_accessible(desk, "the partner's inbox")
    row.get_by_role("button", name="Accept").click()
    expect(row.locator("[data-referral='ACCEPTED']")).to_be_visible()
    screenshot_both(city, partner, "partner-inbox")
    page.reload()
    expect(section(page, "plan").get_by_role("row").filter(has_text="Asylum and work authorization clinic")
           ).to_contain_text("Accepted")
    assert not phone.problems and not partner.problems, (phone.problems, partner.problems)


def test_a_caseworker_makes_and_keeps_a_plan_records_a_legal_step_and_subscribes_their_system(
    city: City, tab: Any,
) -> None:
    seeded = {p.client_id for p in city.population.people[:2]} | {p.client_id for p in _clients(city.population)}
    person = next(p for p in city.population.people if p.hmis_id and p.client_id not in seeded)
    session = tab()
    page = sign_in(session, city, "dhs-caseworker", f"/app/#/client/{person.client_id}")
    choose_purpose(page, "Case management")
    page.get_by_role("button", name="Plan and referrals").click()
    new = page.locator("[data-section='new-plan']")
    new.get_by_label("How far the plan looks").select_option("90")
    tick(page, "plan-goals-ESOL_ENROLLED")
    tick(page, "plan-goals-JOB_STARTED")
    new.get_by_label("Other goals").fill("Open a bank account")
    # no one else of the household in the shelter system's records DHS may see
    new.get_by_role("button", name="Show the household's members").click()
    expect(new.get_by_text("No other member of the household that you may see")).to_be_visible()
    check_accessible(page, "making a plan")
    new.get_by_role("button", name="Make the plan").click()
    expect(page.get_by_text("The plan is made.")).to_be_visible()
    plan = section(page, "plan")
    expect(plan).to_contain_text("A 90-day plan by DHS")
    expect(plan.locator("[data-goal]")).to_have_count(3)
    esol = plan.locator("[data-goal='ESOL_ENROLLED']")
    esol.get_by_text("Add a step or a progress note").click()
    esol.get_by_label("Step").fill("Sign up at the library's class")
    esol.get_by_label("Who does it").select_option("CLIENT")
    esol.get_by_role("button", name="Add a step").click()
    expect(page.get_by_text("The step is added.")).to_be_visible()
    expect(esol).to_contain_text("Sign up at the library's class")
    expect(esol).to_have_attribute("data-status", "IN_PROGRESS")
    esol.get_by_label("What changed").select_option("WAITING_ON_OTHERS")
    esol.locator("label", has_text="Waiting list").click()
    check_accessible(page, "keeping a plan's goal")
    esol.get_by_role("button", name="Save the note").click()
    expect(page.get_by_text("The progress note is saved.")).to_be_visible()
    expect(esol).to_contain_text("Waiting on others (Waiting list)")
    plan.get_by_role("button", name="Check the evidence").click()
    expect(page.get_by_text("The evidence is checked.")).to_be_visible()
    screenshot_both(city, session, "caseworker-plan")

    # a step of the client's case, recorded for DHS, then found wrong
    page.get_by_text("Record a step of the immigration or legal case").click()
    form = page.locator("[data-section='legal-form']")
    form.get_by_label("Step of the case").select_option("ASYLUM_APPLICATION_FILED")
    form.get_by_label("Day").fill((datetime.now(UTC).date() - timedelta(days=10)).isoformat())
    form.get_by_role("button", name="Record the step").click()
    legal = section(page, "immigrationLegal")
    expect(legal.locator("[data-milestone='ASYLUM_APPLICATION_FILED']")).to_contain_text("Asylum application filed")
    legal.get_by_role("button", name="Entered in error").click()
    legal.get_by_role("button", name="Mark it").click()
    expect(legal.locator("[data-milestone='ASYLUM_APPLICATION_FILED'][data-error='yes']")).to_be_visible()

    # the demo family's plan: a goal for the child, picked from the household the shelter system records
    family = city.population.people[0]
    child = next(p for p in city.population.people if p.household == family.household and p.relationship == "CHILD")
    page.goto(f"{city.url}/app/#/client/{family.client_id}")
    page.get_by_role("button", name="Plan and referrals").click()
    tools = section(page, "plan")
    tools.locator("summary", has_text="Add a goal").click()
    tools.get_by_role("button", name="Show the household's members").click()
    tools.get_by_test_id("household").get_by_role("button", name=re.compile("^Add")).first.click()
    tools.get_by_label("The goal, in your words").fill("School supplies")
    tools.get_by_role("button", name="Add a goal").click()
    expect(page.get_by_text("The goal is added.")).to_be_visible()
    expect(tools.locator(f"[data-member='{child.client_id}']").filter(has_text="School supplies")).to_be_visible()

    # DHS's own system, told of its referrals' changes
    page.goto(f"{city.url}/app/#/")
    hooks = page.locator("[data-section='webhooks']")
    hooks.get_by_text("Your organisation's systems (webhooks)").click()
    hooks.get_by_label("Address (https)").fill("https://dhs-systems.example.org/casebridge")
    hooks.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_test_id("webhook-secret")).not_to_be_empty()
    row = hooks.get_by_role("row").filter(has_text="https://dhs-systems.example.org/casebridge")
    expect(row).to_contain_text("Active")
    check_accessible(page, "webhook subscriptions")
    row.get_by_role("button", name="End").click()
    expect(row).to_contain_text("Ended")
    assert not session.problems, session.problems


def test_zz_an_agency_that_is_down_shows_failed_with_a_retry(city: City, tab: Any) -> None:
    """Runs last in this module (file order): it stops the benefits agency for good."""
    _, _, held = _clients(city.population)
    session = tab()
    page = sign_in(session, city, "hra-caseworker", f"/app/#/client/{held.client_id}")
    choose_purpose(page, "Eligibility")
    expect(section(page, "benefits").locator("[data-status='SHOWN']")).to_be_visible()
    city.benefits.stop()
    retry = section(page, "benefits").get_by_role("button", name="Retry")
    page.reload()
    failed = section(page, "benefits").locator("[data-status='FAILED']")
    expect(failed).to_contain_text("benefits: the agency is not answering")  # the connector that failed
    expect(retry).to_be_visible()
    expect(section(page, "housing").locator("[data-status]").first).to_be_visible()  # the rest of the profile stands
    check_accessible(page, "a failed section")
    asked = sum(1 for operation, _ in session.graphql if operation == "ClientProfile")
    retry.click()
    expect(failed).to_be_visible()
    assert sum(1 for operation, _ in session.graphql if operation == "ClientProfile") == asked + 1  # asked again

