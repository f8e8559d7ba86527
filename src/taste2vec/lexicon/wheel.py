"""The SCA / WCR 2016 Coffee Taster's Flavor Wheel as a flat, validated tuple of nodes.

The bundled ``data/wheel_nodes.csv`` lists the wheel's 110 nodes (9 families, 28 tier-2
and 73 tier-3 nodes) in a fixed order. A node's ``index`` is its position in that file,
so vectors indexed by node stay stable across releases as long as the file does.

>>> nodes = parse_wheel_nodes("path,name,level,parent,name_ko\\nFloral,Floral,1,,꽃\\n")
>>> nodes[0].family, nodes[0].name_ko
('Floral', '꽃')
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from taste2vec.errors import LexiconError

WHEEL_COLUMNS: tuple[str, ...] = ("path", "name", "level", "parent", "name_ko")
PATH_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class WheelNode:
    """One node of the flavour wheel.

    ``path`` is the unique id (``"Fruity > Berry > Blackberry"``), ``family`` the name of
    its tier-1 ancestor, ``parent`` the parent's path (``None`` for a family).
    """

    index: int
    path: str
    name: str
    name_ko: str
    level: int
    parent: str | None
    family: str


def parse_wheel_nodes(text: str) -> tuple[WheelNode, ...]:
    """Parse and validate the wheel CSV (columns :data:`WHEEL_COLUMNS`), keeping file order.

    Raises :class:`LexiconError` naming the line when a row is malformed, a path repeats,
    a parent is unknown or listed after its child, or a Korean name is missing.
    """
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != WHEEL_COLUMNS:
        raise LexiconError(
            f"wheel CSV must have the columns {', '.join(WHEEL_COLUMNS)}; "
            f"found {', '.join(reader.fieldnames or ())}"
        )
    nodes: list[WheelNode] = []
    by_path: dict[str, WheelNode] = {}
    for row in reader:
        line = reader.line_num
        node = _parse_row(row, len(nodes), line, by_path)
        by_path[node.path] = node
        nodes.append(node)
    if not nodes:
        raise LexiconError("wheel CSV has no nodes")
    return tuple(nodes)


def _parse_row(
    row: dict[str, str], index: int, line: int, by_path: dict[str, WheelNode]
) -> WheelNode:
    path = (row.get("path") or "").strip()
    name = (row.get("name") or "").strip()
    name_ko = (row.get("name_ko") or "").strip()
    parent = (row.get("parent") or "").strip() or None
    where = f"wheel CSV line {line} ({path or '?'})"
    try:
        level = int(row.get("level") or "")
    except ValueError:
        raise LexiconError(f"{where}: level must be 1, 2 or 3") from None
    if not path or not name:
        raise LexiconError(f"{where}: path and name are required")
    if not name_ko:
        raise LexiconError(f"{where}: name_ko is empty; every node needs a Korean name")
    if path in by_path:
        raise LexiconError(f"{where}: path appears twice")
    parts = path.split(PATH_SEPARATOR)
    if len(parts) != level or level not in (1, 2, 3) or parts[-1] != name:
        raise LexiconError(f"{where}: path, name and level {level} disagree")
    expected_parent = PATH_SEPARATOR.join(parts[:-1]) or None
    if parent != expected_parent:
        raise LexiconError(f"{where}: parent should be {expected_parent!r}, found {parent!r}")
    if parent is not None and parent not in by_path:
        raise LexiconError(f"{where}: parent {parent!r} must be listed before its children")
    return WheelNode(
        index=index,
        path=path,
        name=name,
        name_ko=name_ko,
        level=level,
        parent=parent,
        family=parts[0],
    )
