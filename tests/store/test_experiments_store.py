"""The experiment tables on both backends: one active experiment per model (also under
concurrent creates), compare-and-set status changes, and the controller lease with its
fencing token (two contenders at once: exactly one holds it)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.store import Fence, Store


def _create(store: Store, ident: str, model: str = "m") -> object:
    return store.create_experiment(
        experiment_id=ident,
        model_name=model,
        control_version="1",
        treatment_version="2",
        treatment_share=0.1,
        salt="s",
        config={},
        created_by="t",
    )


def test_one_active_experiment_per_model_even_when_created_at_once(store: Store) -> None:
    barrier = threading.Barrier(4)

    def attempt(i: int) -> str:
        barrier.wait()
        try:
            _create(store, f"e{i}")
            return "created"
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(attempt, range(4)))
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "created"]
    [active] = store.list_experiments("m", active=True)
    assert store.active_experiment("m") == active
    with pytest.raises(ConflictError):
        _create(store, active.id, model="other")  # the id is taken
    with pytest.raises(SchemaError):
        store.create_experiment(
            experiment_id="bad",
            model_name="x",
            control_version="1",
            treatment_version="2",
            treatment_share=1.0,
            salt="s",
            config={},
            created_by="t",
        )
    with pytest.raises(NotFoundError):
        store.get_experiment("nope")
    # compare-and-set: only from the expected status; an ended one frees the model
    assert (
        store.transition_experiment(active.id, expected=("promoting",), status="promoted") is None
    )
    with pytest.raises(SchemaError):
        store.transition_experiment(active.id, expected=("running",), status="bogus")
    done = store.transition_experiment(
        active.id, expected=("running",), status="stopped", reason="r"
    )
    assert done is not None and done.status == "stopped" and done.ended_at is not None
    assert store.active_experiment("m") is None
    _create(store, "next")  # the model is free again
    assert [e.id for e in store.list_experiments("m", active=False)] == [active.id]


def test_two_contenders_for_the_lease_one_wins_and_fencing_holds(store: Store) -> None:
    for round_ in range(5):
        name = f"lease-{round_}"
        barrier = threading.Barrier(2)

        def take(holder: str, lease: str = name, gate: threading.Barrier = barrier) -> Fence | None:
            gate.wait()
            return store.acquire_lease(lease, holder, ttl_s=30)

        with ThreadPoolExecutor(2) as pool:
            got = list(pool.map(take, ["a", "b"]))
        winners = [f for f in got if f is not None]
        assert len(winners) == 1, got
        holder, token, _ = store.lease(name) or ("", 0, None)
        assert (holder, token) == (winners[0].holder, winners[0].token)
    # expiry, takeover with a larger token, and the stale holder fenced off
    first = store.acquire_lease("fenced", "a", ttl_s=0.05)
    assert first is not None
    threading.Event().wait(0.1)
    second = store.acquire_lease("fenced", "b", ttl_s=30)
    assert second is not None and second.token == first.token + 1
    exp = store.create_experiment(
        experiment_id="fx",
        model_name="fenced-model",
        control_version="1",
        treatment_version="2",
        treatment_share=0.5,
        salt="s",
        config={},
        created_by="t",
    )
    assert not store.record_decision(exp.id, {"action": "continue"}, first)
    assert store.record_decision(exp.id, {"action": "continue"}, second)
    assert store.get_experiment(exp.id).fence == second.token
    assert not store.release_lease(first)
    assert store.release_lease(second)
