"""What the publisher writes and the serving tier reads: keys, documents, encoding.

The one definition of the published contract (:mod:`sabiscore_ml.publish`
describes it in full): the Redis key layout, the kinds of documents and the
fields of each, the builders making every document from a run's header and
rows, and the canonical JSON encoding.  The publisher
(:mod:`sabiscore_ml.publish.documents`, ``redis_store``), the warehouse
readers (:mod:`sabiscore_ml.publish.readers`) and the API (``serving``) all
use it, so Redis and the warehouse answer with the same bytes.

Pure Python: the standard library only, so the API imports it without the
data-frame libraries the publisher needs.

**Encoding.**  JSON, keys sorted, no spaces, UTF-8, floats rounded to 6
decimals (NaN and infinities as null, no negative zero), dates
``YYYY-MM-DD`` and times in ISO 8601 in UTC with the ``Z`` offset
(``2024-03-02T15:00:00Z``; a naive time is taken as UTC), which JavaScript's
``Date`` reads as UTC.  The same value always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# --- Encoding ---

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


# --- Kinds and keys ---

PREDICTION, UPCOMING, VALUE_BETS, WITHDRAWN, LEAGUES, META = (
    "prediction",
    "upcoming",
    "value-bets",
    "withdrawn",
    "leagues",
    "meta",
)
KINDS: tuple[str, ...] = (PREDICTION, UPCOMING, VALUE_BETS, WITHDRAWN, LEAGUES, META)
KEYED_KINDS: tuple[str, ...] = (PREDICTION, UPCOMING)  # a match id, a league code or ``all``
ALL_LEAGUES = "all"  # the key of the upcoming list of every league
ODDS, STATIC = "odds", "static"  # TTL classes: prices inside, or not
TTL_CLASS: dict[str, str] = {
    PREDICTION: ODDS,
    VALUE_BETS: ODDS,
    WITHDRAWN: ODDS,
    UPCOMING: STATIC,
    LEAGUES: STATIC,
    META: STATIC,
}
POINTER = "current"  # <prefix>:pub:current; no run may take this id
ALERTED = "alerted"  # <prefix>:pub:<run_id>:alerted, the marker that a run sent its alerts
WEBAPP_GROUP = "webapp"  # the consumer group of the alert stream


def pointer_key(prefix: str) -> str:
    """The key holding the current run id: ``<prefix>:pub:current``."""
    return f"{prefix}:pub:{POINTER}"


def alerts_key(prefix: str) -> str:
    """The value-bet alert stream: ``<prefix>:alerts``."""
    return f"{prefix}:alerts"


def runs_key(prefix: str) -> str:
    """The stream of runs that became current: ``<prefix>:runs``."""
    return f"{prefix}:runs"


#: The field of a stream entry holding its document, encoded (what ``/v1/stream`` sends).
EVENT_DOCUMENT = "document"


def run_key(prefix: str, run_id: str, *parts: str) -> str:
    """A key of a run: ``<prefix>:pub:<run_id>:<part>:...``."""
    return ":".join((prefix, "pub", run_id, *parts))


def document_key(prefix: str, run_id: str, kind: str, key: str | int | None = None) -> str:
    """The Redis key of a document of a run.

    ``kind``: ``prediction`` (``key`` the match id), ``upcoming`` (``key`` a
    league code or ``all``), ``value-bets``, ``withdrawn``, ``leagues`` or
    ``meta`` (no key).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; one of {KINDS}")
    keyed = kind in KEYED_KINDS
    if keyed and (key is None or str(key) == ""):
        raise ValueError(f"a {kind} document needs a key")
    if not keyed and key is not None:
        raise ValueError(f"a {kind} document has no key")
    return run_key(prefix, run_id, kind, str(key)) if keyed else run_key(prefix, run_id, kind)


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def current_run_id(client: Any, prefix: str) -> str | None:
    """The run the pointer names, or None when nothing was published (a sync Redis client)."""
    return _text(client.get(pointer_key(prefix)))


def read_document(
    client: Any, prefix: str, run_id: str, kind: str, key: str | int | None = None
) -> bytes | None:
    """The raw bytes of a document of a run, or None (expired, or not in the run)."""
    raw = client.get(document_key(prefix, run_id, kind, key))
    return raw.encode() if isinstance(raw, str) else raw


