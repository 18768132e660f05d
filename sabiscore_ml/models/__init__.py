"""Match-outcome models: estimators, walk-forward evaluation, tuning and the registry.

Everything here reads the feature store's offline frames and never the raw
sources; the betting layer reads its predictions, never the other way round.
"""
