"""The published documents of a run, as Redis stores them.

The builders of :mod:`sabiscore_ml.publish.contract` make each document
from the run's header and records (:class:`~sabiscore_ml.publish.run.RunRecords`
rows); the warehouse readers (:mod:`sabiscore_ml.publish.readers`) rebuild
them with the same builders from the stored rows, so both stores answer with
the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sabiscore_ml.publish.contract import (
    ALL_LEAGUES,
    LEAGUES,
    META,
    PREDICTION,
    TTL_CLASS,
    UPCOMING,
    VALUE_BETS,
    WITHDRAWN,
    Record,
    encode_document,
    insight_document,
    league_entries,
    meta_document,
    upcoming_list,
    value_bet_entries,
    withdrawn_entries,
)
from sabiscore_ml.publish.run import PublishedRun


@dataclass(frozen=True)
class RunDocument:
    """One document of a run: its kind, key (or None), TTL class and bytes."""

    kind: str
    key: str | None
    ttl_class: str  # ODDS or STATIC: the kind's TTL_CLASS
    body: bytes

    @classmethod
    def of(cls, kind: str, key: str | None, document: Any) -> RunDocument:
        """A document of ``kind`` under ``key``, encoded, with its kind's TTL class."""
        return cls(kind, key, TTL_CLASS[kind], encode_document(document))


def run_documents(run: PublishedRun) -> tuple[RunDocument, ...]:
    """Every document a run publishes, in a fixed order."""
    header, records = run.header, run.records
    by_match: dict[int, tuple[list[Record], list[Record]]] = {
        p["match_id"]: ([], []) for p in records.predictions
    }
    for e in records.edges:
        by_match[e["match_id"]][0].append(e)
    for s in records.stakes:
        by_match[s["match_id"]][1].append(s)
    leagues = league_entries(records.predictions)
    meta = meta_document(
        header,
        n_predictions=len(records.predictions),
        n_value_bets=records.n_value_bets,
        content_sha256=run.content_sha256,
    )
    documents = [
        RunDocument.of(META, None, meta),
        RunDocument.of(LEAGUES, None, leagues),
        RunDocument.of(UPCOMING, ALL_LEAGUES, upcoming_list(header, records.predictions)),
    ]
    for league in leagues:
        code = league["league_code"]
        chosen = [p for p in records.predictions if p["league_code"] == code]
        documents.append(RunDocument.of(UPCOMING, code, upcoming_list(header, chosen)))
    value_bets = value_bet_entries(header, records.predictions, records.edges, records.stakes)
    documents.append(RunDocument.of(VALUE_BETS, None, value_bets))
    withdrawn = withdrawn_entries(header, records.predictions, records.edges)
    documents.append(RunDocument.of(WITHDRAWN, None, withdrawn))
    for p in records.predictions:
        edges, stakes = by_match[p["match_id"]]
        insight = insight_document(header, p, edges, stakes)
        documents.append(RunDocument.of(PREDICTION, str(p["match_id"]), insight))
    return tuple(documents)
