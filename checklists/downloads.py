"""Bounds on downloads in progress: each one holds a checked copy of a file on the local disk (checklists/blobs.py
`verified_copy`, unnamed, so the sweep never sees it) from before its first byte until its last is sent. Without a
bound, one caller with one large file could open many slow downloads and fill the incoming directory, which
uploads need too. So a download takes a slot first - one of `max_downloads_per_caller` for its caller (by subject),
then one of `max_concurrent_downloads` for the process - waiting at most `download_wait_seconds`, and gives it back
when its copy is closed (served, or the caller gone). The disk the copies take is at most
max_concurrent_downloads x max_bytes.

The slots are per event loop, like the scans' (checklists/slots.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import IO

from checklists.slots import PerLoop
from core.errors import DocumentsUnavailable

BUSY = "busy"  # the process's downloads are all in use
CALLER_BUSY = "too_many_downloads"  # the caller's own are


@dataclass
class _Here:
    """One loop's slots: the process's, and each caller's that some download holds or waits for."""

    total: asyncio.Semaphore
    callers: dict[str, tuple[asyncio.Semaphore, int]] = field(default_factory=dict)


class Slot:
    """A download's place; `release` gives it back (once, however often it is called)."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    def release(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class DownloadSlots:
    """At most `total` downloads at once in a loop, and `per_caller` of them for one caller."""

    def __init__(self, total: int, per_caller: int) -> None:
        self.total, self.per_caller = total, per_caller
        self._loops = PerLoop(lambda: _Here(asyncio.Semaphore(self.total)))

    def resize(self, total: int, per_caller: int) -> None:
        """New sizes: downloads under way give back their slots to the old ones; the next take new ones."""
        if (total, per_caller) != (self.total, self.per_caller):
            self.total, self.per_caller = total, per_caller
            self._loops.renew()

    async def take(self, caller: str, *, seconds: float) -> Slot:
        """A slot for `caller`'s download, waited for at most `seconds` in all; DocumentsUnavailable (reason
        "too_many_downloads" while the caller's own are in use, "busy" while the process's are) otherwise."""
        here = self._loops.here()
        mine, users = here.callers.get(caller, (asyncio.Semaphore(self.per_caller), 0))
        here.callers[caller] = (mine, users + 1)

        def leave() -> None:  # the caller's entry goes once no download of theirs holds or waits for it
            sem, left = here.callers[caller]
            if left <= 1:
                del here.callers[caller]
            else:
                here.callers[caller] = (sem, left - 1)

        stage = CALLER_BUSY
        try:
            async with asyncio.timeout(seconds):
                await mine.acquire()
                stage = BUSY
                try:
                    await here.total.acquire()
                except BaseException:
                    mine.release()
                    raise
        except TimeoutError:
            leave()
            if stage == CALLER_BUSY:
                raise DocumentsUnavailable(
                    f"you have {self.per_caller} downloads under way already", reason=CALLER_BUSY,
                    suggestion="Nothing was sent. Let your other downloads finish, then try again.") from None
            raise DocumentsUnavailable("too many files are being downloaded right now", reason=BUSY,
                                       suggestion="Nothing was sent. Try again in a moment.") from None
        except BaseException:
            leave()
            raise

        def release() -> None:
            here.total.release()
            mine.release()
            leave()

        return Slot(release)


_SLOTS: DownloadSlots | None = None


def download_slots(total: int, per_caller: int) -> DownloadSlots:
    """The process's download slots with these sizes (the settings'): made anew when the sizes change, downloads
    under way then giving back their slots to the old ones."""
    global _SLOTS
    if _SLOTS is None:
        _SLOTS = DownloadSlots(total, per_caller)
    _SLOTS.resize(total, per_caller)
    return _SLOTS


class HeldCopy:
    """A download's checked copy (read from its start; closing it removes it) that gives back the download's slot
    when it is closed."""

    def __init__(self, copy: IO[bytes], slot: Slot) -> None:
        self._copy, self._slot = copy, slot

    def read(self, size: int = -1) -> bytes:
        return self._copy.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._copy.seek(offset, whence)

    @property
    def closed(self) -> bool:
        return self._copy.closed

    def close(self) -> None:
        try:
            self._copy.close()
        finally:
            self._slot.release()

    def __enter__(self) -> HeldCopy:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
