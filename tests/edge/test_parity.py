"""The parity gate: edge bundles reproduce the cloud model, and failing bundles are refused."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from taste2vec.cli import app
from taste2vec.edge import export as edge_export
from taste2vec.edge.graph import EdgeEncoder
from taste2vec.edge.parity import (
    ParityReport,
    check_parity,
    edge_case_records,
    held_out_records,
    top_k_overlap,
)
from taste2vec.edge.registry import EdgeRegistry
from taste2vec.edge.runtime import EdgeRuntime
from taste2vec.edge.spec import FORMATS, TOLERANCES
from taste2vec.model.artifact import weights_version
from taste2vec.model.taste2vec import Taste2Vec

pytestmark = [pytest.mark.xdist_group("edge")]

Bundles = dict[str, tuple[Path, ParityReport]]
HELD_OUT = 150


def test_every_format_passes_the_gate_on_bundled_records(edge_bundles: Bundles) -> None:
    assert set(edge_bundles) == set(FORMATS)
    for fmt, (_, report) in edge_bundles.items():
        assert report.passed, report.summary()
        assert report.n_records >= 60
        tol = TOLERANCES[FORMATS[fmt].int8]
        assert report.min_cosine >= tol.min_cosine


@pytest.mark.shared_data
@pytest.mark.slow
def test_parity_on_held_out_coffee_review(
    shared_data: Path, edge_bundles: Bundles, edge_model: Taste2Vec
) -> None:
    """The issue's gate on real, never-trained-on reviews (the newest 20 % of Coffee Review)."""
    records = held_out_records(shared_data, HELD_OUT) + edge_case_records()
    assert len(records) == HELD_OUT + len(edge_case_records())
    assert all(r.user == "coffeereview" for r in records[:HELD_OUT])
    for fmt, (path, _) in edge_bundles.items():
        report = check_parity(EdgeRuntime.open(path), edge_model, records, "held-out Coffee Review")
        print(report.summary())  # noqa: T201 - the measured figures, shown with -s
        assert report.passed, report.summary()
        int8 = FORMATS[fmt].int8
        assert report.min_cosine >= (0.97 if int8 else 0.99)
        assert report.top10_overlap >= 0.9


def test_top_k_overlap() -> None:
    eye = torch.eye(12).numpy()
    assert top_k_overlap(eye, eye, k=3) == 1.0
    shuffled = eye[:, ::-1].copy()
    assert top_k_overlap(shuffled, eye, catalogue=eye, k=1) == 0.0


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("T2V_CACHE_DIR", str(Path(".cache/taste2vec-tests").resolve()))
    target = tmp_path / "model"
    shutil.copytree(tiny_model_dir, target)
    return target


def test_export_command_registers_a_passing_bundle(model_copy: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["export", "--format", "onnx", "--int8", "--model", str(model_copy), "--bundled-only"],
    )
    assert result.exit_code == 0, result.output
    registry = EdgeRegistry.beside(model_copy)
    version = weights_version(model_copy)
    assert registry.aliases() == {"latest": version}
    entry = registry.entry(version, "onnx-int8")
    assert entry is not None and entry.path.is_file()
    assert registry.formats(version)["onnx-int8"]["parity"]["passed"] is True


def test_release_step_refuses_a_bundle_that_fails_parity(
    model_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A graph that drifted from the cloud model (here: a perturbed fusion layer) is refused."""
    real = edge_export.build_graph

    def drifted(model: Taste2Vec) -> EdgeEncoder:
        graph = copy.deepcopy(real(model))  # the graph shares the cloud model's modules
        with torch.no_grad():
            gen = torch.Generator().manual_seed(0)
            graph.net.fusion.weight.add_(
                0.5 * torch.randn(graph.net.fusion.weight.shape, generator=gen)
            )
        return graph

    monkeypatch.setattr(edge_export, "build_graph", drifted)
    result = CliRunner().invoke(
        app, ["export", "--format", "onnx", "--model", str(model_copy), "--bundled-only"]
    )
    assert result.exit_code == 3, result.output
    text = " ".join(result.output.split())
    assert "FAILED the parity gate, not registered" in text and "min cosine" in text
    registry = EdgeRegistry.beside(model_copy)
    assert registry.versions() == [] and registry.aliases() == {}


def test_export_rejects_an_unknown_format(model_copy: Path) -> None:
    result = CliRunner().invoke(app, ["export", "--format", "coreml", "--model", str(model_copy)])
    assert result.exit_code == 2
    assert "unknown edge format" in result.output
