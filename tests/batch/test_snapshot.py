"""Snapshots (taste2vec.batch.snapshot): incremental, idempotent, atomic under kill -9,
clear errors on bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from taste2vec.batch.snapshot import Snapshot, SnapshotError, export_from_urls, export_snapshot
from taste2vec.cli import app
from taste2vec.sim.stream.generate import generate
from taste2vec.store import create_store
from taste2vec.stream.log import open_log
from tests.store.helpers import make_coffee, make_feedback, make_record


def _log(tmp: Path, n: int, seed: int = 1, partitions: int = 4):  # type: ignore[no-untyped-def]
    log = open_log(f"sqlite:///{tmp}/events.db?partitions={partitions}")
    if n:
        log.append(generate(n, seed=seed, malformed=0.02, duplicates=0.02))
    return log


def _log_entries(log) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    out: set[tuple[int, int]] = set()
    for p, end in log.end_offsets().items():
        off = 0
        while off < end:
            batch = log.read(p, off, 1000)
            out |= {(e.partition, e.offset) for e in batch}
            off = batch[-1].offset + 1
    return out


def _snap_entries(root: Path) -> list[tuple[int, int]]:
    t = Snapshot.open(root).read_table("events")
    return list(zip(t["log_partition"].to_pylist(), t["log_offset"].to_pylist(), strict=True))


def test_incremental_and_idempotent(tmp_path: Path) -> None:
    log = _log(tmp_path, 2000)
    snap = tmp_path / "snap"
    first = export_snapshot(snap, log=log)
    assert first.run == 1 and first.rows["events"] == len(_log_entries(log))
    assert sorted(_snap_entries(snap)) == sorted(_log_entries(log))
    again = export_snapshot(snap, log=log)
    assert again.run is None and again.rows["events"] == 0
    assert len(Snapshot.open(snap).manifest["runs"]) == 1
    log.append(generate(300, seed=9))
    third = export_snapshot(snap, log=log)
    assert third.run == 2 and third.rows["events"] == 300
    entries = _snap_entries(snap)
    assert len(entries) == len(set(entries))  # nothing twice
    assert set(entries) == _log_entries(log)
    # day partitions: every file sits under events/day=YYYY-MM-DD/, and its rows' event
    # day (or append day for invalid payloads) is that day
    s = Snapshot.open(snap)
    s.verify()
    days = {f["path"].split("/")[1] for f in s.file_entries("events")}
    assert days and all(d.startswith("day=2026-") for d in days)
    t = s.read_table("events")
    invalid = [e for e in t["error"].to_pylist() if e is not None]
    assert invalid, "the generated log holds malformed payloads; they are kept with their error"
    log.close()


def test_store_facts_and_dimensions(tmp_path: Path) -> None:
    store = create_store(f"sqlite:///{tmp_path}/t2v.db")
    store.upsert_coffees([make_coffee("c1"), make_coffee("c2")])
    for i in range(5):
        store.add_record(make_record(f"r{i}", minutes=i * 1500, coffee="c1"))
    store.add_feedback(make_feedback("f1", "c2", signal="rated", rating=4))
    snap = tmp_path / "snap"
    r = export_snapshot(snap, store=store)
    assert r.rows == {"events": 0, "tasting_records": 5, "feedback": 1}
    store.add_record(make_record("r9", minutes=9000))
    r2 = export_snapshot(snap, store=store)
    assert r2.rows["tasting_records"] == 1 and r2.rows["feedback"] == 0
    s = Snapshot.open(snap)
    recs = s.read_table("tasting_records")
    assert sorted(recs["id"].to_pylist()) == ["r0", "r1", "r2", "r3", "r4", "r9"]
    assert s.read_table("coffees")["id"].to_pylist() == ["c1", "c2"]
    fb = s.read_table("feedback").to_pylist()[0]
    assert (fb["signal"], fb["rating"], fb["coffee_id"]) == ("rated", 4, "c2")
    # records spread over several days land in several day partitions
    assert len({f["path"].split("/")[1] for f in s.file_entries("tasting_records")}) >= 3
    store.close()


_KILL_CHILD = """
import sys, time
from pathlib import Path
from taste2vec.batch.snapshot import export_snapshot
from taste2vec.stream.log import open_log

