"""Per-arm serving: each user gets the model of their experiment arm (issue 12, item 2).

With ``T2V_MODEL_SOURCE=registry`` the service serves ``champion`` (the control arm) and
this loop (``experiment-arms``, every ``interval_s``) looks up the model's active
experiment in the store. While one is ``running`` (or ``promoting``), the process also
holds the treatment version: downloaded and verified from the registry, loaded, with a
recommendation engine of its own over the same catalogue and crowd statistics. Every
request asks :meth:`ArmRouter.assign`: the user's arm is
:func:`~taste2vec.experiments.assignment.arm_of` of the experiment's salt (the same on
every replica, nothing stored), and a treatment user is ranked by the treatment model
(:meth:`ArmRouter.recommend`, with a per-user state cache checked against the store's
revision like the service's own). The answer and its ``recommendation_shown`` event
carry the experiment, the arm and the model version that served.

When the experiment ends (promoted, rolled back, stopped) the loop drops the treatment
model at its next pass and every user is served the champion again (after a promotion
the champion *is* the treatment: the follower loads it). A treatment version that
cannot be loaded (corrupt artifact) is logged and not served: every user gets the
champion and no answer carries the experiment, so the controller counts nobody and the
experiment waits (stop it: ``taste2vec experiment stop``).

**Request outcomes per arm** (the p99-latency and error-rate guardrails' input): every
routed request is counted by :meth:`ArmRouter.observe` in its arm (how long ranking took,
whether it failed with a server error; a client error such as an unknown coffee is not
an error), and the loop writes this process's cumulative counts to the store at every
pass (:meth:`~taste2vec.store.Store.record_arm_requests`, one row per experiment, arm and
process). The controller sums the rows of every process, wherever it runs.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from taste2vec.errors import ArtifactError, ConflictError, NotFoundError, SchemaError
from taste2vec.experiments.assignment import TREATMENT, Arm, arm_of
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.recommend.engine import Recommendation, RecommendationEngine
from taste2vec.recommend.user_state import UserState
from taste2vec.registry import ChecksumError, ModelRegistry
from taste2vec.schema import Context
from taste2vec.service.experiments import request_limit_ms
from taste2vec.store import ArmRequests, CatalogueRevision, FeedbackRevision, UserRevision

if TYPE_CHECKING:
    from taste2vec.service.core import TasteService

__all__ = ["CLIENT_ERRORS", "ArmRouter", "Assignment"]

log = logging.getLogger(__name__)
ROUTED = ("running", "promoting")
MAX_CACHED = 10_000
#: Exceptions that are the client's fault (answered 4xx): not counted as arm errors.
CLIENT_ERRORS: tuple[type[Exception], ...] = (SchemaError, NotFoundError, ConflictError)


@dataclass(frozen=True)
class Assignment:
    """A user's arm in the active experiment and the model version that serves it."""

    experiment: str
    arm: Arm
    model_version: str | None


@dataclass
class _Treatment:
    experiment: str
    salt: str
    share: float
    version: str  # registry version
    weights: str  # weights hash (model_version in answers)
    model: Taste2Vec
    engine: RecommendationEngine
    catalogue: CatalogueRevision
    crowd: FeedbackRevision
    limit_ms: float  # requests slower than this count against the p99 guardrail


