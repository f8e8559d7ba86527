"""Admin routes of A/B experiments (issue 12): ``/v1/experiments``.

Control is the registry's ``champion`` and treatment its ``challenger`` (or the version
named at creation, which then becomes the challenger), both pinned when the experiment
is created. Every check runs before anything is written, so a refused request changes
nothing that serves (see :mod:`taste2vec.service.experiments`). The experiment
controller (``taste2vec.service.controller``) promotes or rolls back on its own; these
routes create, read and stop.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from taste2vec.api.deps import AdminDep, Principal
from taste2vec.api.schemas import error_responses
from taste2vec.registry import ChecksumError, ModelRegistry
from taste2vec.schema.records import ID_PATTERN
from taste2vec.service.controller import evaluate
from taste2vec.service.experiments import (
    DEFAULT_TREATMENT_SHARE,
    SETTINGS,
    create_experiment,
    stop_experiment,
)
from taste2vec.store import Experiment

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

ExperimentPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]
_ERRORS = (
    (403, "This needs the admin key."),
    (503, "The store or the MLflow registry could not be reached."),
)


class ExperimentSettings(BaseModel):
    """Decision settings to override; absent or null keeps the default
    (:class:`~taste2vec.experiments.stats.DecisionConfig`, ``GuardrailConfig``)."""

    model_config = ConfigDict(extra="forbid")

    primary: (
        Literal["recommendation_ctr", "user_satisfaction", "subscription_retention", "ctr_per_user"]
        | None
    ) = Field(default=None, description="The metric that decides (default recommendation_ctr).")
    primary_kind: Literal["proportion", "mean"] | None = None
    lift_threshold: float | None = Field(default=None, ge=0, le=100, description="Default 0.05.")
    alpha: float | None = Field(default=None, gt=0, lt=1, description="Default 0.05.")
    tuning: float | None = Field(
        default=None, gt=0, le=1e12, description="Confidence sequence tuning (default 5000)."
    )
    srm_p_threshold: float | None = Field(default=None, gt=0, lt=1, description="Default 0.001.")
    min_users_per_arm: int | None = Field(default=None, ge=0, le=10**9, description="Default 1000.")
    min_duration_s: float | None = Field(
        default=None, ge=0, le=1e9, description="Default 604800 (a week)."
    )
    satisfaction_floor: float | None = Field(
        default=None, ge=1, le=5, description="Guardrail on the 1-5 box rating (default 3.0)."
    )
    pre_period_s: float | None = Field(
        default=None,
        ge=0,
        le=365 * 86400,
        description="CUPED pre-period: each user's metrics in these seconds before the start "
        "are the covariate (default 604800, a week; 0: none).",
    )


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    treatment_version: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,9}$",
        description="Registry version of the treatment; default: the current challenger.",
    )
    treatment_share: float = Field(
        default=DEFAULT_TREATMENT_SHARE,
        gt=0,
        lt=1,
        description="Share of users in the treatment arm.",
    )
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=ID_PATTERN,
        description="Experiment id; default: exp-<random>.",
    )
    description: str = Field(default="", max_length=2000)
    config: ExperimentSettings = Field(
        default_factory=ExperimentSettings,
        description="Decision settings to override: " + ", ".join(SETTINGS) + ".",
    )


class StopIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=1500)


class ExperimentOut(BaseModel):
    id: str
    model_name: str
    status: str = Field(
        description="running, promoting, rolling_back (active); promoted, rolled_back, "
        "stopped, halted (ended)."
    )
    control_version: str
    treatment_version: str
    treatment_share: float
    config: dict[str, Any]
    created_by: str
    description: str
    created_at: str
    updated_at: str
    ended_at: str | None
    end_reason: str | None
    last_decision: dict[str, Any] | None = Field(
        description="The controller's latest decision: action, reasons, evidence."
    )
    decided_at: str | None
    current: dict[str, Any] | None = Field(
        default=None,
        description="With ?evaluate=true: the decision on the data now (nothing is done).",
    )


class ExperimentListOut(BaseModel):
    experiments: list[ExperimentOut]


def _registry(request: Request) -> ModelRegistry:
    registry: ModelRegistry = request.app.state.model_registry
    return registry


def _out(exp: Experiment, current: dict[str, Any] | None = None) -> ExperimentOut:
    return ExperimentOut(**exp.to_dict(), current=current)


def _actor(principal: Principal) -> str:
    return f"api:{principal.user_id or principal.role}"


@router.post(
    "",
    status_code=201,
    summary="Start an A/B experiment (admin)",
    description="Control = the champion, treatment = `treatment_version` (default: the "
    "challenger), `treatment_share` of users (default 0.1) in the treatment. 404: no "
    "champion, no challenger, or an unknown version; 409: the model has an active "
    "experiment, the treatment is the champion, or its artifact is corrupt; 422: a bad "
    "share or setting. A refused request changes nothing.",
    responses=error_responses(
        *_ERRORS,
        (404, "No champion or challenger, or an unknown version."),
        (409, "An active experiment exists, treatment = champion, or a corrupt artifact."),
        (422, "Invalid body or setting."),
    ),
)
def create(body: ExperimentIn, request: Request, principal: AdminDep) -> ExperimentOut:
    try:
        exp = create_experiment(
            _registry(request),
            treatment_version=body.treatment_version,
            treatment_share=body.treatment_share,
            experiment_id=body.id,
            config=body.config.model_dump(exclude_none=True),
            actor=_actor(principal),
            description=body.description,
        )
    except ChecksumError as exc:
        raise HTTPException(409, str(exc)) from None
    return _out(exp)


@router.get(
    "",
    summary="List experiments (admin)",
    responses=error_responses(*_ERRORS),
)
def list_all(
    request: Request,
    _: AdminDep,
    active: Annotated[bool | None, Query(description="Only active (true) or ended.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> ExperimentListOut:
    registry = _registry(request)
    found = registry.store.list_experiments(
        registry.name, active=active, offset=offset, limit=limit
    )
    return ExperimentListOut(experiments=[_out(e) for e in found])


@router.get(
    "/{experiment_id}",
    summary="One experiment with the controller's latest decision (admin)",
    responses=error_responses(*_ERRORS, (404, "No such experiment.")),
)
def status(
    experiment_id: ExperimentPath,
    request: Request,
    _: AdminDep,
    evaluate_now: Annotated[
        bool,
        Query(alias="evaluate", description="Also compute the decision on the data now."),
    ] = False,
) -> ExperimentOut:
    registry = _registry(request)
    exp = registry.store.get_experiment(experiment_id)
    if exp.model_name != registry.name:
        raise HTTPException(404, f"no experiment {experiment_id!r} of model {registry.name!r}")
    current = evaluate(registry.store, exp) if evaluate_now and exp.active else None
    return _out(exp, current)


@router.post(
    "/{experiment_id}/stop",
    summary="Stop a running experiment (admin)",
    description="Status `stopped`; the challenger alias is cleared (audited); the champion "
    "does not change. 409 when it is not running.",
    responses=error_responses(*_ERRORS, (404, "No such experiment."), (409, "It is not running.")),
)
def stop(
    experiment_id: ExperimentPath, body: StopIn, request: Request, principal: AdminDep
) -> ExperimentOut:
    exp = stop_experiment(
        _registry(request), experiment_id, actor=_actor(principal), reason=body.reason
    )
    return _out(exp)
