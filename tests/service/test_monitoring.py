"""ModelMonitor: drift figures against numpy, bounded label cardinality, the reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from taste2vec.service.monitoring import (
    EMBEDDING_STATS,
    EmbeddingReference,
    ModelMonitor,
    embedding_stats,
    reference_for,
)


def _unit(rng: np.random.Generator, n: int, d: int = 16, shift: float = 0.0) -> np.ndarray:
    x = rng.normal(size=(n, d))
    x[:, 0] += shift
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_drift_figures_match_numpy_over_a_sliding_window() -> None:
    rng = np.random.default_rng(0)
    train = _unit(rng, 500)
    ref = EmbeddingReference.from_embeddings(train, "artifact")
    monitor = ModelMonitor(CollectorRegistry(), window=50)
    monitor.set_reference("v1", ref)
    assert monitor.figures("v1") == {}
    served = _unit(rng, 120, shift=2.0)  # drifted along the first axis
    for start in range(0, 120, 7):
        monitor.observe_embeddings("v1", served[start : start + 7])
    window = served[-50:]
    centroid = window.mean(axis=0)
    figures = monitor.figures("v1")
    assert figures["window"] == 50
    assert figures["centroid_shift"] == pytest.approx(
        np.linalg.norm(centroid - train.mean(axis=0)) / ref.radius
    )
    assert figures["centroid_cosine"] == pytest.approx(
        centroid @ ref.centroid / (np.linalg.norm(centroid) * np.linalg.norm(ref.centroid))
    )
    assert figures["norm_mean"] == pytest.approx(1.0) and figures["norm_std"] < 1e-6
    same = ModelMonitor(CollectorRegistry(), window=500)
    same.set_reference("v1", ref)
    same.observe_embeddings("v1", train)
    assert same.figures("v1")["centroid_shift"] == pytest.approx(0.0, abs=1e-9)
    fresh = ModelMonitor(CollectorRegistry(), window=50)  # 50 new draws, no drift
    fresh.set_reference("v1", ref)
    fresh.observe_embeddings("v1", _unit(rng, 50))
    assert figures["centroid_shift"] > 2 * fresh.figures("v1")["centroid_shift"]


def test_non_finite_embeddings_are_counted_not_averaged() -> None:
    registry = CollectorRegistry()
    monitor = ModelMonitor(registry)
    vecs = np.ones((3, 4))
    vecs[1, 2] = math.nan
    monitor.observe_embeddings("v1", vecs)
    assert monitor.figures("v1")["window"] == 2
    assert registry.get_sample_value("t2v_embedding_nonfinite_total", {"model_version": "v1"}) == 1
    assert registry.get_sample_value("t2v_embeddings_observed_total", {"model_version": "v1"}) == 3
    monitor.observe_embeddings(None, vecs)  # no model yet: nothing recorded
    monitor.observe_request(None, "/v1/embed", 200, 0.01)
    assert monitor.versions == ["v1"]


def test_label_cardinality_is_bounded() -> None:
    registry = CollectorRegistry()
    monitor = ModelMonitor(registry, max_versions=2)
    for version in ("a", "b", "c", "b", "d"):
        monitor.observe_request(version, "/v1/embed", 200, 0.01)
        monitor.observe_request(version, "/v1/embed", 503, 0.02)
        monitor.observe_embeddings(version, np.ones((1, 4)))
    assert monitor.versions == ["b", "d"]
    text = generate_latest(registry).decode()
    for gone in ("a", "c"):
        assert f'model_version="{gone}"' not in text
    for kept in ("b", "d"):
        assert f'model_version="{kept}"' in text
    assert (
        registry.get_sample_value(
            "t2v_model_request_errors_total", {"model_version": "b", "route": "/v1/embed"}
        )
        == 2
    )


def test_the_reference_comes_from_the_artifact_when_it_has_one(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    train = _unit(rng, 200)
    (tmp_path / EMBEDDING_STATS).write_text(json.dumps(embedding_stats(train)))
    ref = reference_for(tmp_path, np.zeros(16), 1.0)
    assert ref.source == "artifact" and ref.n == 200
    assert ref.centroid == pytest.approx(train.mean(axis=0), abs=1e-6)
    assert ref.norm_mean == pytest.approx(1.0)
    fallback = reference_for(tmp_path / "none", np.ones(16), 0.5)
    assert fallback.source == "catalogue" and fallback.radius == 0.5
    assert math.isnan(fallback.norm_mean)
    (tmp_path / EMBEDDING_STATS).write_text('{"centroid": "x"}')
    assert reference_for(tmp_path, np.ones(16), 0.5).source == "catalogue"  # malformed: ignored
    monitor = ModelMonitor(CollectorRegistry())
    monitor.set_reference("v", ref)
    monitor.set_reference("v", fallback)  # a catalogue reference never replaces the artifact's
    assert monitor.reference("v") is ref
