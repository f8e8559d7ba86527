"""Acknowledged = committed: after a writer is killed with SIGKILL, every id it
acknowledged (printed after ``add_record`` returned) is in the store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest

from taste2vec.store import create_store

WRITER = """
import sys
from taste2vec.schema import TasteRecord
from taste2vec.store import create_store

store = create_store(sys.argv[1])
i = 0
while True:
    rid = f"crash-{i}"
    store.add_record(TasteRecord(id=rid, user=f"u{i % 3}", notes="야간 크래시 " * 20))
    print(rid, flush=True)
    i += 1
"""


@pytest.mark.slow
def test_acknowledged_records_survive_sigkill(store_url: str) -> None:
    create_store(store_url).close()  # migrate first, so the writer starts writing at once
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(120, proc.kill)
    watchdog.start()
    acknowledged: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acknowledged.append(line.strip())
            if len(acknowledged) == 60:
                os.kill(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=30)
        acknowledged.extend(line.strip() for line in proc.stdout)  # printed before the kill
        stderr = proc.stderr.read() if proc.stderr else ""
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert proc.returncode == -signal.SIGKILL, stderr
    assert len(acknowledged) >= 60
    with create_store(store_url) as reopened:
        stored = {r.id for r in reopened.all_records()}
    missing = [rid for rid in acknowledged if rid not in stored]
    assert missing == [], f"acknowledged but lost: {missing[:10]}"
    # nothing beyond the one write in flight when the process died
    assert len(stored) - len(acknowledged) in (0, 1)
