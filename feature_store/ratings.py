"""Rating-system features: goal-based Elo, pi-ratings and sequential Dixon-Coles strengths.

:func:`rating_features` turns a frame of matches (played and unplayed, any row
order) into one row of **pre-match** features per match.  Three systems are run
side by side over the matches in date order:

* ``elo_*`` -- goal-based Elo in the style of the World Football Elo Ratings
  (eloratings.net): expected score ``E = 1 / (1 + 10^(-(R_home + H_league - R_away) / 400))``,
  update ``K * G * (S - E)`` with ``S`` 1 / 0.5 / 0 and the margin-of-victory index
  ``G = 1`` (draw or one goal), ``1.5`` (two goals), ``(11 + N) / 8`` (``N >= 3`` goals).
  The home advantage ``H_league`` is one parameter per division, learned the way
  ClubElo does it: after each date it moves by ``k_hfa * sum(S - E)`` over the
  division's matches of that date.
* ``pi_*`` -- pi-ratings, Constantinou & Fenton (2013), "Determining the level of
  ability of football teams by dynamic ratings based on the relative discrepancies
  in scores between adversaries", J. Quant. Anal. Sports 9(1), 37-50.  Every team has a
  home and an away rating; the expected goal difference of a rating ``R`` is
  ``sign(R) * (b^(|R|/c) - 1)``, the match's is ``g_H - g_A`` (home team's home
  rating, away team's away rating); with the error ``e = |GD - GD_expected|`` and
  ``psi = c * log10(1 + e)`` (signed towards the side that did better than
  expected) the played ratings move by ``lambda * psi`` and the other venue's
  ratings by ``gamma * lambda * psi``.  Published parameters: ``lambda = 0.035``,
  ``gamma = 0.7``, ``b = 10``, ``c = 3``.
* ``dc_*`` -- Dixon & Coles (1997), "Modelling association football scores and
  inefficiencies in the football betting market", Appl. Statist. 46(2), 265-280:
  ``goals_home ~ Poisson(lambda_home)``, ``goals_away ~ Poisson(lambda_away)`` with
  ``log lambda_home = mu_league + h_league + attack_home - defence_away`` and
  ``log lambda_away = mu_league + attack_away - defence_home`` (defence: higher is
  better) and the low-score correction ``tau`` with parameter ``rho``.  Refitting the
  time-weighted likelihood for every matchday is far too slow for 177k matches, so
  the strengths are estimated **sequentially**: after each date every parameter
  takes one step along the score (gradient) of that date's Poisson log-likelihood,
  ``attack_home += eta * (goals_home - lambda_home)`` and so on.  This is the
  score-driven (GAS) filter of Koopman & Lit (2019), "Forecasting football match
  results in national league competitions using score-driven time series models",
  Int. J. Forecasting 35(2), 797-809, with identity scaling; a constant step is an
  exponentially decaying weight on older matches, the online counterpart of Dixon
  and Coles' time weighting ``exp(-xi * t)``.  ``rho`` is fixed
  (:attr:`RatingParams.dc_rho`) and the updates use the plain Poisson score.  The
  score grid (:mod:`sabiscore_ml.models.score_grid`, shared with the goals model)
  runs to 10 goals a side and is renormalised to sum to 1; it gives 1X2, over 2.5
  goals and both-teams-to-score.  The same grid turns the pi-rating
  expected goal difference into ``pi_p_*``: ``lambda_home - lambda_away = GD`` with
  ``lambda_home * lambda_away`` equal to the product of the division's current
  mean home and away goals.

**No leakage.**  Kick-off times are often unknown, so the matches of one date form
a batch: every pre-match state of the date is read first, then every result of the
date is applied.  A match's features therefore depend only on results of strictly
earlier dates, and so do the division-wide parameters (Elo home advantage, Dixon-
Coles ``mu`` and ``h``).  Matches without a result (fixtures, postponed games) get
features and change nothing; the season regression below is computed when a
state is read and stored only when a played match updates it.

**Cold starts and seasons** (the same rules for the three systems):

* A team's first appearance: if its division has a finished earlier season in the
  data, the team starts at that season's mean final ratings (the average team of the
  division); otherwise (the first season of a division in the data) at the tier
  prior: ``elo_start - elo_tier_step * (tier - 1)``, pi-ratings
  ``-pi_tier_step * (tier - 1)``, attack ``-dc_tier_step * (tier - 1)`` and defence
  ``-dc_tier_step * (tier - 1)``.
* Ratings follow the team across divisions of its country (team ids are per club;
  ``country`` itself is not needed), so promoted and relegated clubs keep their
  strength, Elo-style.
* Ratings persist across seasons.  At its first match of a later season a team's
  ratings regress towards the mean final ratings of the division-season it last
  played in, by ``1 - (1 - regression)^k`` where ``k`` is the number of seasons
  since (a club returning after years away is almost back at that mean).
* ``elo_home_n_matches`` / ``elo_away_n_matches`` count the team's earlier rated
  (played) matches; the three systems rate the same matches, so the count is given
  once.  Ratings of a team with no rated match are the priors above.
* Features that need division-wide parameters (``elo_p_home``, ``elo_home_advantage``,
  ``pi_p_*``, ``dc_lambda_*``, ``dc_p_*``) are null until the division has a played
  match on an earlier date: before that there is no information about its goal
  rates or its home advantage.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import polars as pl

from feature_store.common import BEFORE_KICKOFF_RESULTS, Family, FeatureDef
from feature_store.inputs import Inputs
from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.models.score_grid import score_grid_probabilities
from sabiscore_ml.sources.football_data import ParsedFile

INPUT_COLUMNS: dict[str, pl.DataType] = {
    "match_id": pl.Int64(),
    "league_code": pl.Utf8(),
    "season_code": pl.Utf8(),
    "match_date": pl.Date(),
    "tier": pl.Int32(),
    "country": pl.Utf8(),
    "home_team_id": pl.Int64(),
    "away_team_id": pl.Int64(),
    "home_goals": pl.Int32(),
    "away_goals": pl.Int32(),
}

# Pre-match values the sequential pass stores per match, in this order.
_PASS_COLUMNS = (
    "elo_home",
    "elo_away",
    "elo_home_advantage",
    "elo_p_home",
    "elo_home_n_matches",
    "elo_away_n_matches",
    "pi_home",
    "pi_away",
    "pi_expected_gd",
    "dc_attack_home",
    "dc_defence_home",
    "dc_attack_away",
    "dc_defence_away",
    "dc_lambda_home",
    "dc_lambda_away",
    "_pi_lambda_home",
    "_pi_lambda_away",
    "_league_known",  # 1.0 once the division has a played match on an earlier date
)

# Per-team state: Elo, pi home, pi away, DC attack, DC defence.
_N_STATE = 5


@dataclass(frozen=True, slots=True)
class RatingParams:
    """Parameters of the three rating systems (see the module docstring).

    The pi-rating parameters are the paper's.  ``elo_k``, ``dc_eta`` and the season
    regressions were chosen by log loss on the matches before 2010 of the full
    football-data archive (1993-2024, 22 divisions); ``bench/ratings.py`` reports the
    quality on every season.
    """

    elo_k: float = 15.0
    elo_start: float = 1500.0
    elo_tier_step: float = 100.0
    elo_home_advantage: float = 60.0  # Elo points, each division's starting value
    elo_k_hfa: float = 1.0  # home-advantage step per unit of (S - E)
    elo_regression: float = 0.2

    pi_lambda: float = 0.035
    pi_gamma: float = 0.7
    pi_b: float = 10.0
    pi_c: float = 3.0
    pi_tier_step: float = 0.25
    pi_regression: float = 0.0  # the paper carries ratings over unchanged

    dc_eta: float = 0.02  # team attack/defence step per goal of error
    dc_eta_league: float = 0.002  # division mu/h step per goal of error
    dc_rho: float = -0.1
    dc_home_goals: float = 1.5  # starting mean goals of a division, home side
    dc_away_goals: float = 1.1  # ... and away side
    dc_tier_step: float = 0.1
    dc_regression: float = 0.2


def rating_features(matches: pl.DataFrame, params: RatingParams | None = None) -> pl.DataFrame:
    """Pre-match Elo, pi-rating and Dixon-Coles features, one row per input match.

    ``matches`` has the columns of :data:`INPUT_COLUMNS` (goals null for matches not
    played yet), in any row order.  The result has ``match_id`` and the ``elo_*``,
    ``pi_*`` and ``dc_*`` features, in the input's row order; see the module
    docstring for the definitions, the no-leakage rule and the cold starts.
    """
    params = params or RatingParams()
    _check_input(matches)
    ordered = matches.with_row_index("_row").sort(["match_date", "match_id"])
    inputs = _prepare(ordered)
    values = _sequential_pass(inputs, params)
    features = _assemble(values, params)
    rows = ordered["_row"].to_numpy()
    order = np.argsort(rows, kind="stable")
    frame = pl.DataFrame(
        {"match_id": ordered["match_id"].to_numpy()[order]}
        | {
            name: pl.Series(name, column[order], dtype=pl.Float64, nan_to_null=True)
            for name, column in features.items()
        }
    )
    return frame.with_columns(
        pl.col("elo_home_n_matches", "elo_away_n_matches").cast(pl.Int32),
    )


def _check_input(matches: pl.DataFrame) -> None:
    missing = [name for name in INPUT_COLUMNS if name not in matches.columns]
    if missing:
        raise ValueError(f"rating_features: missing input column(s) {', '.join(missing)}")
    for name in INPUT_COLUMNS:
        if name not in ("home_goals", "away_goals", "country") and matches[name].null_count():
            raise ValueError(f"rating_features: {name} has null values")
    if matches.schema["match_date"] != pl.Date:
        raise ValueError(f"rating_features: match_date is {matches.schema['match_date']}, not Date")
    bad_season = matches.filter(~pl.col("season_code").str.contains(r"^\d{4}-\d{4}$"))
    if bad_season.height:
        raise ValueError(
            f"rating_features: season_code {bad_season['season_code'][0]!r} is not like 2020-2021"
        )
    if matches["match_id"].n_unique() != matches.height:
        raise ValueError("rating_features: match_id is not unique")
    one_side = matches.filter(pl.col("home_goals").is_null() != pl.col("away_goals").is_null())
    if one_side.height:
        raise ValueError(
            f"rating_features: only one side has a score in match {one_side['match_id'][0]}"
        )
    negative = matches.filter((pl.col("home_goals") < 0) | (pl.col("away_goals") < 0))
    if negative.height:
        raise ValueError(f"rating_features: negative goals in match {negative['match_id'][0]}")


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The sorted matches as plain Python lists, ready for the sequential loop."""

    bounds: list[int]  # batch boundaries: matches bounds[i]:bounds[i+1] share a date
    league: list[int]
    season: list[int]
    home: list[int]
    away: list[int]
    home_goals: list[int]  # -1: not played
    away_goals: list[int]
    league_tier: list[int]
    n_teams: int


