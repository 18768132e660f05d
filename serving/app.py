"""The serving application under its former name (``uvicorn serving.app:app``).

The entry point is :mod:`serving.main`; this module keeps the old import path working.
"""

from serving.main import app, create_app

__all__ = ["app", "create_app"]
