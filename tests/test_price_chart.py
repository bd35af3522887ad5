"""The price chart on the kernel side: its window of quotes, the order lines, markers and
position it draws, the drag (move) and x (cancel) commands, coalescing, its snapshot."""

from __future__ import annotations

import asyncio
import base64
import re
import time

import numpy as np
import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import widgets as w

from .test_widgets import browser, comm_msgs, custom, recording_comm, replies, settle  # noqa: F401

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def market() -> pb.BrokerService:
    walk = pb.RandomWalk({"AAPL": 190.0, "MSFT": 400.0})
    return pb.BrokerService(seed=4, market=walk, execution_delay=None)


def svg_of(html: str) -> str:
    """The SVG image inside a snapshot."""
    found = re.search(r"base64,([^\"]+)", html)
    assert found is not None
    return base64.b64decode(found.group(1)).decode()


def recorded(broker: pb.BrokerService, symbol: str) -> list[pb.Quote]:
    """Every quote of ``symbol`` from now on, as a plain subscriber receives them."""
    quotes: list[pb.Quote] = []
    broker.subscribe(pb.topic("quotes", symbol=symbol), quotes.append)
    return quotes


def test_a_line_of_the_quotes_with_bid_and_ask(market):
    quotes = recorded(market, "AAPL")
    chart = w.PriceChart(market, "AAPL")
    for _ in range(30):
        market.step()
    points = chart.points()
    assert chart.mode == "line"
    # the quote at creation, then one point per step (each a second apart)
    assert len(points["time"]) == 31
    assert points["close"][1:].tolist() == [q.last for q in quotes]
    assert points["bid"][1:].tolist() == [q.bid for q in quotes]
    assert points["ask"][1:].tolist() == [q.ask for q in quotes]
    assert points["time"][1:].tolist() == [q.time for q in quotes]
    chart.close()


def test_prices_set_by_hand_in_one_millisecond_are_each_a_point():
    clock = pb.SimClock()
    broker = pb.BrokerService(execution_delay=None, clock=clock, market=pb.ManualQuotes({"ACME": 100.0}))
    chart = w.PriceChart(broker, "ACME")
    for price in (99.5, 98.9, 98.2):
        broker.set_price("ACME", price)
    points = chart.points()
    assert points["close"].tolist() == [100.0, 99.5, 98.9, 98.2]
    start = clock.now_ms()
    assert points["time"].tolist() == [start, start + 1, start + 2, start + 3]
    chart.close()


def test_the_window_keeps_the_newest_max_points(market):
    quotes = recorded(market, "AAPL")
    chart = w.PriceChart(market, "AAPL", max_points=10)
    for _ in range(50):
        market.step()
    assert chart.points()["close"].tolist() == [q.last for q in quotes[-10:]]
    chart.close()


def test_candles_for_a_bar_replay():
    bars = pd.DataFrame(
        {
            "open": [10.0, 11.0, 12.0, 11.5],
            "high": [11.5, 12.5, 12.2, 12.0],
            "low": [9.5, 10.5, 11.0, 11.0],
            "close": [11.0, 12.0, 11.5, 11.8],
            "volume": 1000.0,
        },
        index=pd.date_range("2024-01-02 09:30", periods=4, freq="min", name="time"),
    )
    broker = pb.BrokerService(seed=1, market=pb.BarReplay(bars, symbol="SYN"), execution_delay=None)
    chart = w.PriceChart(broker, "SYN")
    for _ in range(4):
        broker.step()
    points = chart.points()
    assert chart.mode == "candles"
    for column in ("open", "high", "low", "close"):
        assert points[column][-4:].tolist() == bars[column].tolist()
    assert points["time"][-4:].tolist() == [int(t.timestamp() * 1000) for t in bars.index]
    chart.close()


