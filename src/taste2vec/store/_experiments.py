"""A/B experiments and the experiment controller's lease (issue 12; tables in
:mod:`taste2vec.store._experiment_tables`, migration 0006).

* One **active** experiment per model (``running``, ``promoting``, ``rolling_back``): the
  UNIQUE ``active_model`` column refuses a second one, also between concurrent writers.
* Status changes are compare-and-set (:meth:`ExperimentsMixin.transition_experiment`):
  the row moves only from the statuses the caller expects, and, when a fence is given,
  only while the caller still holds the controller lease with that token (checked in the
  same transaction, the lease row locked ``FOR UPDATE`` on PostgreSQL; SQLite serialises
  writers). A controller that lost its lease while paused cannot act any more.
* The lease (:meth:`ExperimentsMixin.acquire_lease`): whoever holds an unexpired lease
  keeps it by renewing; an expired one is taken over with a compare-and-set on its
  fencing token, which grows by one at every change of holder.
* Per-arm request counts (:meth:`ExperimentsMixin.record_arm_requests`,
  :meth:`ExperimentsMixin.arm_requests`): every serving process upserts its own
  cumulative counts; readers sum over processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from taste2vec.errors import ConflictError, NotFoundError, SchemaError
from taste2vec.store._base import StoreBase, check_page, returned
from taste2vec.store._engine import backend_of
from taste2vec.store._experiment_tables import (
    ACTIVE_STATUSES,
    EXPERIMENT_STATUSES,
    ArmRequestsRow,
    ControllerLeaseRow,
    ExperimentRow,
)
from taste2vec.store._tables import OutboxRow, utcnow

__all__ = ["ArmRequests", "Experiment", "ExperimentsMixin", "Fence", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class ArmRequests:
    """Request outcomes in one arm: ``requests`` served, ``errors`` among them, and
    ``slower`` than ``limit_ms`` (the experiment's p99 limit)."""

    requests: int
    errors: int
    slower: int
    limit_ms: float


@dataclass(frozen=True, slots=True)
class Fence:
    """A controller's claim: lease ``name`` held by ``holder`` with fencing ``token``."""

    name: str
    holder: str
    token: int


@dataclass(frozen=True, slots=True)
class Experiment:
    """One A/B experiment: control = ``control_version`` (the champion when it was
    created), treatment = ``treatment_version`` (the challenger), pinned."""

    id: str
    model_name: str
    status: str
    control_version: str
    treatment_version: str
    treatment_share: float
    salt: str
    config: dict[str, Any]
    created_by: str
    description: str
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    last_decision: dict[str, Any] | None
    decided_at: datetime | None
    fence: int

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.isoformat()

        return {
            "id": self.id,
            "model_name": self.model_name,
            "status": self.status,
            "control_version": self.control_version,
            "treatment_version": self.treatment_version,
            "treatment_share": self.treatment_share,
            "config": self.config,
            "created_by": self.created_by,
            "description": self.description,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "ended_at": iso(self.ended_at),
            "end_reason": self.end_reason,
            "last_decision": self.last_decision,
            "decided_at": iso(self.decided_at),
        }


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An app event of the outbox as the experiment metrics read it."""

    seq: int
    user_id: str
    event_type: str
    payload: dict[str, Any]
    created_at: datetime


def _experiment(row: ExperimentRow) -> Experiment:
    return Experiment(
        id=row.id,
        model_name=row.model_name,
        status=row.status,
        control_version=row.control_version,
        treatment_version=row.treatment_version,
        treatment_share=row.treatment_share,
        salt=row.salt,
        config=dict(row.config or {}),
        created_by=row.created_by,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        last_decision=None if row.last_decision is None else dict(row.last_decision),
        decided_at=row.decided_at,
        fence=row.fence,
    )


def _check_status(status: str) -> str:
    if status not in EXPERIMENT_STATUSES:
        raise SchemaError(
            f"unknown experiment status {status!r}; one of {', '.join(EXPERIMENT_STATUSES)}"
        )
    return status


def _holds(session: Session, fence: Fence, now: datetime) -> bool:
    row = session.scalar(
        select(ControllerLeaseRow).where(ControllerLeaseRow.name == fence.name).with_for_update()
    )
    return (
        row is not None
        and row.holder == fence.holder
        and row.token == fence.token
        and row.expires_at > now
    )


class ExperimentsMixin(StoreBase):
    """Experiments, their status changes, and the controller lease."""

    def create_experiment(
        self,
        *,
        experiment_id: str,
        model_name: str,
        control_version: str,
        treatment_version: str,
        treatment_share: float,
        salt: str,
        config: dict[str, Any],
        created_by: str,
        description: str = "",
    ) -> Experiment:
        """Insert a running experiment. :class:`ConflictError` when ``model_name`` has an
        active experiment already or the id is taken; nothing is written then."""
        if not 0 < treatment_share < 1:
            raise SchemaError(f"treatment_share must be in (0, 1), got {treatment_share}")
        now = utcnow()
        try:
            with self._write() as session:
                if session.get(ExperimentRow, experiment_id) is not None:
                    raise ConflictError(f"experiment {experiment_id!r} exists already")
                active = session.scalar(
                    select(ExperimentRow.id).where(ExperimentRow.active_model == model_name)
                )
                if active is not None:
                    raise ConflictError(
                        f"model {model_name!r} already has an active experiment ({active}); "
                        "stop it first: taste2vec experiment stop " + active
                    )
                row = ExperimentRow(
                    id=experiment_id,
                    model_name=model_name,
                    active_model=model_name,
                    status="running",
                    control_version=control_version,
                    treatment_version=treatment_version,
                    treatment_share=float(treatment_share),
                    salt=salt,
                    config=config,
                    created_by=created_by,
                    description=description,
                    created_at=now,
                    updated_at=now,
                    ended_at=None,
                    end_reason=None,
                    last_decision=None,
                    decided_at=None,
                    fence=0,
                )
                session.add(row)
                session.flush()
                return _experiment(row)
        except IntegrityError:  # a concurrent create won the UNIQUE active_model
            raise ConflictError(
                f"model {model_name!r} already has an active experiment (created concurrently)"
            ) from None

    def get_experiment(self, experiment_id: str) -> Experiment:
        """One experiment (:class:`NotFoundError` when there is none with that id)."""
        with self._read() as session:
            row = session.get(ExperimentRow, experiment_id)
            if row is None:
                raise NotFoundError(f"no experiment with id {experiment_id!r}")
            return _experiment(row)

    def list_experiments(
        self,
        model_name: str | None = None,
        *,
        active: bool | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[Experiment]:
        """Experiments, newest first (of one model; only active or ended ones)."""
        check_page(offset, limit)
        query = select(ExperimentRow)
        if model_name is not None:
            query = query.where(ExperimentRow.model_name == model_name)
        if active is True:
            query = query.where(ExperimentRow.active_model.is_not(None))
        elif active is False:
            query = query.where(ExperimentRow.active_model.is_(None))
        query = query.order_by(ExperimentRow.created_at.desc(), ExperimentRow.id)
        with self._read() as session:
            return [_experiment(r) for r in session.scalars(query.offset(offset).limit(limit))]

    def active_experiment(self, model_name: str) -> Experiment | None:
        """The model's active experiment (None when none is)."""
        with self._read() as session:
            row = session.scalar(
                select(ExperimentRow).where(ExperimentRow.active_model == model_name)
            )
            return None if row is None else _experiment(row)

    def transition_experiment(
        self,
        experiment_id: str,
        *,
        expected: tuple[str, ...],
        status: str,
        reason: str | None = None,
        decision: dict[str, Any] | None = None,
        fence: Fence | None = None,
    ) -> Experiment | None:
        """Move the experiment to ``status`` if it is in one of ``expected`` (and, with a
        ``fence``, the caller holds that lease); None when it was not (nothing changed).
        An ended status clears ``active_model`` and sets ``ended_at``/``end_reason``."""
        _check_status(status)
        now = utcnow()
        with self._write() as session:
            if fence is not None and not _holds(session, fence, now):
                return None
            values: dict[str, Any] = {"status": status, "updated_at": now}
            if fence is not None:
                values["fence"] = fence.token
            if decision is not None:
                values["last_decision"] = decision
                values["decided_at"] = now
            if status not in ACTIVE_STATUSES:
                values.update(active_model=None, ended_at=now, end_reason=(reason or "")[:2000])
            elif reason is not None:
                values["end_reason"] = reason[:2000]
            stmt = (
                update(ExperimentRow)
                .where(ExperimentRow.id == experiment_id, ExperimentRow.status.in_(expected))
                .values(**values)
                .returning(ExperimentRow.id)
            )
            if not returned(session, stmt):
                return None
            row = session.get(ExperimentRow, experiment_id, populate_existing=True)
            assert row is not None  # noqa: S101 - updated just above
            return _experiment(row)

    def record_decision(
        self, experiment_id: str, decision: dict[str, Any], fence: Fence | None = None
    ) -> bool:
        """Store the controller's latest decision on a running experiment (False when it
        is not running any more or the fence is lost)."""
        return (
            self.transition_experiment(
                experiment_id,
                expected=("running",),
                status="running",
                decision=decision,
                fence=fence,
            )
            is not None
        )

    # ------------------------------------------------------------------ the lease
    def acquire_lease(self, name: str, holder: str, ttl_s: float) -> Fence | None:
        """Take or renew lease ``name`` for ``ttl_s`` seconds; the :class:`Fence` when
        ``holder`` has it now, None when someone else holds an unexpired one."""
        if not ttl_s > 0:
            raise SchemaError("the lease's ttl_s must be > 0")
        now = utcnow()
        expires = now + timedelta(seconds=ttl_s)
        try:
            with self._write() as session:
                row = session.scalar(
                    select(ControllerLeaseRow)
                    .where(ControllerLeaseRow.name == name)
                    .with_for_update()
                )
                if row is None:
                    session.add(
                        ControllerLeaseRow(
                            name=name, holder=holder, token=1, acquired_at=now, expires_at=expires
                        )
                    )
                    session.flush()
                    return Fence(name, holder, 1)
                if row.holder == holder and row.expires_at > now:
                    token = row.token
                    values: dict[str, Any] = {"expires_at": expires}
                elif row.expires_at <= now:
                    token = row.token + 1
                    values = {
                        "holder": holder,
                        "token": token,
                        "acquired_at": now,
                        "expires_at": expires,
                    }
                else:
                    return None
                stmt = (
                    update(ControllerLeaseRow)
                    .where(ControllerLeaseRow.name == name, ControllerLeaseRow.token == row.token)
                    .values(**values)
                    .returning(ControllerLeaseRow.name)
                )
                if not returned(session, stmt):
                    return None
                return Fence(name, holder, token)
        except IntegrityError:  # a concurrent first acquire inserted the row
            return None

    def release_lease(self, fence: Fence) -> bool:
        """Let the lease expire now (if ``fence`` still holds it)."""
        now = utcnow()
        with self._write() as session:
            stmt = (
                update(ControllerLeaseRow)
                .where(
                    ControllerLeaseRow.name == fence.name,
                    ControllerLeaseRow.holder == fence.holder,
                    ControllerLeaseRow.token == fence.token,
                )
                .values(expires_at=now)
                .returning(ControllerLeaseRow.name)
            )
            return returned(session, stmt) == 1

    def lease(self, name: str) -> tuple[str, int, datetime] | None:
        """(holder, token, expires_at) of lease ``name``, None before the first acquire."""
        with self._read() as session:
            row = session.get(ControllerLeaseRow, name)
            return None if row is None else (row.holder, row.token, row.expires_at)

    # ------------------------------------------------------------------ per-arm requests
    def record_arm_requests(
        self, experiment_id: str, arm: str, replica: str, counts: ArmRequests
    ) -> None:
        """Set serving process ``replica``'s cumulative counts in one arm (an upsert of
        its own row; counts only grow within one process, a restarted process has a new
        ``replica``)."""
        if not 0 <= counts.errors <= counts.requests or not 0 <= counts.slower <= counts.requests:
            raise SchemaError(f"inconsistent request counts {counts}")
        if not counts.limit_ms > 0:
            raise SchemaError(f"limit_ms must be > 0, got {counts.limit_ms}")
        values = {
            "requests": int(counts.requests),
            "errors": int(counts.errors),
            "slower": int(counts.slower),
            "limit_ms": float(counts.limit_ms),
            "updated_at": utcnow(),
        }
        key = {"experiment_id": experiment_id, "arm": arm, "replica": replica}
        table = ArmRequestsRow.__table__
        with self._write() as session:
            dialect = postgresql if backend_of(session) == "postgresql" else sqlite
            stmt = (
                dialect.insert(table)
                .values(**key, **values)
                .on_conflict_do_update(index_elements=list(key), set_=values)
            )
            session.execute(stmt)

    def arm_requests(self, experiment_id: str, limit_ms: float) -> dict[str, ArmRequests]:
        """Request counts per arm of the experiment, summed over serving processes; only
        rows counted against ``limit_ms`` (an arm without any is absent: missing data)."""
        query = select(ArmRequestsRow).where(
            ArmRequestsRow.experiment_id == experiment_id, ArmRequestsRow.limit_ms == limit_ms
        )
        sums: dict[str, list[int]] = {}
        with self._read() as session:
            for row in session.scalars(query):
                total = sums.setdefault(row.arm, [0, 0, 0])
                total[0] += row.requests
                total[1] += row.errors
                total[2] += row.slower
        return {arm: ArmRequests(r, e, s, limit_ms) for arm, (r, e, s) in sums.items()}

    # ------------------------------------------------------------------ metrics input
    def events_since(
        self,
        since: datetime,
        types: tuple[str, ...],
        *,
        after_seq: int = 0,
        limit: int = 5000,
    ) -> list[StoredEvent]:
        """Outbox events of ``types`` stored at or after ``since`` with ``seq >
        after_seq``, in ``seq`` order (page with the last one's ``seq``). Published
        ``recommendation_shown`` rows are pruned after ``T2V_OUTBOX_RETENTION_HOURS``."""
        check_page(0, limit)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        query = (
            select(OutboxRow)
            .where(
                OutboxRow.created_at >= since,
                OutboxRow.event_type.in_(types),
                OutboxRow.seq > after_seq,
            )
            .order_by(OutboxRow.seq)
            .limit(limit)
        )
        with self._read() as session:
            return [
                StoredEvent(r.seq, r.user_id, r.event_type, dict(r.payload), r.created_at)
                for r in session.scalars(query)
            ]
