"""The MLflow side of the models: the store, experiments, the pyfunc wrapper, versions, aliases.

Every MLflow call of the product goes through the store configured here
(``MLFLOW_TRACKING_URI``, or the embedded SQLite store under ``SABISCORE_HOME``):
:func:`use_mlflow_store` points this process's MLflow at it before a step
touches MLflow, so nothing falls back on MLflow's own default (``./mlflow.db``
and ``./mlruns`` in the working directory).  An Airflow task runs each training
step in a fresh interpreter: the step itself must call it.

The embedded store is created with its artifact root inside the store, so even
MLflow's ``Default`` experiment points there; it holds no runs of ours and is
retired (soft-deleted) together with the empty ``sabiscore`` experiment older
versions created.  Experiments are created when a run is first logged to them.

A trained :class:`~sabiscore_ml.models.bundle.ModelBundle` is logged as an MLflow
pyfunc model (with a signature and an input example) and registered under
``SABISCORE_MODEL_NAME`` (``sabiscore-1x2``).  Versions are told apart by
aliases, never by the deprecated stages: a new version is the ``challenger``;
the ``champion`` is the one the prediction jobs load.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypedDict, overload

import mlflow
import numpy as np
import pandas as pd
import polars as pl
from mlflow.data.dataset_source import DatasetSource
from mlflow.data.polars_dataset import PolarsDataset

# created and added to the module when MLflow registers its artifact repositories
from mlflow.data.sources import LocalArtifactDatasetSource  # type: ignore[attr-defined]
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.pyfunc.model import PythonModel, PythonModelContext
from mlflow.tracking import MlflowClient

from sabiscore_ml.library_logs import route_library_logs
from sabiscore_ml.models.bundle import ModelBundle
from sabiscore_ml.models.metrics import (
    expected_calibration_error,
    outcome_index,
    paired_difference,
    rps_per_match,
)
from sabiscore_ml.models.walkforward import PREDICTION_COLUMNS
from sabiscore_ml.settings import get_mlflow_settings, get_model_settings

route_library_logs()  # MLflow, just imported, logs to stderr: an ERROR in an Airflow task

CHAMPION, CHALLENGER = "champion", "challenger"
MODEL_PATH = "model"
EVALUATION_PREDICTIONS = "evaluation/predictions.parquet"
#: Tag of a registered version (and of its run): when its bundle was fitted.
TRAINED_AT_TAG = "sabiscore.trained_at"

#: MLflow's ``Default`` experiment, retired from the embedded store while it holds no run
#: (as is the bare ``SABISCORE_MLFLOW_EXPERIMENT`` one older versions created at init).
_DEFAULT_ID = "0"

_prepared: set[tuple[str, str | None]] = set()


def use_mlflow_store() -> str:
    """Point this process's MLflow (tracking and registry) at the configured store; return its URI.

    The embedded store is created (or migrated) on first use in the process.
    """
    route_library_logs()
    settings = get_mlflow_settings()
    key = (settings.uri, settings.registry_uri)
    embedded = settings.tracking_uri is None
    if key not in _prepared or (embedded and not (settings.store_dir / "mlflow.db").exists()):
        if embedded:
            _prepare_embedded_store()
        _prepared.add(key)
    mlflow.set_tracking_uri(settings.uri)
    mlflow.set_registry_uri(settings.registry_uri or settings.uri)
    return settings.uri


def init_mlflow_store() -> str:
    """Create (or migrate) the tracking store, use it in this process; return its URI.

    On the embedded default this is a SQLite store under ``SABISCORE_HOME`` with
    local artifacts; with ``MLFLOW_TRACKING_URI`` set it talks to that server.  No
    experiment is created here: each appears with its first run
    (:func:`experiment`).
    """
    settings = get_mlflow_settings()
    _prepared.discard((settings.uri, settings.registry_uri))
    return use_mlflow_store()


def _prepare_embedded_store() -> None:
    """Create the SQLite store with its artifact root inside it; retire empty leftovers."""
    from mlflow.entities import ViewType
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    settings = get_mlflow_settings()
    settings.artifact_dir.mkdir(parents=True, exist_ok=True)
    # the first store to open an empty database creates the Default experiment
    # under its artifact root: ours, not MLflow's ./mlruns of the working directory
    SqlAlchemyStore(settings.uri, settings.artifact_location)  # type: ignore[no-untyped-call]
    store = MlflowClient(tracking_uri=settings.uri)
    for leftover in store.search_experiments(view_type=ViewType.ACTIVE_ONLY):
        if leftover.experiment_id != _DEFAULT_ID and leftover.name != settings.experiment:
            continue
        if not store.search_runs(
            [leftover.experiment_id], run_view_type=ViewType.ALL, max_results=1
        ):
            store.delete_experiment(leftover.experiment_id)


@dataclass(frozen=True)
class RegisteredVersion:
    """A version of the registered model: its number (as text) and the run that logged it.

    ``run_id`` is ``None`` for a version registered without a run (never by this package).
    """

    version: str
    run_id: str | None


def _registered(model_version: ModelVersion) -> RegisteredVersion:
    return RegisteredVersion(str(model_version.version), model_version.run_id)


class BundleModel(PythonModel):
    """pyfunc wrapper: loads the joblib bundle, returns one row of probabilities per input row."""

    bundle: ModelBundle

    def load_context(self, context: PythonModelContext) -> None:
        """Read the bundle artifact."""
        self.bundle = ModelBundle.load(Path(context.artifacts["bundle"]))

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """``p_home, p_draw, p_away, p_over25, p_btts, xg_home, xg_away`` per match."""
        return self.bundle.predict(model_input)


def client() -> MlflowClient:
    """A client on the configured tracking store and registry (created if embedded).

    It also points this process's MLflow at that store, so the fluent calls
    that follow (``mlflow.start_run``, ``mlflow.log_*``) write there too.
    """
    settings = get_mlflow_settings()
    use_mlflow_store()
    return MlflowClient(tracking_uri=settings.uri, registry_uri=settings.registry_uri)


def experiment(target: str = "1x2") -> str:
    """The experiment of one target (``sabiscore-1x2``), created if needed; returns its id.

    On the embedded store its artifacts go to a folder of its own under the
    store's artifact root, created with the experiment.
    """
    mlflow_client = client()
    name = f"{get_mlflow_settings().experiment}-{target}"
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    settings = get_mlflow_settings()
    location = None
    if settings.tracking_uri is None:
        folder = settings.artifact_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        location = folder.as_uri()
    return mlflow_client.create_experiment(name, artifact_location=location)


@overload
def log_bundle(
    bundle: ModelBundle, example: pl.DataFrame, *, register: Literal[True] = ...
) -> RegisteredVersion: ...


@overload
def log_bundle(
    bundle: ModelBundle, example: pl.DataFrame, *, register: bool
) -> RegisteredVersion | None: ...


def log_bundle(
    bundle: ModelBundle, example: pl.DataFrame, *, register: bool = True
) -> RegisteredVersion | None:
    """Log ``bundle`` as the active run's pyfunc model; register it; return the version (or None).

    ``example`` holds a few real rows with every feature column: the input
    example and the source of the signature.
    """
    from mlflow.models import infer_signature

    # doubles in the signature: callers pass float64 frames, and a float32
    # schema would refuse them
    inputs = bundle.matrix(example.head(5)).astype("float64")
    signature = infer_signature(inputs, bundle.predict(inputs))
    with tempfile.TemporaryDirectory() as tmp:
        path = bundle.save(Path(tmp) / "bundle.joblib")
        info = mlflow.pyfunc.log_model(
            name=MODEL_PATH,
            python_model=BundleModel(),
            artifacts={"bundle": str(path)},
            signature=signature,
            input_example=inputs,
            registered_model_name=get_model_settings().name if register else None,
            pip_requirements=_requirements(),
        )
    if not register:
        return None
    name = get_model_settings().name
    version = str(info.registered_model_version)
    client().set_model_version_tag(name, version, TRAINED_AT_TAG, trained_at_text(bundle))
    return _registered(client().get_model_version(name, version))


def trained_at_text(bundle: ModelBundle) -> str:
    """When ``bundle`` was fitted, ISO 8601 in UTC (the ``sabiscore.trained_at`` tag)."""
    return bundle.trained_at.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [
        f"{p}=={version(p)}"
        for p in (
            "mlflow",
            "scikit-learn",
            "xgboost",
            "lightgbm",
            "pandas",
            "polars",
            "numpy",
            "scipy",
            "joblib",
        )
    ]


def version_by_alias(alias: str) -> RegisteredVersion | None:
    """The registered version holding ``alias``, or ``None``."""
    try:
        return _registered(client().get_model_version_by_alias(get_model_settings().name, alias))
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise


def resolve_version(reference: str = CHAMPION) -> RegisteredVersion:
    """The registered version an alias (``champion``) or a version number names, now.

    Raises :class:`LookupError` when there is none.  Load it with
    :func:`load_bundle` of its number, so that an alias moved in the meantime
    does not change which version is used.
    """
    name = get_model_settings().name
    if reference.isdigit():
        try:
            return _registered(client().get_model_version(name, reference))
        except MlflowException as error:
            raise LookupError(f"no version {reference} of {name}: {error.message}") from None
    version = version_by_alias(reference)
    if version is None:
        raise LookupError(f"no version of {name} holds the alias {reference!r}")
    return version


def set_alias(version: str, alias: str) -> None:
    """Point ``alias`` at ``version``."""
    client().set_registered_model_alias(get_model_settings().name, alias, str(version))


def load_bundle(reference: str = CHAMPION) -> ModelBundle:
    """The bundle of an alias (``champion``), a version number, or a full ``models:/`` URI."""
    uri = reference if reference.startswith(("models:/", "runs:/")) else None
    if uri is None:
        name = get_model_settings().name
        uri = (
            f"models:/{name}/{reference}" if reference.isdigit() else f"models:/{name}@{reference}"
        )
    client()
    try:
        model = mlflow.pyfunc.load_model(uri)
    except MlflowException as error:
        raise LookupError(f"no model at {uri}: {error.message}") from None
    wrapper = model.unwrap_python_model()
    if not isinstance(wrapper, BundleModel):
        raise LookupError(f"the model at {uri} is not a {BundleModel.__name__}")
    return wrapper.bundle


def evaluation_predictions(run_id: str | None) -> pl.DataFrame | None:
    """The walk-forward predictions a training run logged, or ``None`` (also without a run)."""
    if run_id is None:
        return None
    client()
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=EVALUATION_PREDICTIONS
        )
    except (MlflowException, OSError):
        return None
    return pl.read_parquet(path)


def write_predictions(frame: pl.DataFrame) -> Path:
    """``frame`` as a Parquet file named like a run's evaluation artifact (in a temp folder)."""
    path = Path(tempfile.mkdtemp()) / Path(EVALUATION_PREDICTIONS).name
    frame.write_parquet(path)
    return path


