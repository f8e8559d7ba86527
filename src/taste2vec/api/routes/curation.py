"""Subscriptions and the monthly subscription-box curation (issue 13), admin only.

``PUT /v1/subscriptions/{user}`` sets a subscriber's plan, box size, status and
exclusions; ``POST /v1/curation/runs`` curates a month (replacing its draft) and answers
with the run and its summary (short boxes named); ``GET`` the run, its boxes page by page
or as CSV; ``POST .../ship`` ships it once. See ``docs/curation.md``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from taste2vec.api.deps import AdminDep, ServiceDep, UserIdPath
from taste2vec.api.schemas import error_responses
from taste2vec.api.strict import json_types_of
from taste2vec.curation import Weights
from taste2vec.curation.export import csv_lines
from taste2vec.curation.run import CurationSettings
from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.schema.records import ID_PATTERN, Identifier, Process, RoastLevel
from taste2vec.service.curation_scores import curate_month
from taste2vec.store import CurationRun, Subscription

router = APIRouter(tags=["curation"])

RunIdPath = Annotated[
    str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$", description="Run id.")
]


Origin = Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: Identifier = "standard"
    box_size: int = Field(default=4, ge=1, le=12, description="Coffees per box (k).")
    status: Literal["active", "paused", "cancelled"] = "active"
    decaf_only: bool = False
    exclude_processes: list[Process] = Field(default_factory=list, max_length=10)
    exclude_origins: list[Origin] = Field(default_factory=list, max_length=50)
    exclude_roasts: list[RoastLevel] = Field(default_factory=list, max_length=10)
    exclude_coffees: list[Identifier] = Field(default_factory=list, max_length=500)


class SubscriptionOut(SubscriptionIn):
    user: str
    changed: bool | None = None


class WeightsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    affinity: float = Field(default=1.0, ge=0, le=5)
    family: float = Field(default=0.15, ge=0, le=5, description="Per distinct flavour family.")
    origin: float = Field(default=0.10, ge=0, le=5, description="Per distinct origin.")
    explore: float = Field(default=0.20, ge=0, le=5, description="Per exploration pick.")
    explore_share: float = Field(default=0.25, ge=0, le=1, description="Share of a box.")


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: str = Field(
        pattern=r"^2\d{3}-(0[1-9]|1[0-2])$", examples=["2027-01"], description="YYYY-MM."
    )
    solver: Literal["auto", "greedy", "exact"] = "auto"
    no_repeat_months: int = Field(default=6, ge=0, le=36)
    weights: WeightsIn = Field(default_factory=WeightsIn)


class RunOut(BaseModel):
    id: str
    month: str
    status: str
    solver: str
    created_at: str
    shipped_at: str | None
    params: dict[str, Any]
    summary: dict[str, Any] = Field(
        description="objective parts, solve_s, short_box_count and short_boxes "
        "(subscriber -> coffees missing)."
    )


class PickOut(BaseModel):
    user: str
    slot: int
    coffee: str
    affinity: float
    explanation: str


class BoxesOut(BaseModel):
    run: str
    total: int
    picks: list[PickOut]


def _run_out(run: CurationRun) -> RunOut:
    return RunOut(**run.to_dict())


def _get_run(service: ServiceDep, run_id: str) -> CurationRun:
    run = service.store.curation_run(run_id)
    if run is None:
        raise HTTPException(404, f"no curation run {run_id!r}")
    return run


@router.put(
    "/v1/subscriptions/{user_id}",
    summary="Set a subscriber's plan and exclusions (admin)",
    responses=error_responses(401, 403, 422),
)
def put_subscription(
    user_id: UserIdPath,
    body: Annotated[SubscriptionIn, json_types_of(SubscriptionIn)],
    service: ServiceDep,
    _: AdminDep,
) -> SubscriptionOut:
    try:
        sub = Subscription(user=user_id, **body.model_dump())
    except ValidationError as exc:
        raise SchemaError(f"invalid subscription: {exc.errors()[0]['msg']}") from None
    changed = service.store.set_subscription(sub)
    return SubscriptionOut(**sub.model_dump(mode="json"), changed=changed)


@router.get(
    "/v1/subscriptions/{user_id}",
    summary="A subscriber's plan and exclusions (admin)",
    responses=error_responses(401, 403, 404),
)
def get_subscription(user_id: UserIdPath, service: ServiceDep, _: AdminDep) -> SubscriptionOut:
    sub = service.store.subscription(user_id)
    if sub is None:
        raise NotFoundError(f"no subscription for {user_id!r}")
    return SubscriptionOut(**sub.model_dump(mode="json"))


@router.post(
    "/v1/curation/runs",
    status_code=201,
    summary="Curate a month's boxes (admin)",
    description="Picks k coffees for every active subscriber and stores them as the month's "
    "draft, replacing an earlier draft of that month (409 once the month shipped). "
    "Subscribers whose box could not be filled are listed in summary.short_boxes.",
    responses=error_responses(401, 403, (409, "The month has shipped."), 422),
)
async def post_run(
    body: Annotated[RunIn, json_types_of(RunIn)], service: ServiceDep, _: AdminDep
) -> RunOut:
    settings = CurationSettings(
        weights=Weights(**body.weights.model_dump()),
        no_repeat_months=body.no_repeat_months,
        solver=body.solver,
    )
    run = await run_in_threadpool(curate_month, service, body.month, settings)
    return _run_out(run)


@router.get(
    "/v1/curation/runs",
    summary="Curation runs, newest month first (admin)",
    responses=error_responses(401, 403),
)
def list_runs(
    service: ServiceDep,
    _: AdminDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[RunOut]:
    return [_run_out(r) for r in service.store.curation_runs(offset, limit)]


@router.get(
    "/v1/curation/runs/{run_id}",
    summary="One curation run and its summary (admin)",
    responses=error_responses(401, 403, 404),
)
def get_run(run_id: RunIdPath, service: ServiceDep, _: AdminDep) -> RunOut:
    return _run_out(_get_run(service, run_id))


@router.get(
    "/v1/curation/runs/{run_id}/boxes",
    summary="A run's boxes, one pick per row, by subscriber and slot (admin)",
    responses=error_responses(401, 403, 404),
)
def get_boxes(
    run_id: RunIdPath,
    service: ServiceDep,
    _: AdminDep,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    user: Annotated[str | None, Query(min_length=1, max_length=128, pattern=ID_PATTERN)] = None,
) -> BoxesOut:
    _get_run(service, run_id)
    store = service.store
    picks = store.curation_picks(run_id, offset=offset, limit=limit, user=user)
    return BoxesOut(
        run=run_id,
        total=store.count_curation_picks(run_id),
        picks=[
            PickOut(
                user=p.user,
                slot=p.slot,
                coffee=p.coffee,
                affinity=p.affinity,
                explanation=p.explanation,
            )
            for p in picks
        ],
    )


@router.get(
    "/v1/curation/runs/{run_id}/boxes.csv",
    summary="A run's boxes as CSV (admin)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}, **error_responses(401, 403, 404)},
)
def get_boxes_csv(run_id: RunIdPath, service: ServiceDep, _: AdminDep) -> StreamingResponse:
    run = _get_run(service, run_id)
    return StreamingResponse(
        csv_lines(service.store, run_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="curation-{run.month}.csv"'},
    )


@router.post(
    "/v1/curation/runs/{run_id}/ship",
    summary="Ship a run: mark it shipped and take its picks out of stock, once (admin)",
    responses=error_responses(401, 403, 404, (409, "The stock no longer covers the run.")),
)
def ship_run(run_id: RunIdPath, service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    _get_run(service, run_id)
    shipped = service.store.ship_curation_run(run_id)
    return {"shipped": shipped, "run": _run_out(_get_run(service, run_id)).model_dump()}
