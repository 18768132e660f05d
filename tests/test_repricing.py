"""Re-pricing between matchdays: a newer fixtures copy withdraws the bets its prices undo,
and measures the published bets' early closing-line value.

The copies are the real ``fixtures_2024-08-08.csv`` rows (see its provenance note):
the one taken at 09:00, then one taken an hour later in which every home price of
Burnley v Man City is a tenth lower (9.50 best, then 8.55).  The model gives Burnley
0.115 (a fair price of 8.70) and Man City 0.80: at 9.50 the home side is a value bet
(edge 0.0925), at 8.55 it is none (edge -0.0168), and the away side's 1.39 holds.
A season file of that match (the later copy's pre-closing prices, a result and
closing prices) then brings the closing line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Iterator

import polars as pl
import pytest
import redis
from conftest import FOOTBALL_DATA_FIXTURES
from fastapi.testclient import TestClient
from fixtures_copies import with_prices
from pydantic import TypeAdapter
from serving_support import REDIS_URL, add_champion, configure
from sqlalchemy import Engine, select

from sabiscore_ml import prices
from sabiscore_ml.betting.edges import PriceChoice, ValueBetRules
from sabiscore_ml.jobs.football_data import (
    ingest_football_data_bytes,
    ingest_football_data_fixtures_bytes,
)
from sabiscore_ml.jobs.monitor import MonitorRequest, bet_clv, monitor
from sabiscore_ml.jobs.predict import (
    _fixture_names,
    previous_value_bets,
    priced_edges,
    withdraw_moved,
)
from sabiscore_ml.publish import PublishedRun, publish, read_document, warehouse_document
from sabiscore_ml.publish.performance import performance_document
from sabiscore_ml.warehouse.api_keys import create_api_key
from sabiscore_ml.warehouse.models import Match, RunBetClv, Team
from serving import schemas
from serving.main import create_app

FIXTURES_FILE = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"
AS_OF = dt.date(2024, 8, 8)
T1 = dt.datetime(2024, 8, 8, 9, 0)  # naive UTC
T2 = T1 + dt.timedelta(hours=1)
HOME_PRICES = ("B365H", "BWH", "IWH", "PSH", "WHH", "VCH", "MaxH", "AvgH")
P_MODEL = {"p_home": 0.115, "p_draw": 0.085, "p_away": 0.80}


def home_moved(raw: bytes, home: str = "Burnley", factor: float = 0.9) -> bytes:
    """The copy with every home price of ``home``'s match times ``factor``."""
    return with_prices(raw, dict.fromkeys(HOME_PRICES, factor), home=home)


def ingest(raw: bytes, engine: Engine, taken_at: dt.datetime) -> None:
    outcome = ingest_football_data_fixtures_bytes(
        raw, "fixtures.csv", engine=engine, today=taken_at.date(), taken_at=taken_at
    )
    assert outcome.status == "loaded", outcome.message


def burnley(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(Match.id)
                .join(Team, Team.id == Match.home_team_id)
                .where(Team.name == "Burnley", Match.result.is_(None))
            ).scalar_one()
        )


def predictions(engine: Engine, match_id: int) -> pl.DataFrame:
    with engine.connect() as connection:
        league, season, day = connection.execute(
            select(Match.league_code, Match.season_code, Match.match_date).where(
                Match.id == match_id
            )
        ).one()
    frame = pl.DataFrame(
        {
            "match_id": [match_id],
            "league_code": [league],
            "season_code": [season],
            "match_date": [day],
            **{name: [p] for name, p in P_MODEL.items()},
        }
    )
    return frame.join(_fixture_names(engine, [match_id]), on="match_id")


def scored(engine: Engine, run_id: str, match_id: int, created_at: dt.datetime) -> PublishedRun:
    """A live run as the job makes it: edges at the current prices, the previous run's
    value bets they no longer make value bets withdrawn."""
    frame = predictions(engine, match_id)
    edges = priced_edges(engine, frame, PriceChoice(), ValueBetRules())
    edges = withdraw_moved(edges, previous_value_bets(engine, "live", AS_OF))
    return PublishedRun(
        run_id=run_id,
        model_name="sabiscore-1x2",
        model_version="7",
        created_at=created_at,
        as_of=AS_OF,
        mode="live",
        predictions=frame,
        edges=edges.drop("match_date", "league_code"),
        stakes=pl.DataFrame(),
    )


