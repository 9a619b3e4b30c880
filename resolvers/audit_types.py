"""GraphQL types for the access log (auditors) and the disclosure report (clients)."""

from __future__ import annotations

import base64
from datetime import datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from audit import queries
from audit.verify import Report
from core.errors import ErrorCode, InvalidInput, error_code
from gate.audit_desk import LogExport
from policies.decisions import Basis, basis_of
from resolvers.enums import Category


@strawberry.type(description="One category from one agency in one access event: the decision and what it rested on.")
class AccessDecision:
    category: str
    agency: str
    connector: str
    decision: str
    rule_ids: list[str]
    basis: Basis | None
    reason: str | None
    consent_id: str | None
    legal_basis: str | None
    break_glass: bool
    outside_consent_purpose: bool
    outcome: str
    error_code: ErrorCode | None


@strawberry.type(description="One access event: who, why, which client, what was decided and done. Never client data.")
class AccessEvent:
    seq: int
    recorded_at: datetime
    request_id: str
    subject: str
    organization: str
    roles: list[str]
    oauth_client: str | None
    purpose: str | None
    operation: str | None
    client_id: strawberry.ID | None
    action: str
    outcome: str
    detail: str | None
    legal_basis: str | None
    justification: str | None
    break_glass: bool
    decisions: list[AccessDecision]
    prev_hash: str
    hash: str


@strawberry.type
class AccessEventEdge:
    cursor: str
    node: AccessEvent


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="A page of the access log, newest first.")
class AccessEventConnection:
    edges: list[AccessEventEdge]
    page_info: PageInfo


@strawberry.input(description="Narrow the access log; every field optional.")
class AccessLogFilter:
    client_id: strawberry.ID | None = None
    subject: str | None = None
    organization: str | None = None
    purpose: str | None = None
    category: Category | None = None
    outcome: str | None = None
    action: str | None = None
    legal_basis: str | None = None
    break_glass: bool | None = None
    since: datetime | None = None
    until: datetime | None = None

    def to_domain(self) -> queries.LogFilter:
        """The audit query filter."""
        return queries.LogFilter(
            client_id=str(self.client_id) if self.client_id else None, subject=self.subject,
            organization=self.organization, purpose=self.purpose,
            category=str(self.category.value) if self.category else None, outcome=self.outcome, action=self.action,
            legal_basis=self.legal_basis, break_glass=self.break_glass, since=self.since, until=self.until)


@strawberry.type
class HeavyReader:
    subject: str
    organization: str
    clients: int
    events: int


@strawberry.type(description="A user the policies refused operations to (a wrong purpose, or probing).")
class RefusedUser:
    subject: str
    organization: str
    refusals: int


@strawberry.type
class OutsidePurposeDenial:
    event: AccessEvent
    category: str


@strawberry.type
class OrganizationWithoutConsent:
    organization: str
    clients: int
    events: int


@strawberry.type(description="Pointers at unusual access in a window.")
class AccessSummary:
    events: int
    break_glass: list[AccessEvent] = strawberry.field(description="Break-glass grants and reads: review each.")
    heavy_readers: list[HeavyReader] = strawberry.field(description="Users who read many clients.")
    outside_consent_purpose: list[OutsidePurposeDenial] = strawberry.field(
        description="Denied reads while a consent names the organisation for other purposes.")
    reads_without_consent: list[OrganizationWithoutConsent] = strawberry.field(
        description="Reads by organisations that neither hold the records nor have the client's consent.")
    refusals: list[RefusedUser] = strawberry.field(
        description="Users the policies refused operations to, most refusals first.")


@strawberry.type
class ChainBreak:
    seq: int = strawberry.field(description="The chain position where it first does not hold.")
    event_id: int | None = strawberry.field(description="The event row there, if one exists (none when missing).")
    problem: str


@strawberry.type(description="Where the chain ended, signed by the gateway's checkpoint key: keep it (it is what "
                 "proves later that the log was not cut short: `casebridge audit verify --witness`).")
class SignedCheckpoint:
    seq: int
    hash: str
    count: int
    created_at: str = strawberry.field(description="UTC, ISO 8601, as signed.")
    reason: str
    key_id: str
    signature: str = strawberry.field(description="A compact JWS (ES256) over the checkpoint's statement.")


@strawberry.type(description="The result of verifying the whole hash chain and its signed checkpoints.")
class AccessLogIntegrity:
    ok: bool
    events_checked: int
    checkpoints_checked: int
    head_seq: int
    first_break: ChainBreak | None
    latest_checkpoint: SignedCheckpoint | None = strawberry.field(
        description="The newest signed checkpoint: one line of the witness, for auditors to keep.")


