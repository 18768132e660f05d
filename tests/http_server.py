"""A real HTTP server on 127.0.0.1 that plays scripted responses (for offline fetch tests)."""

from __future__ import annotations

import email.utils
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: status, content type, body, extra headers, delay before answering."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class Seen:
    """One request as the server received it (header names in lower case)."""

    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


def _not_modified(item: Scripted, request: dict[str, str]) -> bool:
    """True when the request's validators match the scripted ETag / Last-Modified."""
    etag = item.header("ETag")
    if "if-none-match" in request:
        wanted = [tag.strip() for tag in request["if-none-match"].split(",")]
        return etag is not None and ("*" in wanted or etag in wanted)
    modified, since = item.header("Last-Modified"), request.get("if-modified-since")
    if modified and since:
        try:
            return email.utils.parsedate_to_datetime(modified) <= email.utils.parsedate_to_datetime(
                since
            )
        except (TypeError, ValueError):
            return False
    return False


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (timeout test) leaves a broken pipe behind: not an error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ScriptedServer:
    """Serve ``responses[path]`` in order (the last one repeats); 404 for unknown paths.

    ``requests`` lists ``(path, User-Agent)`` of every request except
    ``/robots.txt`` ones, which go to ``robots_requests``; ``seen`` holds the same
    requests as ``requests`` with all headers and arrival times.  A scripted
    answer carrying an ``ETag`` or ``Last-Modified`` header is replaced by a 304
    when the request's ``If-None-Match`` / ``If-Modified-Since`` matches it.
    A 429 without its own ``Retry-After`` gets ``Retry-After: 0``.
    """

    def __init__(self) -> None:
        self.responses: dict[str, deque[Scripted]] = defaultdict(deque)
        self.requests: list[tuple[str, str]] = []
        self.seen: list[Seen] = []
        self.robots_requests: list[Seen] = []
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                headers = {key.lower(): value for key, value in self.headers.items()}
                seen = Seen(self.path, headers, time.monotonic())
                if self.path == "/robots.txt":
                    server.robots_requests.append(seen)
                else:
                    server.requests.append((self.path, headers.get("user-agent", "")))
                    server.seen.append(seen)
                queue = server.responses.get(self.path)
                if not queue:
                    item = Scripted(404, "text/html", b"<html>Not Found</html>")
                else:
                    item = queue[0] if len(queue) == 1 else queue.popleft()
                if item.delay and server._closing.wait(item.delay):
                    return
                status, body = item.status, item.body
                extra = dict(item.headers)
                if status == 429 and item.header("Retry-After") is None:
                    extra["Retry-After"] = "0"
                if status == 200 and _not_modified(item, headers):
                    status, body = 304, b""
                self.send_response(status)
                if status != 304:
                    self.send_header("Content-Type", item.content_type)
                    self.send_header("Content-Length", str(len(body)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(
        self,
        path: str,
        status: int,
        body: bytes,
        content_type: str = "text/csv",
        *,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.responses[path].append(Scripted(status, content_type, body, headers or {}, delay))

    def robots(self, text: str, status: int = 200) -> None:
        """Serve ``text`` as ``/robots.txt``."""
        self.add("/robots.txt", status, text.encode(), "text/plain")

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
