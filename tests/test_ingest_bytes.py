"""Reading the bytes of every source: broken compression, bad bytes and oversized files
are each a named, recorded, quarantined rejection of that one file while the other files
of the folder still load; mixed encodings and mojibake are rejected naming line and bytes.

Every broken file is built here from a real recorded file (samples/, tests/fixtures/).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import shutil
from pathlib import Path

import pytest
from cli_support import (
    fresh_engines,  # noqa: F401 - autouse: an engine per test
    scalar,
)
from cli_support import invoke as invoke_cli
from conftest import FOOTBALL_DATA_FIXTURES, REPO, SAMPLE_DIR, table_snapshot
from http_server import ScriptedServer
from sqlalchemy import Engine, text

from sabiscore_ml.errors import FetchError, RejectedFile
from sabiscore_ml.jobs.football_data import (
    ingest_football_data_file,
    ingest_football_data_fixtures_file,
)
from sabiscore_ml.jobs.sources import plan_source, run_source_item
from sabiscore_ml.settings import FetchSettings, clear_settings_cache, get_core_settings
from sabiscore_ml.sources.http import Fetcher
from sabiscore_ml.sources.reading import decode_text, decompress
from sabiscore_ml.warehouse.engine import get_engine

SAMPLES = REPO / "samples"
FBREF_L1 = SAMPLES / "fbref" / "schedule_FRA-Ligue_1_2021.html.gz"
UNDERSTAT_SHOTS = SAMPLES / "understat" / "E0" / "shots_epl_20-21_matches_14086_14717.csv"
UNDERSTAT_EPL = SAMPLES / "understat" / "league_epl.html"
UNDERSTAT_MATCH = SAMPLES / "understat" / "match.html"
TM_DIR = SAMPLES / "transfermarkt" / "dcaribou"
TM_SQUAD_VALUES = SAMPLES / "transfermarkt" / "E0" / "premier_league_squad_values_2020_2024.csv"
FD_E0 = SAMPLE_DIR / "E0" / "2020-2021.csv"
FD_D1_LATIN1 = FOOTBALL_DATA_FIXTURES / "D1_2000-2001.csv"
FIXTURES_CSV = FOOTBALL_DATA_FIXTURES / "fixtures_2024-08-08.csv"


def invoke(*args: str):
    """``sabiscore ARGS...`` on a terminal wide enough for the longest file names."""
    return invoke_cli(*args, width=400)


def runs(source: str) -> dict[str, tuple[str, str | None, str | None]]:
    """``ingestion_runs`` of ``source``: file name -> (status, check, sha256)."""
    with get_engine().connect() as connection:
        found = connection.execute(
            text("SELECT uri, status, check_failed, sha256 FROM ingestion_runs WHERE source = :s"),
            {"s": source},
        )
        return {Path(uri).name: (status, check, sha) for uri, status, check, sha in found}


# ------------------------------------------------------------------ broken files


def truncated_gzip(raw: bytes) -> bytes:
    """A gzip stream cut in the middle (a download that stopped)."""
    packed = gzip.compress(raw, mtime=0)
    return packed[: len(packed) // 2]


def bad_header_gzip(raw: bytes) -> bytes:
    """gzip magic bytes with an unknown compression method in the header."""
    packed = bytearray(gzip.compress(raw, mtime=0))
    packed[2] = 0x07
    return bytes(packed)


def damaged_gzip(raw: bytes) -> bytes:
    """A whole gzip stream with bytes of its deflate data overwritten."""
    packed = bytearray(gzip.compress(raw, mtime=0))
    middle = len(packed) // 2
    packed[middle : middle + 64] = bytes(64)
    return bytes(packed)


def garbage(seed: int = 7, size: int = 4096) -> bytes:
    """Random bytes (no two files of a folder share bytes: the archive keys them by hash)."""
    return random.Random(seed).randbytes(size)


def broken_compressed(raw: bytes, stem: str, ext: str) -> dict[str, bytes]:
    """Every broken gzip form of ``raw``, and empty and garbage files, named for ``ext``."""
    return {
        f"{stem}_truncated{ext}.gz": truncated_gzip(raw),
        f"{stem}_bad_header{ext}.gz": bad_header_gzip(raw),
        f"{stem}_damaged{ext}.gz": damaged_gzip(raw),
        f"{stem}_empty{ext}": b"",
        f"{stem}_empty_gzip{ext}.gz": b"\n",
        f"{stem}_garbage{ext}": garbage(len(stem)),
        f"{stem}_garbage{ext}.gz": garbage(len(stem) + 100),
    }


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        (folder / name).write_bytes(raw)


def assert_rejected_alone(
    source: str, output: str, broken: dict[str, bytes], checks: dict[str, str]
) -> None:
    """Each broken file: named in the output, one rejected run, its bytes in the quarantine."""
    logged = runs(source)
    quarantine = get_core_settings().raw_archive_dir / source / "_quarantine"
    for name, raw in broken.items():
        assert name in output, name
        status, check, sha = logged[name]
        assert status == "rejected", (name, status, check)
        if name in checks:
            assert check == checks[name], (name, check)
        assert sha == hashlib.sha256(raw).hexdigest()
        manifest = json.loads((quarantine / f"{sha}.json").read_text())
        assert manifest["quarantined"]["check"] == check
        body = next(p for p in quarantine.glob(f"{sha}.*") if p.suffix != ".json")
        assert body.read_bytes() == raw


def compression_checks(broken: dict[str, bytes]) -> dict[str, str]:
    """The broken gzip files of :func:`broken_compressed`: all rejected by ``compression``."""
    kinds = ("_truncated", "_bad_header", "_damaged", "_garbage")
    return {
        name: "compression"
        for name in broken
        if name.endswith(".gz") and any(kind in name for kind in kinds)
    }


def load_roster(*paths: Path) -> None:
    for path in paths:
        result = invoke("ingest", "football-data", "--file", str(path))
        assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ A: one bad file alone


def fbref_without_tables(page: bytes) -> bytes:
    """The page with every schedule table removed (a page that changed its layout)."""
    without = re.sub(rb'<table[^>]*id="sched_[^"]*".*?</table>', b"", page, flags=re.S)
    assert without != page
    return without


def test_fbref_folder_with_broken_pages_loads_the_good_one(tmp_path: Path) -> None:
    load_roster(SAMPLE_DIR / "F1" / "2020-2021_reserialized.csv")
    page = gzip.decompress(FBREF_L1.read_bytes())
    broken = broken_compressed(page, "schedule", ".html")
    broken["schedule_no_table.html.gz"] = gzip.compress(fbref_without_tables(page), mtime=0)
    broken["schedule_no_table.html"] = fbref_without_tables(page)
    folder = tmp_path / "fbref"
    write_folder(folder, broken)
    shutil.copy(FBREF_L1, folder / FBREF_L1.name)

    result = invoke("ingest", "fbref", "--from-dir", str(folder))

    assert result.exit_code == 1
    assert "Aborted" not in result.output
    assert runs("fbref")[FBREF_L1.name][0] == "loaded"
    assert scalar("SELECT COUNT(*) FROM source_matches WHERE source = 'fbref'") == 380
    checks = compression_checks(broken) | {
        "schedule_empty.html": "empty",
        "schedule_empty_gzip.html.gz": "empty",
    }
    assert_rejected_alone("fbref", result.output, broken, checks)


def understat_without_data(page: bytes) -> bytes:
    """The league page with its embedded match data (``datesData``) removed."""
    without = re.sub(rb"datesData\s*=\s*JSON\.parse\('[^']*'\)", b"", page)
    assert without != page
    return without


def test_understat_folder_with_broken_files_loads_the_good_one(tmp_path: Path) -> None:
    load_roster(FD_E0)
    page = UNDERSTAT_EPL.read_bytes()
    broken = broken_compressed(page, "league_epl", ".html")
    broken |= broken_compressed(UNDERSTAT_SHOTS.read_bytes(), "shots", ".csv")
    broken["league_ajax_truncated.json.gz"] = truncated_gzip(
        (REPO / "tests" / "fixtures" / "understat" / "league_ajax.json").read_bytes()
    )
    broken["league_epl_no_data.html"] = understat_without_data(page)
    broken["league_epl_no_data.html.gz"] = gzip.compress(understat_without_data(page), mtime=0)
    folder = tmp_path / "understat" / "E0"
    write_folder(folder, broken)
    shutil.copy(UNDERSTAT_SHOTS, folder / UNDERSTAT_SHOTS.name)

    result = invoke("ingest", "understat", "--from-dir", str(folder.parent))

    assert result.exit_code == 1
    assert runs("understat")[UNDERSTAT_SHOTS.name][0] == "loaded"
    assert scalar("SELECT COUNT(*) FROM shots WHERE source = 'understat'") == 37
    checks = compression_checks(broken) | {"shots_empty.csv": "empty"}
    assert_rejected_alone("understat", result.output, broken, checks)


def test_transfermarkt_folder_with_broken_tables_loads_the_good_one(tmp_path: Path) -> None:
    clubs = (TM_DIR / "clubs.csv").read_bytes()
    broken = broken_compressed(clubs, "clubs", ".csv")
    broken |= broken_compressed(TM_SQUAD_VALUES.read_bytes(), "squad_values", ".csv")
    header = clubs.split(b"\n", 1)[0] + b"\n"
    broken["clubs_header_only.csv.gz"] = gzip.compress(header, mtime=0)
    folder = tmp_path / "transfermarkt"
    write_folder(folder, broken)
    shutil.copy(TM_DIR / "competitions.csv", folder / "competitions.csv")

    result = invoke("ingest", "transfermarkt", "--from-dir", str(folder))

    assert result.exit_code == 1
    assert runs("transfermarkt")["competitions.csv"][0] == "loaded"
    assert scalar("SELECT COUNT(*) FROM tm_competitions") > 0
    assert scalar("SELECT COUNT(*) FROM tm_clubs") == 0
    checks = compression_checks(broken) | {"clubs_empty.csv": "empty"}
    assert_rejected_alone("transfermarkt", result.output, broken, checks)


def test_football_data_folder_with_broken_files_loads_the_good_one(tmp_path: Path) -> None:
    season = FD_E0.read_bytes()
    broken = {
        "gzipped.csv": gzip.compress(season, mtime=0),
        "truncated_gzip.csv": truncated_gzip(season),
        "empty.csv": b"",
        "garbage.csv": garbage(),
        "cut_short.csv": season[: len(season) // 2],
        "header_only.csv": season.split(b"\n", 1)[0] + b"\n",
    }
    folder = tmp_path / "football-data" / "E0"
    write_folder(folder, broken)
    shutil.copy(FD_E0, folder / "2020-2021.csv")

    result = invoke("ingest", "football-data", "--from-dir", str(folder.parent))

    assert result.exit_code == 1
    assert runs("football-data")["2020-2021.csv"][0] == "loaded"
    assert scalar("SELECT COUNT(*) FROM matches") == 380
    checks = {
        "gzipped.csv": "compression",
        "truncated_gzip.csv": "compression",
        "empty.csv": "empty",
        "cut_short.csv": "truncated",
    }
    assert_rejected_alone("football-data", result.output, broken, checks)


@pytest.mark.parametrize(
    ("variant", "check"),
    [
        ("gzipped", "compression"),
        ("truncated_gzip", "compression"),
        ("empty", "empty"),
        ("garbage", "encoding"),
        ("mixed_encoding", "encoding"),
    ],
)
def test_broken_fixtures_csv_is_rejected_recorded_and_quarantined(
    warehouse: Engine, tmp_path: Path, variant: str, check: str
) -> None:
    real = FIXTURES_CSV.read_bytes()
    raw = {
        "gzipped": gzip.compress(real, mtime=0),
        "truncated_gzip": truncated_gzip(real),
        "empty": b"",
        "garbage": garbage(),
        # a UTF-8 file (it starts with a BOM) with one referee's name in Latin-1
        "mixed_encoding": real.replace(b",C Pawson", b",C Pawson\xe9", 1),
    }[variant]
    assert raw != real
    path = tmp_path / f"fixtures_{variant}.csv"
    path.write_bytes(raw)
    before = table_snapshot(warehouse, "matches", "id")

    outcome = ingest_football_data_fixtures_file(path, engine=warehouse)

    assert (outcome.status, outcome.check) == ("rejected", check), outcome.message
    assert path.name in outcome.message
    if variant == "mixed_encoding":  # the Latin-1 byte, where it is (the BOM counted)
        assert "line 2" in outcome.message and ": e9 is not UTF-8" in outcome.message
    assert table_snapshot(warehouse, "matches", "id") == before
    quarantine = get_core_settings().raw_archive_dir / "football-data" / "_quarantine"
    assert (quarantine / f"{outcome.sha256}.csv").read_bytes() == raw
    with warehouse.connect() as connection:
        logged = connection.execute(
            text("SELECT status, check_failed FROM ingestion_runs WHERE uri = :u"),
            {"u": str(path)},
        ).all()
    assert [tuple(row) for row in logged] == [("rejected", check)]


# ------------------------------------------------------------------ B: encodings


def test_understat_shots_with_one_latin1_name_are_rejected_naming_line_and_bytes(
    tmp_path: Path,
) -> None:
    load_roster(FD_E0)
    real = UNDERSTAT_SHOTS.read_bytes()
    assert "Héctor Bellerín".encode() in real  # UTF-8, line 18
    mixed = real.replace(b"Denis Odoi", "Denis Odoï".encode("latin-1"), 1)  # line 2
    folder = tmp_path / "E0"
    folder.mkdir()
    (folder / "shots_mixed.csv").write_bytes(mixed)

    result = invoke("ingest", "understat", "--file", str(folder / "shots_mixed.csv"))

    assert result.exit_code == 1
    status, check, _ = runs("understat")["shots_mixed.csv"]
    assert (status, check) == ("rejected", "encoding")
    with get_engine().connect() as connection:
        message = connection.execute(
            text("SELECT message FROM ingestion_runs WHERE source = 'understat'")
        ).scalar_one()
    assert "line 2" in message and "ef" in message  # the Latin-1 byte
    assert "line 18" in message and "c3 a9" in message  # the UTF-8 'é'
    assert scalar("SELECT COUNT(*) FROM shots") == 0
    assert scalar("SELECT COUNT(*) FROM source_matches") == 0


def test_the_same_shots_in_utf8_load_unchanged(tmp_path: Path) -> None:
    load_roster(FD_E0)
    result = invoke("ingest", "understat", "--file", str(UNDERSTAT_SHOTS))
    assert result.exit_code == 0, result.output
    with get_engine().connect() as connection:
        players = {row[0] for row in connection.execute(text("SELECT player FROM shots"))}
    assert {"Denis Odoi", "Pierre-Emerick Aubameyang"} <= players
    assert not any("Ã" in player for player in players)


@pytest.mark.parametrize(
    ("source", "path", "change"),
    [
        # UTF-8 tables with one name in Latin-1
        (
            "transfermarkt",
            TM_DIR / "clubs.csv",
            (b"Paris Football Club", "Paris Football Clüb".encode("latin-1")),
        ),
        ("understat", UNDERSTAT_SHOTS, (b"Denis Odoi", b"Denis Odo\xef")),
        # a Latin-1 file (football-data's older seasons) with one name in UTF-8
        ("football-data", FD_D1_LATIN1, (b"J\xfcrgen", "Jürgen".encode())),
        # UTF-8 text that already holds mojibake: UTF-8 once read as Latin-1, saved as UTF-8
        ("transfermarkt", TM_DIR / "clubs.csv", ("SchücoArena".encode(), "SchÃ¼coArena".encode())),
        ("fbref", FBREF_L1, ("Nîmes".encode(), "NÃ®mes".encode())),
        ("understat", UNDERSTAT_SHOTS, ("Héctor".encode(), "HÃ©ctor".encode())),
        ("football-data", FIXTURES_CSV, (b"Man City", "Man CitÃ©".encode())),
    ],
    ids=[
        "tm-clubs-latin1-in-utf8",
        "understat-latin1-in-utf8",
        "football-data-utf8-in-latin1",
        "tm-clubs-mojibake",
        "fbref-mojibake",
        "understat-mojibake",
        "fixtures-mojibake",
    ],
)
def test_mixed_encodings_and_mojibake_are_rejected(
    source: str, path: Path, change: tuple[bytes, bytes]
) -> None:
    real = path.read_bytes()
    if real.startswith(b"\x1f\x8b"):
        real = gzip.decompress(real)
    old, new = change
    assert old in real
    raw = real.replace(old, new, 1)
    with pytest.raises(RejectedFile) as caught:
        decode_text(decompress(raw, path.name, source), path.name)
    assert caught.value.check == "encoding"
    assert re.search(r"line \d+", caught.value.detail)
    assert path.name in str(caught.value)


def test_real_latin1_and_utf8_files_decode_as_before() -> None:
    text_d1, encoding = decode_text(FD_D1_LATIN1.read_bytes(), FD_D1_LATIN1.name)
    assert encoding == "cp1252" and "Jürgen Aust" in text_d1
    text_fixtures, encoding = decode_text(FIXTURES_CSV.read_bytes(), FIXTURES_CSV.name)
    assert encoding == "utf-8-sig" and not text_fixtures.startswith("\ufeff")
    for path in [*SAMPLES.rglob("*.csv"), *SAMPLES.rglob("*.html*")]:
        raw = decompress(path.read_bytes(), path.name, "fbref")
        decode_text(raw, path.name)


def test_understat_page_with_an_invalid_byte_is_rejected(warehouse: Engine, tmp_path: Path) -> None:
    page = UNDERSTAT_MATCH.read_bytes()
    broken = page.replace(b"<title>", b"<title>\xe9", 1)
    assert broken != page
    path = tmp_path / "match_bad_byte.html"
    path.write_bytes(broken)
    item = {"kind": "file", "source": "understat", "path": str(path)}
    outcome = run_source_item(item, engine=warehouse)
    assert (outcome.status, outcome.check) == ("rejected", "encoding"), outcome.message
    assert "line" in outcome.message and "e9" in outcome.message


# ------------------------------------------------------------------ C: size limits


def test_an_oversized_file_is_refused_before_reading_naming_size_and_limit(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clubs = TM_DIR / "clubs.csv"
    size = clubs.stat().st_size
    monkeypatch.setenv("SABISCORE_TRANSFERMARKT_MAX_BYTES", str(size - 1))
    clear_settings_cache()
    folder = tmp_path / "E0"
    folder.mkdir()
    shutil.copy(clubs, folder / clubs.name)
    shutil.copy(TM_DIR / "competitions.csv", folder / "competitions.csv")

    outcomes = {
        Path(item["path"]).name: run_source_item(item, engine=warehouse)
        for item in plan_source("transfermarkt", from_dir=str(folder))
    }

    refused = outcomes[clubs.name]
    assert (refused.status, refused.check) == ("rejected", "too_large")
    assert clubs.name in refused.message
    assert f"{size:,} bytes" in refused.message and f"{size - 1:,} bytes" in refused.message
    assert "SABISCORE_TRANSFERMARKT_MAX_BYTES" in refused.message
    assert outcomes["competitions.csv"].ok
    assert table_snapshot(warehouse, "tm_clubs", "club_id") == []
    with warehouse.connect() as connection:
        logged = connection.execute(
            text("SELECT status, check_failed FROM ingestion_runs WHERE uri = :u"),
            {"u": str(folder / clubs.name)},
        ).all()
    assert [tuple(row) for row in logged] == [("rejected", "too_large")]


def test_a_200_mb_file_is_refused_with_the_default_limit(warehouse: Engine, tmp_path: Path) -> None:
    path = tmp_path / "E0" / "squad_values_200mb.csv"
    path.parent.mkdir()
    header = TM_SQUAD_VALUES.read_bytes().split(b"\n", 1)[0] + b"\n"
    with path.open("wb") as out:  # a sparse file: 200 MB long, a few bytes on disk
        out.write(header)
        out.truncate(200 * 2**20)
    outcome = run_source_item(
        {"kind": "file", "source": "transfermarkt", "path": str(path)}, engine=warehouse
    )
    assert (outcome.status, outcome.check) == ("rejected", "too_large"), outcome.message
    assert "209,715,200 bytes" in outcome.message and "67,108,864 bytes" in outcome.message


@pytest.mark.parametrize("source", ["understat", "fbref", "transfermarkt"])
def test_a_gzip_bomb_is_refused_before_it_is_decompressed_whole(
    warehouse: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    real = {
        "understat": UNDERSTAT_SHOTS.read_bytes(),
        "fbref": gzip.decompress(FBREF_L1.read_bytes()),
        "transfermarkt": TM_SQUAD_VALUES.read_bytes(),
    }[source]
    limit = 4 * len(real)
    monkeypatch.setenv(f"SABISCORE_{source.upper()}_MAX_BYTES", str(limit))
    clear_settings_cache()
    bomb = gzip.compress(real * 8, mtime=0)  # small on disk, eight copies decompressed
    assert len(bomb) < limit
    path = tmp_path / "E0" / ("bomb.html.gz" if source == "fbref" else "bomb.csv.gz")
    path.parent.mkdir()
    path.write_bytes(bomb)
    outcome = run_source_item(
        {"kind": "file", "source": source, "path": str(path)}, engine=warehouse
    )
    assert (outcome.status, outcome.check) == ("rejected", "too_large"), outcome.message
    assert f"{limit:,} bytes" in outcome.message and "decompressed" in outcome.message
    quarantine = get_core_settings().raw_archive_dir / source / "_quarantine"
    assert (quarantine / f"{outcome.sha256}.gz").read_bytes() == bomb


def test_football_data_file_over_its_limit_is_refused(
    warehouse: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_MAX_BYTES", "100000")
    clear_settings_cache()
    outcome = ingest_football_data_file(FD_E0, engine=warehouse)
    assert (outcome.status, outcome.check) == ("rejected", "too_large")
    assert f"{FD_E0.stat().st_size:,} bytes" in outcome.message and "100,000" in outcome.message
    assert table_snapshot(warehouse, "matches", "id") == []


# ------------------------------------------------------------------ C: live downloads


def _fetcher() -> Fetcher:
    return Fetcher(
        FetchSettings(
            timeout_seconds=5.0,
            attempts=1,
            football_data_min_interval_seconds=0.0,
            transfermarkt_min_interval_seconds=0.0,
        )
    )


def test_a_download_over_the_limit_is_refused_from_its_content_length(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    season = FD_E0.read_bytes()
    monkeypatch.setenv("SABISCORE_FOOTBALL_DATA_MAX_BYTES", "100000")
    clear_settings_cache()
    with ScriptedServer() as server, _fetcher() as fetcher:
        server.add("/E0.csv", 200, season)
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(f"{server.url}/E0.csv", source="football-data", expect="csv")
    assert f"{len(season):,} bytes" in str(caught.value) and "100,000 bytes" in str(caught.value)
    assert "SABISCORE_FOOTBALL_DATA_MAX_BYTES" in str(caught.value)


def test_a_gzip_encoded_download_stops_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    table = TM_SQUAD_VALUES.read_bytes()
    body = table + table.split(b"\n", 1)[1] * 200  # the real rows, 200 times over
    monkeypatch.setenv("SABISCORE_TRANSFERMARKT_MAX_BYTES", str(len(body) // 2))
    clear_settings_cache()
    packed = gzip.compress(body, mtime=0)
    assert len(packed) < len(body) // 2  # small on the wire: only the decoded size tells
    with ScriptedServer() as server, _fetcher() as fetcher:
        server.add("/values.csv", 200, packed, headers={"Content-Encoding": "gzip"})
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(f"{server.url}/values.csv", source="transfermarkt", expect="csv")
        server.add("/small.csv", 200, gzip.compress(table), headers={"Content-Encoding": "gzip"})
        small = fetcher.fetch(f"{server.url}/small.csv", source="transfermarkt", expect="csv")
    assert "download stopped" in str(caught.value)
    assert f"{len(body) // 2:,} bytes" in str(caught.value)
    assert small.content == table
