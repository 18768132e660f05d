"""The main job end to end (``sabiscore run``), on whatever warehouse the settings name.

:func:`run` migrates the warehouse, prepares the MLflow store, loads the bundled
real samples of every source (football-data first, so the others find their
rosters), builds the offline feature store and the online vectors of the
samples' last matchday, then, when every file loaded, trains the 1X2 ensemble
on the matches before that matchday (walked forward against the market,
registered, promoted), replays the matchday as if upcoming and publishes it.

It prints nothing: it tells what it does to a ``progress`` callback, one
:data:`RunEvent` at a time — a :class:`Step` line, a batch of work items
(:class:`ItemsStarted`, :class:`ItemDone`, :class:`ItemsFinished`, then
:class:`Loaded` with their outcomes), and the results worth a table.  The CLI
renders them (``sabiscore_ml.cli.common.Printer``); without a callback the steps
are logged.  The pieces (:func:`load`, :func:`train_and_compare`,
:func:`data_docs`...) serve the other commands too.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from feature_store.api import FeatureBuild
    from sabiscore_ml.data_docs import DataDocs
    from sabiscore_ml.jobs.football_data import IngestOutcome
    from sabiscore_ml.jobs.training import TrainReport, TrainRequest
    from sabiscore_ml.models.evaluation import Comparison
    from sabiscore_ml.publish import PublishedRun
    from sabiscore_ml.warehouse.queries import Coverage

log = logging.getLogger(__name__)

BAD_STATUSES = ("rejected", "failed")  # outcomes that make a load fail


@dataclass(frozen=True, slots=True)
class Step:
    """One line of progress."""

    text: str


@dataclass(frozen=True, slots=True)
class ItemsStarted:
    """A batch of ``total`` work items begins."""

    label: str
    total: int


@dataclass(frozen=True, slots=True)
class ItemDone:
    """One work item of the batch ran (``item``: its short name)."""

    item: str
    outcome: IngestOutcome


@dataclass(frozen=True, slots=True)
class ItemsFinished:
    """The batch stopped: every item ran, or one raised."""

    label: str


@dataclass(frozen=True, slots=True)
class Loaded:
    """The outcomes of a batch of files; ``unit`` is what their counts count."""

    label: str
    unit: str  # "matches" (football-data: matches and odds) or "rows"
    outcomes: tuple[IngestOutcome, ...]

    @property
    def status(self) -> int:
        """The exit status of the load: 1 if any file was rejected or failed, else 0."""
        return 1 if any(o.status in BAD_STATUSES for o in self.outcomes) else 0


@dataclass(frozen=True, slots=True)
class WarehouseCoverage:
    """Matches and 1X2 odds per league-season in the warehouse."""

    rows: tuple[Coverage, ...]


@dataclass(frozen=True, slots=True)
class SourceSummary:
    """Per other source, table and league-season: rows, teams, rows linked to a match."""

    rows: tuple[tuple[str, str, str, str | None, int, int, int], ...]


@dataclass(frozen=True, slots=True)
class FeaturesBuilt:
    """The offline partitions rebuilt and the online vectors written."""

    build: FeatureBuild


@dataclass(frozen=True, slots=True)
class FamilyCoverage:
    """One feature family: its number of features and their mean coverage (0 to 1)."""

    family: str
    features: int
    coverage: float


@dataclass(frozen=True, slots=True)
class CatalogueSummary:
    """The feature catalogue's families, with their coverage over the built partitions."""

    families: tuple[FamilyCoverage, ...]


@dataclass(frozen=True, slots=True)
class Trained:
    """A training run, and its walk-forward predictions scored against the market."""

    report: TrainReport
    comparison: Comparison
    seasons: tuple[str, ...]  # walked forward, sorted


@dataclass(frozen=True, slots=True)
class Scored:
    """A scored run: its predictions, value bets and stakes."""

    run: PublishedRun


@dataclass(frozen=True, slots=True)
class DataDocsBuilt:
    """The Data Docs site built, in ``seconds``."""

    docs: DataDocs
    seconds: float


@dataclass(frozen=True, slots=True)
class DataDocsFailed:
    """The Data Docs could not be written (the loads themselves are done)."""

    error: str


