"""Validated data shapes: metrics, context, tasting records, catalogue items, feedback."""

from taste2vec.schema.metrics import (
    METRIC_BY_NAME,
    METRIC_NAMES,
    METRICS,
    N_METRICS,
    SENSORY_METRICS,
    MetricSpec,
)
from taste2vec.schema.records import (
    Coffee,
    Context,
    Feedback,
    FeedbackSignal,
    LocationType,
    Metrics,
    Process,
    RoastLevel,
    SocialSetting,
    TasteRecord,
    format_validation_error,
    parse_coffee,
    parse_feedback,
    parse_record,
)

__all__ = [
    "METRICS",
    "METRIC_BY_NAME",
    "METRIC_NAMES",
    "N_METRICS",
    "SENSORY_METRICS",
    "Coffee",
    "Context",
    "Feedback",
    "FeedbackSignal",
    "LocationType",
    "MetricSpec",
    "Metrics",
    "Process",
    "RoastLevel",
    "SocialSetting",
    "TasteRecord",
    "format_validation_error",
    "parse_coffee",
    "parse_feedback",
    "parse_record",
]
