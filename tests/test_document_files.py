"""The bytes of documents sent against checklists (issue 20 §4, review items 5, 6, 9, 14, 16): a blob store is
chosen by one setting for the gateway and the CLI alike, and what it keeps is served only once checked against
its digest; a write that fails, or a process that dies, leaves nothing of the client's file behind that the sweep
does not remove; a sender that stalls is refused; scans run a bounded number at once; the client and the
document kind travel in headers, never in the address; retention purges in batches. On SQLite and PostgreSQL
where a store is involved."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import update
from typer.testing import CliRunner

from api.app import create_app
from checklists.files import (
    DocumentSettings,
    LocalBlobStore,
    Received,
    limit_scans,
    make_blob_store,
    receive,
    scan,
)
from connectors.held_documents import purge_expired
from core.errors import ConfigurationError, DocumentsUnavailable, InvalidInput
from demo.population import Population
from demo.servers import ServerThread
from store.engine import make_engine, make_sessionmaker
from store.held_tables import DocumentFile
from tests.gateway import events, seed_links
from tests.test_documents import City, png

HOUR = 3600.0
BUCKETS: dict[str, dict[str, tuple[bytes, float]]] = {}


class MemoryBlobStore:
    """A blob store that is no directory (as a bucket would not be): bytes by digest, given back as an async
    iterator of small chunks."""

    def __init__(self, bucket: dict[str, tuple[bytes, float]]) -> None:
        self.bucket = bucket

    def put(self, received: Received) -> bool:
        if received.sha256 in self.bucket:
            return False
        self.bucket[received.sha256] = (received.path.read_bytes(), time.time())
        return True

    def exists(self, sha256: str) -> bool:
        return sha256 in self.bucket

    def open(self, sha256: str) -> AsyncIterator[bytes] | None:
        return self._chunks(self.bucket[sha256][0]) if sha256 in self.bucket else None

    async def _chunks(self, data: bytes) -> AsyncIterator[bytes]:
        for at in range(0, len(data), 1000):
            yield data[at:at + 1000]

    def delete(self, sha256: str) -> None:
        self.bucket.pop(sha256, None)

    def digests(self) -> dict[str, float]:
        return {sha: at for sha, (_, at) in self.bucket.items()}

    def remove_leftovers(self, older_than: float) -> int:
        return 0


def memory_store(settings: DocumentSettings) -> MemoryBlobStore:
    """The factory CASEBRIDGE_DOCUMENTS__BLOB_STORE names: one bucket per test (by its blob_dir)."""
    return MemoryBlobStore(BUCKETS.setdefault(str(settings.blob_dir), {}))


def not_a_store(settings: DocumentSettings) -> object:
    return object()


MEMORY = f"{__name__}:memory_store"


@pytest.fixture
async def city(request: pytest.FixtureRequest, database_url: str, benefits_server: ServerThread,
               edfi_server: ServerThread, population: Population, settings_factory: Any,
               tmp_path: Path) -> AsyncIterator[City]:
    marked = request.node.get_closest_marker("documents")
    await seed_links(database_url, population)
    blobs = tmp_path / "blobs"
    settings = settings_factory(database_url=database_url, benefits_url=benefits_server.url,
                                schooling_url=edfi_server.url, benefits_timeout=1.0,
                                documents={"blob_dir": blobs, "max_bytes": 100_000,
                                           **(marked.kwargs if marked else {})})
    with ServerThread(create_app(settings)) as server:
        yield City(settings, server, blobs, database_url)
    BUCKETS.pop(str(blobs), None)


def _sheltered(population: Population) -> str:
    return next(p.client_id for p in population.people if p.hmis_id)


def _cli(monkeypatch: pytest.MonkeyPatch, city: City, *args: str, store: str | None = None) -> Any:
    from cli.main import app

    monkeypatch.setenv("CASEBRIDGE_DATABASE_URL", city.database_url)
    monkeypatch.setenv("CASEBRIDGE_DOCUMENTS__BLOB_DIR", str(city.blobs))
    monkeypatch.setenv("CASEBRIDGE_AUDIT__SIGNING_KEY_FILE", str(city.settings.audit.key_path))
    if store is not None:
        monkeypatch.setenv("CASEBRIDGE_DOCUMENTS__BLOB_STORE", store)
    return CliRunner().invoke(app, ["documents", *args])


@pytest.mark.documents(blob_store=MEMORY)
async def test_a_blob_store_named_in_the_settings_keeps_the_bytes_serves_the_download_and_is_purged_by_the_cli(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    content = png(5000)
    sent = await city.send(dhs, cid, "PHOTO_ID", content)
    assert sent.status_code == 201, sent.text
    bucket = BUCKETS[str(city.blobs)]
    assert {sha: data for sha, (data, _) in bucket.items()} == {sha256(content).hexdigest(): content}
    assert city.kept() == []  # nothing in the local directory, not even the file as it was received

    got = await city.fetch(dhs, sent.json()["file"]["id"])
    assert got.status_code == 200 and got.content == content
    assert got.headers["content-type"] == "image/png" and got.headers["content-length"] == "5000"
    assert got.headers["x-content-type-options"] == "nosniff" and got.headers["cache-control"] == "no-store"
    assert got.headers["content-disposition"].startswith("attachment; filename=\"photo_id-")
    assert "sandbox" in got.headers["content-security-policy"]

    # retention from the command line, which builds its store from the same setting
    await city.change(update(DocumentFile).values(retain_until=datetime.now(UTC) - timedelta(days=1)))
    result = await asyncio.to_thread(_cli, monkeypatch, city, "purge", "--operator", "records-officer", store=MEMORY)
    assert result.exit_code == 0, result.output
    assert bucket == {}
    result = await asyncio.to_thread(_cli, monkeypatch, city, "sweep", store=MEMORY)
    assert result.exit_code == 0, result.output


async def test_a_damaged_or_missing_blob_is_a_clear_error_and_none_of_its_bytes_are_served(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    content = png(3000)
    file_id = (await city.send(dhs, cid, "PHOTO_ID", content)).json()["file"]["id"]
    (blob,) = [p for p in city.kept() if p.name == sha256(content).hexdigest()]
    damaged = png(3000)  # the same size, other bytes: a disk that rotted, or a store that was tampered with
    blob.write_bytes(damaged)
    got = await city.fetch(dhs, file_id)
    assert got.status_code == 503 and got.headers["content-type"] == "application/json"
    error = got.json()["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("DOCUMENTS_UNAVAILABLE", "content_mismatch")
    assert "damaged" in error["message"] and damaged[8:64] not in got.content and content[8:64] not in got.content

    blob.unlink()
    got = await city.fetch(dhs, file_id)
    assert got.status_code == 503 and got.json()["errors"][0]["extensions"]["reason"] == "content_missing"
    # nothing was served, so the access log says no download happened
    assert not [e for e in await events(city.database_url)
                if (e.action, e.outcome) == ("document.download", "performed")]
    # the same file whole again: served
    blob.write_bytes(content)
    assert (await city.fetch(dhs, file_id)).content == content


async def test_the_client_and_the_document_kind_travel_in_headers_and_the_query_string_form_is_refused(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    async with httpx.AsyncClient(base_url=city.server.url, timeout=30) as http:
        old = await http.post("/documents", params={"clientId": cid, "document": "IMMIGRATION_DOCUMENTS"},
                              content=png(), headers=dhs.headers)
        both = await http.post("/documents", params={"clientId": cid}, content=png(), headers={
            **dhs.headers, "X-Casebridge-Client-Id": cid, "X-Casebridge-Document": "PHOTO_ID"})
        bare = await http.post("/documents", content=png(), headers={**dhs.headers,
                                                                      "X-Casebridge-Document": "PHOTO_ID"})
    for refused in (old, both):
        assert refused.status_code == 400, refused.text
        error = refused.json()["errors"][0]
        assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("BAD_USER_INPUT", "query_string")
        # an old caller learns where the values go now; what it sent is not repeated back
        assert "X-Casebridge-Client-Id" in error["message"] and "X-Casebridge-Document" in error["message"]
        assert cid not in refused.text and "IMMIGRATION" not in refused.text
    assert bare.status_code == 400 and bare.json()["errors"][0]["extensions"]["field"] == "X-Casebridge-Client-Id"
    assert await city.rows(DocumentFile) == [] and city.kept() == []

    sent = await city.send(dhs, cid, "IMMIGRATION_DOCUMENTS", b"%PDF-1.7\n" + os.urandom(900))  # the headers
    assert sent.status_code == 201, sent.text
    assert sent.json()["file"]["document"] == "IMMIGRATION_DOCUMENTS"


@pytest.mark.documents(read_timeout_seconds=0.2)
async def test_a_sender_that_stalls_mid_file_is_refused_and_nothing_is_kept(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")

    async def stalls() -> AsyncIterator[bytes]:
        yield png(2000)
        await asyncio.sleep(1.0)  # five times the read timeout
        yield os.urandom(2000)

    got = await city.send(dhs, cid, "PHOTO_ID", stalls())  # type: ignore[arg-type]  # a stream
    assert got.status_code == 400 and got.json()["errors"][0]["extensions"]["reason"] == "stalled", got.text
    assert await city.rows(DocumentFile) == [] and city.kept() == []
    assert (await city.send(dhs, cid, "PHOTO_ID", png())).status_code == 201  # a steady sender is fine


async def test_receiving_a_body_that_stops_arriving_is_refused_within_the_timeout(tmp_path: Path) -> None:
    async def stalls() -> AsyncIterator[bytes]:
        yield png(1000)
        await asyncio.sleep(30)

    started = time.monotonic()
    with pytest.raises(InvalidInput) as refused:
        await receive(stalls(), into=tmp_path, limit=100_000, idle_seconds=0.2)
    assert refused.value.details["reason"] == "stalled" and time.monotonic() - started < 5
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


@pytest.mark.parametrize("failing", ["link", "fsync", "replace"])
def test_a_blob_that_cannot_be_written_leaves_no_half_written_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str,
) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    incoming = tmp_path / "blobs" / "incoming"
    incoming.mkdir(parents=True)
    data = png(3000)
    (incoming / ".incoming-1").write_bytes(data)
    received = Received(incoming / ".incoming-1", sha256(data).hexdigest(), len(data), "image/png")

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, full_disk)
    with pytest.raises(OSError):
        store.put(received)
    monkeypatch.undo()
    assert [p for p in store.root.rglob("*") if p.is_file()] == [received.path]  # only the file being sent
    assert not store.exists(received.sha256) and store.digests() == {}
    assert store.put(received) is True and store.exists(received.sha256)


async def test_the_sweep_removes_stale_half_written_and_abandoned_files_and_leaves_fresh_ones(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    content = png(2000)
    assert (await city.send(dhs, cid, "PHOTO_ID", content)).status_code == 201
    kept = sha256(content).hexdigest()
    two_hours_ago = time.time() - 2 * HOUR

    def leftover(path: Path, *, stale: bool) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png(500))
        if stale:
            os.utime(path, (two_hours_ago, two_hours_ago))
        return path

    orphan = "ab" * 32
    stale = [leftover(city.blobs / "ab" / "ab" / orphan, stale=True),  # bytes of an upload whose record failed
             leftover(city.blobs / "cd" / "ef" / f".{'cdef' * 16}.{uuid.uuid4().hex}", stale=True),  # a killed put
             leftover(city.blobs / "incoming" / ".incoming-0a1b", stale=True)]  # a killed upload
    fresh = [leftover(city.blobs / "ab" / "cd" / ("abcd" * 16), stale=False),  # an upload under way
             leftover(city.blobs / "cd" / "ef" / f".{'cdef' * 16}.{uuid.uuid4().hex}", stale=False),
             leftover(city.blobs / "incoming" / ".incoming-2c3d", stale=False)]

    result = await asyncio.to_thread(_cli, monkeypatch, city, "sweep")
    assert result.exit_code == 0, result.output
    assert [p for p in stale if p.exists()] == []
    assert all(p.exists() for p in fresh)
    assert kept in {p.name for p in city.kept()}


async def test_retention_purges_every_expired_file_a_batch_per_transaction(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    for _ in range(5):
        assert (await city.send(dhs, cid, "PHOTO_ID", png())).status_code == 201
    await city.change(update(DocumentFile).values(retain_until=datetime.now(UTC) - timedelta(days=1)))
    store, batches = LocalBlobStore(city.blobs), []

    async def record(session: Any, by_client: dict[str, int]) -> None:
        batches.append(sum(by_client.values()))

    async def delete(sha: str) -> None:
        store.delete(sha)

    engine = make_engine(city.database_url)
    try:
        done = await purge_expired(make_sessionmaker(engine), delete, record, now=datetime.now(UTC), batch=2)
    finally:
        await engine.dispose()
    assert batches == [2, 2, 1] and (done.files, done.blobs, done.by_client) == (5, 5, {cid: 5})
    assert store.digests() == {} and all(row.purged_at is not None for row in await city.rows(DocumentFile))


SLOW_SCANNER = """import sys, time
with open(sys.argv[1], "a") as log:
    log.write("start\\n")
