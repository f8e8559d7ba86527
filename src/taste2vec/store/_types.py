"""Plain value objects the store returns besides the pydantic schema models.

>>> p = Profile(user_id="u1", vector=np.zeros(PROFILE_DIM))
>>> p.vector.dtype, p.version
(dtype('float32'), 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

import numpy as np

from taste2vec.errors import SchemaError

PROFILE_DIM = 128
"""Length of a stored taste profile vector (the model's embedding size)."""

Role = Literal["user", "admin"]
ROLES: tuple[Role, ...] = ("user", "admin")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class User:
    """A customer known to the store."""

    id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """What an API key grants. The plaintext key is never stored, so it is not here."""

    id: str
    role: Role
    user_id: str | None
    created_at: datetime
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class AddResult(Generic[T]):
    """Outcome of an idempotent add: ``created`` is False when the id was already stored
    with the same content; ``record`` is the stored object either way; ``seq`` is the new
    row's arrival number (None for a repeat, and for rows without one)."""

    created: bool
    record: T
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """What a bulk catalogue upsert did, counted over distinct ids."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        """Distinct ids in the call."""
        return self.inserted + self.updated + self.unchanged


def as_vector(value: object, what: str, dim: int | None = None) -> np.ndarray:
    """``value`` as a read-only 1-D finite float32 array (of length ``dim`` if given)."""
    try:
        array = np.array(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"{what} must be a vector of numbers: {exc}") from None
    if array.ndim != 1 or array.size == 0:
        raise SchemaError(f"{what} must be a non-empty 1-D vector, got shape {array.shape}")
    if dim is not None and array.size != dim:
        raise SchemaError(f"{what} must have {dim} values, got {array.size}")
    if not np.isfinite(array).all():
        raise SchemaError(f"{what} contains NaN or infinite values")
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, eq=False)
class Profile:
    """A user's taste profile: a float32[:data:`PROFILE_DIM`] vector plus bookkeeping.

    ``version`` is the stored version this object was read at (0: never saved). Save
    changes with ``store.save_profile(new, expected_version=old.version)``.
    """

    user_id: str
    vector: np.ndarray
    n_feedback: int = 0
    version: int = 0
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "vector", as_vector(self.vector, "profile vector", PROFILE_DIM))
        if self.n_feedback < 0:
            raise SchemaError(f"n_feedback must be >= 0, got {self.n_feedback}")
        if self.version < 0:
            raise SchemaError(f"version must be >= 0, got {self.version}")
