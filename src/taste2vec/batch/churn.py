"""Train and evaluate the churn model on snapshot features (issue 13).

**Examples.** For each cutoff (an event time), every subscriber whose subscription status
at the cutoff is set and not ``cancelled`` gives one example: their features as of the
cutoff (:func:`taste2vec.batch.features.duckdb_features`, the stream worker's signals)
and the label "cancelled within the next ``horizon_days``"
(:func:`~taste2vec.batch.features.duckdb_labels`).

**Split by subscriber**, never by example: a stable hash of the user id puts each
subscriber in *train* (fit), *calibration* (fit the calibration map) or *held out* (every
reported figure), so no person is on both sides.

**Model.** scikit-learn's ``LogisticRegression`` on standardised
:data:`~taste2vec.stream.signals.CHURN_FEATURES`, then ``IsotonicRegression`` from the
decision value to the observed rate on the calibration subscribers (a calibrated model
whose map is plain numbers). The result is the JSON document of
:class:`~taste2vec.stream.signals.LogisticChurnModel`: the stream worker scores with it
in pure Python, bit for bit what :func:`evaluate` measured.

**Evaluation** on the held-out subscribers: ROC AUC, Brier score, log loss and a
reliability table (10 equal-width bins of predicted risk: count, mean predicted, observed
rate), next to the rule ``rule-v1`` on the same examples.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taste2vec.batch.features import duckdb_features, duckdb_labels, row_to_signals
from taste2vec.batch.snapshot import Snapshot, SnapshotError
from taste2vec.stream.signals import (
    CHURN_FEATURES,
    CHURN_RULE,
    MODEL_FORMAT,
    LogisticChurnModel,
    churn_features,
    churn_risk,
)

__all__ = [
    "ChurnDataset",
    "ChurnTraining",
    "build_dataset",
    "evaluate",
    "reliability_table",
    "split_of",
    "train_churn",
]

DAY_US = 86_400_000_000


def split_of(user: str, seed: int = 0) -> str:
    """``train`` (60 %), ``calibration`` (15 %) or ``holdout`` (25 %), stable per user."""
    h = int(hashlib.sha256(f"{seed}:{user}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "train" if h < 0.60 else "calibration" if h < 0.75 else "holdout"


@dataclass
class ChurnDataset:
    """Examples: users, cutoffs, signals (the worker's shape), features and labels."""

    users: list[str] = field(default_factory=list)
    cutoffs: list[int] = field(default_factory=list)
    signals: list[dict[str, Any]] = field(default_factory=list)
    x: list[list[float]] = field(default_factory=list)
    y: list[int] = field(default_factory=list)

    def subset(self, keep: Sequence[bool]) -> ChurnDataset:
        out = ChurnDataset()
        for i, k in enumerate(keep):
            if k:
                out.users.append(self.users[i])
                out.cutoffs.append(self.cutoffs[i])
                out.signals.append(self.signals[i])
                out.x.append(self.x[i])
                out.y.append(self.y[i])
        return out

    def __len__(self) -> int:
        return len(self.y)


def build_dataset(
    snapshot: Snapshot | Path | str, cutoffs: Sequence[int], horizon_days: float = 30.0
) -> ChurnDataset:
    """The examples of every cutoff (see the module docstring)."""
    snap = snapshot if isinstance(snapshot, Snapshot) else Snapshot.open(snapshot)
    if not cutoffs:
        raise SnapshotError("no cutoffs: give at least one event time to take examples at")
    data = ChurnDataset()
    for cutoff in cutoffs:
        labels = duckdb_labels(snap, cutoff, horizon_days)
        for row in duckdb_features(snap, cutoff):
            if row["subscription_status"] in (None, "cancelled"):
                continue
            sig = row_to_signals(row)
            data.users.append(row["user_id"])
            data.cutoffs.append(cutoff)
            data.signals.append(sig)
            data.x.append(churn_features(sig))
            data.y.append(labels.get(row["user_id"], 0))
    if not data.y:
        raise SnapshotError("the snapshot has no subscriber active at any cutoff")
    return data


def reliability_table(p: Sequence[float], y: Sequence[int], bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins of predicted risk: ``lo, hi, n, mean_predicted, observed``."""
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        idx = [i for i, v in enumerate(p) if lo <= v < hi or (b == bins - 1 and v == 1.0)]
        rows.append(
            {
                "lo": lo,
                "hi": hi,
                "n": len(idx),
                "mean_predicted": sum(p[i] for i in idx) / len(idx) if idx else None,
                "observed": sum(y[i] for i in idx) / len(idx) if idx else None,
            }
        )
    return rows


def evaluate(p: Sequence[float], y: Sequence[int]) -> dict[str, Any]:
    """AUC, Brier, log loss, base rate and the reliability table of predictions ``p``."""
    from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

    if len(set(y)) < 2:
        raise SnapshotError("the held-out examples hold only one class; AUC is undefined")
    eps = 1e-6
    clipped = [min(max(v, eps), 1 - eps) for v in p]
    return {
        "n": len(y),
        "positives": int(sum(y)),
        "base_rate": sum(y) / len(y),
        "auc": float(roc_auc_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
        "reliability": reliability_table(p, y),
    }


@dataclass
class ChurnTraining:
    """A trained model document and its held-out evaluation (and the rule's)."""

    model: dict[str, Any]
    metrics: dict[str, Any]

    def save(self, out: Path | str) -> Path:
        """Write ``churn.json`` and ``metrics.json`` into ``out`` (what the registry takes)."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "churn.json").write_text(json.dumps(self.model, indent=1), encoding="utf-8")
        (folder / "metrics.json").write_text(json.dumps(self.metrics, indent=1), encoding="utf-8")
        return folder


def train_churn(data: ChurnDataset, *, seed: int = 0, c: float = 1.0) -> ChurnTraining:
    """Fit, calibrate and evaluate (see the module docstring)."""
    import numpy as np
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    parts = [split_of(u, seed) for u in data.users]
    train = data.subset([s == "train" for s in parts])
    cal = data.subset([s == "calibration" for s in parts])
    hold = data.subset([s == "holdout" for s in parts])
    for name, part in (("train", train), ("calibration", cal), ("holdout", hold)):
        if len(set(part.y)) < 2:
            raise SnapshotError(
                f"the {name} subscribers' examples hold only one class ({len(part)} examples); "
                "simulate or collect more subscribers"
            )
    x = np.asarray(train.x, dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit((x - mean) / scale, np.asarray(train.y))
    doc: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "features": list(CHURN_FEATURES),
        "mean": mean.tolist(),
        "scale": scale.tolist(),
        "coef": clf.coef_[0].tolist(),
        "intercept": float(clf.intercept_[0]),
        "calibration": {"x": [0.0], "y": [0.0]},
    }
    raw = LogisticChurnModel(doc)
    z_cal = [raw.decision(v) for v in cal.x]
    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
    iso.fit(z_cal, cal.y)
    doc["calibration"] = {
        "x": [float(v) for v in iso.X_thresholds_],
        "y": [float(v) for v in iso.y_thresholds_],
    }
    model = LogisticChurnModel(doc)
    p_model = [model.score(s) for s in hold.signals]
    p_raw = [1.0 / (1.0 + math.exp(-raw.decision(v))) for v in hold.x]
    p_rule = [churn_risk(s) for s in hold.signals]
    metrics: dict[str, Any] = {
        "simulated": True,
        "examples": {"train": len(train), "calibration": len(cal), "holdout": len(hold)},
        "subscribers": {
            k: len(set(d.users))
            for k, d in (("train", train), ("calibration", cal), ("holdout", hold))
        },
        "model": evaluate(p_model, hold.y),
        "uncalibrated": evaluate(p_raw, hold.y),
        CHURN_RULE: evaluate(p_rule, hold.y),
        "coefficients": dict(zip(CHURN_FEATURES, doc["coef"], strict=True)),
    }
    return ChurnTraining(doc, metrics)


def default_cutoffs(
    snapshot: Snapshot | Path | str,
    horizon_days: float,
    step_days: float = 14.0,
    warmup_days: float = 42.0,
) -> list[int]:
    """Cutoffs every ``step_days`` from ``warmup_days`` after the first event to
    ``horizon_days`` before the last (so every label window is fully observed)."""
    from taste2vec.batch.features import snapshot_time_range

    lo, hi = snapshot_time_range(snapshot)
    out = []
    t = lo + int(warmup_days * DAY_US)
    while t + int(horizon_days * DAY_US) <= hi:
        out.append(t)
        t += int(step_days * DAY_US)
    if not out:
        raise SnapshotError(
            f"the snapshot spans {(hi - lo) / DAY_US:.1f} days: too short for a "
            f"{warmup_days:g}-day warm-up plus a {horizon_days:g}-day label window"
        )
    return out


def train_from_snapshot(
    snapshot: Snapshot | Path | str,
    out: Path | str,
    *,
    horizon_days: float = 30.0,
    seed: int = 0,
    registry: Any | None = None,
    promote: bool = False,
    actor: str = "cli",
) -> dict[str, Any]:
    """Train on a snapshot, write ``churn.json`` + ``metrics.json`` to ``out`` and, with a
    ``registry`` (:class:`taste2vec.registry.churn.ChurnRegistry`), register the model;
    ``promote`` then makes it champion, only if it beats rule-v1 on the held-out
    subscribers (AUC and Brier; the evidence is logged with the move)."""
    cutoffs = default_cutoffs(snapshot, horizon_days)
    data = build_dataset(snapshot, cutoffs, horizon_days)
    trained = train_churn(data, seed=seed)
    folder = trained.save(out)
    m = trained.metrics
    summary: dict[str, Any] = {
        "model_dir": str(folder),
        "examples": m["examples"],
        "auc": m["model"]["auc"],
        "brier": m["model"]["brier"],
        "rule_auc": m[CHURN_RULE]["auc"],
        "rule_brier": m[CHURN_RULE]["brier"],
        "version": None,
        "promoted": False,
    }
    if registry is None:
        return summary
    info, created = registry.register(folder, actor=actor, description="churn model")
    summary["version"], summary["created"] = info.version, created
    if promote:
        better = (
            m["model"]["auc"] > m[CHURN_RULE]["auc"]
            and m["model"]["brier"] < m[CHURN_RULE]["brier"]
        )
        if not better:
            summary["refused"] = "the model does not beat rule-v1 on held-out subscribers"
            return summary
        evidence = {k: summary[k] for k in ("auc", "brier", "rule_auc", "rule_brier")}
        registry.promote(
            info.version,
            actor=actor,
            reason="beats rule-v1 on held-out subscribers",
            evidence=evidence,
        )
        summary["promoted"] = True
    return summary