# --- datasets -------------------------------------------------------------------------

TRAINING, EVALUATION = "training", "evaluation"


class FrameFacts(PolarsDataset.PolarsDatasetProfile):
    """What a frame covers: MLflow's rows and elements, the league-seasons and match dates."""

    league_seasons: list[str]
    first_match: str
    last_match: str


class DatasetFacts(TypedDict, total=False):
    """What the caller adds to a dataset's profile (training snapshot, evaluation)."""

    catalog_version: str
    partitions: int
    features: int
    feature_store: str
    evaluation_seasons: list[str]
    training_data_hash: str


class DatasetProfile(FrameFacts, DatasetFacts):
    """A logged dataset's profile: the frame's facts and the caller's."""


class ProfiledDataset(PolarsDataset):
    """A polars dataset whose profile says what it covers (rows, league-seasons, dates)."""

    def __init__(
        self,
        df: pl.DataFrame,
        profile: DatasetProfile,
        *,
        source: DatasetSource,
        name: str,
        digest: str,
        targets: str | None = None,
    ) -> None:
        self._profile = profile
        super().__init__(df, source=source, name=name, digest=digest, targets=targets)

    @property
    def profile(self) -> DatasetProfile:
        """The profile given at construction (MLflow shows it on the run page)."""
        return self._profile


