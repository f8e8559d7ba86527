"""The package layering (``taste2vec._layers``) holds for every module under src/taste2vec.

Every import is checked, wherever it is written: module level, inside functions (lazy
imports), under ``if TYPE_CHECKING``, relative imports, and ``importlib.import_module`` /
``__import__`` calls with a literal name.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

import taste2vec
from taste2vec._layers import LAYERS, PENDING, TOOLING, layer_index, markdown_table

SRC = Path(taste2vec.__file__).resolve().parent
DOC = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
ROOT = "taste2vec"


@dataclass(frozen=True)
class Violation:
    path: str  # relative to src/taste2vec
    line: int
    statement: str
    target: str  # the imported module, absolute
    rule: str

    def __str__(self) -> str:
        where = f"src/taste2vec/{self.path}:{self.line}"
        return f"{where}: `{self.statement}` imports {self.target}: {self.rule}"


def unit_of_path(rel: Path) -> str:
    """The top-level unit a file belongs to: ``cli.py`` -> cli, ``store/_base.py`` -> store."""
    if len(rel.parts) == 1:
        return ROOT if rel.name == "__init__.py" else rel.stem
    return rel.parts[0]


def unit_of_module(module: str) -> str | None:
    """``taste2vec.store._base`` -> store; ``taste2vec`` -> taste2vec; others -> None."""
    parts = module.split(".")
    if parts[0] != ROOT:
        return None
    return parts[1] if len(parts) > 1 else ROOT


def _known_units() -> set[str]:
    units = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    units |= {p.stem for p in SRC.glob("*.py") if p.name != "__init__.py"}
    return units


def imported_modules(rel: Path, tree: ast.AST) -> list[tuple[int, str, str]]:
    """``(line, statement, absolute module)`` for every taste2vec import anywhere in ``tree``."""
    package = [ROOT, *rel.parts[:-1]]  # the package a relative import starts from
    units = _known_units()
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((node.lineno, f"import {alias.name}", alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                if not base:
                    continue  # beyond the top package: Python refuses it anyway
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names = ", ".join(a.name for a in node.names)
            statement = f"from {'.' * node.level}{node.module or ''} import {names}"
            if module == ROOT:  # from taste2vec import cli: the unit is the name imported
                for alias in node.names:
                    target = f"{ROOT}.{alias.name}" if alias.name in units else ROOT
                    found.append((node.lineno, statement, target))
            else:
                found.append((node.lineno, statement, module))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in {"import_module", "__import__"} and isinstance(arg, ast.Constant):
                if isinstance(arg.value, str):
                    found.append((node.lineno, f"{name}({arg.value!r})", arg.value))
    return [f for f in found if unit_of_module(f[2]) is not None]


def check_source(rel: Path, source: str) -> list[Violation]:
    """The layering violations of one file (``rel`` relative to src/taste2vec)."""
    unit = unit_of_path(rel)
    if unit == TOOLING:
        return []  # test tooling may import any runtime package
    own = layer_index(unit)
    out: list[Violation] = []
    for line, statement, module in imported_modules(rel, ast.parse(source, str(rel))):
        target = unit_of_module(module)
        assert target is not None
        if target == unit:
            continue

        def v(rule: str, module: str = module, line: int = line, stmt: str = statement) -> None:
            out.append(Violation(rel.as_posix(), line, stmt, module, rule))

        if own is None:
            v(f"'{unit}' is in no layer; place it in taste2vec._layers.LAYERS")
            continue
        if target == TOOLING:
            v(
                f"the runtime never imports taste2vec.{TOOLING} (test and bench tooling); "
                f"move the code it needs into the runtime, or this module into {TOOLING}"
            )
            continue
        theirs = layer_index(target)
        mine = LAYERS[own]
        if theirs is None:
            v(f"'{target}' is in no layer; place it in taste2vec._layers.LAYERS")
        elif theirs == own:
            v(
                f"'{unit}' and '{target}' are both in layer {own} ({mine.name}), whose members "
                "are independent; move one of them (or the shared piece) to another layer"
            )
        elif theirs > own:
            v(
                f"'{unit}' (layer {own}, {mine.name}) may only import layers below it, and "
                f"'{target}' is layer {theirs} ({LAYERS[theirs].name}): an upward import"
            )
    return out


def all_violations() -> list[Violation]:
    found: list[Violation] = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        found += check_source(rel, path.read_text(encoding="utf-8"))
    return found


def test_every_runtime_module_imports_only_downward() -> None:
    found = all_violations()
    new = [v for v in found if (v.path, v.target) not in PENDING]
    assert not new, "layering violations (rules in src/taste2vec/_layers.py):\n" + "\n".join(
        str(v) for v in new
    )


def test_pending_exceptions_are_still_needed() -> None:
    still = {(v.path, v.target) for v in all_violations()}
    stale = [key for key in PENDING if key not in still]
    assert not stale, f"fixed, remove from taste2vec._layers.PENDING: {stale}"


def test_every_unit_is_placed_once() -> None:
    placed = [m for layer in LAYERS for m in layer.members]
    assert len(placed) == len(set(placed)), f"a unit is in two layers: {placed}"
    assert TOOLING not in placed
    missing = sorted(u for u in _known_units() | {ROOT} if u not in placed and u != TOOLING)
    assert not missing, f"not placed in taste2vec._layers.LAYERS: {missing}"


def test_the_docs_show_the_layers_from_the_module() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert markdown_table() in text, (
        "docs/architecture.md's layer table differs from taste2vec._layers; "
        "paste the output of `python -m taste2vec._layers`"
    )


# --------------------------------------------------------------- the checker itself
UPWARD_MODEL = """
from __future__ import annotations
from typing import TYPE_CHECKING
import numpy as np
from taste2vec.schema import Coffee
from . import vocab
if TYPE_CHECKING:
    from taste2vec.store import Store
