"""Immigration papers under break-glass (issue 20, acceptance review item 12): a break-glass read opens the documents
category but never immigration_legal, so a copy of a kind the checklists mark sensitive - IMMIGRATION_DOCUMENTS,
and the agencies' records by the codes it is known as (HRA's IMMIGRATION_STATUS) - is shown, in the documents
section or a checklist, and downloaded, only where the gate permits immigration_legal for its holder too: an
emergency read shows no trace that such papers exist; a consent naming documents alone does not show them either;
one naming immigration_legal too does. Every decision is Cedar's, through the gate, and on record. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from checklists.config import load
from core.errors import ConfigurationError
from core.vocabulary import Category
from demo.population import Population
from demo.servers import ServerThread
from tests.gateway import events
from tests.test_documents import REQUEST, REVIEW, REVIEWS, City, _consent_documents_to, open_city, png

IMMIGRATION_CODES = load().documents["IMMIGRATION_DOCUMENTS"].known_as
SECTION = """query($id: ID!) { client(id: $id) { documents { access { agency status }
  items { documentId type status } requests { agency document } files { id agency document } } } }"""
STATES = """query($id: ID!) { client(id: $id) { documents { requests { agency document state } } } }"""
WORK = """query($id: ID!) { client(id: $id) { checklist(goal: "WORK_AUTHORIZATION_APPLICATION") {
  items { document state copies { agency source status documentId } files { id } } } } }"""
START = """mutation($id: ID!, $why: String!) {
  startBreakGlass(clientId: $id, justification: $why, minutes: 30) { id } }"""
WHY = "Client collapsed at the shelter intake; need their documents to coordinate emergency care"


@pytest.fixture
async def city(database_url: str, benefits_server: ServerThread, edfi_server: ServerThread, population: Population,
               settings_factory: Any, tmp_path: Path) -> AsyncIterator[City]:
    async with open_city(database_url, benefits_server, edfi_server, population, settings_factory,
                         tmp_path) as opened:
        yield opened


def _with_immigration_papers(population: Population) -> tuple[str, int]:
    """A client whose benefits case holds an accepted immigration status document, and how many of their benefits
    documents are of other kinds."""
    for person in population.people:
        docs = [d for case in population.benefits.get(person.benefits_id or "", {}).get("cases", [])
                for d in case["requiredDocuments"]] if person.benefits_id else []
        if any(d["type"] in IMMIGRATION_CODES and d["status"] == "ACCEPTED" for d in docs):
            others = [d for d in docs if d["type"] not in IMMIGRATION_CODES]
            if others:
                return person.client_id, len(others)
    raise AssertionError("the synthetic city has a client with accepted immigration papers")


def _papers(item: dict[str, Any]) -> tuple[str, list[Any], list[Any]]:
    return item["state"], item["copies"], item["files"]


async def test_an_emergency_read_shows_no_trace_of_immigration_papers_which_a_consent_naming_them_shows(
    city: City, population: Population,
) -> None:
    cid, others = _with_immigration_papers(population)
    hra = city.as_("HRA")
    for kind in ("IMMIGRATION_DOCUMENTS", "PHOTO_ID"):  # HRA's own records of them: asked for, then received
        assert "errors" not in await hra.query(REQUEST, {"c": cid, "d": kind})
    papers = (await city.send(hra, cid, "IMMIGRATION_DOCUMENTS", png(3000))).json()["file"]["id"]
    photo = (await city.send(hra, cid, "PHOTO_ID", png(3000))).json()["file"]["id"]
    # HRA's own staff see their own records, immigration papers included
    own = (await hra.query(SECTION, {"id": cid}))["data"]["client"]["documents"]
    assert {i["type"] for i in own["items"]} & IMMIGRATION_CODES
    assert {f["id"] for f in own["files"]} == {papers, photo}

    emergency = city.as_("DHS", purpose="emergency")
    assert "errors" not in await emergency.query(START, {"id": cid, "why": WHY})
    body = await emergency.query(SECTION, {"id": cid})
    seen = body["data"]["client"]["documents"]
    # the documents are open to break-glass: the rest of them shows, immigration papers not at all
    assert {"agency": "HRA", "status": "SHOWN"} in seen["access"]
    assert len(seen["items"]) == others and not {i["type"] for i in seen["items"]} & IMMIGRATION_CODES
    assert [f["id"] for f in seen["files"]] == [photo]
    assert [r["document"] for r in seen["requests"]] == ["PHOTO_ID"]
    assert "IMMIGRATION" not in str(body) and papers not in str(body)
    work = await emergency.query(WORK, {"id": cid})
    (item,) = [i for i in work["data"]["client"]["checklist"]["items"] if i["document"] == "IMMIGRATION_DOCUMENTS"]
    assert _papers(item) == ("NEEDED", [], [])
    assert (await city.fetch(emergency, papers)).status_code == 404  # as if there were no such file
    assert (await city.fetch(emergency, photo)).status_code == 200

    logged = await events(city.database_url)
    nested = [d for e in logged if e.action == "read" and e.organization == "DHS" for d in e.decisions
              if d["category"] == "immigration_legal"]
    # decided by the gate and on record in the reads themselves: immigration_legal withheld for HRA under break-glass
    assert nested and {(d["category"], d["holder"], d["decision"], d["outcome"]) for d in nested} == {
        ("immigration_legal", "HRA", "deny", "withheld")}
    assert not [e for e in logged if e.action == "read" and not e.decisions]  # no read event of its own
    assert [e.outcome for e in logged if e.action == "document.download" and e.subject == "tester"
            and e.organization == "DHS"] == ["refused", "performed"]

    # a consent naming documents alone does not reveal them; one naming immigration_legal too does
    dhs = city.as_("DHS")
    await _consent_documents_to(city, cid, "DHS")
    seen = (await dhs.query(SECTION, {"id": cid}))["data"]["client"]["documents"]
    assert len(seen["items"]) == others and [f["id"] for f in seen["files"]] == [photo]
    assert (await city.fetch(dhs, papers)).status_code == 404
    consent_id = await _consent_documents_to(city, cid, "DHS", categories=("DOCUMENTS", "IMMIGRATION_LEGAL"))
    seen = (await dhs.query(SECTION, {"id": cid}))["data"]["client"]["documents"]
    assert len(seen["items"]) > others and {i["type"] for i in seen["items"]} & IMMIGRATION_CODES
    assert {f["id"] for f in seen["files"]} == {papers, photo}
    (item,) = [i for i in (await dhs.query(WORK, {"id": cid}))["data"]["client"]["checklist"]["items"]
               if i["document"] == "IMMIGRATION_DOCUMENTS"]
    assert any(c["agency"] == "HRA" and c["source"] == "AGENCY" for c in item["copies"]) and item["files"]
    assert (await city.fetch(dhs, papers)).status_code == 200
    (downloaded,) = [e for e in await events(city.database_url) if (e.action, e.outcome) == (
        "document.download", "performed") and e.detail == f"document file {papers} downloaded"]
    # the download names both decisions that allowed it, the immigration one by the consent that names it
    decided = {d["category"]: (d["decision"], d["basis"], d["consent_id"]) for d in downloaded.decisions}
    assert decided["immigration_legal"] == ("permit", "consent", consent_id)
    assert decided["documents"][:2] == ("permit", "consent")


def test_immigration_papers_are_marked_sensitive_by_every_code_they_are_known_as(tmp_path: Path) -> None:
    lists = load()
    assert {code: lists.sensitive(code) for code in ("IMMIGRATION_DOCUMENTS", "I_94", "IMMIGRATION_STATUS", "EAD",
                                                     "PHOTO_ID", "BIRTH_CERTIFICATE")} == {
        "IMMIGRATION_DOCUMENTS": Category.IMMIGRATION_LEGAL, "I_94": Category.IMMIGRATION_LEGAL,
        "IMMIGRATION_STATUS": Category.IMMIGRATION_LEGAL, "EAD": Category.IMMIGRATION_LEGAL,
        "PHOTO_ID": None, "BIRTH_CERTIFICATE": None}
    city_file = tmp_path / "checklists.json"
    city_file.write_text(json.dumps({"documents": {"LEASE": {"name": {"en": "Lease"}, "sensitive": "housing"}},
                                     "goals": {"HOUSING": {"name": {"en": "Housing"}, "documents": ["LEASE"]}}}))
    with pytest.raises(ConfigurationError, match=r"documents\.LEASE\.sensitive: one of immigration_legal"):
        load(city_file)


async def test_a_clients_immigration_papers_are_reviewed_only_by_an_organisation_their_consent_lets_see_them(
    city: City, population: Population,
) -> None:
    """A client sends their immigration papers themself. HRA (the benefits agency), which asked for them and is let
    see their documents but not immigration_legal, has no trace of them on its review list and cannot review them;
    named for immigration_legal too, it has them on its list and reviews them."""
    cid, _others = _with_immigration_papers(population)
    hra = city.as_("HRA")
    await _consent_documents_to(city, cid, "HRA")
    assert "errors" not in await hra.query(REQUEST, {"c": cid, "d": "IMMIGRATION_DOCUMENTS"})
    sent = await city.send(city.client(cid), cid, "IMMIGRATION_DOCUMENTS", png(3000))
    assert sent.status_code == 201, sent.text
    papers = sent.json()["file"]["id"]

    listed = await hra.query(REVIEWS)
    assert "errors" not in listed and papers not in str(listed)
    refused = await hra.query(REVIEW, {"f": papers, "decision": "ACCEPT"})
    assert refused["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND"  # as if there were no such file
    assert await _asked_state(hra, cid) == "REQUESTED"  # its record is not moved by a file it may not see

    await _consent_documents_to(city, cid, "HRA", categories=("DOCUMENTS", "IMMIGRATION_LEGAL"))
    assert await _asked_state(hra, cid) == "RECEIVED"
    (item,) = [i for i in (await hra.query(REVIEWS))["data"]["documentReviews"] if i["file"]["id"] == papers]
    assert item["file"]["document"] == "IMMIGRATION_DOCUMENTS"
    accepted = await hra.query(REVIEW, {"f": papers, "decision": "ACCEPT"})
    assert "errors" not in accepted, accepted


async def _asked_state(who: Any, cid: str) -> str:
    body = await who.query(STATES, {"id": cid})
    (mine,) = [r for r in body["data"]["client"]["documents"]["requests"] if r["document"] == "IMMIGRATION_DOCUMENTS"]
    return str(mine["state"])
