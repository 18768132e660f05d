"""Feature store: feature definitions and their only write paths (offline and online).

Features are computed point in time: a feature row for a match uses only what
was known before its kick-off.  The definitions and writers arrive with the
feature pipeline; this package is installed with the platform from the start so
that DAGs and the serving tier can depend on its import path.
"""
