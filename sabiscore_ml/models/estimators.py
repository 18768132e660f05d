"""scikit-learn compatible 1X2 estimators: the tree ensemble, calibration and baselines.

Every estimator follows the scikit-learn contract: ``__init__`` stores
hyperparameters only, ``fit(X, y)`` returns ``self``, learned attributes end in
``_``, ``predict_proba`` returns columns in the order of ``classes_ = [H, D, A]``,
and ``get_params``/``set_params``/``clone`` work.  ``X`` is a pandas DataFrame of
feature-store columns (missing values as NaN); ``y`` holds ``H``/``D``/``A``.

Rows must be in kickoff order wherever an estimator splits them in time (the
stacking folds of :class:`TreeEnsemble`, the calibration slice of
:class:`CalibratedModel`): the later rows are the later matches.

:class:`GoalsModel` is the exception to the label contract: its ``y`` is the
pair of goals per match, from which it predicts scoring rates and derives every
market (1X2, over/under 2.5, both teams to score) from one Dixon-Coles score grid.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Self, TypeAlias, cast

import numpy as np
import pandas as pd
from joblib import parallel_config
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from sabiscore_ml.models.metrics import OUTCOMES, outcome_index
from sabiscore_ml.models.score_grid import score_grid_probabilities
from sabiscore_ml.settings import get_model_settings

if TYPE_CHECKING:
    from lightgbm import LGBMClassifier, LGBMRegressor
    from sklearn.ensemble import RandomForestClassifier
    from xgboost import XGBClassifier

#: What a classifier's ``fit`` takes as ``y``: the results ``H``/``D``/``A``, in row order.
Results: TypeAlias = "np.ndarray | pd.Series[str] | Sequence[str]"
#: A member of :class:`TreeEnsemble`.
Member: TypeAlias = "RandomForestClassifier | XGBClassifier | LGBMClassifier | MarketImplied"
#: Hyperparameters given to a model's constructor.
Params: TypeAlias = Mapping[str, Any]

CLASSES = np.array(OUTCOMES)
_CLIP = 1e-6

#: The design's fixed blend of the three tree models.
DESIGN_WEIGHTS = {"rf": 0.40, "xgb": 0.35, "lgbm": 0.25}

#: Margin-free pre-closing probabilities in the feature store, most trusted first.
MARKET_SOURCES = ("pinnacle", "market_avg", "consensus", "b365")


class _OutcomeClassifier(ClassifierMixin, BaseEstimator):
    """Shared plumbing: label encoding, ``classes_`` and the column check."""

    if TYPE_CHECKING:
        # every subclass defines them

        def fit(self, X: pd.DataFrame, y: Results) -> Self: ...

        def predict_proba(self, X: pd.DataFrame) -> np.ndarray: ...

    def _start_fit(self, X: pd.DataFrame, y: Results) -> np.ndarray:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        if len(X) == 0:
            raise ValueError("cannot fit on zero matches")
        self.classes_ = CLASSES.copy()
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return outcome_index(np.asarray(y))

    def _prior(self, outcome: np.ndarray) -> np.ndarray:
        counts = np.bincount(outcome, minlength=3).astype(float) + 1.0
        prior: np.ndarray = counts / counts.sum()
        return prior

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most probable outcome of each match."""
        classes: np.ndarray = self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return classes


def _normalise(probs: np.ndarray) -> np.ndarray:
    probs = np.clip(probs, _CLIP, None)
    normalised: np.ndarray = probs / probs.sum(axis=1, keepdims=True)
    return normalised


