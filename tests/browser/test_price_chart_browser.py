"""The price chart in a real JupyterLab: candles and lines, fill markers, dragging order
lines (accepted and refused), the x that cancels."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import Lab, Page

# A random walk stepped by hand, one fill (a marker), a buy limit with a take-profit, and a
# task that writes what the broker says about the orders to state.json every 50 ms: the
# test reads the broker's answer, not the page's.
LINE_SETUP = """\
import asyncio, json, pathlib
import paperbroker as pb
from paperbroker.widgets import PriceChart
broker = pb.BrokerService(seed=3, market=pb.RandomWalk({"AAPL": 190.0}), execution_delay=None)
chart = PriceChart(broker, "AAPL", height=420)  # it draws the quotes from now on
for _ in range(40):
    broker.step()
broker.buy("AAPL", 5)
broker.step()
last = broker.quote("AAPL").last
limit = broker.buy("AAPL", 10, limit=round(last - 3, 2), take_profit=round(last + 4, 2))
tp = next(o for o in broker.orders() if o.parentId == limit.id)
chart"""

STATE = """\
async def report():
    while True:
        orders = {o.id: {"status": o.status.label, "limit": o.limitPrice, "tp": o.takeProfit}
                  for o in broker.orders()}
        data = {"limit": limit.id, "tp": tp.id, "orders": orders}
        pathlib.Path("state.json.tmp").write_text(json.dumps(data))
        pathlib.Path("state.json.tmp").replace("state.json")
        await asyncio.sleep(0.05)
task = asyncio.get_running_loop().create_task(report())"""

CANDLES = """\
import numpy as np, pandas as pd
import paperbroker as pb
from paperbroker.widgets import PriceChart
rng = np.random.default_rng(5)
close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
open_ = np.r_[100.0, close[:-1]]
bars = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.004,
                     "low": np.minimum(open_, close) * 0.996, "close": close, "volume": 1e6},
                    index=pd.date_range("2024-01-02 09:30", periods=300, freq="min", name="time")).round(2)
broker = pb.BrokerService(seed=1, market=pb.BarReplay(bars, symbol="SYN"), execution_delay=None)
candles = PriceChart(broker, "SYN")
for _ in range(120):
    broker.step()
candles"""


def state(lab: Lab, wait_for: Any = None, timeout: float = 30.0) -> dict[str, Any]:
    """The broker's orders as the kernel last wrote them; with ``wait_for``, the first
    state for which it returns true."""
    deadline = time.monotonic() + timeout
    path = Path(lab.root) / "state.json"
    while True:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        if data and (wait_for is None or wait_for(data)):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"the broker never reached the state waited for; last: {data}")
        time.sleep(0.05)


# the order's label (and so its line) is drawn at price p
AT_PRICE = """([id, p]) => {
    const el = document.querySelector(`.pb-line-label[data-id='${id}']`);
    return el && Math.abs(Number(el.dataset.price) - p) < 1e-9;
}"""


def label(tab: Page, order_id: str) -> Any:
    return tab.page.locator(f".pb-price .pb-line-label[data-id='{order_id}']")


def drag(tab: Page, order_id: str, dy: float) -> None:
    """Press on the order's label, move it ``dy`` pixels in steps, release."""
    box = label(tab, order_id).bounding_box()
    assert box is not None
    x, y = box["x"] + 30, box["y"] + box["height"] / 2
    mouse = tab.page.mouse
    mouse.move(x, y)
    mouse.down()
    for i in range(1, 11):
        mouse.move(x, y + dy * i / 10)
    mouse.up()


