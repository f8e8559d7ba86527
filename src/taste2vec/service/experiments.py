"""A/B experiments of registry versions: create, read, stop (issue 12, item 2).

An experiment compares the ``champion`` (control) with the ``challenger`` (treatment) of
one registered model. Both version numbers are pinned when it is created; a
``treatment_share`` of users (default 10%) is assigned to the treatment by
:func:`taste2vec.experiments.assignment.arm_of` with the experiment's random salt.

Everything is checked before anything is written, so a refused request changes nothing
that serves:

* no champion, an unknown treatment version, a treatment equal to the champion, or a
  corrupt treatment artifact (its checksums are verified by downloading it) ->
  :class:`~taste2vec.errors.NotFoundError` / :class:`~taste2vec.errors.ConflictError` /
  :class:`~taste2vec.registry.ChecksumError`;
* a share outside (0, 1) or a bad decision setting -> :class:`~taste2vec.errors.SchemaError`;
* the model has an active experiment already -> :class:`~taste2vec.errors.ConflictError`
  (the store's UNIQUE ``active_model`` also stops two concurrent creates).

Only then the ``challenger`` alias is moved to the treatment version (audited) and the
experiment row is inserted. :func:`stop_experiment` ends it and clears ``challenger``.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.experiments.stats import DecisionConfig, GuardrailConfig
from taste2vec.registry import CHALLENGER, CHAMPION, ModelRegistry
from taste2vec.registry.core import check_version
from taste2vec.store import Experiment
from taste2vec.store._base import check_id

__all__ = [
    "DEFAULT_TREATMENT_SHARE",
    "SETTINGS",
    "PRE_PERIOD_S",
    "create_experiment",
    "decision_configs",
    "pre_period_s",
    "request_limit_ms",
    "stop_experiment",
]

DEFAULT_TREATMENT_SHARE = 0.10
#: Decision settings an experiment may override (everything else keeps the defaults of
#: :class:`~taste2vec.experiments.stats.DecisionConfig` / ``GuardrailConfig``).
SETTINGS = (
    "primary",
    "primary_kind",
    "lift_threshold",
    "alpha",
    "tuning",
    "srm_p_threshold",
    "min_users_per_arm",
    "min_duration_s",
    "satisfaction_floor",
    "pre_period_s",
)
_GUARDRAIL_SETTINGS = ("satisfaction_floor",)
#: Settings of the controller itself, not of the decision rule.
_CONTROLLER_SETTINGS = ("pre_period_s",)
#: Default CUPED pre-period: each user's metrics in the 7 days before the experiment
#: started (the outbox keeps these rows while the experiment is active).
PRE_PERIOD_S = 7 * 86400.0
_PRIMARIES = ("recommendation_ctr", "user_satisfaction", "subscription_retention", "ctr_per_user")


def decision_configs(
    config: dict[str, Any], treatment_share: float
) -> tuple[DecisionConfig, GuardrailConfig]:
    """The experiment's decision and guardrail settings (SchemaError naming a bad one)."""
    unknown = sorted(set(config) - set(SETTINGS))
    if unknown:
        raise SchemaError(
            f"unknown experiment setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}",
            [(k, "unknown setting") for k in unknown],
        )
    primary = config.get("primary", "recommendation_ctr")
    if primary not in _PRIMARIES:
        raise SchemaError(
            f"primary must be one of {', '.join(_PRIMARIES)}, got {primary!r}",
            [("primary", "unknown metric")],
        )
    pre_period_s(config)
    decision = {
        k: v
        for k, v in config.items()
        if k not in _GUARDRAIL_SETTINGS and k not in _CONTROLLER_SETTINGS
    }
    guard = {k: v for k, v in config.items() if k in _GUARDRAIL_SETTINGS}
    decision.setdefault(
        "primary_kind",
        "mean" if primary in ("user_satisfaction", "ctr_per_user") else "proportion",
    )
    try:
        for key, value in decision.items():
            if key not in ("primary", "primary_kind") and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise ValueError(f"{key} must be a number, got {value!r}")
        made = DecisionConfig(**{**decision, "treatment_share": treatment_share})
        guardrails = dataclasses.replace(GuardrailConfig(), alpha=made.alpha, **guard)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"invalid experiment setting: {exc}") from None
    return made, guardrails


