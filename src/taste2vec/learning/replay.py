"""A replay buffer of feedback, reservoir-sampled and stratified per user.

One item is one :class:`~taste2vec.schema.Feedback` (a user's reaction to one coffee).
The buffer keeps one reservoir per user and shares its ``capacity`` among users by
**evict-from-the-largest** (max-min fairness):

1. A user whose reservoir is *complete* (it holds every item the user ever offered)
   appends the new item. If that takes the buffer over capacity, one uniformly random
   item is evicted from the **largest** reservoir (ties: the user who offered most items,
   then a random one), which makes that reservoir incomplete.
2. A user whose reservoir is *incomplete* runs Vitter's Algorithm R at its current size
   ``k``: the ``n``-th item replaces a uniformly random held item with probability
   ``k / n``. Its size never grows again; it only shrinks by evictions.

Properties (proved in ``tests/learning/test_replay.py``):

- **never over capacity**: an append adds one item and an overflow evicts one;
- **every user is represented**: an eviction only hits a reservoir of size >= 2, so no
  user with an item loses its last one, as long as there are at most ``capacity``
  distinct users. Beyond that, the least recently active user is dropped whole to make
  room for a new one (documented limit: a buffer of 10,000 cannot hold 10,001 users);
- **fair share**: every incomplete reservoir holds at least (largest reservoir - 1)
  items, so a heavy user can never crowd out anyone: light users keep everything and
  heavy users split what is left evenly;
- **uniform within a user**: each reservoir is a uniform random subset of everything
  the user offered (a complete set is trivially uniform; a uniformly random eviction from
  a uniform subset and Algorithm R at a fixed size both keep it uniform).

The same feedback id is not stored twice while it is held. Everything is deterministic
under ``seed``, and :meth:`ReplayBuffer.state_dict` is plain JSON (the random generator's
state included), so a restored buffer continues exactly where the saved one stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taste2vec.errors import SchemaError
from taste2vec.schema import Feedback, parse_feedback

__all__ = ["STATE_VERSION", "ReplayBuffer"]

#: Version of the :meth:`ReplayBuffer.state_dict` layout.
STATE_VERSION = 1


@dataclass
class _Reservoir:
    """One user's reservoir: the held items, how many were offered, when last active."""

    items: list[Feedback] = field(default_factory=list)
    offered: int = 0
    last_active: int = 0

    @property
    def complete(self) -> bool:
        """True when it holds every item the user offered."""
        return len(self.items) == self.offered


