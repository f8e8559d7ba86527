"""Stateful property tests over the HTTP API, on SQLite and PostgreSQL.

A Hypothesis state machine interleaves several users (fresh ones the admin creates for
each example, with their own keys, and the demo users as outsiders) writing tastings,
feedback and app events, exact retries, retries of bodies without their optional
``timestamp``, the same instant written in another time zone, conflicting reuse of an
id, writes and reads across users, and reads. It keeps a model of every acknowledged
write and checks, after every step:

- no answer is a 5xx (every request, in :class:`~tests.adversarial.conftest.Api`);
- every acknowledged write is readable: the user's records list holds each acknowledged
  tasting with its content, and ``GET /v1/users/{id}`` counts exactly the acknowledged
  tastings and feedback; a refused write (403, 409, 404, 422) changed nothing;
- isolation: a user key reading or writing another user's data gets 403, and a user's
  list holds only that user's items;

and, at random points and at the end of every example, after draining the stream
(relay and embedded worker): each user's ``GET /v1/users/{id}/signals`` and each touched
coffee's ``GET /v1/coffees/{id}/stats`` equal ``batch_aggregate`` over the event log's
entries (which counts each event once however often it was delivered), every acknowledged
write of the example is in the log with the content that was acknowledged, repeated
deliveries of an id carry the same content, and no refused write is there.
"""

from __future__ import annotations

import itertools
import os
import time
import traceback
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from taste2vec.schema import TasteRecord
from taste2vec.schema.records import Metrics
from taste2vec.sim.stream.reference import batch_aggregate
from taste2vec.stream.events import Event, FeedbackGiven, TastingLogged, parse_event
from tests.adversarial.conftest import (
    ADMIN_KEY,
    BACKENDS,
    SOAK,
    SOAK_SECONDS,
    STATS,
    Api,
    check,
    demo_keys,
    drain,
    jsonable,
    report,
    running_app,
)

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("adversarial")]

