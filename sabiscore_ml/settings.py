"""Settings, one pydantic-settings class per component.

Every value comes from the environment (``SABISCORE_`` prefix, MLflow's own
``MLFLOW_TRACKING_URI``) and is read through a cached accessor, never at import
time.  Unset values fall back to the *embedded default*: everything lives in
files under ``SABISCORE_HOME`` (SQLite warehouse, local MLflow store, raw-file
archive, ``AIRFLOW_HOME``), and no Redis is needed.

With ``SABISCORE_ENV=production`` the embedded fallbacks are refused: the
warehouse, Redis and MLflow locations must be given explicitly, and the
well-known development passwords are rejected.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sabiscore_ml import __version__

Environment = Literal["embedded", "production"]

# Passwords that appear in examples and compose files; never accepted in production.
_DEV_PASSWORDS = ("changeme", "sabiscore", "airflow", "password", "postgres")


def _refuse_dev_password(url: str, what: str) -> None:
    for word in _DEV_PASSWORDS:
        if f":{word}@" in url:
            raise ValueError(
                f"{what} uses the development password '{word}'; set a real secret "
                "when SABISCORE_ENV=production"
            )


class CoreSettings(BaseSettings):
    """Where the platform keeps its files, and which mode it runs in."""

    model_config = SettingsConfigDict(env_prefix="SABISCORE_", extra="ignore")

    env: Environment = "embedded"
    home: Path = Path(".sabiscore")
    raw_dir: Path | None = None
    # Folder of the bundled real data sample (default: ``samples/`` of the checkout).
    sample_dir: Path | None = None
    # great-expectations Data Docs: the site (index.html) and the validation results it shows.
    data_docs_dir: Path | None = None
    # Validation results kept and shown (failed ones are kept first); 0 records none.
    data_docs_max_results: int = Field(200, ge=0)

    @property
    def home_dir(self) -> Path:
        """Absolute working directory of the embedded default."""
        return self.home.expanduser().resolve()

    @property
    def raw_archive_dir(self) -> Path:
        """Root of the immutable raw-file archive."""
        return (self.raw_dir or self.home_dir / "raw").expanduser().resolve()

    @property
    def data_docs_path(self) -> Path:
        """Folder of the Data Docs site (``index.html``) and of its validation results."""
        return (self.data_docs_dir or self.home_dir / "data_docs").expanduser().resolve()

    @property
    def airflow_home(self) -> Path:
        """``AIRFLOW_HOME`` for local (standalone) Airflow."""
        return self.home_dir / "airflow"


class WarehouseSettings(BaseSettings):
    """The warehouse database (SQLite by default, PostgreSQL in production)."""

    model_config = SettingsConfigDict(env_prefix="SABISCORE_", extra="ignore")

    env: Environment = "embedded"
    home: Path = Path(".sabiscore")
    database_url: str | None = None
    # Rows per INSERT batch; larger batches are faster, smaller ones use less memory.
    write_batch_size: int = 5000

    @model_validator(mode="after")
    def _production_needs_a_real_database(self) -> WarehouseSettings:
        if self.env == "production":
            if not self.database_url:
                raise ValueError("SABISCORE_DATABASE_URL must be set when SABISCORE_ENV=production")
            _refuse_dev_password(self.database_url, "SABISCORE_DATABASE_URL")
        return self

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the warehouse."""
        if self.database_url:
            return self.database_url
        path = self.home.expanduser().resolve() / "warehouse.sqlite"
        return f"sqlite:///{path}"


class RedisSettings(BaseSettings):
    """The hot cache; unset means embedded mode without Redis."""

    model_config = SettingsConfigDict(env_prefix="SABISCORE_", extra="ignore")

    env: Environment = "embedded"
    redis_url: str | None = None
    redis_prefix: str = "sabiscore"

    @model_validator(mode="after")
    def _production_needs_redis(self) -> RedisSettings:
        if self.env == "production" and not self.redis_url:
            raise ValueError("SABISCORE_REDIS_URL must be set when SABISCORE_ENV=production")
        return self


