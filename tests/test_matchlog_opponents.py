"""FBref match-log opponents reconciled to warehouse teams (SQLite and PostgreSQL).

League opponents must reconcile (a name that does not rejects the file); cup and
European opponents get a team only through an exact FBref alias of the same
country, else none — never a guess.
"""

from __future__ import annotations

import gzip

import pytest
from conftest import FIXTURES, REPO, SAMPLE_DIR
from sqlalchemy import Engine, inspect, text

from sabiscore_ml.jobs.football_data import ingest_football_data_file
from sabiscore_ml.jobs.sources import ingest_source_bytes

PSG_LOG = FIXTURES / "fbref" / "matchlogs_Paris_S-G_2021_schedule.html.gz"
LYON_LOG = REPO / "samples" / "fbref" / "matchlogs_Lyon_2021_schedule.html.gz"


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def test_opponents_are_reconciled_and_cup_opponents_stay_unknown(warehouse: Engine) -> None:
    columns = {c["name"]: c for c in inspect(warehouse).get_columns("team_match_logs")}
    assert columns["opponent_team_id"]["nullable"] is True
    path = SAMPLE_DIR / "F1" / "2020-2021_reserialized.csv"
    assert ingest_football_data_file(path, engine=warehouse).ok

    outcome = ingest_source_bytes("fbref", PSG_LOG.read_bytes(), PSG_LOG.name, engine=warehouse)
    assert outcome.ok, outcome.message
    by_competition = rows(
        warehouse,
        "SELECT competition, COUNT(*), COUNT(opponent_team_id) FROM team_match_logs "
        "GROUP BY competition ORDER BY competition",
    )
    # every Ligue 1 opponent reconciled; Europe's clubs are not in the registry
    assert by_competition == [
        ("Champions Lg", 12, 0),
        ("Coupe de France", 6, 5),
        ("Ligue 1", 38, 38),
        ("Trophée des Champions", 1, 1),
    ]
    # a cup opponent that is a league club gets the same team as in the league rows
    cup = dict(
        rows(
            warehouse,
            "SELECT opponent_name, opponent_team_id FROM team_match_logs "
            "WHERE competition IN ('Coupe de France', 'Trophée des Champions')",
        )
    )
    league = dict(
        rows(
            warehouse,
            "SELECT DISTINCT l.opponent_name, t.name FROM team_match_logs l "
            "JOIN teams t ON t.id = l.opponent_team_id WHERE l.competition = 'Ligue 1'",
        )
    )
    names = dict(rows(warehouse, "SELECT id, name FROM teams"))
    assert {name: names.get(team) for name, team in cup.items()} == {
        "Angers": league["Angers"],
        "Brest": league["Brest"],
        "Caen": None,  # Ligue 2: not in the registry
        "Lille": league["Lille"],
        "Monaco": league["Monaco"],
        "Montpellier": league["Montpellier"],
        "Marseille": league["Marseille"],
    }
    assert len(league) == len(set(league.values())) == 19  # every other Ligue 1 club


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_a_league_opponent_that_does_not_reconcile_rejects_the_file(warehouse: Engine) -> None:
    assert ingest_football_data_file(
        SAMPLE_DIR / "F1" / "2020-2021_reserialized.csv", engine=warehouse
    ).ok
    page = gzip.decompress(LYON_LOG.read_bytes())
    # Lorient appears in Lyon's log in Ligue 1 rows only
    assert page.count(b">Lorient</a>") == 2
    broken = page.replace(b">Lorient</a>", b">Lorient Bretagne Sud</a>")

    outcome = ingest_source_bytes("fbref", broken, "lyon_renamed.html", engine=warehouse)

    assert (outcome.status, outcome.check) == ("rejected", "reconcile")
    assert "Lorient Bretagne Sud" in (outcome.message or "")
    assert rows(warehouse, "SELECT COUNT(*) FROM team_match_logs") == [(0,)]
    # the unaltered page loads; of Lyon's Coupe de France opponents only Monaco is a
    # Ligue 1 club (Ajaccio, Sochaux: Ligue 2; Red Star: National)
    outcome = ingest_source_bytes("fbref", page, LYON_LOG.name, engine=warehouse)
    assert outcome.ok, outcome.message
    assert rows(
        warehouse,
        "SELECT competition, COUNT(*), COUNT(opponent_team_id) FROM team_match_logs "
        "GROUP BY competition ORDER BY competition",
    ) == [("Coupe de France", 4, 1), ("Ligue 1", 38, 38)]
