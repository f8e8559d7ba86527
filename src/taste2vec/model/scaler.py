"""Mask-aware standard scalers for the 20 numeric metrics, one per data source.

Sources grade on different scales: Coffee Review's aroma is 8.8 ± 0.4, CQI's
7.6 ± 0.3, and an app user's "body" is an intensity where Coffee Review's is
a quality score. One pooled scaler would make most of the regression loss go
on telling the sources apart, so every source gets its own statistics:

- inputs are standardised with the scaler of the record's source, and
- sensory predictions (standardised units) are turned back into points on the
  scale the caller asks for: Coffee Review scores stay Coffee Review scores.

The source of a record is its loader's reserved user id (``coffeereview``,
``cqi``); everything else, the app's users included, is on the ``app`` scale,
fitted on the bundled demo tastings. :class:`MetricScaler`'s own ``mean`` and
``std`` are the ``app`` scale, so the edge runtime (which reads only those)
works unchanged.

Statistics are fitted on observed values only; a metric never observed in a
source falls back to the midpoint and half-range of its allowed range, so every
scale is always usable.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from taste2vec.errors import ArtifactError
from taste2vec.schema import METRIC_BY_NAME, METRIC_NAMES, TasteRecord

APP_SCALE = "app"
SOURCE_SCALES: tuple[str, ...] = (APP_SCALE, "coffeereview", "cqi")


def record_source(record: TasteRecord) -> str:
    """The scale a record's numbers are on: its loader's user id, else ``app``."""
    return record.user if record.user in SOURCE_SCALES else APP_SCALE


def _stats(values: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
    return mean.astype(np.float32), std.astype(np.float32), counts.astype(np.int64)


@dataclass(frozen=True)
class MetricScaler:
    """Per-metric mean and standard deviation in :data:`METRIC_NAMES` order.

    ``mean``/``std``/``counts`` are the ``app`` scale; ``sources`` holds the
    other sources' scalers (empty for a single-scale scaler).
    """

    mean: np.ndarray
    std: np.ndarray
    counts: np.ndarray
    sources: dict[str, MetricScaler] = field(default_factory=dict)

    @classmethod
    def fit(cls, values: np.ndarray, mask: np.ndarray) -> MetricScaler:
        """Fit on ``values`` (n, 20) where ``mask`` (n, 20) is 1 for observed entries."""
        if values.shape != mask.shape or values.shape[1] != len(METRIC_NAMES):
            raise ValueError(f"expected (n, {len(METRIC_NAMES)}) arrays, got {values.shape}")
        return cls(*_stats(values, mask))

    @classmethod
    def fit_by_source(
        cls, values: np.ndarray, mask: np.ndarray, sources: Sequence[str]
    ) -> MetricScaler:
        """One scaler per source in :data:`SOURCE_SCALES`, each on its own rows only."""
        if len(sources) != values.shape[0]:
            raise ValueError("sources must have one entry per row")
        src = np.asarray(sources, dtype=object)
        unknown = set(src.tolist()) - set(SOURCE_SCALES)
        if unknown:
            raise ValueError(f"unknown sources {sorted(unknown)}; expected {SOURCE_SCALES}")
        fitted = {s: cls.fit(values[src == s], mask[src == s]) for s in SOURCE_SCALES}
        app = fitted.pop(APP_SCALE)
        return cls(app.mean, app.std, app.counts, fitted)

    def scale(self, source: str) -> MetricScaler:
        """The single-scale scaler of ``source`` (``app`` for unknown sources)."""
        found = self.sources.get(source)
        return found if found is not None else MetricScaler(self.mean, self.std, self.counts)

    def transform(
        self, values: np.ndarray, mask: np.ndarray, sources: Sequence[str] | None = None
    ) -> np.ndarray:
        """Standardise observed entries (row i on the scale of ``sources[i]``); missing → 0."""
        mean, std = self._rows(values.shape[0], sources)
        z = (values - mean) / std
        return np.where(mask > 0, z, 0.0).astype(np.float32)

    def inverse(
        self, z: np.ndarray, columns: list[int] | None = None, source: str = APP_SCALE
    ) -> np.ndarray:
        """Back to metric units on the scale of ``source``, for all or the given columns."""
        cols = list(range(len(METRIC_NAMES))) if columns is None else columns
        sc = self.scale(source)
        out: np.ndarray = (z * sc.std[cols] + sc.mean[cols]).astype(np.float32)
        return out

    def _rows(self, n: int, sources: Sequence[str] | None) -> tuple[np.ndarray, np.ndarray]:
        if sources is None:
            return self.mean[None, :], self.std[None, :]
        if len(sources) != n:
            raise ValueError("sources must have one entry per row")
        mean = np.stack([self.scale(s).mean for s in sources]) if n else self.mean[None, :]
        std = np.stack([self.scale(s).std for s in sources]) if n else self.std[None, :]
        return mean, std

    def save(self, path: Path) -> None:
        payload = {
            "metrics": list(METRIC_NAMES),
            "scale": APP_SCALE,
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "counts": self.counts.tolist(),
            "sources": {
                name: {
                    "mean": sc.mean.tolist(),
                    "std": sc.std.tolist(),
                    "counts": sc.counts.tolist(),
                }
                for name, sc in self.sources.items()
            },
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
        try:
            sources = {
                name: cls(
                    np.asarray(s["mean"], dtype=np.float32),
                    np.asarray(s["std"], dtype=np.float32),
                    np.asarray(s["counts"], dtype=np.int64),
                )
                for name, s in payload.get("sources", {}).items()
            }
            return cls(
                np.asarray(payload["mean"], dtype=np.float32),
                np.asarray(payload["std"], dtype=np.float32),
                np.asarray(payload["counts"], dtype=np.int64),
                sources,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"cannot read scaler {path}: {exc}; retrain") from exc
