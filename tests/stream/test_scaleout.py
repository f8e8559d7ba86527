"""Two worker processes in one Kafka consumer group (real Tansu broker): they share the
partitions; one is killed with SIGKILL mid-stream, the other takes its partitions over
after the rebalance, and the final outputs equal one batch pass (no double counting)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from taste2vec.sim.stream.generate import generate
from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.state import StreamReader
from tests.stream.conftest import FAST_CONSUMER, PARTITIONS, kafka_log

pytestmark = pytest.mark.slow

_WORKER = """
import json, signal, sys, threading
from taste2vec.stream.log.kafka import KafkaLog
from taste2vec.stream.worker import StreamWorker
servers, topic, state, out = sys.argv[1:5]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
log = KafkaLog(servers, topic, int(sys.argv[6]), consumer_config=json.loads(sys.argv[5]))
w = StreamWorker(log, state, group="scaleout", checkpoint_interval_s=0.1, batch_size=500)
owned = None
while not stop.is_set():
    w.step()
    if set(w.parts) != owned:
        owned = set(w.parts)
        with open(out, "a") as fh:
            fh.write(json.dumps(sorted(owned)) + "\\n")
w.run(stop)
w.close()
log.close()
"""


def _owned(path: Path) -> list[int] | None:
    if not path.exists():
        return None
    lines = path.read_text().splitlines()
    return None if not lines else [int(x) for x in lines[-1].strip("[]").split(",") if x]


def _consumed(state: Path) -> dict[int, int]:
    if not state.exists():
        return {}
    reader = StreamReader(state)
    try:
        parts = reader.progress()["partitions"]
    finally:
        reader.close()
    return {p: v["next_offset"] for p, v in parts.items()}


def test_two_workers_share_partitions_and_survive_a_kill(tansu_broker: str, tmp_path: Path) -> None:
    import json

    topic = f"scaleout-{uuid.uuid4().hex[:8]}"
    log = kafka_log(tansu_broker, topic)
    entries = generate(16_000, seed=33, disorder_s=300, duplicates=0.02, malformed=0.01)
    log.append(entries[:2000])
    state = tmp_path / "state.db"
    procs = {}
    for name in ("a", "b"):
        with (tmp_path / f"{name}.log").open("wb") as err:
            procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER,
                    tansu_broker,
                    topic,
                    str(state),
                    str(tmp_path / f"{name}.owned"),
                    json.dumps(FAST_CONSUMER),
                    str(PARTITIONS),
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
    producing = threading.Event()

    def produce() -> None:  # the rest arrives steadily while the workers run
        for i in range(2000, len(entries), 500):
            log.append(entries[i : i + 500])
            time.sleep(0.1)
        producing.set()

    try:
        # Wait until both workers own partitions at the same time (group settled).
        deadline = time.monotonic() + 60
        while True:
            a, b = _owned(tmp_path / "a.owned"), _owned(tmp_path / "b.owned")
            if a and b and not set(a) & set(b) and len(a) + len(b) == PARTITIONS:
                break
            for name, proc in procs.items():
                assert proc.poll() is None, (tmp_path / f"{name}.log").read_text()
            assert time.monotonic() < deadline, f"group never settled: a={a} b={b}"
            time.sleep(0.05)
        producer = threading.Thread(target=produce)
        producer.start()
        # Let both make progress on their own partitions, then kill a mid-stream.
        deadline = time.monotonic() + 60
        while not all(_consumed(state).get(p, 0) > 600 for p in range(PARTITIONS)):
            assert time.monotonic() < deadline, _consumed(state)
            time.sleep(0.05)
        os.kill(procs["a"].pid, signal.SIGKILL)
        procs["a"].wait()
        killed_at = sum(_consumed(state).values())
        producer.join()
        total = len(entries)
        assert killed_at < total
        # b takes over a's partitions and finishes everything.
        deadline = time.monotonic() + 90
        ends = log.end_offsets()
        assert sum(ends.values()) == total
        while _consumed(state) != ends:
            assert procs["b"].poll() is None, (tmp_path / "b.log").read_text()
            assert time.monotonic() < deadline, (_consumed(state), ends)
            time.sleep(0.1)
        assert _owned(tmp_path / "b.owned") == list(range(PARTITIONS))
        procs["b"].send_signal(signal.SIGTERM)
        assert procs["b"].wait(timeout=30) == 0, (tmp_path / "b.log").read_text()
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    everything = [e for p in range(PARTITIONS) for e in log.read(p, 0, 10**9)]
    log.close()
    reference = batch_aggregate(everything)
    reader = StreamReader(state)
    snap = reader.snapshot()
    reader.close()
    for part in ("counters", "dead_letters", "windows", "arms", "coffees", "users"):
        assert snap[part] == reference[part], part
    assert reference["counters"]["duplicates"] > 0
