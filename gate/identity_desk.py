"""The identity desk: who may review, decide and search, and the access log around it.

Stewards read the index's demographics (the review queue, a client's links) and
make decisions; every read is written to the access log per client touched, and
every decision is written in the decision's own transaction (no log, no
decision). Search is for the staff who help clients; what a caller then sees
of a candidate is decided by the gate, like any profile.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.records import AuditRecorder, SectionOutcome, action_record
from core.errors import InvalidInput, PermissionDenied, PurposeRequired
from core.principal import RequestContext
from core.vocabulary import Category, Role
from identity import steward
from identity.online import ClientMatch, SearchQuery, search

MAX_PAGE = 100
STEWARD_RULE = "role:identity_steward"  # decided by the role check here, not by a Cedar policy
SEARCHERS = (Role.CASEWORKER, Role.PARTNER)


class IdentityDesk:
    def __init__(self, *, sessions: async_sessionmaker[Any], recorder: AuditRecorder) -> None:
        self._sessions = sessions
        self._recorder = recorder

    async def review_queue(self, ctx: RequestContext, *, first: int, after: int | None
                           ) -> tuple[list[steward.ReviewItem], bool]:
        """A page of open review items (stewards only); each client shown is logged."""
        _steward(ctx)
        if not 1 <= first <= MAX_PAGE:
            raise InvalidInput(f"first is 1 to {MAX_PAGE}", field="first")
        items, more = await steward.review_queue(self._sessions, first=first, after=after)
        shown: dict[str | None, tuple[list[int], list[steward.IndexedRecord]]] = {}
        for item in items:
            for r in (item.a, item.b):
                ids, records = shown.setdefault(r.client_id, ([], []))
                ids.append(item.id)
                records.append(r)
        await self._recorder.record([
            action_record(ctx, "identity.review", cid, detail=_ids("review items", ids), sections=_shown(records))
            for cid, (ids, records) in shown.items()])
        return items, more

    async def explain(self, ctx: RequestContext, client_id: str) -> steward.ClientExplanation:
        """Which records a client links and why (stewards only); logged."""
        _steward(ctx)
        out = await steward.explain(self._sessions, client_id)
        await self._recorder.record([action_record(ctx, "identity.explain", client_id,
                                                   sections=_shown([ln.record for ln in out.links]))])
        return out

    async def resolve(self, ctx: RequestContext, item_id: int, decision: str, reason: str) -> steward.DecisionResult:
        """Decide an open review item: the same person, or not."""
        _steward(ctx)
        item = await steward.review_item(self._sessions, item_id)
        return await steward.decide(self._sessions, (item.source_a, item.local_a), (item.source_b, item.local_b),
                                    decision, reason=reason, by=ctx.principal.subject, review_id=item_id,
                                    audit=self._audit(ctx, f"resolve review {item_id}: {decision}"))

    async def link(self, ctx: RequestContext, a: tuple[str, str], b: tuple[str, str], reason: str
                   ) -> steward.DecisionResult:
        """Link two records by hand: they are the same person (their clients merge)."""
        _steward(ctx)
        return await steward.decide(self._sessions, a, b, "same", reason=reason, by=ctx.principal.subject,
                                    audit=self._audit(ctx, "link"))

    async def unlink(self, ctx: RequestContext, record: tuple[str, str], reason: str) -> steward.DecisionResult:
        """Take a record out of its client by hand."""
        _steward(ctx)
        return await steward.unlink(self._sessions, record, reason=reason, by=ctx.principal.subject,
                                    audit=self._audit(ctx, "unlink"))

    async def search(self, ctx: RequestContext, query: SearchQuery, *, limit: int) -> list[ClientMatch]:
        """Candidate clients for what the caller knows (staff who help clients; a purpose of use is required).
        The search itself is logged without its terms; the gate logs what is then shown of each candidate."""
        if not any(ctx.principal.has(r) for r in SEARCHERS):
            raise PermissionDenied("only caseworkers and partner staff search clients")
        if ctx.purpose is None:
            raise PurposeRequired("a purpose of use is required to search clients")
        if not 1 <= limit <= 50:
            raise InvalidInput("first is 1 to 50", field="first")
        if not query.usable():
            raise InvalidInput("give an identifier (CIN, SSN, student id), or a last name with a first name or a "
                               "date of birth", field="input")
        found = await search(self._sessions, query, limit=limit)
        await self._recorder.record([action_record(ctx, "identity.search", None,
                                                   detail=f"{len(found)} candidates")])
        return found

    def _audit(self, ctx: RequestContext, what: str) -> steward.AuditHook:
        async def write(session: AsyncSession, decision_id: int, clients: list[str]) -> None:
            detail = f"decision {decision_id}: {what}"
            await self._recorder.record([action_record(ctx, "identity.decide", cid, detail=detail)
                                         for cid in clients or [None]], session=session)  # type: ignore[list-item]
        return write


def _steward(ctx: RequestContext) -> None:
    if not ctx.principal.has(Role.IDENTITY_STEWARD):
        raise PermissionDenied("only identity stewards review and decide identity matches")


def _shown(records: Iterable[steward.IndexedRecord]) -> tuple[SectionOutcome, ...]:
    """What a steward was shown of one client, from the index: the identity basics of each source's record,
    and its contact details (address, ZIP, phone) where the index holds them. Logged as disclosed, so the
    client's disclosure report lists it."""
    shown = {(r.source, Category.IDENTITY) for r in records}
    shown |= {(r.source, Category.CONTACT) for r in records if r.address or r.zip or r.phone}
    return tuple(SectionOutcome(category=str(category), connector="identity-index", holder=source,
                                decision="permit", rule_ids=(STEWARD_RULE,), basis="identity-stewardship",
                                outcome="disclosed") for source, category in sorted(shown))


def _ids(what: str, ids: list[int]) -> str:
    return f"{what} {','.join(map(str, sorted(set(ids))))}"[:500]