class PublishSettings(BaseSettings):
    """How long published results stay in Redis, and the value-bet alert stream.

    ``odds_ttl_seconds``: documents holding prices (a match's insight, the value
    bets), stale once the odds move.  ``static_ttl_seconds``: the rest of a run
    (its meta, leagues and upcoming lists).  ``alert_marker_ttl_seconds``: how
    long a run remembers it has sent its alerts (a republish within it sends
    none).  Superseded runs stay readable until these expire.
    """

    model_config = SettingsConfigDict(env_prefix="SABISCORE_PUBLISH_", extra="ignore")

    odds_ttl_seconds: int = Field(15 * 60, gt=0)
    static_ttl_seconds: int = Field(3600, gt=0)
    alert_marker_ttl_seconds: int = Field(7 * 24 * 3600, gt=0)
    alerts_maxlen: int = Field(10_000, gt=0)


class MlflowSettings(BaseSettings):
    """MLflow tracking and registry locations (MLflow's own variable names)."""

    model_config = SettingsConfigDict(extra="ignore")

    env: Environment = Field("embedded", validation_alias="SABISCORE_ENV")
    home: Path = Field(Path(".sabiscore"), validation_alias="SABISCORE_HOME")
    tracking_uri: str | None = Field(None, validation_alias="MLFLOW_TRACKING_URI")
    registry_uri: str | None = Field(None, validation_alias="MLFLOW_REGISTRY_URI")
    experiment: str = Field(
        "sabiscore",
        validation_alias=AliasChoices("SABISCORE_MLFLOW_EXPERIMENT", "MLFLOW_EXPERIMENT_NAME"),
    )

    @model_validator(mode="after")
    def _production_needs_a_server(self) -> MlflowSettings:
        if self.env == "production" and not self.tracking_uri:
            raise ValueError("MLFLOW_TRACKING_URI must be set when SABISCORE_ENV=production")
        return self

    @property
    def store_dir(self) -> Path:
        """Directory of the embedded MLflow store."""
        return self.home.expanduser().resolve() / "mlflow"

    @property
    def uri(self) -> str:
        """Tracking URI: the given one, or a SQLite store under ``SABISCORE_HOME``."""
        return self.tracking_uri or f"sqlite:///{self.store_dir / 'mlflow.db'}"

    @property
    def artifact_dir(self) -> Path:
        """Artifact root of the embedded store (every experiment's folder is below it)."""
        return self.store_dir / "artifacts"

    @property
    def artifact_location(self) -> str:
        """Artifact root used when the embedded store creates an experiment."""
        return self.artifact_dir.as_uri()


class FootballDataSettings(BaseSettings):
    """football-data.co.uk download location (fetching itself follows FetchSettings)."""

    model_config = SettingsConfigDict(env_prefix="SABISCORE_FOOTBALL_DATA_", extra="ignore")

    base_url: str = "https://www.football-data.co.uk/mmz4281"
    # fixtures.csv (upcoming matches with current odds); default: beside base_url's
    # ``mmz4281`` folder, https://www.football-data.co.uk/fixtures.csv
    fixtures_url: str | None = None


# The public bucket the transfermarkt-datasets project publishes its prepared tables to
# (``<base>/<table>.csv.gz``).  The project's own README, as we read it, documents
# Kaggle and data.world rather than this address; it is the one its DVC remote and
# many downstream readers use.  Point SABISCORE_TRANSFERMARKT_DATASETS_BASE_URL at a
# mirror if it moves.
TRANSFERMARKT_DATASETS_URL = "https://pub-e682421888d945d684bcae8890b0ec20.r2.dev/data"


class SourceSettings(BaseSettings):
    """Where the live sources are fetched from, and when a season counts as finished.

    The base URLs can point at a mirror (or, in tests, at a local server that
    plays recorded pages).  A season is *finished* ``finished_season_margin_days``
    after both its nominal end and its last fixture.  ``<source>_max_bytes`` bounds
    what is read of one file of that source (see :mod:`sabiscore_ml.sources.reading`).
    """

    model_config = SettingsConfigDict(env_prefix="SABISCORE_", extra="ignore")

    understat_base_url: str = "https://understat.com"
    fbref_base_url: str = "https://fbref.com"
    transfermarkt_datasets_base_url: str = TRANSFERMARKT_DATASETS_URL
    finished_season_margin_days: int = Field(14, ge=0)
    # The largest file of each source that is read, and the most its gzip content may
    # decompress to (bytes).  The largest real files: football-data 0.25 MB (a season),
    # Understat 2 MB (a season's shots CSV), FBref 1.4 MB (a league stats page), the
    # transfermarkt-datasets tables some 30 MB (player valuations, games).
    football_data_max_bytes: int = Field(16 * 2**20, gt=0)
    understat_max_bytes: int = Field(32 * 2**20, gt=0)
    fbref_max_bytes: int = Field(32 * 2**20, gt=0)
    transfermarkt_max_bytes: int = Field(64 * 2**20, gt=0)


