"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

router = APIRouter(tags=["operations"])


class LoopStatus(BaseModel):
    """One background loop, as its supervisor sees it."""

    state: str = Field(description="`running`, `backoff` (failed; restarting), or `stopped`.")
    restarts: int = Field(description="Restarts after a failure since the process started.")
    last_error: str | None = Field(description="The latest failure, if any.")
    last_error_at: float | None = Field(description="When it happened (Unix time).")


class Readiness(BaseModel):
    status: str = Field(description="`ready`, `starting` or `store unavailable`.")
    coffees: int | None = Field(default=None, description="Catalogue size (when ready).")
    model_version: str | None = Field(default=None, description="The model served.")
    error: str | None = Field(default=None, description="Why the store is unavailable.")
    loops: dict[str, LoopStatus] | None = Field(
        default=None,
        description="The background loops (follower, outbox relay, event buffer, stream "
        "worker, online learner) by name. A loop in `backoff` does not make the process "
        "unready: requests are still served, and its events wait in the store.",
    )


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: model loaded and store reachable",
    response_model=Readiness,
    responses={
        200: {"model": Readiness, "description": "Ready to serve."},
        503: {"model": Readiness, "description": "Starting, or the store is unreachable."},
    },
)
async def readyz(request: Request) -> JSONResponse:
    service = getattr(request.app.state, "service", None)
    if service is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        n = service.store.count_coffees()
    except Exception as exc:  # noqa: BLE001 - any store failure means "not ready"
        return JSONResponse({"status": "store unavailable", "error": type(exc).__name__}, 503)
    loops = {name: h.as_dict() for name, h in service.runtime.health().items()}
    return JSONResponse(
        {
            "status": "ready",
            "coffees": n,
            "model_version": service.model_version,
            "loops": loops,
        }
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
            "description": "The Prometheus text exposition format.",
        }
    },
)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
