"""The publish and serve contract: one field list per document, the key layout, no data frames."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import REPO
from test_publishing import loose_fixtures, scored_run

import sabiscore_ml.publish as publish_package
from sabiscore_ml.publish import contract, run_documents
from sabiscore_ml.publish.contract import (
    COMPACT_FIELDS,
    EDGE_FIELDS,
    PREDICTION_FIELDS,
    RULE_FIELDS,
    RUN_FIELDS,
    STAKE_FIELDS,
    TTL_CLASS,
    VALUE_BET_FIELDS,
    document_key,
    prediction_view,
)


def published(run_id: str = "r-1") -> dict[tuple[str, str | None], object]:
    """The documents of a scored run, decoded, by (kind, key)."""
    run = scored_run(run_id, loose_fixtures())
    return {(d.kind, d.key): json.loads(d.body) for d in run_documents(run)}


def test_every_document_has_the_fields_the_contract_lists() -> None:
    documents = published()
    for entry in documents[("upcoming", "all")]:
        assert list(entry) == sorted(("run_id", *COMPACT_FIELDS))
    value_bets = documents[("value-bets", None)]
    assert value_bets and all(list(e) == sorted(VALUE_BET_FIELDS) for e in value_bets)
    meta = documents[("meta", None)]
    assert set(meta) == {"run_id", *RUN_FIELDS, *RULE_FIELDS} | {
        "n_predictions",
        "n_value_bets",
        "content_sha256",
    }
    insights = [d for (kind, _), d in documents.items() if kind == "prediction"]
    assert insights
    for insight in insights:
        assert set(insight) == {"run_id", *COMPACT_FIELDS, *RUN_FIELDS, *RULE_FIELDS} | {
            "correct_score",
            "drivers",
            "edges",
            "value_bets",
            "stakes",
        }
        assert all(list(e) == sorted(EDGE_FIELDS) for e in insight["edges"])
        assert all(list(s) == sorted(STAKE_FIELDS) for s in insight["stakes"])
        assert all(list(v) == sorted(VALUE_BET_FIELDS) for v in insight["value_bets"])
    assert any(insight["stakes"] for insight in insights)


def test_the_prediction_view_trims_an_insight_to_the_prediction_fields() -> None:
    run = scored_run("r-1", loose_fixtures())
    insight = next(d for d in run_documents(run) if d.kind == "prediction")
    view = json.loads(prediction_view(insight.body))
    assert list(view) == sorted(PREDICTION_FIELDS)
    assert view == {f: json.loads(insight.body)[f] for f in PREDICTION_FIELDS}
    assert prediction_view(insight.body) == contract.encode_document(view)


def test_each_document_kind_has_its_key_and_ttl_class() -> None:
    run = scored_run("r-1", loose_fixtures())
    for document in run_documents(run):
        assert document.ttl_class == TTL_CLASS[document.kind]
    assert set(TTL_CLASS) == set(contract.KINDS)
    assert document_key("p", "r-1", "prediction", 7) == "p:pub:r-1:prediction:7"
    assert document_key("p", "r-1", "upcoming", "all") == "p:pub:r-1:upcoming:all"
    assert document_key("p", "r-1", "meta") == "p:pub:r-1:meta"
    assert contract.pointer_key("p") == "p:pub:current"
    assert contract.alerts_key("p") == "p:alerts"
    for kind, key in (("meta", "x"), ("prediction", None), ("upcoming", ""), ("nope", None)):
        with pytest.raises(ValueError):
            document_key("p", "r-1", kind, key)


def test_the_package_exports_its_names_on_first_use() -> None:
    assert publish_package.publish.__module__ == "sabiscore_ml.publish.publisher"
    assert publish_package.warehouse_document.__module__ == "sabiscore_ml.publish.readers"
    assert set(publish_package.__all__) <= set(dir(publish_package))
    with pytest.raises(AttributeError):
        _ = publish_package.no_such_name


def test_the_contract_and_readers_load_no_data_frame_library() -> None:
    """In a fresh interpreter: what the serving tier imports of publish, then sys.modules."""
    script = textwrap.dedent(
        """
        import sys
        from sabiscore_ml.publish import document_key, warehouse_document
        from sabiscore_ml.publish.contract import encode_document
        from sabiscore_ml.publish.readers import latest_run
        banned = ("polars", "pandas", "numpy")
        print("loaded:", ",".join(sorted({m.split(".")[0] for m in sys.modules} & set(banned))))
        from sabiscore_ml.publish import PublishedRun
        print("then:", "polars" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines() == ["loaded: ", "then: True"]
