"""``GET /v1/stream``: runs and value-bet alerts pushed from the real Redis to a real client.

The API runs as a uvicorn process on loopback; the client is httpx reading the
event stream line by line, as a web app's ``EventSource`` would.  A run published
while the client listens arrives live; a client reconnecting with its last event id
gets exactly what it missed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from serving_support import World, free_port, live_server, serving_world, uvicorn_argv
from sqlalchemy import Engine
from test_publishing import T0, scored_run

from sabiscore_ml.publish import publish
from serving.stream import Cursor, StreamEvent, merged, sse_frame

on_sqlite = pytest.mark.parametrize("warehouse", ["sqlite"], indirect=True)


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    data: dict


@pytest.fixture
def world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with serving_world(
        warehouse,
        monkeypatch,
        SABISCORE_API_STREAM_KEEPALIVE_SECONDS="0.5",
        SABISCORE_API_STREAM_BLOCK_SECONDS="0.5",
    ) as published:
        yield published


@pytest.fixture
def api(world: World) -> Iterator[int]:
    port = free_port()
    with live_server(uvicorn_argv(port, "--timeout-graceful-shutdown", "2"), port):
        yield port


def read_events(
    port: int,
    count: int,
    headers: dict[str, str],
    params: dict[str, str | list[str]] | None = None,
    *,
    then: object = None,
    seconds: float = 20.0,
) -> tuple[list[Event], list[str]]:
    """The first ``count`` events of one connection, and its comment lines.

    ``then``: called once the stream is open and its first line read (to publish
    something while the client listens).
    """
    events: list[Event] = []
    comments: list[str] = []
    fields: dict[str, str] = {}
    with httpx.Client(timeout=seconds) as client:
        with client.stream(
            "GET", f"http://127.0.0.1:{port}/v1/stream", headers=headers, params=params
        ) as response:
            assert response.status_code == 200, response.read()
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if callable(then):
                    then()
                    then = None
                if line.startswith(":"):
                    comments.append(line)
                elif line:
                    name, _, value = line.partition(": ")
                    fields[name] = value
                elif "data" in fields:
                    events.append(Event(fields["id"], fields["event"], json.loads(fields["data"])))
                    fields = {}
                    if len(events) == count:
                        break
                else:
                    fields = {}
    return events, comments


def value_bets_of(world: World) -> list[dict]:
    return [{**bet, "mode": "live"} for bet in json.loads(world.document("value-bets"))]


@on_sqlite
def test_a_client_gets_the_runs_and_alerts_and_resumes_where_it_left(
    world: World, api: int
) -> None:
    bets = value_bets_of(world)
    assert len(bets) >= 3
    everything, _ = read_events(api, 1 + len(bets), world.headers(), {"last_event_id": "0-0_0-0"})
    assert [e.name for e in everything] == ["run"] + ["value_bet"] * len(bets)
    assert everything[0].data == json.loads(world.document("meta"))
    assert [e.data for e in everything[1:]] == bets  # largest edge first, as published
    assert len({e.id for e in everything}) == len(everything)

    # reconnecting with the second event's id gives the rest, none twice
    rest, _ = read_events(
        api, len(bets) - 1, {**world.headers(), "Last-Event-ID": everything[1].id}
    )
    assert [e.data for e in rest] == bets[1:]
    assert [e.id for e in rest] == [e.id for e in everything[2:]]

    # a run published while the client listens arrives live, its alerts after it
    later = scored_run("run-2024-03-08", world.fixtures, created_at=T0 + dt.timedelta(days=7))

    def publish_later() -> None:
        publish(later, engine=world.engine, redis_client=world.redis, prefix=world.prefix)

    live, _ = read_events(
        api,
        1 + len(bets),
        {**world.headers(), "Last-Event-ID": everything[-1].id},
        then=publish_later,
    )
    assert live[0].name == "run" and live[0].data["run_id"] == "run-2024-03-08"
    assert {e.data["run_id"] for e in live[1:]} == {"run-2024-03-08"}
    assert [e.name for e in live[1:]] == ["value_bet"] * len(bets)


@on_sqlite
def test_the_stream_starts_from_now_filters_and_keeps_alive(world: World, api: int) -> None:
    later = scored_run("run-2024-03-08", world.fixtures, created_at=T0 + dt.timedelta(days=7))
    leagues = {f.league_code for f in world.fixtures}
    assert len(leagues) > 1
    league = sorted(leagues)[0]
    expected = [b for b in json.loads(world.document("value-bets")) if b["league_code"] == league]
    assert expected

    def publish_later() -> None:
        publish(later, engine=world.engine, redis_client=world.redis, prefix=world.prefix)

    # no cursor: nothing of the earlier run, only what is published from now on
    events, _ = read_events(
        api,
        1 + len(expected),
        world.headers("free"),
        {"league": league.lower()},
        then=publish_later,
    )
    assert [e.data["run_id"] for e in events] == ["run-2024-03-08"] * (1 + len(expected))
    assert {e.data["league_code"] for e in events[1:]} == {league}

    runs, _ = read_events(api, 2, world.headers(), {"last_event_id": "0-0_0-0", "events": "run"})
    assert [e.data["run_id"] for e in runs] == ["run-2024-03-01", "run-2024-03-08"]
    # nothing more to send: after half a second a comment keeps the connection alive
    lines = []
    with httpx.stream(
        "GET",
        f"http://127.0.0.1:{api}/v1/stream",
        headers={**world.headers(), "Last-Event-ID": runs[-1].id},
        params={"events": "run"},
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            lines.append(line)
            if line.startswith(":"):
                break
    assert lines == ["retry: 3000", "", ": keep-alive"]


@on_sqlite
def test_a_stream_needs_a_key_and_a_well_formed_event_id(world: World, api: int) -> None:
    url = f"http://127.0.0.1:{api}/v1/stream"
    assert httpx.get(url, timeout=10).status_code == 401
    answer = httpx.get(url, headers={**world.headers(), "Last-Event-ID": "yesterday"}, timeout=10)
    assert answer.status_code == 422
    assert "<runs entry id>_<alerts entry id>" in answer.json()["detail"]
    bad = httpx.get(url, headers=world.headers(), params={"events": "goal"}, timeout=10)
    assert bad.status_code == 422


@on_sqlite
def test_the_publisher_adds_a_run_to_the_stream_once(world: World) -> None:
    runs = world.redis.xrange(f"{world.prefix}:runs")
    assert [fields[b"run_id"] for _, fields in runs] == [b"run-2024-03-01"]
    assert runs[0][1][b"document"] == world.document("meta")
    # publishing the same run again moves nothing and adds nothing
    publish(world.run, engine=world.engine, redis_client=world.redis, prefix=world.prefix)
    assert len(world.redis.xrange(f"{world.prefix}:runs")) == 1
    alerts = world.redis.xrange(f"{world.prefix}:alerts")
    assert [json.loads(fields[b"document"]) for _, fields in alerts] == value_bets_of(world)


def test_cursors_and_frames() -> None:
    cursor = Cursor.parse("1733540000000-2_5-0")
    assert cursor.text() == "1733540000000-2_5-0"
    with pytest.raises(ValueError, match="event id"):
        Cursor.parse("1733540000000-2")
    events = merged(
        [
            ("alerts", [(b"10-0", {b"document": b'{"a":1}', b"league_code": b"E0"})]),
            ("runs", [(b"10-0", {b"document": b'{"r":1}'}), (b"12-1", {b"run_id": b"x"})]),
        ]
    )
    assert [(e.stream, e.entry) for e in events] == [
        ("runs", (10, 0)),
        ("alerts", (10, 0)),
        ("runs", (12, 1)),
    ]
    assert events[1].league == "E0"
    assert events[2].data == b'{"run_id":"x"}'  # an entry without its document
    after = Cursor().after(events[0]).after(events[1])
    assert after.has_seen(events[0]) and after.has_seen(events[1])
    assert not after.has_seen(events[2])
    frame = sse_frame(StreamEvent("alerts", (3, 1), None, b'{"x":"a\\nb"}\n'), after)
    assert frame == b'id: 10-0_10-0\nevent: value_bet\ndata: {"x":"a\\nb"}\n\n'


@on_sqlite
def test_a_monitor_breach_is_pushed_as_its_own_event(world: World, api: int) -> None:
    from sabiscore_ml.jobs.monitor import Breach, send_alerts

    breach = Breach("7", "SP1", "28d", "clv", -0.0206, -0.02, 60, "below")
    assert send_alerts(world.redis, world.prefix, [breach], dt.datetime(2024, 5, 25, 6)) == 1
    events, _ = read_events(
        api, 1, world.headers(), {"last_event_id": "0-0_0-0", "events": "monitor_breach"}
    )
    assert events[0].name == "monitor_breach"
    assert events[0].data == {
        "kind": "monitor_breach",
        "league_code": "SP1",
        "window": "28d",
        "figure": "clv",
        "value": -0.0206,
        "threshold": -0.02,
        "direction": "below",
        "n": 60,
        "model_version": "7",
        "computed_at": "2024-05-25T06:00:00Z",
        "message": breach.message,
    }
    # a client asking for value bets only does not get it
    bets, _ = read_events(
        api, 1, world.headers(), {"last_event_id": "0-0_0-0", "events": "value_bet"}
    )
    assert bets[0].name == "value_bet"