def hold(root):
    Path(sys.argv[3]).write_text("files in place")
    time.sleep(600)

log = open_log(sys.argv[1])
export_snapshot(sys.argv[2], log=log, before_commit=hold)
"""


def test_kill_9_mid_export_leaves_nothing_counted(tmp_path: Path) -> None:
    log = _log(tmp_path, 1500)
    snap = tmp_path / "snap"
    export_snapshot(snap, log=log)
    before = sorted(_snap_entries(snap))
    log.append(generate(700, seed=5))
    marker = tmp_path / "marker"
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [
            sys.executable,
            "-c",
            _KILL_CHILD,
            f"sqlite:///{tmp_path}/events.db",
            str(snap),
            str(marker),
        ]
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the exporting child died early"
            assert time.monotonic() < deadline, "the child never reached the commit"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    # the new files are on disk but not committed: readers do not see them
    on_disk = list((snap / "events").rglob("r000002-*.parquet"))
    assert on_disk
    assert sorted(_snap_entries(snap)) == before
    # the next run removes them and exports the 700 new entries exactly once
    r = export_snapshot(snap, log=log)
    assert r.removed_orphans == len(on_disk) and r.rows["events"] == 700
    entries = _snap_entries(snap)
    assert len(entries) == len(set(entries)) and set(entries) == _log_entries(log)
    log.close()


def test_bad_inputs_are_refused_clearly(tmp_path: Path) -> None:
    empty = _log(tmp_path, 0)
    with pytest.raises(SnapshotError, match="nothing to snapshot"):
        export_snapshot(tmp_path / "s1", log=empty)
    empty.close()
    with pytest.raises(SnapshotError, match="does not exist"):
        export_from_urls(tmp_path / "s2", log_url=f"sqlite:///{tmp_path}/nope.db", store_url=None)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SnapshotError, match="cannot open the event log"):
        export_from_urls(tmp_path / "s3", log_url=f"sqlite:///{junk}", store_url=None)
    with pytest.raises(SnapshotError, match="cannot read the store"):
        export_from_urls(tmp_path / "s3", log_url=None, store_url=f"sqlite:///{junk}")
    # a corrupt manifest, a missing file, a log with other partitions
    (tmp_path / "a").mkdir()
    log = _log(tmp_path / "a", 200)
    snap = tmp_path / "snap"
    export_snapshot(snap, log=log)
    other = open_log(f"sqlite:///{tmp_path}/other.db?partitions=2")
    other.append(generate(10, seed=3))
    with pytest.raises(SnapshotError, match="another log"):
        export_snapshot(snap, log=other)
    other.close()
    first = Snapshot.open(snap).file_entries("events")[0]["path"]
    (snap / first).unlink()
    with pytest.raises(SnapshotError, match="corrupt"):
        Snapshot.open(snap)
    (snap / "manifest.json").write_text("{ not json")
    with pytest.raises(SnapshotError, match="not a readable snapshot manifest"):
        Snapshot.open(snap)
    with pytest.raises(SnapshotError, match="not a readable snapshot manifest"):
        export_snapshot(snap, log=log)
    with pytest.raises(SnapshotError, match="no snapshot"):
        Snapshot.open(tmp_path / "missing")
    log.close()


def test_cli(tmp_path: Path) -> None:
    log = _log(tmp_path, 300)
    n = len(_log_entries(log))
    log.close()
    runner = CliRunner()
    args = ["snapshot", "--out", str(tmp_path / "snap"), "--log", f"sqlite:///{tmp_path}/events.db"]
    res = runner.invoke(app, [*args, "--no-store"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["rows"]["events"] == n
    res = runner.invoke(app, [*args, "--no-store"])
    assert res.exit_code == 0 and json.loads(res.stdout)["run"] is None
    res = runner.invoke(
        app,
        [
            "snapshot",
            "--out",
            str(tmp_path / "s2"),
            "--log",
            f"sqlite:///{tmp_path}/x.db",
            "--no-store",
        ],
    )
    assert res.exit_code == 2 and "does not exist" in " ".join(res.output.split())
