"""The access log's readers: auditors (the log, summaries, integrity) and clients (their disclosure report).

Who may read what is decided by the policies (policies/operations.cedar):
auditors read events, never client records, for the audit purpose; a client
reads the report of their own data; staff read it on the client's behalf only
where they may see the client's identity. Every read of the log is itself
written to the log, refusals included.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from audit import queries, witness
from audit.export import FORMATS, MEDIA_TYPE, SUFFIX, keep_checkpoint, read_slice, render
from audit.signing import CheckpointSigner
from audit.verify import Report, verify
from core.errors import InvalidInput
from core.principal import RequestContext
from core.vocabulary import Action
from gate.gate import Gate
from policies.decisions import Target
from store.tables import AccessEvent

MAX_EXPORT_EVENTS = 20_000  # one download; a larger range is exported by the operator (`casebridge audit export`)
MAX_EXPORT_SPAN = 100_000  # positions of the chain one export's proof may cover (about 10 MB of links)


@dataclass(frozen=True, slots=True)
class LogExport:
    """An export of the access log, ready to download."""

    fmt: str
    filename: str
    media_type: str
    events: int
    content: str
    proof: dict[str, Any] | None  # CSV only: the chain proof, kept beside the file (the other formats hold it)


class AuditDesk:
    """The access log's queries, each an operation of the gate (decided by the policies, itself logged)."""

    def __init__(self, *, gate: Gate, sessions: async_sessionmaker[Any], signer: CheckpointSigner) -> None:
        self._gate = gate
        self._sessions = sessions
        self._signer = signer
        self._jwks = signer.public_jwks()

    async def access_log(
        self, ctx: RequestContext, flt: queries.LogFilter, *, first: int, before_seq: int | None,
    ) -> tuple[list[AccessEvent], bool]:
        """A page of the log, newest first."""
        since, until = _window(flt.since, flt.until)
        flt = dataclasses.replace(flt, since=since, until=until)
        async with self._gate.operation(ctx, Action.AUDIT_READ, Target.access_log()) as op:
            rows, more = await queries.page(op.session, flt, first=first, before_seq=before_seq)
            op.log(flt.client_id, result="disclosed", detail=f"{len(rows)} events")
        return rows, more

    async def export(self, ctx: RequestContext, flt: queries.LogFilter, *, fmt: str) -> LogExport:
        """The events matching `flt` as a file an auditor keeps (JSON Lines, CSV, a FHIR Bundle of BALP
        AuditEvents), with the chain proof of the range and a checkpoint signed now; the export is logged."""
        async with self._gate.operation(ctx, Action.AUDIT_EXPORT, Target.access_log()) as op:
            if fmt not in FORMATS:
                raise InvalidInput(f"format is one of {', '.join(FORMATS)}", field="format")
            since, until = _window(flt.since, flt.until)
            flt = dataclasses.replace(flt, since=since, until=until)
            matching, lo, hi = await queries.extent(op.session, flt)
            # The proof holds every position between the first and the last event exported (a filtered export
            # still links), so the span is bounded as well as the count: what one download may hold in memory.
            if matching > MAX_EXPORT_EVENTS:
                raise InvalidInput(f"more than {MAX_EXPORT_EVENTS} events match; narrow the window or the filter "
                                   "(the operator's `casebridge audit export` writes larger exports)", field="filter")
            if lo is not None and hi is not None and hi - lo + 1 > MAX_EXPORT_SPAN:
                raise InvalidInput(f"the matching events spread over more than {MAX_EXPORT_SPAN} positions of the "
                                   "log; narrow the window", field="filter")
            slice_ = await read_slice(op.session, self._signer, flt, reason="export", max_seq=hi)
            await keep_checkpoint(op.session, self._signer, slice_)
            op.log(flt.client_id, result="disclosed", detail=f"{fmt}: {len(slice_.events)} events; {_described(flt)}")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return LogExport(fmt=fmt, filename=f"casebridge-access-log-{stamp}{SUFFIX[fmt]}", media_type=MEDIA_TYPE[fmt],
                         events=len(slice_.events), content=render(slice_, fmt),
                         proof=slice_.proof if fmt == "csv" else None)

    async def summary(self, ctx: RequestContext, *, since: datetime | None, until: datetime | None,
                      many_clients: int) -> queries.Summary:
        """Pointers at unusual access in a window."""
        if not 1 <= many_clients <= 10_000:
            raise InvalidInput("manyClients is 1 to 10000", field="manyClients")
        async with self._gate.operation(ctx, Action.AUDIT_SUMMARY, Target.access_log()) as op:
            start, end = _window(since, until)
            out = await queries.summary(op.session, since=start, until=end, many_clients=many_clients)
            op.log(None, result="disclosed")
        return out

    async def integrity(self, ctx: RequestContext) -> tuple[Report, dict[str, Any] | None]:
        """Verify the whole chain now; with the newest signed checkpoint, for the auditor to keep."""
        await self._gate.authorize(ctx, Action.AUDIT_VERIFY, [Target.access_log()])
        report = await verify(self._sessions, jwks=self._jwks)  # its own reads, batch by batch
        newest = await witness.latest(self._sessions)
        async with self._gate.operation(ctx, Action.AUDIT_VERIFY) as op:
            op.log(None, result="performed", detail="intact" if report.ok else "broken")
        return report, newest

    async def disclosure_report(
        self, ctx: RequestContext, *, client_id: str, since: datetime | None, until: datetime | None,
    ) -> list[queries.Disclosure]:
        """Who was shown which categories of a client's data, when and why: for the client, or staff acting for
        the client (where the policies let them see the client's identity)."""
        since, until = _window(since, until)
        await self._gate.authorize_for_client(ctx, Action.DISCLOSURE_REPORT, client_id)
        async with self._gate.operation(ctx, Action.DISCLOSURE_REPORT) as op:
            out = await queries.disclosures(op.session, client_id=client_id, since=since, until=until)
            op.log(client_id, result="disclosed", detail=f"{len(out)} disclosures")
        return out


def _described(flt: queries.LogFilter) -> str:
    """The filter an export was made with, for its entry in the log (the client is the event's own column)."""
    values = {f.name: getattr(flt, f.name) for f in dataclasses.fields(flt)}
    # which fields narrowed it, and its window; not the typed values (free text must not reach the kept log)
    parts = [f"{name}={value.isoformat()}" if isinstance(value, datetime) else name
             for name, value in values.items() if value is not None]
    return "filter: " + (" ".join(parts) or "none")


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A time window in UTC; InvalidInput if a time has no zone or the window ends before it starts."""
    start, end = _utc(since), _utc(until)
    if start is not None and end is not None and start > end:
        raise InvalidInput("since is after until", field="since")
    return start, end


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise InvalidInput("times must carry a time zone", field="since/until")
    return t.astimezone(UTC)
