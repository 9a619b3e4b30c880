"""The per-request GraphQL context: who is asking, why, and the gate to ask through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as _Info

from checklists.config import Checklists
from core.errors import AuthenticationError
from core.principal import RequestContext
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


@dataclass
class Context:
    """What every resolver may use; built once per HTTP request by api/app.py.

    `request_context` is set once, before any resolver runs, and is None only for
    the GraphiQL page, which runs no resolver; reading it then fails closed.
    """

    gate: Gate
    consents: ConsentDesk
    audit: AuditDesk
    identity: IdentityDesk
    notes: NoteDesk
    contact: ContactDesk
    appointments: AppointmentDesk
    documents: DocumentDesk
    directory: DirectoryDesk
    referrals: ReferralDesk
    plans: PlanDesk
    legal: LegalDesk
    webhooks: WebhookDesk
    checklists: Checklists
    request_context: RequestContext | None
    loaders: dict[str, Any] = field(default_factory=dict)
    exports: int = 0  # accessLogExport fields answered in this request: one per request (each is a whole file)
    households: int = 0  # household fields answered in this request: one (each reads every member through the gate)

    @property
    def request(self) -> RequestContext:
        """The authenticated request; AuthenticationError if there is none."""
        if self.request_context is None:
            raise AuthenticationError("no bearer token was sent", reason="token_missing")
        return self.request_context


Info = _Info[Context, None]