class FetchSettings(BaseSettings):
    """How every source is downloaded: identity, timeouts, retries and per-source pacing.

    ``*_min_interval_seconds`` is the least time between two requests to one
    source from this process; sources without their own field use
    ``default_min_interval_seconds``.
    """

    model_config = SettingsConfigDict(env_prefix="SABISCORE_FETCH_", extra="ignore")

    user_agent: str = f"sabiscore/{__version__} (+https://github.com/sabiscore/sabiscore)"
    timeout_seconds: float = Field(30.0, gt=0)
    attempts: int = Field(4, ge=1)
    backoff_initial_seconds: float = Field(1.0, ge=0)
    # Caps both the exponential backoff and a server's Retry-After.
    backoff_max_seconds: float = Field(60.0, ge=0)
    default_min_interval_seconds: float = Field(1.0, ge=0)
    fbref_min_interval_seconds: float = Field(6.0, ge=0)
    football_data_min_interval_seconds: float = Field(1.0, ge=0)
    understat_min_interval_seconds: float = Field(1.0, ge=0)
    transfermarkt_min_interval_seconds: float = Field(1.0, ge=0)

    @property
    def min_intervals(self) -> dict[str, float]:
        """Minimum seconds between requests, by source name."""
        return {
            "fbref": self.fbref_min_interval_seconds,
            "football-data": self.football_data_min_interval_seconds,
            "understat": self.understat_min_interval_seconds,
            "transfermarkt": self.transfermarkt_min_interval_seconds,
        }


class FeatureStoreSettings(BaseSettings):
    """Where the offline feature store lives and how long online vectors are kept."""

    model_config = SettingsConfigDict(env_prefix="SABISCORE_FEATURES_", extra="ignore")

    dir: Path | None = None  # default: <SABISCORE_HOME>/features
    online_ttl_seconds: int = Field(7 * 24 * 3600, gt=0)
    online_horizon_days: int = Field(14, gt=0)

    def offline_dir(self, core: CoreSettings) -> Path:
        """The offline store's root folder."""
        return (self.dir or core.home_dir / "features").expanduser().resolve()


class ModelSettings(BaseSettings):
    """Training, tuning and promotion of the match-outcome model."""

    model_config = SettingsConfigDict(env_prefix="SABISCORE_MODEL_", extra="ignore")

    name: str = "sabiscore-1x2"  # registered model name
    leagues: list[str] = ["E0", "E1", "E2", "E3", "EC", "SP1", "D1", "I1", "F1"]
    history_from: str = "2000-2001"  # earliest season trained on
    optuna_storage: str | None = None  # default: SQLite under SABISCORE_HOME
    promotion_min_matches: int = Field(300, gt=0)
    # A challenger's mean RPS and calibration error may exceed the champion's by these and
    # still count as equal (two fits of one model on the same data differ by less).
    promotion_rps_tolerance: float = Field(0.0001, ge=0)
    ece_tolerance: float = Field(0.001, ge=0)
    # Value bets with closing prices each model needs before their closing-line value counts.
    promotion_min_bets: int = Field(30, ge=2)
    recalibration_matches: int = Field(600, gt=100)  # recent matches the recalibration uses
    # Threads per tree model.  LightGBM's OpenMP threads spin while they wait, so
    # more threads than free cores (two trainings at once) slows it down badly.
    threads: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), gt=0)

    def optuna_url(self, core: CoreSettings) -> str:
        """The Optuna study storage: the given URL or ``<SABISCORE_HOME>/optuna.db``."""
        return self.optuna_storage or f"sqlite:///{core.home_dir / 'optuna.db'}"


