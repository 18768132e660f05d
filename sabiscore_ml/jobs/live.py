"""Live work items: download through the polite fetcher, or serve the archived copy.

The raw archive is immutable and remembers where every body came from, so a
download is only made when it can bring something new:

* a **finished season** — its archived copy is loaded, every fixture of the
  league-season in the warehouse is over (played, awarded or cancelled), and
  :data:`~sabiscore_ml.settings.SourceSettings.finished_season_margin_days` have
  passed since both the last fixture and the nominal end of the season
  (:func:`sabiscore_ml.leagues.season_played_out`) — is served from the archive:
  no request is sent, and the run log says so (status ``skipped``, message
  ``finished season, archived copy ...``);
* anything else (the **current season**, a table covering every season) is asked
  for with the archived copy's ETag / Last-Modified: a ``304 Not Modified`` is
  logged as ``skipped`` (the archived copy is loaded again only if it never was,
  e.g. it was quarantined before an alias was added);
* ``refresh`` skips both and downloads the body again.

A refused download fails the item loudly with the URL and the check: ``robots``
(robots.txt forbids it; nothing requested), ``blocked`` (a block, challenge or
login page, kept in the archive's quarantine for inspection) or ``fetch``
(network or HTTP error after the retries; worth another try later).  Nothing is
written to the warehouse but the run log.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from sabiscore_ml.errors import FetchError
from sabiscore_ml.jobs.ingest import REJECTED, SKIPPED, IngestOutcome, now_utc, record_run
from sabiscore_ml.jobs.source_files import ingest_source_bytes
from sabiscore_ml.leagues import (
    get_league,
    normalize_season,
    season_of,
    season_over_since,
    season_played_out,
)
from sabiscore_ml.settings import get_source_settings
from sabiscore_ml.sources import urls
from sabiscore_ml.sources.archive import ArchivedCopy, archive_raw, latest_copy
from sabiscore_ml.sources.football_data import SOURCE as FOOTBALL_DATA
from sabiscore_ml.sources.http import BlockedResponse, RobotsDisallowed, get_fetcher
from sabiscore_ml.sources.reading import sha256_hex
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import Match, RawFile, SourceMatch

log = logging.getLogger(__name__)

# Fixture statuses that will not change any more (FBref and Understat source matches).
FINAL_STATUSES = frozenset({"played", "awarded", "cancelled"})

Ingest = Callable[[bytes, dt.datetime, dict[str, object]], IngestOutcome]


@dataclass(frozen=True, slots=True)
class LiveTarget:
    """One URL of a live work item and the league-season it holds (if one)."""

    source: str
    url: str
    expect: str  # csv, html or json
    league: str | None = None
    season: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def _fixtures_over(
    engine: Engine, source: str, league: str, season: str
) -> tuple[str, dt.date] | None:
    """What the loaded fixtures of a league-season are and their last day, if all are over."""
    with engine.connect() as connection:
        if source == FOOTBALL_DATA:
            # football-data lists played matches only: the season is complete when every
            # team has hosted every other one (true of double round robins, and of the
            # Scottish split, where each pair meets three or four times).
            rows = connection.execute(
                select(
                    Match.home_team_id, Match.away_team_id, Match.match_date, Match.result
                ).where(Match.league_code == league, Match.season_code == season)
            ).all()
            # fixtures.csv adds unplayed matches: a season holding one is not over
            if not rows or any(result is None for *_, result in rows):
                return None
            teams = {team for home, away, *_ in rows for team in (home, away)}
            pairs = {(home, away) for home, away, *_ in rows}
            if len(pairs) < len(teams) * (len(teams) - 1):
                return None
            last = max(day for _, _, day, _ in rows)
            return f"{len(rows)} matches of {len(teams)} teams", last
        statuses = dict(
            connection.execute(
                select(SourceMatch.status, func.count())
                .where(
                    SourceMatch.source == source,
                    SourceMatch.league_code == league,
                    SourceMatch.season_code == season,
                )
                .group_by(SourceMatch.status)
            ).all()
        )
        if not statuses or set(statuses) - FINAL_STATUSES:
            return None
        last = connection.execute(
            select(func.max(SourceMatch.match_date)).where(
                SourceMatch.source == source,
                SourceMatch.league_code == league,
                SourceMatch.season_code == season,
            )
        ).scalar_one()
    counts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    return f"{sum(statuses.values())} fixtures ({counts})", last


def loaded_season_over(
    engine: Engine, source: str, league: str, season: str, *, today: dt.date | None = None
) -> str | None:
    """Why ``source``'s league-season is over in the loaded data, or None.

    Over means: every loaded fixture is over, and the margin has passed since
    both the last fixture and the nominal season end
    (:func:`~sabiscore_ml.leagues.season_played_out`).
    """
    over = _fixtures_over(engine, source, league, season)
    if over is None:
        return None
    summary, last_day = over
    margin = dt.timedelta(days=get_source_settings().finished_season_margin_days)
    if not season_played_out(season, last_day, today=today or dt.date.today(), margin=margin):
        return None
    return f"{summary}, the last on {last_day}; over since {season_over_since(season, last_day)}"


def _loaded(engine: Engine, sha256: str) -> bool:
    with engine.connect() as connection:
        found = connection.execute(select(RawFile.sha256).where(RawFile.sha256 == sha256))
        return found.first() is not None


def _skip(
    engine: Engine,
    target: LiveTarget,
    copy: ArchivedCopy,
    started: dt.datetime,
    message: str,
) -> IngestOutcome:
    outcome = IngestOutcome(
        target.url,
        SKIPPED,
        copy.sha256,
        target.league or copy.league,
        target.season or copy.season,
        message=message,
    )
    log.info("%s: %s", target.url, message)
    record_run(engine, outcome, started, source=target.source)
    return outcome


def _refused(
    engine: Engine, target: LiveTarget, started: dt.datetime, check: str, exc: FetchError
) -> IngestOutcome:
    outcome = IngestOutcome(
        target.url,
        REJECTED,
        league=target.league,
        season=target.season,
        check=check,
        message=f"{target.url}: rejected by check '{check}': {exc.reason}",
    )
    log.warning("%s", outcome.message)
    record_run(engine, outcome, started, source=target.source)
    return outcome


def fetch_live(
    target: LiveTarget,
    ingest: Ingest,
    *,
    refresh: bool = False,
    engine: Engine | None = None,
    today: dt.date | None = None,
) -> IngestOutcome:
    """Serve ``target`` from the archive or download it, then ``ingest`` new bytes.

    ``ingest(raw, fetched_at, archive_extra)`` archives, parses and loads a body
    (``archive_extra`` carries the validators into the archive manifest).
    """
    engine = engine or get_engine()
    started = now_utc()
    copy = None if refresh else latest_copy(target.source, target.url)
    loaded = copy is not None and _loaded(engine, copy.sha256)
    if copy is not None and loaded and target.league and target.season:
        reason = loaded_season_over(
            engine, target.source, target.league, target.season, today=today
        )
        if reason:
            return _skip(
                engine,
                target,
                copy,
                started,
                f"finished season, archived copy {copy.sha256[:12]} fetched "
                f"{copy.fetched_at[:10]} is kept ({reason}); not downloaded again "
                "(refresh to force)",
            )
    try:
        body = get_fetcher().fetch(
            target.url,
            source=target.source,
            expect=target.expect,  # type: ignore[arg-type]
            etag=copy.etag if copy else None,
            last_modified=copy.last_modified if copy else None,
            headers=target.headers,
        )
    except RobotsDisallowed as exc:
        return _refused(engine, target, started, "robots", exc)
    except BlockedResponse as exc:
        if exc.content:  # keep the page for inspection; never served as a copy
            archive_raw(
                exc.content,
                sha256_hex(exc.content),
                source=target.source,
                uri=target.url,
                ext="html",
                extra={"block_page": True},
                quarantine={"check": "blocked", "detail": exc.marker},
            )
        return _refused(engine, target, started, "blocked", exc)
    except FetchError as exc:
        return _refused(engine, target, started, "fetch", exc)
    fetched_at = body.fetched_at.replace(tzinfo=None)
    if body.not_modified and copy is not None:
        if loaded:
            since = copy.last_modified or f"the copy fetched {copy.fetched_at[:10]}"
            return _skip(
                engine,
                target,
                copy,
                started,
                f"not modified since {since} (HTTP 304): archived copy "
                f"{copy.sha256[:12]} is current",
            )
        return ingest(copy.read(), fetched_at, {})
    validators = {"etag": body.etag, "last_modified": body.last_modified}
    return ingest(body.content, fetched_at, {k: v for k, v in validators.items() if v})


# ---------------------------------------------------------------- Understat, FBref, Transfermarkt


def plan_live_source(
    source: str,
    *,
    leagues: list[str],
    seasons: list[str] | None = None,
    refresh: bool = False,
    match_ids: list[str] | None = None,
    today: dt.date | None = None,
) -> list[dict[str, str]]:
    """Live work items of ``source``: one per league × season, or per table.

    Without ``seasons`` the current season is meant.  Transfermarkt's tables
    cover every league and season: one item per table, labelled with the league
    (at most one) that files without a league column belong to.  Understat's
    ``match_ids`` (matches of one league-season) are fetched one item each, with
    their shots.
    """
    if not leagues:
        raise ValueError(f"give --league (and --season) to fetch {source} live")
    for league in leagues:
        get_league(league)
    wanted = [normalize_season(s) for s in seasons] if seasons else []
    wanted = wanted or [season_of(today or dt.date.today())]
    flag = {"refresh": "1"} if refresh else {}
    if source == "transfermarkt":
        if len(leagues) > 1:
            raise ValueError("transfermarkt tables cover every league: give at most one --league")
        return [
            {"kind": "live", "source": source, "table": table, "league": leagues[0], **flag}
            for table in urls.TRANSFERMARKT_TABLES
        ]
    if match_ids:
        if source != "understat" or len(leagues) != 1 or len(wanted) != 1:
            raise ValueError("match ids are Understat's, of one --league and one --season")
        items = []
        for match_id in match_ids:
            urls.understat_match_data_url(match_id)  # a malformed id fails the plan
            items.append(
                {
                    "kind": "live",
                    "source": source,
                    "league": leagues[0],
                    "season": wanted[0],
                    "match_id": str(match_id).strip(),
                    **flag,
                }
            )
        return items
    items = []
    for league in leagues:
        for season in wanted:
            item = {"kind": "live", "source": source, "league": league, "season": season, **flag}
            urls.live_request(item)  # a league the source does not cover fails the plan
            items.append(item)
    return items


def run_live_source_item(
    item: dict[str, str], *, engine: Engine | None = None, today: dt.date | None = None
) -> IngestOutcome:
    """Fetch (or serve from the archive) and load one live item of :func:`plan_live_source`."""
    request = urls.live_request(item)
    source = item["source"]
    season = item.get("season") or None
    target = LiveTarget(
        source,
        request.url,
        request.expect,
        league=item.get("league") or None,
        season=season,
        headers=request.headers,
    )

    def ingest(raw: bytes, fetched_at: dt.datetime, extra: dict[str, object]) -> IngestOutcome:
        return ingest_source_bytes(
            source,
            raw,
            request.url,
            league=target.league,
            season=season,
            engine=engine,
            fetched_at=fetched_at,
            archive_extra=extra,
        )

    return fetch_live(target, ingest, refresh=bool(item.get("refresh")), engine=engine, today=today)