def _batch_bounds(day: np.ndarray) -> np.ndarray:
    """Boundaries of the date batches of a sorted day array (start of each run, then n).

    All matches of one date form one batch: their pre-match states are read before
    any of their results is applied.
    """
    starts = np.flatnonzero(np.diff(day)) + 1
    return np.concatenate(([0], starts, [len(day)])).astype(np.int64)


def _prepare(ordered: pl.DataFrame) -> _Inputs:
    n = ordered.height
    teams = pl.concat([ordered["home_team_id"], ordered["away_team_id"]])
    team_index = (teams.rank("dense") - 1).cast(pl.Int64).to_list()
    codes = ordered.select(
        league=pl.col("league_code").rank("dense").cast(pl.Int64) - 1,
        season=pl.col("season_code").str.slice(0, 4).cast(pl.Int32),
        home_goals=pl.col("home_goals").fill_null(-1),
        away_goals=pl.col("away_goals").fill_null(-1),
    )
    # A division's tier as given on its first match.
    league_tier = (
        codes.select("league")
        .with_columns(ordered["tier"])
        .unique("league", keep="first", maintain_order=True)
        .sort("league")["tier"]
        .to_list()
    )
    return _Inputs(
        bounds=_batch_bounds(ordered["match_date"].cast(pl.Int32).to_numpy()).tolist(),
        league=codes["league"].to_list(),
        season=codes["season"].to_list(),
        home=team_index[:n],
        away=team_index[n:],
        home_goals=codes["home_goals"].to_list(),
        away_goals=codes["away_goals"].to_list(),
        league_tier=league_tier,
        n_teams=teams.n_unique(),
    )


