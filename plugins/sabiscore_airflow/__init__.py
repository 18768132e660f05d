"""Shared building blocks of the Sabiscore DAG files (imported from ``dags/``).

Airflow puts the plugins folder on ``sys.path`` in every process (scheduler,
DAG processor, workers, ``dag.test()``), so DAG files import this package by
name; ``plugins/.airflowignore`` keeps the plugin manager from loading it as a
plugin.  Nothing here imports :mod:`sabiscore_ml` at import time.
"""