class ArmRouter:
    """A supervised loop (``run``) plus the per-request routing; see the module docstring."""

    name = "experiment-arms"

    def __init__(
        self,
        service: TasteService,
        registry: ModelRegistry,
        loader: Callable[[Path], Taste2Vec] | None = None,
        interval_s: float = 1.0,
    ) -> None:
        self.service = service
        self.registry = registry
        self.interval_s = interval_s
        self._loader = loader or Taste2Vec.load
        self.treatment: _Treatment | None = None
        self.refused: dict[str, str] = {}  # registry version -> why it is not served
        self._states: OrderedDict[str, tuple[UserRevision, UserState]] = OrderedDict()
        self._lock = threading.Lock()
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"[:128]
        # (experiment, arm) -> [requests, errors, slower]; written to the store by sync_once
        self._counts: dict[tuple[str, Arm], list[int]] = {}
        self._limits: dict[str, float] = {}
        self._flushed: dict[tuple[str, Arm], tuple[int, int, int]] = {}

    def run(self, stop: threading.Event) -> None:
        self.sync_once()
        while not stop.wait(self.interval_s):
            self.sync_once()

    def sync_once(self) -> None:
        """Follow the store's active experiment and write this process's per-arm request
        counts (raises on a store failure: retried)."""
        try:
            self._follow()
        finally:
            self.flush()

    def _follow(self) -> None:
        store = self.service.store
        exp = store.active_experiment(self.registry.name)
        current = self.treatment
        if exp is None or exp.status not in ROUTED:
            if current is not None:
                log.info("experiment %s ended; serving every user the champion", current.experiment)
                self._set(None)
            return
        if current is not None and current.experiment == exp.id:
            catalogue = store.catalogue_revision()
            if catalogue != current.catalogue:
                current.engine.rebuild(current.model, self.service._all_coffees())
                current.catalogue = catalogue
                self._drop_states()
            # The crowd's statistics are refitted when the champion's were (the follower
            # does it after 50 new feedback rows or 30 s), so both arms rank with the same.
            crowd = self.service.crowd_revision
            if crowd != current.crowd:
                current.engine.set_crowd(store.crowd_feedback(current.engine.bayes.max_users))
                current.crowd = crowd
            return
        if exp.treatment_version in self.refused:
            return
        try:
            root = self.registry.download(exp.treatment_version)
            info = self.registry.version(exp.treatment_version)
            model = self._loader(root / "model")
        except (ChecksumError, ArtifactError, NotFoundError) as exc:  # never retried
            self.refused[exp.treatment_version] = str(exc)
            log.error(
                "experiment %s: treatment %s not served: %s", exp.id, exp.treatment_version, exc
            )
            self._set(None)
            return
        catalogue, crowd = store.catalogue_revision(), self.service.crowd_revision
        limit_ms = request_limit_ms(exp.config, exp.treatment_share)
        engine = RecommendationEngine(model, self.service._all_coffees())
        engine.set_crowd(store.crowd_feedback(engine.bayes.max_users))
        self._set(
            _Treatment(
                exp.id,
                exp.salt,
                exp.treatment_share,
                exp.treatment_version,
                info.weights_version,
                model,
                engine,
                catalogue,
                crowd,
                limit_ms,
            )
        )
        log.info(
            "experiment %s: serving version %s to %.0f%% of users",
            exp.id,
            exp.treatment_version,
            100 * exp.treatment_share,
        )

    def _set(self, treatment: _Treatment | None) -> None:
        self.treatment = treatment
        if treatment is not None:
            with self._lock:
                self._limits[treatment.experiment] = treatment.limit_ms
        self._drop_states()

    # ------------------------------------------------------------------ request outcomes
    def observe(self, assignment: Assignment, seconds: float, failed: bool) -> None:
        """One routed request of ``assignment``'s arm: ``seconds`` to answer it, and
        whether it failed with a server error."""
        t = self.treatment
        if t is None or t.experiment != assignment.experiment:
            return
        slower = seconds * 1000.0 > t.limit_ms
        with self._lock:
            counts = self._counts.setdefault((assignment.experiment, assignment.arm), [0, 0, 0])
            counts[0] += 1
            counts[1] += int(failed)
            counts[2] += int(slower)

    def request_counts(self) -> dict[tuple[str, Arm], ArmRequests]:
        """This process's cumulative counts per (experiment, arm)."""
        with self._lock:
            return {
                key: ArmRequests(c[0], c[1], c[2], self._limits[key[0]])
                for key, c in self._counts.items()
            }

    def flush(self) -> None:
        """Write the counts that changed since the last flush to the store (this
        process's own rows); forget the counts of experiments no longer served."""
        store = self.service.store
        for (experiment, arm), counts in self.request_counts().items():
            key = (experiment, arm)
            now = (counts.requests, counts.errors, counts.slower)
            if self._flushed.get(key) == now:
                continue
            store.record_arm_requests(experiment, arm, self.replica, counts)
            self._flushed[key] = now
        current = self.treatment
        with self._lock:
            for key in [k for k in self._counts if current is None or k[0] != current.experiment]:
                if self._flushed.get(key) == tuple(self._counts[key]):
                    del self._counts[key]
                    self._flushed.pop(key, None)

    def _drop_states(self) -> None:
        with self._lock:
            self._states.clear()

    # ------------------------------------------------------------------ per request
    def assign(self, user: str) -> Assignment | None:
        """The user's arm (None: no experiment is being served)."""
        t = self.treatment
        if t is None:
            return None
        arm = arm_of(t.salt, user, t.share)
        return Assignment(
            t.experiment, arm, t.weights if arm == TREATMENT else self.service.model_version
        )

    def recommend(
        self, user: str, k: int, context: Context | None
    ) -> tuple[Assignment, list[Recommendation]] | None:
        """The treatment model's ranking for a treatment user; None for everyone else
        (the service ranks them with the champion)."""
        t = self.treatment
        if t is None or arm_of(t.salt, user, t.share) != TREATMENT:
            return None
        service = self.service
        state = self._state(t, user)
        vector = state.vector()
        seen = set(state.items)
        liked = [(c, w) for c, (w, _) in state.items.items() if w > 0]
        items: list[Recommendation] = t.engine.recommend(
            vector,
            k,
            exclude=seen,
            context=context,
            history=service.history(user) if context is not None else (),
            liked=liked,
            n_feedback=len(seen),
            state=state,
        )
        return Assignment(t.experiment, TREATMENT, t.weights), items

    def _state(self, t: _Treatment, user: str) -> UserState:
        service = self.service
        revision = service.store.user_revision(user)
        with self._lock:
            cached = self._states.get(user)
        if cached is not None and cached[0] == revision:
            return cached[1]
        now = datetime.now(UTC) + timedelta(seconds=service.max_clock_skew_s)
        state = t.engine.state(service.store.feedback_for_user(user), service.history(user), now)
        t.engine.onboard(state, service.store.onboarding_families(user))
        with self._lock:
            self._states[user] = (revision, state)
            self._states.move_to_end(user)
            while len(self._states) > MAX_CACHED:
                self._states.popitem(last=False)
        return state
