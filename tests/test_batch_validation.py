"""The suites run over a batch of real files (football-data, Understat): each still judged alone."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, SAMPLE_DIR
from sqlalchemy import Engine, text

from sabiscore_ml.data_docs import build_data_docs
from sabiscore_ml.errors import RejectedFile
from sabiscore_ml.jobs.football_data import (
    LOADED,
    REJECTED,
    ingest_football_data_file,
    ingest_football_data_files,
)
from sabiscore_ml.jobs.sources import ingest_source_bytes, ingest_source_files
from sabiscore_ml.sources.football_data import parse_football_data
from sabiscore_ml.validation import (
    FOOTBALL_DATA_COLUMNS,
    RowNames,
    football_data_checks,
    lines,
    screen_batch,
    validate_football_data,
)

E0_2324 = (SAMPLE_DIR / "E0" / "2023-2024.csv").read_bytes()
FIRST_ROW = b"E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,"
GOOD = [SAMPLE_DIR / "E1" / "2018-2019.csv", SAMPLE_DIR / "E0" / "2022-2023.csv"]


def without_last_rows(raw: bytes, count: int) -> bytes:
    lines = raw.rstrip(b"\r\n").split(b"\r\n")
    return b"\r\n".join(lines[:-count]) + b"\r\n"


# One real file spoiled in each way a suite can fail: a fixed range, ranges whose bounds
# are the file's own (season dates, window of seasons, season's match count).
BAD = {
    "goals": E0_2324.replace(FIRST_ROW, FIRST_ROW.replace(b",0,3,A,0,2,", b",0,31,A,0,2,")),
    "season window": E0_2324.replace(b"/2023,", b"/1950,").replace(b"/2024,", b"/1951,"),
    "season dates": E0_2324.replace(FIRST_ROW, FIRST_ROW.replace(b"11/08/2023", b"11/05/2023")),
    "short season": without_last_rows(E0_2324, 2),
}
AS_OF = dt.date(2025, 1, 1)


def parsed(raw: bytes, name: str):
    return parse_football_data(raw, name, today=dt.date(2026, 1, 1))


def test_every_sample_file_passes_in_one_batch() -> None:
    # the samples hold the same season twice (as published and re-serialized): keys are per file
    files = sorted(SAMPLE_DIR.rglob("*.csv"))
    checks = [c for f in files for c in football_data_checks(parsed(f.read_bytes(), str(f)))]
    assert len(files) >= 10 and {c.suite_name for c in checks} == {
        "football_data.matches",
        "football_data.odds",
    }
    assert screen_batch(checks) == set()


@pytest.mark.parametrize("spoilt", sorted(BAD))
def test_a_bad_file_in_a_batch_is_the_only_one_flagged(spoilt: str) -> None:
    files = [(str(path), path.read_bytes()) for path in GOOD]
    files.insert(1, ("bad/E0/2023-2024.csv", BAD[spoilt]))
    checks, owners = [], []
    for position, (name, raw) in enumerate(files):
        file_checks = football_data_checks(parsed(raw, name), as_of=AS_OF)
        checks += file_checks
        owners += [position] * len(file_checks)
    assert {owners[c] for c in screen_batch(checks)} == {1}
    with pytest.raises(RejectedFile):
        validate_football_data(parsed(BAD[spoilt], "bad.csv"), as_of=AS_OF)


def test_a_key_repeated_within_one_file_is_flagged_but_not_across_files() -> None:
    # the parser refuses a repeated match, so the repeat is made in the frame the suite reads
    name = str(GOOD[1])
    file = parsed(GOOD[1].read_bytes(), name)
    good, odds = football_data_checks(file)
    repeated = pd.concat([good.frame, good.frame.iloc[[5]]], ignore_index=True)
    numbers = [m.row for m in file.matches] + [file.matches[5].row]
    bad = dataclasses.replace(
        good,
        frame=repeated,
        parameters={**good.parameters, "max_matches": 381},
        rows=RowNames(lines(numbers), FOOTBALL_DATA_COLUMNS),
    )
    assert screen_batch([good, odds, good]) == set()  # the same matches in two files
    assert screen_batch([good, odds, bad, good]) == {2}
    with pytest.raises(RejectedFile) as info:
        bad.validate()
    assert "ExpectCompoundColumnsToBeUnique(match_date,home_team,away_team)" in info.value.detail
    assert f"line {file.matches[5].row}: Date" in info.value.detail


def test_a_folder_loads_with_its_bad_file_rejected_alone_as_when_validated_alone(
    warehouse: Engine, tmp_path: Path, sabiscore_home: Path
) -> None:
    folder = tmp_path / "football-data"
    paths = []
    for path in [*GOOD, SAMPLE_DIR / "D1" / "2020-2021_reserialized.csv"]:
        target = folder / path.parent.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        paths.append(target)
    bad = folder / "E0" / "2023-2024.csv"
    bad.write_bytes(BAD["goals"])
    paths.insert(1, bad)

    outcomes = list(ingest_football_data_files(paths, engine=warehouse, batch_files=3))

    assert [o.uri for o in outcomes] == [str(p) for p in paths]
    assert [o.status for o in outcomes] == [LOADED, REJECTED, LOADED, LOADED]
    docs = build_data_docs()
    assert docs is not None and (docs.results, docs.failed) == (5, 1)
    html = docs.index.read_text()
    runs = set(re.findall(r"validations/[\w./-]+/(\w[\w.-]*)/\d{8}T\d{6}\.\d{6}Z/(\w+)", html))
    # the two batches of three files (the second: the last file alone) and the bad file
    assert runs == {
        ("2_files_from_E1_2018-2019.csv", "passed"),
        ("1_files_from_D1_2020-2021_reserialized.csv", "passed"),
        ("E0_2023-2024.csv", "failed"),
    }

    with pytest.raises(RejectedFile) as alone:
        validate_football_data(parse_football_data(BAD["goals"], str(bad)))
    assert outcomes[1].check == "expectation" and outcomes[1].message == str(alone.value)
    assert "line 2: FTAG 31" in outcomes[1].message
    # the one-file path gives the same verdict
    assert ingest_football_data_file(bad, engine=warehouse).message == outcomes[1].message
    with warehouse.connect() as connection:
        matches = connection.execute(text("SELECT count(*) FROM matches")).scalar_one()
    assert matches == sum(o.matches for o in outcomes) == 380 + 552 + 306
    assert all(o.odds > 0 for o in outcomes if o.ok)


UNDERSTAT = REPO / "samples" / "understat"
UNDERSTAT_SHOTS = UNDERSTAT / "E0" / "shots_epl_20-21_matches_14086_14717.csv"


def test_an_understat_folder_loads_with_its_bad_file_rejected_alone_as_when_validated_alone(
    warehouse: Engine, tmp_path: Path
) -> None:
    """The league page, match page and shot CSV of EPL 2020-21 in one batch, a spoilt copy
    of the shot CSV among them (Fulham 0-16 Arsenal): it alone is rejected, with the message it
    gets alone, and the others load as they do alone."""
    assert ingest_football_data_file(SAMPLE_DIR / "E0" / "2020-2021.csv", engine=warehouse).ok
    raw = UNDERSTAT_SHOTS.read_bytes()
    bad = tmp_path / "E0" / "shots_epl_20-21_spoilt.csv"
    bad.parent.mkdir()
    bad.write_bytes(raw.replace(b",Fulham,Arsenal,0.0,3.0,", b",Fulham,Arsenal,0.0,16.0,"))
    assert bad.read_bytes() != raw
    paths = [UNDERSTAT / "league_epl.html", bad, UNDERSTAT / "match.html", UNDERSTAT_SHOTS]

    outcomes = list(
        ingest_source_files("understat", paths, league="E0", engine=warehouse, batch_files=4)
    )

    assert [o.uri for o in outcomes] == [str(p) for p in paths]
    assert [o.status for o in outcomes] == [LOADED, REJECTED, LOADED, LOADED]
    assert outcomes[1].check == "expectation" and "match 14086" in outcomes[1].message
    # alone: the same verdict and message, and the loaded files give what they give alone
    alone = ingest_source_bytes(
        "understat", bad.read_bytes(), str(bad), league="E0", engine=warehouse
    )
    assert (alone.status, alone.message) == (REJECTED, outcomes[1].message)
    with warehouse.connect() as connection:
        shots = connection.execute(text("SELECT count(*) FROM shots")).scalar_one()
    assert shots == 37
    again = [
        ingest_source_bytes("understat", p.read_bytes(), str(p), league="E0", engine=warehouse)
        for p in paths
    ]
    assert [(o.status, o.message) for o in again] == [(o.status, o.message) for o in outcomes]
