"""The retraining job's preference stage: what people told us about coffees, as a
fine-tuning signal for the retrained model (issue 13, item 2.1; docs/batch.md).

Every accumulated reaction in a snapshot becomes a :class:`~taste2vec.schema.Feedback`
of one user to one catalogue coffee:

- **feedback** (the store's ``feedback`` table): as it is (liked 1, disliked -1, skipped
  -0.25, a rating r as (r - 3) / 2; :attr:`Feedback.preference`);
- **box ratings** (``box_rated`` events): a rating of the coffee named in the event, or,
  when the whole box was rated, of every coffee of that user's ``box_shipped`` event with
  the same box id (no such shipment in the snapshot: not usable, counted);
- **Lab sessions** (``lab_session`` events): a Lab session stores a recipe, brew
  variables, an optional coffee and a 1-5 rating of how the brew tasted, but no notes,
  so it cannot train the encoder as a tasting. With a coffee it is that user's rating of
  that coffee; without one it says nothing about a coffee and is counted, not used.

Events are deduplicated by ``event_id`` (first delivery) and invalid ones skipped, like
the feature jobs. Reactions to coffees outside the snapshot's catalogue are counted and
dropped.

:func:`fine_tune` then trains the candidate with the online learner's objective
(:mod:`taste2vec.learning.objective`: pairwise BPR on leave-pair-out user vectors, plus
``content_weight`` x the pre-training objective replayed on the catalogue) over **all**
the reactions, ``epochs`` passes of mini-batches of target reactions, AdamW, with a
progress bar and a checkpoint after every epoch (``prefs.pt``; a killed run continues
after the last completed epoch with the same result).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from taste2vec.batch.snapshot import Snapshot, SnapshotError
from taste2vec.learning.learner import torch_threads
from taste2vec.learning.objective import (
    CatalogueIndex,
    ObjectiveConfig,
    build_pairs,
    preference_loss,
)
from taste2vec.schema import Coffee, Feedback, FeedbackSignal
from taste2vec.training.train import save_atomically

if TYPE_CHECKING:
    from taste2vec.model.taste2vec import Taste2Vec

__all__ = [
    "PreferenceConfig",
    "PreferenceError",
    "Preferences",
    "fine_tune",
    "load_preferences",
    "user_ranking",
]


class PreferenceError(SnapshotError):
    """A corrupt reaction in a snapshot, or a preference stage that cannot run."""


@dataclass(frozen=True)
class PreferenceConfig:
    """The preference stage's knobs (``epochs=0`` turns it off)."""

    epochs: int = 8
    lr: float = 3e-4
    batch_size: int = 256  # target reactions per AdamW step
    content_weight: float = 0.01  # the online learner's default
    grad_clip: float = 1.0
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.batch_size < 1:
            raise PreferenceError("preference epochs must be >= 0 and batch_size >= 1")
        for name in ("lr", "content_weight", "grad_clip"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise PreferenceError(f"preference {name} must be a finite number >= 0")


@dataclass
class Preferences:
    """The usable reactions (by time, then id), the catalogue, and what was counted."""

    reactions: list[Feedback]
    catalogue: list[Coffee]
    counts: dict[str, int]
    fingerprint: str = ""

    def has_pairs(self) -> bool:
        """Whether the reactions give at least one preference pair to learn from."""
        row_of = {c.id: i for i, c in enumerate(self.catalogue)}
        rng = np.random.default_rng(0)
        return build_pairs(self.reactions, self.by_user(), row_of, rng) is not None

    def by_user(self) -> dict[str, list[Feedback]]:
        out: dict[str, list[Feedback]] = {}
        for fb in self.reactions:
            out.setdefault(fb.user, []).append(fb)
        return out


def _when(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def _reaction_id(kind: str, event_id: str, coffee: str) -> str:
    # Identifier allows ':'; a hash keeps long event ids within the id length limit
    digest = hashlib.sha256(f"{event_id}\n{coffee}".encode()).hexdigest()[:24]
    return f"{kind}:{digest}"


def load_preferences(snap: Snapshot) -> Preferences:
    """Every reaction the snapshot holds (module docstring); the snapshot is trusted to
    be verified already (:meth:`Snapshot.verify`)."""
    from pydantic import ValidationError

    try:
        feedback = snap.read_table("feedback").to_pylist()
        cols = ["type", "error", "event_id", "user_id", "event_us", "coffee", "rating", "box"]
        events = snap.read_table("events").select([*cols, "payload"]).to_pylist()
        coffees = snap.read_table("coffees").to_pylist()
    except (OSError, ValueError) as exc:
        raise PreferenceError(f"snapshot {snap.root} is unreadable: {exc}") from None
    catalogue: list[Coffee] = []
    for row in coffees:
        try:
            catalogue.append(
                Coffee.model_validate({**json.loads(row["payload"]), "stock": row["stock"]})
            )
        except (ValidationError, ValueError, TypeError) as exc:
            first = " ".join(str(exc).splitlines()[:2])
            raise PreferenceError(
                f"snapshot is corrupt: coffee {row['id']!r} is not a valid coffee ({first})"
            ) from None
    known = {c.id for c in catalogue}
    counts = {
        "feedback": 0,
        "box_ratings": 0,
        "box_ratings_without_shipment": 0,
        "lab_sessions": 0,
        "lab_sessions_without_coffee": 0,
        "unknown_coffee": 0,
    }
    out: list[Feedback] = []

    def add(fb: Feedback) -> bool:
        if fb.coffee not in known:
            counts["unknown_coffee"] += 1
            return False
        out.append(fb)
        return True

    for row in sorted(feedback, key=lambda r: int(r["seq"])):
        try:
            fb = Feedback.model_validate_json(row["payload"])
        except (ValidationError, ValueError) as exc:
            first = " ".join(str(exc).splitlines()[:3])
            raise PreferenceError(
                f"snapshot is corrupt: feedback seq {row['seq']} is not a valid reaction ({first})"
            ) from None
        if fb.id != row["id"]:
            raise PreferenceError(
                f"snapshot is corrupt: feedback seq {row['seq']} is filed as {row['id']!r} "
                f"but its payload says {fb.id!r}"
            )
        counts["feedback"] += add(fb)

    seen: set[str] = set()
    shipped: dict[tuple[str, str], list[str]] = {}
    valid = []
    for ev in events:
        if ev["error"] or ev["event_id"] is None or ev["event_id"] in seen:
            continue
        seen.add(ev["event_id"])
        valid.append(ev)
        if ev["type"] == "box_shipped":
            coffees_in_box = json.loads(ev["payload"]).get("coffees") or []
            shipped[(ev["user_id"], ev["box"])] = [str(c) for c in coffees_in_box]
    for ev in valid:
        kind = ev["type"]
        if kind not in ("box_rated", "lab_session"):
            continue
        rating = ev["rating"]
        if rating is None:  # the event schema requires it: a snapshot we did not write
            raise PreferenceError(f"snapshot is corrupt: {kind} {ev['event_id']!r} has no rating")
        if kind == "lab_session":
            if ev["coffee"] is None:
                counts["lab_sessions_without_coffee"] += 1
                continue
            targets = [ev["coffee"]]
        elif ev["coffee"] is not None:
            targets = [ev["coffee"]]
        else:
            targets = shipped.get((ev["user_id"], ev["box"]), [])
            if not targets:
                counts["box_ratings_without_shipment"] += 1
                continue
        used = False
        for coffee in targets:
            fb = Feedback(
                id=_reaction_id("lab" if kind == "lab_session" else "box", ev["event_id"], coffee),
                user=ev["user_id"],
                coffee=coffee,
                signal=FeedbackSignal.RATED,
                rating=int(rating),
                timestamp=_when(int(ev["event_us"])),
            )
            used = add(fb) or used
        if used:
            counts["lab_sessions" if kind == "lab_session" else "box_ratings"] += 1
    out.sort(key=lambda f: (f.timestamp, f.id))
    h = hashlib.sha256()
    for fb in out:
        h.update(f"{fb.id}|{fb.user}|{fb.coffee}|{fb.preference}\n".encode())
    counts["reactions"] = len(out)
    return Preferences(out, catalogue, counts, h.hexdigest()[:16])


# ------------------------------------------------------------------------------ training
def fine_tune(
    model: Taste2Vec,
    prefs: Preferences,
    cfg: PreferenceConfig,
    checkpoint: Path,
    *,
    seed: int = 13,
    progress: bool = True,
    after_epoch: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Train ``model.net`` in place on every reaction (module docstring). Returns the
    stage's summary: epochs run, the first and last epoch's mean preference loss, the
    content loss before and after, and the epoch it resumed after (if any)."""
    if not prefs.reactions:
        raise PreferenceError("no usable reactions to fine-tune on")
    if not prefs.catalogue:
        raise PreferenceError("the snapshot has reactions but no catalogue coffees")
    index = CatalogueIndex(model, prefs.catalogue)
    histories = prefs.by_user()
    targets = prefs.reactions
    opt = torch.optim.AdamW(model.net.parameters(), lr=cfg.lr, weight_decay=0.0)
    rng = np.random.default_rng([seed, 0x9EF])
    start, losses = 0, []
    with torch_threads(1), torch.no_grad():
        content_before = float(index.content_loss(model))
    if checkpoint.is_file():
        try:
            state = torch.load(checkpoint, weights_only=False)
            model.net.load_state_dict(state["net"])
            opt.load_state_dict(state["opt"])
            rng.bit_generator.state = state["rng"]
            start, losses = int(state["epoch"]), list(state["losses"])
            content_before = float(state["content_before"])
        except Exception as exc:  # a truncated or foreign file
            raise PreferenceError(
                f"preference checkpoint {checkpoint} is unreadable ({exc}); run with --fresh"
            ) from None
    resumed = start
    bar = tqdm(
        total=cfg.epochs,
        initial=start,
        desc="retrain: preferences",
        unit="epoch",
        disable=not progress,
    )
    with torch_threads(1), bar:
        for epoch in range(start, cfg.epochs):
            order = rng.permutation(len(targets))
            total, weight = 0.0, 0
            for lo in range(0, len(order), cfg.batch_size):
                batch = [targets[int(i)] for i in order[lo : lo + cfg.batch_size]]
                pairs = build_pairs(batch, histories, index.row, rng, cfg.objective)
                if pairs is None:
                    continue
                loss = preference_loss(index.embed(model.net), pairs, cfg.objective.temperature)
                full = loss
                if cfg.content_weight > 0:
                    full = full + cfg.content_weight * index.content_loss(model)
                opt.zero_grad()
                full.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.net.parameters(), cfg.grad_clip)
                opt.step()
                total += float(loss.detach()) * len(pairs)
                weight += len(pairs)
            if weight == 0:
                raise PreferenceError(
                    "the reactions give no preference pair to learn from (every user needs "
                    "at least two reactions that differ, or a liked coffee and another "
                    "informative reaction)"
                )
            losses.append(total / weight)
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
            save_atomically(
                checkpoint,
                {
                    "epoch": epoch + 1,
                    "net": model.net.state_dict(),
                    "opt": opt.state_dict(),
                    "rng": rng.bit_generator.state,
                    "losses": losses,
                    "content_before": content_before,
                },
            )
            if after_epoch is not None:
                after_epoch(epoch + 1)
        with torch.no_grad():
            content_after = float(index.content_loss(model))
    return {
        "epochs": cfg.epochs,
        "resumed_after_epoch": resumed,
        "loss_first_epoch": losses[0] if losses else None,
        "loss_last_epoch": losses[-1] if losses else None,
        "content_loss_before": content_before,
        "content_loss_after": content_after,
        "reactions": len(targets),
        "users": len(histories),
        "catalogue": len(prefs.catalogue),
    }


@torch.no_grad()
def user_ranking(model: Taste2Vec, catalogue: list[Coffee], history: list[Feedback]) -> list[str]:
    """The catalogue ranked for a user whose vector is the preference-weighted sum of the
    embeddings of ``history`` (the objective's closed form), best first."""
    index = CatalogueIndex(model, catalogue)
    emb = index.embed(model.net)
    u = torch.zeros(emb.shape[1])
    for fb in history:
        if fb.coffee in index.row:
            u += fb.preference * emb[index.row[fb.coffee]]
    scores = emb @ torch.nn.functional.normalize(u, dim=0)
    order = torch.argsort(scores, descending=True).tolist()
    return [index.ids[i] for i in order]
