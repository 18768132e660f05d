"""Where each live source publishes a league-season: URL builders, no network.

Every URL is built under a base URL from :class:`~sabiscore_ml.settings.SourceSettings`
(``SABISCORE_UNDERSTAT_BASE_URL``, ``SABISCORE_FBREF_BASE_URL``,
``SABISCORE_TRANSFERMARKT_DATASETS_BASE_URL``), so a mirror or a local test server
can stand in for the real site.  The shapes were checked against the recorded
pages in the shared data set (their provenance notes and canonical links):

* Understat: since 2025 the league page loads its data from
  ``/getLeagueData/<League>/<start year>`` and a match page from
  ``/getMatchData/<match id>`` (JSON, asked for with ``X-Requested-With:
  XMLHttpRequest``); the legacy page ``/league/<League>/<start year>`` embedded
  the same data as ``JSON.parse`` strings.
* FBref: ``/en/comps/<competition id>/<YYYY-YYYY>/schedule/<YYYY-YYYY>-<Name>-Scores-and-Fixtures``
  (the canonical link of the recorded La Liga 2023-24 and Ligue 1 2019-20 and
  2020-21 schedules).  FBref routes on the id and the season; the trailing name
  is descriptive.
* Transfermarkt: the prepared tables of the transfermarkt-datasets project,
  ``<base>/<table>.csv.gz``, each covering every competition and season.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sabiscore_ml.leagues import get_league, normalize_season, season_start_year
from sabiscore_ml.settings import get_source_settings
from sabiscore_ml.sources.fbref import FBREF_LEAGUES
from sabiscore_ml.sources.understat import UNDERSTAT_LEAGUES

# Our league code -> Understat's league name as it appears in its URLs.
UNDERSTAT_URL_LEAGUES: dict[str, str] = {
    code: name for name, code in UNDERSTAT_LEAGUES.items() if code is not None
}

# Our league code -> FBref competition id (from the parser's id table).
FBREF_COMPETITION_IDS: dict[str, str] = {
    code: comp_id for comp_id, code in FBREF_LEAGUES.items() if comp_id.isdigit()
}

# The name FBref writes after the season in its schedule URLs.
FBREF_URL_NAMES: dict[str, str] = {
    "E0": "Premier-League",
    "E1": "Championship",
    "E2": "League-One",
    "E3": "League-Two",
    "EC": "National-League",
    "SC0": "Scottish-Premiership",
    "D1": "Bundesliga",
    "D2": "2-Bundesliga",
    "I1": "Serie-A",
    "I2": "Serie-B",
    "SP1": "La-Liga",
    "SP2": "Segunda-Division",
    "F1": "Ligue-1",
    "F2": "Ligue-2",
    "N1": "Eredivisie",
    "B1": "Belgian-Pro-League",
    "P1": "Primeira-Liga",
    "T1": "Super-Lig",
    "G1": "Super-League-Greece",
}

# The transfermarkt-datasets tables a live Transfermarkt ingestion reads.
TRANSFERMARKT_TABLES: tuple[str, ...] = (
    "competitions",
    "clubs",
    "players",
    "player_valuations",
    "games",
)

# Understat answers its data endpoints only to requests that say they come from its page.
UNDERSTAT_AJAX_HEADERS = {"X-Requested-With": "XMLHttpRequest"}


def _base(url: str) -> str:
    return url.rstrip("/")


def understat_league(league: str) -> str:
    """Understat's name of one of our leagues (``E0`` -> ``EPL``), or a ``ValueError``."""
    get_league(league)
    try:
        return UNDERSTAT_URL_LEAGUES[league]
    except KeyError:
        covered = ", ".join(sorted(UNDERSTAT_URL_LEAGUES))
        raise ValueError(f"Understat does not cover {league}; it covers {covered}") from None


def understat_league_data_url(league: str, season: str) -> str:
    """The 2025 JSON endpoint of one league-season (``.../getLeagueData/EPL/2020``)."""
    base = _base(get_source_settings().understat_base_url)
    return f"{base}/getLeagueData/{understat_league(league)}/{season_start_year(season)}"


def understat_league_page_url(league: str, season: str) -> str:
    """The legacy league page of one league-season (``.../league/EPL/2020``)."""
    base = _base(get_source_settings().understat_base_url)
    return f"{base}/league/{understat_league(league)}/{season_start_year(season)}"


def understat_match_data_url(match_id: int | str) -> str:
    """The 2025 JSON endpoint of one match (``.../getMatchData/14717``)."""
    text = str(match_id).strip()
    if not text.isdigit():
        raise ValueError(f"Understat match id {match_id!r} is not a number")
    return f"{_base(get_source_settings().understat_base_url)}/getMatchData/{text}"


def fbref_schedule_url(league: str, season: str) -> str:
    """The "Scores & Fixtures" page of one league-season on FBref."""
    get_league(league)
    comp_id = FBREF_COMPETITION_IDS.get(league)
    if comp_id is None or league not in FBREF_URL_NAMES:
        raise ValueError(f"no FBref competition id for {league}")
    season = normalize_season(season)
    base = _base(get_source_settings().fbref_base_url)
    name = FBREF_URL_NAMES[league]
    return f"{base}/en/comps/{comp_id}/{season}/schedule/{season}-{name}-Scores-and-Fixtures"


def transfermarkt_table_url(table: str) -> str:
    """One prepared transfermarkt-datasets table (``.../clubs.csv.gz``)."""
    if table not in TRANSFERMARKT_TABLES:
        raise ValueError(f"unknown transfermarkt-datasets table {table!r}")
    return f"{_base(get_source_settings().transfermarkt_datasets_base_url)}/{table}.csv.gz"


@dataclass(frozen=True, slots=True)
class LiveRequest:
    """One request of a live work item: the URL, what it returns, extra headers."""

    url: str
    expect: str  # csv, html or json (see Fetcher.fetch)
    headers: dict[str, str] = field(default_factory=dict)


def live_request(item: dict[str, str]) -> LiveRequest:
    """The request behind a live work item of :func:`sabiscore_ml.jobs.sources.plan_source`."""
    source = item["source"]
    if source == "understat":
        if item.get("match_id"):
            url = understat_match_data_url(item["match_id"])
        else:
            url = understat_league_data_url(item["league"], item["season"])
        return LiveRequest(url, "json", dict(UNDERSTAT_AJAX_HEADERS))
    if source == "fbref":
        return LiveRequest(fbref_schedule_url(item["league"], item["season"]), "html")
    if source == "transfermarkt":
        return LiveRequest(transfermarkt_table_url(item["table"]), "csv")
    raise ValueError(f"no live requests for source {source!r}")
