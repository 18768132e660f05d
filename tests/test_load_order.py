"""The warehouse does not depend on the order its files arrive in (SQLite and PostgreSQL).

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
from sabiscore_ml.jobs.football_data import plan_football_data
from sabiscore_ml.jobs.football_data import run_item as run_football_data_item
from sabiscore_ml.jobs.sources import plan_source, run_source_item
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


def test_every_order_of_the_source_folders_gives_the_same_exports(
    warehouse: Engine, clone: Callable[[str], tuple[Engine, str]], tmp_path: Path
) -> None:
    """The Understat, FBref and Transfermarkt folders, each loaded whole as ``sabiscore run``
    does (``plan_source(source, from_dir=samples/<source>)``), in all six orders.

    football-data comes first in every order: it is the roster the other sources
    reconcile against, and a file of another source that arrives before its league's
    football-data teams is refused (``load E0 first``).  To keep the test short the
    football-data seasons are those the other samples need (E0 2019-24, E1 2015-20,
    I1 and F1 2020-21, SP1 2023-24), loaded once and copied for every order.
    """
    load_football_data(warehouse, ROSTERS)
    folders = ("understat", "fbref", "transfermarkt")
    results = {}
    for number, order in enumerate(itertools.permutations(folders)):
        engine, url = clone(f"f{number}")
        for source in order:
            load(engine, source, plan_source(source, from_dir=str(SAMPLES / source)))
        results[order] = exported(tmp_path, url)
    first = next(iter(results.values()))
    assert first["shots"].count(b"\n") == 1 + 37 + 21  # header, Understat and FBref shots
    for order, outputs in results.items():
        assert outputs == first, f"{order} exports differ from {next(iter(results))}"
