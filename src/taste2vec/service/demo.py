"""Seed an empty store with the bundled demo: catalogue, users, tastings, feedback, keys.

The demo users and their keys are fictional; the keys are written (mode 600)
to a JSON file so the README's curl walk-through can use them. Seeding is
idempotent: it only runs when the store holds no coffees.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from taste2vec.data.demo import DEMO_USERS, demo_feedback, demo_tastings, load_demo_catalogue
from taste2vec.schema import Feedback, TasteRecord
from taste2vec.store import Store

log = logging.getLogger(__name__)


def seed_demo(store: Store, keys_file: Path) -> bool:
    """Load the demo into an empty store; returns False when the store already had coffees."""
    if store.count_coffees() > 0:
        return False
    store.upsert_coffees(load_demo_catalogue())
    # In event-time order, so that their events reach the stream in order (the outbox
    # publishes in insertion order; a tasting after all the feedback would make it late).
    history: list[TasteRecord | Feedback] = [*demo_tastings(), *demo_feedback()]
    history.sort(key=lambda item: item.timestamp)
    for item in history:
        if isinstance(item, TasteRecord):
            store.add_record(item)
        else:
            store.add_feedback(item)
    keys = {user: store.create_api_key("user", user) for user in DEMO_USERS}
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(keys, fh, indent=2)
    log.info("seeded the demo store; user API keys are in %s", keys_file)
    return True