class MonitorSettings(BaseSettings):
    """The monitoring of what was published (``sabiscore monitor``, the ``monitor`` DAG).

    Figures are computed over every settled published match and over a rolling
    window of the last ``window_days`` days of settled matches (ending at the
    latest one).  A figure is checked against its threshold only when it rests on
    enough matches (``min_matches``) or value bets (``min_bets``); below that it
    is stored, never a breach.  ``max_rps_minus_market``: the model's mean RPS
    minus Pinnacle's margin-free pre-closing RPS on the same matches;
    ``max_ece``: the model's expected calibration error; ``min_clv``: the mean
    closing-line value of the value bets; ``max_psi``: the largest population
    stability index of the model's most important inputs (``drift_features`` of
    them, ``drift_bins`` reference quantile bins, the reference being the last
    ``drift_reference_days`` of offline feature rows before the version's first
    published run).
    """

    model_config = SettingsConfigDict(env_prefix="SABISCORE_MONITOR_", extra="ignore")

    window_days: int = Field(28, gt=0)
    # ECE over ten bins is biased upwards on few matches: perfectly calibrated 1X2
    # forecasts give about 0.10 on 40 matches (a league's month), 0.07 on 100 and 0.045
    # on 250 (95th percentiles 0.15, 0.10, 0.06), so a check needs a few hundred
    min_matches: int = Field(200, gt=0)
    min_bets: int = Field(50, gt=0)
    max_rps_minus_market: float = 0.01
    max_ece: float = Field(0.08, ge=0)
    min_clv: float = -0.02
    max_psi: float = Field(0.25, ge=0)
    drift_features: int = Field(8, gt=0)
    drift_bins: int = Field(10, ge=2)
    drift_reference_days: int = Field(365, gt=0)


_WEAK_SECRETS = ("changeme", "change-me", "secret", "sabiscore", "development", "jwt-secret")


