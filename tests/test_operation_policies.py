"""The operation policies as a decision table: every action x role x purpose (and the facts each action's rules
look at), against a plain restatement of who may do what, with consents read from a real store (SQLite and
PostgreSQL). A refusal names exactly the purposes that would have been allowed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from core.principal import CLIENT_HOLDER, Principal, RequestContext
from core.vocabulary import Action, Category, Purpose, Role
from identity.crosswalk import link_records
from policies.cedar import CedarDecider, CedarEngine, PolicySet
from policies.consent_store import ConsentStore
from policies.consents import ConsentRecord, Grantor, Provision
from policies.decisions import Target
from store.engine import make_engine, make_sessionmaker
from store.reads import Reads

CARE = {Purpose.CASE_MANAGEMENT, Purpose.CARE_COORDINATION, Purpose.ELIGIBILITY, Purpose.EMERGENCY}
STAFF = {Role.CASEWORKER, Role.PARTNER}
CLIENT, OTHER = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
ORG = "DHS"  # every caller's organisation


@dataclass(frozen=True)
class Case:
    """One situation for one action: the target, and the facts the oracle needs about it."""

    name: str
    target: Target
    self_: bool = False  # about the caller themself (for a client)
    recorded_by_me: bool = False
    named: bool = False
    refused: bool = False
    sees_identity: bool = False
    grantor: str = ""


def oracle(action: Action, role: Role, purpose: Purpose | None, c: Case) -> bool:
    """Who may do what, restated plainly from DESIGN.md and the one-gate issue."""
    staff, care = role in STAFF, purpose in CARE
    self_access = role is Role.CLIENT and c.self_ and purpose is Purpose.CLIENT_ACCESS
    if action is Action.SESSION_READ:
        return True
    if action is Action.READ:  # (the delivery worker opens profiles to plan reminders; sections are decided apart)
        return (staff and care) or self_access or (role is Role.NOTIFIER and purpose is Purpose.CLIENT_NOTIFICATION)
    if action is Action.SEARCH:
        return staff and care
    if action is Action.CONSENT_READ:
        if c.target.kind == "Consent":
            return (staff and care and (c.recorded_by_me or c.named)) or self_access
        return (staff and care) or self_access
    if action is Action.CONSENT_RECORD:
        return (staff and care) or (self_access and c.grantor == "client")
    if action in (Action.CONSENT_AMEND, Action.CONSENT_REVOKE):
        if c.refused and not self_access:
            return False
        return (staff and care and c.recorded_by_me) or self_access
    if action is Action.BREAK_GLASS:
        return role is Role.CASEWORKER and purpose is Purpose.EMERGENCY
    if action in (Action.AUDIT_READ, Action.AUDIT_SUMMARY, Action.AUDIT_VERIFY, Action.AUDIT_EXPORT):
        return role is Role.AUDITOR and purpose is Purpose.AUDIT
    if action is Action.DISCLOSURE_REPORT:
        return self_access or (staff and care and c.sees_identity)
    if action in (Action.IDENTITY_REVIEW, Action.IDENTITY_EXPLAIN, Action.IDENTITY_RESOLVE, Action.IDENTITY_LINK,
                  Action.IDENTITY_UNLINK):
        return role is Role.IDENTITY_STEWARD and purpose is Purpose.IDENTITY_STEWARDSHIP
    if action is Action.CONTACT_RECORD:
        return (staff and care and c.sees_identity) or self_access
    if action is Action.CASE_NOTE_ADD:
        return staff and care and c.sees_identity
    if action is Action.NOTIFICATION_DELIVER:  # casebridge's worker, to a contact point the client opted in to
        return role is Role.NOTIFIER and purpose is Purpose.CLIENT_NOTIFICATION and c.target.contact_opted_in
    if action in (Action.APPOINTMENT_SCHEDULE, Action.APPOINTMENT_UPDATE):  # their own organisation's only
        return (staff and care and c.sees_identity and c.target.category == "appointments"
                and c.target.holder == ORG)
    casework, own = c.target.category == "casework", c.target.holder == ORG
    if action is Action.PLAN_WRITE:  # their own organisation's plan
        return casework and own and staff and care and c.sees_identity
    if action is Action.PLAN_STEP:  # the plan's organisation; the client, the tasks of their own plan that are theirs
        return casework and ((own and staff and care and c.sees_identity)
                             or (self_access and c.target.task_owner == "CLIENT"))
    if action is Action.LEGAL_RECORD:  # their own organisation's record of a client's case; never for an emergency
        return (c.target.category == "immigration_legal" and c.target.holder == ORG and staff and care
                and purpose is not Purpose.EMERGENCY and c.sees_identity)
    if action is Action.WEBHOOK_MANAGE:  # their own organisation's subscriptions, never another's
        return staff and care and c.target.holder == ORG
    if action is Action.DIRECTORY_SEARCH:  # what is on offer: anyone who helps a client, or a client for themself
        return (staff and care) or (role is Role.CLIENT and purpose is Purpose.CLIENT_ACCESS)
    if action is Action.REFERRAL_CREATE:  # staff for their organisation; the client for themself, in their own holding
        return casework and ((own and staff and care and c.sees_identity)
                             or (self_access and c.target.holder == CLIENT_HOLDER))  # never their token's org
    if action is Action.REFERRAL_WITHDRAW:  # the referrer's staff; the client, any referral made for them
        return casework and ((staff and care and c.sees_identity and own) or self_access)
    if c.target.kind == "Worklist":  # an organisation's list of files to review, of referrals to answer
        wanted = "documents" if action is Action.DOCUMENT_REVIEW else "casework"
        return (action in (Action.DOCUMENT_REVIEW, Action.REFERRAL_RESPOND) and c.target.category == wanted
                and c.target.holder == ORG and staff and care)
    if action is Action.REFERRAL_RESPOND:  # the receiving organisation, on its own side; the scheduler expires any
        return casework and ((own and staff and care) or role is Role.SCHEDULER)
    own_documents = c.target.category == "documents" and c.target.holder == ORG
    if action is Action.DOCUMENT_REVIEW:  # their own organisation's record; a file meant for it (addressed, asked)
        meant = c.target.category == "documents" and (c.target.addressed or c.target.asked)
        return staff and care and c.sees_identity and (own_documents or meant)
    if action is Action.DOCUMENT_REQUEST:  # their own organisation's record only
        return staff and care and c.sees_identity and own_documents
    if action is Action.DOCUMENT_UPLOAD:  # staff for their organisation; a client for themself, in their own holding
        clients_own = c.target.category == "documents" and c.target.holder == CLIENT_HOLDER  # never their token's org
        # only a client chooses whom their upload is meant for: a file staff send is their organisation's record
        return ((staff and care and c.sees_identity and own_documents and not c.target.addressed)
                or (self_access and clients_own))
    if action is Action.DOCUMENT_DOWNLOAD:  # any holder's: whether it may be shown is the section's decision
        return c.target.category == "documents" and ((staff and care) or self_access)
    raise AssertionError(f"no oracle row for {action}")


def held_cases() -> list[Case]:
    """A record held here: the caller's organisation's or another's, of appointments or another category, about
    a client whose identity the caller may see or not, the caller themself or another client."""
    return [Case(f"{category} held by {holder}, {'self' if client == CLIENT else 'other'}"
                 f"{', sees identity' if sees else ''}",
                 Target.section(client, category, holder, sees_identity=sees), self_=client == CLIENT,
                 sees_identity=sees)
            for category in (Category.APPOINTMENTS, Category.DOCUMENTS, Category.CASEWORK, Category.IMMIGRATION_LEGAL)
            for holder in (ORG, "HRA", CLIENT_HOLDER)
            for client in (CLIENT, OTHER) for sees in (False, True)]


def client_cases(*, identity: bool = False, grantor: bool = False) -> list[Case]:
    out = [Case("self", Target.client(CLIENT), self_=True), Case("other", Target.client(OTHER))]
    if identity:
        out += [Case("self, sees identity", Target.client(CLIENT, sees_identity=True), self_=True, sees_identity=True),
                Case("other, sees identity", Target.client(OTHER, sees_identity=True), sees_identity=True)]
    if grantor:
        out = [Case(f"{c.name}, grantor {g}", Target.client(c.target.client_id or "", grantor=g), self_=c.self_,
                    grantor=g) for c in out for g in ("client", "guardian")]
    return out


async def consent_cases(database_url: str) -> list[Case]:
    """Consents as they come back from the store: recorded by the caller's organisation, naming it, refusing it,
    or none of these - about the caller themself (a client) or another client."""
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    await link_records(sessions, [(CLIENT, "benefits", "B-1"), (OTHER, "benefits", "B-2")])
    store, now = ConsentStore(), datetime.now(UTC)
    shapes: dict[str, tuple[str, tuple[Provision, ...]]] = {
        "recorded by the caller's org": (ORG, (Provision("permit", ("HRA",), (Category.BENEFITS,),
                                                         (Purpose.CASE_MANAGEMENT,)),)),
        "naming the caller's org": ("HRA", (Provision("permit", (ORG,), (Category.BENEFITS,),
                                                      (Purpose.CASE_MANAGEMENT,)),)),
        "naming the caller's org as holder": ("HRA", (Provision("permit", ("DOE",), (Category.HOUSING,),
                                                                (Purpose.CASE_MANAGEMENT,), holders=(ORG,)),)),
        "refusing the caller's org": (ORG, (Provision("deny", (ORG,), (Category.BENEFITS,), ()),)),
        "unrelated": ("HRA", (Provision("permit", ("DOE",), (Category.BENEFITS,), (Purpose.CASE_MANAGEMENT,)),)),
    }
    out = []
    try:
        for client, self_ in ((CLIENT, True), (OTHER, False)):
            for name, (recorder, provisions) in shapes.items():
                async with sessions.begin() as session:
                    added = await store.add(session, client_id=client, grantor=Grantor.CLIENT,
                                            source_reference="F", given_at=now - timedelta(days=1),
                                            provisions=provisions, subject="w", org=recorder, now=now)
                async with sessions() as session:
                    back: ConsentRecord = next(c for c in await store.list_for_client(session, client)
                                               if c.id == added.id)
                assert back.provisions == provisions  # the store keeps provisions (holders too) exactly
                out.append(Case(f"consent {name}, {'self' if self_ else 'other'}", Target.of_consent(back),
                                self_=self_, recorded_by_me=recorder == ORG,
                                named=name.startswith(("naming", "refusing")), refused=name.startswith("refusing")))
    finally:
        await engine.dispose()
    return out


async def test_every_action_role_and_purpose(database_url: str, store: Any, reads: Reads) -> None:
    decider = CedarDecider(store, reads, CedarEngine(PolicySet.load()))
    consents = await consent_cases(database_url)
    cases: dict[Action, list[Case]] = {
        Action.READ: client_cases(), Action.SEARCH: [Case("index", Target.index())],
        Action.CONSENT_READ: client_cases() + consents, Action.CONSENT_RECORD: client_cases(grantor=True),
        Action.CONSENT_AMEND: consents, Action.CONSENT_REVOKE: consents, Action.BREAK_GLASS: client_cases(),
        Action.DISCLOSURE_REPORT: client_cases(identity=True), Action.CASE_NOTE_ADD: client_cases(identity=True),
        Action.CONTACT_RECORD: client_cases(identity=True),
        Action.APPOINTMENT_SCHEDULE: held_cases(), Action.APPOINTMENT_UPDATE: held_cases(),
        Action.PLAN_STEP: held_cases() + [
            Case(f"{c.name}, task owned by {owner}", dataclasses.replace(c.target, task_owner=owner), self_=c.self_,
                 sees_identity=c.sees_identity)
            for c in held_cases() if c.target.category == "casework" for owner in ("CLIENT", "CASEWORKER")],
        **{a: held_cases() for a in (Action.PLAN_WRITE, Action.REFERRAL_CREATE, Action.LEGAL_RECORD,
                                     Action.REFERRAL_WITHDRAW, Action.DOCUMENT_REQUEST, Action.DOCUMENT_DOWNLOAD)},
        Action.DOCUMENT_UPLOAD: held_cases() + [
            Case(f"{c.name}, addressed by its sender", dataclasses.replace(c.target, addressed=True), self_=c.self_,
                 sees_identity=c.sees_identity) for c in held_cases()],
        **{a: held_cases() + [Case(f"{category} worklist of {org}", Target.worklist(category, org))
                              for category in (Category.DOCUMENTS, Category.CASEWORK) for org in (ORG, "HRA")]
           for a in (Action.REFERRAL_RESPOND,)},
        Action.DOCUMENT_REVIEW: held_cases() + [
            Case(f"{category} worklist of {org}", Target.worklist(category, org))
            for category in (Category.DOCUMENTS, Category.CASEWORK) for org in (ORG, "HRA")] + [
            Case(f"{c.name}, {how}", dataclasses.replace(c.target, addressed=how == "addressed",
                                                          asked=how == "asked"),
                 self_=c.self_, sees_identity=c.sees_identity)
            for c in held_cases() for how in ("addressed", "asked")],
        Action.NOTIFICATION_DELIVER: [Case(f"message to {who}, {'opted in' if opted else 'not opted in'}",
                                           Target.message_to(client, opted_in=opted), self_=client == CLIENT)
                                      for client, who in ((CLIENT, "self"), (OTHER, "other"))
                                      for opted in (False, True)],
        Action.SESSION_READ: [Case("own session", Target.session())],
        Action.DIRECTORY_SEARCH: [Case("directory", Target.directory())],
        Action.WEBHOOK_MANAGE: [Case("own webhooks", Target.webhooks(ORG)), Case("another's", Target.webhooks("HRA"))],
        **{a: [Case("log", Target.access_log())] for a in (Action.AUDIT_READ, Action.AUDIT_SUMMARY,
                                                           Action.AUDIT_VERIFY, Action.AUDIT_EXPORT)},
        **{a: [Case("index", Target.index())] for a in (Action.IDENTITY_REVIEW, Action.IDENTITY_EXPLAIN,
                                                        Action.IDENTITY_RESOLVE, Action.IDENTITY_LINK,
                                                        Action.IDENTITY_UNLINK)},
    }
    assert set(cases) == set(Action)
    rows = permits = 0
    mismatches: list[str] = []
    for action, situations in cases.items():
        for role in Role:
            principal = Principal("u1", ORG, frozenset({role}), self_client=CLIENT if role is Role.CLIENT else None)
            for purpose in [None, *Purpose]:
                ctx = RequestContext(principal, "r1", purpose)
                verdicts = await decider.authorize(ctx, action, [c.target for c in situations])
                for c, v in zip(situations, verdicts, strict=True):
                    rows += 1
                    want = oracle(action, role, purpose, c)
                    permits += want
                    fits = () if want else tuple(p for p in Purpose if oracle(action, role, p, c))
                    if (v.permit, set(v.purposes)) != (want, set(fits)):
                        mismatches.append(f"{action} {role} {purpose} {c.name}: got {v.permit} {v.purposes}, "
                                          f"want {want} {fits}")
    assert mismatches == []
    assert rows > 2500 and permits > 100  # the table is real: many rows, both answers


