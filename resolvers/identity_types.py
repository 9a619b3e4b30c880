"""GraphQL for identity: searching clients, the steward's review queue, decisions and explanations."""

from __future__ import annotations

import math
from datetime import date, datetime
from enum import Enum

import strawberry

from core.errors import InvalidInput
from identity import steward
from identity.online import ClientMatch, SearchQuery
from resolvers.types import ClientProfile

MAX_FIELD = 100


@strawberry.enum(description="How sure a match is, as FHIR Patient/$match grades it.")
class MatchGrade(Enum):
    CERTAIN = "certain"
    PROBABLE = "probable"
    POSSIBLE = "possible"


@strawberry.enum(description="Why the matcher left two records to a steward.")
class ReviewReason(Enum):
    SCORE = strawberry.enum_value("score", description="Their fields make them likely, not certainly, one person.")
    POSSIBLY_BORROWED_IDENTIFIER = strawberry.enum_value(
        "borrowed", description="They share an identifier (see identifier) but their names, date of birth or sex "
        "say someone else: a relative's number on a record, or a number typed wrong. Not linked automatically.")
    IDENTIFIERS_DIFFER = strawberry.enum_value(
        "ids-differ", description="Their fields say one person, but the two clients hold different CINs or SSNs.")


@strawberry.enum(description="A steward's decision about two agency records.")
class IdentityDecision(Enum):
    SAME_PERSON = "same"
    DIFFERENT_PEOPLE = "different"


@strawberry.input(description="One agency record: the source system and its own id for the person.")
class SourceRecordInput:
    source: str
    local_id: str

    def key(self, name: str) -> tuple[str, str]:
        source, local_id = self.source.strip(), self.local_id.strip()
        if not (0 < len(source) <= 64 and 0 < len(local_id) <= 64):
            raise InvalidInput("source and localId are 1 to 64 characters", field=name)
        return source, local_id


@strawberry.type(description="One agency record.")
class SourceRecordRef:
    source: str
    local_id: str


@strawberry.input(description="What you know of the person; any part may be left out. Give an identifier, or a "
                  "last name with a first name or a date of birth.")
