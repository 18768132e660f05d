"""The Transfermarkt parsers on real published tables (and on broken copies of them)."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import FIXTURES, real_file

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.sources.transfermarkt import (
    TRANSFERMARKT_LEAGUES,
    TmPlayer,
    TmPlayerValuation,
    attribute_valuation_clubs,
    league_of,
    parse_money,
    parse_tm_clubs,
    parse_tm_competitions,
    parse_tm_games,
    parse_tm_player_valuations,
    parse_tm_player_values,
    parse_tm_players,
    parse_tm_scraper,
    parse_tm_squad_values,
    squad_value_changes,
    squad_values_as_of,
    table_kind,
)

TM = FIXTURES / "transfermarkt"
EPL_SQUADS = "premier_league_squad_values_2020_2024.csv"
CLUBS_2025 = "tm_market_values_clubs_2025_26.csv"
PLAYERS_2025 = "tm_market_values_players_2025_26.csv"


def raw(name: str) -> bytes:
    return real_file("transfermarkt", name).read_bytes()


def reject(parser, data: bytes, **kwargs) -> RejectedFile:
    with pytest.raises(RejectedFile) as info:
        parser(data, "broken.csv", **kwargs)
    assert info.value.name == "broken.csv"
    return info.value


# --- money -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "euros"),
    [
        ("€1.23bn", 1_230_000_000.0),
        ("€1.46bn", 1_460_000_000.0),
        ("€500.00m", 500_000_000.0),
        ("€969.65m", 969_650_000.0),
        ("+€5.90m", 5_900_000.0),
        ("+€880k", 880_000.0),
        ("€-72.30m", -72_300_000.0),
        ("€-999k", -999_000.0),
        ("-€5m", -5_000_000.0),
        ("+-0", 0.0),
        ("€ 1,370,000,000.00", 1_370_000_000.0),
        ("€ -283,200,000.00", -283_200_000.0),
        ("€ 35,000,000.00", 35_000_000.0),
        ("€\xa0500.00m", 500_000_000.0),
        ("1040.0", 1040.0),
        ("969.65", 969.65),
        ("150000", 150_000.0),
        ("-3", -3.0),
        ("-", None),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_money_formats(text: str, euros: float | None) -> None:
    assert parse_money(text) == euros


@pytest.mark.parametrize(
    "text",
    [
        "€1,23m",  # decimal comma (German locale)
        "12,50 Mio. €",
        "£-4.82m",  # pounds: an older clubs release
        "€",
        "abc",
        "--5",
        "+€-5m",
        "€5mm",
        "1.5e6",
        "€1,2345m",
    ],
)
def test_parse_money_refuses_unknown_formats(text: str) -> None:
    with pytest.raises(ValueError, match="unrecognised money format") as info:
        parse_money(text)
    assert repr(text) in str(info.value)


def test_league_codes() -> None:
    assert TRANSFERMARKT_LEAGUES["GB1"] == "E0"
    assert TRANSFERMARKT_LEAGUES["SC1"] == "SC0"
    assert (league_of("L1"), league_of("PO1"), league_of("UKR1"), league_of(None)) == (
        "D1",
        "P1",
        None,
        None,
    )


# --- transfermarkt-datasets tables ------------------------------------------


def test_players_fixture() -> None:
    players = parse_tm_players(raw("players.csv"), "players.csv")
    assert len(players) == 29
    # 10,Miroslav,Klose,Miroslav Klose,2015,398,...,1978-06-09 00:00:00,Centre-Forward,Attack,...
    # ...,IT1,Società Sportiva Lazio S.p.A.,1000000,30000000
    klose = players[0]
    assert klose == TmPlayer(
        row=2,
        player_id=10,
        name="Miroslav Klose",
        first_name="Miroslav",
        last_name="Klose",
        date_of_birth=dt.date(1978, 6, 9),
        position="Attack",
        sub_position="Centre-Forward",
        current_club_id=398,
        current_club_name="Società Sportiva Lazio S.p.A.",
        competition_id="IT1",
        league="I1",
        last_season="2015-2016",
        market_value_eur=1_000_000.0,
        highest_market_value_eur=30_000_000.0,
    )
    guerrero = next(p for p in players if p.player_id == 2989)
    assert (guerrero.market_value_eur, guerrero.current_club_name) == (None, None)
    assert sum(p.current_club_id == 984 for p in players) == 9


def test_player_valuations_fixture() -> None:
    valuations = parse_tm_player_valuations(raw("player_valuations.csv"), "player_valuations.csv")
    assert len(valuations) == 1000
    # line 4: 3132,2003-12-09,400000,Dynamo Kyiv,126,TR1
    assert valuations[2] == TmPlayerValuation(
        row=4,
        player_id=3132,
        date=dt.date(2003, 12, 9),
        market_value_eur=400_000.0,
        club_id=126,
        club_name="Dynamo Kyiv",
        competition_id="TR1",
        league="T1",
    )
    assert sum(v.competition_id is None for v in valuations) == 3
    assert max(v.market_value_eur for v in valuations) == 40_000_000.0


def test_clubs_fixture() -> None:
    clubs = {club.club_id: club for club in parse_tm_clubs(raw("clubs.csv"), "clubs.csv")}
    assert len(clubs) == 451
    # total_market_value is empty for every club in this release.
    assert all(club.total_market_value_eur is None for club in clubs.values())
    # 10004,paris-fc,Paris Football Club,FR1,,31,28.5,...,€-72.30m,,2025,...
    paris = clubs[10004]
    assert (paris.name, paris.competition_id, paris.league) == ("Paris Football Club", "FR1", "F1")
    assert (paris.squad_size, paris.average_age, paris.last_season) == (31, 28.5, "2025-2026")
    assert paris.net_transfer_record_eur == -72_300_000.0
    assert clubs[11127].net_transfer_record_eur == 880_000.0  # +€880k
    assert clubs[1085].net_transfer_record_eur == 0.0  # +-0
    assert clubs[984].league == "E0"
    assert clubs[370].league == "SC0"


def test_older_clubs_release_total_market_value_in_millions() -> None:
    # Older releases published total_market_value as EUR millions (3302,...,ES1,51.66,...).
    header, first = raw("clubs.csv").split(b"\n")[:2]
    cells = first.split(b",")
    cells[4] = b"51.66"
    (club,) = parse_tm_clubs(header + b"\n" + b",".join(cells) + b"\n", "old.csv")
    assert club.total_market_value_eur == 51_660_000.0


def test_competitions_fixture() -> None:
    competitions = parse_tm_competitions(raw("competitions.csv"), "competitions.csv")
    assert len(competitions) == 49
    by_id = {c.competition_id: c for c in competitions}
    premier = by_id["GB1"]
    assert (premier.competition_code, premier.type, premier.sub_type) == (
        "premier-league",
        "domestic_league",
        "first_tier",
    )
    assert (premier.country_name, premier.is_major_national_league, premier.league) == (
        "England",
        True,
        "E0",
    )
    assert (by_id["SC1"].league, by_id["SC1"].is_major_national_league) == ("SC0", False)
    assert by_id["FIWC"].country_name is None
    # Every mapped first tier is in the table; GB2 (Championship) is not.
    mapped = {c.competition_id: c.league for c in competitions if c.league}
    assert mapped == {code: ours for code, ours in TRANSFERMARKT_LEAGUES.items() if code != "GB2"}


def test_games_fixture() -> None:
    games = parse_tm_games(raw("games.csv"), "games.csv")
    assert len(games) == 100
    # 1026846,FIWC,2009,Round of 16,2010-06-26,3449,3589,2,1,...,Uruguay,South Korea,2:1,...
    first = games[0]
    assert (first.game_id, first.competition_id, first.league) == (1026846, "FIWC", None)
    assert (first.season, first.round, first.date) == (
        "2009-2010",
        "Round of 16",
        dt.date(2010, 6, 26),
    )
    assert (first.home_club_id, first.away_club_id) == (3449, 3589)
    assert (first.home_club_name, first.away_club_name) == ("Uruguay", "South Korea")
    assert (first.home_goals, first.away_goals) == (2, 1)
    # line 89: 2222535,L1,2012,1. Matchday,2012-08-24,16,86,2,1,... (Dortmund v Werder Bremen)
    dortmund = next(g for g in games if g.game_id == 2222535)
    assert (dortmund.row, dortmund.league, dortmund.season) == (89, "D1", "2012-2013")
    assert (dortmund.home_club_id, dortmund.away_club_id, dortmund.date) == (
        16,
        86,
        dt.date(2012, 8, 24),
    )
    assert sum(g.league == "D1" for g in games) == 9


# --- squad value as of a date ------------------------------------------------


def _tables() -> tuple[list[TmPlayerValuation], list[TmPlayer]]:
    return (
        parse_tm_player_valuations(raw("player_valuations.csv"), "player_valuations.csv"),
        parse_tm_players(raw("players.csv"), "players.csv"),
    )


def test_squad_value_as_of_a_date() -> None:
    # Valuation rows with current_club_id 126:
    #   line   4: 3132,2003-12-09,400000,Dynamo Kyiv,126,TR1
    #   line 149: 3132,2004-10-04,2000000,Dynamo Kyiv,126,TR1
    #   line 756: 8490,2004-10-04,250000,Adanaspor,126,TR1
    #   line 862: 10118,2004-10-04,750000,Galatasaray,126,TR1
    #   line 899: 12106,2004-10-04,300000,FC Metz,126,TR1
    # On 2004-10-04: 2,000,000 (3132's later value) + 250,000 + 750,000 + 300,000.
    valuations, players = _tables()
    (squad,) = squad_values_as_of(valuations, players, club_ids=[126], as_of=dt.date(2004, 10, 4))
    assert squad.market_value_eur == 3_300_000.0
    assert (squad.players, squad.stale_players) == (4, 0)
    assert squad.oldest_valuation == dt.date(2004, 10, 4)
    # The day before, only 3132's 2003-12-09 valuation exists.
    (before,) = squad_values_as_of(valuations, players, club_ids=[126], as_of=dt.date(2004, 10, 3))
    assert (before.market_value_eur, before.players) == (400_000.0, 1)
    assert before.oldest_valuation == dt.date(2003, 12, 9)


def test_staleness_limit_excludes_an_old_valuation() -> None:
    # Valuation rows with current_club_id 1241:
    #   line   3: 342216,2001-07-20,100000,Unknown,1241,SC1   (1172 days before 2004-10-04)
    #   line 390: 4750,2004-10-04,1250000,Wolverhampton Wanderers,1241,SC1
    valuations, players = _tables()
    as_of = dt.date(2004, 10, 4)
    (default,) = squad_values_as_of(valuations, players, club_ids=[1241], as_of=as_of)
    assert (default.market_value_eur, default.players, default.stale_players) == (1_250_000.0, 1, 1)
    (lenient,) = squad_values_as_of(
        valuations, players, club_ids=[1241], as_of=as_of, max_staleness_days=1172
    )
    assert (lenient.market_value_eur, lenient.players, lenient.stale_players) == (1_350_000.0, 2, 0)
    assert lenient.oldest_valuation == dt.date(2001, 7, 20)
    # 3132's 2003-12-09 valuation is 299 days old on 2004-10-03.
    (strict,) = squad_values_as_of(
        valuations, players, club_ids=[126], as_of=dt.date(2004, 10, 3), max_staleness_days=298
    )
    assert (strict.market_value_eur, strict.players, strict.stale_players) == (None, 0, 1)


def test_squad_value_falls_back_to_the_players_club() -> None:
    # The same valuation rows without current_club_id/current_club_name: the players
    # table gives 3132, 8399, 8490, 10118 and 12106 club 126; 8399 has no valuation.
    lines = raw("player_valuations.csv").decode().splitlines()
    stripped = "\n".join(",".join(line.split(",")[:3]) for line in lines) + "\n"
    valuations = parse_tm_player_valuations(stripped.encode(), "no-club.csv")
    assert all(v.club_id is None and v.club_name is None for v in valuations)
    players = parse_tm_players(raw("players.csv"), "players.csv")
    (squad,) = squad_values_as_of(valuations, players, club_ids=[126], as_of=dt.date(2004, 10, 4))
    assert (squad.market_value_eur, squad.players) == (3_300_000.0, 4)


def test_a_player_counts_only_for_the_club_of_his_latest_valuation() -> None:
    def valuation(day: int, value: float, club: int) -> TmPlayerValuation:
        return TmPlayerValuation(day, 7, dt.date(2024, 1, day), value, club, None, None, None)

    moved = [valuation(1, 5e6, 1), valuation(10, 6e6, 2)]
    first, second = squad_values_as_of(moved, [], club_ids=[1, 2], as_of=dt.date(2024, 1, 20))
    assert (first.market_value_eur, first.players) == (None, 0)
    assert (second.market_value_eur, second.players) == (6e6, 1)
    (early,) = squad_values_as_of(moved, [], club_ids=[1], as_of=dt.date(2024, 1, 5))
    assert early.market_value_eur == 5e6
    # Two valuations on one date: the one that comes last wins.
    same_day = [valuation(10, 6e6, 2), valuation(10, 7e6, 2)]
    (tie,) = squad_values_as_of(same_day, [], club_ids=[2], as_of=dt.date(2024, 1, 10))
    assert (tie.market_value_eur, tie.players) == (7e6, 1)
    with pytest.raises(ValueError, match="max_staleness_days"):
        squad_values_as_of(
            moved, [], club_ids=[1], as_of=dt.date(2024, 1, 5), max_staleness_days=-1
        )


def test_old_valuations_carry_the_release_club_id() -> None:
    # Known quirk of the input: most 2004 rows carry the player's club at the release
    # (984 = West Bromwich Albion) while current_club_name names the 2004 club
    # (line 169: 3226,2004-10-04,15000000,Manchester City,984,GB1 -- Nicolas Anelka).
    valuations, players = _tables()
    (squad,) = squad_values_as_of(valuations, players, club_ids=[984], as_of=dt.date(2004, 10, 4))
    assert squad.players == 9
    assert "Manchester City" in squad.published_club_names
    assert "West Bromwich Albion" not in squad.published_club_names


# --- season squad-value tables -----------------------------------------------


def test_epl_squad_values_2020_21() -> None:
    rows = parse_tm_squad_values(raw(EPL_SQUADS), EPL_SQUADS, league="GB1")
    assert len(rows) == 100
    assert {r.season for r in rows} == {f"{y}-{y + 1}" for y in range(2020, 2025)}
    season = [r for r in rows if r.season == "2020-2021"]
    assert len(season) == 20
    # line 3: 2020,Liverpool FC,969.65  (EUR millions)
    liverpool = next(r for r in season if r.club_name == "Liverpool FC")
    assert liverpool.row == 3
    assert liverpool.market_value_eur == 969_650_000.0
    assert liverpool.league == "E0"
    assert (liverpool.start_market_value_eur, liverpool.squad_size, liverpool.average_age) == (
        None,
        None,
        None,
    )
    assert parse_tm_squad_values(raw(EPL_SQUADS), EPL_SQUADS)[0].league is None


def test_club_values_2025_26_display_strings() -> None:
    rows = parse_tm_squad_values(raw(CLUBS_2025), CLUBS_2025, league="E0")
    assert len(rows) == 20
    assert {r.season for r in rows} == {"2025-2026"}  # from the file name
    # 1,Arsenal,"€ 1,370,000,000.00","€ 1,330,000,000.00",-3.2,...
    arsenal = rows[0]
    assert (arsenal.club_name, arsenal.league) == ("Arsenal", "E0")
    assert arsenal.market_value_eur == 1_330_000_000.0
    assert arsenal.start_market_value_eur == 1_370_000_000.0
    assert rows[9].club_name == "Brighton and Hove Albion"
    given = parse_tm_squad_values(raw(CLUBS_2025), "clubs.csv", season="2025/26")
    assert given[0].season == "2025-2026"


def test_player_values_2025_26() -> None:
    rows = parse_tm_player_values(raw(PLAYERS_2025), PLAYERS_2025, league="GB1")
    assert len(rows) == 100
    # 2,Bukayo Saka,Right Winger,England / Nigeria,24,Arsenal,"€ 150,000,000.00"
    saka = rows[1]
    assert (saka.rank, saka.player_name, saka.position) == (2, "Bukayo Saka", "Right Winger")
    assert (saka.nationality, saka.age, saka.club_name) == ("England / Nigeria", 24, "Arsenal")
    assert (saka.market_value_eur, saka.season, saka.league) == (150_000_000.0, "2025-2026", "E0")


# --- bad inputs --------------------------------------------------------------


def test_rejects_empty_files() -> None:
    assert reject(parse_tm_players, b"").check == "empty"
    assert reject(parse_tm_players, b"\n\n").check == "empty"
    header = raw("players.csv").split(b"\n")[0] + b"\n"
    assert reject(parse_tm_players, header).check == "empty"


def test_rejects_an_html_page() -> None:
    page = b"<!DOCTYPE html><html><head><title>Transfermarkt</title></head><body></body></html>\n"
    assert reject(parse_tm_squad_values, page).check == "not_csv"
    assert reject(
        parse_tm_player_valuations, b"\n  <html><body>Access denied</body></html>"
    ).check == ("not_csv")


def test_rejects_a_missing_column_and_names_it() -> None:
    renamed = raw(EPL_SQUADS).replace(b"club_name", b"team", 1)
    error = reject(parse_tm_squad_values, renamed)
    assert error.check == "mandatory_columns"
    assert "club_name" in error.detail
    no_value = raw(EPL_SQUADS).replace(b"market_value_m", b"value", 1)
    error = reject(parse_tm_squad_values, no_value)
    assert (error.check, "market_value_m" in error.detail) == ("mandatory_columns", True)
    error = reject(
        parse_tm_player_valuations, raw("player_valuations.csv").replace(b"date", b"day", 1)
    )
    assert (error.check, "date" in error.detail) == ("mandatory_columns", True)


def test_rejects_a_bad_money_value_naming_line_and_value() -> None:
    quoted = raw(EPL_SQUADS).replace(b"Liverpool FC,969.65", b'Liverpool FC,"969,65m"', 1)
    error = reject(parse_tm_squad_values, quoted)
    assert error.check == "money_format"
    assert "line 3" in error.detail and "'969,65m'" in error.detail
    pounds = raw("clubs.csv").replace(b"\xe2\x82\xac-72.30m", "£-72.30m".encode(), 1)
    error = reject(parse_tm_clubs, pounds)
    assert (error.check, "line 3" in error.detail, "£-72.30m" in error.detail) == (
        "money_format",
        True,
        True,
    )


def test_rejects_a_truncated_download() -> None:
    error = reject(parse_tm_squad_values, raw(EPL_SQUADS)[:-1])
    assert error.check == "truncated"
    assert reject(parse_tm_games, raw("games.csv")[:-120]).check == "truncated"


def test_rejects_out_of_range_squad_values() -> None:
    negative = raw(EPL_SQUADS).replace(b"Liverpool FC,969.65", b"Liverpool FC,-969.65", 1)
    error = reject(parse_tm_squad_values, negative)
    assert (error.check, "line 3" in error.detail) == ("range", True)
    huge = raw(EPL_SQUADS).replace(b"Liverpool FC,969.65", b"Liverpool FC,5000.01", 1)
    assert reject(parse_tm_squad_values, huge).check == "range"
    at_limit = raw(EPL_SQUADS).replace(b"Liverpool FC,969.65", b"Liverpool FC,5000", 1)
    assert parse_tm_squad_values(at_limit, "ok.csv")[1].market_value_eur == 5e9
    euros = raw(CLUBS_2025).replace(b'"\xe2\x82\xac 1,330,000,000.00"', b'"\xe2\x82\xac 6.2bn"', 1)
    assert reject(parse_tm_squad_values, euros).check == "range"


def test_rejects_other_broken_rows() -> None:
    lines = raw("games.csv").split(b"\n")
    bad_date = b"\n".join([lines[0], lines[1].replace(b"2010-06-26", b"26/06/2010")]) + b"\n"
    assert reject(parse_tm_games, bad_date).check == "date_format"
    repeated = b"\n".join([lines[0], lines[1], lines[1]]) + b"\n"
    assert reject(parse_tm_games, repeated).check == "duplicate_key"
    short = b"\n".join([lines[0], lines[1].rsplit(b",", 1)[0]]) + b"\n"
    assert reject(parse_tm_games, short).check == "row_width"
    no_season = raw(CLUBS_2025)
    assert reject(parse_tm_squad_values, no_season).check == "season"  # name has no season
    epl = raw(EPL_SQUADS).split(b"\n")
    twice = b"\n".join([*epl[:-1], epl[2]]) + b"\n"
    assert reject(parse_tm_squad_values, twice).check == "duplicate_key"
    bad_id = raw("players.csv").replace(b"\n10,Miroslav", b"\nten,Miroslav", 1)
    assert reject(parse_tm_players, bad_id).check == "number_format"


# --- which table a file holds ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("players.csv", "players"),
        ("player_valuations.csv", "player_valuations"),
        ("clubs.csv", "clubs"),
        ("clubs_full_2025-05_snapshot.csv", "clubs"),
        ("competitions.csv", "competitions"),
        ("games.csv", "games"),
        (EPL_SQUADS, "squad_values"),
        (CLUBS_2025, "squad_values"),
        (PLAYERS_2025, "player_values"),
        ("scraper_samples/games.json", "scraper"),
        ("scraper_samples/clubs.json", "scraper"),
    ],
)
def test_table_kind_comes_from_the_content(name: str, kind: str) -> None:
    assert table_kind(raw(name), "renamed.csv") == kind


def test_table_kind_refuses_an_html_page() -> None:
    with pytest.raises(RejectedFile) as info:
        table_kind(b"<!DOCTYPE html><html><body>Access denied</body></html>\n", "page.csv")
    assert info.value.check == "not_csv"


# --- transfermarkt-scraper JSON Lines -----------------------------------------

GAMES_JSON = "scraper_samples/games.json"
APPEARANCES_JSON = "scraper_samples/appearances.json"


def test_scraper_games() -> None:
    scraped = parse_tm_scraper(raw(GAMES_JSON), GAMES_JSON)
    assert (scraped.record_type, scraped.records, len(scraped.games)) == ("game", 9, 9)
    assert scraped.appearances == []
    # line 1: parent .../wettbewerb/TR1, game_id 3426916, home .../verein/6646/saison_id/2020,
    # away .../verein/141/..., "result": "2:1", "matchday": "13. Matchday", "date": "Fri, 12/18/20"
    first = scraped.games[0]
    assert (first.game_id, first.competition_id, first.league, first.season) == (
        3426916,
        "TR1",
        "T1",
        "2020-2021",
    )
    assert (first.date, first.round) == (dt.date(2020, 12, 18), "13. Matchday")
    assert (first.home_club_id, first.away_club_id, first.home_goals, first.away_goals) == (
        6646,
        141,
        2,
        1,
    )
    assert (first.home_club_name, first.away_club_name) == (None, None)
    # line 2 is the only Russian game: Akhmat Grozny 0:0 Lokomotiv Moscow
    assert [g.competition_id for g in scraped.games].count("RU1") == 1
    assert scraped.games[1].league is None


def test_scraper_appearances() -> None:
    scraped = parse_tm_scraper(raw(APPEARANCES_JSON), APPEARANCES_JSON)
    assert (scraped.record_type, len(scraped.appearances)) == ("appearance", 12)
    matip = scraped.appearances
    assert {a.player_id for a in matip} == {82105}
    # line 1: CL Group D, 11/25/20, H, Liverpool (31) v Atalanta (800), 0:2, CB, 85'
    first = matip[0]
    assert (first.date, first.competition_id, first.matchday, first.venue) == (
        dt.date(2020, 11, 25),
        "CL",
        "Group D",
        "H",
    )
    assert (first.club_id, first.opponent_club_id, first.season) == (31, 800, "2020-2021")
    assert (first.home_goals, first.away_goals, first.position, first.minutes_played) == (
        0,
        2,
        "CB",
        85,
    )
    assert (first.goals, first.assists, first.yellow_card_minute) == (0, 0, None)
    # line 5: GB1 matchday 8, 11/8/20 at Manchester City, 1:1, booked 46'
    booked = matip[4]
    assert (booked.date, booked.venue, booked.yellow_card_minute) == (
        dt.date(2020, 11, 8),
        "A",
        46,
    )
    # line 7: 12/6/20 v Wolves 4:0, one goal; line 9: at Crystal Palace 0:7, one assist
    assert (matip[6].date, matip[6].goals, matip[8].assists) == (dt.date(2020, 12, 6), 1, 1)
    assert (matip[8].home_goals, matip[8].away_goals) == (0, 7)


def test_scraper_link_lists_hold_no_records_to_load() -> None:
    scraped = parse_tm_scraper(raw("scraper_samples/clubs.json"), "clubs.json")
    assert (scraped.record_type, scraped.records) == ("club", 20)
    assert (scraped.games, scraped.appearances) == ([], [])


def test_scraper_bad_input() -> None:
    lines = raw(GAMES_JSON).split(b"\n")
    assert reject(parse_tm_scraper, raw(GAMES_JSON)[:-200]).check == "truncated"
    assert reject(parse_tm_scraper, b"\n".join([lines[0], lines[1][:50]]) + b"\n").check == (
        "not_json"
    )
    mixed = b"\n".join([lines[0], raw(APPEARANCES_JSON).split(b"\n")[0]]) + b"\n"
    assert reject(parse_tm_scraper, mixed).check == "record_type"
    bad_date = lines[0].replace(b"Fri, 12/18/20", b"18.12.2020") + b"\n"
    error = reject(parse_tm_scraper, bad_date)
    assert (error.check, "line 1" in error.detail) == ("date_format", True)
    twice = b"\n".join([lines[0], lines[0]]) + b"\n"
    assert reject(parse_tm_scraper, twice).check == "duplicate_key"
    assert reject(parse_tm_scraper, b"").check == "empty"


# --- squad values over time -----------------------------------------------------


def test_valuations_are_attributed_to_the_printed_club() -> None:
    valuations, _ = _tables()
    spellings = {
        984: ["West Bromwich Albion", "west-bromwich-albion"],
        281: ["Manchester City Football Club", "Manchester City"],
        126: ["Çaykur Rizespor Kulübü"],
    }
    attributed, how = attribute_valuation_clubs(valuations, club_spellings=spellings)
    by_line = {v.row: v for v in attributed}
    # line 169: 3226,2004-10-04,15000000,Manchester City,984,GB1 (Anelka, at Manchester City)
    assert by_line[169].club_id == 281
    # line 244: 3668,2004-10-04,100000,West Bromwich Albion,1010,GB1
    assert by_line[244].club_id == 984
    # line 4: 3132,2003-12-09,400000,Dynamo Kyiv,126,TR1: Dynamo Kyiv is none of the three
    assert by_line[4].club_id is None
    assert sum(how.values()) == 1000
    # 2 printed West Bromwich Albion, 7 printed Manchester City, none of them with their id
    assert (how["printed_confirms_id"], how["printed_other_club"]) == (0, 9)
    assert how["no_printed_name"] == 0


def test_squad_value_changes_agree_with_squad_values_as_of_on_every_day() -> None:
    valuations, _ = _tables()
    clubs = sorted({v.club_id for v in valuations if v.club_id is not None})
    for limit in (0, 30, 400):
        changes = squad_value_changes(valuations, club_ids=clubs, max_staleness_days=limit)
        by_club: dict[int, list] = {}
        for change in changes:
            by_club.setdefault(change.club_id, []).append(change)
        days = sorted(
            {v.date for v in valuations}
            | {c.as_of for c in changes}
            | {c.as_of - dt.timedelta(days=1) for c in changes}
        )
        for day in days:
            for squad in squad_values_as_of(
                valuations, [], club_ids=clubs, as_of=day, max_staleness_days=limit
            ):
                before = [c for c in by_club.get(squad.club_id, []) if c.as_of <= day]
                step = (
                    (before[-1].market_value_eur, before[-1].players, before[-1].oldest_valuation)
                    if before
                    else (None, 0, None)
                )
                assert step == (squad.market_value_eur, squad.players, squad.oldest_valuation)


def test_squad_value_changes_of_one_club_by_hand() -> None:
    # Club 126 (see test_squad_value_as_of_a_date): 400,000 from 2003-12-09, 3,300,000 from
    # 2004-10-04; with a 400-day limit the 2004-10-04 valuations go stale on 2005-11-09.
    valuations, _ = _tables()
    changes = squad_value_changes(valuations, club_ids=[126])
    assert [(c.as_of, c.market_value_eur, c.players) for c in changes] == [
        (dt.date(2003, 12, 9), 400_000.0, 1),
        (dt.date(2004, 10, 4), 3_300_000.0, 4),
        (dt.date(2005, 11, 9), None, 0),
    ]
    assert changes[1].newest_row == 899  # line 899: 12106,2004-10-04,...: the last one that day
