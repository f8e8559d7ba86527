"""``OnlineLearner``: fine-tune a copy of the live model from feedback, gate it, hot-swap it.

The slow path of online learning (the instant path updates taste vectors in closed form):

1. :meth:`OnlineLearner.observe` puts a reaction in the :class:`ReplayBuffer` (reactions
   held out for validation, and coffees outside the catalogue, are refused and counted).
2. :meth:`OnlineLearner.step` takes ``steps_per_update`` AdamW steps of the preference loss
   (:mod:`taste2vec.learning.objective`) on a fresh batch: the reactions that arrived since
   the last step and, once the buffer holds more than ``replay_after`` items (the seed's
   100), as many replayed ones, so the model keeps what it learned (no forgetting). It
   trains a private **copy** of the live weights (:meth:`candidate`); the live model is
   never touched.
3. :meth:`OnlineLearner.promote` is the gate. The candidate is swapped in (through the
   :class:`ModelHolder`, conditional on the live version it was compared with) only when,
   on the fixed :class:`ValidationSet` (:meth:`evaluate`), its AUC is finite and
   **strictly** higher than the live model's (plus ``min_improvement``), the paired
   per-user gain is at least ``gate_z`` standard errors (default 1), **and** its content
   loss (the pre-training objective on the catalogue: meaning and explanation heads) is at
   most ``1 + content_tolerance`` times the live one. A tie keeps the live model; a model
   worse on validation is never swapped in. The content guard matters: the ranking AUC
   of the closed-form user vector barely moves under random weight noise (a random
   perturbation keeps most of the geometry), so ranking alone cannot tell a corrupted
   model from a good one; its explanation heads can.
   A rejected candidate keeps training; once it has scored below the live model at
   ``reset_after`` gates in a row it is thrown away and the next step starts again from
   the live weights.
4. **Publishing** (optional, ``publish``): a candidate that passed the gate is handed to
   the ``publish`` hook first (the service registers it as a model registry version,
   ``taste2vec.registry.learner``). The hook's :class:`Publication` says whether the
   learner then swaps it in here (policy ``promote`` with a model directory) or not (it
   serves through an experiment, or the registry follower loads it). A hook that raises
   keeps the live model, is counted (``publish_failures``), and the candidate goes on
   training.

Only the Taste2Vec network is copied and trained; the frozen text encoder, lexicon, scaler
and vocabulary are shared, read-only, by every version.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from taste2vec.learning.holder import ModelHolder
from taste2vec.learning.objective import (
    CatalogueIndex,
    ObjectiveConfig,
    build_pairs,
    preference_loss,
)
from taste2vec.learning.replay import ReplayBuffer
from taste2vec.learning.validation import CompiledValidation, RankingScore, ValidationSet
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee, Feedback

__all__ = [
    "GateDecision",
    "LearnerConfig",
    "LearnerStats",
    "OnlineLearner",
    "Publication",
    "Publisher",
    "StepResult",
    "clone_model",
    "paired_z",
]


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads in this thread (None: unchanged)."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def clone_model(model: Taste2Vec) -> Taste2Vec:
    """A copy with its own network weights; the frozen parts are shared, read-only."""
    return Taste2Vec(
        copy.deepcopy(model.net),
        model.scaler,
        model.lexicon,
        model.text_encoder,
        model.vocab,
        info=copy.deepcopy(model.info),
    )


@dataclass(frozen=True)
class LearnerConfig:
    """Knobs of the slow path (``lr`` is also an argument of :class:`OnlineLearner`)."""

    lr: float = 1e-4
    weight_decay: float = 0.0  # decay towards 0 would erode the pretrained weights
    steps_per_update: int = 3
    batch_size: int = 64  # target reactions per update, recent and replayed together
    replay_after: int = 100  # replay once the buffer holds more than this (the seed's 100)
    replay_capacity: int = 10_000
    max_recent: int = 1_000  # reactions waiting for the next update (all stay in the buffer)
    grad_clip: float = 1.0
    # Weight of the pre-training objective replayed on the catalogue. 0.01 with the
    # preference loss at temperature 1 keeps the balance 0.1 had at temperature 0.1 (the
    # preference gradient scales with 1/temperature); docs/model.md, online learner.
    content_weight: float = 0.01
    # Coffees the content term sees per training step: a fresh uniform sample when the
    # catalogue is larger (the trainer's own objective is a mini-batch one too), so a
    # step's memory and time do not grow with the catalogue (the contrastive term is
    # quadratic in its batch: 10k coffees took about 800 MB per step).
    content_batch: int = 512
    # Coffees the gate's content guard compares the live model and the candidate on: a
    # fixed sample (the same for both, drawn once per catalogue) when it is larger.
    gate_content_rows: int = 2048
    # The gate: candidate AUC > live AUC + min_improvement, a paired per-user gain of at
    # least gate_z standard errors, and a content loss at most (1 + content_tolerance) x live.
    min_improvement: float = 0.0
    gate_z: float = 1.0
    content_tolerance: float = 0.02
    reset_after: int = 5  # gates in a row with the candidate below live before it restarts
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    seed: int = 0
    # torch intra-op threads while training and evaluating (restored afterwards; the
    # setting is per calling thread). One keeps the learner off the API's cores and makes
    # updates bit-for-bit reproducible; None leaves the caller's setting alone.
    torch_threads: int | None = 1


@dataclass(frozen=True)
class StepResult:
    """What one :meth:`OnlineLearner.step` did."""

    loss_first: float  # preference loss at the first AdamW step (before any update)
    loss_last: float  # preference loss at the last AdamW step (content term excluded)
    targets: int
    recent: int
    replayed: int
    pairs: int


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Publication:
    """What a ``publish`` hook did with a candidate that passed the gate."""

    version: str  # where it went, e.g. the model registry's version number
    alias: str | None = None  # the alias it now has (challenger, champion), if any
    swap: bool = False  # True: the learner swaps it into its holder (serves it here)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict on one candidate."""

    promoted: bool  # swapped into the holder (served by this process)
    reason: str
    live: RankingScore
    candidate: RankingScore
    version: int  # the live version after the decision
    live_content: float = math.nan  # content loss of the live model
    candidate_content: float = math.nan  # ... and of the candidate
    published: Publication | None = None  # what the publish hook did, when it ran

    @property
    def passed(self) -> bool:
        """Whether the candidate passed the gate (promoted here, or published)."""
        return self.promoted or self.published is not None

    def evidence(self) -> dict[str, float | int | str]:
        """The gate's figures as flat JSON (registry metrics, audit log evidence)."""
        return {
            "gate_reason": self.reason,
            "live_auc": self.live.auc,
            "candidate_auc": self.candidate.auc,
            "auc_gain": self.candidate.auc - self.live.auc,
            "paired_z": paired_z(self.candidate, self.live),
            "validation_users": self.candidate.users,
            "live_content_loss": self.live_content,
            "candidate_content_loss": self.candidate_content,
        }


