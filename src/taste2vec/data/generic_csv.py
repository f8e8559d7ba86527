"""A plain CSV format for a business's own coffee catalogue and tasting logs.

The full specification, with examples, is in ``docs/data-formats.md``. In short:

- UTF-8 (a byte-order mark, as Excel writes it, is accepted); comma-separated;
  the first row is the header; columns may come in any order.
- Columns are the model fields of :class:`~taste2vec.schema.records.Coffee`
  (catalogue) or :class:`~taste2vec.schema.records.TasteRecord` (tastings).
  The 20 metrics each get a column named exactly by metric name
  (``acidity``, ``roast_agtron``, ...); drinking context columns are prefixed
  ``ctx_`` (``ctx_hour``, ``ctx_social_setting``, ...).
- An empty cell means "not given": a missing metric stays missing, never 0.
- List fields (``variety``, ``descriptors``) separate items with ``;``.
- Enum cells (``process``, ``roast_level``, ``ctx_social_setting``,
  ``ctx_location_type``) are case-insensitive; spaces may stand for hyphens.
- Every row is validated. Problems raise :class:`~taste2vec.errors.SchemaError`
  listing ``row N: field: problem`` for up to 20 bad rows, where N is the row a
  spreadsheet shows (the header is row 1). Unknown columns and duplicate ids
  are rejected.

Writing then reading a file gives back equal objects, except that a context
whose fields are all empty reads back as no context (``None``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from taste2vec.errors import DataError, SchemaError
from taste2vec.schema.metrics import METRIC_BY_NAME, METRIC_NAMES
from taste2vec.schema.records import Coffee, Context, Metrics, TasteRecord

LIST_SEPARATOR = ";"
CONTEXT_PREFIX = "ctx_"
MAX_REPORTED_ROWS = 20
CONTEXT_COLUMNS: tuple[str, ...] = tuple(CONTEXT_PREFIX + f for f in Context.model_fields)
CATALOGUE_COLUMNS: tuple[str, ...] = (
    "id", "name", "roaster", "origin_country", "region", "process", "variety", "roast_level",
    "roaster_notes", "descriptors", *METRIC_NAMES, "stock",
)  # fmt: skip
TASTING_COLUMNS: tuple[str, ...] = (
    "id", "user", "coffee", "timestamp", "notes", *METRIC_NAMES, *CONTEXT_COLUMNS,
)  # fmt: skip
CATALOGUE_REQUIRED: tuple[str, ...] = ("id", "name")
TASTING_REQUIRED: tuple[str, ...] = ("id", "user", "timestamp")
_LIST_FIELDS = frozenset({"variety", "descriptors"})
_ENUM_COLUMNS = frozenset({"process", "roast_level", "ctx_social_setting", "ctx_location_type"})

_M = TypeVar("_M", bound=BaseModel)
Row = dict[str, str]


# --------------------------------------------------------------------------- reading


def _column_of(loc: tuple[int | str, ...]) -> str:
    """The CSV column a pydantic error location points at."""
    if not loc:
        return "(row)"
    if loc[0] == "metrics" and len(loc) > 1:
        return str(loc[1])
    if loc[0] == "context" and len(loc) > 1:
        return CONTEXT_PREFIX + str(loc[1])
    return str(loc[0])


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for err in exc.errors():
        column = _column_of(tuple(err["loc"]))
        msg = err["msg"]
        if column in METRIC_BY_NAME:
            msg += f" (allowed: {METRIC_BY_NAME[column].describe_range()}; empty = missing)"
        out.append((column, msg))
    return out


def _rows(
    path: Path, allowed: tuple[str, ...], required: tuple[str, ...]
) -> Iterator[tuple[int, Row]]:
    """Yield ``(spreadsheet row number, {column: stripped cell})``; header problems raise."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise DataError(f"Cannot open {path}: {exc}") from exc
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader, [])]
            if not any(header):
                raise SchemaError(f"{path}: the file is empty; row 1 must be a header row")
            unknown = [h for h in header if h not in allowed]
            if unknown:
                raise SchemaError(
                    f"{path}: row 1: unknown column(s) {unknown}. "
                    f"Allowed columns: {', '.join(allowed)}",
                    [(f"row 1: {h}", "unknown column") for h in unknown],
                )
            repeated = sorted({h for h in header if header.count(h) > 1})
            if repeated:
                raise SchemaError(f"{path}: row 1: column(s) {repeated} appear more than once")
            missing = [c for c in required if c not in header]
            if missing:
                raise SchemaError(f"{path}: row 1: required column(s) {missing} are missing")
            for number, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(header):
                    yield number, {"": f"has {len(cells)} cells but the header has {len(header)}"}
                    continue
                yield number, {h: c.strip() for h, c in zip(header, cells, strict=True)}
        except UnicodeDecodeError as exc:
            raise SchemaError(f"{path}: not UTF-8 text ({exc}); save it as 'CSV UTF-8'") from exc
        except csv.Error as exc:
            raise SchemaError(f"{path}: malformed CSV near line {reader.line_num}: {exc}") from exc


