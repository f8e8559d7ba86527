"""What the operator console's pages show and do, computed from the service without HTTP.

:class:`ConsoleView` wraps a :class:`~taste2vec.service.TasteService` (and the stream
reader, when the stream runs):

* the catalogue: a searchable page of coffees with their stock, a stock change (validated
  by the catalogue's own schema, :class:`~taste2vec.schema.Coffee`), deleting a coffee,
  and the catalogue CSV import (the rules of
  :func:`~taste2vec.data.generic_csv.read_catalogue_csv`; the valid rows are imported
  and every bad row is reported with its problems);
* the stream: per partition the log's end offset, the worker's next offset, the lag and
  the watermark; the outbox backlog; throughput measured between two looks; the dead
  letters (paged, and counted by reason); the metrics per experiment arm; and the health
  of the service's background loops (what ``/readyz`` shows).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from taste2vec.data.generic_csv import check_catalogue_csv
from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.schema import Coffee
from taste2vec.service.core import TasteService
from taste2vec.service.runtime import LoopHealth
from taste2vec.store import UpsertCounts
from taste2vec.stream.state import StreamReader
from taste2vec.stream.windows import iso

__all__ = [
    "CataloguePage",
    "ConsoleView",
    "CsvImport",
    "PartitionLag",
    "StreamStatus",
    "Throughput",
]

PAGE_SIZE = 25
MAX_PAGE = 100_000
MAX_QUERY_CHARS = 100
MAX_CSV_BYTES = 5_000_000
THROUGHPUT_WINDOW_S = 300.0  # rates are measured against the oldest look within this
MAX_SAMPLES = 64


@dataclass(frozen=True)
class CataloguePage:
    """One page of the catalogue search (``page`` counts from 1)."""

    coffees: list[Coffee]
    total: int
    page: int
    pages: int
    query: str


@dataclass
class CsvImport:
    """The outcome of a CSV upload: counts of the imported rows, and the rows refused.

    ``file_error`` is set when the file as a whole was refused (empty, not UTF-8, unknown
    or missing columns): then nothing was imported."""

    counts: UpsertCounts | None = None
    row_errors: list[tuple[int, list[tuple[str, str]]]] = field(default_factory=list)
    file_error: str | None = None

    @property
    def imported(self) -> int:
        c = self.counts
        return 0 if c is None else c.inserted + c.updated + c.unchanged


@dataclass(frozen=True)
class PartitionLag:
    """One log partition: where the log ends, where the worker is, and how far behind."""

    partition: int
    end_offset: int | None  # None: the log is not open in this process
    next_offset: int | None  # None: the worker never loaded the partition
    lag: int | None
    watermark: str | None
    max_event_time: str | None
    counters: dict[str, int]


@dataclass(frozen=True)
class Throughput:
    """Rates between an earlier look and now (None on the first look)."""

    seconds: float | None
    consumed_per_s: float | None  # log entries the worker folded in
    appended_per_s: float | None  # log entries appended (the outbox relay publishing)


@dataclass(frozen=True)
class StreamStatus:
    available: bool  # False while the stream is not running in this process
    partitions: list[PartitionLag]
    totals: dict[str, int]
    total_lag: int | None
    outbox_backlog: int | None  # outbox rows not yet published to the log
    relay: dict[str, Any] | None
    throughput: Throughput
    dead_letters: int
    dead_letter_reasons: dict[str, int]
    loops: dict[str, LoopHealth]
    as_of: str | None


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


class ConsoleView:
    """Read models and actions of the console's pages (thread-safe)."""

    def __init__(self, service: TasteService) -> None:
        self.service = service
        self._samples: deque[tuple[float, int, int | None]] = deque(maxlen=MAX_SAMPLES)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ catalogue
    def catalogue(self, query: str = "", page: int = 1, size: int = PAGE_SIZE) -> CataloguePage:
        """A page of coffees matching ``query`` (id, name, roaster or origin), by id. A
        page past the last one shows the last one."""
        query = query.strip()[:MAX_QUERY_CHARS]
        page = min(max(1, page), MAX_PAGE)
        store = self.service.store
        coffees, total = store.search_coffees(query, (page - 1) * size, size)
        pages = _pages(total, size)
        if page > pages:
            page = pages
            coffees, total = store.search_coffees(query, (page - 1) * size, size)
        return CataloguePage(coffees, total, page, pages, query)

    def coffee(self, coffee_id: str) -> Coffee:
        found = self.service.store.get_coffee(coffee_id)
        if found is None:
            raise NotFoundError(f"no coffee with id {coffee_id!r}")
        return found

    def set_stock(self, coffee_id: str, value: str) -> Coffee:
        """Set a coffee's stock from a form's text. The value must pass the catalogue's
        rule for ``stock`` (an integer, 0 to 10,000,000; what ``PUT /v1/coffees/{id}``
        checks); otherwise :class:`SchemaError` with the field ``stock``. The
        recommendations follow within seconds (the index is rebuilt in the background)."""
        coffee = self.coffee(coffee_id)
        text = value.strip()
        try:
            checked = Coffee.model_validate({**coffee.model_dump(), "stock": text})
        except ValidationError as exc:
            msg = "; ".join(
                str(e["msg"]) for e in exc.errors() if tuple(e["loc"])[:1] == ("stock",)
            )
            raise SchemaError(f"stock: {msg or exc}", [("stock", msg or str(exc))]) from None
        updated = self.service.store.set_stock(coffee_id, checked.stock)
        self.service.rebuild(background=True)
        return updated

    def delete_coffee(self, coffee_id: str) -> None:
        """Delete a coffee (tastings and feedback that mention it are kept);
        :class:`NotFoundError` when there is none."""
        self.service.delete_coffee(coffee_id)

    def import_csv(self, data: bytes) -> CsvImport:
        """Import a catalogue CSV (``docs/data-formats.md``): the rows that pass are
        upserted (idempotent: counted as inserted, updated or unchanged), the others are
        listed by row number with their problems. A file whose header (or encoding) is
        wrong imports nothing."""
        if not data.strip():
            return CsvImport(file_error="the file is empty; row 1 must be a header row")
        if len(data) > MAX_CSV_BYTES:
            return CsvImport(
                file_error=f"the file has {len(data):,} bytes; the limit is {MAX_CSV_BYTES:,}"
            )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "catalogue.csv"
            path.write_bytes(data)
            try:
                coffees, bad = check_catalogue_csv(path)
            except SchemaError as exc:  # the same problem, without the temporary file's name
                return CsvImport(file_error=str(exc).replace(f"{path}: ", ""))
        counts = self.service.import_coffees(coffees) if coffees else UpsertCounts(0, 0, 0)
        return CsvImport(counts=counts, row_errors=bad)

    # ------------------------------------------------------------------ stream
    def stream(self, reader: StreamReader | None) -> StreamStatus:
        """The stream's state now (and the rates since an earlier look)."""
        loops = self.service.runtime.health()
        relay = self.service.relay
        backlog: int | None
        try:
            backlog = self.service.store.count_unpublished()
        except Exception:  # noqa: BLE001 - the page shows the rest
            backlog = None
        ends: dict[int, int] | None = None
        if relay is not None:
            try:
                ends = relay.log.end_offsets()
            except Exception:  # noqa: BLE001 - a log that cannot answer shows no lag
                ends = None
        relay_stats = None if relay is None else dict(vars(relay.stats))
        if reader is None:
            return StreamStatus(
                False,
                [],
                {},
                None,
                backlog,
                relay_stats,
                Throughput(None, None, None),
                0,
                {},
                loops,
                None,
            )
        progress = reader.progress()
        parts: dict[int, dict[str, Any]] = progress["partitions"]
        numbers = sorted(set(parts) | set(ends or {}))
        rows = []
        for p in numbers:
            info = parts.get(p, {})
            nxt = info.get("next_offset")
            end = None if ends is None else ends.get(p)
            lag = None if end is None else max(0, end - (nxt or 0))
            rows.append(
                PartitionLag(
                    p,
                    end,
                    nxt,
                    lag,
                    info.get("watermark"),
                    info.get("max_event_time"),
                    dict(info.get("counters", {})),
                )
            )
        lags = [r.lag for r in rows if r.lag is not None]
        totals: dict[str, int] = progress["totals"]
        reasons = reader.dead_letter_reasons()
        as_of = reader.as_of_us()
        return StreamStatus(
            True,
            rows,
            totals,
            sum(lags) if ends is not None else None,
            backlog,
            relay_stats,
            self._throughput(
                totals.get("entries", 0), None if ends is None else sum(ends.values())
            ),
            sum(reasons.values()),
            reasons,
            loops,
            None if as_of is None else iso(as_of),
        )

    def _throughput(self, consumed: int, appended: int | None) -> Throughput:
        """Rates against the oldest look of the last :data:`THROUGHPUT_WINDOW_S`, then
        remember this look."""
        now = time.monotonic()
        with self._lock:
            while self._samples and now - self._samples[0][0] > THROUGHPUT_WINDOW_S:
                self._samples.popleft()
            first = self._samples[0] if self._samples else None
            self._samples.append((now, consumed, appended))
        if first is None or now - first[0] < 0.5:
            return Throughput(None, None, None)
        dt = now - first[0]
        appended_rate = (
            None if appended is None or first[2] is None else max(0, appended - first[2]) / dt
        )
        return Throughput(dt, max(0, consumed - first[1]) / dt, appended_rate)

    def dead_letters(
        self, reader: StreamReader | None, page: int = 1, size: int = PAGE_SIZE
    ) -> tuple[list[dict[str, Any]], int, int]:
        """A page of dead letters (partition, offset, reason, payload), the page shown
        and the number of pages."""
        if reader is None:
            return [], 1, 1
        total = sum(reader.dead_letter_reasons().values())
        pages = _pages(total, size)
        page = min(max(1, page), pages)
        return reader.dead_letters(limit=size, offset=(page - 1) * size), page, pages

    def arms(self, reader: StreamReader | None) -> list[dict[str, Any]]:
        """CTR, satisfaction, retention and renewal rate per experiment arm."""
        return [] if reader is None else reader.arm_metrics()
