"""Crash the worker process (SIGKILL) mid-stream on the embedded log, restart it, and
compare every output with one clean batch pass over the same log: exactly equal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taste2vec.sim.stream.generate import generate
from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.log import SQLiteLog
from taste2vec.stream.state import StreamReader

pytestmark = pytest.mark.slow
PARTS = 4


def _start(log_url: str, state: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "taste2vec.cli", "stream", "--log", log_url]
    cmd += ["--state", str(state), "--checkpoint-interval", "0.05", *extra]
    with (state.parent / "worker.log").open("ab") as err:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)


def _log_text(state: Path) -> str:
    return (state.parent / "worker.log").read_text(errors="replace")


def _consumed(state: Path) -> int:
    if not state.exists():
        return 0
    reader = StreamReader(state)
    try:
        parts = reader.progress()["partitions"]
    finally:
        reader.close()
    return sum(p["next_offset"] for p in parts.values())


def _wait_consumed(state: Path, at_least: int, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        n = _consumed(state)
        if n >= at_least:
            return n
        assert proc.poll() is None, _log_text(state)
        time.sleep(0.01)
    raise AssertionError(f"the worker consumed only {_consumed(state)} < {at_least} entries")


@pytest.mark.parametrize(
    "extra",
    [(), ("--max-keys", "3")],  # 3: keys leave memory and are read back from the state
    ids=["default", "max-keys-3"],
)
def test_kill_9_mid_stream_then_restart_equals_one_clean_pass(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    entries = generate(
        24_000, seed=21, disorder_s=300, duplicates=0.02, late=0.01, malformed=0.01, days=40
    )
    db = tmp_path / "events.db"
    log = SQLiteLog(db, PARTS)
    url = f"sqlite:///{db}"
    state = tmp_path / "state.db"
    half = len(entries) // 2
    log.append(entries[:half])
    kills = []
    for round_ in range(2):
        proc = _start(url, state, *extra)
        before = _consumed(state)
        # Kill it once it has checkpointed some progress beyond the last run's.
        seen = _wait_consumed(state, before + 2_000, proc)
        time.sleep(0.05 * round_)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        kills.append(seen)
        if round_ == 0:
            log.append(entries[half:])  # more arrives while the worker is down
    total = len(entries)
    assert all(0 < k < total for k in kills), kills  # both kills were mid-stream
    done = _start(url, state, "--once", *extra)
    assert done.wait(timeout=120) == 0, _log_text(state)
    assert _consumed(state) == total
    everything = [e for p in range(PARTS) for e in log.read(p, 0, 10**9)]
    reference = batch_aggregate(everything)
    reader = StreamReader(state)
    snap = reader.snapshot()
    reader.close()
    log.close()
    for part in ("counters", "dead_letters", "windows", "arms", "coffees", "users"):
        assert snap[part] == reference[part], part
    assert reference["counters"]["duplicates"] > 0 and reference["counters"]["late"] > 0
