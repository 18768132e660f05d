"""A real HTTP server on 127.0.0.1 that plays scripted responses (for offline fetch tests)."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    """Serve ``responses[path]`` in order (the last one repeats); 404 for unknown paths."""

    def __init__(self) -> None:
        self.responses: dict[str, deque[tuple[int, str, bytes]]] = defaultdict(deque)
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                server.requests.append((self.path, self.headers.get("User-Agent", "")))
                queue = server.responses.get(self.path)
                if not queue:
                    status, content_type, body = 404, "text/html", b"<html>Not Found</html>"
                else:
                    status, content_type, body = queue[0] if len(queue) == 1 else queue.popleft()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, path: str, status: int, body: bytes, content_type: str = "text/csv") -> None:
        self.responses[path].append((status, content_type, body))

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