def test_line_markers_drag_refusal_and_cancel(lab: Lab, tab: Page) -> None:
    tab.open_lab(lab.notebook("price.ipynb", LINE_SETUP, STATE))
    page = tab.page
    # 42 quotes (the one at creation and 41 steps), drawn as a line (with bid and ask); the fill a marker
    page.wait_for_selector(".pb-price[data-mode='line'][data-points='42'][data-markers='1']")
    assert page.locator(".pb-price .pb-plot canvas").count() > 0
    ids = state(lab)
    limit_id, tp_id = ids["limit"], ids["tp"]
    first = ids["orders"][limit_id]["limit"]
    assert label(tab, limit_id).text_content().startswith(f"Buy limit 10 @ {first:.2f}")
    assert label(tab, tp_id).text_content().startswith(f"Take profit of {limit_id}: Sell limit 10")

    # dragging the limit line down lowers the order's limit price in the broker
    drag(tab, limit_id, 60)
    moved = state(lab, lambda s: s["orders"][limit_id]["limit"] != first)
    new = moved["orders"][limit_id]["limit"]
    assert new < first
    page.wait_for_function(AT_PRICE, arg=[limit_id, new])

    # a take-profit below its buy's limit is refused: the line goes back, the reason shows
    tp_price = moved["orders"][tp_id]["limit"]
    drag(tab, tp_id, 400)
    page.wait_for_selector(".pb-price .pb-notice[data-kind='error']:not(:empty)")
    reason = page.locator(".pb-price .pb-notice").text_content()
    assert "take-profit" in reason.lower() or "take_profit" in reason.lower() or "above" in reason.lower(), (
        reason
    )
    page.wait_for_function(AT_PRICE, arg=[tp_id, tp_price])
    assert state(lab)["orders"][tp_id]["limit"] == tp_price

    # the x cancels the order (and its waiting take-profit); their lines go
    label(tab, limit_id).locator(".pb-x").click()
    state(lab, lambda s: s["orders"][limit_id]["status"] == "Canceled")
    page.wait_for_function(
        "() => !document.querySelector('.pb-line-label[data-id]:not([data-style=position])')"
    )
    assert tab.errors == []


def test_candles_from_a_bar_replay(lab: Lab, tab: Page) -> None:
    tab.open_lab(lab.notebook("candles.ipynb", CANDLES))
    tab.page.wait_for_selector(".pb-price[data-mode='candles'][data-points='120']")
    tab.screenshot(".pb-price", "price-candles.png")
    assert tab.errors == []


# A dashboard with every kind of row: a working limit with brackets, a position, fills.
DASHBOARD = """\
import paperbroker as pb
from paperbroker.widgets import dashboard
walk = pb.RandomWalk({"AAPL": 190.0, "MSFT": 410.0})
broker = pb.BrokerService(seed=3, market=walk, execution_delay=None)
board = dashboard(broker, symbols=["AAPL", "MSFT"])
for _ in range(30):
    broker.step()
broker.buy("AAPL", 5)
last = broker.quote("MSFT").last
prices = {"limit": round(last - 5, 2), "take_profit": round(last + 5, 2), "stop_loss": round(last - 9, 2)}
broker.buy("MSFT", 3, **prices)
broker.step()
board"""

ESSENTIAL = {
    "Orders": ["Symbol", "Side", "Type", "Qty", "Limit", "Stop", "Status", "Order"],
    "Positions": ["Symbol", "Side", "Qty", "Avg price", "Last", "Unrealized P&L"],
    "Executions": ["Time", "Symbol", "Side", "Qty", "Price", "Order"],
}

# every header cell and row button of a table that is shown, and whether it fits inside
# the table's box (not clipped at its right edge)
VISIBLE = """(title) => {
    const t = [...document.querySelectorAll('.pb-table')]
        .find((el) => el.querySelector('.pb-heading').textContent === title);
    const right = t.getBoundingClientRect().right;
    const inside = (el) => {
        const r = el.getBoundingClientRect();
        return r.width > 0 && r.right <= right + 1;
    };
    const heads = [...t.querySelectorAll('.pb-head .pb-sort')].filter(inside).map((c) => c.textContent);
    const buttons = [...t.querySelectorAll('.pb-row:not([hidden]) button')].filter((b) => !b.hidden);
    return {heads, buttons: buttons.length, clipped: buttons.filter((b) => !inside(b)).length};
}"""


