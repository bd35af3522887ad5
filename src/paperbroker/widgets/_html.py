"""Static HTML snapshots of the widgets, for pages that cannot run a live widget.

A live widget needs a kernel and a widget manager.  GitHub, nbviewer, ``nbconvert --to
html`` and the Sphinx docs have neither: they show the richest output they can render.
So a widget's mime bundle carries, next to the widget view, a ``text/html`` snapshot of
its state when it was displayed: a table for the tables, the figures of the summary, an
SVG image of the equity curve, a note for the order ticket.  JupyterLab, Notebook 7 and
VS Code still render the live view; the snapshot is built once per display, not per
update.

The HTML is plain and self-contained, so it reads well where styles are stripped (GitHub
removes ``<style>``, ``style`` attributes and inline ``<svg>``): alignment also uses the
``align`` attribute, signs are in the text, and the chart is an ``<img>`` whose source is
an SVG data URI.  Every text from Python goes through :func:`html.escape`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from ..models import OrderStatus, OrderType, Side
from ._zone import zone_name

__all__ = [
    "NOTE",
    "clock",
    "decimals",
    "fixed",
    "note_html",
    "qty",
    "signed",
    "snapshot",
    "summary_html",
    "table_html",
    "ticket_html",
]

MINUS = "\u2212"
POS = "#1a7f37"
NEG = "#cf222e"
MUTED = "#59636e"
ACCENT = "#1f6feb"
BORDER = "#d1d9e0"
LINE = "#eef1f4"
#: Rows a table snapshot shows at most, in the table's default order.
TABLE_ROWS = 25
#: Points a chart snapshot draws at most per line.
CHART_POINTS = 400
NOTE = "Snapshot from when this cell ran; a running notebook shows the live widget."

_NUMERIC = frozenset(("qty", "price", "avg", "money", "pl"))
# One style sheet per displayed snapshot, scoped to it. Where styles are stripped the
# ``align`` attributes still align numbers, and signs are in the text.
_STYLE = (
    "<style>"
    ".pb-snapshot{font-size:13px;line-height:1.4}"
    ".pb-snapshot table{border-collapse:collapse;font-size:12px;margin:4px 0}"
    f".pb-snapshot th,.pb-snapshot td{{padding:2px 8px;border-bottom:1px solid {LINE};white-space:nowrap}}"
    f".pb-snapshot th{{border-bottom-color:{BORDER}}}"
    ".pb-snapshot [align=left]{text-align:left}.pb-snapshot [align=right]{text-align:right}"
    f".pb-snapshot .pb-pos{{color:{POS}}}.pb-snapshot .pb-neg{{color:{NEG}}}"
    f".pb-snapshot .pb-muted{{color:{MUTED}}}.pb-snapshot .pb-big{{font-size:14px}}"
    ".pb-snapshot .pb-flex{display:flex;flex-wrap:wrap;gap:0 16px;align-items:flex-start}"
    ".pb-snapshot .pb-narrow{max-width:340px}.pb-snapshot p{margin:4px 0}"
    ".pb-snapshot .pb-wrap{white-space:normal;min-width:14em}"
    "</style>"
)


# ---------------------------------------------------------------------- numbers


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fixed(value: object, digits: int = 2) -> str:
    """``-1234.5`` -> ``−1,234.50``: thousands separators, exactly ``digits`` decimals."""
    if not _finite(value):
        return ""
    number = float(value)  # type: ignore[arg-type]
    text = f"{abs(number):,.{digits}f}"
    return MINUS + text if number < 0 and text.strip("0.,") else text


def signed(value: object, digits: int = 2, suffix: str = "") -> str:
    """An amount with its sign: ``+1,234.50``, ``−12.00``, ``0.00`` (no sign for zero)."""
    if not _finite(value):
        return ""
    number = float(value)  # type: ignore[arg-type]
    text = f"{abs(number):,.{digits}f}"
    if not text.strip("0.,"):
        return text + suffix
    return ("+" if number > 0 else MINUS) + text + suffix


def qty(value: object) -> str:
    """A quantity: whole numbers as such, fractions with up to four decimals."""
    if not _finite(value):
        return ""
    text = f"{float(value):,.4f}".rstrip("0").rstrip(".")  # type: ignore[arg-type]
    return MINUS + text[1:] if text.startswith("-") else text


def decimals(value: object) -> int:
    """How many decimals a price needs to show exactly (2 to 6), as the live tables."""
    if not _finite(value):
        return 2
    number = float(value)  # type: ignore[arg-type]
    for digits in range(2, 6):
        scaled = number * 10**digits
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, abs(scaled)):
            return digits
    return 6


def clock(ms: object, tz: dt.tzinfo, fmt: str = "%H:%M:%S") -> str:
    """Unix milliseconds as a time of day in ``tz``."""
    if not _finite(ms):
        return ""
    return dt.datetime.fromtimestamp(float(ms) / 1000.0, tz).strftime(fmt)  # type: ignore[arg-type]


def _sign_class(value: object) -> str:
    if not _finite(value) or round(float(value) * 100) == 0:  # type: ignore[arg-type]
        return ""
    return "pb-pos" if float(value) > 0 else "pb-neg"  # type: ignore[arg-type]


def _label(enum: Any, value: object) -> str:
    try:
        return str(enum(value).label)
    except (ValueError, TypeError):
        return str(value)


# ---------------------------------------------------------------------- pieces


_SIGN_COLOR = {"pb-pos": POS, "pb-neg": NEG}


def _cell(tag: str, text: str, *, numeric: bool = False, cls: str = "") -> str:
    align = "right" if numeric else "left"
    klass = f' class="{cls}"' if cls else ""
    # JupyterLab drops <style> from a notebook not yet trusted, but keeps a colour
    color = next((f' style="color:{c}"' for k, c in _SIGN_COLOR.items() if k in cls), "")
    return f'<{tag} align="{align}"{klass}{color}>{escape(text)}</{tag}>'


def _heading(title: str, detail: str) -> str:
    return f"<p><strong>{escape(title)}</strong> <small>{escape(detail)}</small></p>"


def note_html(text: str = NOTE) -> str:
    """The line under a snapshot that says what it is."""
    return f'<p class="pb-muted"><small>{escape(text)}</small></p>'


def snapshot(body: str, kind: str, outer: bool = True) -> str:
    """Wrap a snapshot's body.  The ``outer`` one, which a display shows, also carries
    the style sheet and the line that says it is a snapshot; parts of a dashboard do not."""
    if outer:
        return f'<div class="pb-snapshot pb-snapshot-{kind}">{_STYLE}{body}{note_html()}</div>'
    return f'<div class="pb-snapshot-{kind}">{body}</div>'


# ---------------------------------------------------------------------- tables


def _cell_text(kind: str, value: Any, digits: int, tz: dt.tzinfo) -> tuple[str, str]:
    """The text and class (colour) of a table cell, formatted as the live table does."""
    if value is None:
        return "", ""
    if kind == "side":
        return _label(Side, value), ""
    if kind == "direction":
        return ("Long" if value > 0 else "Short"), ""
    if kind == "type":
        return _label(OrderType, value), ""
    if kind == "status":
        return _label(OrderStatus, value), ""
    if kind == "qty":
        return qty(value), ""
    if kind in ("price", "avg"):
        return fixed(value, digits), ""
    if kind == "money":
        return fixed(value), ""
    if kind == "pl":
        return signed(value), _sign_class(value)
    if kind == "time":
        return clock(value, tz), ""
    return str(value), "pb-wrap" if kind == "note" else ""


def _ordered(rows: list[list[Any]], index: int, direction: int) -> list[list[Any]]:
    """Rows in the live table's default order: by column ``index`` (None last), ties by
    arrival (newest first when descending)."""
    if index < 0:
        return rows[::-1] if direction < 0 else rows
    valued = [(row[index], n, row) for n, row in enumerate(rows) if row[index] is not None]
    valued.sort(key=lambda item: (item[0], item[1]), reverse=direction < 0)
    empty = [row for row in rows if row[index] is None]
    return [row for _, _, row in valued] + (empty[::-1] if direction < 0 else empty)


def table_html(
    title: str,
    account_id: str,
    columns: Sequence[Any],
    rows: Iterable[list[Any]],
    *,
    sort: tuple[str, int] = ("", -1),
    empty_text: str = "Nothing yet",
    tz: dt.tzinfo = dt.timezone.utc,
    limit: int = TABLE_ROWS,
    outer: bool = True,
) -> str:
    """A live table's rows as an HTML table: ``columns`` are (key, label, kind) and a row
    is ``[key, value per column]``, as the live table keeps them."""
    rows = list(rows)
    keys = [c[0] for c in columns]
    index = keys.index(sort[0]) + 1 if sort[0] in keys else -1
    ordered = _ordered(rows, index, sort[1])
    shown = ordered[:limit]
    # a symbol's prices show as many decimals as its most precise price needs
    symbol_at = next((i + 1 for i, c in enumerate(columns) if c[2] == "symbol"), 0)
    price_at = [i + 1 for i, c in enumerate(columns) if c[2] == "price"]
    digits: dict[Any, int] = {}
    if symbol_at:
        for row in rows:
            d = digits.get(row[symbol_at], 2)
            for i in price_at:
                d = max(d, decimals(row[i])) if _finite(row[i]) else d
            digits[row[symbol_at]] = d
    count = f"{len(rows):,} row{'' if len(rows) == 1 else 's'}"
    if len(rows) > len(shown):
        count += f", the first {len(shown)} shown"
    out = [_heading(title, f"{account_id} · {count}"), "<table><thead><tr>"]
    for _key, label, kind, *_ in columns:
        text = f"{label} ({zone_name(tz)})" if kind == "time" else label
        out.append(_cell("th", text, numeric=kind in _NUMERIC))
    out.append("</tr></thead><tbody>")
    if not shown:
        out.append(
            f'<tr><td colspan="{len(columns)}" class="pb-muted"><em>{escape(empty_text)}</em></td></tr>'
        )
    for row in shown:
        d = digits.get(row[symbol_at], 2) if symbol_at else 2
        out.append("<tr>")
        for i, (_key, _name, kind, *_) in enumerate(columns, start=1):
            text, cls = _cell_text(kind, row[i], d, tz)
            out.append(_cell("td", text, numeric=kind in _NUMERIC, cls=cls))
        out.append("</tr>")
    out.append("</tbody></table>")
    return snapshot("".join(out), "table", outer)


# ---------------------------------------------------------------------- summary


def summary_html(
    account_id: str, fields: Sequence[Sequence[str]], values: dict[str, Any], *, outer: bool = True
) -> str:
    """The account summary's figures as a one-row table under their labels."""
    head = [_cell("th", "Account")]
    body = [f'<td align="left"><strong>{escape(account_id)}</strong></td>']
    for key, label, kind in fields:
        value = values.get(key)
        if kind == "pl":
            text, cls = signed(value), _sign_class(value)
        elif kind == "pct":
            text, cls = signed(value, 2, "%"), _sign_class(value)
        else:
            text, cls = fixed(value), ""
        head.append(_cell("th", label, numeric=True))
        body.append(_cell("td", text, numeric=True, cls=f"pb-big {cls}".strip()))
    table = f"<table><thead><tr>{''.join(head)}</tr></thead><tbody><tr>{''.join(body)}</tr></tbody></table>"
    return snapshot(table, "summary", outer)


