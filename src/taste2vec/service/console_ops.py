"""What the operator console's Models, Experiments and Curation pages show and do,
computed without HTTP.

:class:`OpsView` wraps the model registry (:class:`~taste2vec.registry.ModelRegistry`,
whose store also holds the experiments and the curation runs) and the edge folder beside
the model directory:

* models: every registered version with its metrics, the aliases (``champion``,
  ``challenger``), the audit log of alias moves, the edge bundles with their parity
  reports, and promote / rollback acting as the signed-in operator (audited);
* experiments: each experiment with its arms, sample sizes, decision, always-valid
  interval and SRM status (from the controller's last decision, or evaluated now for a
  running one), and stopping one by hand;
* curation: the latest run of each month with its summary (short boxes), its picks page
  by page with their explanations, and each subscriber's churn risk when the stream
  reader knows them.

A registry that cannot be read is reported (``error``), never raised: the page shows it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taste2vec.edge.registry import BundleFolder, EdgeRegistry
from taste2vec.errors import ConflictError, NotFoundError, SchemaError, StoreError
from taste2vec.experiments.metrics import EVENT_TYPES, ArmMetrics
from taste2vec.experiments.stats import decide
from taste2vec.registry import ALIASES, ChecksumError, ModelRegistry, VersionInfo
from taste2vec.service.controller import evaluate, pre_period
from taste2vec.service.experiments import decision_configs, stop_experiment
from taste2vec.store import AliasEvent, CurationRun, Experiment, Pick
from taste2vec.stream.state import StreamReader

__all__ = [
    "BOX_PAGE_SIZE",
    "MAX_REASON_CHARS",
    "BoxesPage",
    "EdgeBundle",
    "ExperimentRow",
    "IntervalPoint",
    "ModelsStatus",
    "OpsView",
]

log = logging.getLogger(__name__)

BOX_PAGE_SIZE = 40  # picks per page (about 10 boxes of 4)
MAX_PAGE = 100_000
MAX_REASON_CHARS = 1500
HISTORY_LIMIT = 100
EXPERIMENT_LIMIT = 50
DEFAULT_LIFT_THRESHOLD = 0.05
HISTORY_POINTS = 12  # checkpoints of the interval over time
HISTORY_EXPERIMENTS = 5  # the newest experiments whose interval over time is replayed
EVENT_PAGE = 5000
_ERRORS = (StoreError, ChecksumError, OSError)


@dataclass(frozen=True)
class EdgeBundle:
    """One exported bundle (a model version in one format) with its parity report."""

    model_version: str
    aliases: tuple[str, ...]
    format: str
    size: int
    created: str
    passed: bool | None  # None: no parity report
    parity: dict[str, Any]


@dataclass(frozen=True)
class ModelsStatus:
    model_name: str
    uri: str
    serving: str
    versions: list[VersionInfo]
    aliases: dict[str, str]
    history: list[AliasEvent]
    rollback_targets: dict[str, str | None]  # alias -> the version a rollback returns to
    bundles: list[EdgeBundle]
    error: str | None = None  # the registry could not be read


@dataclass(frozen=True)
class IntervalPoint:
    """The always-valid interval of the relative lift on the events stored until ``at``."""

    at: datetime
    low: float
    high: float
    estimate: float | None
    users: int


@dataclass(frozen=True)
class ExperimentRow:
    """An experiment with the numbers of its latest (or current) decision."""

    experiment: Experiment
    decision: dict[str, Any] | None
    evaluated_now: bool
    users: dict[str, int]
    interval: tuple[float, float] | None
    relative_lift: float | None
    lift_threshold: float
    metric: str
    srm_p: float | None
    srm_threshold: float | None
    srm_ok: bool | None
    error: str | None = None
    history: list[IntervalPoint] = field(default_factory=list)

    @property
    def control_share(self) -> float:
        return 1.0 - self.experiment.treatment_share


@dataclass(frozen=True)
class BoxesPage:
    """The latest run of a month, one page of its picks, and churn risk per subscriber."""

    runs: list[CurationRun]  # the latest run of each month, newest month first
    run: CurationRun | None
    picks: list[Pick]
    total: int
    page: int
    pages: int
    churn: dict[str, float | None] = field(default_factory=dict)
    stream: bool = False  # a stream reader was there to ask
    names: dict[str, str] = field(default_factory=dict)  # coffee id -> name (catalogue)


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _interval(primary: dict[str, Any]) -> tuple[float, float] | None:
    found = primary.get("interval")
    if isinstance(found, list | tuple) and len(found) == 2:
        low, high = _float(found[0]), _float(found[1])
        if low is not None and high is not None:
            return (low, high)
    return None


def _check_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise SchemaError("a reason is required", [("reason", "a reason is required")])
    if len(text) > MAX_REASON_CHARS:
        raise SchemaError(
            f"the reason is at most {MAX_REASON_CHARS} characters",
            [("reason", f"at most {MAX_REASON_CHARS} characters")],
        )
    return text


class OpsView:
    """Read models and actions of the Models, Experiments and Curation pages."""

    def __init__(self, registry: ModelRegistry, model_dir: Path | str) -> None:
        self.registry = registry
        self.model_dir = Path(model_dir)
        # registry version -> its verified local copy: a version's files never change, so
        # each is downloaded and checksum-verified once per process, not on every look
        self._verified: dict[str, Path] = {}

    @property
    def store(self) -> Any:
        return self.registry.store

    # ------------------------------------------------------------------ models
    def models(self, serving: str = "") -> ModelsStatus:
        reg = self.registry
        error: str | None = None
        try:
            versions = reg.versions(metrics=True)
            aliases = reg.aliases()
            targets = {a: reg.rollback_target(a) for a in ALIASES}
        except _ERRORS as exc:
            log.warning("console: the model registry could not be read: %s", exc)
            versions, aliases, targets, error = [], {}, {}, str(exc)
        try:
            history = reg.history(limit=HISTORY_LIMIT)
        except StoreError as exc:
            history, error = [], error or str(exc)
        return ModelsStatus(
            model_name=reg.name,
            uri=reg.display_uri,
            serving=serving,
            versions=versions,
            aliases=aliases,
            history=history,
            rollback_targets=targets,
            bundles=self._bundles(versions),
            error=error,
        )

    def _bundles(self, versions: list[VersionInfo]) -> list[EdgeBundle]:
        """The edge folder's bundles and those stored in the registry versions that
        carry an alias (downloaded, verified and cached by the registry)."""
        folders: dict[str, tuple[BundleFolder, set[str]]] = {}
        try:
            edge = EdgeRegistry.beside(self.model_dir)
            for version in edge.versions():
                folders[version] = (edge.folder(version), set())
            for alias, version in edge.aliases().items():
                if version in folders:
                    folders[version][1].add(alias)
        except (*_ERRORS, ValueError) as exc:
            log.warning("console: the edge folder could not be read: %s", exc)
        for info in versions:
            if not info.aliases or not info.edge_formats:
                continue
            root = self._verified.get(info.version)
            if root is None:
                try:
                    root = self._verified[info.version] = self.registry.download(info.version)
                except _ERRORS as exc:
                    log.warning("console: registry version %s: %s", info.version, exc)
                    continue
            folder = BundleFolder(root / "edge", info.weights_version)
            _, names = folders.setdefault(info.weights_version, (folder, set()))
            names.update(info.aliases)
        out = []
        for version, (folder, names) in sorted(folders.items()):
            try:
                formats = folder.formats()
            except (*_ERRORS, ValueError):
                continue
            for fmt, meta in sorted(formats.items()):
                parity = dict(meta.get("parity") or {})
                passed = parity.get("passed")
                out.append(
                    EdgeBundle(
                        model_version=version,
                        aliases=tuple(sorted(names)),
                        format=fmt,
                        size=int(meta.get("size", 0)),
                        created=str(meta.get("created", "")),
                        passed=passed if isinstance(passed, bool) else None,
                        parity=parity,
                    )
                )
        return out

    def promote(self, alias: str, version: str, *, actor: str, reason: str) -> AliasEvent | None:
        """Point ``alias`` at ``version`` (audited); None when it pointed there already."""
        why = _check_reason(reason)
        return self.registry.promote(
            version, alias=alias, actor=actor, reason=why, evidence={"via": "console"}
        )

    def rollback(self, alias: str, version: str, *, actor: str, reason: str) -> AliasEvent:
        """Point ``alias`` back at ``version`` (audited)."""
        why = _check_reason(reason)
        return self.registry.rollback(
            alias=alias, to=version, actor=actor, reason=why, evidence={"via": "console"}
        )

    def version(self, version: str) -> VersionInfo:
        return self.registry.version(version)

    # ------------------------------------------------------------------ experiments
    def experiments(self, evaluate_running: bool = True) -> list[ExperimentRow]:
        found = self.store.list_experiments(self.registry.name, limit=EXPERIMENT_LIMIT)
        return [
            self._row(exp, evaluate_running, replay=i < HISTORY_EXPERIMENTS)
            for i, exp in enumerate(found)
        ]

    def experiment(self, experiment_id: str) -> Experiment:
        exp: Experiment = self.store.get_experiment(experiment_id)
        if exp.model_name != self.registry.name:
            raise NotFoundError(f"no experiment {experiment_id!r} of model {self.registry.name!r}")
        return exp

    def interval_history(
        self, exp: Experiment, points: int = HISTORY_POINTS, now: datetime | None = None
    ) -> list[IntervalPoint]:
        """The always-valid interval over time, replayed from the stored events: the
        decision (as the controller computes it, :func:`service.controller.evaluate`) on
        the events stored until each of ``points`` evenly spaced times between the
        experiment's start and its end (or now). Checkpoints with no interval yet (too
        few observations) are left out. Only the latest decision is stored, so this is
        how the page draws the interval over time."""
        decision_cfg, guard_cfg = decision_configs(exp.config, exp.treatment_share)
        start = exp.created_at
        end = exp.ended_at or now or datetime.now(UTC)
        if end <= start or points < 1:
            return []
        checkpoints = [start + (end - start) * (i / points) for i in range(1, points + 1)]
        metrics = ArmMetrics(exp.id, exp.salt, exp.treatment_share)
        pre = pre_period(self.store, exp)  # CUPED's covariate, as the controller uses it
        out: list[IntervalPoint] = []

        def snapshot(at: datetime) -> None:
            control, treatment = metrics.arm_data(pre)
            decision = decide(
                control,
                treatment,
                duration_s=(at - start).total_seconds(),
                guardrails=guard_cfg,
                config=decision_cfg,
            )
            primary = dict(decision.evidence.get("primary") or {})
            found = _interval(primary)
            if found is not None:
                estimate = _float(primary.get("relative_lift"))
                users = control.users + treatment.users
                out.append(IntervalPoint(at, found[0], found[1], estimate, users))

        index, after, done = 0, 0, False
        while not done:
            page = self.store.events_since(start, EVENT_TYPES, after_seq=after, limit=EVENT_PAGE)
            for ev in page:
                while index < len(checkpoints) and ev.created_at > checkpoints[index]:
                    snapshot(checkpoints[index])
                    index += 1
                if index >= len(checkpoints):
                    done = True
                    break
                metrics.add(ev.user_id, ev.event_type, ev.payload, ev.created_at)
            if len(page) < EVENT_PAGE:
                break
            after = page[-1].seq
        while index < len(checkpoints):
            snapshot(checkpoints[index])
            index += 1
        return out

    def _row(self, exp: Experiment, evaluate_running: bool, replay: bool = False) -> ExperimentRow:
        decision, now, error = exp.last_decision, False, None
        if evaluate_running and exp.status == "running":
            try:
                decision, now = evaluate(self.store, exp), True
            except (StoreError, ValueError) as exc:
                error = str(exc)
        evidence: dict[str, Any] = dict((decision or {}).get("evidence") or {})
        primary: dict[str, Any] = dict(evidence.get("primary") or {})
        config: dict[str, Any] = dict(evidence.get("config") or exp.config or {})
        srm: dict[str, Any] = dict(evidence.get("srm") or {})
        users_raw = (decision or {}).get("users") or evidence.get("users") or {}
        users = {arm: int(users_raw.get(arm, 0)) for arm in ("control", "treatment")}
        srm_p, srm_threshold = _float(srm.get("p_value")), _float(srm.get("threshold"))
        threshold = _float(config.get("lift_threshold"))
        history: list[IntervalPoint] = []
        if replay:
            try:
                history = self.interval_history(exp)
            except (StoreError, SchemaError, ValueError) as exc:
                error = error or str(exc)
        return ExperimentRow(
            experiment=exp,
            decision=decision,
            evaluated_now=now,
            users=users,
            interval=_interval(primary),
            relative_lift=_float(primary.get("relative_lift")),
            lift_threshold=DEFAULT_LIFT_THRESHOLD if threshold is None else threshold,
            metric=str(primary.get("metric") or config.get("primary") or "recommendation_ctr"),
            srm_p=srm_p,
            srm_threshold=srm_threshold,
            srm_ok=None if srm_p is None or srm_threshold is None else srm_p >= srm_threshold,
            error=error,
            history=history,
        )

    def stop(self, experiment_id: str, *, actor: str, reason: str) -> Experiment:
        why = _check_reason(reason)
        self.experiment(experiment_id)
        return stop_experiment(self.registry, experiment_id, actor=actor, reason=why)

    # ------------------------------------------------------------------ curation
    def boxes(
        self,
        month: str = "",
        page: int = 1,
        reader: StreamReader | None = None,
        size: int = BOX_PAGE_SIZE,
    ) -> BoxesPage:
        """The latest run of ``month`` (default: the newest month), one page of picks."""
        runs: list[CurationRun] = self.store.curation_runs(0, 24)  # newest month first
        run = next((r for r in runs if r.month == month), None) if month else None
        if run is None and runs:
            run = runs[0]
        page = min(max(1, page), MAX_PAGE)
        if run is None:
            return BoxesPage(runs, None, [], 0, 1, 1, stream=reader is not None)
        total = int(self.store.count_curation_picks(run.id))
        pages = _pages(total, size)
        page = min(page, pages)
        picks: list[Pick] = self.store.curation_picks(run.id, offset=(page - 1) * size, limit=size)
        names: dict[str, str] = {}
        for coffee_id in dict.fromkeys(p.coffee for p in picks):
            coffee = self.store.get_coffee(coffee_id)
            if coffee is not None:  # a coffee deleted since the run keeps only its id
                names[coffee_id] = coffee.name
        churn: dict[str, float | None] = {}
        if reader is not None:
            for user in dict.fromkeys(p.user for p in picks):
                try:
                    signals = reader.user_signals(user)
                except StoreError:
                    signals = None
                churn[user] = None if signals is None else _float(signals.get("churn_risk"))
        return BoxesPage(
            runs, run, picks, total, page, pages, churn, stream=reader is not None, names=names
        )


# re-exported for the routes: the errors an action may raise
ACTION_ERRORS = (ConflictError, NotFoundError, SchemaError, ChecksumError)
