"""Translate taste2vec errors into HTTP responses (the only place that knows HTTP codes)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from taste2vec.errors import (
    ArtifactError,
    ConflictError,
    NotFoundError,
    SchemaError,
    StoreError,
    Taste2VecError,
)
from taste2vec.schema.metrics import METRIC_BY_NAME


def _field(loc: tuple[int | str, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts) or "(request)"


def _hint(loc: tuple[int | str, ...]) -> str:
    name = str(loc[-1]) if loc else ""
    spec = METRIC_BY_NAME.get(name)
    return f" (allowed: {spec.describe_range()})" if spec else ""


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = [
        {"field": _field(tuple(e["loc"])), "message": str(e["msg"]) + _hint(tuple(e["loc"]))}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)


async def _ours(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Taste2VecError)  # noqa: S101
    status = 500
    body: dict[str, object] = {"detail": str(exc)}
    if isinstance(exc, SchemaError):
        status = 422
        body["errors"] = [{"field": f, "message": m} for f, m in exc.errors]
    elif isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ConflictError):
        status = 409
    elif isinstance(exc, ArtifactError | StoreError):
        status = 503
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Taste2VecError, _ours)
