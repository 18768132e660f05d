"""Library log records at the level they were logged at, wherever the process runs.

MLflow, when imported, gives its loggers (``mlflow``, and the ``alembic``,
``huey`` and ``sqlalchemy.engine`` loggers it configures too) a handler of its
own writing to stderr, and stops them from propagating; its notices
(``eprint``: "Successfully registered model ...", "Created version ...") are
printed to stderr too.  An Airflow 3 task's stderr is read by its supervisor
line by line and logged at ERROR (the ``task.stderr`` logger), so MLflow's INFO
lines ("Creating initial MLflow database tables...") and its artifact progress
bars ("Downloading artifacts: 100%|...") showed up as errors in the task logs.

:func:`route_library_logs` takes MLflow's stderr handler off those loggers and
lets their records propagate to the root logger, at their own level: to
Airflow's task log handler in a task, to the CLI's handler in the CLI, to
pytest's capture in a test.  MLflow's notices become INFO records of the
``mlflow`` logger.  The artifact progress bars (MLflow 3 reads
``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` each time it would draw one) are
turned off when stderr is not a terminal, unless that variable is set.
:mod:`sabiscore_ml.models.registry`, through which every use of MLflow goes,
calls it once MLflow is imported and whenever it points MLflow at the store.
"""

from __future__ import annotations

import io
import logging
import os
import sys

#: The loggers MLflow configures on import (``mlflow.utils.logging_utils``).
MLFLOW_LOGGERS = ("mlflow", "alembic", "huey", "sqlalchemy.engine")
#: MLflow 3's switch of the artifact upload and download progress bars.
PROGRESS_BAR_VARIABLE = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"


class LogLines(io.TextIOBase):
    """A text stream that logs each line written to it, at INFO, to ``logger``."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger
        self._pending = ""

    def write(self, text: str) -> int:
        """Log the complete lines of ``text``; keep a partial last line for the next write."""
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            if line.strip():
                self.logger.info(line.rstrip())
        return len(text)

    def flush(self) -> None:
        """Log a pending partial line."""
        if self._pending.strip():
            self.logger.info(self._pending.rstrip())
        self._pending = ""


def _mlflow_handler(handler: logging.Handler) -> bool:
    """MLflow's own handler: a stream handler on its ``MlflowLoggingStream`` (stderr)."""
    stream = getattr(handler, "stream", None)
    return isinstance(handler, logging.StreamHandler) and (
        type(stream).__name__ == "MlflowLoggingStream" or stream is sys.stderr
    )


def route_library_logs() -> None:
    """Send MLflow's log records and notices to the root logger; no progress bars off a tty.

    Idempotent, and harmless before MLflow is imported (then there is nothing to
    take off; call it again after the import).  The loggers keep the levels MLflow
    gave them (``mlflow`` INFO, the others WARNING).
    """
    isatty = getattr(sys.stderr, "isatty", None)
    if not (callable(isatty) and isatty()):
        os.environ.setdefault(PROGRESS_BAR_VARIABLE, "false")
    for name in MLFLOW_LOGGERS:
        logger = logging.getLogger(name)
        own = [h for h in logger.handlers if _mlflow_handler(h)]
        for handler in own:
            logger.removeHandler(handler)
        if own:
            logger.propagate = True
    # ``eprint`` prints to this module attribute at each call (nothing else holds it)
    utils = sys.modules.get("mlflow.utils.logging_utils")
    if utils is not None and not isinstance(
        getattr(utils, "MLFLOW_LOGGING_STREAM", None), LogLines
    ):
        setattr(utils, "MLFLOW_LOGGING_STREAM", LogLines(logging.getLogger("mlflow")))  # noqa: B010
