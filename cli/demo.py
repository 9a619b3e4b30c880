"""`casebridge demo`: a whole synthetic city block on 127.0.0.1, ready for a first query."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from rich.console import Console
from sqlalchemy import select

from api.app import create_app
from api.keys import load_or_create_dev_key, mint_token
from api.services import build_services
from api.settings import Settings
from cli.common import agencies
from connectors.config import BenefitsConfig, SchoolingConfig
from connectors.held_plans import TaskOwner
from connectors.hmis.importer import import_export
from connectors.hsds.directory import Query as DirectoryQuery
from connectors.hsds.directory import replace as replace_directory
from connectors.hsds.reader import read as read_directory
from core.principal import Principal, RequestContext
from core.vocabulary import Category, LegalBasis, Purpose, Role
from demo.benefits_sim import BenefitsAgency
from demo.edfi_sim import EdfiAgency
from demo.hmis_export import write_export
from demo.idp import DEMO_PASSWORD, DemoUser, DevIdentityProvider
from demo.mailbox import Mailbox, MailServer
from demo.photos import id_card_png
from demo.population import Population, generate
from demo.servers import ServerThread
from demo.sms_provider import SmsProvider
from demo.webhook_receiver import PATH as WEBHOOK_PATH
from demo.webhook_receiver import WebhookReceiver
from identity.crosswalk import link_records
from identity.index import SYNCED, relink, sync, write_records
from identity.online import place
from policies.consents import Grantor, Provision
from store.directory_tables import DirectoryService as DirectoryServiceRow
from store.engine import make_engine, make_sessionmaker
from store.held_tables import Appointment as AppointmentRow
from store.held_tables import CaseNote as CaseNoteRow
from store.held_tables import ContactPoint as ContactPointRow
from store.held_tables import DocumentFile as DocumentFileRow
from store.held_tables import Message as MessageRow
from store.held_tables import Referral as ReferralRow
from store.migrate import upgrade
from store.tables import SourceLink

FIRST_QUERY = """query FirstLook($id: ID!) {
  client(id: $id) {
    id
    identity { access { agency status basis reason } records { agency firstName lastName dateOfBirth } }
    benefits {
      access { agency status basis reason asOf }
      cases { caseNumber status programs { program status certificationEnd } notices { type responseDueOn } }
    }
    housing {
      access { agency status basis reason asOf }
      inShelterNow enrollments { projectName projectTypeName entryDate moveInDate exitDate status }
      chronicHomelessness {
        status reason verifiedByStays nightsInStays occasions countedFrom countedTo
        supportingStays { projectTypeName projectName entryDate exitDate }
      }
    }
    schooling {
      access { agency status basis reason }
      students {
        currentSchool currentGrade inHomelessProgramNow transfers { fromSchool toSchool daysOutOfSchool pending }
      }
    }
    appointments { access { agency status basis reason } items { type scheduledAt mode status } }
    documents { access { agency status basis reason } items { type dueOn status } }
    casework {
      access { agency status basis reason } notes { agency createdAt text sharedWithClient }
      referrals { status referredBy answeredBy service { name organizationName } }
      plans { horizonDays goals { code status dueOn notBefore } }
    }
  }
}"""

console = Console()


DEMO_FORM = "DEMO-SIGNED-CONSENT-FORM-0001"
BREAK_GLASS_WHY = "Demo: client taken to hospital from shelter intake; need benefits status to arrange care"
DHS_WORKER = "demo-dhs-caseworker"
DEMO_CONTACT_FORM = "DEMO-INTAKE-CONTACT-FORM-0001"
DEMO_HOUSING_FORM = "DEMO-SUPPORTIVE-HOUSING-CONSENT-0002"
DEMO_DIRECTORY = Path(__file__).resolve().parent.parent / "demo" / "directory"  # HSDS 3.0 data package
DEMO_LEGAL_CLINIC = "99ebaba2-224a-5911-99a3-b700be06bdb4"  # its organization id: the legal-aid partner answers
DEMO_REFERRAL_FORM = "DEMO-REFERRAL-CONSENT-FORM-0003"
DEMO_GUARDIAN_FORM = "DEMO-GUARDIAN-SCHOOL-CONSENT-0004"  # a parent lets DHS see their child's school records


def with_demo_receivers(settings: Settings) -> Settings:
    """The demo city's legal-aid partner answers referrals to the immigration legal clinic (unless configured)."""
    if settings.referrals.receivers:
        return settings
    return settings.model_copy(update={"referrals": settings.referrals.model_copy(
        update={"receivers": {DEMO_LEGAL_CLINIC: "LEGALAID"}})})
SHELTERED_CLIENT = "demo-client-in-shelter"  # the sheltered client's own sign-in
DEMO_NOTE = "Demo: intake done; client asked for help finding the birth certificate for a housing application."
DEMO_EMAIL = "demo-client@example.org"  # example.org: a domain reserved for examples (RFC 2606)
MAILBOX_DIR = Path("var/demo-mailbox")  # every email the demo's reminders send, one .eml file each
DEMO_OUTREACH = ("P-501", "Street Outreach (Manhattan)", "E-DEMO-OUTREACH")  # project id, name, the client's stay
HMIS_EXPORT_DIR = Path("var/demo-hmis-export")  # the CoC's drop, as `casebridge hmis import` would read it


@dataclass(frozen=True)
class DemoCase:
    """One thing the demo shows: who asks, about whom, why, and what they should see."""

    title: str
    token: str
    purpose: str
    client_id: str
    caller: str = ""  # who asks, as the banner lists the callers (each token printed once)
    goal: str | None = None  # a checklist to show too