class _SeasonMeans:
    """Mean final ratings of each division-season: the regression and newcomer targets.

    A team's final ratings in a division-season are its ratings after its last
    played match there: its current ratings while it has not played elsewhere since
    (``None`` below), a snapshot taken when it moves on.  A division-season's mean
    can only change when one of its own matches is played, so it is cached against
    that count.
    """

    def __init__(self, ratings: tuple[list[float], ...]) -> None:
        self._ratings = ratings
        self._final: dict[tuple[int, int], dict[int, tuple[float, ...] | None]] = {}
        self._seasons: dict[int, list[int]] = {}
        self.played: dict[tuple[int, int], int] = {}
        self._cache: dict[tuple[int, int], tuple[int, tuple[float, ...]]] = {}

    def join(self, league: int, season: int, team: int) -> None:
        """The team plays its first match in (league, season)."""
        key = (league, season)
        final = self._final.get(key)
        if final is None:
            final = self._final[key] = {}
            self._seasons.setdefault(league, []).append(season)
            self.played[key] = 0
        final[team] = None

    def leave(self, league: int, season: int, team: int) -> None:
        """The team moves on to another division-season: keep its final ratings."""
        self._final[(league, season)][team] = tuple(column[team] for column in self._ratings)

    def mean(self, league: int, season: int) -> tuple[float, ...]:
        """Mean final ratings of the teams of (league, season)."""
        key = (league, season)
        played = self.played[key]
        cached = self._cache.get(key)
        if cached is not None and cached[0] == played:
            return cached[1]
        rows = [
            final if final is not None else tuple(column[team] for column in self._ratings)
            for team, final in self._final[key].items()
        ]
        value = tuple(math.fsum(column) / len(rows) for column in zip(*rows, strict=True))
        self._cache[key] = (played, value)
        return value

    def latest_before(self, league: int, season: int) -> int | None:
        """The division's most recent season before ``season`` with a played match."""
        earlier = [s for s in self._seasons.get(league, ()) if s < season]
        return max(earlier) if earlier else None


