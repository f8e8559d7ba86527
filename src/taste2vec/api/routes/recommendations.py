"""Explained, context-aware recommendations and the taste profile.

These handlers are ``async def`` on purpose: the scoring is a numpy dot product
over the catalogue, and running it from a thread-pool handler oversubscribes
the BLAS threads (measured: 15-130 req/s sync vs ~2,000 req/s async).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from taste2vec.api.deps import (
    AUTH_SECURITY,
    PrincipalDep,
    ServiceDep,
    UserIdPath,
    authenticate,
    check_user,
)
from taste2vec.api.query import parse_path, parse_query, path_parameters, query_parameters
from taste2vec.api.schemas import (
    ProfileOut,
    RecommendationOut,
    RecommendationsOut,
    error_responses,
)
from taste2vec.schema import Context, LocationType, SocialSetting
from taste2vec.schema.records import Identifier
from taste2vec.service import TasteService

router = APIRouter(prefix="/v1/users", tags=["recommendations"])


class UserPath(BaseModel):
    """The path parameter of the user routes (``deps.UserIdPath``), as a model that
    :func:`~taste2vec.api.query.parse_path` validates after the key is checked."""

    user_id: UserIdPath


class RecommendationQuery(BaseModel):
    """The query parameters of ``GET /v1/users/{user_id}/recommendations``: the drinking
    context (all optional; it shifts the ranking) and how many coffees to return. Parsed
    in one call (:mod:`taste2vec.api.query`)."""

    model_config = ConfigDict(frozen=True)

    k: int = Field(10, ge=1, le=100)
    hour: int | None = Field(None, ge=0, le=23)
    weekday: int | None = Field(None, ge=0, le=6)
    weather_temp_c: float | None = Field(None, ge=-40, le=50)
    humidity_pct: float | None = Field(None, ge=0, le=100)
    mood: float | None = Field(None, ge=0, le=10)
    stress: float | None = Field(None, ge=0, le=10)
    energy: float | None = Field(None, ge=0, le=10)
    hunger: float | None = Field(None, ge=0, le=10)
    social_setting: SocialSetting | None = None
    location_type: LocationType | None = None
    experiment: Identifier | None = Field(
        None, description="A/B experiment this answer is shown under."
    )
    arm: Identifier | None = Field(None, description="Its arm.")

    def context(self) -> Context | None:
        given = {f: v for f in _CONTEXT_FIELDS if (v := getattr(self, f)) is not None}
        return Context.model_validate(given) if given else None


_CONTEXT_FIELDS = tuple(
    f for f in RecommendationQuery.model_fields if f not in ("k", "experiment", "arm")
)


@router.get(
    "/{user_id}/recommendations",
    summary="Coffees for this user, best first, each with a reason",
    description="Context (hour, weekday, mood, location_type, ...) is optional and shifts "
    "the ranking. Coffees the user already gave feedback on and coffees out of stock are "
    "left out. Each answer carries a request id and is recorded as a recommendation_shown "
    "event (with the optional experiment and arm) for the stream's A/B metrics. While an "
    "A/B experiment of the registry runs, the user's arm (sticky, from a hash of the "
    "experiment's salt and the user id) picks the model, and the answer and the event "
    "carry that experiment, arm and model version (query experiment/arm are ignored). A user "
    "with no history gets the cold-start ranking.",
    # 422 is listed here: FastAPI adds it only for the parameters it validates itself
    responses=error_responses((403, "A user key may only read its own recommendations."), 422),
    openapi_extra={
        "parameters": path_parameters(UserPath) + query_parameters(RecommendationQuery),
        "security": AUTH_SECURITY,
    },
)
async def recommendations(request: Request) -> RecommendationsOut:
    # The hot route: the key, the path and the query are read by plain calls, in
    # FastAPI's order (key, path, query), with its errors, not by FastAPI's dependency
    # resolution (deps.authenticate, api.query).
    principal = await authenticate(request)
    service: TasteService = request.app.state.service
    user_id = parse_path(UserPath, request).user_id
    query = parse_query(RecommendationQuery, request)
    check_user(principal, user_id)
    experiment, arm = query.experiment, query.arm
    assignment, items = service.recommend_served(user_id, query.k, query.context())
    model_version = service.model_version
    if assignment is not None:  # the service's own experiment decides the arm
        experiment, arm = assignment.experiment, assignment.arm
        model_version = assignment.model_version or model_version
    request.state.model_version = model_version  # per-version metrics (service.monitoring)
    names = service.names
    shown = service.recommendation_shown(  # buffered: no write on this path
        user_id,
        [r.coffee_id for r in items],
        experiment=experiment,
        arm=arm,
        model_version=model_version,
    )
    return RecommendationsOut(
        request=shown,
        user=user_id,
        experiment=experiment,
        arm=arm,
        model_version=model_version or "",
        items=[  # built from the engine's own values: constructed, not validated again
            RecommendationOut.model_construct(
                coffee=r.coffee_id,
                name=names.get(r.coffee_id, r.coffee_id),
                score=round(float(r.score), 4),
                explanation=r.explanation,
                reasons=r.reasons,
            )
            for r in items
        ],
    )


@router.get(
    "/{user_id}/profile",
    summary="Sensory radar, top flavour families, map position",
    responses=error_responses(
        (403, "A user key may only read its own profile."),
        (404, "No profile yet: the user has logged no tasting or feedback."),
    ),
)
async def profile(user_id: UserIdPath, service: ServiceDep, principal: PrincipalDep) -> ProfileOut:
    check_user(principal, user_id)
    prof = service.profile(user_id)
    if prof is None:
        raise HTTPException(404, f"no taste profile for {user_id!r} yet: log a tasting or feedback")
    return ProfileOut(
        user=user_id,
        radar=prof.radar,
        top_families=[[family, p] for family, p in prof.top_families],
        map_xy=list(prof.map_xy),
        n_feedback=len(service.store.feedback_for_user(user_id)),
        n_records=len(service.history(user_id)),
    )
