"""service.taster helpers that need no model."""

from __future__ import annotations

from taste2vec.service.taster import _checkpoints


def test_checkpoints_cover_the_history_evenly_and_end_at_its_last_step() -> None:
    assert _checkpoints(0, 8) == set()
    assert _checkpoints(5, 8) == {1, 2, 3, 4, 5}
    marks = _checkpoints(40, 8)
    assert marks == {5, 10, 15, 20, 25, 30, 35, 40}
    assert max(_checkpoints(41, 8)) == 41 and len(_checkpoints(41, 8)) == 8
