"""The preference objective the slow path fine-tunes Taste2Vec with.

**User vector (closed form, no learned user parameters).** A user's taste vector is the
preference-weighted sum of the embeddings of the coffees they reacted to, L2-normalised::

    u = normalize( sum_j p_j * e_j )        p_j = Feedback.preference in [-1, 1]

so liked coffees pull it, disliked ones push it away, skips push a little and a neutral
rating (3) does nothing. When a user reacted to a coffee several times, the latest
reaction counts. This is the same kind of closed form the instant path uses, so what the
slow path learns is exactly what makes the instant path better.

**Loss (pairwise BPR with leave-pair-out user vectors).** For a target reaction of user
``u`` to coffee ``i``, pairs ``(hi, lo)`` are formed where the user prefers ``hi``:

- against the user's own other reactions ``k`` whose preference differs by at least
  ``min_gap`` (liked > disliked, a 5 > a 2, liked > skipped ...), weight ``|p_i - p_k| / 2``;
- if ``p_i > 0``, against ``unseen_per_target`` coffees the user never reacted to, drawn
  uniformly from the catalogue (liked > unseen), weight ``p_i``.

Each pair is scored with the user vector computed **without both of its coffees**, so the
model cannot win by pointing the user vector at the very items being ranked; a pair
whose leave-out leaves no informative reaction is dropped. The loss is::

    loss = sum_pairs w * softplus(-(<u, e_hi> - <u, e_lo>) / temperature) / sum_pairs w

i.e. ``-log sigmoid`` of the scaled score margin (BPR).

**Temperature 1, not 0.1.** Margins are differences of cosines (mostly within ±0.3).
At ``temperature=0.1`` the loss is close to a hinge: its gradient concentrates on the
pairs the model currently ranks wrongly, and with noisy feedback many of those are noise
(a coffee liked by chance). Measured on the tiny test model (format 2) and SIMULATED
subscribers (60 users, 1,080 training reactions): full-batch gradient descent at 0.1
lowered the training loss (0.79 -> 0.67) while the held-out AUC fell from 0.685 to 0.670
and the noiseless ground-truth AUC from 0.772 to 0.749, from the first step on; at 1.0
(close to maximising the mean weighted margin) the held-out AUC rose to 0.706 with the
ground truth flat. See docs/model.md, "The online learner and its temperature".

The learner adds
``content_weight`` x :func:`content_loss`, the pre-training objective replayed on the
catalogue, so the embedding keeps its meaning and the explanation heads stay right.
Coffee embeddings come from
``model.net`` on the featurised catalogue *with gradients*, so the text projection, the
sensory, numeric and context towers and the fusion layer all learn. There is no
"embedding x 1.1" target: that teaches nothing against a unit-norm output.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from taste2vec.model.features import FeatureBatch
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee, Feedback, TasteRecord
from taste2vec.training.train import TrainConfig, compute_loss

__all__ = [
    "CatalogueIndex",
    "ObjectiveConfig",
    "PairBatch",
    "build_pairs",
    "coffee_record",
    "content_loss",
    "latest_preferences",
    "preference_loss",
]


def coffee_record(coffee: Coffee) -> TasteRecord:
    """The record the model embeds for a catalogue coffee: roaster notes and profile.

    Like :func:`taste2vec.data.demo.demo_records`: the roaster's notes and metrics; the
    descriptors stand in for the notes only when a coffee has none.
    """
    notes = coffee.roaster_notes or ", ".join(coffee.descriptors)
    return TasteRecord(
        id=f"catalogue:{coffee.id}",
        user="catalogue",
        coffee=coffee.id,
        notes=notes,
        metrics=coffee.metrics,
    )


class CatalogueIndex:
    """The catalogue, featurised once (featurisation does not depend on trainable weights)."""

    def __init__(self, model: Taste2Vec, coffees: Sequence[Coffee]) -> None:
        ids = [c.id for c in coffees]
        if len(set(ids)) != len(ids):
            raise ValueError("catalogue coffee ids must be unique")
        self.ids: tuple[str, ...] = tuple(ids)
        self.row: dict[str, int] = {cid: i for i, cid in enumerate(ids)}
        self.features: FeatureBatch = model.featurize([coffee_record(c) for c in coffees])
        lex = model.lexicon
        self.node_family = torch.zeros(len(lex.nodes), len(lex.families))
        for node in lex.nodes:
            self.node_family[node.index, lex.families.index(node.family)] = 1.0

    def __len__(self) -> int:
        return len(self.ids)

    def content_loss(self, model: Taste2Vec, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The training objective's content terms on the catalogue, or on its ``rows``
        (see :func:`content_loss`)."""
        batch = self.features if rows is None else self.features.index(rows)
        return content_loss(model, batch, self.node_family)

    def embed(self, net: torch.nn.Module, rows: torch.Tensor | None = None) -> torch.Tensor:
        """``(n, 128)`` unit vectors from ``net`` of every coffee (or of ``rows``, in that
        order), with gradients when enabled.

        The network is put in eval mode: no dropout, frozen BatchNorm statistics, so a
        fine-tuning step is deterministic and a small batch cannot corrupt the statistics.
        In eval mode each row's embedding depends on that row alone, so embedding only the
        rows a step needs gives the same vectors as embedding the catalogue.
        """
        net.eval()
        out: torch.Tensor = net(self.features if rows is None else self.features.index(rows))
        return out


