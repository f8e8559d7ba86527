"""JSON bodies must have the JSON types their schema documents.

Pydantic validates request bodies in lax mode: ``"acidity": "7"``, ``"acidity": true`` or
``"timestamp": 0`` are converted, although the OpenAPI schema says number, number and
string. The models stay lax on purpose (the CSV import feeds them text cells), so the API
checks the JSON types of a body against the same JSON Schema it publishes before the model
sees it: what the schema refuses, the service refuses (422, naming the field).

Only types are checked here; ranges, lengths, patterns and enums are the models' job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BeforeValidator, TypeAdapter

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}
_NAMES = {str: "a string", bool: "a boolean", dict: "an object", list: "an array"}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _NAMES.get(type(value), type(value).__name__)


def _tag_matches(branch: dict[str, Any], value: Any, defs: dict[str, Any]) -> bool:
    """Whether an object's constants (a discriminator such as ``type``) select this branch."""
    ref = branch.get("$ref")
    if isinstance(ref, str):
        branch = defs.get(ref.rsplit("/", 1)[-1], {})
    if not isinstance(value, dict):
        return False
    constants = {
        name: sub["const"]
        for name, sub in branch.get("properties", {}).items()
        if isinstance(sub, dict) and "const" in sub
    }
    return bool(constants) and all(value.get(k) == v for k, v in constants.items() if k in value)


def type_errors(
    schema: dict[str, Any], value: Any, defs: dict[str, Any], path: str = ""
) -> list[str]:
    """Where ``value`` has a JSON type ``schema`` does not allow (``path: problem``)."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        return type_errors(target, value, defs, path) if isinstance(target, dict) else []
    for keyword in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(keyword) or [] if isinstance(b, dict)]
        if branches:
            tagged = [b for b in branches if _tag_matches(b, value, defs)]
            found = [type_errors(b, value, defs, path) for b in tagged or branches]
            return [] if not all(found) else min(found, key=len)
    wanted = schema.get("type")
    if isinstance(wanted, str):
        wanted = [wanted]
    if isinstance(wanted, list) and not any(_JSON_TYPES[t](value) for t in wanted):
        expected = " or ".join(f"{'an' if t[0] in 'aeiou' else 'a'} {t}" for t in wanted)
        return [f"{path or '(body)'}: expected {expected}, got {_describe(value)}"]
    out: list[str] = []
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value and isinstance(sub, dict):
                out += type_errors(sub, value[name], defs, f"{path}.{name}" if path else name)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += type_errors(schema["items"], item, defs, f"{path}.{i}" if path else str(i))
    return out


def json_types_of(annotation: Any) -> BeforeValidator:
    """A validator that refuses a body whose JSON types differ from ``annotation``'s
    published JSON Schema (put it in the body parameter's ``Annotated``)."""
    schema = TypeAdapter(annotation).json_schema()
    defs: dict[str, Any] = schema.get("$defs", {})

    def check(value: Any) -> Any:
        problems = type_errors(schema, value, defs)
        if problems:
            raise ValueError("; ".join(problems[:10]))
        return value

    return BeforeValidator(check)
