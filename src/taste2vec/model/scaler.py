"""A mask-aware standard scaler for the 20 numeric metrics, saved with the model.

Statistics are fitted on observed values only; a metric never observed in the
training data falls back to the midpoint and half-range of its allowed range,
so the scaler is always usable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from taste2vec.errors import ArtifactError
from taste2vec.schema import METRIC_BY_NAME, METRIC_NAMES


@dataclass(frozen=True)
class MetricScaler:
    """Per-metric mean and standard deviation in :data:`METRIC_NAMES` order."""

    mean: np.ndarray
    std: np.ndarray
    counts: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, mask: np.ndarray) -> MetricScaler:
        """Fit on ``values`` (n, 20) where ``mask`` (n, 20) is 1 for observed entries."""
        if values.shape != mask.shape or values.shape[1] != len(METRIC_NAMES):
            raise ValueError(f"expected (n, {len(METRIC_NAMES)}) arrays, got {values.shape}")
        counts = mask.sum(axis=0)
        mean = np.zeros(len(METRIC_NAMES), dtype=np.float64)
        std = np.ones(len(METRIC_NAMES), dtype=np.float64)
        for j, name in enumerate(METRIC_NAMES):
            spec = METRIC_BY_NAME[name]
            observed = values[mask[:, j] > 0, j].astype(np.float64)
            if observed.size >= 2 and observed.std() > 1e-6:
                mean[j], std[j] = observed.mean(), observed.std()
            else:
                mean[j] = (spec.low + spec.high) / 2
                std[j] = (spec.high - spec.low) / 2
        return cls(mean.astype(np.float32), std.astype(np.float32), counts.astype(np.int64))

    def transform(self, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Standardise observed entries; missing entries become exactly 0."""
        z = (values - self.mean) / self.std
        return np.where(mask > 0, z, 0.0).astype(np.float32)

    def inverse(self, z: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
        """Back to metric units, for all metrics or the given column indices."""
        cols = list(range(len(METRIC_NAMES))) if columns is None else columns
        out: np.ndarray = (z * self.std[cols] + self.mean[cols]).astype(np.float32)
        return out

    def save(self, path: Path) -> None:
        payload = {
            "metrics": list(METRIC_NAMES),
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "counts": self.counts.tolist(),
        }
        path.write_text(json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: Path) -> MetricScaler:
        try:
            payload = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ArtifactError(f"cannot read scaler {path}: {exc}") from exc
        if payload.get("metrics") != list(METRIC_NAMES):
            raise ArtifactError(f"scaler {path} was fitted on different metrics; retrain the model")
        return cls(
            np.asarray(payload["mean"], dtype=np.float32),
            np.asarray(payload["std"], dtype=np.float32),
            np.asarray(payload["counts"], dtype=np.int64),
        )
