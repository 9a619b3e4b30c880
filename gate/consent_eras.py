"""Since when a client's consent has let an organisation see a holder's documents (issue 20 §5: a review is due
from when the file became the organisation's to see). Not the consent's last change: amending another provision
moves nothing. The consent's versions (consent_versions) say what it said when - the first from when it was given,
each later one from the amendment that replaced the one before - and a provision's own period may start later.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.vocabulary import Category
from policies.consents import Provision
from store.tables import Consent, ConsentVersion

Grant = tuple[str, str, str]  # (consent id, organisation, holder of the documents)


async def permitted_since(session: AsyncSession, wants: Iterable[Grant]) -> dict[Grant, datetime]:
    """For each (consent, organisation, holder), since when the consent's permits have named the organisation
    and the holder's documents without a break up to now, and their period has run (the latest of the two)."""
    wanted = sorted(set(wants))
    ids = sorted({c for c, _, _ in wanted})
    if not ids:
        return {}
    rows = {row.id: row for row in (await session.execute(select(Consent).where(Consent.id.in_(ids)))).scalars()}
    before: dict[str, list[ConsentVersion]] = defaultdict(list)
    for v in (await session.execute(select(ConsentVersion).where(ConsentVersion.consent_id.in_(ids))
                                    .order_by(ConsentVersion.consent_id, ConsentVersion.version))).scalars():
        before[v.consent_id].append(v)
    out: dict[Grant, datetime] = {}
    for cid, org, holder in wanted:
        row = rows.get(cid)
        if row is None:
            continue
        eras: list[tuple[datetime, list[Any]]] = []
        start = row.given_at
        for v in before[cid]:
            stored = v.snapshot.get("provisions")
            eras.append((start, stored if isinstance(stored, list) else []))
            start = v.replaced_at
        eras.append((start, list(row.provisions)))
        began: datetime | None = None
        current: list[Provision] = []
        for at, stored in reversed(eras):
            naming = [p for p in _provisions(stored) if p.type == "permit" and p.names(org, Category.DOCUMENTS, holder)]
            if not naming:
                break
            began, current = at, current or naming
        if began is None:
            continue
        starts = [p.period_start for p in current]
        if all(s is not None for s in starts):
            began = max(began, min(s for s in starts if s is not None))
        out[(cid, org, holder)] = began
    return out


def _provisions(stored: list[Any]) -> list[Provision]:
    out = []
    for data in stored:
        try:
            out.append(Provision.from_json(data))
        except (KeyError, TypeError, ValueError):  # a snapshot from before a vocabulary change: it names nothing now
            continue
    return out
