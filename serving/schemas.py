"""Response models: the published documents as the OpenAPI schema describes them.

The routes send the published bytes unchanged, so these models document the
answers (with examples) rather than build them; the tests check every answer
against them.  Times are ISO 8601 in UTC with the ``Z`` offset
(``2024-03-02T15:00:00Z``, as JavaScript's ``Date`` reads it), dates
``YYYY-MM-DD``, probabilities in [0, 1] rounded to 6 decimals.  Stakes are
amounts of the bankroll the run's ``staking`` names, in its ``unit``.  The
field names are those of the published documents (:mod:`sabiscore_ml.publish`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

UtcTime = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$",
        description="UTC, ISO 8601 with the Z offset",
        examples=["2024-03-02T15:00:00Z"],
    ),
]
Probability = Annotated[float, Field(ge=0, le=1)]

_MATCH: JsonDict = {
    "run_id": "2024-03-01-v7",
    "match_id": 1042,
    "league_code": "E0",
    "season_code": "2023-2024",
    "match_date": "2024-03-02",
    "kickoff_utc": "2024-03-02T15:00:00Z",
    "home_team": "Arsenal",
    "away_team": "Everton",
    "p_home": 0.612345,
    "p_draw": 0.221,
    "p_away": 0.166655,
    "p_over25": 0.561576,
    "p_btts": 0.531995,
    "xg_home": 1.990024,
    "xg_away": 0.942745,
}
# The grid of the example's markets (its sums give them, to the 6 decimals' rounding).
_CORRECT_SCORE: JsonDict = {
    "0-0": 0.058245, "0-1": 0.045206, "0-2": 0.023663, "0-3": 0.007436, "0-4": 0.001753,
    "0-5": 0.00033, "1-0": 0.100973, "1-1": 0.104896, "1-2": 0.047091, "1-3": 0.014798,
    "1-4": 0.003488, "1-5": 0.000658, "2-0": 0.10544, "2-1": 0.099403, "2-2": 0.046856,
    "2-3": 0.014724, "2-4": 0.00347, "2-5": 0.000654, "3-0": 0.069943, "3-1": 0.065938,
    "3-2": 0.031081, "3-3": 0.009767, "3-4": 0.002302, "3-5": 0.000434, "4-0": 0.034797,
    "4-1": 0.032805, "4-2": 0.015463, "4-3": 0.004859, "4-4": 0.001145, "4-5": 0.000216,
    "5-0": 0.013849, "5-1": 0.013056, "5-2": 0.006154, "5-3": 0.001934, "5-4": 0.000456,
    "5-5": 8.6e-05, "6+-0": 0.00631, "0-6+": 6e-05, "other_home": 0.009883,
    "other_draw": 5e-06, "other_away": 0.000372,
}  # fmt: skip
_RUN: JsonDict = {
    "model_name": "sabiscore-1x2",
    "model_version": "7",
    "created_at": "2024-03-01T09:00:00Z",
    "as_of": "2024-03-01",
    "mode": "live",
}
_VALUE_BET: JsonDict = {
    "run_id": "2024-03-01-v7",
    "match_id": 1042,
    "league_code": "E0",
    "match_date": "2024-03-02",
    "kickoff_utc": "2024-03-02T15:00:00Z",
    "home_team": "Arsenal",
    "away_team": "Everton",
    "market": "1x2",
    "outcome": "home",
    "bookmaker": "pinnacle",
    "price": 1.85,
    "p_model": 0.612345,
    "p_market": 0.52,
    "edge": 0.132838,
    "prob_edge": 0.092345,
    "confirmed_edge": 0.051,
    "p_confirmed": 0.568108,
    "n_bookmakers": 3,
    "last_update": "2024-03-01T08:45:00Z",
    "stakes": {"strategy:value": 21.5},
}
_WITHDRAWN: JsonDict = {
    "run_id": "2024-03-01-v8",
    "match_id": 1042,
    "league_code": "E0",
    "match_date": "2024-03-02",
    "kickoff_utc": "2024-03-02T15:00:00Z",
    "home_team": "Arsenal",
    "away_team": "Everton",
    "market": "1x2",
    "outcome": "home",
    "bookmaker": "pinnacle",
    "published_price": 1.85,
    "price": 1.62,
    "last_update": "2024-03-01T13:45:00Z",
    "p_model": 0.612345,
    "edge": -0.008001,
    "confirmed_edge": -0.02,
}
_EDGE: JsonDict = {
    "market": "1x2",
    "outcome": "home",
    "bookmaker": "pinnacle",
    "price": 1.85,
    "p_model": 0.612345,
    "p_market": 0.52,
    "edge": 0.132838,
    "prob_edge": 0.092345,
    "confirmed_edge": 0.051,
    "p_confirmed": 0.568108,
    "is_value": True,
    "n_bookmakers": 3,
    "excluded_by": None,
    "rule_value": None,
    "last_update": "2024-03-01T08:45:00Z",
    "published_price": None,
}
_EXCLUDED_EDGE: JsonDict = {
    **_EDGE,
    "outcome": "away",
    "price": 13.0,
    "p_model": 0.092769,
    "p_market": 0.071,
    "edge": 0.205997,
    "prob_edge": 0.021769,
    "confirmed_edge": 0.012,
    "p_confirmed": 0.077846,
    "is_value": False,
    "excluded_by": "max_price",
    "rule_value": 10.0,
}
_VALUE_BET_RULES: JsonDict = {
    "edge_threshold": 0.042,
    "min_probability": 0.1,
    "max_price": 10.0,
    "min_bookmakers": 3,
    "price": "best",
    "market_probability": {"source": "avg", "method": "multiplicative"},
    "edge": "p_model * price - 1",
    "excluded_by": ["no_price", "edge_threshold", "max_price", "min_probability", "min_bookmakers"],
}
_STAKING: JsonDict = {
    "portfolio": "default",
    "bankroll": 1000.0,
    "peak_bankroll": 1000.0,
    "unit": "units",
    "kelly_multiplier": 0.125,
    "max_stake_per_bet": 0.02,
    "max_stake_per_league": 0.05,
    "max_stake_per_matchday": 0.1,
    "min_stake": 1.0,
    "stake_step": 0.01,
    "drawdown_throttle": {"reduce_at": 0.2, "factor": 0.5, "stop_at": 0.4},
}
_STAKE: JsonDict = {
    "market": "1x2",
    "outcome": "home",
    "portfolio": "strategy:value",
    "bookmaker": "pinnacle",
    "price": 1.85,
    "p_model": 0.612345,
    "edge": 0.132838,
    "kelly_fraction": 0.156279,
    "fraction": 0.0215,
    "stake": 21.5,
}


class CompactPrediction(BaseModel):
    """A match of an upcoming list: the fixture and the model's probabilities."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MATCH]})

    run_id: str = Field(description="The published run this answer belongs to")
    match_id: int = Field(description="The warehouse's match id")
    league_code: str = Field(description="football-data league code (E0, SP1, ...)")
    season_code: str = Field(examples=["2023-2024"])
    match_date: dt.date
    kickoff_utc: UtcTime | None = Field(description="Kick-off in UTC; null when unknown")
    home_team: str
    away_team: str
    p_home: Probability = Field(description="Probability of a home win")
    p_draw: Probability = Field(description="Probability of a draw")
    p_away: Probability = Field(description="Probability of an away win")
    p_over25: Probability | None = Field(description="Over 2.5 goals, when published")
    p_btts: Probability | None = Field(description="Both teams to score, when published")
    xg_home: float | None = Field(description="Expected goals of the home side, when published")
    xg_away: float | None = Field(description="Expected goals of the away side, when published")


