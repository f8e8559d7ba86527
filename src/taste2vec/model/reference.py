"""A model version's reference embedding distribution, for drift monitoring.

``embedding_stats.json`` in a model directory (optional) holds the centroid, the mean
distance from it, and the L2 norm statistics of the embeddings of the data the version was
trained or tuned on; ``taste2vec.service.monitoring`` compares served embeddings with it.
The online learner's candidates carry one (``taste2vec.registry.learner``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EMBEDDING_STATS", "EmbeddingReference", "embedding_stats"]

EMBEDDING_STATS = "embedding_stats.json"


@dataclass(frozen=True)
class EmbeddingReference:
    """The distribution drift is measured against (see the module docstring)."""

    centroid: npt.NDArray[np.float64]
    radius: float  # mean distance of a reference embedding from the centroid
    norm_mean: float
    norm_std: float
    n: int
    source: str  # "artifact" (embedding_stats.json) or "catalogue"

    @classmethod
    def from_embeddings(cls, emb: npt.ArrayLike, source: str) -> EmbeddingReference:
        arr = np.asarray(emb, dtype=np.float64)
        if arr.ndim != 2 or len(arr) == 0:
            raise ValueError("a reference needs a non-empty (n, d) embedding matrix")
        centroid = arr.mean(axis=0)
        norms = np.linalg.norm(arr, axis=1)
        radius = float(np.linalg.norm(arr - centroid, axis=1).mean())
        return cls(centroid, radius, float(norms.mean()), float(norms.std()), len(arr), source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmbeddingReference:
        """Read ``embedding_stats.json`` (ValueError when it is malformed)."""
        try:
            centroid = np.asarray(data["centroid"], dtype=np.float64)
            ref = cls(
                centroid,
                float(data["radius"]),
                float(data["norm_mean"]),
                float(data["norm_std"]),
                int(data["n"]),
                "artifact",
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed {EMBEDDING_STATS}: {exc}") from None
        if centroid.ndim != 1 or not np.isfinite(centroid).all() or ref.n < 1:
            raise ValueError(f"malformed {EMBEDDING_STATS}: bad centroid or count")
        return ref

    def to_dict(self) -> dict[str, Any]:
        return {
            "centroid": [round(float(x), 7) for x in self.centroid],
            "radius": self.radius,
            "norm_mean": self.norm_mean,
            "norm_std": self.norm_std,
            "n": self.n,
            "what": "embeddings of the data this version was trained or tuned on",
        }


def embedding_stats(emb: npt.ArrayLike) -> dict[str, Any]:
    """``embedding_stats.json``'s content for the embeddings ``emb`` (n, d)."""
    return EmbeddingReference.from_embeddings(emb, "artifact").to_dict()