def lazy() -> None:
    from taste2vec.service.core import TasteService
    import taste2vec.api.app
    from taste2vec import cli, __version__
    from ..sim.stream import reference
    from ..schema import records
    import importlib
    importlib.import_module("taste2vec.training.train")
"""


def test_the_checker_finds_every_kind_of_upward_import() -> None:
    found = check_source(Path("model/text.py"), UPWARD_MODEL)
    got = sorted((v.line, v.target) for v in found)
    assert got == [
        (8, "taste2vec.store"),  # TYPE_CHECKING
        (10, "taste2vec.service.core"),  # function level
        (11, "taste2vec.api.app"),
        (12, "taste2vec.cli"),  # from taste2vec import cli (not __version__: layer 0)
        (13, "taste2vec.sim.stream"),  # relative, into the tooling
        (16, "taste2vec.training.train"),  # importlib with a literal name
    ]
    by_line = {v.line: v for v in found}
    assert "upward import" in by_line[10].rule and "'service'" in by_line[10].rule
    assert "never imports taste2vec.sim" in by_line[13].rule
    assert str(by_line[10]).startswith("src/taste2vec/model/text.py:10: `from taste2vec.service")


@pytest.mark.parametrize(
    ("rel", "source", "expected"),
    [
        (Path("recommend/x.py"), "from taste2vec.stream import events\n", "both in layer"),
        (Path("store/x.py"), "from taste2vec.stream import events\n", None),
        (Path("sim/x.py"), "from taste2vec.api import app\n", None),
        (Path("newthing/x.py"), "from taste2vec.schema import Coffee\n", "in no layer"),
        (Path("store/_x.py"), "from ._base import StoreBase\n", None),
    ],
    ids=["same-layer", "downward", "sim-imports-anything", "unplaced-unit", "own-package"],
)
def test_the_rules(rel: Path, source: str, expected: str | None) -> None:
    found = check_source(rel, source)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0].rule
