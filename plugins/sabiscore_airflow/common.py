"""What every Sabiscore DAG shares: start date, task defaults, Param shapes, the migrate task.

A Param that may be left empty is nullable (``None`` by default), so the
trigger form of the Airflow UI accepts every DAG's defaults as they are; a date
carries ``format: date`` and gets the form's date picker.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.sdk import Param, task

START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def default_args(
    *, retries: int, retry_delay: dt.timedelta, execution_timeout: dt.timedelta
) -> dict[str, Any]:
    """A DAG's ``default_args``: the owner, and how its tasks retry and time out."""
    return {
        "owner": "sabiscore",
        "retries": retries,
        "retry_delay": retry_delay,
        "execution_timeout": execution_timeout,
    }


def list_param(title: str, description: str) -> Param:
    """A list of codes (leagues, seasons), one a line in the form; null by default."""
    return Param(
        None,
        type=["null", "array"],
        items={"type": "string"},
        title=title,
        description=description,
    )


def date_param(title: str, description: str) -> Param:
    """A day as ``YYYY-MM-DD``; null by default."""
    return Param(
        None,
        type=["null", "string"],
        format="date",
        title=title,
        description=description,
    )


@task
def migrate_warehouse() -> str:
    """Create or upgrade the warehouse schema; returns its URL without the password."""
    from sqlalchemy.engine import make_url

    from sabiscore_ml.warehouse.engine import migrate

    return make_url(migrate()).render_as_string(hide_password=True)
