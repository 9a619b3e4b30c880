"""The access log's readers: auditors (the log, summaries, integrity) and clients (their disclosure report).

Auditors read events, never client records; nobody else reads the log. Every
read of the log is itself written to the log.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from audit import queries
from audit.records import AuditRecorder, action_record
from audit.verify import Report, verify
from core.errors import InvalidInput, PermissionDenied, PurposeRequired
from core.principal import RequestContext
from core.vocabulary import Purpose, Role
from store.tables import AccessEvent


class AuditDesk:
    """Role checks and self-auditing around the audit queries."""

    def __init__(self, *, sessions: async_sessionmaker[Any], recorder: AuditRecorder, jwks: dict[str, Any]) -> None:
        self._sessions = sessions
        self._recorder = recorder
        self._jwks = jwks

    async def access_log(
        self, ctx: RequestContext, flt: queries.LogFilter, *, first: int, before_seq: int | None,
    ) -> tuple[list[AccessEvent], bool]:
        """A page of the log, newest first (auditors only)."""
        _auditor(ctx)
        flt = dataclasses.replace(flt, since=_utc(flt.since), until=_utc(flt.until))
        async with self._sessions.begin() as session:
            rows, more = await queries.page(session, flt, first=first, before_seq=before_seq)
            await self._recorder.record([action_record(ctx, "audit.read", flt.client_id)], session=session)
        return rows, more

    async def summary(self, ctx: RequestContext, *, since: datetime | None, until: datetime | None,
                      many_clients: int) -> queries.Summary:
        """Pointers at unusual access in a window (auditors only)."""
        _auditor(ctx)
        if not 1 <= many_clients <= 10_000:
            raise InvalidInput("manyClients is 1 to 10000", field="manyClients")
        async with self._sessions.begin() as session:
            out = await queries.summary(session, since=_utc(since), until=_utc(until), many_clients=many_clients)
            await self._recorder.record([action_record(ctx, "audit.summary", None)], session=session)
        return out

    async def integrity(self, ctx: RequestContext) -> Report:
        """Verify the whole chain now (auditors only)."""
        _auditor(ctx)
        report = await verify(self._sessions, jwks=self._jwks)
        await self._recorder.record([action_record(ctx, "audit.verify", None)])
        return report

    async def disclosure_report(
        self, ctx: RequestContext, *, client_id: str, since: datetime | None, until: datetime | None,
    ) -> list[queries.Disclosure]:
        """Who was shown which categories of a client's data, when and why: for the client, or a caseworker
        on the client's behalf."""
        p = ctx.principal
        is_self = p.has(Role.CLIENT) and p.self_client == client_id
        if not (is_self or p.has(Role.CASEWORKER)):
            raise PermissionDenied("only the client, or a caseworker on their behalf, reads a disclosure report")
        if ctx.purpose is None:
            raise PurposeRequired("a purpose of use is required to read a client's disclosure report")
        if is_self and ctx.purpose is not Purpose.CLIENT_ACCESS:
            raise InvalidInput("a client reads their own report with the client_access purpose", field="purpose")
        async with self._sessions.begin() as session:
            out = await queries.disclosures(session, client_id=client_id, since=_utc(since), until=_utc(until))
            await self._recorder.record([action_record(ctx, "disclosure-report.read", client_id)], session=session)
        return out


def _auditor(ctx: RequestContext) -> None:
    if not ctx.principal.has(Role.AUDITOR):
        raise PermissionDenied("only auditors read the access log")


def _utc(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise InvalidInput("times must carry a time zone", field="since/until")
    return t.astimezone(UTC)