async def seed(settings: Settings, population: Population, *, export_dir: Path = HMIS_EXPORT_DIR) -> int:
    """Migrate; link the population's records; import its HMIS export; seed a consent and a break-glass grant
    (once)."""
    engine = make_engine(settings.database_url)
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        added = await link_records(sessions, population.links())
        export = write_export(population.hmis, export_dir, exported_at=datetime.now().replace(microsecond=0))
        report = await import_export(sessions, export, source=settings.housing.source)
        if not report.ok and "not newer" not in report.problems[0].message:
            raise RuntimeError(f"the demo's HMIS export did not import: {report.problems[0]}")
        async with sessions.begin() as session:  # the city's service directory (Open Referral HSDS), once
            if (await session.execute(select(DirectoryServiceRow.id).limit(1))).first() is None:
                await replace_directory(session, read_directory(DEMO_DIRECTORY), now=datetime.now(UTC))
    finally:
        await engine.dispose()
    consented, emergency = population.people[0].client_id, population.people[1].client_id
    sheltered = _sheltered(population)
    settings = with_demo_receivers(settings)
    services = build_services(settings)  # the seed goes through the gate like any caller
    try:
        store = services.consents
        worker = Principal(DHS_WORKER, "DHS", frozenset({Role.CASEWORKER}))
        now = datetime.now(UTC)
        async with services.sessions() as session:
            has_consent = any(c.source_reference == DEMO_FORM for c in await store.list_for_client(session, consented))
            has_grant = bool(await store.active_grants(session, client_ids=[emergency], subject=DHS_WORKER,
                                                       org="DHS", now=now + timedelta(hours=1)))
            has_note = bool((await session.execute(select(CaseNoteRow.id).where(
                CaseNoteRow.client_id == sheltered).limit(1))).first())
            has_contact = bool((await session.execute(select(ContactPointRow.id).where(
                ContactPointRow.client_id == sheltered).limit(1))).first())
            has_email = bool((await session.execute(select(ContactPointRow.id).where(
                ContactPointRow.client_id == consented).limit(1))).first())
            has_referral = bool((await session.execute(select(ReferralRow.id).where(
                ReferralRow.client_id == consented).limit(1))).first())
            has_upload = bool((await session.execute(select(DocumentFileRow.id).where(
                DocumentFileRow.client_id == sheltered).limit(1))).first())
            has_housing_consent = any(c.source_reference == DEMO_HOUSING_FORM
                                      for c in await store.list_for_client(session, sheltered))
            scheduled = {cid for (cid,) in (await session.execute(select(AppointmentRow.client_id).where(
                AppointmentRow.client_id.in_([consented, sheltered]), AppointmentRow.holder == "DHS"))).all()}
        care = RequestContext(worker, "demo-seed", Purpose.CASE_MANAGEMENT)
        if not has_consent:
            await services.desk.record(
                care, client_id=consented,
                grantor=Grantor.CLIENT, source_reference=DEMO_FORM, given_at=now - timedelta(days=3),
                provisions=[Provision("permit", ("DHS",),
                                      (Category.IDENTITY, Category.APPOINTMENTS, Category.DOCUMENTS,
                                       Category.CONTACT),
                                      (Purpose.CASE_MANAGEMENT, Purpose.CARE_COORDINATION),
                                      period_end=now + timedelta(days=365))])
        if not has_grant:
            await services.desk.break_glass(RequestContext(worker, "demo-seed", Purpose.EMERGENCY),
                                            client_id=emergency, justification=BREAK_GLASS_WHY, minutes=240)
        if not has_note:
            await services.notes.add(care, client_id=sheltered, text=DEMO_NOTE, shared_with_client=True)
        phone = next((p.phone for p in population.people if p.client_id == sheltered and p.phone), None)
        if not has_contact and phone:  # the shelter's intake form: text messages welcome, in Spanish, not at night
            await services.contact.add_point(care, client_id=sheltered, channel="sms", address=phone, opted_in=True,
                                             source_reference=DEMO_CONTACT_FORM)
            await services.contact.set_preference(care, client_id=sheltered, preferred_channel="sms", language="es",
                                                  quiet_from="21:00", quiet_until="08:00")
        if not has_email:  # the demo's client asked for reminders by email, from their own sign-in
            me = RequestContext(Principal("demo-client", "CLIENTS", frozenset({Role.CLIENT}), self_client=consented),
                                "demo-seed", Purpose.CLIENT_ACCESS)
            await services.contact.add_point(me, client_id=consented, channel="email", address=DEMO_EMAIL,
                                             opted_in=True, source_reference="my own sign-in")
        if not has_housing_consent:  # for the supportive-housing application: DHS may see their documents
            await services.desk.record(
                care, client_id=sheltered, grantor=Grantor.CLIENT, source_reference=DEMO_HOUSING_FORM,
                given_at=now - timedelta(days=2),
                provisions=[Provision("permit", ("DHS",), (Category.DOCUMENTS,),
                                      (Purpose.CASE_MANAGEMENT, Purpose.CARE_COORDINATION),
                                      period_end=now + timedelta(days=180))])
        if not has_upload:  # DHS asks for a photo ID; the client sends a photo of theirs from their phone
            await services.documents.request(care, client_id=sheltered, document="PHOTO_ID",
                                             due_on=(now + timedelta(days=10)).date())
            them = RequestContext(Principal(SHELTERED_CLIENT, "CLIENTS", frozenset({Role.CLIENT}),
                                            self_client=sheltered), "demo-seed", Purpose.CLIENT_ACCESS)

            async def photo() -> AsyncIterator[bytes]:
                yield id_card_png()

            await services.documents.upload(them, client_id=sheltered, document="PHOTO_ID", chunks=photo())
        if not has_referral:  # DHS refers the demo's client to the immigration legal clinic (the legal-aid partner
            # accepts it through the API as the demo starts), and the client applies for an ESOL class themself
            found = await services.directory.search(care, DirectoryQuery(need="IMMIGRATION_LEGAL"))
            legal = await services.referrals.refer(
                care, client_id=consented, service_id=found[0].service.id, share=[Category.IDENTITY, Category.CONTACT],
                share_days=60, source_reference=DEMO_REFERRAL_FORM,
                note="Arrived this spring with family; filed the asylum application (I-589) alone and asks for "
                     "representation and help with the work authorization.")
            me = RequestContext(Principal("demo-client", "CLIENTS", frozenset({Role.CLIENT}), self_client=consented),
                                "demo-seed", Purpose.CLIENT_ACCESS)
            esol = await services.directory.search(me, DirectoryQuery(need="ESOL"))
            await services.referrals.refer(me, client_id=consented, service_id=esol[0].service.id, share=[],
                                           share_days=None, source_reference=None, note=None)
            # the client lets DHS see what the legal clinic records of their case (for the plan's legal goals), and
            # signs for their children's school records
            await services.desk.record(
                me, client_id=consented, grantor=Grantor.CLIENT, source_reference="my own sign-in",
                given_at=now - timedelta(minutes=5),
                provisions=[Provision("permit", ("DHS",), (Category.IMMIGRATION_LEGAL,), (Purpose.CASE_MANAGEMENT,),
                                      period_end=now + timedelta(days=180), holders=("LEGALAID",))])
            children = [p.client_id for p in population.people if p.household == population.people[0].household
                        and p.relationship == "CHILD" and p.hmis_id]  # in the shelter system with the parent
            for child in children:
                await services.desk.record(
                    care, client_id=child, grantor=Grantor.GUARDIAN, source_reference=DEMO_GUARDIAN_FORM,
                    given_at=now - timedelta(days=1),
                    provisions=[Provision("permit", ("DHS",), (Category.SCHOOLING,), (Purpose.CASE_MANAGEMENT,),
                                          period_end=now + timedelta(days=365))])
            # the family's 60-day plan: legal, work authorization, English classes, school for each child
            plan = await services.plans.create(
                care, client_id=consented, horizon_days=60, arrived_on=(now - timedelta(days=120)).date(),
                goals=["LEGAL_REPRESENTATION_FOUND", "ASYLUM_APPLICATION_FILED", "WORK_AUTHORIZATION_FILED",
                       "ESOL_ENROLLED"], free_goals=[],
                member_goals=[("CHILD_ENROLLED_IN_SCHOOL", child) for child in children])
            goal = {g.code: g.id for g in plan.goals}
            soon = (now + timedelta(days=14)).date()
            await services.plans.add_task(care, goal_id=goal["LEGAL_REPRESENTATION_FOUND"],
                                          title="See the immigration legal clinic", owner=TaskOwner.PARTNER,
                                          owner_org="LEGALAID", due_on=soon, referral_id=legal.id)
            await services.plans.add_task(care, goal_id=goal["ESOL_ENROLLED"], title="Go to the first ESOL class",
                                          owner=TaskOwner.CLIENT, owner_org=None, due_on=soon, referral_id=None)
            for school in (g for g in plan.goals if g.code == "CHILD_ENROLLED_IN_SCHOOL"):  # one per child
                await services.plans.add_task(care, goal_id=school.id,
                                              title="Bring the immunization record to the school",
                                              owner=TaskOwner.CLIENT, owner_org=None, due_on=soon, referral_id=None)
        # a housing interview tomorrow with each (its reminder goes as soon as the gateway plans it; the
        # sheltered client's waits for the end of their quiet hours at night)
        soon = (now + timedelta(hours=20)).replace(minute=0, second=0, microsecond=0)
        for client_id in (consented, sheltered):
            if client_id not in scheduled:
                await services.appointments.schedule(
                    care, client_id=client_id, type="HOUSING_INTERVIEW", scheduled_at=soon, mode="IN_PERSON",
                    location="DHS intake office, 33 Beaver St, New York, NY", duration_minutes=45,
                    at_stake="HOUSING_PLACEMENT")
    finally:
        await services.aclose()
    return added


