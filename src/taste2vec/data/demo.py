"""The bundled demo data: a coffee catalogue, tastings and feedback from fictional users.

Everything here ships inside the package (``taste2vec/data/bundled/``), so a full
demo runs with no external data. The content is original, written by the
Taste2Vec authors (MIT); roasters and users are fictional. It is produced by
``scripts/build_demo_data.py``.

- :func:`load_demo_catalogue`: about 100 coffees, :class:`~taste2vec.schema.Coffee`,
  with English and Korean roaster notes and a full sensory profile.
- :func:`demo_records`: the catalogue as :class:`~taste2vec.schema.TasteRecord` s
  (user ``"catalogue"``), one per coffee, for training or indexing.
- :func:`demo_tastings`: about 150 tastings by the six :data:`DEMO_USERS`.
- :func:`demo_feedback`: likes, dislikes, ratings and skips by the same users.

Files are read and validated once, then cached; every call returns a new list.
A missing, unreadable or invalid file raises :class:`~taste2vec.errors.DataError`.

>>> coffees = load_demo_catalogue()
>>> len(coffees) >= 90
True
>>> demo_records()[0].user
'catalogue'
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import TypeVar

from taste2vec.errors import DataError, SchemaError
from taste2vec.schema import (
    Coffee,
    Feedback,
    TasteRecord,
    parse_coffee,
    parse_feedback,
    parse_record,
)

__all__ = [
    "CATALOGUE_FILE",
    "CATALOGUE_USER",
    "DEMO_USERS",
    "FEEDBACK_FILE",
    "TASTINGS_FILE",
    "demo_feedback",
    "demo_records",
    "demo_tastings",
    "load_demo_catalogue",
]

CATALOGUE_FILE = "demo_catalogue.json"
TASTINGS_FILE = "demo_tastings.jsonl"
FEEDBACK_FILE = "demo_feedback.jsonl"

#: The user id of the records made from the catalogue's own tasting notes.
CATALOGUE_USER = "catalogue"

#: The fictional demo users of ``demo_tastings.jsonl`` and ``demo_feedback.jsonl``.
DEMO_USERS: tuple[str, ...] = (
    "demo-ana",
    "demo-minji",
    "demo-ben",
    "demo-seojun",
    "demo-kofi",
    "demo-lena",
)

# The catalogue records are spread over 2024, one every few days, at 09:00 UTC.
_RECORDS_START = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
_RECORDS_DAYS = 366  # 2024 is a leap year

_T = TypeVar("_T")


def _read_text(name: str) -> str:
    """The text of one bundled file, or :class:`DataError`."""
    try:
        return (resources.files("taste2vec.data") / "bundled" / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"bundled demo file {name!r} is missing or unreadable ({exc}); "
            "reinstall taste2vec or run scripts/build_demo_data.py"
        ) from exc


def _parse_catalogue(text: str, source: str = CATALOGUE_FILE) -> tuple[Coffee, ...]:
    """Validate the catalogue JSON (a list of coffees with unique ids)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(data, list):
        raise DataError(f"{source} must hold a JSON list of coffees, got {type(data).__name__}")
    coffees: list[Coffee] = []
    seen: set[str] = set()
    for i, item in enumerate(data):
        try:
            coffee = parse_coffee(item)
        except SchemaError as exc:
            raise DataError(f"{source}: coffee #{i} is invalid: {exc}") from exc
        if coffee.id in seen:
            raise DataError(f"{source}: duplicate coffee id {coffee.id!r} (item #{i})")
        seen.add(coffee.id)
        coffees.append(coffee)
    if not coffees:
        raise DataError(f"{source} holds no coffees")
    return tuple(coffees)


def _parse_jsonl(text: str, source: str, parse: Callable[[object], _T]) -> tuple[_T, ...]:
    """Validate a JSON-lines file, one item per non-blank line."""
    items: list[_T] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(parse(json.loads(line)))
        except json.JSONDecodeError as exc:
            raise DataError(f"{source}, line {lineno}: not valid JSON: {exc}") from exc
        except SchemaError as exc:
            raise DataError(f"{source}, line {lineno}: {exc}") from exc
    return tuple(items)


def _check_references(
    items: tuple[TasteRecord, ...] | tuple[Feedback, ...], source: str, coffee_ids: set[str]
) -> None:
    ids: set[str] = set()
    for item in items:
        if item.id in ids:
            raise DataError(f"{source}: duplicate id {item.id!r}")
        ids.add(item.id)
        if item.coffee is not None and item.coffee not in coffee_ids:
            raise DataError(f"{source}: {item.id!r} names unknown coffee {item.coffee!r}")


@functools.cache
def _catalogue() -> tuple[Coffee, ...]:
    return _parse_catalogue(_read_text(CATALOGUE_FILE))


@functools.cache
def _tastings() -> tuple[TasteRecord, ...]:
    records = _parse_jsonl(_read_text(TASTINGS_FILE), TASTINGS_FILE, parse_record)
    _check_references(records, TASTINGS_FILE, {c.id for c in _catalogue()})
    return records


@functools.cache
def _feedback() -> tuple[Feedback, ...]:
    items = _parse_jsonl(_read_text(FEEDBACK_FILE), FEEDBACK_FILE, parse_feedback)
    _check_references(items, FEEDBACK_FILE, {c.id for c in _catalogue()})
    return items


def load_demo_catalogue() -> list[Coffee]:
    """The bundled demo catalogue, validated (cached; a new list each call)."""
    return list(_catalogue())


def demo_records() -> list[TasteRecord]:
    """One :class:`TasteRecord` per catalogue coffee, from the roaster's notes and profile.

    Ids are ``"catalogue:<coffee id>"``, the user is :data:`CATALOGUE_USER`, and the
    timestamps are fixed, spread evenly over 2024 in catalogue order.
    """
    coffees = _catalogue()
    n = len(coffees)
    return [
        TasteRecord(
            id=f"catalogue:{coffee.id}",
            user=CATALOGUE_USER,
            coffee=coffee.id,
            timestamp=_RECORDS_START + timedelta(days=(i * _RECORDS_DAYS) // n),
            notes=coffee.roaster_notes,
            metrics=coffee.metrics,
        )
        for i, coffee in enumerate(coffees)
    ]


def demo_tastings() -> list[TasteRecord]:
    """The demo users' tastings (Sept-Nov 2026), validated (cached; a new list each call)."""
    return list(_tastings())


def demo_feedback() -> list[Feedback]:
    """The demo users' feedback on catalogue coffees (cached; a new list each call)."""
    return list(_feedback())
