"""The price chart's static snapshot: an SVG image of the price with the order lines, the
position's average price and the fill markers, for pages that cannot run the live chart.

Like the equity chart's, it is an ``<img>`` of an SVG data URI (GitHub strips inline SVG),
with no scripts and no external resources; every text is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
from html import escape
from typing import Any

import numpy as np

from ._html import ACCENT, CHART_POINTS, LINE, MUTED, NEG, POS, clock, fixed, snapshot
from ._svg import line as hline
from ._svg import svg_frame, text
from ._zone import zone_name

__all__ = ["price_html", "price_svg"]

_W, _H = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 12, 64, 30, 26
_STOP = "#bf8700"
_DARK = "#1f2328"


def _bounds(window: np.ndarray, prices: list[float]) -> tuple[float, float]:
    values = [float(window[:, 2].max()), float(window[:, 3].min())] if len(window) else []
    values += prices
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        lo, hi = lo - max(0.01, abs(lo) * 0.001), hi + max(0.01, abs(hi) * 0.001)
    pad = (hi - lo) * 0.06
    return lo - pad, hi + pad


def price_svg(
    title: str,
    window: np.ndarray,
    *,
    candles: bool,
    lines: list[dict[str, Any]],
    position: dict[str, Any] | None,
    markers: list[list[Any]],
    tz: dt.tzinfo,
) -> str:
    """An SVG of the window (rows of time, open, high, low, close, bid, ask)."""
    out = svg_frame(_W, _H, title)
    if not len(window):
        out.append(text(_W / 2, _H / 2, "No quotes yet", anchor="middle"))
        return "".join([*out, "</svg>"])
    pts = window[np.linspace(0, len(window) - 1, min(len(window), CHART_POINTS)).round().astype(np.int64)]
    prices = [float(line["price"]) for line in lines] + ([float(position["price"])] if position else [])
    lo, hi = _bounds(pts, prices)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    t0, t1 = float(pts[0, 0]), float(pts[-1, 0])

    def y(v: float) -> float:
        return _TOP + (hi - v) / (hi - lo) * plot_h

    def x(t: float) -> float:
        return _LEFT + ((t - t0) / (t1 - t0) if t1 > t0 else 1.0) * plot_w

    for value in (hi, lo):
        at = y(value)
        out.append(hline(_LEFT, _W - _RIGHT, at, at, LINE))
        out.append(text(_W - _RIGHT + 4, at + 4, fixed(value)))
    if candles:
        width = max(1.0, plot_w / len(pts) * 0.7)
        for t, o, h, lo_, c, _b, _a in pts.tolist():
            colour = POS if c >= o else NEG
            cx = x(t)
            out.append(hline(cx, cx, y(h), y(lo_), colour))
            top, bottom = y(max(o, c)), y(min(o, c))
            out.append(
                f'<rect x="{cx - width / 2:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{max(bottom - top, 0.8):.1f}" fill="{colour}"/>'
            )
    else:
        xs = [f"{x(t):.1f}" for t in pts[:, 0].tolist()]
        for col, stroke, extra in (
            (5, MUTED, ' stroke-width="0.8" opacity="0.6"'),
            (6, MUTED, ' stroke-width="0.8" opacity="0.6"'),
            (4, ACCENT, ' stroke-width="1.6"'),
        ):
            path = " ".join(f"{a},{y(b):.1f}" for a, b in zip(xs, pts[:, col].tolist(), strict=True))
            out.append(f'<polyline fill="none" stroke="{stroke}"{extra} points="{path}"/>')
    for line in lines:
        at = y(float(line["price"]))
        colour = _STOP if "stop" in line["style"] else (POS if line["side"] > 0 else NEG)
        out.append(hline(_LEFT, _W - _RIGHT, at, at, colour, ' stroke-dasharray="5 3"'))
        out.append(text(_LEFT + 4, at - 3, line["label"], fill=colour))
    if position is not None:
        at = y(float(position["price"]))
        out.append(hline(_LEFT, _W - _RIGHT, at, at, _DARK, ' stroke-width="1.2"'))
        out.append(text(_W - _RIGHT - 4, at - 3, position["label"], fill=_DARK, anchor="end"))
    for t, price, _qty, side, *_rest in markers:
        if t < t0:
            continue
        mx, my = x(min(float(t), t1)), y(float(price))
        tip = my + 9 if side > 0 else my - 9
        colour = POS if side > 0 else NEG
        triangle = f"M{mx:.1f},{my:.1f} L{mx - 5:.1f},{tip:.1f} L{mx + 5:.1f},{tip:.1f} Z"
        out.append(f'<path d="{triangle}" fill="{colour}"/>')
    fmt = "%Y-%m-%d %H:%M:%S"
    out.append(text(_LEFT, _H - 8, f"{clock(t0, tz, fmt)} {zone_name(tz)}"))
    out.append(text(_W - _RIGHT, _H - 8, clock(t1, tz, fmt), anchor="end"))
    out.append(text(_W - _RIGHT, 18, f"Last {fixed(float(pts[-1, 4]))}", fill=_DARK, anchor="end"))
    return "".join([*out, "</svg>"])


def price_html(
    symbol: str,
    account_id: str,
    window: np.ndarray,
    *,
    candles: bool,
    lines: list[dict[str, Any]],
    position: dict[str, Any] | None,
    markers: list[list[Any]],
    tz: dt.tzinfo,
    outer: bool = True,
) -> str:
    """The price chart as an ``<img>`` of an SVG data URI, with a text alternative."""
    title = f"{symbol} · {account_id}"
    svg = price_svg(title, window, candles=candles, lines=lines, position=position, markers=markers, tz=tz)
    source = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    kind = "candles" if candles else "quotes"
    alt = f"{symbol} price ({len(window):,} {kind})"
    if lines:
        alt += "; orders: " + "; ".join(line["label"] for line in lines)
    if position is not None:
        alt += "; position: " + position["label"]
    size = f'width="{_W}" height="{_H}" style="max-width:100%;height:auto"'
    return snapshot(f'<div><img src="{source}" alt="{escape(alt)}" {size}></div>', "price", outer)
