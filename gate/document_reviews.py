"""The document desk's review list and its question of who may review what (issue 20): which files each
organisation has to review, by when - narrowed in SQL, decided in Cedar a group of files at a time - and, for a
file's addressees and a record's holder, whether an organisation's staff may review it (the client's consent to
that organisation, never a caller's view). The desk (gate/document_desk.py) builds it, asks it whom a client's
upload is meant for and serves its list; the held documents (connectors/held_documents.py) ask it, as their
`Reviewing`, when a file moves a record to RECEIVED.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select, tuple_
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
from core.errors import InvalidInput, PermissionDenied
from core.principal import CLIENT_HOLDER, RESERVED_ORGANIZATIONS, RequestContext, staff_of
from core.vocabulary import Action, Category, Purpose
from gate.consent_eras import permitted_since
from gate.document_sections import file_sections, seen
from gate.gate import Gate
from policies.consent_store import ConsentStore
from policies.decisions import Decision, Target
from store.held_tables import DocumentAddressee, DocumentEvent, DocumentFile
from store.held_tables import DocumentRecord as RecordRow


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A file awaiting the caller's organisation's review, by when, and its record of that document if any."""

    file: SentFile
    due_at: datetime
    record_state: str | None
    record_due_on: date | None


REVIEW_LIST = 100  # files per review list, oldest first
# The groups of candidate files (see _Group) are read and decided a page at a time, oldest file first, until the
# list is full: GROUP_PAGE groups a page (3 parameters each in the files' query: well within SQLite's and
# asyncpg's limits), at most GROUP_PAGES pages - at most 10,000 groups, 20 batches of decisions, per list.
# A list that stopped there says so in its access-log event; the GraphQL list keeps its shape (a list of
# reviews, which the console reads): past 10,000 groups of hidden or undecided files the oldest of them are shown.
GROUP_PAGE = 500
GROUP_PAGES = 20
# Whether an organisation's staff may review a file (see it, and it is meant for them) is asked of the policies for
# a caseworker of that organisation for each purpose the policies let its staff review for - a question about the
# organisation, answered by the same rules as its staff's own reads (the client's consent), for a file's addressees
# and a record's holder. Never a caller: nothing is done or shown as this principal (core.principal.staff_of).
# One review list candidate group: (client, file holder, document, addressed to the caller's organisation, asked
# for by its waiting record) - what the decisions on a file depend on
_Group = tuple[str, str, str, bool, bool]


