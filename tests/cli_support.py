"""What the command-line tests share: ``sabiscore`` run in process, the warehouse read back.

:func:`invoke` runs the Typer app under a ``CliRunner`` (an exception is raised, not
caught); :func:`scalar` reads one value of the warehouse the commands wrote.  A test
module imports the autouse fixture :func:`fresh_engines` to give each of its tests an
engine of its own (every test has its own ``SABISCORE_HOME``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner, Result

from sabiscore_ml.cli import app
from sabiscore_ml.warehouse.engine import get_engine

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_engines() -> Iterator[None]:
    get_engine.cache_clear()
    yield
    get_engine.cache_clear()


def invoke(*args: str, width: int = 200) -> Result:
    """``sabiscore ARGS...`` on a terminal ``width`` columns wide."""
    return runner.invoke(app, list(args), catch_exceptions=False, terminal_width=width)


def scalar(sql: str) -> Any:
    """The one value ``sql`` selects from the warehouse."""
    with get_engine().connect() as connection:
        return connection.execute(text(sql)).scalar_one()
