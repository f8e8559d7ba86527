"""Every document the code and the docs refer to is in the repository.

Docstrings once cited ``.plan/stream-design.md``, a file that was never committed; a reader
of the repository cannot follow such a reference. This scans the package, the benches,
the docs and the README for references to markdown documents (``name.md``, with or without
a path) and to the ``.plan/`` folder, and fails on any whose file name is not tracked.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MD = re.compile(r"(?<![\w/.-])((?:\.{1,2}/)?[\w./-]*?[\w-]+\.md)\b")
PLAN = re.compile(r"(?<![\w])\.plan/")


def _tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def _sources(tracked: list[str]) -> list[str]:
    return [
        p
        for p in tracked
        if (p.startswith(("src/taste2vec/", "bench/", "docs/")) and p.endswith((".py", ".md")))
        or p == "README.md"
    ]


def references(text: str) -> list[tuple[int, str]]:
    """``(line, reference)`` of every markdown document or ``.plan/`` path in ``text``."""
    found: list[tuple[int, str]] = []
    for n, line in enumerate(text.splitlines(), 1):
        found += [(n, m.group(1)) for m in MD.finditer(line)]
        found += [(n, ".plan/") for _ in PLAN.finditer(line)]
    return found


def test_the_scanner_finds_references() -> None:
    text = "see .plan/stream-design.md\nand docs/stream.md, ARCHITECTURE.md; not foo.mdx\n"
    assert references(text) == [
        (1, ".plan/stream-design.md"),
        (1, ".plan/"),
        (2, "docs/stream.md"),
        (2, "ARCHITECTURE.md"),
    ]


def test_every_referenced_document_is_in_the_repository() -> None:
    tracked = _tracked()
    names = {Path(p).name for p in tracked}
    missing = []
    for path in _sources(tracked):
        file = ROOT / path
        if not file.is_file():
            continue  # deleted in the working tree, not yet committed
        for line, ref in references(file.read_text(encoding="utf-8")):
            if ref == ".plan/" or Path(ref).name not in names:
                missing.append(f"{path}:{line}: {ref}")
    assert not missing, "references to documents not in the repository:\n" + "\n".join(missing)
