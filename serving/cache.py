"""A small in-process cache: least recently used entries go first, optionally with an age limit.

One instance per worker process and per use (published documents, the current
run id, verified keys).  The event loop runs one coroutine at a time and the
cache never awaits, so it needs no lock; :class:`SingleFlight` makes the
requests that miss the same entry at the same time share one fetch.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Final, Generic, TypeVar, overload

V = TypeVar("V")
D = TypeVar("D")


class Missing(enum.Enum):
    """The type of :data:`MISSING`."""

    MISSING = "missing"


MISSING: Final = Missing.MISSING
"""No entry (or no answer), told apart from a stored ``None``: ``cache.get(key, MISSING)``."""


class LruCache(Generic[V]):
    """At most ``maxsize`` entries; with ``ttl`` seconds, an entry older than that is stale.

    :meth:`get` answers fresh entries only; :meth:`get_stale` answers an entry
    whatever its age (to serve while the store it came from is unreachable).
    ``maxsize`` 0 keeps nothing.
    """

    def __init__(self, maxsize: int, ttl: float | None = None) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def get(self, key: Hashable) -> V | None: ...

    @overload
    def get(self, key: Hashable, default: D) -> V | D: ...

    def get(self, key: Hashable, default: D | None = None) -> V | D | None:
        """The entry's value if present and fresh, else ``default``."""
        entry = self._entries.get(key)
        if entry is None:
            return default
        stored_at, value = entry
        if self.ttl is not None and time.monotonic() - stored_at >= self.ttl:
            return default
        self._entries.move_to_end(key)
        return value

    @overload
    def get_stale(self, key: Hashable) -> V | None: ...

    @overload
    def get_stale(self, key: Hashable, default: D) -> V | D: ...

    def get_stale(self, key: Hashable, default: D | None = None) -> V | D | None:
        """The entry's value whatever its age, else ``default``."""
        entry = self._entries.get(key)
        return default if entry is None else entry[1]

    def put(self, key: Hashable, value: V) -> None:
        """Store ``value`` (now fresh), dropping the least recently used entry when full."""
        if self.maxsize <= 0:
            return
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()


class SingleFlight(Generic[V]):
    """At most one refresh per key at a time: callers of a key already being fetched share it.

    Fifty requests arriving while a cache entry is due would otherwise make
    fifty identical store calls at once.
    """

    def __init__(self) -> None:
        self._running: dict[Hashable, asyncio.Task[V]] = {}

    def start(self, key: Hashable, fetch: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        """The fetch of ``key`` in flight, started now if there is none."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(fetch())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return task

    def _finished(self, key: Hashable, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here: a fetch nobody awaited must not warn

    async def run(self, key: Hashable, fetch: Callable[[], Awaitable[V]]) -> V:
        """The result of the fetch of ``key``, shared with every caller waiting for it."""
        return await asyncio.shield(self.start(key, fetch))
