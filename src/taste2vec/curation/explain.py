"""One line per pick saying why it is in the box."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taste2vec.curation.run import Built

MAX_LEN = 500


def explain_pick(built: Built, u: int, c: int, box: list[int]) -> str:
    """E.g. "Your #2 match of 61 (affinity 0.93). Fruity: a family outside your usual
    Chocolate, Nutty (discovery). From Ethiopia; 3 origins in this box. Because ..."."""
    inst = built.instance
    coffee = built.catalogue[c]
    rank = built.ranks[u].get(c)
    n = len(built.ranks[u])
    parts = [
        f"Your #{rank} match of {n} (affinity {inst.affinity[u, c]:.2f})."
        if rank is not None
        else f"Affinity {inst.affinity[u, c]:.2f}."
    ]
    fam = int(inst.family[c])
    if fam >= 0:
        name = built.families[fam]
        if inst.home[u, fam]:
            parts.append(f"{name}, one of your favourite families.")
        else:
            usual = [built.families[f] for f in range(len(built.families)) if inst.home[u, f]]
            outside = f" outside your usual {', '.join(usual)}" if usual else ""
            parts.append(f"{name}: a family{outside} (discovery).")
    origins = {int(inst.origin[j]) for j in box if inst.origin[j] >= 0}
    if coffee.origin_country:
        parts.append(f"From {coffee.origin_country}; {len(origins)} origins in this box.")
    reason = built.reasons[u].get(c)
    if reason:
        parts.append(reason)
    text = " ".join(parts)
    return text if len(text) <= MAX_LEN else text[: MAX_LEN - 1] + "…"