class Prediction(CompactPrediction):
    """A match's prediction with the model version and the run that published it.

    Its markets come from one score grid, published as ``correct_score``: 1X2,
    over 2.5 goals and both teams to score are sums of its probabilities (to
    their 6 decimals' rounding), so no two of them contradict.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_MATCH, "correct_score": _CORRECT_SCORE, **_RUN}]}
    )

    correct_score: dict[str, Probability] | None = Field(
        description=(
            "The probability of each correct score, when published: every score up to 5-5 "
            "(`h-a`, home goals first), then `6+-0` (home 6 or more, away none), `0-6+`, and "
            "`other_home`, `other_draw`, `other_away` (any other home win, draw, away win, "
            "both sides scoring). Summing to 1; p_home, p_draw, p_away, p_over25 and p_btts "
            "are its sums"
        ),
        examples=[_CORRECT_SCORE],
    )
    model_name: str
    model_version: str
    created_at: UtcTime = Field(description="When the run was published (its creation time)")
    as_of: dt.date = Field(description="The date the run's inputs were taken on")
    mode: Literal["live", "replay"]


class ValueBetRules(BaseModel):
    """The rules a run's value bets were decided by (an edge of at least, and the guards)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VALUE_BET_RULES]})

    edge_threshold: float = Field(description="The least edge (p_model x price - 1) of a value bet")
    min_probability: Probability = Field(description="The least model probability")
    max_price: float = Field(description="The highest decimal price")
    min_bookmakers: int = Field(description="The least number of bookmakers quoting the outcome")
    price: str = Field(description="Where the price is taken: best, avg or a bookmaker id")
    market_probability: dict[str, str] = Field(
        description="Which prices give p_market (source) and how the margin comes off (method)"
    )
    edge: str = Field(description="How the edge is computed")
    excluded_by: list[str] = Field(
        description="The rules in the order an outcome is checked; an edge names the first failed"
    )


