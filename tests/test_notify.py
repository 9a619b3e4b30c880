"""Reminders that reach the client (issue 19 §3-§5): planned from appointments, recorded in the outbox before they
are sent, sent once through a real SMTP server and a real HTTP SMS provider simulator, honouring the client's
opt-in (and STOP / START by text), language, quiet hours and a daily cap; retried when the provider is down; and
what became of each shown to the caseworker on the appointment and to the client in their own view."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from api.services import Services, build_services
from api.settings import Settings
from demo.benefits_sim import BenefitsAgency
from demo.mailbox import Mailbox, MailServer
from demo.population import Population
from demo.servers import ServerThread, free_port
from demo.sms_provider import SmsProvider
from notify.planner import ReminderPlanner
from notify.providers import signature
from notify.templates import KINDS, PLACEHOLDERS, Templates
from notify.worker import DeliveryWorker
from store.held_tables import Message, MessageEvent
from tests.gateway import GraphQLClient, caller, events, seed_links

NEW_YORK = ZoneInfo("America/New_York")
ADD = """mutation($c: ID!, $channel: ContactChannel!, $address: String!, $in: Boolean!, $src: String) {
  addContactPoint(clientId: $c, channel: $channel, address: $address, optedIn: $in, sourceReference: $src) {
    id optedIn } }"""
PREFS = """mutation($c: ID!, $lang: String!, $ch: ContactChannel, $from: String, $until: String) {
  setContactPreferences(clientId: $c, language: $lang, preferredChannel: $ch, quietHoursFrom: $from,
                        quietHoursUntil: $until) { language } }"""
SCHEDULE = """mutation($c: ID!, $at: DateTime!) {
  scheduleAppointment(clientId: $c, type: HOUSING_INTERVIEW, scheduledAt: $at, mode: IN_PERSON,
                      location: "Intake office, 33 Beaver St", atStake: HOUSING_PLACEMENT) { appointmentId } }"""
UPDATE = """mutation($id: ID!) { updateAppointment(id: $id, status: CANCELED) { status } }"""
APPOINTMENTS = """query($id: ID!) { client(id: $id) { appointments {
  items { appointmentId agency heldHere reminders { channel status error sentAt } } } } }"""
CONSENT = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""
CONTACT = """query($id: ID!) { client(id: $id) { contact {
  access { agency status } points { id optedIn optInSource } messages { agency about kind channel status body } } } }"""
PHONE, EMAIL = "+12125550142", "client-one@example.org"


@dataclass
class City:
    """A gateway with a real SMTP server and SMS provider simulator behind it."""

    settings: Settings
    services: Services  # built in the test's loop: its worker, planner and store
    provider: SmsProvider
    mailbox: Mailbox
    server: ServerThread
    sms_url: str

    def as_(self, org: str, *roles: str, **kw: Any) -> GraphQLClient:
        return caller((self.settings, self.server), org, *roles, **kw)

    def worker(self, clock: Callable[[], datetime] | None = None, owner: str = "w1") -> DeliveryWorker:
        s = self.services
        return DeliveryWorker(gate=s.gate, sessions=s.sessions, senders=s.senders, templates=s.templates,
                              settings=self.settings.notify, owner=owner, clock=clock or (lambda: datetime.now(UTC)))

    def planner(self) -> ReminderPlanner:
        return ReminderPlanner(gate=self.services.gate, sessions=self.services.sessions,
                               settings=self.settings.notify)

    async def messages(self, client_id: str) -> list[Message]:
        async with self.services.sessions() as session:
            return list((await session.execute(select(Message).where(Message.client_id == client_id)
                                               .order_by(Message.send_after))).scalars())


@pytest.fixture
async def city(request: pytest.FixtureRequest, database_url: str, edfi_server: ServerThread,
               population: Population, settings_factory: Any) -> AsyncIterator[City]:
    """The test city. Its benefits agency has no appointments or notices (so that the reminders are those of the
    appointments a test schedules), unless the test is marked `agency_reminders`."""
    await seed_links(database_url, population)
    own = copy.deepcopy(population)
    if request.node.get_closest_marker("agency_reminders") is None:
        for record in own.benefits.values():
            for case in record["cases"]:  # type: ignore[attr-defined]
                case["appointments"], case["notices"] = [], []
    port = free_port()
    provider = SmsProvider(inbound_url=f"http://127.0.0.1:{port}/hooks/sms/inbound", hold_seconds=6.0)
    mailbox = Mailbox(refuse={"nobody@example.org"})
    with (ServerThread(BenefitsAgency(own).app()) as benefits_server, ServerThread(provider.app()) as sms,
          MailServer(mailbox) as mail):
        settings = settings_factory(
            database_url=database_url, benefits_url=benefits_server.url, schooling_url=edfi_server.url,
            benefits_timeout=1.0, public_url=f"http://127.0.0.1:{port}",
            notify={"sms": {"base_url": sms.url}, "smtp": {"port": mail.port}, "backoff_seconds": 1.0,
                    "appointment_lead_hours": [24],
                    "max_attempts": 3, "lease_seconds": 2.0, "poll_seconds": 0.2, "daily_cap": 2,
                    "link": "https://city.example/app/"})
        with ServerThread(create_app(settings), port=port) as server:
            services = build_services(settings)
            try:
                yield City(settings, services, provider, mailbox, server, sms.url)
            finally:
                await services.aclose()


def _both(population: Population) -> str:
    """A client the shelter system and the benefits agency both know (HRA has appointments and notices)."""
    return next(p.client_id for p in population.people if p.hmis_id and p.benefits_id)


def _sheltered(population: Population) -> str:
    """A client the shelter system knows (DHS sees their identity), with no agency appointments in the test city."""
    return next(p.client_id for p in population.people if p.hmis_id)


def _in(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


async def _reachable(city: City, cid: str, channel: str = "SMS", address: str = PHONE) -> str:
    added = await city.as_("DHS").query(ADD, {"c": cid, "channel": channel, "address": address, "in": True,
                                              "src": "SIGNED-CONTACT-FORM-7"})
    return str(added["data"]["addContactPoint"]["id"])


async def _until(check: Callable[[], Any], within: float = 10.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = await check()
        if got:
            return got
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


def _expected_sms(at: datetime, language: str = "en") -> str:
    return Templates().render("appointment_reminder", "sms", language, at=at, zone=NEW_YORK,
                              link="https://city.example/app/").body


async def test_a_reminder_reaches_the_client_once_by_text_with_nothing_but_a_date_a_time_and_a_link(
    city: City, population: Population, database_url: str,
) -> None:
    cid = _sheltered(population)
    await _reachable(city, cid)
    at = datetime.fromisoformat(_in(30))  # a day and a bit ahead: its reminder (24 hours before) is still to come
    made = await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    appt = made["data"]["scheduleAppointment"]["appointmentId"]
    assert await city.planner().plan() == (1, 0)
    assert await city.planner().plan() == (0, 0)  # planning twice is planning once
    (reminder,) = [m for m in await city.messages(cid) if m.subject.startswith("appointment:DHS:")]
    assert reminder.send_after == at - timedelta(hours=24) and reminder.status == "queued"

    assert await city.worker().run_once() == 0  # not due yet: nothing goes
    later = at - timedelta(hours=23)
    assert await city.worker(lambda: later).run_once() == 1
    (sms,) = city.provider.to(PHONE)
    assert sms["body"] == _expected_sms(at)  # the template's words, the date and time, the link: nothing else
    for private in ("Beaver", "HOUSING", "DHS", "interview", cid):
        assert private.lower() not in sms["body"].lower()
    await _until(lambda: _status(city, cid, "delivered"))  # the provider's signed callbacks came back

    seen = (await city.as_("DHS").query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]["items"]
    (mine,) = [i for i in seen if i["appointmentId"] == appt]
    assert [(r["channel"], r["status"]) for r in mine["reminders"]] == [("SMS", "DELIVERED")]
    me = city.as_("CLIENTS", "client", purpose="client_access", self_client=cid)
    own = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["messages"]
    assert [(m["kind"], m["status"], m["body"]) for m in own] == [("appointment_reminder", "DELIVERED", sms["body"])]
    logged = [e for e in await events(database_url) if e.action == "notification.deliver"]
    assert [e.outcome for e in logged] == ["performed"]
    assert all(n not in (e.detail or "") for e in await events(database_url) for n in (PHONE, PHONE[2:]))

    hra = city.as_("HRA")  # no consent naming contact: HRA sees no message of DHS's, and no trace of one
    theirs = (await hra.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]
    assert theirs["messages"] == [] and [a["agency"] for a in theirs["access"]] == ["HRA"]


@pytest.mark.agency_reminders
async def test_the_benefits_agencys_interview_and_notice_are_reminded_too(city: City, population: Population) -> None:
    now = datetime.now(UTC)
    picked = None
    for person in population.people:
        for case in population.benefits[person.benefits_id or ""]["cases"]:  # type: ignore[attr-defined]
            upcoming = [a for a in case["appointments"] if a["status"] == "SCHEDULED"
                        and datetime.fromisoformat(a["scheduledAt"]) > now + timedelta(hours=3)]
            due = [n for n in case["notices"] if n["responseDueOn"] > (now + timedelta(days=1)).date().isoformat()]
            if upcoming and due and picked is None:
                picked = (person.client_id, upcoming[0], due[0])
    assert picked is not None, "the synthetic city has an interview and a notice to come"
    cid, interview, notice = picked
    me = city.as_("CLIENTS", "client", purpose="client_access", self_client=cid)
    assert (await me.query(ADD, {"c": cid, "channel": "SMS", "address": PHONE, "in": True,
                                 "src": "client's own sign-in"})).get("errors") is None
    added, _ = await city.planner().plan()
    mine = [m for m in await city.messages(cid)]
    assert added == len(mine) >= 2
    subjects = {m.subject for m in mine}
    assert {f"appointment:HRA:{interview['appointmentId']}", f"notice:HRA:{notice['noticeId']}"} <= subjects
    at = datetime.fromisoformat(interview["scheduledAt"])
    reminders = sorted(m.send_after for m in mine if m.subject.startswith("appointment:"))
    assert all(at - timedelta(hours=73) <= t < at for t in reminders)
    # what the client sees in their own view: every message to come, the agency whose record it is about
    own = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["messages"]
    # held for the client's own sign-in (whose point it goes to), about HRA's records
    assert {(m["agency"], m["about"], m["status"]) for m in own} == {("CLIENTS", "HRA", "QUEUED")}


async def _status(city: City, cid: str, *status: str) -> bool:
    return any(m.status in status for m in await city.messages(cid))


async def test_an_email_in_spanish_and_a_cancelled_appointment_reminds_no_one(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    await _reachable(city, cid, "EMAIL", EMAIL)
    await city.as_("DHS").query(PREFS, {"c": cid, "lang": "es", "ch": "EMAIL"})
    at = datetime.fromisoformat(_in(50))
    kept = (await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()}))["data"]
    gone = (await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": _in(60)}))["data"]
    assert await city.planner().plan() == (2, 0)
    await city.as_("DHS").query(UPDATE, {"id": gone["scheduleAppointment"]["appointmentId"]})
    assert await city.planner().plan() == (0, 0)  # cancelling it cancelled its reminder at once: it never goes
    assert await city.worker(lambda: at - timedelta(hours=23)).run_once() == 1
    (mail,) = city.mailbox.to(EMAIL)
    local = at.astimezone(NEW_YORK)
    assert mail["Subject"].startswith("Recordatorio: cita el")
    assert f"a las {local:%H:%M}" in mail.get_content()
    assert mail["Message-ID"] == city.services.senders["email"].message_id(  # type: ignore[attr-defined]
        (await city.messages(cid))[0].idempotency_key)
    statuses = {m.subject.split(":")[2]: m.status for m in await city.messages(cid)}
    assert statuses[kept["scheduleAppointment"]["appointmentId"]] == "sent"
    assert statuses[gone["scheduleAppointment"]["appointmentId"]] == "cancelled"


async def test_stop_by_text_ends_reminders_and_start_brings_them_back(city: City, population: Population) -> None:
    cid = _sheltered(population)
    point = await _reachable(city, cid)
    at = datetime.fromisoformat(_in(30))
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    assert await city.planner().plan() == (1, 0)

    city.provider.inbound(PHONE, " stop ")  # the client's text, through the provider's signed webhook
    me = city.as_("CLIENTS", "client", purpose="client_access", self_client=cid)
    (p,) = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["points"]
    assert (p["id"], p["optedIn"], p["optInSource"]) == (point, False, "STOP by text message")
    assert await city.worker(lambda: at - timedelta(hours=23)).run_once() == 1  # it was due: refused, not sent
    assert city.provider.to(PHONE) == [] and await _status(city, cid, "opted_out")

    city.provider.inbound(PHONE, "START")
    (p,) = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["points"]
    assert p["optedIn"] is True
    assert await city.planner().plan() == (1, 0)  # opted in again: reminded again
    assert await city.worker(lambda: at - timedelta(hours=23)).run_once() == 1
    assert len(city.provider.to(PHONE)) == 1

    forged = {"MessageSid": "SM1", "From": PHONE, "To": "city", "Body": "STOP"}
    async with httpx.AsyncClient() as http:  # a webhook call not signed with the account's token changes nothing
        url = f"{city.server.url}/hooks/sms/inbound"
        refused = await http.post(url, data=forged, headers={"X-Signature": signature("wrong", url, forged)})
    assert refused.status_code == 403
    (p,) = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["points"]
    assert p["optedIn"] is True


async def test_quiet_hours_and_the_daily_cap_hold_messages_back_until_they_may_go(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    await _reachable(city, cid)
    await city.as_("DHS").query(PREFS, {"c": cid, "lang": "en", "from": "21:00", "until": "08:00"})
    day = (datetime.now(NEW_YORK) + timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)
    # two appointments on one day, one the next morning: reminders due the day before at 12:00 and 13:00, and
    # on the day at 09:00
    for at in (day.replace(hour=12), day.replace(hour=13), (day + timedelta(days=1)).replace(hour=9)):
        await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    assert await city.planner().plan() == (3, 0)

    night = (day - timedelta(days=1)).replace(hour=23, minute=30)  # two reminders are due, but it is 23:30
    assert await city.worker(lambda: night).run_once() == 2
    assert city.provider.to(PHONE) == []
    morning = day.replace(hour=8)
    waiting = {(m.status, m.error, m.next_attempt_at) for m in await city.messages(cid) if m.error}
    assert waiting == {("queued", "quiet-hours", morning)}  # they wait for the end of the quiet hours

    eight = morning + timedelta(minutes=1)
    assert await city.worker(lambda: eight).run_once() == 2
    assert len(city.provider.to(PHONE)) == 2
    nine = day.replace(hour=9, minute=1)  # the third is due: two went in the last 24 hours, the cap
    assert await city.worker(lambda: nine).run_once() == 1
    assert len(city.provider.to(PHONE)) == 2
    capped = [m for m in await city.messages(cid) if m.status == "queued"]
    window = eight.astimezone(UTC) + timedelta(hours=24)  # 24 hours, not "the same time tomorrow" (DST)
    assert [(m.error, m.next_attempt_at) for m in capped] == [("frequency-cap", window)]
    assert await city.worker(lambda: window + timedelta(minutes=1)).run_once() == 1
    assert len(city.provider.to(PHONE)) == 3  # once the window opens, before the appointment


async def test_a_provider_that_is_down_is_tried_again_then_the_caseworker_sees_the_reminder_failed(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    await _reachable(city, cid)
    at = datetime.fromisoformat(_in(30))
    made = await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    await city.planner().plan()
    async with httpx.AsyncClient() as http:
        await http.post(f"{city.sms_url}/sim/outcome", json={"to": PHONE, "outcome": "unavailable"})
    now = at - timedelta(hours=23)
    for _ in range(3):  # max_attempts: 3, each after its backoff
        assert await city.worker(lambda: now).run_once() == 1
        now += timedelta(hours=1)
    assert await city.worker(lambda: now).run_once() == 0  # nothing left to try
    (msg,) = await city.messages(cid)
    assert (msg.status, msg.error, msg.attempts) == ("failed", "http-503", 3)
    assert city.provider.requests == 3 and city.provider.to(PHONE) == []
    async with city.services.sessions() as session:
        steps = [e.status for e in (await session.execute(
            select(MessageEvent).where(MessageEvent.message_id == msg.id).order_by(MessageEvent.id))).scalars()]
    assert steps == ["queued", "retry", "retry", "failed"]
    seen = (await city.as_("DHS").query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]["items"]
    (mine,) = [i for i in seen if i["appointmentId"] == made["data"]["scheduleAppointment"]["appointmentId"]]
    assert [(r["status"], r["error"]) for r in mine["reminders"]] == [("FAILED", "http-503")]


async def test_a_bounce_and_repeated_or_late_callbacks_change_a_message_once(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    await _reachable(city, cid)
    at = datetime.fromisoformat(_in(30))
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    await city.planner().plan()
    async with httpx.AsyncClient() as http:
        await http.post(f"{city.sms_url}/sim/outcome", json={"to": PHONE, "outcome": "bounce"})
    assert await city.worker(lambda: at - timedelta(hours=23)).run_once() == 1
    await _until(lambda: _status(city, cid, "bounced"))
    (msg,) = await city.messages(cid)
    url = f"{city.server.url}/hooks/sms/status"
    token = city.settings.notify.sms.auth_token.get_secret_value()
    async with httpx.AsyncClient() as http:
        for status in ("undelivered", "undelivered", "sent", "delivered"):  # again, and late, and contradicting
            fields = {"MessageSid": msg.provider_message_id or "", "MessageStatus": status, "ErrorCode": "30006"}
            answer = await http.post(url, data=fields, headers={"X-Signature": signature(token, url, fields)})
            assert answer.status_code == 204
    (after,) = await city.messages(cid)
    assert (after.status, after.error) == ("bounced", "sms-30006")
    async with city.services.sessions() as session:
        steps = [e.status for e in (await session.execute(
            select(MessageEvent).where(MessageEvent.message_id == msg.id).order_by(MessageEvent.id))).scalars()]
    assert steps == ["queued", "sent", "bounced"]


async def test_a_refused_mailbox_is_a_bounce(city: City, population: Population) -> None:
    cid = _sheltered(population)
    await _reachable(city, cid, "EMAIL", "nobody@example.org")
    at = datetime.fromisoformat(_in(30))
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    await city.planner().plan()
    assert await city.worker(lambda: at - timedelta(hours=23)).run_once() == 1
    (msg,) = await city.messages(cid)
    assert (msg.status, msg.error) == ("bounced", "smtp-550")
    assert city.mailbox.messages == []


async def test_a_worker_killed_while_the_provider_holds_its_message_delivers_it_once_after_restart(
    city: City, population: Population, database_url: str, tmp_path: Path,
) -> None:
    """The crash window: the provider took the message, the worker died before writing that down. The next worker
    sends it again with the same idempotency key, and the provider keeps one message."""
    cid = _sheltered(population)
    await _reachable(city, cid)
    at = datetime.fromisoformat(_in(20))  # its lead time passed: one reminder now
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    assert await city.planner().plan() == (1, 0)
    async with httpx.AsyncClient() as http:
        await http.post(f"{city.sms_url}/sim/outcome", json={"to": PHONE, "outcome": "hold"})
    s = city.settings
    env = {**os.environ, "CASEBRIDGE_DATABASE_URL": database_url,
           "CASEBRIDGE_AUTH__DEV_KEY_FILE": str(s.auth.dev_key_file),
           "CASEBRIDGE_AUDIT__SIGNING_KEY_FILE": str(s.audit.signing_key_file),
           "CASEBRIDGE_BENEFITS__BASE_URL": str(s.benefits.base_url),
           "CASEBRIDGE_SCHOOLING__BASE_URL": str(s.schooling.base_url),
           "CASEBRIDGE_PUBLIC_URL": s.public_url, "CASEBRIDGE_NOTIFY__SMS__BASE_URL": city.sms_url,
           "CASEBRIDGE_NOTIFY__LEASE_SECONDS": "2", "CASEBRIDGE_NOTIFY__POLL_SECONDS": "0.2",
           "CASEBRIDGE_NOTIFY__SMTP__PORT": str(s.notify.smtp.port)}
    env.pop("CASEBRIDGE_TEST_OTLP_ENDPOINT", None)
    command = [str(Path(sys.executable).parent / "casebridge"), "notify", "run"]
    log = (tmp_path / "worker.log").open("w")  # closed below, after both workers
    try:
        await _kill_and_restart(city, cid, command, env, log)
    finally:
        log.close()


async def _kill_and_restart(city: City, cid: str, command: list[str], env: dict[str, str], log: Any) -> None:
    first = await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        await _until(lambda: _taken(city), within=30)  # the provider has it, and holds its answer
        first.send_signal(signal.SIGKILL)
        await asyncio.wait_for(first.wait(), 10)
    finally:
        if first.returncode is None:
            first.kill()
    (held,) = await city.messages(cid)
    assert held.status == "queued" and held.lease_owner is not None  # the outbox never heard back
    second = await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        await _until(lambda: _status(city, cid, "sent", "delivered"), within=30)
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(second.wait(), 10)
        except TimeoutError:
            second.kill()
    assert city.provider.requests >= 2  # sent again after the crash ...
    (one,) = city.provider.to(PHONE)  # ... and the provider kept one message
    (done,) = await city.messages(cid)
    assert done.provider_message_id == one["sid"]


async def _taken(city: City) -> bool:
    return bool(city.provider.to(PHONE))


def test_every_language_has_every_message_and_shows_only_a_date_a_time_and_a_link(tmp_path: Path) -> None:
    templates = Templates()
    assert {"en", "es"} <= set(templates.languages)
    at = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)  # 10:00 in New York
    for language in templates.languages:
        for kind in KINDS:
            for channel in ("sms", "email"):
                words = templates.render(kind, channel, language, at=at, zone=NEW_YORK, link="https://x.example/a")
                assert "https://x.example/a" in words.body and (words.subject is None) == (channel == "sms")
                assert "{" not in words.body
    assert "Tue 12 Jan" in templates.render("appointment_reminder", "sms", "en", at=at, zone=NEW_YORK,
                                            link="L").body
    assert "mar 12 ene a las 10:00" in templates.render("appointment_reminder", "sms", "es-MX", at=at,
                                                        zone=NEW_YORK, link="L").body
    assert templates.pick("fr") == "en"  # a language without templates falls back to English
    extra = tmp_path / "templates"
    extra.mkdir()
    english = (Path(__file__).resolve().parents[1] / "notify" / "templates" / "en.json").read_text()
    (extra / "fr.json").write_text(english.replace("{link}", "{link} {case_number}", 1))
    with pytest.raises(Exception, match="may show only"):
        Templates(extra)
    assert {"date", "time", "link"} == PLACEHOLDERS


def test_production_refuses_the_demo_providers_credentials(dev_key_file: Path) -> None:
    from tests.conftest import make_settings

    with pytest.raises(ValueError, match="SMS provider uses the demo"):
        make_settings(dev_key_file, environment="production")



async def test_start_by_text_undoes_only_a_stop_by_text_and_a_replayed_start_changes_nothing(
    city: City, population: Population,
) -> None:
    cid = _both(population)
    other = next(p.client_id for p in population.people if p.hmis_id and p.client_id != cid)
    dhs = city.as_("DHS")
    # one shared phone: this client said yes, the other said no to messages on it
    yes = (await dhs.query(ADD, {"c": cid, "channel": "SMS", "address": PHONE, "in": True,
                                 "src": "SIGNED-CONTACT-FORM-7"}))["data"]["addContactPoint"]["id"]
    no = (await dhs.query(ADD, {"c": other, "channel": "SMS", "address": PHONE, "in": False}))
    assert no.get("errors") is None
    city.provider.inbound(PHONE, "STOP")
    stop_again = {"MessageSid": "SM-START-1", "From": PHONE, "To": "city", "Body": "START"}
    await _signed_inbound(city, stop_again)
    points = await _points(city, PHONE)
    assert points == {(cid, True), (other, False)}  # START undid the STOP; it never opted the other client in
    city.provider.inbound(PHONE, "STOP")
    await _signed_inbound(city, stop_again)  # the same START again (a replay): nothing changes
    assert await _points(city, PHONE) == {(cid, False), (other, False)}
    me = city.as_("CLIENTS", "client", purpose="client_access", self_client=cid)
    assert (await me.query(OPT_IN, {"id": yes, "in": False})).get("errors") is None
    await _signed_inbound(city, {**stop_again, "MessageSid": "SM-START-2"})
    # an opt-out given in the client's own account stays: START by text undoes only a STOP by text
    assert await _points(city, PHONE) == {(cid, False), (other, False)}


OPT_IN = """mutation($id: ID!, $in: Boolean!) { setContactOptIn(id: $id, optedIn: $in) { optedIn } }"""


async def _signed_inbound(city: City, fields: dict[str, str]) -> None:
    url = f"{city.server.url}/hooks/sms/inbound"
    token = city.settings.notify.sms.auth_token.get_secret_value()
    async with httpx.AsyncClient() as http:
        answer = await http.post(url, data=fields, headers={"X-Signature": signature(token, url, fields)})
    assert answer.status_code == 204


async def _points(city: City, number: str) -> set[tuple[str, bool]]:
    from store.held_tables import ContactPoint

    async with city.services.sessions() as session:
        rows = (await session.execute(select(ContactPoint.client_id, ContactPoint.opted_in).where(
            ContactPoint.address == number))).all()
    return {(c, bool(o)) for c, o in rows}


async def test_reminders_and_messages_show_only_where_the_gate_opens_both_what_they_are_about_and_the_contact(
    city: City, population: Population,
) -> None:
    cid = _both(population)
    await _reachable(city, cid)  # DHS records the phone: the message goes there, held for DHS
    at = datetime.fromisoformat(_in(20))
    made = await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    appt = made["data"]["scheduleAppointment"]["appointmentId"]
    await city.planner().plan()
    assert await city.worker().run_once() == 1
    me = city.as_("CLIENTS", "client", purpose="client_access", self_client=cid)
    hra = city.as_("HRA")

    async def consent(categories: list[str]) -> None:
        body = await me.query(CONSENT, {"input": {
            "clientId": cid, "sourceReference": f"FORM-{'-'.join(categories)}", "givenAt": "2026-11-01T10:00:00Z",
            "provisions": [{"organizations": ["HRA"], "categories": categories, "purposes": ["CASE_MANAGEMENT"]}]}})
        assert body.get("errors") is None, body

    await consent(["APPOINTMENTS"])  # HRA sees DHS's appointment: not how the client is reached
    seen = (await hra.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]["items"]
    assert [i["reminders"] for i in seen if i["appointmentId"] == appt] == [[]]
    await consent(["CONTACT"])  # now both: the reminder's channel and status
    seen = (await hra.query(APPOINTMENTS, {"id": cid}))["data"]["client"]["appointments"]["items"]
    assert [[r["channel"] for r in i["reminders"]] for i in seen if i["appointmentId"] == appt] == [["SMS"]]

    own = (await city.as_("DHS").query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["messages"]
    assert [m["kind"] for m in own] == ["appointment_reminder"]  # DHS's point, DHS's appointment


async def test_a_message_whose_subject_is_withheld_is_not_shown_with_the_contact_details(
    city: City, population: Population,
) -> None:
    cid = _both(population)
    me = city.as_("CLIENTS", "client", purpose="client_access", self_client=cid)
    assert (await me.query(ADD, {"c": cid, "channel": "SMS", "address": PHONE, "in": True,
                                 "src": "client's own sign-in"})).get("errors") is None
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": _in(20)})
    await city.planner().plan()
    assert await city.worker().run_once() == 1
    # the client's own point: held for the client's sign-in; HRA with consent to contact, not to appointments
    body = await me.query(CONSENT, {"input": {
        "clientId": cid, "sourceReference": "FORM-C", "givenAt": "2026-11-01T10:00:00Z",
        "provisions": [{"organizations": ["HRA"], "categories": ["CONTACT"], "purposes": ["CASE_MANAGEMENT"]}]}})
    assert body.get("errors") is None
    theirs = (await city.as_("HRA").query(CONTACT, {"id": cid}))["data"]["client"]["contact"]
    assert {p["id"] for p in theirs["points"]} and theirs["messages"] == []  # the words would tell when DHS meets
    mine = (await me.query(CONTACT, {"id": cid}))["data"]["client"]["contact"]["messages"]
    assert [m["status"] for m in mine] in (["SENT"], ["DELIVERED"])  # the client sees their own


async def test_a_reminder_held_back_is_not_cancelled_when_planned_again(city: City, population: Population) -> None:
    cid = _both(population)
    await _reachable(city, cid)
    await city.as_("DHS").query(PREFS, {"c": cid, "lang": "en", "from": "00:00", "until": "23:59"})  # always quiet
    at = datetime.fromisoformat(_in(73))
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": at.isoformat()})
    two = city.settings.notify.model_copy(update={"appointment_lead_hours": [72, 24]})
    start = datetime.now(UTC)
    planner = ReminderPlanner(gate=city.services.gate, sessions=city.services.sessions, settings=two,
                              clock=lambda: start)
    assert await planner.plan() == (2, 0)
    later = start + timedelta(hours=2)  # the 72-hour reminder is due; quiet hours hold it back
    assert await city.worker(lambda: later).run_once() == 1
    replanned = ReminderPlanner(gate=city.services.gate, sessions=city.services.sessions, settings=two,
                                clock=lambda: later)
    assert await replanned.plan() == (0, 0)  # due, held back, and still wanted: not cancelled
    assert sorted(m.status for m in await city.messages(cid)) == ["queued", "queued"]


async def test_a_worker_whose_lease_ran_out_does_not_send_what_another_has_taken(
    city: City, population: Population,
) -> None:
    from notify import outbox

    cid = _both(population)
    await _reachable(city, cid)
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": _in(20)})
    await city.planner().plan()
    now = datetime.now(UTC)
    slow, quick = city.worker(lambda: now, owner="slow"), city.worker(lambda: now + timedelta(seconds=5), "quick")
    (mid,) = await outbox.claim(city.services.sessions, owner="slow", now=now, lease=timedelta(seconds=2), limit=5)
    assert await quick.run_once() == 1  # the slow worker's lease ran out: the quick one takes it and sends
    await slow._deliver(mid)  # the slow one comes back to it: no longer its lease, so it does not send
    assert len(city.provider.to(PHONE)) == 1
    (msg,) = await city.messages(cid)
    assert msg.status in ("sent", "delivered") and msg.lease_owner is None


async def test_a_callback_that_comes_before_the_worker_writes_the_id_is_applied_when_it_does(
    city: City, population: Population,
) -> None:
    from notify import outbox

    cid = _both(population)
    await _reachable(city, cid)
    await city.as_("DHS").query(SCHEDULE, {"c": cid, "at": _in(20)})
    await city.planner().plan()
    (msg,) = await city.messages(cid)
    now = datetime.now(UTC)
    async with city.services.sessions.begin() as session:
        assert not await outbox.apply_status(session, "SM-EARLY", "delivered", now=now)  # no message has it yet
    async with city.services.sessions.begin() as session:
        row = await session.get(Message, msg.id)
        assert row is not None
        row.provider_message_id, row.sent_at = "SM-EARLY", now
        outbox.finish(session, row, outbox.SENT, now=now)
        await outbox.apply_early(session, row, now=now)
    (after,) = await city.messages(cid)
    assert after.status == "delivered"


def test_quiet_hours_end_later_even_on_the_night_the_clocks_go_back() -> None:
    from notify.worker import quiet_until
    from store.held_tables import ContactPreference

    prefs = ContactPreference(client_id="c", holder="h", preferred_channel=None, language="en",
                              quiet_from="21:00", quiet_until="01:30", recorded_by="s")
    # 2026-11-01: 01:15 comes twice in New York; the second time (EST) is 06:15 UTC
    second = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)
    ends = quiet_until(prefs, second, NEW_YORK)
    assert ends is not None and ends > second
    assert ends == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the same night
    assert quiet_until(prefs, datetime(2026, 11, 1, 12, 0, tzinfo=UTC), NEW_YORK) is None  # 07:00: not quiet