# The demo city's organisations, as its consent forms name them.
DEMO_ORGANIZATIONS = {"DHS": "Department of Homeless Services (shelters)",
                      "HRA": "Human Resources Administration (benefits)",
                      "DOE": "Department of Education (schools)", "LEGALAID": "Legal aid partner"}
WALK_IN = ("intake", "WALKIN-0001")  # a walk-in intake's record: a name and nothing else, as intakes often are


async def seed_index(settings: Settings, population: Population) -> None:
    """The identity index over the three agencies (search finds people by what each holds), matched; and one
    walk-in intake known by name only, which the matcher cannot decide and leaves to an identity steward."""
    engine = make_engine(settings.database_url)
    try:
        async with agencies(settings, engine) as (sessions, sources):
            await sync(sessions, sources)
            await relink(sessions)
            adult = next(p for p in population.people if p.benefits_id and p.hmis_id and p.relationship == "HEAD")
            async with sessions.begin() as session:
                known = (await session.execute(select(SourceLink.client_id).where(
                    SourceLink.source == WALK_IN[0], SourceLink.local_id == WALK_IN[1]))).first()
                if known is None:
                    await write_records(session, [{
                        **dict.fromkeys(SYNCED), "source": WALK_IN[0], "local_id": WALK_IN[1],
                        "first_name": adult.first_name, "last_name": adult.last_name, "synced_at": datetime.now(UTC)}])
            if known is None:
                await place(sessions, [WALK_IN])
    finally:
        await engine.dispose()