class Staking(BaseModel):
    """The bankroll a run's stakes were sized against, their unit, and the staking rules."""

    model_config = ConfigDict(json_schema_extra={"examples": [_STAKING]})

    portfolio: str = Field(description="Whose bankroll")
    bankroll: float = Field(description="The bankroll when the stakes were sized, in unit")
    peak_bankroll: float = Field(description="Its peak so far (the drawdown throttle's base)")
    unit: str = Field(description="What stakes and bankroll count (no currency is kept)")
    kelly_multiplier: float = Field(description="The fraction of full Kelly staked")
    max_stake_per_bet: float | None = Field(description="Cap per bet, a fraction of the bankroll")
    max_stake_per_league: float | None = Field(
        description="Cap per league and matchday, a fraction of the bankroll"
    )
    max_stake_per_matchday: float | None = Field(
        description="Cap per matchday, a fraction of the bankroll"
    )
    min_stake: float = Field(description="Stakes below this amount are dropped")
    stake_step: float = Field(description="Stakes are rounded down to this step")
    drawdown_throttle: dict[str, float] | None = Field(
        description="From a drawdown of reduce_at, stakes times factor; none from stop_at"
    )


class Edge(BaseModel):
    """One outcome priced: the model's and the market's (margin-free) probabilities, the edge."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EDGE, _EXCLUDED_EDGE]})

    market: str = Field(examples=["1x2"])
    outcome: str = Field(examples=["home", "draw", "away"])
    bookmaker: str | None = Field(description="Where the best price was found")
    price: float | None = Field(description="Decimal odds taken")
    p_model: Probability
    p_market: Probability | None = Field(description="The market's probability, margin removed")
    edge: float | None = Field(description="p_model x price - 1: the model's stated edge")
    prob_edge: float | None = Field(description="p_model - p_market")
    confirmed_edge: float | None = Field(
        None,
        description="The edge earlier seasons' closing-line value supports for this stated edge "
        "and price (the run's edge model); value bets are chosen and staked on it. Null: no "
        "edge model, or a run published before edges were confirmed",
    )
    p_confirmed: Probability | None = Field(
        None, description="(1 + confirmed_edge) / price: the probability staked on"
    )
    is_value: bool = Field(description="Whether the edge makes it a value bet")
    n_bookmakers: int | None
    excluded_by: (
        Literal[
            "no_price",
            "no_evidence",
            "edge_threshold",
            "max_price",
            "min_probability",
            "min_bookmakers",
            "withdrawn",
        ]
        | None
    ) = Field(
        description="The first value-bet rule the outcome fails (null: a value bet, or a run "
        "published before exclusions were); no_evidence: no closing-line evidence supports an "
        "edge for the model yet (no edge model learned by `sabiscore bets backtest`); "
        "withdrawn: a value bet of the previous published run that is none at this run's price"
    )
    rule_value: float | None = Field(
        description="That rule's value (null for no_price and withdrawn)"
    )
    last_update: UtcTime | None = Field(
        None,
        description="When the price taken was last seen (null: no price, or a run published "
        "before prices were dated)",
    )
    published_price: float | None = Field(
        None, description="A withdrawn bet's price when the previous run published it"
    )


class ValueBet(BaseModel):
    """A value bet with its fixture and the stake each portfolio's rules sized."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VALUE_BET]})

    run_id: str
    match_id: int
    league_code: str
    match_date: dt.date
    kickoff_utc: UtcTime | None
    home_team: str
    away_team: str
    market: str
    outcome: str
    bookmaker: str
    price: float
    p_model: Probability
    p_market: Probability | None
    edge: float
    prob_edge: float | None
    confirmed_edge: float | None = Field(None, description="The edge it was chosen and staked on")
    p_confirmed: Probability | None = None
    n_bookmakers: int | None
    last_update: UtcTime | None = Field(
        None,
        description="When the price was last seen (null: a run published before prices were dated)",
    )
    stakes: dict[str, float] = Field(
        description="portfolio -> stake, in the staking unit ({} when none staked it)"
    )


