"""Betting: edges against the market, Kelly stakes, and per-portfolio bankrolls.

:mod:`sabiscore_ml.betting.edges` compares a model's probabilities with the
prices on offer; :mod:`sabiscore_ml.betting.kelly` sizes stakes;
:mod:`sabiscore_ml.betting.portfolio` keeps each portfolio's bets and bankroll
ledger in the warehouse.  The bankroll backtest is the walk
(:mod:`~sabiscore_ml.betting.walk`, frames in and out), its report
(:mod:`~sabiscore_ml.betting.report`) and the job (:mod:`~sabiscore_ml.betting.backtest`).
De-margining lives in :mod:`sabiscore_ml.odds`, the prices in :mod:`sabiscore_ml.prices`.
"""