N_USERS = 3
USER_ROUTES = ["", "/records", "/signals", "/profile", "/recommendations?k=2", "/onboarding"]
SKEW = timedelta(seconds=300)  # T2V_MAX_CLOCK_SKEW_S's default, which these apps use
COFFEES = [f"demo-{i:03d}" for i in (1, 2, 7, 21, 33, 50, 90)]
APP_EVENT_TYPES = [
    "box_rated",
    "box_shipped",
    "recommendation_clicked",
    "subscription_started",
    "subscription_paused",
    "subscription_resumed",
    "subscription_cancelled",
    "subscription_renewed",
    "lab_session",
]
ZONES = [
    None,  # naive: taken as UTC
    UTC,
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-12)),
    timezone(timedelta(hours=9)),
    timezone(timedelta(hours=5, minutes=45)),
    timezone(timedelta(hours=-5)),  # New York in winter (EST)
    timezone(timedelta(hours=-4)),  # New York in summer (EDT)
]
NOTES = st.one_of(
    st.sampled_from(
        [
            "",
            "bright lemon, jasmine",
            "자몽과 재스민, 꿀 같은 단맛",
            "plum ‮and‬ cocoa",  # RTL override
            "tea‍rose",  # zero-width joiner
            "☕🍋 juicy 🫐",
            "'; DROP TABLE records; --",
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=60,
    ),
)
# Ids of this process's examples: unique across examples (the app outlives them).
_EXAMPLE_IDS = itertools.count()


def _iso(t: datetime, zone: timezone | None) -> str:
    if zone is None:
        return t.astimezone(UTC).replace(tzinfo=None).isoformat()
    return t.astimezone(zone).isoformat()


def _stored_notes(notes: str) -> str:
    """Notes as the schema stores them (surrounding whitespace stripped, nothing else)."""
    stored = TasteRecord(id="x", user="x", notes=notes).notes
    assert stored in notes and stored.strip() == notes.strip(), (notes, stored)
    return stored


def _utc(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


class ApiMachine(RuleBasedStateMachine):
    """One example: a fresh set of users and a random interleaving of their requests."""

    client: ClassVar[TestClient]

    def __init__(self) -> None:
        super().__init__()
        self.api = Api(self.client)
        self.tag = f"adv{next(_EXAMPLE_IDS)}x{os.getpid()}"
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.keys: dict[str, str] = {}
        self.outsiders = {u: k for u, k in demo_keys(self.client).items() if u.startswith("demo-")}
        # the model: what was acknowledged, as sent
        self.records: dict[str, dict[str, Any]] = {}
        self.feedback: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.refused: set[str] = set()  # ids of writes refused (403/404/422): never stored
        self.coffees: set[str] = set()
        self.seq = itertools.count()
        self.touched: str | None = None
        self.checked_at = 0  # writes acknowledged at the last stream comparison
        STATS.interleavings += 1

    # ------------------------------------------------------------------ helpers
    def _id(self, kind: str) -> str:
        return f"{self.tag}-{kind}{next(self.seq)}"

    def _time(self, data: st.DataObject) -> str | None:
        """An event time: omitted, or within the last 3 days (a minute ahead at most),
        written in a random zone (or naive)."""
        if data.draw(st.booleans(), label="omit time"):
            return None
        offset = data.draw(st.integers(-3 * 86_400, 60), label="seconds from now")
        zone = data.draw(st.sampled_from(ZONES), label="zone")
        return _iso(self.now + timedelta(seconds=offset), zone)

    def _key_for(self, user: str, data: st.DataObject) -> str:
        """The user's own key or the admin's (admin may act for anyone)."""
        return ADMIN_KEY if data.draw(st.integers(0, 4), label="actor") == 0 else self.keys[user]

    def _user(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.keys)), label="user")

    # ------------------------------------------------------------------ setup
    @initialize()
    def create_users(self) -> None:
        for i in range(N_USERS):
            uid = f"{self.tag}-u{i}"
            resp = self.api.post("/v1/users", {"id": uid}, key=ADMIN_KEY)
            check(resp.status_code == 201, f"create user {uid}: {resp.status_code} {resp.text}")
            self.keys[uid] = resp.json()["api_key"]

    # ------------------------------------------------------------------ writes
    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def post_record(self, data: st.DataObject) -> None:
        STATS.count_rule("post_record")
        user = self._user(data)
        body: dict[str, Any] = {"id": self._id("r"), "user": user}
        ts = self._time(data)
        if ts is not None:
            body["timestamp"] = ts
        body["notes"] = data.draw(NOTES, label="notes")
        if data.draw(st.booleans(), label="with coffee"):
            body["coffee"] = data.draw(st.sampled_from(COFFEES), label="coffee")
        if data.draw(st.booleans(), label="with metrics"):
            body["metrics"] = {
                "acidity": data.draw(st.integers(0, 10), label="acidity"),
                "water_temp_c": data.draw(st.sampled_from([85, 92.5, 96]), label="temp"),
            }
        resp = self.api.post("/v1/records", body, key=self._key_for(user, data))
        check(resp.status_code == 201, f"new record: {resp.status_code} {resp.text}")
        check(resp.json() == {"id": body["id"], "created": True}, f"answer: {resp.text}")
        self.records[body["id"]] = body
        self.touched = user
        if "coffee" in body:  # tastings do not count in a coffee's stats, but read them
            self.coffees.add(body["coffee"])

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def post_record_without_timestamp_twice(self, data: st.DataObject) -> None:
        """A client retry of a body with the optional timestamp omitted: 201 then 200."""
        STATS.count_rule("post_record_without_timestamp_twice")
        user = self._user(data)
        body = {"id": self._id("rt"), "user": user, "notes": "retry me"}
        key = self._key_for(user, data)
        first = self.api.post("/v1/records", body, key=key)
        check(first.status_code == 201, f"first: {first.status_code} {first.text}")
        self.records[body["id"]] = body
        self.touched = user
        again = self.api.post("/v1/records", body, key=key)
        check(
            again.status_code == 200,
            f"a retry of a body without timestamp must be 200, got {again.status_code} "
            f"{again.text}",
        )

    @precondition(lambda self: bool(self.records))
    @rule(data=st.data())
    def retry_record(self, data: st.DataObject) -> None:
        STATS.count_rule("retry_record")
        rid = data.draw(st.sampled_from(sorted(self.records)), label="record")
        body = self.records[rid]
        resp = self.api.post("/v1/records", body, key=self._key_for(body["user"], data))
        check(resp.status_code == 200, f"exact retry: {resp.status_code} {resp.text}")
        check(resp.json() == {"id": rid, "created": False}, f"answer: {resp.text}")

    @precondition(lambda self: any("timestamp" in b for b in self.records.values()))
    @rule(data=st.data())
    def retry_record_in_another_zone(self, data: st.DataObject) -> None:
        """The same instant written in another zone is the same content (200)."""
        STATS.count_rule("retry_record_in_another_zone")
        rid = data.draw(
            st.sampled_from(sorted(r for r, b in self.records.items() if "timestamp" in b)),
            label="record",
        )
        body = dict(self.records[rid])
        zone = data.draw(st.sampled_from(ZONES), label="zone")
        body["timestamp"] = _iso(_utc(body["timestamp"]), zone)
        resp = self.api.post("/v1/records", body, key=self._key_for(body["user"], data))
        check(resp.status_code == 200, f"same instant, other zone: {resp.status_code} {resp.text}")

    @precondition(lambda self: bool(self.records))
    @rule(data=st.data())
    def conflicting_record(self, data: st.DataObject) -> None:
        STATS.count_rule("conflicting_record")
        rid = data.draw(st.sampled_from(sorted(self.records)), label="record")
        body = dict(self.records[rid])
        body["notes"] = body.get("notes", "") + " (changed)"
        resp = self.api.post("/v1/records", body, key=self._key_for(body["user"], data))
        check(resp.status_code == 409, f"reused id: {resp.status_code} {resp.text}")
        check("different content" in resp.json()["detail"], f"409 detail: {resp.text}")

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def post_feedback(self, data: st.DataObject) -> None:
        STATS.count_rule("post_feedback")
        user = self._user(data)
        signal = data.draw(st.sampled_from(["liked", "disliked", "rated", "skipped"]), "signal")
        body: dict[str, Any] = {
            "id": self._id("f"),
            "user": user,
            "coffee": data.draw(st.sampled_from(COFFEES), label="coffee"),
            "signal": signal,
        }
        if signal == "rated":
            body["rating"] = data.draw(st.integers(1, 5), label="rating")
        ts = self._time(data)
        if ts is not None:
            body["timestamp"] = ts
        key = self._key_for(user, data)
        resp = self.api.post("/v1/feedback", body, key=key)
        check(resp.status_code == 201, f"new feedback: {resp.status_code} {resp.text}")
        self.feedback[body["id"]] = body
        self.coffees.add(body["coffee"])
        self.touched = user
        if data.draw(st.booleans(), label="retry"):
            again = self.api.post("/v1/feedback", body, key=key)
            check(again.status_code == 200, f"feedback retry: {again.status_code} {again.text}")

    @precondition(lambda self: bool(self.feedback))
    @rule(data=st.data())
    def conflicting_feedback(self, data: st.DataObject) -> None:
        STATS.count_rule("conflicting_feedback")
        fid = data.draw(st.sampled_from(sorted(self.feedback)), label="feedback")
        body = dict(self.feedback[fid])
        body["coffee"] = next(c for c in COFFEES if c != body["coffee"])
        resp = self.api.post("/v1/feedback", body, key=self._key_for(body["user"], data))
        check(resp.status_code == 409, f"reused feedback id: {resp.status_code} {resp.text}")

    def _event(self, data: st.DataObject, user: str) -> dict[str, Any]:
        kind = data.draw(st.sampled_from(APP_EVENT_TYPES), label="event type")
        ts = self._time(data)
        body: dict[str, Any] = {
            "type": kind,
            "event_id": self._id("e"),
            "user": user,
            "event_time": ts if ts is not None else _iso(self.now, UTC),
        }
        coffee = data.draw(st.sampled_from(COFFEES), label="event coffee")
        arm = data.draw(st.sampled_from([None, "a", "b"]), label="arm")
        if arm is not None and kind != "lab_session":
            body["experiment"], body["arm"] = "adv-exp", arm
        if kind == "box_rated":
            body |= {"box": "box-1", "rating": data.draw(st.integers(1, 5), label="box rating")}
            if data.draw(st.booleans(), label="box coffee"):
                body["coffee"] = coffee
        elif kind == "box_shipped":
            body |= {"box": "box-1", "coffees": [coffee]}
        elif kind == "recommendation_clicked":
            body["coffee"] = coffee
        elif kind == "lab_session":
            body |= {"recipe": "V60 4:6", "rating": data.draw(st.integers(1, 5), label="lab")}
        elif kind in ("subscription_paused", "subscription_cancelled"):
            body["reason"] = data.draw(NOTES, label="reason")
        return body

    def _acked_event(self, body: dict[str, Any]) -> None:
        self.events[body["event_id"]] = body
        if body["type"] in ("box_rated", "recommendation_clicked") and "coffee" in body:
            self.coffees.add(body["coffee"])

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def post_event(self, data: st.DataObject) -> None:
        STATS.count_rule("post_event")
        user = self._user(data)
        body = self._event(data, user)
        key = self._key_for(user, data)
        resp = self.api.post("/v1/events", body, key=key)
        check(resp.status_code == 201, f"new event: {resp.status_code} {resp.text}")
        self._acked_event(body)
        self.touched = user

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def post_event_batch(self, data: st.DataObject) -> None:
        """A batch mixing new events, exact repeats, conflicts and one invalid item."""
        STATS.count_rule("post_event_batch")
        user = self._user(data)
        key = self._key_for(user, data)
        new = [self._event(data, user) for _ in range(data.draw(st.integers(1, 4), "n"))]
        mine = sorted(e for e, b in self.events.items() if b["user"] == user)
        repeats = [self.events[e] for e in mine[:1]]
        conflicts = [self.events[e] | {"event_time": "2020-02-02T02:02:02Z"} for e in mine[1:2]]
        invalid = {"type": "box_rated", "event_id": self._id("bad"), "user": user}
        batch = new + repeats + conflicts + [invalid]
        resp = self.api.post("/v1/events", batch, key=key)
        check(resp.status_code == 200, f"batch: {resp.status_code} {resp.text}")
        statuses = [r["status"] for r in resp.json()["results"]]
        want = [201] * len(new) + [200] * len(repeats) + [409] * len(conflicts) + [422]
        check(statuses == want, f"batch statuses {statuses} != {want}: {resp.text}")
        for e in new:
            self._acked_event(e)
        self.refused.add(invalid["event_id"])
        self.touched = user

    @precondition(lambda self: bool(self.events))
    @rule(data=st.data())
    def retry_or_conflict_event(self, data: st.DataObject) -> None:
        STATS.count_rule("retry_or_conflict_event")
        eid = data.draw(st.sampled_from(sorted(self.events)), label="event")
        body = self.events[eid]
        key = self._key_for(body["user"], data)
        if data.draw(st.booleans(), label="conflict"):
            changed = body | {"event_time": "2021-01-01T00:00:00Z"}
            resp = self.api.post("/v1/events", changed, key=key)
            check(resp.status_code == 409, f"event id reuse: {resp.status_code} {resp.text}")
        else:
            resp = self.api.post("/v1/events", body, key=key)
            check(resp.status_code == 200, f"event retry: {resp.status_code} {resp.text}")

    # ------------------------------------------------------------------ isolation
    @precondition(lambda self: len(self.keys) >= 2)
    @rule(data=st.data())
    def write_as_someone_else(self, data: st.DataObject) -> None:
        """A user key writing for another user (fresh or demo): 403, nothing stored."""
        STATS.count_rule("write_as_someone_else")
        users = sorted(self.keys)
        actor = data.draw(st.sampled_from(users), label="actor")
        victim = data.draw(
            st.sampled_from([u for u in users if u != actor] + sorted(self.outsiders)), "victim"
        )
        kind = data.draw(st.sampled_from(["records", "feedback", "events"]), label="kind")
        wid = self._id("x")
        if kind == "records":
            body: dict[str, Any] = {"id": wid, "user": victim, "notes": "not mine"}
        elif kind == "feedback":
            body = {"id": wid, "user": victim, "coffee": COFFEES[0], "signal": "liked"}
        else:
            body = self._event(data, victim) | {"event_id": wid}
        resp = self.api.post(f"/v1/{kind}", body, key=self.keys[actor])
        check(resp.status_code == 403, f"{actor} wrote for {victim}: {resp.status_code}")
        self.refused.add(wid)
        # ... and a demo user's key writing for one of ours
        outsider = data.draw(st.sampled_from(sorted(self.outsiders)), label="outsider")
        body2 = {"id": self._id("x"), "user": actor, "notes": "not mine either"}
        resp2 = self.api.post("/v1/records", body2, key=self.outsiders[outsider])
        check(resp2.status_code == 403, f"{outsider} wrote for {actor}: {resp2.status_code}")
        self.refused.add(body2["id"])

    @precondition(lambda self: len(self.keys) >= 2)
    @rule(data=st.data())
    def read_as_someone_else(self, data: st.DataObject) -> None:
        STATS.count_rule("read_as_someone_else")
        users = sorted(self.keys)
        actor = data.draw(st.sampled_from(users), label="actor")
        victim = data.draw(
            st.sampled_from([u for u in users if u != actor] + sorted(self.outsiders)), "victim"
        )
        route = data.draw(
            st.sampled_from(USER_ROUTES),
            label="route",
        )
        resp = self.api.get(f"/v1/users/{victim}{route}", key=self.keys[actor])
        check(resp.status_code == 403, f"{actor} read {victim}{route}: {resp.status_code}")
        outsider = data.draw(st.sampled_from(sorted(self.outsiders)), label="outsider")
        resp2 = self.api.get(f"/v1/users/{actor}{route}", key=self.outsiders[outsider])
        check(resp2.status_code == 403, f"{outsider} read {actor}{route}: {resp2.status_code}")

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def unknown_coffee_is_refused(self, data: st.DataObject) -> None:
        STATS.count_rule("unknown_coffee_is_refused")
        user = self._user(data)
        body = {"id": self._id("nc"), "user": user, "coffee": f"{self.tag}-nope", "notes": "?"}
        resp = self.api.post("/v1/records", body, key=self._key_for(user, data))
        check(resp.status_code == 404, f"unknown coffee: {resp.status_code} {resp.text}")
        self.refused.add(body["id"])

    # ------------------------------------------------------------------ reads
    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def read_recommendations(self, data: st.DataObject) -> None:
        STATS.count_rule("read_recommendations")
        user = self._user(data)
        resp = self.api.get(f"/v1/users/{user}/recommendations?k=3", key=self.keys[user])
        check(resp.status_code in (200, 404), f"recommendations: {resp.status_code} {resp.text}")

    @precondition(lambda self: bool(self.keys))
    @rule(data=st.data())
    def read_everything_of(self, data: st.DataObject) -> None:
        STATS.count_rule("read_everything_of")
        self._check_user(self._user(data))

    @precondition(lambda self: self._writes() >= self.checked_at + 3)
    @rule()
    def signals_equal_batch(self) -> None:
        """After a few writes: drain the stream, compare with batch_aggregate."""
        STATS.count_rule("signals_equal_batch")
        self._check_stream()

    # ------------------------------------------------------------------ invariants
    @invariant()
    def last_touched_user_is_consistent(self) -> None:
        STATS.steps += 1
        if self.touched is not None:
            self._check_user(self.touched)
            self.touched = None

    def teardown(self) -> None:
        if self.keys:
            for user in sorted(self.keys):
                self._check_user(user)
            self._check_stream()

    def _check_user(self, user: str) -> None:
        key = self.keys[user]
        resp = self.api.get(f"/v1/users/{user}/records?limit=1000", key=key)
        check(resp.status_code == 200, f"records of {user}: {resp.status_code} {resp.text}")
        listed = {r["id"]: r for r in resp.json()}
        check(all(r["user"] == user for r in listed.values()), f"foreign items for {user}")
        mine = {rid: b for rid, b in self.records.items() if b["user"] == user}
        check(set(listed) == set(mine), f"{user}: listed {sorted(listed)} != acked {sorted(mine)}")
        check(not (set(listed) & self.refused), f"{user}: a refused write was stored")
        for rid, body in mine.items():
            got = listed[rid]
            want = _stored_notes(body["notes"])
            check(got["notes"] == want, f"{rid} notes {got['notes']!r} != {want!r}")
            check(got.get("coffee") == body.get("coffee"), f"{rid} coffee: {got.get('coffee')}")
            if "timestamp" in body:
                check(
                    _utc(got["timestamp"]) == _utc(body["timestamp"]),
                    f"{rid} timestamp {got['timestamp']} != sent {body['timestamp']}",
                )
            for name, value in body.get("metrics", {}).items():
                check(got["metrics"][name] == value, f"{rid} metric {name}")
        times = [_utc(r["timestamp"]) for r in resp.json()]
        check(times == sorted(times), f"{user}: records not oldest first")
        summary = self.api.get(f"/v1/users/{user}", key=key)
        check(summary.status_code == 200, f"summary of {user}: {summary.status_code}")
        n_fb = sum(b["user"] == user for b in self.feedback.values())
        check(summary.json()["n_records"] == len(mine), f"{user}: n_records {summary.text}")
        check(summary.json()["n_feedback"] == n_fb, f"{user}: n_feedback {summary.text}")

    def _writes(self) -> int:
        return len(self.records) + len(self.feedback) + len(self.events)

    def _check_stream(self) -> None:
        self.checked_at = self._writes()
        entries = drain(self.client)
        ref = batch_aggregate(entries)
        logged: dict[str, Event] = {}
        for e in entries:
            event = parse_event(e.value)
            first = logged.setdefault(event.event_id, event)
            check(first == event, f"{event.event_id} logged twice with different content")
        # every acknowledged write reached the log (at least once) with its content
        for rid, body in self.records.items():
            got = logged.get(f"tasting:{rid}")
            check(isinstance(got, TastingLogged), f"record {rid} is not in the event log")
            assert isinstance(got, TastingLogged)
            check(got.user == body["user"] and got.coffee == body.get("coffee"), f"{rid}: {got}")
            check(got.metrics == Metrics(**body.get("metrics", {})), f"{rid} metrics: {got}")
            if "timestamp" in body:
                check(got.event_time == _utc(body["timestamp"]), f"{rid} time: {got}")
        for fid, body in self.feedback.items():
            fb = logged.get(f"feedback:{fid}")
            check(isinstance(fb, FeedbackGiven), f"feedback {fid} is not in the event log")
            assert isinstance(fb, FeedbackGiven)
            check(
                (fb.user, fb.coffee, fb.signal.value, fb.rating)
                == (body["user"], body["coffee"], body["signal"], body.get("rating")),
                f"feedback {fid}: logged {fb} for {body}",
            )
            if "timestamp" in body:
                check(fb.event_time == _utc(body["timestamp"]), f"{fid} time: {fb}")
        for eid, body in self.events.items():
            check(logged.get(eid) == parse_event(body), f"event {eid}: {logged.get(eid)}")
        refused = sorted(
            e for e in logged if e in self.refused or e.split(":", 1)[-1] in self.refused
        )
        check(not refused, f"refused writes reached the log: {refused}")
        for user in sorted(self.keys):
            resp = self.api.get(f"/v1/users/{user}/signals", key=self.keys[user])
            want = ref["users"].get(user)
            STATS.signal_comparisons += 1
            if want is None:
                check(resp.status_code == 404, f"signals of {user}: {resp.status_code}")
                continue
            check(resp.status_code == 200, f"signals of {user}: {resp.status_code} {resp.text}")
            as_of = _utc(resp.json()["as_of"])
            check(as_of <= datetime.now(UTC) + SKEW, f"{user}: as_of {as_of} ahead of the clock")
            check(
                resp.json() == jsonable(want),
                f"signals of {user} differ from batch_aggregate:\n{resp.json()}\n!=\n{want}",
            )
        for coffee in sorted(self.coffees):
            resp = self.api.get(f"/v1/coffees/{coffee}/stats", key=ADMIN_KEY)
            want = ref["coffees"].get(coffee)
            STATS.signal_comparisons += 1
            if want is None:  # nobody reacted to it yet (a tasting alone does not count)
                check(resp.status_code == 404, f"stats of {coffee}: {resp.status_code}")
                continue
            check(resp.status_code == 200, f"stats of {coffee}: {resp.status_code}")
            check(
                resp.json() == jsonable(want),
                f"stats of {coffee} differ from batch_aggregate:\n{resp.json()}\n!=\n{want}",
            )


