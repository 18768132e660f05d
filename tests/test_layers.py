"""Data flows one way: sources, warehouse, features, models, betting, publish, jobs, CLI.

Read from the sources' text (every import, also those inside functions and under
``if TYPE_CHECKING:``), so a layer cannot lean on a later one even for its types.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The library's layers, earliest first; a module may import its own layer and earlier ones.
LAYERS = (
    "sabiscore_ml.sources",
    "sabiscore_ml.warehouse",
    "feature_store",
    "sabiscore_ml.models",
    "sabiscore_ml.betting",
    "sabiscore_ml.publish",
    "sabiscore_ml.jobs",
    "sabiscore_ml.cli",
)

#: The one backward edge: the rating features turn strengths into probabilities with the
#: models' score grid (pure numpy, importing nothing of the project).
ALLOWED = {("feature_store.ratings", "sabiscore_ml.models.score_grid")}


def _layer(module: str) -> int | None:
    for index, layer in enumerate(LAYERS):
        if module == layer or module.startswith(layer + "."):
            return index
    return None


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("sabiscore_ml", "feature_store"):
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def backward_imports() -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports a later layer than its own."""
    edges = []
    for name, path in sorted(_modules().items()):
        own = _layer(name)
        for imported in sorted(_imports(path)):
            theirs = _layer(imported)
            if theirs is None or (name, imported) in ALLOWED:
                continue
            if own is None:
                # the shared modules (settings, leagues, prices, validation, ...) serve
                # every layer, so they may import none of the jobs or the CLI
                if theirs >= LAYERS.index("sabiscore_ml.jobs"):
                    edges.append((name, imported))
            elif theirs > own:
                edges.append((name, imported))
    return edges


def test_no_layer_imports_a_later_one() -> None:
    assert backward_imports() == []


def test_the_check_sees_a_type_only_import(tmp_path: Path) -> None:
    """An import under ``if TYPE_CHECKING:`` inside a function is still read."""
    module = tmp_path / "card.py"
    module.write_text(
        "from typing import TYPE_CHECKING\n"
        "def card():\n"
        "    if TYPE_CHECKING:\n"
        "        from sabiscore_ml.jobs.training import Fitted\n"
        "    from sabiscore_ml.publish import contract\n"
    )
    assert _imports(module) == {
        "typing",
        "sabiscore_ml.jobs.training",
        "sabiscore_ml.publish",
    }
    assert backward_imports() == []  # and the library itself has none
