"""The coffee catalogue: bulk upsert (10k in one call), update, delete, stock, paging."""

from __future__ import annotations

import pytest

from taste2vec.errors import NotFoundError, SchemaError
from taste2vec.store import Store, UpsertCounts
from tests.store.helpers import make_coffee


def test_bulk_insert_update_unchanged_and_delete(store: Store) -> None:
    coffees = [make_coffee(f"c{i}", origin_country="Ethiopia") for i in range(5)]
    assert store.upsert_coffees(coffees) == UpsertCounts(inserted=5)
    changed = [
        make_coffee("c0", name="Renamed", roaster_notes="자몽, 재스민"),
        make_coffee("c1", stock=99),
        coffees[2],
        make_coffee("c9", process="natural", roast_level="light", variety=["Gesha"]),
    ]
    counts = store.upsert_coffees(changed)
    assert counts == UpsertCounts(inserted=1, updated=2, unchanged=1)
    assert counts.total == 4
    assert store.get_coffee("c0") == changed[0]
    assert store.get_coffee("c1") == changed[1]
    assert store.get_coffee("c9") == changed[3]
    assert store.count_coffees() == 6
    assert store.delete_coffee("c3") is True
    assert store.delete_coffee("c3") is False
    assert store.get_coffee("c3") is None
    assert store.count_coffees() == 5


def test_last_duplicate_in_one_call_wins(store: Store) -> None:
    counts = store.upsert_coffees([make_coffee("c1", stock=1), make_coffee("c1", stock=2)])
    assert counts == UpsertCounts(inserted=1)
    coffee = store.get_coffee("c1")
    assert coffee is not None and coffee.stock == 2


def test_ten_thousand_coffees_in_one_call(store: Store) -> None:
    coffees = [
        make_coffee(f"bulk-{i:05d}", roaster_notes=f"note {i} 초콜릿", stock=i % 7)
        for i in range(10_000)
    ]
    assert store.upsert_coffees(coffees) == UpsertCounts(inserted=10_000)
    assert store.count_coffees() == 10_000
    assert store.get_coffee("bulk-09999") == coffees[-1]
    bumped = [c.model_copy(update={"stock": c.stock + 1}) for c in coffees[:4000]]
    assert store.upsert_coffees(bumped + coffees[4000:]) == UpsertCounts(
        updated=4000, unchanged=6000
    )
    assert store.get_coffee("bulk-00000") == bumped[0]


def test_list_coffees_pages_by_id(store: Store) -> None:
    store.upsert_coffees([make_coffee(f"c{i}") for i in (3, 1, 2, 5, 4)])
    assert [c.id for c in store.list_coffees(limit=2)] == ["c1", "c2"]
    assert [c.id for c in store.list_coffees(offset=2, limit=10)] == ["c3", "c4", "c5"]
    with pytest.raises(SchemaError):
        store.list_coffees(limit=0)


def test_search_coffees_by_id_name_roaster_or_origin(store: Store) -> None:
    store.upsert_coffees(
        [
            make_coffee("eth-1", name="Yirgacheffe Kochere", origin_country="Ethiopia"),
            make_coffee("col-1", name="Huila", roaster="Fritz", origin_country="Colombia"),
            make_coffee("col-2", name="100%_Cauca", origin_country="Colombia"),
            make_coffee("ken-1", name="커피 케냐", origin_country="Kenya"),
        ]
    )
    found, total = store.search_coffees("colombia")
    assert [c.id for c in found] == ["col-1", "col-2"] and total == 2
    assert [c.id for c in store.search_coffees("FRITZ")[0]] == ["col-1"]
    assert [c.id for c in store.search_coffees("kochere")[0]] == ["eth-1"]
    assert [c.id for c in store.search_coffees("케냐")[0]] == ["ken-1"]
    assert [c.id for c in store.search_coffees("%_")[0]] == ["col-2"]  # literal, no wildcard
    assert store.search_coffees("%")[1] == 1
    page, total = store.search_coffees("", offset=1, limit=2)
    assert [c.id for c in page] == ["col-2", "eth-1"] and total == 4
    assert store.search_coffees("nothing like it") == ([], 0)
    with pytest.raises(SchemaError):
        store.search_coffees("", limit=0)


def test_set_stock(store: Store) -> None:
    store.upsert_coffees([make_coffee("c1", stock=5)])
    assert store.set_stock("c1", 0).stock == 0
    coffee = store.get_coffee("c1")
    assert coffee is not None and coffee.stock == 0
    with pytest.raises(NotFoundError, match="'ghost'"):
        store.set_stock("ghost", 1)
    with pytest.raises(SchemaError, match="stock"):
        store.set_stock("c1", -1)
    assert store.upsert_coffees([make_coffee("c1", stock=0)]) == UpsertCounts(unchanged=1)


def test_empty_upsert_and_wrong_type(store: Store) -> None:
    assert store.upsert_coffees([]) == UpsertCounts()
    with pytest.raises(SchemaError, match="Coffee objects"):
        store.upsert_coffees([{"id": "c1", "name": "x"}])  # type: ignore[list-item]
