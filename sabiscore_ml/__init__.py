"""Sabiscore: football match prediction and stake sizing as batch ML jobs.

The library is pure Python and never imports Airflow: DAGs in ``dags/`` call its
job functions (``sabiscore_ml.jobs``), and so does the ``sabiscore`` CLI.
"""

__version__ = "0.1.0"
