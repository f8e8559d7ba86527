"""Start a real ``taste2vec serve`` process for tests and benches (never the runtime)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["free_port", "start_server", "wait_ready"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    env: dict[str, str], port: int, log: Path, timeout_s: float = 120.0
) -> subprocess.Popen[bytes]:
    """``taste2vec serve --port PORT`` with ``env``, output appended to ``log``; returns once
    ``/readyz`` answers 200. Raises AssertionError with the log's tail when the server
    exits early or is not ready within ``timeout_s`` (it is killed then)."""
    with log.open("ab") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and CLI
            [sys.executable, "-m", "taste2vec.cli", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(proc, f"http://127.0.0.1:{port}", timeout_s)
    except RuntimeError as exc:
        proc.kill()
        raise AssertionError(f"{exc}:\n{log.read_text()[-3000:]}") from None
    return proc


def wait_ready(proc: subprocess.Popen[bytes], base: str, timeout_s: float = 900.0) -> None:
    """Return once ``base``/readyz answers 200; RuntimeError when ``proc`` exits first or
    ``timeout_s`` passes (the caller decides what to do with the process)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not become ready")
        time.sleep(0.2)