def _sheltered(population: Population) -> str:
    """A client of the shelter system (not the consent's or the emergency's): one in shelter now where there is."""
    consented, emergency = population.people[0].client_id, population.people[1].client_id
    candidates = [p for p in population.people if p.hmis_id and p.client_id not in (consented, emergency)]
    exited = {x["EnrollmentID"] for x in population.hmis.exits}
    shelters = {p["ProjectID"] for p in population.hmis.projects if p["ProjectType"] in (0, 1)}
    in_shelter = {e["PersonalID"] for e in population.hmis.enrollments
                  if e["EnrollmentID"] not in exited and e["ProjectID"] in shelters}
    # one the benefits agency knows too, where there is: its verified documents are what a checklist finds
    ranked = sorted(candidates, key=lambda p: (p.hmis_id not in in_shelter, p.benefits_id is None))
    return ranked[0].client_id


def chronically_homeless(population: Population) -> str:
    """The sheltered client is chronically homeless (HUD's glossary: a disabling condition, and on the streets or in
    shelter since more than a year before their first entry), by their intake's answers and by the shelter system's
    own records: a street-outreach team worked with them for the 400 nights before they came into shelter. Those
    stays, not the answers, are the evidence a supportive-housing application asks for."""
    client = _sheltered(population)
    hmis = population.hmis
    hmis_id = next(p.hmis_id for p in population.people if p.client_id == client)
    mine = [e for e in hmis.enrollments if e["PersonalID"] == hmis_id]
    first: date = min(e["EntryDate"] for e in mine)  # type: ignore[type-var, assignment]
    answers = {"DisablingCondition": 1, "DateToStreetESSH": first - timedelta(days=400)}
    for e in mine:
        e.update(answers)
    if not any(p["ProjectID"] == DEMO_OUTREACH[0] for p in hmis.projects):
        hmis.projects.append({"ProjectID": DEMO_OUTREACH[0], "OrganizationID": "O-1", "ProjectName": DEMO_OUTREACH[1],
                              "OperatingStartDate": date(2015, 1, 1), "ContinuumProject": 1, "ProjectType": 4})
    if not any(e["EnrollmentID"] == DEMO_OUTREACH[2] for e in mine):
        hmis.enrollments.append({"EnrollmentID": DEMO_OUTREACH[2], "PersonalID": hmis_id, "ProjectID": DEMO_OUTREACH[0],
                                 "EntryDate": first - timedelta(days=400), "HouseholdID": f"HH-{DEMO_OUTREACH[2]}",
                                 "RelationshipToHoH": 1, "LivingSituation": 116, **answers})
        hmis.exits.append({"ExitID": f"X-{DEMO_OUTREACH[2]}", "EnrollmentID": DEMO_OUTREACH[2], "PersonalID": hmis_id,
                           "ExitDate": first, "Destination": 101})  # into shelter the day outreach ended
    return client


def verified_at_hra(population: Population) -> str:
    """The benefits agency verified the sheltered client's birth certificate last year: a supportive-housing
    application's checklist finds it there (through the client's consent) instead of asking again. It accepted a pay
    stub too, at a recertification seven months ago: a proof of income holds 60 days, so that one has expired."""
    client = _sheltered(population)
    person = next(p for p in population.people if p.client_id == client)
    if person.benefits_id is None:
        return client
    case = population.benefits[person.benefits_id]["cases"][0]  # type: ignore[index]
    docs = [d for d in case["requiredDocuments"] if d["type"] not in ("BIRTH_CERTIFICATE", "PROOF_OF_INCOME")]
    today = datetime.now(UTC).date()
    verified, paid = (today - timedelta(days=300)).isoformat(), (today - timedelta(days=210)).isoformat()
    case["requiredDocuments"] = [
        *docs,
        {"documentId": f"DOC-BC-{person.benefits_id}", "type": "BIRTH_CERTIFICATE", "dueOn": verified,
         "status": "ACCEPTED", "acceptedOn": verified},
        {"documentId": f"DOC-PI-{person.benefits_id}", "type": "PROOF_OF_INCOME", "dueOn": paid, "status": "ACCEPTED",
         "acceptedOn": paid}]
    return client