sys.stdin.buffer.read()
time.sleep(0.3)
with open(sys.argv[1], "a") as log:
    log.write("end\\n")
"""


async def test_scans_run_at_most_the_configured_number_at_once_and_a_file_waits_its_turn_no_longer_than_its_timeout(
    tmp_path: Path,
) -> None:
    scanner, log, file = tmp_path / "scanner.py", tmp_path / "scans.log", tmp_path / "file"
    scanner.write_text(SLOW_SCANNER)
    file.write_bytes(png())
    command = [sys.executable, str(scanner), str(log)]
    limit_scans(1)
    try:
        assert await asyncio.gather(*(scan(command, file, seconds=10) for _ in range(3))) == ["clean"] * 3
        assert log.read_text().split() == ["start", "end"] * 3  # one after another, never two at once
        first = asyncio.create_task(scan(command, file, seconds=10))
        await asyncio.sleep(0.05)
        with pytest.raises(DocumentsUnavailable) as busy:
            await scan(command, file, seconds=0.1)
        assert busy.value.details["reason"] == "scans_busy"
        assert await first == "clean"
    finally:
        limit_scans(DocumentSettings().max_concurrent_scans)


def test_a_blob_store_setting_that_names_no_usable_store_is_refused_at_start_up(
    tmp_path: Path, settings_factory: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for bad in ("s3", f"{__name__}", "no_such_module_anywhere:make", f"{__name__}:NOT_THERE", "os:sep"):
        with pytest.raises(ValidationError, match="blob_store"):
            DocumentSettings(blob_store=bad)
    assert isinstance(make_blob_store(DocumentSettings(blob_store=MEMORY, blob_dir=tmp_path)), MemoryBlobStore)
    with pytest.raises(ConfigurationError, match="not a blob store"):
        make_blob_store(DocumentSettings(blob_store=f"{__name__}:not_a_store"))
    with pytest.raises(ConfigurationError, match="not a blob store"):
        create_app(settings_factory(documents={"blob_dir": tmp_path, "blob_store": f"{__name__}:not_a_store"}))

    from cli.main import app

    monkeypatch.setenv("CASEBRIDGE_DOCUMENTS__BLOB_DIR", str(tmp_path))
    for bad, says in ((f"{__name__}:not_a_store", "not a blob store"), ("no_such_module_anywhere:make", "blob_store")):
        monkeypatch.setenv("CASEBRIDGE_DOCUMENTS__BLOB_STORE", bad)
        result = CliRunner().invoke(app, ["documents", "sweep"])
        assert result.exit_code == 2 and says in " ".join(result.output.split()), result.output