def league_seasons(frame: pl.DataFrame) -> list[str]:
    """``"E0 2023-2024"`` for every league-season of ``frame``, sorted."""
    pairs = frame.select("league_code", "season_code").unique().sort("league_code", "season_code")
    return [f"{league} {season}" for league, season in pairs.iter_rows()]


def frame_facts(frame: pl.DataFrame) -> FrameFacts:
    """Rows, league-seasons and the match dates a frame covers (a dataset's profile)."""
    dates = frame["match_date"]
    return {
        "num_rows": frame.height,
        "num_elements": frame.height * frame.width,
        "league_seasons": league_seasons(frame),
        "first_match": str(dates.min()),
        "last_match": str(dates.max()),
    }


def log_dataset(
    frame: pl.DataFrame,
    *,
    context: str,
    name: str,
    digest: str,
    source: str,
    facts: DatasetFacts | None = None,
) -> None:
    """Log ``frame`` as an input dataset of the active run (``context``: training or evaluation).

    The run page lists it with its digest, source (the Parquet file it was
    read from or logged to), schema and profile: the row count, the
    league-seasons and dates covered, and ``facts``; the main figures are also
    the input's tags.
    """
    profile: DatasetProfile = {**frame_facts(frame), **(facts or {})}
    # the schema in MLflow's types: dates as datetimes (MLflow has no date type)
    typed = frame.with_columns(pl.col(pl.Date).cast(pl.Datetime("us")))
    dataset = ProfiledDataset(
        typed,
        profile,
        source=LocalArtifactDatasetSource(source),
        name=name,
        digest=digest,
        targets="result" if "result" in frame.columns else None,
    )
    tags = {
        "rows": str(frame.height),
        "league_seasons": ",".join(profile["league_seasons"]),
        "first_match": profile["first_match"],
        "last_match": profile["last_match"],
    }
    mlflow.log_input(dataset, context=context, tags=tags)


