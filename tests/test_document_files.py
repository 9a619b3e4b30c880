"""The bytes of documents sent against checklists (issue 20 §4, review items 5, 6, 9, 14, 16): a blob store is
chosen by one setting for the gateway and the CLI alike, and what it keeps is served only once checked against
its digest; a write that fails, or a process that dies, leaves nothing of the client's file behind that the sweep
does not remove; a sender that stalls is refused; scans run a bounded number at once; the client and the
document kind travel in headers, never in the address; retention purges in batches. Second review (M2, L2-L4,
the download's transaction): bytes shared by content are never removed under a record that keeps them, whatever
a purge, a failed upload or the sweep does at the same moment; a sender that drips is cut off at a total deadline;
refusals before the desk reads the body are in the access log; a download reads the store outside any transaction
and is logged before a byte is served. On SQLite and PostgreSQL where a store is involved.

Interleavings are driven by a blob store whose calls wait for the test (PausingStore: threading events, since the
gateway runs in a thread of its own), each wait bounded."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
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
from sqlalchemy import text, update
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
from connectors.held_document_files import purge_expired
from core.errors import ConfigurationError, DocumentsUnavailable, InvalidInput
from demo.population import Population
from demo.servers import ServerThread
from store.engine import is_sqlite, make_engine, make_sessionmaker
from store.held_tables import DocumentFile
from tests.gateway import GraphQLClient, break_access_log, events
from tests.test_documents import CONSENT, City, _sheltered, open_city, png

HOUR = 3600.0
BUCKETS: dict[str, dict[str, tuple[bytes, float]]] = {}


class MemoryBlobStore:
    """A blob store that is no directory (as a bucket would not be): bytes by digest, given back as an async
    iterator of small chunks."""

    def __init__(self, bucket: dict[str, tuple[bytes, float]]) -> None:
        self.bucket = bucket

    def put(self, received: Received) -> bool:
        if received.sha256 in self.bucket:  # used again: young again for the sweep
            self.bucket[received.sha256] = (self.bucket[received.sha256][0], time.time())
            return False
        self.bucket[received.sha256] = (received.path.read_bytes(), time.time())
        return True

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
WAIT = 20.0  # the longest a paused call or the test waits for the other side: a bug fails, never hangs


class Hold:
    """A point in a blob store call where it waits for the test: `reached` once a call got there, which goes on
    once `go` is set."""

    def __init__(self) -> None:
        self.reached, self.go = threading.Event(), threading.Event()

    def wait_here(self) -> None:
        self.reached.set()
        if not self.go.wait(WAIT):
            raise RuntimeError("the test never let this call go on")

    async def until_reached(self) -> None:
        assert await asyncio.to_thread(self.reached.wait, WAIT), "no call reached the hold"


class PausingStore(LocalBlobStore):
    """The local store, where the next call of a method the test holds waits for it: "put" once the bytes are
    put, "open" before the bytes are read, "digests" before the listing and "digests-listed" after it."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.holds: dict[str, Hold] = {}

    def hold(self, where: str) -> Hold:
        hold = self.holds[where] = Hold()
        return hold

    def exists(self, sha256: str) -> bool:
        """Whether bytes are kept under `sha256` (the test's question: no part of the BlobStore seam)."""
        return self._path(sha256).exists()

    def _pause(self, where: str) -> None:
        hold = self.holds.pop(where, None)
        if hold is not None:
            hold.wait_here()

    def put(self, received: Received) -> bool:
        created = super().put(received)
        self._pause("put")
        return created

    def open(self, sha256: str) -> Any:
        self._pause("open")
        return super().open(sha256)

    def digests(self) -> dict[str, float]:
        self._pause("digests")
        found = super().digests()
        self._pause("digests-listed")
        return found


STORES: dict[str, PausingStore] = {}


def pausing_store(settings: DocumentSettings) -> PausingStore:
    """The factory CASEBRIDGE_DOCUMENTS__BLOB_STORE names: one store per test (by its blob_dir), the gateway's and
    the CLI's alike."""
    return STORES.setdefault(str(settings.blob_dir), PausingStore(settings.blob_dir))