def demo_cases(settings: Settings, population: Population) -> list[DemoCase]:
    """The callers and clients that show each kind of decision."""
    key = load_or_create_dev_key(settings.auth.dev_key_file)

    def mk(sub: str, org: str, role: str) -> str:
        return mint_token(key, settings.auth, subject=sub, organization=org, roles=[role])

    hra, dhs = mk("demo-hra-caseworker", "HRA", "caseworker"), mk(DHS_WORKER, "DHS", "caseworker")
    consented, emergency = population.people[0].client_id, population.people[1].client_id
    sheltered = _sheltered(population)
    pupil = next(p for p in population.people if p.student_id)
    liaison = mk("demo-doe-homeless-liaison", "DOE", "caseworker")
    auditor = mk("demo-auditor", "OVERSIGHT", "auditor")
    return [
        DemoCase("HRA caseworker: the benefits agency sees its own records", hra, "case_management", consented,
                 "HRA caseworker"),
        DemoCase("DHS caseworker: appointments and documents shown through the client's consent; benefits "
                 "withheld (CONSENT_REQUIRED)", dhs, "case_management", consented, "DHS caseworker"),
        DemoCase("DHS caseworker, break-glass: benefits opened by a legal basis with a justification "
                 "(time-limited, flagged for review)", dhs, "emergency", emergency, "DHS caseworker"),
        DemoCase("DHS caseworker: a client of the shelter system - stays, moves and exits (HMIS export), whether "
                 "in shelter now or housed; DHS's own case note (held in casebridge); the supportive-housing "
                 "checklist: the birth certificate verified at HRA (by the client's consent), chronic homelessness "
                 "from the shelter system's own stays, the client's photo ID awaiting review", dhs,
                 "case_management", sheltered, "DHS caseworker", goal="SUPPORTIVE_HOUSING_APPLICATION"),
        DemoCase("DOE homeless-student liaison: the district's own record (Ed-Fi): school, grade, transfers and the "
                 "days between them, homeless program status", liaison, "case_management", pupil.client_id,
                 "DOE homeless-student liaison"),
        DemoCase("auditor: never opens a client profile (FORBIDDEN; the refusal is in the access log)",
                 auditor, "audit", consented, "auditor"),
    ]


def demo_users(population: Population) -> list[DemoUser]:
    """Who can sign in to the demo's console, one of each kind of person casebridge serves."""
    consented = population.people[0].client_id
    return [
        DemoUser("dhs-caseworker", "DHS shelter caseworker", DHS_WORKER, "DHS", ("caseworker",)),
        DemoUser("hra-caseworker", "HRA benefits worker", "demo-hra-caseworker", "HRA", ("caseworker",)),
        DemoUser("doe-liaison", "DOE homeless-student liaison", "demo-doe-homeless-liaison", "DOE", ("caseworker",)),
        DemoUser("legal-aid", "Legal-aid partner", "demo-legal-aid", "LEGALAID", ("partner",)),
        DemoUser("client", "A client (their own record)", "demo-client", "CLIENTS", ("client",), client_id=consented),
        DemoUser("client-in-shelter", "A client in shelter (their checklist, sending a document)", SHELTERED_CLIENT,
                 "CLIENTS", ("client",), client_id=_sheltered(population)),
        DemoUser("steward", "Identity steward", "demo-identity-steward", "CITY", ("identity_steward",)),
        DemoUser("auditor", "Auditor", "demo-auditor", "OVERSIGHT", ("auditor",)),
    ]


def busy_port(ports: dict[str, int]) -> str | None:
    """The first option whose port on 127.0.0.1 is taken, e.g. "--port 8000", or None when all are free.

    Asked as the servers bind (SO_REUSEADDR): a port whose last connections wait out TCP's TIME_WAIT - a minute
    after `--no-serve` sent the demo's emails through its mailbox - is free to listen on, and was called taken.
    """
    import socket

    for flag, port in ports.items():
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return f"{flag} {port}"
    return None


def upcoming_interview(population: Population, *, now: datetime) -> None:
    """The demo's client has a recertification interview at the benefits agency in five days (the generated one
    may be past): what the reminders are for."""
    person = population.people[0]
    case = population.benefits[person.benefits_id or ""]["cases"][0]  # type: ignore[index]
    when = (now + timedelta(days=5)).replace(hour=14, minute=0, second=0, microsecond=0)
    case["appointments"][0].update({"status": "SCHEDULED", "scheduledAt": when.isoformat()})


