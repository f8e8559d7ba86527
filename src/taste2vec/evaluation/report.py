"""Write benchmark sections into ``bench/RESULTS.md`` without touching the others.

Each section sits between ``<!-- BEGIN name -->`` and ``<!-- END name -->``
markers; writing a section replaces only its own block.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

HEADER = (
    "# Benchmark results\n\n"
    "Each section is written by the command named in it. Figures come from the run "
    "that wrote them, next to the baseline from the same run and the target.\n"
)


def update_section(path: Path, name: str, body: str) -> None:
    """Insert or replace section ``name`` of the results file, atomically."""
    path = Path(path)
    text = path.read_text() if path.exists() else HEADER
    block = f"<!-- BEGIN {name} -->\n{body.rstrip()}\n<!-- END {name} -->"
    pattern = re.compile(
        rf"<!-- BEGIN {re.escape(name)} -->.*?<!-- END {re.escape(name)} -->", re.DOTALL
    )
    text = (
        pattern.sub(lambda _: block, text)
        if pattern.search(text)
        else f"{text.rstrip()}\n\n{block}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
