"""SVG images for the chart snapshots: the frame, text and lines they share, and the
equity chart's curve.

GitHub strips inline ``<svg>``, so a snapshot shows the image as an ``<img>`` of an SVG
data URI; there are no scripts and no external resources, and every text is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
from html import escape

import numpy as np

from ._html import ACCENT, BORDER, CHART_POINTS, MUTED, clock, fixed, snapshot
from ._zone import zone_name

__all__ = ["chart_html", "chart_svg", "line", "svg_frame", "text"]


_W, _H = 640, 220
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 14, 30, 26


def _sample(points: np.ndarray, most: int) -> np.ndarray:
    if len(points) <= most:
        return points
    keep: np.ndarray = np.unique(np.linspace(0, len(points) - 1, most).round().astype(np.int64))
    sampled: np.ndarray = points[keep]
    return sampled


def text(
    x: float, y: float, content: str, *, anchor: str = "start", fill: str = MUTED, bold: bool = False
) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family="system-ui, -apple-system, Segoe UI, Roboto, '
        f'sans-serif" font-size="11" fill="{fill}" text-anchor="{anchor}"{weight}>{escape(content)}</text>'
    )


def line(x1: float, x2: float, y1: float, y2: float, stroke: str, extra: str = "") -> str:
    return f'<line x1="{x1:.1f}" x2="{x2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" stroke="{stroke}"{extra}/>'


def svg_frame(width: int, height: int, title: str) -> list[str]:
    """The opening of a snapshot image: the ``<svg>`` tag, a rounded frame, the title."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" rx="6" fill="#ffffff" '
        f'stroke="{BORDER}"/>',
        text(10, 18, title, fill="#1f2328", bold=True),
    ]


def chart_svg(title: str, points: np.ndarray, tz: dt.tzinfo) -> str:
    """An SVG image of the equity (solid) and balance (dotted steps) lines.

    ``points`` has rows of (time ms, equity, balance); no scripts, no external resources.
    """
    pts = _sample(points[np.isfinite(points).all(axis=1)], CHART_POINTS)
    dark = "#1f2328"
    out = svg_frame(_W, _H, title)
    if not len(pts):
        out.append(text(_W / 2, _H / 2, "No points yet", anchor="middle"))
        return "".join([*out, "</svg>"])
    if len(pts) == 1:
        pts = np.vstack((pts, pts))
    t0, t1 = float(pts[0, 0]), float(pts[-1, 0])
    lo, hi = float(pts[:, 1:].min()), float(pts[:, 1:].max())
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        lo, hi = lo - max(1.0, abs(lo) * 0.001), hi + max(1.0, abs(hi) * 0.001)
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def y(v: np.ndarray | float) -> np.ndarray:
        return np.asarray(_TOP + (hi - np.asarray(v)) / (hi - lo) * plot_h)

    if t1 > t0:
        xs = _LEFT + (pts[:, 0] - t0) / (t1 - t0) * plot_w
    else:
        xs = np.linspace(_LEFT, _LEFT + plot_w, len(pts))
    equity, balance = y(pts[:, 1]), y(pts[:, 2])
    # balance changes only on fills: draw it as steps (horizontal, then vertical)
    step_x = np.repeat(xs, 2)[1:]
    step_y = np.repeat(balance, 2)[:-1]

    def path(px: np.ndarray, py: np.ndarray) -> str:
        return " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py, strict=True))

    for value in (hi - pad, lo + pad):  # grid lines at the extremes of the data
        at = float(y(value))
        out.append(line(_LEFT, _W - _RIGHT, at, at, "#eef1f4"))
        out.append(text(_LEFT - 6, at + 4, fixed(value), anchor="end"))
    dotted = ' stroke-width="1" stroke-dasharray="2 2"'
    out.append(f'<polyline fill="none" stroke="{MUTED}"{dotted} points="{path(step_x, step_y)}"/>')
    out.append(f'<polyline fill="none" stroke="{ACCENT}" stroke-width="1.8" points="{path(xs, equity)}"/>')
    fmt = "%Y-%m-%d %H:%M"
    out.append(text(_LEFT, _H - 8, f"{clock(t0, tz, fmt)} {zone_name(tz)}"))
    out.append(text(_W - _RIGHT, _H - 8, clock(t1, tz, fmt), anchor="end"))
    legend = _W - _RIGHT - 250
    out.append(line(legend, legend + 18, 14, 14, ACCENT, ' stroke-width="1.8"'))
    out.append(text(legend + 22, 18, f"Equity {fixed(points[-1, 1])}", fill=dark))
    out.append(line(legend + 130, legend + 148, 14, 14, MUTED, dotted))
    out.append(text(legend + 152, 18, f"Balance {fixed(points[-1, 2])}", fill=dark))
    return "".join([*out, "</svg>"])


def chart_html(title: str, account_id: str, points: np.ndarray, *, tz: dt.tzinfo, outer: bool = True) -> str:
    """The equity chart as an ``<img>`` of an SVG data URI (GitHub strips inline SVG)."""
    svg = chart_svg(f"{title} · {account_id}", points, tz)
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    if len(points):
        first, last = fixed(points[0, 1]), fixed(points[-1, 1])
        count = f"{len(points):,} point{'' if len(points) == 1 else 's'}"
        alt = f"{title} of {account_id}: from {first} to {last} over {count}"
    else:
        alt = f"{title} of {account_id}: no points yet"
    size = f'width="{_W}" height="{_H}" style="max-width:100%;height:auto"'
    img = f'<img src="{source}" alt="{escape(alt)}" {size}>'
    return snapshot(f"<div>{img}</div>", "chart", outer)
