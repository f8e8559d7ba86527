"""The package layering of ``taste2vec``: the one place it is written down.

``docs/architecture.md`` shows :data:`LAYERS` as a table (``python -m taste2vec._layers``
prints it) and ``tests/test_layering.py`` enforces it on every module under
``src/taste2vec`` with :mod:`ast`, function-level (lazy) and ``TYPE_CHECKING`` imports
included, and checks that the table in the docs matches this module.

The rules:

1. A runtime module may import its own package and any package of a **lower** layer.
2. It may not import a package of its own layer (the members of a layer are independent)
   or of a higher layer.
3. It may not import :data:`TOOLING` (``taste2vec.sim``: test oracles, generators,
   simulators, bench adapters). ``sim`` may import any runtime package; nothing in the
   runtime imports it.

Every top-level package and module must be placed in a layer, so a new one is a decision.
:data:`PENDING` lists the known violations waiting for a move, each with its reason; the
test fails when one of them is fixed and the entry is left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LAYERS", "PENDING", "TOOLING", "Layer", "layer_index", "markdown_table"]


@dataclass(frozen=True)
class Layer:
    """A named group of top-level units (a subpackage, or a module such as ``cli``)."""

    name: str
    members: tuple[str, ...]
    role: str


#: Bottom first. ``taste2vec`` is the package's own ``__init__`` (``__version__``).
LAYERS: tuple[Layer, ...] = (
    Layer(
        "foundation",
        ("taste2vec", "errors", "config", "_layers"),
        "errors, settings, the version",
    ),
    Layer(
        "platform",
        ("_sqlite",),
        "SQLite connections, settings and write transactions (every SQLite file of the package)",
    ),
    Layer("records", ("schema", "lexicon"), "validated records; the flavour wheel"),
    Layer("data and model", ("data", "model"), "loaders and the split; the encoder"),
    Layer(
        "domain",
        ("stream", "recommend", "training", "evaluation", "edge", "experiments"),
        "events and aggregates; ranking; training; evaluation; edge bundles; experiment statistics",
    ),
    Layer(
        "domain services",
        ("store", "learning"),
        "the operational store (outbox of stream events); online learning",
    ),
    Layer(
        "model registry",
        ("registry",),
        "model versions in MLflow, champion/challenger aliases and their audit log",
    ),
    Layer(
        "batch",
        ("batch", "curation"),
        "Parquet snapshots, DuckDB/Spark features, the churn model's training; the "
        "subscription-box curation optimiser (issue 13)",
    ),
    Layer("service", ("service",), "TasteService and its background loops, no HTTP"),
    Layer("web ui", ("ui",), "the taster's app and operator console pages (issue 14)"),
    Layer("http", ("api",), "the FastAPI app: JSON routes, auth, limits; mounts the web UI"),
    Layer("entry point", ("cli",), "the taste2vec command"),
)

#: Test and bench tooling: may import the runtime, never imported by it.
TOOLING = "sim"

#: Known violations, (module path under src/taste2vec, imported module) -> why it waits.
PENDING: dict[tuple[str, str], str] = {
    ("model/text_onnx.py", "taste2vec.edge.graph"): (
        "the int8 text backend builds its graph with edge.graph.MiniLM (a plain BERT); "
        "MiniLM moves down into model/ when edge/graph.py is free, and edge imports it"
    ),
}


def layer_index(unit: str) -> int | None:
    """The layer number (0 = bottom) of a top-level unit, ``None`` if it is in no layer."""
    for i, layer in enumerate(LAYERS):
        if unit in layer.members:
            return i
    return None


def markdown_table() -> str:
    """:data:`LAYERS` as the markdown table of ``docs/architecture.md``, top layer first."""
    lines = ["| layer | name | packages | may import | role |", "|---|---|---|---|---|"]
    for i in reversed(range(len(LAYERS))):
        layer = LAYERS[i]
        below = f"layers 0-{i - 1}" if i > 1 else "layer 0" if i == 1 else "nothing"
        members = ", ".join(f"`{m}`" for m in layer.members)
        lines.append(f"| {i} | {layer.name} | {members} | {below} | {layer.role} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