def run_demo(
    settings: Settings, *, port: int, benefits_port: int, households: int, seed: int, serve_forever: bool,
    schooling_port: int = 8102, idp_port: int = 8103, sms_port: int = 8104, smtp_port: int = 8025,
    webhook_port: int = 8105,
) -> list[dict[str, Any]] | None:
    """Seed, start the simulator and the gateway, print how to use them; optionally check and stop."""
    population = generate(seed=seed, households=households)
    upcoming_interview(population, now=datetime.now(UTC))
    chronically_homeless(population)
    verified_at_hra(population)
    if not settings.appropriate_parties:  # the demo city names its shelter agency for FERPA emergencies
        settings = settings.model_copy(update={"appropriate_parties": {LegalBasis.FERPA_99_36: ["DHS"]}})
    settings = with_demo_receivers(settings)
    added = asyncio.run(globals()["seed"](settings, population))
    agency = BenefitsAgency(population)
    sim = ServerThread(agency.app(), port=benefits_port).start()
    district = ServerThread(EdfiAgency(population).app(), port=schooling_port).start()
    public_url = f"http://127.0.0.1:{port}"
    # the reminders' providers: an SMS provider simulator and a real SMTP server keeping every email
    provider = SmsProvider(inbound_url=f"{public_url}/hooks/sms/inbound")
    sms = ServerThread(provider.app(), port=sms_port).start()
    mailbox = Mailbox(directory=MAILBOX_DIR)
    mail = MailServer(mailbox, port=smtp_port).__enter__()
    receiver = WebhookReceiver()  # DHS's case management system, told when its referrals change
    hooks = ServerThread(receiver.app(), port=webhook_port).start()
    notify = settings.notify.model_copy(update={
        "run_in_gateway": True, "plan_every_seconds": 60.0, "poll_seconds": 2.0, "link": f"{public_url}/app/",
        "sms": settings.notify.sms.model_copy(update={"base_url": sms.url}),
        "smtp": settings.notify.smtp.model_copy(update={"host": "127.0.0.1", "port": smtp_port}),
    })
    settings = settings.model_copy(update={
        "benefits": BenefitsConfig(**{**settings.benefits.model_dump(), "base_url": sim.url}),
        "schooling": SchoolingConfig(**{**settings.schooling.model_dump(), "base_url": district.url}),
        "public_url": public_url, "notify": notify,
    })
    try:
        asyncio.run(seed_index(settings, population))
        idp = DevIdentityProvider(demo_users(population), settings.auth, public_url, port=idp_port,
                                  client_id=settings.console.client_id).start()
    except BaseException:
        sim.stop()
        district.stop()
        sms.stop()
        hooks.stop()
        mail.__exit__()
        raise
    # The gateway trusts the provider (its issuer, its JWKS), as a production gateway trusts the city's.
    settings = settings.model_copy(update={
        "auth": settings.auth.model_copy(update={"issuer": idp.issuer, "jwks_url": idp.jwks_url}),
        "console": settings.console.model_copy(update={"organizations": settings.console.organizations
                                                       or DEMO_ORGANIZATIONS}),
    })
    cases = demo_cases(settings, population)
    _banner(settings, port, f"{sim.url}  school district (Ed-Fi) simulator  {district.url}",
            len(population.people), added, cases, serving=serve_forever, idp=idp, sms_url=sms.url,
            webhook_url=hooks.url)
    app = create_app(settings)
    key = load_or_create_dev_key(settings.auth.dev_key_file)
    partner = mint_token(key, settings.auth, subject="demo-legal-aid", organization="LEGALAID", roles=["partner"])
    dhs = mint_token(key, settings.auth, subject=DHS_WORKER, organization="DHS", roles=["caseworker"])
    hook_url = f"{hooks.url}{WEBHOOK_PATH}"
    try:
        if serve_forever:
            with ServerThread(create_app(settings)) as first:  # the partner answers through the API, then serve
                receiver.secret = _subscribe(first.url, dhs, hook_url)
                _partner_accepts(first.url, partner)
                _check_plans(first.url, dhs, population.people[0].client_id)
            uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                        access_log=False, log_level="warning")
            return None
        with ServerThread(app, port=port) as gateway:
            receiver.secret = _subscribe(gateway.url, dhs, hook_url)
            if _partner_accepts(gateway.url, partner):
                _await(lambda: bool(receiver.received), seconds=15)  # the gateway sends webhook calls every 2 s
                console.print(f"[bold]webhook calls to DHS's system[/bold] ({hook_url}): "
                              + ", ".join(f"referral {r['status']}" for r in receiver.received), highlight=False)
            _check_plans(gateway.url, dhs, population.people[0].client_id)
            answers = [_first_query(gateway.url, case) for case in cases]
            # the gateway plans and sends reminders as it starts: wait for them (a demo run again has sent its
            # email before: then only for what is due now)
            asyncio.run(_await_email(settings, mailbox, seconds=20))
            console.print(f"[bold]reminders sent[/bold]: {len(provider.messages)} text messages, "
                          f"{len(mailbox.messages)} emails", highlight=False)
            return answers
    finally:
        sim.stop()
        district.stop()
        idp.stop()
        sms.stop()
        hooks.stop()
        mail.__exit__()


async def _await_email(settings: Settings, mailbox: Mailbox, *, seconds: float) -> None:
    """Until the mailbox has an email, or none is still to be planned or sent now (a demo run again sent its
    email before), or `seconds` have passed."""
    engine = make_engine(settings.database_url)
    try:
        deadline = time.monotonic() + seconds
        while not mailbox.messages and time.monotonic() < deadline:
            async with make_sessionmaker(engine)() as session:
                emails = list((await session.execute(select(MessageRow.status, MessageRow.next_attempt_at).where(
                    MessageRow.channel == "email"))).all())
            now = datetime.now(UTC)
            sent = any(status in ("sent", "delivered") for status, _ in emails)
            if sent and not any(status == "queued" and due <= now for status, due in emails):
                return
            await asyncio.sleep(0.2)
    finally:
        await engine.dispose()


SUBSCRIPTIONS = "query Subscriptions { webhookSubscriptions { id url active } }"
SUBSCRIBE = "mutation Subscribe($url: String!) { subscribeWebhook(url: $url) { secret } }"
END_WEBHOOK = "mutation End($id: ID!) { endWebhook(id: $id) { id } }"


