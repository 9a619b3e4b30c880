"""The strawberry schema: queries, and the extensions that keep documents small and cached."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField

from core.errors import CasebridgeError, ClientNotFound, InvalidInput
from core.principal import LegalBasisClaim
from core.vocabulary import Action, Category
from core.vocabulary import LegalBasis as _LegalBasis
from gate import Disclosure
from policies.decisions import Target
from resolvers.audit_types import (
    AccessEventConnection,
    AccessEventEdge,
    AccessLogExport,
    AccessLogExportFormat,
    AccessLogFilter,
    AccessLogIntegrity,
    AccessSummary,
    DisclosureEntry,
    PageInfo,
    cursor,
    disclosure_view,
    event_view,
    export_view,
    from_cursor,
    integrity_view,
    summary_view,
)
from resolvers.consent_types import Consent, LegalBasisInput, consent_view
from resolvers.context import Context, Info
from resolvers.directory_types import (
    DirectoryNeedCount,
    DirectoryService,
    NearInput,
    need_view,
    query_of,
    service_view,
)
from resolvers.document_types import DocumentReview, review_view
from resolvers.errors import CodedParse, MaskUnexpected, coded, is_bad_value, should_mask
from resolvers.identity_types import (
    ClientCandidate,
    ClientSearchInput,
    IdentityClient,
    IdentityReviewPage,
    candidate_view,
    client_view,
    parse_id,
    review_page,
)
from resolvers.ids import client_id as check_client_id
from resolvers.ids import consent_id as check_consent_id
from resolvers.limits import BoundedValidation
from resolvers.mutations import Mutation
from resolvers.referral_types import Referral, referral_view
from resolvers.types import FIELD_CATEGORIES, ClientProfile, Viewer
from resolvers.webhook_types import WebhookSubscription, subscription_view

MAX_CLIENTS = 100
log = logging.getLogger("casebridge.graphql")


ProfileKey = tuple[str, frozenset[Category], LegalBasisClaim | None]


def _profile_loader(ctx: Context) -> DataLoader[ProfileKey, Disclosure | None]:
    """Batches every `client` field of a request into one gate call per category set and legal basis."""

    async def load(keys: list[ProfileKey]) -> list[Disclosure | None]:
        groups: dict[tuple[frozenset[Category], LegalBasisClaim | None], list[str]] = defaultdict(list)
        for client_id, cats, claim in keys:
            groups[(cats, claim)].append(client_id)
        found: dict[ProfileKey, Disclosure] = {}
        for (cats, claim), ids in groups.items():
            for client_id, disclosure in (await ctx.gate.disclose(ctx.request, ids, cats, claim=claim)).items():
                found[(client_id, cats, claim)] = disclosure
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def _children(selections: Iterable[Any], name: str) -> list[Any]:
    """The selections under every field `name` among these (fragments followed)."""
    out: list[Any] = []
    for sel in selections:
        if isinstance(sel, SelectedField) and sel.name == name:
            out += sel.selections
        elif isinstance(sel, InlineFragment | FragmentSpread):
            out += _children(sel.selections, name)
    return out


# Fields inside a section that show what another category holds too, and so are shown only where the gate also
# lets the caller see that category (asked, decided and logged with the rest): an appointment's reminders say how
# the client is reached and what became of it (contact); a message's words say when an appointment is, or when a
# notice needs an answer (appointments, benefits).
NESTED_CATEGORIES: dict[tuple[str, ...], tuple[Category, ...]] = {
    ("appointments", "items", "reminders"): (Category.CONTACT,),
    ("contact", "messages"): (Category.APPOINTMENTS, Category.BENEFITS, Category.DOCUMENTS, Category.CASEWORK),
    # a goal's checklist: where copies exist among the client's documents and the shelter system's records
    ("checklist",): (Category.DOCUMENTS, Category.HOUSING),
}


def _categories(selections: Iterable[Any]) -> frozenset[Category]:
    """The categories a profile selection reads: the gate is asked only for these."""
    found = {FIELD_CATEGORIES[n] for n in _selected(selections) if n in FIELD_CATEGORIES}
    for path, extra in NESTED_CATEGORIES.items():
        level = list(selections)
        for name in path[:-1]:
            level = _children(level, name)
        if path[-1] in _selected(level):
            found.update(extra)
    return frozenset(found)


def _selected(selections: Iterable[Any]) -> set[str]:
    names: set[str] = set()
    for sel in selections:
        if isinstance(sel, SelectedField):
            names.add(sel.name)
        elif isinstance(sel, InlineFragment | FragmentSpread):
            names |= _selected(sel.selections)
    return names


@strawberry.type
class Query:
    @strawberry.field(description="The authenticated caller, as the gateway sees them.")
    async def me(self, info: Info) -> Viewer:
        ctx = info.context
        await ctx.gate.authorize(ctx.request, Action.SESSION_READ, [Target.session()])
        p = ctx.request.principal
        return Viewer(subject=p.subject, organization=p.organization, roles=sorted(p.roles),
                      client_id=strawberry.ID(p.self_client) if p.self_client else None)

    @strawberry.field(
        description="One client's unified profile. Each section is decided, fetched and audited by the "
        "gate; requires a purpose of use (header X-Purpose-Of-Use)."
    )
    async def client(
        self, info: Info, id: strawberry.ID,
        legal_basis: Annotated[LegalBasisInput | None, strawberry.argument(
            description="Access without consent: FERPA 99.36 (schooling, emergency purpose) with a justification. "
            "Break-glass access comes from startBreakGlass instead.")] = None,
    ) -> ClientProfile | None:
        client_id = check_client_id(id, "id")
        claim = None
        if legal_basis is not None:
            if legal_basis.basis is not _LegalBasis.FERPA_99_36:
                raise InvalidInput("break-glass access is opened with startBreakGlass", field="legalBasis.basis")
            claim = LegalBasisClaim(legal_basis.basis, legal_basis.justification)
        categories = _categories(info.selected_fields[0].selections)
        loader = info.context.loaders.setdefault("profile", _profile_loader(info.context))
        disclosure = await loader.load((client_id, categories, claim))
        if disclosure is None:
            raise ClientNotFound("no client has this id", client_id=client_id)
        return ClientProfile(id=strawberry.ID(client_id), disclosure=disclosure)

    @strawberry.field(
        description=f"Several clients' profiles at once (at most {MAX_CLIENTS}), in the order asked: one "
        "decision batch, one batched call per agency. An unknown id gives null."
    )
    async def clients(self, info: Info, ids: list[strawberry.ID]) -> list[ClientProfile | None]:
        if not 1 <= len(ids) <= MAX_CLIENTS:
            raise InvalidInput(f"ask for 1 to {MAX_CLIENTS} clients", field="ids")
        client_ids = [check_client_id(i, "ids") for i in ids]
        categories = _categories(info.selected_fields[0].selections)
        loader = info.context.loaders.setdefault("profile", _profile_loader(info.context))
        found = await loader.load_many([(c, categories, None) for c in client_ids])
        return [None if d is None else ClientProfile(id=strawberry.ID(c), disclosure=d)
                for c, d in zip(client_ids, found, strict=True)]

    @strawberry.field(
        description="Find clients by what you know of them (FHIR Patient/$match-like): candidates with a grade and "
        "a score, best first. A candidate is shown only where the policies let you see an identity record that "
        "exists for it, and what you see of each is decided by them too. Requires a purpose of use; the search "
        "is logged without its terms."
    )
    async def search_clients(self, info: Info, input: ClientSearchInput, first: int = 10) -> list[ClientCandidate]:
        ctx = info.context
        matches = await ctx.identity.search(ctx.request, input.query(), limit=first)
        if not matches:
            return []
        categories = _categories(_children(info.selected_fields[0].selections, "client")) | {Category.IDENTITY}
        loader = info.context.loaders.setdefault("profile", _profile_loader(info.context))
        found = await loader.load_many([(m.client_id, categories, None) for m in matches])
        return [candidate_view(m, ClientProfile(id=strawberry.ID(m.client_id), disclosure=d))
                for m, d in zip(matches, found, strict=True) if d is not None]

    @strawberry.field(description="Pairs of agency records the matcher could not decide about, most likely the same "
                      "person first (identity stewards; each client shown is logged).")
    async def identity_review_queue(self, info: Info, first: int = 20, after: str | None = None
                                    ) -> IdentityReviewPage:
        ctx = info.context
        page = await ctx.identity.review_queue(
            ctx.request, first=first, after=None if after is None else parse_id(strawberry.ID(after), "after"))
        return review_page(page.items, more=page.more, end=page.end, withheld=page.withheld)

    @strawberry.field(description="A client as the identity index sees it: every linked agency record and why "
                      "(rule, per-field weights, or a steward's decision), and where an old id went (identity "
                      "stewards; logged).")
    async def identity_client(self, info: Info, id: strawberry.ID) -> IdentityClient:
        ctx = info.context
        client_id = check_client_id(id, "id")
        return client_view(await ctx.identity.explain(ctx.request, client_id))

    @strawberry.field(description="A client's consents that you may see (all of them for the client themself, "
                      "those recorded by or naming your organisation for staff).")
    async def consents(self, info: Info, client_id: strawberry.ID) -> list[Consent]:
        ctx = info.context
        return [consent_view(c) for c in await ctx.consents.list_for_client(ctx.request, check_client_id(client_id))]

    @strawberry.field(description="The access log, newest first, filtered (auditors only). Never client data.")
    async def access_log(
        self, info: Info, filter: AccessLogFilter | None = None, first: int = 50, after: str | None = None,
    ) -> AccessEventConnection:
        ctx = info.context
        rows, more = await ctx.audit.access_log(ctx.request, (filter or AccessLogFilter()).to_domain(),
                                                first=first, before_seq=from_cursor(after))
        edges = [AccessEventEdge(cursor=cursor(r.seq), node=event_view(r)) for r in rows]
        return AccessEventConnection(edges=edges, page_info=PageInfo(
            has_next_page=more, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description="The access log as a file to keep, with its chain proof and a checkpoint signed now "
                      "(auditors only; at most 20000 events: narrow the window for more; the export is logged).")
    async def access_log_export(
        self, info: Info, filter: AccessLogFilter | None = None,
        format: AccessLogExportFormat = AccessLogExportFormat.JSONL,
    ) -> AccessLogExport:
        ctx = info.context
        ctx.once("accessLogExport")  # aliases would multiply the largest answer the API gives
        return export_view(await ctx.audit.export(ctx.request, (filter or AccessLogFilter()).to_domain(),
                                                  fmt=format.value))

    @strawberry.field(description="Pointers at unusual access in a window (auditors only).")
    async def access_summary(
        self, info: Info, since: datetime | None = None, until: datetime | None = None, many_clients: int = 20,
    ) -> AccessSummary:
        ctx = info.context
        return summary_view(await ctx.audit.summary(ctx.request, since=since, until=until,
                                                    many_clients=many_clients))

    @strawberry.field(description="Verify the access log's hash chain and signed checkpoints now (auditors only).")
    async def access_log_integrity(self, info: Info) -> AccessLogIntegrity:
        ctx = info.context
        return integrity_view(*await ctx.audit.integrity(ctx.request))

    @strawberry.field(description="Who was shown which categories of a client's data, when and on what basis: for "
                      "the client (purpose client_access), or a caseworker on the client's behalf.")
    async def disclosure_report(
        self, info: Info, client_id: strawberry.ID, since: datetime | None = None, until: datetime | None = None,
    ) -> list[DisclosureEntry]:
        ctx = info.context
        return [disclosure_view(d) for d in await ctx.audit.disclosure_report(
            ctx.request, client_id=check_client_id(client_id), since=since, until=until)]

    @strawberry.field(description="Files your organisation has not accepted or rejected yet - those it sent, and "
                      "those sent for clients whose documents it keeps a record of (it asked for one) - among those "
                      "you may see (a client's own only by their consent), soonest due first (at most 100; each "
                      "client shown is logged).")
    async def document_reviews(self, info: Info) -> list[DocumentReview]:
        ctx = info.context
        return [review_view(item) for item in await ctx.documents.reviews(ctx.request)]

    @strawberry.field(description="Services in the city's directory (Open Referral HSDS) that meet a need (a "
                      "taxonomy term's code, or part of its name), in a language (ISO 639 code), with words in "
                      "their name or description, near a place or in a postal code: nearest first where a place is "
                      "given. Active services only unless asked. Staff for a care purpose, or a client for "
                      "themself.")
    async def directory_services(
        self, info: Info, need: str | None = None, language: str | None = None, text: str | None = None,
        near: NearInput | None = None, postal_code: str | None = None, include_inactive: bool = False,
        first: int = 20,
    ) -> list[DirectoryService]:
        ctx = info.context
        found = await ctx.directory.search(ctx.request, query_of(need, language, text, near, postal_code,
                                                                 include_inactive, first))
        return [service_view(f) for f in found]

    @strawberry.field(description="Referrals made to your organisation, latest change first (open ones unless "
                      "asked): the list to answer (at most 100; each client shown is logged).")
    async def referral_inbox(self, info: Info, include_closed: bool = False) -> list[Referral]:
        ctx = info.context
        return [referral_view(r) for r in await ctx.referrals.inbox(ctx.request, include_closed=include_closed)]

    @strawberry.field(description="Your organisation's webhook subscriptions, each with its latest deliveries.")
    async def webhook_subscriptions(self, info: Info) -> list[WebhookSubscription]:
        ctx = info.context
        return [subscription_view(sub, log) for sub, log in await ctx.webhooks.list(ctx.request)]

    @strawberry.field(description="The needs the directory's active services meet, most common first.")
    async def directory_needs(self, info: Info) -> list[DirectoryNeedCount]:
        ctx = info.context
        return [DirectoryNeedCount(need=need_view(n), services=c) for n, c in await ctx.directory.needs(ctx.request)]

    @strawberry.field(description="One consent, if you may see it.")
    async def consent(self, info: Info, id: strawberry.ID) -> Consent:
        ctx = info.context
        return consent_view(await ctx.consents.get(ctx.request, check_consent_id(id)))


class Schema(strawberry.Schema):
    """The strawberry schema, logging errors without the document or variables.

    strawberry's default logs every error with the query text, which can carry
    names or dates of birth in arguments: no personal data in logs.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, CasebridgeError) or is_bad_value(error):
                continue  # the caller's problem, answered with a code; nothing for the operator (nor the value)
            path = ".".join(str(p) for p in error.path or [])
            log.error("unexpected %s at %s", type(original).__name__, path or "-",
                      exc_info=(type(original), original, original.__traceback__))