@strawberry.type(description="One disclosure of the client's data: to which organisation, what, when, on what basis.")
class DisclosureEntry:
    at: datetime
    organization: str
    category: str
    agency: str
    purpose: str | None
    basis: Basis | None
    legal_basis: str | None
    break_glass: bool


def cursor(seq: int) -> str:
    """An opaque cursor for a position in the log."""
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode()


def from_cursor(value: str | None) -> int | None:
    """The position an `after` cursor names; BAD_USER_INPUT if it is not ours."""
    if value is None:
        return None
    try:
        kind, _, seq = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        if kind != "seq":
            raise ValueError(kind)
        return int(seq)
    except ValueError:
        raise InvalidInput("this cursor was not issued by accessLog", field="after") from None


def event_view(e: Any) -> AccessEvent:
    """The GraphQL face of an event row."""
    return AccessEvent(
        seq=e.seq, recorded_at=e.recorded_at, request_id=e.request_id, subject=e.subject,
        organization=e.organization, roles=list(e.roles or []), oauth_client=e.oauth_client, purpose=e.purpose,
        operation=e.operation, client_id=strawberry.ID(e.client_id) if e.client_id else None, action=e.action,
        outcome=e.outcome, detail=e.detail, legal_basis=e.legal_basis, justification=e.justification,
        break_glass=bool(e.break_glass), prev_hash=e.prev_hash, hash=e.hash,
        decisions=[AccessDecision(
            category=d["category"], agency=d["holder"], connector=d["connector"], decision=d["decision"],
            rule_ids=list(d["rule_ids"]), basis=basis_of(d.get("basis")), reason=d.get("reason"),
            consent_id=d.get("consent_id"), legal_basis=d.get("legal_basis"),
            break_glass=bool(d.get("break_glass")), outside_consent_purpose=bool(d.get("outside_consent_purpose")),
            outcome=d["outcome"], error_code=error_code(d.get("error_code"))) for d in e.decisions],
    )


def summary_view(s: queries.Summary) -> AccessSummary:
    """The GraphQL face of a summary."""
    return AccessSummary(
        events=s.events, break_glass=[event_view(e) for e in s.break_glass],
        heavy_readers=[HeavyReader(subject=a, organization=b, clients=c, events=d) for a, b, c, d in s.heavy_readers],
        outside_consent_purpose=[OutsidePurposeDenial(event=event_view(e), category=c)
                                 for e, c in s.outside_consent_purpose],
        reads_without_consent=[OrganizationWithoutConsent(organization=o, clients=c, events=n)
                               for o, c, n in s.reads_without_consent],
        refusals=[RefusedUser(subject=a, organization=b, refusals=n) for a, b, n in s.refusals],
    )


def integrity_view(r: Report, latest: dict[str, Any] | None) -> AccessLogIntegrity:
    """The GraphQL face of a verification report, with the newest signed checkpoint."""
    b = r.first_break
    return AccessLogIntegrity(
        ok=r.ok, events_checked=r.events_checked, checkpoints_checked=r.checkpoints_checked, head_seq=r.head_seq,
        first_break=ChainBreak(seq=b.seq, event_id=b.event_id, problem=b.problem) if b else None,
        latest_checkpoint=SignedCheckpoint(
            seq=latest["seq"], hash=latest["hash"], count=latest["count"], created_at=latest["created_at"],
            reason=latest["reason"], key_id=latest["key_id"], signature=latest["signature"]) if latest else None)


def disclosure_view(d: queries.Disclosure) -> DisclosureEntry:
    """The GraphQL face of a disclosure."""
    return DisclosureEntry(at=d.at, organization=d.organization, category=d.category, agency=d.holder,
                           purpose=d.purpose, basis=basis_of(d.basis), legal_basis=d.legal_basis,
                           break_glass=d.break_glass)



@strawberry.enum(description="The file an access-log export is written as.")
class AccessLogExportFormat(Enum):
    JSONL = "jsonl"
    CSV = "csv"
    FHIR_BUNDLE = "fhir"


@strawberry.type(description=(
    "An export of the access log to keep or hand over: the matching events oldest first, the hash-chain proof of "
    "the range they span and a checkpoint signed when it was made (JSON Lines: the proof on the first line; FHIR: "
    "a collection Bundle of BALP AuditEvents, the proof as a Binary, the checkpoint as Bundle.signature; CSV: the "
    "events, the proof in `proof`). `casebridge audit verify-export` checks a saved file with the gateway's keys."))
class AccessLogExport:
    format: AccessLogExportFormat
    filename: str
    media_type: str
    events: int
    content: str
    proof: JSON | None


def export_view(out: LogExport) -> AccessLogExport:
    return AccessLogExport(format=AccessLogExportFormat(out.fmt), filename=out.filename, media_type=out.media_type,
                           events=out.events, content=out.content,
                           proof=JSON(out.proof) if out.proof is not None else None)
