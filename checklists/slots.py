"""Process-wide caps kept per event loop: an asyncio primitive belongs to the loop it first waits in, and a server
has one loop, a test suite many. The scans' cap (checklists/files.py) and the downloads' (checklists/downloads.py)
are both made this way.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """One `T` per running event loop, made by `make` when a loop first asks; `renew` forgets them all (whoever
    holds one keeps it: what is under way ends under it, the next ones get new ones)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = weakref.WeakKeyDictionary()

    def here(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._by_loop.get(loop)
        if found is None:
            found = self._by_loop[loop] = self._make()
        return found

    def renew(self) -> None:
        self._by_loop = weakref.WeakKeyDictionary()


class PerLoopSemaphore(PerLoop[asyncio.Semaphore]):
    """At most `size` at once in each loop; `resize` changes the cap for those that start after it."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(lambda: asyncio.Semaphore(self.size))

    def resize(self, size: int) -> None:
        if size != self.size:
            self.size = size
            self.renew()
