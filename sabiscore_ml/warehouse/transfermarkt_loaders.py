"""Load the transfermarkt-datasets tables and derive squad values over time.

Each file is loaded on its own, in the caller's transaction, in any order:

* rows are upserted on Transfermarkt's ids; a row replaces a stored one only
  when its file is of a newer release (``release``: the latest season or date
  the file mentions; ties broken by the file's hash), so two releases of a
  table give the same warehouse whichever is loaded first;
* clubs are reconciled with our teams (:func:`reconcile_clubs`): strictly in a
  league-season the warehouse holds (an unknown name rejects the file, with the
  alias lines to add), leniently otherwise (a club we cannot identify, or of a
  competition we do not follow, is kept without ``team_id``);
* games of a league-season we hold are also reconciled and linked to the
  warehouse's matches (``source_matches``, source ``transfermarkt``);
* after clubs, players or valuations, the squad values derived from player
  valuations are recomputed from what the warehouse then holds
  (:func:`refresh_derived_squad_values`), so they are the same whether the
  valuations came before the players and clubs or after.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text

from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.leagues import LEAGUES, season_of
from sabiscore_ml.reconcile import load_aliases, reconcile_roster
from sabiscore_ml.sources.transfermarkt import (
    SquadValueChange,
    TmAppearance,
    TmClub,
    TmCompetition,
    TmGame,
    TmPlayer,
    TmPlayerValuation,
    TmPlayerValue,
    attribute_valuation_clubs,
    squad_value_changes,
)
from sabiscore_ml.validation import (
    validate_source_records,
    validate_squad_values,
    validate_transfermarkt,
)
from sabiscore_ml.warehouse import models
from sabiscore_ml.warehouse.models import Match, SquadValue, Team, TeamAlias
from sabiscore_ml.warehouse.source_loaders import (
    LoadCounts,
    SourceFixture,
    canonical_roster,
    country_roster,
    ensure_season,
    load_source_fixtures,
    reconcile_known_teams,
    reconcile_teams,
)
from sabiscore_ml.warehouse.upsert import upsert

SOURCE = "transfermarkt"
DERIVED_SOURCE = "transfermarkt-derived"
# A player's latest valuation older than this no longer counts in his club's squad value.
MAX_STALENESS_DAYS = 400
_NEWER = ["release", "raw_sha256"]
_DERIVED_LOCK = 0x5AB15C0E  # PostgreSQL advisory lock: one recomputation at a time


def release_of(values: Iterable[Any]) -> str:
    """A file's release mark: the latest season (``YYYY-YYYY``) or date it mentions."""
    marks = [value.isoformat() if isinstance(value, dt.date) else value for value in values]
    return max((mark for mark in marks if mark), default="")


def _listed(names: Iterable[str], limit: int = 8) -> str:
    shown = sorted(names)
    more = f" and {len(shown) - limit} more" if len(shown) > limit else ""
    return ", ".join(repr(name) for name in shown[:limit]) + more


def _store(
    connection: Connection,
    model: type[models.Base],
    records: Sequence[Any],
    key: Sequence[str],
    *,
    suite: str,
    name: str,
    date_column: str | None = None,
    newer: bool = True,
    per_row: Callable[[Any], dict[str, Any]] | None = None,
    **columns: Any,
) -> list[dict[str, Any]]:
    """Validate and upsert parsed records as rows of ``model``; return the rows.

    A record's fields give the columns of the same name (``league``, ``season``
    and ``date`` give ``league_code``, ``season_code`` and ``date_column``);
    fields the table lacks are left out.  ``columns`` are set on every row,
    ``per_row(record)`` gives columns that differ by row.  With ``newer``, a
    stored row is only replaced by one of a newer release.
    """
    table = model.__table__
    renamed = {"league": "league_code", "season": "season_code", "date": date_column}
    rows = []
    for record in records:
        fields = {renamed.get(field) or field: value for field, value in asdict(record).items()}
        row = {c: v for c, v in fields.items() if c in table.c} | columns
        rows.append(row | per_row(record) if per_row else row)
    validate_transfermarkt(
        suite, rows, name=name, lines_in_file=[getattr(r, "row", None) for r in records]
    )
    sha = columns.get("raw_sha256")
    again = (
        newer
        and per_row is not None
        and rows
        and sha is not None
        and connection.execute(
            select(table.c.raw_sha256).where(table.c.raw_sha256 == sha).limit(1)
        ).first()
        is not None
    )
    upsert(connection, table, rows, key, newer=_NEWER if newer else None)
    if again and per_row is not None:
        # the same file loaded again (its rows rank no higher than themselves): what its
        # rows are tied to (per_row: teams reconciled since) is rewritten
        tied = list(per_row(records[0]))
        statement = (
            table.update()
            .where(*(table.c[k] == bindparam(f"key_{k}") for k in key), table.c.raw_sha256 == sha)
            .values({c: bindparam(f"new_{c}") for c in tied})
        )
        connection.execute(
            statement,
            [
                {**{f"key_{k}": row[k] for k in key}, **{f"new_{c}": row[c] for c in tied}}
                for row in rows
            ],
        )
    return rows


