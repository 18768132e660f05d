"""Read-only HTTP API over precomputed results (Redis first, then the warehouse).

It imports no ML library: everything it serves was computed by the batch jobs.
"""