@pytest.fixture
def cache() -> Iterator[tuple[redis.Redis, str]]:
    prefix = f"sabiscore-test-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        yield client, prefix
    finally:
        leftovers = list(client.scan_iter(f"{prefix}:*"))
        if leftovers:
            client.delete(*leftovers)
        client.close()


def by_outcome(run: PublishedRun) -> dict[str, dict]:
    return {e["outcome"]: e for e in run.records.edges}


def test_a_newer_copy_withdraws_the_value_bet_its_price_undoes(
    warehouse: Engine, cache: tuple[redis.Redis, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = cache
    raw = FIXTURES_FILE.read_bytes()
    ingest(raw, warehouse, T1)
    match = burnley(warehouse)

    first = scored(warehouse, "run-t1", match, T1 + dt.timedelta(minutes=5))
    edges = by_outcome(first)
    assert (edges["home"]["bookmaker"], edges["home"]["price"]) == ("bet_victor", 9.5)
    assert edges["home"]["is_value"] and edges["away"]["is_value"]
    assert edges["away"]["price"] == 1.39 and edges["away"]["bookmaker"] == "market_max"
    assert {e["last_update"] for e in edges.values()} == {T1}
    assert all(e["published_price"] is None for e in edges.values())
    publish(first, engine=warehouse, redis_client=client, prefix=prefix)
    assert json.loads(read_document(client, prefix, "run-t1", "withdrawn")) == []

    ingest(home_moved(raw), warehouse, T2)
    second = scored(warehouse, "run-t2", match, T2 + dt.timedelta(minutes=5))
    edges = by_outcome(second)
    home, away = edges["home"], edges["away"]
    # below its fair price (1 / 0.115 = 8.70): withdrawn, with both prices
    assert (home["bookmaker"], home["price"], home["published_price"]) == ("bet_victor", 8.55, 9.5)
    assert not home["is_value"] and home["excluded_by"] == "withdrawn"
    assert home["rule_value"] is None and home["edge"] == pytest.approx(0.115 * 8.55 - 1)
    # the bet still holding stays a value bet; the draw keeps the rule it fails
    assert away["is_value"] and away["excluded_by"] is None and away["published_price"] is None
    assert edges["draw"]["excluded_by"] == "edge_threshold"
    # every price of the later copy was seen at T2, the moved ones as the others
    assert {e["last_update"] for e in edges.values()} == {T2}
    publish(second, engine=warehouse, redis_client=client, prefix=prefix)

    # an as-of read still sees the first copy's prices and moments
    seen = prices.last_seen(warehouse, [match], as_of=T1 + dt.timedelta(minutes=30))
    assert set(seen["last_update"]) == {T1}
    assert set(prices.last_seen(warehouse, [match])["last_update"]) == {T2}
    then = prices.read_quotes(warehouse, [match], as_of=T1, bookmakers=["bet_victor"])
    assert then.filter(pl.col("outcome") == "home")["price"].to_list() == [9.5]

    withdrawn = read_document(client, prefix, "run-t2", "withdrawn")
    assert withdrawn == warehouse_document(warehouse, "run-t2", "withdrawn")
    (entry,) = json.loads(withdrawn)
    assert entry == {
        "run_id": "run-t2",
        "match_id": match,
        "league_code": "E0",
        "match_date": "2024-08-09",
        "kickoff_utc": entry["kickoff_utc"],
        "home_team": "Burnley",
        "away_team": "Man City",
        "market": "1x2",
        "outcome": "home",
        "bookmaker": "bet_victor",
        "published_price": 9.5,
        "price": 8.55,
        "last_update": "2024-08-08T10:00:00Z",
        "p_model": 0.115,
        "edge": round(0.115 * 8.55 - 1, 6),
        "confirmed_edge": None,
    }
    bets = json.loads(read_document(client, prefix, "run-t2", "value-bets"))
    assert [(b["outcome"], b["price"], b["last_update"]) for b in bets] == [
        ("away", 1.39, "2024-08-08T10:00:00Z")
    ]
    assert read_document(client, prefix, "run-t2", "value-bets") == warehouse_document(
        warehouse, "run-t2", "value-bets"
    )

    key = create_api_key(warehouse, owner="pro-owner", tier="pro").key
    configure(monkeypatch, SABISCORE_REDIS_URL=REDIS_URL, SABISCORE_REDIS_PREFIX=prefix)
    with TestClient(create_app()) as api:
        headers = {"X-API-Key": key}
        answer = api.get("/v1/value-bets/withdrawn", headers=headers)
        assert answer.status_code == 200 and answer.content == withdrawn
        TypeAdapter(list[schemas.WithdrawnBet]).validate_python(answer.json())
        assert api.get("/v1/value-bets/withdrawn?league=SP1", headers=headers).json() == []
        assert api.get("/v1/value-bets/withdrawn?league=E0", headers=headers).json() == [entry]
        value = api.get("/v1/value-bets", headers=headers).json()
        TypeAdapter(list[schemas.ValueBet]).validate_python(value)
        assert [(b["outcome"], b["last_update"]) for b in value] == [
            ("away", "2024-08-08T10:00:00Z")
        ]
        insight = api.get(f"/v1/insights/{match}", headers=headers).json()
        schemas.Insight.model_validate(insight)
        home_edge = next(e for e in insight["edges"] if e["outcome"] == "home")
        assert (home_edge["excluded_by"], home_edge["published_price"]) == ("withdrawn", 9.5)

    # the run after: the withdrawn bet is no published value bet to withdraw again
    third = scored(warehouse, "run-t3", match, T2 + dt.timedelta(minutes=10))
    assert by_outcome(third)["home"]["excluded_by"] == "edge_threshold"
    assert by_outcome(third)["away"]["is_value"]


# --- early CLV --------------------------------------------------------------------------------

CLOSING = {"PSCH": "9.20", "PSCD": "5.90", "PSCA": "1.33", "AvgCH": "8.80", "AvgCD": "5.60"}
CLOSING |= {"AvgCA": "1.31"}


def season_file(raw: bytes, home: str = "Burnley") -> bytes:
    """A season file of ``home``'s match from a fixtures copy: its pre-closing prices, a
    result (0-3) and closing prices (``CLOSING``)."""
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    (row,) = [r for r in rows[1:] if r[header.index("HomeTeam")] == home]
    row = row + [""] * (len(header) - len(row))
    for column, value in CLOSING.items():
        row[header.index(column)] = value
    at = header.index("AwayTeam") + 1
    header = [*header[:at], "FTHG", "FTAG", "FTR", *header[at:]]
    row = [*row[:at], "0", "3", "A", *row[at:]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, row])
    return out.getvalue().encode()


def fair(prices_: tuple[float, float, float]) -> tuple[float, ...]:
    """Multiplicative de-margining: each price times the sum of the implied probabilities."""
    overround = sum(1.0 / p for p in prices_)
    return tuple(p * overround for p in prices_)


def clv_rows(engine: Engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(select(RunBetClv.__table__)).mappings().all()
    return {row["outcome"]: dict(row) for row in rows}


def test_early_clv_from_a_later_copy_then_clv_once_the_season_file_closes(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = FIXTURES_FILE.read_bytes()
    ingest(raw, warehouse, T1)
    match = burnley(warehouse)
    publish(scored(warehouse, "run-t1", match, T1 + dt.timedelta(minutes=5)), engine=warehouse)
    # no copy after the run yet: nothing to measure the bets against
    before = bet_clv(warehouse, model_name="sabiscore-1x2")
    assert before["outcome"].to_list() == ["away", "home"]
    assert before["early_clv"].null_count() == before["clv"].null_count() == 2

    later = home_moved(raw)
    ingest(later, warehouse, T2)
    request = MonitorRequest(log_mlflow=False, fail_on_breach=False)
    monitor(request, engine=warehouse)
    # Pinnacle at T2: 7.72 (8.58 moved a tenth down), 5.51, 1.37, margin removed
    latest = dict(zip(("home", "draw", "away"), fair((7.72, 5.51, 1.37)), strict=True))
    rows = clv_rows(warehouse)
    for outcome, price in (("home", 9.5), ("away", 1.39)):
        row = rows[outcome]
        assert (row["run_id"], row["match_id"], row["market"]) == ("run-t1", match, "1x2")
        assert (row["price_taken"], row["latest_source"]) == (price, "pinnacle")
        assert row["latest_taken_at"] == T2
        assert row["latest_price"] == pytest.approx(latest[outcome])
        assert row["early_clv"] == pytest.approx(price / latest[outcome] - 1)
        assert row["closing_price"] is None and row["clv"] is None
    early = [price / latest[o] - 1 for o, price in (("home", 9.5), ("away", 1.39))]
    document = performance_document(warehouse, "sabiscore-1x2", "7")
    assert document is not None
    entry = next(e for e in document["leagues"] if (e["league_code"], e["window"]) == ("E0", "all"))
    assert entry["early_clv"] == pytest.approx(sum(early) / 2)
    assert entry["n_early_clv"] == 2 and entry["early_clv_se"] is not None
    assert entry["clv"] is None and entry["n_bets"] == 0

    # the season's file as football-data has it the Monday after: its first result in
    outcome = ingest_football_data_bytes(
        season_file(later), "E0/2024-2025.csv", engine=warehouse, today=dt.date(2024, 8, 12)
    )
    assert outcome.status == "loaded", outcome.message
    monitor(request, engine=warehouse)
    closing = dict(zip(("home", "draw", "away"), fair((9.2, 5.9, 1.33)), strict=True))
    rows = clv_rows(warehouse)
    for outcome_, price in (("home", 9.5), ("away", 1.39)):
        row = rows[outcome_]
        # the season file's pre-closing block (the same prices, Friday afternoon) is the latest
        assert row["latest_taken_at"] == dt.datetime(2024, 8, 9, 14, 0)
        assert row["early_clv"] == pytest.approx(price / latest[outcome_] - 1)
        assert row["closing_source"] == "pinnacle"
        assert row["clv"] == pytest.approx(price / closing[outcome_] - 1)
    document = performance_document(warehouse, "sabiscore-1x2", "7")
    assert document is not None
    entry = next(e for e in document["leagues"] if (e["league_code"], e["window"]) == ("E0", "all"))
    assert entry["early_clv"] == pytest.approx(sum(early) / 2) and entry["n_early_clv"] == 2
    clv = [price / closing[o] - 1 for o, price in (("home", 9.5), ("away", 1.39))]
    assert entry["clv"] == pytest.approx(sum(clv) / 2) and entry["n_clv"] == 2
    # a computation of another league leaves these bets' rows as they are
    monitor(
        MonitorRequest(leagues=("SP1",), log_mlflow=False, fail_on_breach=False), engine=warehouse
    )
    assert clv_rows(warehouse) == rows

    add_champion(warehouse)
    key = create_api_key(warehouse, owner="pro-owner", tier="pro").key
    configure(monkeypatch, SABISCORE_REDIS_URL=None)
    with TestClient(create_app()) as api:
        answer = api.get("/v1/models/current/performance", headers={"X-API-Key": key})
        assert answer.status_code == 200
        schemas.ModelPerformance.model_validate(answer.json())
        served = next(
            e for e in answer.json()["leagues"] if (e["league_code"], e["window"]) == ("E0", "all")
        )
        assert served["early_clv"] == pytest.approx(sum(early) / 2, abs=1e-6)
        assert served["n_early_clv"] == 2
        metrics = api.get("/metrics").text
        assert 'figure="early_clv"' in metrics
