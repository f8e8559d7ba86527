"""Validated records: what a customer logs, the catalogue, and feedback.

All models are pydantic v2, frozen, and reject unknown fields. A value out of
range raises :class:`~taste2vec.errors.SchemaError` naming the field and the
allowed range (use :func:`parse_record` and friends), or a pydantic
``ValidationError`` when the models are built directly.

>>> r = TasteRecord(id="r1", user="u1", notes="jammy blueberry", metrics={"acidity": 7})
>>> r.metrics.acidity, r.metrics.body
(7.0, None)
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from taste2vec.errors import SchemaError
from taste2vec.schema.clock import check_floor
from taste2vec.schema.metrics import METRIC_BY_NAME, METRIC_NAMES, N_METRICS

#: Letters, digits and ``._:@-``, except the URL dot segments "." and ".." (a client or
#: proxy resolves ``/v1/users/..`` to ``/v1``, so such an id could never be read back).
ID_PATTERN = (
    r"^(?:[A-Za-z0-9_:@\-][A-Za-z0-9._:@\-]*|\.[A-Za-z0-9_:@\-][A-Za-z0-9._:@\-]*"
    r"|\.\.[A-Za-z0-9._:@\-]+)$"
)
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
MAX_NOTES_CHARS = 5000


def _metric(name: str) -> Any:
    spec = METRIC_BY_NAME[name]
    return Field(
        default=None,
        ge=spec.low,
        le=spec.high,
        allow_inf_nan=False,
        description=f"{spec.description} Unit: {spec.unit}. Range {spec.describe_range()}. "
        "Omit or null when unknown.",
        json_schema_extra={"unit": spec.unit, "group": spec.group},
    )


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Metrics(_Frozen):
    """The 20 numeric metrics; ``None`` means "not measured" (masked for the model)."""

    water_temp_c: float | None = _metric("water_temp_c")
    grind_size_um: float | None = _metric("grind_size_um")
    brew_ratio: float | None = _metric("brew_ratio")
    brew_time_s: float | None = _metric("brew_time_s")
    acidity: float | None = _metric("acidity")
    sweetness: float | None = _metric("sweetness")
    bitterness: float | None = _metric("bitterness")
    body: float | None = _metric("body")
    aftertaste: float | None = _metric("aftertaste")
    balance: float | None = _metric("balance")
    dose_g: float | None = _metric("dose_g")
    tds_pct: float | None = _metric("tds_pct")
    extraction_yield_pct: float | None = _metric("extraction_yield_pct")
    roast_agtron: float | None = _metric("roast_agtron")
    aroma: float | None = _metric("aroma")
    flavor: float | None = _metric("flavor")
    clean_cup: float | None = _metric("clean_cup")
    uniformity: float | None = _metric("uniformity")
    astringency: float | None = _metric("astringency")
    overall: float | None = _metric("overall")

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(values, mask)`` in :data:`METRIC_NAMES` order; missing values are 0 with mask 0."""
        values = np.zeros(N_METRICS, dtype=np.float32)
        mask = np.zeros(N_METRICS, dtype=np.float32)
        for i, name in enumerate(METRIC_NAMES):
            v = getattr(self, name)
            if v is not None:
                values[i] = v
                mask[i] = 1.0
        return values, mask

    def observed(self) -> dict[str, float]:
        """The metrics that were measured, by name."""
        return {n: getattr(self, n) for n in METRIC_NAMES if getattr(self, n) is not None}


class SocialSetting(StrEnum):
    """Who the person drank the coffee with."""

    ALONE = "alone"
    PARTNER = "partner"
    FRIENDS = "friends"
    FAMILY = "family"
    COLLEAGUES = "colleagues"
    OTHER = "other"


class LocationType(StrEnum):
    """Where the person drank the coffee."""

    HOME = "home"
    CAFE = "cafe"
    OFFICE = "office"
    OUTDOORS = "outdoors"
    TRAVEL = "travel"
    OTHER = "other"


