"""Test and bench tooling lives in ``taste2vec.sim``, not in the runtime.

Every module of the runtime (everything under ``src/taste2vec`` but ``sim``) must be
reachable through imports from an entry point of the product: the ``taste2vec`` command,
the API app, or a module that is run on its own (:data:`ROOTS`). A module that only the
tests or the benches import is tooling: move it into ``taste2vec.sim`` (which nothing in
the runtime imports; ``tests/test_layering.py``). :data:`PENDING` lists the known ones still
waiting for a move, each with its reason; the test fails when one of them has moved (or
become reachable) and its entry is left behind.
"""

from __future__ import annotations

import ast
from pathlib import Path

import taste2vec

SRC = Path(taste2vec.__file__).resolve().parent

#: Where the product starts, with why each is a root.
ROOTS: dict[str, str] = {
    "taste2vec.cli": "the taste2vec command",
    "taste2vec.api.app": "the API app (uvicorn taste2vec.api:create_app)",
    "taste2vec.stream.flink.job": "the Flink job, run as a script in .venv-flink",
    "taste2vec.edge.tflite_convert": "the LiteRT converter, run in .venv-edge",
    "taste2vec.store.migrations.env": "Alembic's environment, loaded by path",
    "taste2vec.schema.docs": "python -m taste2vec.schema.docs > docs/schema.md",
    "taste2vec._layers": "the layering, printed into docs/architecture.md",
    "taste2vec.batch.spark": "the feature job on a Spark cluster (extra [spark]), a library API",
    "taste2vec.recommend.protocol": (
        "the Recommender seam, kept in the runtime as the contract a recommender meets "
        "(docs/architecture.md)"
    ),
}

#: Tooling still in the runtime, module -> why it waits.
PENDING: dict[str, str] = {
    "taste2vec.evaluation.parallel": (
        "Korean/English retrieval measurement for bench/korean_parallel.py; an untracked "
        "bench of another engineer (bench/text_tower_train.py) imports it from here"
    ),
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules ``name`` imports anywhere in its file (function level included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            out.add(module)
            out.update(f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in known)
    # importing a.b.c runs a/__init__ and a/b/__init__ too
    return {p for m in out if m in known for p in _parents(m) if p in known}


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def unreachable() -> set[str]:
    modules = _modules()
    known = set(modules)
    runtime = {m for m in known if not m.startswith("taste2vec.sim")}
    seen: set[str] = set()
    todo = [p for root in ROOTS for p in _parents(root) if p in known]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(_imports(m, modules[m], known) - seen)
    migrations = {m for m in runtime if m.startswith("taste2vec.store.migrations.versions.")}
    return runtime - seen - migrations  # revisions are loaded by Alembic from their folder


def test_every_runtime_module_is_reachable_from_the_product() -> None:
    missing = unreachable() - set(PENDING)
    assert not missing, (
        "runtime modules that no entry point reaches (tests or benches only?): move them "
        f"into taste2vec.sim, or add the entry point to ROOTS: {sorted(missing)}"
    )


def test_pending_moves_are_still_pending() -> None:
    stale = sorted(set(PENDING) - unreachable())
    assert not stale, f"moved or reachable now, remove from PENDING: {stale}"


def test_roots_exist() -> None:
    assert set(ROOTS) <= set(_modules())
