"""The per-request GraphQL context: who is asking, why, and the gate to ask through."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.types import Info as _Info

from checklists.config import Checklists
from core.errors import AuthenticationError, InvalidInput
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
    answered: dict[str, int] = field(default_factory=dict)  # fields answered once per request (Context.once)

    def once(self, field: str) -> None:
        """InvalidInput if `field` was already answered in this request: for a field whose answer is large or reads
        much (an access-log export, a household), aliases or a list of clients would multiply it."""
        self.answered[field] = self.answered.get(field, 0) + 1
        if self.answered[field] > 1:
            raise InvalidInput(f"{field} is answered once per request", field=field)

    @property
    def request(self) -> RequestContext:
        """The authenticated request; AuthenticationError if there is none."""
        if self.request_context is None:
            raise AuthenticationError("no bearer token was sent", reason="token_missing")
        return self.request_context


Info = _Info[Context, None]