def build_schema(
    *, max_depth: int = 10, max_tokens: int = 2000, max_aliases: int = 15, cache_size: int = 512,
    introspection: bool = True, suggestions: bool = True,
) -> strawberry.Schema:
    """The casebridge schema with its limits, caches and error masking."""
    # Factories, not instances: each request gets fresh extensions; the parse and
    # validation caches behind CodedParse/BoundedValidation are shared per process.
    # The depth and alias rules are built once: QueryDepthLimiter and
    # MaxAliasesLimiter make a new rule class per instance, and the validation
    # cache is keyed by the rules, so per-request limiters would miss it every
    # time (measured: validation was ~15 % of a profile request).
    limits = [*(coded(r, "QUERY_TOO_DEEP") for r in QueryDepthLimiter(max_depth=max_depth).validation_rules),
              *(coded(r, "TOO_MANY_ALIASES") for r in MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules)]
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: CodedParse(maxsize=cache_size),
        lambda: BoundedValidation(maxsize=cache_size, suggestions=suggestions),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(limits),
        lambda: MaskUnexpected(should_mask_error=should_mask),
    ]
    if not introspection:
        from graphql.validation import NoSchemaIntrospectionCustomRule

        no_introspection = [coded(NoSchemaIntrospectionCustomRule, "INTROSPECTION_DISABLED")]  # built once, as above
        extensions.append(lambda: AddValidationRules(no_introspection))
    return Schema(query=Query, mutation=Mutation, extensions=extensions)


def schema_sdl() -> str:
    """The schema as SDL: the checked-in contract `schema.graphql`."""
    return build_schema().as_str() + "\n"
