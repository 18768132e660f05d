"""Push: the runs made current and the value-bet alerts, for ``GET /v1/stream``.

The publisher adds a run to the stream ``<prefix>:runs`` when it becomes current
and its value bets to ``<prefix>:alerts`` (:mod:`sabiscore_ml.publish`), each
entry with its encoded ``document``.  One reader per worker process, the
:class:`EventHub`, follows both with a blocking ``XREAD`` and hands every entry
to each subscriber's queue, so the open connections of a worker share one Redis
connection however many there are.

An event's id is a cursor, the last entry of each stream the subscriber has
seen: ``<runs entry id>_<alerts entry id>`` (``0-0`` for none yet).  A client
reconnecting with it (``Last-Event-ID``, which browsers send by themselves) first
gets what it missed, read with ``XRANGE`` after the cursor up to where the hub
stood when it subscribed, then the live entries after those; an entry is never
sent twice or skipped, as long as the streams (``MAXLEN ~``) still hold it.  A
subscriber whose queue fills up (a client not reading) is dropped: its stream
ends, and it resumes from its last id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from sabiscore_ml.publish.contract import EVENT_DOCUMENT, alerts_key, runs_key

log = logging.getLogger(__name__)

Stream = Literal["runs", "alerts"]
EntryId = tuple[int, int]
#: The event name of each stream's entries.
EVENT_NAMES: dict[Stream, str] = {"runs": "run", "alerts": "value_bet"}
#: Every event name: the streams' own, and the monitor's breaches in the alert stream.
ALL_EVENTS = ("run", "value_bet", "monitor_breach")
_ENTRY = re.compile(r"(\d{1,20})-(\d{1,20})")
_PAGE = 500  # entries per XRANGE of a backlog


class StreamFull(Exception):
    """The worker holds as many subscribers as it may (``SABISCORE_API_STREAM_MAX_SUBSCRIBERS``)."""


def parse_entry_id(text: str) -> EntryId:
    """``1733540000000-3`` -> (1733540000000, 3); a ValueError for anything else."""
    match = _ENTRY.fullmatch(text)
    if match is None:
        raise ValueError(f"not a stream entry id: {text!r}")
    return int(match[1]), int(match[2])


def entry_text(entry: EntryId) -> str:
    """(1733540000000, 3) -> ``1733540000000-3``."""
    return f"{entry[0]}-{entry[1]}"


@dataclass(frozen=True, slots=True)
class Cursor:
    """The last entry seen of each stream."""

    runs: EntryId = (0, 0)
    alerts: EntryId = (0, 0)

    def text(self) -> str:
        """The event id: ``<runs entry>_<alerts entry>``."""
        return f"{entry_text(self.runs)}_{entry_text(self.alerts)}"

    @staticmethod
    def parse(text: str) -> Cursor:
        """The cursor of an event id; a ValueError naming the expected form otherwise."""
        runs, sep, alerts = text.strip().partition("_")
        try:
            if not sep:
                raise ValueError(text)
            return Cursor(parse_entry_id(runs), parse_entry_id(alerts))
        except ValueError:
            raise ValueError(
                f"an event id is <runs entry id>_<alerts entry id>, e.g. 0-0_1733540000000-0, "
                f"not {text[:80]!r}"
            ) from None

    def position(self, stream: Stream) -> EntryId:
        """The last entry seen of ``stream``."""
        return self.runs if stream == "runs" else self.alerts

    def after(self, event: StreamEvent) -> Cursor:
        """The cursor once ``event`` is seen."""
        if event.stream == "runs":
            return replace(self, runs=max(self.runs, event.entry))
        return replace(self, alerts=max(self.alerts, event.entry))

    def has_seen(self, event: StreamEvent) -> bool:
        """Whether ``event`` is at or before this cursor in its stream."""
        return event.entry <= self.position(event.stream)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One stream entry: which stream, its id, the league it is about, its document.

    ``kind``: the entry's own ``kind`` field, if any (the monitor's
    ``monitor_breach`` entries in the alert stream).
    """

    stream: Stream
    entry: EntryId
    league: str | None
    data: bytes
    kind: str | None = None

    @property
    def name(self) -> str:
        """The SSE event name: ``run``, ``value_bet`` or the entry's ``kind``."""
        return self.kind or EVENT_NAMES[self.stream]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def stream_event(stream: Stream, entry: bytes | str, fields: dict[bytes, bytes]) -> StreamEvent:
    """The event of an entry as Redis returns it.

    Its data is the entry's ``document``; an entry written before entries had
    one gives its fields as a JSON object of texts.
    """
    values = {_text(k): _text(v) for k, v in fields.items()}
    document = values.pop(EVENT_DOCUMENT, None)
    data = (
        document.encode()
        if document is not None
        else json.dumps(values, sort_keys=True, separators=(",", ":")).encode()
    )
    return StreamEvent(
        stream,
        parse_entry_id(_text(entry)),
        values.get("league_code") or None,
        data,
        values.get("kind") or None,
    )