def evaluation_digest(data_hash: str, predictions: pl.DataFrame) -> str:
    """What an evaluation scored: the training snapshot's hash and the matches walked forward."""
    import hashlib

    digest = hashlib.sha256(data_hash.encode())
    ids = np.ascontiguousarray(predictions["match_id"].sort().to_numpy())
    digest.update(hashlib.sha256(ids.tobytes()).digest())
    return digest.hexdigest()[:16]


# --- promotion ------------------------------------------------------------------------


class Evidence(TypedDict, total=False):
    """The figures behind a promotion decision (the ``promotion.evidence`` tag, as JSON)."""

    season: str  # the challenger's latest evaluation season (training)
    holdout: str  # what the matches are (recalibration)
    leagues: list[str]  # the paired matches' leagues (training)
    n: int  # paired matches
    rps_challenger: float
    rps_champion: float
    rps_challenger_minus_champion: float
    rps_difference_se: float
    rps_tolerance: float
    ece_challenger: float
    ece_champion: float
    ece_tolerance: float
    clv_challenger: float  # mean CLV of the challenger's value bets with closing prices
    clv_champion: float
    clv_bets_challenger: int  # value bets with closing prices
    clv_bets_champion: int
    clv_difference_se: float  # se of the difference of the two means (unpaired)
    champion_version: str | None  # set by the training's promote step


PROMOTED, KEPT = "promoted", "kept as challenger"


@dataclass(frozen=True)
class Decision:
    """Whether a challenger becomes champion, why, and the figures behind it.

    ``reason`` says what was compared, on which matches, against which
    tolerance, the verdict and the decision (its last words, ``promoted`` or
    ``kept as challenger``).
    """

    promote: bool
    reason: str
    evidence: Evidence

    def tags(self) -> dict[str, str]:
        """MLflow tags recording the decision."""
        return {
            "promotion.decision": "promoted" if self.promote else "kept challenger",
            "promotion.reason": self.reason,
            "promotion.evidence": json.dumps(self.evidence, sort_keys=True, default=str),
        }


