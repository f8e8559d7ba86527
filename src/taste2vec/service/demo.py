"""Seed an empty store with the bundled demo: catalogue, users, tastings, feedback, keys.

The demo users and their keys are fictional; the keys are written (mode 600)
to a JSON file so the README's curl walk-through can use them. Seeding is
idempotent: it only runs when the store holds no coffees.

The web UI's demo sign-ins (one per demo user, plus ``admin`` with the admin role) get
random passwords, written (mode 600) beside the keys, to ``demo-logins.json``
(:func:`demo_logins_file`); they are created whenever the store has no UI account yet,
so a store seeded before the UI existed gets them too.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from taste2vec.data.demo import DEMO_USERS, demo_feedback, demo_tastings, load_demo_catalogue
from taste2vec.schema import Feedback, TasteRecord
from taste2vec.service.accounts import Accounts
from taste2vec.store import Store

log = logging.getLogger(__name__)


def seed_demo(store: Store, keys_file: Path) -> bool:
    """Load the demo into an empty store; returns False when the store already had coffees."""
    seed_demo_logins(store, demo_logins_file(keys_file))
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
    _write_secret(keys_file, keys)
    log.info("seeded the demo store; user API keys are in %s", keys_file)
    return True


def demo_logins_file(keys_file: Path) -> Path:
    """Where the demo sign-ins are written: beside the demo keys."""
    return keys_file.with_name("demo-logins.json")


def seed_demo_logins(store: Store, logins_file: Path) -> bool:
    """Give each demo user (and ``admin``) a random password, when no UI account exists;
    writes ``{name: password}`` to ``logins_file``. False when accounts existed."""
    if store.count_accounts() > 0:
        return False
    accounts = Accounts(store)
    logins: dict[str, str] = {}
    for user in DEMO_USERS:
        logins[user] = secrets.token_urlsafe(9)
        accounts.set_password(user, logins[user], "user", user)
    logins["admin"] = secrets.token_urlsafe(12)
    accounts.set_password("admin", logins["admin"], "admin", None)
    _write_secret(logins_file, logins)
    log.info("demo sign-ins for the web UI are in %s", logins_file)
    return True


def _write_secret(path: Path, content: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(content, fh, indent=2)
