"""Edge fixtures: the tiny model's bundles in all four formats, built once per session.

Every edge test is in the xdist group "edge", so one worker builds the bundles.
TFLite export needs the litert-torch converter environment (``make edge-venv``,
which ``make test`` runs first). Without it the tests fail under CI and skip
elsewhere, naming the command that creates it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from taste2vec.edge.export import build_bundle, converter_python
from taste2vec.edge.parity import ParityReport, bundled_gate_records
from taste2vec.edge.registry import EdgeRegistry, pack_bundle
from taste2vec.edge.spec import FORMATS
from taste2vec.errors import ModelError
from taste2vec.model.artifact import weights_version
from taste2vec.model.taste2vec import Taste2Vec

GATE_RECORDS = 60
#: What the edge runtime must run without: made unimportable in :func:`run_torch_free`.
HEAVY_MODULES = ("torch", "transformers", "pydantic", "sklearn", "pandas", "scipy")


def run_torch_free(body: str, *args: str) -> dict[str, Any]:
    """Run ``body`` in a fresh interpreter where :data:`HEAVY_MODULES` cannot be imported
    (``sys.argv[1:]`` is ``args``): any import of one raises ImportError and fails the run.
    ``body`` sets ``result``, a JSON-able dict, which is returned."""
    script = (
        "import json, sys\n"
        f"for blocked in {HEAVY_MODULES!r}:\n"
        "    sys.modules[blocked] = None  # any import of these now raises ImportError\n"
        + textwrap.dedent(body)
        + "\nprint(json.dumps(result))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def require_converter() -> None:
    try:
        converter_python()
    except ModelError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"TFLite converter environment missing under CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def edge_model(tiny_model_dir: Path, minilm) -> Taste2Vec:  # type: ignore[no-untyped-def]
    return Taste2Vec.load(tiny_model_dir, text_encoder=minilm)


@pytest.fixture(scope="session")
def edge_bundles(
    edge_model: Taste2Vec, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, ParityReport]]:
    """Each format exported from the tiny model, gated on bundled records, registered."""
    require_converter()
    registry = EdgeRegistry(tmp_path_factory.mktemp("edge-registry"))
    version = weights_version(tiny_model_dir)
    records = bundled_gate_records(GATE_RECORDS)
    out: dict[str, tuple[Path, ParityReport]] = {}
    for fmt in FORMATS:
        members, report = build_bundle(edge_model, tiny_model_dir, fmt, records, "bundled")
        entry = registry.register(version, fmt, pack_bundle(members), report.to_dict())
        out[fmt] = (entry.path, report)
    return out
