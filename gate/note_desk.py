"""The case-notes desk: writing a note, the first record casebridge holds itself.

A note is held for the organisation whose caseworker or partner wrote it
(category casework) and is read through the profile's `casework` section like any
agency's record: its holder's staff read it, another organisation only with the
client's consent naming casework, the client only if the holder shared it.
Writing one is an operation of the gate (policies/operations.cedar: staff, for a
care purpose, about a client whose identity they may already see).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from connectors.held import MAX_NOTE, CaseNote, add_note
from core.errors import InvalidInput
from core.principal import RequestContext
from core.vocabulary import Action
from gate.gate import Gate


class NoteDesk:
    """Writes case notes through the gate, each with its access-log event in one transaction."""

    def __init__(self, *, gate: Gate, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._gate = gate
        self._clock = clock

    async def add(self, ctx: RequestContext, *, client_id: str, text: str, shared_with_client: bool) -> CaseNote:
        """Write a note about a client for the caller's organisation."""
        body = text.strip()
        if not 1 <= len(body) <= MAX_NOTE:
            raise InvalidInput(f"a note is 1 to {MAX_NOTE} characters", field="text")
        await self._gate.authorize_for_client(ctx, Action.CASE_NOTE_ADD, client_id)
        # allowed only where the caller sees one of the client's identity records: the client exists
        async with self._gate.operation(ctx, Action.CASE_NOTE_ADD) as op:
            note = await add_note(op.session, client_id=client_id, holder=ctx.principal.organization,
                                  author=ctx.principal.subject, text=body, shared_with_client=shared_with_client,
                                  now=self._clock())
            op.log(client_id, detail=note.id)
        return note