def _machine_settings(examples: int, steps: int, derandomize: bool) -> settings:
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        derandomize=derandomize,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


CI_EXAMPLES = int(os.environ.get("T2V_ADVERSARIAL_EXAMPLES", "15"))
CI_STEPS = int(os.environ.get("T2V_ADVERSARIAL_STEPS", "20"))


@pytest.fixture(scope="module", params=BACKENDS)
def api_client(
    request: pytest.FixtureRequest, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Any:
    tmp = tmp_path_factory.mktemp(f"adv-state-{request.param}")
    with running_app(request.param, request, tiny_model_dir, tmp, "state") as client:
        yield client


def test_random_interleavings_keep_every_invariant(api_client: TestClient) -> None:
    class Machine(ApiMachine):
        client = api_client

    if not SOAK:
        run_state_machine_as_test(Machine, settings=_machine_settings(CI_EXAMPLES, CI_STEPS, True))
        report("ci")
        return
    budget = SOAK_SECONDS / len(BACKENDS)
    violations_before = STATS.violations  # STATS spans the session (both backends)
    started = STATS.as_dict()
    fixed = os.environ.get("T2V_SOAK_SEED")
    base = int(fixed) if fixed else int(time.time())
    deadline = time.monotonic() + budget
    for round_ in itertools.count():
        if time.monotonic() > deadline or (fixed and round_ > 0):
            break
        round_seed = base + round_
        try:
            run_state_machine_as_test(
                seed(round_seed)(Machine),
                settings=_machine_settings(
                    int(os.environ.get("T2V_SOAK_EXAMPLES", "10")),
                    int(os.environ.get("T2V_SOAK_STEPS", "50")),
                    False,
                ),
            )
        except Exception as exc:  # noqa: BLE001 - counted, reported, re-raised below
            STATS.violations += 1
            # the whole chain: Hypothesis wraps what failed (FlakyFailure, ExceptionGroup)
            # and attaches the falsifying steps as notes
            text = "".join(traceback.format_exception(exc))
            STATS.failures.append(f"seed {round_seed}: {text[-6000:]}")
            print(f"\n[adversarial] round with seed {round_seed} FAILED:\n{text}")
        print(f"[adversarial] round {round_} (seed {round_seed}) done; {STATS.as_dict()}")
    settings_in_force = api_client.app.state.settings  # type: ignore[attr-defined]
    report(f"soak {settings_in_force.database_url.split(':')[0]}", since=started)
    assert STATS.violations == violations_before, "\n\n".join(STATS.failures)
