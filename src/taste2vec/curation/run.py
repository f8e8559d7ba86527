"""A month's curation run: read the subscribers and catalogue from the store, score them
with the recommender, solve, explain each pick and store the boxes as the month's draft.

The recommender comes in through :class:`Scorer` (``taste2vec.service.curation_scores.
ServiceScorer`` in the CLI and the API), so this package sits below the service layer.
A re-run of a month replaces its draft; a shipped month is refused before any work. A
subscriber whose box cannot be filled (not enough eligible stock) gets a short box and is
named in the run's summary (``short_boxes``); the others are not held back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from taste2vec.curation.exact import solve_exact
from taste2vec.curation.explain import explain_pick
from taste2vec.curation.greedy import solve_greedy
from taste2vec.curation.instance import Instance, Weights, evaluate, shortfalls, violations
from taste2vec.errors import ConflictError, ModelError, SchemaError
from taste2vec.schema import Coffee
from taste2vec.store import CurationRun, Pick, Store, Subscription, check_month, month_minus

SolverName = Literal["auto", "greedy", "exact"]
Progress = Callable[[str, int, int], None]
MAX_SHORT_LISTED = 1000


class Scorer(Protocol):
    """What the optimiser needs from the recommender."""

    def scores(self, user: str, n_coffees: int) -> Mapping[str, tuple[float, str]]:
        """Coffee id -> (score, reason) for the coffees the user may be offered."""
        ...

    def coffee_family(self, coffee: str) -> str | None: ...

    def home_families(self, user: str) -> list[str]: ...


@dataclass(frozen=True)
class CurationSettings:
    """How a run is made. ``no_repeat_months``: a coffee shipped to someone in that many
    months before this one is not sent to them again (0: no rule). ``solver``: ``auto``
    uses the exact MILP up to ``exact_max_pairs`` eligible (subscriber, coffee) pairs, the
    scalable one beyond."""

    weights: Weights = field(default_factory=Weights)
    no_repeat_months: int = 6
    solver: SolverName = "auto"
    exact_max_pairs: int = 20_000
    exact_time_limit_s: float = 60.0

    def __post_init__(self) -> None:
        if not 0 <= self.no_repeat_months <= 36:
            raise SchemaError(
                f"no_repeat_months must be 0-36, got {self.no_repeat_months}",
                [("no_repeat_months", "out of range")],
            )
        if self.solver not in ("auto", "greedy", "exact"):
            raise SchemaError(f"solver must be auto, greedy or exact, got {self.solver!r}")
        if not 0 < self.exact_time_limit_s <= 3600:
            raise SchemaError("exact_time_limit_s must be in (0, 3600]")

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights.to_dict(),
            "no_repeat_months": self.no_repeat_months,
            "solver": self.solver,
            "exact_max_pairs": self.exact_max_pairs,
            "exact_time_limit_s": self.exact_time_limit_s,
        }


def is_decaf(coffee: Coffee) -> bool:
    """Decaf when its descriptors or its name say so (``decaf``, ``decaffeinated``)."""
    words = [d.casefold() for d in coffee.descriptors] + coffee.name.casefold().split()
    return any(w.startswith("decaf") for w in words)


def allowed(sub: Subscription, coffee: Coffee) -> bool:
    """The subscriber's personal exclusions let ``coffee`` into their box."""
    if sub.decaf_only and not is_decaf(coffee):
        return False
    if coffee.process is not None and coffee.process in sub.exclude_processes:
        return False
    if coffee.roast_level is not None and coffee.roast_level in sub.exclude_roasts:
        return False
    origin = (coffee.origin_country or "").casefold()
    if origin and origin in {o.casefold() for o in sub.exclude_origins}:
        return False
    return coffee.id not in sub.exclude_coffees


def _codes(values: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
    names = sorted({v for v in values if v})
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[v] if v else -1 for v in values], dtype=np.int64), names


@dataclass
class Built:
    """An instance and what explanations need about it."""

    instance: Instance
    catalogue: list[Coffee]
    families: list[str]
    reasons: list[dict[int, str]]
    ranks: list[dict[int, int]]


