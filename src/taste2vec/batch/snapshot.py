"""Snapshots: the event log and the store exported to Parquet, by day, incrementally.

Layout of a snapshot directory::

    DIR/manifest.json                        the only source of truth (see below)
    DIR/events/day=2026-01-01/r000001-000.parquet
    DIR/tasting_records/day=2026-01-01/r000001-000.parquet
    DIR/feedback/day=2026-01-01/r000001-000.parquet
    DIR/users/r000001.parquet                dimensions: copied whole by every run
    DIR/coffees/r000001.parquet

**Incremental.** The manifest keeps a watermark per source: the next log offset of
every partition, and the last exported ``seq`` of tasting records and feedback. A run
exports only what lies past it, as new files (``r<run>-<chunk>``) in the day partitions
(facts by their event day), then commits.

**Idempotent and atomic.** A run writes its files into ``DIR/.tmp-<run>/``, fsyncs them,
moves them into place, and then commits by replacing ``manifest.json`` (write to a
temporary file, fsync, ``os.replace``, fsync the directory). Readers
(:class:`Snapshot`, the feature jobs) read only the files the manifest lists, so a run
killed at any point (``kill -9`` included) adds nothing: its files are not listed, its
watermark did not move, and the next run deletes them and exports the same entries
again, once. A re-run with nothing new changes nothing. Runs on one directory are
serialised by an exclusive ``flock`` on ``DIR/.lock``.

**Events table** (one row per log entry, duplicates and invalid payloads included; the
feature jobs deduplicate by ``event_id`` and skip invalid rows): ``log_partition``,
``log_offset``, ``append_us`` (the log's append time), ``event_id``, ``user_id``,
``type``, ``event_us`` (event time, microseconds since the epoch, UTC), ``event_day``
(days since the epoch), ``coffee``, ``signal``, ``rating``, ``box``, ``request``,
``experiment``, ``arm``, ``plan``, ``error`` (the schema error of an invalid payload,
else null) and ``payload`` (the raw entry). An invalid payload is filed under the day
of its append time.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from taste2vec.errors import SchemaError, StoreError, Taste2VecError
from taste2vec.store import FACT_TABLES, export_dimension, export_facts
from taste2vec.stream.events import parse_event
from taste2vec.stream.log import EventLog, LogEntry

__all__ = [
    "DIMENSIONS",
    "FACTS",
    "MANIFEST",
    "SnapshotError",
    "Snapshot",
    "SnapshotResult",
    "export_snapshot",
]

MANIFEST = "manifest.json"
FORMAT = 1
DAY_US = 86_400_000_000
FACTS = ("events", "tasting_records", "feedback")
DIMENSIONS: tuple[Literal["users", "coffees"], ...] = ("users", "coffees")
CHUNK_ROWS = 100_000  # rows buffered before they are written out
READ_BATCH = 5_000

_EVENT_FIELDS = ("coffee", "signal", "rating", "box", "request", "experiment", "arm", "plan")


class SnapshotError(Taste2VecError):
    """A snapshot cannot be read or written: a corrupt or foreign manifest, a missing
    file, empty inputs, or a log that does not match the snapshot's watermark."""