class ServingSettings(BaseSettings):
    """The read-only HTTP API (``serving/``): access, limits, caching and browsers.

    ``rate_limit`` applies per client IP and per key (``limits`` notation,
    ``100/minute``); ``free_insights_per_day`` is the free tier's daily quota of
    ``/v1/insights``.  Limits are counted in Redis when it is configured (in
    memory otherwise, and while Redis is down); a worker leases slots from Redis
    for ``rate_limit_sync_seconds`` (0: counts every request in Redis).
    ``pointer_cache_seconds``: how long a worker reuses the current run id
    before asking Redis again; ``key_cache_seconds``: how long a verified key
    is trusted before it is read again (a revocation takes that long to reach
    every worker).  In production
    a key is always required and a JWT secret must be a real one.
    """

    model_config = SettingsConfigDict(env_prefix="SABISCORE_API_", extra="ignore")

    env: Environment = Field("embedded", validation_alias="SABISCORE_ENV")
    require_key: bool = True
    cors_origins: Annotated[list[str], NoDecode] = []
    jwt_secret: SecretStr | None = None
    jwt_audience: str | None = None
    rate_limit: str = "100/minute"
    rate_limit_strategy: Literal["moving-window", "fixed-window", "sliding-window-counter"] = (
        "moving-window"
    )
    rate_limiting: bool = True
    rate_limit_sync_seconds: float = Field(1.0, ge=0)  # see serving.rate_limits; 0: every hit
    hot_path: bool = True  # answer warm reads from the worker's caches before the router
    free_insights_per_day: int = Field(5, ge=1)
    trust_proxy: bool = False
    odds_cache_seconds: int = Field(60, ge=0)  # Cache-Control of documents holding prices
    static_cache_seconds: int = Field(300, ge=0)  # upcoming lists, leagues, the model
    pointer_cache_seconds: float = Field(1.0, ge=0)
    key_cache_seconds: float = Field(30.0, ge=0)
    document_cache_size: int = Field(4096, ge=0)
    redis_timeout_seconds: float = Field(0.5, gt=0)
    redis_retry_seconds: float = Field(5.0, ge=0)  # Redis is left alone this long after a failure
    run_mode: Literal["live", "replay"] | None = None  # which runs the warehouse fallback serves
    # a request over one of these is refused (431, 414, 413) before any route sees it
    max_header_bytes: int = Field(16384, ge=1024)  # every header line, name and value
    max_url_bytes: int = Field(4096, ge=256)  # the path and its query string
    max_body_bytes: int = Field(16384, ge=0)  # the API takes no body: anything over is refused
    # GET /v1/stream: one reader of the Redis streams per worker (serving.stream)
    stream_keepalive_seconds: float = Field(15.0, gt=0)  # a comment line when nothing happened
    stream_block_seconds: float = Field(5.0, gt=0)  # the reader's XREAD BLOCK
    stream_queue_size: int = Field(1000, ge=1)  # events a subscriber may lag before it is dropped
    stream_max_subscribers: int = Field(10_000, ge=0)  # open streams a worker holds
    stream_retry_ms: int = Field(3000, ge=0)  # the reconnection delay told to clients

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @field_validator("rate_limit")
    @classmethod
    def _parsable_limit(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError(f"rate limit {value!r}: {exc} (e.g. '100/minute')") from exc
        return value

    @model_validator(mode="after")
    def _production_is_locked_down(self) -> ServingSettings:
        if self.env != "production":
            return self
        if not self.require_key:
            raise ValueError(
                "SABISCORE_API_REQUIRE_KEY cannot be false when SABISCORE_ENV=production"
            )
        if "*" in self.cors_origins:
            raise ValueError(
                "SABISCORE_API_CORS_ORIGINS cannot be '*' when SABISCORE_ENV=production"
            )
        if self.jwt_secret is not None:
            secret = self.jwt_secret.get_secret_value()
            if len(secret) < 32 or secret.lower() in _WEAK_SECRETS + _DEV_PASSWORDS:
                raise ValueError(
                    "SABISCORE_API_JWT_SECRET is a development value or shorter than 32 "
                    "characters; set a real secret when SABISCORE_ENV=production"
                )
        return self


@lru_cache
def get_core_settings() -> CoreSettings:
    """Cached :class:`CoreSettings`."""
    return CoreSettings()


@lru_cache
def get_warehouse_settings() -> WarehouseSettings:
    """Cached :class:`WarehouseSettings`."""
    return WarehouseSettings()


@lru_cache
def get_redis_settings() -> RedisSettings:
    """Cached :class:`RedisSettings`."""
    return RedisSettings()


@lru_cache
def get_publish_settings() -> PublishSettings:
    """Cached :class:`PublishSettings`."""
    return PublishSettings()


@lru_cache
def get_mlflow_settings() -> MlflowSettings:
    """Cached :class:`MlflowSettings`."""
    return MlflowSettings()


@lru_cache
def get_football_data_settings() -> FootballDataSettings:
    """Cached :class:`FootballDataSettings`."""
    return FootballDataSettings()


@lru_cache
def get_fetch_settings() -> FetchSettings:
    """Cached :class:`FetchSettings`."""
    return FetchSettings()


@lru_cache
def get_feature_store_settings() -> FeatureStoreSettings:
    """Cached :class:`FeatureStoreSettings`."""
    return FeatureStoreSettings()


@lru_cache
def get_source_settings() -> SourceSettings:
    """Cached :class:`SourceSettings`."""
    return SourceSettings()


@lru_cache
def get_model_settings() -> ModelSettings:
    """Cached :class:`ModelSettings`."""
    return ModelSettings()


@lru_cache
def get_serving_settings() -> ServingSettings:
    """Cached :class:`ServingSettings`."""
    return ServingSettings()


@lru_cache
def get_monitor_settings() -> MonitorSettings:
    """Cached :class:`MonitorSettings`."""
    return MonitorSettings()


def clear_settings_cache() -> None:
    """Forget every cached settings object (after changing the environment)."""
    for accessor in (
        get_core_settings,
        get_warehouse_settings,
        get_redis_settings,
        get_publish_settings,
        get_mlflow_settings,
        get_football_data_settings,
        get_fetch_settings,
        get_feature_store_settings,
        get_source_settings,
        get_model_settings,
        get_serving_settings,
        get_monitor_settings,
    ):
        accessor.cache_clear()