def _sequential_pass(inputs: _Inputs, p: RatingParams) -> dict[str, np.ndarray]:
    """Walk the date batches: read every pre-match state, then apply the date's results.

    Returns the pre-match values of :data:`_PASS_COLUMNS`, one array each.
    The loop is plain Python on lists (scalar ``math`` is faster than numpy per
    element and gives each match the same bits whatever the other rows).
    """
    n = len(inputs.home)
    n_teams = inputs.n_teams
    # Team ratings, one list per component: Elo, pi home, pi away, attack, defence.
    elo, pih, pia, att, dfn = ([0.0] * n_teams for _ in range(_N_STATE))
    ratings = (elo, pih, pia, att, dfn)
    played = [0] * n_teams
    last_league = [-1] * n_teams
    last_season = [-1] * n_teams  # -1: no played match yet
    means = _SeasonMeans(ratings)

    n_leagues = len(inputs.league_tier)
    hfa = [p.elo_home_advantage] * n_leagues
    mu = [math.log(p.dc_away_goals)] * n_leagues
    home_adv = [math.log(p.dc_home_goals / p.dc_away_goals)] * n_leagues
    league_played = [0] * n_leagues

    keep = (
        1.0 - p.elo_regression,
        1.0 - p.pi_regression,
        1.0 - p.pi_regression,
        1.0 - p.dc_regression,
        1.0 - p.dc_regression,
    )
    priors = [
        (
            p.elo_start - p.elo_tier_step * (tier - 1),
            -p.pi_tier_step * (tier - 1),
            -p.pi_tier_step * (tier - 1),
            -p.dc_tier_step * (tier - 1),
            -p.dc_tier_step * (tier - 1),
        )
        for tier in inputs.league_tier
    ]

    def season_start(team: int, league: int, season: int) -> tuple[float, ...]:
        """Ratings of a team not yet seen this season: regressed, or a newcomer's start."""
        last = last_season[team]
        if last < 0:
            previous = means.latest_before(league, season)
            return priors[league] if previous is None else means.mean(league, previous)
        target = means.mean(last_league[team], last)
        gap = max(season - last, 0)
        return tuple(
            m + (column[team] - m) * k**gap
            for column, m, k in zip(ratings, target, keep, strict=True)
        )

    columns = [[math.nan] * n for _ in _PASS_COLUMNS]
    (
        c_elo_h, c_elo_a, c_hfa, c_elo_p, c_n_h, c_n_a, c_pi_h, c_pi_a, c_pi_gd,
        c_att_h, c_def_h, c_att_a, c_def_a, c_lam_h, c_lam_a, c_pil_h, c_pil_a,
        c_known,
    ) = columns  # fmt: skip
    starts: dict[int, tuple[tuple[float, ...], tuple[float, ...]]] = {}

    ln10_400 = math.log(10.0) / 400.0
    log_b, pi_c = math.log(p.pi_b), p.pi_c
    elo_k, k_hfa = p.elo_k, p.elo_k_hfa
    pi_lambda, pi_gamma = p.pi_lambda, p.pi_gamma
    eta, eta_league = p.dc_eta, p.dc_eta_league
    exp, copysign, log10, asinh = math.exp, math.copysign, math.log10, math.asinh
    league_of, season_of = inputs.league, inputs.season
    homes, aways = inputs.home, inputs.away
    home_goals, away_goals = inputs.home_goals, inputs.away_goals
    bounds = inputs.bounds

    for batch in range(len(bounds) - 1):
        first, stop = bounds[batch], bounds[batch + 1]
        # 1. Read: every pre-match state of the date, before any of its results.
        for i in range(first, stop):
            league, season = league_of[i], season_of[i]
            h, a = homes[i], aways[i]
            if last_season[h] == season:
                e_h, pi_hh, a_h, d_h = elo[h], pih[h], att[h], dfn[h]
            else:
                start_h = season_start(h, league, season)
                e_h, pi_hh, _, a_h, d_h = start_h
            if last_season[a] == season:
                e_a, pi_aa, a_a, d_a = elo[a], pia[a], att[a], dfn[a]
            else:
                start_a = season_start(a, league, season)
                e_a, _, pi_aa, a_a, d_a = start_a
            if last_season[h] != season or last_season[a] != season:
                starts[i] = (
                    start_h if last_season[h] != season else (),
                    start_a if last_season[a] != season else (),
                )
            g_h = copysign(exp(abs(pi_hh) / pi_c * log_b) - 1.0, pi_hh)
            g_a = copysign(exp(abs(pi_aa) / pi_c * log_b) - 1.0, pi_aa)
            l_hfa, l_mu, l_home = hfa[league], mu[league], home_adv[league]
            scale = exp(l_mu + 0.5 * l_home)
            x = asinh((g_h - g_a) / (2.0 * scale))
            c_elo_h[i], c_elo_a[i], c_hfa[i] = e_h, e_a, l_hfa
            c_elo_p[i] = 1.0 / (1.0 + exp((e_a - e_h - l_hfa) * ln10_400))
            c_n_h[i], c_n_a[i] = played[h], played[a]
            c_pi_h[i], c_pi_a[i], c_pi_gd[i] = pi_hh, pi_aa, g_h - g_a
            c_att_h[i], c_def_h[i], c_att_a[i], c_def_a[i] = a_h, d_h, a_a, d_a
            c_lam_h[i] = exp(l_mu + l_home + a_h - d_a)
            c_lam_a[i] = exp(l_mu + a_a - d_h)
            c_pil_h[i], c_pil_a[i] = scale * exp(x), scale * exp(-x)
            c_known[i] = 1.0 if league_played[league] else 0.0
        # 2. Update: apply the date's results, computed only from the values read above
        # (a team playing twice on one date gets both updates from the same state).
        for i in range(first, stop):
            goals_h, goals_a = home_goals[i], away_goals[i]
            if goals_h < 0:
                continue
            league, season = league_of[i], season_of[i]
            h, a = homes[i], aways[i]
            if i in starts:
                for team, start in zip((h, a), starts[i], strict=True):
                    if last_season[team] == season:
                        continue  # second match of the date: the start is already stored
                    if last_season[team] >= 0:
                        means.leave(last_league[team], last_season[team], team)
                    for column, value in zip(ratings, start, strict=True):
                        column[team] = value
                    last_league[team], last_season[team] = league, season
                    means.join(league, season, team)
            for team in (h, a):
                if last_league[team] != league:  # another division within the same season
                    means.leave(last_league[team], season, team)
                    last_league[team] = league
                    means.join(league, season, team)
            # Elo: K * G * (S - E); the division's home advantage learns from (S - E).
            margin = abs(goals_h - goals_a)
            index = 1.0 if margin <= 1 else 1.5 if margin == 2 else (11.0 + margin) / 8.0
            result = 1.0 if goals_h > goals_a else 0.5 if goals_h == goals_a else 0.0
            surprise = result - c_elo_p[i]
            delta = elo_k * index * surprise
            elo[h] += delta
            elo[a] -= delta
            hfa[league] += k_hfa * surprise
            # pi-ratings: psi = c log10(1 + |GD - expected GD|), towards the better side.
            gd_error = (goals_h - goals_a) - c_pi_gd[i]
            step = pi_lambda * copysign(pi_c * log10(1.0 + abs(gd_error)), gd_error)
            pih[h] += step
            pia[h] += pi_gamma * step
            pia[a] -= step
            pih[a] -= pi_gamma * step
            # Dixon-Coles strengths: one step along the Poisson score.
            err_h, err_a = goals_h - c_lam_h[i], goals_a - c_lam_a[i]
            att[h] += eta * err_h
            dfn[a] -= eta * err_h
            att[a] += eta * err_a
            dfn[h] -= eta * err_a
            mu[league] += eta_league * (err_h + err_a)
            home_adv[league] += eta_league * err_h
            played[h] += 1
            played[a] += 1
            league_played[league] += 1
            means.played[(league, season)] += 1
    return {
        name: np.array(column, dtype=np.float64)
        for name, column in zip(_PASS_COLUMNS, columns, strict=True)
    }


