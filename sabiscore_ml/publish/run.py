"""A scoring run as it is published: its header, predictions, edges and stakes.

:class:`PublishedRun` checks its frames once, when it is built, and holds them
in a canonical form: the columns below in this order and type, optional
columns added as nulls, rows sorted by their key.  :attr:`PublishedRun.records`
gives the rows as plain Python values with every float rounded to 6 decimals;
the warehouse and Redis both publish these, so both hold the same numbers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import polars as pl

from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.publish.contract import (
    CORRECT_SCORE_KEYS,
    OUTCOME_ORDER,
    POINTER,
    Record,
    RunHeader,
    correct_score_markets,
    encode_document,
    rounded,
)

Mode = Literal["live", "replay"]
MODES: tuple[str, ...] = ("live", "replay")

_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

PREDICTION_COLUMNS: dict[str, Any] = {
    "match_id": pl.Int64,
    "league_code": pl.String,
    "season_code": pl.String,
    "match_date": pl.Date,
    "kickoff_utc": pl.Datetime("us"),
    "home_team": pl.String,
    "away_team": pl.String,
    "p_home": pl.Float64,
    "p_draw": pl.Float64,
    "p_away": pl.Float64,
    "p_over25": pl.Float64,
    "p_btts": pl.Float64,
    "xg_home": pl.Float64,
    "xg_away": pl.Float64,
    "drivers": pl.String,
    "correct_score": pl.String,
}
PREDICTION_OPTIONAL = (
    "kickoff_utc",
    "p_over25",
    "p_btts",
    "xg_home",
    "xg_away",
    "drivers",
    "correct_score",
)
#: How far a correct-score grid may be from summing to 1 and from the prediction's markets.
CORRECT_SCORE_TOLERANCE = 1e-6

EDGE_COLUMNS: dict[str, Any] = {
    "match_id": pl.Int64,
    "market": pl.String,
    "outcome": pl.String,
    "p_model": pl.Float64,
    "price": pl.Float64,
    "bookmaker": pl.String,
    "n_bookmakers": pl.Int32,
    "p_market": pl.Float64,
    "edge": pl.Float64,
    "prob_edge": pl.Float64,
    "is_value": pl.Boolean,
    "excluded_by": pl.String,
    "rule_value": pl.Float64,
    "confirmed_edge": pl.Float64,
    "p_confirmed": pl.Float64,
    "last_update": pl.Datetime("us"),
    "published_price": pl.Float64,
}
EDGE_NULLABLE = ("price", "bookmaker", "n_bookmakers", "p_market", "edge", "prob_edge")
# the rule keeping an outcome from value; the edge the closing line's evidence supports;
# when the price taken was last seen, and the price a withdrawn value bet was published at
EDGE_OPTIONAL = (
    "excluded_by",
    "rule_value",
    "confirmed_edge",
    "p_confirmed",
    "last_update",
    "published_price",
)

STAKE_COLUMNS: dict[str, Any] = {
    "match_id": pl.Int64,
    "market": pl.String,
    "outcome": pl.String,
    "portfolio": pl.String,
    "bookmaker": pl.String,
    "price": pl.Float64,
    "p_model": pl.Float64,
    "edge": pl.Float64,
    "kelly_fraction": pl.Float64,
    "fraction": pl.Float64,
    "stake": pl.Float64,
}


class InvalidRun(SabiscoreError, ValueError):
    """A run refused before anything is published; the message names the frame and the check."""


class RunConflict(SabiscoreError):
    """A run id already published with a different content; nothing was written."""


@dataclass(frozen=True)
class RunRecords:
    """A run's rows as plain Python values, floats rounded, in key order.

    A prediction's ``drivers`` and ``correct_score`` are the parsed JSON values (or None).
    """

    predictions: tuple[Record, ...]
    edges: tuple[Record, ...]
    stakes: tuple[Record, ...]

    @property
    def n_value_bets(self) -> int:
        """Edges that are value bets."""
        return sum(1 for e in self.edges if e["is_value"])


@dataclass(frozen=True, eq=False)
class PublishedRun:
    """One scoring run to publish.

    ``run_id`` is the caller's deterministic id (1 to 64 letters, digits, ``.``,
    ``_`` or ``-``): the same model version, as-of date and inputs give the same
    id, and publishing an id again publishes nothing new.  ``created_at`` is in
    UTC (an aware time is converted; a naive one is taken as UTC); it orders
    runs, so derive it like the id (the job's logical time), not from a retry's
    clock.

    ``predictions``: one row per match (``match_id``, ``league_code``,
    ``season_code``, ``match_date``, ``home_team``, ``away_team``, ``p_home``,
    ``p_draw``, ``p_away``; optional and nullable: ``kickoff_utc``,
    ``p_over25``, ``p_btts``, ``xg_home``, ``xg_away``, ``drivers``, a JSON
    text of the features behind the prediction, and ``correct_score``, a JSON
    object of the probability of each of
    :data:`~sabiscore_ml.publish.contract.CORRECT_SCORE_KEYS`, as
    :meth:`ModelBundle.predict <sabiscore_ml.models.bundle.ModelBundle.predict>`
    gives it).  A correct-score grid must sum to 1 and give the row's 1X2, over
    2.5 and both-teams-to-score (within :data:`CORRECT_SCORE_TOLERANCE`): the
    published markets of a match never contradict each other.  ``edges``: rows of
    :func:`sabiscore_ml.betting.edges.match_edges` (one per match, market and
    outcome; the columns it carries through are ignored).  ``stakes``: rows of
    :meth:`sabiscore_ml.betting.kelly.StakingResult.to_frame` with a
    ``portfolio`` column naming whose stakes they are.  Edges and stakes must
    belong to predicted matches.  Any frame may be empty.  An edge's optional
    ``excluded_by`` and ``rule_value`` name the rule that kept a non-value
    outcome from being a value bet and that rule's value (null for value bets);
    ``excluded_by = "withdrawn"`` marks a value bet of the previous published run
    that is no longer one at the current price, with ``published_price`` the
    price it was published at.  An edge's optional ``last_update`` is when the
    price taken was last seen (UTC).

    ``value_bet_rules``: the rules deciding value bets (a JSON object, e.g.
    :meth:`sabiscore_ml.betting.edges.ValueBetRules.describe`); ``staking``:
    the bankroll the stakes were sized against, its unit, the Kelly multiplier
    and the caps (a JSON object).  Both are published in the run's meta and
    insight documents; None when not known.
    """

    run_id: str
    model_name: str
    model_version: str
    created_at: dt.datetime
    as_of: dt.date
    mode: Mode
    predictions: pl.DataFrame
    edges: pl.DataFrame
    stakes: pl.DataFrame
    value_bet_rules: dict[str, Any] | None = None
    staking: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not _RUN_ID.fullmatch(self.run_id):
            raise InvalidRun(
                f"run id {self.run_id!r}: 1 to 64 letters, digits, '.', '_' or '-' expected"
            )
        if self.run_id == POINTER:
            raise InvalidRun(f"run id {self.run_id!r} is reserved")
        if self.mode not in MODES:
            raise InvalidRun(f"run {self.run_id}: mode {self.mode!r} is not one of {MODES}")
        if not 0 < len(self.model_name) <= 80 or not 0 < len(self.model_version) <= 40:
            raise InvalidRun(f"run {self.run_id}: model name (<= 80) and version (<= 40) needed")
        created_at = self.created_at
        if not isinstance(created_at, dt.datetime):
            raise InvalidRun(f"run {self.run_id}: created_at must be a datetime")
        if created_at.tzinfo is not None:
            created_at = created_at.astimezone(dt.UTC).replace(tzinfo=None)
        as_of = self.as_of
        if isinstance(as_of, dt.datetime):
            as_of = as_of.date()
        if not isinstance(as_of, dt.date):
            raise InvalidRun(f"run {self.run_id}: as_of must be a date")
        predictions = _conform(
            self.predictions, "predictions", PREDICTION_COLUMNS, optional=PREDICTION_OPTIONAL
        )
        edges = _conform(
            self.edges, "edges", EDGE_COLUMNS, optional=EDGE_OPTIONAL, nullable=EDGE_NULLABLE
        )
        stakes = _conform(self.stakes, "stakes", STAKE_COLUMNS)
        predictions = predictions.sort("match_id")
        documents = _decoded(self.run_id, predictions)
        _check(self.run_id, predictions, edges, stakes, documents)
        for name in ("value_bet_rules", "staking"):
            object.__setattr__(self, name, _rules(self.run_id, name, getattr(self, name)))
        object.__setattr__(self, "created_at", created_at)
        object.__setattr__(self, "as_of", as_of)
        object.__setattr__(self, "predictions", predictions)
        object.__setattr__(self, "_documents", documents)
        object.__setattr__(self, "edges", _sorted(edges, "match_id", "market", "outcome"))
        object.__setattr__(
            self, "stakes", _sorted(stakes, "match_id", "market", "outcome", "portfolio")
        )

    @property
    def header(self) -> RunHeader:
        """The run's identity and times."""
        return RunHeader(
            self.run_id,
            self.model_name,
            self.model_version,
            self.created_at,
            self.as_of,
            self.mode,
            self.value_bet_rules,
            self.staking,
        )

    @cached_property
    def records(self) -> RunRecords:
        """The rows as Python values, floats rounded to 6 decimals."""
        documents: dict[str, list[Any]] = getattr(self, "_documents")  # noqa: B009
        predictions = []
        for i, row in enumerate(self.predictions.iter_rows(named=True)):
            for name in DOCUMENT_COLUMNS:
                row[name] = documents[name][i]
            predictions.append(rounded(row))
        return RunRecords(
            predictions=tuple(predictions),
            edges=tuple(rounded(row) for row in self.edges.iter_rows(named=True)),
            stakes=tuple(rounded(row) for row in self.stakes.iter_rows(named=True)),
        )

    @cached_property
    def content_sha256(self) -> str:
        """Digest of what the run publishes, its creation time aside.

        Two publications of one run id must have the same digest; a retry that
        stamps another ``created_at`` is the same run.  Rules and exclusions
        the run does not carry are left out, so a run made before they were
        published keeps its digest.
        """
        header = dataclasses.asdict(self.header)
        del header["created_at"]
        for name in ("value_bet_rules", "staking"):
            if header[name] is None:
                del header[name]
        edges = [
            {k: v for k, v in e.items() if k not in EDGE_OPTIONAL or v is not None}
            for e in self.records.edges
        ]
        predictions = [
            {k: v for k, v in p.items() if k != "correct_score" or v is not None}
            for p in self.records.predictions
        ]
        body = {
            "header": header,
            "predictions": predictions,
            "edges": edges,
            "stakes": self.records.stakes,
        }
        return hashlib.sha256(encode_document(body)).hexdigest()

    def with_created_at(self, created_at: dt.datetime) -> PublishedRun:
        """The same run stamped with another creation time (the one first published)."""
        if created_at == self.created_at:
            return self
        return dataclasses.replace(self, created_at=created_at)


def _rules(run_id: str, name: str, value: Any) -> dict[str, Any] | None:
    """A run's rules as published: a JSON object, floats rounded (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRun(f"run {run_id}: {name} must be a JSON object (a dict), or None")
    try:
        rules: dict[str, Any] = json.loads(encode_document(value))
        return rules
    except (TypeError, ValueError) as exc:
        raise InvalidRun(f"run {run_id}: {name} is not JSON: {exc}") from exc


def _conform(
    frame: pl.DataFrame,
    name: str,
    columns: dict[str, Any],
    *,
    optional: tuple[str, ...] = (),
    nullable: tuple[str, ...] = (),
) -> pl.DataFrame:
    """``frame`` with exactly ``columns``, cast; refused when a column is missing or bad."""
    if not isinstance(frame, pl.DataFrame):
        raise InvalidRun(f"{name}: a polars DataFrame expected, got {type(frame).__name__}")
    if frame.height == 0 and frame.width == 0:
        return pl.DataFrame(schema=columns)
    missing = [c for c in columns if c not in frame.columns and c not in optional]
    if missing:
        raise InvalidRun(f"{name}: missing columns {missing}")
    selected = []
    for column, dtype in columns.items():
        if column not in frame.columns:
            selected.append(pl.lit(None, dtype=dtype).alias(column))
            continue
        expression = pl.col(column)
        source = frame.schema[column]
        if isinstance(source, pl.Datetime) and source.time_zone is not None:
            expression = expression.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        if column == "is_value":
            expression = expression.fill_null(False)
        selected.append(expression.cast(dtype, strict=True).alias(column))
    try:
        conformed = frame.select(selected)
    except (pl.exceptions.PolarsError, TypeError, ValueError) as exc:
        raise InvalidRun(f"{name}: a column does not have the expected type: {exc}") from exc
    required = [c for c in columns if c not in optional and c not in nullable]
    nulls = [c for c in required if conformed[c].null_count()]
    if nulls:
        raise InvalidRun(f"{name}: nulls in the columns {nulls}")
    return conformed


def _sorted(frame: pl.DataFrame, *keys: str) -> pl.DataFrame:
    """``frame`` sorted by ``keys``, outcomes in reading order (``outcome_rank``)."""
    rank = pl.col("outcome").replace_strict(
        OUTCOME_ORDER, default=len(OUTCOME_ORDER), return_dtype=pl.Int32
    )
    by: list[str] = []
    for key in keys:
        by += ["_rank", "outcome"] if key == "outcome" else [key]
    return frame.with_columns(rank.alias("_rank")).sort(by).drop("_rank")


def _duplicates(frame: pl.DataFrame, keys: list[str]) -> list[tuple[Any, ...]]:
    dup = frame.filter(pl.struct(keys).is_duplicated()).select(keys).unique().sort(keys)
    return dup.head(5).rows()


#: Prediction columns holding a JSON document each (text in the frame, decoded once).
DOCUMENT_COLUMNS = ("drivers", "correct_score")


def _decoded(run_id: str, predictions: pl.DataFrame) -> dict[str, list[Any]]:
    """Each document column's values decoded (None for null), in the frame's row order."""
    decoded: dict[str, list[Any]] = {}
    for name in DOCUMENT_COLUMNS:
        values: list[Any] = []
        for text, match_id in zip(
            predictions[name].to_list(), predictions["match_id"].to_list(), strict=True
        ):
            try:
                values.append(None if text is None else json.loads(text))
            except ValueError as exc:
                raise InvalidRun(
                    f"run {run_id}: predictions: {name} of match {match_id} is not JSON: {exc}"
                ) from exc
        decoded[name] = values
    return decoded


def _check(
    run_id: str,
    predictions: pl.DataFrame,
    edges: pl.DataFrame,
    stakes: pl.DataFrame,
    documents: dict[str, list[Any]],
) -> None:
    where = f"run {run_id}"
    for frame, name, keys in (
        (predictions, "predictions", ["match_id"]),
        (edges, "edges", ["match_id", "market", "outcome"]),
        (stakes, "stakes", ["match_id", "market", "outcome", "portfolio"]),
    ):
        duplicated = _duplicates(frame, keys)
        if duplicated:
            raise InvalidRun(f"{where}: {name} repeat the key {keys}: {duplicated}")
    bad = predictions.filter(
        pl.any_horizontal(
            [(pl.col(c) < 0) | (pl.col(c) > 1) for c in ("p_home", "p_draw", "p_away")]
        )
        | ((pl.col("p_home") + pl.col("p_draw") + pl.col("p_away") - 1).abs() > 1e-3)
    )
    if bad.height:
        raise InvalidRun(
            f"{where}: predictions: 1X2 probabilities outside [0, 1] or not summing to 1 "
            f"for matches {bad['match_id'].head(5).to_list()}"
        )
    _check_correct_scores(where, predictions, documents["correct_score"])
    if predictions.filter(pl.col("league_code") == "all").height:
        raise InvalidRun(f"{where}: predictions: 'all' is not a league code")
    known = set(predictions["match_id"].to_list())
    for frame, name in ((edges, "edges"), (stakes, "stakes")):
        strays = sorted(set(frame["match_id"].to_list()) - known)
        if strays:
            raise InvalidRun(f"{where}: {name} of matches without a prediction: {strays[:5]}")
    unpriced = edges.filter(
        pl.col("is_value")
        & (pl.col("price").is_null() | pl.col("bookmaker").is_null() | pl.col("edge").is_null())
    )
    if unpriced.height:
        raise InvalidRun(
            f"{where}: edges: value bets without a price, bookmaker or edge: "
            f"{unpriced.select('match_id', 'market', 'outcome').head(5).rows()}"
        )


def _check_correct_scores(where: str, predictions: pl.DataFrame, grids: list[Any]) -> None:
    """Refuse a correct-score grid that does not give its prediction's markets.

    The published keys, probabilities in [0, 1] summing to 1, and the row's
    1X2, over 2.5 and both-teams-to-score as its sums.
    """
    rows = predictions.select("match_id", "p_home", "p_draw", "p_away", "p_over25", "p_btts")
    for row, grid in zip(rows.iter_rows(named=True), grids, strict=True):
        if grid is None:
            continue
        match = f"{where}: predictions: correct_score of match {row['match_id']}"
        if not isinstance(grid, dict) or set(grid) != set(CORRECT_SCORE_KEYS):
            raise InvalidRun(
                f"{match}: a JSON object of the {len(CORRECT_SCORE_KEYS)} scores "
                f"{CORRECT_SCORE_KEYS[0]} ... {CORRECT_SCORE_KEYS[-1]} expected"
            )
        values = list(grid.values())
        if not all(isinstance(v, int | float) and 0 <= v <= 1 for v in values):
            raise InvalidRun(f"{match}: probabilities in [0, 1] expected")
        if abs(sum(values) - 1) > CORRECT_SCORE_TOLERANCE:
            raise InvalidRun(f"{match} sums to {sum(values):.8f}, not 1")
        for market, value in correct_score_markets(grid).items():
            stated = row[market]
            if stated is None or abs(stated - value) > CORRECT_SCORE_TOLERANCE:
                raise InvalidRun(
                    f"{match} gives {market} {value:.6f}, the prediction "
                    f"{'none' if stated is None else f'{stated:.6f}'}: markets contradicting"
                )