def _split(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(LIST_SEPARATOR) if item.strip()]


def _enum(cell: str) -> str:
    return "-".join(cell.lower().split())


def _model_data(row: Row, scalar_fields: Iterable[str]) -> dict[str, Any]:
    """The model input for one row: empty cells left out, lists split, metrics/context nested."""
    data: dict[str, Any] = {}
    for name in scalar_fields:
        cell = row.get(name, "")
        if cell:
            value: Any = _split(cell) if name in _LIST_FIELDS else cell
            data[name] = _enum(cell) if name in _ENUM_COLUMNS else value
    metrics = {m: row[m] for m in METRIC_NAMES if row.get(m)}
    if metrics:
        data["metrics"] = metrics
    context = {
        c.removeprefix(CONTEXT_PREFIX): _enum(row[c]) if c in _ENUM_COLUMNS else row[c]
        for c in CONTEXT_COLUMNS
        if row.get(c)
    }
    if context:
        data["context"] = context
    return data


RowProblems = tuple[int, list[tuple[str, str]]]
"""A bad row: its spreadsheet row number and its ``(column, problem)`` pairs."""


def _validate(
    path: Path, model: type[_M], columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[tuple[int, _M]], list[RowProblems]]:
    """Every row checked: the valid rows' items (with their row numbers) and the bad rows.
    Header problems raise :class:`SchemaError`."""
    scalar = [c for c in columns if c not in METRIC_BY_NAME and c not in CONTEXT_COLUMNS]
    good: list[tuple[int, _M]] = []
    bad: list[RowProblems] = []
    first_seen: dict[str, int] = {}
    for number, row in _rows(path, columns, required):
        if "" in row:
            bad.append((number, [("(row)", row[""])]))
            continue
        problems = [(c, "is required") for c in required if not row.get(c)]
        row_id = row.get("id", "")
        if row_id in first_seen:
            problems.append(
                ("id", f"duplicate id {row_id!r} (first used on row {first_seen[row_id]})")
            )
        elif row_id:
            first_seen[row_id] = number
        try:
            item = model.model_validate(_model_data(row, scalar))
        except ValidationError as exc:
            seen = {c for c, _ in problems}
            problems += [(c, m) for c, m in _problems(exc) if c not in seen]
        else:
            if not problems:
                good.append((number, item))
        if problems:
            bad.append((number, problems))
    return good, bad


def _read(
    path: Path | str, model: type[_M], columns: tuple[str, ...], required: tuple[str, ...]
) -> list[_M]:
    path = Path(path)
    good, bad = _validate(path, model, columns, required)
    if bad:
        raise _error(path, bad)
    return [item for _, item in good]