def _schemas() -> dict[str, Any]:
    import pyarrow as pa

    return {
        "events": pa.schema(
            [
                ("log_partition", pa.int32()),
                ("log_offset", pa.int64()),
                ("append_us", pa.int64()),
                ("event_id", pa.string()),
                ("user_id", pa.string()),
                ("type", pa.string()),
                ("event_us", pa.int64()),
                ("event_day", pa.int32()),
                ("coffee", pa.string()),
                ("signal", pa.string()),
                ("rating", pa.int32()),
                ("box", pa.string()),
                ("request", pa.string()),
                ("experiment", pa.string()),
                ("arm", pa.string()),
                ("plan", pa.string()),
                ("error", pa.string()),
                ("payload", pa.string()),
            ]
        ),
        "tasting_records": pa.schema(
            [
                ("seq", pa.int64()),
                ("id", pa.string()),
                ("user_id", pa.string()),
                ("coffee_id", pa.string()),
                ("timestamp_us", pa.int64()),
                ("received_us", pa.int64()),
                ("payload", pa.string()),
            ]
        ),
        "feedback": pa.schema(
            [
                ("seq", pa.int64()),
                ("id", pa.string()),
                ("user_id", pa.string()),
                ("coffee_id", pa.string()),
                ("signal", pa.string()),
                ("rating", pa.int32()),
                ("timestamp_us", pa.int64()),
                ("received_us", pa.int64()),
                ("payload", pa.string()),
            ]
        ),
        "users": pa.schema([("id", pa.string()), ("created_us", pa.int64())]),
        "coffees": pa.schema(
            [
                ("id", pa.string()),
                ("name", pa.string()),
                ("roaster", pa.string()),
                ("origin_country", pa.string()),
                ("process", pa.string()),
                ("roast_level", pa.string()),
                ("stock", pa.int64()),
                ("updated_us", pa.int64()),
                ("payload", pa.string()),
            ]
        ),
    }