def build_instance(
    store: Store,
    scorer: Scorer,
    month: str,
    settings: CurationSettings,
    progress: Progress | None = None,
) -> Built:
    """The month's instance from the store's active subscriptions and catalogue."""
    subs = store.active_subscriptions()
    catalogue: list[Coffee] = []
    while page := store.list_coffees(offset=len(catalogue), limit=1000):
        catalogue.extend(page)
    shipped: set[tuple[str, str]] = set()
    if settings.no_repeat_months:
        shipped = store.shipped_since(month_minus(month, settings.no_repeat_months), month)
    n_u, n_c = len(subs), len(catalogue)
    pos = {c.id: j for j, c in enumerate(catalogue)}
    affinity = np.zeros((n_u, n_c), dtype=np.float32)
    eligible = np.zeros((n_u, n_c), dtype=bool)
    reasons: list[dict[int, str]] = []
    ranks: list[dict[int, int]] = []
    homes: list[list[str]] = []
    for u, sub in enumerate(subs):
        scored = scorer.scores(sub.user, n_c)
        cols = [pos[c] for c in scored if c in pos]
        raw = np.array([scored[catalogue[j].id][0] for j in cols], dtype=np.float64)
        if len(cols):
            lo, hi = raw.min(), raw.max()
            affinity[u, cols] = (raw - lo) / (hi - lo) if hi > lo else 0.5
        for j in cols:
            c = catalogue[j]
            eligible[u, j] = allowed(sub, c) and (sub.user, c.id) not in shipped
        order = sorted(cols, key=lambda j: -affinity[u, j])
        ranks.append({j: r + 1 for r, j in enumerate(j for j in order if eligible[u, j])})
        reasons.append({j: scored[catalogue[j].id][1] for j in cols})
        homes.append(scorer.home_families(sub.user))
        if progress is not None:
            progress("scoring subscribers", u + 1, n_u)
    family, families = _codes([scorer.coffee_family(c.id) for c in catalogue])
    origin, _ = _codes([(c.origin_country or "").strip().casefold() or None for c in catalogue])
    home = np.zeros((n_u, max(1, len(families))), dtype=bool)
    fam_index = {f: i for i, f in enumerate(families)}
    for u, fams in enumerate(homes):
        home[u, [fam_index[f] for f in fams if f in fam_index]] = True
    instance = Instance(
        [s.user for s in subs],
        [c.id for c in catalogue],
        affinity,
        eligible,
        np.array([s.box_size for s in subs], dtype=np.int64),
        np.array([c.stock for c in catalogue], dtype=np.int64),
        family,
        origin,
        home,
        settings.weights,
    )
    return Built(instance, catalogue, families, reasons, ranks)


def solve(
    inst: Instance, settings: CurationSettings, progress: Progress | None = None
) -> tuple[list[list[int]], dict[str, Any]]:
    """Boxes and how they were found (solver, seconds, optimal where known)."""
    pairs = int((inst.eligible & (inst.stock > 0)[None, :]).sum())
    name = settings.solver
    if name == "auto":
        name = "exact" if pairs <= settings.exact_max_pairs else "greedy"
    start = time.perf_counter()
    info: dict[str, Any] = {"solver": name, "eligible_pairs": pairs}
    if name == "exact":
        result = solve_exact(inst, settings.exact_time_limit_s)
        boxes = result.boxes
        info["optimal"] = result.optimal
        info["status"] = result.status
    else:

        def step(done: int, total: int) -> None:
            if progress is not None:
                progress("pricing stock", done, total)

        boxes = solve_greedy(inst, progress=step)
    info["solve_s"] = round(time.perf_counter() - start, 3)
    problems = violations(inst, boxes)
    if problems:  # never store boxes that break a constraint
        raise ModelError(f"the {name} solver broke constraints: {'; '.join(problems[:5])}")
    return boxes, info


def curate(
    store: Store,
    scorer: Scorer,
    month: str,
    settings: CurationSettings | None = None,
    progress: Progress | None = None,
) -> CurationRun:
    """Curate ``month`` (``YYYY-MM``) for every active subscriber and store it as the
    month's draft, replacing an earlier draft. :class:`ConflictError` if it shipped."""
    settings = settings or CurationSettings()
    check_month(month)
    existing = store.curation_run_for_month(month)
    if existing is not None and existing.status == "shipped":
        raise ConflictError(f"{month} was shipped (run {existing.id}); it is never re-curated")
    built = build_instance(store, scorer, month, settings, progress)
    inst = built.instance
    boxes, info = solve(inst, settings, progress)
    picks = [
        Pick(
            inst.users[u],
            slot,
            inst.coffees[c],
            round(float(inst.affinity[u, c]), 4),
            explain_pick(built, u, c, box),
        )
        for u, box in enumerate(boxes)
        for slot, c in enumerate(sorted(box, key=lambda c: -inst.affinity[u, c]))
    ]
    value = evaluate(inst, boxes)
    short = shortfalls(inst, boxes)
    listed = dict(sorted(short.items())[:MAX_SHORT_LISTED])
    summary = {
        **info,
        "subscribers": inst.n_users,
        "coffees": inst.n_coffees,
        "picks": value.picks,
        "objective": round(value.quality(inst.weights), 4),
        "mean_affinity": round(value.affinity / max(1, value.picks), 4),
        "mean_families_per_box": round(value.families / max(1, inst.n_users), 3),
        "mean_origins_per_box": round(value.origins / max(1, inst.n_users), 3),
        "exploration_picks": value.explore,
        "short_box_count": len(short),
        "short_boxes": listed,
    }
    run_id = f"cur-{month}-{uuid.uuid4().hex[:8]}"
    return store.save_curation_run(
        run_id, month, info["solver"], settings.to_dict(), summary, picks
    )