RunEvent: TypeAlias = (
    Step
    | ItemsStarted
    | ItemDone
    | ItemsFinished
    | Loaded
    | WarehouseCoverage
    | SourceSummary
    | FeaturesBuilt
    | CatalogueSummary
    | Trained
    | Scored
    | DataDocsBuilt
    | DataDocsFailed
)
RunProgress: TypeAlias = Callable[[RunEvent], None]


def log_progress(event: RunEvent) -> None:
    """The default ``progress``: steps and loads to the log, the rest left out."""
    if isinstance(event, Step):
        log.info(event.text)
    elif isinstance(event, Loaded):
        loaded = sum(o.ok for o in event.outcomes)
        log.info("%s: %d of %d file(s) loaded", event.label, loaded, len(event.outcomes))


def redact(url: str) -> str:
    """``url`` without its password (unchanged when it is not a database URL)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a database URL (e.g. http://mlflow)
        return url


def load(
    items: Sequence[dict[str, str]], label: str, progress: RunProgress, *, unit: str = "matches"
) -> Loaded:
    """Run the work items of a plan in order, telling each one to ``progress``."""
    from sabiscore_ml.jobs.workitems import run_work_items, work_item_label

    outcomes: list[IngestOutcome] = []
    progress(ItemsStarted(label, len(items)))
    try:
        for outcome in run_work_items(items):
            outcomes.append(outcome)
            progress(ItemDone(work_item_label(items[len(outcomes) - 1]), outcome))
    finally:
        progress(ItemsFinished(label))
    loaded = Loaded(label, unit, tuple(outcomes))
    progress(loaded)
    return loaded


def data_docs(progress: RunProgress) -> None:
    """Render the Data Docs of the validation results recorded so far (when they are on)."""
    from sabiscore_ml.data_docs import build_data_docs

    started = time.perf_counter()
    try:
        docs = build_data_docs()
    except OSError as exc:  # the load itself is done: say so, do not fail it
        progress(DataDocsFailed(str(exc)))
        return
    if docs is not None:
        progress(DataDocsBuilt(docs, time.perf_counter() - started))


def feature_progress(progress: RunProgress) -> Callable[[str, int, int], None]:
    """A ``build_features`` progress callback telling each country's partitions as a step."""

    def told(country: str, parts: int, rows: int) -> None:
        progress(Step(f"features: {country}: {parts} partition(s) from {rows:,} matches"))

    return told


def train_and_compare(request: TrainRequest, progress: RunProgress) -> Trained:
    """Train, then score the walk-forward predictions against the market.

    Every step of :func:`sabiscore_ml.jobs.training.train`; a request it refuses
    is a :class:`~sabiscore_ml.errors.SabiscoreError`.
    """
    import polars as pl

    from sabiscore_ml.errors import SabiscoreError
    from sabiscore_ml.jobs.training import train
    from sabiscore_ml.models.evaluation import compare

    try:
        report = train(request, progress=lambda text: progress(Step(text)))
    except ValueError as error:
        raise SabiscoreError(str(error)) from error
    if report.predictions_path is None:
        raise SabiscoreError(f"training run {report.run_id} kept no walk-forward predictions")
    predictions = pl.read_parquet(report.predictions_path)
    seasons = tuple(sorted(predictions["season_code"].unique().to_list()))
    trained = Trained(report, compare(predictions), seasons)
    progress(trained)
    return trained


def last_matchday(engine: Engine) -> dt.date:
    """The first day of the warehouse's last matchday (the day :func:`run` replays)."""
    from sabiscore_ml.jobs.predict import next_matchday

    last = _last_match_date(engine)
    if last is None:
        raise ValueError("the warehouse holds no match")
    windows = next_matchday(engine, last - dt.timedelta(days=3))
    return min(start for start, _ in windows.values())


def _last_match_date(engine: Engine) -> dt.date | None:
    from sqlalchemy import func, select

    from sabiscore_ml.warehouse.models import Match

    with engine.connect() as connection:
        last: dt.date | str | None = connection.execute(
            select(func.max(Match.match_date))
        ).scalar_one()
    return dt.date.fromisoformat(last) if isinstance(last, str) else last