def test_order_lines_are_labelled_and_only_the_accounts(market):
    market.open_account("BOB")
    market.step()
    chart = w.PriceChart(market, "AAPL")
    buy = market.buy("AAPL", 10, limit=189.5, take_profit=195.0, stop_loss=185.25)
    stop = market.sell("AAPL", 3, stop=180.0)
    stop_limit = market.sell("AAPL", 2, stop=181.0, limit=180.5)
    market.buy("MSFT", 1, limit=390.0)  # another symbol
    market.buy("AAPL", 1, limit=150.0, account_id="BOB")  # another account
    tp, sl = (o.id for o in market.orders() if o.parentId == buy.id)
    labels = {(line["id"], line["field"]): line["label"] for line in chart.lines()}
    assert labels == {
        (buy.id, "limitPrice"): "Buy limit 10 @ 189.50",
        (tp, "limitPrice"): f"Take profit of {buy.id}: Sell limit 10 @ 195.00 (waits for its order)",
        (sl, "stopPrice"): f"Stop loss of {buy.id}: Sell stop 10 @ 185.25 (waits for its order)",
        (stop.id, "stopPrice"): "Sell stop 3 @ 180.00",
        (stop_limit.id, "stopPrice"): "Sell stop-limit stop 2 @ 181.00",
        (stop_limit.id, "limitPrice"): "Sell stop-limit limit 2 @ 180.50",
    }
    styles = {line["id"]: line["style"] for line in chart.lines()}
    assert styles[tp] == "take-profit" and styles[sl] == "stop-loss" and styles[stop.id] == "stop"
    market.cancel(stop.id)
    assert stop.id not in {line["id"] for line in chart.lines()}
    chart.close()


async def test_dragging_a_line_modifies_the_order(market):
    market.step()
    chart = w.PriceChart(market, "AAPL")
    order = market.buy("AAPL", 10, limit=185.0)
    browser(chart, {"type": "move", "id": 1, "order": order.id, "field": "limitPrice", "price": 184.25})
    reply = replies(chart)[-1]
    assert reply["ok"] and reply["id"] == 1, reply
    assert market.order(order.id).limitPrice == 184.25
    await settle(chart)
    assert [line["price"] for line in chart.lines()] == [184.25]
    assert custom(chart, "update")[-1]["lines"][0]["label"] == "Buy limit 10 @ 184.25"
    chart.close()


def test_dragging_a_waiting_bracket_moves_it_through_its_parent(market):
    market.step()
    chart = w.PriceChart(market, "AAPL")
    order = market.buy("AAPL", 10, limit=185.0, take_profit=195.0)
    tp = next(o for o in market.orders() if o.parentId == order.id)
    browser(chart, {"type": "move", "id": 2, "order": tp.id, "field": "limitPrice", "price": 197.0})
    assert replies(chart)[-1]["ok"]
    assert market.order(order.id).takeProfit == 197.0
    assert market.order(tp.id).limitPrice == 197.0
    chart.close()


def test_a_refused_drag_changes_nothing_and_says_why(market):
    market.step()
    chart = w.PriceChart(market, "AAPL")
    order = market.buy("AAPL", 10, limit=185.0, take_profit=195.0)
    tp = next(o for o in market.orders() if o.parentId == order.id)
    before = [o.to_dict() for o in market.orders()]
    # a buy's take-profit below its limit: the broker refuses it
    browser(chart, {"type": "move", "id": 3, "order": tp.id, "field": "limitPrice", "price": 180.0})
    reply = replies(chart)[-1]
    assert not reply["ok"] and "take" in reply["error"].lower(), reply
    # not a price, not a line of this chart
    browser(chart, {"type": "move", "id": 4, "order": order.id, "field": "limitPrice", "price": -1})
    assert "positive number" in replies(chart)[-1]["error"]
    browser(chart, {"type": "move", "id": 5, "order": order.id, "field": "qty", "price": 10})
    assert "limitPrice" in replies(chart)[-1]["error"]
    browser(chart, {"type": "move", "id": 6, "order": "ORDER-99", "field": "limitPrice", "price": 10})
    assert "only the orders drawn on this chart" in replies(chart)[-1]["error"]
    assert [o.to_dict() for o in market.orders()] == before
    chart.close()


def test_another_accounts_order_cannot_be_touched(market):
    market.open_account("BOB")
    market.step()
    chart = w.PriceChart(market, "AAPL")
    theirs = market.buy("AAPL", 1, limit=150.0, account_id="BOB")
    browser(chart, {"type": "cancel", "id": 7, "order": theirs.id})
    assert not replies(chart)[-1]["ok"]
    assert market.order(theirs.id).status is pb.OrderStatus.WORKING
    chart.close()