class WithdrawnBet(BaseModel):
    """A value bet of the previous published run that the current run's prices withdraw."""

    model_config = ConfigDict(json_schema_extra={"examples": [_WITHDRAWN]})

    run_id: str = Field(description="The run withdrawing it")
    match_id: int
    league_code: str
    match_date: dt.date
    kickoff_utc: UtcTime | None
    home_team: str
    away_team: str
    market: str
    outcome: str
    bookmaker: str | None = Field(description="Where the best price is now found")
    published_price: float = Field(description="The price the previous run published it at")
    price: float | None = Field(description="The price on offer now (null: none quoted)")
    last_update: UtcTime | None = Field(description="When that price was last seen")
    p_model: Probability
    edge: float | None = Field(description="p_model x price - 1 at the price now")
    confirmed_edge: float | None = Field(description="The confirmed edge at the price now")


class Stake(BaseModel):
    """A stake sized by a portfolio's rules (fractional Kelly, capped)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_STAKE]})

    market: str
    outcome: str
    portfolio: str
    bookmaker: str
    price: float
    p_model: Probability
    edge: float
    kelly_fraction: float = Field(
        description="The full simultaneous-Kelly fraction, before the multiplier and caps"
    )
    fraction: float = Field(description="Share of the bankroll staked (the run's staking)")
    stake: float = Field(description="fraction x bankroll in the staking unit, rounded down")


class Insight(Prediction):
    """Everything published about a match: prediction, drivers, edges, value bets, stakes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_MATCH,
                    "correct_score": _CORRECT_SCORE,
                    **_RUN,
                    "value_bet_rules": _VALUE_BET_RULES,
                    "staking": _STAKING,
                    "drivers": [
                        {
                            "feature": "elo_diff",
                            "value": 112.5,
                            "contribution": {"home": 0.031, "draw": -0.004, "away": -0.027},
                        }
                    ],
                    "edges": [_EDGE, _EXCLUDED_EDGE],
                    "value_bets": [_VALUE_BET],
                    "stakes": [_STAKE],
                }
            ]
        }
    )

    value_bet_rules: ValueBetRules | None = Field(
        description="The rules deciding value bets in the run (null: not published by the run)"
    )
    staking: Staking | None = Field(
        description="The bankroll, unit and rules the stakes were sized by (null: not published)"
    )
    drivers: Any = Field(
        description=(
            "The match's features that moved the forecast away from the pre-closing market, "
            "largest first: each {feature, value, contribution: {home, draw, away}}, the move "
            "of the centred log-probabilities (a model without per-match attributions gives "
            "{feature, importance, value})"
        )
    )
    edges: list[Edge]
    value_bets: list[ValueBet]
    stakes: list[Stake]