def _assemble(values: dict[str, np.ndarray], p: RatingParams) -> dict[str, np.ndarray]:
    col = dict(values)
    unknown = col["_league_known"] == 0.0
    for name in ("elo_home_advantage", "elo_p_home", "dc_lambda_home", "dc_lambda_away"):
        col[name] = np.where(unknown, np.nan, col[name])
    for name in ("_pi_lambda_home", "_pi_lambda_away"):
        col[name] = np.where(unknown, np.nan, col[name])
    dc = score_grid_probabilities(col["dc_lambda_home"], col["dc_lambda_away"], p.dc_rho)
    pi = score_grid_probabilities(col["_pi_lambda_home"], col["_pi_lambda_away"], p.dc_rho)
    return {
        "elo_home": col["elo_home"],
        "elo_away": col["elo_away"],
        "elo_diff": col["elo_home"] - col["elo_away"],
        "elo_home_advantage": col["elo_home_advantage"],
        "elo_p_home": col["elo_p_home"],
        "elo_home_n_matches": col["elo_home_n_matches"],
        "elo_away_n_matches": col["elo_away_n_matches"],
        "pi_home": col["pi_home"],
        "pi_away": col["pi_away"],
        "pi_diff": col["pi_home"] - col["pi_away"],
        "pi_expected_gd": col["pi_expected_gd"],
        "pi_p_home": pi["p_home"],
        "pi_p_draw": pi["p_draw"],
        "pi_p_away": pi["p_away"],
        "dc_attack_home": col["dc_attack_home"],
        "dc_defence_home": col["dc_defence_home"],
        "dc_attack_away": col["dc_attack_away"],
        "dc_defence_away": col["dc_defence_away"],
        "dc_lambda_home": col["dc_lambda_home"],
        "dc_lambda_away": col["dc_lambda_away"],
        "dc_p_home": dc["p_home"],
        "dc_p_draw": dc["p_draw"],
        "dc_p_away": dc["p_away"],
        "dc_p_over25": dc["p_over25"],
        "dc_p_btts": dc["p_btts"],
    }


