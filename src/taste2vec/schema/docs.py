"""Render the schema reference (``docs/schema.md``) from the models themselves.

A test checks the committed file against this output, so docs cannot drift
from the code. Regenerate with ``python -m taste2vec.schema.docs > docs/schema.md``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from taste2vec.schema.metrics import METRICS
from taste2vec.schema.records import (
    Coffee,
    Context,
    Feedback,
    FeedbackSignal,
    LocationType,
    Process,
    RoastLevel,
    SocialSetting,
    TasteRecord,
)


def _schema_type(prop: dict[str, Any]) -> str:
    if "anyOf" in prop:
        return " or ".join(_schema_type(p) for p in prop["anyOf"])
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    kind = str(prop.get("type", "any"))
    if kind == "string" and "pattern" in prop:
        return "id"
    if kind == "string" and prop.get("format") == "date-time":
        return "datetime"
    if kind == "array":
        return f"list of {_schema_type(prop.get('items', {}))}"
    return kind


def _fields_table(model: type[BaseModel]) -> str:
    props = model.model_json_schema()["properties"]
    lines = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        desc = (info.description or "").replace("|", "\\|")
        required = "yes" if info.is_required() else "no"
        lines.append(f"| `{name}` | {_schema_type(props[name])} | {required} | {desc} |")
    return "\n".join(lines)


def render() -> str:
    metrics = ["| # | metric | group | unit | range | meaning |", "|---|---|---|---|---|---|"]
    for i, m in enumerate(METRICS, start=1):
        metrics.append(
            f"| {i} | `{m.name}` | {m.group} | {m.unit} | {m.low:g} – {m.high:g} | "
            f"{m.description} |"
        )
    enums = "\n".join(
        f"- `{e.__name__}`: " + ", ".join(f"`{v.value}`" for v in e)
        for e in (SocialSetting, LocationType, Process, RoastLevel, FeedbackSignal)
    )
    return f"""# Schema reference

Generated from `taste2vec.schema` by `python -m taste2vec.schema.docs`; a test
keeps this file in sync with the code. All models are pydantic v2, reject
unknown fields, and are immutable. Invalid input raises `SchemaError` whose
message names each bad field and its allowed range, e.g.
`metrics.acidity: Input should be less than or equal to 10 (allowed: 0 to 10 points)`.

**Missing values.** Every metric and context field is optional. A missing value
is `null` (or omitted) and reaches the model as a *masked* input with its own
presence bit, never as a silent 0. A measured 0 is a real 0.

**Times.** ISO 8601. Naive times are taken as UTC; all times are stored in UTC.

## The 20 metrics (`Metrics`)

The first ten are the seed design's; the other ten are ours, chosen because
real data or brewing practice needs them (see `taste2vec/schema/metrics.py`).

{chr(10).join(metrics)}

## `TasteRecord`: one tasting a customer logged

{_fields_table(TasteRecord)}

## `Context`: the drinking context (the seed's ten fields)

{_fields_table(Context)}

## `Coffee`: a catalogue item

{_fields_table(Coffee)}

## `Feedback`: a reaction to a coffee

{_fields_table(Feedback)}

`rating` is required with signal `rated` and forbidden otherwise.

## Enumerations

{enums}
"""


if __name__ == "__main__":
    print(render(), end="")
