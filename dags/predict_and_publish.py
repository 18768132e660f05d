"""Score the next matchday with the champion and publish predictions, value bets and stakes.

This file is configuration: each task calls :mod:`sabiscore_ml.jobs.predict`
when it runs; XCom carries the run id and counts only (the scored run waits in
``$SABISCORE_HOME/runs/<run_id>.json`` between the two tasks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Asset, Param, dag, task
from sabiscore_airflow.common import START_DATE, date_param, default_args, list_param

MODEL_CHAMPION = Asset("sabiscore://models/sabiscore-1x2/champion")
PREDICTIONS = Asset("sabiscore://predictions/current")

DOC_MD = """
### Predict and publish

Daily at 06:00 UTC, after every promotion of a new champion
(`sabiscore://models/sabiscore-1x2/champion`), or on demand.

0. **refresh_fixtures** (live runs only; a replay skips it) downloads
   football-data's `fixtures.csv` — the upcoming matches of every league with
   their current pre-closing odds — and loads it in one transaction (played
   matches are never changed; only if it changed since the archived copy). A
   failed download (network, HTTP, robots.txt, block page) is logged and the run
   scores the fixtures already known. A copy whose content is rejected (an HTML
   page, cut short, stale, malformed) fails this task loudly — the copy is kept
   in the archive's quarantine and the warehouse is unchanged — and **score**
   still runs (trigger rule `all_done`) on the fixtures already known.
1. **score** loads `models:/sabiscore-1x2@champion`, takes each league's next
   matchday (its first fixture on or after the as-of date, and every fixture
   within `days` of it), computes their features as known that morning, the
   probabilities (1X2, over/under 2.5, both teams to score), the edges at the
   best pre-closing price, the value bets (edge >= `edge`) and the fractional
   Kelly stakes of the `portfolio` against its bankroll.
2. **publish** writes the run to the warehouse (`prediction_runs`,
   `run_predictions`, `run_edges`, `run_stakes`: history, never overwritten) and,
   when `SABISCORE_REDIS_URL` is set, to Redis under a new run version followed
   by one atomic switch of the `current` pointer; value bets are appended to the
   alerts stream. Updates `sabiscore://predictions/current`.

#### Params

An empty Param is null (the trigger form's empty field) or, for a list, `[]`.

- `as_of`: a date (`YYYY-MM-DD`) replays that day (results from then on hidden); empty
  means live, from the run's logical date.
- `leagues`: restrict to these league codes (empty: all).
- `days`, `edge`, `kelly`, `price`, `portfolio`: the matchday window and the
  staking rules.
"""


@dag(
    dag_id="predict_and_publish",
    description="Score the next matchday, find value bets and stakes, publish atomically",
    doc_md=DOC_MD,
    start_date=START_DATE,
    schedule=(MODEL_CHAMPION | Asset("sabiscore://features/online")),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(
        retries=1, retry_delay=dt.timedelta(minutes=2), execution_timeout=dt.timedelta(minutes=30)
    ),
    params={
        "as_of": date_param("As of", "The day to replay; empty: live, the logical date."),
        "leagues": list_param(
            "Leagues", "League codes, one a line; empty: every league with a fixture."
        ),
        "days": Param(
            4,
            type="integer",
            minimum=1,
            maximum=14,
            title="Matchday window (days)",
            description="A league's matchday: its fixtures within this many days of its first.",
        ),
        "edge": Param(
            0.042,
            type="number",
            minimum=0,
            title="Minimum edge",
            description="A value bet's smallest edge, p_model x price - 1.",
        ),
        "kelly": Param(
            0.125,
            type="number",
            exclusiveMinimum=0,
            maximum=1,
            title="Fraction of Kelly",
            description="The Kelly multiplier of the stakes.",
        ),
        "price": Param(
            "best",
            type="string",
            title="Price taken",
            description="best, avg, or a bookmaker id (pinnacle, b365...).",
        ),
        "portfolio": Param(
            "default",
            type="string",
            title="Portfolio",
            description="The portfolio whose bankroll the stakes are sized against.",
        ),
    },
    tags=["sabiscore", "predictions"],
)
def predict_and_publish() -> None:
    """Refresh the fixtures (live) -> score -> publish."""

    @task
    def refresh_fixtures(params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Live runs: load fixtures.csv (upcoming matches, current odds); replays skip it."""
        from sabiscore_ml.jobs.predict import PredictRequest
        from sabiscore_ml.jobs.predict import refresh_fixtures as refresh

        return refresh(PredictRequest.from_dict(dict(params or {})))

    @task(trigger_rule="all_done")
    def score(
        params: dict[str, Any] | None = None, logical_date: dt.datetime | None = None
    ) -> dict[str, Any]:
        """Score the next matchday; keep the run on disk."""
        from sabiscore_ml.jobs.predict import PredictRequest, predict, save_run

        request = PredictRequest.from_dict(dict(params or {}))
        if request.as_of is None and logical_date is not None:
            request = PredictRequest.from_dict(
                {**dict(params or {}), "as_of": logical_date.date().isoformat(), "replay": False}
            )
        run = predict(request)
        save_run(run)
        return {
            "run_id": run.run_id,
            "predictions": run.predictions.height,
            "stakes": run.stakes.height,
        }

    @task(outlets=[PREDICTIONS])
    def publish(scored: dict[str, Any]) -> dict[str, Any]:
        """Warehouse history, then Redis with one atomic pointer switch."""
        from airflow.sdk import get_current_context

        from sabiscore_ml.jobs.predict import load_run, publish_run

        summary = publish_run(load_run(scored["run_id"]))
        get_current_context()["outlet_events"][PREDICTIONS].extra = {
            "run_id": summary["run_id"],
            "predictions": summary["predictions"],
            "value_bets": summary["value_bets"],
        }
        return summary

    scored = score()
    refresh_fixtures() >> scored
    publish(scored)


predict_and_publish()
