"""the access log becomes a hash chain: seq, prev_hash, hash; chain head; signed checkpoints

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

# The chain's format, version 1, as it was when this migration was written (a migration never imports live
# code: audit/chain.py may gain a version 2; tests/test_migrations.py checks this copy still agrees with v1).
GENESIS = "0" * 64
CONTENT_FIELDS = (
    "request_id", "recorded_at", "subject", "organization", "roles", "oauth_client", "purpose", "operation",
    "client_id", "action", "categories", "decisions", "outcome", "detail", "legal_basis", "justification",
    "break_glass",
)


def event_hash(*, seq: int, prev_hash: str, event: dict[str, Any]) -> str:
    """SHA-256 over canonical JSON of the event's content, its position and the previous hash (version 1)."""
    body = {name: event[name] for name in CONTENT_FIELDS}
    at = body["recorded_at"]
    if isinstance(at, datetime):
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body.update(recorded_at=at, roles=list(body["roles"] or []), break_glass=bool(body["break_glass"]))
    payload = {"v": 1, "seq": seq, "prev": prev_hash, "event": body}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                          .encode()).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("access_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("categories", sa.String(255), nullable=False, server_default=""))
        batch.alter_column("client_id", existing_type=sa.String(40), nullable=True)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(128), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_seq", "audit_checkpoints", ["seq"])
    _chain_existing_events()
    with op.batch_alter_table("access_events") as batch:
        batch.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_access_events_seq", ["seq"])
    op.create_index("ix_access_events_recorded_at", "access_events", ["recorded_at"])
    op.create_index("ix_access_events_subject_recorded_at", "access_events", ["subject", "recorded_at"])


def _chain_existing_events() -> None:
    """Events written before the chain existed join it in id order."""
    conn = op.get_bind()
    events = sa.table("access_events", *(sa.column(c) for c in (
        "id", "seq", "prev_hash", "hash", "categories", "request_id", "recorded_at", "subject", "organization",
        "roles", "oauth_client", "purpose", "operation", "client_id", "action", "decisions", "outcome",
        "detail", "legal_basis", "justification", "break_glass")))
    events.c.roles.type = sa.JSON()
    events.c.decisions.type = sa.JSON()
    events.c.recorded_at.type = TS
    prev, seq = GENESIS, 0
    for row in conn.execute(sa.select(events).order_by(events.c.id)).mappings().all():
        seq += 1
        cats = "," + ",".join(sorted({d["category"] for d in row["decisions"] or []})) + ","
        record = {**row, "categories": cats if cats != ",," else ""}
        digest = event_hash(seq=seq, prev_hash=prev, event=record)
        conn.execute(events.update().where(events.c.id == row["id"]).values(
            seq=seq, prev_hash=prev, hash=digest, categories=record["categories"]))
        prev = digest
    conn.execute(sa.text("INSERT INTO audit_chain_head (id, seq, hash, anchor_seq, anchor_hash) "
                         "VALUES (1, :seq, :hash, 0, :genesis)"), {"seq": seq, "hash": prev, "genesis": GENESIS})


def downgrade() -> None:
    op.drop_index("ix_access_events_subject_recorded_at", table_name="access_events")
    op.drop_index("ix_access_events_recorded_at", table_name="access_events")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("access_events") as batch:
        batch.drop_constraint("uq_access_events_seq", type_="unique")
        batch.drop_column("categories")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("seq")
