"""Request and response bodies of the HTTP API (one model per use)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from taste2vec.schema import TasteRecord
from taste2vec.schema.records import Identifier

RECORD_EXAMPLE: dict[str, Any] = {
    "id": "ana-2026-11-25-1",
    "user": "demo-ana",
    "coffee": "demo-001",
    "timestamp": "2026-11-25T08:10:00+09:00",
    "notes": "Bright lemon and jasmine, tea-like body. 자몽 향도 살짝.",
    "metrics": {"acidity": 8, "sweetness": 6, "body": 3, "water_temp_c": 93, "brew_ratio": 16},
    "context": {"hour": 8, "weekday": 2, "mood": 7, "location_type": "home"},
}
FEEDBACK_EXAMPLE: dict[str, Any] = {
    "id": "ana-fb-1",
    "user": "demo-ana",
    "coffee": "demo-001",
    "signal": "rated",
    "rating": 5,
    "timestamp": "2026-11-25T08:30:00+09:00",
}


def document_rules(schema: dict[str, Any]) -> None:
    """Cross-field rules the models check in validators, stated in the OpenAPI schema's
    components so that generated clients and test tools know them (in place)."""
    feedback = schema.get("components", {}).get("schemas", {}).get("Feedback")
    if feedback is not None:  # Feedback._rating_iff_rated
        feedback["oneOf"] = [
            {
                "title": "rated",
                "properties": {"signal": {"const": "rated"}, "rating": {"type": "integer"}},
                "required": ["signal", "rating"],
            },
            {
                "title": "liked, disliked or skipped",
                "properties": {
                    "signal": {"enum": ["liked", "disliked", "skipped"]},
                    "rating": {"type": "null"},
                },
                "required": ["signal"],
            },
        ]


def inline_json_schema(annotation: Any) -> dict[str, Any]:
    """The JSON Schema of a type with every ``$ref`` replaced by its definition, to
    document a body that the route validates itself (``WithJsonSchema``). The types must
    not be recursive. A discriminator (whose ``mapping`` holds references) is dropped and
    its property made required in every ``oneOf`` branch, as the validation requires it:
    the branches stay exclusive through their constants."""
    schema = TypeAdapter(annotation).json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[ref.removeprefix("#/$defs/")]), **resolve(rest)}
            out = {k: resolve(v) for k, v in node.items() if k != "discriminator"}
            tag = node.get("discriminator", {}).get("propertyName")
            for branch in out.get("oneOf", []) if tag else []:
                if tag not in branch.get("required", []):
                    branch["required"] = [*branch.get("required", []), tag]
            return out
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


class ErrorItem(BaseModel):
    """One problem with a request: the field it is in and what is wrong."""

    field: str = Field(
        description="Dotted path of the field (e.g. `metrics.acidity`, `records.0.id`), a CSV "
        "location such as `row 2: acidity`, or `(request)` for the request as a whole."
    )
    message: str = Field(description="What is wrong, with the allowed range when there is one.")


class ErrorBody(BaseModel):
    """Every error the API answers (4xx and 503) has this body. ``errors`` lists each
    problem of an invalid request (400 and 422); other errors carry ``detail`` only."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "invalid request",
                    "errors": [
                        {
                            "field": "metrics.acidity",
                            "message": "Input should be less than or "
                            "equal to 10 (allowed: 0 to 10 points)",
                        }
                    ],
                },
                {"detail": "no coffee 'demo-999'"},
            ]
        }
    )

    detail: str = Field(description="What went wrong, in one sentence.")
    errors: list[ErrorItem] | None = Field(
        default=None, description="Each problem, by field (400 and 422 only)."
    )


# Statuses the middleware and the dependencies can answer on any route that has the
# matching trait; errors.document_errors adds them to every such operation of the OpenAPI
# schema, and each route documents the statuses its own logic answers (403, 404, 409, 503).
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body is not parseable: not valid JSON, or not UTF-8 text.",
    401: "Missing, unknown or revoked API key (send `Authorization: Bearer <key>` or "
    "`X-API-Key: <key>`).",
    403: "The key may not do this: a user key reaches only its own user, and catalogue "
    "writes need the admin key.",
    404: "Not found.",
    409: "Conflict with what is stored.",
    413: "The body is larger than the service accepts (`T2V_MAX_BODY_BYTES`, 1 MiB by default).",
    422: "The request does not validate: `errors` names each field and what is allowed.",
    429: "Rate limited: this user key made too many requests; retry after `Retry-After` "
    "seconds. The admin key is never limited.",
    503: "Temporarily unavailable; retry shortly.",
}


def error_responses(*codes: int | tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries with the :class:`ErrorBody` schema: each item is a
    status code (with its usual description) or ``(status, description)``."""
    out: dict[int | str, dict[str, Any]] = {}
    for item in codes:
        code, text = item if isinstance(item, tuple) else (item, ERROR_DESCRIPTIONS[item])
        out[code] = {"model": ErrorBody, "description": text}
    return out


def write_responses(
    accepted: type[BaseModel], conflict: str, *more: int | tuple[int, str]
) -> dict[int | str, dict[str, Any]]:
    """The idempotent-write contract: 201 stored (the route's default), 200 exact repeat,
    409 same id with different content."""
    return {
        201: {"model": accepted, "description": "Stored: the first write of this id."},
        200: {
            "model": accepted,
            "description": "An exact repeat: this id is already stored with the same "
            "content; nothing changed (`created` is false).",
        },
        **error_responses((409, conflict), *more),
    }


class Accepted(BaseModel):
    """Returned once a write is durably stored. ``created`` is false for an exact repeat."""

    id: str
    created: bool


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"id": "kim"}]})
    id: Identifier


class UserCreated(BaseModel):
    id: str
    api_key: str = Field(description="The user's API key. Shown once; store it safely.")


class UserPublic(BaseModel):
    id: str
    created_at: str
    n_records: int
    n_feedback: int


class ImportResult(BaseModel):
    inserted: int
    updated: int
    unchanged: int


class RecommendationOut(BaseModel):
    coffee: str
    name: str
    score: float
    explanation: str
    reasons: dict[str, Any]


class RecommendationsOut(BaseModel):
    user: str
    model_version: str
    items: list[RecommendationOut]
    request: str | None = Field(
        default=None,
        description="This answer's request id: the service records a recommendation_shown "
        "event with it; send it back in recommendation_clicked events.",
    )
    experiment: str | None = Field(
        default=None,
        description="The A/B experiment whose arm served this answer (issue 12; None: no "
        "experiment is served); model_version is then that arm's model version.",
    )
    arm: str | None = Field(default=None, description="control or treatment.")


class ProfileOut(BaseModel):
    user: str
    radar: dict[str, float] = Field(description="Predicted sensory intensities, 0-10.")
    # Pairs and points as plain arrays (the JSON is the same as from tuples): Schemathesis
    # refused the tuples' `prefixItems` schema when validating responses.
    top_families: list[Annotated[list[str | float], Field(min_length=2, max_length=2)]] = Field(
        description="[family, probability] pairs, most likely first."
    )
    map_xy: list[float] = Field(
        min_length=2, max_length=2, description="Position [x, y] on the 2-D coffee map."
    )
    n_feedback: int
    n_records: int


class EmbedRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"records": [RECORD_EXAMPLE]}]}
    )
    records: list[TasteRecord] = Field(min_length=1)


class EmbeddingOut(BaseModel):
    id: str
    embedding: list[float]
    explanation: dict[str, Any]


class EmbedResponse(BaseModel):
    model_version: str
    items: list[EmbeddingOut]