def _bounded(low: float, high: float, what: str) -> Any:
    return Field(default=None, ge=low, le=high, allow_inf_nan=False, description=what)


class Context(_Frozen):
    """The seed's ten drinking-context fields. Every field is optional (``None`` = unknown)."""

    hour: int | None = _bounded(0, 23, "Local hour of day, 0-23.")
    weekday: int | None = _bounded(0, 6, "Day of week, 0 = Monday ... 6 = Sunday.")
    weather_temp_c: float | None = _bounded(-40, 50, "Outdoor temperature, °C, -40 to 50.")
    humidity_pct: float | None = _bounded(0, 100, "Relative humidity, %, 0-100.")
    mood: float | None = _bounded(0, 10, "Self-reported mood, 0 (low) to 10 (great).")
    stress: float | None = _bounded(0, 10, "Self-reported stress, 0-10.")
    energy: float | None = _bounded(0, 10, "Self-reported energy, 0-10.")
    hunger: float | None = _bounded(0, 10, "Self-reported hunger, 0-10.")
    social_setting: SocialSetting | None = Field(default=None, description="Who with.")
    location_type: LocationType | None = Field(default=None, description="Where.")


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC; aware ones are converted to UTC. Times before
    :data:`~taste2vec.schema.clock.MIN_EVENT_TIME` are refused (see ``schema.clock``)."""
    if value.tzinfo is None:
        return check_floor(value.replace(tzinfo=UTC))
    return check_floor(value.astimezone(UTC))


class TasteRecord(_Frozen):
    """One tasting a customer logged."""

    id: Identifier = Field(description="Client-supplied id; ingestion is idempotent on it.")
    user: Identifier = Field(description="The person who tasted.")
    coffee: Identifier | None = Field(default=None, description="Catalogue id, if known.")
    timestamp: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When it was tasted. ISO 8601; naive times are taken as UTC. Default: "
        "when the server receives it. Refused before 1990-01-01 and more than "
        "T2V_MAX_CLOCK_SKEW_S (300 s) ahead of the server clock.",
    )
    notes: str = Field(
        default="",
        max_length=MAX_NOTES_CHARS,
        description=f"Free-text tasting notes, English or Korean, up to {MAX_NOTES_CHARS} chars.",
    )
    metrics: Metrics = Field(default_factory=Metrics, description="The 20 numeric metrics.")
    context: Context | None = Field(default=None, description="Drinking context, if given.")

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)


class Process(StrEnum):
    """Post-harvest processing method."""

    WASHED = "washed"
    NATURAL = "natural"
    HONEY = "honey"
    ANAEROBIC = "anaerobic"
    WET_HULLED = "wet-hulled"
    OTHER = "other"


class RoastLevel(StrEnum):
    """Roast degree as roasters label it."""

    LIGHT = "light"
    MEDIUM_LIGHT = "medium-light"
    MEDIUM = "medium"
    MEDIUM_DARK = "medium-dark"
    DARK = "dark"


class Coffee(_Frozen):
    """A catalogue item a subscriber can receive."""

    id: Identifier = Field(description="Catalogue id (letters, digits, . _ : @ -; 1-128 chars).")
    name: str = Field(min_length=1, max_length=200, description="Display name, 1-200 chars.")
    roaster: str = Field(default="", max_length=200, description="Roaster name.")
    origin_country: str | None = Field(default=None, max_length=100, description="Country.")
    region: str | None = Field(default=None, max_length=200, description="Growing region.")
    process: Process | None = Field(default=None, description="Processing method.")
    variety: list[str] = Field(
        default_factory=list, max_length=20, description="Botanical varieties, up to 20."
    )
    roast_level: RoastLevel | None = Field(default=None, description="Roast degree.")
    roaster_notes: str = Field(
        default="",
        max_length=MAX_NOTES_CHARS,
        description="The roaster's tasting notes (English or Korean); what the model embeds.",
    )
    descriptors: list[str] = Field(
        default_factory=list, max_length=50, description="Flavour descriptors, free words."
    )
    metrics: Metrics = Field(
        default_factory=Metrics, description="The roaster's expected sensory profile."
    )
    stock: int = Field(default=0, ge=0, le=10_000_000, description="Units available, >= 0.")


class FeedbackSignal(StrEnum):
    """What the person told us."""

    LIKED = "liked"
    DISLIKED = "disliked"
    RATED = "rated"
    SKIPPED = "skipped"


class Feedback(_Frozen):
    """A reaction to a coffee: liked, disliked, a 1-5 rating, or skipped."""

    id: Identifier = Field(description="Client-supplied id; ingestion is idempotent on it.")
    user: Identifier = Field(description="Who reacted.")
    coffee: Identifier = Field(description="The coffee reacted to.")
    signal: FeedbackSignal = Field(description="liked, disliked, rated (with rating) or skipped.")
    rating: int | None = Field(default=None, ge=1, le=5, description="1-5, only with 'rated'.")
    timestamp: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="When; naive times are UTC. Default: when the server receives it. "
        "Refused before 1990-01-01 and more than T2V_MAX_CLOCK_SKEW_S (300 s) ahead of the "
        "server clock.",
    )
    record: Identifier | None = Field(default=None, description="The tasting it refers to.")

    @field_validator("timestamp")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _rating_iff_rated(self) -> Feedback:
        if self.signal is FeedbackSignal.RATED and self.rating is None:
            raise ValueError("rating (1 to 5) is required when signal is 'rated'")
        if self.signal is not FeedbackSignal.RATED and self.rating is not None:
            raise ValueError("rating is only allowed when signal is 'rated'")
        return self

    @property
    def preference(self) -> float:
        """The signal as a number in [-1, 1]: liked 1, disliked -1, skipped -0.25, rating mapped."""
        if self.signal is FeedbackSignal.LIKED:
            return 1.0
        if self.signal is FeedbackSignal.DISLIKED:
            return -1.0
        if self.signal is FeedbackSignal.SKIPPED:
            return -0.25
        assert self.rating is not None  # noqa: S101 - guaranteed by the validator
        return (self.rating - 3) / 2.0


# --------------------------------------------------------------------------- parsing helpers

_M = TypeVar("_M", bound=BaseModel)


def _range_hint(loc: tuple[int | str, ...]) -> str:
    """A metric's allowed range, for a field under ``metrics`` only (a feedback's
    ``rating`` or a request's ``body`` is no metric, whatever its name)."""
    if len(loc) < 2 or loc[-2] != "metrics":
        return ""
    name = str(loc[-1])
    if name in METRIC_BY_NAME:
        return f" (allowed: {METRIC_BY_NAME[name].describe_range()})"
    return ""