def figure(value: float, decimals: int = 4) -> str:
    """``value`` with ``decimals`` decimals, or as many more as show two significant digits.

    A difference that is not zero never reads as ``0.0000``.
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:.{decimals}f}"
    needed = 1 - math.floor(math.log10(abs(value)))
    return f"{value:.{min(max(decimals, needed), 15)}f}"


#: The prices :func:`decide` takes, one row per match: the best pre-closing price of
#: each outcome and the margin-free closing probability of each outcome.
BET_PRICE_COLUMNS = ("price_home", "price_draw", "price_away")
CLOSE_COLUMNS = ("p_close_home", "p_close_draw", "p_close_away")


@dataclass(frozen=True)
class BetClv:
    """The closing-line value of each model's value bets on the paired matches.

    ``challenger`` and ``champion``: the CLV of every value bet with a closing
    price (:func:`value_bet_clv`); ``priced``: whether any closing price was
    given at all (without, the CLV is not compared and the reason says so).
    """

    challenger: np.ndarray
    champion: np.ndarray
    priced: bool = True

    @classmethod
    def unpriced(cls) -> BetClv:
        """No closing prices: nothing to compare."""
        empty = np.empty(0, dtype=np.float64)
        return cls(empty, empty, priced=False)


def value_bet_clv(
    probabilities: np.ndarray, prices: np.ndarray, closing: np.ndarray, min_edge: float
) -> np.ndarray:
    """The CLV of a model's value bets that have a closing price, match by match.

    Arrays of one row per match and a column per outcome: the model's
    probabilities, the best pre-closing prices (NaN where not quoted) and the
    margin-free closing probabilities (NaN where not known).  A value bet is an
    outcome whose stated edge ``p_model × price − 1`` is at least ``min_edge``
    (the live default minimum edge; the betting layer's other guards do not
    apply); its CLV is ``price × p_close − 1``, the same figure as ``price /
    closing − 1`` at the margin-free closing price the bankroll walk and the
    monitor report.  Bets without a closing probability are left out.
    """
    p = np.asarray(probabilities, dtype=np.float64)
    price = np.asarray(prices, dtype=np.float64)
    close = np.asarray(closing, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bet = (price > 1.0) & (p * price - 1.0 >= min_edge)
        clv = price * close - 1.0
    return clv[bet & np.isfinite(clv)]


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of ``values`` (summed in sorted order); NaN when too few."""
    if len(values) == 0:
        return math.nan, math.nan
    values = np.sort(values)
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan
    return float(values.mean()), se


def latest_season(predictions: pl.DataFrame) -> pl.DataFrame:
    """The walk-forward predictions of the latest season in ``predictions`` (by match date)."""
    latest = predictions.sort("match_date")["season_code"][-1]
    return predictions.filter(pl.col("season_code") == latest)


