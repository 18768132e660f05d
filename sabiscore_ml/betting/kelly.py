"""Kelly stakes: one bet, the outcomes of one match together, and a batch of value bets.

**One bet.**  At probability ``p`` and decimal price ``o`` the Kelly fraction of
the bankroll is ``f = (p o - 1) / (o - 1)`` when the expected value ``p o - 1``
is positive, else nothing: the stake that maximises the expected logarithm of
the bankroll.

**The outcomes of one match.**  Home, draw and away are mutually exclusive, so
staking on two of them is not two independent Kelly bets.  Smoczynski and
Tomkins (2010, "An explicit solution to the problem of optimizing the
allocations of a bettor's wealth when wagering on horse races") give the exact
optimum: order the outcomes by expected return ``p_i o_i``; starting from the
empty set ``S`` with reserve rate ``R = 1``, add the next outcome while
``p_i o_i > R(S)``, where ``R(S) = (1 - sum_S p) / (1 - sum_S 1/o)``.  Then
``f_i = p_i - R / o_i`` on ``S`` and nothing elsewhere; ``R`` is also the
fraction of the bankroll kept back.  Outcomes that may not be bet on (no value
under the rules) are simply left out: their probability counts as a loss for
every stake, which the formula allows (``sum p < 1``).

**A batch of value bets** (:func:`size_stakes`): the simultaneous Kelly
fractions of each match, times the Kelly multiplier (1/8 by default: full
Kelly on estimated probabilities is far too aggressive), times the drawdown
throttle; then the caps, as fractions of the bankroll: per bet, per league and
matchday, then per matchday (a matchday is a match date).  Every cap scales
stakes down in proportion: when one outcome of a match exceeds the per-bet cap,
all the stakes of that match are scaled by the same factor, so that a hedge
(stakes on two or three outcomes of one match) stays a hedge; when the bets of
a league-day or a day exceed their cap they are all scaled down together.
Never more than the bankroll in total.  Probabilities: ``p_confirmed`` when
the value bets carry it (the edge the closing line confirmed, see
:mod:`sabiscore_ml.betting.edges`), else ``p_model``.  Stakes are rounded down to the stake
step; those below the minimum stake are dropped.  Caps apply to the batch
given: stakes already open on the same day are the caller's to account for.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from sabiscore_ml.betting.edges import as_polars

if TYPE_CHECKING:
    from sabiscore_ml.betting.edges import Frame

# Model probabilities of a market may sum to one up to rounding.
_PROBABILITY_SLACK = 1e-9


@dataclass(frozen=True)
class SimultaneousKelly:
    """Kelly fractions for the mutually exclusive outcomes of one market.

    ``fractions`` are in the order of the outcomes given; ``reserve`` is the
    fraction of the bankroll kept back (one minus their sum); ``expected_growth``
    is the expected log growth of the bankroll at these fractions.
    """

    fractions: tuple[float, ...]
    reserve: float
    expected_growth: float

    @property
    def total(self) -> float:
        """The fraction of the bankroll staked across the outcomes."""
        return float(sum(self.fractions))


@dataclass(frozen=True)
class DrawdownThrottle:
    """Stake less after losses: drawdown is ``1 - bankroll / peak bankroll``.

    From a drawdown of ``reduce_at`` stakes are multiplied by ``factor``; from
    ``stop_at`` nothing is staked.  The stop has hysteresis: once stopped,
    betting resumes (at ``factor``) only when the drawdown has fallen back
    below ``resume_at`` (:meth:`step`).  A bankroll walk measures that drawdown
    on the strategy's record, which keeps following the value bets on paper
    (at the reduced stakes) while stopped, so a stop is never for ever
    (:func:`sabiscore_ml.betting.walk.walk_bankroll`).
    """

    reduce_at: float = 0.20
    factor: float = 0.5
    stop_at: float = 0.40
    resume_at: float | None = None  # default: halfway between reduce_at and stop_at

    def __post_init__(self) -> None:
        if not 0.0 < self.reduce_at <= self.stop_at <= 1.0:
            raise ValueError("need 0 < reduce_at <= stop_at <= 1")
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError("the throttle factor must be within [0, 1]")
        if self.resume_at is None:
            # rounded: 0.3, not 0.30000000000000004, as the published rules show it
            halfway = round((self.reduce_at + self.stop_at) / 2.0, 12)
            object.__setattr__(self, "resume_at", halfway)
        elif not 0.0 < self.resume_at <= self.stop_at:
            raise ValueError("need 0 < resume_at <= stop_at")

    @property
    def resume_level(self) -> float:
        """The drawdown below which a stopped throttle resumes."""
        return self.resume_at if self.resume_at is not None else self.stop_at

    def step(self, drawdown: float, stopped: bool) -> tuple[float, bool]:
        """The stake multiplier at ``drawdown`` and whether betting is stopped afterwards.

        ``stopped``: whether it was stopped before.  Stops at ``stop_at``;
        resumes once the drawdown is below ``resume_at``; otherwise as
        :meth:`factor_at`.
        """
        if stopped and drawdown >= self.resume_level:
            return 0.0, True
        if drawdown >= self.stop_at:
            return 0.0, True
        return self.factor_at(drawdown), False

    def factor_at(self, drawdown: float) -> float:
        """The stake multiplier at ``drawdown``."""
        if drawdown >= self.stop_at:
            return 0.0
        if drawdown >= self.reduce_at:
            return self.factor
        return 1.0


@dataclass(frozen=True)
class StakingRules:
    """How value bets become stakes.

    ``kelly_multiplier`` scales the full-Kelly fractions.  The ``max_stake_*``
    caps are fractions of the bankroll (``None``: no cap): per bet, per league
    and matchday, per matchday.  ``min_stake`` and ``stake_step`` are amounts
    of money: stakes are rounded down to the step, and dropped below the
    minimum.  ``drawdown_throttle`` (``None``: never throttle) cuts stakes
    after losses.
    """

    kelly_multiplier: float = 0.125
    max_stake_per_bet: float | None = 0.02
    max_stake_per_matchday: float | None = 0.10
    max_stake_per_league: float | None = 0.05
    min_stake: float = 1.0
    stake_step: float = 0.01
    drawdown_throttle: DrawdownThrottle | None = field(default_factory=DrawdownThrottle)

    def __post_init__(self) -> None:
        if not 0.0 < self.kelly_multiplier <= 1.0:
            raise ValueError("the Kelly multiplier must be within (0, 1]")
        for name in ("max_stake_per_bet", "max_stake_per_matchday", "max_stake_per_league"):
            cap = getattr(self, name)
            if cap is not None and not 0.0 < cap <= 1.0:
                raise ValueError(f"{name} is a fraction of the bankroll, within (0, 1]")
        if self.min_stake < 0.0 or self.stake_step <= 0.0:
            raise ValueError("min_stake must be >= 0 and stake_step > 0")

    def describe(self) -> dict[str, Any]:
        """The rules as a run publishes them (a JSON object; caps as fractions of the bankroll)."""
        throttle = self.drawdown_throttle
        return {
            "kelly_multiplier": float(self.kelly_multiplier),
            "max_stake_per_bet": self.max_stake_per_bet,
            "max_stake_per_league": self.max_stake_per_league,
            "max_stake_per_matchday": self.max_stake_per_matchday,
            "min_stake": float(self.min_stake),
            "stake_step": float(self.stake_step),
            "drawdown_throttle": None
            if throttle is None
            else {
                "reduce_at": throttle.reduce_at,
                "factor": throttle.factor,
                "stop_at": throttle.stop_at,
                "resume_at": throttle.resume_level,
            },
        }


@dataclass(frozen=True)
class StakedBet:
    """One bet to place: what, at which price, and how much.

    ``edge`` is the edge staked on: the confirmed edge when the value bets carry
    one (``confirmed_edge``), else the stated ``p_model × price − 1``;
    ``p_model`` stays the model's probability.
    ``kelly_fraction`` is the full simultaneous-Kelly fraction of the outcome;
    ``fraction`` the share of the bankroll finally staked (after the
    multiplier, the throttle and the caps); ``stake`` that share in money,
    rounded down to the stake step.
    """

    match_id: int
    market: str
    outcome: str
    bookmaker: str
    price: float
    p_model: float
    edge: float
    kelly_fraction: float
    fraction: float
    stake: float
    match_date: dt.date | None = None
    league_code: str | None = None


@dataclass(frozen=True)
class StakingResult:
    """The stakes of a batch, the throttle applied, and what bound or was dropped."""

    stakes: tuple[StakedBet, ...]
    bankroll: float
    drawdown: float
    throttle_factor: float
    warnings: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        """The money staked over the batch."""
        return float(sum(s.stake for s in self.stakes))

    def to_frame(self) -> pl.DataFrame:
        """The stakes as a polars frame, one row per bet."""
        columns = list(StakedBet.__dataclass_fields__)
        return pl.DataFrame(
            [[getattr(s, c) for c in columns] for s in self.stakes],
            schema={
                "match_id": pl.Int64,
                "market": pl.String,
                "outcome": pl.String,
                "bookmaker": pl.String,
                "price": pl.Float64,
                "p_model": pl.Float64,
                "edge": pl.Float64,
                "kelly_fraction": pl.Float64,
                "fraction": pl.Float64,
                "stake": pl.Float64,
                "match_date": pl.Date,
                "league_code": pl.String,
            },
            orient="row",
        )


def kelly_fraction(p: float, price: float) -> float:
    """Full-Kelly fraction of the bankroll for one bet at probability ``p`` and decimal ``price``.

    ``(p price - 1) / (price - 1)`` when that is positive, else 0.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability {p} is not within [0, 1]")
    if not (math.isfinite(price) and price > 1.0):
        raise ValueError(f"decimal price {price} must be finite and above 1")
    return max(0.0, (p * price - 1.0) / (price - 1.0))