def test_the_x_cancels(market):
    market.step()
    chart = w.PriceChart(market, "AAPL")
    order = market.buy("AAPL", 10, limit=185.0, take_profit=195.0)
    browser(chart, {"type": "cancel", "id": 8, "order": order.id})
    note = f"{order.id} cancelled."
    assert replies(chart)[-1] == {"type": "reply", "id": 8, "ok": True, "error": None, "note": note}
    assert market.order(order.id).status is pb.OrderStatus.CANCELED
    assert chart.lines() == []  # its waiting take-profit went with it
    chart.close()


def test_fills_are_markers_and_the_position_a_line(market):
    market.step()
    chart = w.PriceChart(market, "AAPL")
    fill = market.buy("AAPL", 5)
    market.step()
    execution = market.executions("AAPL")[-1]
    assert execution.orderId == fill.id
    side = {"side": 1, "orderId": fill.id, "qty": 5.0, "price": execution.price}
    assert chart.markers() == [
        {"time": execution.time, **side, "text": f"Buy 5 @ {execution.price:.2f} ({fill.id})"}
    ]
    browser(chart, {"type": "snapshot", "id": 9})  # what a view asks for when it renders
    position = market.position("AAPL")
    line = custom(chart, "update")[-1]["position"]
    pl = position.unrealizedPL
    sign = "+" if pl > 0 else ("\u2212" if pl < 0 else "")
    assert line["price"] == position.avgPrice and line["qty"] == 5
    assert line["label"] == f"Long 5 @ {position.avgPrice:.2f}  P&L {sign}{abs(pl):,.2f}"
    chart.close()


async def test_two_thousand_ticks_a_second_are_coalesced(market):
    chart = w.PriceChart(market, "AAPL", interval=0.05)
    await settle(chart)
    before = len(comm_msgs(chart))
    started = time.monotonic()
    for i in range(2000):
        market.step()
        if i % 100 == 99:
            await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    elapsed = time.monotonic() - started
    sent = len(comm_msgs(chart)) - before
    assert 1 <= sent <= elapsed / 0.05 + 2
    # the points sent rebuild the window, as the browser does: row i from update["from"] on
    rows: dict[int, list[float]] = {}
    for kind, data, buffers in chart.comm.sent:
        content = data.get("content", {}) if kind == "comm_msg" else {}
        if content.get("type") == "update":
            block = np.frombuffer(buffers[0], dtype=np.float64).reshape(-1, 7)
            for i, row in enumerate(block.tolist(), start=content["from"]):
                rows[i] = row
    assert len(chart.points()["time"]) == 2000  # bounded: the newest 2,000 of 2,001
    rebuilt = [rows[i] for i in sorted(rows)][-2000:]
    assert [r[4] for r in rebuilt] == chart.points()["close"].tolist()
    chart.close()


def test_changing_the_symbol_starts_the_window_again(market):
    chart = w.PriceChart(market, "AAPL")
    market.step()
    quotes = recorded(market, "MSFT")
    chart.symbol = "MSFT"
    for _ in range(3):
        market.step()
    assert chart.points()["close"].tolist()[-3:] == [q.last for q in quotes[-3:]]
    assert len(chart.points()["close"]) == 4  # MSFT's quote when switched, then three steps
    with pytest.raises(pb.ConfigurationError, match="symbol"):
        chart.symbol = ""
    assert chart.symbol == "MSFT"
    chart.close()


def test_the_snapshot_is_an_escaped_svg_image(market):
    market.step()
    chart = w.PriceChart(market, "AAPL")
    market.buy("AAPL", 10, limit=185.0)
    market.step()
    html = chart.snapshot_html()
    assert "<script" not in html
    svg = svg_of(html)
    assert "Buy limit 10 @ 185.00" in svg and "<polyline" in svg
    assert "orders: Buy limit 10 @ 185.00" in html  # the text alternative
    chart.close()


def test_a_symbol_that_is_html_stays_text():
    broker = pb.BrokerService(seed=1, market=pb.RandomWalk({XSS: 10.0}), execution_delay=None)
    broker.step()
    chart = w.PriceChart(broker, XSS)
    html = chart.snapshot_html()
    svg = svg_of(html)
    assert XSS not in html and XSS not in svg
    chart.close()