class ReplayBuffer:
    """Per-user reservoirs sharing ``capacity`` fairly (see the module docstring)."""

    def __init__(self, capacity: int = 10_000, seed: int = 0) -> None:
        if capacity < 1:
            raise SchemaError(f"replay capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._rng = np.random.default_rng(seed)
        self._users: dict[str, _Reservoir] = {}
        self._ids: set[str] = set()
        self._size = 0
        self._tick = 0

    # ------------------------------------------------------------------ reading
    def __len__(self) -> int:
        return self._size

    def __contains__(self, feedback_id: object) -> bool:
        return feedback_id in self._ids

    def users(self) -> list[str]:
        """Users with at least one held item, in order of first arrival."""
        return list(self._users)

    def user_items(self, user: str) -> list[Feedback]:
        """The items held for ``user`` (a copy; empty for an unknown user)."""
        res = self._users.get(user)
        return list(res.items) if res is not None else []

    def offered(self, user: str) -> int:
        """How many items ``user`` offered since arriving (held or not)."""
        res = self._users.get(user)
        return res.offered if res is not None else 0

    def items(self) -> list[Feedback]:
        """Every held item, user by user (a copy)."""
        return [fb for res in self._users.values() for fb in res.items]

    def sample(self, n: int, rng: np.random.Generator) -> list[Feedback]:
        """``min(n, len(self))`` distinct held items, uniformly at random, drawn with ``rng``."""
        pool = self.items()
        if n <= 0 or not pool:
            return []
        picks = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
        return [pool[int(i)] for i in picks]

    # ------------------------------------------------------------------ writing
    def add(self, feedback: Feedback) -> bool:
        """Offer one item; False when its id is already held (nothing changes)."""
        if feedback.id in self._ids:
            return False
        self._tick += 1
        res = self._users.get(feedback.user)
        if res is None:
            if len(self._users) >= self.capacity:
                self._drop_least_recent()
            res = self._users[feedback.user] = _Reservoir()
        res.last_active = self._tick
        complete = res.complete
        res.offered += 1
        if complete:
            self._append(res, feedback)
            if self._size > self.capacity:
                self._evict_one()
        else:  # Algorithm R at the reservoir's current size
            slot = int(self._rng.integers(res.offered))
            if slot < len(res.items):
                self._ids.discard(res.items[slot].id)
                res.items[slot] = feedback
                self._ids.add(feedback.id)
        return True

    def extend(self, feedback: Sequence[Feedback]) -> int:
        """Offer several items in order; the number accepted."""
        return sum(self.add(fb) for fb in feedback)

    def forget(self, user: str) -> int:
        """Remove everything held for ``user`` (account deletion); the number removed."""
        res = self._users.pop(user, None)
        if res is None:
            return 0
        for fb in res.items:
            self._ids.discard(fb.id)
        self._size -= len(res.items)
        return len(res.items)

    def _append(self, res: _Reservoir, feedback: Feedback) -> None:
        res.items.append(feedback)
        self._ids.add(feedback.id)
        self._size += 1

    def _evict_one(self) -> None:
        """Remove one uniformly random item from the largest reservoir (of size >= 2)."""
        largest = max(len(r.items) for r in self._users.values())
        if largest < 2:  # pragma: no cover - prevented by _drop_least_recent
            raise AssertionError("replay buffer invariant broken: nothing evictable")
        tied = [u for u, r in self._users.items() if len(r.items) == largest]
        heaviest = max(self._users[u].offered for u in tied)
        tied = [u for u in tied if self._users[u].offered == heaviest]
        user = tied[int(self._rng.integers(len(tied)))] if len(tied) > 1 else tied[0]
        res = self._users[user]
        victim = res.items.pop(int(self._rng.integers(len(res.items))))
        self._ids.discard(victim.id)
        self._size -= 1

    def _drop_least_recent(self) -> None:
        """Make room for a new user when every slot holds a different user."""
        user = min(self._users, key=lambda u: self._users[u].last_active)
        self.forget(user)

    # ------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly, as JSON-able data."""
        return {
            "version": STATE_VERSION,
            "capacity": self.capacity,
            "tick": self._tick,
            "rng": self._rng.bit_generator.state,
            "users": [
                {
                    "user": user,
                    "offered": res.offered,
                    "last_active": res.last_active,
                    "items": [fb.model_dump(mode="json") for fb in res.items],
                }
                for user, res in self._users.items()
            ],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace this buffer's contents with ``state`` from :meth:`state_dict`."""
        if state.get("version") != STATE_VERSION:
            raise SchemaError(
                f"replay state version {state.get('version')!r} is not {STATE_VERSION}"
            )
        users: dict[str, _Reservoir] = {}
        for entry in state["users"]:
            items = [parse_feedback(item) for item in entry["items"]]
            res = _Reservoir(items, int(entry["offered"]), int(entry["last_active"]))
            if not items or len(items) > res.offered:
                raise SchemaError(f"replay state for user {entry['user']!r} is inconsistent")
            users[str(entry["user"])] = res
        capacity = int(state["capacity"])
        size = sum(len(r.items) for r in users.values())
        if size > capacity:
            raise SchemaError(f"replay state holds {size} items, over its capacity {capacity}")
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        self.capacity, self._rng, self._users = capacity, rng, users
        self._ids = {fb.id for r in users.values() for fb in r.items}
        self._size, self._tick = size, int(state["tick"])
