"""``sabiscore keys`` (kept hashed), ``sabiscore serve`` on the embedded default, and the
league check of ``sabiscore export``."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cli_support import (
    fresh_engines,  # noqa: F401 - autouse: an engine per test
    invoke,
)
from conftest import REPO
from serving_support import stop_server
from sqlalchemy import text
from test_publishing import add_fixtures, scored_run

from sabiscore_ml.errors import SabiscoreError
from sabiscore_ml.leagues import LEAGUES
from sabiscore_ml.publish import publish, run_documents
from sabiscore_ml.warehouse.api_keys import ApiKeyRefused
from sabiscore_ml.warehouse.engine import get_engine, migrate

KEY = re.compile(r"sbk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def test_keys_create_list_revoke() -> None:
    created = invoke("keys", "create", "--owner", "webapp", "--tier", "pro")
    assert created.exit_code == 0
    key = KEY.search(created.output).group(0)
    key_id = key.split("_")[1]
    assert f"key {key_id} for webapp (pro)" in created.output
    quiet = invoke("keys", "create", "--owner", "alice", "--quiet")
    assert KEY.fullmatch(quiet.output.strip())  # the key alone, for scripts

    with get_engine().connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_keys")).all()
    assert len(rows) == 2
    assert not any(key in str(value) for row in rows for value in row)  # never stored

    listed = invoke("keys", "list").output
    assert key_id in listed and "webapp" in listed and "pro" in listed and "free" in listed
    assert key not in listed
    revoked = invoke("keys", "revoke", key_id)
    assert revoked.exit_code == 0 and f"key {key_id} (webapp) revoked at" in revoked.output
    assert invoke("keys", "revoke", key).exit_code == 0  # the whole key works too, again
    only = invoke("keys", "list", "--owner", "webapp").output
    assert key_id in only and "alice" not in only
    assert re.search(rf"{key_id}.*webapp.*pro.*\d{{4}}-\d\d-\d\d.*\d{{4}}-\d\d-\d\d", only)

    with pytest.raises(ApiKeyRefused, match="tier 'gold' is not one of free, premium, pro"):
        invoke("keys", "create", "--owner", "x", "--tier", "gold")
    with pytest.raises(ApiKeyRefused, match="no API key 'ffffffffffff'"):
        invoke("keys", "revoke", "ffffffffffff")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_serve_on_the_embedded_default_answers_the_published_run(sabiscore_home: Path) -> None:
    """Like ``make serve``: a key from the CLI, the API on SQLite, a curl of the upcoming list."""
    migrate()
    run = scored_run("embedded-run", add_fixtures(get_engine()))
    publish(run, engine=get_engine())  # no Redis: the embedded default
    expected = {(d.kind, d.key): d.body for d in run_documents(run)}

    sabiscore = str(Path(sys.executable).with_name("sabiscore"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SABISCORE_")}
    env["SABISCORE_HOME"] = str(sabiscore_home)
    key = subprocess.run(
        [sabiscore, "keys", "create", "--owner", "dev", "--tier", "pro", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.strip()
    assert KEY.fullmatch(key)

    port = _free_port()
    server = subprocess.Popen(
        [sabiscore, "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while _get_or_none(f"{base}/health") is None:
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "the API did not come up"
            time.sleep(0.25)
        status, body = _get(f"{base}/v1/matches/upcoming", {"X-API-Key": key})
        assert (status, body) == (200, expected[("upcoming", "all")])
        assert _get(f"{base}/v1/matches/upcoming")[0] == 401
        assert _get(f"{base}/ready")[1].startswith(b'{"status":"ok"')
        assert _get(f"{base}/docs")[0] == 200 and _get(f"{base}/openapi.json")[0] == 200
    finally:
        stop_server(server)
    output = server.stdout.read().decode()
    assert f"serving on http://127.0.0.1:{port}" in output


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)[0]
    except OSError:
        return None


def test_export_of_an_unknown_league_fails_naming_the_known_ones(
    sabiscore_home: Path, tmp_path: Path
) -> None:
    """``--league ZZ`` exits non-zero and writes nothing; a known league without matches is 0."""
    migrate()
    sabiscore = str(Path(sys.executable).with_name("sabiscore"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SABISCORE_")}
    env["SABISCORE_HOME"] = str(sabiscore_home)
    unknown = tmp_path / "zz.csv"
    result = subprocess.run(
        [sabiscore, "export", "matches", "--league", "ZZ", "-o", str(unknown)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    message = " ".join((result.stdout + result.stderr).split())
    assert f"--league: unknown league 'ZZ'; known leagues: {', '.join(sorted(LEAGUES))}" in message
    assert not unknown.exists()

    empty = tmp_path / "d1.csv"
    known = invoke("export", "matches", "--league", "d1", "-o", str(empty))
    assert known.exit_code == 0 and "wrote 0 matches" in known.output
    assert empty.read_text().startswith("date,")
    with pytest.raises(SabiscoreError, match="unknown league 'XX1'"):
        invoke("export", "shots", "-l", "E0", "-l", "XX1", "-o", str(tmp_path / "s.csv"))
