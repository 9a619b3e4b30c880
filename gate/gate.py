"""The gate: decide, then fetch only what was permitted, then audit, then return.

Profile reads run here (`disclose`): the operation is decided first (action read on each client), then each
section per (client, category, holding organisation), then only the permitted sections are fetched - from the
agencies' connectors and from the records casebridge holds itself - and the access log is written before
anything is returned. Every other operation runs the decide -> act -> record path of gate.operations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opentelemetry import trace
from sqlalchemy.ext.asyncio import async_sessionmaker

from audit.access_records import AccessRecord, AuditRecorder, SectionOutcome, action_record
from connectors.base import Connector
from connectors.held import HeldSource
from connectors.records import FetchResult
from core.errors import (
    AgencyError,
    AgencyTimeout,
    AgencyUnavailable,
    CasebridgeError,
    ClientNotFound,
    InvalidInput,
)
from core.principal import LegalBasisClaim, RequestContext
from core.vocabulary import Action, Category, Purpose
from gate.disclosure import Disclosure, SectionResult, SectionStatus
from gate.masking import within_periods
from gate.operations import Operation, Operations, refusal, refused_record
from identity.crosswalk import Crosswalk, SourceRef
from policies.decisions import RULE_EVALUATION_ERROR, Decider, Decision, Resource, Target, Verdict, WithheldReason
from store.engine import STORE_FAILURES

log = logging.getLogger("casebridge.gate")

# (connector name, client id) -> the categories permitted for that client at that agency
Permitted = dict[tuple[str, str], set[Category]]
# (connector name, category set) -> what that one call returned
Fetched = dict[tuple[str, frozenset[Category]], FetchResult | AgencyError]

LATENCY_SMOOTHING = 0.2  # weight of the newest call in a connector's smoothed duration

_EVALUATION_ERROR = Decision(False, (RULE_EVALUATION_ERROR,), reason=WithheldReason.POLICY_ERROR)


class Gate(Operations):
    """The one gate every operation goes through."""

    def __init__(
        self, *, crosswalk: Crosswalk, decider: Decider, connectors: Sequence[Connector],
        recorder: AuditRecorder, sessions: async_sessionmaker[Any] | None = None, held: Sequence[HeldSource] = (),
        deadline_seconds: float = 10.0, tracer: trace.Tracer | None = None,
        tells: Callable[[Category, Any], Category | None] | None = None,
    ) -> None:
        self._crosswalk = crosswalk
        # which other category an item of a section tells of (immigration papers among documents), if any: such an
        # item is shown only where that category of the same holder is permitted too (Disclosure.companions)
        self._tells = tells
        self._decider = decider
        self._connectors = list(connectors)
        self._held = list(held)
        self._own_parts = {h.name for h in self._held if h.own_part_always}  # see HeldSource.own_part_always
        self._recorder = recorder
        self._sessions = sessions
        self._deadline = deadline_seconds
        self._tracer = tracer or trace.get_tracer("casebridge.gate")
        self._took: dict[str, float] = {}  # connector name -> smoothed duration of its calls (seconds)
        # index source -> the organisation holding its records (a source without a connector here holds none)
        self._holders = {c.source: (c.organization, c.name) for c in self._connectors}

    @property
    def connectors(self) -> list[Connector]:
        """The configured connectors (for health reports)."""
        return list(self._connectors)

    def holder_of(self, source: str) -> str:
        """The organisation holding an index source's records (the source's own name where no connector here
        reaches it)."""
        return self._holders[source][0] if source in self._holders else source

    def categories(self) -> frozenset[Category]:
        """Every category some configured connector or held-here source serves."""
        return frozenset(c for conn in self._connectors for c in conn.categories) | frozenset(
            c for held in self._held for c in held.categories)

    async def disclose(
        self, ctx: RequestContext, client_ids: Sequence[str], categories: Iterable[Category],
        *, claim: LegalBasisClaim | None = None,
    ) -> dict[str, Disclosure]:
        """Decide, fetch, audit and return `categories` for each known client id.

        Unknown client ids are absent from the result. Raises the refusal's
        typed error when the caller may not open these profiles for this
        purpose, and AuditUnavailable (releasing nothing) if the store, where
        the access log and the facts for the decisions live, fails.
        `claim`: a legal basis the user invokes.
        """
        async with self.store_work(Action.READ):
            return await self._disclose(ctx, client_ids, categories, claim)

    async def _disclose(self, ctx: RequestContext, client_ids: Sequence[str], categories: Iterable[Category],
                        claim: LegalBasisClaim | None) -> dict[str, Disclosure]:
        check_legal_basis(ctx, claim)
        ids = list(dict.fromkeys(client_ids))
        await self.authorize(ctx, Action.READ, [Target.client(c) for c in ids])
        wanted = sorted(set(categories))
        with self._tracer.start_as_current_span(
            "gate.disclose",
            attributes={"casebridge.request_id": ctx.request_id, "casebridge.client_count": len(client_ids),
                        "casebridge.categories": [str(c) for c in wanted]},
        ):
            asked = [
                Resource(client_id, category, conn.organization, conn.name)
                for client_id in ids for category in wanted
                for conn in self._connectors if category in conn.categories
            ]
            # A decision depends on who asks, the client id and the category, never on the agency records
            # linked to it: decide while the crosswalk is read, then keep the clients it knows.
            links, every = await asyncio.gather(self._crosswalk.resolve(ids), self.decide(ctx, asked, claim))
            kept = [(r, d) for r, d in zip(asked, every, strict=True) if r.client_id in links]
            resources, decisions = [r for r, _ in kept], [d for _, d in kept]
            permitted: Permitted = defaultdict(set)
            for res, dec in zip(resources, decisions, strict=True):
                if dec.permit:
                    permitted[(res.connector, res.client_id)].add(res.category)
            fetched, held = await asyncio.gather(
                self._fetch(links, permitted), self._held_sections(ctx, list(links), wanted, claim))
            disclosures = self._assemble(links, resources, decisions, permitted, fetched)
            logged_too: dict[str, list[SectionResult]] = defaultdict(list)
            for client_id, parts in held.items():
                for part in parts:
                    if part.status is not SectionStatus.WITHHELD or (
                            part.holder == ctx.principal.organization and part.connector in self._own_parts):
                        disclosures[client_id].sections.setdefault(part.category, []).append(part)
                    else:  # another holder's items the caller may not see: logged, never shown
                        logged_too[client_id].append(part)
            told = await self._companions(ctx, disclosures, claim)
            await self.record([self._record(ctx, d, [*logged_too.get(d.client_id, []), *told.get(d.client_id, [])])
                               for d in disclosures.values()])
            return disclosures

    async def _companions(self, ctx: RequestContext, disclosures: dict[str, Disclosure],
                          claim: LegalBasisClaim | None) -> dict[str, list[SectionResult]]:
        """For the shown items that tell another category too, that category's decision for the same holder -
        kept in each Disclosure's `companions` and returned as parts to log with the rest (no data in them)."""
        if self._tells is None:
            return {}
        held = {h.name for h in self._held}
        wanted: dict[tuple[str, Category, str, bool], str] = {}  # (client, category, holder, held here) -> connector
        for d in disclosures.values():
            for parts in d.sections.values():
                for part in parts:
                    if part.status is not SectionStatus.SHOWN or not isinstance(part.data, list | tuple):
                        continue
                    for item in part.data:
                        if (category := self._tells(part.category, item)) is not None:
                            wanted[(d.client_id, category, part.holder, part.connector in held)] = part.connector
        if not wanted:
            return {}
        keys = sorted(wanted)
        decisions = await self.decide(ctx, [Resource(c, cat, holder, wanted[(c, cat, holder, here)], held_here=here)
                                            for c, cat, holder, here in keys], claim)
        out: dict[str, list[SectionResult]] = defaultdict(list)
        for (c, cat, holder, here), decision in zip(keys, decisions, strict=True):
            disclosures[c].companions[(cat, holder, here)] = decision.permit
            out[c].append(SectionResult(cat, wanted[(c, cat, holder, here)], holder,
                                        SectionStatus.SHOWN if decision.permit else SectionStatus.WITHHELD, decision))
        return out

    async def require_held(self, op: Operation, action: Action, resource: Resource, hidden: CasebridgeError, *,
                           task_owner: str = "") -> None:
        """In operation `op`: go on only if the caller may see the record held here that `resource` names (else
        it does not exist for them: `hidden`, the refusal logged) and may do `action` on it - where the rules look
        at whether they may see the client's identity and, for a plan's task, whose task it is."""
        (seen,) = await self.decide(op.ctx, [resource])
        op.require_seen(seen, resource.client_id, hidden)
        sees = resource.client_id in await self.visible_identity(op.ctx, [resource.client_id])
        await op.require(action, Target.section(resource.client_id, resource.category, resource.holder,
                                                sees_identity=sees, task_owner=task_owner))

    async def visible_identity(self, ctx: RequestContext, client_ids: Sequence[str]) -> set[str]:
        """The clients of whom the caller may see at least one identity record that exists (is linked in the
        index, at an agency connected here). An empty own-agency section is not one."""
        ids = list(dict.fromkeys(client_ids))
        async with self.store_work(Action.READ):
            links = await self._crosswalk.resolve(ids)
        resources = [Resource(client_id, Category.IDENTITY, *self._holders[ref.source])
                     for client_id, refs in links.items() for ref in refs if ref.source in self._holders]
        decisions = await self.decide(ctx, resources)
        return {r.client_id for r, d in zip(resources, decisions, strict=True) if d.permit}

    async def authorize_for_client(self, ctx: RequestContext, action: Action, client_id: str, *,
                                   held: tuple[Category, str] | None = None, addressed: bool = False) -> None:
        """Go on only if the policies allow `action` about a client (or, with `held`, on the client's record of
        that category held here for that organisation - `addressed`: an upload whose sender chose whom it is
        meant for), where the rules look at whether the caller may see one of the client's identity records (a
        fact that itself depends on the purpose). A refusal is logged and names the purposes that would do, each
        asked with that purpose's own identity decision."""
        def target(sees: bool) -> Target:
            if held is None:
                return Target.client(client_id, sees_identity=sees)
            return Target.section(client_id, held[0], held[1], sees_identity=sees, addressed=addressed)

        async def verdict(asking: RequestContext) -> Verdict:
            sees = client_id in await self.visible_identity(asking, [client_id])
            (answer,) = await self.authorize_each(asking, action, [target(sees)])
            return answer

        first = await verdict(ctx)
        if first.permit:
            return
        # a question about another purpose, never used for anything else
        fits = tuple([p for p in Purpose if p is not ctx.purpose
                      and (await verdict(dataclasses.replace(ctx, purpose=p))).permit])
        refused = Verdict(False, first.rule_ids, fits)
        await self.record([refused_record(ctx, action, Target.client(client_id), refused)])
        raise refusal(ctx, action, refused)

    async def require_client(self, client_id: str) -> None:
        """CLIENT_NOT_FOUND unless the index knows the client id (asked only after the policies allowed the
        operation, so that a refused caller learns nothing)."""
        async with self.store_work(Action.READ):
            known = client_id in await self._crosswalk.resolve([client_id])
        if not known:
            raise ClientNotFound("no client has this id", client_id=client_id)

    async def _held_sections(
        self, ctx: RequestContext, client_ids: list[str], wanted: list[Category], claim: LegalBasisClaim | None,
    ) -> dict[str, list[SectionResult]]:
        """Records casebridge holds itself, decided per holder like an agency's: a section for the caller's own
        organisation always where the source says so (so that a withheld one looks the same whether or not
        anything is held), and one for each other holder whose items the caller may see. Refused items of other
        holders (and of the caller's own, where its part is not always there) are returned WITHHELD for the log
        only."""
        out: dict[str, list[SectionResult]] = defaultdict(list)
        for source in self._held:
            cats = [c for c in wanted if c in source.categories]
            if not cats or not client_ids:
                continue
            own = ctx.principal.organization
            failure: AgencyError | None = None
            try:
                held = await source.holdings(client_ids, cats)
            except AgencyError as exc:  # decide the caller's own part only, and say it failed
                held, failure = set(), exc
            # a source that could not say what it holds reports its failure in the caller's own part
            always = ({(cid, cat, own, True) for cid in client_ids for cat in cats}
                      if source.own_part_always or failure is not None else set())
            groups = sorted(always | set(held))
            resources = [Resource(cid, cat, holder, source.name, held_here=True, shared_with_client=shared)
                         for cid, cat, holder, shared in groups]
            decisions = await self.decide(ctx, resources, claim)
            allowed = [g for g, d in zip(groups, decisions, strict=True) if d.permit and g in held]
            items: dict[tuple[str, Category, str, bool], list[Any]] | AgencyError
            try:
                items = failure or await source.fetch(allowed, viewer=ctx)
            except AgencyError as exc:
                items = exc
            by_holder: dict[tuple[str, Category, str], list[tuple[Resource, Decision]]] = defaultdict(list)
            for res, dec in zip(resources, decisions, strict=True):
                by_holder[(res.client_id, res.category, res.holder)].append((res, dec))
            for (cid, cat, holder), decided in by_holder.items():
                out[cid].append(_held_section(source, cid, cat, holder, decided, items))
        return out

    async def decide(self, ctx: RequestContext, resources: list[Resource], claim: LegalBasisClaim | None = None,
                     ) -> list[Decision]:
        """The decision step for sections (what may be shown): one decision per resource; an evaluation error is
        a deny, logged."""
        if not resources:
            return []
        async with self.store_work(Action.READ):  # as authorize_each: a store that is down is not a deny
            return await _decisions(self._decider, ctx, resources, claim)

    async def _fetch(self, links: dict[str, list[SourceRef]], permitted: Permitted) -> Fetched:
        """One call per connector and distinct set of permitted categories; denied ones are never fetched."""
        calls: dict[tuple[str, frozenset[Category]], list[str]] = defaultdict(list)
        by_name = {c.name: c for c in self._connectors}
        for (name, client_id), cats in permitted.items():
            source = by_name[name].source
            for ref in links[client_id]:
                if ref.source == source:
                    calls[(name, frozenset(cats))].append(ref.local_id)
        keys = sorted(calls, key=lambda k: -self._took.get(k[0], 0.0))  # the slowest agency's request leaves first
        results = await asyncio.gather(*(self._call(by_name[n], calls[(n, cats)], cats) for n, cats in keys))
        return dict(zip(keys, results, strict=True))

    async def _call(self, conn: Connector, local_ids: list[str], cats: frozenset[Category],
                    ) -> FetchResult | AgencyError:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._deadline):
                return await conn.fetch(local_ids, cats)
        except AgencyError as exc:
            return exc
        except TimeoutError:
            return AgencyTimeout(f"the {conn.name} agency did not answer in time", connector=conn.name)
        except Exception as exc:  # a connector bug costs its section, not the request
            log.error("connector %s failed unexpectedly (%s)", conn.name, type(exc).__name__)
            return AgencyUnavailable(f"the {conn.name} connector failed", connector=conn.name)
        finally:
            took = time.perf_counter() - started
            before = self._took.get(conn.name)
            self._took[conn.name] = took if before is None else before + LATENCY_SMOOTHING * (took - before)

    def _assemble(
        self, links: dict[str, list[SourceRef]], resources: list[Resource], decisions: list[Decision],
        permitted: Permitted, fetched: Fetched,
    ) -> dict[str, Disclosure]:
        out = {client_id: Disclosure(client_id) for client_id in links}
        by_name = {c.name: c for c in self._connectors}
        for res, dec in zip(resources, decisions, strict=True):
            out[res.client_id].sections.setdefault(res.category, []).append(
                self._section(res, dec, links, permitted, fetched, by_name)
            )
        return out

    @staticmethod
    def _section(
        res: Resource, dec: Decision, links: dict[str, list[SourceRef]], permitted: Permitted,
        fetched: Fetched, by_name: dict[str, Connector],
    ) -> SectionResult:
        base: dict[str, Any] = {"category": res.category, "connector": res.connector, "holder": res.holder,
                                "decision": dec}
        if not dec.permit:
            return SectionResult(status=SectionStatus.WITHHELD, **base)
        conn = by_name[res.connector]
        local_ids = [r.local_id for r in links[res.client_id] if r.source == conn.source]
        if not local_ids:  # permitted, and the agency has no linked record: an honest empty section
            return SectionResult(status=SectionStatus.SHOWN, data=_empty(res.category), **base)
        result = fetched[(res.connector, frozenset(permitted[(res.connector, res.client_id)]))]
        if isinstance(result, AgencyError):
            return SectionResult(status=SectionStatus.FAILED, error=result, **base)
        records = [result.records[i] for i in local_ids if i in result.records]
        data = _merge(res.category, [r.sections.get(res.category) for r in records])
        if dec.data_periods is not None:  # mask: the consent covers only some periods of data
            data = within_periods(data, dec.data_periods)
        partly = next((r.incomplete[res.category] for r in records if res.category in r.incomplete), None)
        return SectionResult(status=SectionStatus.SHOWN, as_of=result.as_of, data=data, error=partly, **base)

    @staticmethod
    def _record(ctx: RequestContext, disclosure: Disclosure, withheld: list[SectionResult]) -> AccessRecord:
        outcomes = {SectionStatus.SHOWN: "disclosed", SectionStatus.WITHHELD: "withheld",
                    SectionStatus.FAILED: "failed"}
        parts = [s for parts in disclosure.sections.values() for s in parts] + withheld
        relied = [s.decision for s in parts if s.decision.permit and s.decision.legal_basis]
        sections = tuple(
            section_outcome(s.category, s.connector, s.holder, s.decision, outcomes[s.status],
                            error_code=s.error.code if s.error else None)
            for s in parts
        )
        return action_record(
            ctx, Action.READ, disclosure.client_id, sections=sections,
            legal_basis=relied[0].legal_basis if relied else None,
            justification=relied[0].justification if relied else None,
            break_glass=any(d.break_glass for d in relied),
        )


