"""The experiment controller: evaluates running experiments and acts on them (issue 12).

Every ``interval_s`` (``T2V_CONTROLLER_INTERVAL_S``) the controller

1. takes or renews the lease ``experiment-controller:<model>`` in the store
   (:meth:`~taste2vec.store.Store.acquire_lease`); without it, it does nothing this
   round. Only one controller acts at a time, however many service replicas or
   ``taste2vec controller`` processes run;
2. finishes what a controller killed mid-action left (an experiment in ``promoting`` or
   ``rolling_back``: the registry's write-ahead audit log is rolled forward with
   :meth:`~taste2vec.registry.ModelRegistry.reconcile` and the step is redone, each step
   idempotent);
3. for each running experiment, reads its users' events from the store
   (:mod:`taste2vec.experiments.metrics`): those since it started, and those of the
   ``pre_period_s`` before (each user's pre-experiment CTR and satisfaction, the CUPED
   covariate), adds the per-arm request counts every serving process wrote to the store
   (p99-latency and error-rate guardrails), and calls
   :func:`~taste2vec.experiments.stats.decide`:

   * ``promote``: the experiment goes ``running -> promoting`` (fenced: only while this
     controller holds the lease with its token), the treatment becomes ``champion`` and
     ``challenger`` is cleared, both moves in the audit log with the decision as
     evidence, then ``promoted``;
   * ``rollback`` / ``halt`` (SRM): ``running -> rolling_back``, ``challenger`` cleared
     (the champion never moved), then ``rolled_back`` / ``halted``;
   * ``continue``: the decision is stored on the experiment (``status`` shows it).

   An experiment whose champion was moved by hand meanwhile is ``stopped``.

Fault injection for tests: ``T2V_CRASH_AT=<point>`` makes the process kill itself with
SIGKILL at that point (``experiment-promoting``: after the experiment is marked
``promoting``; the registry's ``alias-logged``: after a move is in the audit log, before
MLflow holds it). Nothing sets it in production.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from taste2vec.experiments.assignment import CONTROL, TREATMENT
from taste2vec.experiments.metrics import EVENT_TYPES, ArmMetrics, PrePeriod
from taste2vec.experiments.stats import ArmData, LatencyCounts, decide
from taste2vec.registry import CHALLENGER, CHAMPION, ModelRegistry
from taste2vec.registry.core import crash_point
from taste2vec.service.experiments import decision_configs, pre_period_s, request_limit_ms
from taste2vec.service.runtime import Backoff
from taste2vec.store import Experiment, Fence, Store

__all__ = [
    "ControllerAction",
    "ExperimentController",
    "evaluate",
    "pre_period",
    "read_metrics",
    "with_requests",
]

log = logging.getLogger(__name__)
PAGE = 5000


@dataclass(frozen=True)
class ControllerAction:
    """What one round did to one experiment."""

    experiment: str
    action: str  # promote, rollback, halt, continue, stopped, finished
    status: str
    reasons: tuple[str, ...] = ()


def read_metrics(store: Store, exp: Experiment) -> tuple[ArmMetrics, PrePeriod | None]:
    """The experiment's per-arm metrics from the events stored since it was created,
    and its users' pre-period (CUPED covariate: the events of the ``pre_period_s``
    before; None when the setting is 0), in one paged pass over the outbox."""
    window = pre_period_s(exp.config)
    metrics = ArmMetrics(exp.id, exp.salt, exp.treatment_share)
    pre = PrePeriod(window) if window > 0 else None
    since = exp.created_at - timedelta(seconds=window)
    after = 0
    while True:
        page = store.events_since(since, EVENT_TYPES, after_seq=after, limit=PAGE)
        for ev in page:
            if ev.created_at >= exp.created_at:
                metrics.add(ev.user_id, ev.event_type, ev.payload, ev.created_at)
            elif pre is not None:
                pre.add(ev.user_id, ev.event_type, ev.payload)
        if len(page) < PAGE:
            break
        after = page[-1].seq
    return metrics, pre


def pre_period(store: Store, exp: Experiment) -> PrePeriod | None:
    """Only the experiment's pre-period (the events of the ``pre_period_s`` before it
    started; None when that is 0), for a replay that reads the experiment's own events
    itself (the console's interval over time). Stops at the first page that holds
    nothing older than the start (the outbox's ``seq`` follows the write order)."""
    window = pre_period_s(exp.config)
    if window <= 0:
        return None
    pre = PrePeriod(window)
    since = exp.created_at - timedelta(seconds=window)
    after = 0
    while True:
        page = store.events_since(since, EVENT_TYPES, after_seq=after, limit=PAGE)
        older = [ev for ev in page if ev.created_at < exp.created_at]
        for ev in older:
            pre.add(ev.user_id, ev.event_type, ev.payload)
        if len(page) < PAGE or not older:
            return pre
        after = page[-1].seq


def with_requests(
    store: Store, exp: Experiment, control: ArmData, treatment: ArmData
) -> tuple[ArmData, ArmData, dict[str, Any]]:
    """Both arms with the request counts every serving process wrote to the store (the
    p99-latency and error-rate guardrails' input); an arm without counts stays missing."""
    limit = request_limit_ms(exp.config, exp.treatment_share)
    counts = store.arm_requests(exp.id, limit)

    def add(arm: str, data: ArmData) -> ArmData:
        c = counts.get(arm)
        if c is None or c.requests == 0:
            return data
        return dataclasses.replace(
            data,
            errors=c.errors,
            requests=c.requests,
            latency=LatencyCounts(limit_ms=limit, requests=c.requests, slower=c.slower),
        )

    seen = {arm: dataclasses.asdict(c) for arm, c in counts.items()}
    return add(CONTROL, control), add(TREATMENT, treatment), seen


def evaluate(store: Store, exp: Experiment, now: datetime | None = None) -> dict[str, Any]:
    """The decision (``Decision.to_json()`` plus ``users``/``events`` counts) for ``exp``
    on the events stored since it was created (each user's pre-period as the CUPED
    covariate) and the per-arm request counts in the store."""
    decision_cfg, guard_cfg = decision_configs(exp.config, exp.treatment_share)
    metrics, pre = read_metrics(store, exp)
    control, treatment = metrics.arm_data(pre)
    control, treatment, requests = with_requests(store, exp, control, treatment)
    now = now or datetime.now(UTC)
    duration = max(0.0, (now - exp.created_at).total_seconds())
    decision = decide(
        control, treatment, duration_s=duration, guardrails=guard_cfg, config=decision_cfg
    )
    out = decision.to_json()
    out["experiment"] = exp.id
    out["control_version"] = exp.control_version
    out["treatment_version"] = exp.treatment_version
    out["users"] = {"control": control.users, "treatment": treatment.users}
    out["events_read"] = metrics.events
    out["pre_period"] = (
        None
        if pre is None
        else {
            "window_s": pre.window_s,
            "events_read": pre.events,
            "users_with_history": pre.users_with_history(),
        }
    )
    out["requests"] = requests
    out["arm_mismatches"] = metrics.mismatched
    out["duration_s"] = duration
    out["evaluated_at"] = now.isoformat()
    return out


def _short(decision: dict[str, Any]) -> str:
    reasons = decision.get("reasons") or []
    return "; ".join(str(r) for r in reasons)[:1500]


class ExperimentController:
    """A supervised loop (``run``) and one round (:meth:`tick`); see the module docstring."""

    name = "experiment-controller"

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        interval_s: float = 60.0,
        lease_ttl_s: float | None = None,
        holder: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError("interval_s must be > 0")
        self.registry = registry
        self.store = registry.store
        self.interval_s = interval_s
        self.lease_ttl_s = lease_ttl_s if lease_ttl_s is not None else max(3 * interval_s, 5.0)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease_name = f"experiment-controller:{registry.name}"
        self.actor = f"controller:{self.holder}"[:128]
        self._clock = clock or (lambda: datetime.now(UTC))
        self.rounds = 0
        self.rounds_led = 0
        self.failures = 0  # failed rounds (serve), in all
        self.last_error: str | None = None

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval_s):
            self.tick()

    def serve(
        self,
        stop: threading.Event,
        *,
        once: bool = False,
        backoff: Backoff | None = None,
        max_failures: int | None = None,
        on_actions: Callable[[list[ControllerAction]], None] | None = None,
    ) -> bool:
        """Rounds until ``stop`` (one successful round with ``once``), the first at once;
        for ``taste2vec controller``, which runs outside a service's supervisor.

        A round that fails (the store or the registry unreachable) is logged and retried
        after the runtime's :class:`~taste2vec.service.runtime.Backoff` (the service's
        supervisor's policy), the delay reset by a successful round. The holder stays the
        same, so an unexpired lease is renewed with its token; if it expired meanwhile, the
        round takes it over like any controller (new token) or waits for the new holder,
        and every write is fenced as always. Returns False when ``max_failures`` failures
        in a row gave up, True otherwise."""
        policy = backoff or Backoff()
        failures = 0
        while not stop.is_set():
            try:
                actions = self.tick()
            except Exception as exc:  # noqa: BLE001 - every failure is retried
                failures += 1
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if max_failures is not None and failures >= max_failures:
                    log.error("controller round failed %d times in a row: %s", failures, exc)
                    return False
                delay = policy.delay(failures)
                log.warning(
                    "controller round failed (%s); retrying in %.2f s (failure %d in a row)",
                    self.last_error,
                    delay,
                    failures,
                    exc_info=failures == 1,
                )
                stop.wait(delay)
                continue
            failures = 0
            if on_actions is not None:
                on_actions(actions)
            if once or stop.wait(self.interval_s):
                break
        return True

    def tick(self) -> list[ControllerAction]:
        """One round; [] when another controller holds the lease."""
        self.rounds += 1
        fence = self.store.acquire_lease(self.lease_name, self.holder, self.lease_ttl_s)
        if fence is None:
            return []
        self.rounds_led += 1
        done: list[ControllerAction] = []
        for exp in self.store.list_experiments(self.registry.name, active=True):
            if exp.status == "promoting":
                done.append(self._finish_promote(exp, fence, exp.last_decision or {}))
            elif exp.status == "rolling_back":
                done.append(self._finish_rollback(exp, fence, exp.last_decision or {}))
            elif exp.status == "running":
                done.append(self._evaluate(exp, fence))
        return done

    def _renew(self) -> Fence | None:
        return self.store.acquire_lease(self.lease_name, self.holder, self.lease_ttl_s)

    def release(self) -> None:
        """Give the lease up (a clean shutdown), if this controller holds it."""
        lease = self.store.lease(self.lease_name)
        if lease is not None and lease[0] == self.holder:
            self.store.release_lease(Fence(self.lease_name, self.holder, lease[1]))

    # ------------------------------------------------------------------ one experiment
    def _evaluate(self, exp: Experiment, fence: Fence) -> ControllerAction:
        champion = self.registry.reconcile(CHAMPION)
        if champion != exp.control_version:
            why = (
                f"the champion moved to version {champion} outside the experiment "
                f"(control was {exp.control_version}); experiment stopped"
            )
            self.store.transition_experiment(
                exp.id, expected=("running",), status="stopped", reason=why, fence=fence
            )
            log.warning("experiment %s: %s", exp.id, why)
            return ControllerAction(exp.id, "stopped", "stopped", (why,))
        decision = evaluate(self.store, exp, self._clock())
        action = str(decision["action"])
        reasons = tuple(str(r) for r in decision.get("reasons", ()))
        if action == "continue":
            ok = self.store.record_decision(exp.id, decision, fence)
            return ControllerAction(exp.id, "continue", "running" if ok else "unknown", reasons)
        status = "promoting" if action == "promote" else "rolling_back"
        renewed = self._renew()  # the evaluation took time: act only while still the leader
        if renewed is None:
            return ControllerAction(exp.id, action, "unchanged", reasons)
        fence = renewed
        moved = self.store.transition_experiment(
            exp.id, expected=("running",), status=status, decision=decision, fence=fence
        )
        if moved is None:  # lost the lease, or someone stopped it meanwhile
            return ControllerAction(exp.id, action, "unchanged", reasons)
        log.info("experiment %s: %s (%s)", exp.id, action, _short(decision))
        if action == "promote":
            crash_point("experiment-promoting")
            return self._finish_promote(moved, fence, decision)
        return self._finish_rollback(moved, fence, decision)

    def _evidence(self, exp: Experiment, decision: dict[str, Any]) -> dict[str, Any]:
        return {"experiment": exp.id, "controller": self.holder, "decision": decision}

    def _finish_promote(
        self, exp: Experiment, fence: Fence, decision: dict[str, Any]
    ) -> ControllerAction:
        evidence = self._evidence(exp, decision)
        reason = f"experiment {exp.id}: treatment better; {_short(decision)}"
        self.registry.promote(  # None when it already is (a redone step)
            exp.treatment_version,
            alias=CHAMPION,
            actor=self.actor,
            reason=reason,
            evidence=evidence,
        )
        if self.registry.reconcile(CHALLENGER) == exp.treatment_version:
            self.registry.remove(
                alias=CHALLENGER,
                actor=self.actor,
                reason=f"experiment {exp.id} promoted its treatment",
                evidence={"experiment": exp.id},
            )
        end = self.store.transition_experiment(
            exp.id,
            expected=("promoting",),
            status="promoted",
            reason=reason,
            fence=self._renew() or fence,
        )
        status = "promoted" if end is not None else "promoting"
        return ControllerAction(exp.id, "promote", status, tuple(decision.get("reasons", ())))

    def _finish_rollback(
        self, exp: Experiment, fence: Fence, decision: dict[str, Any]
    ) -> ControllerAction:
        action = "halt" if decision.get("action") == "halt" else "rollback"
        final = "halted" if action == "halt" else "rolled_back"
        word = "halted (sample ratio mismatch)" if action == "halt" else "treatment rolled back"
        reason = f"experiment {exp.id} {word}; {_short(decision)}"
        if self.registry.reconcile(CHALLENGER) == exp.treatment_version:
            self.registry.remove(
                alias=CHALLENGER,
                actor=self.actor,
                reason=reason,
                evidence=self._evidence(exp, decision),
            )
        end = self.store.transition_experiment(
            exp.id,
            expected=("rolling_back",),
            status=final,
            reason=reason,
            fence=self._renew() or fence,
        )
        status = final if end is not None else "rolling_back"
        return ControllerAction(exp.id, action, status, tuple(decision.get("reasons", ())))