def _day_name(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def event_row(entry: LogEntry) -> dict[str, Any]:
    """One log entry as a row of the events table (invalid payloads keep their error)."""
    row: dict[str, Any] = {
        "log_partition": entry.partition,
        "log_offset": entry.offset,
        "append_us": entry.timestamp_ms * 1000,
        "payload": entry.value.decode("utf-8", errors="replace"),
    }
    try:
        ev = parse_event(entry.value)
    except SchemaError as exc:
        row["error"] = str(exc)[:2000]
        row["event_day"] = row["append_us"] // DAY_US
        row["user_id"] = entry.key
        return row
    t = int(ev.event_time.timestamp()) * 1_000_000 + ev.event_time.microsecond
    row.update(
        event_id=ev.event_id,
        user_id=ev.user,
        type=ev.type,
        event_us=t,
        event_day=t // DAY_US,
    )
    fields = ev.__dict__  # pydantic's field values; getattr of a missing one is slow
    for name in _EVENT_FIELDS:
        value = fields.get(name)
        if value is not None:
            row[name] = value.value if isinstance(value, Enum) else value
    return row


# ------------------------------------------------------------------------------ reading
@dataclass
class Snapshot:
    """A committed snapshot (what its manifest lists). Raises :class:`SnapshotError` when
    the directory holds no snapshot, the manifest is corrupt, or a listed file is gone."""

    root: Path
    manifest: dict[str, Any]

    @classmethod
    def open(cls, root: Path | str) -> Snapshot:
        root = Path(root)
        path = root / MANIFEST
        if not root.is_dir():
            raise SnapshotError(f"no snapshot at {root}: not a directory")
        if not path.is_file():
            raise SnapshotError(
                f"no snapshot at {root}: {MANIFEST} is missing (run taste2vec snapshot)"
            )
        manifest = _load_manifest(path)
        snap = cls(root, manifest)
        for table in (*FACTS, *DIMENSIONS):
            for f in snap.file_entries(table):
                p = root / f["path"]
                if not p.is_file() or p.stat().st_size != f["bytes"]:
                    raise SnapshotError(
                        f"snapshot {root} is corrupt: {f['path']} is missing or has the wrong "
                        "size; delete the directory and export again"
                    )
        return snap

    def file_entries(self, table: str) -> list[dict[str, Any]]:
        if table in DIMENSIONS:
            entry = self.manifest["dimensions"].get(table)
            return [] if entry is None else [entry]
        if table not in FACTS:
            raise SnapshotError(f"unknown table {table!r}; one of {', '.join(FACTS + DIMENSIONS)}")
        return [f for run in self.manifest["runs"] for f in run["files"] if f["table"] == table]

    def files(self, table: str) -> list[Path]:
        """The committed Parquet files of ``table`` (absolute paths)."""
        return [(self.root / f["path"]).resolve() for f in self.file_entries(table)]

    def rows(self, table: str) -> int:
        return sum(int(f["rows"]) for f in self.file_entries(table))

    def verify(self) -> None:
        """Check every listed file's SHA-256 (slower than :meth:`open`'s size check)."""
        for table in (*FACTS, *DIMENSIONS):
            for f in self.file_entries(table):
                if _sha256(self.root / f["path"]) != f["sha256"]:
                    raise SnapshotError(f"snapshot {self.root} is corrupt: {f['path']} changed")

    def read_table(self, table: str) -> Any:
        """The table as one ``pyarrow.Table`` (empty with the right schema if no file)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = self.files(table)
        schema = _schemas()[table]
        if not files:
            return schema.empty_table()
        return pa.concat_tables([pq.read_table(f, schema=schema) for f in files])


def _load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"{path} is not a readable snapshot manifest: {exc}") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("runs"), list)
        or not isinstance(data.get("watermark"), dict)
        or not isinstance(data.get("dimensions"), dict)
    ):
        raise SnapshotError(f"{path} is not a taste2vec snapshot manifest (format {FORMAT})")
    return data


def _empty_manifest() -> dict[str, Any]:
    return {
        "format": FORMAT,
        "runs": [],
        "watermark": {"log": None, "store": {}},
        "dimensions": {},
    }


# ------------------------------------------------------------------------------ writing
@dataclass
class SnapshotResult:
    """What one :func:`export_snapshot` run added (zeros and ``run=None`` if nothing)."""

    root: Path
    run: int | None
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    days: list[str] = field(default_factory=list)
    removed_orphans: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "run": self.run,
            "rows": dict(self.rows),
            "files": self.files,
            "days": list(self.days),
            "removed_orphans": self.removed_orphans,
        }


class _Writer:
    """Buffers rows per (table, day) and writes them as Parquet files into the run's
    temporary directory."""

    def __init__(self, tmp: Path, run: int) -> None:
        self.tmp = tmp
        self.run = run
        self.buffers: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self.buffered = 0
        self.chunk = 0
        self.files: list[dict[str, Any]] = []
        self.schemas = _schemas()

    def add(self, table: str, day: int, row: dict[str, Any]) -> None:
        self.buffers.setdefault((table, day), []).append(row)
        self.buffered += 1
        if self.buffered >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        for (table, day), rows in sorted(self.buffers.items()):
            rel = f"{table}/day={_day_name(day)}/r{self.run:06d}-{self.chunk:03d}.parquet"
            schema = self.schemas[table]
            columns = {c: [r.get(c) for r in rows] for c in schema.names}
            self._write(rel, pa.Table.from_pydict(columns, schema=schema), table, pq)
        self.buffers.clear()
        self.buffered = 0
        self.chunk += 1

    def dimension(self, table: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rel = f"{table}/r{self.run:06d}.parquet"
        return self._write(rel, pa.Table.from_pylist(rows, schema=self.schemas[table]), table, pq)

    def _write(self, rel: str, tbl: Any, table: str, pq: Any) -> dict[str, Any]:
        path = self.tmp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(tbl, path, compression="zstd")
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
        entry = {
            "table": table,
            "path": rel,
            "rows": tbl.num_rows,
            "bytes": path.stat().st_size,
            "sha256": _sha256(path),
        }
        if table in FACTS:
            self.files.append(entry)
        return entry


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SnapshotError(f"another snapshot run holds {root / '.lock'}") from None
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _remove_orphans(root: Path, manifest: dict[str, Any]) -> int:
    """Delete what a killed run left behind: temporary directories and Parquet files the
    manifest does not list. Returns how many files went."""
    listed = {f["path"] for run in manifest["runs"] for f in run["files"]}
    listed |= {d["path"] for d in manifest["dimensions"].values()}
    removed = 0
    for tmp in root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for table in (*FACTS, *DIMENSIONS):
        base = root / table
        if not base.is_dir():
            continue
        for path in base.rglob("*.parquet"):
            if path.relative_to(root).as_posix() not in listed:
                path.unlink()
                removed += 1
    return removed


def _log_identity(log: EventLog, log_url: str | None) -> dict[str, Any]:
    url = log_url or ""
    if "@" in url:  # no credentials in the manifest
        scheme, _, rest = url.partition("://")
        url = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return {"url": url, "partitions": log.partitions}


def export_snapshot(
    out: Path | str,
    *,
    log: EventLog | None = None,
    log_url: str | None = None,
    store: Any | None = None,
    before_commit: Callable[[Path], None] | None = None,
    allow_empty: bool = False,
) -> SnapshotResult:
    """Export what is new in ``log`` and ``store`` (either may be None) into the snapshot
    at ``out`` (created if needed); see the module docstring. ``before_commit`` (tests)
    runs after the files are in place and before the manifest commits them.

    Raises :class:`SnapshotError` for a corrupt manifest, a log whose partitions or
    offsets do not match the watermark (another log), or, on the first run, inputs that
    hold nothing at all (unless ``allow_empty``)."""
    if log is None and store is None:
        raise SnapshotError("nothing to export: give an event log, a store, or both")
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise SnapshotError(f"{root} exists and is not a directory")
    with _locked(root):
        path = root / MANIFEST
        manifest = _load_manifest(path) if path.exists() else _empty_manifest()
        removed = _remove_orphans(root, manifest)
        run = len(manifest["runs"]) + 1
        tmp = root / f".tmp-{run:06d}"
        tmp.mkdir()
        writer = _Writer(tmp, run)
        rows = dict.fromkeys(FACTS, 0)
        days: set[int] = set()
        new_wm: dict[str, Any] = json.loads(json.dumps(manifest["watermark"]))
        try:
            if log is not None:
                new_wm["log"] = _export_log(log, log_url, manifest, writer, rows, days)
            if store is not None:
                new_wm["store"] = _export_store(store, manifest, writer, rows, days)
            writer.flush()
            dims: dict[str, Any] = {}
            if store is not None and (any(rows.values()) or not manifest["dimensions"]):
                for table in DIMENSIONS:
                    dims[table] = writer.dimension(table, export_dimension(store, table))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        first = not manifest["runs"]
        if not any(rows.values()) and not (first and allow_empty and dims):
            shutil.rmtree(tmp, ignore_errors=True)
            if first and not allow_empty:
                raise SnapshotError(
                    "nothing to snapshot: the event log and the store hold no entries"
                )
            return SnapshotResult(root, None, rows, 0, [], removed)
        # Move the files into place (not yet listed: invisible until the manifest commits).
        moved = [*writer.files, *dims.values()]
        for f in moved:
            target = root / f["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / f["path"], target)
            _fsync_dir(target.parent)
        shutil.rmtree(tmp, ignore_errors=True)
        if before_commit is not None:
            before_commit(root)
        new_manifest = dict(manifest)
        new_manifest["runs"] = [
            *manifest["runs"],
            {
                "run": run,
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "rows": rows,
                "files": writer.files,
            },
        ]
        new_manifest["watermark"] = new_wm
        new_manifest["dimensions"] = {**manifest["dimensions"], **dims}
        _commit(root, new_manifest)  # superseded dimension files go with the next run
        return SnapshotResult(
            root, run, rows, len(moved), sorted(_day_name(d) for d in days), removed
        )


def _commit(root: Path, manifest: dict[str, Any]) -> None:
    tmp = root / (MANIFEST + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, root / MANIFEST)
    _fsync_dir(root)


def _export_log(
    log: EventLog,
    log_url: str | None,
    manifest: dict[str, Any],
    writer: _Writer,
    rows: dict[str, int],
    days: set[int],
) -> dict[str, Any]:
    ident = _log_identity(log, log_url)
    wm = manifest["watermark"].get("log")
    offsets: dict[str, int] = {}
    if wm is not None:
        if wm["partitions"] != ident["partitions"]:
            raise SnapshotError(
                f"the event log has {ident['partitions']} partitions but the snapshot was "
                f"taken from one with {wm['partitions']} ({wm['url'] or 'unnamed'}): another log?"
            )
        offsets = {str(k): int(v) for k, v in wm["offsets"].items()}
    try:
        ends = log.end_offsets()
    except StoreError as exc:
        raise SnapshotError(f"cannot read the event log: {exc}") from exc
    for p in range(log.partitions):
        start = offsets.get(str(p), 0)
        end = ends.get(p, 0)
        if end < start:
            raise SnapshotError(
                f"partition {p} of the event log ends at offset {end}, before the snapshot's "
                f"watermark {start}: the log was replaced or truncated; use a new snapshot "
                "directory"
            )
        off = start
        while off < end:
            try:
                batch: Sequence[LogEntry] = log.read(p, off, READ_BATCH)
            except StoreError as exc:
                raise SnapshotError(
                    f"reading partition {p} of the event log failed: {exc}"
                ) from exc
            if not batch:
                break
            for entry in batch:
                if entry.offset >= end:
                    break
                row = event_row(entry)
                writer.add("events", row["event_day"], row)
                days.add(row["event_day"])
                rows["events"] += 1
                off = entry.offset + 1
            else:
                continue
            break
        offsets[str(p)] = off
    return {**ident, "offsets": offsets}


def _export_store(
    store: Any,
    manifest: dict[str, Any],
    writer: _Writer,
    rows: dict[str, int],
    days: set[int],
) -> dict[str, int]:
    wm: dict[str, int] = {k: int(v) for k, v in manifest["watermark"].get("store", {}).items()}
    for table in FACT_TABLES:
        last = wm.get(table, 0)
        while True:
            try:
                page = export_facts(store, table, last, READ_BATCH)
            except StoreError as exc:
                raise SnapshotError(f"reading {table} from the store failed: {exc}") from exc
            for r in page:
                day = r["timestamp_us"] // DAY_US
                writer.add(table, day, r)
                days.add(day)
                last = r["seq"]
            rows[table] += len(page)
            if len(page) < READ_BATCH:
                break
        wm[table] = last
    return wm


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///").split("?", 1)[0])
    return None


def export_from_urls(
    out: Path | str,
    *,
    log_url: str | None,
    store_url: str | None,
    allow_empty: bool = False,
) -> SnapshotResult:
    """:func:`export_snapshot` from an event log URL (``sqlite:///``, ``kafka://``) and a
    store URL (``sqlite:///``, ``postgresql+psycopg://``); either may be None. A SQLite
    file that does not exist, or is not a database, is refused with a clear error rather
    than created."""
    from taste2vec.store import create_store
    from taste2vec.stream.log import open_log

    for what, url in (("event log", log_url), ("store", store_url)):
        path = None if url is None else _sqlite_path(url)
        if path is not None and not path.is_file():
            raise SnapshotError(f"the {what} {path} does not exist (nothing to snapshot)")
    log: EventLog | None = None
    store: Any | None = None
    try:
        if log_url is not None:
            try:
                log = open_log(log_url)
            except Taste2VecError as exc:
                raise SnapshotError(f"cannot open the event log {log_url}: {exc}") from exc
        if store_url is not None:
            try:
                store = create_store(store_url, migrate=False)
                store.count_coffees()  # a readable store of ours, or an error now
            except Exception as exc:
                raise SnapshotError(f"cannot read the store: {exc}") from exc
        return export_snapshot(out, log=log, log_url=log_url, store=store, allow_empty=allow_empty)
    finally:
        if log is not None:
            log.close()
        if store is not None:
            store.close()
