"""The ``sabiscore`` command line: the same job functions the Airflow DAGs call.

:mod:`sabiscore_ml.cli.app` assembles the Typer ``app``; ``main`` is the console script.
"""

from sabiscore_ml.cli.app import app, main

__all__ = ["app", "main"]
