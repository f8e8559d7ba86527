"""The model registry's audit log: every move of a registry alias, append-only.

The registry (:mod:`taste2vec.registry`) writes one row per move *before* it moves the
alias in MLflow (a write-ahead log: a crash in between is rolled forward by the next
registry command), so the history here is what every replica reads and what answers
"which version was ``champion`` at time T". There is no method that changes or deletes
a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from taste2vec.errors import ConflictError, SchemaError
from taste2vec.store._base import StoreBase, check_page
from taste2vec.store._tables import AliasEventRow, utcnow

ACTIONS = ("promote", "rollback", "adopt", "remove")
MAX_EVIDENCE_BYTES = 65_536
MAX_REASON = 2000


@dataclass(frozen=True, slots=True)
class AliasEvent:
    """One move of an alias: ``previous_version`` -> ``new_version`` (None: unset)."""

    model_name: str
    alias: str
    move: int
    action: str
    previous_version: str | None
    new_version: str | None
    actor: str
    reason: str
    created_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "alias": self.alias,
            "move": self.move,
            "action": self.action,
            "previous_version": self.previous_version,
            "new_version": self.new_version,
            "actor": self.actor,
            "reason": self.reason,
            "evidence": self.evidence,
            "created_at": self.created_at.isoformat(),
        }


def _event(row: AliasEventRow) -> AliasEvent:
    return AliasEvent(
        model_name=row.model_name,
        alias=row.alias,
        move=row.move,
        action=row.action,
        previous_version=row.previous_version,
        new_version=row.new_version,
        actor=row.actor,
        reason=row.reason,
        created_at=row.created_at,
        evidence=dict(row.evidence or {}),
    )


def _check_evidence(evidence: dict[str, Any] | None) -> dict[str, Any]:
    if evidence is None:
        return {}
    if not isinstance(evidence, dict):
        raise SchemaError("evidence must be a JSON object", [("evidence", "not an object")])
    try:
        size = len(json.dumps(evidence, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"evidence is not JSON: {exc}", [("evidence", "not JSON")]) from None
    if size > MAX_EVIDENCE_BYTES:
        raise SchemaError(
            f"evidence is {size} bytes; at most {MAX_EVIDENCE_BYTES}",
            [("evidence", "too large")],
        )
    return evidence


class AliasLogMixin(StoreBase):
    """The append-only alias audit log."""

    def record_alias_move(
        self,
        model_name: str,
        alias: str,
        *,
        action: str,
        previous_version: str | None,
        new_version: str | None,
        actor: str,
        reason: str,
        evidence: dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> AliasEvent:
        """Append one move. ``previous_version`` must be the alias's version in the log
        now (the last move's ``new_version``, None before the first): otherwise another
        writer moved it first and this raises :class:`ConflictError`, writing nothing."""
        if action not in ACTIONS:
            raise SchemaError(f"unknown alias action {action!r}; one of {', '.join(ACTIONS)}")
        if not actor.strip():
            raise SchemaError("who moves the alias (actor) must not be empty", [("actor", "empty")])
        if len(reason) > MAX_REASON or len(actor) > 128:
            raise SchemaError(f"reason is at most {MAX_REASON} characters, actor at most 128")
        payload = _check_evidence(evidence)
        when = (at or utcnow()).astimezone(UTC)
        try:
            with self._write() as session:
                last = session.scalar(
                    select(AliasEventRow)
                    .where(AliasEventRow.model_name == model_name, AliasEventRow.alias == alias)
                    .order_by(AliasEventRow.move.desc())
                    .limit(1)
                )
                current = None if last is None else last.new_version
                if current != previous_version:
                    raise ConflictError(
                        f"alias {alias!r} of {model_name!r} is at version {current} in the "
                        f"audit log, not {previous_version}: it was moved meanwhile; retry"
                    )
                row = AliasEventRow(
                    model_name=model_name,
                    alias=alias,
                    move=1 if last is None else last.move + 1,
                    action=action,
                    previous_version=previous_version,
                    new_version=new_version,
                    actor=actor,
                    reason=reason,
                    evidence=payload,
                    created_at=when,
                )
                session.add(row)
                session.flush()
                return _event(row)
        except IntegrityError:  # a concurrent move took the same move number
            raise ConflictError(
                f"alias {alias!r} of {model_name!r} was moved concurrently; retry"
            ) from None

    def alias_history(
        self,
        model_name: str,
        alias: str | None = None,
        *,
        offset: int = 0,
        limit: int = 100,
    ) -> list[AliasEvent]:
        """Moves, newest first (of one alias, or of every alias of the model)."""
        check_page(offset, limit)
        query = select(AliasEventRow).where(AliasEventRow.model_name == model_name)
        if alias is not None:
            query = query.where(AliasEventRow.alias == alias)
        query = query.order_by(AliasEventRow.seq.desc()).offset(offset).limit(limit)
        with self._read() as session:
            return [_event(row) for row in session.scalars(query)]

    def last_alias_event(self, model_name: str, alias: str) -> AliasEvent | None:
        """The latest move of the alias (None before the first)."""
        events = self.alias_history(model_name, alias, limit=1)
        return events[0] if events else None

    def alias_at(self, model_name: str, alias: str, at: datetime) -> AliasEvent | None:
        """The move that was in force at time ``at``: the alias then pointed at its
        ``new_version`` (None: no move yet, or the alias was unset)."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        query = (
            select(AliasEventRow)
            .where(
                AliasEventRow.model_name == model_name,
                AliasEventRow.alias == alias,
                AliasEventRow.created_at <= at,
            )
            .order_by(AliasEventRow.move.desc())
            .limit(1)
        )
        with self._read() as session:
            row = session.scalar(query)
            return None if row is None else _event(row)
