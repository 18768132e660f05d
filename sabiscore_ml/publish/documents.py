"""The published documents of a run and their keys.

One function builds each kind of document from a run's header and records
(:class:`~sabiscore_ml.publish.run.RunRecords` rows); Redis stores their bytes
and the warehouse readers rebuild them from the stored rows, so both stores
answer with the same bytes (:func:`~sabiscore_ml.publish.encoding.encode_document`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sabiscore_ml.publish.encoding import encode_document
from sabiscore_ml.publish.run import PublishedRun, Record, RunHeader, outcome_rank

PREDICTION, UPCOMING, VALUE_BETS, LEAGUES, META = (
    "prediction",
    "upcoming",
    "value-bets",
    "leagues",
    "meta",
)
KINDS: tuple[str, ...] = (PREDICTION, UPCOMING, VALUE_BETS, LEAGUES, META)
ALL_LEAGUES = "all"  # the key of the upcoming list of every league
ODDS, STATIC = "odds", "static"  # TTL classes: prices inside, or not

COMPACT_FIELDS = (
    "match_id",
    "league_code",
    "season_code",
    "match_date",
    "kickoff_utc",
    "home_team",
    "away_team",
    "p_home",
    "p_draw",
    "p_away",
    "p_over25",
    "p_btts",
    "xg_home",
    "xg_away",
)
_EDGE_FIELDS = (
    "market",
    "outcome",
    "bookmaker",
    "price",
    "p_model",
    "p_market",
    "edge",
    "prob_edge",
    "is_value",
    "n_bookmakers",
    "excluded_by",
    "rule_value",
)
# An edge's fields that a value bet does not repeat (always true and null there).
_NOT_IN_VALUE_BETS = ("is_value", "excluded_by", "rule_value")
_STAKE_FIELDS = (
    "market",
    "outcome",
    "portfolio",
    "bookmaker",
    "price",
    "p_model",
    "edge",
    "kelly_fraction",
    "fraction",
    "stake",
)


def pointer_key(prefix: str) -> str:
    """The key holding the current run id: ``<prefix>:pub:current``."""
    return f"{prefix}:pub:current"


def alerts_key(prefix: str) -> str:
    """The value-bet alert stream: ``<prefix>:alerts``."""
    return f"{prefix}:alerts"


def run_key(prefix: str, run_id: str, *parts: str) -> str:
    """A key of a run: ``<prefix>:pub:<run_id>:<part>:...``."""
    return ":".join((prefix, "pub", run_id, *parts))


def document_key(prefix: str, run_id: str, kind: str, key: str | int | None = None) -> str:
    """The Redis key of a document of a run.

    ``kind``: ``prediction`` (``key`` the match id), ``upcoming`` (``key`` a
    league code or ``all``), ``value-bets``, ``leagues`` or ``meta`` (no key).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; one of {KINDS}")
    keyed = kind in (PREDICTION, UPCOMING)
    if keyed and (key is None or str(key) == ""):
        raise ValueError(f"a {kind} document needs a key")
    if not keyed and key is not None:
        raise ValueError(f"a {kind} document has no key")
    return run_key(prefix, run_id, kind, str(key)) if keyed else run_key(prefix, run_id, kind)


def kickoff_order(prediction: Record) -> tuple[dt.datetime, int]:
    """Sort key by kickoff; a match without a kickoff time goes last on its day."""
    kickoff = prediction["kickoff_utc"]
    if kickoff is None:
        kickoff = dt.datetime.combine(prediction["match_date"], dt.time.max)
    return kickoff, prediction["match_id"]


def compact_prediction(header: RunHeader, prediction: Record) -> dict[str, Any]:
    """A match in an upcoming list: the fixture and the model's probabilities."""
    return {"run_id": header.run_id, **{f: prediction[f] for f in COMPACT_FIELDS}}


def upcoming_list(header: RunHeader, predictions: Iterable[Record]) -> list[dict[str, Any]]:
    """Compact predictions sorted by kickoff."""
    return [compact_prediction(header, p) for p in sorted(predictions, key=kickoff_order)]


def _stake_key(record: Record) -> tuple[int, str, str]:
    return record["match_id"], record["market"], record["outcome"]


