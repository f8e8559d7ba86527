"""The preference objective: pairs, leave-pair-out user vectors, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from taste2vec.learning.learner import clone_model
from taste2vec.learning.objective import (
    CatalogueIndex,
    ObjectiveConfig,
    build_pairs,
    coffee_record,
    latest_preferences,
    preference_loss,
)
from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee
from tests.learning.conftest import fb

ROW = {f"c{i}": i for i in range(10)}


def test_coffee_record_uses_notes_then_descriptors(catalogue: list[Coffee]) -> None:
    rec = coffee_record(catalogue[0])
    assert rec.notes == catalogue[0].roaster_notes and rec.coffee == catalogue[0].id
    bare = catalogue[0].model_copy(update={"roaster_notes": "", "descriptors": ["plum", "cocoa"]})
    assert coffee_record(bare).notes == "plum, cocoa"


def test_latest_reaction_wins_and_unknown_coffees_are_skipped() -> None:
    prefs = latest_preferences(
        [fb("u", "c1", "liked", step=1), fb("u", "c1", "disliked", step=2), fb("u", "zz")], ROW
    )
    assert prefs == {1: -1.0}


def test_pairs_put_the_preferred_coffee_first_and_unseen_outside_the_history() -> None:
    history = [
        fb("u", "c0", "liked"),
        fb("u", "c1", "disliked"),
        fb("u", "c2", "rated", rating=3),  # neutral: no pair with anything close to 0
        fb("u", "c3", "liked"),
    ]
    cfg = ObjectiveConfig(unseen_per_target=3)
    pairs = build_pairs(history[:1], {"u": history}, ROW, np.random.default_rng(0), cfg)
    assert pairs is not None and pairs.n_users == 1
    got = list(zip(pairs.pair_hi.tolist(), pairs.pair_lo.tolist(), strict=True))
    assert (0, 1) in got and (0, 2) in got  # liked > disliked, liked > neutral
    unseen = [lo for hi, lo in got if lo not in (1, 2, 3)]
    assert len(unseen) == 3 and not {0, 1, 2, 3} & set(unseen)
    assert (pairs.pair_weight > 0).all()
    assert pairs.pair_lo_pref[-3:].tolist() == [0.0, 0.0, 0.0]  # unseen: not in the vector


def test_no_pairs_when_the_leave_out_leaves_nothing() -> None:
    rng = np.random.default_rng(0)
    single = [fb("u", "c0", "liked")]
    assert build_pairs(single, {"u": single}, ROW, rng) is None
    two = [fb("u", "c0", "liked"), fb("u", "c1", "disliked")]
    no_unseen = ObjectiveConfig(unseen_per_target=0)
    assert build_pairs(two, {"u": two}, ROW, rng, no_unseen) is None  # c0 vs c1 leaves nothing
    with_unseen = build_pairs(two[:1], {"u": two}, ROW, rng)  # liked > unseen, vector = -c1
    assert with_unseen is not None and set(with_unseen.pair_hi.tolist()) == {0}
    assert build_pairs([fb("u", "zz")], {}, ROW, np.random.default_rng(0)) is None


def test_loss_uses_the_user_vector_without_the_pair() -> None:
    """Hand-computed BPR for one pair: the user vector leaves both coffees out."""
    emb = torch.nn.functional.normalize(
        torch.randn(10, 8, generator=torch.Generator().manual_seed(0))
    )
    history = [fb("u", "c0", "liked"), fb("u", "c1", "disliked"), fb("u", "c2", "liked")]
    cfg = ObjectiveConfig(unseen_per_target=0, min_gap=0.5)
    pairs = build_pairs(history[:1], {"u": history}, ROW, np.random.default_rng(0), cfg)
    assert pairs is not None and len(pairs) == 1  # (c0 > c1); c2 is the only vector left
    user = torch.nn.functional.normalize(emb[2], dim=0)
    expected = torch.nn.functional.softplus(-(user @ (emb[0] - emb[1])) / 0.1)
    assert preference_loss(emb, pairs, 0.1).item() == pytest.approx(expected.item(), rel=1e-5)


def _toy_history() -> dict[str, list]:  # type: ignore[type-arg]
    """Two users with opposite tastes over the first 12 demo coffees."""
    out: dict[str, list] = {"a": [], "b": []}  # type: ignore[type-arg]
    for i in range(12):
        cid = f"demo-{i + 1:03d}"
        out["a"].append(fb("a", cid, "liked" if i % 2 else "disliked", step=i))
        out["b"].append(fb("b", cid, "disliked" if i % 2 else "liked", step=i))
    return out


def test_loss_decreases_and_every_tower_gets_gradient(
    tiny_model: Taste2Vec, catalogue: list[Coffee]
) -> None:
    before = {k: v.clone() for k, v in tiny_model.net.state_dict().items()}
    model = clone_model(tiny_model)
    index = CatalogueIndex(model, catalogue)
    history = _toy_history()
    targets = [x for items in history.values() for x in items]
    rng = np.random.default_rng(0)
    pairs = build_pairs(targets, history, index.row, rng, ObjectiveConfig(unseen_per_target=0))
    assert pairs is not None
    opt = torch.optim.AdamW(model.net.parameters(), lr=1e-3, weight_decay=0.0)
    losses = []
    for step in range(15):
        loss = preference_loss(index.embed(model.net), pairs)
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        if step == 0:
            for tower in ("text", "sensory", "numeric", "fusion"):
                grads = [p.grad for p in getattr(model.net, tower).parameters()]
                assert any(g is not None and g.abs().sum() > 0 for g in grads), tower
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses
    # training a clone never touches the original
    assert all(torch.equal(before[k], v) for k, v in tiny_model.net.state_dict().items())
    assert not all(torch.equal(before[k], v) for k, v in model.net.state_dict().items())


def test_a_step_on_the_rows_it_uses_equals_the_step_on_the_whole_catalogue(
    tiny_model: Taste2Vec, catalogue: list[Coffee]
) -> None:
    """The learner embeds only the rows a batch's pairs and histories use
    (``PairBatch.compact``): the same loss and the same gradients as embedding every coffee."""
    history = _toy_history()
    targets = [x for items in history.values() for x in items]
    index = CatalogueIndex(tiny_model, catalogue)
    pairs = build_pairs(targets, history, index.row, np.random.default_rng(3))
    assert pairs is not None
    rows, local = pairs.compact()
    assert len(rows) < len(catalogue)  # unseen coffees are sampled: not every row is used
    assert torch.equal(rows, torch.unique(rows))  # sorted, each once
    assert torch.equal(rows[local.pair_hi], pairs.pair_hi)
    assert torch.equal(rows[local.pair_lo], pairs.pair_lo)
    assert torch.equal(rows[local.hist_row], pairs.hist_row)
    grads = []
    for subset, batch in ((None, pairs), (rows, local)):
        model = clone_model(tiny_model)
        loss = preference_loss(index.embed(model.net, subset), batch)
        loss.backward()  # type: ignore[no-untyped-call]
        grads.append((loss.detach(), [p.grad for p in model.net.parameters()]))
    (full, g_full), (part, g_part) = grads
    assert torch.allclose(full, part, rtol=1e-5, atol=1e-7)
    for a, b in zip(g_full, g_part, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)
