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

Cost: :meth:`ReplayBuffer.add` takes O(log n) time (n = users held) plus a list insertion
into one tie bucket, never a scan of every user. Two indexes, rebuilt by
:meth:`ReplayBuffer.load_state_dict` and not part of the saved state, make that so:

- **eviction index**: users grouped by (reservoir size, items offered), each group a list
  of arrival ranks kept sorted (bisect), with lazy max-heaps over the sizes and, per size,
  over the offered counts. The largest reservoir, then the heaviest user, then the tie
  list come from the heap tops, and the random tie-break indexes that list in arrival
  order: the same order as iterating the users dict, so the draws and the victim are
  exactly those of a scan over every user;
- **recency**: an ordered dict of the users, moved to its end on each activity; its
  first key is the user with the smallest ``last_active`` (unique and increasing).
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections import OrderedDict
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
    """One user's reservoir: the held items, how many were offered, when last active.

    ``rank`` is the user's arrival rank (the eviction index's tie order; not saved).
    """

    items: list[Feedback] = field(default_factory=list)
    offered: int = 0
    last_active: int = 0
    rank: int = 0

    @property
    def complete(self) -> bool:
        """True when it holds every item the user offered."""
        return len(self.items) == self.offered


class _MaxHeap:
    """A lazy max-heap of ints: stale values are skipped (and dropped) when they surface.

    ``live`` (passed to each call) holds the values that still count. A value is pushed
    only when it is not already in the heap, and the heap is rebuilt from ``live`` when it
    grows past twice its size plus 16, so it stays bounded however many values went stale
    below the top (a heavy user's offered count changes on every add); amortised O(log n).
    """

    __slots__ = ("_heap", "_in")

    def __init__(self) -> None:
        self._heap: list[int] = []  # negated values
        self._in: set[int] = set()

    def push(self, value: int, live: dict[int, Any]) -> None:
        """Record that ``value`` (already in ``live``) counts."""
        if value not in self._in:
            self._in.add(value)
            heapq.heappush(self._heap, -value)
            self._compact(live)

    def top(self, live: dict[int, Any]) -> int:
        """The largest value present in ``live`` (which must hold at least one)."""
        heap = self._heap
        while -heap[0] not in live:
            self._in.discard(-heapq.heappop(heap))
        return -heap[0]

    def __len__(self) -> int:
        return len(self._heap)

    def _compact(self, live: dict[int, Any]) -> None:
        if len(self._heap) > 2 * len(live) + 16:
            self._heap = [-v for v in live]
            heapq.heapify(self._heap)
            self._in = set(live)


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
        self._reset_index()

    def _reset_index(self) -> None:
        """Empty indexes (the caller re-adds every user in ``_users`` order)."""
        self._next_rank = 0
        self._by_rank: dict[int, str] = {}
        # reservoir size -> items offered -> arrival ranks, ascending
        self._buckets: dict[int, dict[int, list[int]]] = {}
        self._size_heap = _MaxHeap()
        self._offered_heaps: dict[int, _MaxHeap] = {}
        self._recency: OrderedDict[str, None] = OrderedDict()

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
        user = feedback.user
        res = self._users.get(user)
        if res is None:
            if len(self._users) >= self.capacity:
                self._drop_least_recent()
            res = self._users[user] = _Reservoir(rank=self._next_rank)
            self._by_rank[res.rank] = user
            self._next_rank += 1
        else:
            self._unindex(res)
        res.last_active = self._tick
        self._recency[user] = None
        self._recency.move_to_end(user)
        complete = res.complete
        res.offered += 1
        if complete:
            self._append(res, feedback)
            self._index(res)
            if self._size > self.capacity:
                self._evict_one()
        else:  # Algorithm R at the reservoir's current size
            self._index(res)
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
        self._unindex(res)
        del self._by_rank[res.rank]
        del self._recency[user]
        for fb in res.items:
            self._ids.discard(fb.id)
        self._size -= len(res.items)
        return len(res.items)

    def _append(self, res: _Reservoir, feedback: Feedback) -> None:
        res.items.append(feedback)
        self._ids.add(feedback.id)
        self._size += 1

    def _index(self, res: _Reservoir) -> None:
        """Put ``res`` in its (size, offered) bucket of the eviction index."""
        size = len(res.items)
        by_offered = self._buckets.get(size)
        if by_offered is None:
            by_offered = self._buckets[size] = {}
            self._size_heap.push(size, self._buckets)
        ranks = by_offered.get(res.offered)
        if ranks is None:
            by_offered[res.offered] = [res.rank]
            heap = self._offered_heaps.get(size)
            if heap is None:
                heap = self._offered_heaps[size] = _MaxHeap()
            heap.push(res.offered, by_offered)
        else:
            insort(ranks, res.rank)

    def _unindex(self, res: _Reservoir) -> None:
        """Take ``res`` out of its (size, offered) bucket (as its fields are now)."""
        size = len(res.items)
        by_offered = self._buckets[size]
        ranks = by_offered[res.offered]
        del ranks[bisect_left(ranks, res.rank)]
        if not ranks:
            del by_offered[res.offered]
            if not by_offered:
                del self._buckets[size]
                del self._offered_heaps[size]

    def _evict_one(self) -> None:
        """Remove one uniformly random item from the largest reservoir (of size >= 2)."""
        largest = self._size_heap.top(self._buckets)
        if largest < 2:  # pragma: no cover - prevented by _drop_least_recent
            raise AssertionError("replay buffer invariant broken: nothing evictable")
        by_offered = self._buckets[largest]
        tied = by_offered[self._offered_heaps[largest].top(by_offered)]
        # ranks ascend in arrival order, the order a scan of self._users would meet them
        rank = tied[int(self._rng.integers(len(tied)))] if len(tied) > 1 else tied[0]
        res = self._users[self._by_rank[rank]]
        self._unindex(res)
        victim = res.items.pop(int(self._rng.integers(len(res.items))))
        self._index(res)
        self._ids.discard(victim.id)
        self._size -= 1

    def _drop_least_recent(self) -> None:
        """Make room for a new user when every slot holds a different user."""
        self.forget(next(iter(self._recency)))

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
        tick = int(state["tick"])
        latest = max((r.last_active for r in users.values()), default=0)
        if latest > tick:  # later activity would not be the most recent: refuse
            raise SchemaError(f"replay state has a user active at {latest}, after its tick {tick}")
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        self.capacity, self._rng, self._users = capacity, rng, users
        self._ids = {fb.id for r in users.values() for fb in r.items}
        self._size, self._tick = size, tick
        self._reset_index()
        for user, res in users.items():
            res.rank = self._next_rank
            self._by_rank[res.rank] = user
            self._next_rank += 1
            self._index(res)
        # stable sort: equal last_active keep arrival order, as min() over the dict would
        for user in sorted(users, key=lambda u: users[u].last_active):
            self._recency[user] = None
