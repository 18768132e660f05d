"""Published runs in Redis: the documents of each run under its id, one pointer, alerts.

The key layout, the switch and the rules readers follow are described in
:mod:`sabiscore_ml.publish`.  A publication is four steps, each safe to
repeat, so a publish killed anywhere is completed by publishing again:

1. every document of the run, written in one ``MULTI``/``EXEC`` (``SET`` with
   the TTL of its class);
2. the ``webapp`` consumer group of the alert stream (``XGROUP CREATE ...
   MKSTREAM``; an existing group is kept);
3. the switch: ``<prefix>:pub:current`` set to the run id by a compare-and-set
   (``WATCH`` the pointer, compare, ``MULTI``/``SET``/``EXEC``), unless the
   current run is newer; the same ``MULTI`` adds the run's meta document to the
   stream ``<prefix>:runs``, so a run enters it exactly when it becomes current;
4. when the run is current: its value-bet alerts, added (``XADD``) in one
   ``MULTI`` with the ``alerted`` marker (``SET NX``), under a ``WATCH`` of the
   marker, so they are added once.

Between steps 3 and 4 :func:`~sabiscore_ml.publish.publish` marks the run
published in the warehouse (the ``after_switch`` callback).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import redis
from redis.exceptions import ResponseError, WatchError

from sabiscore_ml.publish.contract import (
    ALERTED,
    EVENT_DOCUMENT,
    META,
    ODDS,
    WEBAPP_GROUP,
    alerts_key,
    current_run_id,
    document_key,
    encode_document,
    parse_utc,
    pointer_key,
    run_key,
    runs_key,
    utc_text,
    value_bet_entries,
)
from sabiscore_ml.publish.documents import RunDocument, run_documents

if TYPE_CHECKING:
    from redis.typing import EncodableT, FieldT
from sabiscore_ml.publish.run import PublishedRun, RunConflict
from sabiscore_ml.settings import get_publish_settings


@dataclass(frozen=True)
class RedisTtls:
    """Seconds each class of key lives.

    ``odds``: documents holding prices (a match's insight document, the value
    bets).  ``static``: the others (meta, leagues, upcoming lists).
    ``alerted``: the marker that a run has sent its alerts.  The pointer never
    expires.  A superseded run stays readable until its keys expire: readers
    holding its id have that long to finish.
    """

    odds: int = 15 * 60
    static: int = 3600
    alerted: int = 7 * 24 * 3600

    def __post_init__(self) -> None:
        if min(self.odds, self.static, self.alerted) <= 0:
            raise ValueError("TTLs are positive numbers of seconds")

    @classmethod
    def from_settings(cls) -> RedisTtls:
        """The TTLs of the ``SABISCORE_PUBLISH_*`` settings."""
        settings = get_publish_settings()
        return cls(
            odds=settings.odds_ttl_seconds,
            static=settings.static_ttl_seconds,
            alerted=settings.alert_marker_ttl_seconds,
        )

    def seconds(self, ttl_class: str) -> int:
        """The TTL of a document of ``ttl_class`` (``odds`` or ``static``)."""
        return self.odds if ttl_class == ODDS else self.static


@dataclass(frozen=True)
class RedisPublish:
    """What publishing a run to Redis did.

    ``current``: the run the pointer names afterwards; ``switched``: whether
    this publication moved it; ``alerts``: the stream entries it added.
    """

    run_id: str
    documents: int
    current: str
    switched: bool
    alerts: int


def _order(created_at: dt.datetime, run_id: str) -> tuple[dt.datetime, str]:
    return created_at, run_id


def _stored_meta(client: redis.Redis, prefix: str, run_id: str) -> dict[str, Any] | None:
    # redis-py types a synchronous client's answers as maybe awaitable
    raw = cast(bytes | None, client.get(document_key(prefix, run_id, META)))
    meta: dict[str, Any] | None = None if raw is None else json.loads(raw)
    return meta


def _settled(client: redis.Redis, prefix: str, run: PublishedRun) -> PublishedRun:
    """``run`` as first published: refused if its content differs, its first ``created_at``."""
    meta = _stored_meta(client, prefix, run.run_id)
    if meta is None:
        return run
    if meta["content_sha256"] != run.content_sha256:
        raise RunConflict(
            f"run {run.run_id} is already in Redis with another content "
            f"(digest {meta['content_sha256'][:12]}, now {run.content_sha256[:12]})"
        )
    return run.with_created_at(parse_utc(meta["created_at"]))


def _write_documents(
    client: redis.Redis,
    prefix: str,
    run: PublishedRun,
    documents: tuple[RunDocument, ...],
    ttl: RedisTtls,
) -> None:
    """Step 1: every document of the run, in one transaction."""
    with client.pipeline(transaction=True) as pipe:
        for document in documents:
            key = document_key(prefix, run.run_id, document.kind, document.key)
            pipe.set(key, document.body, ex=ttl.seconds(document.ttl_class))
        pipe.execute()


def _ensure_group(client: redis.Redis, prefix: str) -> None:
    """Step 2: the ``webapp`` consumer group (and the stream), unless they exist."""
    try:
        client.xgroup_create(alerts_key(prefix), WEBAPP_GROUP, id="$", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def _switch_pointer(
    client: redis.Redis, prefix: str, run: PublishedRun, document: bytes, maxlen: int
) -> tuple[bool, str]:
    """Step 3: point ``current`` at the run unless the current run is newer.

    Returns (moved, the current run id).  A current run whose meta has expired
    counts as older than any run.  A move also adds ``document`` (the run's meta
    document) to the runs stream, in the same transaction.
    """
    pointer = pointer_key(prefix)
    mine = _order(run.created_at, run.run_id)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(pointer)
                current = current_run_id(pipe, prefix)
                if current == run.run_id:
                    return False, current
                if current is not None:
                    meta = _stored_meta(pipe, prefix, current)
                    if meta is not None:
                        theirs = _order(parse_utc(meta["created_at"]), current)
                        if theirs > mine:
                            return False, current
                pipe.multi()
                pipe.set(pointer, run.run_id)
                entry: dict[FieldT, EncodableT] = {"run_id": run.run_id, EVENT_DOCUMENT: document}
                pipe.xadd(runs_key(prefix), entry, maxlen=maxlen, approximate=True)
                pipe.execute()
                return True, run.run_id
            except WatchError:  # the pointer moved meanwhile: compare again
                continue


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return encode_document(value).decode()


def alert_entries(run: PublishedRun) -> list[dict[str, str]]:
    """The stream entries of a run's value bets (see the package doc).

    Each value-bet document's fields as text, the run's ``mode``, and
    ``document``: the value-bet document with its ``mode``, encoded.
    """
    records = run.records
    entries = value_bet_entries(run.header, records.predictions, records.edges, records.stakes)
    return [
        {
            **{k: _field(v) for k, v in e.items()},
            "mode": run.mode,
            EVENT_DOCUMENT: encode_document({**e, "mode": run.mode}).decode(),
        }
        for e in entries
    ]


def _send_alerts(
    client: redis.Redis, prefix: str, run: PublishedRun, ttl: RedisTtls, maxlen: int
) -> int:
    """Step 4: the run's value-bet alerts, once: the marker and the entries in one MULTI."""
    entries = alert_entries(run)
    if not entries:
        return 0
    marker = run_key(prefix, run.run_id, ALERTED)
    stream = alerts_key(prefix)
    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(marker)
                if pipe.exists(marker):
                    return 0
                pipe.multi()
                pipe.set(marker, b"1", nx=True, ex=ttl.alerted)
                for entry in entries:
                    fields: dict[FieldT, EncodableT] = {k: v for k, v in entry.items()}
                    pipe.xadd(stream, fields, maxlen=maxlen, approximate=True)
                pipe.execute()
                return len(entries)
            except WatchError:  # another publisher set the marker: it sent them
                continue


