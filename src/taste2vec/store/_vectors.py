"""Per-user taste profiles (optimistic concurrency) and per-model coffee embeddings.

Vectors are stored as raw little-endian float32 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from taste2vec.errors import ConflictError, SchemaError
from taste2vec.store._base import StoreBase, check_id, ensure_user_in, require_coffees, returned
from taste2vec.store._engine import upsert_stmt
from taste2vec.store._tables import CoffeeEmbeddingRow, ProfileRow, utcnow
from taste2vec.store._types import Profile, as_vector

_F32 = np.dtype("<f4")


class _StaleVersion(Exception):
    """Internal: the conditional update matched no row."""


def _to_bytes(vector: np.ndarray) -> bytes:
    return vector.astype(_F32, copy=False).tobytes()


def _from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=_F32).astype(np.float32)


def _profile(row: ProfileRow) -> Profile:
    return Profile(
        row.user_id, _from_bytes(row.vector), row.n_feedback, row.version, row.updated_at
    )


class VectorsMixin(StoreBase):
    """Taste profiles and coffee embeddings."""

    def get_profile(self, user_id: str) -> Profile | None:
        """The user's stored profile, or ``None`` if none was saved yet."""
        with self._read() as session:
            row = session.get(ProfileRow, user_id)
            return None if row is None else _profile(row)

    def save_profile(self, profile: Profile, expected_version: int) -> Profile:
        """Save ``profile`` if the stored version is still ``expected_version``.

        Use ``expected_version=0`` for a user with no profile yet, otherwise the
        ``version`` of the profile you read. Returns the saved profile with its new
        version (``expected_version + 1``). Raises :class:`ConflictError` when
        someone else saved in between: re-read, re-apply your change, save again.
        """
        if not isinstance(profile, Profile):
            raise SchemaError(f"save_profile takes a Profile, got {type(profile)!r}")
        if expected_version < 0:
            raise SchemaError(f"expected_version must be >= 0, got {expected_version}")
        check_id(profile.user_id, "user id")
        now = utcnow()
        new_version = expected_version + 1
        values = {
            "vector": _to_bytes(profile.vector),
            "n_feedback": profile.n_feedback,
            "updated_at": now,
            "version": new_version,
        }
        try:
            with self._write() as session:
                if expected_version == 0:
                    ensure_user_in(session, profile.user_id)
                    session.add(ProfileRow(user_id=profile.user_id, **values))
                else:
                    stmt = (
                        update(ProfileRow)
                        .where(ProfileRow.user_id == profile.user_id)
                        .where(ProfileRow.version == expected_version)
                        .values(**values)
                        .returning(ProfileRow.version)
                    )
                    if returned(session, stmt) != 1:
                        raise _StaleVersion
        except (_StaleVersion, IntegrityError):  # IntegrityError: version 0 but one exists
            raise self._stale(profile.user_id, expected_version) from None
        return Profile(profile.user_id, profile.vector, profile.n_feedback, new_version, now)

    def _stale(self, user_id: str, expected_version: int) -> ConflictError:
        current = self.get_profile(user_id)
        found = "no profile" if current is None else f"version {current.version}"
        return ConflictError(
            f"profile of {user_id!r} changed: expected version {expected_version}, found "
            f"{found}; re-read it, re-apply the change and save again"
        )

    def put_coffee_embeddings(self, model_version: str, vectors: Mapping[str, object]) -> int:
        """Store (or replace) coffee vectors for one model version, in one transaction.

        All vectors must have the same length. Every coffee id must be in the
        catalogue (:class:`~taste2vec.errors.NotFoundError` otherwise). Returns how
        many were written.
        """
        check_id(model_version, "model version")
        arrays = {cid: as_vector(v, f"embedding of {cid!r}") for cid, v in vectors.items()}
        if not arrays:
            return 0
        dims = {a.size for a in arrays.values()}
        if len(dims) != 1:
            raise SchemaError(f"embeddings must all have the same length, got {sorted(dims)}")
        rows = [
            {"model_version": model_version, "coffee_id": cid, "vector": _to_bytes(a)}
            for cid, a in sorted(arrays.items())
        ]
        with self._write() as session:
            require_coffees(session, arrays)
            stmt = upsert_stmt(session, CoffeeEmbeddingRow)
            stmt = stmt.on_conflict_do_update(
                index_elements=["model_version", "coffee_id"],
                set_={"vector": stmt.excluded.vector},
            )
            session.execute(stmt, rows)
        return len(rows)

    def get_coffee_embeddings(self, model_version: str) -> tuple[list[str], np.ndarray]:
        """``(coffee ids sorted, float32 matrix with one row per id)`` for a model version.

        Empty: ``([], array of shape (0, 0))``.
        """
        stmt = (
            select(CoffeeEmbeddingRow.coffee_id, CoffeeEmbeddingRow.vector)
            .where(CoffeeEmbeddingRow.model_version == model_version)
            .order_by(CoffeeEmbeddingRow.coffee_id)
        )
        with self._read() as session:
            rows = list(session.execute(stmt))
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        ids = [cid for cid, _ in rows]
        matrix = np.frombuffer(b"".join(blob for _, blob in rows), dtype=_F32)
        return ids, matrix.reshape(len(ids), -1).astype(np.float32)
