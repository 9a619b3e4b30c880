"""The operation path of the gate: decide -> act -> record, for every operation that is not a profile read.

Every operation is a Cedar action (core.vocabulary.Action). `authorize` asks
the policies before any work; a refusal is written to the access log and
answered with a typed error: PURPOSE_REQUIRED or PURPOSE_NOT_ALLOWED where
the same caller would be allowed for another purpose (the policies say which),
FORBIDDEN otherwise, or the caller's own not-found error where even the
existence of the thing must not show. `operation` opens one transaction in
which the operation acts and its access-log events are appended: the change
and its record commit together or not at all. A store that cannot be written
is AUDIT_UNAVAILABLE for every operation, reads and writes alike.

    async with gate.operation(ctx, Action.CONSENT_REVOKE) as op:
        consent = ...  # read in op.session
        await op.require(Action.CONSENT_REVOKE, Target.of_consent(consent))
        ...            # act in op.session
        op.log(consent.client_id, detail=consent.id)
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from audit.access_records import AccessRecord, AuditRecorder, SectionOutcome, action_record
from core.errors import (
    AuditUnavailable,
    CasebridgeError,
    PermissionDenied,
    PurposeNotAllowed,
    PurposeRequired,
)
from core.principal import RequestContext
from core.vocabulary import Action
from policies.decisions import Decider, Decision, Target, Verdict
from store.engine import STORE_FAILURES

log = logging.getLogger("casebridge.gate")


class Refused(Exception):
    """Raised inside an operation when the policies refuse a step; carries the error the caller gets."""

    def __init__(self, error: CasebridgeError, record: AccessRecord) -> None:
        super().__init__(error.message)
        self.error = error
        self.record = record


@dataclass
class Operation:
    """One operation in progress: its transaction, and the events it will append when it commits."""

    ctx: RequestContext
    action: Action
    session: AsyncSession
    decider: Decider
    records: list[AccessRecord] = field(default_factory=list)

    async def require(self, action: Action, target: Target, *, hidden: CasebridgeError | None = None) -> Verdict:
        """Go on only if the policies allow `action` on `target`; otherwise the transaction is rolled back and
        the refusal logged. `hidden`: the error to answer instead of FORBIDDEN, where a refusal must not tell
        that the thing exists (e.g. CONSENT_NOT_FOUND)."""
        (verdict,) = await _verdicts(self.decider, self.ctx, action, [target])
        if not verdict.permit:
            # logged under the operation's own action (a revoke refused at the step "may you see it" is a
            # refused revoke)
            raise Refused(hidden or refusal(self.ctx, action, verdict),
                          refused_record(self.ctx, self.action, target, verdict))
        return verdict

    def not_found(self, hidden: CasebridgeError, what: str) -> Refused:
        """A record asked for by id that does not exist: refused and logged like one the caller may not see (the
        same answer, `hidden`), the log naming `what` was missing."""
        return Refused(hidden, refused_record(self.ctx, self.action, Target("Client"),
                                              Verdict(False, (f"no-such-{what}",))))

    def require_seen(self, seen: Decision, client_id: str, hidden: CasebridgeError) -> None:
        """Go on only if the caller may see the held record the operation changes (`seen`: the gate's decision on
        its section); otherwise it does not exist for them (`hidden`), and the refusal is logged."""
        if not seen.permit:
            raise Refused(hidden, refused_record(self.ctx, self.action, Target.client(client_id),
                                                 Verdict(False, seen.rule_ids)))

    def log(self, client_id: str | None, *, result: str = "performed", detail: str | None = None,
            sections: tuple[SectionOutcome, ...] = (), **extra: Any) -> None:
        """Append an event for `client_id` to the access log when the operation commits."""
        self.records.append(action_record(self.ctx, self.action, client_id, detail=detail, sections=sections,
                                          result=result, **extra))


class Operations:
    """The decide -> act -> record path (mixed into the Gate)."""

    _decider: Decider
    _recorder: AuditRecorder
    _sessions: async_sessionmaker[Any] | None  # None: a gate for profile reads only (unit tests)

    async def authorize(self, ctx: RequestContext, action: Action, targets: Sequence[Target], *,
                        hidden: CasebridgeError | None = None) -> list[Verdict]:
        """Go on only if the policies allow `action` on every target; a refusal is logged (one event per
        refused target) and raised as a typed error."""
        verdicts = await self.authorize_each(ctx, action, targets)
        refused = [(t, v) for t, v in zip(targets, verdicts, strict=True) if not v.permit]
        if refused:
            await self.record([refused_record(ctx, action, t, v) for t, v in refused])
            raise hidden or refusal(ctx, action, refused[0][1])
        return verdicts

    async def record(self, records: Sequence[AccessRecord], *, session: AsyncSession | None = None) -> None:
        """Append to the access log, or raise AuditUnavailable: any failure of the recorder counts (fail closed)."""
        try:
            await self._recorder.record(records, session=session)
        except AuditUnavailable:
            raise
        except Exception as exc:
            log.error("the access log recorder failed (%s)", type(exc).__name__)
            raise AuditUnavailable("the access log could not be written") from exc

    async def authorize_each(self, ctx: RequestContext, action: Action, targets: Sequence[Target]) -> list[Verdict]:
        """The policies' verdict on each target, raising nothing: for keeping, of a list the caller may see,
        only what they may (the operation that lists them is authorized and logged on its own)."""
        async with self.store_work(action):
            return await _verdicts(self._decider, ctx, action, targets)

    @contextlib.asynccontextmanager
    async def operation(self, ctx: RequestContext, action: Action, target: Target | None = None,
                        ) -> AsyncIterator[Operation]:
        """Decide (when `target` is given), then one transaction in which the operation acts and its events are
        appended. Store failures are AUDIT_UNAVAILABLE: nothing is changed and nothing released."""
        if self._sessions is None:
            raise RuntimeError("this gate was built without a store: it runs profile reads only")
        if target is not None:
            await self.authorize(ctx, action, [target])
        try:
            async with self.store_work(action), self._sessions.begin() as session:
                op = Operation(ctx, action, session, self._decider)
                yield op
                if not op.records:
                    raise RuntimeError(f"the operation {action} logged nothing")
                await self.record(op.records, session=session)
        except Refused as refused:
            await self.record([refused.record])
            raise refused.error from None

    @contextlib.asynccontextmanager
    async def store_work(self, action: Action) -> AsyncIterator[None]:
        """Around an operation's work in the store (the operation path's transaction, or the identity index's
        decisions, which keep their own and append their events through a hook): a store that fails is
        AUDIT_UNAVAILABLE - the access log lives there too, so nothing was done or released. Reads of the facts
        a decision needs (the crosswalk, consents) are store work too: a store that is down refuses nothing and
        shows nothing."""
        try:
            yield
        except STORE_FAILURES as exc:
            STORE_OUTAGES.failed(action, exc)
            raise AuditUnavailable("the store holding the access log failed, so nothing was done or shown") from exc


class OutageLog:
    """A store that is down fails every request: one log line for the first failure, then at most one per
    `window` seconds saying how many more there were (benchmarks/load.py: 6,355 requests in 20 s of a
    PostgreSQL outage logged one line each)."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window, self._clock = window, clock
        self._until = float("-inf")
        self._quiet = 0

    def failed(self, action: Action, exc: BaseException) -> None:
        now = self._clock()
        if now < self._until:
            self._quiet += 1
            return
        more = f"; {self._quiet} more store failures in the last {self._window:g} s" if self._quiet else ""
        log.error("the store failed during %s (%s)%s", action.value, type(exc).__name__, more)
        self._until, self._quiet = now + self._window, 0