PAUSING = f"{__name__}:pausing_store"


@pytest.fixture
async def city(request: pytest.FixtureRequest, database_url: str, benefits_server: ServerThread,
               edfi_server: ServerThread, population: Population, settings_factory: Any,
               tmp_path: Path) -> AsyncIterator[City]:
    marked = request.node.get_closest_marker("documents")
    async with open_city(database_url, benefits_server, edfi_server, population, settings_factory, tmp_path,
                         **(marked.kwargs if marked else {})) as opened:
        yield opened
    BUCKETS.pop(str(opened.blobs), None)
    stuck = STORES.pop(str(opened.blobs), None)
    for hold in (stuck.holds.values() if stuck else ()):
        hold.go.set()


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
    store = PausingStore(tmp_path / "blobs")  # the local store (no call held) that can say whether it keeps bytes
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

    engine = make_engine(city.database_url)
    try:
        done = await purge_expired(make_sessionmaker(engine), store, record, now=datetime.now(UTC), batch=2)
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


def _expired(city: City) -> Any:
    return city.change(update(DocumentFile).values(retain_until=datetime.now(UTC) - timedelta(days=1)))


async def _purge(city: City) -> int:
    """Retention run as `casebridge documents purge` runs it (the local store's delete): how many blobs it removed."""
    store = LocalBlobStore(city.blobs)

    async def record(session: Any, by_client: dict[str, int]) -> None:
        pass

    engine = make_engine(city.database_url)
    try:
        return (await purge_expired(make_sessionmaker(engine), store, record, now=datetime.now(UTC))).blobs
    finally:
        await engine.dispose()


