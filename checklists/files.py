"""Files sent against a checklist (issue 20 §4): what a file is (read from its first bytes, never from its name or
the type the sender claims), the limits it must keep, an optional scan, and the settings of the blob store that
keeps its bytes (checklists/blobs.py).

A file is kept under the SHA-256 of its content in a blob store (a local directory by default; `BlobStore` is
the seam for another, chosen by `blob_store`), its metadata in the database (store/held_tables.DocumentFile). The
two stay consistent (gate/document_desk.py): the bytes are written first (to a temporary name, then moved into
place), the metadata in the gate's operation; when the operation fails, bytes that no row refers to are removed;
when the bytes cannot be written, no row is. Blobs are shared by content, so a removal (a failed upload's, a
purge's, the sweep's) and an upload of the same bytes take turns on the digest's lock
(connectors.held_document_files.hold_digest): a removal checks under it that no kept row refers to the bytes, and
a row commits under it only once its bytes are in the store. A file's name is never kept (a photo's name is often
the client's name).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel, Field, field_validator

from checklists.blobs import (
    INCOMING_PREFIX,
    LOCAL,
    BlobChunks,
    BlobStore,
    LocalBlobStore,
    Received,
    factory_named,
    make_blob_store,
    remove_stale_incoming,
    verified_copy,
)
from checklists.slots import PerLoopSemaphore
from core.errors import DocumentsUnavailable, InvalidInput, PayloadTooLarge

__all__ = ["EXTENSIONS", "BlobChunks", "BlobStore", "DocumentSettings", "LocalBlobStore", "Received", "limit_scans",
           "make_blob_store", "receive", "remove_stale_incoming", "scan", "sniff", "verified_copy"]

# What a client or a caseworker may send: scans and photos of papers. Each known by its first bytes.
PDF, JPEG, PNG, HEIC, WEBP, TIFF = ("application/pdf", "image/jpeg", "image/png", "image/heic", "image/webp",
                                    "image/tiff")
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png", HEIC: "heic", WEBP: "webp", TIFF: "tif"}
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"heif")
# programs and scripts, refused by name so that a renamed one gets a clear answer
_PROGRAMS = (b"MZ", b"\x7fELF", b"#!", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe",
             b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"\x00asm", b"dex\n")
SNIFF_BYTES = 64


class DocumentSettings(BaseModel):
    """Files sent against checklist items: how large, kept how long, scanned how, reviewed by when."""

    # the blob store: "local" (the directory `blob_dir`), or "package.module:factory", a callable taking these
    # settings and returning a checklists.blobs.BlobStore (e.g. one over the city's object storage). Checked at
    # start-up: a name that does not import to a callable is an invalid setting.
    blob_store: str = LOCAL
    # where the local store keeps the blobs (a directory; created if missing)
    blob_dir: Path = Path("var/documents")
    # where a file being sent is read to while it is sniffed and scanned, and a file being fetched is copied to
    # while its digest is checked: always a local directory, whatever the store (the scanner reads a local file).
    # None: <blob_dir>/incoming (for the local store the same file system, so keeping a file is a hard link)
    incoming_dir: Path | None = None
    max_bytes: int = Field(default=10_000_000, ge=1_000, le=100_000_000)  # a phone photo is 2-6 MB
    # a sender that sends nothing for this long in the middle of a file is refused (and nothing kept): a
    # connection held open by a stalled phone, or on purpose, must not hold a slot for ever
    read_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # however steadily it arrives, a file is refused (and nothing kept) once it has taken this long: a sender
    # dripping a byte just inside the read timeout would otherwise hold a connection and an incoming file for
    # max_bytes x read_timeout_seconds. 10 MB at 0.5 Mbit/s (a poor phone connection) takes 160 s.
    upload_timeout_seconds: float = Field(default=300.0, gt=0, le=3600)
    # how long a file is kept after it was sent; then `casebridge documents purge` removes its bytes (its record
    # stays: what was accepted, when, by whom). Separate from the access log's retention.
    retention_days: int = Field(default=3 * 365, ge=1, le=20 * 366)
    # a program that scans a file on its standard input: exit 0 clean, 1 infected, anything else an error (the
    # file is then refused: a scan that was asked for and did not happen is not a clean scan). E.g.
    # ["clamdscan", "--no-summary", "--fdpass", "-"]. None: files are not scanned (recorded as "not-scanned").
    scan_command: list[str] | None = None
    scan_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # scans running at once in one process (each is a process of its own): a burst of uploads waits its turn, at
    # most scan_timeout_seconds, rather than starting a scanner per upload
    max_concurrent_scans: int = Field(default=2, ge=1, le=64)
    # downloads under way at once in one process, and for one caller (by subject): each holds a checked copy of
    # its file on the local disk until its last byte is sent (checklists/downloads.py), so that many slow
    # downloads cannot fill the incoming directory uploads need. One that finds no slot within
    # download_wait_seconds is refused (DOCUMENTS_UNAVAILABLE, reason busy or too_many_downloads; logged).
    max_concurrent_downloads: int = Field(default=8, ge=1, le=256)
    max_downloads_per_caller: int = Field(default=2, ge=1, le=64)
    download_wait_seconds: float = Field(default=5.0, gt=0, le=60)
    # files one person may send for one client in a day: a phone stuck in a loop, or someone filling the disk, is
    # refused before a byte is read
    max_files_per_day: int = Field(default=50, ge=1, le=10_000)
    # files one person may send in a day for all their clients together (a caseworker scanning for a caseload);
    # both limits count every attempt, refused ones too (gate/document_desk.py)
    max_files_per_sender_per_day: int = Field(default=500, ge=1, le=100_000)
    review_days: int = Field(default=2, ge=0, le=60)  # a file sent is reviewed within this many days
    request_days: int = Field(default=14, ge=1, le=365)  # a document asked for is due this many days later

    @field_validator("blob_store")
    @classmethod
    def _names_a_store(cls, value: str) -> str:
        value = value.strip()
        if value != LOCAL:
            factory_named(value)  # ValueError naming what is wrong: refused at start-up
        return value

    @property
    def incoming(self) -> Path:
        """The local directory files are read to (and fetched files copied to) before they are kept or served."""
        return self.incoming_dir or self.blob_dir / "incoming"


def sniff(head: bytes) -> str:
    """The media type of a file from its first bytes, if it is one casebridge accepts; InvalidInput otherwise."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return HEIC
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return WEBP
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return TIFF
    if head.startswith(_PROGRAMS):
        raise InvalidInput("this file is a program; only PDFs and photos (JPEG, PNG, HEIC, WebP, TIFF) are accepted",
                           field="file", reason="program")
    raise InvalidInput("this file is not a PDF or a photo (JPEG, PNG, HEIC, WebP, TIFF)", field="file",
                       reason="unsupported_type")


