"""The tables casebridge keeps. Agency program data is not among them (DESIGN.md, Storage)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names so that migrations read the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for a log.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp with its zone, read back as aware UTC on every backend (SQLite drops the zone).

    Naive values written are taken as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UtcDateTime()}


def table_of(model: type[Base]) -> Table:
    """A mapped class's Table (SQLAlchemy types __table__ as any FromClause; every one here is a Table)."""
    found = model.__table__
    assert isinstance(found, Table)
    return found


class Client(Base):
    """A person as casebridge knows them: a stable id standing for linked source records."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SourceLink(Base):
    """The crosswalk: one agency record (source, local id) linked to one client."""

    __tablename__ = "source_links"
    __table_args__ = (
        UniqueConstraint("source", "local_id", name="uq_source_links_source_local_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    local_id: Mapped[str] = mapped_column(String(64))
    how: Mapped[str] = mapped_column(String(16), default="rule")  # rule | score | manual
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    # why: the rule or score that joined this record to the client, through which of its records (via);
    # a steward's link carries who decided and their reason
    rule: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    via_source: Mapped[str | None] = mapped_column(String(64))
    via_local_id: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(255))


class AccessEvent(Base):
    """One client's part of one request: who, why, which categories, what was decided and done.

    Never the disclosed data itself.
    """

    __tablename__ = "access_events"
    __table_args__ = (
        Index("ix_access_events_client_id_recorded_at", "client_id", "recorded_at"),
        Index("ix_access_events_recorded_at", "recorded_at"),
        Index("ix_access_events_subject_recorded_at", "subject", "recorded_at"),
        UniqueConstraint("seq", name="uq_access_events_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # the hash chain: position (gapless), the previous event's hash, this event's hash
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(String(255))
    organization: Mapped[str] = mapped_column(String(64))
    roles: Mapped[list[str]] = mapped_column(JSON)
    oauth_client: Mapped[str | None] = mapped_column(String(255))
    purpose: Mapped[str | None] = mapped_column(String(32))
    operation: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(40))  # None for events about no client (exports)
    action: Mapped[str] = mapped_column(String(32), default="read")
    categories: Mapped[str] = mapped_column(String(255), default="")  # ",benefits,documents," for filtering
    # [{category, source, decision, rule_ids, basis, outcome, error_code}]
    decisions: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(String(32))
    justification: Mapped[str | None] = mapped_column(Text)  # the user's own words, never client data
    break_glass: Mapped[bool] = mapped_column(default=False)


class Consent(Base):
    """A client's consent, shaped like FHIR R4 Consent. Revocation is a timestamp; rows are never deleted."""

    __tablename__ = "consents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # FHIR: draft proposed active rejected inactive entered-in-error
    grantor: Mapped[str] = mapped_column(String(16))  # client | guardian
    source_reference: Mapped[str] = mapped_column(String(200))  # the signed form
    given_at: Mapped[datetime] = mapped_column()
    recorded_by_subject: Mapped[str] = mapped_column(String(255))
    recorded_by_org: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # [{type, organizations, categories, purposes, period_start, period_end, data_period_start, data_period_end}]
    provisions: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by_subject: Mapped[str | None] = mapped_column(String(255))
    revoked_by_org: Mapped[str | None] = mapped_column(String(64))
    revocation_reason: Mapped[str | None] = mapped_column(String(500))


class ConsentVersion(Base):
    """A consent as it was before an amendment (the history FHIR keeps as resource versions)."""

    __tablename__ = "consent_versions"
    __table_args__ = (UniqueConstraint("consent_id", "version", name="uq_consent_versions_consent_id_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consent_id: Mapped[str] = mapped_column(ForeignKey("consents.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, object]] = mapped_column(JSON)
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_by_subject: Mapped[str] = mapped_column(String(255))


