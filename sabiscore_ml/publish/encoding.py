"""The byte encoding of published documents: canonical JSON.

JSON, keys sorted, no spaces, UTF-8, floats rounded to 6 decimals (NaN and
infinities as null, no negative zero), dates ``YYYY-MM-DD`` and times in ISO
8601 in UTC with the ``Z`` offset (``2024-03-02T15:00:00Z``; a naive time is
taken as UTC), which JavaScript's ``Date`` reads as UTC.  The same value
always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

DECIMALS = 6


def rounded(value: Any) -> Any:
    """``value`` with its floats rounded to 6 decimals (NaN and infinities become None).

    Lists, tuples and dicts are rounded throughout (tuples become lists).
    """
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return round(value, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, dict):
        return {str(k): rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def utc_text(value: dt.datetime) -> str:
    """A time as published: ISO 8601 in UTC with ``Z`` (a naive time is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return f"{value.isoformat()}Z"


def parse_utc(text: str) -> dt.datetime:
    """A published time (with ``Z``, an offset, or none as before) as a naive UTC datetime."""
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_document(document: Any) -> bytes:
    """The canonical bytes of a document (deterministic: same value, same bytes)."""
    return json.dumps(
        rounded(document),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_plain,
    ).encode("utf-8")