def _checked(
    probs: Sequence[float] | np.ndarray, prices: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=float)
    o = np.asarray(prices, dtype=float)
    if p.ndim != 1 or p.shape != o.shape or len(p) == 0:
        raise ValueError("probabilities and prices must be 1-D and of the same non-zero length")
    if not ((p >= 0.0) & (p <= 1.0)).all():
        raise ValueError(f"probabilities {p.tolist()} are not all within [0, 1]")
    if not (np.isfinite(o) & (o > 1.0)).all():
        raise ValueError(f"decimal prices {o.tolist()} must be finite and above 1")
    total = p.sum()
    if total > 1.0 + _PROBABILITY_SLACK:
        raise ValueError(
            f"probabilities of mutually exclusive outcomes sum to {total:.6f}, above 1"
        )
    if total > 1.0:
        p = p / total
    return p, o


def expected_log_growth(
    probs: Sequence[float] | np.ndarray,
    prices: Sequence[float] | np.ndarray,
    fractions: Sequence[float] | np.ndarray,
) -> float:
    """Expected log growth of the bankroll staking ``fractions`` on exclusive outcomes.

    When outcome ``i`` happens the bankroll becomes ``1 - sum f + f_i o_i``;
    with probability ``1 - sum p`` (an outcome not listed) it is ``1 - sum f``.
    """
    p, o = _checked(probs, prices)
    f = np.asarray(fractions, dtype=float)
    kept = 1.0 - f.sum()
    wealth = np.append(kept + f * o, kept)
    weight = np.append(p, max(0.0, 1.0 - p.sum()))
    used = weight > 0.0
    if (wealth[used] <= 0.0).any():
        return -math.inf
    return float((weight[used] * np.log(wealth[used])).sum())


