"""The Cedar decider: policies as files, decided on normalised facts, cached exactly.

For each (client, category, holding agency) the decider computes the facts a
policy may look at — the principal's organisation and roles, whether the client
is the principal themself, the section's category and holder, the purpose, what
the client's consents say, the legal basis — and asks Cedar. The answer depends
on nothing else, so it is cached per distinct fact tuple: a 50-client list
usually costs a handful of Cedar evaluations, and consents are read fresh from
the store on every request (a revocation counts from the next request on).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import cedarpy
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.errors import ConfigurationError
from core.principal import RequestContext
from core.vocabulary import Category, LegalBasis, Purpose, Role
from policies.consent_store import ConsentStore, GrantRecord
from policies.consents import ConsentAnswer, ConsentFact, consent_fact
from policies.decisions import RULE_EVALUATION_ERROR, Decision, Resource, WithheldReason
from store.engine import Reads, SessionReads

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
    "own-agency-reads-own-records": "own-agency",
    "client-reads-own-profile": "client-self",
    "steward-reviews-the-index": "identity-stewardship",
    "consent-permits-grantee": "consent",
    "ferpa-99.36-health-safety-emergency": LegalBasis.FERPA_99_36.value,
    "break-glass-emergency": LegalBasis.BREAK_GLASS.value,
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


_NAMES: dict[Category | ConsentFact, str] = {v: str(v) for v in (*Category, *ConsentFact)}


class Facts(NamedTuple):
    """Everything a decision depends on — and so the exact cache key (a tuple: cheap to hash and compare)."""

    org: str
    roles: tuple[str, ...]
    is_self: bool
    category: str
    holder: str
    purpose: str
    consent: str
    legal_basis: str
    justified: bool
    break_glass_active: bool


class CedarEngine:
    """Evaluates Facts with Cedar, in batches, behind an exact LRU cache."""

    def __init__(self, policy_set: PolicySet, *, cache_size: int = 4096) -> None:
        self._ps = policy_set
        self._cache: OrderedDict[Facts, tuple[bool, tuple[str, ...]]] = OrderedDict()
        self._cache_size = cache_size
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
            answer = self._cache.get(f)
            if answer is None:  # evicted between fill and read: evaluate alone
                answer = self._batch([f])[0]
            else:
                self._cache.move_to_end(f)
            out.append(answer)
        return out

    def _remember(self, f: Facts, answer: tuple[bool, tuple[str, ...]]) -> None:
        self._cache[f] = answer
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _batch(self, facts: Sequence[Facts]) -> list[tuple[bool, tuple[str, ...]]]:
        entities: list[dict[str, Any]] = []
        orgs = {f.org for f in facts} | {f.holder for f in facts}
        entities += [{"uid": {"type": "Casebridge::Organization", "id": o}, "attrs": {}, "parents": []} for o in orgs]
        requests = []
        for n, f in enumerate(facts):
            user, section = f"u{n}", f"s{n}"
            entities.append({"uid": {"type": "Casebridge::User", "id": user}, "parents": [
                {"type": "Casebridge::Organization", "id": f.org}], "attrs": {
                "org": {"__entity": {"type": "Casebridge::Organization", "id": f.org}},
                "roles": list(f.roles), "self_client": "client-self" if f.is_self else "",
            }})
            entities.append({"uid": {"type": "Casebridge::Section", "id": section}, "parents": [], "attrs": {
                "client": "client-self" if f.is_self else "client-other", "category": f.category,
                "holder": {"__entity": {"type": "Casebridge::Organization", "id": f.holder}},
            }})
            requests.append({
                "principal": f'Casebridge::User::"{user}"', "action": 'Casebridge::Action::"read"',
                "resource": f'Casebridge::Section::"{section}"',
                "context": {"purpose": f.purpose, "consent": f.consent, "legal_basis": f.legal_basis,
                            "justified": f.justified, "break_glass_active": f.break_glass_active},
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


@dataclass
class DeciderStats:
    """CPU the decider spent on this thread: reading consents, and computing facts plus Cedar."""

    load_cpu: float = 0.0
    evaluate_cpu: float = 0.0
    decisions: int = 0


class CedarDecider:
    """Decides with Cedar on facts from the principal, the request and the client's consents."""

    def __init__(
        self, sessions: async_sessionmaker[Any], engine: CedarEngine, *,
        store: ConsentStore | None = None, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        reads: Reads | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = reads or SessionReads(sessions)
        self._engine = engine
        self._store = store or ConsentStore()
        self._clock = clock
        self.stats = DeciderStats()

    async def decide(self, ctx: RequestContext, resources: Sequence[Resource]) -> list[Decision]:
        """One decision per resource; consents and grants read once for the whole batch."""
        if not resources:
            return []
        p = ctx.principal
        now = self._clock()
        client_ids = sorted({r.client_id for r in resources})
        started = time.thread_time()
        consents = await self._store.for_clients(self._reads, client_ids)
        grants: dict[str, GrantRecord] = {}
        # only the break-glass rule reads grants, and only for caseworkers with the emergency purpose
        if p.has(Role.CASEWORKER) and ctx.purpose is Purpose.EMERGENCY:
            async with self._sessions() as session:
                grants = await self._store.active_grants(session, client_ids=client_ids, subject=p.subject,
                                                         org=p.organization, now=now)
        loaded = time.thread_time()
        self.stats.load_cpu += loaded - started
        if ctx.purpose is None:  # the gate refuses earlier; without a purpose nothing is permitted
            return [Decision(False, ("purpose-required",), reason=WithheldReason.CONSENT_REQUIRED)] * len(resources)
        facts, answers_by_consent, claims = [], [], []
        org, roles, purpose = p.organization, tuple(sorted(p.roles)), str(ctx.purpose)
        # what the consents say depends on the client and the category, not on which agency holds it;
        # the legal basis on the client only: each is worked out once per request
        said: dict[tuple[str, Category], ConsentAnswer] = {}
        bases: dict[str, tuple[str, str | None, GrantRecord | None]] = {}
        for r in resources:
            answer = said.get((r.client_id, r.category))
            if answer is None:
                answer = said[(r.client_id, r.category)] = consent_fact(
                    consents.get(r.client_id, ()), org=org, category=r.category, purpose=ctx.purpose, now=now)
            claim = bases.get(r.client_id)
            if claim is None:
                claim = bases[r.client_id] = _legal_basis(ctx, grants.get(r.client_id))
            basis, justification, grant = claim
            facts.append(Facts(  # positional: a NamedTuple built from keywords costs twice as much
                org, roles, p.self_client == r.client_id, _NAMES[r.category], r.holder, purpose,
                _NAMES[answer.fact], basis, bool(justification), grant is not None))
            answers_by_consent.append(answer)
            claims.append(claim)
        unique = list(dict.fromkeys(facts))  # a 50-client list has a handful of distinct fact tuples
        answers = dict(zip(unique, await self._engine.evaluate(unique), strict=True))
        made: dict[tuple[Any, ...], Decision] = {}
        out = []
        for f, consent, claim in zip(facts, answers_by_consent, claims, strict=True):
            key = (f, consent, claim[2].id if claim[2] else None)
            decision = made.get(key)
            if decision is None:
                decision = made[key] = _decision(f, answers[f], consent, claim)
            out.append(decision)
        self.stats.evaluate_cpu += time.thread_time() - loaded
        self.stats.decisions += len(out)
        return out


_FERPA, _BREAK_GLASS = LegalBasis.FERPA_99_36.value, LegalBasis.BREAK_GLASS.value  # (enum .value is slow)
_STAFF = frozenset({Role.CASEWORKER.value, Role.PARTNER.value})


@functools.lru_cache(maxsize=256)
def _permit_basis(rule_ids: tuple[str, ...]) -> str:
    return next(PERMIT_BASES[r] for r in PERMIT_BASES if r in rule_ids)


def _legal_basis(ctx: RequestContext, grant: GrantRecord | None) -> tuple[str, str | None, GrantRecord | None]:
    """The legal basis in force for one client: a claim on the request, or the caller's break-glass grant."""
    if ctx.legal_basis is not None and ctx.legal_basis.basis is LegalBasis.FERPA_99_36:
        return _FERPA, ctx.legal_basis.justification.strip() or None, None
    if grant is not None:
        return _BREAK_GLASS, grant.justification, grant
    return "", None, None


def _decision(
    f: Facts, answer: tuple[bool, tuple[str, ...]], consent: ConsentAnswer,
    claim: tuple[str, str | None, GrantRecord | None],
) -> Decision:
    allowed, rule_ids = answer
    consent_id = consent.consent_id
    _, justification, grant = claim
    if allowed:
        basis = _permit_basis(rule_ids)
        legal = basis if basis in (_FERPA, _BREAK_GLASS) else None
        return Decision(
            True, rule_ids, basis=basis, consent_id=consent_id if basis == "consent" else None,
            legal_basis=legal, justification=justification if legal else None,
            break_glass=basis == _BREAK_GLASS,
            grant_id=grant.id if grant is not None and basis == _BREAK_GLASS else None,
            data_periods=consent.data_periods if basis == "consent" else None,
        )
    forbids = [r for r in FORBID_REASONS if r in rule_ids]  # in FORBID_REASONS' order of precedence
    if forbids:
        return Decision(False, rule_ids, reason=FORBID_REASONS[forbids[0]],
                        consent_id=consent_id if f.consent != ConsentFact.NONE else None)
    reason = (WithheldReason.CONSENT_REQUIRED
              if not _STAFF.isdisjoint(f.roles) else WithheldReason.NOT_PERMITTED_FOR_ROLE)
    return Decision(False, ("default-deny",), reason=reason, outside_consent_purpose=consent.other_purpose)


__all__ = ["RULE_EVALUATION_ERROR", "CedarDecider", "CedarEngine", "Facts", "PolicySet"]


