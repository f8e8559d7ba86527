"""The fixed validation set the gate judges models on, and its ranking metric.

A :class:`ValidationSet` holds, per user, a **context** (the reactions that form the user
vector, as in :mod:`taste2vec.learning.objective`) and a **held-out** slice of reactions
the learner never trains on. :meth:`ValidationSet.from_feedback` builds one by a temporal
split: each user's latest ``holdout_share`` of reactions is held out. Held-out *users*
work too: give them a context the learner never sees.

**Bounded** (issue 11): with ``max_users`` only the first ``max_users`` eligible users
(at least ``min_feedback`` reactions) by ``(crc32(user), user)`` enter the set, a
deterministic sample independent of arrival order; the service uses
:data:`MAX_VALIDATION_USERS` and reads just those users' reactions from the store
(``Store.sampled_feedback``), so the set, and the time a gate takes to score it, do not
grow with the feedback stored. With no more eligible users than that, the set is the
one without a cap.

**Metric** (:meth:`CompiledValidation.score`): per user, the area under the ROC curve of
the held-out liked coffees (preference > 0) against the negatives, the held-out disliked
ones (preference < 0) together with every catalogue coffee the user never reacted to,
scored by cosine with the user vector (ties count one half). It is averaged over users
with at least one positive and one negative. ``auc_disliked`` and ``auc_unseen`` are the
same with only one kind of negative. Everything is deterministic: no sampling.
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from taste2vec.errors import SchemaError
from taste2vec.learning.objective import latest_preferences
from taste2vec.schema import Feedback

__all__ = [
    "MAX_VALIDATION_USERS",
    "MIN_VALIDATION_FEEDBACK",
    "CompiledValidation",
    "RankingScore",
    "ValidationSet",
    "pairwise_auc",
    "sample_key",
]

FloatArray = npt.NDArray[np.float64]

# Users in the service's validation set: the first ones by ``sample_key`` (issue 11).
MAX_VALIDATION_USERS = 2_000
# Fewest reactions a user needs to enter a validation set (``from_feedback``'s default).
MIN_VALIDATION_FEEDBACK = 4


def sample_key(user: str) -> tuple[int, str]:
    """The order the bounded validation set samples users in: ``(crc32(user), user)``
    (``user_hash`` then ``user_id`` in the store, by code point)."""
    return zlib.crc32(user.encode()), user


def pairwise_auc(pos: npt.ArrayLike, neg: npt.ArrayLike) -> float:
    """Share of (positive, negative) pairs ranked correctly; ties count 1/2. NaN if empty."""
    p, n = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    if p.size == 0 or n.size == 0:
        return math.nan
    diff = p[:, None] - n[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


@dataclass(frozen=True)
class RankingScore:
    """The gate's metric (``auc``) and its two parts, averaged over ``users``."""

    auc: float
    auc_disliked: float
    auc_unseen: float
    users: int
    per_user: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "auc": round(self.auc, 4),
            "auc_disliked": round(self.auc_disliked, 4),
            "auc_unseen": round(self.auc_unseen, 4),
            "users": self.users,
        }


def _freeze(data: Mapping[str, Iterable[Feedback]]) -> Mapping[str, Sequence[Feedback]]:
    return MappingProxyType({u: tuple(v) for u, v in data.items()})


