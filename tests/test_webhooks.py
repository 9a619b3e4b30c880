"""Webhooks to partner systems (issue 21 §4): an organisation subscribes its system to its referrals' changes; each
change is a signed call, recorded with the change and retried until the system answers 2xx, every try in the
delivery log; subscriptions are an organisation's own. A real HTTP receiver checks every signature. On SQLite and
PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from api.services import Services, build_services
from api.settings import Settings
from connectors.hsds.directory import replace
from connectors.hsds.reader import read
from connectors.webhooks import sign, verify
from demo.population import Population
from demo.servers import ServerThread
from demo.webhook_receiver import PATH, WebhookReceiver
from notify.webhooks import WebhookSender
from store.engine import make_engine, make_sessionmaker
from tests.gateway import GraphQLClient, caller, seed_links

DIRECTORY = Path(__file__).resolve().parent.parent / "demo" / "directory"
LEGAL_ORG = "99ebaba2-224a-5911-99a3-b700be06bdb4"
SUBSCRIBE = """mutation($url: String!) { subscribeWebhook(url: $url) {
  secret subscription { id url events active } } }"""
SUBSCRIPTIONS = """{ webhookSubscriptions { id url active deliveries { event status attempts lastResult } } }"""
END = """mutation($id: ID!) { endWebhook(id: $id) { id active } }"""
REFER = """mutation($c: ID!, $s: ID!) { referClient(clientId: $c, serviceId: $s) { id status } }"""
ANSWER = """mutation($id: ID!, $status: ReferralStatus!) { answerReferral(id: $id, status: $status) { status } }"""
SERVICES = """query { directoryServices(need: "IMMIGRATION_LEGAL") { id } }"""


def test_a_signature_holds_only_for_its_body_its_secret_and_a_few_minutes() -> None:
    body, secret = b'{"referralId":"r-1","status":"ACCEPTED"}', "whsec_test"
    header = sign(secret, body)
    assert verify(secret, header, body)
    assert not verify(secret, header, body.replace(b"ACCEPTED", b"REJECTED"))
    assert not verify("whsec_other", header, body)
    assert not verify(secret, sign(secret, body, at=int(time.time()) - 600), body)  # a replay, ten minutes on
    assert not verify(secret, None, body) and not verify(secret, "t=abc,v1=00", body)


@dataclass
class City:
    settings: Settings
    server: ServerThread
    receiver: WebhookReceiver
    hook_url: str
    services: Services

    def as_(self, org: str, *roles: str, **kw: Any) -> GraphQLClient:
        return caller((self.settings, self.server), org, *roles, **kw)

    def sender(self, clock: Any = None, *, production: bool = False) -> WebhookSender:
        return WebhookSender(sessions=self.services.sessions, settings=self.settings.webhooks, production=production,
                             clock=clock or (lambda: datetime.now(UTC)))


@pytest.fixture
async def city(database_url: str, benefits_server: ServerThread, edfi_server: ServerThread, population: Population,
               settings_factory: Any) -> AsyncIterator[City]:
    await seed_links(database_url, population)
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            await replace(session, read(DIRECTORY), now=datetime.now(UTC))
    finally:
        await engine.dispose()
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url,
                                schooling_url=edfi_server.url, benefits_timeout=1.0,
                                referrals={"receivers": {LEGAL_ORG: "LEGALAID"}},
                                webhooks={"backoff_seconds": 60, "max_attempts": 3, "timeout_seconds": 2})
    receiver = WebhookReceiver()
    with ServerThread(receiver.app()) as hooks, ServerThread(create_app(settings)) as server:
        services = build_services(settings)
        try:
            yield City(settings, server, receiver, hooks.url + PATH, services)
        finally:
            await services.aclose()


async def test_each_change_of_a_referral_reaches_the_subscribed_system_signed_once_even_after_retries(
    city: City, population: Population,
) -> None:
    cid = next(p.client_id for p in population.people if p.hmis_id)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    made = (await dhs.query(SUBSCRIBE, {"url": city.hook_url}))["data"]["subscribeWebhook"]
    assert made["secret"].startswith("whsec_") and made["subscription"]["events"] == ["referral.changed"]
    city.receiver.secret = made["secret"]
    clinic = (await dhs.query(SERVICES))["data"]["directoryServices"][0]["id"]
    referral = (await dhs.query(REFER, {"c": cid, "s": clinic}))["data"]["referClient"]
    city.receiver.fail_next = 1  # the partner system is down for the first call
    now = datetime.now(UTC)
    sender = city.sender(clock=lambda: now)
    assert await sender.deliver_due() == 0
    (sub,) = (await dhs.query(SUBSCRIPTIONS))["data"]["webhookSubscriptions"]
    assert sub["deliveries"] == [{"event": "referral.changed", "status": "pending", "attempts": 1,
                                  "lastResult": "http-503"}]
    assert await sender.deliver_due() == 0  # not due again yet: backoff
    later = city.sender(clock=lambda: now + timedelta(minutes=5))
    assert await later.deliver_due() == 1
    assert [(r["referralId"], r["status"], r["event"]) for r in city.receiver.received] == [
        (referral["id"], "REQUESTED", "referral.changed")]
    assert set(city.receiver.received[0]) == {"referralId", "status", "at", "event", "deliveryId"}  # ids only
    # the partner's answer reaches DHS's system too (the partner itself subscribed to nothing)
    assert (await legal.query(ANSWER, {"id": referral["id"], "status": "ACCEPTED"}))["data"]
    assert await later.deliver_due() == 1
    assert [r["status"] for r in city.receiver.received] == ["REQUESTED", "ACCEPTED"]
    assert city.receiver.refused == []
    await later.aclose()
    await sender.aclose()


async def test_a_system_that_never_answers_is_given_up_and_a_subscription_is_its_organisations_own(
    city: City, population: Population,
) -> None:
    cid = next(p.client_id for p in population.people if p.hmis_id)
    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    made = (await dhs.query(SUBSCRIBE, {"url": city.hook_url}))["data"]["subscribeWebhook"]
    city.receiver.secret, city.receiver.fail_next = made["secret"], 100
    clinic = (await dhs.query(SERVICES))["data"]["directoryServices"][0]["id"]
    assert "errors" not in await dhs.query(REFER, {"c": cid, "s": clinic})
    start = datetime.now(UTC)
    for hours in (0, 1, 3, 6):
        sender = city.sender(clock=lambda h=hours: start + timedelta(hours=h))
        await sender.deliver_due()
        await sender.aclose()
    (sub,) = (await dhs.query(SUBSCRIPTIONS))["data"]["webhookSubscriptions"]
    assert sub["deliveries"] == [{"event": "referral.changed", "status": "failed", "attempts": 3,
                                  "lastResult": "http-503"}]
    # another organisation sees none of DHS's subscriptions and cannot end them
    assert (await legal.query(SUBSCRIPTIONS))["data"]["webhookSubscriptions"] == []
    gone = await legal.query(END, {"id": made["subscription"]["id"]})
    assert gone["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND"
    assert (await dhs.query(END, {"id": made["subscription"]["id"]}))["data"]["endWebhook"]["active"] is False
    # a URL into a private network, with credentials, or not https is refused
    for url in ("http://partner.example.org/hooks", "https://10.1.2.3/hooks", "https://user:pw@partner.example.org/",
                "https://[fd00::1]/hooks", "ftp://partner.example.org/"):
        refused = await dhs.query(SUBSCRIBE, {"url": url})
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", url
    auditor = caller((city.settings, city.server), "OVERSIGHT", "auditor", purpose="audit")
    assert (await auditor.query(SUBSCRIPTIONS))["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_ended_subscription_is_sent_nothing_more_not_even_what_was_waiting(
    city: City, population: Population,
) -> None:
    cid = next(p.client_id for p in population.people if p.hmis_id)
    dhs = city.as_("DHS")
    made = (await dhs.query(SUBSCRIBE, {"url": city.hook_url}))["data"]["subscribeWebhook"]
    city.receiver.secret = made["secret"]
    clinic = (await dhs.query(SERVICES))["data"]["directoryServices"][0]["id"]
    assert "errors" not in await dhs.query(REFER, {"c": cid, "s": clinic})  # a call waits to be made
    assert (await dhs.query(END, {"id": made["subscription"]["id"]}))["data"]["endWebhook"]["active"] is False
    sender = city.sender()
    assert await sender.deliver_due() == 0
    await sender.aclose()
    assert city.receiver.received == []
    (sub,) = (await dhs.query(SUBSCRIPTIONS))["data"]["webhookSubscriptions"]
    assert sub["deliveries"] == [{"event": "referral.changed", "status": "failed", "attempts": 0,
                                  "lastResult": "subscription-ended"}]


async def test_a_host_name_that_leads_into_a_private_network_is_not_called(city: City, population: Population) -> None:
    """Checked when the call is made, not only when the URL was given: a name (here "localhost") that resolves to
    an address of this machine or of a private network is refused in production, and nothing reaches it."""
    dhs = city.as_("DHS")
    named = city.hook_url.replace("127.0.0.1", "localhost")
    made = (await dhs.query(SUBSCRIBE, {"url": named}))["data"]["subscribeWebhook"]  # development allows it
    city.receiver.secret = made["secret"]
    clinic = (await dhs.query(SERVICES))["data"]["directoryServices"][0]["id"]
    cid = next(p.client_id for p in population.people if p.hmis_id)
    assert (await dhs.query(REFER, {"c": cid, "s": clinic}))["data"]["referClient"]
    production = city.sender(production=True)
    assert await production.deliver_due() == 0
    (sub,) = (await dhs.query(SUBSCRIPTIONS))["data"]["webhookSubscriptions"]
    assert [(d["status"], d["lastResult"]) for d in sub["deliveries"]] == [("pending", "blocked-address")]
    assert city.receiver.received == []
    # the same call in development reaches this machine's receiver, by the address it checked
    later = city.sender(clock=lambda: datetime.now(UTC) + timedelta(hours=2))
    assert await later.deliver_due() == 1 and len(city.receiver.received) == 1
    await production.aclose()
    await later.aclose()


def test_an_ipv6_address_that_carries_a_private_ipv4_one_is_not_public() -> None:
    from ipaddress import ip_address

    from connectors.webhooks import public_address as _public

    assert _public(ip_address("93.184.216.34")) and _public(ip_address("2606:2800:220:1::1"))
    for inside in ("::ffff:10.0.0.1", "2002:a00:1::1", "64:ff9b::a00:1", "64:ff9b::7f00:1", "fd00::1", "10.1.2.3"):
        assert not _public(ip_address(inside)), inside


async def test_a_subscription_whose_url_cannot_be_called_fails_its_own_tries_and_stops_no_one_elses(
    city: City, population: Population,
) -> None:
    from sqlalchemy import update

    from store.held_tables import WebhookSubscription

    dhs, legal = city.as_("DHS"), city.as_("LEGALAID", "partner")
    for url in ("https://partner.example.org:99999/hooks", "https://partner.example.org:abc/hooks"):
        assert (await dhs.query(SUBSCRIBE, {"url": url}))["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    ours = (await dhs.query(SUBSCRIBE, {"url": city.hook_url}))["data"]["subscribeWebhook"]
    city.receiver.secret = ours["secret"]
    theirs = (await legal.query(SUBSCRIBE, {"url": city.hook_url}))["data"]["subscribeWebhook"]
    async with city.services.sessions.begin() as session:  # as a row written before the URL check was stricter
        await session.execute(update(WebhookSubscription).where(
            WebhookSubscription.id == theirs["subscription"]["id"]).values(url="https://partner.example.org:99999/h"))
    cid = next(p.client_id for p in population.people if p.hmis_id)
    clinic = (await dhs.query(SERVICES))["data"]["directoryServices"][0]["id"]
    assert (await dhs.query(REFER, {"c": cid, "s": clinic}))["data"]["referClient"]
    sender = city.sender()
    assert await sender.deliver_due() == 1  # DHS's call went out
    assert len(city.receiver.received) == 1
    (sub,) = (await legal.query(SUBSCRIPTIONS))["data"]["webhookSubscriptions"]
    assert [(d["status"], d["lastResult"]) for d in sub["deliveries"]] == [("pending", "bad-url")]
    await sender.aclose()