# ---------------------------------------------------------------- reference tables


def load_competitions(
    connection: Connection, competitions: Sequence[TmCompetition], *, sha256: str, name: str
) -> LoadCounts:
    """Upsert the competitions table (reference data: ids, names, countries)."""
    rows = _store(
        connection,
        models.TmCompetition,
        competitions,
        ["competition_id"],
        suite="competitions",
        name=name,
        newer=False,
        raw_sha256=sha256,
    )
    mapped = sum(1 for c in competitions if c.league)
    return LoadCounts(
        rows=len(rows),
        summary=f"reference data: {len(rows)} competitions, {mapped} of them leagues we follow",
    )


def reconcile_clubs(
    connection: Connection, clubs: Sequence[TmClub], *, name: str
) -> tuple[dict[int, int | None], list[str]]:
    """Club id -> warehouse team id (None when not ours), and notes on what was left out.

    Clubs are grouped by league and last season.  A league-season the warehouse
    holds is reconciled strictly (:func:`reconcile_teams`: an unknown name
    rejects the file); any other is matched against every team of the country
    and unmatched clubs are kept without a team.  Two clubs on one team reject
    the file: an alias line would be wrong.
    """
    groups: dict[tuple[str, str | None], list[TmClub]] = {}
    for club in clubs:
        if club.league is not None:
            groups.setdefault((club.league, club.last_season), []).append(club)
    team_of: dict[int, int | None] = {club.club_id: None for club in clubs}
    unknown: set[str] = set()  # names of clubs that are none of our teams
    not_loaded: dict[str, int] = {}  # league -> clubs of a country with no team loaded
    for (league, season), members in sorted(groups.items(), key=lambda item: str(item[0])):
        names = {club.name for club in members}
        if season is not None and canonical_roster(connection, league, season):
            ids = reconcile_teams(
                connection, source=SOURCE, league=league, season=season, names=names, name=name
            )
        else:
            ids, result = reconcile_known_teams(
                connection, source=SOURCE, league=league, season=season, names=names
            )
            if result is None:
                not_loaded[league] = not_loaded.get(league, 0) + len(names)
            else:
                unknown.update(names - set(ids))
        for club in members:
            team_of[club.club_id] = ids.get(club.name)
    _refuse_shared_teams(connection, team_of, name)
    notes = []
    if unknown:
        notes.append(
            f"{len(unknown)} club(s) of leagues we follow match none of the warehouse's teams "
            f"of their country (not loaded yet, or new to the league), kept without a team: "
            f"{_listed(unknown)}"
        )
    if not_loaded:
        notes.append(
            f"{sum(not_loaded.values())} club(s) of {', '.join(sorted(not_loaded))} kept without "
            "a team: no team of their country in the warehouse (load football-data first, then "
            "this file again)"
        )
    outside = sum(1 for club in clubs if club.league is None)
    if outside:
        notes.append(f"{outside} club(s) of competitions we do not follow, kept without a team")
    return team_of, notes


def _refuse_shared_teams(connection: Connection, team_of: dict[int, int | None], name: str) -> None:
    """Reject two Transfermarkt clubs reconciled to one team (in the file or the warehouse)."""
    wanted = {team for team in team_of.values() if team is not None}
    stored = connection.execute(
        select(models.TmClub.club_id, models.TmClub.team_id).where(
            models.TmClub.team_id.in_(wanted), models.TmClub.club_id.notin_(list(team_of))
        )
    ).all()
    clubs_of: dict[int, list[int]] = {}
    for club, team in [*team_of.items(), *stored]:
        if team is not None:
            clubs_of.setdefault(team, []).append(club)
    shared = {team: clubs for team, clubs in clubs_of.items() if len(clubs) > 1}
    if shared:
        names = dict(connection.execute(select(Team.id, Team.name).where(Team.id.in_(shared))))
        detail = "; ".join(
            f"clubs {sorted(clubs)} all reconcile to team {names[team]!r}"
            for team, clubs in sorted(shared.items())
        )
        raise RejectedFile(name, "reconcile", f"{detail}: check the alias lines")


