"""Does online learning teach the model anything? Measured on SIMULATED subscribers.

:func:`measure_personalisation` runs the whole slow path end to end, deterministically
under ``config.seed``:

1. ``n_users`` simulated subscribers (:mod:`taste2vec.sim.subscribers`) each react to
   ``feedback_per_user`` coffees of the catalogue, in their own random order.
2. Each user's reactions are split in time: the oldest form the **stream** the learner
   sees, the next ``validation_share`` are the gate's :class:`ValidationSet`, the newest
   ``test_share`` are a **test** slice nobody trains or selects on. Both held-out slices are
   scored with the stream as the user's context.
3. The stream is fed, in time order, to an :class:`OnlineLearner` on a copy of the
   starting model: an update every ``update_every`` reactions, the gate every
   ``gate_every`` updates.
4. The report compares the starting and the final live model on the validation and the
   test slice (the test slice is the honest number: the gate selected on validation), and
   gives the same metric for the simulator's noiseless utility (``oracle``: the best any
   model can do with these held-out labels) and for random scores. It adds a
   **ground-truth** AUC (the hidden top-10 % coffees against the rest, over coffees the
   user never reacted to, :func:`_truth_auc`), which has no label noise, and the content
   loss (meaning and explanation heads) before and after.
5. Two deliberately broken candidates go through the gate and must be rejected: the
   final weights with Gaussian noise (``noise_scale`` x each tensor's standard deviation)
   and a candidate trained with ``lr=10``.

What to expect (``python -m taste2vec.sim.learning.measure --model artifacts/model``, the
format-2 model of 2026-12-04 without the descriptor block, demo catalogue, defaults,
seeds 7/1/2/3): 3-4 promotions; validation AUC about +0.013 (seed 7; selected on, so
optimistic); test AUC +0.002/+0.004/-0.004/+0.010 (0.5, 1.1, -1.0, 2.1 paired standard
errors); ground-truth AUC +0.010/+0.010/+0.018/+0.018; content loss down; both broken
candidates rejected. With the preference loss at the old temperature 0.1 (content weight
0.1) the same runs gave test +0.005/+0.002/+0.005/+0.009 but ground truth
+0.021/-0.010/+0.005/+0.013 (docs/model.md, online learner). The gains are small because
the headroom is: with held-out labels this noisy the oracle reaches only about 0.67, and
even an embedding built from the true utilities of 1,000 other simulated people gains
only about 0.01 test AUC over the trained model under the same closed-form user vector.

Every number is on SIMULATED subscribers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from taste2vec.learning.holder import ModelHolder
from taste2vec.learning.learner import (
    GateDecision,
    LearnerConfig,
    OnlineLearner,
    clone_model,
    paired_z,
)
from taste2vec.learning.objective import latest_preferences
from taste2vec.learning.validation import RankingScore, ValidationSet, pairwise_auc
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee, Feedback
from taste2vec.sim.subscribers import (
    HarnessConfig,
    SimCatalogue,
    SimulatedSubscriber,
    catalogue_from_coffees,
    make_subscribers,
    relevant_items,
    reveal_feedback,
)

__all__ = [
    "PersonalisationConfig",
    "PersonalisationReport",
    "measure_personalisation",
    "noisy_copy",
]


@dataclass(frozen=True)
class PersonalisationConfig:
    """Knobs of :func:`measure_personalisation`."""

    n_users: int = 300
    feedback_per_user: int = 40
    validation_share: float = 0.2
    test_share: float = 0.2
    update_every: int = 64  # reactions between updates
    gate_every: int = 4  # updates between gate runs
    noise_scale: float = 1.0
    seed: int = 7
    # 3e-4 rather than the learner's default 1e-4: at 1e-4 some seeds never pass the gate
    # within one stream of this size (see docs in the module and the report).
    learner: LearnerConfig = field(default_factory=lambda: LearnerConfig(lr=3e-4))


@dataclass(frozen=True)
class PersonalisationReport:
    """What :func:`measure_personalisation` found. SIMULATED subscribers."""

    config: PersonalisationConfig
    stream: int  # reactions the learner saw
    start_validation: RankingScore
    end_validation: RankingScore
    start_test: RankingScore
    end_test: RankingScore
    oracle_test: RankingScore
    random_test: RankingScore
    start_truth: float
    end_truth: float
    start_content: float
    end_content: float
    updates: int
    promotions: int
    rejections: int
    noisy_gate: GateDecision
    lr10_gate: GateDecision
    seconds: float

    @property
    def test_gain(self) -> float:
        """End minus start test AUC."""
        return self.end_test.auc - self.start_test.auc

    @property
    def test_gain_z(self) -> float:
        """The test gain over its standard error (paired per user)."""
        return paired_z(self.end_test, self.start_test)

    def to_markdown(self) -> str:
        """The report as a markdown table (SIMULATED subscribers)."""
        rows = [
            ("start, validation", self.start_validation),
            ("end, validation", self.end_validation),
            ("start, test", self.start_test),
            ("end, test", self.end_test),
            ("oracle (true utility), test", self.oracle_test),
            ("random scores, test", self.random_test),
        ]
        lines = [
            f"SIMULATED subscribers: {self.config.n_users} users x "
            f"{self.config.feedback_per_user} reactions, {self.stream} streamed, "
            f"{self.updates} updates, {self.promotions} promotions, "
            f"{self.rejections} rejections, {self.seconds:.1f} s",
            "",
            f"Test gain {self.test_gain:+.4f} AUC ({self.test_gain_z:.1f} standard errors, "
            "paired per user)",
            "",
            f"Ground truth (hidden top-10% coffees vs the rest, unseen only): "
            f"start {self.start_truth:.4f}, end {self.end_truth:.4f}",
            "",
            f"Content loss on the catalogue (meaning, explanation heads; lower is better): "
            f"start {self.start_content:.4f}, end {self.end_content:.4f}",
            "",
            "| model, slice | AUC | AUC vs disliked | AUC vs unseen | users |",
            "|---|---|---|---|---|",
        ]
        for name, s in rows:
            lines.append(
                f"| {name} | {s.auc:.4f} | {s.auc_disliked:.4f} | {s.auc_unseen:.4f} | {s.users} |"
            )
        for name, d in (("noisy weights", self.noisy_gate), ("lr=10", self.lr10_gate)):
            lines.append(
                f"\nGate on {name}: AUC live {d.live.auc:.4f}, candidate {d.candidate.auc:.4f}; "
                f"content loss live {d.live_content:.3f}, candidate {d.candidate_content:.3g}: "
                f"{'PROMOTED' if d.promoted else 'rejected'} ({d.reason})"
            )
        return "\n".join(lines)


def noisy_copy(model: Taste2Vec, scale: float, seed: int = 0) -> Taste2Vec:
    """A copy whose every float weight gets Gaussian noise of ``scale`` x its std."""
    out = clone_model(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in out.net.parameters():
            std = float(p.std()) if p.numel() > 1 else float(p.abs().mean())
            p.add_(torch.randn(p.shape, generator=gen) * scale * max(std, 1e-3))
    return out


def _split(
    events: Sequence[Sequence[Feedback]], validation_share: float, test_share: float
) -> tuple[
    list[Feedback], dict[str, list[Feedback]], dict[str, list[Feedback]], dict[str, list[Feedback]]
]:
    stream: list[Feedback] = []
    context: dict[str, list[Feedback]] = {}
    val: dict[str, list[Feedback]] = {}
    test: dict[str, list[Feedback]] = {}
    for items in events:
        items = sorted(items, key=lambda fb: (fb.timestamp, fb.id))
        n = len(items)
        n_test = max(1, round(test_share * n))
        n_val = max(1, round(validation_share * n))
        n_ctx = n - n_test - n_val
        if n_ctx < 1:
            continue
        user = items[0].user
        context[user] = items[:n_ctx]
        val[user] = items[n_ctx : n_ctx + n_val]
        test[user] = items[n_ctx + n_val :]
        stream += items[:n_ctx]
    stream.sort(key=lambda fb: (fb.timestamp, fb.id))
    return stream, context, val, test


def _oracle_scores(
    subscribers: Sequence[SimulatedSubscriber], catalogue: SimCatalogue, test: ValidationSet
) -> tuple[RankingScore, RankingScore]:
    """The test metric for the noiseless utilities, and for random scores (same pairs)."""
    row = {cid: i for i, cid in enumerate(catalogue.ids)}
    by_id = {s.user_id: s for s in subscribers}
    rng = np.random.default_rng(0)
    results: dict[str, list[list[float]]] = {"oracle": [[], [], []], "random": [[], [], []]}
    for user, held in test.held_out.items():
        ctx = latest_preferences(test.context.get(user, ()), row)
        target = latest_preferences(held, row)
        pos = [r for r, p in target.items() if p > 0 and r not in ctx]
        dis = [r for r, p in target.items() if p < 0 and r not in ctx]
        uns = [r for r in range(len(row)) if r not in ctx and r not in target]
        if not pos or not (dis or uns) or not any(p != 0 for p in ctx.values()):
            continue
        for name, scores in (
            ("oracle", by_id[user].true_utilities(catalogue)),
            ("random", rng.random(len(row))),
        ):
            results[name][0].append(pairwise_auc(scores[pos], scores[dis + uns]))
            if dis:
                results[name][1].append(pairwise_auc(scores[pos], scores[dis]))
            if uns:
                results[name][2].append(pairwise_auc(scores[pos], scores[uns]))

    def pack(parts: list[list[float]]) -> RankingScore:
        means = [float(np.mean(p)) if p else float("nan") for p in parts]
        return RankingScore(means[0], means[1], means[2], len(parts[0]))

    return pack(results["oracle"]), pack(results["random"])


def _truth_auc(
    embeddings: np.ndarray,
    subscribers: Sequence[SimulatedSubscriber],
    catalogue: SimCatalogue,
    context: dict[str, list[Feedback]],
) -> float:
    """Mean per-user AUC of the hidden relevant coffees against the rest, unseen only.

    The labels are the simulator's noiseless ground truth
    (:func:`~taste2vec.sim.subscribers.relevant_items`), so this is far less noisy than held-out
    feedback; the user vector is the same closed form, built from the user's context.
    """
    row = {cid: i for i, cid in enumerate(catalogue.ids)}
    aucs = []
    for person in subscribers:
        ctx = latest_preferences(context.get(person.user_id, ()), row)
        if not any(p != 0 for p in ctx.values()):
            continue
        vec = np.asarray(list(ctx.values())) @ embeddings[list(ctx)]
        scores = embeddings @ (vec / max(float(np.linalg.norm(vec)), 1e-12))
        good = {row[c] for c in relevant_items(person, catalogue)}
        pos = [r for r in range(len(row)) if r in good and r not in ctx]
        neg = [r for r in range(len(row)) if r not in good and r not in ctx]
        if pos and neg:
            aucs.append(pairwise_auc(scores[pos], scores[neg]))
    return float(np.mean(aucs)) if aucs else float("nan")


def measure_personalisation(
    model: Taste2Vec,
    coffees: Sequence[Coffee],
    config: PersonalisationConfig | None = None,
) -> PersonalisationReport:
    """Run the protocol of the module docstring; ``model`` itself is never modified."""
    cfg = config or PersonalisationConfig()
    started = time.perf_counter()
    catalogue = catalogue_from_coffees(coffees, name="measure")
    subscribers = make_subscribers(catalogue, HarnessConfig(n_users=cfg.n_users, seed=cfg.seed))
    events = reveal_feedback(subscribers, catalogue, cfg.feedback_per_user, cfg.seed)
    stream, context, val, test = _split(events, cfg.validation_share, cfg.test_share)
    validation = ValidationSet(context, val)
    test_set = ValidationSet(context, test)
    holder = ModelHolder(clone_model(model))
    learner = OnlineLearner(holder, coffees, validation, config=cfg.learner)
    compiled_test = learner.compile(test_set)
    start_truth = _truth_auc(learner.embeddings(holder.get()), subscribers, catalogue, context)
    start_content = learner.content_loss(holder.get())
    start_val = learner.evaluate(holder.get())
    start_test = learner.evaluate(holder.get(), on=compiled_test)
    for i, fb in enumerate(stream, start=1):
        learner.observe(fb)
        if i % cfg.update_every == 0 or i == len(stream):
            learner.step()
            n_updates = i // cfg.update_every
            if n_updates % cfg.gate_every == 0 or i == len(stream):
                learner.promote()
    live = holder.get()
    end_val, end_test = learner.evaluate(live), learner.evaluate(live, on=compiled_test)
    updates, promotions, rejections = (
        learner.stats.steps,
        learner.stats.promotions,
        learner.stats.rejections,
    )
    end_content = learner.content_loss(live)
    end_truth = _truth_auc(learner.embeddings(live), subscribers, catalogue, context)
    oracle, random_scores = _oracle_scores(subscribers, catalogue, test_set)

    noisy_gate = learner.promote(noisy_copy(live, cfg.noise_scale, seed=cfg.seed))
    wild = OnlineLearner(
        holder, coffees, validation, config=replace(cfg.learner, lr=10.0), buffer=learner.buffer
    )
    wild.step()  # the buffer holds the whole stream: a full replayed batch
    lr10_gate = wild.promote()
    return PersonalisationReport(
        config=cfg,
        stream=len(stream),
        start_validation=start_val,
        end_validation=end_val,
        start_test=start_test,
        end_test=end_test,
        oracle_test=oracle,
        random_test=random_scores,
        start_truth=start_truth,
        end_truth=end_truth,
        start_content=start_content,
        end_content=end_content,
        updates=updates,
        promotions=promotions,
        rejections=rejections,
        noisy_gate=noisy_gate,
        lr10_gate=lr10_gate,
        seconds=time.perf_counter() - started,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m taste2vec.sim.learning.measure --model artifacts/model``: print the report."""
    import argparse

    from taste2vec.data.demo import load_demo_catalogue

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="artifacts/model", help="model directory")
    parser.add_argument("--users", type=int, default=PersonalisationConfig.n_users)
    parser.add_argument("--per-user", type=int, default=PersonalisationConfig.feedback_per_user)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=PersonalisationConfig.seed)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    config = PersonalisationConfig(
        n_users=args.users,
        feedback_per_user=args.per_user,
        seed=args.seed,
        learner=LearnerConfig(lr=args.lr),
    )
    report = measure_personalisation(Taste2Vec.load(args.model), load_demo_catalogue(), config)
    print(report.to_markdown())  # noqa: T201 - a command-line report


if __name__ == "__main__":
    main()