class League(BaseModel):
    """A league of the current run."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"league_code": "E0", "n_predictions": 10}]}
    )

    league_code: str
    n_predictions: int


class ModelVersion(BaseModel):
    """The champion model version and its walk-forward evaluation."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "sabiscore-1x2",
                    "version": "7",
                    "alias": "champion",
                    "mlflow_run_id": "6f1c2e0b9a3d4f5e8c7b6a5d4c3b2a19",
                    "trained_at": "2024-02-28T03:12:44.120000Z",
                    "metrics": {"rps": 0.1987, "log_loss": 0.9721, "ece": 0.012},
                }
            ]
        }
    )

    name: str
    version: str
    alias: Literal["champion"]
    mlflow_run_id: str | None
    trained_at: UtcTime | None = Field(
        description="When the version's model was fitted (not when it was promoted); "
        "null for a version recorded before training times were"
    )
    metrics: dict[str, Any] = Field(
        description="Walk-forward evaluation figures (rps, log_loss, ece, ...)"
    )


_PERFORMANCE_ENTRY: JsonDict = {
    "league_code": "E0",
    "window": "28d",
    "window_start": "2024-04-22",
    "window_end": "2024-05-19",
    "n": 38,
    "rps": 0.191204,
    "log_loss": 0.981532,
    "ece": 0.041877,
    "market_rps": 0.189950,
    "market_log_loss": 0.978001,
    "rps_minus_market": 0.001254,
    "rps_minus_market_se": 0.002911,
    "n_market": 38,
    "close_rps": 0.188731,
    "rps_minus_close": 0.002473,
    "rps_minus_close_se": 0.003002,
    "n_close": 38,
    "n_bets": 12,
    "clv": -0.008312,
    "clv_se": 0.011507,
    "n_clv": 12,
    "early_clv": -0.003105,
    "early_clv_se": 0.006421,
    "n_early_clv": 14,
    "flat_profit": 1.43,
    "flat_roi": 0.119167,
    "staked_profit": 9.87,
    "staked_turnover": 61.2,
    "staked_roi": 0.161275,
    "psi_max": 0.084416,
    "breaches": [],
}


