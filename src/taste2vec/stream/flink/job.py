"""Flink SQL job: the stream layer's windowed aggregates, computed by Apache Flink.

SELF-CONTAINED: this file imports only the standard library and PyFlink, never
``taste2vec`` (which needs torch, and PyFlink pins numpy/pandas/protobuf versions
that conflict with the main environment). It runs under the interpreter of the
separate ``.venv-flink`` environment::

    .venv-flink/bin/python src/taste2vec/stream/flink/job.py --events events.jsonl --out rows.jsonl

It reads a JSON-lines event file in the canonical wire form of
``taste2vec.stream.events.encode_event`` and computes the three aggregates of the
parity contract (``docs/stream.md``):

- ``coffee_daily``: tumbling 1 day, key = coffee;
- ``user_weekly``: hopping (sliding) window of 7 days every 1 day, key = user;
- ``arm_hourly``: tumbling 1 hour, key = ``experiment/arm``.

Event time is ``event_time`` with the watermark ``ts - INTERVAL '5' MINUTE``
(the embedded worker's out-of-orderness bound). Windows are aligned to the Unix
epoch (the session time zone is UTC). A bounded input ends with a final
watermark, so every window fires and the job finishes. Duplicate ``event_id``\\ s are
dropped per window (window deduplication keeps the earliest), so a redelivered
event is never double counted.

Malformed input never fails the job, and no line is lost: the file is read with the
``raw`` format (one STRING column per line), every field is parsed from the line with
``JSON_VALUE``, and a ``reason`` column applies the schema rules the aggregates depend
on, in order (JSON, a JSON object, ids present, a known type, a parseable
``event_time`` no earlier than 1990 and at most 5 minutes after the line's append time,
an integer rating in 1-5, a coffee and signal where the type requires them).
``valid_events`` keeps the rows without a reason; every other non-blank line goes
to the dead-letter sink as ``{"reason", "payload"}`` (the embedded worker's dead letters,
with Flink's own reason texts). Invalid rows never move the watermark.

The three aggregate INSERTs and the dead-letter INSERT run as one statement set (one
Flink job, one source scan). Each aggregate writes a JSON-lines filesystem sink whose
columns are exactly the contract's row (one per window and key, only windows with at
least one contributing event): ``{"aggregate", "key", "window_start", "window_end",
<fields>}``; the script then merges the part files, sorted, into ``--out`` (and the dead
letters, in input order at parallelism 1, into ``--dead-letters`` if given) and prints a
one-line JSON summary (row and dead-letter counts, timings). ``--print-sql`` prints the
job as a SQL-client script instead (for a real cluster), without needing PyFlink.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OUT_OF_ORDERNESS = "INTERVAL '5' MINUTE"
# The clock rules of taste2vec.schema.clock: no event before 1990-01-01 UTC, none more than
# the skew (5 minutes, = the out-of-orderness) after its append time, so one client's clock
# never moves the watermark past the log's own clock.
MIN_EVENT_TIME = "TO_TIMESTAMP_LTZ(631152000000, 3)"
MAX_CLOCK_SKEW = "INTERVAL '5' MINUTE"
FUTURE_REASON = "event_time in the future of its log append time"
EVENT_TYPES = (
    "tasting_logged",
    "feedback_given",
    "recommendation_shown",
    "recommendation_clicked",
    "box_shipped",
    "box_rated",
    "subscription_started",
    "subscription_paused",
    "subscription_resumed",
    "subscription_cancelled",
    "subscription_renewed",
    "lab_session",
)
SIGNALS = ("liked", "disliked", "rated", "skipped")

# Output fields of each aggregate (the contract), in row order.
FIELDS: dict[str, tuple[str, ...]] = {
    "coffee_daily": ("n_feedback", "n_likes", "n_dislikes", "n_skips", "n_ratings", "sum_rating"),
    "user_weekly": ("n_events", "n_ratings", "sum_rating", "n_lab"),
    "arm_hourly": ("shown", "clicks", "n_box_ratings", "sum_box_rating"),
}


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


# Parsed columns: JSON_VALUE over the raw line (NULL when absent, JSON null, not a JSON
# object or not a scalar). Each is an expression over ``line`` only, since a computed
# column may not refer to another one.
def _json(name: str) -> str:
    return f"JSON_VALUE(line, '$.{name}')"


# ISO-8601 UTC with seconds and an optional fraction, e.g. 2026-01-01T08:00:00.123456Z.
_TIME_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]+)?Z$"
# An integer literal (a JSON number or a numeric string, as pydantic's lax int accepts).
_INT_PATTERN = "^[+-]?[0-9]+$"

COLUMNS: dict[str, str] = {
    "event_id": _json("event_id"),
    "user": _json("user"),
    "event_time_text": _json("event_time"),
    # Milliseconds, truncated (the first 23 characters of 'yyyy-MM-dd HH:mm:ss.SSS');
    # an impossible date (2026-02-30) casts to NULL.
    "event_time": (
        f"CASE WHEN REGEXP({_json('event_time')}, '{_TIME_PATTERN}') THEN TRY_CAST(SUBSTRING("
        f"REPLACE(REPLACE({_json('event_time')}, 'T', ' '), 'Z', '') FROM 1 FOR 23)"
        " AS TIMESTAMP_LTZ(3)) END"
    ),
    "type": _json("type"),
    "coffee": _json("coffee"),
    "signal": _json("signal"),
    "rating_text": _json("rating"),
    "rating": (
        f"CASE WHEN REGEXP({_json('rating')}, '{_INT_PATTERN}')"
        f" THEN TRY_CAST({_json('rating')} AS INT) END"
    ),
    "experiment": _json("experiment"),
    "arm": _json("arm"),
}

# The validation rules, in order: (failure condition, dead-letter reason). The first that
# holds names the reason; a row none holds is valid. ``{name}`` is a parsed column.
RULES: tuple[tuple[str, str], ...] = (
    ("NOT (line IS JSON)", "malformed JSON"),
    ("NOT (line IS JSON OBJECT)", "not a JSON object"),
    ("{event_id} IS NULL OR {event_id} = ''", "missing event_id"),
    ("{user} IS NULL OR {user} = ''", "missing user"),
    ("{type} IS NULL", "missing type"),
    (f"{{type}} NOT IN ({_quoted(EVENT_TYPES)})", "unknown type"),
    ("{event_time_text} IS NULL", "missing event_time"),
    ("{event_time} IS NULL", "invalid event_time (ISO-8601 UTC with Z expected)"),
    (f"{{event_time}} < {MIN_EVENT_TIME}", "event_time before 1990-01-01"),
    (f"{{event_time}} > appended + {MAX_CLOCK_SKEW}", FUTURE_REASON),
    ("{rating_text} IS NOT NULL AND {rating} IS NULL", "rating is not an integer"),
    ("{rating} IS NOT NULL AND {rating} NOT BETWEEN 1 AND 5", "rating out of range"),
    ("{type} IN ('box_rated', 'lab_session') AND {rating} IS NULL", "missing rating"),
    ("{type} = 'feedback_given' AND {coffee} IS NULL", "feedback_given without coffee"),
    (
        f"{{type}} = 'feedback_given' AND ({{signal}} IS NULL"
        f" OR {{signal}} NOT IN ({_quoted(SIGNALS)}))",
        "feedback_given without a known signal",
    ),
    (
        "{type} = 'recommendation_clicked' AND {coffee} IS NULL",
        "recommendation_clicked without coffee",
    ),
)


def _reason(columns: dict[str, str]) -> str:
    """The dead-letter reason (NULL for a valid row) over the given column expressions."""
    cases = "\n        ".join(
        f"WHEN {condition.format(**columns)} THEN '{reason}'" for condition, reason in RULES
    )
    return f"CASE\n        {cases}\n    END"


def source_ddl(path: str) -> str:
    """The event table over a JSON-lines file (or directory of them).

    The file is read with the ``raw`` format, one line per row, so that no line is lost
    to a parse error: every field is a computed column parsed from ``line`` with
    ``JSON_VALUE``, and ``reason`` is the dead-letter reason (NULL for a valid row).
    ``event_time`` is ISO-8601 UTC with 'Z' as TIMESTAMP_LTZ(3) (truncated to
    milliseconds), NULL when unparseable. A row-time attribute must never be NULL, and an
    invalid row must not move the watermark (the embedded worker dead-letters it before
    its watermark sees it), so ``ts`` is the epoch for every invalid row.
    ``appended`` is when the line entered the log: for a file, its modification time (every
    line was written by then); an event more than 5 minutes after it is dead-lettered.
    On a real cluster, replace the WITH clause by the Kafka connector's
    (``'connector' = 'kafka', 'topic' = ..., 'format' = 'raw', ...``) and ``appended`` by
    the record's log-append time (``METADATA FROM 'timestamp'``, with the topic's
    ``message.timestamp.type=LogAppendTime``).
    """
    escaped = path.replace("'", "''")
    parsed = ",\n    ".join(
        f"{_sql_name(name)} AS {expression}" for name, expression in COLUMNS.items()
    )
    reason = _reason(COLUMNS)
    return f"""CREATE TEMPORARY TABLE events (
    line STRING,
    appended TIMESTAMP_LTZ(3) METADATA FROM 'file.modification-time' VIRTUAL,
    {parsed},
    reason AS {reason},
    ts AS COALESCE(CASE WHEN {reason} IS NULL THEN {COLUMNS["event_time"]} END,
        TO_TIMESTAMP_LTZ(0, 3)),
    WATERMARK FOR ts AS ts - {OUT_OF_ORDERNESS}
) WITH (
    'connector' = 'filesystem',
    'path' = '{escaped}',
    'format' = 'raw',
    'raw.charset' = 'UTF-8'
)"""


def _sql_name(name: str) -> str:
    return f"`{name}`" if name == "user" else name


VALID_VIEW = """CREATE TEMPORARY VIEW valid_events AS
SELECT event_id, `user`, type, coffee, signal, rating, experiment, arm, ts
FROM events
WHERE reason IS NULL"""

# Every non-blank line that is not a valid event, with its reason (a blank line is no
# event: the worker never sees one, and the json format skipped them too).
DEAD_LETTERS = """SELECT reason, line AS payload
FROM events
WHERE reason IS NOT NULL AND CHAR_LENGTH(TRIM(line)) > 0"""  # noqa: S608 - constant SQL


def _dedup(window_tvf: str) -> str:
    """Window deduplication: one row per (window, event_id), the earliest kept."""
    return f"""(SELECT * FROM (
        SELECT *, ROW_NUMBER() OVER (
            PARTITION BY window_start, window_end, event_id ORDER BY ts ASC) AS rn
        FROM TABLE({window_tvf})
    ) WHERE rn = 1)"""  # noqa: S608 - constant SQL


def _count(condition: str) -> str:
    return f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)"


def _sum_rating(condition: str = "rating IS NOT NULL") -> str:
    return f"CAST(SUM(CASE WHEN {condition} THEN rating ELSE 0 END) AS BIGINT)"


# Window bounds are whole seconds (day and hour windows aligned to the epoch), so this
# format is exact; the session time zone is UTC, hence the literal Z.
_ISO = "'yyyy-MM-dd''T''HH:mm:ss''Z'''"
_BOUNDS = (
    f"DATE_FORMAT(window_start, {_ISO}) AS window_start, "
    f"DATE_FORMAT(window_end, {_ISO}) AS window_end"
)

# Contributing events of each aggregate, filtered before windowing so that only
# windows with at least one contributing event produce a row.
# Filters keep the row-time attribute, so the window TVFs accept these views.
COFFEE_VIEW = """CREATE TEMPORARY VIEW coffee_events AS
SELECT * FROM valid_events
WHERE coffee IS NOT NULL AND type IN ('feedback_given', 'box_rated')"""

ARM_VIEW = """CREATE TEMPORARY VIEW arm_events AS
SELECT * FROM valid_events
WHERE experiment IS NOT NULL AND arm IS NOT NULL
  AND type IN ('recommendation_shown', 'recommendation_clicked', 'box_rated')"""

# The three aggregates: SELECTs whose columns are exactly the contract's row.
QUERIES: dict[str, str] = {
    "coffee_daily": f"""SELECT 'coffee_daily' AS aggregate, coffee AS `key`, {_BOUNDS},
    {_count("type = 'feedback_given'")} AS n_feedback,
    {_count("type = 'feedback_given' AND signal = 'liked'")} AS n_likes,
    {_count("type = 'feedback_given' AND signal = 'disliked'")} AS n_dislikes,
    {_count("type = 'feedback_given' AND signal = 'skipped'")} AS n_skips,
    {_count("rating IS NOT NULL")} AS n_ratings,
    {_sum_rating()} AS sum_rating
