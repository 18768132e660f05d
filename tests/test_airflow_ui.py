"""A retrain from the Airflow UI: log in, open train_ensemble's trigger form, submit, succeed.

Airflow runs as ``make airflow`` runs it (``airflow standalone``: API server and UI,
scheduler, DAG processor, triggerer, LocalExecutor) with an ``AIRFLOW_HOME`` under
pytest's tmp dir, its own free ports and the repository's ``dags/`` and ``plugins/``.
The warehouse (SQLite, in the test's ``SABISCORE_HOME``) holds three bundled E0
seasons and their features, so a training is small; the model settings of the
tests (one thread, ``SABISCORE_MODEL_LEAGUES=["E0"]``) keep it cheap.

Headless Chromium (Debian's, driven over the DevTools protocol by ``cdp.py``, with
no network but 127.0.0.1) signs in through the login page, opens the trigger form,
checks that no Param is in error and the Trigger button is enabled, submits the
defaults, then edited Params, and each run must succeed (its state read with the
REST API).  On failure a screenshot of the page is saved in the test's tmp dir and
named in the message.

``make test`` installs ``chromium`` when it is missing (as root); without it the
test is skipped, except in CI, where it fails.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cdp import BrowserError, Page, browser, find_chromium
from serving_support import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "samples" / "football-data"
SEASONS = ["2021-2022", "2022-2023", "2023-2024"]  # the bundled E0 seasons trained on
BIN = Path(sys.executable).parent
START_TIMEOUT = 240
RUN_TIMEOUT = 420
TRIGGER = "button[data-testid='trigger-dag-submit']"


def _chromium() -> str:
    found = find_chromium()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make test` installs it (apt, as root)")
        pytest.skip("chromium is not installed (apt-get install chromium, or make test as root)")
    return found


class Airflow:
    """A running ``airflow standalone`` and the admin's credentials."""

    def __init__(self, home: Path, port: int, password: str, log: Path) -> None:
        self.home, self.port, self.password, self.log = home, port, password, log
        self.url = f"http://127.0.0.1:{port}"
        self._token: str | None = None

    def api(self, path: str) -> dict:
        """GET a REST API path (``/api/v2/...``) as the admin."""
        if self._token is None:
            body = json.dumps({"username": "admin", "password": self.password}).encode()
            request = urllib.request.Request(
                self.url + "/auth/token",
                data=body,
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=30) as answer:
                self._token = json.load(answer)["access_token"]
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self._token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.load(answer)

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def _environment(home: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(home / "logs"),
        # the log servers of the scheduler and the triggerer: free ports, not 8793/8794
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        # only the runs the test triggers: unpausing train_ensemble schedules none
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL="5",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        SABISCORE_MODEL_LEAGUES='["E0"]',
        OMP_WAIT_POLICY="PASSIVE",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


@contextmanager
def standalone(tmp_path: Path) -> Iterator[Airflow]:
    """``airflow standalone`` until the block ends (its whole process group is stopped)."""
    home = tmp_path / "airflow"
    home.mkdir()
    password = secrets.token_urlsafe(12)
    # SimpleAuthManager keeps its users' passwords here; one written first is used as is
    (home / "simple_auth_manager_passwords.json.generated").write_text(
        json.dumps({"admin": password})
    )
    port = free_port()
    log = tmp_path / "airflow-standalone.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(BIN / "airflow"), "standalone"],
            cwd=home,
            env=_environment(home, port),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    airflow = Airflow(home, port, password, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"airflow standalone exited:\n{airflow.log_tail()}"
            assert time.monotonic() < deadline, (
                f"train_ensemble not served within {START_TIMEOUT} s:\n{airflow.log_tail()}"
            )
            try:
                if airflow.api("/api/v2/dags/train_ensemble")["dag_id"] == "train_ensemble":
                    break
            except (OSError, urllib.error.HTTPError, KeyError):
                pass
            time.sleep(2)
        yield airflow
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group of ``standalone`` (its components), SIGKILL if needed."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
    # a component still alive in the group (a task runner) goes too
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _load_the_warehouse() -> None:
    """Three bundled E0 seasons and their feature partitions, through the CLI."""
    sabiscore = str(BIN / "sabiscore")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    for argv in (
        [sabiscore, "ingest", "football-data", "--league", "E0"]
        + [arg for season in SEASONS for arg in ("--season", season)]
        + ["--from-dir", str(SAMPLE_DIR), "--no-summary"],
        [sabiscore, "features", "build"],
    ):
        done = subprocess.run(
            argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, f"{argv[1:3]}: {done.stdout[-3000:]}{done.stderr[-3000:]}"


def _log_in(page: Page, airflow: Airflow) -> None:
    page.navigate(airflow.url + "/")
    page.wait_for("!!document.querySelector('input[name=password]')", "the login page")
    page.click("input[name=username]")
    page.type_text("admin")
    page.click("input[name=password]")
    page.type_text(airflow.password)
    page.wait_for("!document.querySelector('button[type=submit]').disabled", "Sign in enabled")
    page.click("button[type=submit]")
    page.wait_for("!location.pathname.startsWith('/auth')", "the UI after signing in")


def _open_trigger_form(page: Page, airflow: Airflow) -> None:
    page.navigate(airflow.url + "/dags/train_ensemble")
    page.wait_for("!!document.querySelector(\"button[aria-label='Trigger Dag']\")", "Trigger")
    page.click("button[aria-label='Trigger Dag']")
    page.wait_for(f"!!document.querySelector({json.dumps(TRIGGER)})", "the trigger form")
    page.wait_for("!!document.querySelector('#element_leagues')", "the Run Parameters")


def _form_problems(page: Page) -> dict:
    """What stops the form: a disabled Trigger button, fields in error, error texts."""
    return page.evaluate(
        f"""(() => {{
            const dialog = document.querySelector({json.dumps(TRIGGER)}).closest('[role=dialog]');
            return {{
                trigger_disabled: document.querySelector({json.dumps(TRIGGER)}).disabled,
                invalid: [...dialog.querySelectorAll('[data-invalid], [aria-invalid=true]')]
                    .map(e => e.id || e.getAttribute('name') || e.tagName),
                errors: [...dialog.querySelectorAll('[data-part=error-text]')]
                    .map(e => e.innerText),
            }};
        }})()"""
    )


def _submit(page: Page) -> str:
    """Click Trigger; the UI goes to the new run's page: its run id."""
    problems = _form_problems(page)
    assert problems == {"trigger_disabled": False, "invalid": [], "errors": []}, problems
    page.click(TRIGGER)
    path = page.wait_for(
        "location.pathname.includes('/dags/train_ensemble/runs/') && location.pathname",
        "the new run's page",
    )
    return urllib.parse.unquote(path.rsplit("/runs/", 1)[1])


def _wait_for_run(airflow: Airflow, run_id: str) -> dict:
    quoted = urllib.parse.quote(run_id, safe="")
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        run = airflow.api(f"/api/v2/dags/train_ensemble/dagRuns/{quoted}")
        if run["state"] in ("success", "failed"):
            return run
        assert time.monotonic() < deadline, f"{run_id} still {run['state']} after {RUN_TIMEOUT} s"
        time.sleep(3)


def _task_states(airflow: Airflow, run_id: str) -> dict[str, str]:
    quoted = urllib.parse.quote(run_id, safe="")
    answer = airflow.api(f"/api/v2/dags/train_ensemble/dagRuns/{quoted}/taskInstances")
    return {ti["task_id"]: ti["state"] for ti in answer["task_instances"]}


def test_retrain_from_the_trigger_form(tmp_path: Path) -> None:
    chromium = _chromium()
    _load_the_warehouse()
    with standalone(tmp_path) as airflow, browser(chromium, tmp_path / "profile") as page:
        step = "signing in"
        try:
            _log_in(page, airflow)

            step = "triggering with the defaults"
            _open_trigger_form(page, airflow)
            defaults = _submit(page)
            run = _wait_for_run(airflow, defaults)
            assert run["state"] == "success", (run, _task_states(airflow, defaults))
            assert run["conf"] == {
                "leagues": None,
                "seasons": None,
                "n_trials": 0,
                "promote": True,
                "weights": "stacking",
                "as_of": None,
                "evaluation_seasons": 1,
            }
            assert _task_states(airflow, defaults) == {
                "snapshot": "success",
                "tune": "success",
                "fit": "success",
                "evaluate": "success",
                "register": "success",
                "should_promote": "success",
                "promote": "success",  # the first version: the champion
            }

            step = "triggering with edited Params"
            _open_trigger_form(page, airflow)
            page.click("#element_leagues")
            page.type_text("E0")
            page.click("#element_seasons")
            page.type_text("\n".join(SEASONS))
            edited = _submit(page)
            assert edited != defaults
            run = _wait_for_run(airflow, edited)
            assert run["state"] == "success", (run, _task_states(airflow, edited))
            assert run["conf"]["leagues"] == ["E0"]
            assert run["conf"]["seasons"] == SEASONS
            states = _task_states(airflow, edited)
            assert {k: v for k, v in states.items() if k != "promote"} == dict.fromkeys(
                ["snapshot", "tune", "fit", "evaluate", "register", "should_promote"], "success"
            )
            assert states["promote"] in ("success", "skipped")  # kept as challenger: skipped
        except (AssertionError, BrowserError) as exc:
            shot = tmp_path / "failure.png"
            try:
                page.screenshot(shot)
            except BrowserError as shot_error:
                shot = f"none ({shot_error})"
            pytest.fail(
                f"{step}: {exc}\nscreenshot: {shot}\nbrowser console: {page.console[-10:]}\n"
                f"airflow log ({airflow.log}):\n{airflow.log_tail(3000)}"
            )