# --- Fields ---

# A match as published in an upcoming list (after its run_id).
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
# What a run is (after its run_id), and the rules its edges and stakes were made by.
RUN_FIELDS = ("model_name", "model_version", "created_at", "as_of", "mode")
RULE_FIELDS = ("value_bet_rules", "staking")
# An edge of an insight document.
EDGE_FIELDS = (
    "market",
    "outcome",
    "bookmaker",
    "price",
    "p_model",
    "p_market",
    "edge",
    "prob_edge",
    "confirmed_edge",
    "p_confirmed",
    "is_value",
    "n_bookmakers",
    "excluded_by",
    "rule_value",
    "last_update",
    "published_price",
)
#: ``excluded_by`` of a value bet of the previous published run no longer one at its price.
WITHDRAWN_BY = "withdrawn"
# An edge's fields that a value bet does not repeat (always true and null there).
NOT_IN_VALUE_BETS = ("is_value", "excluded_by", "rule_value", "published_price")
# The fixture a value bet names (after its match_id).
VALUE_BET_FIXTURE_FIELDS = ("league_code", "match_date", "kickoff_utc", "home_team", "away_team")
VALUE_BET_FIELDS = (
    "run_id",
    "match_id",
    *VALUE_BET_FIXTURE_FIELDS,
    *(f for f in EDGE_FIELDS if f not in NOT_IN_VALUE_BETS),
    "stakes",
)
# A value bet of the previous published run that this run withdraws: the price it was
# published at, the price on offer now (null when none is quoted) and when that was seen.
WITHDRAWN_EDGE_FIELDS = (
    "market",
    "outcome",
    "bookmaker",
    "published_price",
    "price",
    "last_update",
    "p_model",
    "edge",
    "confirmed_edge",
)
WITHDRAWN_FIELDS = ("run_id", "match_id", *VALUE_BET_FIXTURE_FIELDS, *WITHDRAWN_EDGE_FIELDS)
# A stake of an insight document.
STAKE_FIELDS = (
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
# The correct scores of a prediction and of its insight (not of the compact lists): the
# probability of every score up to 5-5 (``h-a``, home goals first) and of five buckets of
# the others, each on one side of every published market: ``6+-0`` (home 6 or more, away
# none), ``0-6+``, ``other_home``, ``other_draw`` and ``other_away`` (any other home win,
# draw, away win, both sides scoring).  ``sabiscore_ml.models.score_grid`` makes them.
CORRECT_SCORE_GOALS = 5
CORRECT_SCORE_OTHERS = ("6+-0", "0-6+", "other_home", "other_draw", "other_away")
CORRECT_SCORE_KEYS: tuple[str, ...] = (
    *(f"{h}-{a}" for h in range(CORRECT_SCORE_GOALS + 1) for a in range(CORRECT_SCORE_GOALS + 1)),
    *CORRECT_SCORE_OTHERS,
)
# A match's prediction trimmed from its insight: the fixture, probabilities, model and run.
PREDICTION_FIELDS = ("run_id", *COMPACT_FIELDS, "correct_score", *RUN_FIELDS)

# Outcomes in reading order; others sort after them, alphabetically.
OUTCOME_ORDER = {o: i for i, o in enumerate(("home", "draw", "away", "over", "under", "yes", "no"))}

Record = dict[str, Any]


def correct_score_markets(correct_score: dict[str, float]) -> dict[str, float]:
    """1X2, over 2.5 and both-teams-to-score as sums of a published correct-score grid.

    ``correct_score`` has the keys :data:`CORRECT_SCORE_KEYS`; every market is
    the sum of the scores on its side, so a prediction whose grid gives its own
    ``p_home`` ... ``p_btts`` has no two markets contradicting each other.
    """
    if set(correct_score) != set(CORRECT_SCORE_KEYS):
        raise ValueError(
            f"a correct-score grid has the keys {CORRECT_SCORE_KEYS[0]} ... "
            f"{CORRECT_SCORE_KEYS[-1]} ({len(CORRECT_SCORE_KEYS)}), got {len(correct_score)} keys"
        )
    markets = dict.fromkeys(("p_home", "p_draw", "p_away", "p_over25", "p_btts"), 0.0)
    listed = range(CORRECT_SCORE_GOALS + 1)
    for h in listed:
        for a in listed:
            p = correct_score[f"{h}-{a}"]
            markets["p_home" if h > a else "p_draw" if h == a else "p_away"] += p
            markets["p_over25"] += p if h + a > 2 else 0.0
            markets["p_btts"] += p if h > 0 and a > 0 else 0.0
    markets["p_home"] += correct_score["6+-0"] + correct_score["other_home"]
    markets["p_draw"] += correct_score["other_draw"]
    markets["p_away"] += correct_score["0-6+"] + correct_score["other_away"]
    others = sum(correct_score[k] for k in CORRECT_SCORE_OTHERS)  # 6 goals or more
    markets["p_over25"] += others
    markets["p_btts"] += others - correct_score["6+-0"] - correct_score["0-6+"]
    return markets


def outcome_rank(outcome: str) -> tuple[int, str]:
    """Sort key of an outcome: home, draw, away, over, under, yes, no, then the others."""
    return OUTCOME_ORDER.get(outcome, len(OUTCOME_ORDER)), outcome


@dataclass(frozen=True)
class RunHeader:
    """What identifies a run, when it was made (``created_at`` in UTC, naive), and its rules.

    ``value_bet_rules`` and ``staking`` are the run's (see
    :class:`~sabiscore_ml.publish.run.PublishedRun`), or None when the run did not say.
    """

    run_id: str
    model_name: str
    model_version: str
    created_at: dt.datetime
    as_of: dt.date
    mode: str
    value_bet_rules: dict[str, Any] | None = None
    staking: dict[str, Any] | None = None

    @property
    def rules(self) -> dict[str, Any] | None:
        """The rules as ``prediction_runs.rules_json`` keeps them (None when the run has none)."""
        if self.value_bet_rules is None and self.staking is None:
            return None
        return {"staking": self.staking, "value_bet_rules": self.value_bet_rules}

    def fields(self) -> dict[str, Any]:
        """The run's fields as its meta and insight documents carry them (run id aside)."""
        return {f: getattr(self, f) for f in (*RUN_FIELDS, *RULE_FIELDS)}


# --- Documents ---


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
                **{f: fixture[f] for f in VALUE_BET_FIXTURE_FIELDS},
                **{f: edge[f] for f in EDGE_FIELDS if f not in NOT_IN_VALUE_BETS},
                "stakes": staked.get(_stake_key(edge), {}),
            }
        )
    entries.sort(
        key=lambda e: (-e["edge"], e["match_id"], e["market"], *outcome_rank(e["outcome"]))
    )
    return entries