# ---------------------------------------------------------------------- order ticket


def ticket_html(
    account_id: str,
    symbols: Sequence[str],
    quotes: dict[str, Sequence[Any]],
    status: dict[str, Any],
    *,
    outer: bool = True,
) -> str:
    """What the order ticket offers, its symbols' last quotes and its last outcome."""
    out = [
        f"<p><strong>Order ticket</strong> <small>{escape(account_id)}</small><br>"
        "Buy or sell at market, limit, stop or stop-limit, with an optional take-profit and "
        "stop-loss, in a running notebook.</p>"
    ]
    if symbols and not any(quotes.get(symbol) for symbol in symbols):
        out.append(f"<p>Symbols: {escape(', '.join(symbols))}</p>")
    elif symbols:
        out.append("<table><thead><tr>")
        out.append(_cell("th", "Symbol"))
        out += [_cell("th", label, numeric=True) for label in ("Bid", "Ask", "Last")]
        out.append("</tr></thead><tbody>")
        for symbol in symbols:
            quote = list(quotes.get(symbol) or ())
            digits = max([2, *(decimals(v) for v in quote if _finite(v))])
            cells = [fixed(quote[i], digits) if i < len(quote) else "" for i in range(3)]
            numbers = "".join(_cell("td", c, numeric=True) for c in cells)
            out.append(f"<tr>{_cell('td', symbol)}{numbers}</tr>")
        out.append("</tbody></table>")
    text = str(status.get("text") or "")
    if text:
        kind = {"error": "pb-neg", "ok": "pb-pos"}.get(str(status.get("kind")), "pb-muted")
        color = f' style="color:{_SIGN_COLOR[kind]}"' if kind in _SIGN_COLOR else ""
        out.append(f'<p class="{kind}"{color}>Last: {escape(text)}</p>')
    return snapshot(f'<div class="pb-narrow">{"".join(out)}</div>', "ticket", outer)
