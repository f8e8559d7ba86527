"""The tasting form: its fields, and its validation with the API's own schema.

The form posts flat names (``coffee``, ``notes``, ``metrics.acidity``,
``context.hour``...). :func:`tasting_from_form` builds the same
:class:`~taste2vec.schema.TasteRecord` the JSON API validates, so the rules (ranges,
lengths, ids, choices) are the API's; each problem is reported by its dotted field name,
the name of the input it belongs to. Flavours picked on the wheel (``flavour``, wheel
paths) are appended to the notes in the page's language.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from uuid import uuid4

from pydantic import ValidationError

from taste2vec.lexicon import Lexicon
from taste2vec.schema import SENSORY_METRICS, LocationType, SocialSetting, TasteRecord
from taste2vec.schema.metrics import METRIC_BY_NAME

SLIDERS: tuple[str, ...] = SENSORY_METRICS
BREW: tuple[str, ...] = ("water_temp_c", "grind_size_um", "brew_ratio", "brew_time_s", "dose_g")
CONTEXT_NUMBERS: tuple[str, ...] = ("hour", "mood", "energy", "stress")
CONTEXT_CHOICES: dict[str, tuple[str, ...]] = {
    "location_type": tuple(v.value for v in LocationType),
    "social_setting": tuple(v.value for v in SocialSetting),
}


@dataclass
class FormResult:
    """A valid record, or the errors by field name (and the values to show again)."""

    record: TasteRecord | None
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    picked: list[str] = field(default_factory=list)


def _hint(loc: Sequence[int | str]) -> str:
    if len(loc) >= 2 and loc[-2] == "metrics" and (spec := METRIC_BY_NAME.get(str(loc[-1]))):
        return f" (allowed: {spec.describe_range()})"
    return ""


def tasting_from_form(
    form: Mapping[str, str], picked: Sequence[str], user: str, lexicon: Lexicon, lang: str
) -> FormResult:
    """Validate the posted tasting form as ``user``'s new record."""
    values = {k: v.strip() for k, v in form.items() if isinstance(v, str)}
    errors: dict[str, str] = {}
    names: list[str] = []
    for path in picked:
        try:
            node = lexicon.node(path)
        except KeyError:
            errors["flavour"] = f"unknown flavour {path!r}"
            continue
        names.append(node.name_ko if lang == "ko" else node.name)
    notes = values.get("notes", "")
    if names:
        notes = (notes + ("\n" if notes else "") + ", ".join(names)).strip()
    metrics = {m: values[f"metrics.{m}"] for m in (*SLIDERS, *BREW) if values.get(f"metrics.{m}")}
    context: dict[str, str] = {
        c: values[f"context.{c}"]
        for c in (*CONTEXT_NUMBERS, *CONTEXT_CHOICES)
        if values.get(f"context.{c}")
    }
    data: dict[str, object] = {
        "id": f"ui-{uuid4().hex}",
        "user": user,
        "coffee": values.get("coffee") or None,
        "notes": notes,
        "metrics": metrics,
        "context": context or None,
    }
    record: TasteRecord | None = None
    try:
        record = TasteRecord.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(e["loc"])
            errors.setdefault(".".join(str(p) for p in loc), str(e["msg"]) + _hint(loc))
    if errors:
        record = None
    return FormResult(record, errors, values, list(picked))