def publish_to_redis(
    client: redis.Redis,
    prefix: str,
    run: PublishedRun,
    ttl: RedisTtls | None = None,
    *,
    alerts_maxlen: int | None = None,
    after_switch: Callable[[str], object] | None = None,
) -> RedisPublish:
    """Publish a run's documents, switch the pointer to it, and send its alerts.

    ``client``: a ``redis.Redis`` (bytes responses).  ``ttl``: by default from
    the ``SABISCORE_PUBLISH_*`` settings.  ``after_switch`` is called with the
    current run id once the switch is decided (moved, or left to a newer run),
    before the alerts.  Publishing a run again rewrites the
    same bytes (with the ``created_at`` first published) and sends no alert
    twice; a different content under the same run id raises
    :class:`~sabiscore_ml.publish.run.RunConflict` before anything is written.
    """
    ttl = ttl or RedisTtls.from_settings()
    maxlen = alerts_maxlen or get_publish_settings().alerts_maxlen
    run = _settled(client, prefix, run)
    documents = run_documents(run)
    _write_documents(client, prefix, run, documents, ttl)
    _ensure_group(client, prefix)
    meta = next(d.body for d in documents if d.kind == META)
    switched, current = _switch_pointer(client, prefix, run, meta, maxlen)
    if after_switch is not None:
        after_switch(current)
    alerts = _send_alerts(client, prefix, run, ttl, maxlen) if current == run.run_id else 0
    return RedisPublish(run.run_id, len(documents), current, switched, alerts)
