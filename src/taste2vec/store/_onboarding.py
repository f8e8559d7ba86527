"""Users' onboarding answers: the flavour families each one picked.

Setting the same families again is a no-op (``created=False``); other families replace
them (the newest answer counts). Archetype ratings are stored as feedback, not here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from taste2vec.store._base import StoreBase, ensure_user_in
from taste2vec.store._engine import upsert_stmt
from taste2vec.store._tables import OnboardingRow, utcnow


class OnboardingMixin(StoreBase):
    """Onboarding families per user."""

    def set_onboarding_families(self, user_id: str, families: Sequence[str]) -> bool:
        """Store ``families`` for the user (created implicitly); True when it changed."""
        wanted = list(families)
        with self._write() as session:
            row = session.get(OnboardingRow, user_id)
            if row is not None and list(row.families) == wanted:
                return False
            ensure_user_in(session, user_id)
            now = utcnow()
            insert = upsert_stmt(session, OnboardingRow).values(
                user_id=user_id, families=wanted, updated_at=now
            )
            session.execute(
                insert.on_conflict_do_update(
                    index_elements=["user_id"], set_={"families": wanted, "updated_at": now}
                )
            )
            return True

    def onboarding_families(self, user_id: str) -> list[str]:
        """The families the user picked at onboarding (empty when none)."""
        with self._read() as session:
            row = session.scalar(select(OnboardingRow).where(OnboardingRow.user_id == user_id))
            return [] if row is None else list(row.families)
