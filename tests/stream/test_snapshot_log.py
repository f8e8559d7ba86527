"""Batch snapshots read the event log through the EventLog interface: the same export on
the SQLite log and on Kafka (a real Tansu broker), incremental and exactly once."""

from __future__ import annotations

from pathlib import Path

from taste2vec.batch.snapshot import Snapshot, export_snapshot
from taste2vec.sim.stream.generate import generate
from taste2vec.stream.log import EventLog


def _exported(root: Path) -> list[tuple[int, int, str]]:
    t = Snapshot.open(root).read_table("events")
    cols = (t["log_partition"].to_pylist(), t["log_offset"].to_pylist(), t["payload"].to_pylist())
    return list(zip(*cols, strict=True))


def test_snapshot_exports_every_entry_once(event_log: EventLog, tmp_path: Path) -> None:
    first = generate(400, seed=2, users=40, malformed=0.02)
    event_log.append(first)
    r1 = export_snapshot(tmp_path / "snap", log=event_log)
    assert r1.rows["events"] == 400
    second = generate(150, seed=3, users=40)
    event_log.append(second)
    r2 = export_snapshot(tmp_path / "snap", log=event_log)
    assert r2.rows["events"] == 150
    assert export_snapshot(tmp_path / "snap", log=event_log).run is None
    rows = _exported(tmp_path / "snap")
    assert len({(p, o) for p, o, _ in rows}) == len(rows) == 550
    assert sorted(v for _, _, v in rows) == sorted(v.decode() for _, v in first + second)
