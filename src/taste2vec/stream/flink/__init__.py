"""Run the Flink SQL job (``job.py``) from the main environment.

PyFlink cannot share the main virtual environment (it pins numpy, pandas,
protobuf and pyarrow to versions the rest of the package does not run with), so
it lives in its own, ``.venv-flink`` (``make .venv-flink/.installed``), and the
job is a self-contained script run with that interpreter as a subprocess. This
module finds the interpreter, runs the job on a local Flink mini-cluster and
returns its result rows, the same shape the embedded worker emits, and its dead letters
(every invalid line with a reason, like the worker's)::

    rows = run_flink_job("events.jsonl", "flink-rows.jsonl")
    result = run_flink("events.jsonl", "flink-rows.jsonl", dead_letters_path="dead.jsonl")
    result.rows, result.dead_letters  # [{"reason": "malformed JSON", "payload": "{oops"}, ...]

The interpreter is, in order: the ``python`` argument, ``$T2V_FLINK_PYTHON``,
``.venv-flink/bin/python`` in the repository root, then in the current directory.
Java 17 must be on the PATH (or ``JAVA_HOME`` set).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taste2vec.errors import MissingExtraError, Taste2VecError

JOB_SCRIPT = Path(__file__).with_name("job.py")
FLINK_VENV = ".venv-flink"
ENV_VAR = "T2V_FLINK_PYTHON"
DEFAULT_TIMEOUT_S = 600.0
_REPO_ROOT = Path(__file__).resolve().parents[4]  # src/taste2vec/stream/flink/__init__.py


class FlinkNotInstalledError(MissingExtraError):
    """No interpreter with PyFlink was found; the message says how to create one."""

    def __init__(self, tried: list[Path]) -> None:
        super().__init__("apache-flink", "flink")
        places = ", ".join(str(p) for p in tried) or "(nothing)"
        message = (
            f"no PyFlink interpreter found (tried {places}). PyFlink lives in its own virtual "
            f"environment: run `make {FLINK_VENV}/.installed` (python3.11 -m venv {FLINK_VENV} && "
            f"{FLINK_VENV}/bin/pip install 'apache-flink==2.3.0'), or set {ENV_VAR} to a Python "
            "that has apache-flink installed"
        )
        self.msg = message  # what ImportError.__str__ shows
        self.args = (message,)


class FlinkJobError(Taste2VecError):
    """The Flink job failed or timed out; the message ends with the tail of its stderr."""


@dataclass(frozen=True)
class FlinkResult:
    """The job's rows (sorted by aggregate, key, window_start), its dead letters (``{"reason",
    "payload"}`` per invalid input line, in input order at parallelism 1) and what it
    measured."""

    rows: list[dict[str, Any]]
    dead_letters: list[dict[str, str]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0


def find_flink_python(python: str | Path | None = None) -> Path:
    """The interpreter that runs the job; :class:`FlinkNotInstalledError` if there is none."""
    if python is not None:
        candidates = [Path(python)]
    elif os.environ.get(ENV_VAR):
        candidates = [Path(os.environ[ENV_VAR])]
    else:
        candidates = [_REPO_ROOT / FLINK_VENV / "bin" / "python"]
        local = Path.cwd() / FLINK_VENV / "bin" / "python"
        if local != candidates[0]:
            candidates.append(local)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise FlinkNotInstalledError(candidates)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_flink(
    events_path: str | Path,
    out_path: str | Path,
    python: str | Path | None = None,
    *,
    dead_letters_path: str | Path | None = None,
    parallelism: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> FlinkResult:
    """Run the job over ``events_path`` (JSON lines); rows are also written to ``out_path``,
    and the dead letters to ``dead_letters_path`` when given (JSON lines)."""
    interpreter = find_flink_python(python)
    events = Path(events_path)
    if not events.exists():
        raise FlinkJobError(f"events file {events} does not exist")
    out = Path(out_path)
    with tempfile.TemporaryDirectory(prefix="t2v-flink-dead-") as tmp:
        dead = (
            Path(dead_letters_path) if dead_letters_path is not None else Path(tmp) / "dead.jsonl"
        )
        command = [
            str(interpreter),
            str(JOB_SCRIPT),
            "--events",
            str(events),
            "--out",
            str(out),
            "--dead-letters",
            str(dead),
            "--parallelism",
            str(parallelism),
        ]
        started = time.perf_counter()
        try:
            done = subprocess.run(  # noqa: S603 - fixed argv, no shell
                command, capture_output=True, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            raise FlinkJobError(
                f"the Flink job timed out after {timeout_s:.0f} s; stderr tail:\n{_tail(stderr)}"
            ) from None
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise FlinkJobError(
                f"the Flink job failed (exit {done.returncode}; {interpreter}); "
                f"stderr tail:\n{_tail(done.stderr)}"
            )
        rows = _read_jsonl(out)
        letters: list[dict[str, str]] = _read_jsonl(dead)
    summary: dict[str, Any] = {}
    for line in reversed(done.stdout.strip().splitlines()):
        try:
            summary = json.loads(line)
            break
        except ValueError:
            continue
    return FlinkResult(rows=rows, dead_letters=letters, summary=summary, wall_s=wall)


def _read_jsonl(path: Path) -> list[Any]:
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    except (OSError, ValueError) as exc:
        raise FlinkJobError(f"the Flink job left no readable output at {path}: {exc}") from None


def run_flink_job(
    events_path: str | Path,
    out_path: str | Path,
    python: str | Path | None = None,
    *,
    dead_letters_path: str | Path | None = None,
    parallelism: int = 1,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[dict[str, Any]]:
    """Run the job over ``events_path``; return its rows (also written to ``out_path``; the
    dead letters go to ``dead_letters_path`` when given)."""
    return run_flink(
        events_path,
        out_path,
        python,
        dead_letters_path=dead_letters_path,
        parallelism=parallelism,
        timeout_s=timeout_s,
    ).rows


__all__ = [
    "FlinkJobError",
    "FlinkNotInstalledError",
    "FlinkResult",
    "JOB_SCRIPT",
    "find_flink_python",
    "run_flink",
    "run_flink_job",
]