@dataclass(frozen=True)
class ValidationSet:
    """Per-user context and held-out reactions (immutable; see the module docstring)."""

    context: Mapping[str, Sequence[Feedback]]
    held_out: Mapping[str, Sequence[Feedback]]

    def __post_init__(self) -> None:
        object.__setattr__(self, "context", _freeze(self.context))
        object.__setattr__(self, "held_out", _freeze(self.held_out))

    @classmethod
    def from_feedback(
        cls,
        feedback: Iterable[Feedback],
        holdout_share: float = 0.25,
        min_feedback: int = MIN_VALIDATION_FEEDBACK,
        max_users: int | None = None,
    ) -> ValidationSet:
        """Hold out each user's latest ``holdout_share`` (at least one) of their reactions.

        Users with fewer than ``min_feedback`` reactions are left out entirely. With
        ``max_users``, only the first ``max_users`` of the remaining users by
        :func:`sample_key` are kept (this still reads ``feedback`` into memory: the
        service passes only the sampled users' reactions, see the module docstring).
        """
        if not 0.0 < holdout_share < 1.0:
            raise SchemaError(f"holdout_share must be within (0, 1), got {holdout_share}")
        if max_users is not None and (
            isinstance(max_users, bool) or not isinstance(max_users, int) or max_users < 1
        ):
            raise SchemaError(f"max_users must be a positive integer or None, got {max_users!r}")
        by_user: dict[str, list[Feedback]] = {}
        for fb in feedback:
            by_user.setdefault(fb.user, []).append(fb)
        eligible = [u for u, items in by_user.items() if len(items) >= max(min_feedback, 2)]
        if max_users is not None and len(eligible) > max_users:
            eligible = sorted(eligible, key=sample_key)[:max_users]
        keep = set(eligible)
        context: dict[str, list[Feedback]] = {}
        held: dict[str, list[Feedback]] = {}
        for user, items in sorted(by_user.items()):
            if user not in keep:
                continue
            items.sort(key=lambda fb: (fb.timestamp, fb.id))
            n_held = min(len(items) - 1, max(1, round(holdout_share * len(items))))
            context[user], held[user] = items[:-n_held], items[-n_held:]
        return cls(context, held)

    @functools.cached_property
    def held_out_ids(self) -> frozenset[str]:
        """Ids of every held-out reaction (the learner must never train on them)."""
        return frozenset(fb.id for items in self.held_out.values() for fb in items)

    def compile(self, row_of: Mapping[str, int]) -> CompiledValidation:
        """This set against a catalogue (``coffee id -> row``), ready to score embeddings."""
        users: list[tuple[list[int], list[float], list[int], list[int], list[int]]] = []
        n = len(row_of)
        for user, held in self.held_out.items():
            ctx = latest_preferences(self.context.get(user, ()), row_of)
            target = latest_preferences(held, row_of)
            pos = [r for r, p in target.items() if p > 0 and r not in ctx]
            dis = [r for r, p in target.items() if p < 0 and r not in ctx]
            seen = set(ctx) | set(target)
            unseen = [r for r in range(n) if r not in seen]
            if pos and (dis or unseen) and any(p != 0 for p in ctx.values()):
                users.append((list(ctx), list(ctx.values()), pos, dis, unseen))
        return CompiledValidation(tuple(users))


@dataclass(frozen=True)
class CompiledValidation:
    """A validation set resolved to catalogue rows; :meth:`score` is pure numpy."""

    users: Sequence[tuple[list[int], list[float], list[int], list[int], list[int]]]

    def __len__(self) -> int:
        return len(self.users)

    def score(self, embeddings: npt.ArrayLike) -> RankingScore:
        """The metric of the module docstring for catalogue ``embeddings`` (n, d)."""
        emb = np.asarray(embeddings, dtype=np.float64)
        if not np.isfinite(emb).all():  # a broken model scores NaN, which never passes a gate
            return RankingScore(math.nan, math.nan, math.nan, len(self.users))
        pooled, disliked, unseen = [], [], []
        for ctx_rows, ctx_prefs, pos, dis, uns in self.users:
            vec = np.asarray(ctx_prefs) @ emb[ctx_rows]
            norm = float(np.linalg.norm(vec))
            scores = emb @ (vec / max(norm, 1e-12))
            p = scores[pos]
            pooled.append(pairwise_auc(p, scores[dis + uns]))
            if dis:
                disliked.append(pairwise_auc(p, scores[dis]))
            if uns:
                unseen.append(pairwise_auc(p, scores[uns]))
        return RankingScore(
            _mean(pooled), _mean(disliked), _mean(unseen), len(pooled), tuple(pooled)
        )


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan
