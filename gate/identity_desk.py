"""The identity desk: the stewards' review, decisions and explanations, and the staff's search.

Who may do each is decided by the policies (policies/operations.cedar: stewards,
for the purpose identity_stewardship; staff search for a care purpose). What a
steward is shown of each agency record is decided by the Cedar policies like any
disclosure (rule `steward-reviews-the-index`): the identity basics and,
separately, the contact details the index holds; a client's refusal naming the
steward's organisation withholds them. Every read is written to the access log
per client touched, with the decisions, and every decision is written in the
decision's own transaction (no log, no decision). A search shows a candidate
only where the caller may see an identity record that exists for it; what the
caller then sees of a candidate is decided by the gate, like any profile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.access_records import SectionOutcome, action_record
from core.errors import InvalidInput
from core.principal import RequestContext
from core.vocabulary import Action, Category
from gate.gate import Gate, section_outcome
from identity import steward
from identity.online import ClientMatch, SearchQuery, search
from policies.decisions import Decision, Resource, Target

MAX_PAGE = 100
# A search answers after a whole number of these: finding candidates the caller may not see costs the index,
# the crosswalk and the consents a few reads that finding nobody does not (measured: +1.7 ms by CIN, medians
# of 30, benchmarks/search_trace), so without it the time told whether the person is in the index.
SEARCH_QUANTUM_MS = 25.0
CONNECTOR = "identity-index"  # the "connector" a steward's view comes through, in the access log
# The index's contact details (category contact): the record's attributes, and the comparison fields they feed.
CONTACT_ATTRS = ("address", "zip", "phone")
_NO_CONTACT: dict[str, Any] = dict.fromkeys(CONTACT_ATTRS)  # a record with its contact fields blanked
CONTACT_FIELDS = ("addr", "zip", "phone")
WITHHELD = "withheld"  # a field's agreement the steward may not see


@dataclass(frozen=True, slots=True)
class ReviewPage:
    """The review items a steward may see, and where the page ended in the queue."""

    items: list[steward.ReviewItem]
    more: bool
    end: int | None  # the last item read (shown or withheld): the next page starts after it
    withheld: int  # items left out: a record's identity data is not the steward's to see


class IdentityDesk:
    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any],
                 search_quantum_ms: float = SEARCH_QUANTUM_MS) -> None:
        self._gate = gate
        self._search_quantum = search_quantum_ms / 1000
        self._sessions = sessions

    async def review_queue(self, ctx: RequestContext, *, first: int, after: int | None) -> ReviewPage:
        """A page of open review items, as the policies allow; each client shown is logged."""
        if not 1 <= first <= MAX_PAGE:
            raise InvalidInput(f"first is 1 to {MAX_PAGE}", field="first")
        await self._gate.authorize(ctx, Action.IDENTITY_REVIEW, [Target.index()])
        async with self._gate.store_work(Action.IDENTITY_REVIEW):
            items, more = await steward.review_queue(self._sessions, first=first, after=after)
        seen = await self._seen(ctx, [r for item in items for r in (item.a, item.b)])
        shown: list[steward.ReviewItem] = []
        logged: dict[str | None, tuple[list[int], list[Seen]]] = {}
        for item in items:
            a, b = seen[_key(item.a)], seen[_key(item.b)]
            if a.record is not None and b.record is not None:
                shown.append(dataclasses.replace(item, a=a.record, b=b.record, fields=_masked(item.fields, a, b)))
            for r, view in ((item.a, a), (item.b, b)):
                ids, views = logged.setdefault(r.client_id, ([], []))
                ids.append(item.id)
                views.append(view)
        on_page = {_key(r) for item in shown for r in (item.a, item.b)}
        await self._gate.record([
            action_record(ctx, Action.IDENTITY_REVIEW, cid, detail=_ids("review items", ids),
                          sections=_sections(views, on_page))
            for cid, (ids, views) in logged.items()]
            or [action_record(ctx, Action.IDENTITY_REVIEW, None, detail="no review items", result="disclosed")])
        return ReviewPage(shown, more, items[-1].id if items else None, len(items) - len(shown))

    async def explain(self, ctx: RequestContext, client_id: str) -> steward.ClientExplanation:
        """Which records a client links and why, as the policies allow; logged."""
        await self._gate.authorize(ctx, Action.IDENTITY_EXPLAIN, [Target.index()])
        async with self._gate.store_work(Action.IDENTITY_EXPLAIN):
            out = await steward.explain(self._sessions, client_id)
        seen = await self._seen(ctx, [ln.record for ln in out.links])
        links = []
        for ln in out.links:
            view = seen[_key(ln.record)]
            if view.record is not None:
                via = seen.get(ln.via) if ln.via else None
                links.append(dataclasses.replace(ln, record=view.record, fields=_masked(ln.fields, view, via)))
        await self._gate.record([action_record(ctx, Action.IDENTITY_EXPLAIN, client_id,
                                                   sections=_sections(seen.values(), set(seen)))])
        return dataclasses.replace(out, links=links)

    async def _seen(self, ctx: RequestContext, records: Sequence[steward.IndexedRecord]
                    ) -> dict[tuple[str, str], Seen]:
        """Each record as the policies let the steward see it: whole, without its contact details, or not at
        all - with the decisions, for the log."""
        distinct = list({_key(r): r for r in records}.values())
        asked = [(r, Category.IDENTITY) for r in distinct]
        asked += [(r, Category.CONTACT) for r in distinct if any(getattr(r, a) for a in CONTACT_ATTRS)]
        resources = [Resource(r.client_id or f"unlinked:{r.source}:{r.local_id}", category,
                              self._gate.holder_of(r.source), CONNECTOR) for r, category in asked]
        decisions = await self._gate.decide(ctx, resources)  # an evaluation error withholds, as for any read
        said: dict[tuple[str, str], list[tuple[Resource, Decision]]] = {}
        for (r, _category), res, d in zip(asked, resources, decisions, strict=True):
            said.setdefault(_key(r), []).append((res, d))
        out = {}
        for r in distinct:
            decided = said[_key(r)]  # identity first, then contact where asked
            contact_refused = len(decided) > 1 and not decided[1][1].permit
            record = None
            if decided[0][1].permit:
                record = dataclasses.replace(r, **_NO_CONTACT) if contact_refused else r
            out[_key(r)] = Seen(_key(r), record, contact_refused, tuple(decided))
        return out

    async def resolve(self, ctx: RequestContext, item_id: int, decision: str, reason: str) -> steward.DecisionResult:
        """Decide an open review item: the same person, or not."""
        await self._gate.authorize(ctx, Action.IDENTITY_RESOLVE, [Target.index()])
        async with self._gate.store_work(Action.IDENTITY_RESOLVE):
            item = await steward.review_item(self._sessions, item_id)
            return await steward.decide(self._sessions, (item.source_a, item.local_a), (item.source_b, item.local_b),
                                        decision, reason=reason, by=ctx.principal.subject, review_id=item_id,
                                        audit=self._audit(ctx, Action.IDENTITY_RESOLVE,
                                                          f"resolve review {item_id}: {decision}"))

    async def link(self, ctx: RequestContext, a: tuple[str, str], b: tuple[str, str], reason: str
                   ) -> steward.DecisionResult:
        """Link two records by hand: they are the same person (their clients merge)."""
        await self._gate.authorize(ctx, Action.IDENTITY_LINK, [Target.index()])
        async with self._gate.store_work(Action.IDENTITY_LINK):
            return await steward.decide(self._sessions, a, b, "same", reason=reason, by=ctx.principal.subject,
                                        audit=self._audit(ctx, Action.IDENTITY_LINK, "link"))

    async def unlink(self, ctx: RequestContext, record: tuple[str, str], reason: str) -> steward.DecisionResult:
        """Take a record out of its client by hand."""
        await self._gate.authorize(ctx, Action.IDENTITY_UNLINK, [Target.index()])
        async with self._gate.store_work(Action.IDENTITY_UNLINK):
            return await steward.unlink(self._sessions, record, reason=reason, by=ctx.principal.subject,
                                        audit=self._audit(ctx, Action.IDENTITY_UNLINK, "unlink"))

    async def search(self, ctx: RequestContext, query: SearchQuery, *, limit: int) -> list[ClientMatch]:
        """Candidate clients for what the caller knows, kept only where the caller may see an identity record that
        exists for the client. A caller who may see none of them gets the same answer, after the same time (whole
        quanta), as for a person the index does not hold. The search is logged once, without its terms."""
        if not 1 <= limit <= 50:
            raise InvalidInput("first is 1 to 50", field="first")
        if not query.usable():
            raise InvalidInput("give an identifier (CIN, SSN, student id), or a last name with a first name or a "
                               "date of birth", field="input")
        started = time.perf_counter()
        async with self._gate.operation(ctx, Action.SEARCH, Target.index()) as op:
            found = await search(self._sessions, query, limit=limit)
            visible = await self._gate.visible_identity(ctx, [m.client_id for m in found])
            shown = [m for m in found if m.client_id in visible]
            op.log(None, detail=f"{len(shown)} candidates shown")
        await _pad(started, self._search_quantum)
        return shown

    def _audit(self, ctx: RequestContext, action: Action, what: str) -> steward.AuditHook:
        async def write(session: AsyncSession, decision_id: int, clients: list[str]) -> None:
            detail = f"decision {decision_id}: {what}"
            # a decision about records no client holds yet is recorded without a client: [None]
            about: list[str | None] = list(clients) or [None]
            await self._gate.record([action_record(ctx, action, cid, detail=detail, result="performed")
                                     for cid in about], session=session)
        return write


@dataclass(frozen=True, slots=True)
class Seen:
    """One index record as a steward may see it (None: its identity data refused), whether its contact details
    were refused, and the decisions that said so."""

    key: tuple[str, str]
    record: steward.IndexedRecord | None
    contact_refused: bool
    decisions: tuple[tuple[Resource, Decision], ...]


async def _pad(started: float, quantum: float) -> None:
    """Wait until a whole number of quanta has passed since `started`, so that how long the work took - which
    depends on what the index holds - does not show (quantum 0: no wait)."""
    if quantum <= 0:
        return
    took = time.perf_counter() - started
    await asyncio.sleep(math.ceil(took / quantum) * quantum - took)


def _key(r: steward.IndexedRecord) -> tuple[str, str]:
    return r.source, r.local_id


def _masked(fields: list[steward.FieldAgreement], *views: Seen | None) -> list[steward.FieldAgreement]:
    """Per-field agreement between records as the policies let the steward see it: none where one record's
    identity data was refused; the contact fields' agreement withheld where one record's contact details were
    (that two records share a home is contact data too)."""
    shown = [v for v in views if v is not None]
    if any(v.record is None for v in shown):
        return []
    if not any(v.contact_refused for v in shown):
        return fields
    return [steward.FieldAgreement(f.field, WITHHELD, None) if f.field in CONTACT_FIELDS else f for f in fields]


def _sections(views: Iterable[Seen], shown: set[tuple[str, str]]) -> tuple[SectionOutcome, ...]:
    """What was decided about one client's records, per holder and category: disclosed where permitted and
    the record was shown (so the client's disclosure report lists it), withheld where a policy refused."""
    out: dict[tuple[str, str], SectionOutcome] = {}
    for view in views:
        for res, d in view.decisions:
            outcome = "withheld" if not d.permit else "disclosed" if view.key in shown and view.record else None
            if outcome is not None:
                out[(res.holder, str(res.category))] = section_outcome(res.category, CONNECTOR, res.holder, d,
                                                                       outcome)
    return tuple(out[k] for k in sorted(out))


def _ids(what: str, ids: list[int]) -> str:
    return f"{what} {','.join(map(str, sorted(set(ids))))}"[:500]