async def receive(chunks: AsyncIterator[bytes], *, into: Path, limit: int, idle_seconds: float | None = None,
                  total_seconds: float | None = None) -> Received:
    """Read a file's bytes to a temporary file under `into`, hashing as it goes: PayloadTooLarge as soon as it
    passes `limit`, InvalidInput if it is empty, not a type casebridge accepts, stops arriving for `idle_seconds`
    ("stalled") or is not all there `total_seconds` after reading began ("too_slow"; None: no limit). Nothing is
    left behind on failure."""
    loop = asyncio.get_running_loop()
    deadline = None if total_seconds is None else loop.time() + total_seconds
    await asyncio.to_thread(into.mkdir, parents=True, exist_ok=True)
    path = into / f"{INCOMING_PREFIX}{uuid.uuid4().hex}"
    digest, size, head = hashlib.sha256(), 0, b""
    pending = aiter(chunks)
    try:
        with await asyncio.to_thread(path.open, "xb") as out:
            while True:
                idle_until = None if idle_seconds is None else loop.time() + idle_seconds
                until = _sooner(idle_until, deadline)
                try:
                    async with asyncio.timeout_at(until):
                        chunk = await anext(pending)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    if until == deadline:
                        raise InvalidInput(f"the file took longer than {total_seconds:g} seconds to arrive; nothing "
                                           "was kept", field="file", reason="too_slow",
                                           suggestion="Send the file again on a faster connection, or a smaller "
                                                      "photo of it.") from None
                    raise InvalidInput(f"the file stopped arriving (nothing for {idle_seconds:g} seconds); nothing "
                                       "was kept", field="file", reason="stalled",
                                       suggestion="Send the file again on a steadier connection.") from None
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"a file is at most {limit} bytes", limit=limit)
                if len(head) < SNIFF_BYTES:
                    head += chunk[:SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        sniff(head)  # refuse a program before reading megabytes of it
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise InvalidInput("the file is empty", field="file", reason="empty")
        return Received(path, digest.hexdigest(), size, sniff(head))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


def _sooner(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


# the process's cap on scans running at once (scans under way when it changes finish under the old one)
_SCANS = PerLoopSemaphore(DocumentSettings.model_fields["max_concurrent_scans"].default)


def limit_scans(size: int) -> None:
    """At most `size` scans at once in this process (`max_concurrent_scans`; set where the desk is built)."""
    _SCANS.resize(size)


async def scan(command: list[str] | None, path: Path, *, seconds: float) -> str:
    """"clean" or "not-scanned" (no scanner configured); InvalidInput when the scanner finds something,
    DocumentsUnavailable when it cannot tell (it failed, or took too long) or no scan could start within
    `seconds` (as many as `limit_scans` allows are running)."""
    if not command:
        return "not-scanned"
    slots = _SCANS.here()
    try:
        async with asyncio.timeout(seconds):
            await slots.acquire()
    except TimeoutError:
        raise DocumentsUnavailable("too many files are being scanned for viruses right now",
                                   reason="scans_busy") from None
    try:
        code = await _run_scanner(command, path, seconds)
    finally:
        slots.release()
    if code == 0:
        return "clean"
    if code == 1:
        raise InvalidInput("the file was refused by the virus scan", field="file", reason="infected")
    raise DocumentsUnavailable("the file could not be scanned for viruses")


async def _run_scanner(command: list[str], path: Path, seconds: float) -> int:
    try:
        with await asyncio.to_thread(path.open, "rb") as stdin:
            proc = await asyncio.create_subprocess_exec(*command, stdin=stdin, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            try:
                return await asyncio.wait_for(proc.wait(), seconds)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                return -1
    except OSError:
        return -1