def _priced(both: pl.DataFrame, prices: pl.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """The prices and closing probabilities of ``both``'s rows, in order (NaN where none)."""
    columns = (*BET_PRICE_COLUMNS, *CLOSE_COLUMNS)
    if prices is None:
        missing = np.full((both.height, len(BET_PRICE_COLUMNS)), np.nan)
        return missing, missing.copy()
    rows = both.select(pl.col("match_id").cast(pl.Int64)).join(
        prices.select(pl.col("match_id").cast(pl.Int64), *columns).unique("match_id", keep="first"),
        on="match_id",
        how="left",
        maintain_order="left",
    )
    values = rows.select(pl.col(c).cast(pl.Float64).fill_null(math.nan) for c in columns).to_numpy()
    k = len(BET_PRICE_COLUMNS)
    return values[:, :k], values[:, k:]


def decide(
    challenger: pl.DataFrame,
    champion: pl.DataFrame | None,
    champion_version: str | None = None,
    *,
    prices: pl.DataFrame | None = None,
    min_edge: float | None = None,
) -> Decision:
    """Compare walk-forward predictions on the challenger's latest evaluation season.

    The challenger is promoted when there is no champion, or when, on the same
    matches (at least ``SABISCORE_MODEL_PROMOTION_MIN_MATCHES``), its mean RPS is
    no worse than the champion's (worse by at most
    ``SABISCORE_MODEL_PROMOTION_RPS_TOLERANCE``), its calibration error not
    worse (up to ``SABISCORE_MODEL_ECE_TOLERANCE``) and the closing-line value
    of its value bets not worse (:func:`judge`).  Both sets of predictions
    are out of sample: each season was predicted by a model fitted only on
    earlier data.  The reason names the matches (leagues and season) and
    ``champion_version`` when given.

    ``prices``: one row per match (extra matches are ignored), wide: ``match_id``,
    the best pre-closing price of each outcome (:data:`BET_PRICE_COLUMNS`) and
    the margin-free closing probability of each outcome (:data:`CLOSE_COLUMNS`),
    null where not known; each model's value bets are the outcomes whose stated
    edge at the best price is at least ``min_edge`` (:func:`value_bet_clv`).
    Without ``prices``, or with no closing probability among them, the CLV is
    not compared and the reason says so.
    """
    mine = latest_season(challenger)
    latest = mine["season_code"][-1]
    if champion is None:
        return Decision(True, f"no champion yet: {PROMOTED}", {"season": latest, "n": mine.height})
    both = mine.join(
        champion.select(
            "match_id", *(pl.col(c).alias(f"champion_{c}") for c in PREDICTION_COLUMNS)
        ),
        on="match_id",
        how="inner",
    )
    leagues = sorted(set(both["league_code"].to_list())) if "league_code" in both.columns else []
    evidence: Evidence = {"season": latest, "leagues": leagues}
    outcome = outcome_index(both["result"].to_list())
    new = both.select(PREDICTION_COLUMNS).to_numpy()
    old = both.select(f"champion_{c}" for c in PREDICTION_COLUMNS).to_numpy()
    matches = " ".join([", ".join(leagues), latest]) if leagues else latest
    bet_prices, closing = _priced(both, prices)
    if prices is None or not np.isfinite(closing).any():
        clv = BetClv.unpriced()
    else:
        if min_edge is None:
            raise ValueError("value bets on the prices need the minimum edge")
        clv = BetClv(
            value_bet_clv(new, bet_prices, closing, min_edge),
            value_bet_clv(old, bet_prices, closing, min_edge),
        )
    return judge(
        new,
        old,
        outcome,
        evidence,
        matches=matches,
        champion_version=champion_version,
        clv=clv,
    )


def judge(
    new: np.ndarray,
    old: np.ndarray,
    outcome: np.ndarray,
    evidence: Evidence | None = None,
    *,
    matches: str = "",
    champion_version: str | None = None,
    clv: BetClv | None = None,
) -> Decision:
    """The promotion rule on paired probabilities of the same matches: RPS, calibration, CLV.

    The reason reads e.g. ``RPS 0.19441 vs champion v3's 0.19441 on 380 matches
    of E0 2023-2024: equal within 0.0001 (difference +0.0000004, se 0.0000031);
    calibration error 0.03431 vs 0.03430: equal within 0.001: promoted``.
    Differences are printed to two significant digits at least, and a
    difference within its tolerance is ``equal``, never ``worse``.

    With ``clv`` (:func:`decide` gives it; the recalibration does not, and is
    decided on RPS and calibration alone), a challenger no worse on both is
    then judged on the mean closing-line value of its value bets: when each
    model has at least ``SABISCORE_MODEL_PROMOTION_MIN_BETS`` bets with closing
    prices, a challenger whose mean CLV is below the champion's by more than two
    standard errors of the difference (``sqrt(se1² + se2²)``, the two sets of
    bets taken as independent) is kept; above by more than two is ``better``,
    else ``equal``.  The reason goes on ``; CLV of value bets +2.10% (143
    bets) vs champion v3's +1.80% (151): equal (difference +0.30%, se 0.45%):
    promoted``.  With fewer bets, or no closing prices, it says so (``CLV not
    compared: 12 value bets with closing prices vs champion v3's 151 (need
    30)``, ``CLV not compared: no closing prices``) and RPS and calibration
    decide.  The CLV figures go into the evidence whenever there are bets.
    """
    settings = get_model_settings()
    evidence = evidence.copy() if evidence is not None else {}
    n = len(outcome)
    evidence["n"] = n
    rps_new, rps_old = rps_per_match(new, outcome), rps_per_match(old, outcome)
    diff = paired_difference(rps_new, rps_old)
    ece_new = expected_calibration_error(new, outcome)
    ece_old = expected_calibration_error(old, outcome)
    rps_tolerance, ece_tolerance = settings.promotion_rps_tolerance, settings.ece_tolerance
    evidence["rps_challenger"] = round(float(np.nanmean(rps_new)), 6)
    evidence["rps_champion"] = round(float(np.nanmean(rps_old)), 6)
    evidence["rps_challenger_minus_champion"] = round(diff.mean, 9)
    evidence["rps_difference_se"] = round(diff.se, 9)
    evidence["rps_tolerance"] = rps_tolerance
    evidence["ece_challenger"] = round(ece_new, 6)
    evidence["ece_champion"] = round(ece_old, 6)
    evidence["ece_tolerance"] = ece_tolerance
    if clv is not None:
        _clv_evidence(evidence, clv)
    champion = f"champion v{champion_version}'s" if champion_version else "champion"
    compared = (
        f"RPS {evidence['rps_challenger']:.5f} vs {champion} {evidence['rps_champion']:.5f} "
        f"on {n} {f'matches of {matches}' if matches else 'paired matches'}"
    )
    if n < settings.promotion_min_matches:
        return Decision(
            False,
            f"{compared}: only {n} paired matches (need {settings.promotion_min_matches}): {KEPT}",
            evidence,
        )
    if not math.isfinite(diff.mean):
        return Decision(False, f"{compared}: no paired RPS to compare: {KEPT}", evidence)
    se = f"se {figure(diff.se)}"
    z = f", {abs(diff.z):.1f} se" if diff.se > 0 else ""
    if diff.mean > rps_tolerance:
        rps_verdict = f"worse by {figure(diff.mean)} ({se}{z}; tolerance {rps_tolerance:g})"
        return Decision(False, f"{compared}: {rps_verdict}: {KEPT}", evidence)
    if diff.mean < -rps_tolerance:
        rps_verdict = f"better by {figure(-diff.mean)} ({se}{z})"
    else:
        rps_verdict = (
            f"equal within {rps_tolerance:g} "
            f"(difference {'+' if diff.mean >= 0 else ''}{figure(diff.mean)}, {se})"
        )
    ece_gap = ece_new - ece_old
    calibration = f"calibration error {ece_new:.5f} vs {ece_old:.5f}"
    if ece_gap > ece_tolerance:
        ece_verdict = f"worse by {figure(ece_gap)} (tolerance {ece_tolerance:g})"
        promote = False
    elif ece_gap < -ece_tolerance:
        ece_verdict, promote = f"better by {figure(-ece_gap)}", True
    else:
        ece_verdict, promote = f"equal within {ece_tolerance:g}", True
    reason = f"{compared}: {rps_verdict}; {calibration}: {ece_verdict}"
    if promote and clv is not None:
        owner = f"champion v{champion_version}'s" if champion_version else "champion's"
        clv_clause, promote = _clv_verdict(clv, owner, settings.promotion_min_bets)
        reason = f"{reason}; {clv_clause}"
    return Decision(promote, f"{reason}: {PROMOTED if promote else KEPT}", evidence)


def _clv_evidence(evidence: Evidence, clv: BetClv) -> None:
    """The CLV figures of ``clv`` into ``evidence`` (the means once there are bets)."""
    if not clv.priced:
        return
    (mean_new, se_new), (mean_old, se_old) = _mean_se(clv.challenger), _mean_se(clv.champion)
    evidence["clv_bets_challenger"] = len(clv.challenger)
    evidence["clv_bets_champion"] = len(clv.champion)
    if math.isfinite(mean_new):
        evidence["clv_challenger"] = round(mean_new, 6)
    if math.isfinite(mean_old):
        evidence["clv_champion"] = round(mean_old, 6)
    se = math.hypot(se_new, se_old)
    if math.isfinite(se):
        evidence["clv_difference_se"] = round(se, 6)


def _clv_verdict(clv: BetClv, owner: str, min_bets: int) -> tuple[str, bool]:
    """The CLV clause of the reason, and whether the challenger may still be promoted."""
    if not clv.priced:
        return "CLV not compared: no closing prices", True
    n_new, n_old = len(clv.challenger), len(clv.champion)
    if min(n_new, n_old) < min_bets:
        return (
            f"CLV not compared: {n_new} value bets with closing prices vs {owner} {n_old} "
            f"(need {min_bets})",
            True,
        )
    (mean_new, se_new), (mean_old, se_old) = _mean_se(clv.challenger), _mean_se(clv.champion)
    diff, se = mean_new - mean_old, math.hypot(se_new, se_old)
    compared = (
        f"CLV of value bets {mean_new:+.2%} ({n_new} bets) vs {owner} {mean_old:+.2%} ({n_old})"
    )
    z = f", {abs(diff) / se:.1f} se" if se > 0 else ""
    if diff < -2 * se:
        return f"{compared}: worse by {-diff:.2%} (se {se:.2%}{z})", False
    if diff > 2 * se:
        return f"{compared}: better by {diff:.2%} (se {se:.2%}{z})", True
    return f"{compared}: equal (difference {diff:+.2%}, se {se:.2%})", True