def load_clubs(
    connection: Connection, clubs: Sequence[TmClub], *, sha256: str, name: str
) -> LoadCounts:
    """Reconcile and upsert the clubs table, then recompute the derived squad values."""
    team_of, notes = reconcile_clubs(connection, clubs, name=name)
    rows = _store(
        connection,
        models.TmClub,
        clubs,
        ["club_id"],
        suite="clubs",
        name=name,
        per_row=lambda club: {"team_id": team_of[club.club_id]},
        release=release_of(club.last_season for club in clubs),
        raw_sha256=sha256,
    )
    matched = sum(1 for team in team_of.values() if team is not None)
    derived = refresh_derived_squad_values(connection, name=name)
    return LoadCounts(
        rows=len(rows),
        teams_matched=matched,
        summary=f"{len(rows)} clubs, {matched} reconciled with our teams; {derived}",
        notes=notes,
        awaits_teams=any(
            team_of[club.club_id] is None for club in clubs if club.league is not None
        ),
    )


# ---------------------------------------------------------------- players and valuations


def load_players(
    connection: Connection, players: Sequence[TmPlayer], *, sha256: str, name: str
) -> LoadCounts:
    """Upsert the players table, then recompute the derived squad values."""
    rows = _store(
        connection,
        models.TmPlayer,
        players,
        ["player_id"],
        suite="players",
        name=name,
        release=release_of(player.last_season for player in players),
        raw_sha256=sha256,
    )
    derived = refresh_derived_squad_values(connection, name=name)
    return LoadCounts(rows=len(rows), summary=f"{len(rows)} players; {derived}")


def load_valuations(
    connection: Connection, valuations: Sequence[TmPlayerValuation], *, sha256: str, name: str
) -> LoadCounts:
    """Upsert player valuations, then recompute the derived squad values."""
    rows = _store(
        connection,
        models.TmPlayerValuation,
        valuations,
        ["player_id", "valuation_date"],
        suite="player_valuations",
        name=name,
        date_column="valuation_date",
        release=release_of(valuation.date for valuation in valuations),
        raw_sha256=sha256,
    )
    derived = refresh_derived_squad_values(connection, name=name)
    first, last = min(v.date for v in valuations), max(v.date for v in valuations)
    return LoadCounts(
        rows=len(rows),
        summary=f"{len(rows)} player valuations ({first} .. {last}); {derived}",
    )


def _team_spellings(connection: Connection) -> tuple[dict[int, set[str]], dict[int, int]]:
    """Every spelling known for each warehouse team, and Transfermarkt club id -> team id.

    A team is spelled by its name, by its aliases recorded for any source, by
    the reviewed alias lines for it, and, for a Transfermarkt club reconciled
    with it, by that club's name and link name (``fc-chelsea``).
    """
    teams = {
        team_id: (country, team_name)
        for team_id, country, team_name in connection.execute(
            select(Team.id, Team.country, Team.name)
        )
    }
    spellings: dict[int, set[str]] = {team: {name} for team, (_, name) in teams.items()}
    for team_id, spelling in connection.execute(select(TeamAlias.team_id, TeamAlias.alias)):
        spellings[team_id].add(spelling)
    team_by_name = {(country, name.casefold()): team for team, (country, name) in teams.items()}
    for alias in load_aliases():
        team = team_by_name.get((alias.country, alias.canonical.casefold()))
        if team is not None:
            spellings[team].add(alias.alias)
    team_of: dict[int, int] = {}
    for club_id, linked_team, club_name, code in connection.execute(
        select(
            models.TmClub.club_id,
            models.TmClub.team_id,
            models.TmClub.name,
            models.TmClub.club_code,
        ).where(models.TmClub.team_id.is_not(None))
    ):
        assert linked_team is not None  # the clubs reconciled with a team only
        team_of[club_id] = linked_team
        spellings[linked_team] |= {club_name, *([code.replace("-", " ")] if code else [])}
    return spellings, team_of


