"""Writing a checkpoint on demand (the CLI, exports, retention)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from audit.access_records import add_checkpoint
from audit.chain_writer import LOCK_HEAD
from audit.signing import CheckpointSigner
from store.tables import AuditChainHead, table_of

_LOCK_HEAD_AND_ANCHOR = LOCK_HEAD.returning(table_of(AuditChainHead).c.anchor_hash)  # as appenders lock it


async def lock_head(session: AsyncSession) -> tuple[int, str, int, str]:
    """Lock the chain head (as appenders do) and read it: (seq, hash, anchor_seq, anchor_hash)."""
    row = (await session.execute(_LOCK_HEAD_AND_ANCHOR)).one()
    return int(row[0]), str(row[1]), int(row[2]), str(row[3])


async def checkpoint_head(session: AsyncSession, signer: CheckpointSigner, *, reason: str) -> dict[str, Any]:
    """Sign where the chain ends now."""
    seq, digest, anchor, _ = await lock_head(session)
    return await add_checkpoint(session, signer, seq=seq, hash=digest, count=seq - anchor,
                                now=datetime.now(UTC), reason=reason)