def _error(path: Path, bad: list[RowProblems]) -> SchemaError:
    errors = [
        (f"row {n}: {col}", msg) for n, probs in bad[:MAX_REPORTED_ROWS] for col, msg in probs
    ]
    lines = [f"  {field}: {msg}" for field, msg in errors]
    if len(bad) > MAX_REPORTED_ROWS:
        lines.append(f"  ... and {len(bad) - MAX_REPORTED_ROWS} more bad row(s)")
    return SchemaError(f"{path}: {len(bad)} invalid row(s):\n" + "\n".join(lines), errors)


def read_catalogue_csv(path: Path | str) -> list[Coffee]:
    """Read a catalogue CSV into :class:`Coffee` items (see ``docs/data-formats.md``)."""
    return _read(path, Coffee, CATALOGUE_COLUMNS, CATALOGUE_REQUIRED)


def check_catalogue_csv(path: Path | str) -> tuple[list[Coffee], list[RowProblems]]:
    """Read a catalogue CSV with the rules of :func:`read_catalogue_csv`, but keep going
    past bad rows: the valid rows' coffees, and each bad row with its problems (every bad
    row, in file order). A later row repeating an earlier id is the bad one. Problems
    with the header (or the file itself) still raise :class:`SchemaError`."""
    good, bad = _validate(Path(path), Coffee, CATALOGUE_COLUMNS, CATALOGUE_REQUIRED)
    return [item for _, item in good], bad


def read_tastings_csv(path: Path | str) -> list[TasteRecord]:
    """Read a tasting-log CSV into :class:`TasteRecord` items (see ``docs/data-formats.md``)."""
    return _read(path, TasteRecord, TASTING_COLUMNS, TASTING_REQUIRED)


# --------------------------------------------------------------------------- writing


def _cell(value: Any, column: str) -> str:
    """A model value as CSV text: floats in shortest round-trip form, enums by value."""
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SchemaError(f"{column}: cannot write non-finite number {value}")
        return repr(value)
    if isinstance(value, list):
        for item in value:
            if LIST_SEPARATOR in item:
                raise SchemaError(f"{column}: item {item!r} contains '{LIST_SEPARATOR}'")
        return LIST_SEPARATOR.join(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _metric_cells(metrics: Metrics) -> dict[str, str]:
    return {m: _cell(getattr(metrics, m), m) for m in METRIC_NAMES}


def _write(
    path: Path | str, items: Iterable[_M], columns: tuple[str, ...], to_row: Callable[[_M], Row]
) -> None:
    rows: list[Row] = []
    seen: set[str] = set()
    for item in items:
        row = to_row(item)
        if row["id"] in seen:
            raise SchemaError(f"duplicate id {row['id']!r}; ids must be unique within a file")
        seen.add(row["id"])
        rows.append(row)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)


def _coffee_row(coffee: Coffee) -> Row:
    row = {f: _cell(getattr(coffee, f), f) for f in CATALOGUE_COLUMNS if f not in METRIC_BY_NAME}
    return row | _metric_cells(coffee.metrics)


def _tasting_row(record: TasteRecord) -> Row:
    row = {f: _cell(getattr(record, f), f) for f in ("id", "user", "coffee", "timestamp", "notes")}
    context = record.context
    for column in CONTEXT_COLUMNS:
        field = column.removeprefix(CONTEXT_PREFIX)
        row[column] = "" if context is None else _cell(getattr(context, field), column)
    return row | _metric_cells(record.metrics)


def write_catalogue_csv(coffees: Iterable[Coffee], path: Path | str) -> None:
    """Write :class:`Coffee` items as a catalogue CSV (UTF-8, every column, in spec order)."""
    _write(path, coffees, CATALOGUE_COLUMNS, _coffee_row)


def write_tastings_csv(records: Iterable[TasteRecord], path: Path | str) -> None:
    """Write :class:`TasteRecord` items as a tasting-log CSV (UTF-8, every column)."""
    _write(path, records, TASTING_COLUMNS, _tasting_row)
