"""Files sent against a checklist (issue 20 §4): what a file is (read from its first bytes, never from its name or
the type the sender claims), the limits it must keep, an optional scan, and the blob store that keeps its bytes.

A file is kept under the SHA-256 of its content in a blob store (a local directory by default; `BlobStore` is
the seam for another), its metadata in the database (store/held_tables.DocumentFile). The two stay consistent
(gate/document_desk.py): the bytes are written first (to a temporary name, then moved into place), the metadata
in the gate's operation; when the operation fails, bytes that no row refers to are removed; when the bytes
cannot be written, no row is. A file's name is never kept (a photo's name is often the client's name).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, Field

from core.errors import DocumentsUnavailable, InvalidInput, PayloadTooLarge

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

    # where the blobs are kept (a directory; created if missing)
    blob_dir: Path = Path("var/documents")
    max_bytes: int = Field(default=10_000_000, ge=1_000, le=100_000_000)  # a phone photo is 2-6 MB
    # how long a file is kept after it was sent; then `casebridge documents purge` removes its bytes (its record
    # stays: what was accepted, when, by whom). Separate from the access log's retention.
    retention_days: int = Field(default=3 * 365, ge=1, le=20 * 366)
    # a program that scans a file on its standard input: exit 0 clean, 1 infected, anything else an error (the
    # file is then refused: a scan that was asked for and did not happen is not a clean scan). E.g.
    # ["clamdscan", "--no-summary", "--fdpass", "-"]. None: files are not scanned (recorded as "not-scanned").
    scan_command: list[str] | None = None
    scan_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # files one person may send for one client in a day: a phone stuck in a loop, or someone filling the disk, is
    # refused before a byte is read
    max_files_per_day: int = Field(default=50, ge=1, le=10_000)
    review_days: int = Field(default=2, ge=0, le=60)  # a file sent is reviewed within this many days
    request_days: int = Field(default=14, ge=1, le=365)  # a document asked for is due this many days later


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


@dataclass(frozen=True, slots=True)
class Received:
    """A file read to a temporary path: its digest, size and type (the path is removed by `discard`)."""

    path: Path
    sha256: str
    size: int
    media_type: str

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def receive(chunks: AsyncIterator[bytes], *, into: Path, limit: int) -> Received:
    """Read a file's bytes to a temporary file under `into`, hashing as it goes: PayloadTooLarge as soon as it
    passes `limit`, InvalidInput if it is empty or not a type casebridge accepts. Nothing is left behind on
    failure."""
    await asyncio.to_thread(into.mkdir, parents=True, exist_ok=True)
    path = into / f".incoming-{uuid.uuid4().hex}"
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with await asyncio.to_thread(path.open, "xb") as out:
            async for chunk in chunks:
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


async def scan(command: list[str] | None, path: Path, *, seconds: float) -> str:
    """"clean" or "not-scanned" (no scanner configured); InvalidInput when the scanner finds something,
    DocumentsUnavailable when it cannot tell (it failed, or took too long)."""
    if not command:
        return "not-scanned"
    try:
        with await asyncio.to_thread(path.open, "rb") as stdin:
            proc = await asyncio.create_subprocess_exec(*command, stdin=stdin, stdout=asyncio.subprocess.DEVNULL,
                                                        stderr=asyncio.subprocess.DEVNULL)
            try:
                code = await asyncio.wait_for(proc.wait(), seconds)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                code = -1
    except OSError:
        code = -1
    if code == 0:
        return "clean"
    if code == 1:
        raise InvalidInput("the file was refused by the virus scan", field="file", reason="infected")
    raise DocumentsUnavailable("the file could not be scanned for viruses")


class BlobStore(Protocol):
    """Where files' bytes are kept, by content hash."""

    def put(self, received: Received) -> bool:
        """Keep `received`'s bytes under its digest; True if they were not there before."""
        ...

    def open(self, sha256: str) -> Path | None:
        """The path of the bytes kept under `sha256`, or None."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes kept under `sha256` (nothing if absent)."""
        ...


class LocalBlobStore:
    """Blobs in a local directory: <root>/ab/cd/<sha256>, written to a temporary name and moved into place, so a
    blob is either whole or absent."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def incoming(self) -> Path:
        """Where files are read to before they are kept (same file system: the move is atomic)."""
        return self.root / "incoming"

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, received: Received) -> bool:
        final = self._path(received.sha256)
        if final.exists():
            return False
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
        os.link(received.path, staged) if _same_device(received.path, final.parent) else _copy(received.path, staged)
        with staged.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(staged, final)
        return True

    def open(self, sha256: str) -> Path | None:
        path = self._path(sha256)
        return path if path.exists() else None

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(sha256).unlink()

    def digests(self) -> list[str]:
        """Every digest kept (for the sweep that finds blobs no row refers to)."""
        return sorted(p.name for p in self.root.glob("??/??/*") if len(p.name) == 64)


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _copy(src: Path, dst: Path) -> None:
    with src.open("rb") as i, dst.open("xb") as o:
        while chunk := i.read(1 << 20):
            o.write(chunk)