def build_run_features(engine: Engine, progress: RunProgress) -> None:
    """Build the features of everything loaded; online vectors for the last matchday."""
    from feature_store.api import build_features
    from feature_store.catalog import FAMILIES, feature_names
    from feature_store.offline import coverage_by_feature

    last = _last_match_date(engine)
    if last is None:
        return
    progress(
        Step(
            f"building {len(feature_names())} features; online vectors for the fixtures from "
            f"{last} (the samples' last matchday, replayed as if upcoming)"
        )
    )
    build = build_features(as_of=last, engine=engine, progress=feature_progress(progress))
    progress(FeaturesBuilt(build))
    coverage, _ = coverage_by_feature(engine)
    families = []
    for family in FAMILIES:
        names = [d.name for d in family.definitions]
        mean = sum(coverage.get(n, 0.0) for n in names) / len(names)
        families.append(FamilyCoverage(family.name, len(names), mean))
    progress(CatalogueSummary(tuple(families)))


def predict_and_publish(as_of: dt.date, engine: Engine, progress: RunProgress) -> PublishedRun:
    """Score the matchday from ``as_of`` (replayed as if upcoming) and publish it."""
    from sabiscore_ml.jobs.predict import PredictRequest, predict, publish_run, save_run

    progress(
        Step(
            f"predicting the fixtures from {as_of} (the samples' last matchday, replayed: "
            "results from that day on are hidden), value bets and 1/8-Kelly stakes"
        )
    )
    scored: PublishedRun = predict(
        PredictRequest(as_of=as_of.isoformat()),
        engine=engine,
        progress=lambda text: progress(Step(text)),
    )
    save_run(scored)
    progress(Scored(scored))
    summary = publish_run(scored, engine=engine)
    where = "the warehouse" + (" and Redis" if summary["redis"] else "")
    progress(
        Step(
            f"published run {scored.run_id} to {where}: {summary['predictions']} predictions, "
            f"{summary['value_bets']} value bets, {summary['stakes']} stakes"
        )
    )
    return scored


def run(progress: RunProgress | None = None) -> int:
    """The main job end to end (see the module); its exit status: 1 if a file was rejected.

    Training and scoring only follow a load in which every file loaded.
    """
    from sabiscore_ml.jobs.football_data import bundled_sample_dir, plan_football_data
    from sabiscore_ml.jobs.sources import SOURCES, plan_source
    from sabiscore_ml.jobs.training import TrainRequest
    from sabiscore_ml.models.registry import init_mlflow_store
    from sabiscore_ml.settings import get_mlflow_settings, get_warehouse_settings
    from sabiscore_ml.warehouse.engine import get_engine, migrate
    from sabiscore_ml.warehouse.queries import coverage_summary, source_summary

    tell = progress or log_progress
    started = time.perf_counter()
    tell(Step(f"warehouse: {redact(get_warehouse_settings().url)}"))
    migrate()
    tell(Step(f"MLflow store: {redact(get_mlflow_settings().uri)}"))
    init_mlflow_store()
    sample = bundled_sample_dir()
    items = plan_football_data(from_dir=str(sample))
    tell(Step(f"ingesting {len(items)} football-data files from {sample}"))
    status = load(items, "football-data", tell).status
    engine = get_engine()
    tell(WarehouseCoverage(tuple(coverage_summary(engine))))
    for source in SOURCES:
        folder = sample.parent / source
        source_items = plan_source(source, from_dir=str(folder))
        tell(Step(f"ingesting {len(source_items)} {source} files from {folder}"))
        status = max(status, load(source_items, source, tell, unit="rows").status)
    tell(SourceSummary(tuple(source_summary(engine))))
    build_run_features(engine, tell)
    if status == 0:
        replay_day = last_matchday(engine)
        tell(
            Step(
                f"training the 1X2 ensemble on the sample's matches before {replay_day} "
                "(defaults, no tuning); its latest season is walked forward and paired with "
                "the market"
            )
        )
        train_and_compare(TrainRequest(as_of=replay_day.isoformat()), tell)
        predict_and_publish(replay_day, engine, tell)
    data_docs(tell)
    tell(Step(f"finished in {time.perf_counter() - started:.1f} s"))
    return status
