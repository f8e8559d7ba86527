"""``ModelHolder``: the live model behind an atomic reference, swapped without dropping requests.

A request calls :meth:`ModelHolder.snapshot` (or :meth:`ModelHolder.get`) **once** and
uses that model to the end; a concurrent :meth:`ModelHolder.swap` only changes which model
later requests get. The holder never copies or mutates a model, so the contract is:
**a model handed to** :meth:`swap` **is never modified again** (the online learner
trains a private copy and publishes it only when it is finished with it).

The current ``(version, model)`` pair is one immutable tuple stored in one attribute:
reading it is a single atomic load, so a reader can never see the version of one model
with another model. Writers take a lock so versions increase by exactly one per swap, and
:meth:`swap` can be conditional on the version the caller started from (compare-and-swap),
so a candidate trained from version 3 cannot overwrite a model someone else published as
version 4. Listeners (for example the recommendation index, which must re-embed the
catalogue) are called after each swap, outside the lock; their errors are logged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NamedTuple

from taste2vec.model.taste2vec import Taste2Vec

__all__ = ["ModelHolder", "Versioned"]

log = logging.getLogger(__name__)


class Versioned(NamedTuple):
    """A model and the version it was published as (0 for the first)."""

    version: int
    model: Taste2Vec


class ModelHolder:
    """Holds the live :class:`Taste2Vec` (see the module docstring)."""

    def __init__(self, model: Taste2Vec) -> None:
        self._current = Versioned(0, model)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Versioned], None]] = []

    def get(self) -> Taste2Vec:
        """The live model. Call once per request and keep using what it returned."""
        return self._current.model

    def snapshot(self) -> Versioned:
        """The live model together with its version, read atomically."""
        return self._current

    @property
    def version(self) -> int:
        """How many swaps have happened."""
        return self._current.version

    def swap(self, model: Taste2Vec, expected_version: int | None = None) -> int | None:
        """Publish ``model``; its new version, or None when ``expected_version`` is stale.

        ``model`` must not be modified after this call.
        """
        with self._lock:
            current = self._current
            if expected_version is not None and current.version != expected_version:
                return None
            if model is current.model:
                raise ValueError("swap() needs a new model object; never republish the live one")
            new = Versioned(current.version + 1, model)
            self._current = new
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(new)
            except Exception:
                log.exception("model swap listener %r failed", listener)
        return new.version

    def subscribe(self, listener: Callable[[Versioned], None]) -> None:
        """Call ``listener(Versioned)`` after every successful swap."""
        with self._lock:
            self._listeners.append(listener)