def content_loss(model: Taste2Vec, batch: FeatureBatch, node_family: torch.Tensor) -> torch.Tensor:
    """What ``taste2vec train`` optimises (cross-modal InfoNCE, sensory and family heads).

    Replayed on the catalogue while fine-tuning, it keeps the embedding's meaning and the
    explanation heads intact; the gate also refuses a candidate whose content loss grew.
    Computed in eval mode without input dropout, like the trainer's validation loss.
    """
    model.net.eval()
    return compute_loss(model, batch, node_family, TrainConfig(), None)["total"]


@dataclass(frozen=True)
class ObjectiveConfig:
    """Knobs of :func:`build_pairs` and :func:`preference_loss`."""

    temperature: float = 1.0  # 0.1 fits the feedback's noise (module docstring)
    min_gap: float = 0.5
    pairs_per_target: int = 8
    unseen_per_target: int = 8


def latest_preferences(feedback: Iterable[Feedback], known: Mapping[str, int]) -> dict[int, float]:
    """Catalogue row -> preference of the user's latest reaction (unknown coffees skipped)."""
    latest: dict[str, Feedback] = {}
    for fb in feedback:
        if fb.coffee not in known:
            continue
        old = latest.get(fb.coffee)
        if old is None or (fb.timestamp, fb.id) > (old.timestamp, old.id):
            latest[fb.coffee] = fb
    return {known[c]: fb.preference for c, fb in latest.items()}


@dataclass(frozen=True)
class PairBatch:
    """Users' reactions and the preference pairs built on them (all tensors 1-d).

    ``hist_*`` hold every reaction of every user in the batch (``hist_user`` says whose);
    ``pair_*`` hold the pairs: the user, the preferred and the less preferred coffee rows,
    their preferences inside that user's vector (0 for an unseen coffee) and the weight.
    """

    n_users: int
    hist_user: torch.Tensor
    hist_row: torch.Tensor
    hist_pref: torch.Tensor
    pair_user: torch.Tensor
    pair_hi: torch.Tensor
    pair_lo: torch.Tensor
    pair_hi_pref: torch.Tensor
    pair_lo_pref: torch.Tensor
    pair_weight: torch.Tensor

    def __len__(self) -> int:
        return int(self.pair_user.shape[0])

    def compact(self) -> tuple[torch.Tensor, PairBatch]:
        """``(rows, batch)``: the sorted catalogue rows the pairs and histories use, and the
        same batch with every row replaced by its position in ``rows``. A training step
        then embeds those rows only (a few hundred) instead of the whole catalogue; the
        loss is the same (:meth:`CatalogueIndex.embed`)."""
        used = torch.cat((self.hist_row, self.pair_hi, self.pair_lo))
        rows, local = torch.unique(used, sorted=True, return_inverse=True)
        n_hist, n_pairs = len(self.hist_row), len(self)
        return rows, replace(
            self,
            hist_row=local[:n_hist],
            pair_hi=local[n_hist : n_hist + n_pairs],
            pair_lo=local[n_hist + n_pairs :],
        )


