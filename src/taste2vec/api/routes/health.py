"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: model loaded and store reachable")
async def readyz(request: Request) -> JSONResponse:
    service = getattr(request.app.state, "service", None)
    if service is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    try:
        n = service.store.count_coffees()
    except Exception as exc:  # noqa: BLE001 - any store failure means "not ready"
        return JSONResponse({"status": "store unavailable", "error": type(exc).__name__}, 503)
    return JSONResponse(
        {"status": "ready", "coffees": n, "model_version": request.app.state.model_version}
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
