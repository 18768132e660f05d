"""Team reconciliation on real rosters: reviewed aliases, exact normalised names, no guesses."""

from __future__ import annotations

import csv

import pytest
from conftest import SAMPLE_DIR

from sabiscore_ml.reconcile import (
    Alias,
    ReconciliationError,
    load_aliases,
    normalize_team_name,
    reconcile_roster,
)

FOOTBALL_DATA_E0_2021 = sorted(
    {row["HomeTeam"] for row in csv.DictReader((SAMPLE_DIR / "E0" / "2020-2021.csv").open())}
)
# Team titles of Understat's EPL 2020 page (teamsData).
UNDERSTAT_EPL_2020 = [
    "Arsenal",
    "Aston Villa",
    "Brighton",
    "Burnley",
    "Chelsea",
    "Crystal Palace",
    "Everton",
    "Fulham",
    "Leeds",
    "Leicester",
    "Liverpool",
    "Manchester City",
    "Manchester United",
    "Newcastle United",
    "Sheffield United",
    "Southampton",
    "Tottenham",
    "West Bromwich Albion",
    "West Ham",
    "Wolverhampton Wanderers",
]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Man United", "Manchester United FC"),
        ("Nott'm Forest", "Nottingham Forest"),
        ("Wolves", "Wolverhampton Wanderers"),
        ("West Brom", "West Bromwich Albion"),
        ("FC Köln", "1. FC Koln"),
        ("M'gladbach", "Borussia Mönchengladbach"),
        ("Dortmund", "Borussia Dortmund"),
        ("Paris SG", "Paris Saint-Germain"),
        ("Sheffield Weds", "Sheffield Wednesday"),
    ],
)
def test_normalisation_folds_spellings_of_one_club(a: str, b: str) -> None:
    assert normalize_team_name(a) == normalize_team_name(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Man United", "Man City"), ("Sheffield United", "Sheffield Weds"), ("Inter", "Milan")],
)
def test_normalisation_keeps_different_clubs_apart(a: str, b: str) -> None:
    assert normalize_team_name(a) != normalize_team_name(b)


def test_understat_epl_2020_reconciles_with_football_data() -> None:
    result = reconcile_roster(
        UNDERSTAT_EPL_2020, FOOTBALL_DATA_E0_2021, source="understat", country="England"
    )
    assert len(result.matched) == 20
    assert result.matched["Manchester United"] == "Man United"
    assert result.matched["Wolverhampton Wanderers"] == "Wolves"
    assert result.matched["Newcastle United"] == "Newcastle"
    assert result.how["Newcastle United"] == "alias"
    assert len(set(result.matched.values())) == 20


def test_unknown_name_stops_with_a_report_and_alias_lines() -> None:
    names = [*UNDERSTAT_EPL_2020[:-1], "Wolverhampton Wndrs FC"]
    with pytest.raises(ReconciliationError) as info:
        reconcile_roster(
            names,
            FOOTBALL_DATA_E0_2021,
            source="understat",
            country="England",
            league="E0",
            season="2020-2021",
        )
    report = str(info.value)
    assert "unmatched 'Wolverhampton Wndrs FC'" in report
    assert "best candidates Wolves" in report
    assert "England,Wolves,understat,Wolverhampton Wndrs FC" in report


def test_two_names_on_one_team_are_ambiguous() -> None:
    aliases = [Alias("England", "Man City", "x", "City")]
    with pytest.raises(ReconciliationError, match="ambiguous"):
        reconcile_roster(
            ["City", "Manchester City"],
            ["Man City", "Man United"],
            source="x",
            country="England",
            aliases=aliases,
        )


def test_alias_for_a_team_outside_the_roster_is_not_used() -> None:
    aliases = [Alias("England", "Leeds", "x", "Leeds United")]
    result = reconcile_roster(
        ["Leeds United"],
        ["Man City"],
        source="x",
        country="England",
        aliases=aliases,
        strict=False,
    )
    assert not result.ok and "Leeds United" in result.unmatched


def test_an_alias_ignores_the_case_football_data_spelled_the_team_in() -> None:
    # football-data wrote M'gladbach in 2012-13 and M'Gladbach in other seasons; the
    # warehouse keeps whichever was loaded first.
    name = "Borussia Verein für Leibesübungen 1900 Mönchengladbach"
    for canonical in ("M'gladbach", "M'Gladbach"):
        result = reconcile_roster(
            [name], [canonical, "Dortmund"], source="transfermarkt", country="Germany"
        )
        assert (result.matched, result.how) == ({name: canonical}, {name: "alias"})


def test_reviewed_alias_table_is_well_formed() -> None:
    aliases = load_aliases()
    assert aliases
    keys = [(a.country, a.source, a.alias.casefold()) for a in aliases]
    assert len(keys) == len(set(keys)), "an alias appears twice"
    assert all(a.country and a.canonical and a.source and a.alias for a in aliases)
