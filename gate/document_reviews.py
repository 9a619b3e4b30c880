"""The document desk's review list and its question of who may review what (issue 20): which files each
organisation has to review, by when - narrowed in SQL, decided in Cedar a group of files at a time - and, for a
file's addressees and a record's holder, whether an organisation's staff may review it (the client's consent to
that organisation, never a caller's view). The desk (gate/document_desk.py) builds it, asks it whom a client's
upload is meant for and serves its list; the held documents (connectors/held_documents.py) ask it, as their
`Reviewing`, when a file moves a record to RECEIVED.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checklists.config import Checklists
from checklists.files import DocumentSettings
from connectors.held_documents import (
    ACCEPTED,
    DECIDED,
    EXPIRED,
    RECEIVED,
    Ask,
    HeldDocuments,
    SentFile,
    sent_file,
    waiting_clause,
    waiting_holders,
    waiting_since,
)
from core.principal import CLIENT_HOLDER, RESERVED_ORGANIZATIONS, RequestContext, staff_of
from core.vocabulary import Action, Category, Purpose
from gate.gate import Gate
from policies.consent_store import ConsentStore
from policies.decisions import Decision, Resource, Target
from store.held_tables import DocumentAddressee, DocumentEvent, DocumentFile
from store.held_tables import DocumentRecord as RecordRow
from store.tables import Consent


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A file awaiting the caller's organisation's review, by when, and its record of that document if any."""

    file: SentFile
    due_at: datetime
    record_state: str | None
    record_due_on: date | None


REVIEW_LIST = 100  # files per review list, oldest first
# Whether an organisation's staff may review a file (see it, and it is meant for them) is asked of the policies for
# a caseworker of that organisation with each care purpose in turn - a question about the organisation, answered
# by the same rules as its staff's own reads (the client's consent), for a file's addressees and a record's holder.
# Never a caller: nothing is done or shown as this principal (core.principal.staff_of).
_CARE = (Purpose.CASE_MANAGEMENT, Purpose.CARE_COORDINATION, Purpose.ELIGIBILITY, Purpose.EMERGENCY)
# One review list candidate group: (client, file holder, document, addressed to the caller's organisation, asked
# for by its waiting record) - what the decisions on a file depend on
_Group = tuple[str, str, str, bool, bool]


