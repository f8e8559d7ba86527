"""The SQLite plumbing has one home, ``taste2vec._sqlite``: every SQLite file of the package
gets its settings there, and no other module opens a ``sqlite3`` connection or sets the
journal, sync or busy-timeout pragmas itself."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

import taste2vec
from taste2vec._sqlite import connect, transaction
from taste2vec.errors import StoreError
from taste2vec.model.text import _EmbeddingCache
from taste2vec.store._engine import make_engine
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.state import StateStore

SRC = Path(taste2vec.__file__).resolve().parent
HOME = SRC / "_sqlite.py"
OWN = re.compile(r"sqlite3\.connect\(|PRAGMA (journal_mode|synchronous|busy_timeout)", re.I)


def _pragmas(conn: sqlite3.Connection) -> tuple[str, int, int]:
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    return mode, sync, busy


def test_no_other_module_opens_sqlite_itself() -> None:
    found = [
        f"{path.relative_to(SRC)}:{n}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path != HOME and "sim" not in path.relative_to(SRC).parts[:1]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OWN.search(line) and not line.lstrip().startswith("#")
    ]
    assert not found, "SQLite set up outside taste2vec._sqlite:\n" + "\n".join(found)


def test_connect_durable_and_not(tmp_path: Path) -> None:
    durable = connect(tmp_path / "a" / "d.db", 2.5)
    assert _pragmas(durable) == ("wal", 2, 2500)  # FULL
    cache = connect(tmp_path / "c.db", 30.0, durable=False)
    assert _pragmas(cache) == ("wal", 1, 30000)  # NORMAL
    with transaction(durable) as conn:
        conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
    with pytest.raises(StoreError, match="demo: UNIQUE"), transaction(durable, what="demo") as c:
        c.execute("INSERT INTO t VALUES (2)")
        c.execute("INSERT INTO t VALUES (1)")
    assert durable.execute("SELECT x FROM t").fetchall() == [(1,)]  # rolled back whole
    durable.close()
    cache.close()


def test_every_sqlite_file_of_the_package_gets_the_settings(tmp_path: Path) -> None:
    log = SQLiteLog(tmp_path / "events.db", 2)
    state = StateStore(tmp_path / "state.db")
    cache = _EmbeddingCache(tmp_path / "cache" / "emb.db")
    try:
        for path in ("events.db", "state.db"):  # a second connection sees the file's mode
            with sqlite3.connect(tmp_path / path) as conn:
                assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert _pragmas(log._conn) == ("wal", 2, 30000)
        assert _pragmas(state._conn) == ("wal", 2, 60000)
        assert _pragmas(cache._db) == ("wal", 1, 30000)
    finally:
        log.close()
        state.close()
        cache.close()
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.connect() as conn:
        got = [conn.execute(text(f"PRAGMA {p}")).scalar() for p in ("journal_mode", "synchronous")]
        fk = conn.execute(text("PRAGMA foreign_keys")).scalar()
        busy = conn.execute(text("PRAGMA busy_timeout")).scalar()
    engine.dispose()
    assert got == ["wal", 2] and fk == 1 and busy == 30000


_OPEN_AT = """
import sys, time
from pathlib import Path
from taste2vec._sqlite import connect
start = float(sys.argv[2])
while time.time() < start:
    pass
connect(Path(sys.argv[1]), 10.0, durable=False).execute("CREATE TABLE IF NOT EXISTS t (x)")
"""


def test_two_processes_opening_one_new_file_together_both_get_wal(tmp_path: Path) -> None:
    """Switching a new file to WAL is answered "database is locked" at once (no busy
    handler) while another connection switches it: before the retry, two processes
    opening a fresh cache together failed about half the time (11 of 20 pairs here)."""
    for attempt in range(8):
        path = tmp_path / f"fresh-{attempt}" / "cache.sqlite"
        start = str(time.time() + 1.0)  # both spin until the same instant
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN_AT, str(path), start],
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
