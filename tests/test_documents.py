"""Documents for a checklist (issue 20 §2, §4, §5): a caseworker asks the client for a document by a date, the
client sends a photo from their own view, the caseworker reviews it (once the client's consent lets them see it)
and accepts or rejects it with a reason; the client is told by message; the checklist shows where each document
is; files are limited, sniffed and scanned, kept by content hash with their record consistent, purged after their
retention period; and nothing of it reaches a caller without a basis. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from api.app import create_app
from api.settings import Settings
from demo.population import Population
from demo.servers import ServerThread
from store.engine import make_engine, make_sessionmaker
from store.held_tables import DocumentFile, DocumentRecord, Message
from tests.gateway import GraphQLClient, break_access_log, caller, events, seed_links

REQUEST = """mutation($c: ID!, $d: String!, $due: Date) { requestDocument(clientId: $c, document: $d, dueOn: $due) {
  id agency document state dueOn } }"""
REVIEW = """mutation($f: ID!, $decision: ReviewDecision!, $reason: RejectReason, $due: Date) {
  reviewDocument(fileId: $f, decision: $decision, reason: $reason, dueOn: $due) {
    id agency document state reason dueOn acceptedOn validUntil fileId history { state reason fileId } } }"""
REVIEWS = "{ documentReviews { clientId dueAt requestState requestDueOn file { id agency document mediaType } } }"
CHECKLIST = """query($id: ID!, $goal: String!) { client(id: $id) { checklist(goal: $goal) {
  access { agency status }
  items { document state needed dueOn copies { agency source verified status documentId }
          requests { id agency state dueOn reason validUntil daysInState history { state days } }
          files { id agency mediaType size scan awaitingReview } } } } }"""
DOCUMENTS = """query($id: ID!) { client(id: $id) { documents { access { agency status }
  requests { id agency document state reason } files { id agency document } } } }"""
ADD_CONTACT = """mutation($c: ID!) { addContactPoint(clientId: $c, channel: SMS, address: "+12125550142", optedIn: true,
  sourceReference: "SIGNED-CONTACT-FORM-7") { id } }"""
CONSENT = """mutation($input: RecordConsentInput!) { recordConsent(input: $input) { id } }"""
ADDRESSED = "X-Casebridge-Addressed-To"
SCANNER = """import sys
data = sys.stdin.buffer.read()
sys.exit(1 if b"EICAR-STANDARD-ANTIVIRUS-TEST" in data else 2 if b"SCANNER-BREAKS" in data else 0)
"""


def png(n: int = 2048, salt: bytes = b"") -> bytes:
    """A synthetic PNG-signed file of `n` bytes (the content is what the sniffer reads, not a picture)."""
    return (b"\x89PNG\r\n\x1a\n" + salt + os.urandom(n))[:n]


def jpeg(n: int = 4096) -> bytes:
    return (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(n))[:n]


@dataclass
class City:
    settings: Settings
    server: ServerThread
    blobs: Path
    database_url: str

    def as_(self, org: str, *roles: str, **kw: Any) -> GraphQLClient:
        return caller((self.settings, self.server), org, *roles, **kw)

    def client(self, cid: str, *, org: str = "CLIENTS", sub: str = "client-1") -> GraphQLClient:
        """The client `cid` signed in (under `org`: an identity provider may issue clients' tokens under an agency)."""
        return self.as_(org, "client", purpose="client_access", self_client=cid, sub=sub)

    async def send(self, who: GraphQLClient, cid: str, document: str, content: bytes, *,
                   content_type: str = "application/octet-stream", addressed_to: str | None = None,
                   **kw: Any) -> httpx.Response:
        """An upload; `addressed_to`: whom it should reach, as the header says it (X-Casebridge-Addressed-To)."""
        chosen = {} if addressed_to is None else {ADDRESSED: addressed_to}
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as http:
            return await http.post("/documents", content=content, headers={
                **who.headers, "Content-Type": content_type, "X-Casebridge-Client-Id": cid,
                "X-Casebridge-Document": document, **chosen}, **kw)

    async def fetch(self, who: GraphQLClient, file_id: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.server.url, timeout=30) as http:
            return await http.get(f"/documents/{file_id}", headers=who.headers)

    def kept(self) -> list[Path]:
        """Every file in the blob store (blobs and anything left half-written)."""
        return sorted(p for p in self.blobs.rglob("*") if p.is_file())

    async def rows(self, model: Any) -> list[Any]:
        engine = make_engine(self.database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                return list((await session.execute(select(model))).scalars())
        finally:
            await engine.dispose()

    async def change(self, stmt: Any) -> None:
        engine = make_engine(self.database_url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                await session.execute(stmt)
        finally:
            await engine.dispose()


@asynccontextmanager
async def open_city(database_url: str, benefits_server: ServerThread, edfi_server: ServerThread,
                    population: Population, settings_factory: Any, tmp_path: Path,
                    **documents: Any) -> AsyncIterator[City]:
    """A gateway whose blob store is a directory under `tmp_path`, files up to 100 kB; `documents`: further
    documents settings (or other values for these)."""
    await seed_links(database_url, population)
    blobs = tmp_path / "blobs"
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url,
                                schooling_url=edfi_server.url, benefits_timeout=1.0,
                                documents={"blob_dir": blobs, "max_bytes": 100_000, **documents})
    with ServerThread(create_app(settings)) as server:
        yield City(settings, server, blobs, database_url)


@pytest.fixture
async def city(request: pytest.FixtureRequest, database_url: str, benefits_server: ServerThread,
               edfi_server: ServerThread, population: Population, settings_factory: Any,
               tmp_path: Path) -> AsyncIterator[City]:
    marked = request.node.get_closest_marker("documents")
    scanner = tmp_path / "scanner.py"
    scanner.write_text(SCANNER)
    async with open_city(database_url, benefits_server, edfi_server, population, settings_factory, tmp_path,
                         scan_command=[sys.executable, str(scanner)], **(marked.kwargs if marked else {})) as opened:
        yield opened


def _sheltered(population: Population) -> str:
    """A client the shelter system knows (DHS sees their identity through its own records)."""
    return next(p.client_id for p in population.people if p.hmis_id)


def _code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def _item(body: dict[str, Any], document: str) -> dict[str, Any]:
    return next(i for i in body["data"]["client"]["checklist"]["items"] if i["document"] == document)


async def _consent_documents_to(city: City, cid: str, *orgs: str, categories: Sequence[str] = ("DOCUMENTS",),
                                holders: Sequence[str] = ()) -> str:
    """The client consents (in their own view) to `orgs` seeing their documents (or `categories`) for case
    management - those held by `holders` only, where named. The consent's id."""
    provision: dict[str, Any] = {"organizations": list(orgs), "categories": list(categories),
                                 "purposes": ["CASE_MANAGEMENT"], **({"holders": list(holders)} if holders else {})}
    given = await city.client(cid).query(CONSENT, {"input": {
        "clientId": cid, "sourceReference": "CLIENT-APP", "givenAt": datetime.now(UTC).isoformat(),
        "provisions": [provision]}})
    assert "errors" not in given, given
    return str(given["data"]["recordConsent"]["id"])


async def test_asked_sent_by_the_client_reviewed_under_consent_and_accepted_the_checklist_shows_each_step(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, me, hra = city.as_("DHS"), city.client(cid), city.as_("HRA")
    assert "errors" not in await dhs.query(ADD_CONTACT, {"c": cid})
    due = (date.today() + timedelta(days=10)).isoformat()
    asked = (await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID", "due": due}))["data"]["requestDocument"]
    assert (asked["agency"], asked["state"], asked["dueOn"]) == ("DHS", "REQUESTED", due)
    # the client is told: a message with a date and a link, never what is asked or by whom
    (told,) = [m for m in await city.rows(Message) if m.kind == "document_requested"]
    assert told.client_id == cid and told.status == "queued" and told.subject.startswith("document:DHS:")

    mine = await me.query(CHECKLIST, {"id": cid, "goal": "SHELTER_PLACEMENT"})
    photo = _item(mine, "PHOTO_ID")
    assert (photo["state"], photo["needed"], photo["dueOn"]) == ("REQUESTED", True, due)
    photo_bytes = png()
    sent = await city.send(me, cid, "PHOTO_ID", photo_bytes, content_type="image/jpeg")  # says JPEG; it is a PNG
    assert sent.status_code == 201, sent.text
    file = sent.json()["file"]
    # held in the client's own holding (CLIENT), not for the organisation their sign-in names (CLIENTS here)
    assert (file["agency"], file["mediaType"], file["scan"], file["size"]) == ("CLIENT", "image/png", "CLEAN", 2048)
    own = _item(await me.query(CHECKLIST, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    assert own["state"] == "RECEIVED" and [f["id"] for f in own["files"]] == [file["id"]]

    # the client's file is the client's: DHS learns nothing of it without the client's consent
    assert (await dhs.query(REVIEWS))["data"]["documentReviews"] == []
    before = _item(await dhs.query(CHECKLIST, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    assert before["state"] == "REQUESTED" and before["files"] == [] and file["id"] not in str(before)
    assert (await city.fetch(dhs, file["id"])).status_code == 404
    assert _code(await dhs.query(REVIEW, {"f": file["id"], "decision": "ACCEPT"})) == "RECORD_NOT_FOUND"

    await _consent_documents_to(city, cid, "DHS")
    (review,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    # DHS's record, as DHS now sees it: the file it asked for came (RECEIVED), still due by the date asked
    assert (review["clientId"], review["file"]["id"], review["requestState"], review["requestDueOn"]) == (
        cid, file["id"], "RECEIVED", due)
    assert datetime.fromisoformat(review["dueAt"]) > datetime.now(UTC) + timedelta(days=1)  # two days to review
    got = await city.fetch(dhs, file["id"])
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff" and "attachment" in got.headers["content-disposition"]
    assert got.content == photo_bytes

    rejected = (await dhs.query(REVIEW, {"f": file["id"], "decision": "REJECT", "reason": "ILLEGIBLE"})
                )["data"]["reviewDocument"]
    assert (rejected["state"], rejected["reason"]) == ("REJECTED", "ILLEGIBLE") and rejected["dueOn"]
    assert [m.kind for m in await city.rows(Message)].count("document_rejected") == 1
    seen = (await me.query(DOCUMENTS, {"id": cid}))["data"]["client"]["documents"]
    assert [(r["agency"], r["state"], r["reason"]) for r in seen["requests"]] == [("DHS", "REJECTED", "ILLEGIBLE")]

    again = await city.send(me, cid, "PHOTO_ID", jpeg())
    assert again.status_code == 201 and again.json()["file"]["mediaType"] == "image/jpeg"
    second = again.json()["file"]["id"]
    assert [r["file"]["id"] for r in (await dhs.query(REVIEWS))["data"]["documentReviews"]] == [second]
    accepted = (await dhs.query(REVIEW, {"f": second, "decision": "ACCEPT"}))["data"]["reviewDocument"]
    assert (accepted["state"], accepted["acceptedOn"], accepted["fileId"]) == (
        "ACCEPTED", datetime.now(UTC).date().isoformat(), second)
    # each file's arrival is a step of DHS's record (written with DHS's decision on it): the time it awaited review
    assert [h["state"] for h in accepted["history"]] == ["REQUESTED", "RECEIVED", "REJECTED", "RECEIVED", "ACCEPTED"]
    assert [h["fileId"] for h in accepted["history"]] == [None, file["id"], file["id"], second, second]
    assert (await dhs.query(REVIEWS))["data"]["documentReviews"] == []
    done = _item(await dhs.query(CHECKLIST, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    assert (done["state"], done["needed"]) == ("ACCEPTED", False)
    assert {"agency": "DHS", "source": "UPLOAD", "verified": True, "status": "ACCEPTED",
            "documentId": second} in done["copies"]

    # HRA has no basis for DHS's or the client's documents: not a trace of them
    theirs = await hra.query(CHECKLIST, {"id": cid, "goal": "SHELTER_PLACEMENT"})
    items = theirs["data"]["client"]["checklist"]["items"]
    for text in (file["id"], second, asked["id"], "'CLIENT'", "'CLIENTS'", "'DHS'"):
        assert text not in str(items), text
    # the shelter system's own part (housing) is listed withheld, as always; no part of documents held here is
    assert {(a["agency"], a["status"]) for a in theirs["data"]["client"]["checklist"]["access"]} <= {
        ("HRA", "SHOWN"), ("DHS", "WITHHELD"), ("DOE", "WITHHELD")}
    assert _item(theirs, "PHOTO_ID")["state"] in ("NEEDED", "AVAILABLE", "RECEIVED")  # HRA's own records only
    assert (await city.fetch(hra, second)).status_code == 404
    logged = await events(city.database_url)
    assert ("document.download", "refused") in {(e.action, e.outcome) for e in logged}
    assert ("document.download", "performed") in {(e.action, e.outcome) for e in logged}
    assert all("image/png" not in (e.detail or "") or e.action == "document.upload" for e in logged)


async def test_a_file_too_large_a_renamed_program_or_an_infected_one_is_refused_and_nothing_is_kept(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    cases: list[tuple[bytes, int, str]] = [
        (png(100_001), 413, "PAYLOAD_TOO_LARGE"),
        (b"MZ\x90\x00" + os.urandom(3000), 400, "program"),  # a Windows program named photo.jpg
        (b"\x7fELF\x02\x01\x01" + os.urandom(3000), 400, "program"),
        (b"<html><script>alert(1)</script></html>", 400, "unsupported_type"),
        (b"", 400, "empty"),
        (png(3000, salt=b"EICAR-STANDARD-ANTIVIRUS-TEST"), 400, "infected"),
        (png(3000, salt=b"SCANNER-BREAKS"), 503, "DOCUMENTS_UNAVAILABLE"),
    ]
    for content, status, what in cases:
        got = await city.send(dhs, cid, "BIRTH_CERTIFICATE", content, content_type="image/jpeg")
        assert got.status_code == status, (what, got.text)
        ext = got.json()["errors"][0]["extensions"]
        assert what in (ext["code"], ext.get("reason")), (what, ext)

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: refused as soon as it passes the limit
        for _ in range(40):
            yield png(5000)

    got = await city.send(dhs, cid, "BIRTH_CERTIFICATE", chunked())  # type: ignore[arg-type]  # a stream
    assert got.status_code == 413
    assert (await city.send(dhs, cid, "NOT_A_DOCUMENT", png())).status_code == 400
    # a caller who may not send for this client is refused before the body is read
    stranger = city.as_("DOE", "partner")
    assert (await city.send(stranger, cid, "BIRTH_CERTIFICATE", png())).status_code == 403
    assert (await city.send(GraphQLClient(city.server.url, None), cid, "PHOTO_ID", png())).status_code == 401
    assert city.kept() == [] and await city.rows(DocumentFile) == []


async def test_the_bytes_and_the_record_are_kept_together_or_not_at_all(
    city: City, population: Population, tmp_path: Path,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    content = png(4000)
    digest = sha256(content).hexdigest()
    # the blob store cannot be written (a path it needs is taken): no record either
    (city.blobs / digest[:2]).parent.mkdir(parents=True, exist_ok=True)
    (city.blobs / digest[:2]).write_bytes(b"in the way")
    got = await city.send(dhs, cid, "PHOTO_ID", content)
    assert got.status_code == 503 and got.json()["errors"][0]["extensions"]["code"] == "DOCUMENTS_UNAVAILABLE"
    assert await city.rows(DocumentFile) == []
    (city.blobs / digest[:2]).unlink()
    # the same bytes twice: one blob, two records
    first = await city.send(dhs, cid, "PHOTO_ID", content)
    second = await city.send(dhs, cid, "PHOTO_ID", content)
    assert first.status_code == second.status_code == 201
    assert len(await city.rows(DocumentFile)) == 2
    assert [p.name for p in city.kept()] == [digest]
    # the record cannot be written (the access log is gone): the bytes it brought are removed
    await break_access_log(city.database_url)
    other = png(4000)
    got = await city.send(dhs, cid, "PHOTO_ID", other)
    assert got.status_code == 503 and got.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert [p.name for p in city.kept()] == [digest]
    assert len(await city.rows(DocumentFile)) == 2


async def test_an_accepted_copy_expires_back_to_needed_and_retention_purges_the_content_but_keeps_the_record(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    sent = (await city.send(dhs, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(2000))).json()["file"]
    assert sent["mediaType"] == "application/pdf"
    accepted = (await dhs.query(REVIEW, {"f": sent["id"], "decision": "ACCEPT"}))["data"]["reviewDocument"]
    assert accepted["validUntil"] == (date.today() + timedelta(days=60)).isoformat()  # proof of income: 60 days
    item = _item(await dhs.query(CHECKLIST, {"id": cid, "goal": "BENEFITS_RECERTIFICATION"}), "PROOF_OF_INCOME")
    assert (item["state"], item["needed"]) == ("ACCEPTED", False)

    # 61 days later (the record accepted then): the copy no longer holds, and the document is needed again
    await city.change(update(DocumentRecord).values(accepted_on=date.today() - timedelta(days=61)))
    item = _item(await dhs.query(CHECKLIST, {"id": cid, "goal": "BENEFITS_RECERTIFICATION"}), "PROOF_OF_INCOME")
    (request,) = item["requests"]
    assert (item["state"], item["needed"], request["state"]) == ("EXPIRED", True, "EXPIRED")
    assert request["history"][-1]["state"] == "EXPIRED" and 0 <= request["daysInState"] < 1.01
    assert not any(c["source"] == "UPLOAD" and c["verified"] for c in item["copies"])

    # past its retention period: the content goes, the record (accepted, when, by whom) stays
    await city.change(update(DocumentFile).values(retain_until=datetime.now(UTC) - timedelta(days=1)))
    from cli.main import app

    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", city.database_url)
    monkeypatch.setenv("CASEBRIDGE_DOCUMENTS__BLOB_DIR", str(city.blobs))
    monkeypatch.setenv("CASEBRIDGE_AUDIT__SIGNING_KEY_FILE", str(city.settings.audit.key_path))
    result = await asyncio.to_thread(CliRunner().invoke, app, ["documents", "purge", "--operator", "records-officer"])
    assert result.exit_code == 0, result.output
    assert city.kept() == []
    gone = await city.fetch(dhs, sent["id"])
    assert gone.status_code == 404 and gone.json()["errors"][0]["extensions"]["reason"] == "purged"
    (row,) = await city.rows(DocumentFile)
    assert row.purged_at is not None
    assert [(e.action, e.client_id, e.subject) for e in await events(city.database_url)
            if e.action == "document.retention"] == [("document.retention", cid, "records-officer")]
    assert (await asyncio.to_thread(CliRunner().invoke, app, ["documents", "sweep"])).exit_code == 0


async def test_the_client_sends_only_for_themself_and_staff_review_only_their_own_organisations_record(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    other = next(p.client_id for p in population.people if p.client_id != cid)
    me = city.client(cid)
    assert (await city.send(me, other, "PHOTO_ID", png())).status_code == 403
    sent = (await city.send(city.as_("DHS"), cid, "PHOTO_ID", png())).json()["file"]
    # the client sees the caseworker's file in their own view, but does not review it
    assert _code(await me.query(REVIEW, {"f": sent["id"], "decision": "ACCEPT"})) == "FORBIDDEN"
    assert (await city.fetch(me, sent["id"])).status_code == 200
    bad = await city.as_("DHS").query(REVIEW, {"f": sent["id"], "decision": "REJECT"})
    assert _code(bad) == "BAD_USER_INPUT"  # a rejection names its reason
    past = (date.today() - timedelta(days=1)).isoformat()
    assert _code(await city.as_("DHS").query(REQUEST, {"c": cid, "d": "PHOTO_ID", "due": past})) == "BAD_USER_INPUT"


async def _unasked_birth_certificate(city: City, population: Population) -> tuple[
        str, GraphQLClient, GraphQLClient, GraphQLClient, dict[str, Any], dict[str, Any]]:
    """The sheltered client lets DHS see their documents and sends a birth certificate nobody asked for: meant by
    default for DHS. The client id, DHS, HRA, the client, the file sent and DHS's one review item."""
    cid = _sheltered(population)
    dhs, hra, me = city.as_("DHS"), city.as_("HRA"), city.client(cid)
    await _consent_documents_to(city, cid, "DHS")
    sent = (await city.send(me, cid, "BIRTH_CERTIFICATE", png())).json()["file"]
    (review,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    return cid, dhs, hra, me, sent, review


async def test_the_review_list_holds_the_organisations_own_work_not_every_file_it_may_see(
    city: City, population: Population,
) -> None:
    cid, dhs, hra, _, sent, review = await _unasked_birth_certificate(city, population)
    assert (review["file"]["id"], review["file"]["document"], review["requestState"]) == (
        sent["id"], "BIRTH_CERTIFICATE", None)
    item = _item(await dhs.query(CHECKLIST, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")
    assert [f["id"] for f in item["files"]] == [sent["id"]] and item["state"] == "RECEIVED"
    # HRA may see it too (a consent given after it came), but it was not meant for HRA, nor did HRA ask for it:
    # not HRA's review - not even once HRA keeps a record of another of this client's documents
    await _consent_documents_to(city, cid, "HRA")
    assert (await hra.query(REVIEWS))["data"]["documentReviews"] == []
    assert "errors" not in await hra.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    assert (await hra.query(REVIEWS))["data"]["documentReviews"] == []
    # DHS's own files are its review, always
    mine = (await city.send(dhs, cid, "PROOF_OF_INCOME", b"%PDF-1.4\n" + os.urandom(500))).json()["file"]
    assert {r["file"]["id"] for r in (await dhs.query(REVIEWS))["data"]["documentReviews"]} == {sent["id"], mine["id"]}


@pytest.mark.documents(max_files_per_day=2)
async def test_one_person_sends_a_bounded_number_of_files_a_day_for_one_client(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    assert [(await city.send(dhs, cid, "PHOTO_ID", png())).status_code for _ in range(2)] == [201, 201]
    third = await city.send(dhs, cid, "PHOTO_ID", png())
    assert third.status_code == 400 and third.json()["errors"][0]["extensions"]["reason"] == "too_many_files"
    assert len(await city.rows(DocumentFile)) == 2 and len([p for p in city.kept()]) == 2
    # the client's own sending is counted apart
    assert (await city.send(city.client(cid), cid, "PHOTO_ID", png())).status_code == 201


SEEN = """query($id: ID!, $goal: String!) { client(id: $id) { checklist(goal: $goal) { items { document state
  copies { agency source status documentId }
  requests { agency state fileId history { state fileId } }
  files { id agency sentBy sentByClient awaitingReview } } } } }"""
ACCEPT_ISSUED = """mutation($f: ID!, $on: Date) { reviewDocument(fileId: $f, decision: ACCEPT, issuedOn: $on) {
  id state acceptedOn issuedOn validUntil } }"""
REJECT_ISSUED = """mutation($f: ID!, $on: Date) { reviewDocument(fileId: $f, decision: REJECT, reason: ILLEGIBLE,
  issuedOn: $on) { id } }"""


def _failed_uploads(logged: list[Any]) -> list[str]:
    """The access log's failed uploads, each as its detail (the kind's code and the reason code)."""
    return [e.detail for e in logged if e.action == "document.upload" and e.outcome == "failed"]


async def test_a_clients_upload_is_their_own_whatever_organisation_their_sign_in_names(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    # the city's identity provider issues clients' tokens under an agency: the client's token names DHS
    me = city.client(cid, org="DHS", sub="client-under-dhs")
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    sent = await city.send(me, cid, "PHOTO_ID", png())
    assert sent.status_code == 201, sent.text
    file = sent.json()["file"]
    assert file["agency"] == "CLIENT"
    # not DHS's file: without the client's consent DHS sees nothing of it, though it asked for the document
    assert (await dhs.query(REVIEWS))["data"]["documentReviews"] == []
    item = _item(await dhs.query(SEEN, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    assert item["state"] == "REQUESTED" and item["files"] == [] and file["id"] not in str(item)
    assert (await city.fetch(dhs, file["id"])).status_code == 404
    # no token may name the clients' own holding as its organisation
    posing = await city.as_("CLIENT").post(REVIEWS)
    assert posing.status_code == 401 and posing.json()["errors"][0]["extensions"]["reason"] == "reserved_organization"

    # the client's consent to DHS seeing their documents: now it is DHS's to review
    await _consent_documents_to(city, cid, "DHS")
    (review,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert (review["file"]["id"], review["file"]["agency"], review["requestState"]) == (
        file["id"], "CLIENT", "RECEIVED")
    assert (await city.fetch(dhs, file["id"])).status_code == 200


async def test_a_file_arriving_moves_the_record_that_asked_for_it_to_received_and_withheld_files_leave_no_id(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, me, hra = city.as_("DHS", sub="dhs-worker-1"), city.client(cid), city.as_("HRA")
    # DHS asks for proof of income, then scans the pay stub it was handed: its record is RECEIVED from then on
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PROOF_OF_INCOME"})
    stub = (await city.send(dhs, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    item = _item(await dhs.query(SEEN, {"id": cid, "goal": "BENEFITS_RECERTIFICATION"}), "PROOF_OF_INCOME")
    (request,) = item["requests"]
    assert (request["state"], [(h["state"], h["fileId"]) for h in request["history"]]) == (
        "RECEIVED", [("REQUESTED", None), ("RECEIVED", stub["id"])])
    assert [(f["sentBy"], f["sentByClient"]) for f in item["files"]] == [("dhs-worker-1", False)]

    # DHS asks for a photo ID and the client sends one: DHS's record moves only once DHS may see the file
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    photo = (await city.send(me, cid, "PHOTO_ID", png())).json()["file"]
    (request,) = _item(await dhs.query(SEEN, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")["requests"]
    assert (request["state"], [h["state"] for h in request["history"]]) == ("REQUESTED", ["REQUESTED"])
    await _consent_documents_to(city, cid, "DHS")
    item = _item(await dhs.query(SEEN, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    (request,) = item["requests"]
    assert (request["state"], [(h["state"], h["fileId"]) for h in request["history"]]) == (
        "RECEIVED", [("REQUESTED", None), ("RECEIVED", photo["id"])])
    # the client's sign-in is never shown: "the client" sent it
    assert [(f["id"], f["sentBy"], f["sentByClient"]) for f in item["files"]] == [(photo["id"], None, True)]
    assert "errors" not in await dhs.query(REVIEW, {"f": photo["id"], "decision": "ACCEPT"})

    # HRA, by the client's consent to DHS's documents only, sees DHS's record - never the id of the client's file
    await _consent_documents_to(city, cid, "HRA", holders=["DHS"])
    item = _item(await hra.query(SEEN, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    (request,) = item["requests"]
    assert (request["agency"], request["state"], request["fileId"]) == ("DHS", "ACCEPTED", None)
    assert [(h["state"], h["fileId"]) for h in request["history"]] == [
        ("REQUESTED", None), ("RECEIVED", None), ("ACCEPTED", None)]
    assert {"agency": "DHS", "source": "UPLOAD", "status": "ACCEPTED", "documentId": None} in item["copies"]
    assert item["files"] == [] and photo["id"] not in str(item)
    # DHS's own file HRA may see, and who at DHS sent it
    theirs = _item(await hra.query(SEEN, {"id": cid, "goal": "BENEFITS_RECERTIFICATION"}), "PROOF_OF_INCOME")
    assert [(f["id"], f["sentBy"]) for f in theirs["files"]] == [(stub["id"], "dhs-worker-1")]
    assert theirs["requests"][0]["history"][-1]["fileId"] == stub["id"]


async def test_the_review_list_reads_past_files_the_organisation_may_not_see(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("gate.document_reviews.REVIEW_LIST", 2)  # a list of two: fewer than the hidden files
    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    # five older files DHS may not see (the client's own, no consent) ahead of DHS's own
    for _ in range(5):
        assert (await city.send(me, cid, "PHOTO_ID", png())).status_code == 201
    mine = (await city.send(dhs, cid, "BIRTH_CERTIFICATE", png())).json()["file"]
    assert [r["file"]["id"] for r in (await dhs.query(REVIEWS))["data"]["documentReviews"]] == [mine["id"]]


@pytest.mark.documents(max_files_per_day=2, max_files_per_sender_per_day=3)
async def test_every_attempt_counts_refused_ones_too_within_a_total_for_all_clients_and_each_refusal_is_logged(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    other = next(p.client_id for p in population.people if p.hmis_id and p.client_id != cid)
    dhs = city.as_("DHS")
    infected = await city.send(dhs, cid, "PHOTO_ID", png(3000, salt=b"EICAR-STANDARD-ANTIVIRUS-TEST"))
    assert infected.status_code == 400
    assert (await city.send(dhs, cid, "PHOTO_ID", png())).status_code == 201
    # the infected file counted: two attempts for this client today
    third = await city.send(dhs, cid, "PHOTO_ID", png())
    assert third.status_code == 400 and third.json()["errors"][0]["extensions"]["reason"] == "too_many_files"
    assert (await city.send(dhs, other, "PHOTO_ID", png())).status_code == 201
    # three attempts in all today, for any client: the sender's total
    fifth = await city.send(dhs, other, "PHOTO_ID", png())
    assert fifth.status_code == 400 and fifth.json()["errors"][0]["extensions"]["reason"] == "too_many_files"
    assert len(await city.rows(DocumentFile)) == 2
    assert _failed_uploads(await events(city.database_url)) == [
        "document file refused (PHOTO_ID): infected", "document file refused (PHOTO_ID): too_many_files",
        "document file refused (PHOTO_ID): too_many_files"]


async def test_an_upload_refused_after_the_gate_allowed_it_is_logged_with_its_reason(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    assert (await city.send(dhs, cid, "BIRTH_CERTIFICATE", b"MZ\x90\x00" + os.urandom(3000))).status_code == 400

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: found too large while it is read
        for _ in range(40):
            yield png(5000)

    assert (await city.send(dhs, cid, "BIRTH_CERTIFICATE", chunked())).status_code == 413  # type: ignore[arg-type]
    assert (await city.send(dhs, cid, "BIRTH_CERTIFICATE", png(3000, salt=b"SCANNER-BREAKS"))).status_code == 503
    # a caller the gate refuses is logged as refused, not as a failed upload
    assert (await city.send(city.as_("DOE", "partner"), cid, "BIRTH_CERTIFICATE", png())).status_code == 403
    logged = await events(city.database_url)
    assert _failed_uploads(logged) == [f"document file refused (BIRTH_CERTIFICATE): {reason}"
                                       for reason in ("program", "payload_too_large", "scan_unavailable")]
    assert {e.client_id for e in logged if e.action == "document.upload"} == {cid}


async def test_an_issue_date_given_at_acceptance_is_where_the_validity_runs_from(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs = city.as_("DHS")
    today = date.today()
    stub = (await city.send(dhs, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    for bad in (today + timedelta(days=1), today - timedelta(days=20 * 366 + 1)):
        assert _code(await dhs.query(ACCEPT_ISSUED, {"f": stub["id"], "on": bad.isoformat()})) == "BAD_USER_INPUT"
    assert _code(await dhs.query(REJECT_ISSUED, {"f": stub["id"], "on": today.isoformat()})) == "BAD_USER_INPUT"
    # a pay stub 70 days old is past proof of income's 60 days: not accepted (reject it as an expired document)
    old = await dhs.query(ACCEPT_ISSUED, {"f": stub["id"], "on": (today - timedelta(days=70)).isoformat()})
    assert old["errors"][0]["extensions"]["reason"] == "expired_document"
    # a 50-day-old pay stub accepted today holds 10 more days
    issued = (today - timedelta(days=50)).isoformat()
    accepted = (await dhs.query(ACCEPT_ISSUED, {"f": stub["id"], "on": issued}))["data"]["reviewDocument"]
    assert (accepted["state"], accepted["acceptedOn"], accepted["issuedOn"], accepted["validUntil"]) == (
        "ACCEPTED", datetime.now(UTC).date().isoformat(), issued, (today + timedelta(days=10)).isoformat())
    (request,) = _item(await dhs.query(CHECKLIST, {"id": cid, "goal": "BENEFITS_RECERTIFICATION"}),
                       "PROOF_OF_INCOME")["requests"]
    assert request["validUntil"] == (today + timedelta(days=10)).isoformat()


async def test_two_first_requests_or_reviews_of_one_document_at_once_both_go_through(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    one, two = city.as_("DHS", sub="dhs-worker-1"), city.as_("DHS", sub="dhs-worker-2")
    asked = await asyncio.gather(*(who.query(REQUEST, {"c": cid, "d": "PHOTO_ID"}) for who in (one, two)))
    assert all("errors" not in a for a in asked), asked
    assert len({a["data"]["requestDocument"]["id"] for a in asked}) == 1
    stub = (await city.send(one, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    reviewed = await asyncio.gather(*(who.query(REVIEW, {"f": stub["id"], "decision": "ACCEPT"}) for who in (one, two)))
    assert all("errors" not in r for r in reviewed), reviewed
    assert {r["data"]["reviewDocument"]["state"] for r in reviewed} == {"ACCEPTED"}
    assert sorted(r.document for r in await city.rows(DocumentRecord)) == ["PHOTO_ID", "PROOF_OF_INCOME"]


SHARED = """query($id: ID!, $goal: String!) { client(id: $id) { checklist(goal: $goal) { items { document state
  requests { agency state history { state fileId } } files { id agency awaitingReview notSharedWith } } } } }"""


async def test_a_clients_unasked_upload_reaches_the_lists_of_those_it_is_meant_for_and_no_others(
    city: City, population: Population,
) -> None:
    cid, dhs, hra, me, sent, review = await _unasked_birth_certificate(city, population)
    # DHS's to review, due the city's two review days from now
    assert (review["file"]["id"], review["requestState"]) == (sent["id"], None)
    due = datetime.fromisoformat(review["dueAt"])
    assert datetime.now(UTC) + timedelta(days=1) < due <= datetime.now(UTC) + timedelta(days=2)
    # HRA, without consent, never sees it: not on its list, not after it asks for the document either
    assert (await hra.query(REVIEWS))["data"]["documentReviews"] == []
    assert "errors" not in await hra.query(REQUEST, {"c": cid, "d": "BIRTH_CERTIFICATE"})
    listed = await hra.query(REVIEWS)
    assert listed["data"]["documentReviews"] == [] and sent["id"] not in str(listed)
    theirs = _item(await hra.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")
    assert theirs["files"] == [] and sent["id"] not in str(theirs)
    assert [(r["agency"], r["state"]) for r in theirs["requests"]] == [("HRA", "REQUESTED")]
    # the client is told it is not shared with HRA yet (not "awaiting review" by HRA), and HRA's record waits
    mine = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")
    assert [(f["id"], f["notSharedWith"]) for f in mine["files"]] == [(sent["id"], ["HRA"])]
    assert ("HRA", "REQUESTED") in [(r["agency"], r["state"]) for r in mine["requests"]]
    # whom the client has not consented to is the client's to know: DHS is told nothing of it
    (seen,) = _item(await dhs.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")["files"]
    assert (seen["id"], seen["notSharedWith"]) == (sent["id"], None)
    # the client's consent to HRA: now HRA's to review, and shared with everyone it was meant for
    await _consent_documents_to(city, cid, "HRA")
    (review,) = (await hra.query(REVIEWS))["data"]["documentReviews"]
    assert (review["file"]["id"], review["requestState"]) == (sent["id"], "REQUESTED")
    mine = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")
    assert [f["notSharedWith"] for f in mine["files"]] == [[]]


async def test_a_request_after_an_upload_puts_it_on_the_requesters_list_due_from_the_request(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    hra, me = city.as_("HRA"), city.client(cid)
    sent = (await city.send(me, cid, "PHOTO_ID", png())).json()["file"]  # meant for nobody: no consent, no request
    await city.change(update(DocumentFile).values(sent_at=datetime.now(UTC) - timedelta(days=10)))
    await _consent_documents_to(city, cid, "HRA")
    assert (await hra.query(REVIEWS))["data"]["documentReviews"] == []  # HRA may see it, but it is not HRA's
    assert "errors" not in await hra.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    (review,) = (await hra.query(REVIEWS))["data"]["documentReviews"]
    # HRA's since it asked: due two days from the request, not overdue for the ten days the file waited before
    assert review["file"]["id"] == sent["id"]
    assert datetime.fromisoformat(review["dueAt"]) > datetime.now(UTC) + timedelta(days=1)


async def test_a_record_moves_to_received_only_through_a_file_its_holder_may_review(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, hra, me = city.as_("DHS"), city.as_("HRA"), city.client(cid)
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    # HRA may see DHS's documents (the client's consent), DHS not HRA's: HRA's own file does not move DHS's record
    await _consent_documents_to(city, cid, "HRA", holders=["DHS"])
    theirs = (await city.send(hra, cid, "PHOTO_ID", png())).json()["file"]
    for who in (hra, dhs, me):
        item = _item(await who.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
        assert [(r["agency"], r["state"]) for r in item["requests"] if r["agency"] == "DHS"] == [("DHS", "REQUESTED")]
    assert theirs["id"] not in str(await dhs.query(REVIEWS))
    # the client's own file: DHS's record waits until DHS may see it, in the client's own view too
    photo = (await city.send(me, cid, "PHOTO_ID", png())).json()["file"]
    item = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    assert [(r["agency"], r["state"]) for r in item["requests"]] == [("DHS", "REQUESTED")]
    assert {f["id"]: f["notSharedWith"] for f in item["files"]}[photo["id"]] == ["DHS"]
    # the client's consent lets DHS see their documents wherever held: DHS may review both files now, and its
    # record has the first that came since it asked (HRA's)
    await _consent_documents_to(city, cid, "DHS")
    item = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    (request,) = item["requests"]
    assert (request["state"], request["history"][-1]) == ("RECEIVED", {"state": "RECEIVED", "fileId": theirs["id"]})
    assert {f["id"]: f["notSharedWith"] for f in item["files"]}[photo["id"]] == []


async def test_an_expired_acceptance_waits_for_a_file_again_everywhere(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    first = (await city.send(dhs, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    assert "errors" not in await dhs.query(REVIEW, {"f": first["id"], "decision": "ACCEPT"})
    second = (await city.send(dhs, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    # accepted 61 days ago (proof of income holds 60), the second file sent 30 days ago, while it still held
    await city.change(update(DocumentRecord).values(accepted_on=date.today() - timedelta(days=61),
                                                    updated_at=datetime.now(UTC) - timedelta(days=61)))
    await city.change(update(DocumentFile).where(DocumentFile.id == second["id"]).values(
        sent_at=datetime.now(UTC) - timedelta(days=30)))
    (review,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert (review["file"]["id"], review["requestState"]) == (second["id"], "EXPIRED")
    # the client sends a new one: meant for DHS (its record waits again), and DHS's record has it now
    await _consent_documents_to(city, cid, "DHS")
    third = (await city.send(me, cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    states = {r["file"]["id"]: r["requestState"] for r in (await dhs.query(REVIEWS))["data"]["documentReviews"]}
    assert states == {second["id"]: "EXPIRED", third["id"]: "RECEIVED"}
    for who in (dhs, me):
        item = _item(await who.query(SHARED, {"id": cid, "goal": "BENEFITS_RECERTIFICATION"}), "PROOF_OF_INCOME")
        (request,) = item["requests"]
        assert (request["state"], request["history"][-1]) == ("RECEIVED", {"state": "RECEIVED", "fileId": third["id"]})
    accepted = (await dhs.query(REVIEW, {"f": third["id"], "decision": "ACCEPT"}))["data"]["reviewDocument"]
    assert [h["state"] for h in accepted["history"]][-3:] == ["ACCEPTED", "RECEIVED", "ACCEPTED"]


async def test_upload_attempts_older_than_a_day_are_removed_by_anyones_next_attempt(
    city: City, population: Population,
) -> None:
    from sqlalchemy import insert

    from store.held_tables import DocumentAttempt

    cid = _sheltered(population)
    old = datetime.now(UTC) - timedelta(days=1, minutes=5)
    await city.change(insert(DocumentAttempt).values([
        {"sender": "client-gone-quiet", "client_id": cid, "at": old},
        {"sender": "client-lately", "client_id": cid, "at": datetime.now(UTC) - timedelta(hours=20)}]))
    assert (await city.send(city.as_("DHS", sub="dhs-worker-1"), cid, "PHOTO_ID", png())).status_code == 201
    kept = sorted((a.sender, a.at > old) for a in await city.rows(DocumentAttempt))
    assert kept == [("client-lately", True), ("dhs-worker-1", True)]


async def test_an_unknown_document_kind_is_refused_after_the_gate_and_logged_without_the_code_sent(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    got = await city.send(city.as_("DHS"), cid, "MY-NAME-IS-JANE", png())
    assert got.status_code == 400 and got.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # a caller the gate refuses learns nothing of the kinds: refused first
    assert (await city.send(city.as_("DOE", "partner"), cid, "MY-NAME-IS-JANE", png())).status_code == 403
    logged = await events(city.database_url)
    assert _failed_uploads(logged) == ["document file refused (?): unknown_document"]
    assert all("JANE" not in (e.detail or "") for e in logged)
    # an acceptance refused for a copy that no longer holds says so without a date worked out from the one given
    stub = (await city.send(city.as_("DHS"), cid, "PROOF_OF_INCOME", b"%PDF-1.7\n" + os.urandom(900))).json()["file"]
    old = await city.as_("DHS").query(ACCEPT_ISSUED, {"f": stub["id"], "on": (date.today() - timedelta(days=70))
                                                      .isoformat()})
    message = old["errors"][0]["message"]
    assert old["errors"][0]["extensions"]["reason"] == "expired_document" and str(date.today().year) not in message


async def test_a_third_organisation_sees_another_holders_record_as_stored_whatever_the_client_consented_to_it(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, hra, me = city.as_("DHS"), city.as_("HRA"), city.client(cid)
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    await _consent_documents_to(city, cid, "HRA", holders=["DHS"])
    theirs = (await city.send(hra, cid, "PHOTO_ID", png())).json()["file"]

    def dhs_record(body: dict[str, Any]) -> list[Any]:
        return [(r["agency"], r["state"], r["history"]) for r in _item(body, "PHOTO_ID")["requests"]
                if r["agency"] == "DHS"]

    before = dhs_record(await hra.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}))
    assert [(a, s) for a, s, _ in before] == [("DHS", "REQUESTED")]
    # the client lets DHS see HRA's documents: a consent HRA may not read - HRA's view of DHS's record is the same
    await _consent_documents_to(city, cid, "DHS")
    assert dhs_record(await hra.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"})) == before
    # the record's holder and the client see it moved by HRA's file
    for who in (dhs, me):
        ((_, state, history),) = dhs_record(await who.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}))
        assert (state, history[-1]) == ("RECEIVED", {"state": "RECEIVED", "fileId": theirs["id"]})


async def test_the_review_list_reads_its_groups_a_page_at_a_time_and_says_when_it_stopped(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("gate.document_reviews.GROUP_PAGE", 1)
    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    for _ in range(2):  # older files DHS may not see: a group of their own, ahead of DHS's
        assert (await city.send(me, cid, "PHOTO_ID", png())).status_code == 201
    sent = [(await city.send(dhs, cid, d, png())).json()["file"]["id"]
            for d in ("BIRTH_CERTIFICATE", "SOCIAL_SECURITY_CARD", "PROOF_OF_INCOME")]
    # one group a page: every group is read, the hidden one first, and the list is whole
    listed = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert sorted(r["file"]["id"] for r in listed) == sorted(sent)
    assert not any("stopped" in (e.detail or "") for e in await events(city.database_url))
    # at most three pages: the hidden group and the two oldest of DHS's - and the access log says it stopped there
    monkeypatch.setattr("gate.document_reviews.GROUP_PAGES", 3)
    listed = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert sorted(r["file"]["id"] for r in listed) == sorted(sent[:2])
    assert [e.detail for e in await events(city.database_url) if "stopped" in (e.detail or "")] == [
        "review list: stopped after 3 groups of files"]


async def test_a_request_made_while_the_review_list_is_read_does_not_break_it(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gate.document_reviews import DocumentReviews

    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    await _consent_documents_to(city, cid, "DHS")
    sent = (await city.send(me, cid, "PHOTO_ID", png())).json()["file"]  # addressed to DHS, not asked for
    decide = DocumentReviews._reviewable

    async def then_asked(self: Any, ctx: Any, groups: Any) -> Any:
        out = await decide(self, ctx, groups)
        # DHS asks for the document between the groups' decisions and the read of their files (committed)
        now = datetime.now(UTC)
        await city.change(DocumentRecord.__table__.insert().values(
            id="record-meanwhile", client_id=cid, holder="DHS", document="PHOTO_ID", state="REQUESTED",
            recorded_by="someone", created_at=now, updated_at=now, due_on=date.today() + timedelta(days=5)))
        monkeypatch.setattr(DocumentReviews, "_reviewable", decide)
        return out

    monkeypatch.setattr(DocumentReviews, "_reviewable", then_asked)
    first = await dhs.query(REVIEWS)
    assert "errors" not in first, first  # never INTERNAL: at worst the file waits for the next read
    (review,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert (review["file"]["id"], review["requestState"]) == (sent["id"], "REQUESTED")  # asked after it came


async def test_amending_another_provision_of_the_consent_does_not_move_a_reviews_due_date(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    dhs, me = city.as_("DHS"), city.client(cid)
    dhs_docs = {"organizations": ["DHS"], "categories": ["DOCUMENTS"], "purposes": ["CASE_MANAGEMENT"]}
    given = await me.query(CONSENT, {"input": {
        "clientId": cid, "sourceReference": "CLIENT-APP", "givenAt": datetime.now(UTC).isoformat(),
        "provisions": [dhs_docs, {"organizations": ["HRA"], "categories": ["DOCUMENTS"],
                                  "purposes": ["CASE_MANAGEMENT"]}]}})
    assert "errors" not in given, given
    sent = (await city.send(me, cid, "PHOTO_ID", png())).json()["file"]
    (before,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert before["file"]["id"] == sent["id"]
    await asyncio.sleep(1.1)
    amended = await me.query("""mutation($id: ID!, $p: [ConsentProvisionInput!]!) {
      amendConsent(id: $id, provisions: $p) { id } }""", {"id": given["data"]["recordConsent"]["id"], "p": [
        dhs_docs, {"organizations": ["HRA"], "categories": ["DOCUMENTS"], "purposes": ["ELIGIBILITY"]}]})
    assert "errors" not in amended, amended
    (after,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert after["dueAt"] == before["dueAt"]


async def test_a_consent_naming_a_thousand_unknown_organisations_neither_slows_an_upload_nor_addresses_them(
    city: City, population: Population,
) -> None:
    from store.held_tables import DocumentAddressee

    cid = _sheltered(population)
    me = city.client(cid)
    made_up = [f"ORG-{i:04d}" for i in range(1000)]
    await _consent_documents_to(city, cid, *made_up, "DHS")
    started = asyncio.get_running_loop().time()
    sent = await city.send(me, cid, "PHOTO_ID", png())
    assert sent.status_code == 201, sent.text
    assert asyncio.get_running_loop().time() - started < 10
    # addressed to the organisation casebridge knows (DHS, an agency here), none of the names made up
    assert [(a.file_id, a.organization) for a in await city.rows(DocumentAddressee)] == [
        (sent.json()["file"]["id"], "DHS")]


async def test_a_client_addresses_an_upload_to_an_organisation_their_consent_lets_see_it_and_it_is_on_its_list(
    city: City, population: Population,
) -> None:
    from store.held_tables import DocumentAddressee

    cid = _sheltered(population)
    hra, me = city.as_("HRA"), city.client(cid)
    await _consent_documents_to(city, cid, "HRA")
    sent = await city.send(me, cid, "PHOTO_ID", png(), addressed_to="HRA")
    assert sent.status_code == 201, sent.text
    file = sent.json()["file"]
    (review,) = (await hra.query(REVIEWS))["data"]["documentReviews"]
    assert (review["file"]["id"], review["file"]["agency"], review["requestState"]) == (file["id"], "CLIENT", None)
    assert [(a.file_id, a.organization) for a in await city.rows(DocumentAddressee)] == [(file["id"], "HRA")]
    # DHS: neither chosen, nor asking, nor let see the client's documents
    assert (await city.as_("DHS").query(REVIEWS))["data"]["documentReviews"] == []
    mine = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "PHOTO_ID")
    assert [(f["id"], f["notSharedWith"]) for f in mine["files"]] == [(file["id"], [])]


async def test_a_client_addresses_an_upload_to_an_organisation_without_consent_it_waits_for_that_consent(
    city: City, population: Population,
) -> None:
    from store.held_tables import DocumentAddressee

    cid = _sheltered(population)
    dhs, hra, me = city.as_("DHS"), city.as_("HRA"), city.client(cid)
    await _consent_documents_to(city, cid, "DHS")
    sent = await city.send(me, cid, "BIRTH_CERTIFICATE", png(), addressed_to="HRA , HRA")  # spaces, a repeat: one HRA
    assert sent.status_code == 201, sent.text
    file = sent.json()["file"]
    # chosen besides the default (DHS, by the consent): both kept, whether or not HRA's staff may see it yet
    assert sorted((a.file_id, a.organization) for a in await city.rows(DocumentAddressee)) == [
        (file["id"], "DHS"), (file["id"], "HRA")]
    (review,) = (await dhs.query(REVIEWS))["data"]["documentReviews"]
    assert review["file"]["id"] == file["id"]
    # HRA may not see it: not on its list, not in its view of the checklist
    listed = await hra.query(REVIEWS)
    assert listed["data"]["documentReviews"] == [] and file["id"] not in str(listed)
    assert file["id"] not in str(await hra.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}))
    # the client is told it is not shared with HRA yet; DHS learns nothing of whom the client did not consent to
    mine = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")
    assert [(f["id"], f["notSharedWith"]) for f in mine["files"]] == [(file["id"], ["HRA"])]
    (seen,) = _item(await dhs.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")["files"]
    assert seen["notSharedWith"] is None
    # the consent to HRA: HRA's to review now, though it never asked (an upload nobody chose for HRA would not be)
    await _consent_documents_to(city, cid, "HRA")
    (review,) = (await hra.query(REVIEWS))["data"]["documentReviews"]
    assert (review["file"]["id"], review["requestState"]) == (file["id"], None)
    mine = _item(await me.query(SHARED, {"id": cid, "goal": "SHELTER_PLACEMENT"}), "BIRTH_CERTIFICATE")
    assert [f["notSharedWith"] for f in mine["files"]] == [[]]


async def test_an_unknown_malformed_or_sixth_addressee_is_refused_after_the_gate_and_logged_without_the_codes(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    me = city.client(cid)
    for to, reason in (("HRA, JANE-DOE-CLINIC", "unknown_addressee"), ("CLIENT", "unknown_addressee"),
                       ("HRA,,DHS", "malformed_addressee"), ("HRA, Jane Doe", "malformed_addressee"),
                       ("DHS,HRA,DOE,ORG-A,ORG-B,ORG-C", "too_many_addressees")):
        got = await city.send(me, cid, "PHOTO_ID", png(), addressed_to=to)
        assert got.status_code == 400, (to, got.text)
        error = got.json()["errors"][0]
        assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("BAD_USER_INPUT", reason)
        assert error["extensions"]["field"] == ADDRESSED and ADDRESSED in error["message"]
        assert "JANE" not in got.text.upper() and "ORG-A" not in got.text
    assert await city.rows(DocumentFile) == [] and city.kept() == []  # nothing kept
    logged = await events(city.database_url)
    assert _failed_uploads(logged) == [f"document file refused (PHOTO_ID): {reason}" for reason in (
        "unknown_addressee", "unknown_addressee", "malformed_addressee", "malformed_addressee", "too_many_addressees")]
    assert all("JANE" not in (e.detail or "").upper() and "ORG-A" not in (e.detail or "") for e in logged)
    # five known ones are within the limit; an empty header chooses no one
    assert (await city.send(me, cid, "PHOTO_ID", png(), addressed_to="DHS, HRA, DOE")).status_code == 201
    assert (await city.send(me, cid, "PROOF_OF_INCOME", png(), addressed_to="")).status_code == 201


async def test_staff_choosing_whom_their_upload_is_meant_for_are_refused_by_the_policies(
    city: City, population: Population,
) -> None:
    from store.held_tables import DocumentAddressee

    cid = _sheltered(population)
    dhs = city.as_("DHS", sub="dhs-worker-1")
    await _consent_documents_to(city, cid, "HRA")
    got = await city.send(dhs, cid, "PHOTO_ID", png(), addressed_to="HRA")
    # a file DHS's staff send is DHS's own record: whom it reaches is no sender's choice (client-sends-own-documents)
    assert got.status_code == 403, got.text
    error = got.json()["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("FORBIDDEN", "not_addressable")
    assert error["extensions"]["field"] == ADDRESSED
    assert await city.rows(DocumentFile) == [] and await city.rows(DocumentAddressee) == []
    logged = await events(city.database_url)
    assert [(e.action, e.outcome) for e in logged if e.action == "document.upload"] == [
        ("document.upload", "refused")]
    # a caller the policies refuse anyway is told that, not about the header
    other = await city.send(city.as_("DOE", "partner"), cid, "PHOTO_ID", png(), addressed_to="HRA")
    assert other.status_code == 403 and other.json()["errors"][0]["extensions"].get("reason") != "not_addressable"
    # without the header DHS sends it as before: its own record's, on nobody else's list
    plain = await city.send(dhs, cid, "PHOTO_ID", png())
    assert plain.status_code == 201 and plain.json()["file"]["agency"] == "DHS"
    assert (await city.as_("HRA").query(REVIEWS))["data"]["documentReviews"] == []


async def test_a_caseworker_decides_only_on_files_meant_for_their_organisation(
    city: City, population: Population,
) -> None:
    """DHS may see HRA's documents (the client's consent), so it sees the photo HRA's caseworker sent for HRA's own
    record - but that file is HRA's to review, not DHS's: accepting it is refused by the policies until DHS's own
    record of that document waits for one."""
    cid = _sheltered(population)
    dhs, hra = city.as_("DHS"), city.as_("HRA")
    await _consent_documents_to(city, cid, "DHS")
    assert "errors" not in await hra.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})
    sent = await city.send(hra, cid, "PHOTO_ID", png(3000))
    assert sent.status_code == 201, sent.text
    theirs = sent.json()["file"]["id"]
    assert theirs in str(await dhs.query(DOCUMENTS, {"id": cid}))  # seen: the consent lets DHS see it
    refused = await dhs.query(REVIEW, {"f": theirs, "decision": "ACCEPT"})
    assert _code(refused) == "FORBIDDEN"
    assert "errors" not in await dhs.query(REQUEST, {"c": cid, "d": "PHOTO_ID"})  # DHS waits for one now
    accepted = await dhs.query(REVIEW, {"f": theirs, "decision": "ACCEPT"})
    assert "errors" not in accepted, accepted
    assert accepted["data"]["reviewDocument"]["agency"] == "DHS"
