"""The online learner's candidates go into the model registry (``T2V_LEARNER_POLICY``).

Every candidate that passes the learner's gate (:mod:`taste2vec.learning.learner`) is
saved as a model directory and registered as a version, with

* ``data.json``: a training data fingerprint that chains the base model's own fingerprint
  with the SHA-256 of the reaction ids the learner's replay buffer holds
  (``base_data_fingerprint``, ``feedback_fingerprint``, counts);
* ``metrics.json``: the gate's evaluation (``online_gate.*``: live and candidate AUC on the
  fixed validation set, their paired z, content losses), which become the run's metrics;
* ``embedding_stats.json``: the candidate's embeddings of the catalogue it was tuned on
  (centroid, spread, norms), the reference of its drift metrics
  (``taste2vec.service.monitoring``);

then, by policy:

* ``experiment`` (the default): the ``challenger`` alias moves to it (audited, actor
  ``online-learner``, the gate's figures as evidence). Nothing changes what is served:
  an experiment (the experiments controller) picks the challenger up;
* ``promote``: the ``champion`` alias moves to it (audited). With a registry model source
  every replica's follower loads it; with a model directory the learner's own process
  swaps it in (``swap_on_promote``);
* ``off``: no publisher at all; the learner swaps a candidate into its own process only,
  as before the registry (single process, lost at restart).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from taste2vec.learning.learner import GateDecision, Publication
from taste2vec.model.artifact import read_json
from taste2vec.model.reference import EMBEDDING_STATS, embedding_stats
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.registry.core import CHALLENGER, CHAMPION, ModelRegistry, VersionInfo

if TYPE_CHECKING:
    from taste2vec.learning.learner import OnlineLearner

__all__ = ["LEARNER_ACTOR", "LearnerPolicy", "RegistryPublisher", "register_candidate"]

log = logging.getLogger(__name__)

LearnerPolicy = Literal["experiment", "promote", "off"]
LEARNER_ACTOR = "online-learner"


def register_candidate(
    registry: ModelRegistry,
    model_dir: Path,
    *,
    alias: str,
    actor: str,
    description: str,
    reason: str,
    evidence: dict[str, Any],
) -> tuple[VersionInfo, bool]:
    """Register a candidate's model directory and point ``alias`` at it (audited, with
    ``evidence``): the one path by which automatic jobs (the online learner, the batch
    retraining job) hand a model to the registry. Returns (version, created)."""
    info, created = registry.register(model_dir, actor=actor, description=description)
    registry.promote(
        info.version,
        alias=alias,
        actor=actor,
        reason=reason,
        evidence={**evidence, "weights_version": info.weights_version, "created": created},
    )
    return info, created


class RegistryPublisher:
    """The learner's ``publish`` hook for a registry (see the module docstring)."""

    def __init__(
        self,
        registry: ModelRegistry,
        policy: LearnerPolicy = "experiment",
        *,
        base_dir: Callable[[], Path | None] | None = None,
        swap_on_promote: bool = True,
        actor: str = LEARNER_ACTOR,
    ) -> None:
        if policy not in ("experiment", "promote"):
            raise ValueError(f"no registry publisher for learner policy {policy!r}")
        self.registry = registry
        self.policy = policy
        self.alias = CHALLENGER if policy == "experiment" else CHAMPION
        self.base_dir = base_dir
        self.swap_on_promote = swap_on_promote
        self.actor = actor
        self.published: list[str] = []  # registry versions, oldest first

    def _base_data(self) -> dict[str, Any]:
        path = self.base_dir() if self.base_dir is not None else None
        data_path = None if path is None else Path(path) / "data.json"
        if data_path is None or not data_path.is_file():
            return {}
        data = read_json(data_path)
        return data if isinstance(data, dict) else {}

    def __call__(
        self, model: Taste2Vec, decision: GateDecision, learner: OnlineLearner
    ) -> Publication:
        base = self._base_data()
        base_fp = str(base.get("fingerprint", ""))
        feedback_fp = learner.data_fingerprint()
        data_info = {
            "fingerprint": hashlib.sha256(f"{base_fp}\n{feedback_fp}".encode()).hexdigest(),
            "source": "online-learner",
            "base_data_fingerprint": base_fp,
            "feedback_fingerprint": feedback_fp,
            "feedback_in_buffer": len(learner.buffer),
            "feedback_observed": learner.stats.observed,
            "validation_users": decision.candidate.users,
        }
        # JSON has no NaN or infinity (the audit log refuses them): such figures are null.
        evidence: dict[str, Any] = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in decision.evidence().items()
        }
        numeric = {k: float(v) for k, v in evidence.items() if isinstance(v, int | float)}
        metrics = {"online_gate": numeric}
        with tempfile.TemporaryDirectory(prefix="t2v-learner-") as tmp:
            out = Path(tmp) / "model"
            model.save(out, data_info, metrics)
            # the drift reference: its embeddings of the catalogue it was tuned on
            stats = embedding_stats(learner.embeddings(model))
            (out / EMBEDDING_STATS).write_text(json.dumps(stats, indent=1) + "\n")
            info, _ = register_candidate(
                self.registry,
                out,
                alias=self.alias,
                actor=self.actor,
                description=(
                    f"online learner candidate: validation AUC {decision.live.auc:.4f} -> "
                    f"{decision.candidate.auc:.4f}"
                ),
                reason=f"online learner gate passed (policy {self.policy})",
                evidence=evidence,
            )
        self.published.append(info.version)
        log.info(
            "online learner candidate registered as %s version %s and set as %s",
            self.registry.name,
            info.version,
            self.alias,
        )
        return Publication(
            info.version,
            self.alias,
            swap=self.policy == "promote" and self.swap_on_promote,
        )
