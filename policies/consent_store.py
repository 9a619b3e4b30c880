"""Consents and break-glass grants in the store. Callers own the transaction (no commits here)."""

from __future__ import annotations

import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from policies.consents import ConsentRecord, ConsentStatus, Grantor, Provision
from store.reads import Reads
from store.tables import BreakGlassGrant, Consent, ConsentVersion

_CONSENTS = Consent.__table__
# Built once (a request binds only the ids): every consent that can still say something, active or revoked.
_FOR_CLIENTS = select(*_CONSENTS.c).where(
    _CONSENTS.c.client_id.in_(bindparam("ids", expanding=True)),
    _CONSENTS.c.status.in_([ConsentStatus.ACTIVE.value, ConsentStatus.INACTIVE.value]))


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """An emergency (break-glass) grant."""

    id: str
    client_id: str
    subject: str
    organization: str
    justification: str
    started_at: datetime
    expires_at: datetime


class ConsentStore:
    """Reads and writes consents and grants inside a session the caller controls."""

    async def for_clients(self, reads: Reads, client_ids: Sequence[str]) -> dict[str, list[ConsentRecord]]:
        """Every consent that can still say something (active or revoked), per client, in one query.

        Runs on the hot path of every profile request: a Core select of plain rows (no ORM identity map),
        and each consent version parsed once.
        """
        rows = await reads.rows(_FOR_CLIENTS, {"ids": sorted(set(client_ids))})
        out: dict[str, list[ConsentRecord]] = defaultdict(list)
        for row in rows:
            out[row.client_id].append(_parsed(row))
        return out

    async def list_for_client(self, session: AsyncSession, client_id: str) -> list[ConsentRecord]:
        """All of one client's consents, newest first."""
        rows = (await session.execute(
            select(Consent).where(Consent.client_id == client_id).order_by(Consent.recorded_at.desc(), Consent.id)
        )).scalars()
        return [to_record(r) for r in rows]

    async def get(self, session: AsyncSession, consent_id: str, *, for_update: bool = False) -> Consent | None:
        """The consent row, or None."""
        stmt = select(Consent).where(Consent.id == consent_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def add(
        self, session: AsyncSession, *, client_id: str, grantor: Grantor, source_reference: str, given_at: datetime,
        provisions: Sequence[Provision], subject: str, org: str, now: datetime,
    ) -> ConsentRecord:
        """Record a new active consent."""
        row = Consent(
            id=str(uuid.uuid4()), client_id=client_id, status=ConsentStatus.ACTIVE.value, grantor=grantor.value,
            source_reference=source_reference, given_at=given_at, recorded_by_subject=subject,
            recorded_by_org=org, recorded_at=now, updated_at=now, version=1,
            provisions=[p.to_json() for p in provisions],
        )
        session.add(row)
        await session.flush()
        return to_record(row)

    async def amend(
        self, session: AsyncSession, row: Consent, *, provisions: Sequence[Provision],
        source_reference: str | None, subject: str, now: datetime,
    ) -> ConsentRecord:
        """Replace the provisions (and the form reference), keeping the previous version."""
        session.add(ConsentVersion(consent_id=row.id, version=row.version, snapshot=_snapshot(row),
                                   replaced_at=now, replaced_by_subject=subject))
        row.provisions = [p.to_json() for p in provisions]
        if source_reference:
            row.source_reference = source_reference
        row.version += 1
        row.updated_at = now
        await session.flush()
        return to_record(row)

    async def revoke(
        self, session: AsyncSession, row: Consent, *, subject: str, org: str, reason: str | None, now: datetime,
    ) -> ConsentRecord:
        """Mark revoked from `now` on; the row stays."""
        row.revoked_at = now
        row.revoked_by_subject = subject
        row.revoked_by_org = org
        row.revocation_reason = reason
        row.status = ConsentStatus.INACTIVE.value
        row.updated_at = now
        await session.flush()
        return to_record(row)

    async def add_grant(
        self, session: AsyncSession, *, client_id: str, subject: str, org: str, justification: str,
        now: datetime, expires_at: datetime,
    ) -> GrantRecord:
        """Open a break-glass grant."""
        row = BreakGlassGrant(id=str(uuid.uuid4()), client_id=client_id, subject=subject, organization=org,
                              justification=justification, started_at=now, expires_at=expires_at)
        session.add(row)
        await session.flush()
        return _grant(row)

    async def active_grants(
        self, session: AsyncSession, *, client_ids: Sequence[str], subject: str, org: str, now: datetime,
    ) -> dict[str, GrantRecord]:
        """The caller's unexpired break-glass grant per client (the latest one)."""
        rows = (await session.execute(
            select(BreakGlassGrant).where(
                BreakGlassGrant.client_id.in_(list(set(client_ids))), BreakGlassGrant.subject == subject,
                BreakGlassGrant.organization == org, BreakGlassGrant.expires_at > now,
            ).order_by(BreakGlassGrant.expires_at)
        )).scalars()
        return {r.client_id: _grant(r) for r in rows}


def to_record(row: Any) -> ConsentRecord:
    """The domain view of a consent row."""
    return ConsentRecord(
        id=row.id, client_id=row.client_id, status=ConsentStatus(row.status), grantor=Grantor(row.grantor),
        source_reference=row.source_reference, given_at=row.given_at,
        recorded_by_subject=row.recorded_by_subject, recorded_by_org=row.recorded_by_org,
        recorded_at=row.recorded_at, provisions=tuple(Provision.from_json(p) for p in row.provisions),
        version=row.version, updated_at=row.updated_at,
        revoked_at=row.revoked_at, revoked_by_org=row.revoked_by_org,
        revocation_reason=row.revocation_reason,
    )


_PARSED: OrderedDict[tuple[Any, ...], ConsentRecord] = OrderedDict()
_PARSED_MAX = 8192


def _parsed(row: Any) -> ConsentRecord:
    """The record for a consent row, parsed once per (id, version, status, revocation)."""
    key = (row.id, row.version, row.status, row.revoked_at)
    record = _PARSED.get(key)
    if record is None:
        record = to_record(row)
        _PARSED[key] = record
        if len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return record


def _grant(row: BreakGlassGrant) -> GrantRecord:
    return GrantRecord(row.id, row.client_id, row.subject, row.organization, row.justification,
                       row.started_at, row.expires_at)


def _snapshot(row: Consent) -> dict[str, object]:
    return {"provisions": row.provisions, "source_reference": row.source_reference, "status": row.status,
            "updated_at": row.updated_at.isoformat()}

