"""Publishing scored fixtures: the warehouse history, and Redis for the serving tier.

A batch job scores the upcoming fixtures and hands the result over as a
:class:`PublishedRun` (the run's id, model, times and mode; its predictions,
edges and stakes).  :func:`publish` writes it to the warehouse, then to Redis
when a client is given.  A reader never sees half of one run and half of
another.  This docstring is the contract the serving tier reads by; DEVELOPERS.md
("Published results: keys and tables") repeats it.  In code it is
:mod:`~sabiscore_ml.publish.contract` (keys, document kinds and fields, the
builders, the encoding; standard library only) and
:mod:`~sabiscore_ml.publish.readers` (the warehouse readers; SQLAlchemy only),
which the publisher and the serving tier share.

**Documents.**  JSON, UTF-8, keys sorted, no spaces, floats rounded to 6
decimals, dates ``YYYY-MM-DD`` and times ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` in
UTC, with the ``Z`` offset JavaScript's ``Date`` needs to read them as UTC.
The same run gives the same bytes, from Redis or rebuilt from the warehouse
(:func:`warehouse_document`).

- *compact prediction*: ``run_id``, ``match_id``, ``league_code``,
  ``season_code``, ``match_date``, ``kickoff_utc``, ``home_team``,
  ``away_team``, ``p_home``, ``p_draw``, ``p_away``, ``p_over25``, ``p_btts``,
  ``xg_home``, ``xg_away`` (null when unknown);
- *value bet*: ``run_id``, ``match_id``, ``league_code``, ``match_date``,
  ``kickoff_utc``, ``home_team``, ``away_team``, ``market``, ``outcome``,
  ``bookmaker``, ``price``, ``p_model``, ``p_market``, ``edge``,
  ``prob_edge``, ``n_bookmakers``, ``last_update`` (when the price was last
  seen, null when not known), ``stakes`` (portfolio → stake, ``{}`` when no
  portfolio staked it);
- *withdrawn bet*: a value bet of the previous published run that this run's
  prices no longer make one: ``run_id``, ``match_id``, the fixture fields of a
  value bet, ``market``, ``outcome``, ``bookmaker``, ``published_price`` (the
  price it was published at), ``price`` (the price on offer now, null when
  none is quoted), ``last_update``, ``p_model``, ``edge`` (at ``price``) and
  ``confirmed_edge``;
- *prediction* (one match, trimmed from its insight): the compact prediction
  plus ``correct_score`` and the run's ``model_name``, ``model_version``,
  ``created_at``, ``as_of`` and ``mode``;
- *insight* (one match): the compact prediction plus ``correct_score``, ``model_name``,
  ``model_version``, ``created_at``, ``as_of``, ``mode``, ``value_bet_rules``
  and ``staking`` (the run's, below), ``drivers`` (the JSON the job gave, or
  null: a list of ``{feature, value, contribution: {home, draw, away}}``, the
  match's own features moving its forecast away from the pre-closing market
  (``p_market``), largest first, in centred log-probability; a model without
  per-match attributions gives ``{feature, importance, value}``), ``edges``
  (``market``, ``outcome``, ``bookmaker``, ``price``,
  ``p_model``, ``p_market``, ``edge``, ``prob_edge``, ``confirmed_edge``,
  ``p_confirmed``, ``is_value``, ``n_bookmakers``, ``excluded_by``,
  ``rule_value``, ``last_update``, ``published_price``; ``confirmed_edge`` is
  the edge the run's edge model says the closing line supports, on which value
  bets are chosen and staked, null without one), ``value_bets`` (value bet
  documents) and ``stakes`` (``market``, ``outcome``, ``portfolio``,
  ``bookmaker``, ``price``, ``p_model``, ``edge``, ``kelly_fraction``,
  ``fraction``, ``stake``);
- *meta*: ``run_id``, ``model_name``, ``model_version``, ``created_at``,
  ``as_of``, ``mode``, ``value_bet_rules``, ``staking``, ``n_predictions``,
  ``n_value_bets``, ``content_sha256``.

**What the numbers mean.**  ``correct_score`` (null when unknown) is the
probability of every score up to 5-5 (``h-a``, home goals first), of ``6+-0``
(home 6 or more, away none), ``0-6+``, and of ``other_home``, ``other_draw``
and ``other_away`` (any other home win, draw and away win, both sides
scoring): it sums to 1, and ``p_home``, ``p_draw``, ``p_away``,
``p_over25`` and ``p_btts`` are its sums (to within the rounding of its 41
probabilities to 6 decimals; :func:`~sabiscore_ml.publish.contract.correct_score_markets`),
so no two published markets contradict.  ``edge`` is ``p_model × price − 1`` at the price
taken; ``prob_edge`` is ``p_model − p_market`` (the market's margin-free
probability).  ``value_bet_rules`` (:meth:`ValueBetRules.describe
<sabiscore_ml.betting.edges.ValueBetRules.describe>`): an outcome is a value
bet when its edge is at least ``edge_threshold`` (0.042 by default), its price
at most ``max_price`` (10), ``p_model`` at least ``min_probability`` (0.10)
and at least ``min_bookmakers`` (3) bookmakers quote it; ``price`` says where
prices are taken (``best``, ``avg`` or a bookmaker) and
``market_probability`` how ``p_market`` is made.  An edge that is no value
bet names the first rule it fails, checked in the order of the rules'
``excluded_by`` list (``no_price``, ``edge_threshold``, ``max_price``,
``min_probability``, ``min_bookmakers``), in ``excluded_by``, with that
rule's value in ``rule_value`` (null for ``no_price``); both are null for a
value bet.  A value bet of the previous published run (the latest of the same
mode) that is no longer one at this run's prices is *withdrawn*:
``excluded_by = "withdrawn"``, ``rule_value`` null and ``published_price``
the price it was published at.  ``last_update`` is when the price taken was
last seen in a copy of the prices (the bookmaker's, or the match's latest for
a price averaged over bookmakers), as The Odds API gives it.  ``staking``:
``portfolio``, the ``bankroll`` (and
``peak_bankroll``) the stakes were sized against, their ``unit``
(``units``: no currency is kept), ``kelly_multiplier`` (the share of full
Kelly), the caps ``max_stake_per_bet``, ``max_stake_per_league`` (per league
and matchday) and ``max_stake_per_matchday`` as fractions of the bankroll,
``min_stake``, ``stake_step`` and ``drawdown_throttle``.  A stake's
``kelly_fraction`` is the full simultaneous-Kelly fraction, ``fraction`` the
share of the bankroll finally staked, ``stake`` that share in the unit.  A
run that gave no rules publishes them as null.

**Redis keys** (``<prefix>`` is ``SABISCORE_REDIS_PREFIX``).  The documents
of a run sit under its id and are all written before the run becomes current:

=============================================== ================================ =======
key                                             value                            TTL
=============================================== ================================ =======
``<prefix>:pub:<run_id>:prediction:<match_id>`` insight document                 odds
``<prefix>:pub:<run_id>:value-bets``            value bets, largest edge first   odds
``<prefix>:pub:<run_id>:withdrawn``             withdrawn bets, by kickoff       odds
``<prefix>:pub:<run_id>:upcoming:<league>``     the league's compact predictions static
``<prefix>:pub:<run_id>:upcoming:all``          every league's, by kickoff       static
``<prefix>:pub:<run_id>:leagues``               league_code, n_predictions       static
``<prefix>:pub:<run_id>:meta``                  meta document                    static
``<prefix>:pub:<run_id>:alerted``               marker: alerts sent              alerted
``<prefix>:pub:current``                        the current run id               none
``<prefix>:alerts``                             stream of value-bet alerts       none
``<prefix>:runs``                               stream of runs made current      none
=============================================== ================================ =======

Upcoming lists are sorted by kickoff (a match without a kickoff time last on
its day), leagues by code.

TTLs (:class:`RedisTtls`, from ``SABISCORE_PUBLISH_ODDS_TTL_SECONDS``,
``..._STATIC_TTL_SECONDS``, ``..._ALERT_MARKER_TTL_SECONDS``): *odds* 15
minutes (prices go stale), *static* an hour, *alerted* a week.

**The switch, and why readers see one run.**  Once every document of a run
exists, ``<prefix>:pub:current`` is set to its id (a ``SET`` inside
``WATCH``/``MULTI``/``EXEC``).  One key changing in one command is atomic: a
reader gets the old id or the new one.  A reader reads the pointer first, then
only keys under that id.  Those keys were all written before the pointer
named them and are never changed afterwards (publishing the run again writes
the same bytes), and a superseded run's keys are not deleted but left to
expire, so a reader still holding the old id keeps finding them for the TTL.
A reader must finish within the shortest TTL (15 minutes) or re-read the
pointer.

**Order.**  The pointer only moves forward: to a run whose
(``created_at``, ``run_id``) is larger than the current run's, read from the
current run's meta; a current run whose meta has expired counts as older
than any run.  Republishing an older run rewrites its keys but leaves the
pointer alone.  The compare-and-set runs under a ``WATCH`` of the pointer,
so two publishers cannot both win.  Modes are not compared: a replay published to
Redis becomes current like a live run (the job decides which runs go to
Redis; the warehouse keeps both, :func:`latest_run` filters by mode).

**One current run.**  The warehouse writes a run headed for Redis as
``pending`` and marks it ``published`` (:func:`mark_published`) once the
switch is decided (the pointer moved to it, or a newer run is current);
:func:`latest_run` reads published runs only.  :func:`publish` therefore
goes: warehouse rows (``pending``), Redis documents, switch, mark, alerts.
Killed before the switch, both stores name the previous run; after the mark,
both name the new one.  Killed between the switch and the mark, Redis names
the new run and the warehouse the previous one until the next
:func:`publish` (of any run), whose first step, :func:`reconcile`, marks the
run the pointer names.  Publishing a killed run again completes it.  Without
Redis a run is written ``published`` at once.

**Expired keys.**  Documents expire, the pointer does not, so the pointer can
name a run whose documents are gone (no run published for longer than the
TTL).  A reader that gets no document for the pointed run id reads the same
run from the warehouse: ``warehouse_document(engine, run_id, kind, key)``
returns the bytes Redis held.  Since :func:`publish` writes the warehouse
first, every run id in Redis is in the warehouse.  None from both means the
document does not exist (a match or league not in the run).  No pointer at all
means nothing was published to Redis: use :func:`latest_run`.

**Alerts.**  A run that is current after its switch adds one entry per value
bet to the stream ``<prefix>:alerts`` (``MAXLEN ~`` 10000,
``SABISCORE_PUBLISH_ALERTS_MAXLEN``), largest edge first; the consumer group
``webapp`` is created with the stream.  Fields are text: the value bet
document's fields (numbers as JSON numbers, null as an empty string,
``stakes`` as a JSON object) and ``mode``.  The entries and the ``alerted``
marker (``SET NX``) go in one ``MULTI`` under a ``WATCH`` of the marker, so a
run alerts once however often it is published (within the marker's TTL).  A
run that is not current after its switch (a newer one is) sends none.  Each
entry also holds ``document``: the value-bet document with ``mode``, encoded
(what ``GET /v1/stream`` sends).  The switch that makes a run current adds,
in its own ``MULTI``, one entry to the stream ``<prefix>:runs`` (same
``MAXLEN``): ``run_id`` and ``document``, the run's meta document.

**Warehouse** (history, never overwritten but for the one change of
``status`` from ``pending`` to ``published``): ``prediction_runs`` (one row
per complete run, with its rules in ``rules_json``), ``run_predictions``,
``run_edges``, ``run_stakes``; see :mod:`sabiscore_ml.publish.warehouse`
(writing) and :mod:`sabiscore_ml.publish.readers` (reading).
The run's row is inserted last in the transaction of its other rows, so a
run in ``prediction_runs`` is complete.

**Idempotence.**  The run id identifies the content: publishing it again writes
nothing to the warehouse and the same bytes to Redis, with the ``created_at``
first published.  A different content under a published id raises
:class:`RunConflict` before anything is written.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Each name the package exports, by the module defining it.  They are imported
# when first used, so ``contract`` and ``readers`` (what the serving tier
# imports) load without the publisher's data-frame libraries.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "contract": (
        "ALL_LEAGUES",
        "KINDS",
        "current_run_id",
        "document_key",
        "encode_document",
        "read_document",
    ),
    "readers": (
        "RunInfo",
        "latest_run",
        "run_info",
        "run_prediction",
        "run_predictions",
        "run_value_bets",
        "run_withdrawn",
        "warehouse_document",
        "warehouse_leagues",
    ),
    "documents": ("RunDocument", "run_documents"),
    "publisher": ("PublishReport", "publish", "reconcile"),
    "redis_store": ("RedisPublish", "RedisTtls", "publish_to_redis"),
    "run": ("InvalidRun", "PublishedRun", "RunConflict"),
    "warehouse": ("WarehousePublish", "mark_published", "publish_to_warehouse"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

if TYPE_CHECKING:  # the names as the checker sees them (at run time, __getattr__ imports them)
    from sabiscore_ml.publish.contract import ALL_LEAGUES as ALL_LEAGUES
    from sabiscore_ml.publish.contract import KINDS as KINDS
    from sabiscore_ml.publish.contract import current_run_id as current_run_id
    from sabiscore_ml.publish.contract import document_key as document_key
    from sabiscore_ml.publish.contract import encode_document as encode_document
    from sabiscore_ml.publish.contract import read_document as read_document
    from sabiscore_ml.publish.documents import RunDocument as RunDocument
    from sabiscore_ml.publish.documents import run_documents as run_documents
    from sabiscore_ml.publish.publisher import PublishReport as PublishReport
    from sabiscore_ml.publish.publisher import publish as publish
    from sabiscore_ml.publish.publisher import reconcile as reconcile
    from sabiscore_ml.publish.readers import RunInfo as RunInfo
    from sabiscore_ml.publish.readers import latest_run as latest_run
    from sabiscore_ml.publish.readers import run_info as run_info
    from sabiscore_ml.publish.readers import run_prediction as run_prediction
    from sabiscore_ml.publish.readers import run_predictions as run_predictions
    from sabiscore_ml.publish.readers import run_value_bets as run_value_bets
    from sabiscore_ml.publish.readers import run_withdrawn as run_withdrawn
    from sabiscore_ml.publish.readers import warehouse_document as warehouse_document
    from sabiscore_ml.publish.readers import warehouse_leagues as warehouse_leagues
    from sabiscore_ml.publish.redis_store import RedisPublish as RedisPublish
    from sabiscore_ml.publish.redis_store import RedisTtls as RedisTtls
    from sabiscore_ml.publish.redis_store import publish_to_redis as publish_to_redis
    from sabiscore_ml.publish.run import InvalidRun as InvalidRun
    from sabiscore_ml.publish.run import PublishedRun as PublishedRun
    from sabiscore_ml.publish.run import RunConflict as RunConflict
    from sabiscore_ml.publish.warehouse import WarehousePublish as WarehousePublish
    from sabiscore_ml.publish.warehouse import mark_published as mark_published
    from sabiscore_ml.publish.warehouse import publish_to_warehouse as publish_to_warehouse

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    """An exported name, imported from its module on first use."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