@pytest.mark.parametrize("file_browser", [False, True], ids=["file-browser-closed", "file-browser-open"])
def test_every_essential_column_shows_at_1024x768(lab: Lab, tab: Page, file_browser: bool) -> None:
    tab.page.set_viewport_size({"width": 1024, "height": 768})
    tab.open_lab(lab.notebook(f"fit-{file_browser}.ipynb", DASHBOARD))
    page = tab.page
    # as a teacher projects: the notebook the width of the screen, or beside the files
    if file_browser:
        page.evaluate("() => window.jupyterapp.commands.execute('filebrowser:activate')")
        page.wait_for_selector(".jp-FileBrowser", state="visible")
    else:
        page.evaluate("() => { const s = window.jupyterapp.shell; if (!s.leftCollapsed) s.collapseLeft(); }")
    page.wait_for_selector(".pb-price[data-points='32']")  # 1 quote at creation, 31 steps
    page.wait_for_selector(".pb-table .pb-row:not([hidden]) .pb-cell")
    time.sleep(1)  # the last resize has settled the columns
    tab.screenshot(".jp-Notebook", f"dashboard-1024-{'files' if file_browser else 'wide'}.png")
    for title, wanted in ESSENTIAL.items():
        seen = page.evaluate(VISIBLE, title)
        missing = [c for c in wanted if c not in seen["heads"]]
        assert not missing, (title, missing, seen)
        debug = page.evaluate(
            "(title) => { const t = [...document.querySelectorAll('.pb-table')].find((el) =>"
            " el.querySelector('.pb-heading').textContent === title);"
            " const s = t.querySelector('.pb-scroll'); const l = t.querySelector('.pb-head');"
            " return [t.dataset.hidden, t.clientWidth, s.clientWidth, l.scrollWidth,"
            " getComputedStyle(t).getPropertyValue('--pb-cols')]; }",
            title,
        )
        assert seen["clipped"] == 0, (title, seen, debug)
    # the orders table has its Cancel buttons in view, and says whose the brackets are
    assert page.evaluate(VISIBLE, "Orders")["buttons"] >= 1
    notes = page.locator(".pb-table .pb-row:not([hidden]) .pb-cell").all_text_contents()
    assert any(n.startswith("Take profit of ORDER-") for n in notes), notes
    # the positions table (one row) is as tall as its row, not a fixed 220 px box
    height = page.evaluate(
        "() => [...document.querySelectorAll('.pb-table')].find((el) =>"
        " el.querySelector('.pb-heading').textContent === 'Positions')"
        ".querySelector('.pb-scroll').clientHeight"
    )
    assert height < 120, height
    assert tab.errors == []


def test_a_presentation_scale_grows_the_type_of_every_part(lab: Lab, tab: Page) -> None:
    tab.page.set_viewport_size({"width": 1400, "height": 1000})
    cells = DASHBOARD.replace("dashboard(broker, symbols=", "dashboard(broker, scale=1.5, symbols=")
    tab.open_lab(lab.notebook("scale.ipynb", cells))
    page = tab.page
    page.wait_for_selector(".pb-table .pb-row:not([hidden]) .pb-cell")
    time.sleep(1)
    sizes = page.evaluate(
        "() => ['.pb-summary', '.pb-ticket', '.pb-price', '.pb-chart', '.pb-table'].map((s) =>"
        " getComputedStyle(document.querySelector(s)).fontSize)"
    )
    assert sizes == ["18px"] * 5, sizes  # 12 px at scale 1
    row = page.evaluate(
        "() => document.querySelector('.pb-table .pb-row:not([hidden])').getBoundingClientRect().height"
    )
    assert row == pytest.approx(36, abs=0.5), row  # 24 px at scale 1: the type fits its row
    tab.screenshot(".jp-Notebook", "dashboard-scale-1.5.png")
    assert tab.errors == []
