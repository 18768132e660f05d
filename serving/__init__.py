"""Read-only HTTP API over precomputed results (Redis first, then the warehouse).

``serving.main`` (the application), ``api/`` (routes and their dependencies),
``schemas`` (response models), ``repository`` (Redis, then the warehouse),
``security`` (API keys and tokens), ``rate_limits``, ``middleware``,
``metrics``.  It imports no ML library: everything it serves was computed by
the batch jobs.
"""
