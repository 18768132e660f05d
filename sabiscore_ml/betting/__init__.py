"""Betting: edges against the market, Kelly stakes, and per-portfolio bankrolls.

:mod:`sabiscore_ml.betting.edges` compares a model's probabilities with the
prices on offer; :mod:`sabiscore_ml.betting.kelly` sizes stakes;
:mod:`sabiscore_ml.betting.portfolio` keeps each portfolio's bets and bankroll
ledger in the warehouse.  De-margining lives in :mod:`sabiscore_ml.odds`.
"""
