"""GraphQL types of a goal's checklist (issue 20 §2), and how an item's state, and since when it has been in it,
follow from the copies and records shown.

A copy counts as verified only while it holds: an agency's accepted copy of a kind that expires needs the date it
was accepted (its validity runs from it); one accepted longer ago than the kind's validity is EXPIRED, like a record
held here whose validity ran out. An item's `since` is the day its present state began where the records say it:
the acceptance (or, for a file awaiting review, the day it was sent), the request or rejection, the day the last
valid copy expired. NEEDED has none: casebridge keeps no record of when a goal's checklist began, and an item
needed after an expiry or a rejection is EXPIRED or REJECTED, not NEEDED.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from enum import Enum

import strawberry

from checklists.config import DocumentKind
from connectors import records as rec
from connectors.held_documents import last_valid_day
from resolvers.document_types import DocumentFile, DocumentRequest, DocumentRequestState

# why a copy is not counted verified (DocumentCopy.unverified_reason)
AWAITING_REVIEW = "AWAITING_REVIEW"
ACCEPTANCE_DATE_UNKNOWN = "ACCEPTANCE_DATE_UNKNOWN"
EXPIRED = "EXPIRED"
SELF_REPORTED = "SELF_REPORTED"


@strawberry.enum(description="Where a needed document stands, as far as you may see: ACCEPTED (an organisation "
                 "accepted a copy sent here, still valid), AVAILABLE (a verified copy exists at an agency, or derived "
                 "from its records, still valid), RECEIVED (a copy awaits review, an agency holds one it has not "
                 "verified or does not say when it accepted one that expires, or a finding rests on the client's "
                 "own answers), REJECTED (the last copy was rejected: needed again), REQUESTED (asked of the client "
                 "by a date), EXPIRED (an accepted or derived copy's validity ran out: needed again), NEEDED "
                 "(nothing yet).")
class ChecklistState(Enum):
    ACCEPTED = "ACCEPTED"
    AVAILABLE = "AVAILABLE"
    RECEIVED = "RECEIVED"
    REJECTED = "REJECTED"
    REQUESTED = "REQUESTED"
    EXPIRED = "EXPIRED"
    NEEDED = "NEEDED"


STILL_NEEDED = frozenset({ChecklistState.REJECTED, ChecklistState.REQUESTED, ChecklistState.EXPIRED,
                          ChecklistState.NEEDED})


@strawberry.type(description="A copy of a document that already exists: at an agency (its own record of it), or "
                 "derived by casebridge from records it reads.")
class DocumentCopy:
    agency: str = strawberry.field(description="The organisation that holds it.")
    source: str = strawberry.field(description="AGENCY (the agency's document record), DERIVED (from its records, "
                                   "e.g. homelessness verified from the shelter system's stays) or UPLOAD (a file "
                                   "sent here: verified once an organisation accepted it).")
    verified: bool = strawberry.field(description=(
        "Accepted by the agency and still valid (for a kind that expires, accepted on a known day within its "
        "validity); for a derived one, resting on the agency's own records, the newest of them open or ended "
        "within the validity (a chronic-homelessness finding on the intake's answers alone is not verified)."))
    status: str = strawberry.field(description="The agency's status (ACCEPTED, RECEIVED), the derivation's, or for "
                                   "an upload ACCEPTED (by `agency`) or RECEIVED (awaiting review).")
    document_id: str | None = strawberry.field(description="The agency's id of its record, or the file's id.")
    unverified_reason: str | None = strawberry.field(default=None, description=(
        "Why it is not verified: AWAITING_REVIEW (the agency has it, not yet accepted), ACCEPTANCE_DATE_UNKNOWN "
        "(accepted, but the agency does not say when, and this kind expires), EXPIRED (its validity ran out on "
        "`validUntil`), SELF_REPORTED (chronic homelessness on the intake's answers: the shelter system's own stays "
        "do not show the time). Null when verified, and for a file sent here (its review says)."))
    dated_on: date | None = strawberry.field(default=None, description=(
        "The copy's own date where known: the day the agency accepted it, the day the newest stay showing "
        "homelessness began, the first day the shelter system's stays showed a chronic year (a verified chronic "
        "finding), or the day the intake's answers were taken (a self-reported one)."))
    valid_until: date | None = strawberry.field(default=None, description=(
        "It holds until this day (the kind's validity from the acceptance, or from the end of the newest stay); "
        "null: it does not expire, a stay is still open, or it is not known."))


@strawberry.type(description="One document a goal needs, and where a copy of it already exists.")
class ChecklistItem:
    document: str = strawberry.field(description="The document kind's code (checklists configuration).")
    name: str = strawberry.field(description="Its name in English (names in more languages: the configuration).")
    valid_days: int | None = strawberry.field(description="How long a copy stays valid; null: it does not expire.")
    state: ChecklistState
    needed: bool = strawberry.field(description="Still to get: REQUESTED, REJECTED, EXPIRED or NEEDED.")
    due_on: date | None = strawberry.field(description="The soonest date it was asked for by (requests shown).")
    copies: list[DocumentCopy]
    requests: list[DocumentRequest] = strawberry.field(description="Each organisation's record of it that you may "
                                                       "see: asked for, accepted, rejected, expired; with history.")
    files: list[DocumentFile] = strawberry.field(description="Files sent for it that you may see, newest first.")
    since: date | None = strawberry.field(default=None, description=(
        "The day it entered its present state, where the records shown say: ACCEPTED, REQUESTED, REJECTED from "
        "the organisations' records (the earliest); AVAILABLE from the day the verified copies were accepted or "
        "their stays began, RECEIVED from the day the copies were received or sent (the earliest, and only when "
        "every copy's day is known); EXPIRED from the day after the last valid day of the newest copy. Null for "
        "NEEDED (casebridge keeps no record of when a goal's checklist began) and where a day is not known."))
    days_in_state: int | None = strawberry.field(default=None, description="Whole days from `since` to today.")


@strawberry.type(description="A goal a client works towards, and the documents it needs.")
class ChecklistGoal:
    code: str
    name: str = strawberry.field(description="In English (more languages: the configuration).")
    documents: list[str] = strawberry.field(description="The document kinds' codes, in order.")


def agency_copy(holder: str, d: rec.RequiredDocument, kind: DocumentKind, today: date) -> DocumentCopy:
    """An agency's record of a copy it received or accepted, verified while it holds: a kind that expires needs
    the day it was accepted, and holds for the kind's validity from it."""
    until = last_valid_day(d.accepted_on, kind.valid_days) if d.status == "ACCEPTED" else None
    why = (AWAITING_REVIEW if d.status != "ACCEPTED"
           else ACCEPTANCE_DATE_UNKNOWN if kind.valid_days is not None and d.accepted_on is None
           else EXPIRED if until is not None and until < today
           else None)
    return DocumentCopy(agency=holder, source="AGENCY", verified=why is None, status=d.status,
                        document_id=d.document_id, unverified_reason=why,
                        dated_on=d.accepted_on if d.status == "ACCEPTED" else None, valid_until=until)


