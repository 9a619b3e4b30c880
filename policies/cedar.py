"""The Cedar decider: policies as files, decided on normalised facts, cached exactly.

Every operation is a Cedar action (core.vocabulary.Action). For an operation the
decider computes the facts its rules may look at — the principal's organisation
and roles, whether the resource is about the principal themself, the resource's
attributes (a section's category and holder, a consent's recorder and the
organisations it names or refuses), the purpose, what the client's consents say,
the legal basis — and asks Cedar. The answer depends on nothing else, so it is
cached per distinct fact tuple: a 50-client list usually costs a handful of Cedar
evaluations, and consents are read fresh from the store on every request (a
revocation counts from the next request on).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import cedarpy
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.errors import ConfigurationError
from core.principal import LegalBasisClaim, RequestContext
from core.vocabulary import Action, Category, LegalBasis, Purpose
from policies.consent_store import ConsentStore, GrantRecord
from policies.consents import ConsentAnswer, ConsentFact, consent_fact
from policies.decisions import (
    RULE_EVALUATION_ERROR,
    Basis,
    Decision,
    Resource,
    Target,
    Verdict,
    WithheldReason,
)
from store.reads import Reads

log = logging.getLogger("casebridge.policies")

HERE = Path(__file__).parent
POLICY_FILES = sorted(HERE.glob("*.cedar"))
SCHEMA_FILE = HERE / "casebridge.cedarschema"

# Forbid rules and the withheld reason each one gives.
FORBID_REASONS = {
    "auditor-never-reads-client-data": WithheldReason.NOT_PERMITTED_FOR_ROLE,
    "consent-deny-provision": WithheldReason.CONSENT_DENIED,
    "revoked-consent-forbids": WithheldReason.CONSENT_REVOKED,
    "expired-consent-forbids": WithheldReason.CONSENT_EXPIRED,
    "partner-requires-consent": WithheldReason.CONSENT_REQUIRED,
}
# Permit rules, least invasive basis first: the basis recorded is the first that applied.
PERMIT_BASES = {
    "own-agency-reads-own-records": Basis.OWN_AGENCY.value,
    "recorder-reads-what-it-recorded-here": Basis.OWN_AGENCY.value,
    "client-reads-own-profile": Basis.CLIENT_SELF.value,
    "steward-reviews-the-index": Basis.IDENTITY_STEWARDSHIP.value,
    "consent-permits-grantee": Basis.CONSENT.value,
    "ferpa-99.36-health-safety-emergency": Basis.FERPA_99_36.value,
    "break-glass-emergency": Basis.BREAK_GLASS.value,
    "delivery-worker-reads-what-reminders-need": Basis.CLIENT_NOTIFICATION.value,
}
CHUNK = 64  # Cedar requests per batch before yielding to the event loop


class PolicySet:
    """The parsed, validated policy files and schema; refuses to load an invalid set."""

    def __init__(self, policies: str, schema: str) -> None:
        result = cedarpy.validate_policies(policies, schema)
        if not result.validation_passed:
            problems = "; ".join(str(e.error) if hasattr(e, "error") else str(e) for e in result.errors)[:2000]
            raise ConfigurationError(f"the Cedar policies do not validate against the schema: {problems}")
        self.text = policies
        self.policies = cedarpy.PolicySet.from_str(policies)
        self.schema = cedarpy.Schema.from_str(schema)

    @classmethod
    def load(cls, files: Sequence[Path] = POLICY_FILES, schema: Path = SCHEMA_FILE) -> PolicySet:
        """Read and validate the policy files shipped in policies/."""
        return cls("\n".join(f.read_text() for f in files), schema.read_text())


_SELF, _OTHER = "client-self", "client-other"  # a resource's client, as the rules compare it with the principal's
_OTHER_ORG = "~another-organisation"  # a consent's recorder or named organisation that is not the principal's


class Facts(NamedTuple):
    """Everything a decision depends on — and so the exact cache key (a tuple: cheap to hash and compare).

    Built positionally on the request path: keywords allocate a dict per call, and for a 50-client list's
    ~1,000 sections those allocations brought a full garbage collection into the decision step, which then
    held the event loop ~110 ms once every few requests (benchmarks/policy.py, 2026-12-05: decision step
    4.9 ms on average with keywords, 1.9 ms positional; longest 110 ms against 2.3 ms).
    """

    action: str
    org: str
    roles: tuple[str, ...]
    is_self: bool  # the resource is about the principal themself (a client)
    resource: str  # the Cedar entity type: Section | Client | Consent | AccessLog | Index | User
    category: str
    holder: str
    held_here: bool
    shared_with_client: bool
    recorded_by_me: bool  # a consent recorded by the principal's organisation
    names_me: bool  # a consent naming the principal's organisation
    refuses_me: bool  # a consent whose deny provision names the principal's organisation
    purpose: str
    consent: str
    legal_basis: str
    justified: bool
    break_glass_active: bool
    sees_identity: bool
    grantor: str
    contact_opted_in: bool
    task_owner: str  # for marking a plan's task: who does it (CASEWORKER | PARTNER | CLIENT)
    # a file on a review list: addressed to the principal's organisation, or asked for by its waiting record
    addressed: bool = False
    asked: bool = False


class CedarEngine:
    """Evaluates Facts with Cedar, in batches, behind an exact LRU cache.

    `parties` is the city's configuration of appropriate parties: organisation -> the legal bases under which
    it may be given data without consent (Organization.appropriate_for in the schema).
    """

    def __init__(self, policy_set: PolicySet, *, cache_size: int = 4096,
                 parties: Mapping[str, Sequence[str]] | None = None) -> None:
        self._ps = policy_set
        self._cache: OrderedDict[Facts, tuple[bool, tuple[str, ...]]] = OrderedDict()
        self._cache_size = cache_size
        self._parties = {org: sorted(set(bases)) for org, bases in (parties or {}).items()}
        self.evaluations = 0  # Cedar requests actually made (for benchmarks and tests)

    async def evaluate(self, facts: Sequence[Facts]) -> list[tuple[bool, tuple[str, ...]]]:
        """(allowed, matching rule ids) per fact tuple."""
        missing = list(dict.fromkeys(f for f in facts if f not in self._cache))
        for i in range(0, len(missing), CHUNK):
            chunk = missing[i:i + CHUNK]
            for f, answer in zip(chunk, self._batch(chunk), strict=True):
                self._remember(f, answer)
            if i + CHUNK < len(missing):
                await asyncio.sleep(0)  # a long batch never holds the loop for long
        out = []
        for f in facts:
            cached = self._cache.get(f)
            if cached is None:  # evicted between fill and read: evaluate alone
                out.append(self._batch([f])[0])
            else:
                self._cache.move_to_end(f)
                out.append(cached)
        return out

    def _remember(self, f: Facts, answer: tuple[bool, tuple[str, ...]]) -> None:
        self._cache[f] = answer
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _org(self, org: str) -> dict[str, Any]:
        return {"uid": {"type": "Casebridge::Organization", "id": org}, "parents": [],
                "attrs": {"appropriate_for": self._parties.get(org, [])}}

    def _batch(self, facts: Sequence[Facts]) -> list[tuple[bool, tuple[str, ...]]]:
        orgs = {f.org for f in facts} | {f.holder for f in facts if f.holder} | {_OTHER_ORG}
        entities: list[dict[str, Any]] = [self._org(o) for o in sorted(orgs)]
        requests = []
        for n, f in enumerate(facts):
            user, res = f"u{n}", f"r{n}"
            entities.append({"uid": {"type": "Casebridge::User", "id": user}, "parents": [
                {"type": "Casebridge::Organization", "id": f.org}], "attrs": {
                "org": _ref(f.org), "roles": list(f.roles), "self_client": _SELF if f.is_self else "",
            }})
            resource = f'Casebridge::{f.resource}::"{res}"'
            client = _SELF if f.is_self else _OTHER
            if f.resource == "Section":
                entities.append(_entity("Section", res, {
                    "client": client, "category": f.category, "holder": _ref(f.holder), "held_here": f.held_here,
                    "shared_with_client": f.shared_with_client}))
            elif f.resource == "Client":
                entities.append(_entity("Client", res, {"id": client}))
            elif f.resource == "Consent":
                entities.append(_entity("Consent", res, {
                    "client": client, "recorded_by": _ref(f.org if f.recorded_by_me else _OTHER_ORG),
                    "names": [_ref(f.org)] if f.names_me else [], "refuses": [_ref(f.org)] if f.refuses_me else []}))
            elif f.resource == "Worklist":
                entities.append(_entity("Worklist", res, {"org": _ref(f.holder), "category": f.category}))
            elif f.resource == "Webhooks":
                entities.append(_entity("Webhooks", res, {"org": _ref(f.holder)}))
            elif f.resource == "User":
                resource = f'Casebridge::User::"{user}"'  # the caller's own session
            else:
                entities.append(_entity(f.resource, res, {}))
            requests.append({
                "principal": f'Casebridge::User::"{user}"', "action": f'Casebridge::Action::"{f.action}"',
                "resource": resource,
                "context": {"purpose": f.purpose, "consent": f.consent, "legal_basis": f.legal_basis,
                            "justified": f.justified, "break_glass_active": f.break_glass_active,
                            "sees_identity": f.sees_identity, "grantor": f.grantor,
                            "contact_opted_in": f.contact_opted_in, "task_owner": f.task_owner,
                            "addressed": f.addressed, "asked": f.asked},
            })
        self.evaluations += len(requests)
        results = cedarpy.is_authorized_batch(requests, self._ps.policies, entities, self._ps.schema)
        out = []
        for r in results:
            if r.diagnostics.errors:
                raise RuntimeError(f"Cedar evaluation errors: {len(r.diagnostics.errors)}")
            ids = r.diagnostics.id_annotations_by_reason
            out.append((r.allowed, tuple(sorted(ids.get(p, p) for p in r.diagnostics.reasons))))
        return out


def _ref(org: str) -> dict[str, Any]:
    return {"__entity": {"type": "Casebridge::Organization", "id": org}}


def _entity(kind: str, uid: str, attrs: dict[str, Any]) -> dict[str, Any]:
    return {"uid": {"type": f"Casebridge::{kind}", "id": uid}, "parents": [], "attrs": attrs}


@dataclass
class DeciderStats:
    """CPU the decider spent on this thread: reading consents, and computing facts plus Cedar."""

    load_cpu: float = 0.0
    evaluate_cpu: float = 0.0
    decisions: int = 0


class CedarDecider:
    """Decides with Cedar on facts from the principal, the request and the client's consents."""

    def __init__(
        self, sessions: async_sessionmaker[Any], reads: Reads, engine: CedarEngine, *,
        store: ConsentStore | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._sessions = sessions
        self._reads = reads
        self._engine = engine
        self._store = store or ConsentStore()
        self._clock = clock
        self.stats = DeciderStats()

    async def authorize(self, ctx: RequestContext, action: Action, targets: Sequence[Target]) -> list[Verdict]:
        """Whether the caller may perform `action` on each target; for a refusal, the purposes that would do."""
        if not targets:
            return []
        p = ctx.principal
        org, roles, purpose = p.organization, tuple(sorted(p.roles)), str(ctx.purpose or "")
        facts = [_operation_facts(action.value, org, roles, purpose, p.self_client, t) for t in targets]
        unique = list(dict.fromkeys(facts))
        answers = dict(zip(unique, await self._engine.evaluate(unique), strict=True))
        out = []
        for f in facts:
            allowed, rule_ids = answers[f]
            if allowed:
                out.append(Verdict(True, rule_ids))
                continue
            others = [f._replace(purpose=str(other)) for other in Purpose if str(other) != f.purpose]
            fits = [Purpose(o.purpose) for o, (ok, _) in zip(others, await self._engine.evaluate(others),
                                                             strict=True) if ok]
            out.append(Verdict(False, rule_ids or ("default-deny",), tuple(fits)))
        return out

    async def decide(self, ctx: RequestContext, resources: Sequence[Resource], *,
                     claim: LegalBasisClaim | None = None) -> list[Decision]:
        """One decision per section; consents and grants read once for the whole batch."""
        if not resources:
            return []
        p = ctx.principal
        now = self._clock()
        client_ids = sorted({r.client_id for r in resources})
        started = time.thread_time()
        consents = await self._store.for_clients(self._reads, client_ids)
        grants: dict[str, GrantRecord] = {}
        # grants matter only to the break-glass rule, which needs the emergency purpose: read them only then
        if ctx.purpose is Purpose.EMERGENCY:
            async with self._sessions() as session:
                grants = await self._store.active_grants(session, client_ids=client_ids, subject=p.subject,
                                                         org=p.organization, now=now)
        loaded = time.thread_time()
        self.stats.load_cpu += loaded - started
        facts, answers_by_consent, claims = [], [], []
        org, roles, purpose, read = p.organization, tuple(sorted(p.roles)), str(ctx.purpose or ""), Action.READ.value
        # What the consents say depends on the client, the category and the holder, not on the connector; the
        # legal basis on the client only; a decision on those and the facts: each is worked out once per
        # request. Measured (benchmarks/policy.py, a 50-client list, ~1,000 sections, 2026-12-05): the decision
        # step took 1.9 ms this way and 5.1 ms working each out per section, most of it a full garbage collection
        # the extra objects brought into the step (the loop held 106 ms once every few requests).
        said: dict[tuple[str, Category, str], ConsentAnswer] = {}
        bases: dict[str, tuple[str, str | None, GrantRecord | None]] = {}
        for r in resources:
            answer = said.get((r.client_id, r.category, r.holder))
            if answer is None:
                answer = said[(r.client_id, r.category, r.holder)] = consent_fact(
                    consents.get(r.client_id, ()), org=org, category=r.category, purpose=ctx.purpose,
                    holder=r.holder, now=now)
            claimed = bases.get(r.client_id)
            if claimed is None:
                claimed = bases[r.client_id] = _legal_basis(claim, grants.get(r.client_id))
            basis, justification, grant = claimed
            facts.append(Facts(  # positional: see Facts
                read, org, roles, p.self_client == r.client_id, "Section", str(r.category), r.holder,
                r.held_here, r.shared_with_client, False, False, False, purpose, str(answer.fact), basis,
                bool(justification), grant is not None, False, "", False, ""))
            answers_by_consent.append(answer)
            claims.append(claimed)
        unique = list(dict.fromkeys(facts))  # a 50-client list has a handful of distinct fact tuples
        answers = dict(zip(unique, await self._engine.evaluate(unique), strict=True))
        # For a deny no forbid explains: would a consent allow it? Asked of the policies, once per fact tuple.
        unexplained = [f for f in unique if not answers[f][0] and not any(r in FORBID_REASONS for r in answers[f][1])]
        granted = [f._replace(consent=ConsentFact.GRANTED.value) for f in unexplained]
        would = {f: ok for f, (ok, _) in zip(unexplained, await self._engine.evaluate(granted), strict=True)}
        made: dict[tuple[Any, ...], Decision] = {}
        out = []
        for f, consent, claimed in zip(facts, answers_by_consent, claims, strict=True):
            key = (f, consent, claimed[2].id if claimed[2] else None)
            decision = made.get(key)
            if decision is None:
                decision = made[key] = _decision(f, answers[f], consent, claimed, would.get(f, False))
            out.append(decision)
        self.stats.evaluate_cpu += time.thread_time() - loaded
        self.stats.decisions += len(out)
        return out



def _decision(
    f: Facts, answer: tuple[bool, tuple[str, ...]], consent: ConsentAnswer,
    claim: tuple[str, str | None, GrantRecord | None], consent_would_allow: bool,
) -> Decision:
    allowed, rule_ids = answer
    consent_id = consent.consent_id
    _, justification, grant = claim
    if allowed:
        basis = _permit_basis(rule_ids)
        legal = basis if basis in (LegalBasis.FERPA_99_36, LegalBasis.BREAK_GLASS) else None
        return Decision(
            True, rule_ids, basis=basis, consent_id=consent_id if basis == "consent" else None,
            legal_basis=legal, justification=justification if legal else None,
            break_glass=basis == LegalBasis.BREAK_GLASS,
            grant_id=grant.id if grant is not None and basis == LegalBasis.BREAK_GLASS else None,
            data_periods=consent.data_periods if basis == "consent" else None,
        )
    forbids = [r for r in FORBID_REASONS if r in rule_ids]  # in FORBID_REASONS' order of precedence
    if forbids:
        return Decision(False, rule_ids, reason=FORBID_REASONS[forbids[0]],
                        consent_id=consent_id if f.consent != ConsentFact.NONE else None)
    # what would allow it: a consent, where the policies say one would; otherwise nothing the client can sign
    reason = WithheldReason.CONSENT_REQUIRED if consent_would_allow else WithheldReason.NOT_PERMITTED_FOR_ROLE
    return Decision(False, ("default-deny",), reason=reason, outside_consent_purpose=consent.other_purpose)


def _operation_facts(action: str, org: str, roles: tuple[str, ...], purpose: str, self_client: str | None,
                     t: Target) -> Facts:
    """The facts of one operation on one target."""
    c = t.consent
    return Facts(
        action, org, roles, self_client is not None and t.client_id == self_client, t.kind, t.category, t.holder,
        t.kind == "Section", True, c is not None and c.recorded_by_org == org, c is not None and c.names(org),
        c is not None and c.refuses(org), purpose, "none", "", False, False, t.sees_identity, t.grantor,
        t.contact_opted_in, t.task_owner, t.addressed, t.asked)


def _permit_basis(rule_ids: tuple[str, ...]) -> str:
    return next(PERMIT_BASES[r] for r in PERMIT_BASES if r in rule_ids)


def _legal_basis(
    claim: LegalBasisClaim | None, grant: GrantRecord | None,
) -> tuple[str, str | None, GrantRecord | None]:
    """The legal basis in force for one client: a claim on the request, or the caller's break-glass grant."""
    if claim is not None and claim.basis is LegalBasis.FERPA_99_36:
        return LegalBasis.FERPA_99_36.value, claim.justification.strip() or None, None
    if grant is not None:
        return LegalBasis.BREAK_GLASS.value, grant.justification, grant
    return "", None, None


__all__ = ["RULE_EVALUATION_ERROR", "CedarDecider", "CedarEngine", "Facts", "PolicySet"]
