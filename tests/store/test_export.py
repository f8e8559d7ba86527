"""The store's read-only export (store._export) feeding batch snapshots, on SQLite and
PostgreSQL: facts paged by seq and resumed from a watermark, dimensions whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from taste2vec.batch.snapshot import Snapshot, export_snapshot
from taste2vec.errors import SchemaError
from taste2vec.store import Store, export_dimension, export_facts
from tests.store.helpers import make_coffee, make_feedback, make_record


def test_facts_page_by_seq_and_resume(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1")])
    for i in range(7):
        store.add_record(make_record(f"r{i}", minutes=i * 60, coffee="c1"))
    store.add_feedback(make_feedback("f1", "c1", signal="rated", rating=5))
    first = export_facts(store, "tasting_records", 0, limit=4)
    assert [r["id"] for r in first] == ["r0", "r1", "r2", "r3"]
    rest = export_facts(store, "tasting_records", first[-1]["seq"], limit=100)
    assert [r["id"] for r in rest] == ["r4", "r5", "r6"]
    assert rest[0]["timestamp_us"] - first[0]["timestamp_us"] == 4 * 3_600_000_000
    fb = export_facts(store, "feedback", 0)
    assert (fb[0]["signal"], fb[0]["rating"], fb[0]["coffee_id"]) == ("rated", 5, "c1")
    assert [c["id"] for c in export_dimension(store, "coffees")] == ["c1"]
    assert [u["id"] for u in export_dimension(store, "users")] == ["ana"]
    with pytest.raises(SchemaError):
        export_facts(store, "outbox", 0)  # type: ignore[arg-type]


def test_snapshot_of_the_store(store: Store, tmp_path: Path) -> None:
    store.upsert_coffees([make_coffee("c1")])
    for i in range(3):
        store.add_record(make_record(f"r{i}", minutes=i * 2000, coffee="c1"))
    export_snapshot(tmp_path / "snap", store=store)
    store.add_record(make_record("r9", minutes=9000))
    assert export_snapshot(tmp_path / "snap", store=store).rows["tasting_records"] == 1
    assert export_snapshot(tmp_path / "snap", store=store).run is None
    ids = Snapshot.open(tmp_path / "snap").read_table("tasting_records")["id"].to_pylist()
    assert sorted(ids) == ["r0", "r1", "r2", "r9"]
