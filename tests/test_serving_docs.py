"""``/docs`` and ``/redoc`` render in a real browser with no network but the API's own.

The API runs as a process (``uvicorn serving.main:app``); headless Chromium loads each
page with every host name but 127.0.0.1 unresolvable (a closed network), dumps the
DOM once the page's scripts have run, and logs its requests (``--log-net-log``).  The
page must show the rendered operation list (Swagger UI) or sections (ReDoc), and each
request the page made must have gone to the API.  On failure a screenshot of the page
is saved beside the test's temporary files and named in the message.

``make test`` installs Debian's ``chromium`` when it is missing (as root); without it
the test is skipped, except in CI, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from serving_support import free_port, live_server, uvicorn_argv

pytestmark = pytest.mark.slow

OPERATIONS = {  # path: (ReDoc's name of the tag, operation id)
    "/v1/leagues": ("matches", "leagues_v1_leagues_get"),
    "/v1/matches/upcoming": ("matches", "upcoming_v1_matches_upcoming_get"),
    "/v1/predictions/{match_id}": ("predictions", "prediction_v1_predictions__match_id__get"),
    "/v1/insights/{match_id}": ("predictions", "insight_v1_insights__match_id__get"),
    "/v1/value-bets": ("value-bets", "value_bets_v1_value_bets_get"),
    "/v1/models/current": ("models", "current_model_v1_models_current_get"),
}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--virtual-time-budget=20000",  # run the page's timers and fetches before dumping
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: `make test` installs it (apt, as root)")
        pytest.skip("chromium is not installed (apt-get install chromium, or make test as root)")
    return found


def _browse(url: str, workdir: Path, *action: str) -> subprocess.CompletedProcess[str]:
    """Chromium on ``url`` with a profile of its own in ``workdir``, doing ``action``."""
    return subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'profile'}", *action, url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _page_requests(net_log: Path) -> list[tuple[str, str]]:
    """(initiator, url) of each request the page made, from a Chromium net log.

    The browser's own background requests have no origin as initiator; the page's
    navigation has none either and is left out too.
    """
    text = net_log.read_text(encoding="utf-8").rstrip().rstrip(",")
    log = json.loads(text if text.endswith("}") else text + "]}")
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    requests = []
    for event in log["events"]:
        params = event.get("params") or {}
        initiator = params.get("initiator", "")
        if event["type"] == start_job and initiator.startswith("http"):
            requests.append((initiator, params["url"]))
    return requests


def _render(url: str, workdir: Path) -> tuple[str, list[tuple[str, str]]]:
    net_log = workdir / "net-log.json"
    dom = _browse(url, workdir, f"--log-net-log={net_log}", "--dump-dom").stdout
    return dom, _page_requests(net_log)


def _screenshot(url: str, workdir: Path) -> Path:
    path = workdir / "page.png"
    _browse(url, workdir, f"--screenshot={path}")
    return path


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_render_without_the_internet(
    page: str, sabiscore_home: Path, tmp_path: Path
) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with live_server(uvicorn_argv(port), port):
        dom, requests = _render(origin + page, tmp_path)
        if page == "/docs":
            expected = [f'class="opblock-summary-path" data-path="{path}"' for path in OPERATIONS]
        else:
            expected = [f'id="tag/{tag}/operation/{op}"' for tag, op in OPERATIONS.values()]
        missing = [marker for marker in expected if marker not in dom]
        elsewhere = [url for _, url in requests if not url.startswith(origin + "/")]
        if missing or elsewhere:
            shot = _screenshot(origin + page, tmp_path)
            pytest.fail(
                f"{page}: not rendered (missing {missing[:3]}) or loaded {elsewhere} from "
                f"another host; screenshot: {shot}"
            )
    assert {url for _, url in requests} >= {f"{origin}/openapi.json"}
    assert any("/docs/assets/" in url for _, url in requests)
