"""``TasteService``: everything the API does, without HTTP.

Writes go to the store first and are acknowledged only once committed.

Any number of service processes may share one store (replicas, ``--workers N``): nothing
a process keeps in memory is the truth, only a cache checked against the store.

* Each user's closed-form taste state is cached with the user's revision
  (:meth:`~taste2vec.store.Store.user_revision`, one indexed read), and every read compares
  it with the store's: a feedback or tasting stored by another process makes it stale,
  and the state is rebuilt from the stored history. A write through this process updates
  the cached state in O(d) right after the commit (the instant learning path) and moves
  its revision to what the store must now hold; a write by someone else in between shows
  up as a mismatch on the next read.
* The catalogue index and the crowd's statistics (cold-start query, item prior, the
  linear model's prior) follow the store through the :class:`~taste2vec.service.follower.
  Follower` loop, off the request path.
* Background loops (follower, online learner, outbox relay, event buffer, stream worker)
  run under one :class:`~taste2vec.service.runtime.Supervisor` (``runtime``).

Every stored tasting and feedback also queues its app event in the store's
outbox (same transaction); :meth:`TasteService.start_publishing` starts the
relay that publishes the outbox to the event log, and the buffer through which
the service emits ``recommendation_shown`` for every recommendation it serves.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import numpy as np
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from taste2vec.errors import ConflictError, NotFoundError
from taste2vec.learning import (
    BackgroundLearner,
    LearnerLease,
    LeasedLearner,
    ModelHolder,
    OnlineLearner,
    Publisher,
    ValidationSet,
    Versioned,
)
from taste2vec.learning.validation import MAX_VALIDATION_USERS, MIN_VALIDATION_FEEDBACK
from taste2vec.model.taste2vec import Explanation, Taste2Vec
from taste2vec.recommend.engine import (
    Profile,
    Recommendation,
    RecommendationEngine,
)
from taste2vec.recommend.user_state import UserState
from taste2vec.schema import Coffee, Context, Feedback, FeedbackSignal, TasteRecord
from taste2vec.schema.clock import DEFAULT_MAX_SKEW_S, check_not_future
from taste2vec.service.arms import CLIENT_ERRORS, ArmRouter, Assignment
from taste2vec.service.follower import Follower
from taste2vec.service.model_source import ModelSourceLike
from taste2vec.service.monitoring import EmbeddingReference, ModelMonitor, reference_for
from taste2vec.service.relay import EventBuffer, OutboxRelay
from taste2vec.service.runtime import Backoff, Supervisor
from taste2vec.store import (
    AddResult,
    CatalogueRevision,
    FeedbackRevision,
    Store,
    UpsertCounts,
    UserRevision,
)
from taste2vec.stream.events import Event, RecommendationShown
from taste2vec.stream.log.base import EventLog

log = logging.getLogger(__name__)
HISTORY = 50  # tastings per user that shape the taste vector and the context history
STATS_EVERY = 50  # new feedback rows that make the follower refit the crowd's statistics
MAX_CACHED_USERS = 10_000  # taste states kept in memory (~50 KB each with 72 features)
WRITER_LOCKS = 64
EMIT_INTERVAL_S = 0.25  # service-emitted events reach the outbox in one write per interval


class _Cached:
    """A user's cached taste state and the store revision it reflects, with the tastings
    stored through this process that the state does not hold yet (``pending``, their ids:
    read back and embedded in one model call by the next read of the state, not on the
    write path; ids, not records: 10,000 cached users with 50 pending each hold about
    40 MB of ids against 1 GB of records, ~80 bytes against ~2 KB each by tracemalloc)."""

    __slots__ = ("pending", "revision", "state")

    def __init__(self, revision: UserRevision, state: UserState) -> None:
        self.revision = revision
        self.state = state
        self.pending: list[str] = []


class TasteService:
    """Thread-safe facade over the store, the model and the recommendation engine.

    ``follow_interval_s``: run the :class:`~taste2vec.service.follower.Follower` (catalogue
    and crowd statistics follow the store, and the model its ``model_source``) every that
    many seconds; ``None`` (tests that drive one process) leaves them to :meth:`rebuild`,
    :meth:`refresh_stats` and :meth:`reload_model`. ``max_cached_users``: how many users'
    taste states stay in memory (LRU; an evicted user is rebuilt from the store).
    """

    def __init__(
        self,
        store: Store,
        model: Taste2Vec,
        online_learning: bool = False,
        learner_lr: float = 3e-4,
        max_clock_skew_s: float = DEFAULT_MAX_SKEW_S,
        follow_interval_s: float | None = None,
        registry: CollectorRegistry | None = None,
        model_source: ModelSourceLike | None = None,
        learner_publish: Publisher | None = None,
        learner_lease: LearnerLease | None = None,
        monitor: ModelMonitor | None = None,
        max_cached_users: int = MAX_CACHED_USERS,
    ) -> None:
        if max_cached_users < 1:
            raise ValueError(f"max_cached_users must be at least 1, got {max_cached_users}")
        self.store = store
        # Online learner: where gate-passing candidates go (taste2vec.registry.learner) and
        # the lease that lets one replica's learner act; per-version metrics (monitoring).
        self.learner_publish = learner_publish
        self.learner_lease = learner_lease
        self.monitor = monitor
        self.max_cached_users = max_cached_users
        self.model_source = model_source
        self.model_version: str | None = None if model_source is None else model_source.version
        self.max_clock_skew_s = max_clock_skew_s
        self.holder = ModelHolder(model)
        self.runtime = Supervisor(Backoff(0.05, 5.0), registry=registry)
        self.catalogue_revision: CatalogueRevision = store.catalogue_revision()
        coffees = self._all_coffees()
        self.engine = RecommendationEngine(model, coffees)
        self.names: dict[str, str] = {c.id: c.name for c in coffees}
        # Bounded: least recently used users leave the cache (they are rebuilt from the
        # store when they come back), and per-user writers share a fixed set of locks.
        self._states: OrderedDict[str, _Cached] = OrderedDict()
        self._writer_locks = tuple(threading.Lock() for _ in range(WRITER_LOCKS))
        self._lock = threading.Lock()
        self._rebuild_lock = threading.Lock()
        self.crowd_revision: FeedbackRevision = (0, 0)
        self.refresh_stats()
        self.background: BackgroundLearner | None = None
        self.relay: OutboxRelay | None = None
        self.emitted: EventBuffer | None = None
        self.follower: Follower | None = None
        self.arms: ArmRouter | None = None  # per-arm serving of an A/B experiment (issue 12)
        self.holder.subscribe(self._on_swap)
        if follow_interval_s is not None:
            self.follower = Follower(self, follow_interval_s, STATS_EVERY)
            self.runtime.add(self.follower, start=True)
        if online_learning:
            self._start_learner(coffees, learner_lr)

    @property
    def model(self) -> Taste2Vec:
        """The live model (swapped atomically when the background learner promotes one)."""
        return self.holder.get()

    def _start_learner(self, coffees: Sequence[Coffee], lr: float) -> None:
        # Bounded whatever the store holds (issue 11): the validation set is a fixed
        # sample of users read in SQL, and the replay buffer (bounded) is fed from the
        # batched generator, never a list of every reaction.
        validation = ValidationSet.from_feedback(
            self.store.sampled_feedback(MAX_VALIDATION_USERS, MIN_VALIDATION_FEEDBACK),
            min_feedback=MIN_VALIDATION_FEEDBACK,
            max_users=MAX_VALIDATION_USERS,
        )
        if not validation.held_out:
            log.warning("online learning off: too little feedback for a validation set")
            return
        learner = OnlineLearner(
            self.holder, coffees, validation, lr=lr, publish=self.learner_publish
        )
        for fb in self.store.all_feedback():
            learner.observe(fb)  # held-out reactions are refused by the learner
        self.background = BackgroundLearner(learner)
        lease = self.learner_lease
        if lease is None:
            self.runtime.add(self.background, start=True)
        else:  # with replicas, only the lease holder's learner acts
            leased = LeasedLearner(
                self.background,
                lease,
                feed=self.store.all_feedback,  # what the other replicas stored, too
                revision=self.store.feedback_revision,
            )
            self.runtime.add(leased, on_stop=lease.close, start=True)

    def reload_model(self) -> bool:
        """Load the model of ``model_source`` when its version differs from the one served
        (a retrained model written to the shared model directory); True when swapped. The
        swap rebuilds the index, and requests in flight finish on the old model."""
        source = self.model_source
        if source is None:
            return False
        version = source.current_version()
        if version is None or version == self.model_version:
            return False
        model = source.load()
        self.holder.swap(model)
        self.model_version = version
        log.info("model %s loaded from %s", version, source.path)
        return True

    def _on_swap(self, live: Versioned) -> None:
        """A promoted model: rebuild the catalogue index for it and drop cached states."""
        log.info("model version %s promoted by the online learner", live.version)
        self.rebuild(background=False)

    def close(self) -> None:
        """Stop every background loop, in reverse start order."""
        self.runtime.stop(timeout=30)
        self.relay = self.emitted = None

    def stop_loop(self, name: str) -> None:
        """Stop one background loop (a no-op when none has that name)."""
        self.runtime.remove(name)

    # ------------------------------------------------------------------ publishing
    def start_publishing(
        self,
        event_log: EventLog,
        interval_s: float = 0.05,
        retention: timedelta | None = None,
    ) -> OutboxRelay:
        """Start the outbox relay to ``event_log`` (tastings enriched with their vectors;
        published rows older than ``retention`` pruned every 10 minutes when given) and
        the buffer for service-emitted events. :meth:`close` stops both."""
        if self.relay is None:
            relay = OutboxRelay(
                self.store, event_log, self.enrich_events, interval_s, retention=retention
            )
            emitted = EventBuffer(self.store, relay.notify, EMIT_INTERVAL_S)
            self.runtime.add(relay, on_stop=relay.finish, start=True)
            self.runtime.add(emitted, on_stop=emitted.finish, start=True)
            self.relay, self.emitted = relay, emitted
        return self.relay

    def stop_publishing(self) -> None:
        """Stop the event buffer (it flushes into the outbox first), then the relay (its
        last pass publishes them)."""
        self.emitted = None
        self.runtime.remove("event-buffer")
        self.relay = None
        self.runtime.remove("outbox-relay")

    def _queued(self) -> None:
        if self.relay is not None:
            self.relay.notify()

    def check_time(self, value: datetime, field: str) -> None:
        """Refuse (:class:`~taste2vec.errors.SchemaError` naming ``field``) a client time
        more than ``max_clock_skew_s`` ahead of the server clock (see ``schema.clock``)."""
        check_not_future(value, field, now=datetime.now(UTC), max_skew_s=self.max_clock_skew_s)

    def add_event(self, event: Event) -> AddResult[Event]:
        """Queue an app event (box_rated, subscription_paused, ...) in the outbox, once.
        Its ``event_time`` must pass :meth:`check_time`."""
        self.check_time(event.event_time, "event_time")
        result = self.store.add_event(event)
        if result.created:
            self._queued()
        return result

    def add_events(self, events: Sequence[Event]) -> list[AddResult[Event] | ConflictError]:
        """Several app events in one transaction; per event its result or conflict. Check
        each one's time with :meth:`check_time` first (the API does, per event)."""
        results = self.store.add_events(events)
        if any(isinstance(r, AddResult) and r.created for r in results):
            self._queued()
        return results

    def enrich_events(self, events: Sequence[Event]) -> list[Event]:
        """``tasting_logged`` events with the stored tasting's vector from the live model
        (one batched encode: the write path runs no model); others, and tastings no
        longer stored, unchanged."""
        wanted = [
            i for i, e in enumerate(events) if e.type == "tasting_logged" and e.vector is None
        ]
        ids: list[str] = []
        for i in wanted:
            event = events[i]
            assert event.type == "tasting_logged"  # noqa: S101 - narrowed above
            ids.append(event.record)
        stored = self.store.records_by_id(ids) if ids else {}  # one read for the batch
        records = [(i, stored[r]) for i, r in zip(wanted, ids, strict=True) if r in stored]
        out = list(events)
        if not records:
            return out
        vectors = self.holder.snapshot().model.embed([r for _, r in records])
        self._observe_embeddings(vectors)
        for (i, _), vector in zip(records, vectors, strict=True):
            if vector.shape == (128,):
                out[i] = out[i].model_copy(update={"vector": [float(x) for x in vector]})
        return out

    def recommendation_shown(
        self,
        user: str,
        coffees: Sequence[str],
        request: str | None = None,
        experiment: str | None = None,
        arm: str | None = None,
        model_version: str | None = None,
    ) -> str:
        """Emit ``recommendation_shown`` (buffered, no write on this path) when publishing;
        returns the request id (its event id is ``shown:<request>``)."""
        request = request or uuid4().hex
        if self.emitted is None or not coffees:
            return request
        try:
            event = RecommendationShown(
                event_id=f"shown:{request}",
                user=user,
                event_time=datetime.now(UTC),
                request=request,
                coffees=list(coffees),
                experiment=experiment,
                arm=arm,
                model_version=model_version,
            )
        except ValidationError:  # a user id no event may carry (never stored either)
            log.debug("no recommendation_shown for invalid user id %r", user)
            return request
        self.emitted.put(event)
        return request

    def refresh_stats(self) -> None:
        """Recompute the crowd's per-coffee preferences (over every stored feedback, one SQL
        aggregate) and the taste model's prior (on the store's sample of at most
        ``BayesConfig.max_users`` users): memory bounded by the catalogue and the sample,
        not by the stored feedback. The follower calls it when enough new feedback arrived."""
        revision = self.store.feedback_revision()  # before reading: a later row re-triggers
        self.engine.set_crowd(self.store.crowd_feedback(self.engine.bayes.max_users))
        self.crowd_revision = revision

    # ------------------------------------------------------------------ catalogue
    def _all_coffees(self) -> list[Coffee]:
        out: list[Coffee] = []
        offset = 0
        while True:
            page = self.store.list_coffees(offset=offset, limit=1000)
            out += page
            if len(page) < 1000:
                return out
            offset += len(page)

    def import_coffees(self, coffees: Sequence[Coffee], background: bool = True) -> UpsertCounts:
        """Upsert the catalogue (durably), then rebuild the index (atomically swapped)."""
        counts = self.store.upsert_coffees(coffees)
        self.rebuild(background=background)
        return counts

    def rebuild(self, background: bool = False) -> None:
        def run() -> None:
            with self._rebuild_lock:
                try:
                    revision = self.store.catalogue_revision()  # before reading, as above
                    coffees = self._all_coffees()
                    self.engine.rebuild(self.model, coffees)
                    self.names = {c.id: c.name for c in coffees}
                    self.catalogue_revision = revision
                    with self._lock:
                        self._states.clear()
                except Exception:  # a failed rebuild keeps serving the old snapshot
                    log.exception("catalogue rebuild failed; still serving the previous index")

        if background:
            threading.Thread(target=run, name="t2v-rebuild", daemon=True).start()
        else:
            run()

    def delete_coffee(self, coffee_id: str) -> None:
        if not self.store.delete_coffee(coffee_id):
            raise NotFoundError(f"no coffee with id {coffee_id!r}")
        self.rebuild(background=True)

    # ------------------------------------------------------------------ ingestion
    def add_record(self, record: TasteRecord) -> AddResult[TasteRecord]:
        """Store a tasting. A cached user's state takes it at its next read
        (``_Cached.pending``): the write path runs no model, the relay embeds the tasting
        for its event in a batch with the others, and a read embeds what is pending for
        its user in one call. Past ``HISTORY`` pending tastings the cached state is
        dropped instead (the next read rebuilds it from the store, as for another
        process's writes)."""
        self.check_time(record.timestamp, "timestamp")
        result = self.store.add_record(record)
        if result.created:
            self._queued()
            with self._lock:
                cached = self._states.get(record.user)
                writer = self._writer(record.user)
            if cached is not None:
                with writer:  # outside the shared lock, one writer per user
                    cached.pending.append(record.id)
                    n_fb, last_fb, n_rec, last_rec, onboarded = cached.revision
                    cached.revision = (
                        n_fb,
                        last_fb,
                        n_rec + 1,
                        max(last_rec, result.seq or 0),
                        onboarded,
                    )
                    if len(cached.pending) > HISTORY:
                        with self._lock:
                            if self._states.get(record.user) is cached:
                                del self._states[record.user]
        return result

    def add_feedback(self, feedback: Feedback) -> AddResult[Feedback]:
        self.check_time(feedback.timestamp, "timestamp")
        result = self.store.add_feedback(feedback)
        if result.created:
            self._queued()
            with self._lock:
                cached = self._states.get(feedback.user)
                writer = self._writer(feedback.user)
            if cached is not None:
                with writer:
                    self.engine.update(cached.state, feedback)
                    n_fb, last_fb, n_rec, last_rec, onboarded = cached.revision
                    cached.revision = (
                        n_fb + 1,
                        max(last_fb, result.seq or 0),
                        n_rec,
                        last_rec,
                        onboarded,
                    )
            if self.background is not None:
                self.background.observe(feedback)
        return result

    # ------------------------------------------------------------------ reading
    def history(self, user: str) -> list[TasteRecord]:
        return self.store.records_for_user(user, limit=HISTORY)

    def _writer(self, user: str) -> threading.Lock:
        """The lock that serialises in-place updates of ``user``'s cached state."""
        return self._writer_locks[hash(user) % len(self._writer_locks)]

    def _user_state(self, user: str) -> UserState:
        """The user's state: the cached one when its revision is the store's, else rebuilt
        from the stored history (another process wrote, or the user is not cached)."""
        revision = self.store.user_revision(user)
        with self._lock:
            cached = self._states.get(user)
            if cached is not None:
                self._states.move_to_end(user)
        if cached is not None and cached.revision == revision:
            if cached.pending:
                with self._writer(user):
                    pending, cached.pending = cached.pending, []
                    if pending:  # one read and one model call for every tasting since
                        stored = self.store.records_by_id(pending)
                        records = [stored[r] for r in pending if r in stored]
                        self.engine.add_tastings(cached.state, records)
            return cached.state
        # Everything the API accepted counts: times up to the allowed skew ahead included.
        now = datetime.now(UTC) + timedelta(seconds=self.max_clock_skew_s)
        state = self.engine.state(self.store.feedback_for_user(user), self.history(user), now)
        self.engine.onboard(state, self.store.onboarding_families(user))
        # Rows stored after ``revision`` was read may be in ``state`` already: the next read
        # then finds a newer revision and rebuilds once more, never serves a stale state.
        with self._lock:
            current = self._states.get(user)
            if current is None or current is cached:
                self._states[user] = _Cached(revision, state)
                self._states.move_to_end(user)
                while len(self._states) > self.max_cached_users:
                    self._states.popitem(last=False)
        return state

    def _state(self, user: str) -> tuple[np.ndarray | None, set[str], list[tuple[str, float]]]:
        """The user's vector, the coffees they reacted to, and their positive reactions."""
        return _summary(self._user_state(user))

    def user_vector(self, user: str) -> np.ndarray | None:
        return self._state(user)[0]

    def recommend(self, user: str, k: int, context: Context | None = None) -> list[Recommendation]:
        state = self._user_state(user)
        vector, seen, liked = _summary(state)
        items: list[Recommendation] = self.engine.recommend(
            vector,
            k,
            exclude=seen,
            context=context,
            history=self.history(user) if context is not None else (),
            liked=liked,
            n_feedback=len(seen),
            state=state,
        )
        return items

    def recommend_served(
        self, user: str, k: int, context: Context | None = None
    ) -> tuple[Assignment | None, list[Recommendation]]:
        """:meth:`recommend` by the model of the user's experiment arm (``arms``), with
        the assignment (None: no experiment is served)."""
        arms = self.arms
        assignment = None if arms is None else arms.assign(user)
        if arms is None or assignment is None:
            return None, self.recommend(user, k, context)
        start = time.perf_counter()
        failed = False
        try:
            routed = arms.recommend(user, k, context)
            if routed is not None:
                return routed
            return assignment, self.recommend(user, k, context)
        except CLIENT_ERRORS:
            raise
        except Exception:
            failed = True  # a server error in this arm (error-rate guardrail)
            raise
        finally:  # per-arm latency and errors, shared through the store (service.arms)
            arms.observe(assignment, time.perf_counter() - start, failed)

    def onboard(
        self, user: str, families: Sequence[str] | None, ratings: Mapping[str, int]
    ) -> bool:
        """Store a new user's onboarding answer; True when anything new was stored.

        ``ratings`` (coffee id -> 1-5) become rated feedback with the deterministic ids
        :func:`onboarding_feedback_id` and no client timestamp, so a retry is the same
        write (a different rating for the same coffee is a :class:`ConflictError`, checked
        before anything is written). ``families`` (None: unchanged) are stored and become
        pseudo-observations on the user's taste model (:mod:`taste2vec.recommend.bayes`).
        """
        answers = [
            Feedback(
                id=onboarding_feedback_id(user, coffee),
                user=user,
                coffee=coffee,
                signal=FeedbackSignal.RATED,
                rating=rating,
            )
            for coffee, rating in sorted(ratings.items())
        ]
        for fb in answers:
            stored = self.store.get_feedback(fb.id)
            if stored is not None and stored.rating != fb.rating:
                raise ConflictError(
                    f"coffee {fb.coffee!r} was already rated {stored.rating} at onboarding; "
                    "send feedback to change it"
                )
        created = False
        for fb in answers:
            created = self.add_feedback(fb).created or created
        if families is not None and self.store.set_onboarding_families(user, families):
            created = True
            with self._lock:  # rebuilt (with the stored answer) at the next read
                self._states.pop(user, None)
        return created

    def profile(self, user: str) -> Profile | None:
        vec = self.user_vector(user)
        return None if vec is None else self.engine.profile(vec)

    def embed(self, records: Sequence[TasteRecord]) -> tuple[np.ndarray, list[Explanation]]:
        vectors, why = self.model.encode(records)
        self._observe_embeddings(vectors)
        return vectors, why

    def _observe_embeddings(self, vectors: np.ndarray) -> None:
        """Served embeddings into the per-version drift metrics (service.monitoring)."""
        if self.monitor is None:
            return
        source = self.model_source

        def reference() -> EmbeddingReference:
            snap = self.engine.snapshot
            return reference_for(
                None if source is None else source.path, snap.centroid, snap.radius
            )

        self.monitor.observe_embeddings(self.model_version, vectors, reference)


def onboarding_feedback_id(user: str, coffee: str) -> str:
    """The feedback id of ``user``'s onboarding rating of ``coffee`` (deterministic)."""
    digest = hashlib.sha256(f"{user}\x00{coffee}".encode()).hexdigest()[:40]
    return f"onboarding:{digest}"


def _summary(state: UserState) -> tuple[np.ndarray | None, set[str], list[tuple[str, float]]]:
    vec: np.ndarray | None = state.vector()
    seen = set(state.items)
    liked = [(coffee, weight) for coffee, (weight, _) in state.items.items() if weight > 0]
    return vec, seen, liked
