"""A run's boxes as CSV: one row per pick."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TextIO

from taste2vec.errors import NotFoundError
from taste2vec.store import Store

COLUMNS = [
    "month",
    "run_id",
    "status",
    "user",
    "slot",
    "coffee_id",
    "coffee_name",
    "affinity",
    "explanation",
]
PAGE = 5000


def csv_rows(store: Store, run_id: str) -> Iterator[list[str]]:
    """The header, then one row per pick by subscriber and slot (read in pages)."""
    run = store.curation_run(run_id)
    if run is None:
        raise NotFoundError(f"no curation run {run_id!r}")
    yield COLUMNS
    names: dict[str, str] = {}
    offset = 0
    while page := store.curation_picks(run_id, offset=offset, limit=PAGE):
        offset += len(page)
        for p in page:
            if p.coffee not in names:
                coffee = store.get_coffee(p.coffee)
                names[p.coffee] = "" if coffee is None else coffee.name
            yield [
                run.month,
                run.id,
                run.status,
                p.user,
                str(p.slot),
                p.coffee,
                names[p.coffee],
                f"{p.affinity:.4f}",
                p.explanation,
            ]


class _Line:
    """A file-like that keeps the last line csv.writer wrote."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text = text
        return len(text)


def csv_lines(store: Store, run_id: str) -> Iterator[str]:
    """:func:`csv_rows` as CSV text lines (for streaming responses)."""
    rows = csv_rows(store, run_id)
    first = next(rows)  # NotFoundError here, on the first line
    line = _Line()
    writer = csv.writer(line)
    writer.writerow(first)
    yield line.text
    for row in rows:
        writer.writerow(row)
        yield line.text


def write_csv(store: Store, run_id: str, out: TextIO) -> int:
    """Write the run's boxes to ``out``; returns the number of picks written."""
    lines = 0
    for text in csv_lines(store, run_id):
        out.write(text)
        lines += 1
    return lines - 1
