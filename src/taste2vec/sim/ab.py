"""A/B benches of two source trees (bench only): run one script under each.

``bench/http_cpu.py`` and ``bench/store_cpu.py`` measure this checkout against a baseline
tree (e.g. a commit with a change reverted) by running the same script with
``PYTHONPATH`` pointing at each tree; the script prints one ``RESULT <json>`` line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

PREFIX = "RESULT "


def run_under(src: Path, script: str, *args: str) -> Any:
    """Run ``python -c script args`` with ``src`` as the package source; its last
    ``RESULT`` line, parsed. Exits with the script's output when it failed."""
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    done = subprocess.run(  # noqa: S603 - this interpreter, our own script
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith(PREFIX)]
    if done.returncode != 0 or not lines:
        sys.exit(f"run with {src} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(lines[-1][len(PREFIX) :])
