"""Catalogue coffees as the model sees them: one :class:`TasteRecord` per coffee.

A coffee is embedded from its roaster notes followed by its descriptors
(``"<roaster notes> <descriptor>, <descriptor>"``) and its expected sensory metrics, as
a record of the user ``"catalogue"`` with no drinking context. The timestamp is fixed so
the records are identical from run to run.

>>> from taste2vec.schema import Coffee
>>> coffee_record(Coffee(id="c1", name="C", roaster_notes="jammy", descriptors=["plum"])).notes
'jammy plum'
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np

from taste2vec.model.taste2vec import Taste2Vec
from taste2vec.schema import Coffee, TasteRecord

__all__ = ["CATALOGUE_USER", "coffee_record", "coffee_text", "embed_coffees"]

#: The user id of catalogue records.
CATALOGUE_USER = "catalogue"
_FIXED_TIME = datetime(2024, 1, 1, tzinfo=UTC)


def coffee_text(coffee: Coffee) -> str:
    """Roaster notes, then the descriptors joined by commas."""
    return f"{coffee.roaster_notes} {', '.join(coffee.descriptors)}".strip()


def coffee_record(coffee: Coffee) -> TasteRecord:
    """The record the model embeds for ``coffee``."""
    return TasteRecord(
        id=f"catalogue:{coffee.id}",
        user=CATALOGUE_USER,
        coffee=coffee.id,
        timestamp=_FIXED_TIME,
        notes=coffee_text(coffee),
        metrics=coffee.metrics,
    )


def embed_coffees(model: Taste2Vec, coffees: Sequence[Coffee]) -> np.ndarray:
    """``(len(coffees), 128)`` float32 unit vectors, in catalogue order."""
    if not coffees:
        return np.zeros((0, model.net.cfg.embed_dim), dtype=np.float32)
    emb = model.embed([coffee_record(c) for c in coffees])
    return np.ascontiguousarray(emb, dtype=np.float32)
