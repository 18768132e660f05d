"""The warehouse does not depend on the order its files arrive in (SQLite and PostgreSQL).

football-data may come last: the files of other sources it refused for want of their
teams are replayed when it brings them.

The same bundled files, loaded in every order, give byte-identical ``sabiscore export``
outputs: which file a match's figures come from is decided by the source and the kind
of file, and xG and shot coordinates are stored at one precision.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PG_ADMIN_URL, REPO, SAMPLE_DIR, drop_database
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from sabiscore_ml.cli import app
from sabiscore_ml.jobs.football_data import IngestOutcome, plan_football_data
from sabiscore_ml.jobs.football_data import run_item as run_football_data_item
from sabiscore_ml.jobs.sources import plan_source, run_source_item
from sabiscore_ml.jobs.workitems import run_work_items
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.engine import get_engine

SAMPLES = REPO / "samples"
UNDERSTAT_FILES = (
    SAMPLES / "understat" / "E0" / "shots_epl_20-21_matches_14086_14717.csv",
    SAMPLES / "understat" / "league_epl.html",
    SAMPLES / "understat" / "match.html",
)
# The football-data seasons the other bundled sources reconcile and link against.
ROSTERS = (
    *sorted((SAMPLE_DIR / "E0").glob("*.csv")),
    *sorted((SAMPLE_DIR / "E1").glob("*.csv")),
    SAMPLE_DIR / "I1" / "2020-2021_reserialized.csv",
    SAMPLE_DIR / "F1" / "2020-2021_reserialized.csv",
    SAMPLE_DIR / "SP1" / "2023-2024_reserialized.csv",
)
EXPORTS = ("matches", "shots", "squad-values")


def load_football_data(engine: Engine, paths: tuple[Path, ...]) -> None:
    for item in plan_football_data(files=[str(p) for p in paths]):
        assert run_football_data_item(item, engine=engine).ok


def load(engine: Engine, source: str, items: list[dict[str, str]]) -> None:
    """Run ``plan_source`` work items as ``sabiscore ingest``/``run`` do; all must load."""
    for item in items:
        outcome = run_source_item(item, engine=engine)
        assert outcome.ok, outcome.message


def exported(tmp_path: Path, url: str) -> dict[str, bytes]:
    """The bytes ``sabiscore export matches|shots|squad-values`` write from ``url``."""
    runner = CliRunner()
    outputs = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SABISCORE_DATABASE_URL", url)
        clear_settings_cache()
        get_engine.cache_clear()
        for what in EXPORTS:
            output = tmp_path / f"{what}.csv"
            result = runner.invoke(app, ["export", what, "-o", str(output)])
            assert result.exit_code == 0, result.output
            outputs[what] = output.read_bytes()
            output.unlink()
        get_engine().dispose()
        get_engine.cache_clear()
    clear_settings_cache()
    return outputs


@pytest.fixture
def clone(warehouse: Engine, tmp_path: Path) -> Iterator[Callable[[str], tuple[Engine, str]]]:
    """Copies of the warehouse as it stands (the football-data rosters loaded once)."""
    url = warehouse.url.render_as_string(hide_password=False)
    made: list[tuple[Engine, str]] = []

    def copy(name: str) -> tuple[Engine, str]:
        warehouse.dispose()
        if warehouse.dialect.name == "sqlite":
            target = tmp_path / f"{name}.sqlite"
            shutil.copy(make_url(url).database, target)
            copy_url = f"sqlite:///{target}"
        else:
            source_db = make_url(url).database
            database = f"{source_db}_{name}"
            drop_database(database)
            admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{database}" TEMPLATE "{source_db}"'))
            admin.dispose()
            copy_url = make_url(url).set(database=database).render_as_string(hide_password=False)
        engine = create_engine(copy_url)
        made.append((engine, copy_url))
        return engine, copy_url

    yield copy
    for engine, copy_url in made:
        engine.dispose()
        if warehouse.dialect.name != "sqlite":
            drop_database(make_url(copy_url).database)


def test_every_order_of_the_understat_files_gives_the_same_exports(
    warehouse: Engine, clone: Callable[[str], tuple[Engine, str]], tmp_path: Path
) -> None:
    """The league page, match page and shot CSV of EPL 2020-21, in all six orders."""
    load_football_data(warehouse, (SAMPLE_DIR / "E0" / "2020-2021.csv",))
    results = {}
    for number, order in enumerate(itertools.permutations(UNDERSTAT_FILES)):
        engine, url = clone(f"u{number}")
        for path in order:
            load(engine, "understat", plan_source("understat", files=[str(path)]))
        results[tuple(p.name for p in order)] = exported(tmp_path, url)
        with engine.connect() as connection:
            # 14086 (Fulham 0-3 Arsenal): the published xG, not the shot CSV's sums
            # (0.1263265097513793, 2.719889231026172); shots at one precision
            xg = connection.execute(
                text(
                    "SELECT x.home_xg, x.away_xg FROM match_xg x JOIN source_matches s "
                    "ON s.match_id = x.match_id AND s.source = x.source "
                    "WHERE s.source_match_id = '14086'"
                )
            ).one()
            shot = connection.execute(
                text("SELECT xg, y FROM shots WHERE source_shot_id = '408211'")
            ).one()
        assert tuple(xg) == (0.126327, 2.16287), order
        assert tuple(shot) == (0.0324276, 0.264), order
    first = next(iter(results.values()))
    assert b"0.126327,2.16287" in first["matches"]
    for order, outputs in results.items():
        assert outputs == first, f"{order} exports differ from {next(iter(results))}"


FOLDERS = ("football-data", "understat", "fbref", "transfermarkt")


def load_folder(engine: Engine, folder: str) -> list[IngestOutcome]:
    """Load one whole source folder as ``sabiscore ingest``/``run`` do (``run_work_items``).

    football-data is the roster the other sources reconcile against: to keep the
    test short its folder holds the seasons the other samples need (E0 2019-24,
    E1 2015-20, I1 and F1 2020-21, SP1 2023-24).
    """
    if folder == "football-data":
        items = plan_football_data(files=[str(p) for p in ROSTERS])
    else:
        items = plan_source(folder, from_dir=str(SAMPLES / folder))
    outcomes = list(run_work_items(items, engine=engine))
    assert len(outcomes) == len(items)
    return outcomes


def refused(engine: Engine) -> list[tuple[str, str]]:
    """The files whose last attempt was refused and that never loaded (uri, check)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT r.uri, r.check_failed FROM ingestion_runs r WHERE r.status = 'rejected' "
                "AND r.id = (SELECT max(id) FROM ingestion_runs l WHERE l.uri = r.uri) "
                "AND (r.sha256 IS NULL OR r.sha256 NOT IN (SELECT sha256 FROM raw_files))"
            )
        ).all()
    return [tuple(row) for row in rows]


