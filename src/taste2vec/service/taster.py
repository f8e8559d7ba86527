"""What the taster's web pages show, computed from the service without HTTP.

:class:`TasterView` wraps a :class:`~taste2vec.service.TasteService`: the catalogue map,
the user's reactions, how the profile changed over time, the rating trend, the lexicon
preview of a note, and a like/dislike from the recommendations list (the feedback and its
``recommendation_clicked`` event).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import numpy as np
import numpy.typing as npt

from taste2vec.lexicon import Lexicon
from taste2vec.recommend.engine import Profile
from taste2vec.schema import Feedback, FeedbackSignal, TasteRecord
from taste2vec.service.core import HISTORY, TasteService
from taste2vec.stream.events import RecommendationClicked

TIMELINE_POINTS = 8
PREVIEW_MAX = 12
TIMELINE_CACHE_SIZE = 10_000  # users whose timeline is kept (cleared when full)


@dataclass(frozen=True)
class MapPoint:
    coffee: str
    name: str
    x: float
    y: float


@dataclass(frozen=True)
class TimelinePoint:
    """The profile as it stood after the user's history up to ``time``."""

    time: datetime
    n_events: int
    profile: Profile


@dataclass(frozen=True)
class Heard:
    """One flavour the lexicon found in a note."""

    path: str
    name: str
    name_ko: str
    family: str


class TasterView:
    """Read models and actions of the taster's pages (thread-safe)."""

    def __init__(self, service: TasteService) -> None:
        self.service = service
        self._timelines: dict[str, tuple[tuple[object, ...], list[TimelinePoint]]] = {}
        self._lock = threading.Lock()

    @property
    def lexicon(self) -> Lexicon:
        return self.service.model.lexicon

    def coffee_names(self) -> dict[str, str]:
        return dict(self.service.names)

    def catalogue_map(self) -> list[MapPoint]:
        """Every catalogue coffee's position on the 2-D map (the profile's axes)."""
        snap = self.service.engine.snapshot
        return [
            MapPoint(c.id, c.name, float(snap.map_xy[j][0]), float(snap.map_xy[j][1]))
            for j, c in enumerate(snap.coffees)
        ]

    def reactions(self, user: str) -> dict[str, Feedback]:
        """The user's latest feedback per coffee."""
        latest: dict[str, Feedback] = {}
        for fb in sorted(self.service.store.feedback_for_user(user), key=lambda f: f.timestamp):
            latest[fb.coffee] = fb
        return latest

    def ratings(self, user: str) -> list[tuple[datetime, int]]:
        """The user's 1-5 ratings, oldest first."""
        return sorted(
            (fb.timestamp, fb.rating)
            for fb in self.service.store.feedback_for_user(user)
            if fb.signal is FeedbackSignal.RATED and fb.rating is not None
        )

    def timeline(self, user: str, points: int = TIMELINE_POINTS) -> list[TimelinePoint]:
        """The profile after each of up to ``points`` evenly spaced steps of the user's
        history (feedback and their latest tastings, oldest first); one model call for
        the tastings, cached until the history or the catalogue snapshot changes."""
        feedback = self.service.store.feedback_for_user(user)
        tastings = self.service.store.records_for_user(user, limit=HISTORY)
        engine = self.service.engine
        snap = engine.snapshot
        key = (
            snap.version,
            len(feedback),
            len(tastings),
            feedback[-1].id if feedback else None,
            tastings[-1].id if tastings else None,
        )
        with self._lock:
            hit = self._timelines.get(user)
        if hit is not None and hit[0] == key:
            return hit[1]
        vectors: list[npt.NDArray[np.float64]] = (
            list(snap.to_taste(snap.model.embed(tastings))) if tastings else []
        )
        steps: list[tuple[datetime, Feedback | tuple[TasteRecord, npt.NDArray[np.float64]]]] = [
            (fb.timestamp, fb) for fb in feedback
        ]
        steps += [(t.timestamp, (t, v)) for t, v in zip(tastings, vectors, strict=True)]
        steps.sort(key=lambda s: s[0])
        marks = _checkpoints(len(steps), points)
        state = engine.new_state()
        out: list[TimelinePoint] = []
        for i, (time, step) in enumerate(steps):
            if isinstance(step, Feedback):
                engine.update(state, step)
            else:
                record, vector = step
                state.add_tasting(record, vector)
            vec = state.vector() if i + 1 in marks else None
            if vec is not None:
                out.append(TimelinePoint(time, i + 1, engine.profile(vec)))
        with self._lock:
            if len(self._timelines) >= TIMELINE_CACHE_SIZE:
                self._timelines.clear()
            self._timelines[user] = (key, out)
        return out

    def hear(self, text: str, limit: int = PREVIEW_MAX) -> list[Heard]:
        """The flavours the lexicon finds in ``text`` (each once, in order of appearance)."""
        seen: dict[str, Heard] = {}
        for d in self.lexicon.extract(text):
            if d.node.path not in seen:
                seen[d.node.path] = Heard(d.node.path, d.node.name, d.node.name_ko, d.node.family)
            if len(seen) >= limit:
                break
        return list(seen.values())

    def react(self, user: str, coffee: str, signal: FeedbackSignal, request: str | None) -> str:
        """A like or dislike from the recommendations list: the feedback (validated and
        stored as by ``POST /v1/feedback``) and its ``recommendation_clicked`` event, whose
        event id it returns."""
        now = datetime.now(UTC)
        event_id = f"ui-click-{uuid4().hex}"
        self.service.add_feedback(
            Feedback(id=f"ui-{uuid4().hex}", user=user, coffee=coffee, signal=signal)
        )
        self.service.add_event(
            RecommendationClicked(
                event_id=event_id,
                user=user,
                event_time=now,
                coffee=coffee,
                request=request,
            )
        )
        return event_id


def _checkpoints(n: int, points: int) -> set[int]:
    """``points`` step counts spread evenly over ``1..n`` (always including ``n``)."""
    if n <= points:
        return set(range(1, n + 1))
    return {round(n * (k + 1) / points) for k in range(points)}