def _team_of_club(team_of: dict[int, int], club_id: int | None) -> int | None:
    """The warehouse team of a Transfermarkt club (None: no club, or not reconciled)."""
    return None if club_id is None else team_of.get(club_id)


def _lock_derived(connection: Connection) -> None:
    """Serialise recomputations (concurrent loads on PostgreSQL; SQLite has one writer)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DERIVED_LOCK})


def refresh_derived_squad_values(
    connection: Connection, *, name: str, max_staleness_days: int = MAX_STALENESS_DAYS
) -> str:
    """Recompute the ``transfermarkt-derived`` squad values from the warehouse; say what.

    Each valuation is attributed to the team printed on it (the club at the
    valuation date: :func:`~sabiscore_ml.sources.transfermarkt.attribute_valuation_clubs`
    with every team's spellings), and for every team the sum of its players'
    latest valuations is written each time it changes
    (:func:`~sabiscore_ml.sources.transfermarkt.squad_value_changes`): the
    value of team T on day D is its latest row on or before D.  The rows are
    replaced as a whole, so they depend only on the tables, not on the order
    their files came in.  ``name`` names the file being loaded, for a failed
    validation.
    """
    _lock_derived(connection)
    connection.execute(delete(SquadValue).where(SquadValue.source == DERIVED_SOURCE))
    stored = connection.execute(
        select(
            models.TmPlayerValuation.player_id,
            models.TmPlayerValuation.valuation_date,
            models.TmPlayerValuation.market_value_eur,
            models.TmPlayerValuation.club_id,
            models.TmPlayerValuation.club_name,
            models.TmPlayerValuation.raw_sha256,
        ).order_by(models.TmPlayerValuation.player_id, models.TmPlayerValuation.valuation_date)
    ).all()
    if not stored:
        return "no derived squad values yet: no player valuation loaded"
    spellings, team_of = _team_spellings(connection)
    valuations = [
        TmPlayerValuation(
            index, player, day, value, _team_of_club(team_of, club), club_name, None, None
        )
        for index, (player, day, value, club, club_name, _) in enumerate(stored)
    ]
    player_teams = {
        player: _team_of_club(team_of, club)
        for player, club in connection.execute(
            select(models.TmPlayer.player_id, models.TmPlayer.current_club_id)
        )
    }
    attributed, how = attribute_valuation_clubs(
        valuations, club_spellings=spellings, player_clubs=player_teams
    )
    teams = {v.club_id for v in attributed if v.club_id is not None}
    changes = squad_value_changes(attributed, club_ids=teams, max_staleness_days=max_staleness_days)
    rows = _derived_rows(changes, [row[5] for row in stored])
    validate_squad_values(
        [(r["team_id"], r["as_of"], r["market_value_eur"], None) for r in rows], name=name
    )
    for season in sorted({row["season_code"] for row in rows}):
        ensure_season(connection, season)
    upsert(connection, SquadValue.__table__, rows, ["team_id", "source", "as_of"])
    return (
        f"{len(rows)} derived squad values of {len({r['team_id'] for r in rows})} teams "
        f"(valuations: {how['printed_confirms_id']} printed with the team of their club id, "
        f"{how['printed_other_club']} with another of our teams, {how['printed_unknown']} "
        f"with a club we cannot identify, {how['no_printed_name']} without a printed club)"
    )


def _derived_rows(
    changes: Sequence[SquadValueChange], files: Sequence[str]
) -> list[dict[str, Any]]:
    """``squad_values`` rows for the changes; ``files[row]`` is each valuation's file.

    A row names the file of the newest valuation it counts; a row where no
    valuation counts any more names the file of the club's previous row.
    """
    rows: list[dict[str, Any]] = []
    previous: dict[int, str] = {}
    for change in changes:
        if change.newest_row is not None:
            previous[change.club_id] = files[change.newest_row]
        rows.append(
            {
                "team_id": change.club_id,
                "source": DERIVED_SOURCE,
                "as_of": change.as_of,
                "season_code": season_of(change.as_of),
                "market_value_eur": change.market_value_eur,
                "squad_size": None,
                "players_valued": change.players,
                "oldest_valuation": change.oldest_valuation,
                "raw_sha256": previous[change.club_id],
            }
        )
    return rows


# ---------------------------------------------------------------- games and appearances


def load_games(
    connection: Connection, games: Sequence[TmGame], *, sha256: str, name: str
) -> LoadCounts:
    """Upsert games; those of a league-season we hold are also reconciled and linked.

    A game of a league-season the warehouse holds goes to ``source_matches``
    (strict reconciliation of the club names, link to the match with the same
    teams within one day); the others are kept in ``tm_games`` only.
    """
    held: dict[tuple[str, str], list[TmGame]] = {}
    for game in games:
        if game.league is not None and canonical_roster(connection, game.league, game.season):
            held.setdefault((game.league, game.season), []).append(game)
    teams_of: dict[int, dict[str, int]] = {}
    counts = LoadCounts()
    unnamed = 0
    for (league, season), members in sorted(held.items()):
        named = [g for g in members if g.home_club_name and g.away_club_name]
        unnamed += len(members) - len(named)
        if not named:
            continue
        fixtures = [_game_fixture(game) for game in named]
        validate_source_records(fixtures, [], season=season, name=name)
        linked, teams, _ = load_source_fixtures(
            connection,
            source=SOURCE,
            league=league,
            season=season,
            fixtures=fixtures,
            sha256=sha256,
            name=name,
            xg=False,
        )
        for game in named:
            assert game.home_club_name and game.away_club_name  # the named games only
            teams_of[game.game_id] = {
                "home_team_id": teams[game.home_club_name],
                "away_team_id": teams[game.away_club_name],
            }
        counts.matches_linked += linked.matches_linked
        counts.matches_unlinked += linked.matches_unlinked
        counts.teams_matched += linked.teams_matched
    rows = _store(
        connection,
        models.TmGame,
        games,
        ["game_id"],
        suite="games",
        name=name,
        date_column="match_date",
        per_row=lambda game: teams_of.get(
            game.game_id, {"home_team_id": None, "away_team_id": None}
        ),
        release=release_of(game.date for game in games),
        raw_sha256=sha256,
    )
    ours = sum(len(members) for members in held.values())
    counts.rows = len(rows)
    # games of our leagues in league-seasons the warehouse does not hold yet
    counts.awaits_teams = ours < sum(1 for game in games if game.league is not None)
    counts.summary = (
        f"{len(rows)} games, {ours} of them in league-seasons we hold "
        f"({counts.matches_linked} linked to our matches, {counts.matches_unlinked} not)"
    )
    if unnamed:
        counts.notes.append(f"{unnamed} game(s) of league-seasons we hold name no club: not linked")
    return counts


def _game_fixture(game: TmGame) -> SourceFixture:
    played = game.home_goals is not None
    details = {"round": game.round, "competition": game.competition_id}
    return SourceFixture(
        source_match_id=str(game.game_id),
        match_date=game.date,
        home_name=game.home_club_name or "",
        away_name=game.away_club_name or "",
        status="played" if played else "scheduled",
        home_goals=game.home_goals,
        away_goals=game.away_goals,
        details={key: value for key, value in details.items() if value},
    )


def load_appearances(
    connection: Connection, appearances: Sequence[TmAppearance], *, sha256: str, name: str
) -> LoadCounts:
    """Upsert players' appearances (match data per player; clubs by Transfermarkt id)."""
    rows = _store(
        connection,
        models.TmAppearance,
        appearances,
        ["player_id", "match_date", "competition_id"],
        suite="appearances",
        name=name,
        date_column="match_date",
        release=release_of(appearance.date for appearance in appearances),
        raw_sha256=sha256,
    )
    players = len({a.player_id for a in appearances})
    return LoadCounts(rows=len(rows), summary=f"{len(rows)} appearances of {players} player(s)")


# ---------------------------------------------------------------- season tables


def load_player_values(
    connection: Connection,
    values: Sequence[TmPlayerValue],
    *,
    league: str,
    sha256: str,
    name: str,
) -> LoadCounts:
    """Upsert a season's most-valuable-players table, clubs reconciled (strictly).

    A player listed twice with the same club and data (a list page read twice
    while the ranking moved) is kept once, at his better rank, with a note; a
    repeat with other data rejects the file (check ``duplicate_key``).
    """
    values, repeated = _distinct_player_values(values, name)
    team_of: dict[tuple[str, str], int] = {}
    for season in sorted({value.season for value in values}):
        ensure_season(connection, season)
        teams = reconcile_teams(
            connection,
            source=SOURCE,
            league=league,
            season=season,
            names={value.club_name for value in values if value.season == season},
            name=name,
        )
        team_of.update({(season, club): team for club, team in teams.items()})
    rows = _store(
        connection,
        models.TmPlayerValue,
        values,
        ["season_code", "team_id", "player_name"],
        suite="player_values",
        name=name,
        newer=False,
        per_row=lambda value: {"team_id": team_of[(value.season, value.club_name)]},
        league_code=league,
        raw_sha256=sha256,
    )
    teams_matched = len(team_of)
    counts = LoadCounts(
        rows=len(rows),
        teams_matched=teams_matched,
        league=league,
        summary=f"{len(rows)} player values of {teams_matched} clubs (a top list, not squads)",
    )
    if repeated:
        counts.notes.append(f"{repeated} repeated row(s) (same player, club and value) kept once")
    return counts


def _distinct_player_values(
    values: Sequence[TmPlayerValue], name: str
) -> tuple[list[TmPlayerValue], int]:
    kept: dict[tuple[str, str, str], TmPlayerValue] = {}
    for value in values:
        key = (value.season, value.club_name.casefold(), value.player_name.casefold())
        first = kept.setdefault(key, value)
        facts = (value.market_value_eur, value.position, value.nationality, value.age)
        if facts != (first.market_value_eur, first.position, first.nationality, first.age):
            raise RejectedFile(
                name,
                "duplicate_key",
                f"line {value.row} repeats {value.player_name!r} of {value.club_name!r} "
                f"(line {first.row}) with other data",
            )
    return list(kept.values()), len(values) - len(kept)


def infer_league(
    connection: Connection, *, names: Iterable[str], season: str, name: str
) -> tuple[str, str]:
    """The league of a season table that names none; returns it and how it was found.

    Never a guess on names: the clubs must reconcile, every one, by the usual
    rules.  If they reconcile with the roster of exactly one league in
    ``season``, that is the league.  Without a roster for the season (a season
    football-data does not cover yet), they must reconcile with the teams of
    exactly one country, and the league is the one of that country whose latest
    season held (up to ``season``) counts more than half of them.  Anything else
    rejects the file (check ``known_league``): give ``--league``.
    """
    wanted = sorted(set(names))
    fits = [
        code
        for code in LEAGUES
        if (roster := canonical_roster(connection, code, season))
        and reconcile_roster(
            wanted, roster, source=SOURCE, country=LEAGUES[code].country, strict=False
        ).ok
    ]
    if len(fits) == 1:
        return fits[0], f"league {fits[0]}: every club played {fits[0]} in {season}"
    if fits:
        raise RejectedFile(
            name,
            "known_league",
            f"the clubs fit several leagues in {season}: {fits}; give --league",
        )
    countries = []
    for country in sorted({league.country for league in LEAGUES.values()}):
        roster = country_roster(connection, country)
        result = reconcile_roster(wanted, roster, source=SOURCE, country=country, strict=False)
        if roster and result.ok:
            countries.append((country, {roster[team] for team in result.matched.values()}))
    if len(countries) != 1:
        found = [country for country, _ in countries] or "none"
        raise RejectedFile(
            name,
            "known_league",
            f"the table names no league and its clubs reconcile with the teams of "
            f"{found} (one country needed): give --league or put it under a folder named "
            "after the league (E0/)",
        )
    country, team_ids = countries[0]
    shares = []
    for code, league in LEAGUES.items():
        if league.country != country:
            continue
        latest = connection.execute(
            select(func.max(Match.season_code)).where(
                Match.league_code == code, Match.season_code <= season
            )
        ).scalar_one()
        if latest:
            roster_ids = set(canonical_roster(connection, code, latest).values())
            shares.append((len(team_ids & roster_ids), code, latest))
    shares.sort(reverse=True)
    if (
        not shares
        or shares[0][0] * 2 <= len(team_ids)
        or (len(shares) > 1 and shares[1][0] == shares[0][0])
    ):
        raise RejectedFile(
            name,
            "known_league",
            f"the clubs are teams of {country} but no league of it holds most of them: "
            "give --league",
        )
    count, code, latest = shares[0]
    return code, (
        f"league {code}: every club is a team of {country}, {count} of the "
        f"{len(team_ids)} played {code} in {latest}, the latest season held"
    )