def section_outcome(category: Category, connector: str, holder: str, decision: Decision, outcome: str, *,
                    error_code: str | None = None) -> SectionOutcome:
    """The access log's account of one section: the decision, its rules and what it relied on, and what
    happened ("disclosed", "withheld" or "failed")."""
    return SectionOutcome(
        category=str(category), connector=connector, holder=holder, decision="permit" if decision.permit else "deny",
        rule_ids=decision.rule_ids, basis=decision.basis, outcome=outcome, error_code=error_code,
        reason=str(decision.reason) if decision.reason else None, consent_id=decision.consent_id,
        legal_basis=decision.legal_basis, break_glass=decision.break_glass,
        outside_consent_purpose=decision.outside_consent_purpose,
    )


MIN_JUSTIFICATION = 20
MAX_JUSTIFICATION = 2000


def check_legal_basis(ctx: RequestContext, claim: LegalBasisClaim | None) -> None:
    """A legal basis needs a written justification and the emergency purpose; InvalidInput otherwise."""
    if claim is None:
        return
    text = claim.justification.strip()
    if not MIN_JUSTIFICATION <= len(text) <= MAX_JUSTIFICATION:
        raise InvalidInput(
            f"a legal basis needs a justification of {MIN_JUSTIFICATION} to {MAX_JUSTIFICATION} characters",
            field="legalBasis.justification",
            suggestion="Say why access without consent is necessary now; it goes to the access log for review.",
        )
    if ctx.purpose is not Purpose.EMERGENCY:
        raise InvalidInput("a legal basis is invoked only with the emergency purpose of use",
                           field="legalBasis", suggestion="Send X-Purpose-Of-Use: emergency.")


