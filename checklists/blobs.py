"""Where files' bytes are kept, by content hash: the `BlobStore` seam, the local directory that is the default, the
one setting that chooses a store (`CASEBRIDGE_DOCUMENTS__BLOB_STORE`, read by the gateway and by `casebridge
documents purge` / `sweep` alike), and the checked copy a download serves.

A store gives its bytes as chunks (an iterator, or an async iterator for a store with an async client), never
as a local path: a store may be a bucket. What needs a local file - sniffing and scanning a file being sent,
checking a fetched file against its digest before a byte is served - works in a local directory of its own
(DocumentSettings.incoming), whatever the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable

from core.errors import CasebridgeError, ConfigurationError, DocumentsUnavailable

if TYPE_CHECKING:
    from checklists.files import DocumentSettings

log = logging.getLogger("casebridge.documents")

LOCAL = "local"
INCOMING_PREFIX = ".incoming-"  # a file being sent (checklists.files.receive)
DOWNLOAD_PREFIX = ".download-"  # a fetched file being checked (where the system has no unnamed files)
_CHUNK = 1 << 20
_FACTORY = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

BlobChunks = Iterator[bytes] | AsyncIterator[bytes]


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


@runtime_checkable
class BlobStore(Protocol):
    """Where files' bytes are kept, by content hash. Its methods may block (they are called in a worker thread);
    what `open` gives is read in the event loop if it is an async iterator, in a worker thread otherwise."""

    def put(self, received: Received) -> bool:
        """Keep the bytes of the local file `received.path` under `received.sha256`, whole and durably or not at
        all; True if they were not there before. Bytes already there are used again: their time in `digests`
        becomes now, so that the sweep (which removes only old blobs no record keeps) leaves them to the upload
        that is about to record them."""
        ...

    def open(self, sha256: str) -> BlobChunks | None:
        """The bytes kept under `sha256` as chunks, or None. Whoever reads them closes them (`close` or `aclose`,
        where the iterator has one), read to the end or not."""
        ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes kept under `sha256` (nothing if absent)."""
        ...

    def digests(self) -> dict[str, float]:
        """Every digest kept, with when its bytes were written (seconds since the epoch): for the sweep."""
        ...

    def remove_leftovers(self, older_than: float) -> int:
        """Remove what writes that never finished left behind, once older than `older_than` seconds; how many."""
        ...


class LocalBlobStore:
    """Blobs in a local directory: <root>/ab/cd/<sha256>, written to a temporary name (".<sha256>.<random>") and
    moved into place, so a blob is either whole or absent."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError("not a SHA-256 digest")  # never a path the caller chose
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, received: Received) -> bool:
        final = self._path(received.sha256)
        with contextlib.suppress(FileNotFoundError):  # gone meanwhile (a purge, the sweep): written again below
            os.utime(final)
            return False
        made = _missing_dirs(final.parent)
        final.parent.mkdir(parents=True, exist_ok=True)
        staged = final.with_name(f".{final.name}.{uuid.uuid4().hex}")
        try:
            if _same_device(received.path, final.parent):
                os.link(received.path, staged)
            else:
                _copy(received.path, staged)
            with staged.open("rb") as f:
                os.fsync(f.fileno())
            os.replace(staged, final)
        except BaseException:  # a half-written copy holds a client's document: it goes with the failure
            with contextlib.suppress(FileNotFoundError):
                staged.unlink()
            raise
        # the bytes are on disk, but a crash now could still lose the name they are under (and so a blob whose
        # record commits next): the directory entry is made durable too, and those of directories just made.
        # Should that fail, the blob stays (another upload of the same bytes may already be using it); the
        # upload fails, and the sweep removes the blob if no record ever keeps it.
        for directory in (final.parent, *(d.parent for d in made)):
            _fsync_dir(directory)
        return True

    def open(self, sha256: str) -> FileChunks | None:
        try:
            return FileChunks(self._path(sha256).open("rb"))
        except FileNotFoundError:
            return None

    def delete(self, sha256: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(sha256).unlink()

    def digests(self) -> dict[str, float]:
        found = {}
        for path in self.root.glob("??/??/*"):
            if len(path.name) == 64:
                with contextlib.suppress(FileNotFoundError):
                    found[path.name] = path.stat().st_mtime
        return found

    def remove_leftovers(self, older_than: float) -> int:
        return _remove_older(self.root.glob("??/??/.*"), older_than)


class FileChunks:
    """An open file's bytes in chunks; closed when read to the end, or by `close`."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file

    def __iter__(self) -> FileChunks:
        return self

    def __next__(self) -> bytes:
        chunk = self._file.read(_CHUNK)
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        self._file.close()


def remove_stale_incoming(into: Path, older_than: float) -> int:
    """Remove files a process killed mid-upload or mid-download left in the incoming directory `into`, once older
    than `older_than` seconds (a file still being sent is written to as it arrives; one being fetched is
    read within the request); how many."""
    if not into.is_dir():
        return 0
    return _remove_older([*into.glob(INCOMING_PREFIX + "*"), *into.glob(DOWNLOAD_PREFIX + "*")], older_than)


