"""Charts drawn on the server as inline SVG (no script, nothing fetched).

Every function returns :class:`markupsafe.Markup`; all text in it (coffee names, labels)
is escaped here. Each chart is ``role="img"`` with a title for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

FAMILY_COLOURS = {
    "Fruity": "#c0392b",
    "Sour/Fermented": "#b7950b",
    "Green/Vegetative": "#1e8449",
    "Other": "#5d6d7e",
    "Roasted": "#6e2c00",
    "Spices": "#a04000",
    "Nutty/Cocoa": "#784212",
    "Sweet": "#b03a2e",
    "Floral": "#8e44ad",
}
SERIES_COLOURS = ("#1f4e79", "#b03a2e", "#1e8449", "#7d3c98", "#a04000", "#2e4053")
INK = "#1b1b1b"
MUTED = "#555555"


def _f(value: float) -> str:
    return f"{value:.1f}"


def _svg(width: int, height: int, title: str, body: list[str], css: str = "chart") -> Markup:
    head = (
        f'<svg class="{css}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every part escaped above


def radar(values: Mapping[str, float], labels: Mapping[str, str], title: str) -> Markup:
    """A polygon of 0-10 intensities, one axis per metric."""
    names = list(values)
    n = max(len(names), 3)
    cx, cy, r = 160.0, 150.0, 100.0

    def point(i: int, v: float) -> tuple[float, float]:
        a = -math.pi / 2 + 2 * math.pi * i / n
        return cx + r * v / 10 * math.cos(a), cy + r * v / 10 * math.sin(a)

    body: list[str] = []
    for ring in (2.5, 5, 7.5, 10):
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in (point(i, ring) for i in range(n)))
        body.append(f'<polygon points="{pts}" fill="none" stroke="#cccccc"/>')
    for i, name in enumerate(names):
        x, y = point(i, 10)
        lx, ly = point(i, 12.2)
        anchor = "middle" if abs(lx - cx) < 10 else ("start" if lx > cx else "end")
        body.append(f'<line x1="{cx}" y1="{cy}" x2="{_f(x)}" y2="{_f(y)}" stroke="#dddddd"/>')
        body.append(
            f'<text x="{_f(lx)}" y="{_f(ly + 4)}" text-anchor="{anchor}" font-size="11" '
            f'fill="{INK}">{escape(labels.get(name, name))}</text>'
        )
    pts = " ".join(
        f"{_f(x)},{_f(y)}"
        for x, y in (point(i, max(0.0, min(10.0, values[m]))) for i, m in enumerate(names))
    )
    body.append(
        f'<polygon class="radar-shape" points="{pts}" fill="#1f4e79" fill-opacity="0.3" '
        'stroke="#1f4e79" stroke-width="2"/>'
    )
    return _svg(320, 300, title, body)


def wheel(
    families: Sequence[tuple[str, float]], labels: Mapping[str, str], title: str, top: int = 3
) -> Markup:
    """The flavour wheel's families as a ring; each sector's depth shows its probability
    and the ``top`` families are labelled with their percentage."""
    order = list(FAMILY_COLOURS)
    probs = dict(families)
    best = {name for name, _ in sorted(families, key=lambda fp: -fp[1])[:top]}
    peak = max(probs.values(), default=0.0) or 1.0
    cx, cy, inner, outer = 210.0, 160.0, 36.0, 112.0
    n = len(order)
    body: list[str] = []
    for i, name in enumerate(order):
        a0 = -math.pi / 2 + 2 * math.pi * i / n
        a1 = a0 + 2 * math.pi / n
        depth = inner + (outer - inner) * math.sqrt(probs.get(name, 0.0) / peak)
        depth = max(depth, inner + 6)
        pts = [
            (cx + inner * math.cos(a0), cy + inner * math.sin(a0)),
            (cx + depth * math.cos(a0), cy + depth * math.sin(a0)),
            (cx + depth * math.cos(a1), cy + depth * math.sin(a1)),
            (cx + inner * math.cos(a1), cy + inner * math.sin(a1)),
        ]
        path = (
            f"M{_f(pts[0][0])},{_f(pts[0][1])} L{_f(pts[1][0])},{_f(pts[1][1])} "
            f"A{_f(depth)},{_f(depth)} 0 0 1 {_f(pts[2][0])},{_f(pts[2][1])} "
            f"L{_f(pts[3][0])},{_f(pts[3][1])} A{inner},{inner} 0 0 0 "
            f"{_f(pts[0][0])},{_f(pts[0][1])} Z"
        )
        opacity = "0.95" if name in best else "0.35"
        label = escape(labels.get(name, name))
        body.append(
            f'<path d="{path}" fill="{FAMILY_COLOURS[name]}" fill-opacity="{opacity}" '
            f'stroke="#ffffff"><title>{label}: {probs.get(name, 0.0):.0%}</title></path>'
        )
        mid = (a0 + a1) / 2
        tx, ty = cx + (outer + 14) * math.cos(mid), cy + (outer + 14) * math.sin(mid)
        anchor = "middle" if abs(tx - cx) < 20 else ("start" if tx > cx else "end")
        weight = ' font-weight="bold"' if name in best else ""
        text = f"{label} {probs.get(name, 0.0):.0%}" if name in best else label
        body.append(
            f'<text x="{_f(tx)}" y="{_f(ty + 4)}" text-anchor="{anchor}" font-size="11" '
            f'fill="{INK}"{weight}>{text}</text>'
        )
    return _svg(420, 320, title, body, "chart wheel")


def coffee_map(
    points: Sequence[tuple[str, float, float]],
    you: tuple[float, float] | None,
    liked: set[str],
    disliked: set[str],
    labels: Mapping[str, str],
    title: str,
) -> Markup:
    """The catalogue on its 2-D map: every coffee a dot (its name as a tooltip), the liked
    ones green, the disliked ones red crosses, and a ring where the user is."""
    xs = [x for _, x, _ in points] + ([you[0]] if you else [])
    ys = [y for _, _, y in points] + ([you[1]] if you else [])
    if not xs:
        return _svg(320, 260, title, [])
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    w, h, pad = 320.0, 260.0, 16.0

    def sx(x: float) -> float:
        return pad + (x - x0) / ((x1 - x0) or 1) * (w - 2 * pad)

    def sy(y: float) -> float:
        return h - pad - (y - y0) / ((y1 - y0) or 1) * (h - 2 * pad)

    body = [f'<rect x="0" y="0" width="{w}" height="{h}" fill="#fafafa" stroke="#dddddd"/>']
    for name, x, y in points:
        if name in liked or name in disliked:
            continue
        body.append(
            f'<circle cx="{_f(sx(x))}" cy="{_f(sy(y))}" r="3" fill="#8a8a8a">'
            f"<title>{escape(name)}</title></circle>"
        )
    for name, x, y in points:
        if name in liked:
            body.append(
                f'<circle class="liked" cx="{_f(sx(x))}" cy="{_f(sy(y))}" r="5" fill="#1e8449">'
                f"<title>{escape(labels['liked'])}: {escape(name)}</title></circle>"
            )
        elif name in disliked:
            px, py = sx(x), sy(y)
            body.append(
                f'<path class="disliked" d="M{_f(px - 4)},{_f(py - 4)} L{_f(px + 4)},'
                f'{_f(py + 4)} M{_f(px - 4)},{_f(py + 4)} L{_f(px + 4)},{_f(py - 4)}" '
                f'stroke="#b03a2e" stroke-width="2.5"><title>{escape(labels["disliked"])}: '
                f"{escape(name)}</title></path>"
            )
    if you is not None:
        px, py = sx(you[0]), sy(you[1])
        left = px > w * 0.6  # the label goes on the side with room
        body.append(
            f'<circle class="you" cx="{_f(px)}" cy="{_f(py)}" r="9" fill="none" '
            f'stroke="#1f4e79" stroke-width="3"/><text x="{_f(px - 12 if left else px + 12)}" '
            f'y="{_f(py + 4)}" text-anchor="{"end" if left else "start"}" font-size="12" '
            f'font-weight="bold" fill="{INK}">{escape(labels["you"])}</text>'
        )
    return _svg(int(w), int(h), title, body)


def lines(
    series: Mapping[str, Sequence[float]],
    x_labels: Sequence[str],
    title: str,
    low: float = 0.0,
    high: float = 10.0,
) -> Markup:
    """One line per series over the same steps, with a legend (values from low to high)."""
    n = len(x_labels)
    w, h, left, right, top, bottom = 340.0, 220.0, 30.0, 10.0, 10.0, 60.0
    plot_h = h - top - bottom

    def sx(i: int) -> float:
        return left + (i / (n - 1) if n > 1 else 0.5) * (w - left - right)

    def sy(v: float) -> float:
        return top + (1 - (v - low) / ((high - low) or 1)) * plot_h

    body: list[str] = []
    for tick in (low, (low + high) / 2, high):
        y = sy(tick)
        body.append(
            f'<line x1="{left}" y1="{_f(y)}" x2="{w - right}" y2="{_f(y)}" stroke="#e5e5e5"/>'
        )
        body.append(
            f'<text x="{left - 4}" y="{_f(y + 4)}" text-anchor="end" font-size="10" '
            f'fill="{MUTED}">{tick:g}</text>'
        )
    for i, label in enumerate(x_labels):
        if n <= 6 or i in (0, n - 1) or i % max(1, n // 4) == 0:
            anchor = "start" if i == 0 and n > 1 else ("end" if i == n - 1 and n > 1 else "middle")
            body.append(
                f'<text x="{_f(sx(i))}" y="{_f(h - bottom + 14)}" text-anchor="{anchor}" '
                f'font-size="10" fill="{MUTED}">{escape(label)}</text>'
            )
    for k, (name, values) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        pts = " ".join(f"{_f(sx(i))},{_f(sy(v))}" for i, v in enumerate(values))
        body.append(
            f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>'
            if len(values) > 1
            else f'<circle cx="{_f(sx(0))}" cy="{_f(sy(values[0]))}" r="3" fill="{colour}"/>'
        )
        lx, ly = left + (k % 3) * 100, h - 22 + (k // 3) * 14
        body.append(f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>')
        body.append(
            f'<text x="{lx + 14}" y="{ly + 1}" font-size="11" fill="{INK}">{escape(name)}</text>'
        )
    return _svg(int(w), int(h), title, body)


def interval_bar(
    interval: tuple[float, float] | None,
    threshold: float,
    estimate: float | None,
    title: str,
) -> Markup:
    """An always-valid interval of a relative lift as a bar on a signed axis, with the
    decision thresholds at -``threshold`` and +``threshold`` (dashed) and zero; the
    point estimate as a dot. The axis spans the interval and both thresholds."""
    w, h, left, right = 340.0, 70.0, 14.0, 14.0
    low, high = interval if interval is not None else (0.0, 0.0)
    span = max(abs(low), abs(high), threshold * 2, 0.01)
    lo_axis, hi_axis = -span, span

    def sx(v: float) -> float:
        v = min(max(v, lo_axis), hi_axis)
        return left + (v - lo_axis) / (hi_axis - lo_axis) * (w - left - right)

    y = 30.0
    body = [f'<line x1="{left}" y1="{y}" x2="{w - right}" y2="{y}" stroke="#cccccc"/>']
    roomy = sx(threshold) - sx(0.0) >= 22  # room for the threshold labels beside zero
    for tick, kind in ((-threshold, "dash"), (0.0, "zero"), (threshold, "dash")):
        x = sx(tick)
        style = ' stroke-dasharray="4 3"' if kind == "dash" else ""
        body.append(f'<line x1="{_f(x)}" y1="8" x2="{_f(x)}" y2="52" stroke="{MUTED}"{style}/>')
        if roomy or kind == "zero":
            body.append(
                f'<text x="{_f(x)}" y="64" text-anchor="middle" font-size="10" '
                f'fill="{MUTED}">{tick * 100:+.0f}%</text>'
            )
    if not roomy:  # label the axis ends instead
        for tick, anchor in ((lo_axis, "start"), (hi_axis, "end")):
            body.append(
                f'<text x="{_f(sx(tick))}" y="64" text-anchor="{anchor}" font-size="10" '
                f'fill="{MUTED}">{tick * 100:+.0f}%</text>'
            )
    if interval is not None:
        colour = "#1e8449" if low > threshold else ("#b03a2e" if high < -threshold else "#1f4e79")
        x0, x1 = sx(low), sx(high)
        body.append(
            f'<rect x="{_f(x0)}" y="{y - 6}" width="{_f(max(x1 - x0, 2.0))}" height="12" '
            f'fill="{colour}" opacity="0.8"/>'
        )
    if estimate is not None:
        body.append(f'<circle cx="{_f(sx(estimate))}" cy="{y}" r="4" fill="{INK}"/>')
    return _svg(int(w), int(h), title, body, css="chart interval")


def interval_series(
    points: Sequence[tuple[str, float, float, float | None]],
    threshold: float,
    title: str,
) -> Markup:
    """The always-valid interval of a relative lift over time: one vertical bar per
    checkpoint (``label``, low, high, estimate), the estimates joined by a line, dashed
    lines at -``threshold`` and +``threshold`` and a solid one at zero. The axis spans
    four thresholds each way, at most +-100%; bars beyond it are clipped."""
    w, h, left, right, top, bottom = 340.0, 200.0, 40.0, 10.0, 10.0, 30.0
    widest = max((max(abs(lo), abs(hi)) for _, lo, hi, _ in points), default=0.0)
    span = max(min(widest, 1.0), 2 * threshold, 0.01)
    n = len(points)

    def sx(i: int) -> float:
        return left + ((i + 0.5) / max(n, 1)) * (w - left - right)

    def sy(v: float) -> float:
        v = min(max(v, -span), span)
        return top + (1 - (v + span) / (2 * span)) * (h - top - bottom)

    body: list[str] = []
    roomy = sy(0.0) - sy(threshold) >= 12  # room for the threshold labels beside zero
    for tick, dash in ((threshold, True), (0.0, False), (-threshold, True)):
        y = sy(tick)
        style = ' stroke-dasharray="4 3"' if dash else ""
        body.append(
            f'<line x1="{left}" y1="{_f(y)}" x2="{w - right}" y2="{_f(y)}" '
            f'stroke="{MUTED}"{style}/>'
        )
        if roomy or not dash:
            body.append(
                f'<text x="{left - 4}" y="{_f(y + 4)}" text-anchor="end" font-size="10" '
                f'fill="{MUTED}">{tick * 100:+.0f}%</text>'
            )
    if not roomy:  # label the axis ends instead
        for tick in (span, -span):
            body.append(
                f'<text x="{left - 4}" y="{_f(sy(tick) + 4)}" text-anchor="end" font-size="10" '
                f'fill="{MUTED}">{tick * 100:+.0f}%</text>'
            )
    estimates = []
    for i, (label, lo, hi, est) in enumerate(points):
        colour = "#1e8449" if lo > threshold else ("#b03a2e" if hi < -threshold else "#1f4e79")
        x = sx(i)
        body.append(
            f'<line x1="{_f(x)}" y1="{_f(sy(hi))}" x2="{_f(x)}" y2="{_f(sy(lo))}" '
            f'stroke="{colour}" stroke-width="5" opacity="0.8"/>'
        )
        if est is not None:
            estimates.append(f"{_f(x)},{_f(sy(est))}")
        if i in (0, n - 1):
            anchor = "start" if i == 0 and n > 1 else "end"
            body.append(
                f'<text x="{_f(x)}" y="{_f(h - bottom + 14)}" text-anchor="{anchor}" '
                f'font-size="10" fill="{MUTED}">{escape(label)}</text>'
            )
    if len(estimates) > 1:
        body.append(
            f'<polyline points="{" ".join(estimates)}" fill="none" stroke="{INK}" '
            'stroke-width="1.5"/>'
        )
    return _svg(int(w), int(h), title, body, css="chart interval-series")