def merged(
    batches: Iterable[tuple[Stream, Iterable[tuple[bytes | str, dict[bytes, bytes]]]]],
) -> list[StreamEvent]:
    """The entries of both streams as events, in entry-id (time) order, runs first on a tie."""
    events = [stream_event(stream, e, f) for stream, entries in batches for e, f in entries]
    events.sort(key=lambda ev: (ev.entry, ev.stream != "runs"))
    return events


@dataclass(eq=False)
class Subscription:
    """One subscriber: its queue of events; ``None`` in the queue means it was dropped."""

    queue: asyncio.Queue[StreamEvent | None]
    dropped: bool = False


@dataclass(eq=False)
class EventHub:
    """The worker's one reader of both streams, and its subscribers."""

    url: str
    prefix: str
    block_seconds: float = 5.0
    queue_size: int = 1000
    max_subscribers: int = 10_000
    retry_seconds: float = 1.0
    _subscribers: set[Subscription] = field(default_factory=set)
    _head: Cursor | None = None
    _task: asyncio.Task[None] | None = None
    _client: aioredis.Redis | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def keys(self) -> dict[Stream, str]:
        """The Redis key of each stream."""
        return {"runs": runs_key(self.prefix), "alerts": alerts_key(self.prefix)}

    @property
    def subscribers(self) -> int:
        """How many subscribers the worker holds."""
        return len(self._subscribers)

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            # a blocking read waits block_seconds: the socket must wait longer
            self._client = aioredis.Redis.from_url(
                self.url, socket_timeout=self.block_seconds + 5.0, socket_connect_timeout=2.0
            )
        return self._client

    async def _latest(self) -> Cursor:
        """The last entry of each stream now (``0-0`` for an empty or missing stream)."""
        client = self._redis()
        last: dict[Stream, EntryId] = {}
        for stream, key in self.keys.items():
            found = await client.xrevrange(key, "+", "-", count=1)
            last[stream] = parse_entry_id(_text(found[0][0])) if found else (0, 0)
        return Cursor(last["runs"], last["alerts"])

    async def _ensure_reading(self) -> Cursor:
        """Start the reader if it is not running; where it stands."""
        async with self._lock:
            if self._task is None or self._task.done():
                self._head = await self._latest()
                self._task = asyncio.create_task(self._follow(), name="sabiscore-stream-hub")
            assert self._head is not None
            return self._head

    async def _follow(self) -> None:
        client = self._redis()
        block = max(1, int(self.block_seconds * 1000))
        while True:
            head = self._head or Cursor()
            try:
                answer = await client.xread(
                    {key: entry_text(head.position(s)) for s, key in self.keys.items()},
                    count=_PAGE,
                    block=block,
                )
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                log.warning("stream hub: reading the streams failed (%s); retrying", error)
                await asyncio.sleep(self.retry_seconds)
                continue
            streams = {key: s for s, key in self.keys.items()}
            events = merged((streams[_text(key)], entries) for key, entries in answer or [])
            for event in events:
                self._head = (self._head or Cursor()).after(event)
                self._deliver(event)

    def _deliver(self, event: StreamEvent) -> None:
        for subscriber in list(self._subscribers):
            try:
                subscriber.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(subscriber)

    def _drop(self, subscriber: Subscription) -> None:
        """End a subscriber that does not keep up (it resumes from its last event id)."""
        self._subscribers.discard(subscriber)
        subscriber.dropped = True
        while not subscriber.queue.empty():
            subscriber.queue.get_nowait()
        subscriber.queue.put_nowait(None)

    async def subscribe(
        self, cursor: Cursor | None
    ) -> tuple[Subscription, Cursor, list[StreamEvent]]:
        """A new subscriber, the cursor it starts from and the events it missed.

        Without ``cursor`` it starts from now (no backlog).  Raises
        :class:`StreamFull` when the worker holds ``max_subscribers``.
        """
        if len(self._subscribers) >= self.max_subscribers:
            raise StreamFull(f"{self.max_subscribers} subscribers")
        head = await self._ensure_reading()
        if cursor is not None:  # a cursor past the streams' end (they were reset) starts at it
            cursor = Cursor(min(cursor.runs, head.runs), min(cursor.alerts, head.alerts))
        subscriber = Subscription(asyncio.Queue(self.queue_size))
        self._subscribers.add(subscriber)
        try:
            if cursor is None:
                return subscriber, head, []
            return subscriber, cursor, await self._backlog(cursor, head)
        except BaseException:
            self.unsubscribe(subscriber)
            raise

    async def _backlog(self, cursor: Cursor, head: Cursor) -> list[StreamEvent]:
        """The entries after ``cursor`` up to ``head``, page by page, in time order."""
        client = self._redis()
        batches: list[tuple[Stream, list[tuple[bytes, dict[bytes, bytes]]]]] = []
        for stream, key in self.keys.items():
            start, end = cursor.position(stream), head.position(stream)
            while start < end:
                page = await client.xrange(
                    key, f"({entry_text(start)}", entry_text(end), count=_PAGE
                )
                if not page:
                    break
                batches.append((stream, page))
                start = parse_entry_id(_text(page[-1][0]))
        return merged(batches)

    def unsubscribe(self, subscriber: Subscription) -> None:
        """Forget a subscriber (its connection ended)."""
        self._subscribers.discard(subscriber)

    async def close(self) -> None:
        """Stop the reader and close its connection."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, RedisError, OSError):
                pass
            self._task = None
        for subscriber in list(self._subscribers):
            self._drop(subscriber)
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def sse_frame(event: StreamEvent, cursor: Cursor) -> bytes:
    """One Server-Sent Event: its id (the cursor after it), name and data (one JSON line)."""
    data = event.data.replace(b"\r", b"").replace(b"\n", b"")
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        cursor.text().encode(),
        event.name.encode(),
        data,
    )


async def event_frames(
    hub: EventHub,
    subscriber: Subscription,
    start: Cursor,
    backlog: list[StreamEvent],
    *,
    wanted: frozenset[str],
    league: str | None,
    keepalive_seconds: float,
    retry_ms: int,
) -> AsyncIterator[bytes]:
    """The bytes of a subscriber's stream: the backlog, then live events and keep-alives.

    ``wanted``: the event names to send; ``league``: only that league's value
    bets (runs are always sent).  An event already seen (at or before the
    cursor) is skipped, so the backlog and the live queue never repeat one.
    """
    cursor = start
    try:
        yield b"retry: %d\n\n" % retry_ms
        for event in backlog:
            if cursor.has_seen(event):
                continue
            cursor = cursor.after(event)
            if _sends(event, wanted, league):
                yield sse_frame(event, cursor)
        while True:
            try:
                item = await asyncio.wait_for(subscriber.queue.get(), keepalive_seconds)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if item is None:  # dropped: the client reconnects with its last id
                return
            if cursor.has_seen(item):
                continue
            cursor = cursor.after(item)
            if _sends(item, wanted, league):
                yield sse_frame(item, cursor)
    finally:
        hub.unsubscribe(subscriber)


def _sends(event: StreamEvent, wanted: frozenset[str], league: str | None) -> bool:
    if event.name not in wanted:
        return False
    return league is None or event.stream == "runs" or event.league == league
