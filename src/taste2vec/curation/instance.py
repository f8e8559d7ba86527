"""A curation instance, its weights, a solution (boxes) and how both are scored and checked.

An instance is dense and numeric so both solvers work on arrays:

* ``affinity[u, c]`` in [0, 1]: the recommender's score of coffee ``c`` for subscriber
  ``u``, min-max scaled per subscriber over the coffees they may receive;
* ``eligible[u, c]``: ``c`` may go into ``u``'s box (exclusions, recent shipments and
  coffees they already reacted to are ``False``);
* ``box_size[u]`` (the plan's k), ``stock[c]`` (shared by everyone);
* ``family[c]`` and ``origin[c]``: small integer codes (-1: unknown), for diversity;
* ``home[u, f]``: family ``f`` is one of ``u``'s own top families. A pick whose family is
  not one of them is *exploration*; ``explore_target[u]`` picks of that kind earn
  ``weights.explore`` each (``round(explore_share * k)``).

The objective of one box ``S`` (what :func:`box_value` computes, what both solvers
maximise, summed over subscribers)::

    sum_{c in S} affinity[u, c]                    (weights.affinity)
    + weights.family  * |distinct families in S|
    + weights.origin  * |distinct origins in S|
    + weights.explore * min(|exploration picks in S|, explore_target[u])

Filling a box comes first: a pick is worth :data:`FILL` on top, so a solver never leaves a
slot empty to raise the others' quality.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from taste2vec.errors import SchemaError

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Worth of one filled slot: larger than anything a box's quality terms can add (the
#: weights are capped by :class:`Weights`), so filled slots always come first.
FILL = 100.0
MAX_WEIGHT = 5.0


@dataclass(frozen=True)
class Weights:
    """The objective's weights. Defaults: one unit of scaled affinity per pick; a distinct
    flavour family is worth 0.15 of it, a distinct origin 0.10, an exploration pick 0.20,
    and a quarter of a box (rounded) is rewarded as exploration."""

    affinity: float = 1.0
    family: float = 0.15
    origin: float = 0.10
    explore: float = 0.20
    explore_share: float = 0.25

    def __post_init__(self) -> None:
        for name in ("affinity", "family", "origin", "explore"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= MAX_WEIGHT):
                raise SchemaError(
                    f"weight {name} must be a number in [0, {MAX_WEIGHT}], got {value!r}",
                    [(name, "out of range")],
                )
        if not 0.0 <= self.explore_share <= 1.0:
            raise SchemaError(
                f"explore_share must be in [0, 1], got {self.explore_share!r}",
                [("explore_share", "out of range")],
            )

    def to_dict(self) -> dict[str, float]:
        return {
            "affinity": self.affinity,
            "family": self.family,
            "origin": self.origin,
            "explore": self.explore,
            "explore_share": self.explore_share,
        }


@dataclass
class Instance:
    """One month's curation problem (see the module docstring)."""

    users: list[str]
    coffees: list[str]
    affinity: FloatArray
    eligible: BoolArray
    box_size: IntArray
    stock: IntArray
    family: IntArray
    origin: IntArray
    home: BoolArray
    weights: Weights = field(default_factory=Weights)

    def __post_init__(self) -> None:
        n_u, n_c = len(self.users), len(self.coffees)
        self.affinity = np.asarray(self.affinity, dtype=np.float32)
        self.eligible = np.asarray(self.eligible, dtype=bool)
        self.box_size = np.asarray(self.box_size, dtype=np.int64)
        self.stock = np.asarray(self.stock, dtype=np.int64)
        self.family = np.asarray(self.family, dtype=np.int64)
        self.origin = np.asarray(self.origin, dtype=np.int64)
        self.home = np.asarray(self.home, dtype=bool)
        shapes = {
            "affinity": (self.affinity.shape, (n_u, n_c)),
            "eligible": (self.eligible.shape, (n_u, n_c)),
            "box_size": (self.box_size.shape, (n_u,)),
            "stock": (self.stock.shape, (n_c,)),
            "family": (self.family.shape, (n_c,)),
            "origin": (self.origin.shape, (n_c,)),
        }
        for name, (got, want) in shapes.items():
            if got != want:
                raise SchemaError(f"{name} has shape {got}, expected {want}")
        if self.home.ndim != 2 or self.home.shape[0] != n_u:
            raise SchemaError(f"home has shape {self.home.shape}, expected ({n_u}, families)")
        if n_c and self.family.max(initial=-1) >= self.home.shape[1]:
            raise SchemaError("a family code is not a column of home")
        if (self.box_size < 0).any() or (self.stock < 0).any():
            raise SchemaError("box sizes and stock must be >= 0")
        if len(set(self.users)) != n_u or len(set(self.coffees)) != n_c:
            raise SchemaError("user and coffee ids must be unique")
        if not np.isfinite(self.affinity).all():
            raise SchemaError("affinity must be finite")

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_coffees(self) -> int:
        return len(self.coffees)

    @property
    def explore_target(self) -> IntArray:
        """Exploration picks rewarded per subscriber: ``round(explore_share * k)``."""
        out: IntArray = np.rint(self.weights.explore_share * self.box_size).astype(np.int64)
        return out

    def exploratory(self, users: IntArray | list[int] | slice = slice(None)) -> BoolArray:
        """``[u, c]``: coffee ``c``'s family is known and not one of ``u``'s own families."""
        fam = self.family
        known = fam >= 0
        home = self.home[users][:, np.where(known, fam, 0)]
        out: BoolArray = known[None, :] & ~home
        return out

    def subset(self, users: npt.ArrayLike) -> Instance:
        """The same coffees and stock for some of the subscribers (tests, benches)."""
        idx = np.asarray(users, dtype=np.int64)
        return Instance(
            [self.users[i] for i in idx],
            list(self.coffees),
            self.affinity[idx],
            self.eligible[idx],
            self.box_size[idx],
            self.stock.copy(),
            self.family.copy(),
            self.origin.copy(),
            self.home[idx],
            self.weights,
        )