class BreakGlassGrant(Base):
    """Time-limited emergency access by one user to one client, justified and flagged for review."""

    __tablename__ = "break_glass_grants"
    __table_args__ = (Index("ix_break_glass_grants_client_id_subject", "client_id", "subject"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id"))
    subject: Mapped[str] = mapped_column(String(255))
    organization: Mapped[str] = mapped_column(String(64))
    justification: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    reviewed_at: Mapped[datetime | None] = mapped_column()
    reviewed_by: Mapped[str | None] = mapped_column(String(255))


class AuditChainHead(Base):
    """The one row that says where the access-log chain ends (and, after retention, where it starts).

    Appenders lock this row first, so concurrent writers extend one chain.
    """

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)  # events up to here were archived and removed
    anchor_hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement: the chain had `count` events and ended in `hash` at `seq`, at `created_at`."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(String(32))  # periodic | export | retention | manual
    key_id: Mapped[str] = mapped_column(String(128))
    signature: Mapped[str] = mapped_column(Text)  # compact JWS over the canonical checkpoint


# Housing connector snapshots: the last imported HMIS CSV export, per HMIS source.
# The agency's records stay the agency's; this is its latest export, dated by ExportDate.


class HmisSnapshot(Base):
    """Which export a source's snapshot is, and when its data was true (ExportDate)."""

    __tablename__ = "hmis_snapshots"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    export_id: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    csv_version: Mapped[str] = mapped_column(String(16))
    exported_at: Mapped[datetime] = mapped_column()
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)


class HmisImport(Base):
    """Every export applied to a snapshot: full, delta or a period's, its counts, and the rows it left out
    (quarantined: where and why, never the values)."""

    __tablename__ = "hmis_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    export_id: Mapped[str] = mapped_column(String(32))
    directive: Mapped[str] = mapped_column(String(8))  # "full" | "delta" | "period" (ExportDirective 2, 1, 3)
    period_type: Mapped[int | None] = mapped_column(Integer)  # ExportPeriodType, as the export says
    csv_version: Mapped[str] = mapped_column(String(16))
    exported_at: Mapped[datetime] = mapped_column()
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    quarantined_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # the first QUARANTINE_KEPT problems: {"file", "line", "column", "message"}
    quarantined: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")


class HmisProject(Base):
    __tablename__ = "hmis_projects"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_name: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    project_type: Mapped[int] = mapped_column(Integer)
    date_updated: Mapped[datetime] = mapped_column()


class HmisClient(Base):
    """Client.csv: demographics with HUD data-quality codes (1 full, 2 partial, 8, 9, 99)."""

    __tablename__ = "hmis_clients"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    name_suffix: Mapped[str | None] = mapped_column(String(20))
    name_data_quality: Mapped[int | None] = mapped_column(Integer)
    ssn: Mapped[str | None] = mapped_column(String(9))
    ssn_data_quality: Mapped[int | None] = mapped_column(Integer)
    dob: Mapped[date | None] = mapped_column(Date)
    dob_data_quality: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))  # F / M, from Sex (FY2026) or Woman/Man (FY2024)
    date_updated: Mapped[datetime] = mapped_column()


class HmisEnrollment(Base):
    __tablename__ = "hmis_enrollments"
    __table_args__ = (Index("ix_hmis_enrollments_person", "source", "personal_id"),)

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    enrollment_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(32))
    project_id: Mapped[str] = mapped_column(String(32))
    entry_date: Mapped[date] = mapped_column(Date)
    household_id: Mapped[str | None] = mapped_column(String(32))
    relationship_to_hoh: Mapped[int | None] = mapped_column(Integer)
    living_situation: Mapped[int | None] = mapped_column(Integer)
    move_in_date: Mapped[date | None] = mapped_column(Date)
    # chronic homelessness at project start (connectors/hmis/chronic.py): HUD's codes as exported
    length_of_stay: Mapped[int | None] = mapped_column(Integer)
    los_under_threshold: Mapped[int | None] = mapped_column(Integer)
    previous_street_essh: Mapped[int | None] = mapped_column(Integer)
    date_to_street_essh: Mapped[date | None] = mapped_column(Date)
    times_homeless_past_three_years: Mapped[int | None] = mapped_column(Integer)
    months_homeless_past_three_years: Mapped[int | None] = mapped_column(Integer)
    disabling_condition: Mapped[int | None] = mapped_column(Integer)
    date_updated: Mapped[datetime] = mapped_column()


class HmisExit(Base):
    __tablename__ = "hmis_exits"
    __table_args__ = (Index("ix_hmis_exits_enrollment", "source", "enrollment_id"),)

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    exit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enrollment_id: Mapped[str] = mapped_column(String(32))
    personal_id: Mapped[str] = mapped_column(String(32))
    exit_date: Mapped[date] = mapped_column(Date)
    destination: Mapped[int | None] = mapped_column(Integer)
    date_updated: Mapped[datetime] = mapped_column()