def check_folder_orders(results: dict[tuple[str, ...], dict[str, bytes]]) -> None:
    reference = results[FOLDERS]
    assert reference["shots"].count(b"\n") == 1 + 37 + 21  # header, Understat and FBref shots
    for order, outputs in results.items():
        assert outputs == reference, f"{order} exports differ from {FOLDERS}"


@pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)
def test_every_order_of_the_four_source_folders_gives_the_same_exports(
    warehouse: Engine, tmp_path: Path
) -> None:
    """The football-data, Understat, FBref and Transfermarkt folders in all 24 orders (SQLite).

    A file of another source that arrives before its league's football-data teams
    is refused (``load E0 first``) and quarantined; the football-data load that
    brings the teams replays it, so every order ends with every file loaded and
    the same exports.  Each distinct prefix of the orders is loaded once: the
    SQLite file is copied where two orders part (64 folder loads, not 96).
    """
    url = warehouse.url.render_as_string(hide_password=False)
    warehouse.dispose()
    results: dict[tuple[str, ...], dict[str, bytes]] = {}

    def branch(done: tuple[str, ...], database: Path) -> None:
        for folder in (f for f in FOLDERS if f not in done):
            order = (*done, folder)
            copy = tmp_path / f"{'-'.join(f[:2] for f in order)}.sqlite"
            shutil.copy(database, copy)
            engine = create_engine(f"sqlite:///{copy}")
            outcomes = load_folder(engine, folder)
            if folder == "football-data" or "football-data" in done:
                assert all(o.ok for o in outcomes), [o.message for o in outcomes if not o.ok]
            if len(order) == len(FOLDERS):
                assert refused(engine) == [], order
                results[order] = exported(tmp_path, f"sqlite:///{copy}")
            engine.dispose()
            if len(order) < len(FOLDERS):
                branch(order, copy)
            copy.unlink()

    branch((), Path(make_url(url).database))
    assert len(results) == 24
    check_folder_orders(results)


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
def test_orders_of_the_source_folders_give_the_same_exports_on_postgresql(
    warehouse: Engine, clone: Callable[[str], tuple[Engine, str]], tmp_path: Path
) -> None:
    """football-data first, last (the reversed order) and in between, on PostgreSQL."""
    orders = [
        FOLDERS,
        tuple(reversed(FOLDERS)),
        ("understat", "football-data", "transfermarkt", "fbref"),
    ]
    results = {}
    for number, order in enumerate(orders):
        engine, url = clone(f"f{number}")
        for folder in order:
            load_folder(engine, folder)
        assert refused(engine) == [], order
        results[order] = exported(tmp_path, url)
    check_folder_orders(results)


def test_football_data_last_replays_the_files_refused_for_want_of_teams(
    warehouse: Engine,
) -> None:
    """Understat first: refused (no English teams); football-data then replays it, once."""
    outcomes = load_folder(warehouse, "understat")
    assert {o.check for o in outcomes} == {"reconcile"}
    assert all("load E0 first" in (o.message or "") for o in outcomes)
    assert [uri for uri, _ in refused(warehouse)] != []

    outcomes = load_folder(warehouse, "football-data")
    assert all(o.ok for o in outcomes)
    assert outcomes[-1].warnings[-1] == (
        "replayed 3 quarantined file(s) of other sources refused for want of their teams: "
        "3 loaded, 0 still refused"
    )
    assert refused(warehouse) == []
    with warehouse.connect() as connection:
        runs = connection.execute(
            text(
                "SELECT status, count(*) FROM ingestion_runs WHERE source = 'understat' "
                "GROUP BY status ORDER BY status"
            )
        ).all()
        shots = connection.execute(text("SELECT count(*) FROM shots")).scalar_one()
    assert [tuple(row) for row in runs] == [("loaded", 3), ("rejected", 3)]
    assert shots == 37
    # loading football-data again adds no team: nothing is replayed
    again = load_folder(warehouse, "football-data")
    assert not any("replayed" in w for o in again for w in o.warnings)