class LeaguePerformance(BaseModel):
    """The monitor's figures of one league (``all``: every league) over one window."""

    model_config = ConfigDict(json_schema_extra={"examples": [_PERFORMANCE_ENTRY]})

    league_code: str = Field(description="A league code, or `all` for every league together")
    window: str = Field(
        description="`all`: every settled published match; `<n>d`: the last n days of them, "
        "ending at the latest"
    )
    window_start: dt.date | None = Field(description="The first match day counted")
    window_end: dt.date | None = Field(description="The last match day counted")
    n: int | None = Field(description="Settled published matches scored")
    rps: float | None = Field(description="The model's mean ranked probability score")
    log_loss: float | None = Field(description="The model's mean log loss")
    ece: float | None = Field(description="The model's expected calibration error (class-wise)")
    market_rps: float | None = Field(
        description="Pinnacle's margin-free pre-closing RPS on the same matches"
    )
    market_log_loss: float | None = Field(description="Pinnacle's pre-closing log loss")
    rps_minus_market: float | None = Field(
        description="Mean per-match RPS of the model minus Pinnacle's pre-closing (lower: better)"
    )
    rps_minus_market_se: float | None = Field(description="Its standard error")
    n_market: int | None = Field(description="Matches with a complete Pinnacle pre-closing price")
    close_rps: float | None = Field(description="Pinnacle's margin-free closing RPS")
    rps_minus_close: float | None = Field(description="Model minus Pinnacle closing, per match")
    rps_minus_close_se: float | None = Field(description="Its standard error")
    n_close: int | None = Field(description="Matches with a complete Pinnacle closing price")
    n_bets: int | None = Field(description="Settled published value bets")
    clv: float | None = Field(
        description="Mean closing-line value of the value bets: price / margin-free closing "
        "price - 1"
    )
    clv_se: float | None = Field(description="Its standard error")
    n_clv: int | None = Field(description="Value bets with a closing price")
    early_clv: float | None = Field(
        None,
        description="Mean early closing-line value of every published value bet, played or "
        "not: price / margin-free price of the latest pre-closing prices seen after the run "
        "and before kick-off - 1 (known before the closing prices are)",
    )
    early_clv_se: float | None = Field(None, description="Its standard error")
    n_early_clv: int | None = Field(
        None, description="Value bets with a later pre-closing price before kick-off"
    )
    flat_profit: float | None = Field(description="Profit of one unit on every value bet")
    flat_roi: float | None = Field(description="That profit per unit staked")
    staked_profit: float | None = Field(
        description="Profit of the stakes the runs sized (every portfolio, in its units)"
    )
    staked_turnover: float | None = Field(description="The sum of those stakes")
    staked_roi: float | None = Field(description="Staked profit per unit staked")
    psi_max: float | None = Field(
        description="The largest population stability index of the model's main inputs "
        "against the feature rows before its first published run"
    )
    breaches: list[str] = Field(description="The figures that crossed their threshold")


class ModelPerformance(BaseModel):
    """What the champion's published predictions and value bets did, per league."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model_name": "sabiscore-1x2",
                    "model_version": "7",
                    "computed_at": "2024-05-20T06:30:00Z",
                    "leagues": [_PERFORMANCE_ENTRY],
                }
            ]
        }
    )

    model_name: str
    model_version: str
    computed_at: UtcTime = Field(description="When the monitor computed these figures")
    leagues: list[LeaguePerformance]


class Health(BaseModel):
    """The process answers."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ok", "version": "0.1.0"}]}
    )

    status: Literal["ok"]
    version: str


class Readiness(BaseModel):
    """Whether the stores answer: ``degraded`` when one of them is down."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "degraded",
                    "redis": "unreachable",
                    "warehouse": "ok",
                    "version": "0.1.0",
                }
            ]
        }
    )

    status: Literal["ok", "degraded", "unavailable"]
    redis: Literal["ok", "unreachable", "disabled"]
    warehouse: Literal["ok", "unreachable"]
    version: str


class Problem(BaseModel):
    """An error: what went wrong, in a sentence."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"detail": "unknown or revoked API key"}]}
    )

    detail: str
    request_id: str | None = Field(None, description="Quote it when reporting a server error")


class ParameterError(BaseModel):
    """One bad parameter."""

    loc: list[str | int] = Field(description="Where: query, path or header, then its name")
    msg: str
    type: str


class ValidationProblem(BaseModel):
    """Bad parameters: ``detail`` names each, ``errors`` lists them."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "query parameter 'min_edge': Input should be a valid number",
                    "errors": [
                        {
                            "loc": ["query", "min_edge"],
                            "msg": "Input should be a valid number",
                            "type": "float_parsing",
                        }
                    ],
                }
            ]
        }
    )

    detail: str
    errors: list[ParameterError]