def test_bad_options_raise_and_close_unsubscribes(market):
    for bad in ("", "  ", None, 3):
        with pytest.raises(pb.ConfigurationError, match="symbol"):
            w.PriceChart(market, bad)  # type: ignore[arg-type]
    with pytest.raises(pb.ConfigurationError, match="max_points"):
        w.PriceChart(market, "AAPL", max_points=5)
    before = len(market.subscriptions())
    chart = w.PriceChart(market, "AAPL")
    assert len(market.subscriptions()) > before
    chart.close()
    assert len(market.subscriptions()) == before and chart.closed


def test_classic_mode_draws_orders_without_quotes():
    broker = pb.BrokerService(seed=1, execution_delay=None)
    chart = w.PriceChart(broker, "AAPL")
    broker.buy("AAPL", 1, limit=100.0)
    assert len(chart.points()["time"]) == 0
    assert [line["label"] for line in chart.lines()] == ["Buy limit 1 @ 100.00"]
    assert "No quotes yet" in svg_of(chart.snapshot_html())
    chart.close()


# ---------------------------------------------------------------- in the dashboard


async def test_the_dashboard_has_the_price_chart_following_the_ticket(market):
    board = w.dashboard(market, symbols=["AAPL", "MSFT"])
    assert board.price is not None and board.price.symbol == "AAPL"
    assert board.price in board.parts and len(board.parts) == 7
    board.ticket.symbol = "MSFT"  # what typing a symbol in the ticket does
    assert board.price.symbol == "MSFT"
    market.step()
    assert board.price.points()["close"][-1] == market.quote("MSFT").last
    assert "MSFT" in board.snapshot_html()
    board.close()
    assert all(part.closed for part in board.parts)
    assert w.dashboard(market, price_chart=False).price is None


async def test_the_tickets_status_follows_its_orders_latest_state(market):
    market.step()
    ticket = w.OrderTicket(market, symbols=["AAPL"])
    order = ticket.place("buy", {"symbol": "AAPL", "type": "limit", "qty": 5, "limitPrice": 150})
    assert ticket.status["text"] == f"{order.id} working: Buy 5 AAPL limit 150"
    market.fill(order.id)
    await settle(ticket)
    assert ticket.status["text"] == f"{order.id} filled: Buy 5 AAPL limit 150"
    ticket.close()


def test_marimo_shows_the_dashboard_as_its_own_stacks_of_live_parts(market):
    mo = pytest.importorskip("marimo")
    board = w.dashboard(market, symbols=["AAPL"])
    shown = board._display_()
    html = shown.text
    # one marimo anywidget element per live part, in a marimo stack
    assert html.count("marimo-anywidget") >= len(board.parts)
    assert isinstance(shown, mo.Html)
    board.close()


def test_the_orders_table_says_whose_a_bracket_is(market):
    market.step()
    table = w.OrdersTable(market)
    entry = market.buy("AAPL", 10, limit=185.0, take_profit=195.0, stop_loss=180.0)
    notes = {row["id"]: row["message"] for row in table.rows()}
    tp, sl = (o.id for o in market.orders() if o.parentId == entry.id)
    assert notes == {entry.id: None, tp: f"Take profit of {entry.id}", sl: f"Stop loss of {entry.id}"}
    market.fill(entry.id)  # the brackets now protect the position
    notes = {row["id"]: row["message"] for row in table.rows()}
    assert notes[tp] == "Take profit of position AAPL" and notes[sl] == "Stop loss of position AAPL"
    table.close()


async def test_a_refused_ticket_order_is_not_overwritten_by_the_order_before() -> None:
    """The ticket's status line follows its last order; after a refused one it tells the
    refusal, even when the earlier order changed and its flush was still to come (on a
    running loop the ticket flushes on a timer)."""
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(0))
    ticket = w.OrderTicket(broker, symbols=["AAPL"])
    first = ticket.place("buy", {"symbol": "AAPL", "type": "limit", "qty": 3, "limitPrice": 101.25})
    broker.cancel(first.id)  # the ticket hears of it; its flush is still to come
    with pytest.raises(pb.BrokerError, match="Quantity is empty"):
        ticket.place("sell", {"symbol": "AAPL", "type": "limit", "qty": "", "limitPrice": 101.25})
    ticket.flush()
    assert ticket.status["kind"] == "error"
    assert ticket.status["text"] == "Quantity is empty; enter how many to trade."
    ticket.close()