class DocumentReviews:
    """The review list of each organisation's staff, and who may review what (connectors.held_documents.Reviewing),
    through the gate."""

    def __init__(self, *, gate: Gate, source: HeldDocuments, sessions: async_sessionmaker[Any],
                 checklists: Checklists, settings: DocumentSettings, clock: Callable[[], datetime]) -> None:
        self._gate = gate
        self._source = source
        self._sessions = sessions
        self._lists = checklists
        self._settings = settings
        self._clock = clock

    async def reviews(self, ctx: RequestContext) -> list[ReviewItem]:
        """Files the caller may see that their organisation has not decided on yet and that are meant for it - those
        it sent, those addressed to it, and those for a document its record of the client is waiting for - each due
        `review_days` after it became the organisation's to review, soonest first: the caseworker's review list.
        Logged per client shown."""
        org, now = ctx.principal.organization, self._clock()
        f, e, r, a = DocumentFile, DocumentEvent, RecordRow, DocumentAddressee
        decided = exists().where(e.file_id == f.id, e.record_id == r.id, r.holder == org, e.state.in_(DECIDED))
        addressed = exists().where(a.file_id == f.id, a.organization == org)
        asked = exists().where(r.client_id == f.client_id, r.holder == org, r.document == f.document,
                               waiting_clause(self._validity(), now))
        # SQL narrows (always wider than the policies: the organisation's own files, and those meant for it); the
        # policies decide each group of files alike, and only the permitted groups' files are read: a list never
        # loses a visible file behind hidden ones, nor reads more of them the more hidden ones there are
        waiting = and_(f.purged_at.is_(None), ~decided, (f.holder == org) | addressed | asked)
        # may the caller review their organisation's documents at all (else FORBIDDEN, logged); then, per group
        async with self._gate.operation(ctx, Action.DOCUMENT_REVIEW, Target.worklist(Category.DOCUMENTS, org)) as op:
            groups = [(c, h, d, bool(ad), bool(ak)) for c, h, d, ad, ak in (await op.session.execute(
                select(f.client_id, f.holder, f.document, addressed, asked).where(waiting).distinct())).all()]
            permitted = await self._reviewable(ctx, groups)
            plain = [(c, h, d) for c, h, d, ad, _ in permitted if not ad]
            meant = [(c, h, d) for c, h, d, ad, _ in permitted if ad]
            triple = tuple_(f.client_id, f.holder, f.document)
            found = (await op.session.execute(select(f, addressed).where(waiting, or_(
                and_(triple.in_(plain), ~addressed) if plain else false(),
                and_(triple.in_(meant), addressed) if meant else false())
            ).order_by(f.sent_at, f.id).limit(REVIEW_LIST))).all() if permitted else []
            rows = [(x, bool(ad)) for x, ad in found]
            records = {(x.client_id, x.document): x for x in (await op.session.execute(select(r).where(
                r.holder == org, r.client_id.in_([x.client_id for x, _ in rows])))).scalars()} if rows else {}
            consented = await self._consent_times(op.session, [d.consent_id for d in permitted.values()])
            out = []
            for x, ad in rows:
                rec = records.get((x.client_id, x.document))
                since = waiting_since(rec, self.valid_days(x.document), now) if rec is not None else None
                state = rec.state if rec is not None else None
                if rec is not None and since is not None:  # it waited for a file: this one came since, or not yet
                    state = RECEIVED if x.sent_at > max(since, rec.updated_at) else (
                        EXPIRED if rec.state == ACCEPTED else rec.state)
                # the organisation's to review since it was sent - or since it asked, or the consent let it see
                # the file, if that came later
                start = x.sent_at
                if x.holder != org and not ad and since is not None:
                    start = max(start, since)
                decision = permitted[(x.client_id, x.holder, x.document, ad, since is not None)]
                given = consented.get(decision.consent_id or "")
                if given is not None:
                    start = max(start, given)
                out.append(ReviewItem(sent_file(x), start + timedelta(days=self._settings.review_days), state,
                                      rec.due_on if rec else None))
            for client_id in sorted({x.client_id for x, _ in rows}):
                op.log(client_id, detail=f"review list: {sum(x.client_id == client_id for x, _ in rows)} file(s)")
            if not rows:
                op.log(None, detail="review list: none")
        return sorted(out, key=lambda i: (i.due_at, i.file.id))

    async def _reviewable(self, ctx: RequestContext, groups: list[_Group]) -> dict[_Group, Decision]:
        """Of `groups`, those whose files the caller may see (the read decision on the file's section, returned)
        and review as their organisation's (meant for it: its own, addressed to it, or asked for by it)."""
        seen = await self._gate.decide(ctx, [Resource(c, Category.DOCUMENTS, h, self._source.name, held_here=True)
                                             for c, h, *_ in groups])
        visible = [(g, d) for g, d in zip(groups, seen, strict=True) if d.permit]
        clients = sorted({g[0] for g, _ in visible})
        sees = await self._gate.visible_identity(ctx, clients) if clients else set()
        verdicts = await self._gate.authorize_each(ctx, Action.DOCUMENT_REVIEW, [
            Target.section(c, Category.DOCUMENTS, h, sees_identity=c in sees, addressed=ad, asked=ak)
            for (c, h, _d, ad, ak), _ in visible])
        return {g: d for (g, d), v in zip(visible, verdicts, strict=True) if v.permit}

    @staticmethod
    async def _consent_times(session: AsyncSession, ids: Sequence[str | None]) -> dict[str, datetime]:
        """When each consent said what it says now in casebridge (given, or last amended, whichever is later)."""
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        rows = await session.execute(select(Consent.id, Consent.given_at, Consent.updated_at).where(
            Consent.id.in_(wanted)))
        return {cid: max(given, updated) for cid, given, updated in rows.all()}

    def valid_days(self, document: str) -> int | None:
        """How long an accepted copy of a document kind holds (None: it does not expire, or no such kind)."""
        kind = self._lists.documents.get(document)
        return kind.valid_days if kind else None

    def _validity(self) -> dict[str, int | None]:
        return {code: kind.valid_days for code, kind in self._lists.documents.items()}

    async def may_review(self, asks: Sequence[Ask]) -> set[Ask]:
        """Of (client, organisation, file holder), those where a caseworker of the organisation, for some care
        purpose, may see that holder's documents of the client and review a file of them meant for it - the
        policies' answer about the organisation (the client's consent to it), not about any caller."""
        out: set[Ask] = set()
        by_org: dict[str, list[Ask]] = defaultdict(list)
        for ask in dict.fromkeys(asks):
            if ask[1] not in RESERVED_ORGANIZATIONS:
                by_org[ask[1]].append(ask)
        for org, mine in sorted(by_org.items()):
            for purpose in _CARE:
                left = [x for x in mine if x not in out]
                if not left:
                    break
                staff = RequestContext(staff_of(org), "document-reviewers", purpose)
                seen = await self._gate.decide(staff, [
                    Resource(c, Category.DOCUMENTS, h, self._source.name, held_here=True) for c, _, h in left])
                sees = await self._gate.visible_identity(staff, sorted({c for c, _, _ in left}))
                verdicts = await self._gate.authorize_each(staff, Action.DOCUMENT_REVIEW, [
                    Target.section(c, Category.DOCUMENTS, h, sees_identity=c in sees, addressed=True)
                    for c, _, h in left])
                out.update(x for x, d, v in zip(left, seen, verdicts, strict=True) if d.permit and v.permit)
        return out

    async def addressees(self, client_id: str, document: str, valid_days: int | None, now: datetime) -> list[str]:
        """Whom a client's upload is meant for by default: the organisations whose record of that document waits
        for a file, and those whose staff the client's consent lets see it (named by a consent; the policies
        decide)."""
        async with self._gate.store_work(Action.DOCUMENT_UPLOAD), self._sessions() as session:
            asked = await waiting_holders(session, client_id=client_id, document=document, valid_days=valid_days,
                                          now=now)
            consents = await ConsentStore().list_for_client(session, client_id)
        named = sorted({o for c in consents for p in c.provisions if p.type == "permit" for o in p.organizations}
                       - set(asked))
        allowed = await self.may_review([(client_id, o, CLIENT_HOLDER) for o in named])
        return sorted({*asked, *(o for _, o, _ in allowed)})