def simultaneous_kelly(
    probs: Sequence[float] | np.ndarray, prices: Sequence[float] | np.ndarray
) -> SimultaneousKelly:
    """Exact Kelly fractions for mutually exclusive outcomes (Smoczynski & Tomkins 2010).

    ``probs`` may sum to less than one (outcomes not on offer); the fractions
    are zero for outcomes without positive expected value at the optimum.
    """
    p, o = _checked(probs, prices)
    order = np.argsort(-(p * o), kind="stable")
    chosen: list[int] = []
    reserve = 1.0
    p_sum = q_sum = 0.0
    for i in order:
        if p[i] * o[i] <= reserve:
            break
        chosen.append(int(i))
        p_sum += p[i]
        q_sum += 1.0 / o[i]
        reserve = (1.0 - p_sum) / (1.0 - q_sum)
    fractions = np.zeros(len(p))
    for i in chosen:
        fractions[i] = max(0.0, p[i] - reserve / o[i])
    reserve = 1.0 - fractions.sum()
    return SimultaneousKelly(
        tuple(float(f) for f in fractions), float(reserve), expected_log_growth(p, o, fractions)
    )


_REQUIRED = ("match_id", "outcome", "price", "p_model")


def _scale_groups(
    fractions: list[float], keys: list[Any], cap: float, label: str, warnings: list[str]
) -> None:
    """Scale the fractions of each key's group down in proportion so they sum to ``cap``."""
    totals: dict[Any, float] = defaultdict(float)
    for f, key in zip(fractions, keys, strict=True):
        totals[key] += f
    for key, total in sorted(totals.items(), key=lambda kv: str(kv[0])):
        if total > cap:
            scale = cap / total
            warnings.append(f"{label} cap bound on {key}: stakes scaled by {scale:.3f}")
            for i, k in enumerate(keys):
                if k == key:
                    fractions[i] *= scale