FROM {_dedup("TUMBLE(TABLE coffee_events, DESCRIPTOR(ts), INTERVAL '1' DAY)")}
GROUP BY window_start, window_end, coffee""",  # noqa: S608 - constant SQL
    "user_weekly": f"""SELECT 'user_weekly' AS aggregate, `user` AS `key`, {_BOUNDS},
    CAST(COUNT(*) AS BIGINT) AS n_events,
    {_count("rating IS NOT NULL")} AS n_ratings,
    {_sum_rating()} AS sum_rating,
    {_count("type = 'lab_session'")} AS n_lab
FROM {_dedup("HOP(TABLE valid_events, DESCRIPTOR(ts), INTERVAL '1' DAY, INTERVAL '7' DAY)")}
GROUP BY window_start, window_end, `user`""",  # noqa: S608 - constant SQL
    "arm_hourly": f"""SELECT 'arm_hourly' AS aggregate, experiment || '/' || arm AS `key`,
    {_BOUNDS},
    {_count("type = 'recommendation_shown'")} AS shown,
    {_count("type = 'recommendation_clicked'")} AS clicks,
    {_count("type = 'box_rated'")} AS n_box_ratings,
    {_sum_rating("type = 'box_rated'")} AS sum_box_rating
FROM {_dedup("TUMBLE(TABLE arm_events, DESCRIPTOR(ts), INTERVAL '1' HOUR)")}
GROUP BY window_start, window_end, experiment, arm""",  # noqa: S608 - constant SQL
}


def sink_ddl(aggregate: str, out_dir: str) -> str:
    """A JSON-lines sink with the contract's columns, one directory per aggregate.

    On a real cluster point it at durable storage or swap the connector (Kafka, JDBC):
    the columns stay the same.
    """
    fields = ", ".join(f"{name} BIGINT" for name in FIELDS[aggregate])
    path = f"{out_dir.rstrip('/')}/{aggregate}".replace("'", "''")
    return f"""CREATE TEMPORARY TABLE {aggregate}_out (
    aggregate STRING, `key` STRING, window_start STRING, window_end STRING, {fields}
) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"""


DEAD_LETTER_DIR = "dead_letters"


def dead_letter_sink_ddl(out_dir: str) -> str:
    """A JSON-lines sink for the dead letters: ``{"reason": ..., "payload": <the line>}``."""
    path = f"{out_dir.rstrip('/')}/{DEAD_LETTER_DIR}".replace("'", "''")
    return f"""CREATE TEMPORARY TABLE dead_letters_out (reason STRING, payload STRING)
WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'json')"""


def ddl_statements(events_path: str, out_dir: str) -> list[str]:
    """Source, views and sinks, in execution order."""
    return [
        source_ddl(events_path),
        VALID_VIEW,
        COFFEE_VIEW,
        ARM_VIEW,
        *(sink_ddl(name, out_dir) for name in QUERIES),
        dead_letter_sink_ddl(out_dir),
    ]


def inserts() -> list[str]:
    """One INSERT per aggregate and one for the dead letters; run together (one statement
    set = one Flink job, one source scan)."""
    aggregates = [f"INSERT INTO {name}_out\n{query}" for name, query in QUERIES.items()]
    return [*aggregates, f"INSERT INTO dead_letters_out\n{DEAD_LETTERS}"]


def sql_script(events_path: str, out_dir: str) -> str:
    """The whole job as a Flink SQL client script."""
    settings = [
        "SET 'table.local-time-zone' = 'UTC';",
        "SET 'pipeline.auto-watermark-interval' = '0 ms';",
    ]
    ddl = ";\n\n".join(ddl_statements(events_path, out_dir)) + ";"
    body = ";\n\n".join(inserts()) + ";"
    return "\n".join(settings) + f"\n\n{ddl}\n\nEXECUTE STATEMENT SET BEGIN\n\n{body}\n\nEND;\n"


def _part_files(folder: Path) -> list[Path]:
    """Committed part files under ``folder`` (hidden in-progress files skipped), sorted."""
    if not folder.is_dir():
        return []
    return [
        part
        for part in sorted(folder.rglob("*"))
        if part.is_file() and not part.name.startswith((".", "_"))
    ]


def read_dead_letters(out_dir: Path) -> list[dict[str, str]]:
    """The dead letters under ``out_dir``, in the order the sink wrote them (input order
    at parallelism 1)."""
    letters: list[dict[str, str]] = []
    for part in _part_files(out_dir / DEAD_LETTER_DIR):
        with part.open(encoding="utf-8") as fh:
            letters.extend(json.loads(line) for line in fh if line.strip())
    return letters


def read_rows(out_dir: Path) -> list[dict[str, Any]]:
    """The committed rows under ``out_dir`` (hidden in-progress files skipped), sorted."""
    rows: list[dict[str, Any]] = []
    for name in QUERIES:
        for part in _part_files(out_dir / name):
            with part.open(encoding="utf-8") as fh:
                rows.extend(json.loads(line) for line in fh if line.strip())
    rows.sort(key=lambda r: (r["aggregate"], r["key"], r["window_start"]))
    return rows


def run(
    events: Path, out_dir: Path, parallelism: int = 1
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Run the job on a local mini-cluster (bounded input: it ends when the file is read).

    Returns the rows (sorted) and timings in seconds: ``startup_s`` (JVM, gateway and
    table environment up, statements registered), ``job_s`` (plan, deploy, run, commit).
    """
    started = time.perf_counter()
    from pyflink.table import (  # type: ignore[import-not-found]
        EnvironmentSettings,
        TableEnvironment,
    )

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = env.get_config()
    config.set("table.local-time-zone", "UTC")  # windows aligned to the epoch in UTC
    config.set("parallelism.default", str(parallelism))
    config.set("restart-strategy.type", "none")  # fail fast: the caller reports the error
    config.set("pipeline.name", "taste2vec-stream-aggregates")
    # Emit the watermark as soon as it advances (after the event that advanced it), not
    # every 200 ms: the contract's watermark is "max event time seen - 5 minutes", per event.
    config.set("pipeline.auto-watermark-interval", "0 ms")
    for statement in ddl_statements(str(events.resolve()), out_dir.resolve().as_uri()):
        env.execute_sql(statement)
    ready = time.perf_counter()
    statement_set = env.create_statement_set()
    for insert in inserts():
        statement_set.add_insert_sql(insert)
    statement_set.execute().wait()
    done = time.perf_counter()
    rows = read_rows(out_dir)
    return rows, {"startup_s": ready - started, "job_s": done - ready, "total_s": done - started}


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    """Write ``records`` as JSON lines, atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    with partial.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--events", type=Path, help="JSON-lines event file (or directory).")
    parser.add_argument(
        "--out", type=Path, help="Result rows, all aggregates, sorted (one JSON file of lines)."
    )
    parser.add_argument(
        "--dead-letters",
        type=Path,
        help="Where to write the invalid lines with their reasons (JSON lines; optional).",
    )
    parser.add_argument(
        "--sink-dir",
        type=Path,
        help="Where the Flink sinks write their part files (default: a temporary directory).",
    )
    parser.add_argument("--parallelism", type=int, default=1)
    parser.add_argument(
        "--print-sql",
        action="store_true",
        help="Print the job as a Flink SQL client script and exit (PyFlink not needed).",
    )
    args = parser.parse_args(argv)
    if args.print_sql:
        events = str(args.events) if args.events else "/path/to/events.jsonl"
        sink = str(args.sink_dir) if args.sink_dir else "/path/to/output"
        print(sql_script(events, sink), end="")
        return 0
    if args.events is None or args.out is None:
        parser.error("--events and --out are required (or --print-sql)")
    if not args.events.exists():
        print(f"error: events file {args.events} does not exist", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="t2v-flink-") as tmp:
        sink_dir = args.sink_dir or Path(tmp)
        if args.sink_dir is not None and any(args.sink_dir.glob("*/*")):
            print(f"error: --sink-dir {args.sink_dir} is not empty", file=sys.stderr)
            return 2
        rows, timings = run(args.events, sink_dir, args.parallelism)
        letters = read_dead_letters(sink_dir)
    _write_jsonl(args.out, rows)
    if args.dead_letters is not None:
        _write_jsonl(args.dead_letters, letters)
    summary = {
        "rows": len(rows),
        "dead_letters": len(letters),
        **{k: round(v, 3) for k, v in timings.items()},
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
