"""Score the next matchday with the champion, find value bets, size stakes, publish.

The steps of the ``predict_and_publish`` DAG and of ``sabiscore predict`` /
``sabiscore publish``:

1. the fixtures: per league, the first matchday on or after the as-of date
   (every fixture dated within ``days`` of the league's first one);
2. their features *as known on the as-of date's morning*
   (:func:`feature_store.api.scoring_features`): the online vectors
   ``build_features`` wrote when they are current (same catalogue version, same
   inputs fingerprint, nothing in the warehouse dated from the as-of date on),
   else recomputed from the history (:func:`feature_store.api.features_as_of`,
   logged with the reason): in a replay, results between the as-of date and a
   fixture are hidden, so nothing from after that date is used;
3. the champion's probabilities (1X2, over/under 2.5, both teams to score,
   expected goals) and the features that weigh most in it, with their values;
4. edges at the pre-closing prices on offer (with when each price was last
   seen), value bets, the previous published run's value bets these prices
   withdraw (``excluded_by = "withdrawn"``), and fractional-Kelly
   stakes for the portfolio against its current bankroll and peak; the rules
   used (value-bet rules, bankroll, unit, Kelly multiplier, caps) go with the
   run into its published meta and insight documents;
5. :func:`sabiscore_ml.publish.publish`: the warehouse history, then Redis
   when ``SABISCORE_REDIS_URL`` is set.

The run id hashes the model version, the as-of date, the mode and the scored
numbers (predictions, edges at their prices with when each was seen, stakes):
the same inputs give the same run, and publishing it again changes nothing; a
later copy of the prices on the same day makes another run, which re-prices
the previous one's value bets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from sqlalchemy import Engine, select
from sqlalchemy.orm import aliased

from sabiscore_ml.betting.edges import (
    AVERAGE,
    SHARP_MARKET,
    PriceChoice,
    ValueBetRules,
    evidence_rules,
    match_edges,
)
from sabiscore_ml.betting.kelly import StakingRules, size_stakes
from sabiscore_ml.betting.portfolio import (
    PortfolioError,
    PortfolioRecord,
    bankroll_state,
    check_rules,
    create_portfolio,
    find_portfolio,
)
from sabiscore_ml.prices import last_seen, preclose_quotes
from sabiscore_ml.publish.contract import WITHDRAWN_BY
from sabiscore_ml.settings import get_core_settings, get_model_settings
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import Match, Team

if TYPE_CHECKING:
    from sabiscore_ml.models.bundle import ModelBundle
    from sabiscore_ml.models.registry import RegisteredVersion
    from sabiscore_ml.publish import PublishedRun
    from sabiscore_ml.publish.run import Mode

log = logging.getLogger(__name__)
Progress = Callable[[str], None]
DRIVERS = 8  # features listed per prediction
STAKE_UNIT = "units"  # portfolios keep no currency: stakes are in the bankroll's own units


@dataclass(frozen=True)
class PredictRequest:
    """What to score and how to stake (the DAG's Params, the CLI's options)."""

    as_of: str | None = None  # ISO date: a replay; None: today, live
    leagues: tuple[str, ...] = ()
    days: int = 4  # a matchday: fixtures within this many days of a league's first
    price: str = "best"  # best | avg | a bookmaker id
    edge: float = 0.042
    kelly: float = 0.125
    portfolio: str = "default"
    bankroll: float = 1000.0  # the portfolio's starting bankroll, when it is created
    model: str = "champion"  # alias or version
    replay: bool | None = None  # default: a replay when an as-of date is given

    @property
    def mode(self) -> Mode:
        """``replay`` (results from the as-of date on are hidden) or ``live``."""
        replay = self.replay if self.replay is not None else self.as_of is not None
        return "replay" if replay else "live"

    def day(self) -> dt.date:
        """The as-of date (today when live)."""
        return dt.date.fromisoformat(self.as_of) if self.as_of else dt.date.today()

    @staticmethod
    def from_dict(values: dict[str, Any]) -> PredictRequest:
        """From XCom / Params."""
        known = {k: v for k, v in values.items() if k in PredictRequest.__dataclass_fields__}
        if "leagues" in known:
            known["leagues"] = tuple(known["leagues"] or ())
        if not known.get("as_of"):
            known["as_of"] = None
        return PredictRequest(**known)


# Download refusals after which a live run goes on with the fixtures already known.
DOWNLOAD_CHECKS = frozenset({"fetch", "robots", "blocked"})


def refresh_fixtures(request: PredictRequest, *, engine: Engine | None = None) -> dict[str, object]:
    """Before a live run: load football-data's ``fixtures.csv`` (upcoming matches, current odds).

    A replay changes nothing (its fixtures are history).  A download that fails
    (network or HTTP error, robots.txt, a block page) is logged and the run goes
    on with the fixtures the warehouse already has; a copy whose content is
    rejected raises :class:`~sabiscore_ml.errors.SabiscoreError` naming the file
    and the check (the copy waits in the archive's quarantine and the warehouse
    is unchanged).  Returns a small summary (XCom).
    """
    from sabiscore_ml.errors import SabiscoreError
    from sabiscore_ml.jobs.football_data import REJECTED, ingest_football_data_fixtures_remote

    if request.mode == "replay":
        return {"status": "skipped", "message": "a replay: fixtures.csv is not downloaded"}
    outcome = ingest_football_data_fixtures_remote(engine=engine)
    summary: dict[str, object] = {
        "status": outcome.status,
        "check": outcome.check,
        "matches": outcome.matches,
        "odds": outcome.odds,
        "per_league_season": outcome.per_league_season,
        "message": (outcome.message or "")[:500],
    }
    if outcome.status == REJECTED and outcome.check in DOWNLOAD_CHECKS:
        log.warning("fixtures not refreshed, scoring those already known: %s", outcome.message)
    elif outcome.status == REJECTED:
        raise SabiscoreError(outcome.message)
    else:
        log.info("%s: %s", outcome.uri, outcome.message)
    return summary


def next_matchday(
    engine: Engine,
    as_of: dt.date,
    *,
    leagues: Sequence[str] = (),
    days: int = 4,
    horizon_days: int | None = None,
) -> dict[str, tuple[dt.date, dt.date]]:
    """Per league, the window of its next matchday: its first fixture on or after ``as_of``.

    Leagues whose next fixture is more than ``horizon_days`` away (default:
    ``SABISCORE_FEATURES_ONLINE_HORIZON_DAYS``) have no next matchday yet.
    """
    from sabiscore_ml.settings import get_feature_store_settings

    horizon = horizon_days or get_feature_store_settings().online_horizon_days
    stmt = select(Match.league_code, Match.match_date).where(
        Match.match_date >= as_of, Match.match_date < as_of + dt.timedelta(days=horizon)
    )
    if leagues:
        stmt = stmt.where(Match.league_code.in_(list(leagues)))
    with engine.connect() as connection:
        rows = connection.execute(stmt).all()
    first: dict[str, dt.date] = {}
    for league, day in rows:
        day = dt.date.fromisoformat(day) if isinstance(day, str) else day
        if league not in first or day < first[league]:
            first[league] = day
    return {league: (day, day + dt.timedelta(days=days - 1)) for league, day in first.items()}


def priced_edges(
    engine: Engine, predictions: pl.DataFrame, price_choice: PriceChoice, rules: ValueBetRules
) -> pl.DataFrame:
    """Edges of the predictions at the pre-closing prices on offer, per match and outcome.

    The prices are :func:`sabiscore_ml.prices.preclose_quotes`, those the
    bankroll backtest takes, in their long shape: the edges (a row per match and
    outcome) keep it through the stakes to the published documents.  A
    backtest figure speaks of this path.  Rules resting on the closing line's
    evidence (an edge model) take the market probability it was learned with,
    Pinnacle's pre-closing one, as the bankroll backtest does.
    """
    ids = predictions["match_id"].to_list()
    quotes = preclose_quotes(engine, ids)
    edges = match_edges(
        predictions.select("match_id", "match_date", "league_code", "p_home", "p_draw", "p_away"),
        quotes,
        price_choice=price_choice,
        rules=rules,
        market_probability=SHARP_MARKET if rules.uses_evidence else None,
    )
    return with_last_update(edges, last_seen(engine, ids))


def with_last_update(edges: pl.DataFrame, seen: pl.DataFrame) -> pl.DataFrame:
    """``edges`` with ``last_update``: when the price taken was last seen (naive UTC).

    ``seen``: :func:`sabiscore_ml.prices.last_seen` rows.  The moment of the
    bookmaker whose price was taken; for a price averaged over bookmakers
    (``avg``) the latest of the match's; null without a price.
    """
    seen = seen.select(
        pl.col("match_id").cast(pl.Int64),
        pl.col("bookmaker").cast(pl.String),
        pl.col("last_update").cast(pl.Datetime("us")),
    )
    latest = seen.group_by("match_id").agg(pl.col("last_update").max().alias("_latest"))
    return (
        edges.join(seen, on=["match_id", "bookmaker"], how="left")
        .join(latest, on="match_id", how="left")
        .with_columns(
            pl.when(pl.col("price").is_null())
            .then(None)
            .when(pl.col("bookmaker") == AVERAGE)
            .then(pl.col("_latest"))
            .otherwise(pl.col("last_update"))
            .alias("last_update")
        )
        .drop("_latest")
    )


def previous_value_bets(engine: Engine, mode: str, as_of: dt.date) -> pl.DataFrame:
    """The value bets of the latest published run of ``mode`` made on or before ``as_of``.

    Columns ``match_id``, ``market``, ``outcome``, ``published_price``; empty
    when there is no such run.
    """
    from sabiscore_ml.publish import latest_run
    from sabiscore_ml.warehouse.models import RunEdge

    schema = {
        "match_id": pl.Int64,
        "market": pl.String,
        "outcome": pl.String,
        "published_price": pl.Float64,
    }
    previous = latest_run(engine, mode=mode)
    if previous is None or previous.as_of > as_of:
        return pl.DataFrame(schema=schema)
    with engine.connect() as connection:
        rows = connection.execute(
            select(RunEdge.match_id, RunEdge.market, RunEdge.outcome, RunEdge.price).where(
                RunEdge.run_id == previous.run_id, RunEdge.is_value.is_(True)
            )
        ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def withdraw_moved(edges: pl.DataFrame, published: pl.DataFrame) -> pl.DataFrame:
    """``edges`` with the value bets of ``published`` no longer value bets marked withdrawn.

    ``published``: :func:`previous_value_bets`.  An outcome that was a
    published value bet and is none at the current prices (its price moved
    down, below what the rules ask) gets ``excluded_by = "withdrawn"``,
    ``rule_value`` null and ``published_price``; the others keep their
    exclusion, and ``published_price`` is null.  Bets still holding stay value bets.
    """
    key = ["match_id", "market", "outcome"]
    joined = edges.join(published.select(*key, "published_price"), on=key, how="left")
    withdrawn = pl.col("published_price").is_not_null() & pl.col("is_value").not_()
    return joined.with_columns(
        pl.when(withdrawn).then(pl.lit(WITHDRAWN_BY)).otherwise("excluded_by").alias("excluded_by"),
        pl.when(withdrawn).then(None).otherwise("rule_value").alias("rule_value"),
        pl.when(withdrawn).then("published_price").otherwise(None).alias("published_price"),
    )


def _fixture_names(engine: Engine, match_ids: Sequence[int]) -> pl.DataFrame:
    home, away = aliased(Team), aliased(Team)
    with engine.connect() as connection:
        rows = connection.execute(
            select(Match.id, Match.kickoff_utc, home.name, away.name)
            .join(home, home.id == Match.home_team_id)
            .join(away, away.id == Match.away_team_id)
            .where(Match.id.in_([int(m) for m in match_ids]))
        ).all()
    return pl.DataFrame(
        [(r[0], r[1], r[2], r[3]) for r in rows],
        schema={
            "match_id": pl.Int64,
            "kickoff_utc": pl.Datetime("us"),
            "home_team": pl.String,
            "away_team": pl.String,
        },
        orient="row",
    )


def _drivers(bundle: ModelBundle, frame: pl.DataFrame) -> list[str]:
    """Each match's own drivers (JSON): the features moving its forecast from the market.

    Every object is ``{"feature", "value", "contribution": {"home", "draw", "away"}}``
    (:meth:`ModelBundle.explain`: the move of the market's centred log-probabilities).
    A model without per-match attributions lists its most important features
    instead, the same for every match, as ``{"feature", "importance", "value"}``.
    """
    try:
        explained = bundle.explain(frame, top=DRIVERS)
    except TypeError:
        return _global_drivers(bundle, frame)
    return [
        json.dumps(
            [
                {
                    "feature": d["feature"],
                    "value": None if d["value"] is None else round(d["value"], 6),
                    "contribution": {k: round(v, 6) for k, v in d["contribution"].items()},
                }
                for d in row["drivers"]
            ],
            separators=(",", ":"),
        )
        for row in explained
    ]


def _global_drivers(bundle: ModelBundle, frame: pl.DataFrame) -> list[str]:
    """The most important features of the model, with each match's values (JSON)."""
    importance = bundle.outcome.feature_importance().head(DRIVERS)
    names = [n for n in importance.index if n in frame.columns]
    rows = frame.select(names).to_dicts() if names else [{} for _ in range(frame.height)]
    return [
        json.dumps(
            [
                {
                    "feature": n,
                    "importance": round(float(importance[n]), 6),
                    "value": None if row[n] is None else round(float(row[n]), 6),
                }
                for n in names
            ],
            separators=(",", ":"),
        )
        for row in rows
    ]


def load_model(reference: str) -> tuple[RegisteredVersion, ModelBundle]:
    """The registered version ``reference`` (an alias or a number) names, and its bundle.

    The alias is resolved once and that exact version is loaded
    (``models:/<name>/<version>``): an alias moved in between (a promotion) does
    not give the run a bundle other than the version it is labelled with.
    """
    from sabiscore_ml.models import registry

    version = registry.resolve_version(reference)
    return version, registry.load_bundle(version.version)


def predict(
    request: PredictRequest, *, engine: Engine | None = None, progress: Progress | None = None
) -> PublishedRun:
    """Score the next matchday; returns the :class:`~sabiscore_ml.publish.PublishedRun`."""
    from feature_store.api import scoring_features
    from sabiscore_ml.publish import PublishedRun

    say = progress or (lambda message: log.info(message))
    engine = engine or get_engine()
    as_of = request.day()
    portfolio = staking_portfolio(engine, request)
    version, bundle = load_model(request.model)
    version_label = version.version
    windows = next_matchday(engine, as_of, leagues=request.leagues, days=request.days)
    if not windows:
        raise ValueError(
            f"no fixture on or after {as_of} in {list(request.leagues) or 'any league'}"
        )
    until = max(end for _, end in windows.values())
    features = scoring_features(as_of, until, leagues=sorted(windows), engine=engine)
    if features.source == "online":
        log.info("features: the online store's vectors (%s)", features.reason)
    else:
        log.warning("features: recomputed from the history, %s", features.reason)
    frame = features.frame
    in_window = pl.any_horizontal(
        (pl.col("league_code") == league)
        & (pl.col("match_date") >= start)
        & (pl.col("match_date") <= end)
        for league, (start, end) in windows.items()
    )
    frame = frame.filter(in_window)
    say(
        f"{frame.height} fixture(s) of {', '.join(sorted(windows))} from {as_of} "
        f"({request.mode}), model {get_model_settings().name} v{version_label}"
    )
    probs = bundle.predict(frame)
    ids = frame["match_id"].to_list()
    predictions = (
        frame.select("match_id", "league_code", "season_code", "match_date")
        .with_columns(
            *(pl.Series(c, probs[c].to_numpy()) for c in probs.columns if c != "correct_score"),
            # JSON text, or None for every match of a bundle without a goals model
            pl.Series("correct_score", probs["correct_score"].tolist(), dtype=pl.String),
            pl.Series("drivers", _drivers(bundle, frame)),
        )
        .join(_fixture_names(engine, ids), on="match_id", how="left")
    )
    # value bets on the edge the closing line confirmed, by the model the bankroll backtest stored
    price_choice = PriceChoice(request.price)
    rules = evidence_rules(request.edge, get_core_settings().home_dir)
    edges = priced_edges(engine, predictions, price_choice, rules)
    # the previous run's value bets the current prices no longer make value bets
    edges = withdraw_moved(edges, previous_value_bets(engine, request.mode, as_of))
    state = bankroll_state(engine, portfolio)
    staking_rules = StakingRules(kelly_multiplier=request.kelly)
    staking = size_stakes(edges, state.equity, state.peak_equity, staking_rules)
    stakes = (
        staking.to_frame()
        .drop("match_date", "league_code")
        .with_columns(pl.lit(portfolio.name).alias("portfolio"))
    )
    value = edges.filter(pl.col("is_value").fill_null(False)).height
    say(
        f"{value} value bet(s) at edge >= {request.edge:.3f}; {stakes.height} stake(s) "
        f"totalling {stakes['stake'].sum():.2f} of a {state.equity:.2f} bankroll"
    )
    digest = hashlib.sha256(
        json.dumps(
            [
                version_label,
                as_of.isoformat(),
                request.mode,
                request.price,
                request.edge,
                request.kelly,
                request.portfolio,
            ],
            sort_keys=True,
        ).encode()
        + predictions.drop("drivers").write_csv().encode()
        # the prices and when they were seen: a later copy of them makes another run
        + edges.drop("match_date", "league_code")
        .sort("match_id", "market", "outcome")
        .write_csv()
        .encode()
        + stakes.write_csv().encode()
    ).hexdigest()[:24]
    return PublishedRun(
        run_id=f"{as_of:%Y%m%d}-{digest}",
        model_name=get_model_settings().name,
        model_version=str(version_label),
        created_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        as_of=as_of,
        mode=request.mode,
        predictions=predictions,
        edges=edges.drop("match_date", "league_code"),
        stakes=stakes,
        value_bet_rules=rules.describe(price_choice, SHARP_MARKET),
        staking=staking_document(staking_rules, request.portfolio, state.equity, state.peak_equity),
    )


def staking_portfolio(engine: Engine, request: PredictRequest) -> PortfolioRecord:
    """The portfolio a run stakes for, created when there is none.

    A new portfolio gets the request's bankroll and Kelly multiplier; an existing
    one is used when it has both.
    A bankroll that is not a positive amount or a Kelly multiplier outside (0, 1]
    is refused whether the portfolio exists or not.  An existing portfolio asked
    for with another Kelly multiplier or starting bankroll is refused too, rather
    than updated: a scheduled run asking for the defaults would otherwise change a
    user's portfolio, and a bankroll changes only by a recorded transfer.
    Raises :class:`~sabiscore_ml.betting.portfolio.PortfolioError`.
    """
    check_rules(request.portfolio, request.bankroll, request.kelly)
    record = find_portfolio(engine, request.portfolio)
    if record is None:
        log.info(
            "portfolio %r created: bankroll %.2f, Kelly multiplier %s",
            request.portfolio,
            request.bankroll,
            request.kelly,
        )
        return create_portfolio(
            engine, request.portfolio, request.bankroll, kelly_multiplier=request.kelly
        )
    differences = []
    if not math.isclose(record.kelly_multiplier, request.kelly, rel_tol=1e-9):
        differences.append(
            f"a Kelly multiplier of {record.kelly_multiplier:g} "
            f"(this run asks for {request.kelly:g}: ask for {record.kelly_multiplier:g}, "
            f"`--kelly {record.kelly_multiplier:g}`)"
        )
    if round(request.bankroll, 2) != round(record.starting_bankroll, 2):
        differences.append(
            f"a starting bankroll of {record.starting_bankroll:.2f} "
            f"(this run asks for {request.bankroll:.2f}: ask for {record.starting_bankroll:.2f}; "
            "money moves in or out of a portfolio by a transfer, never by a run)"
        )
    if differences:
        raise PortfolioError(
            f"portfolio {record.name!r} exists with {' and '.join(differences)}; "
            "or stake under another portfolio name (`--portfolio`)"
        )
    return record


def staking_document(
    rules: StakingRules, portfolio: str, bankroll: float, peak_bankroll: float
) -> dict[str, Any]:
    """What a run's stakes mean: whose bankroll, how large, in which unit, by which rules."""
    return {
        "portfolio": portfolio,
        "bankroll": float(bankroll),
        "peak_bankroll": float(peak_bankroll),
        "unit": STAKE_UNIT,
        **rules.describe(),
    }


def run_path(run_id: str) -> Path:
    """The folder where a scored run waits to be published (``sabiscore publish --run-id``)."""
    return get_core_settings().home_dir / "runs" / run_id


_FRAMES = ("predictions", "edges", "stakes")


def save_run(run: PublishedRun) -> Path:
    """Keep a scored run on disk (a header and three Parquet frames), to publish later."""
    path = run_path(run.run_id)
    path.mkdir(parents=True, exist_ok=True)
    for name in _FRAMES:
        getattr(run, name).write_parquet(path / f"{name}.parquet")
    header = {
        "run_id": run.run_id,
        "model_name": run.model_name,
        "model_version": run.model_version,
        "created_at": run.created_at.isoformat(),
        "as_of": run.as_of.isoformat(),
        "mode": run.mode,
        "value_bet_rules": run.value_bet_rules,
        "staking": run.staking,
    }
    (path / "run.json").write_text(json.dumps(header, sort_keys=True))
    return path


def load_run(run_id: str) -> PublishedRun:
    """A run kept by :func:`save_run`."""
    from sabiscore_ml.publish import PublishedRun

    path = run_path(run_id)
    if not (path / "run.json").is_file():
        raise FileNotFoundError(f"no scored run {run_id} under {path.parent}")
    header = json.loads((path / "run.json").read_text())
    return PublishedRun(
        run_id=header["run_id"],
        model_name=header["model_name"],
        model_version=header["model_version"],
        created_at=dt.datetime.fromisoformat(header["created_at"]),
        as_of=dt.date.fromisoformat(header["as_of"]),
        mode=header["mode"],
        value_bet_rules=header.get("value_bet_rules"),
        staking=header.get("staking"),
        **{name: pl.read_parquet(path / f"{name}.parquet") for name in _FRAMES},
    )


def publish_run(run: PublishedRun, *, engine: Engine | None = None) -> dict[str, object]:
    """Publish to the warehouse, and to Redis when configured; returns a summary."""
    from feature_store.online import redis_client
    from sabiscore_ml.publish import publish

    engine = engine or get_engine()
    client = redis_client()
    try:
        report = publish(run, engine=engine, redis_client=client)
    finally:
        if client is not None:
            client.close()
    return {
        "run_id": run.run_id,
        "warehouse_inserted": report.warehouse.inserted,
        "redis": None
        if report.redis is None
        else {
            "switched": report.redis.switched,
            "documents": report.redis.documents,
            "alerts": report.redis.alerts,
        },
        "predictions": run.predictions.height,
        "value_bets": int(run.edges["is_value"].fill_null(False).sum()) if run.edges.height else 0,
        "stakes": run.stakes.height,
    }