async def _decisions(decider: Decider, ctx: RequestContext, resources: list[Resource],
                     claim: LegalBasisClaim | None) -> list[Decision]:
    try:
        decisions = await decider.decide(ctx, resources, claim=claim)
        if len(decisions) != len(resources):
            raise ValueError("decider returned the wrong number of decisions")
    except STORE_FAILURES:
        raise  # the facts could not be read (store_work answers it)
    except Exception as exc:  # an evaluation error is a deny, and is logged
        log.error("policy evaluation failed (%s); denying %d resources", type(exc).__name__, len(resources))
        return [_EVALUATION_ERROR] * len(resources)
    return decisions


def _held_section(
    source: HeldSource, client_id: str, category: Category, holder: str,
    decided: list[tuple[Resource, Decision]], items: dict[tuple[str, Category, str, bool], list[Any]] | AgencyError,
) -> SectionResult:
    """One holder's part of a held-here section: shown with the items of every permitted group (shared with the
    client or not), withheld if none was permitted, failed if the store could not be read."""
    permitted = [(r, d) for r, d in decided if d.permit]
    base: dict[str, Any] = {"category": category, "connector": source.name, "holder": holder}
    if not permitted:
        return SectionResult(status=SectionStatus.WITHHELD, decision=decided[0][1], **base)
    decision = permitted[0][1]
    if isinstance(items, AgencyError):
        return SectionResult(status=SectionStatus.FAILED, decision=decision, error=items, **base)
    data = [item for r, _ in permitted for item in items.get((client_id, category, holder, r.shared_with_client), [])]
    data.sort(key=source.sort_key, reverse=True)
    if decision.data_periods is not None:
        data = within_periods(data, decision.data_periods)
    return SectionResult(status=SectionStatus.SHOWN, as_of=source.as_of(), data=data, decision=decision, **base)


def _empty(category: Category) -> Any:
    return None if category is Category.IDENTITY else []


def _merge(category: Category, parts: list[Any]) -> Any:
    """Several linked records at one agency: lists concatenate, identity keeps the first."""
    present = [p for p in parts if p is not None]
    if category is Category.IDENTITY:
        return present[0] if present else None
    return [item for p in present for item in p]