def _user_pairs(
    target_rows: Sequence[int],
    prefs: Mapping[int, float],
    n_catalogue: int,
    rng: np.random.Generator,
    cfg: ObjectiveConfig,
) -> list[tuple[int, int, float, float, float]]:
    """``(hi, lo, hi_pref, lo_pref, weight)`` for one user's targets."""
    out: list[tuple[int, int, float, float, float]] = []
    informative = sum(1 for p in prefs.values() if p != 0.0)
    rows = list(prefs)
    unseen = np.setdiff1d(np.arange(n_catalogue), np.asarray(rows, dtype=np.int64))
    for t in target_rows:
        pt = prefs[t]
        others = [k for k in rows if k != t and abs(pt - prefs[k]) >= cfg.min_gap]
        if len(others) > cfg.pairs_per_target:
            pick = rng.choice(len(others), size=cfg.pairs_per_target, replace=False)
            others = [others[int(j)] for j in sorted(pick)]
        for k in others:
            hi, lo = (t, k) if pt > prefs[k] else (k, t)
            left = informative - (prefs[hi] != 0.0) - (prefs[lo] != 0.0)
            if left >= 1:
                out.append((hi, lo, prefs[hi], prefs[lo], abs(pt - prefs[k]) / 2.0))
        if pt > 0.0 and unseen.size and informative - 1 >= 1:
            n = min(cfg.unseen_per_target, unseen.size)
            for k in rng.choice(unseen, size=n, replace=False):
                out.append((t, int(k), pt, 0.0, pt))
    return out


def build_pairs(
    targets: Sequence[Feedback],
    histories: Mapping[str, Sequence[Feedback]],
    row_of: Mapping[str, int],
    rng: np.random.Generator,
    cfg: ObjectiveConfig | None = None,
) -> PairBatch | None:
    """The pairs for ``targets`` given each user's reactions; None when there are none.

    ``histories[user]`` are the reactions that form that user's vector (a target that is
    missing from its user's history is added to it). Coffees not in ``row_of`` are skipped.
    """
    cfg = cfg or ObjectiveConfig()
    by_user: dict[str, list[Feedback]] = {}
    for fb in targets:
        if fb.coffee in row_of:
            by_user.setdefault(fb.user, []).append(fb)
    hist_user: list[int] = []
    hist_row: list[int] = []
    hist_pref: list[float] = []
    pairs: list[tuple[int, int, int, float, float, float]] = []
    n_users = 0
    for user, user_targets in by_user.items():
        prefs = latest_preferences([*histories.get(user, ()), *user_targets], row_of)
        target_rows = sorted({row_of[fb.coffee] for fb in user_targets})
        found = _user_pairs(target_rows, prefs, len(row_of), rng, cfg)
        if not found:
            continue
        b, n_users = n_users, n_users + 1
        for row, pref in prefs.items():
            hist_user.append(b)
            hist_row.append(row)
            hist_pref.append(pref)
        pairs += [(b, *p) for p in found]
    if not pairs:
        return None
    cols = list(zip(*pairs, strict=True))
    return PairBatch(
        n_users=n_users,
        hist_user=torch.tensor(hist_user, dtype=torch.long),
        hist_row=torch.tensor(hist_row, dtype=torch.long),
        hist_pref=torch.tensor(hist_pref, dtype=torch.float32),
        pair_user=torch.tensor(cols[0], dtype=torch.long),
        pair_hi=torch.tensor(cols[1], dtype=torch.long),
        pair_lo=torch.tensor(cols[2], dtype=torch.long),
        pair_hi_pref=torch.tensor(cols[3], dtype=torch.float32),
        pair_lo_pref=torch.tensor(cols[4], dtype=torch.float32),
        pair_weight=torch.tensor(cols[5], dtype=torch.float32),
    )


def preference_loss(
    embeddings: torch.Tensor, pairs: PairBatch, temperature: float = 1.0
) -> torch.Tensor:
    """Weighted BPR loss of ``pairs`` on catalogue ``embeddings`` (see the module docstring)."""
    emb = embeddings
    sums = emb.new_zeros((pairs.n_users, emb.shape[1]))
    sums = sums.index_add(0, pairs.hist_user, pairs.hist_pref[:, None] * emb[pairs.hist_row])
    e_hi, e_lo = emb[pairs.pair_hi], emb[pairs.pair_lo]
    user = (
        sums[pairs.pair_user]
        - pairs.pair_hi_pref[:, None] * e_hi
        - pairs.pair_lo_pref[:, None] * e_lo
    )
    user = torch.nn.functional.normalize(user, dim=1, eps=1e-8)
    margin = (user * (e_hi - e_lo)).sum(dim=1) / temperature
    w = pairs.pair_weight
    return (w * torch.nn.functional.softplus(-margin)).sum() / w.sum().clamp(min=1e-12)