def football_data_input(parsed_files: Iterable[ParsedFile]) -> pl.DataFrame:
    """The :func:`rating_features` input built straight from parsed football-data files.

    For benchmarks and tests that read CSV files rather than the warehouse.  Team ids
    number the (country, name) pairs in sorted order; a match published in two files
    (an original and a re-serialised copy) is kept once; match ids follow
    (date, division, home team).
    """
    seen: set[tuple[str, object, str, str]] = set()
    records: list[tuple[object, ...]] = []
    for parsed in parsed_files:
        league = LEAGUES[parsed.league]
        for match in parsed.matches:
            key = (parsed.league, match.match_date, match.home_team, match.away_team)
            if key in seen:
                continue
            seen.add(key)
            records.append(
                (
                    match.match_date,
                    parsed.league,
                    parsed.season,
                    league.tier,
                    league.country,
                    match.home_team,
                    match.away_team,
                    match.home_goals,
                    match.away_goals,
                )
            )
    frame = pl.DataFrame(
        records,
        schema={
            "match_date": pl.Date,
            "league_code": pl.Utf8,
            "season_code": pl.Utf8,
            "tier": pl.Int32,
            "country": pl.Utf8,
            "home_team": pl.Utf8,
            "away_team": pl.Utf8,
            "home_goals": pl.Int32,
            "away_goals": pl.Int32,
        },
        orient="row",
    )
    teams = (
        pl.concat(
            [
                frame.select("country", pl.col("home_team").alias("team")),
                frame.select("country", pl.col("away_team").alias("team")),
            ]
        )
        .unique()
        .sort("country", "team")
        .with_row_index("team_id")
        .with_columns(pl.col("team_id").cast(pl.Int64))
    )
    for side in ("home", "away"):
        frame = frame.join(
            teams.rename({"team": f"{side}_team", "team_id": f"{side}_team_id"}),
            on=["country", f"{side}_team"],
            how="left",
        )
    frame = frame.sort("match_date", "league_code", "home_team").with_row_index("match_id")
    return frame.with_columns(pl.col("match_id").cast(pl.Int64)).select(
        *INPUT_COLUMNS, "home_team", "away_team"
    )


