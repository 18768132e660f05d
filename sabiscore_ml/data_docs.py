"""great-expectations Data Docs: the validation results, as static pages to open.

Every suite result (passed or failed) is written as soon as it is produced to a
results store under ``<data docs dir>/results`` (one JSON file each, named by
suite, file and time), so that processes which never build the site — an
Airflow task — still contribute to it.  :func:`build_data_docs` renders, once
per CLI run, the pages of the results that have none yet and rebuilds
``index.html``; at most ``SABISCORE_DATA_DOCS_MAX_RESULTS`` results (default 200) are kept
(failed ones first, then the newest), which bounds both the folder and the
build.  ``SABISCORE_DATA_DOCS_MAX_RESULTS=0`` records nothing.

In the index, *Run Name* is the validated file (or, for files that passed in one
batch, how many and the first of them: see :func:`~sabiscore_ml.validation.screen_batch`)
and *Batch ID* says ``passed`` or ``failed`` (the index's search box filters on it).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sabiscore_ml.expectation_suites import SUITES, build_suite
from sabiscore_ml.settings import get_core_settings

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuiteValidationResult
    from great_expectations.data_context.data_context.ephemeral_data_context import (
        EphemeralDataContext,
    )
    from great_expectations.data_context.store.validation_results_store import (
        ValidationResultsStore,
    )
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

log = logging.getLogger(__name__)

SITE_NAME = "sabiscore"
RESULTS_FOLDER = "results"
PASSED, FAILED = "passed", "failed"

_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class DataDocs:
    """A built Data Docs site."""

    index: Path
    results: int  # validation results listed
    failed: int  # of which failed
    rendered: int  # pages rendered by this build


def _enabled() -> bool:
    return get_core_settings().data_docs_max_results > 0


def file_label(name: str) -> str:
    """A file's last two path parts, safe as a folder name (``E0_2023-2024.csv``)."""
    parts = PurePosixPath(name.replace("\\", "/")).parts[-2:]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(parts)).strip("_.") or "file"


@lru_cache(maxsize=4)
def _docs_context(root: str) -> EphemeralDataContext:
    """An ephemeral context whose validation results and Data Docs site live under ``root``."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    defaults = InMemoryStoreBackendDefaults(init_temp_docs_sites=False)
    defaults.stores[defaults.validation_results_store_name] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(Path(root) / RESULTS_FOLDER),
        },
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            SITE_NAME: {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": root,
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    context = gx.get_context(project_config=config, mode="ephemeral")
    for suite_name in SUITES:  # the site's expectation pages
        context.suites.add(build_suite(suite_name))
    return context


def _root() -> str:
    return str(get_core_settings().data_docs_path)


def record(
    suite_name: str,
    result: ExpectationSuiteValidationResult,
    *,
    name: str,
    label: str | None = None,
) -> None:
    """Write one suite result to the results store (no-op when Data Docs are off).

    ``name`` is the validated file (or the files of a batch), ``label`` the run
    name shown in the index (default :func:`file_label` of ``name``).

    A store that cannot be written (a read-only folder, a full disk) is logged,
    never raised: the Data Docs do not stop a load.
    """
    if not _enabled():
        return
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    run_id = RunIdentifier(run_name=label or file_label(name), run_time=dt.datetime.now(dt.UTC))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    # shown as the data asset on the result's page and in the index (great-expectations'
    # TypedDict of the meta lacks the key its renderers read)
    result.meta["batch_kwargs"] = {"data_asset_name": name}  # type: ignore[typeddict-unknown-key]
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
        run_id=run_id,
        batch_identifier=PASSED if result.success else FAILED,
    )
    try:
        with _LOCK:
            _docs_context(_root()).validation_results_store.set(key, result)
    except OSError as exc:  # the Data Docs never stop a load
        log.warning("validation result of %s not recorded for the Data Docs: %s", name, exc)


def _kept(keys: list[ValidationResultIdentifier], limit: int) -> list[ValidationResultIdentifier]:
    """The results to keep: failed ones first, then passed ones, newest first, ``limit`` in all."""
    newest = sorted(keys, key=lambda key: key.run_id.run_time, reverse=True)
    failed = [key for key in newest if key.batch_identifier == FAILED][:limit]
    passed = [key for key in newest if key.batch_identifier != FAILED][: limit - len(failed)]
    return failed + passed


def _result_keys(store: ValidationResultsStore) -> list[ValidationResultIdentifier]:
    """The keys of the results store (all of them validation result identifiers)."""
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    return [key for key in store.list_keys() if isinstance(key, ValidationResultIdentifier)]


def _page(root: str, key: ValidationResultIdentifier) -> Path:
    *folders, batch = key.to_tuple()  # type: ignore[no-untyped-call]  # unannotated upstream
    return Path(root, "validations", *folders, f"{batch}.html")


def build_data_docs() -> DataDocs | None:
    """Prune the results, render the pages they lack and rebuild ``index.html``.

    Returns ``None`` when Data Docs are off (``SABISCORE_DATA_DOCS_MAX_RESULTS=0``).
    """
    if not _enabled():
        return None
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    root = _root()
    limit = get_core_settings().data_docs_max_results
    with _LOCK:
        context = _docs_context(root)
        store = context.validation_results_store
        keys = _result_keys(store)
        kept = _kept(keys, limit)
        for key in set(keys).difference(kept):
            store.remove_key(key)  # type: ignore[no-untyped-call]  # unannotated upstream
        pending = [key for key in kept if not _page(root, key).exists()]
        # Never an empty list: great-expectations would then render every result again.
        # The site builder takes suites and results in one list; its annotation says one kind.
        suites = [ExpectationSuiteIdentifier(name=suite_name) for suite_name in SUITES]
        context.build_data_docs(
            site_names=[SITE_NAME],
            resource_identifiers=[*suites, *pending],  # type: ignore[arg-type]
        )
    return DataDocs(
        index=Path(root) / "index.html",
        results=len(kept),
        failed=sum(key.batch_identifier == FAILED for key in kept),
        rendered=len(pending),
    )