def _subscribe(url: str, token: str, hook_url: str) -> str:
    """DHS's system subscribes to its referrals' changes through the API (anew each run: a secret is shown once);
    its signing secret."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}
    mine = httpx.post(f"{url}/graphql", json={"query": SUBSCRIPTIONS}, headers=headers, timeout=30).json()
    for sub in (mine.get("data") or {}).get("webhookSubscriptions") or []:
        if sub["active"] and sub["url"].endswith(WEBHOOK_PATH):
            httpx.post(f"{url}/graphql", json={"query": END_WEBHOOK, "variables": {"id": sub["id"]}},
                       headers=headers, timeout=30)
    made = httpx.post(f"{url}/graphql", json={"query": SUBSCRIBE, "variables": {"url": hook_url}}, headers=headers,
                      timeout=30).json()
    return str(made["data"]["subscribeWebhook"]["secret"])


def _await(check: Any, *, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)


INBOX_QUERY = "query Inbox { referralInbox { id clientId status service { name } } }"
ACCEPT = "mutation Accept($id: ID!) { answerReferral(id: $id, status: ACCEPTED) { id status } }"
MILESTONE = """mutation Milestone($c: ID!, $m: LegalMilestoneKind!, $on: Date!) {
  recordLegalMilestone(clientId: $c, milestone: $m, occurredOn: $on) { milestone occurredOn } }"""
PLANS_QUERY = "query Plans($id: ID!) { client(id: $id) { casework { plans { id agency } } } }"
CHECK_PLAN = """mutation Check($id: ID!) { checkPlanEvidence(planId: $id) { goals { code memberId status metBy metOn
  notBefore } } }"""


def _partner_accepts(url: str, token: str) -> int:
    """The legal-aid partner, with its own token, accepts the referrals waiting in its inbox (through the API);
    how many."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "care_coordination"}
    inbox = httpx.post(f"{url}/graphql", json={"query": INBOX_QUERY}, headers=headers, timeout=30).json()
    accepted = 0
    for item in (inbox.get("data") or {}).get("referralInbox") or []:
        if item["status"] == "REQUESTED":
            done = httpx.post(f"{url}/graphql", json={"query": ACCEPT, "variables": {"id": item["id"]}},
                              headers=headers, timeout=30).json()
            status = ((done.get("data") or {}).get("answerReferral") or {}).get("status")
            console.print(f"[bold]the legal-aid partner, with its own token[/bold]: referral to "
                          f"{item['service']['name']} {status or done.get('errors')}", highlight=False)
            accepted += status == "ACCEPTED"
            if status == "ACCEPTED":  # it takes the case: the application the client filed alone, and its own part
                today = datetime.now(UTC).date()
                for milestone, on in (("ASYLUM_APPLICATION_FILED", today - timedelta(days=30)),
                                      ("REPRESENTATION_AGREED", today)):
                    made = httpx.post(f"{url}/graphql", json={"query": MILESTONE, "variables": {
                        "c": item["clientId"], "m": milestone, "on": on.isoformat()}}, headers=headers,
                        timeout=30).json()
                    console.print(f"[bold]the legal-aid partner records[/bold]: {milestone} on {on} "
                                  f"{'' if made.get('data') else made.get('errors')}", highlight=False)
    return accepted


def _check_plans(url: str, token: str, client_id: str) -> None:
    """DHS checks its plans for the client against what it may see (the legal clinic's record of the case, by the
    client's consent; each child's school, by the parent's)."""
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "case_management"}
    found = httpx.post(f"{url}/graphql", json={"query": PLANS_QUERY, "variables": {"id": client_id}},
                       headers=headers, timeout=30).json()
    for plan in (((found.get("data") or {}).get("client") or {}).get("casework") or {}).get("plans") or []:
        if plan["agency"] != "DHS":
            continue
        done = httpx.post(f"{url}/graphql", json={"query": CHECK_PLAN, "variables": {"id": plan["id"]}},
                          headers=headers, timeout=30).json()
        goals = ((done.get("data") or {}).get("checkPlanEvidence") or {}).get("goals") or []
        console.print("[bold]DHS checks its plan's evidence[/bold]: " + ", ".join(
            f"{g['code']}{' (child)' if g['memberId'] else ''} {g['status']}"
            + (f" on {g['metOn']}" if g["metBy"] == "EVIDENCE" else "") for g in goals)
            + (f" {done.get('errors')}" if done.get("errors") else ""), highlight=False)


CHECKLIST_QUERY = """query Checklist($id: ID!, $goal: String!) { client(id: $id) { checklist(goal: $goal) {
  items { document state since daysInState copies { agency source verified unverifiedReason } } } } }"""


def _chronic_text(chronic: dict[str, Any], access: list[dict[str, Any]]) -> str:
    """The status, the glossary's step, and whether the agency's own stays show the time (its verification)."""
    agency = next((a["agency"] for a in access if a["status"] == "SHOWN"), "the shelter system")
    text = f"{chronic['status']} ({chronic['reason']})"
    if chronic["status"] != "YES":
        return text
    shown = (f"{chronic['nightsInStays']} nights on {chronic['occasions']} occasion(s) from {chronic['countedFrom']} "
             f"to {chronic['countedTo']}")
    return text + (f"; verified by {agency}'s own stays: {shown}" if chronic["verifiedByStays"]
                   else f"; not verified by {agency}'s own stays ({shown}): the intake's answers alone")