# ----------------------------------------------------------------- catalogue entry

_RATING_DESCRIPTIONS: dict[str, str] = {
    "elo_home": "home team's goal-based Elo rating",
    "elo_away": "away team's goal-based Elo rating",
    "elo_diff": "home minus away Elo rating",
    "elo_home_advantage": "the division's learned home advantage in Elo points",
    "elo_p_home": "Elo expected score of the home team (win 1, draw 0.5)",
    "elo_home_n_matches": "home team's earlier rated matches (experience of its ratings)",
    "elo_away_n_matches": "away team's earlier rated matches",
    "pi_home": "home team's pi-rating at home (Constantinou & Fenton 2013)",
    "pi_away": "away team's pi-rating away",
    "pi_diff": "home minus away pi-rating",
    "pi_expected_gd": "goal difference the pi-ratings expect",
    "pi_p_home": "home win probability from the pi-ratings' score grid",
    "pi_p_draw": "draw probability from the pi-ratings' score grid",
    "pi_p_away": "away win probability from the pi-ratings' score grid",
    "dc_attack_home": "home team's attack strength (sequential Dixon-Coles)",
    "dc_defence_home": "home team's defence strength (sequential Dixon-Coles)",
    "dc_attack_away": "away team's attack strength",
    "dc_defence_away": "away team's defence strength",
    "dc_lambda_home": "expected home goals (the 'momentum' lambda)",
    "dc_lambda_away": "expected away goals",
    "dc_p_home": "home win probability from the Dixon-Coles score grid",
    "dc_p_draw": "draw probability from the Dixon-Coles score grid",
    "dc_p_away": "away win probability from the Dixon-Coles score grid",
    "dc_p_over25": "probability of over 2.5 goals from the score grid",
    "dc_p_btts": "probability that both teams score from the score grid",
}


def _family() -> Family:
    definitions = tuple(
        FeatureDef(
            name,
            pl.Int32 if name.endswith("_n_matches") else pl.Float64,
            "ratings",
            description,
            ("football-data",),
            BEFORE_KICKOFF_RESULTS,
        )
        for name, description in _RATING_DESCRIPTIONS.items()
    )

    def compute(inputs: Inputs) -> pl.DataFrame:
        return rating_features(inputs.matches.select(list(INPUT_COLUMNS)))

    return Family("ratings", definitions, compute)


FAMILY = _family()
