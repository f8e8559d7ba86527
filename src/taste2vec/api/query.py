"""Query parameters as one Pydantic model, validated in one call.

FastAPI resolves each declared query parameter on every request through several layers of
annotation introspection. For the recommendation route's 13 optional parameters, parsing
them as one model saved about 0.13 ms of CPU per request (1.53 -> 1.40 ms, measured
in-process through the ASGI app; commit 07f1292). A hot route can instead take
``request: Request`` and call
:func:`parse_query` with a model of its parameters: one ``model_validate`` of the query
string, the same lax conversions FastAPI applies (``"7"`` -> 7), the same 422 (a
:class:`~fastapi.exceptions.RequestValidationError` with ``loc`` ``("query", name)``), and
:func:`query_parameters` documents the same parameters in the OpenAPI schema (pass it as
``openapi_extra={"parameters": ...}``). :func:`parse_path` and :func:`path_parameters` do
the same for path parameters, for a route that checks the caller's key before it
validates its path (FastAPI's own order when the key is a dependency).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

__all__ = ["parse_path", "parse_query", "path_parameters", "query_parameters"]


def parse_query(model: type[M], request: Request) -> M:
    """``model`` from the request's query string (the last value of a repeated name, as
    FastAPI takes it; unknown names are ignored unless the model forbids extras)."""
    return _validated(model, dict(request.query_params), "query")


def parse_path(model: type[M], request: Request) -> M:
    """``model`` from the route's path parameters, refused as FastAPI refuses them (a
    route that calls this validates its path after its own checks, such as the key)."""
    return _validated(model, request.path_params, "path")


def _validated(model: type[M], values: Any, where: str) -> M:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        errors = [{**e, "loc": (where, *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects for ``model``'s fields, in declaration order (references
    point at ``#/components/schemas``, where the app's own schema keeps those models)."""
    return _parameters(model, "query")


def path_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI path parameter objects for ``model``'s fields (:func:`query_parameters`)."""
    return _parameters(model, "path")


def _parameters(model: type[BaseModel], where: str) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    out: list[dict[str, Any]] = []
    for name, prop in schema["properties"].items():
        field = model.model_fields[name]
        param: dict[str, Any] = {
            "name": field.alias or name,
            "in": where,
            "required": field.is_required(),
            "schema": {"title": name.replace("_", " ").title(), **prop},
        }
        if field.description:
            param["description"] = field.description
        out.append(param)
    return out
