"""Sticky, deterministic assignment of users to experiment arms (issue 12).

``arm_of(salt, user, share)`` hashes ``salt``, a NUL byte and the user id with SHA-256,
reads the first 8 bytes as an integer ``h`` and puts the user in the treatment when
``h / 2**64 < share``. Nothing is stored: every replica, the controller and the tests
compute the same arm from the experiment's salt, and a user keeps their arm for the
experiment's whole life. A new experiment gets a new random salt, so a user's arm in one
experiment says nothing about their arm in the next.
"""

from __future__ import annotations

import hashlib
from typing import Literal

__all__ = ["CONTROL", "TREATMENT", "Arm", "arm_of", "bucket"]

CONTROL: Literal["control"] = "control"
TREATMENT: Literal["treatment"] = "treatment"
Arm = Literal["control", "treatment"]


def bucket(salt: str, user: str) -> float:
    """The user's point in [0, 1) for this salt (uniform over users)."""
    digest = hashlib.sha256(f"{salt}\x00{user}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def arm_of(salt: str, user: str, treatment_share: float) -> Arm:
    """``treatment`` for a ``treatment_share`` of users, ``control`` for the rest."""
    if not 0 < treatment_share < 1:
        raise ValueError(f"treatment_share must be in (0, 1), got {treatment_share}")
    return TREATMENT if bucket(salt, user) < treatment_share else CONTROL