@dataclass(frozen=True)
class Value:
    """An objective's parts, summed over boxes."""

    affinity: float
    families: int
    origins: int
    explore: int
    picks: int

    def quality(self, w: Weights) -> float:
        """The objective without the fill term (what the optimality gap compares)."""
        return (
            w.affinity * self.affinity
            + w.family * self.families
            + w.origin * self.origins
            + w.explore * self.explore
        )

    def total(self, w: Weights) -> float:
        return FILL * self.picks + self.quality(w)


def box_value(inst: Instance, u: int, box: list[int], target: int | None = None) -> Value:
    """The objective's parts for subscriber ``u`` receiving coffees ``box`` (indices);
    ``target``: ``inst.explore_target[u]`` when the caller has it (that property computes
    the whole array: per box, a whole solution's evaluation was quadratic)."""
    fams = {int(inst.family[c]) for c in box if inst.family[c] >= 0}
    origins = {int(inst.origin[c]) for c in box if inst.origin[c] >= 0}
    explore = sum(1 for c in box if inst.family[c] >= 0 and not inst.home[u, inst.family[c]])
    return Value(
        affinity=float(sum(float(inst.affinity[u, c]) for c in box)),
        families=len(fams),
        origins=len(origins),
        explore=min(explore, int(inst.explore_target[u] if target is None else target)),
        picks=len(box),
    )


def evaluate(inst: Instance, boxes: list[list[int]]) -> Value:
    """The objective's parts of a whole solution."""
    targets = inst.explore_target
    parts = [box_value(inst, u, box, int(targets[u])) for u, box in enumerate(boxes)]
    return Value(
        affinity=sum(p.affinity for p in parts),
        families=sum(p.families for p in parts),
        origins=sum(p.origins for p in parts),
        explore=sum(p.explore for p in parts),
        picks=sum(p.picks for p in parts),
    )


def violations(inst: Instance, boxes: list[list[int]]) -> list[str]:
    """Every constraint a solution breaks, in words (empty: feasible)."""
    problems: list[str] = []
    if len(boxes) != inst.n_users:
        return [f"{len(boxes)} boxes for {inst.n_users} subscribers"]
    used: IntArray = np.zeros(inst.n_coffees, dtype=np.int64)
    for u, box in enumerate(boxes):
        who = inst.users[u]
        if len(box) > inst.box_size[u]:
            problems.append(f"{who}: {len(box)} coffees for a plan of {inst.box_size[u]}")
        if len(set(box)) != len(box):
            problems.append(f"{who}: the same coffee twice")
        for c in box:
            if not 0 <= c < inst.n_coffees:
                problems.append(f"{who}: coffee index {c} out of range")
                continue
            if not inst.eligible[u, c]:
                problems.append(f"{who}: {inst.coffees[c]} is excluded for them")
            used[c] += 1
    for j in np.flatnonzero(used > inst.stock):
        problems.append(f"{inst.coffees[j]}: {used[j]} shipped, stock {inst.stock[j]}")
    return problems


def shortfalls(inst: Instance, boxes: list[list[int]]) -> dict[str, int]:
    """Subscribers whose box is short of their plan, with how many coffees are missing."""
    return {
        inst.users[u]: int(inst.box_size[u]) - len(box)
        for u, box in enumerate(boxes)
        if len(box) < inst.box_size[u]
    }
