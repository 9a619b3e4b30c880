"""Retention: events older than the retention period are archived (with their proof), then removed.

The chain stays verifiable across the cut: the head records the last removed
position and its hash (the anchor), a checkpoint signed at the anchor says so,
and verification starts from there.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from audit.access_records import AccessRecord, AuditRecorder
from audit.checkpoints import lock_head
from audit.export import read_slice, write
from audit.queries import LogFilter
from audit.signing import CheckpointSigner
from store.tables import AccessEvent, AuditChainHead, AuditCheckpoint, table_of


@dataclass(frozen=True, slots=True)
class RetentionResult:
    """What a retention run did."""

    archived: int
    anchor_seq: int | None
    archive: Path | None


async def retain(
    sessions: async_sessionmaker[Any], signer: CheckpointSigner, recorder: AuditRecorder, *,
    retention_days: int, archive_dir: Path, now: datetime, operator: AccessRecord,
) -> RetentionResult:
    """Archive and remove every event recorded before `now - retention_days` (a prefix of the chain)."""
    cutoff = now - timedelta(days=retention_days)
    async with sessions() as session:
        anchor = (await session.execute(select(AuditChainHead.anchor_seq))).scalar_one()
        cut = (await session.execute(select(func.max(AccessEvent.seq)).where(AccessEvent.recorded_at < cutoff))
               ).scalar_one()
        if cut is None or cut <= anchor:
            return RetentionResult(0, None, None)
        slice_ = await read_slice(session, signer, LogFilter(), reason="retention", max_seq=cut)
    archive = archive_dir / f"access-log-{anchor + 1:012d}-{cut:012d}.jsonl"
    write(slice_, "jsonl", archive)  # on disk (fsynced) before anything is removed
    cp = slice_.proof["checkpoint"]
    async with sessions.begin() as session:
        _, _, current_anchor, _ = await lock_head(session)
        if current_anchor != anchor:
            raise RuntimeError("another retention run moved the anchor; nothing removed")
        await session.execute(insert(table_of(AuditCheckpoint)).values(
            seq=cp["seq"], hash=cp["hash"], count=cp["count"], created_at=now, reason="retention",
            key_id=cp["key_id"], signature=cp["signature"]))
        await session.execute(delete(AccessEvent).where(AccessEvent.seq <= cut))
        await session.execute(update(AuditChainHead).where(AuditChainHead.id == 1)
                              .values(anchor_seq=cut, anchor_hash=cp["hash"]))
        detail = f"archived seq {anchor + 1}..{cut} to {archive.name}"
        await recorder.record([replace(operator, detail=detail)], session=session)
    return RetentionResult(len(slice_.events), cut, archive)