#: ``publish(candidate, draft decision, learner) -> Publication``; raises when it failed.
Publisher = Callable[[Taste2Vec, GateDecision, "OnlineLearner"], Publication]


@dataclass
class LearnerStats:
    """Counters, for logs and metrics."""

    observed: int = 0
    refused_held_out: int = 0
    refused_unknown_coffee: int = 0
    duplicates: int = 0
    steps: int = 0
    empty_steps: int = 0
    promotions: int = 0
    rejections: int = 0
    resets: int = 0
    publications: int = 0
    publish_failures: int = 0


def paired_z(candidate: RankingScore, live: RankingScore) -> float:
    """Mean per-user AUC gain over its standard error (inf when every user gains the same)."""
    diff = np.asarray(candidate.per_user) - np.asarray(live.per_user)
    if diff.size < 2:
        return math.inf if diff.size and diff.mean() > 0 else 0.0
    se = float(diff.std(ddof=1)) / math.sqrt(diff.size)
    mean = float(diff.mean())
    return mean / se if se > 0 else (math.inf if mean > 0 else 0.0)


class OnlineLearner:
    """The slow path (see the module docstring). Safe to ``observe`` from any thread.

    ``model`` is the live model, or a :class:`ModelHolder` the service already reads from;
    ``lr`` (default :attr:`LearnerConfig.lr`, 1e-4) overrides the config's learning rate.
    ``step``, ``promote`` and ``evaluate`` are meant for one thread (the background one).
    ``publish`` is the hook a candidate that passed the gate goes through (module docstring).
    """

    def __init__(
        self,
        model: Taste2Vec | ModelHolder,
        catalogue: Sequence[Coffee],
        validation: ValidationSet,
        lr: float | None = None,
        *,
        config: LearnerConfig | None = None,
        buffer: ReplayBuffer | None = None,
        publish: Publisher | None = None,
    ) -> None:
        config = config or LearnerConfig()
        self.publish = publish
        self.config = config if lr is None else replace(config, lr=lr)
        self.holder = model if isinstance(model, ModelHolder) else ModelHolder(model)
        self.validation = validation
        self.buffer = buffer or ReplayBuffer(self.config.replay_capacity, seed=self.config.seed)
        self.stats = LearnerStats()
        self._catalogue = tuple(catalogue)
        self._rng = np.random.default_rng([self.config.seed, 0x1EA])
        self._lock = threading.Lock()  # guards the buffer and the pending queue
        self._pending: deque[Feedback] = deque(maxlen=self.config.max_recent)
        self._work: Taste2Vec | None = None
        self._work_base = -1
        self._opt: torch.optim.Optimizer | None = None
        self._worse_in_a_row = 0
        self._gate_rows: torch.Tensor | None = None  # set by _build_index
        self._index, self._compiled, self._frozen_parts = self._build_index(self.holder.get())

    # ------------------------------------------------------------------ catalogue
    def _build_index(
        self, model: Taste2Vec
    ) -> tuple[CatalogueIndex, CompiledValidation, tuple[object, ...]]:
        index = CatalogueIndex(model, self._catalogue)
        n, keep = len(index), self.config.gate_content_rows
        # The gate's fixed sample: its own generator, so the training draws do not move it.
        self._gate_rows = (
            None
            if n <= keep
            else torch.from_numpy(np.sort(np.random.default_rng(0).choice(n, keep, replace=False)))
        )
        parts = (model.scaler, model.vocab, model.lexicon, model.text_encoder)
        return index, self.validation.compile(index.row), parts

    def _sync_index(self, live: Taste2Vec) -> None:
        """Re-featurise the catalogue if the live model's frozen parts changed (a reload)."""
        parts = (live.scaler, live.vocab, live.lexicon, live.text_encoder)
        if any(a is not b for a, b in zip(parts, self._frozen_parts, strict=True)):
            self._index, self._compiled, self._frozen_parts = self._build_index(live)
            self.reset()

    # ------------------------------------------------------------------ feedback
    def observe(self, feedback: Feedback) -> bool:
        """Add one reaction to the buffer; False when it is refused or a duplicate."""
        if feedback.id in self.validation.held_out_ids:
            self.stats.refused_held_out += 1
            return False
        if feedback.coffee not in self._index.row:
            self.stats.refused_unknown_coffee += 1
            return False
        with self._lock:
            if not self.buffer.add(feedback):
                self.stats.duplicates += 1
                return False
            self._pending.append(feedback)
            self.stats.observed += 1
        return True

    def data_fingerprint(self) -> str:
        """SHA-256 of the sorted ids of the reactions in the replay buffer (what a
        candidate was trained on, as far as the buffer still holds it)."""
        with self._lock:
            ids = sorted(fb.id for fb in self.buffer.items())
        digest = hashlib.sha256()
        for fid in ids:
            digest.update(fid.encode())
            digest.update(b"\n")
        return digest.hexdigest()

    @property
    def pending(self) -> int:
        """Reactions observed since the last step."""
        return len(self._pending)

    def _next_batch(self) -> tuple[list[Feedback], int, dict[str, list[Feedback]]]:
        """Targets (recent first, then replayed), how many are recent, and histories."""
        cfg = self.config
        with self._lock:
            replay = len(self.buffer) > cfg.replay_after
            n_recent = min(len(self._pending), cfg.batch_size // 2 if replay else cfg.batch_size)
            recent = [self._pending.pop() for _ in range(n_recent)]  # newest first
            self._pending.clear()
            replayed: list[Feedback] = []
            if replay:
                ids = {fb.id for fb in recent}
                drawn = self.buffer.sample(cfg.batch_size, self._rng)
                replayed = [fb for fb in drawn if fb.id not in ids][: cfg.batch_size - n_recent]
            targets = recent + replayed
            histories = {fb.user: self.buffer.user_items(fb.user) for fb in targets}
        return targets, n_recent, histories

    # ------------------------------------------------------------------ training
    def candidate(self) -> Taste2Vec:
        """The working copy being trained (made from the live weights when there is none)."""
        snap = self.holder.snapshot()
        self._sync_index(snap.model)
        if self._work is None:
            self._work = clone_model(snap.model)
            self._work_base = snap.version
            self._opt = torch.optim.AdamW(
                self._work.net.parameters(),
                lr=self.config.lr,
                weight_decay=self.config.weight_decay,
            )
        return self._work

    def reset(self) -> None:
        """Throw the working copy away; the next step starts from the live weights."""
        self._work, self._opt, self._work_base = None, None, -1
        self._worse_in_a_row = 0

    def step(self) -> StepResult | None:
        """A few AdamW steps on a fresh batch; None when the batch gives no pair to learn."""
        targets, n_recent, histories = self._next_batch()
        cfg = self.config
        if not targets:
            self.stats.empty_steps += 1
            return None
        work = self.candidate()
        with torch_threads(cfg.torch_threads):
            losses, n_pairs = self._train(work, targets, histories)
        if not losses:
            self.stats.empty_steps += 1
            return None
        self.stats.steps += 1
        return StepResult(
            losses[0], losses[-1], len(targets), n_recent, len(targets) - n_recent, n_pairs
        )

    def _train(
        self, work: Taste2Vec, targets: list[Feedback], histories: dict[str, list[Feedback]]
    ) -> tuple[list[float], int]:
        """``steps_per_update`` AdamW steps on ``work``; the losses and the last pair count."""
        cfg = self.config
        assert self._opt is not None  # noqa: S101 - set by candidate()
        losses: list[float] = []
        n_pairs = 0
        for _ in range(cfg.steps_per_update):
            pairs = build_pairs(targets, histories, self._index.row, self._rng, cfg.objective)
            if pairs is None:
                break
            rows, local = pairs.compact()
            emb = self._index.embed(work.net, rows)
            loss = preference_loss(emb, local, cfg.objective.temperature)
            total = loss
            if cfg.content_weight > 0:
                sample = self._content_sample(cfg.content_batch)
                total = total + cfg.content_weight * self._index.content_loss(work, sample)
            self._opt.zero_grad()
            total.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(work.net.parameters(), cfg.grad_clip)
            self._opt.step()
            losses.append(float(loss.detach()))
            n_pairs = len(pairs)
        return losses, n_pairs

    # ------------------------------------------------------------------ the gate
    @property
    def catalogue_ids(self) -> tuple[str, ...]:
        """The catalogue coffee ids, in the row order of the embeddings."""
        return self._index.ids

    def compile(self, validation: ValidationSet) -> CompiledValidation:
        """Another validation set against this learner's catalogue (for :meth:`evaluate`)."""
        return validation.compile(self._index.row)

    @torch.inference_mode()
    def embeddings(self, weights: Taste2Vec | torch.nn.Module) -> np.ndarray:
        """``(n coffees, 128)`` catalogue embeddings of a model, rows as :attr:`catalogue_ids`."""
        net = weights.net if isinstance(weights, Taste2Vec) else weights
        with torch_threads(self.config.torch_threads):
            out: np.ndarray = self._index.embed(net).numpy()
        return out

    def evaluate(
        self, weights: Taste2Vec | torch.nn.Module, on: CompiledValidation | None = None
    ) -> RankingScore:
        """The metric of a model (or a bare network) on the fixed validation set (or ``on``)."""
        return (on or self._compiled).score(self.embeddings(weights))

    @torch.no_grad()
    def content_loss(self, weights: Taste2Vec) -> float:
        """The pre-training objective on the catalogue (lower is better; the gate's guard)."""
        with torch_threads(self.config.torch_threads):
            return float(self._index.content_loss(weights, self._gate_rows))

    def _content_sample(self, size: int) -> torch.Tensor | None:
        """A uniform sample of ``size`` catalogue rows (sorted), or None (every row) when the
        catalogue is not larger; no random draw then, so small catalogues train as before."""
        n = len(self._index)
        if n <= size:
            return None
        return torch.from_numpy(np.sort(self._rng.choice(n, size=size, replace=False)))

    def _verdict(
        self, live: RankingScore, cand: RankingScore, live_content: float, cand_content: float
    ) -> str | None:
        """Why the candidate must not be promoted, or None when it may."""
        cfg = self.config
        if not (math.isfinite(cand.auc) and math.isfinite(cand_content)):
            return "candidate score is not finite"
        if math.isfinite(live.auc):
            if cand.auc == live.auc:
                return "tie: the live model stays"
            if cand.auc <= live.auc + cfg.min_improvement:
                return "not better than the live model"
            if paired_z(cand, live) < cfg.gate_z:
                return f"gain below {cfg.gate_z:g} standard errors"
        if math.isfinite(live_content) and cand_content > live_content * (
            1 + cfg.content_tolerance
        ):
            return "content loss (meaning, explanation heads) got worse"
        return None

    def promote(self, candidate: Taste2Vec | None = None) -> GateDecision:
        """Swap ``candidate`` (default: the working copy) in only if it beats the live model.

        An outside ``candidate`` must not be modified after it is promoted.
        """
        own = candidate is None
        snap = self.holder.snapshot()
        self._sync_index(snap.model)
        model = self._work if own else candidate
        live_score = self.evaluate(snap.model)
        live_content = self.content_loss(snap.model)
        if model is None:
            return GateDecision(
                False, "no candidate", live_score, live_score, snap.version, live_content
            )
        if own and self._work_base != snap.version:
            self.reset()
            stale = "the live model changed while the candidate trained"
            return GateDecision(False, stale, live_score, live_score, snap.version, live_content)
        score, content = self.evaluate(model), self.content_loss(model)
        reason = self._verdict(live_score, score, live_content, content)
        publication: Publication | None = None
        if reason is None and self.publish is not None:
            draft = GateDecision(
                False, "passed the gate", live_score, score, snap.version, live_content, content
            )
            try:
                publication = self.publish(model, draft, self)
            except Exception as exc:
                self.stats.publish_failures += 1
                log.exception("publishing a candidate that passed the gate failed")
                reason = f"passed the gate, but publishing it failed: {type(exc).__name__}: {exc}"
            else:
                self.stats.publications += 1
                if not publication.swap:
                    if own:
                        self.reset()  # published: the next candidate starts from live
                    where = f" as {publication.alias}" if publication.alias else ""
                    return GateDecision(
                        False,
                        f"published as version {publication.version}{where}; not served here",
                        live_score,
                        score,
                        snap.version,
                        live_content,
                        content,
                        publication,
                    )
        if reason is None:
            version = self.holder.swap(model, expected_version=snap.version)
            if version is not None:
                self.stats.promotions += 1
                if own:
                    self.reset()  # the published copy must never be trained again
                return GateDecision(
                    True, "better", live_score, score, version, live_content, content, publication
                )
            reason = "the live model changed during the evaluation"
        self.stats.rejections += 1
        if own:  # keep training a promising candidate; restart one that stays worse
            below = not (score.auc >= live_score.auc)  # NaN counts as below
            self._worse_in_a_row = self._worse_in_a_row + 1 if below else 0
            if self._worse_in_a_row >= self.config.reset_after or not math.isfinite(score.auc):
                self.stats.resets += 1
                self.reset()
        return GateDecision(
            False,
            reason,
            live_score,
            score,
            self.holder.version,
            live_content,
            content,
            publication,
        )