class ClientSearchInput:
    first_name: str | None = None
    last_name: str | None = None
    date_of_birth: date | None = None
    sex: str | None = strawberry.field(default=None, description="M, F or X.")
    ssn: str | None = strawberry.field(default=None, description="All nine digits.")
    cin: str | None = strawberry.field(default=None, description="The benefits client identification number.")
    student_id: str | None = strawberry.field(default=None, description="The school district's student id.")

    def query(self) -> SearchQuery:
        for name in ("first_name", "last_name", "sex", "ssn", "cin", "student_id"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_FIELD:
                raise InvalidInput(f"{name} is at most {MAX_FIELD} characters", field=name)
        return SearchQuery(first_name=self.first_name, last_name=self.last_name, dob=self.date_of_birth,
                           sex=self.sex, ssn=self.ssn, cin=self.cin, student_id=self.student_id)


@strawberry.type(description="A client the search found. What you see of them is decided by the consent policies, "
                 "like any profile; candidates you may see nothing of are left out.")
class ClientCandidate:
    grade: MatchGrade
    score: float | None = strawberry.field(description="The match weight (log2 likelihood ratio) of the best "
                                           "matching record; null when a rule decided (matchedOn).")
    matched_on: str = strawberry.field(description="'score', or the rule: 'rule:cin', 'rule:ssn', "
                                       "'rule:student-id'.")
    client: ClientProfile


def candidate_view(m: ClientMatch, profile: ClientProfile) -> ClientCandidate:
    return ClientCandidate(grade=MatchGrade(str(m.grade)), score=m.score if math.isfinite(m.score) else None,
                           matched_on=m.why, client=profile)


@strawberry.type(description="One agency record as the identity index holds it (an SSN shows only its last four "
                 "digits).")
class IndexedRecord:
    source: str
    local_id: str
    client_id: strawberry.ID | None
    first_name: str | None
    middle_name: str | None
    last_name: str | None
    date_of_birth: date | None
    sex: str | None
    ssn_last4: str | None
    ssn_data_quality: int | None = strawberry.field(description="HUD HMIS SSNDataQuality: 1 full, 2 partial, "
                                                    "8/9/99 unknown, refused, not collected.")
    cin: str | None
    student_id: str | None
    address: str | None = strawberry.field(description="The street line the agency holds (home address).")
    zip: str | None
    phone: str | None
    not_for_release: list[str] = strawberry.field(description=(
        "What the agency holds but marks not for release (a FERPA directory-information opt-out: address, "
        "phone): withheld, so neither shown nor used for matching - not unknown."))


def record_view(r: steward.IndexedRecord) -> IndexedRecord:
    return IndexedRecord(source=r.source, local_id=r.local_id,
                         client_id=strawberry.ID(r.client_id) if r.client_id else None, first_name=r.first_name,
                         middle_name=r.middle_name, last_name=r.last_name, date_of_birth=r.dob, sex=r.sex,
                         ssn_last4=r.ssn_last4, ssn_data_quality=r.ssn_quality, cin=r.cin, student_id=r.student_id,
                         address=r.address, zip=r.zip, phone=r.phone, not_for_release=list(r.not_for_release))


@strawberry.type(description="How one field compares between two records.")
class FieldAgreement:
    field: str = strawberry.field(description="first, last, dob, sex, zip, phone, ssn4, addr; and order, present "
                                  "only when the names line up crosswise (first name on one side, last name on "
                                  "the other).")
    agreement: str = strawberry.field(description="same, similar, one part shared, day and month swapped, a year or "
                                      "one digit off, disagree, a generation apart, or missing (one side has "
                                      "nothing); for order: first and last name written the other way round; "
                                      "withheld for addr, zip and phone where a client refused you their "
                                      "contact details.")
    weight: float | None = strawberry.field(description="What this field adds to the match weight (log2); null "
                                            "when missing.")


def fields_view(fields: list[steward.FieldAgreement]) -> list[FieldAgreement]:
    return [FieldAgreement(field=f.field, agreement=f.agreement, weight=f.weight) for f in fields]


@strawberry.type(description="Two records the matcher could not decide about, side by side.")
class IdentityReviewItem:
    id: strawberry.ID
    grade: MatchGrade
    score: float
    found_at: datetime
    a: IndexedRecord
    b: IndexedRecord
    fields: list[FieldAgreement]
    reason: ReviewReason
    identifier: str | None = strawberry.field(description="The shared identifier that may be borrowed: cin, ssn "
                                              "or student-id (with reason POSSIBLY_BORROWED_IDENTIFIER).")


@strawberry.type(description="A page of the review queue, most likely the same person first.")
class IdentityReviewPage:
    items: list[IdentityReviewItem]
    has_next_page: bool
    end_cursor: str | None
    withheld: int = strawberry.field(description="Items of this stretch of the queue left out: a client's consent "
                                     "refuses your organisation one of the two records' identity data.")


def review_page(items: list[steward.ReviewItem], *, more: bool, end: int | None, withheld: int
                ) -> IdentityReviewPage:
    views = [IdentityReviewItem(id=strawberry.ID(str(i.id)), grade=MatchGrade(i.grade), score=i.score,
                                found_at=i.found_at, a=record_view(i.a), b=record_view(i.b),
                                fields=fields_view(i.fields), reason=_reason(i.reason),
                                identifier=i.reason.partition(":")[2] or None) for i in items]
    return IdentityReviewPage(items=views, has_next_page=more, end_cursor=None if end is None else str(end),
                              withheld=withheld)


@strawberry.type(description="Why one agency record belongs to its client.")
class RecordLink:
    record: IndexedRecord
    how: str = strawberry.field(description="rule (a shared identifier), score (the weights), or manual (a "
                                "steward's decision).")
    rule: str | None = strawberry.field(description="cin, ssn or student-id, for a rule.")
    score: float | None
    via: SourceRecordRef | None = strawberry.field(description="The record of the same client it was matched with.")
    decided_by: str | None
    linked_at: datetime
    fields: list[FieldAgreement] = strawberry.field(description="Per-field agreement with `via`.")


@strawberry.type(description="Where a client id went when its records merged into or split off to another.")
class ClientSuccessorView:
    client_id: strawberry.ID
    reason: str = strawberry.field(description="merge or split.")


@strawberry.type(description="A client as the identity index sees it: its records and why they are linked.")
class IdentityClient:
    id: strawberry.ID
    records: list[RecordLink]
    successors: list[ClientSuccessorView]


def client_view(e: steward.ClientExplanation) -> IdentityClient:
    links = [RecordLink(record=record_view(ln.record), how=ln.how, rule=ln.rule, score=ln.score,
                        via=SourceRecordRef(source=ln.via[0], local_id=ln.via[1]) if ln.via else None,
                        decided_by=ln.decided_by, linked_at=ln.linked_at, fields=fields_view(ln.fields))
             for ln in e.links]
    return IdentityClient(id=strawberry.ID(e.client_id), records=links,
                          successors=[ClientSuccessorView(client_id=strawberry.ID(c), reason=r)
                                      for c, r in e.successors])


@strawberry.type(description="What a steward's decision changed.")
class IdentityDecisionResult:
    decision_id: strawberry.ID
    clients_before: list[strawberry.ID]
    clients_after: list[strawberry.ID] = strawberry.field(description="The clients the records belong to now.")
    merged: int = strawberry.field(description="Client ids that now point to another.")
    split: int = strawberry.field(description="New client ids carved out of an existing one.")


def decision_view(r: steward.DecisionResult) -> IdentityDecisionResult:
    return IdentityDecisionResult(decision_id=strawberry.ID(str(r.decision_id)),
                                  clients_before=[strawberry.ID(c) for c in r.clients_before],
                                  clients_after=[strawberry.ID(c) for c in r.clients_after],
                                  merged=r.report.merged, split=r.report.split)


def parse_id(value: strawberry.ID, field: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise InvalidInput("not an id of this kind", field=field) from None


def _reason(reason: str) -> ReviewReason:
    """steward.ReviewItem.reason ('score', 'borrowed:ssn', 'ids-differ') as the schema's enum."""
    kind = reason.partition(":")[0]
    return ReviewReason(kind) if kind in ("borrowed", "ids-differ") else ReviewReason.SCORE