def value_bet_entries(
    header: RunHeader,
    predictions: Iterable[Record],
    edges: Iterable[Record],
    stakes: Iterable[Record],
) -> list[dict[str, Any]]:
    """The value bets among ``edges``, largest edge first, each with its fixture and stakes.

    ``stakes`` maps each portfolio to the stake its rules sized for the bet
    (empty when none did).
    """
    fixtures = {p["match_id"]: p for p in predictions}
    staked: dict[tuple[int, str, str], dict[str, float]] = defaultdict(dict)
    for s in stakes:
        staked[_stake_key(s)][s["portfolio"]] = s["stake"]
    entries = []
    for edge in edges:
        if not edge["is_value"]:
            continue
        fixture = fixtures[edge["match_id"]]
        entries.append(
            {
                "run_id": header.run_id,
                "match_id": edge["match_id"],
                **{
                    f: fixture[f]
                    for f in ("league_code", "match_date", "kickoff_utc", "home_team", "away_team")
                },
                **{f: edge[f] for f in _EDGE_FIELDS if f not in _NOT_IN_VALUE_BETS},
                "stakes": staked.get(_stake_key(edge), {}),
            }
        )
    entries.sort(
        key=lambda e: (-e["edge"], e["match_id"], e["market"], *outcome_rank(e["outcome"]))
    )
    return entries


def insight_document(
    header: RunHeader,
    prediction: Record,
    edges: Sequence[Record],
    stakes: Sequence[Record],
) -> dict[str, Any]:
    """Everything published about one match: the prediction, its drivers, edges and stakes.

    ``edges`` and ``stakes`` are the match's own rows; the run's value-bet
    rules and staking say what the edges and stakes mean.
    """
    return {
        **compact_prediction(header, prediction),
        "model_name": header.model_name,
        "model_version": header.model_version,
        "created_at": header.created_at,
        "as_of": header.as_of,
        "mode": header.mode,
        "value_bet_rules": header.value_bet_rules,
        "staking": header.staking,
        "drivers": prediction["drivers"],
        "edges": [{f: e[f] for f in _EDGE_FIELDS} for e in edges],
        "value_bets": value_bet_entries(header, [prediction], edges, stakes),
        "stakes": [{f: s[f] for f in _STAKE_FIELDS} for s in stakes],
    }


def league_entries(predictions: Iterable[Record]) -> list[dict[str, Any]]:
    """The run's leagues (sorted by code), each with its number of predictions."""
    counts: dict[str, int] = defaultdict(int)
    for p in predictions:
        counts[p["league_code"]] += 1
    return [{"league_code": code, "n_predictions": counts[code]} for code in sorted(counts)]


def meta_document(
    header: RunHeader, *, n_predictions: int, n_value_bets: int, content_sha256: str
) -> dict[str, Any]:
    """What the run is: model, version, times, mode, rules, counts and content digest."""
    return {
        "run_id": header.run_id,
        "model_name": header.model_name,
        "model_version": header.model_version,
        "created_at": header.created_at,
        "as_of": header.as_of,
        "mode": header.mode,
        "value_bet_rules": header.value_bet_rules,
        "staking": header.staking,
        "n_predictions": n_predictions,
        "n_value_bets": n_value_bets,
        "content_sha256": content_sha256,
    }


@dataclass(frozen=True)
class RunDocument:
    """One document of a run: its kind, key (or None), TTL class and bytes."""

    kind: str
    key: str | None
    ttl_class: str  # ODDS or STATIC
    body: bytes


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
    documents = [
        RunDocument(
            META,
            None,
            STATIC,
            encode_document(
                meta_document(
                    header,
                    n_predictions=len(records.predictions),
                    n_value_bets=records.n_value_bets,
                    content_sha256=run.content_sha256,
                )
            ),
        ),
        RunDocument(LEAGUES, None, STATIC, encode_document(leagues)),
        RunDocument(
            UPCOMING,
            ALL_LEAGUES,
            STATIC,
            encode_document(upcoming_list(header, records.predictions)),
        ),
    ]
    for league in leagues:
        code = league["league_code"]
        chosen = [p for p in records.predictions if p["league_code"] == code]
        documents.append(
            RunDocument(UPCOMING, code, STATIC, encode_document(upcoming_list(header, chosen)))
        )
    documents.append(
        RunDocument(
            VALUE_BETS,
            None,
            ODDS,
            encode_document(
                value_bet_entries(header, records.predictions, records.edges, records.stakes)
            ),
        )
    )
    for p in records.predictions:
        edges, stakes = by_match[p["match_id"]]
        documents.append(
            RunDocument(
                PREDICTION,
                str(p["match_id"]),
                ODDS,
                encode_document(insight_document(header, p, edges, stakes)),
            )
        )
    return tuple(documents)