def derived_copy(holder: str, *, status: str, document_id: str, dated_on: date | None,
                 last_day: date | None, kind: DocumentKind, today: date, self_reported: bool = False) -> DocumentCopy:
    """A copy derived from an agency's records whose newest ended on `last_day` (None: still open): it holds for
    the kind's validity from that day."""
    until = last_day if kind.valid_days is None else last_valid_day(last_day, kind.valid_days)
    why = EXPIRED if until is not None and until < today else SELF_REPORTED if self_reported else None
    return DocumentCopy(agency=holder, source="DERIVED", verified=why is None, status=status,
                        document_id=document_id, unverified_reason=why, dated_on=dated_on, valid_until=until)


def item_state(copies: list[DocumentCopy], requests: list[DocumentRequest],
               files: list[DocumentFile]) -> tuple[ChecklistState, date | None]:
    """The item's state from what is shown, and the day it began (None where not known)."""
    states = {r.state for r in requests}
    expired = [c for c in copies if c.unverified_reason == EXPIRED]
    live = [c for c in copies if c.unverified_reason != EXPIRED]

    def requested(state: DocumentRequestState) -> date | None:
        return min((r.since.date() for r in requests if r.state is state), default=None)

    if DocumentRequestState.ACCEPTED in states:
        return ChecklistState.ACCEPTED, requested(DocumentRequestState.ACCEPTED)
    if any(c.verified for c in live):
        return ChecklistState.AVAILABLE, _earliest(c.dated_on for c in live if c.verified)
    if live:  # a file sent here is received the day it was sent (its copy carries no date of its own)
        return ChecklistState.RECEIVED, _earliest(
            [c.dated_on for c in live if c.source != "UPLOAD"]
            + [f.sent_at.date() for f in files if f.awaiting_review and not f.purged])
    for state, shown in ((DocumentRequestState.REJECTED, ChecklistState.REJECTED),
                         (DocumentRequestState.REQUESTED, ChecklistState.REQUESTED)):
        if state in states:
            return shown, requested(state)
    if expired or DocumentRequestState.EXPIRED in states:  # expired when the newest copy did
        ends = [r.since.date() for r in requests if r.state is DocumentRequestState.EXPIRED]
        ends += [c.valid_until + timedelta(days=1) for c in expired if c.valid_until is not None]
        return ChecklistState.EXPIRED, max(ends, default=None)
    return ChecklistState.NEEDED, None


def _earliest(days: Iterable[date | None]) -> date | None:
    """The earliest day, when every one is known (one unknown could be earlier)."""
    found = list(days)
    if not found or any(d is None for d in found):
        return None
    return min(d for d in found if d is not None)