@pytest.mark.documents(blob_store=PAUSING)
async def test_an_upload_of_the_same_bytes_as_a_file_being_purged_keeps_them_for_its_own_record(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    content = png(3000)
    digest = sha256(content).hexdigest()
    assert (await city.send(dhs, cid, "PHOTO_ID", content)).status_code == 201
    await _expired(city)
    store = STORES[str(city.blobs)]

    # the same bytes sent again: paused once they are put (the blob was there: used again), not yet recorded
    put = store.hold("put")
    upload = asyncio.create_task(city.send(dhs, cid, "PHOTO_ID", content))
    await put.until_reached()
    # retention purges the old file: no kept file uses the bytes, so they are removed
    assert await _purge(city) == 1 and not store.exists(digest)
    put.go.set()
    sent = await upload
    assert sent.status_code == 201, sent.text
    # the new file's record came with its bytes
    assert store.exists(digest)
    got = await city.fetch(dhs, sent.json()["file"]["id"])
    assert got.status_code == 200 and got.content == content

    # and again with the upload let go while the purge holds the digest, between its check and its removal: the
    # upload's record waits for the removal, then puts the bytes back before it commits
    await _expired(city)
    put = store.hold("put")
    upload = asyncio.create_task(city.send(dhs, cid, "PHOTO_ID", content))
    await put.until_reached()
    class Releasing(LocalBlobStore):
        """The purge's store, which lets the upload go on as it removes the bytes."""

        def delete(self, sha256: str) -> None:
            put.go.set()
            super().delete(sha256)

    async def record(session: Any, by_client: dict[str, int]) -> None:
        pass

    engine = make_engine(city.database_url)
    try:
        done = await purge_expired(make_sessionmaker(engine), Releasing(city.blobs), record, now=datetime.now(UTC))
    finally:
        await engine.dispose()
    assert done.blobs == 1
    sent = await upload
    assert sent.status_code == 201, sent.text
    got = await city.fetch(dhs, sent.json()["file"]["id"])
    assert got.status_code == 200 and got.content == content
    kept = [row for row in await city.rows(DocumentFile) if row.purged_at is None]
    assert [row.id for row in kept] == [sent.json()["file"]["id"]] and store.exists(digest)


@pytest.mark.parametrize("listed", ["before", "after"])
async def test_the_sweep_leaves_an_old_blob_that_a_fresh_upload_has_just_used_again(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch, listed: str,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    content = png(2500)
    digest = sha256(content).hexdigest()
    # two hours ago an upload of these bytes failed after putting them: a blob no record keeps
    blob = city.blobs / digest[:2] / digest[2:4] / digest
    blob.parent.mkdir(parents=True)
    blob.write_bytes(content)
    os.utime(blob, (time.time() - 2 * HOUR, time.time() - 2 * HOUR))
    store = pausing_store(city.settings.documents)  # the CLI's store (the gateway keeps its own local one)

    # the sweep has read which digests records keep (not this one) and listed the blobs (before or after the
    # upload); the same bytes are sent now, and recorded
    hold = store.hold("digests-listed" if listed == "before" else "digests")
    sweep = asyncio.create_task(asyncio.to_thread(_cli, monkeypatch, city, "sweep", store=PAUSING))
    await hold.until_reached()
    sent = await city.send(dhs, cid, "PHOTO_ID", content)
    assert sent.status_code == 201, sent.text
    hold.go.set()
    result = await sweep
    assert result.exit_code == 0, result.output
    assert "0 blob(s) no record refers to removed" in " ".join(result.output.split())
    got = await city.fetch(dhs, sent.json()["file"]["id"])
    assert got.status_code == 200 and got.content == content


@pytest.mark.documents(read_timeout_seconds=0.3, upload_timeout_seconds=0.5)
async def test_a_sender_that_drips_the_file_is_cut_off_at_the_total_deadline_and_nothing_is_kept(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")

    async def drips() -> AsyncIterator[bytes]:
        yield png(1000)
        for _ in range(12):  # a little every 0.1 s, never idle for the read timeout, for 1.2 s in all
            await asyncio.sleep(0.1)
            yield os.urandom(100)

    started = time.monotonic()
    got = await city.send(dhs, cid, "PHOTO_ID", drips())  # type: ignore[arg-type]  # a stream
    assert time.monotonic() - started < 10
    assert got.status_code == 400, got.text
    error = got.json()["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["reason"]) == ("BAD_USER_INPUT", "too_slow")
    assert "0.5 seconds" in error["message"]
    assert await city.rows(DocumentFile) == [] and city.kept() == []
    assert [e.detail for e in await events(city.database_url)
            if (e.action, e.outcome) == ("document.upload", "failed")] == ["document file refused (PHOTO_ID): too_slow"]


async def test_receiving_tells_a_file_that_stopped_from_one_that_takes_too_long(tmp_path: Path) -> None:
    async def drips() -> AsyncIterator[bytes]:
        yield png(1000)
        while True:
            await asyncio.sleep(0.05)
            yield b"x"

    async def stops() -> AsyncIterator[bytes]:
        yield png(1000)
        await asyncio.sleep(30)
        yield b"x"

    for chunks, idle, total, reason in ((drips(), 0.2, 0.4, "too_slow"), (stops(), 0.2, 5.0, "stalled")):
        started = time.monotonic()
        with pytest.raises(InvalidInput) as refused:
            await receive(chunks, into=tmp_path, limit=100_000, idle_seconds=idle, total_seconds=total)
        assert refused.value.details["reason"] == reason and time.monotonic() - started < 4
    assert await asyncio.to_thread(lambda: list(tmp_path.iterdir())) == []


async def test_a_declared_length_over_the_limit_and_a_query_string_are_in_the_access_log_as_failed_uploads(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    too_large = await city.send(dhs, cid, "PHOTO_ID", png(100_001))  # Content-Length: 100001
    assert too_large.status_code == 413 and too_large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    async with httpx.AsyncClient(base_url=city.server.url, timeout=30) as http:
        old = await http.post("/documents", params={"clientId": cid, "document": "IMMIGRATION_DOCUMENTS"},
                              content=png(), headers=dhs.headers)
    assert old.status_code == 400 and old.json()["errors"][0]["extensions"]["reason"] == "query_string"
    # no caller: nothing to log against; a caller the gate refuses: refused, not a failed upload
    assert (await city.send(GraphQLClient(city.server.url, None), cid, "PHOTO_ID", png(100_001))).status_code == 401
    stranger = await city.send(city.as_("DOE", "partner"), cid, "PHOTO_ID", png(100_001))
    assert stranger.status_code == 403

    uploads = [e for e in await events(city.database_url) if e.action == "document.upload"]
    failed = [(e.client_id, e.detail, e.subject) for e in uploads if e.outcome == "failed"]
    # the too large one as any refusal after the gate allowed it (the kind's code and the reason); the query
    # string's with no client and no kind: what it held is not repeated
    assert failed == [(cid, "document file refused (PHOTO_ID): payload_too_large", "tester"),
                      (None, "document file refused: query_string", "tester")]
    assert [e.outcome for e in uploads if e.organization == "DOE"] == ["refused"]
    assert not any(cid in (e.detail or "") or "IMMIGRATION" in (e.detail or "") for e in uploads)
    assert await city.rows(DocumentFile) == [] and city.kept() == []


async def _waiting_in_a_transaction(database_url: str) -> int:
    """PostgreSQL sessions left in a transaction after reading document files (a download holding one)."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND query ILIKE '%document_files%'"))).scalar_one())
    finally:
        await engine.dispose()


@pytest.mark.documents(blob_store=PAUSING)
async def test_a_download_reads_the_store_outside_any_transaction_and_is_logged_before_a_byte_is_served(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    content = png(4000)
    file_id = (await city.send(dhs, cid, "PHOTO_ID", content)).json()["file"]["id"]
    store = STORES[str(city.blobs)]

    def downloaded(logged: list[Any]) -> list[str | None]:
        return [e.detail for e in logged if (e.action, e.outcome) == ("document.download", "performed")]

    read = store.hold("open")
    fetch = asyncio.create_task(city.fetch(dhs, file_id))
    await read.until_reached()  # decided, and reading the store (which could be a slow remote one)
    if not is_sqlite(city.database_url):
        assert await _waiting_in_a_transaction(city.database_url) == 0
    assert downloaded(await events(city.database_url)) == []  # not yet: nothing is checked, nothing served
    read.go.set()
    got = await fetch
    assert got.status_code == 200 and got.content == content
    assert downloaded(await events(city.database_url)) == [f"document file {file_id} downloaded"]

    # a damaged blob: a failed download in the log, never a downloaded one
    (blob,) = [p for p in city.kept() if p.name == sha256(content).hexdigest()]
    blob.write_bytes(png(4000))
    assert (await city.fetch(dhs, file_id)).status_code == 503
    logged = await events(city.database_url)
    assert downloaded(logged) == [f"document file {file_id} downloaded"]
    assert [e.detail for e in logged if (e.action, e.outcome) == ("document.download", "failed")] == [
        f"document file {file_id} not served: content_mismatch"]

    # the access log cannot be written: the checked copy is not served
    blob.write_bytes(content)
    await break_access_log(city.database_url)
    got = await city.fetch(dhs, file_id)
    assert got.status_code == 503 and got.json()["errors"][0]["extensions"]["code"] == "AUDIT_UNAVAILABLE"
    assert content[8:64] not in got.content


REVOKE = 'mutation($id: ID!) { revokeConsent(id: $id, reason: "the client asked") { id } }'


async def _own_file_shown_to_dhs(city: City, population: Population, size: int
                                 ) -> tuple[GraphQLClient, GraphQLClient, bytes, str, str]:
    """The sheltered client sends a photo ID of `size` bytes and lets DHS see their documents: the client, DHS,
    the content, the file's id and the consent's id."""
    cid = _sheltered(population)
    me, dhs = city.client(cid), city.as_("DHS")
    content = png(size)
    file_id = (await city.send(me, cid, "PHOTO_ID", content)).json()["file"]["id"]  # the client's own file
    given = await me.query(CONSENT, {"input": {
        "clientId": cid, "sourceReference": "CLIENT-APP", "givenAt": datetime.now(UTC).isoformat(),
        "provisions": [{"organizations": ["DHS"], "categories": ["DOCUMENTS"], "purposes": ["CASE_MANAGEMENT"]}]}})
    return me, dhs, content, file_id, given["data"]["recordConsent"]["id"]


@pytest.mark.documents(blob_store=PAUSING)
async def test_a_consent_revoked_while_the_copy_is_read_stops_the_download_before_a_byte(
    city: City, population: Population,
) -> None:
    me, dhs, content, file_id, consent_id = await _own_file_shown_to_dhs(city, population, 4000)
    store = STORES[str(city.blobs)]

    read = store.hold("open")
    fetch = asyncio.create_task(city.fetch(dhs, file_id))
    await read.until_reached()  # allowed by the consent, and reading the store
    revoked = await me.query(REVOKE, {"id": consent_id})
    assert "errors" not in revoked, revoked
    read.go.set()
    got = await fetch
    assert got.status_code == 404 and content[8:64] not in got.content
    assert got.json()["errors"][0]["extensions"]["code"] == "RECORD_NOT_FOUND"
    logged = [e for e in await events(city.database_url) if e.action == "document.download"]
    assert [e.outcome for e in logged] == ["refused"]  # the refusal, never a download
    assert not list((city.blobs / "incoming").glob("*"))  # the copy did not outlive the refusal


@pytest.mark.documents(blob_store=PAUSING)
async def test_a_file_purged_while_its_copy_is_read_is_a_purged_download_not_missing_content(
    city: City, population: Population,
) -> None:
    cid, dhs = _sheltered(population), city.as_("DHS")
    file_id = (await city.send(dhs, cid, "PHOTO_ID", png(4000))).json()["file"]["id"]
    await _expired(city)
    store = STORES[str(city.blobs)]
    read = store.hold("open")
    fetch = asyncio.create_task(city.fetch(dhs, file_id))
    await read.until_reached()  # allowed, not purged yet, and about to read the store
    assert await _purge(city) == 1  # the retention run: the file marked purged and its blob removed
    read.go.set()
    got = await fetch
    assert got.status_code == 404 and got.json()["errors"][0]["extensions"]["reason"] == "purged"
    assert [(e.outcome, e.detail) for e in await events(city.database_url) if e.action == "document.download"] == [
        ("failed", f"document file {file_id} not served: purged")]


class GatedStore(LocalBlobStore):
    """The local store, where every read waits until the test lets reads go on (bounded): downloads that stay under
    way as long as the test wants, as slow ones would. `opened` counts the reads that reached the store."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.go, self.lock, self.opened = threading.Event(), threading.Lock(), 0

    def open(self, sha256: str) -> Any:
        with self.lock:
            self.opened += 1
        if not self.go.wait(WAIT):
            raise RuntimeError("the test never let the reads go on")
        return super().open(sha256)

    async def until_opened(self, n: int) -> None:
        deadline = time.monotonic() + WAIT
        while self.opened < n:
            assert time.monotonic() < deadline, f"{self.opened} reads reached the store, not {n}"
            await asyncio.sleep(0.02)


GATED_STORES: dict[str, GatedStore] = {}


def gated_store(settings: DocumentSettings) -> GatedStore:
    return GATED_STORES.setdefault(str(settings.blob_dir), GatedStore(settings.blob_dir))


def _not_served(logged: list[Any]) -> list[tuple[str | None, str | None]]:
    return [(e.subject, e.detail) for e in logged if (e.action, e.outcome) == ("document.download", "failed")]


@pytest.mark.documents(blob_store=f"{__name__}:gated_store", max_concurrent_downloads=3, max_downloads_per_caller=2,
                       download_wait_seconds=0.5)
async def test_downloads_under_way_are_capped_per_caller_and_per_process_and_a_refused_one_is_logged(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    alice, bob, carol = (city.as_("DHS", sub=who) for who in ("alice", "bob", "carol"))
    content = png(5000)
    file_id = (await city.send(alice, cid, "PHOTO_ID", content)).json()["file"]["id"]
    store = GATED_STORES[str(city.blobs)]
    slow: list[asyncio.Task[httpx.Response]] = []
    try:
        # one caller's two downloads under way (each holding a copy of the file on the local disk): a third waits
        # its turn briefly, then is refused - nothing of the file is sent
        slow += [asyncio.create_task(city.fetch(alice, file_id)) for _ in range(2)]
        await store.until_opened(2)
        third = await city.fetch(alice, file_id)
        assert third.status_code == 503 and content[8:64] not in third.content
        error = third.json()["errors"][0]
        assert (error["extensions"]["code"], error["extensions"]["reason"]) == (
            "DOCUMENTS_UNAVAILABLE", "too_many_downloads")
        assert store.opened == 2  # refused before the store was read
        # another caller takes the process's last slot; a third caller then finds none
        slow.append(asyncio.create_task(city.fetch(bob, file_id)))
        await store.until_opened(3)
        busy = await city.fetch(carol, file_id)
        assert busy.status_code == 503 and busy.json()["errors"][0]["extensions"]["reason"] == "busy"
        assert store.opened == 3
    finally:
        store.go.set()
        done = await asyncio.gather(*slow)
        GATED_STORES.pop(str(city.blobs), None)
    assert [(r.status_code, r.content) for r in done] == [(200, content)] * 3
    # every slot is given back once its copy is sent: the callers refused before are served now
    assert (await city.fetch(alice, file_id)).content == content
    assert (await city.fetch(carol, file_id)).content == content
    assert _not_served(await events(city.database_url)) == [
        ("alice", f"document file {file_id} not served: too_many_downloads"),
        ("carol", f"document file {file_id} not served: busy")]
    assert not list((city.blobs / "incoming").glob("*"))  # no copy outlives its download


def test_the_download_caps_are_settings_with_sensible_bounds() -> None:
    defaults = DocumentSettings()
    assert (defaults.max_concurrent_downloads, defaults.max_downloads_per_caller, defaults.download_wait_seconds) == (
        8, 2, 5.0)
    for wrong in ({"max_concurrent_downloads": 0}, {"max_downloads_per_caller": 0}, {"download_wait_seconds": 0}):
        with pytest.raises(ValidationError):
            DocumentSettings(**wrong)  # type: ignore[arg-type]


async def test_a_download_logs_the_consent_that_allowed_it_and_a_purged_file_is_a_failed_download(
    city: City, population: Population,
) -> None:
    cid = _sheltered(population)
    _, dhs, content, file_id, consent_id = await _own_file_shown_to_dhs(city, population, 3000)
    assert (await city.fetch(dhs, file_id)).content == content

    def downloads(logged: list[Any], outcome: str) -> list[Any]:
        return [e for e in logged if (e.action, e.outcome) == ("document.download", outcome)]

    (downloaded,) = downloads(await events(city.database_url), "performed")
    # an auditor sees what allowed DHS the client's own file: the client's consent, by its id
    (decision,) = downloaded.decisions
    assert (decision["category"], decision["holder"], decision["decision"], decision["basis"],
            decision["consent_id"], decision["outcome"]) == (
        "documents", "CLIENT", "permit", "consent", consent_id, "disclosed")
    assert decision["rule_ids"] == ["consent-permits-grantee"]

    # the retention period ended: the caller is told, and the log says a download was tried and not served
    await city.change(update(DocumentFile).values(purged_at=datetime.now(UTC)))
    gone = await city.fetch(dhs, file_id)
    assert gone.status_code == 404 and gone.json()["errors"][0]["extensions"]["reason"] == "purged"
    (failed,) = downloads(await events(city.database_url), "failed")
    assert failed.detail == f"document file {file_id} not served: purged" and failed.client_id == cid
    assert [(d["consent_id"], d["outcome"]) for d in failed.decisions] == [(consent_id, "failed")]


async def test_a_download_nobody_reads_is_cut_off_at_its_deadline_and_gives_back_its_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A caller that opens a download and never reads it (its window shut, never hanging up) would hold one of the
    few download slots for good: the response is cut off at its deadline and the slot is free again."""
    import io

    from api import documents as routes
    from checklists.downloads import DownloadSlots, HeldCopy

    monkeypatch.setattr(routes, "MIN_SEND_SECONDS", 0.2)
    slots = DownloadSlots(total=1, per_caller=1)
    copy = HeldCopy(io.BytesIO(b"%PDF-1.7 " + b"x" * 5000), await slots.take("stuck", seconds=1.0))
    response = routes.CheckedCopy(copy, size=5009, media_type="application/pdf", filename="proof.pdf")
    never = asyncio.Event()

    async def send(message: Any) -> None:
        if message["type"] == "http.response.body":
            await never.wait()  # the caller reads nothing

    async def receive() -> Any:
        await never.wait()
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/documents/x", "headers": [], "asgi": {"version": "3.0"}}
    await asyncio.wait_for(response(scope, receive, send), timeout=10)
    assert copy.closed
    again = await slots.take("someone else", seconds=0.5)  # the only slot is free again
    again.release()


async def test_the_sweep_removes_upload_attempts_older_than_a_day_and_keeps_the_days_own(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Uploads remove old attempts as they count theirs; once uploads stop, the sweep does - a batch at a time,
    every one of them - so rows naming a sender and a client are not kept for good."""
    from sqlalchemy import insert

    from store.held_tables import DocumentAttempt

    cid, now = _sheltered(population), datetime.now(UTC)
    old = [{"sender": f"worker-{i % 3}", "client_id": cid, "at": now - timedelta(days=1, hours=1 + i % 5)}
           for i in range(503)]  # more than one batch of them
    fresh = [{"sender": "worker-0", "client_id": cid, "at": now - timedelta(hours=2)}]
    await city.change(insert(DocumentAttempt).values(old + fresh))

    result = await asyncio.to_thread(_cli, monkeypatch, city, "sweep")
    assert result.exit_code == 0, result.output
    assert "503 upload attempt(s) older than a day removed" in " ".join(result.output.split())
    assert [(a.sender, a.client_id) for a in await city.rows(DocumentAttempt)] == [("worker-0", cid)]


MY_FILES = """query($id: ID!) { client(id: $id) { documents { files { id agency notSharedWith } } } }"""


async def test_a_staff_read_of_documents_asks_the_policies_nothing_about_a_clients_addressees(
    city: City, population: Population, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whom a client's upload is not shared with yet is the client's to know: worked out for the client's own
    view, never on a caseworker's read of the documents (where it was a question per addressee of every file)."""
    from gate.document_reviews import DocumentReviews

    cid = _sheltered(population)
    me, dhs = city.client(cid), city.as_("DHS")
    given = await me.query(CONSENT, {"input": {
        "clientId": cid, "sourceReference": "CLIENT-APP", "givenAt": datetime.now(UTC).isoformat(),
        "provisions": [{"organizations": ["DHS"], "categories": ["DOCUMENTS"], "purposes": ["CASE_MANAGEMENT"]}]}})
    assert "errors" not in given, given
    sent = await city.send(me, cid, "BIRTH_CERTIFICATE", png(), addressed_to="HRA")
    assert sent.status_code == 201, sent.text
    file_id = sent.json()["file"]["id"]

    asked: list[int] = []  # the asks of each may_review call (the gateway runs in a thread of this process)
    may_review = DocumentReviews.may_review

    async def counted(self: DocumentReviews, asks: Any) -> Any:
        asked.append(len(asks))
        return await may_review(self, asks)

    monkeypatch.setattr(DocumentReviews, "may_review", counted)
    mine = await me.query(MY_FILES, {"id": cid})
    assert [(f["id"], f["notSharedWith"]) for f in mine["data"]["client"]["documents"]["files"]] == [
        (file_id, ["HRA"])]
    assert asked and sum(asked) <= 2  # the client's own view: its file's addressees (DHS, HRA), once

    asked.clear()
    for _ in range(3):
        seen = await dhs.query(MY_FILES, {"id": cid})
        assert [(f["id"], f["notSharedWith"]) for f in seen["data"]["client"]["documents"]["files"]] == [
            (file_id, None)]
    assert asked == []