STORE_OUTAGES = OutageLog()


async def _verdicts(decider: Decider, ctx: RequestContext, action: Action, targets: Sequence[Target]
                    ) -> list[Verdict]:
    try:
        verdicts = await decider.authorize(ctx, action, targets)
        if len(verdicts) != len(targets):
            raise ValueError("decider returned the wrong number of verdicts")
    except STORE_FAILURES:
        raise  # the facts could not be read: not a refusal but a store that is down (store_work answers it)
    except Exception as exc:  # an evaluation error is a refusal, and is logged
        log.error("policy evaluation failed for %s (%s); refusing", action.value, type(exc).__name__)
        return [Verdict(False, ("evaluation-error-denies",))] * len(targets)
    return verdicts


def refusal(ctx: RequestContext, action: Action, verdict: Verdict) -> CasebridgeError:
    """The error a refused caller gets: what is wrong, and what would be allowed (the policies' own answer)."""
    if verdict.purposes:
        fits = ", ".join(str(p) for p in verdict.purposes)
        suggestion = f"Send X-Purpose-Of-Use with one of: {fits}."
        if ctx.purpose is None:
            return PurposeRequired(f"{action.value} needs a purpose of use", suggestion=suggestion,
                                   action=action.value)
        return PurposeNotAllowed(f"{action.value} is not allowed to you for the purpose {ctx.purpose}",
                                 suggestion=suggestion, action=action.value)
    return PermissionDenied(f"{action.value} is not allowed to you", action=action.value,
                            suggestion="Ask whoever administers casebridge for your organisation if you need it.")


def refused_record(ctx: RequestContext, action: Action, target: Target, verdict: Verdict) -> AccessRecord:
    """The access-log event of a refusal: which rules (or none) said no."""
    return action_record(ctx, action, target.client_id, result="refused",
                         detail=("refused by " + ",".join(verdict.rule_ids))[:500])
