"""The one bootstrap: build the store, connectors, gate and verifier from settings, and close them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.auth import KeySource, TokenVerifier
from api.settings import Settings
from api.telemetry import make_tracer_provider
from api.telemetry import shutdown as shutdown_telemetry
from audit.access_records import AuditRecorder
from audit.chain_writer import ChainRecorder
from audit.signing import CheckpointSigner, load_or_create_key
from checklists.config import Checklists
from checklists.config import load as load_checklists
from checklists.files import limit_scans, make_blob_store
from connectors.base import Connector
from connectors.benefits import BenefitsConnector
from connectors.edfi import SchoolingConnector
from connectors.federation import Resilient
from connectors.held import Appointments, CaseNotes, ContactDetails
from connectors.held_documents import HeldDocuments
from connectors.held_legal import LegalMilestones
from connectors.held_plans import Plans
from connectors.held_referrals import Referrals
from connectors.hmis.connector import HousingConnector
from connectors.hmis.household import HmisHouseholds
from gate import Gate
from gate.appointment_desk import AppointmentDesk
from gate.audit_desk import AuditDesk
from gate.consent_desk import ConsentDesk
from gate.contact_desk import ContactDesk
from gate.directory_desk import DirectoryDesk
from gate.document_desk import DocumentDesk
from gate.identity_desk import IdentityDesk
from gate.legal_desk import LegalDesk
from gate.note_desk import NoteDesk
from gate.plan_desk import PlanDesk
from gate.referral_desk import ReferralDesk
from gate.webhook_desk import WebhookDesk
from identity.crosswalk import SqlCrosswalk
from notify.keywords import Keywords
from notify.notices import ClientNotices
from notify.planner import ReminderPlanner
from notify.providers import HttpSmsSender, Sender, SmtpSender
from notify.runner import run as run_due
from notify.templates import Templates
from notify.webhooks import WebhookSender
from notify.worker import DeliveryWorker
from plans.catalogue import load as load_plans
from policies.cedar import CedarDecider, CedarEngine, PolicySet
from policies.consent_store import ConsentStore
from policies.decisions import Decider
from resolvers.sensitive import tells
from store.engine import make_engine, make_sessionmaker
from store.reads import Reads, open_reads


@dataclass
class Services:
    """Everything a gateway replica holds for its lifetime."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    reads: Reads
    consents: ConsentStore
    connectors: list[Connector]
    gate: Gate
    desk: ConsentDesk
    audit_desk: AuditDesk
    identity_desk: IdentityDesk
    notes: NoteDesk
    contact: ContactDesk
    appointments: AppointmentDesk
    documents: DocumentDesk
    directory: DirectoryDesk
    referrals: ReferralDesk
    plans: PlanDesk
    legal: LegalDesk
    webhooks: WebhookDesk
    webhook_sender: WebhookSender
    keywords: Keywords
    checklists: Checklists
    senders: dict[str, Sender]
    templates: Templates
    recorder: AuditRecorder
    signer: CheckpointSigner
    verifier: TokenVerifier
    keys: KeySource
    http: httpx.AsyncClient
    tracer_provider: trace.TracerProvider

    def delivery_worker(self, owner: str | None = None) -> DeliveryWorker:
        """A worker that sends the outbox's due messages (run it in one or more processes)."""
        return DeliveryWorker(gate=self.gate, sessions=self.sessions, senders=self.senders,
                              templates=self.templates, settings=self.settings.notify, owner=owner)

    async def run_due_work(self, stop: asyncio.Event) -> None:
        """What comes due with time, until `stop`: reminders planned and sent (where notifications are on), and,
        either way, referrals nobody answered expired and webhook calls made (notify/runner.py)."""
        sends = self.settings.notify.enabled
        await run_due(self.reminder_planner() if sends else None, self.delivery_worker() if sends else None,
                      plan_every=self.settings.notify.plan_every_seconds, stop=stop,
                      also=[self.referrals.expire_unanswered], often=[self.webhook_sender.deliver_due],
                      poll_every=self.settings.notify.poll_seconds)

    def reminder_planner(self) -> ReminderPlanner:
        """The planner of reminders from appointments and notices."""
        return ReminderPlanner(gate=self.gate, sessions=self.sessions, settings=self.settings.notify)

    async def aclose(self) -> None:
        """Close connections and flush telemetry."""
        for conn in self.connectors:
            await conn.aclose()
        for sender in self.senders.values():
            await sender.aclose()
        await self.webhook_sender.aclose()
        await self.http.aclose()
        await self.recorder.aclose()
        await self.reads.aclose()
        await self.engine.dispose()
        shutdown_telemetry(self.tracer_provider)


