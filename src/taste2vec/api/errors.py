"""Translate taste2vec errors into HTTP responses (the only place that knows HTTP codes),
and make the OpenAPI schema say so.

Every error body has one shape, :class:`~taste2vec.api.schemas.ErrorBody`:
``{"detail": str, "errors": [{"field", "message"}]}`` (``errors`` only for 400 and 422).

- 400: the body is not parseable (not JSON, not UTF-8);
- 422: it parses but does not validate (FastAPI's validation, or a ``SchemaError``);
- 404, 409, 503: ``NotFoundError``, ``ConflictError``, ``ArtifactError``/``StoreError``;
- everything raised as ``HTTPException`` (401, 403, 404, 409, 413, 429, 503) keeps its
  status and headers and answers ``{"detail": ...}``.

:func:`install` also post-processes the app's OpenAPI schema (:func:`document_errors`):
FastAPI documents 422 with its own ``HTTPValidationError`` body, which this API never
sends; that becomes ``ErrorBody``, and the statuses every route of a kind can answer
(400 and 413 with a body, 401 and 429 with a key) are added where they apply.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from taste2vec.api.schemas import ERROR_DESCRIPTIONS, ErrorBody, ErrorItem, document_rules
from taste2vec.errors import (
    ArtifactError,
    ConflictError,
    NotFoundError,
    SchemaError,
    StoreError,
    Taste2VecError,
)
from taste2vec.schema.metrics import METRIC_BY_NAME

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


def _field(loc: tuple[int | str, ...]) -> str:
    """The field's dotted path without its location (``body``, ``query``...): only the
    first part is one (``metrics.body`` is a metric)."""
    parts = [str(p) for p in (loc[1:] if loc and loc[0] in _LOCATIONS else loc)]
    return ".".join(parts) or "(request)"


def _hint(loc: tuple[int | str, ...]) -> str:
    """The allowed range, for a metric only: a field inside ``metrics`` named like one.

    Other fields that share a metric's name (the request ``body`` itself, a feedback's
    ``rating``...) get no hint: their own message already says what is allowed.
    """
    if len(loc) < 2 or loc[-2] != "metrics":
        return ""
    spec = METRIC_BY_NAME.get(str(loc[-1]))
    return f" (allowed: {spec.describe_range()})" if spec else ""


def _json(status: int, body: ErrorBody, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


async def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        # The body is not JSON at all: a syntax problem (400), not an invalid value (422).
        why = "; ".join(
            f"{e.get('ctx', {}).get('error', e['msg'])} at position {e['loc'][-1]}"
            for e in errors
            if e.get("type") == "json_invalid"
        )
        return _json(
            400,
            ErrorBody(
                detail="the request body is not valid JSON",
                errors=[ErrorItem(field="(body)", message=why)],
            ),
        )
    items = [
        ErrorItem(field=_field(tuple(e["loc"])), message=str(e["msg"]) + _hint(tuple(e["loc"])))
        for e in errors
    ]
    return _json(422, ErrorBody(detail="invalid request", errors=items))


def _allowed_methods(request: Request) -> str | None:
    """The methods documented for this path. Starlette's 405 names only the methods of the
    first route that matched, and FastAPI has one route per method, so OPTIONS
    /v1/coffees/{id} answered ``Allow: GET`` and hid PUT and DELETE. A static path
    (``/v1/coffees/import``) is its own resource; otherwise every template that matches
    counts."""
    paths: dict[str, dict[str, Any]] = request.app.openapi().get("paths", {})
    path = request.url.path
    if path in paths:
        matching = [paths[path]]
    else:
        matching = [
            item
            for template, item in paths.items()
            if re.fullmatch(re.sub(r"\\{[^/]+\\}", "[^/]+", re.escape(template)), path)
        ]
    methods = {m.upper() for item in matching for m in item if m in _HTTP_METHODS}
    return ", ".join(sorted(methods)) or None


async def _http(request: Request, exc: Exception) -> JSONResponse:
    """``HTTPException``: its status and headers, the ``ErrorBody`` shape."""
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = dict(exc.headers or {})
    if exc.status_code == 400 and detail == "There was an error parsing the body":
        detail = "the request body could not be read: " + ERROR_DESCRIPTIONS[400]
    if exc.status_code == 405:
        allow = _allowed_methods(request)
        if allow:
            headers["Allow"] = allow
    return _json(exc.status_code, ErrorBody(detail=detail), headers)


async def _ours(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Taste2VecError)  # noqa: S101
    status = 500
    body = ErrorBody(detail=str(exc))
    if isinstance(exc, SchemaError):
        status = 422
        body.errors = [ErrorItem(field=f, message=m) for f, m in exc.errors]
    elif isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ConflictError):
        status = 409
    elif isinstance(exc, ArtifactError | StoreError):
        status = 503
    return _json(status, body)


# --------------------------------------------------------------------------- OpenAPI
_SCHEMAS = "#/components/schemas/"
_ERROR_REF = {"$ref": _SCHEMAS + "ErrorBody"}
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: how to send the key.",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "Whole seconds until this key may send the next request.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}


def _error_response(code: int, description: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description or ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": _ERROR_REF}},
    }
    if code in _HEADERS:
        response["headers"] = _HEADERS[code]
    return response


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI schema (FastAPI's, modified in place) tell the truth about errors.

    - 422 is documented with ``ErrorBody`` instead of ``HTTPValidationError``, and the
      ``HTTPValidationError``/``ValidationError`` components are dropped;
    - an operation with a request body documents 413 (the body limit), and 400 when the
      body is JSON (unparseable JSON);
    - an operation that needs a key documents 401 and 429 (with ``Retry-After``).

    A status a route documents itself keeps the route's description.
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(
        ErrorBody.model_json_schema(ref_template=_SCHEMAS + "{model}").pop("$defs", {})
    )
    components["ErrorBody"] = ErrorBody.model_json_schema(ref_template=_SCHEMAS + "{model}")
    components["ErrorBody"].pop("$defs", None)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            current = responses.get("422")
            if current is not None:
                refs = str(current.get("content", {}))
                if "HTTPValidationError" in refs or "content" not in current:
                    description = current.get("description")
                    if description in (None, "Validation Error"):
                        description = None
                    responses["422"] = _error_response(422, description)
            wanted: list[int] = []
            body = operation.get("requestBody")
            if body is not None:
                if "application/json" in body.get("content", {}):
                    wanted.append(400)
                wanted.append(413)
            if operation.get("security"):
                wanted += [401, 429]
            for wanted_code in wanted:
                responses.setdefault(str(wanted_code), _error_response(wanted_code))
            for status, response in responses.items():
                if status.startswith(("4", "5")) and "content" not in response:
                    response["content"] = {"application/json": {"schema": _ERROR_REF}}
            operation["responses"] = dict(sorted(responses.items()))
    return schema


def _document_limits(schema: dict[str, Any], app: FastAPI) -> None:
    """Limits that come from the settings, in the schema: /v1/embed's ``max_batch``."""
    settings = getattr(app.state, "settings", None)
    embed = schema.get("components", {}).get("schemas", {}).get("EmbedRequest")
    if settings is not None and embed is not None:
        embed["properties"]["records"]["maxItems"] = settings.max_batch


def install(app: FastAPI) -> None:
    """Register the error handlers and the OpenAPI post-processing (``document_errors``)."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Taste2VecError, _ours)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = document_errors(generate())
            _document_limits(schema, app)
            document_rules(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
