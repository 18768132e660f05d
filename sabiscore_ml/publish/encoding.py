"""The byte encoding of published documents: canonical JSON.

JSON, keys sorted, no spaces, UTF-8, floats rounded to 6 decimals (NaN and
infinities as null, no negative zero), dates and times in ISO 8601 (times in
UTC, without an offset).  The same value always gives the same bytes.
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


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):  # datetimes too
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