def format_validation_error(exc: ValidationError) -> SchemaError:
    """Turn a pydantic error into a :class:`SchemaError` naming each field and its range."""
    errors: list[tuple[str, str]] = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(p) for p in loc) or "(record)"
        msg = err["msg"]
        if "input" in err and isinstance(err["input"], float) and not math.isfinite(err["input"]):
            msg = "must be a finite number"
        errors.append((field, msg + _range_hint(loc)))
    text = "; ".join(f"{f}: {m}" for f, m in errors)
    return SchemaError(f"invalid {exc.title}: {text}", errors)


def _parse(model: type[_M], data: Any) -> _M:
    try:
        if isinstance(data, str | bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        raise format_validation_error(exc) from None


def parse_record(data: Any) -> TasteRecord:
    """Validate a dict or JSON text as a :class:`TasteRecord`, raising :class:`SchemaError`."""
    return _parse(TasteRecord, data)


def parse_coffee(data: Any) -> Coffee:
    """Validate a dict or JSON text as a :class:`Coffee`, raising :class:`SchemaError`."""
    return _parse(Coffee, data)


def parse_feedback(data: Any) -> Feedback:
    """Validate a dict or JSON text as a :class:`Feedback`, raising :class:`SchemaError`."""
    return _parse(Feedback, data)