class DocumentReviews:
    """The review list of each organisation's staff, and who may review what (connectors.held_documents.Reviewing),
    through the gate."""

    def __init__(self, *, gate: Gate, source: HeldDocuments, sessions: async_sessionmaker[Any],
                 checklists: Checklists, settings: DocumentSettings, clock: Callable[[], datetime],
                 consents: ConsentStore, organizations: Iterable[str] = ()) -> None:
        self._gate = gate
        self._consents = consents
        # the organisations casebridge knows (the city's, as a consent form offers them, and the agencies'
        # connectors): a client's upload is addressed only to these (and to those keeping the client's records)
        self._known = frozenset(organizations) | {c.organization for c in gate.connectors}
        self._source = source
        self._sessions = sessions
        self._lists = checklists
        self._settings = settings
        self._clock = clock
        # the purposes each organisation's staff may review for: a question of the policy set alone, asked once
        self._purposes: dict[str, list[Purpose]] = {}

    async def reviews(self, ctx: RequestContext) -> list[ReviewItem]:
        """Files the caller may see that their organisation has not decided on yet and that are meant for it - those
        it sent, those addressed to it, and those for a document its record of the client is waiting for - each due
        `review_days` after it became the organisation's to review, soonest first: the caseworker's review list.
        Logged per client shown. Bounded: the groups of files are read GROUP_PAGE at a time, oldest file first, at
        most GROUP_PAGES pages (the log says when a list stopped there)."""
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
            found, permitted, capped = await self._permitted_files(op.session, ctx, waiting, addressed, asked)
            # each file was read by its permitted group's own key: it has its decision
            decisions = [(x, ad, permitted[(x.client_id, x.holder, x.document, ad, ak)]) for x, ad, ak in found]
            shown = sorted({x.client_id for x, _, _ in found})
            records = {(x.client_id, x.document): x for x in (await op.session.execute(select(r).where(
                r.holder == org, r.client_id.in_(shown)))).scalars()} if found else {}
            began = await permitted_since(op.session, {
                (d.consent_id, org, x.holder) for x, _, d in decisions if d.consent_id})
            out = []
            for x, ad, decision in decisions:
                rec = records.get((x.client_id, x.document))
                since = waiting_since(rec, self.valid_days(x.document), now) if rec is not None else None
                state = rec.state if rec is not None else None
                if rec is not None and since is not None:  # it waited for a file: this one came since, or not yet
                    state = RECEIVED if x.sent_at > max(since, rec.updated_at) else (
                        EXPIRED if rec.state == ACCEPTED else rec.state)
                # the organisation's to review since it was sent - or since it asked, or the provision of the
                # client's consent that lets it see the file began, if that came later
                start = x.sent_at
                if x.holder != org and not ad and since is not None:
                    start = max(start, since)
                given = began.get((decision.consent_id or "", org, x.holder))
                if given is not None:
                    start = max(start, given)
                out.append(ReviewItem(sent_file(x), start + timedelta(days=self._settings.review_days), state,
                                      rec.due_on if rec else None))
            for client_id in shown:
                op.log(client_id, detail=f"review list: {sum(x.client_id == client_id for x, _, _ in found)} file(s)")
            if not found:
                op.log(None, detail="review list: none")
            if capped:
                op.log(None, detail=f"review list: stopped after {GROUP_PAGES * GROUP_PAGE} groups of files")
        return sorted(out, key=lambda i: (i.due_at, i.file.id))

    async def _permitted_files(self, session: AsyncSession, ctx: RequestContext, waiting: ColumnElement[bool],
                               addressed: ColumnElement[bool], asked: ColumnElement[bool],
                               ) -> tuple[list[tuple[DocumentFile, bool, bool]], dict[_Group, Decision], bool]:
        """The oldest REVIEW_LIST files of the groups the caller may review, each with its group's key read in
        the same statement as the file (so a request or a review committed meanwhile cannot give a file a key no
        decision was made for); the decisions; whether the pages ran out first (more groups were left)."""
        f = DocumentFile
        inner = select(f.client_id.label("c"), f.holder.label("h"), f.document.label("d"),
                       addressed.label("ad"), asked.label("ak"), f.sent_at.label("at")).where(waiting).subquery()
        first = func.min(inner.c.at).label("first")
        keys = (inner.c.c, inner.c.h, inner.c.d, inner.c.ad, inner.c.ak)
        grouped = select(*keys, first).group_by(*keys).order_by(first, *keys)
        permitted: dict[_Group, Decision] = {}
        found: list[tuple[DocumentFile, bool, bool]] = []
        for page in range(GROUP_PAGES):
            groups = [(c, h, d, bool(ad), bool(ak), at) for c, h, d, ad, ak, at in (await session.execute(
                grouped.limit(GROUP_PAGE).offset(page * GROUP_PAGE))).all()]
            if len(found) >= REVIEW_LIST:  # only groups whose oldest file comes before the list's last can enter
                last = found[REVIEW_LIST - 1][0].sent_at
                groups = [g for g in groups if _aware(g[5]) < last]
            if not groups:
                return found, permitted, False
            allowed = await self._reviewable(ctx, [g[:5] for g in groups])
            permitted.update(allowed)
            buckets: dict[tuple[bool, bool], list[tuple[str, str, str]]] = defaultdict(list)
            for c, h, d, ad, ak in allowed:
                buckets[(ad, ak)].append((c, h, d))
            triple = tuple_(f.client_id, f.holder, f.document)
            for (ad, ak), triples in sorted(buckets.items()):
                rows = (await session.execute(select(f).where(
                    waiting, triple.in_(triples), addressed if ad else ~addressed, asked if ak else ~asked,
                ).order_by(f.sent_at, f.id).limit(REVIEW_LIST))).scalars()
                found.extend((x, ad, ak) for x in rows)
            # once each: a request or review committed between two pages can move a group into a later one
            found = sorted({t[0].id: t for t in found}.values(), key=lambda t: (t[0].sent_at, t[0].id))[:REVIEW_LIST]
            if len(groups) < GROUP_PAGE:
                return found, permitted, False
        return found, permitted, True

    async def _reviewable(self, ctx: RequestContext, groups: list[_Group]) -> dict[_Group, Decision]:
        """Of `groups`, those whose files the caller may see (the read decision on the file's section, returned)
        and review as their organisation's (meant for it: its own, addressed to it, or asked for by it)."""
        sections = await file_sections(self._gate, self._lists, self._source.name, ctx,
                                       [(c, h, d) for c, h, d, *_ in groups])
        visible = [(g, s[0][1]) for g, s in zip(groups, sections, strict=True) if seen(s)]
        clients = sorted({g[0] for g, _ in visible})
        sees = await self._gate.visible_identity(ctx, clients) if clients else set()
        verdicts = await self._gate.authorize_each(ctx, Action.DOCUMENT_REVIEW, [
            Target.section(c, Category.DOCUMENTS, h, sees_identity=c in sees, addressed=ad, asked=ak)
            for (c, h, _d, ad, ak), _ in visible])
        return {g: d for (g, d), v in zip(visible, verdicts, strict=True) if v.permit}

    def valid_days(self, document: str) -> int | None:
        """How long an accepted copy of a document kind holds (None: it does not expire, or no such kind)."""
        kind = self._lists.documents.get(document)
        return kind.valid_days if kind else None

    def _validity(self) -> dict[str, int | None]:
        return {code: kind.valid_days for code, kind in self._lists.documents.items()}

    async def may_review(self, asks: Sequence[Ask]) -> set[Ask]:
        """Of (client, organisation, file holder, document kind), those where a caseworker of the organisation, for
        some purpose the policies let its staff review for, may see that holder's documents of the client (and, for
        a kind the checklists mark sensitive, that category's section of the holder too) and review a file of them
        meant for it - the policies' answer about the organisation (the client's consent to it), not about any
        caller."""
        out: set[Ask] = set()
        by_org: dict[str, list[Ask]] = defaultdict(list)
        for ask in dict.fromkeys(asks):
            if ask[1] not in RESERVED_ORGANIZATIONS:
                by_org[ask[1]].append(ask)
        for org, mine in sorted(by_org.items()):
            for purpose in await self._review_purposes(org):
                left = [x for x in mine if x not in out]
                if not left:
                    break
                staff = RequestContext(staff_of(org), "document-reviewers", purpose)
                sections = await file_sections(self._gate, self._lists, self._source.name, staff,
                                               [(c, h, d) for c, _, h, d in left])
                sees = await self._gate.visible_identity(staff, sorted({c for c, _, _, _ in left}))
                verdicts = await self._gate.authorize_each(staff, Action.DOCUMENT_REVIEW, [
                    Target.section(c, Category.DOCUMENTS, h, sees_identity=c in sees, addressed=True)
                    for c, _, h, _ in left])
                out.update(x for x, s, v in zip(left, sections, verdicts, strict=True) if seen(s) and v.permit)
        return out

    async def _review_purposes(self, org: str) -> list[Purpose]:
        """The purposes for which the policies let the organisation's staff open its review list - every purpose
        of the vocabulary asked (one decision each, no store read), once per organisation for the process: the
        answer depends on the policy set alone, loaded once at start-up."""
        known = self._purposes.get(org)
        if known is None:
            verdicts = [(p, await self._gate.authorize_each(
                RequestContext(staff_of(org), "document-reviewers", p), Action.DOCUMENT_REVIEW,
                [Target.worklist(Category.DOCUMENTS, org)])) for p in Purpose]
            known = self._purposes[org] = [p for p, (v,) in verdicts if v.permit]
        return known

    async def shows_arrivals(self, viewer: RequestContext, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Of (client, record holder), those whose records `viewer` is shown moved by another holder's file: to
        whoever may review for the record's holder (its own staff: staff-keep-document-records-of-their-clients)
        or may send into the client's own holding (the client: client-sends-own-documents). Whether the holder
        may review that file is the client's consent to the holder, which no one else is told."""
        keys = sorted(set(keys))
        if not keys:
            return set()
        clients = sorted({c for c, _ in keys})
        sees = await self._gate.visible_identity(viewer, clients)
        holders = await self._gate.authorize_each(viewer, Action.DOCUMENT_REVIEW, [
            Target.section(c, Category.DOCUMENTS, h, sees_identity=c in sees) for c, h in keys])
        own = await self._gate.authorize_each(viewer, Action.DOCUMENT_UPLOAD, [
            Target.section(c, Category.DOCUMENTS, CLIENT_HOLDER) for c in clients])
        theirs = {c for c, v in zip(clients, own, strict=True) if v.permit}
        return {k for k, v in zip(keys, holders, strict=True) if v.permit or k[0] in theirs}

    async def addressees(self, client_id: str, document: str, valid_days: int | None, now: datetime, *,
                         chosen: Sequence[str] = (), field: str = "addressedTo") -> list[str]:
        """Whom a client's upload is meant for: by default the organisations whose record of that document waits
        for a file, and those whose staff the client's consent lets see it (named by a consent; the policies
        decide) - of the organisations casebridge knows (`known`), never every name a consent's free text gives;
        and those the client chose (`chosen`, at most MAX_ADDRESSEES codes of known organisations, else
        InvalidInput naming `field`, never echoing a code), kept whether or not their staff may see it yet."""
        picked = _chosen(chosen, field)
        async with self._gate.store_work(Action.DOCUMENT_UPLOAD), self._sessions() as session:
            asked = await waiting_holders(session, client_id=client_id, document=document, valid_days=valid_days,
                                          now=now)
            consents = await self._consents.list_for_client(session, client_id)
            keeping = set((await session.execute(select(RecordRow.holder).where(
                RecordRow.client_id == client_id).distinct())).scalars())
        known = (self._known | keeping) - RESERVED_ORGANIZATIONS
        if not picked <= known:
            raise _refused(field, "unknown_addressee")
        named = sorted({o for c in consents for p in c.provisions for o in p.organizations
                        if o in known and p.type == "permit" and p.names(o, Category.DOCUMENTS, CLIENT_HOLDER)}
                       - set(asked))
        allowed = await self.may_review([(client_id, o, CLIENT_HOLDER, document) for o in named])
        return sorted({*asked, *(o for _, o, _, _ in allowed), *picked})

    async def authorize_upload(self, ctx: RequestContext, client_id: str, holder: str, *, addressing: bool,
                               field: str) -> None:
        """Go on only if the policies let the caller send a file into `holder`'s documents of the client - and,
        `addressing`, choose whom it is meant for (client-sends-own-documents: a client for themself; a file
        staff send is their organisation's own record). A refusal is logged by the gate; one that the choice
        alone caused says so, naming `field`."""
        try:
            await self._gate.authorize_for_client(ctx, Action.DOCUMENT_UPLOAD, client_id,
                                                  held=(Category.DOCUMENTS, holder), addressed=addressing)
        except PermissionDenied as exc:
            if not addressing:
                raise
            sees = client_id in await self._gate.visible_identity(ctx, [client_id])
            (unaddressed,) = await self._gate.authorize_each(ctx, Action.DOCUMENT_UPLOAD, [
                Target.section(client_id, Category.DOCUMENTS, holder, sees_identity=sees)])
            if not unaddressed.permit:
                raise
            raise PermissionDenied(f"only a client sending a file for themself chooses whom it is meant for: "
                                   f"send it without {field}", field=field, action=Action.DOCUMENT_UPLOAD.value,
                                   reason="not_addressable") from exc


MAX_ADDRESSEES = 5  # organisations a client may choose to send one file to
_ORG_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _chosen(codes: Sequence[str], field: str) -> frozenset[str]:
    """The organisation codes a client chose, checked for their number and form (whether casebridge knows them
    is the caller's to check)."""
    picked = frozenset(codes)
    if len(picked) > MAX_ADDRESSEES:
        raise _refused(field, "too_many_addressees")
    if not all(_ORG_CODE.fullmatch(c) for c in picked):
        raise _refused(field, "malformed_addressee")
    return picked


def _refused(field: str, reason: str) -> InvalidInput:
    """The refusal of a choice of addressees: what is expected, never the codes sent (a client's free text)."""
    return InvalidInput(
        f"{field} names at most {MAX_ADDRESSEES} organisations casebridge knows, by their codes, separated by "
        "commas", field=field, reason=reason,
        suggestion="Choose among the organisations your view of your documents offers, or send no choice: the "
                   "file then goes to those that asked for it and those your consent lets see your documents.")


def _aware(at: datetime) -> datetime:
    """A time read through an aggregate (SQLite gives it without its zone): in UTC."""
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