def withdrawn_entries(
    header: RunHeader, predictions: Iterable[Record], edges: Iterable[Record]
) -> list[dict[str, Any]]:
    """The value bets of the previous published run that ``edges`` withdraw, by kickoff.

    An edge with ``excluded_by = "withdrawn"``: each with its fixture, the
    price it was published at (``published_price``) and the price now.
    """
    fixtures = {p["match_id"]: p for p in predictions}
    entries = []
    for edge in edges:
        if edge["excluded_by"] != WITHDRAWN_BY:
            continue
        fixture = fixtures[edge["match_id"]]
        entries.append(
            {
                "run_id": header.run_id,
                "match_id": edge["match_id"],
                **{f: fixture[f] for f in VALUE_BET_FIXTURE_FIELDS},
                **{f: edge[f] for f in WITHDRAWN_EDGE_FIELDS},
            }
        )
    entries.sort(key=lambda e: (*kickoff_order(e), e["market"], *outcome_rank(e["outcome"])))
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
        **header.fields(),
        "correct_score": prediction["correct_score"],
        "drivers": prediction["drivers"],
        "edges": [{f: e[f] for f in EDGE_FIELDS} for e in edges],
        "value_bets": value_bet_entries(header, [prediction], edges, stakes),
        "stakes": [{f: s[f] for f in STAKE_FIELDS} for s in stakes],
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
        **header.fields(),
        "n_predictions": n_predictions,
        "n_value_bets": n_value_bets,
        "content_sha256": content_sha256,
    }


def prediction_view(insight: bytes) -> bytes:
    """A match's prediction from its insight's bytes: probabilities, fixture, model and run."""
    document = json.loads(insight)
    # An insight published before correct scores were has none: null, as for a run without.
    return encode_document({field: document.get(field) for field in PREDICTION_FIELDS})
