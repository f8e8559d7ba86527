"""Per-model-version Prometheus metrics: request latency, errors, and embedding drift.

:class:`ModelMonitor` keeps, for each model version that served (the weights hash, the
``model_version`` of answers):

* ``t2v_model_request_seconds{model_version,route}`` (histogram) and
  ``t2v_model_requests_total{model_version,route,status_class}`` (``2xx``, ``4xx``,
  ``5xx``): every ``/v1/`` request except the model-admin routes ``/v1/models/...``, by
  the version that answered it (the API's middleware calls :meth:`observe_request`);
  ``t2v_model_request_errors_total{model_version,route}`` counts the 5xx ones.
* **Embedding drift** of the embeddings the version served (``/v1/embed`` and every
  logged tasting the outbox relay encodes), over a sliding window of the last
  ``window`` embeddings, against the version's **reference**: its training distribution
  when the artifact carries ``embedding_stats.json`` (the online learner writes it for its
  candidates: the embeddings of the catalogue it trains on), otherwise its embeddings of
  the catalogue the service ranks (computed at load; ``reference`` label ``catalogue``):

  - ``t2v_embedding_centroid_shift{model_version}``: ‖served centroid − reference
    centroid‖ divided by the reference's mean distance from its centroid (0: same centre;
    1: as far as a typical reference embedding is from it);
  - ``t2v_embedding_centroid_cosine{model_version}``: cosine of the two centroids;
  - ``t2v_embedding_norm_mean`` / ``t2v_embedding_norm_std{model_version}`` of the served
    embeddings, next to ``t2v_embedding_reference_norm_mean`` / ``..._std``;
  - ``t2v_embedding_nonfinite_total{model_version}``: embeddings with NaN/inf (left out of
    the window), ``t2v_embeddings_observed_total{model_version}``;
  - ``t2v_embedding_window{model_version}``: how many embeddings the window holds.

**Bounded cardinality.** At most ``max_versions`` (4) versions are tracked; when another
one serves, the least recently seen version's series are removed. The drift gauges are
computed when ``/metrics`` is read (a collector), so an observation costs one O(d) update
of the window's running sums. ``route`` is the route
template, never the raw path.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector

from taste2vec.model.reference import EMBEDDING_STATS, EmbeddingReference, embedding_stats

__all__ = [
    "EMBEDDING_STATS",
    "EmbeddingReference",
    "ModelMonitor",
    "embedding_stats",
    "reference_for",
]

log = logging.getLogger(__name__)

MAX_VERSIONS = 4
WINDOW = 1000
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


_DRIFT_HELP = {
    "centroid_shift": "Served centroid's distance from the reference centroid, in units of "
    "the reference's mean distance from it",
    "centroid_cosine": "Cosine of the served and reference centroids",
    "norm_mean": "Mean L2 norm of the served embeddings in the window",
    "norm_std": "Standard deviation of their L2 norms",
    "window": "Served embeddings in the drift window",
}


class _DriftCollector(Collector):
    """The drift gauges of a :class:`ModelMonitor`, computed at scrape time."""

    def __init__(self, monitor: ModelMonitor) -> None:
        self.monitor = monitor

    def collect(self) -> Iterator[Metric]:
        families = {
            name: GaugeMetricFamily(f"t2v_embedding_{name}", text, labels=["model_version"])
            for name, text in _DRIFT_HELP.items()
        }
        ref_labels = ["model_version", "reference"]
        ref_mean = GaugeMetricFamily(
            "t2v_embedding_reference_norm_mean",
            "Mean L2 norm of the reference embeddings",
            labels=ref_labels,
        )
        ref_std = GaugeMetricFamily(
            "t2v_embedding_reference_norm_std",
            "Standard deviation of the reference norms",
            labels=ref_labels,
        )
        for version, figures, ref in self.monitor.snapshot():
            for name, value in figures.items():
                families[name].add_metric([version], value)
            if ref is not None and math.isfinite(ref.norm_mean):  # catalogue: no norms
                ref_mean.add_metric([version, ref.source], ref.norm_mean)
                ref_std.add_metric([version, ref.source], ref.norm_std)
        yield from families.values()
        yield ref_mean
        yield ref_std


def reference_for(
    model_dir: Path | None, centroid: npt.ArrayLike, radius: float
) -> EmbeddingReference:
    """The drift reference of a served model: ``embedding_stats.json`` in its directory
    when there is a valid one, else its catalogue embeddings' ``centroid`` and ``radius``
    (the recommendation snapshot's; no norm statistics)."""
    path = None if model_dir is None else Path(model_dir) / EMBEDDING_STATS
    if path is not None and path.is_file():
        try:
            return EmbeddingReference.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            log.warning("ignoring %s: %s", path, exc)
    c = np.asarray(centroid, dtype=np.float64)
    return EmbeddingReference(c, float(radius), math.nan, math.nan, 0, "catalogue")


class _Window:
    """The last ``size`` embeddings of one version, with running sums (O(d) per add)."""

    def __init__(self, size: int, reference: EmbeddingReference | None) -> None:
        self.size = size
        self.reference = reference
        self.items: deque[tuple[npt.NDArray[np.float64], float]] = deque()
        self.sum: npt.NDArray[np.float64] | None = None
        self.norm_sum = 0.0
        self.norm_sq = 0.0

    def add(self, vec: npt.NDArray[np.float64]) -> None:
        norm = float(np.linalg.norm(vec))
        if self.sum is None or self.sum.shape != vec.shape:
            self.items.clear()
            self.sum, self.norm_sum, self.norm_sq = np.zeros_like(vec), 0.0, 0.0
        self.items.append((vec, norm))
        self.sum += vec
        self.norm_sum += norm
        self.norm_sq += norm * norm
        if len(self.items) > self.size:
            old, old_norm = self.items.popleft()
            self.sum -= old
            self.norm_sum -= old_norm
            self.norm_sq -= old_norm * old_norm

    def figures(self) -> dict[str, float]:
        n = len(self.items)
        if n == 0 or self.sum is None:
            return {}
        mean_norm = self.norm_sum / n
        out = {
            "window": float(n),
            "norm_mean": mean_norm,
            "norm_std": math.sqrt(max(self.norm_sq / n - mean_norm * mean_norm, 0.0)),
        }
        ref = self.reference
        if ref is not None and ref.centroid.shape == self.sum.shape:
            centroid = self.sum / n
            shift = float(np.linalg.norm(centroid - ref.centroid))
            out["centroid_shift"] = shift / ref.radius if ref.radius > 0 else shift
            denom = float(np.linalg.norm(centroid) * np.linalg.norm(ref.centroid))
            out["centroid_cosine"] = float(centroid @ ref.centroid) / denom if denom else 0.0
        return out


class ModelMonitor:
    """Per-version request and drift metrics in ``registry`` (module docstring)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        max_versions: int = MAX_VERSIONS,
        window: int = WINDOW,
    ) -> None:
        if max_versions < 1 or window < 1:
            raise ValueError("max_versions and window must be >= 1")
        self.registry = registry
        self.max_versions = max_versions
        self.window = window
        self._lock = threading.Lock()
        self._versions: OrderedDict[str, _Window] = OrderedDict()  # least recent first
        self._references: dict[str, EmbeddingReference] = {}
        self._routes: dict[str, set[tuple[str, str]]] = {}  # version -> (route, class) seen
        v = ["model_version"]
        self.latency = Histogram(
            "t2v_model_request_seconds",
            "Request latency by the model version that answered",
            [*v, "route"],
            registry=registry,
            buckets=BUCKETS,
        )
        self.requests = Counter(
            "t2v_model_requests",
            "Requests by the model version that answered and status class",
            [*v, "route", "status_class"],
            registry=registry,
        )
        self.errors = Counter(
            "t2v_model_request_errors",
            "Requests answered 5xx, by model version",
            [*v, "route"],
            registry=registry,
        )
        self.observed = Counter(
            "t2v_embeddings_observed", "Embeddings served, by model version", v, registry=registry
        )
        self.nonfinite = Counter(
            "t2v_embedding_nonfinite",
            "Served embeddings with NaN or infinite values, by model version",
            v,
            registry=registry,
        )
        # Drift gauges are computed when /metrics is read (a collector), not per embedding.
        if registry is not None:
            registry.register(_DriftCollector(self))

    # ------------------------------------------------------------------ versions
    def _track(self, version: str) -> _Window:
        """The window of ``version`` (most recently seen now); evicts the oldest version's
        series beyond ``max_versions``. Call with the lock held."""
        found = self._versions.get(version)
        if found is None:
            found = _Window(self.window, self._references.get(version))
            self._versions[version] = found
            while len(self._versions) > self.max_versions:
                old, _ = self._versions.popitem(last=False)
                self._forget(old)
        self._versions.move_to_end(version)
        return found

    def _forget(self, version: str) -> None:
        while len(self._references) > 4 * self.max_versions:  # bounded; oldest first
            del self._references[next(iter(self._references))]
        for route, status_class in self._routes.pop(version, set()):
            for metric, labels in (
                (self.latency, (version, route)),
                (self.errors, (version, route)),
                (self.requests, (version, route, status_class)),
            ):
                try:
                    metric.remove(*labels)
                except KeyError:
                    pass
        per_version: list[MetricWrapperBase] = [self.observed, self.nonfinite]
        for series in per_version:
            try:
                series.remove(version)
            except KeyError:
                pass

    def set_reference(self, version: str, reference: EmbeddingReference) -> None:
        """The distribution ``version``'s served embeddings are compared with. A reference
        from the artifact is never replaced by one from the catalogue."""
        with self._lock:
            current = self._references.get(version)
            if current is not None and current.source == "artifact" != reference.source:
                return
            self._references[version] = reference
            self._track(version).reference = reference

    def reference(self, version: str) -> EmbeddingReference | None:
        with self._lock:
            return self._references.get(version)

    @property
    def versions(self) -> list[str]:
        """The versions tracked now, least recently seen first."""
        with self._lock:
            return list(self._versions)

    # ------------------------------------------------------------------ observations
    def observe_request(self, version: str | None, route: str, status: int, seconds: float) -> None:
        """One answered request (``version`` None: no model loaded yet; not counted)."""
        if not version:
            return
        status_class = f"{min(max(status // 100, 1), 5)}xx"
        with self._lock:
            self._track(version)
            self._routes.setdefault(version, set()).add((route, status_class))
        self.latency.labels(version, route).observe(seconds)
        self.requests.labels(version, route, status_class).inc()
        if status >= 500:
            self.errors.labels(version, route).inc()

    def observe_embeddings(
        self,
        version: str | None,
        embeddings: npt.ArrayLike,
        reference: Callable[[], EmbeddingReference] | None = None,
    ) -> None:
        """Embeddings ``version`` served, (n, d) or (d,). ``reference`` makes the version's
        drift reference when it has none yet (called once per version)."""
        if not version:
            return
        if reference is not None and self.reference(version) is None:
            try:
                self.set_reference(version, reference())
            except Exception:  # noqa: BLE001 - monitoring never fails a request
                log.exception("could not compute the drift reference of %s", version)
        arr = np.asarray(embeddings, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.size == 0:
            return
        finite = np.isfinite(arr).all(axis=1)
        with self._lock:
            window = self._track(version)
            for row in arr[finite]:
                window.add(row)
        self.observed.labels(version).inc(len(arr))
        bad = int((~finite).sum())
        if bad:
            self.nonfinite.labels(version).inc(bad)

    def snapshot(self) -> list[tuple[str, dict[str, float], EmbeddingReference | None]]:
        """(version, drift figures, reference) of every tracked version, for a scrape."""
        with self._lock:
            return [(v, w.figures(), w.reference) for v, w in self._versions.items()]

    def figures(self, version: str) -> dict[str, float]:
        """The drift figures of ``version`` now (empty before any embedding)."""
        with self._lock:
            window = self._versions.get(version)
            return {} if window is None else window.figures()