def _cap_matches(fractions: list[float], keys: list[Any], cap: float, warnings: list[str]) -> None:
    """Scale each match's fractions together so that none is above ``cap``."""
    largest: dict[Any, float] = defaultdict(float)
    for f, key in zip(fractions, keys, strict=True):
        largest[key] = max(largest[key], f)
    scaled = 0
    for i, key in enumerate(keys):
        if largest[key] > cap:
            fractions[i] *= cap / largest[key]
            scaled += 1
    if scaled:
        warnings.append(f"per-bet cap bound on {scaled} stake(s): their matches scaled together")


def size_stakes(
    value_bets: Frame,
    bankroll: float,
    peak_bankroll: float,
    rules: StakingRules | None = None,
    *,
    throttle_factor: float | None = None,
) -> StakingResult:
    """Stakes for a batch of value bets (see the module notes for the steps).

    ``value_bets`` is a polars or pandas frame, one row per match, market and
    outcome, with ``match_id``, ``outcome``, ``price``, ``p_model`` and
    optionally ``market`` (default ``1x2``), ``bookmaker``, ``edge``,
    ``is_value`` (rows without it are left out, as are rows without a price
    or a probability), ``match_date`` (needed for
    the matchday cap) and ``league_code`` (needed with ``match_date`` for the
    league cap): the output of :func:`sabiscore_ml.betting.edges.match_edges`
    fits.  ``bankroll`` is the money the fractions apply to; ``peak_bankroll``
    its highest value so far, for the drawdown throttle; ``throttle_factor``,
    when given, is the throttle's multiplier instead (a walk keeping the
    throttle's state, :meth:`DrawdownThrottle.step`).
    """
    rules = rules or StakingRules()
    frame = as_polars(value_bets)
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if rules.max_stake_per_matchday is not None or rules.max_stake_per_league is not None:
        missing += [] if "match_date" in frame.columns else ["match_date"]
    if rules.max_stake_per_league is not None and "league_code" not in frame.columns:
        missing.append("league_code")
    if missing:
        raise ValueError(f"value bets lack the columns {missing}")
    if "is_value" in frame.columns:
        frame = frame.filter(pl.col("is_value").fill_null(False))
    frame = frame.drop_nulls(["price", "p_model"])
    if isinstance(frame.schema.get("match_date"), pl.Datetime):  # pandas has no dates
        frame = frame.with_columns(pl.col("match_date").dt.date())
    if "market" not in frame.columns:
        frame = frame.with_columns(pl.lit("1x2").alias("market"))
    if frame.select(pl.struct("match_id", "market", "outcome").is_duplicated().any()).item():
        raise ValueError("value bets hold two prices for one outcome of a match")

    warnings: list[str] = []
    peak = max(peak_bankroll, bankroll)
    drawdown = 1.0 - bankroll / peak if peak > 0.0 else 0.0
    if throttle_factor is not None:
        factor = throttle_factor
    else:
        factor = rules.drawdown_throttle.factor_at(drawdown) if rules.drawdown_throttle else 1.0
    if bankroll <= 0.0:
        return StakingResult((), bankroll, drawdown, 0.0, ("no bankroll: nothing staked",))
    if factor == 0.0:
        warnings.append(f"drawdown {drawdown:.1%} from the peak: betting stopped")
    elif factor < 1.0:
        warnings.append(f"drawdown {drawdown:.1%} from the peak: stakes scaled by {factor:g}")

    rows = frame.sort("match_id", "market", "outcome").to_dicts()
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[(row["match_id"], row["market"])].append(i)
    full = [0.0] * len(rows)
    column = "p_confirmed" if "p_confirmed" in frame.columns else "p_model"
    for members in groups.values():
        probs = [max(0.0, min(1.0, float(rows[i][column] or 0.0))) for i in members]
        total = sum(probs)
        if total > 1.0:  # confirmed edges of every outcome of an arbitrage may overshoot
            probs = [p / total for p in probs]
        kelly = simultaneous_kelly(probs, [rows[i]["price"] for i in members])
        for i, f in zip(members, kelly.fractions, strict=True):
            full[i] = f

    fractions = [f * rules.kelly_multiplier * factor for f in full]
    if rules.max_stake_per_bet is not None:
        keys = [(r["match_id"], r["market"]) for r in rows]
        _cap_matches(fractions, keys, rules.max_stake_per_bet, warnings)
    if rules.max_stake_per_league is not None:
        keys = [(r["match_date"], r["league_code"]) for r in rows]
        _scale_groups(fractions, keys, rules.max_stake_per_league, "league", warnings)
    if rules.max_stake_per_matchday is not None:
        keys = [r["match_date"] for r in rows]
        _scale_groups(fractions, keys, rules.max_stake_per_matchday, "matchday", warnings)
    total = sum(fractions)
    if total > 1.0:  # possible over many matchdays: never more than the bankroll
        warnings.append(f"stakes add up to {total:.2f} bankrolls: scaled down to one")
        fractions = [f / total for f in fractions]

    stakes: list[StakedBet] = []
    too_small = 0
    for row, f_full, f in zip(rows, full, fractions, strict=True):
        if f <= 0.0:
            continue
        # rounded down to the step; the slack keeps 24.999999999999996 from losing a cent
        steps = math.floor(f * bankroll / rules.stake_step + 1e-9)
        stake = round(steps * rules.stake_step, 9)
        if stake <= 0.0 or stake < rules.min_stake:
            too_small += 1
            continue
        price, p_model = float(row["price"]), float(row["p_model"])
        edge = row.get("confirmed_edge", row.get("edge"))
        stakes.append(
            StakedBet(
                match_id=int(row["match_id"]),
                market=row["market"],
                outcome=row["outcome"],
                bookmaker=row.get("bookmaker") or "",
                price=price,
                p_model=p_model,
                edge=float(edge) if edge is not None else p_model * price - 1.0,
                kelly_fraction=f_full,
                fraction=stake / bankroll,
                stake=stake,
                match_date=row.get("match_date"),
                league_code=row.get("league_code"),
            )
        )
    if too_small:
        warnings.append(f"{too_small} stake(s) below the minimum of {rules.min_stake:g} dropped")
    return StakingResult(tuple(stakes), bankroll, drawdown, factor, tuple(warnings))
