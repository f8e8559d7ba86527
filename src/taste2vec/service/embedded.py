"""Tastings embedded on the write path, kept for the outbox relay: one forward pass each.

When a user's taste state is cached, :meth:`~taste2vec.service.TasteService.add_record`
embeds the new tasting to update it. The relay then publishes the tasting's
``tasting_logged`` event with the tasting's vector
(:meth:`~taste2vec.service.TasteService.enrich_events`) and would embed it again. This
bounded, in-process cache carries the first vector over: an entry is the record, the
version of the live model that embedded it (:class:`~taste2vec.learning.ModelHolder`'s
swap count) and the model vector. The relay uses an entry only when the record it read
from the store equals the cached one and the live model is still that version; anything
else (a miss, another process's write, a swapped model, an evicted entry) is embedded by
the relay as before. With replicas, the relay that publishes a row may run in another
process: it finds nothing here and computes the vector itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from taste2vec.schema import TasteRecord

__all__ = ["EmbeddedTastings", "Embedding"]

MAX_EMBEDDED = 4096  # ~1 KB of vector plus the record each; the relay takes them in ms


@dataclass(frozen=True, slots=True)
class Embedding:
    """A tasting, the model version that embedded it and its model vector (128,)."""

    record: TasteRecord
    version: int
    vector: np.ndarray


class EmbeddedTastings:
    """Bounded (least recently added leave first), thread-safe; see the module docstring."""

    def __init__(self, max_size: int = MAX_EMBEDDED) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        self.max_size = max_size
        self.reused = 0  # take() found the vector
        self.computed = 0  # take() found none: the relay computes it
        self._entries: OrderedDict[str, Embedding] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, record: TasteRecord, version: int, vector: np.ndarray) -> Embedding:
        """Keep ``record``'s model ``vector`` computed by model ``version``; returns the entry."""
        entry = Embedding(record, version, vector)
        with self._lock:
            self._entries[record.id] = entry
            self._entries.move_to_end(record.id)
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
        return entry

    def discard(self, entry: Embedding) -> None:
        """Forget ``entry`` (the write it was for did not store the tasting); a newer entry
        for the same record id stays."""
        with self._lock:
            if self._entries.get(entry.record.id) is entry:
                del self._entries[entry.record.id]

    def take(self, record: TasteRecord, version: int) -> np.ndarray | None:
        """The vector of ``record`` as embedded by model ``version``, removed from the cache;
        None when there is none (or it was for another record content or model version)."""
        with self._lock:
            entry = self._entries.pop(record.id, None)
            hit = entry is not None and entry.version == version and entry.record == record
            if hit:
                self.reused += 1
            else:
                self.computed += 1
        return entry.vector if hit and entry is not None else None