class HmisEmployment(Base):
    """EmploymentEducation.csv's employment answers (HUD R6): one per stay and data collection stage, as exported
    (codes of HUD's lists: 5.03.1 stage, 1.8 employed, R6.A type, R6.B reason not employed)."""

    __tablename__ = "hmis_employment"
    __table_args__ = (Index("ix_hmis_employment_enrollment", "source", "enrollment_id"),)

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    employment_education_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    enrollment_id: Mapped[str] = mapped_column(String(32))
    personal_id: Mapped[str] = mapped_column(String(32))
    information_date: Mapped[date] = mapped_column(Date)
    data_collection_stage: Mapped[int] = mapped_column(Integer)
    employed: Mapped[int | None] = mapped_column(Integer)
    employment_type: Mapped[int | None] = mapped_column(Integer)
    not_employed_reason: Mapped[int | None] = mapped_column(Integer)
    date_updated: Mapped[datetime] = mapped_column()


# The identity index: every agency record's demographics (synced from the connectors), the steward's
# decisions, and how client ids moved when clusters merged or split.


class IdentityRecord(Base):
    """One agency record of a person, demographics only, as the agency last listed it."""

    __tablename__ = "identity_records"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    dob: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(1))
    ssn: Mapped[str | None] = mapped_column(String(9))
    ssn_last4: Mapped[str | None] = mapped_column(String(4))
    ssn_quality: Mapped[int | None] = mapped_column(Integer)
    name_quality: Mapped[int | None] = mapped_column(Integer)
    dob_quality: Mapped[int | None] = mapped_column(Integer)
    cin: Mapped[str | None] = mapped_column(String(8))
    student_id: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(200))  # street line as the agency wrote it
    zip: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(20))
    updated: Mapped[datetime | None] = mapped_column()
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
    not_for_release: Mapped[str | None] = mapped_column(String(64))  # "address,phone": withheld by the agency
    known_since: Mapped[date | None] = mapped_column(Date)  # the agency's earliest enrolment or entry of the person


class IdentityWatermark(Base):
    """Where the last sync of a source stopped (the connector's opaque watermark)."""

    __tablename__ = "identity_watermarks"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    watermark: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)


class LinkDecision(Base):
    """A steward's decision about two records: the same person, or not. Batch relinking obeys it."""

    __tablename__ = "identity_decisions"
    __table_args__ = (Index("ix_identity_decisions_a", "source_a", "local_a"),
                      Index("ix_identity_decisions_b", "source_b", "local_b"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_a: Mapped[str] = mapped_column(String(64))
    local_a: Mapped[str] = mapped_column(String(64))
    source_b: Mapped[str] = mapped_column(String(64))
    local_b: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str] = mapped_column(String(16))  # "same" | "different"
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(255))
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClientSuccessor(Base):
    """A client id that stopped standing alone: merged into another, or split into several."""

    __tablename__ = "client_successors"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    old_client_id: Mapped[str] = mapped_column(String(40), index=True)
    new_client_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(16))  # "merge" | "split"
    at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentityKey(Base):
    """A blocking key of a record ("kind:value"): records sharing one are compared; the online matcher and
    searchClients find their candidates here."""

    __tablename__ = "identity_keys"
    __table_args__ = (Index("ix_identity_keys_record", "source", "local_id"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class IdentityModel(Base):
    """The matching model a relink trained (m and u per field and level, thresholds); the newest is used
    by online matching, search and explanations."""

    __tablename__ = "identity_models"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    records: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, object]] = mapped_column(JSON)


class IdentityReview(Base):
    """A pair of records the matcher could not decide (probable or possible): the steward's queue."""

    __tablename__ = "identity_review"
    __table_args__ = (Index("ix_identity_review_status_score", "status", "score"),
                      Index("ix_identity_review_a", "source_a", "local_a"),
                      Index("ix_identity_review_b", "source_b", "local_b"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_a: Mapped[str] = mapped_column(String(64))
    local_a: Mapped[str] = mapped_column(String(64))
    source_b: Mapped[str] = mapped_column(String(64))
    local_b: Mapped[str] = mapped_column(String(64))
    grade: Mapped[str] = mapped_column(String(16))  # probable | possible
    # why in doubt: 'score', 'borrowed:ssn' (a shared identifier the other fields contradict), 'ids-differ'
    # (the score says one person, their clusters hold different CINs or SSNs); None: found before 0011
    reason: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved | withdrawn
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    resolved_by: Mapped[str | None] = mapped_column(String(255))
    decision_id: Mapped[int | None] = mapped_column(BigInteger)