def build_services(
    settings: Settings, *, tracer_provider: trace.TracerProvider | None = None,
    recorder: AuditRecorder | None = None, decider: Decider | None = None,
) -> Services:
    """Wire a gateway from settings; no I/O happens until the first request."""
    provider = tracer_provider or make_tracer_provider(settings.telemetry)
    tracer = provider.get_tracer("casebridge")
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    policy_set = PolicySet.load()  # refuses to start on policies that do not validate
    consents = ConsentStore()
    reads = open_reads(engine)
    connectors: list[Connector] = [Resilient(c, settings.federation)
                                   for c in build_connectors(settings, reads, tracer=tracer)]
    crosswalk = SqlCrosswalk(reads)
    signer = make_signer(settings)
    audit = recorder or ChainRecorder(engine, signer=signer, checkpoint_every=settings.audit.checkpoint_every)
    engine_ = CedarEngine(policy_set, parties=settings.appropriate_party_bases())
    decider = decider or CedarDecider(sessions, reads, engine_, store=consents)
    contact, appointments, documents = ContactDetails(sessions), Appointments(sessions), HeldDocuments(sessions)
    referrals, plans, legal = Referrals(sessions), Plans(sessions), LegalMilestones(sessions)
    checklists = load_checklists(settings.checklists_file)
    gate = Gate(
        crosswalk=crosswalk, connectors=connectors, decider=decider, recorder=audit, sessions=sessions,
        held=[CaseNotes(sessions), contact, appointments, documents, referrals, plans, legal],
        deadline_seconds=settings.gate_deadline_seconds, tracer=tracer, tells=tells(checklists),
    )
    desk = ConsentDesk(gate=gate, store=consents)
    contact_desk = ContactDesk(gate=gate, source=contact)
    notify = settings.notify
    senders: dict[str, Sender] = {
        "email": SmtpSender(notify.smtp),
        "sms": HttpSmsSender(notify.sms, status_callback=settings.public_url.rstrip("/") + "/hooks/sms/status"),
    }
    # the documents' blob store, as the settings name it (ConfigurationError at start-up when it cannot be built:
    # `casebridge documents purge` / `sweep` build theirs by the same hook); the scans' cap is process-wide
    blobs = make_blob_store(settings.documents)
    limit_scans(settings.documents.max_concurrent_scans)
    notices = ClientNotices(notify) if notify.enabled else None
    http = httpx.AsyncClient(timeout=10.0)
    keys = KeySource(settings.auth, http)
    return Services(settings=settings, engine=engine, sessions=sessions, reads=reads, consents=consents,
                    connectors=connectors, gate=gate, desk=desk, signer=signer, recorder=audit,
                    audit_desk=AuditDesk(gate=gate, sessions=sessions, signer=signer),
                    notes=NoteDesk(gate=gate), contact=contact_desk,
                    keywords=Keywords(contact=contact_desk, sessions=sessions), senders=senders,
                    templates=Templates(notify.templates_dir), checklists=checklists,
                    appointments=AppointmentDesk(gate=gate, source=appointments),
                    documents=DocumentDesk(gate=gate, source=documents, sessions=sessions, checklists=checklists,
                                           settings=settings.documents, notices=notices, blobs=blobs,
                                           consents=consents, organizations=settings.console.organizations),
                    directory=DirectoryDesk(gate=gate, sessions=sessions),
                    plans=PlanDesk(gate=gate, source=plans, catalogue=load_plans(settings.plans_file),
                                   notices=notices, households=HmisHouseholds(reads, settings.housing.source)
                                   if settings.housing.enabled else None),
                    legal=LegalDesk(gate=gate, source_name=legal.name),
                    webhooks=WebhookDesk(gate=gate, sessions=sessions, settings=settings.webhooks,
                                         production=not settings.is_development),
                    webhook_sender=WebhookSender(sessions=sessions, settings=settings.webhooks,
                                                  production=not settings.is_development),
                    referrals=ReferralDesk(gate=gate, source=referrals, sessions=sessions, consents=consents,
                                           settings=settings.referrals, notices=notices),
                    identity_desk=IdentityDesk(gate=gate, sessions=sessions,
                                               search_quantum_ms=settings.limits.search_quantum_ms),
                    verifier=TokenVerifier(settings.auth, keys), keys=keys, http=http,
                    tracer_provider=provider)


def build_connectors(
    settings: Settings, reads: Reads, *, tracer: trace.Tracer | None = None,
) -> list[BenefitsConnector | HousingConnector | SchoolingConnector]:
    """The enabled agency connectors, bare (the gateway wraps them in retries and circuit breakers)."""
    out: list[BenefitsConnector | HousingConnector | SchoolingConnector] = []
    if settings.benefits.enabled:
        out.append(BenefitsConnector(settings.benefits, tracer=tracer))
    if settings.housing.enabled:
        out.append(HousingConnector(settings.housing, reads))
    if settings.schooling.enabled:
        out.append(SchoolingConnector(settings.schooling))
    return out


def make_signer(settings: Settings) -> CheckpointSigner:
    """The access log's checkpoint signer, from the configured key."""
    return CheckpointSigner(load_or_create_key(settings.audit.key_path))
