"""A small Chrome DevTools Protocol client: headless Chromium driven as a user would.

Chromium runs as a process with a profile of its own (``--remote-debugging-port=0``:
it picks a free port and writes it to ``DevToolsActivePort`` in the profile); one
page is opened and driven over the protocol's WebSocket: navigate, evaluate
JavaScript, click with the mouse at an element's centre, type with the keyboard,
take screenshots.  Only ``websockets`` (already a dependency of uvicorn) is needed.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.sync.client import connect

FLAGS = [
    "--headless",
    "--no-sandbox",  # root in CI
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--window-size=1400,1000",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    # a closed network: every host name but the loopback address is unresolvable
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


class BrowserError(AssertionError):
    """The page did not do what was expected (or the protocol answered an error)."""


def find_chromium() -> str | None:
    """The path of Debian's ``chromium`` (or ``chromium-browser``), if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One browser tab, attached over the protocol (flat session)."""

    def __init__(self, socket: Any, session_id: str) -> None:
        self._socket = socket
        self._session = session_id
        self._next_id = 0
        self.console: list[str] = []  # console messages and uncaught exceptions

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> dict:
        """Send one command to the page and return its result."""
        self._next_id += 1
        message_id = self._next_id
        self._socket.send(
            json.dumps(
                {
                    "id": message_id,
                    "method": method,
                    "params": params or {},
                    "sessionId": self._session,
                }
            )
        )
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"{method}: no answer within {timeout} s")
            message = json.loads(self._socket.recv(timeout=remaining))
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        method = message.get("method")
        params = message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            self.console.append(f"exception: {text}")

    def evaluate(self, expression: str, timeout: float = 60) -> Any:
        """The value of a JavaScript expression in the page (promises are awaited)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            timeout=timeout,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression[:200]}: {text}")
        return result["result"].get("value")

    def navigate(self, url: str) -> None:
        """Load ``url`` (returns once the navigation is committed)."""
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise BrowserError(f"{url}: {answer['errorText']}")

    def wait_for(
        self, expression: str, what: str, timeout: float = 60, interval: float = 0.25
    ) -> Any:
        """Poll a JavaScript expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(interval)

    def centre(self, selector: str) -> tuple[float, float]:
        """The centre of the first element matching ``selector``, scrolled into view."""
        box = self.evaluate(
            f"""(() => {{
                const el = document.querySelector({json.dumps(selector)});
                if (!el) return null;
                el.scrollIntoView({{block: "center", inline: "center"}});
                const r = el.getBoundingClientRect();
                return [r.left + r.width / 2, r.top + r.height / 2];
            }})()"""
        )
        if not box:
            raise BrowserError(f"no element matches {selector!r}")
        return box[0], box[1]

    def click_at(self, x: float, y: float) -> None:
        """A left click of the mouse at (x, y), in CSS pixels of the viewport."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            )

    def click(self, selector: str) -> None:
        """Click the first element matching ``selector``."""
        self.click_at(*self.centre(selector))

    def type_text(self, text: str) -> None:
        """Type ``text`` into the focused element, as the keyboard's input would."""
        self.send("Input.insertText", {"text": text})

    def press(self, key: str, code: str, key_code: int, modifiers: int = 0) -> None:
        """Press and release one key (e.g. ``"a", "KeyA", 65, modifiers=2`` for Ctrl+A)."""
        common = {
            "key": key,
            "code": code,
            "windowsVirtualKeyCode": key_code,
            "modifiers": modifiers,
        }
        self.send("Input.dispatchKeyEvent", {"type": "rawKeyDown", **common})
        self.send("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    def select_all_and_delete(self) -> None:
        """Ctrl+A then Backspace in the focused element."""
        self.press("a", "KeyA", 65, modifiers=2)
        self.press("Backspace", "Backspace", 8)

    def text(self) -> str:
        """The page's visible text."""
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def screenshot(self, path: Path) -> Path:
        """Save a PNG of the viewport to ``path``."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path


@contextmanager
def browser(chromium: str, profile: Path, timeout: float = 30) -> Iterator[Page]:
    """Headless Chromium with its profile in ``profile``, one blank page open."""
    profile.mkdir(parents=True, exist_ok=True)
    port_file = profile / "DevToolsActivePort"
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=open(profile.parent / f"{profile.name}-chromium.log", "wb"),  # noqa: SIM115
        env={**os.environ, "LANG": "en_US.UTF-8"},
    )
    try:
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if process.poll() is not None:
                raise BrowserError(f"chromium exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise BrowserError(f"chromium did not open its debugging port in {timeout} s")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        with connect(f"ws://127.0.0.1:{port}{path}", max_size=None, open_timeout=timeout) as ws:
            ws.send(
                json.dumps(
                    {"id": 1, "method": "Target.createTarget", "params": {"url": "about:blank"}}
                )
            )
            target = _answer(ws, 1)["targetId"]
            ws.send(
                json.dumps(
                    {
                        "id": 2,
                        "method": "Target.attachToTarget",
                        "params": {"targetId": target, "flatten": True},
                    }
                )
            )
            page = Page(ws, _answer(ws, 2)["sessionId"])
            page._next_id = 10
            for domain in ("Page", "Runtime"):
                page.send(f"{domain}.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answer(ws: Any, message_id: int) -> dict:
    while True:
        message = json.loads(ws.recv(timeout=30))
        if message.get("id") == message_id:
            if "error" in message:
                raise BrowserError(str(message["error"]))
            return message["result"]