def _fill_rows(probs: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Rows with a missing probability take ``fallback`` whole."""
    missing = np.isnan(probs).any(axis=1)
    probs = probs.copy()
    probs[missing] = fallback
    return probs


# --- baselines -------------------------------------------------------------------------


class MarketImplied(_OutcomeClassifier):
    """The pre-closing market's margin-free probabilities, as a model.

    Takes, per match, the first source in ``sources`` with a complete quote
    (``method``: ``proportional`` or ``shin`` de-margining, for the named
    bookmakers; the consensus is the mean of every bookmaker's proportional
    probabilities).  Matches with no quote get the training outcome frequencies.
    """

    def __init__(self, sources: Sequence[str] = MARKET_SOURCES, method: str = "proportional"):
        self.sources = sources
        self.method = method

    def _columns(self, source: str) -> list[str]:
        kind = "shin" if self.method == "shin" and source != "consensus" else "p"
        return [f"mkt_{source}_{kind}_{o}" for o in ("home", "draw", "away")]

    def fit(self, X: pd.DataFrame, y: Results) -> MarketImplied:
        """Learn only the fallback: the outcome frequencies."""
        if self.method not in ("proportional", "shin"):
            raise ValueError(f"method must be proportional or shin, not {self.method!r}")
        outcome = self._start_fit(X, y)
        self.prior_ = self._prior(outcome)
        return self

    def market_probabilities(self, X: pd.DataFrame) -> np.ndarray:
        """The first available source's probabilities (NaN rows where none quotes)."""
        out = np.full((len(X), 3), np.nan)
        for source in self.sources:
            columns = self._columns(source)
            if not set(columns) <= set(X.columns):
                continue
            values = X[columns].to_numpy(dtype=np.float64)
            take = np.isnan(out).any(axis=1) & ~np.isnan(values).any(axis=1)
            out[take] = values[take]
        return out

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Market probabilities, the frequencies where no bookmaker quoted."""
        return _normalise(_fill_rows(self.market_probabilities(X), self.prior_))


class EloOrderedLogit(_OutcomeClassifier):
    """Ordered logit on Elo: ``P(A) = σ(c1 − βx)``, ``P(A or D) = σ(c2 − βx)``, ``c1 < c2``.

    ``x`` is the sum of ``features`` (by default the Elo difference plus the
    league's learnt home advantage, in Elo points), scaled by 1/400.
    """

    def __init__(self, features: Sequence[str] = ("elo_diff", "elo_home_advantage")):
        self.features = features

    def _x(self, X: pd.DataFrame) -> np.ndarray:
        values = X[list(self.features)].to_numpy(dtype=np.float64)
        x: np.ndarray = np.nan_to_num(values, nan=0.0).sum(axis=1) / 400.0
        return x

    @staticmethod
    def _probs(params: np.ndarray, x: np.ndarray) -> np.ndarray:
        beta, c1, log_gap = params
        c2 = c1 + np.exp(log_gap)
        p_away = expit(c1 - beta * x)
        p_not_home = expit(c2 - beta * x)
        return np.column_stack([1.0 - p_not_home, p_not_home - p_away, p_away])

    def fit(self, X: pd.DataFrame, y: Results) -> EloOrderedLogit:
        """Maximum likelihood for β and the two cut points."""
        outcome = self._start_fit(X, y)
        x = self._x(X)

        def nll(params: np.ndarray) -> float:
            p = self._probs(params, x)[np.arange(len(x)), outcome]
            return float(-np.log(np.clip(p, 1e-12, None)).sum())

        result = minimize(
            nll,
            np.array([1.0, -0.7, np.log(0.9)]),
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 2000},
        )
        self.params_ = result.x
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Ordered-logit probabilities."""
        return _normalise(self._probs(self.params_, self._x(X)))


class DixonColes(_OutcomeClassifier):
    """The feature store's sequential Dixon-Coles probabilities (``dc_p_*``), as a model.

    The strengths are refitted match by match in the feature store, strictly
    before each match day; ``fit`` learns only the fallback for teams without one.
    """

    columns = ("dc_p_home", "dc_p_draw", "dc_p_away")

    def fit(self, X: pd.DataFrame, y: Results) -> DixonColes:
        """Learn the outcome frequencies used where a rating is missing."""
        self.prior_ = self._prior(self._start_fit(X, y))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Score-grid probabilities of the rating."""
        values = X[list(self.columns)].to_numpy(dtype=np.float64)
        return _normalise(_fill_rows(values, self.prior_))


#: LightGBM's settings for the classifier member and the goals regressors.
LGBM_DEFAULTS: dict[str, Any] = dict(
    n_estimators=300,
    learning_rate=0.03,
    num_leaves=15,
    min_child_samples=100,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.5,
    reg_lambda=5.0,
    verbose=-1,
)


# --- the tree ensemble --------------------------------------------------------------


def make_member(name: str, params: Params | None = None, random_state: int = 0) -> Member:
    """One of the ensemble's models with Sabiscore's defaults, overridden by ``params``."""
    params = dict(params or {})
    threads = get_model_settings().threads
    if name == "rf":
        from sklearn.ensemble import RandomForestClassifier

        defaults: dict[str, Any] = dict(
            n_estimators=150,
            min_samples_leaf=50,
            max_features=0.1,
            max_samples=0.3,
            max_depth=14,
            n_jobs=threads,
        )
        return RandomForestClassifier(**{**defaults, **params}, random_state=random_state)
    if name == "xgb":
        from xgboost import XGBClassifier

        defaults = dict(
            n_estimators=300,
            learning_rate=0.03,
            max_depth=3,
            subsample=0.8,
            colsample_bytree=0.5,
            min_child_weight=20.0,
            reg_lambda=5.0,
            tree_method="hist",
            n_jobs=threads,
            verbosity=0,
        )
        return XGBClassifier(
            **{**defaults, **params}, objective="multi:softprob", random_state=random_state
        )
    if name == "lgbm":
        from lightgbm import LGBMClassifier

        defaults = {**LGBM_DEFAULTS, "n_jobs": threads}
        return LGBMClassifier(
            **{**defaults, **params}, objective="multiclass", random_state=random_state
        )
    if name == "market":
        return MarketImplied(**params)
    raise ValueError(f"unknown ensemble member {name!r} (rf, xgb, lgbm, market)")


# The forest's loops run on threads, but it sizes its predictions with joblib's active
# backend, loky by default, which in a daemonic process (a Celery worker's pool process)
# allows one job ("Loky-backed parallel loops cannot be called in a multiprocessing"):
# the members run under the threading backend, so they use their n_jobs everywhere.


def _member_probs(model: Member, X: pd.DataFrame) -> np.ndarray:
    if isinstance(model, _OutcomeClassifier):
        return model.predict_proba(X)
    with parallel_config(backend="threading"):
        return _normalise(np.asarray(model.predict_proba(X.to_numpy(dtype=np.float32))))


def _fit_member(model: Member, X: pd.DataFrame, outcome: np.ndarray) -> Member:
    if isinstance(model, _OutcomeClassifier):
        return model.fit(X, CLASSES[outcome])
    with parallel_config(backend="threading"):
        return model.fit(X.to_numpy(dtype=np.float32), outcome)


class LogLinearPool:
    """The stacking meta-learner: multinomial logistic regression on members' log-probabilities.

    ``P(k) ∝ exp(b_k + Σ_m w_m · log p_mk)``: one weight per member, shared by the
    three outcomes (a conditional logit), and an intercept per outcome.  With
    weights summing to one and no intercepts it is a geometric mean of the
    members; the fit may sharpen (weights summing above one), flatten, or move
    the draw rate.  Few parameters, so it does not overfit the out-of-fold rows
    as a full multinomial regression on every member-outcome column does.
    ``c`` is the inverse strength of an L2 pull of the weights towards equal.
    """

    def __init__(self, c: float = 1.0):
        self.c = c

    @staticmethod
    def _logits(params: np.ndarray, logp: np.ndarray) -> np.ndarray:
        members = logp.shape[0]
        weights, intercepts = (
            params[:members],
            np.array([0.0, params[members], params[members + 1]]),
        )
        logits: np.ndarray = np.tensordot(weights, logp, axes=1) + intercepts
        return logits

    def fit(self, probs: np.ndarray, outcome: np.ndarray) -> LogLinearPool:
        """``probs`` has shape ``(members, n, 3)``."""
        logp = np.log(np.clip(probs, _CLIP, 1.0))
        members, n = logp.shape[0], logp.shape[1]
        prior = np.full(members, 1.0 / members)
        penalty = 1.0 / (2.0 * self.c * n)

        def loss(params: np.ndarray) -> float:
            logits = log_softmax(self._logits(params, logp), axis=1)
            nll = -logits[np.arange(n), outcome].mean()
            return float(nll + penalty * np.sum((params[:members] - prior) ** 2))

        start = np.concatenate([prior, [0.0, 0.0]])
        self.coef_ = minimize(loss, start, method="L-BFGS-B").x
        self.weights_ = self.coef_[:members]
        return self

    def predict_proba(self, probs: np.ndarray) -> np.ndarray:
        """Pooled probabilities of ``probs`` (shape ``(members, n, 3)``)."""
        logp = np.log(np.clip(probs, _CLIP, 1.0))
        return np.exp(log_softmax(self._logits(self.coef_, logp), axis=1))


class TreeEnsemble(_OutcomeClassifier):
    """RandomForest + XGBoost + LightGBM, blended by fixed weights or by stacking.

    ``weights="stacking"`` (the default) learns the blend: a :class:`LogLinearPool`
    (multinomial logistic regression) on the log-probabilities the members gave
    *out of fold*, with forward-chaining folds (each fold's members were fitted on
    the rows before it only), then refits every member on all rows.  ``weights="design"`` blends the
    probabilities 40/35/25; a dict gives other fixed weights.  ``members`` may
    include ``market`` (:class:`MarketImplied`), which lets the meta-learner start
    from the pre-closing market and learn how far to move away from it.
    """

    def __init__(
        self,
        members: Sequence[str] = ("rf", "xgb", "lgbm"),
        weights: str | Mapping[str, float] = "stacking",
        n_folds: int = 2,
        oof_fraction: float = 0.4,
        meta_c: float = 1.0,
        rf_params: Params | None = None,
        xgb_params: Params | None = None,
        lgbm_params: Params | None = None,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.weights = weights
        self.n_folds = n_folds
        self.oof_fraction = oof_fraction
        self.meta_c = meta_c
        self.rf_params = rf_params
        self.xgb_params = xgb_params
        self.lgbm_params = lgbm_params
        self.random_state = random_state

    def _new_member(self, name: str) -> Member:
        params = {"rf": self.rf_params, "xgb": self.xgb_params, "lgbm": self.lgbm_params}
        return make_member(name, params.get(name), self.random_state)

    def _fixed_weights(self) -> dict[str, float] | None:
        if self.weights == "stacking":
            return None
        if isinstance(self.weights, str) and self.weights != "design":
            raise ValueError(f"weights must be stacking, design or a dict, not {self.weights!r}")
        weights = DESIGN_WEIGHTS if isinstance(self.weights, str) else dict(self.weights)
        if set(weights) != set(self.members) or min(weights.values()) < 0:
            raise ValueError(f"weights {weights} must cover exactly the members {self.members}")
        total = sum(weights.values())
        return {name: w / total for name, w in weights.items()}

    def fit(self, X: pd.DataFrame, y: Results) -> TreeEnsemble:
        """Fit the members (and, when stacking, the meta-learner on out-of-fold probabilities)."""
        outcome = self._start_fit(X, y)
        fixed = self._fixed_weights()
        self.meta_: LogLinearPool | None
        self.blend_weights_: dict[str, float] | None
        if fixed is None:
            self.meta_ = self._fit_meta(X, outcome)
            self.blend_weights_ = None
        else:
            self.meta_ = None
            self.blend_weights_ = fixed
        self.members_ = {
            name: _fit_member(self._new_member(name), X, outcome) for name in self.members
        }
        return self

    def _fit_meta(self, X: pd.DataFrame, outcome: np.ndarray) -> LogLinearPool:
        # The out-of-fold rows are the latest ``oof_fraction`` of the data, cut into
        # ``n_folds`` blocks; each block is predicted by members fitted on every row
        # before it, so the meta-learner learns the blend the members will need on
        # the next, unseen matches (older rows lack most features and would mislead it).
        start = int(len(X) * (1.0 - self.oof_fraction))
        bounds = np.linspace(start, len(X), self.n_folds + 1).astype(int)
        if bounds[0] < 200 or bounds[1] - bounds[0] < 50:
            raise ValueError(f"{len(X)} matches are too few for {self.n_folds} stacking folds")
        oof, labels = [], []
        for k in range(self.n_folds):
            train, test = slice(0, bounds[k]), slice(bounds[k], bounds[k + 1])
            if len(np.unique(outcome[train])) < 3:
                continue
            parts = [
                _member_probs(
                    _fit_member(self._new_member(n), X.iloc[train], outcome[train]), X.iloc[test]
                )
                for n in self.members
            ]
            oof.append(np.stack(parts))
            labels.append(outcome[test])
        return LogLinearPool(self.meta_c).fit(np.concatenate(oof, axis=1), np.concatenate(labels))

    def member_probabilities(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each member's probabilities."""
        return {name: _member_probs(model, X) for name, model in self.members_.items()}

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The blended probabilities."""
        parts = self.member_probabilities(X)
        if self.meta_ is not None:
            return _normalise(self.meta_.predict_proba(np.stack(list(parts.values()))))
        assert self.blend_weights_ is not None  # fixed weights when there is no meta-learner
        blend = cast(np.ndarray, sum(self.blend_weights_[n] * p for n, p in parts.items()))
        return _normalise(blend)

    def feature_importance(self) -> pd.Series[float]:
        """Mean normalised importance over the tree members, by feature."""
        scores = []
        for model in self.members_.values():
            values = getattr(model, "feature_importances_", None)
            if values is not None and np.sum(values) > 0:
                scores.append(np.asarray(values, dtype=float) / np.sum(values))
        if not scores:
            return pd.Series(dtype=float)
        mean = np.mean(scores, axis=0)  # float64 already
        series = pd.Series(mean, index=self.feature_names_in_, dtype=float)
        return series.sort_values(ascending=False)


# --- the market-anchored ensemble ---------------------------------------------------

#: Smaller trees for the anchored members: they learn a correction, not the match
#: (the boosters' ``n_estimators`` is a ceiling: they stop early).
ANCHORED_DEFAULTS: dict[str, dict[str, Any]] = {
    "rf": dict(
        n_estimators=40,
        min_samples_leaf=300,
        max_features=0.1,
        max_samples=0.15,
        max_depth=5,
    ),
    "xgb": dict(
        n_estimators=300,
        learning_rate=0.05,
        max_depth=2,
        subsample=0.7,
        colsample_bytree=0.5,
        min_child_weight=100.0,
        reg_lambda=20.0,
        max_bin=64,
    ),
    "lgbm": dict(
        n_estimators=300,
        learning_rate=0.05,
        num_leaves=4,
        min_child_samples=300,
        subsample=0.7,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=20.0,
        max_bin=63,
    ),
}

_SIDES = ("home", "draw", "away")


def _centred(values: np.ndarray) -> np.ndarray:
    """Log-odds vectors with their mean over the outcomes (last axis) removed."""
    centred: np.ndarray = values - values.mean(axis=-1, keepdims=True)
    return centred


class MarketBaseline(_OutcomeClassifier):
    """The anchor of :class:`AnchoredEnsemble`: the pre-closing market, where it quoted.

    Per match the first complete source of ``sources`` (as :class:`MarketImplied`);
    a match with no quote takes the feature store's Dixon-Coles probabilities
    (``dc_p_*``) when present, else the training outcome frequencies.
    ``quoted(X)`` tells which rows the market anchored.
    """

    def __init__(self, sources: Sequence[str] = MARKET_SOURCES, method: str = "proportional"):
        self.sources = sources
        self.method = method

    def fit(self, X: pd.DataFrame, y: Results) -> MarketBaseline:
        """Learn the last fallback: the outcome frequencies."""
        outcome = self._start_fit(X, y)
        self.market_ = MarketImplied(self.sources, self.method).fit(X, CLASSES[outcome])
        self.prior_ = self.market_.prior_
        return self

    def quoted(self, X: pd.DataFrame) -> np.ndarray:
        """Whether the market quoted each match (the anchor is the market's)."""
        quoted: np.ndarray = ~np.isnan(self.market_.market_probabilities(X)).any(axis=1)
        return quoted

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Market probabilities, else Dixon-Coles, else the frequencies."""
        probs = self.market_.market_probabilities(X)
        if set(DixonColes.columns) <= set(X.columns):
            rating = X[list(DixonColes.columns)].to_numpy(dtype=np.float64)
            missing = np.isnan(probs).any(axis=1)
            probs[missing] = rating[missing]
        return _normalise(_fill_rows(probs, self.prior_))

    def log_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Log-probabilities of :meth:`predict_proba` (the boosters' base margin)."""
        logp: np.ndarray = np.log(self.predict_proba(X))
        return logp


class AnchoredEnsemble(_OutcomeClassifier):
    """RandomForest, XGBoost and LightGBM learning only the market's error, stacked.

    Every member starts from the :class:`MarketBaseline`'s log-probabilities:
    LightGBM boosts from them (``init_score``), XGBoost too (``base_margin``),
    and the forest regresses the residual (one-hot result minus the baseline's
    probabilities), added back to the baseline.  A member whose trees say
    nothing therefore returns the market.  The meta-learner (a
    :class:`LogLinearPool`) blends the members *and* the baseline itself on
    out-of-fold rows, so the walk-forward learns how far to move from the market.

    :meth:`contributions` gives, per match and feature, what the boosters moved
    the market's (centred) log-probabilities by, weighted as the pool weighs them.
    """

    def __init__(
        self,
        members: Sequence[str] = ("rf", "xgb", "lgbm"),
        n_folds: int = 1,
        oof_fraction: float = 0.3,
        meta_c: float = 1.0,
        rf_params: Params | None = None,
        xgb_params: Params | None = None,
        lgbm_params: Params | None = None,
        sources: Sequence[str] = MARKET_SOURCES,
        early_stopping: float = 0.2,
        patience: int = 20,
        random_state: int = 0,
    ) -> None:
        self.members = members
        self.early_stopping = early_stopping
        self.patience = patience
        self.n_folds = n_folds
        self.oof_fraction = oof_fraction
        self.meta_c = meta_c
        self.rf_params = rf_params
        self.xgb_params = xgb_params
        self.lgbm_params = lgbm_params
        self.sources = sources
        self.random_state = random_state

    def _new_member(self, name: str) -> Any:
        given = {"rf": self.rf_params, "xgb": self.xgb_params, "lgbm": self.lgbm_params}
        if name not in given:
            raise ValueError(f"unknown anchored member {name!r} (rf, xgb, lgbm)")
        params = {**ANCHORED_DEFAULTS[name], **(given[name] or {})}
        threads = get_model_settings().threads
        if name == "rf":
            from sklearn.ensemble import RandomForestRegressor

            return RandomForestRegressor(
                **{"n_jobs": threads, **params}, random_state=self.random_state
            )
        return make_member(name, params, self.random_state)

    def _fit_members(
        self,
        X: pd.DataFrame,
        outcome: np.ndarray,
        base: np.ndarray,
        rounds: Mapping[str, int] | None = None,
    ) -> dict[str, Any]:
        """Fit every member; boosters stop early on the latest rows unless ``rounds`` is given.

        Without ``rounds`` a booster trains on the first ``1 - early_stopping``
        of the rows and stops when the log loss of the rest has not improved for
        ``patience`` rounds (its ``best_iteration_`` is kept); with ``rounds`` it
        trains that many rounds on every row.
        """
        data = X.to_numpy(dtype=np.float32)
        cut = int(len(X) * (1.0 - self.early_stopping)) if rounds is None else len(X)
        fit, held = slice(0, cut), slice(cut, len(X))
        fitted: dict[str, Any] = {}
        for name in self.members:
            model = self._new_member(name)
            if name == "rf":
                with parallel_config(backend="threading"):  # see _fit_member
                    model.fit(data, np.eye(3)[outcome] - np.exp(base))
            elif rounds is not None:
                model.set_params(n_estimators=max(1, rounds[name]))
                if name == "lgbm":
                    model.fit(data, outcome, init_score=base)
                else:
                    model.fit(data, outcome, base_margin=base)
            elif name == "lgbm":
                from lightgbm import early_stopping

                model.fit(
                    data[fit],
                    outcome[fit],
                    init_score=base[fit],
                    eval_X=(data[held],),
                    eval_y=(outcome[held],),
                    eval_init_score=[base[held]],
                    callbacks=[early_stopping(self.patience, verbose=False)],
                )
            else:
                model.set_params(early_stopping_rounds=self.patience)
                model.fit(
                    data[fit],
                    outcome[fit],
                    base_margin=base[fit],
                    eval_set=[(data[held], outcome[held])],
                    base_margin_eval_set=[base[held]],
                    verbose=False,
                )
            fitted[name] = model
        return fitted

    @staticmethod
    def _rounds(fitted: Mapping[str, Any]) -> dict[str, int]:
        """The boosters' early-stopped numbers of rounds."""
        out = {}
        for name, model in fitted.items():
            if name == "lgbm":
                out[name] = int(model.best_iteration_ or model.n_estimators)
            elif name == "xgb":
                out[name] = int(model.best_iteration) + 1
        return out

    @staticmethod
    def _margin(name: str, model: Any, data: np.ndarray, base: np.ndarray) -> np.ndarray:
        """A booster's correction of the base log-odds (raw scores, base excluded)."""
        if name == "lgbm":
            raw: np.ndarray = np.asarray(model.booster_.predict(data, raw_score=True))
            return raw
        from xgboost import DMatrix

        matrix = DMatrix(data, base_margin=base)
        margin = np.asarray(model.get_booster().predict(matrix, output_margin=True))
        correction: np.ndarray = margin - base
        return correction

    def _member_log_probs(
        self, fitted: Mapping[str, Any], X: pd.DataFrame, base: np.ndarray
    ) -> dict[str, np.ndarray]:
        data = X.to_numpy(dtype=np.float32)
        out = {"market": base}
        for name, model in fitted.items():
            if name == "rf":
                with parallel_config(backend="threading"):  # see _member_probs
                    residual = np.asarray(model.predict(data)).reshape(len(X), 3)
                out[name] = np.log(_normalise(np.exp(base) + residual))
            else:
                out[name] = log_softmax(base + self._margin(name, model, data, base), axis=1)
        return out

    def fit(self, X: pd.DataFrame, y: Results) -> AnchoredEnsemble:
        """Fit the baseline, the pool on out-of-fold rows, then every member on all rows."""
        outcome = self._start_fit(X, y)
        if not self.members:
            raise ValueError("an anchored ensemble needs at least one member")
        self.baseline_ = MarketBaseline(self.sources).fit(X, CLASSES[outcome])
        base = self.baseline_.log_proba(X)
        start = int(len(X) * (1.0 - self.oof_fraction))
        bounds = np.linspace(start, len(X), self.n_folds + 1).astype(int)
        if bounds[0] < 200 or bounds[1] - bounds[0] < 50:
            raise ValueError(f"{len(X)} matches are too few for {self.n_folds} stacking folds")
        oof, labels = [], []
        for k in range(self.n_folds):
            train, test = slice(0, bounds[k]), slice(bounds[k], bounds[k + 1])
            if len(np.unique(outcome[train])) < 3:
                continue
            fitted = self._fit_members(X.iloc[train], outcome[train], base[train])
            rounds = self._rounds(fitted)
            parts = self._member_log_probs(fitted, X.iloc[test], base[test])
            oof.append(np.exp(np.stack(list(parts.values()))))
            labels.append(outcome[test])
        if not oof:
            raise ValueError("no stacking fold saw all three outcomes")
        self.meta_ = LogLinearPool(self.meta_c).fit(
            np.concatenate(oof, axis=1), np.concatenate(labels)
        )
        # the last fold's early-stopped rounds, trained on every row
        self.rounds_ = rounds
        self.members_ = self._fit_members(X, outcome, base, rounds)
        self.pool_names_ = ("market", *self.members)
        return self

    def member_probabilities(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        """The baseline's and each member's probabilities."""
        base = self.baseline_.log_proba(X)
        return {k: np.exp(v) for k, v in self._member_log_probs(self.members_, X, base).items()}

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The pooled probabilities."""
        parts = self.member_probabilities(X)
        return _normalise(self.meta_.predict_proba(np.stack([parts[n] for n in self.pool_names_])))

    def booster_contributions(self, name: str, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """One booster's per-feature contributions to its correction, and its bias.

        Shapes ``(n, features, 3)`` and ``(n, 3)``: their sum over features plus
        the bias is the booster's raw correction of the base log-odds.
        """
        model = self.members_[name]
        data = X.to_numpy(dtype=np.float32)
        base = self.baseline_.log_proba(X)
        n, f = data.shape
        if name == "lgbm":
            raw = np.asarray(model.booster_.predict(data, pred_contrib=True))
            per = raw.reshape(n, 3, f + 1).transpose(0, 2, 1)
            return per[:, :f, :], per[:, f, :]
        if name == "xgb":
            from xgboost import DMatrix

            matrix = DMatrix(data, base_margin=base)
            raw = np.asarray(model.get_booster().predict(matrix, pred_contribs=True))
            per = raw.transpose(0, 2, 1)  # (n, f + 1, 3)
            return per[:, :f, :], per[:, f, :] - base
        raise ValueError(f"{name!r} is not a booster member (xgb, lgbm)")

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Per match and feature, the pooled boosters' move of the market's centred log-odds.

        Returns ``(contributions, rest)`` of shapes ``(n, features, 3)`` and
        ``(n, 3)``, centred over the outcomes: the baseline's centred
        log-probabilities plus the contributions summed over features plus
        ``rest`` (the forest, the boosters' biases, the pool's intercepts and
        its weight on the market) equal the ensemble's centred log-probabilities.
        """
        weights = dict(zip(self.pool_names_, self.meta_.weights_, strict=True))
        base_c = _centred(self.baseline_.log_proba(X))
        total = np.zeros((len(X), self.n_features_in_, 3))
        for name in self.members:
            if name in ("xgb", "lgbm"):
                per, _ = self.booster_contributions(name, X)
                total += weights[name] * _centred(per)
        contributions = _centred(total)
        final = _centred(np.log(self.predict_proba(X)))
        rest: np.ndarray = final - base_c - contributions.sum(axis=1)
        return contributions, rest

    def feature_importance(self) -> pd.Series[float]:
        """Mean normalised importance over the tree members, by feature."""
        scores = []
        for model in self.members_.values():
            values = getattr(model, "feature_importances_", None)
            if values is not None and np.sum(values) > 0:
                scores.append(np.asarray(values, dtype=float) / np.sum(values))
        if not scores:
            return pd.Series(dtype=float)
        series = pd.Series(np.mean(scores, axis=0), index=self.feature_names_in_, dtype=float)
        return series.sort_values(ascending=False)


# --- calibration -------------------------------------------------------------------


class Calibrator:
    """Maps probabilities to calibrated ones: ``isotonic``, ``sigmoid`` or ``temperature``."""

    def __init__(self, method: str) -> None:
        if method not in ("isotonic", "sigmoid", "temperature"):
            raise ValueError(
                f"calibration must be isotonic, sigmoid or temperature, not {method!r}"
            )
        self.method = method

    def fit(self, probs: np.ndarray, outcome: np.ndarray) -> Calibrator:
        """Fit on probabilities and what happened."""
        onehot = np.eye(3)[outcome]
        self.maps_: list[IsotonicRegression] | list[LogisticRegression]
        if self.method == "isotonic":
            self.maps_ = [
                IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(
                    probs[:, k], onehot[:, k]
                )
                for k in range(3)
            ]
        elif self.method == "sigmoid":
            self.maps_ = [
                LogisticRegression(C=1e4).fit(_logit(probs[:, [k]]), onehot[:, k]) for k in range(3)
            ]
        else:
            logp = np.log(np.clip(probs, _CLIP, 1.0))

            def nll(t: float) -> float:
                return float(-log_softmax(logp / t, axis=1)[np.arange(len(outcome)), outcome].sum())

            self.temperature_ = float(minimize_scalar(nll, bounds=(0.2, 5.0), method="bounded").x)
        return self

    def transform(self, probs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, each row summing to one."""
        # ``fit`` made the maps of the method: isotonic regressions or logistic ones
        if self.method == "isotonic":
            isotonic = cast(list[IsotonicRegression], self.maps_)
            out = np.column_stack([m.predict(probs[:, k]) for k, m in enumerate(isotonic)])
        elif self.method == "sigmoid":
            logistic = cast(list[LogisticRegression], self.maps_)
            out = np.column_stack(
                [m.predict_proba(_logit(probs[:, [k]]))[:, 1] for k, m in enumerate(logistic)]
            )
        else:
            logp = np.log(np.clip(probs, _CLIP, 1.0))
            scaled: np.ndarray = np.exp(log_softmax(logp / self.temperature_, axis=1))
            return scaled
        return _normalise(out)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _CLIP, 1 - _CLIP)
    logit: np.ndarray = np.log(p / (1 - p))
    return logit


class CalibratedModel(_OutcomeClassifier):
    """A base model fitted on the earlier rows, a calibrator on the later ``calibration_fraction``.

    The calibration slice is later in time than anything the base model saw, as
    when the model meets next season's matches.  :meth:`recalibrate` refits the
    calibrator alone on new matches, leaving the base model as it is.
    """

    def __init__(
        self,
        base: _OutcomeClassifier | None = None,
        method: str | None = "isotonic",
        calibration_fraction: float = 0.15,
    ) -> None:
        self.base = base
        self.method = method
        self.calibration_fraction = calibration_fraction

    def fit(self, X: pd.DataFrame, y: Results) -> CalibratedModel:
        """Fit the base model, then the calibrator on the later slice."""
        outcome = self._start_fit(X, y)
        base: _OutcomeClassifier = clone(self.base if self.base is not None else TreeEnsemble())
        self.calibrator_: Calibrator | None
        if self.method is None:
            self.base_ = base.fit(X, CLASSES[outcome])
            self.calibrator_ = None
            return self
        cut = int(round(len(X) * (1.0 - self.calibration_fraction)))
        if cut < 100 or len(X) - cut < 100:
            raise ValueError(
                f"{len(X)} matches are too few to keep {self.calibration_fraction:.0%} "
                "for calibration"
            )
        self.base_ = base.fit(X.iloc[:cut], CLASSES[outcome[:cut]])
        self.calibrator_ = Calibrator(self.method).fit(
            self.base_.predict_proba(X.iloc[cut:]), outcome[cut:]
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities."""
        probs = self.base_.predict_proba(X)
        return probs if self.calibrator_ is None else self.calibrator_.transform(probs)

    def uncalibrated_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The base model's probabilities before calibration."""
        return self.base_.predict_proba(X)

    def recalibrate(
        self, X: pd.DataFrame, y: Results, method: str | None = None
    ) -> CalibratedModel:
        """A copy whose calibrator is refitted on ``X, y``; the base model is shared, unchanged."""
        outcome = outcome_index(np.asarray(y))
        new = copy.copy(self)
        new.method = method or self.method or "isotonic"
        new.calibrator_ = Calibrator(new.method).fit(self.base_.predict_proba(X), outcome)
        return new

    def contributions(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-match attributions against the base model's baseline, after calibration.

        Returns ``(baseline, contributions, rest)``: the baseline's probabilities
        ``(n, 3)``, each feature's move of the centred log-probabilities
        ``(n, features, 3)`` (the base model's, divided by the temperature), and
        the remainder ``(n, 3)``: centred log baseline + contributions summed
        over features + rest = centred log of :meth:`predict_proba`.  Needs a
        base model with ``contributions`` (:class:`AnchoredEnsemble`).
        """
        explain = getattr(self.base_, "contributions", None)
        baseline = getattr(self.base_, "baseline_", None)
        if explain is None or baseline is None:
            raise TypeError(f"{type(self.base_).__name__} gives no per-match contributions")
        per, _ = explain(X)
        calibrator = self.calibrator_
        if calibrator is not None and calibrator.method == "temperature":
            per = per / calibrator.temperature_
        base = baseline.predict_proba(X)
        final = _centred(np.log(self.predict_proba(X)))
        rest: np.ndarray = final - _centred(np.log(base)) - per.sum(axis=1)
        return base, per, rest

    def feature_importance(self) -> pd.Series[float]:
        """The base model's feature importance, when it has one."""
        getter = getattr(self.base_, "feature_importance", None)
        importance: pd.Series[float] = getter() if getter else pd.Series(dtype=float)
        return importance


# --- expected goals and the score grid ----------------------------------------------


class GoalsModel(BaseEstimator):
    """Expected-goals regressors feeding one Dixon-Coles score grid.

    Two Poisson LightGBM regressors predict each side's scoring rate; ``rho``
    (the Dixon-Coles low-score correction) is then fitted by likelihood on the
    training scores.  Every market comes from the same grid, so 1X2, over/under
    2.5 and both-teams-to-score are mutually consistent.  ``y`` is an ``(n, 2)``
    array of home and away goals.
    """

    classes_ = CLASSES
    fits_goals = True  # ``fit`` takes goals, not results

    def __init__(self, lgbm_params: Params | None = None, random_state: int = 0) -> None:
        self.lgbm_params = lgbm_params
        self.random_state = random_state

    def _regressor(self) -> LGBMRegressor:
        from lightgbm import LGBMRegressor

        defaults = {**LGBM_DEFAULTS, "n_jobs": get_model_settings().threads}
        return LGBMRegressor(
            **{**defaults, **(self.lgbm_params or {})},
            objective="poisson",
            random_state=self.random_state,
        )

    def fit(self, X: pd.DataFrame, y: np.ndarray | pd.DataFrame) -> GoalsModel:
        """Fit both rate models, then ``rho`` on the observed scores."""
        goals = np.asarray(y)
        if goals.ndim != 2 or goals.shape[1] != 2 or len(goals) != len(X):
            raise ValueError("GoalsModel.fit needs y as an (n, 2) array of home and away goals")
        goals = goals.astype(np.float64)
        data = X.to_numpy(dtype=np.float32)
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.home_ = self._regressor().fit(data, goals[:, 0])
        self.away_ = self._regressor().fit(data, goals[:, 1])
        lam_h, lam_a = np.asarray(self.home_.predict(data)), np.asarray(self.away_.predict(data))
        self.rho_ = _fit_rho(lam_h, lam_a, goals[:, 0], goals[:, 1])
        return self

    def rates(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Expected goals of the home and away sides."""
        data = X.to_numpy(dtype=np.float32)
        return np.asarray(self.home_.predict(data)), np.asarray(self.away_.predict(data))

    def predict_markets(self, X: pd.DataFrame) -> pd.DataFrame:
        """Rates and every market of the score grid, one row per match."""
        lam_h, lam_a = self.rates(X)
        grid = score_grid_probabilities(lam_h, lam_a, self.rho_)
        return pd.DataFrame({"lambda_home": lam_h, "lambda_away": lam_a, **grid}, index=X.index)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """1X2 from the score grid."""
        markets = self.predict_markets(X)
        return _normalise(markets[["p_home", "p_draw", "p_away"]].to_numpy())


def _fit_rho(
    lam_h: np.ndarray, lam_a: np.ndarray, goals_h: np.ndarray, goals_a: np.ndarray
) -> float:
    """Maximum-likelihood Dixon-Coles ``rho`` given fixed rates (only low scores depend on it)."""
    gh, ga = goals_h.astype(int), goals_a.astype(int)

    def nll(rho: float) -> float:
        tau = np.ones_like(lam_h)
        tau[(gh == 0) & (ga == 0)] = 1.0 - (lam_h * lam_a * rho)[(gh == 0) & (ga == 0)]
        tau[(gh == 0) & (ga == 1)] = 1.0 + (lam_h * rho)[(gh == 0) & (ga == 1)]
        tau[(gh == 1) & (ga == 0)] = 1.0 + (lam_a * rho)[(gh == 1) & (ga == 0)]
        tau[(gh == 1) & (ga == 1)] = 1.0 - rho
        return float(-np.log(np.clip(tau, 1e-9, None)).sum())

    return float(minimize_scalar(nll, bounds=(-0.3, 0.3), method="bounded").x)