def pre_period_s(config: dict[str, Any]) -> float:
    """The CUPED pre-period of an experiment's settings, seconds before its start (0:
    no covariate; SchemaError when it is not a number in [0, 365 days])."""
    value = config.get("pre_period_s", PRE_PERIOD_S)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SchemaError(
            f"invalid experiment setting: pre_period_s must be a number, got {value!r}",
            [("pre_period_s", "not a number")],
        )
    if not 0 <= value <= 365 * 86400:
        raise SchemaError(
            f"invalid experiment setting: pre_period_s must be in [0, 31536000], got {value}",
            [("pre_period_s", "out of range")],
        )
    return float(value)


def request_limit_ms(config: dict[str, Any], treatment_share: float) -> float:
    """The latency (ms) serving processes count each arm's slower requests against: the
    experiment's p99 guardrail limit (the default limit when that guardrail is off)."""
    _, guard = decision_configs(config, treatment_share)
    limit = guard.latency_p99_ms
    default = GuardrailConfig().latency_p99_ms
    return float(limit if limit is not None else (default or 250.0))


def create_experiment(
    registry: ModelRegistry,
    *,
    treatment_version: str | None = None,
    treatment_share: float = DEFAULT_TREATMENT_SHARE,
    experiment_id: str | None = None,
    config: dict[str, Any] | None = None,
    actor: str,
    description: str = "",
) -> Experiment:
    """Start an experiment: control = the champion, treatment = ``treatment_version``
    (default: the current challenger). See the module docstring for the checks."""
    store = registry.store
    settings = dict(config or {})
    share = float(treatment_share)
    if isinstance(treatment_share, bool) or not 0 < share < 1:
        raise SchemaError(
            f"treatment_share must be strictly between 0 and 1, got {treatment_share}",
            [("treatment_share", "out of range")],
        )
    decision_configs(settings, share)
    if experiment_id is not None:
        check_id(experiment_id, "experiment id")
    if len(description) > 2000:
        raise SchemaError("description is at most 2000 characters")
    active = store.active_experiment(registry.name)
    if active is not None:
        raise ConflictError(
            f"model {registry.name!r} already has an active experiment ({active.id}, "
            f"{active.status}); stop it first: taste2vec experiment stop {active.id}"
        )
    control = registry.reconcile(CHAMPION)
    if control is None:
        raise NotFoundError(
            f"model {registry.name!r} has no champion to compare with; promote one first: "
            "taste2vec model promote VERSION"
        )
    challenger = registry.reconcile(CHALLENGER)
    if treatment_version is None:
        if challenger is None:
            raise NotFoundError(
                f"model {registry.name!r} has no challenger; name a treatment version or "
                "set one: taste2vec model promote VERSION --alias challenger"
            )
        treatment = challenger
    else:
        treatment = check_version(treatment_version)
    if treatment == control:
        raise ConflictError(
            f"version {treatment} is the champion already; the treatment must differ"
        )
    registry.download(treatment)  # unknown -> NotFoundError; corrupt -> ChecksumError
    registry.download(control)
    ident = experiment_id or f"exp-{secrets.token_hex(4)}"
    if challenger != treatment:
        registry.promote(
            treatment,
            alias=CHALLENGER,
            actor=actor,
            reason=f"treatment of experiment {ident}",
            evidence={"experiment": ident, "control_version": control},
        )
    return store.create_experiment(
        experiment_id=ident,
        model_name=registry.name,
        control_version=control,
        treatment_version=treatment,
        treatment_share=share,
        salt=secrets.token_hex(16),
        config=settings,
        created_by=actor,
        description=description,
    )


def stop_experiment(
    registry: ModelRegistry, experiment_id: str, *, actor: str, reason: str = ""
) -> Experiment:
    """End a running experiment by hand (status ``stopped``) and clear ``challenger``
    when it still points at the treatment. The champion does not change."""
    store = registry.store
    exp = store.get_experiment(experiment_id)
    if exp.model_name != registry.name:
        raise NotFoundError(f"experiment {experiment_id!r} is not of model {registry.name!r}")
    why = reason or f"stopped by {actor}"
    done = store.transition_experiment(
        experiment_id, expected=("running",), status="stopped", reason=why
    )
    if done is None:
        raise ConflictError(
            f"experiment {experiment_id!r} is {store.get_experiment(experiment_id).status}, "
            "not running; nothing to stop"
        )
    if registry.reconcile(CHALLENGER) == exp.treatment_version:
        registry.remove(
            alias=CHALLENGER,
            actor=actor,
            reason=f"experiment {experiment_id} stopped: {why}",
            evidence={"experiment": experiment_id},
        )
    return done
