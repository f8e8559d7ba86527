"""Curation runs against a real store: exclusions, no-repeat, stock, idempotent re-runs,
shipping, all-or-nothing writes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from pydantic import ValidationError

from taste2vec.curation.run import CurationSettings, curate
from taste2vec.errors import ConflictError, SchemaError
from taste2vec.schema import Coffee
from taste2vec.schema.records import Process, RoastLevel
from taste2vec.store import Pick, Store, Subscription, create_store, month_minus

COFFEES = [
    Coffee(
        id="eth-nat",
        name="Ethiopia Natural",
        origin_country="Ethiopia",
        process=Process.NATURAL,
        stock=10,
    ),
    Coffee(
        id="eth-w",
        name="Ethiopia Washed",
        origin_country="Ethiopia",
        process=Process.WASHED,
        stock=10,
    ),
    Coffee(id="col", name="Colombia", origin_country="Colombia", process=Process.WASHED, stock=10),
    Coffee(
        id="bra",
        name="Brazil",
        origin_country="Brazil",
        process=Process.NATURAL,
        roast_level=RoastLevel.DARK,
        stock=10,
    ),
    Coffee(id="ken", name="Kenya AA", origin_country="Kenya", process=Process.WASHED, stock=10),
    Coffee(
        id="dec1",
        name="Sidama Decaf",
        origin_country="Ethiopia",
        process=Process.WASHED,
        descriptors=["decaf", "peach"],
        stock=10,
    ),
    Coffee(
        id="dec2",
        name="Mountain Water",
        origin_country="Mexico",
        process=Process.WASHED,
        descriptors=["Decaf"],
        stock=10,
    ),
]
FAMILY = {
    "eth-nat": "Fruity",
    "eth-w": "Floral",
    "col": "Sweet",
    "bra": "Nutty/Cocoa",
    "ken": "Fruity",
    "dec1": "Fruity",
    "dec2": "Nutty/Cocoa",
}


class FakeScorer:
    """Every user prefers coffees in catalogue order (so stock contention is real)."""

    def __init__(self, seen: Mapping[str, set[str]] | None = None) -> None:
        self.seen = seen or {}

    def scores(self, user: str, n_coffees: int) -> dict[str, tuple[float, str]]:
        return {
            c.id: (1.0 - 0.1 * i, f"because {c.name}")
            for i, c in enumerate(COFFEES)
            if c.id not in self.seen.get(user, set())
        }

    def coffee_family(self, coffee: str) -> str | None:
        return FAMILY.get(coffee)

    def home_families(self, user: str) -> list[str]:
        return ["Fruity"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with create_store(f"sqlite:///{tmp_path}/t2v.db") as s:
        s.upsert_coffees(COFFEES)
        yield s


def boxes(store: Store, run_id: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in store.curation_picks(run_id):
        out.setdefault(p.user, []).append(p.coffee)
    return out


def test_exclusions_plan_size_and_explanations(store: Store) -> None:
    store.set_subscription(Subscription(user="decaf", box_size=3, decaf_only=True))
    store.set_subscription(
        Subscription(
            user="picky",
            box_size=3,
            exclude_processes=[Process.NATURAL],
            exclude_origins=["kenya"],
            exclude_coffees=["col"],
        )
    )
    store.set_subscription(Subscription(user="paused", box_size=2, status="paused"))
    store.set_subscription(Subscription(user="plain", box_size=4))
    run = curate(store, FakeScorer(seen={"plain": {"eth-nat"}}), "2027-01")
    got = boxes(store, run.id)
    assert set(got) == {"decaf", "picky", "plain"}  # paused gets no box
    assert sorted(got["decaf"]) == ["dec1", "dec2"]  # only two decafs exist: short box
    assert run.summary["short_boxes"] == {"decaf": 1}
    assert not {"eth-nat", "bra", "ken", "col"} & set(got["picky"])
    assert len(got["picky"]) == 3 and len(got["plain"]) == 4
    assert "eth-nat" not in got["plain"]  # already reacted to: not offered again
    picks = store.curation_picks(run.id, user="plain")
    assert [p.slot for p in picks] == [0, 1, 2, 3]
    assert all("match of" in p.explanation and "because" in p.explanation for p in picks)
    assert run.summary["solver"] == "exact" and run.summary["optimal"] is True


def test_stock_is_shared_and_never_exceeded(store: Store) -> None:
    store.set_stock("eth-nat", 1)
    store.set_stock("eth-w", 2)
    for i in range(6):
        store.set_subscription(Subscription(user=f"u{i}", box_size=2))
    for solver in ("exact", "greedy"):
        run = curate(store, FakeScorer(), "2027-02", CurationSettings(solver=solver))
        got = boxes(store, run.id)
        counts = [c for box in got.values() for c in box]
        assert counts.count("eth-nat") == 1 and counts.count("eth-w") == 2
        assert all(len(b) == 2 for b in got.values())


def test_rerun_replaces_the_draft_and_ship_is_once(store: Store) -> None:
    store.set_subscription(Subscription(user="ana", box_size=2))
    first = curate(store, FakeScorer(), "2027-03")
    second = curate(store, FakeScorer(), "2027-03")
    assert first.id != second.id
    assert store.curation_run(first.id) is None and store.curation_picks(first.id) == []
    assert [r.id for r in store.curation_runs()] == [second.id]
    shipped = boxes(store, second.id)["ana"]
    before = {c: store.get_coffee(c).stock for c in shipped}  # type: ignore[union-attr]
    assert store.ship_curation_run(second.id) is True
    assert store.ship_curation_run(second.id) is False  # never ships twice
    for c in shipped:
        assert store.get_coffee(c).stock == before[c] - 1  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="shipped"):
        curate(store, FakeScorer(), "2027-03")


def test_no_repeat_within_n_months(store: Store) -> None:
    store.set_subscription(Subscription(user="ana", box_size=3))
    jan = curate(store, FakeScorer(), "2027-01")
    store.ship_curation_run(jan.id)
    first = set(boxes(store, jan.id)["ana"])
    feb = curate(store, FakeScorer(), "2027-02", CurationSettings(no_repeat_months=1))
    assert not first & set(boxes(store, feb.id)["ana"])
    # Outside the window (no rule), the favourites come back.
    feb = curate(store, FakeScorer(), "2027-02", CurationSettings(no_repeat_months=0))
    assert first == set(boxes(store, feb.id)["ana"])
    jul = curate(store, FakeScorer(), "2027-07", CurationSettings(no_repeat_months=6))
    assert not first & set(boxes(store, jul.id)["ana"])
    aug = curate(store, FakeScorer(), "2027-08", CurationSettings(no_repeat_months=6))
    assert first == set(boxes(store, aug.id)["ana"])


def test_a_failed_write_leaves_the_previous_draft_whole(store: Store) -> None:
    store.set_subscription(Subscription(user="ana", box_size=2))
    run = curate(store, FakeScorer(), "2027-04")
    bad = [Pick("ana", 0, "col", 1.0, "x"), Pick("ana", 0, "ken", 1.0, "duplicate slot")]
    with pytest.raises(Exception, match="(?i)unique|integrity"):
        store.save_curation_run("cur-bad", "2027-04", "greedy", {}, {}, bad)
    assert store.curation_run_for_month("2027-04") == run
    assert len(store.curation_picks(run.id)) == 2


def test_bad_input_is_refused_clearly(store: Store) -> None:
    with pytest.raises(SchemaError, match="YYYY-MM"):
        curate(store, FakeScorer(), "2027-13")
    with pytest.raises(SchemaError, match="no_repeat_months"):
        CurationSettings(no_repeat_months=-1)
    with pytest.raises(ValidationError):
        Subscription(user="ana", box_size=0)
    with pytest.raises(ValidationError):
        Subscription(user="ana", exclude_processes=["roasted"])  # type: ignore[list-item]
    assert month_minus("2027-01", 1) == "2026-12"
    assert month_minus("2027-01", 13) == "2025-12"


def test_a_month_without_subscribers_is_an_empty_run(store: Store) -> None:
    store.set_subscription(Subscription(user="gone", status="cancelled"))
    run = curate(store, FakeScorer(), "2027-05")
    assert run.summary["subscribers"] == 0 and run.summary["picks"] == 0
    assert store.curation_picks(run.id) == []