def _remove_older(paths: Any, older_than: float) -> int:
    cutoff, removed = time.time() - older_than, 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed


def factory_named(name: str) -> Callable[[DocumentSettings], BlobStore]:
    """The callable `package.module:factory` names; ValueError saying what is wrong with the name."""
    if not _FACTORY.match(name):
        raise ValueError(f'blob_store is "{LOCAL}" or "package.module:factory" (a callable taking the document '
                         f"settings and returning a blob store), not {name!r}")
    module_name, attribute = name.split(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"blob_store {name!r}: the module {module_name} cannot be imported ({exc})") from None
    for part in attribute.split("."):
        found = getattr(found, part, None)
    if not callable(found):
        raise ValueError(f"blob_store {name!r}: {module_name} has no callable {attribute}")
    return found  # type: ignore[no-any-return]


def make_blob_store(settings: DocumentSettings) -> BlobStore:
    """The blob store the settings name (the one hook for the gateway and the CLI): the local directory
    `blob_dir`, or what `package.module:factory` builds from the settings. ConfigurationError when it cannot be
    built or what it builds is not a blob store."""
    if settings.blob_store == LOCAL:
        return LocalBlobStore(settings.blob_dir)
    try:
        factory = factory_named(settings.blob_store)
        store = factory(settings)
    except Exception as exc:
        raise ConfigurationError(f"CASEBRIDGE_DOCUMENTS__BLOB_STORE={settings.blob_store}: the blob store could "
                                 f"not be built ({type(exc).__name__}: {exc})") from exc
    if not isinstance(store, BlobStore):
        raise ConfigurationError(f"CASEBRIDGE_DOCUMENTS__BLOB_STORE={settings.blob_store} built a "
                                 f"{type(store).__name__}, not a blob store (put, open, delete, digests, "
                                 "remove_leftovers)")
    return store


async def verified_copy(store: BlobStore, sha256: str, *, into: Path) -> IO[bytes]:
    """The bytes kept under `sha256`, read from the store once into a temporary file under `into` (unnamed where
    the system allows: it is gone when closed, or when the process dies) and checked against the digest as they
    are read: the copy, at its start, for the caller to serve and close. What is served is that copy, so no byte
    that does not match the digest is ever sent, and a store that changes meanwhile changes nothing.
    DocumentsUnavailable when the bytes are missing, cannot be read, or do not match."""
    unreadable = DocumentsUnavailable("the file's content cannot be read now", reason="unreadable",
                                      suggestion="Nothing was sent. Try again later.")
    try:
        chunks = await asyncio.to_thread(store.open, sha256)
    except Exception as exc:
        raise unreadable from exc
    if chunks is None:
        log.error("a document's blob is missing from the store (digest %s...)", sha256[:12])
        raise DocumentsUnavailable("the file's content is missing from the store", reason="content_missing",
                                   suggestion="Ask for the document again.")
    copy: IO[bytes] | None = None
    try:
        await asyncio.to_thread(into.mkdir, parents=True, exist_ok=True)
        copy = out = await asyncio.to_thread(_unnamed_file, into)
        digest = hashlib.sha256()
        async with contextlib.aclosing(_read(chunks)) as reading:
            async for chunk in reading:
                digest.update(chunk)
                await asyncio.to_thread(out.write, chunk)
        if digest.hexdigest() != sha256:
            log.error("a document's blob does not match its digest (digest %s...): not served", sha256[:12])
            raise DocumentsUnavailable("the file's content is damaged: it does not match what was sent, so it is "
                                       "not served", reason="content_mismatch",
                                       suggestion="Ask for the document again.")
        await asyncio.to_thread(out.seek, 0)
        return out
    except BaseException as exc:
        if copy is not None:
            copy.close()
        if isinstance(exc, Exception) and not isinstance(exc, CasebridgeError):
            raise unreadable from exc
        raise
    finally:
        await _close(chunks)


async def _read(chunks: BlobChunks) -> AsyncGenerator[bytes]:
    if isinstance(chunks, AsyncIterator):
        async for chunk in chunks:
            yield chunk
        return
    while True:
        following: bytes | None = await asyncio.to_thread(_next, chunks)
        if following is None:
            return
        yield following


def _next(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


def _unnamed_file(into: Path) -> IO[bytes]:
    return tempfile.TemporaryFile(mode="w+b", dir=into, prefix=DOWNLOAD_PREFIX)


async def _close(chunks: BlobChunks) -> None:
    with contextlib.suppress(Exception):  # closing a reader that failed: its failure was answered already
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
            return
        close = getattr(chunks, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    return missing


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _copy(src: Path, dst: Path) -> None:
    with src.open("rb") as i, dst.open("xb") as o:
        while chunk := i.read(_CHUNK):
            o.write(chunk)
