"""A property-based fuzz of the OpenAPI schema (schemathesis) against a published run.

Every operation gets generated requests, valid and invalid, with a pro key:
no answer may be a 5xx, every status code must be documented, every body must
match its documented schema and content type, and invalid parameters must be
refused with a 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from serving_support import World, serving_world
from sqlalchemy import Engine

from serving.main import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def fuzz_world(warehouse: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # generated requests come by the hundred: a limit they do not reach.  With a JWT secret
    # the schema offers a key or a token, so no X-API-Key header is "required": the key every
    # request is sent with cannot turn a request generated without one into a valid one.
    with serving_world(
        warehouse,
        monkeypatch,
        SABISCORE_API_RATE_LIMIT="100000/minute",
        SABISCORE_API_JWT_SECRET="fuzz-" + "s" * 40,
    ) as world:
        yield world


@pytest.fixture
def api_schema(fuzz_world: World):  # noqa: ANN201 - a schemathesis schema
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app())
    # a generated request over the edge's size limits is refused (413, 414, 431) before any
    # route parses it: a rejection of bad data like a 422
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413", "414", "431"]
    return schema


# /v1/stream stays open until the client leaves: no answer to check as a whole
# (tests/test_serving_stream.py reads it as a client would)
schema = schemathesis.pytest.from_fixture("api_schema").exclude(path="/v1/stream")


@pytest.mark.parametrize("warehouse", ["postgresql"], indirect=True)
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_schema_holds_for_generated_requests(case, fuzz_world: World) -> None:  # noqa: ANN001
    case.call_and_validate(headers=fuzz_world.headers("pro"), checks=CHECKS)
