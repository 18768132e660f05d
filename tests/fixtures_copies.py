"""Copies of football-data's ``fixtures.csv`` rewritten from its real rows (prices moved)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable


def rewritten(raw: bytes, change: Callable[[list[str], list[str]], None]) -> bytes:
    """The copy with ``change(header, row)`` applied to every row (BOM and CRLF kept)."""
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    for row in rows[1:]:
        change(rows[0], row)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return "\ufeff".encode() + out.getvalue().encode()


def with_prices(raw: bytes, factors: dict[str, float], home: str | None = None) -> bytes:
    """Each named price column times its factor (two decimals, as published).

    Only in the match of ``home`` when given; an empty price stays empty.
    """

    def change(header: list[str], row: list[str]) -> None:
        if home is not None and row[header.index("HomeTeam")] != home:
            return
        for column, factor in factors.items():
            i = header.index(column)
            if i < len(row) and row[i]:
                row[i] = f"{float(row[i]) * factor:.2f}"

    return rewritten(raw, change)