def _first_query(url: str, case: DemoCase) -> dict[str, Any]:
    resp = httpx.post(f"{url}/graphql", json={"query": FIRST_QUERY, "variables": {"id": case.client_id}},
                      headers={"Authorization": f"Bearer {case.token}", "X-Purpose-Of-Use": case.purpose},
                      timeout=30)
    body: dict[str, Any] = resp.json()
    profile = (body.get("data") or {}).get("client") or {}
    summary: dict[str, Any] = {name: [f"{a['agency']} {a['status']} {a.get('reason') or a.get('basis')}"
                                      for a in (section or {}).get("access", [])]
                               for name, section in profile.items() if name != "id"}
    referrals = (profile.get("casework") or {}).get("referrals")
    if referrals:  # closed-loop referrals: who referred, who answers, where it stands
        summary["referrals"] = sorted(f"{r['service']['name']}: {r['status']} (by {r['referredBy']}"
                                      f"{', answered by ' + r['answeredBy'] if r['answeredBy'] else ''})"
                                      for r in referrals)
    for plan in (profile.get("casework") or {}).get("plans") or []:  # the 30-60-90 day plan, goal by goal
        summary["plan"] = [f"{g['code']}: {g['status']}" + (f", due {g['dueOn']}" if g["dueOn"] else "")
                           + (f", not before {g['notBefore']}" if g["notBefore"] else "") for g in plan["goals"]]
    chronic = (profile.get("housing") or {}).get("chronicHomelessness")
    if chronic:  # what the shelter system's records say, by HUD's definition, and the stays that show it (or not)
        summary["chronicHomelessness"] = _chronic_text(chronic, profile["housing"]["access"])
        if chronic["supportingStays"]:
            summary["supportingStays"] = [f"{s['projectTypeName']}, {s['projectName']}: {s['entryDate']} to "
                                          f"{s['exitDate'] or 'now'}" for s in chronic["supportingStays"]]
    if case.goal:  # where each document the goal needs already is
        got = httpx.post(f"{url}/graphql", json={"query": CHECKLIST_QUERY,
                                                  "variables": {"id": case.client_id, "goal": case.goal}},
                         headers={"Authorization": f"Bearer {case.token}", "X-Purpose-Of-Use": case.purpose},
                         timeout=30).json()
        found = ((got.get("data") or {}).get("client") or {}).get("checklist") or {}
        summary["checklist"] = [
            f"{i['document']} {i['state']}" + (f" since {i['since']} ({i['daysInState']} days)" if i["since"] else "")
            + "".join(f"; {c['source'].lower()} at {c['agency']}" + (
                " (verified)" if c["verified"] else f" ({c['unverifiedReason'].lower().replace('_', ' ')})"
                if c["unverifiedReason"] else "") for c in i["copies"])
            for i in found.get("items", [])]
    console.print(f"[bold]{case.title}[/bold]", soft_wrap=True, highlight=False)
    console.print_json(json.dumps({"sections": summary, "errors": body.get("errors")}))
    return body


def _banner(settings: Settings, port: int, sim_url: str, people: int, added: int, cases: list[DemoCase], *,
            webhook_url: str = "",
            idp: DevIdentityProvider, sms_url: str, serving: bool = True) -> None:
    url = f"http://127.0.0.1:{port}"
    cli = ".venv/bin/casebridge"
    how = ("(GraphiQL: open it in a browser; Ctrl-C stops everything)" if serving
           else "(--no-serve: runs the first queries below, then stops)")
    lines = [
        f"[bold]casebridge console[/bold]  {url}/app/   (sign in as a demo user below; password {DEMO_PASSWORD})",
    ]
    lines += [f"  [cyan]{u.username}[/cyan]  {u.label}" for u in idp.users]
    lines += [
        f"OpenID provider (development)  {idp.issuer}",
        f"[bold]casebridge gateway[/bold]  {url}/graphql   {how}",
        f"benefits agency simulator  {sim_url}",
        f"shelter system (HMIS CSV export, imported)  {HMIS_EXPORT_DIR}/",
        "service directory (Open Referral HSDS 3.0 data package, imported)  demo/directory/",
        f"store  {settings.database_url}   synthetic people: {people} ({added} links added)",
        f"[bold]reminders[/bold] (planned and sent by the gateway every minute): text messages  {sms_url}/sim/messages",
        f"  email  {MAILBOX_DIR}/ (one .eml per message; SMTP 127.0.0.1:{settings.notify.smtp.port})",
        f"[bold]webhooks[/bold]: DHS's system, told when its referrals change  {webhook_url}/received",
        f"  a client's text back (STOP, START, HELP): curl -s {sms_url}/sim/inbound -H 'Content-Type: "
        "application/json' -d '{\"from\": \"<their number>\", \"body\": \"STOP\"}'",
        "",
        "[bold]Callers[/bold] (a token goes in GraphiQL's Headers tab: "
        '{"Authorization": "Bearer <token>", "X-Purpose-Of-Use": "<purpose>"}):',
    ]
    for caller, token in dict((c.caller, c.token) for c in cases).items():
        lines += [f"  [cyan]{caller}[/cyan]", f"    {token}"]
    lines += ["", f"More tokens: `CASEBRIDGE_AUTH__ISSUER={idp.issuer} {cli} token --role caseworker --org DHS` "
              "(`--role client --client-id <id>` for a client).", "",
              "[bold]What each shows[/bold] (the client id goes in Variables):"]
    for case in cases:
        lines += [f"[cyan]{case.title}[/cyan]",
                  f'  caller: {case.caller}   purpose: {case.purpose}   variables: {{"id": "{case.client_id}"}}', ""]
    lines += ["[bold]A first query:[/bold]", FIRST_QUERY, "",
              "[bold]Or with curl[/bold] (a token and an id from above):",
              f"  curl -s {url}/graphql -H 'Authorization: Bearer <token>' -H 'X-Purpose-Of-Use: case_management' "
              "-H 'Content-Type: application/json' -d '{\"query\": \"{ client(id: \\\"<id>\\\") "
              "{ benefits { cases { caseNumber programs { program status certificationEnd } } } } }\"}'"]
    console.rule("casebridge demo")
    for line in lines:  # tokens must stay whole for copying: no panel, no wrapping
        console.print(line, soft_wrap=True, highlight=False)
    console.rule()
