"""Request and response bodies of the HTTP API (one model per use)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


class ProfileOut(BaseModel):
    user: str
    radar: dict[str, float] = Field(description="Predicted sensory intensities, 0-10.")
    top_families: list[tuple[str, float]]
    map_xy: tuple[float, float] = Field(description="Position on the 2-D coffee map.")
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
