"""``sabiscore run``: the main job end to end on the embedded default."""

from __future__ import annotations

import datetime as dt
import time

import typer
from rich.table import Table

from sabiscore_ml.cli.common import (
    build_data_docs,
    console,
    feature_progress,
    init_warehouse,
    print_coverage,
    print_feature_build,
    print_run,
    redact,
    report_outcomes,
    run_items,
    step,
)
from sabiscore_ml.cli.train import train_and_report


def _print_source_summary() -> None:
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.queries import source_summary

    table = Table(title="Other sources, reconciled with the warehouse")
    for column in ("source", "table", "league", "season", "rows", "teams", "linked"):
        table.add_column(
            column, justify="right" if column in ("rows", "teams", "linked") else "left"
        )
    for row in source_summary(get_engine()):
        table.add_row(*(str(value) for value in row))
    console.print(table)


def run() -> None:
    """Run the main job end to end on the embedded default.

    Migrate the warehouse, prepare the MLflow store, load the bundled real
    samples of football-data, Understat, FBref and Transfermarkt (teams
    reconciled across sources), print what was loaded per source and
    league-season, build the offline feature store and the online vectors and
    print the catalogue summary, then train the 1X2 ensemble, evaluate it
    walking forward against the market, register it in MLflow and promote it.

    Example: [bold]sabiscore run[/]
    """
    from sabiscore_ml.jobs.football_data import bundled_sample_dir, plan_football_data
    from sabiscore_ml.jobs.sources import SOURCES, plan_source
    from sabiscore_ml.registry import init_mlflow_store
    from sabiscore_ml.settings import get_mlflow_settings, get_warehouse_settings

    started = time.perf_counter()
    step(f"warehouse: {redact(get_warehouse_settings().url)}")
    init_warehouse()
    step(f"MLflow store: {redact(get_mlflow_settings().uri)}")
    init_mlflow_store()
    sample = bundled_sample_dir()
    items = plan_football_data(from_dir=str(sample))
    step(f"ingesting {len(items)} football-data files from {sample}")
    status = report_outcomes(run_items(items, "football-data"))
    print_coverage()
    for source in SOURCES:
        folder = sample.parent / source
        source_items = plan_source(source, from_dir=str(folder))
        step(f"ingesting {len(source_items)} {source} files from {folder}")
        status = max(status, report_outcomes(run_items(source_items, source), unit="rows"))
    _print_source_summary()
    status = max(status, _run_features())
    if status == 0:
        from sabiscore_ml.jobs.training import TrainRequest

        replay_day = _last_matchday()
        step(
            f"training the 1X2 ensemble on the sample's matches before {replay_day} "
            "(defaults, no tuning); its latest season is walked forward and paired with "
            "the market"
        )
        train_and_report(TrainRequest(as_of=replay_day.isoformat()))
        status = max(status, _run_predict(replay_day))
    build_data_docs()
    step(f"finished in {time.perf_counter() - started:.1f} s")
    raise typer.Exit(status)


def _last_matchday() -> dt.date:
    """The first day of the samples' last matchday (the day ``run`` replays)."""
    from sqlalchemy import func, select

    from sabiscore_ml.jobs.predict import next_matchday
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.models import Match

    engine = get_engine()
    with engine.connect() as connection:
        last = connection.execute(select(func.max(Match.match_date))).scalar_one()
    last = dt.date.fromisoformat(last) if isinstance(last, str) else last
    windows = next_matchday(engine, last - dt.timedelta(days=3))
    return min(start for start, _ in windows.values())


def _run_predict(as_of: dt.date) -> int:
    """Score the samples' last matchday (replayed as if upcoming) and publish it."""
    from sabiscore_ml.jobs.predict import PredictRequest, publish_run, save_run
    from sabiscore_ml.jobs.predict import predict as predict_job
    from sabiscore_ml.warehouse.engine import get_engine

    engine = get_engine()
    step(
        f"predicting the fixtures from {as_of} (the samples' last matchday, replayed: "
        "results from that day on are hidden), value bets and 1/8-Kelly stakes"
    )
    run = predict_job(PredictRequest(as_of=as_of.isoformat()), engine=engine, progress=step)
    save_run(run)
    print_run(run)
    summary = publish_run(run, engine=engine)
    where = "the warehouse" + (" and Redis" if summary["redis"] else "")
    step(
        f"published run {run.run_id} to {where}: {summary['predictions']} predictions, "
        f"{summary['value_bets']} value bets, {summary['stakes']} stakes"
    )
    return 0


def _run_features() -> int:
    """Build the features of everything loaded; online vectors for the last matchday."""
    from sqlalchemy import func, select

    from feature_store.api import build_features
    from feature_store.catalog import FAMILIES, feature_names
    from feature_store.offline import coverage_by_feature
    from sabiscore_ml.warehouse.engine import get_engine
    from sabiscore_ml.warehouse.models import Match

    engine = get_engine()
    with engine.connect() as connection:
        last = connection.execute(select(func.max(Match.match_date))).scalar_one()
    if last is None:
        return 0
    last = dt.date.fromisoformat(last) if isinstance(last, str) else last
    step(
        f"building {len(feature_names())} features; online vectors for the fixtures from "
        f"{last} (the samples' last matchday, replayed as if upcoming)"
    )
    build = build_features(
        as_of=last,
        engine=engine,
        progress=feature_progress,
    )
    print_feature_build(build)
    coverage, _ = coverage_by_feature(engine)
    table = Table(title="Feature catalogue summary")
    for column in ("family", "features", "mean coverage"):
        table.add_column(column, justify="left" if column == "family" else "right")
    for family in FAMILIES:
        names = [d.name for d in family.definitions]
        mean = sum(coverage.get(n, 0.0) for n in names) / len(names)
        table.add_row(family.name, str(len(names)), f"{mean:.0%}")
    console.print(table)
    return 0
