"""What the serving tests share: a published run in a real warehouse and the real Redis.

:func:`serving_world` publishes a run (built by the publishing tests' helpers: real
edges and stakes) with :func:`sabiscore_ml.publish.publish` into the ``warehouse``
fixture's database and, unless told otherwise, into the real Redis under a
prefix of its own; it creates a key per tier, a champion model row, and points
the settings at all of it.  Redis keys are deleted afterwards.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
from conftest import REPO
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert
from test_publishing import Fixture, add_fixtures, scored_run

from sabiscore_ml.publish import PublishedRun, document_key, publish, run_documents
from sabiscore_ml.settings import clear_settings_cache
from sabiscore_ml.warehouse.api_keys import create_api_key
from sabiscore_ml.warehouse.engine import get_engine
from sabiscore_ml.warehouse.models import ModelVersion
from serving.main import create_app

REDIS_URL = "redis://127.0.0.1:6379/0"
UNUSED_REDIS_URL = "redis://127.0.0.1:6390/0"  # nothing listens there: Redis "down"
UNUSED_PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5999/none?connect_timeout=2"
METRICS = {"rps": 0.198712, "log_loss": 0.972101, "ece": 0.0121, "rps_minus_pinnacle_close": 0.0021}


@dataclass
class World:
    """A published run and what it takes to ask the API for it."""

    engine: Engine
    prefix: str
    run: PublishedRun
    fixtures: list[Fixture]
    keys: dict[str, str]  # tier -> key
    redis: redis.Redis
    documents: dict[tuple[str, str | None], bytes] = field(default_factory=dict)

    def headers(self, tier: str = "pro") -> dict[str, str]:
        return {"X-API-Key": self.keys[tier]}

    def client(self, **kwargs) -> TestClient:  # noqa: ANN003
        """A test client of a new application (settings read when it starts)."""
        return TestClient(create_app(), **kwargs)

    def document(self, kind: str, key: str | None = None) -> bytes:
        return self.documents[(kind, key)]

    def match_ids(self) -> list[int]:
        return [f.match_id for f in self.fixtures]


def configure(monkeypatch: pytest.MonkeyPatch, **env: str | None) -> None:
    """Set (or, with None, unset) environment variables and forget cached settings."""
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    clear_settings_cache()
    get_engine.cache_clear()


def add_champion(engine: Engine, version: str = "7") -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(ModelVersion).values(
                name="sabiscore-1x2",
                version=version,
                mlflow_run_id="0123456789abcdef0123456789abcdef",
                alias="champion",
                created_at=dt.datetime(2024, 3, 4, 6, 0, 0),  # promoted days later
                trained_at=dt.datetime(2024, 2, 28, 3, 12, 44),
                metrics_json=json.dumps(METRICS),
            )
        )


@contextmanager
def serving_world(
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    *,
    to_redis: bool = True,
    champion: bool = True,
    **api_env: str,
) -> Iterator[World]:
    """Publish a run, create keys, point the settings at it (``api_env``: more variables)."""
    prefix = f"sabiscore-test-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        fixtures = add_fixtures(engine)
        run = scored_run("run-2024-03-01", fixtures)
        publish(run, engine=engine, redis_client=client if to_redis else None, prefix=prefix)
        if champion:
            add_champion(engine)
        keys = {
            tier: create_api_key(engine, owner=f"{tier}-owner", tier=tier).key
            for tier in ("free", "premium", "pro")
        }
        configure(
            monkeypatch,
            SABISCORE_REDIS_URL=REDIS_URL,
            SABISCORE_REDIS_PREFIX=prefix,
            **api_env,
        )
        world = World(engine, prefix, run, fixtures, keys, client)
        for document in run_documents(run):
            world.documents[(document.kind, document.key)] = document.body
        assert client.get(document_key(prefix, run.run_id, "meta")) is not None or not to_redis
        yield world
    finally:
        leftovers = list(client.scan_iter(f"{prefix}:*"))
        if leftovers:
            client.delete(*leftovers)
        client.close()


class TcpProxy:
    """A TCP relay to a server, which a test can cut: ``stop()`` drops every connection.

    Stands in for a Redis that stops mid-run (the server itself is shared).
    """

    def __init__(self, port: int = 6379, host: str = "127.0.0.1") -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._stopped:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        """Refuse new connections and cut the open ones."""
        with self._lock:
            self._stopped = True
            sockets, self._sockets = self._sockets, []
        self.listener.close()
        for end in sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as it came over the wire."""

    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def http_request(
    port: int,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
) -> Answer:
    """One request to a server on loopback, on a new connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        chunked = (headers or {}).get("Transfer-Encoding") == "chunked"
        connection.request(method, target, body=body, headers=headers or {}, encode_chunked=chunked)
        response = connection.getresponse()
        content = response.read()
        found = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, found, content)
    finally:
        connection.close()


@contextmanager
def live_server(argv: list[str], port: int, *, timeout: float = 90) -> Iterator[int]:
    """Run the API as a process (``argv``, listening on ``port``) until the block ends.

    The process gets this process's environment (the settings :func:`serving_world`
    set); the block starts once ``/health`` answers.
    """
    server = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ)
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert server.poll() is None, f"{argv} exited:\n{server.stdout.read().decode()}"
            assert time.monotonic() < deadline, f"{argv} did not answer /health"
            try:
                if http_request(port, "GET", "/health").status == 200:
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        stop_server(server)
        server.stdout.close()


def stop_server(server: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a server process as Ctrl-C would, killing it if it does not stop in time."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def uvicorn_argv(port: int, *options: str) -> list[str]:
    """``uvicorn serving.main:app`` on loopback, with uvicorn's own defaults otherwise."""
    uvicorn = str(Path(sys.executable).with_name("uvicorn"))
    return [uvicorn, "serving.main:app", "--host", "127.0.0.1", "--port", str(port), *options]
