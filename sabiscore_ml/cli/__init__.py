"""The ``sabiscore`` command line: the same job functions the Airflow DAGs call.

:mod:`sabiscore_ml.cli.application` assembles the Typer ``app`` (a module not named
``app``, which the application object would hide); ``main`` is the console script.
"""

from sabiscore_ml.cli.application import app, main

__all__ = ["app", "main"]
