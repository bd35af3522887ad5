"""Live widgets on the kernel side, through a recording comm: what they send, when, and
what browser commands do."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from typing import Any

import comm
import numpy as np
import pytest
from comm.base_comm import BaseComm

import paperbroker as pb
from paperbroker import widgets as w


class RecordingComm(BaseComm):
    """A comm that keeps every message the kernel would publish to the browser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[tuple[str, dict[str, Any], list[Any]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any
    ) -> None:
        self.sent.append((msg_type, data or {}, list(buffers or [])))


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


def comm_msgs(widget: Any) -> list[dict[str, Any]]:
    """Every comm_msg the widget sent to the browser (state updates and custom)."""
    return [data for kind, data, _ in widget.comm.sent if kind == "comm_msg"]


def custom(widget: Any, kind: str | None = None) -> list[dict[str, Any]]:
    out = [d["content"] for d in comm_msgs(widget) if d.get("method") == "custom"]
    return [c for c in out if kind is None or c.get("type") == kind]


def replies(widget: Any) -> list[dict[str, Any]]:
    return custom(widget, "reply")


def browser(widget: Any, content: Any) -> None:
    """Deliver a message as the browser would (the comm handler)."""
    widget.comm.handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def state(broker: pb.BrokerService) -> tuple[Any, ...]:
    return (
        [o.to_dict() for o in broker.orders()],
        [p.to_dict() for p in broker.positions()],
        broker.equity().to_dict(),
        broker.execution_count,
    )


async def settle(*widgets: Any) -> None:
    """Let pending flush timers fire (they are at most one interval away)."""
    await asyncio.sleep(0.3)
    for widget in widgets:
        widget.flush()


@pytest.fixture
def broker() -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, seed=3, risk=None)  # thousands of fills, no limit


def trade(broker: pb.BrokerService, i: int) -> None:
    symbol = ("AAPL", "MSFT", "EURUSD")[i % 3]
    price = 100.0 + (i % 17)
    order = (
        broker.buy(symbol, 1 + i % 4, price=price) if i % 2 else broker.sell(symbol, 1 + i % 3, price=price)
    )
    broker.fill(order.id)


# ---------------------------------------------------------------- coalescing


async def test_ten_thousand_fills_send_a_bounded_number_of_messages(broker):
    board = w.dashboard(broker)
    parts = board.parts
    before = {id(p): len(comm_msgs(p)) for p in parts}
    started = time.monotonic()
    for i in range(10_000):
        trade(broker, i)
        if i % 500 == 499:
            await asyncio.sleep(0)  # let the loop breathe, as a running simulator would
    await asyncio.sleep(0.3)
    elapsed = time.monotonic() - started
    for part in parts:
        sent = len(comm_msgs(part)) - before[id(part)]
        bound = elapsed / part.interval + 2
        least = 0 if isinstance(part, w.OrderTicket) else 1  # the ticket only reports rejections
        assert least <= sent <= bound, (type(part).__name__, sent, bound)
    # and the coalesced state is the broker's
    assert len(board.executions.rows()) == 10_000
    assert len(board.orders.rows()) == 10_000
    assert {r["id"]: r["qty"] for r in board.positions.rows()} == {p.id: p.qty for p in broker.positions()}
    assert board.summary.values["equity"] == pytest.approx(broker.equity().equity)
    assert board.chart.points()["equity"][-1] == pytest.approx(broker.equity().equity)
    board.close()


async def test_one_patch_per_flush_with_the_last_state_of_each_row(broker):
    table = w.OrdersTable(broker)
    order = broker.buy("AAPL", 10, limit=99.0)
    broker.fill(order.id, qty=4)
    broker.fill(order.id, qty=6)
    other = broker.sell("MSFT", 1, limit=300.0)
    await settle(table)
    patches = custom(table, "patch")
    assert len(patches) == 1
    rows = {row[0]: row for row in patches[0]["upsert"]}
    assert set(rows) == {order.id, other.id}
    status = [c.key for c in w.OrdersTable.COLUMNS].index("status") + 1
    filled = [c.key for c in w.OrdersTable.COLUMNS].index("filledQty") + 1
    assert rows[order.id][status] == pb.OrderStatus.FILLED and rows[order.id][filled] == 10
    table.close()


async def test_closed_position_row_is_removed(broker):
    table = w.PositionsTable(broker)
    broker.fill(broker.buy("AAPL", 5, price=100.0).id)
    await settle(table)
    broker.fill(broker.sell("AAPL", 5, price=101.0).id)
    await settle(table)
    assert custom(table, "patch")[-1]["remove"] == ["AAPL"]
    assert table.rows() == []
    table.close()


async def test_tables_keep_the_newest_max_rows(broker):
    table = w.ExecutionsTable(broker, max_rows=50)
    for i in range(200):
        trade(broker, i)
    await settle(table)
    kept = [r["id"] for r in table.rows()]
    assert kept == [e.id for e in broker.executions()[-50:]]
    table.close()


async def test_snapshot_request_rebuilds_a_view(broker):
    broker.fill(broker.buy("AAPL", 5, price=100.0).id)
    table = w.PositionsTable(broker)
    broker.fill(broker.buy("MSFT", 2, price=300.0).id)
    browser(table, {"type": "snapshot", "id": "v1:1"})
    snapshot = custom(table, "snapshot")[-1]
    assert sorted(row[0] for row in snapshot["rows"]) == ["AAPL", "MSFT"]
    assert replies(table)[-1] == {"type": "reply", "id": "v1:1", "ok": True, "error": None, "note": None}
    table.close()


async def test_equity_chart_window_is_bounded_and_spans_the_session():
    clock = pb.SimClock()
    broker = pb.BrokerService(execution_delay=None, clock=clock, risk=None)  # no buying-power limit
    chart = w.EquityChart(broker, max_points=100)
    start = clock.now_ms()
    for i in range(3000):
        clock.advance(1000)
        trade(broker, i)
    points = chart.points()
    assert 50 <= len(points["time"]) <= 100
    assert points["time"].dtype.name == "float64"
    span = clock.now_ms() - start
    assert points["time"][0] - start <= span / 40 and points["time"][-1] == clock.now_ms()
    assert points["equity"][-1] == pytest.approx(broker.equity().equity)
    last = custom(chart, "points")[-1]
    assert comm_msgs(chart)[-1]["content"] is last
    chart.close()


async def test_equity_chart_keeps_the_newest_point_when_the_clock_stands_still():
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock())
    chart = w.EquityChart(broker, max_points=10)
    for i in range(30):
        trade(broker, i)
    points = chart.points()
    assert 1 <= len(points["time"]) <= 10
    assert points["equity"][-1] == pytest.approx(broker.equity().equity)
    chart.close()


async def test_equity_chart_made_late_starts_with_the_history():
    clock = pb.SimClock()
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    for i in range(5):
        clock.advance(1000)
        trade(broker, i)
    chart = w.EquityChart(broker)
    history = pb.equity_frame(broker)
    points = chart.points()
    assert points["equity"].tolist() == history["equity"].tolist()
    assert points["time"][-1] == clock.now_ms()
    chart.close()


async def test_equity_chart_sends_plotly_from_the_package(broker):
    chart = w.EquityChart(broker)
    browser(chart, {"type": "plotly", "id": 1})
    sent = [(d, b) for kind, d, b in chart.comm.sent if kind == "comm_msg" and d.get("method") == "custom"]
    content, buffers = next((d["content"], b) for d, b in sent if d["content"]["type"] == "plotly-js")
    assert content == {"type": "plotly-js"}
    assert b"Plotly" in bytes(buffers[0][:2000]) or b"plotly" in bytes(buffers[0][:2000])
    chart.close()


async def test_account_summary_follows_equity(broker):
    summary = w.AccountSummary(broker)
    broker.fill(broker.buy("AAPL", 10, price=100.0).id)
    broker.fill(broker.sell("AAPL", 4, price=110.0).id)
    await settle(summary)
    values = summary.values
    assert values["realizedPL"] == 40.0 and values["unrealizedPL"] == 60.0
    assert values["returnPct"] == pytest.approx(100 / 100_000 * 100)
    labels = [label for _, label, _ in summary.fields]
    assert labels[:4] == ["Equity", "Balance", "Unrealized P&L", "Realized P&L"]
    summary.close()


# ---------------------------------------------------------------- lifecycle


async def test_widgets_subscribe_on_creation_and_closing_the_last_stops_the_simulator():
    broker = pb.BrokerService(execution_delay=0.05)
    board = w.dashboard(broker)
    extra = w.PositionsTable(broker)
    assert broker.simulator_running
    assert len(broker.subscriptions()) > 0
    board.close()
    assert broker.simulator_running  # the positions table still listens
    assert all(part.closed for part in board.parts)
    extra.close()
    assert broker.subscriptions() == []
    await asyncio.sleep(0)
    assert not broker.simulator_running


async def test_a_closed_widget_sends_nothing(broker):
    table = w.ExecutionsTable(broker)
    sent = list(table.comm.sent)
    rec = table.comm
    table.close()
    trade(broker, 1)
    await asyncio.sleep(0.2)
    assert [m for m in rec.sent if m[0] == "comm_msg"] == [m for m in sent if m[0] == "comm_msg"]


def test_bad_widget_options_are_refused(broker):
    with pytest.raises(pb.ConfigurationError, match="interval"):
        w.OrdersTable(broker, interval=0.001)
    with pytest.raises(pb.ConfigurationError, match="height"):
        w.PositionsTable(broker, height=10)
    with pytest.raises(pb.ConfigurationError, match="BrokerService"):
        w.AccountSummary("not a broker")  # type: ignore[arg-type]
    with pytest.raises(pb.UnknownAccount):
        w.EquityChart(broker, "NOBODY")
    with pytest.raises(pb.ConfigurationError, match="symbols"):
        w.OrderTicket(broker, symbols="AAPL")  # type: ignore[arg-type]
    assert broker.subscriptions() == []


def test_reprs_are_deterministic_for_notebook_tests(broker):
    board = w.dashboard(broker)
    assert repr(board) == "<Dashboard of DEMO-ACCOUNT>"
    assert repr(board.orders) == "<OrdersTable of DEMO-ACCOUNT>"
    assert board._repr_mimebundle_()["text/plain"] == "<Dashboard of DEMO-ACCOUNT>"
    assert board.chart._repr_mimebundle_()[0]["text/plain"] == "<EquityChart of DEMO-ACCOUNT>"
    board.close()
    assert repr(board.orders) == "<OrdersTable of DEMO-ACCOUNT (closed)>"


def test_importing_paperbroker_does_not_import_widgets():
    import subprocess
    import sys

    code = "import sys, paperbroker; print('ipywidgets' in sys.modules, 'anywidget' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ---------------------------------------------------------------- commands


async def test_row_actions_cancel_close_and_reverse(broker):
    orders = w.OrdersTable(broker)
    positions = w.PositionsTable(broker)
    working = broker.buy("AAPL", 3, limit=90.0)
    broker.fill(broker.buy("MSFT", 2, price=300.0).id)
    await settle(orders, positions)
    browser(orders, {"type": "action", "id": 1, "name": "cancel", "key": working.id})
    assert replies(orders)[-1] == {
        "type": "reply",
        "id": 1,
        "ok": True,
        "error": None,
        "note": f"Cancelled {working.id}.",
    }
    assert broker.order(working.id).status is pb.OrderStatus.CANCELED
    browser(positions, {"type": "action", "id": 2, "name": "reverse", "key": "MSFT"})
    assert replies(positions)[-1]["ok"]
    reverse = broker.orders()[-1]
    assert (reverse.symbol, reverse.side, reverse.qty) == ("MSFT", pb.Side.SELL, 4)
    browser(positions, {"type": "action", "id": 3, "name": "close", "key": "MSFT"})
    close = broker.orders()[-1]
    assert (close.side, close.qty, replies(positions)[-1]["ok"]) == (pb.Side.SELL, 2, True)
    orders.close()
    positions.close()


BAD_TABLE_COMMANDS = [
    ("not a dict", "JSON object"),
    ({"type": "explode", "id": 1}, "Unknown widget command"),
    ({"type": 5, "id": 1}, "Unknown widget command"),
    ({"type": "action", "id": 1, "name": "liquidate", "key": "ORDER-1"}, "no row action"),
    ({"type": "action", "id": 1, "name": "cancel"}, "row key"),
    ({"type": "action", "id": 1, "name": "cancel", "key": "ORDER-999"}, "not a row"),
    ({"type": "action", "id": 1, "name": "cancel", "key": "ORDER-2"}, "already filled"),
]


@pytest.mark.parametrize(("content", "message"), BAD_TABLE_COMMANDS)
async def test_bad_table_commands_reply_an_error_and_change_nothing(broker, content, message):
    table = w.OrdersTable(broker)
    broker.buy("AAPL", 1, limit=90.0)
    broker.fill(broker.buy("AAPL", 1, price=100.0).id)
    await settle(table)
    before = state(broker)
    browser(table, content)
    reply = replies(table)[-1]
    assert reply["ok"] is False and message in reply["error"]
    assert state(broker) == before
    table.close()


BAD_ORDERS = [
    ({"symbol": "AAPL", "type": "market", "qty": "abc", "seenPrice": 100}, "Quantity must be a number"),
    ({"symbol": "AAPL", "type": "market", "qty": None, "seenPrice": 100}, "Quantity is empty"),
    ({"symbol": "AAPL", "type": "market", "qty": -1, "seenPrice": 100}, "Quantity must be a finite"),
    ({"symbol": "", "type": "market", "qty": 1, "seenPrice": 100}, "Symbol must be"),
    ({"symbol": "A" * 100, "type": "market", "qty": 1, "seenPrice": 100}, "at most 64"),
    ({"symbol": "AAPL", "type": "banana", "qty": 1}, "not a valid order type"),
    ({"symbol": "AAPL", "type": "limit", "qty": 1}, "needs a Limit price; enter it in the Limit price box"),
    ({"symbol": "AAPL", "type": "stop_limit", "qty": 1, "limitPrice": 9}, "needs a Stop price"),
    (
        {"symbol": "AAPL", "type": "limit", "qty": 1, "limitPrice": 10, "stopLoss": 11},
        "The Stop loss 11 of this buy order must be below 10",
    ),
    ({"symbol": "AAPL", "type": "limit", "qty": 1, "limitPrice": "1e999"}, "Limit price must be"),
    (
        {"symbol": "NEWCO", "type": "market", "qty": 1},
        "cannot be priced: enter a Fill price, or place a limit",
    ),
    ("not an order", "JSON object"),
]


@pytest.mark.parametrize(("order", "message"), BAD_ORDERS)
async def test_bad_orders_show_their_error_in_the_ticket_and_change_nothing(broker, order, message):
    ticket = w.OrderTicket(broker, symbols=["AAPL"])
    before = state(broker)
    browser(ticket, {"type": "place", "id": 7, "side": "buy", "order": order})
    reply = replies(ticket)[-1]
    assert reply["id"] == 7 and reply["ok"] is False and message in reply["error"]
    assert ticket.status["kind"] == "error" and message in ticket.status["text"]
    assert state(broker) == before
    ticket.close()


async def test_bad_side_is_refused(broker):
    ticket = w.OrderTicket(broker)
    browser(ticket, {"type": "place", "id": 1, "side": "hold", "order": {"symbol": "X", "qty": 1}})
    assert "not a valid side" in replies(ticket)[-1]["error"]
    assert broker.orders() == []
    ticket.close()


async def test_ticket_places_orders_and_reports_them(broker):
    ticket = w.OrderTicket(broker, symbols=["AAPL"])
    browser(
        ticket,
        {
            "type": "place",
            "id": 1,
            "side": "sell",
            "order": {
                "symbol": " AAPL ",
                "type": "stop_limit",
                "qty": "5",
                "limitPrice": "99.5",
                "stopPrice": 100,
                "takeProfit": "90",
                "stopLoss": None,
                "seenPrice": "123",
            },
        },
    )
    reply = replies(ticket)[-1]
    assert reply["ok"] and reply["note"] == "ORDER-1"
    order = broker.order("ORDER-1")
    assert (order.symbol, order.side, order.type, order.qty) == (
        "AAPL",
        pb.Side.SELL,
        pb.OrderType.STOP_LIMIT,
        5,
    )
    assert (order.limitPrice, order.stopPrice, order.takeProfit, order.stopLoss) == (99.5, 100.0, 90.0, None)
    assert ticket.status["kind"] == "ok" and "ORDER-1" in ticket.status["text"]
    ticket.close()


async def test_commands_from_a_foreign_thread_hop_to_the_loop(broker):
    ticket = w.OrderTicket(broker)
    seen: list[int] = []
    broker.subscribe(pb.topic("orders"), lambda order: seen.append(threading.get_ident()))
    message = {
        "type": "place",
        "id": 1,
        "side": "buy",
        "order": {"symbol": "AAPL", "qty": 1, "seenPrice": 10},
    }
    worker = threading.Thread(target=browser, args=(ticket, message))
    worker.start()
    worker.join()
    assert broker.orders() == []  # queued on the loop, not run on the comm thread
    await asyncio.sleep(0.05)
    assert [o.symbol for o in broker.orders()] == ["AAPL"]
    assert seen == [threading.get_ident()]
    assert replies(ticket)[-1]["ok"]
    ticket.close()


async def test_events_published_from_a_foreign_thread_are_flushed_on_the_loop(broker):
    table = w.ExecutionsTable(broker)
    order = broker.buy("AAPL", 1, price=10.0)
    await asyncio.to_thread(broker.fill, order.id)
    await settle()
    patches = custom(table, "patch")
    assert len(patches) == 1 and patches[0]["upsert"][0][0] == broker.executions()[0].id
    table.close()


async def test_a_failing_flush_is_shown_and_the_broker_carries_on(broker, monkeypatch):
    table = w.ExecutionsTable(broker)

    def broken(record: Any) -> list[Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(table, "_row", broken)
    trade(broker, 1)
    await settle(table)
    assert "boom" in table.error
    trade(broker, 2)  # the broker is unaffected
    assert broker.execution_count == 2 and broker.subscriber_errors == 0
    table.close()


def test_without_a_running_loop_updates_are_sent_at_once(broker):
    table = w.ExecutionsTable(broker)
    trade(broker, 1)
    trade(broker, 2)
    assert len(custom(table, "patch")) == 2
    table.close()


# ---------------------------------------------------------------- market mode


def market_broker(**options: Any) -> pb.BrokerService:
    walk = pb.RandomWalk({"AAPL": 190.0, "MSFT": 410.0}, volatility=0.01)
    return pb.BrokerService(execution_delay=None, market=walk, seed=5, **options)


async def test_ticket_shows_live_quotes_and_positions_follow_the_marks():
    broker = market_broker()
    ticket = w.OrderTicket(broker, symbols=["AAPL", "MSFT"])
    positions = w.PositionsTable(broker)
    browser(ticket, {"type": "place", "id": 1, "side": "buy", "order": {"symbol": "AAPL", "qty": 10}})
    broker.run(20)
    await settle(ticket, positions)
    bid, ask, _last = ticket.quotes["AAPL"]
    assert 0 < bid < ask and set(ticket.quotes) == {"AAPL", "MSFT"}
    [row] = positions.rows()
    [pos] = broker.positions()
    assert (row["last"], row["unrealizedPL"]) == (pos.last, pos.unrealizedPL)
    assert row["unrealizedPL"] != 0.0
    ticket.close()
    positions.close()


async def test_summary_shows_margin_and_buying_power():
    broker = market_broker(risk=pb.RiskRules(account="margin", leverage=2.0))
    summary = w.AccountSummary(broker)
    broker.run(1)
    broker.buy("AAPL", 10)
    broker.run(3)
    await settle(summary)
    labels = {key: label for key, label, _ in summary.fields}
    assert broker.positions() != []
    assert labels["marginUsed"] == "Margin used" and labels["buyingPower"] == "Buying power"
    equity = broker.equity()
    assert summary.values["buyingPower"] == pytest.approx(equity.buyingPower)
    assert summary.values["marginUsed"] == pytest.approx(equity.marginUsed)
    summary.close()


async def test_a_rejected_order_shows_its_reason_in_the_ticket_and_the_orders_table():
    broker = market_broker(risk=pb.RiskRules())
    broker.run(1)
    ticket = w.OrderTicket(broker, symbols=["AAPL"])
    orders = w.OrdersTable(broker)
    browser(ticket, {"type": "place", "id": 1, "side": "buy", "order": {"symbol": "AAPL", "qty": 1_000_000}})
    reply = replies(ticket)[-1]
    assert reply["ok"] is False and "buying power" in reply["error"]
    assert ticket.status["kind"] == "error" and "buying power" in ticket.status["text"]
    [row] = orders.rows()
    assert row["status"] == pb.OrderStatus.REJECTED and "buying power" in row["message"]
    assert broker.positions() == [] and broker.execution_count == 0
    ticket.close()
    orders.close()


# ---------------------------------------------------------------- static HTML snapshots


def html_of(widget: Any) -> str:
    """The text/html a notebook saves next to the widget view when it is displayed."""
    bundle = widget._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data  # live front ends keep the widget
    return data["text/html"]


def cells(html: str) -> list[list[str]]:
    """The text of every table row of a snapshot (header rows included)."""
    import html as html_lib
    import re

    rows = re.findall(r"<tr>(.*?)</tr>", html, re.DOTALL)
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.DOTALL)
    return [[html_lib.unescape(c) for c in cell.findall(row)] for row in rows]


def clocked_broker() -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, seed=3, clock=pb.SimClock())


def test_table_snapshot_shows_the_rows_newest_first_formatted_as_live():
    broker = clocked_broker()
    broker.fill(broker.buy("AAPL", 10, price=190.25).id)
    broker.clock.advance(61_000)
    broker.fill(broker.sell("EURUSD", 1_500, price=1.08375).id)
    table = w.ExecutionsTable(broker)
    header, *rows = cells(html_of(table))
    assert header == ["Time (UTC)", "Symbol", "Side", "Qty", "Price", "Commission", "Order"]
    assert rows == [
        ["14:31:01", "EURUSD", "Sell", "1,500", "1.08375", "0.00", "ORDER-2"],
        ["14:30:00", "AAPL", "Buy", "10", "190.25", "0.00", "ORDER-1"],
    ]
    assert "Executions" in html_of(table) and "2 rows" in html_of(table)
    table.close()


def test_table_snapshot_of_positions_signs_and_colours_pl():
    broker = clocked_broker()
    broker.fill(broker.buy("AAPL", 10, price=100.0).id)
    broker.fill(broker.sell("AAPL", 4, price=98.5).id)
    table = w.PositionsTable(broker)
    html = html_of(table)
    [_header, row] = cells(html)
    assert row[:4] == ["AAPL", "Long", "6", "100.00"]
    assert row[-1] == "\u22126.00"  # realized (98.5 - 100) * 4, with a real minus sign
    # coloured by a class and, for JupyterLab's sanitizer, which drops <style>, inline
    assert '<td align="right" class="pb-neg" style="color:#cf222e">\u22126.00</td>' in html
    table.close()


def test_table_snapshot_is_bounded_and_says_how_many_rows_exist(broker):
    for i in range(40):
        trade(broker, i)
    table = w.OrdersTable(broker)
    html = html_of(table)
    body = cells(html)[1:]
    assert len(body) == 25
    assert "40 rows, the first 25 shown" in html
    # newest first: the snapshot starts with the last orders placed
    order = [c.key for c in w.OrdersTable.COLUMNS].index("id")
    assert [r[order] for r in body[:2]] == ["ORDER-40", "ORDER-39"]
    table.close()


def test_table_snapshot_of_an_empty_table_says_so(broker):
    table = w.OrdersTable(broker)
    [header, empty] = cells(table.snapshot_html())
    assert header[0] == "Time (UTC)" and empty == ["<em>Nothing yet</em>"]
    assert table.snapshot_html().count("<tr>") == 2
    table.close()


def test_snapshots_escape_every_text_from_python():
    broker = clocked_broker()
    hostile = '<img src=x onerror="alert(1)">&'
    broker.open_account(hostile)
    broker.fill(broker.buy("<b>X&Y</b>", 1, price=10.0, account_id=hostile).id)
    board = w.dashboard(broker, hostile, symbols=["<script>s</script>"])
    html = html_of(board)
    assert "<b>" not in html and "<script" not in html and "<img src=x" not in html
    assert "&lt;b&gt;X&amp;Y&lt;/b&gt;" in html and "&lt;script&gt;s&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in html
    board.close()


def test_summary_snapshot_shows_the_accounts_figures():
    broker = clocked_broker()
    broker.fill(broker.buy("AAPL", 10, price=100.0).id)
    broker.fill(broker.sell("AAPL", 10, price=102.0).id)
    summary = w.AccountSummary(broker)
    header, values = cells(html_of(summary))
    figures = dict(zip(header, values, strict=True))
    assert figures["Account"] == "<strong>DEMO-ACCOUNT</strong>"
    assert figures["Equity"] == "100,020.00" and figures["Realized P&L"] == "+20.00"
    assert figures["Return"] == "+0.02%" and figures["Unrealized P&L"] == "0.00"
    summary.close()


def test_chart_snapshot_is_an_svg_image_of_the_curve():
    import base64
    import re

    broker = clocked_broker()
    for i in range(1_000):
        broker.clock.advance(1_000)
        trade(broker, i)
    chart = w.EquityChart(broker)
    html = html_of(chart)
    source = re.search(r'<img src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert source is not None
    svg = base64.b64decode(source.group(1)).decode("utf-8")
    assert svg.startswith("<svg") and "<script" not in svg and "href" not in svg
    lines = re.findall(r'points="([^"]+)"', svg)
    assert len(lines) == 2  # equity and balance
    equity = lines[1].split()
    assert 2 <= len(equity) <= 400  # sampled: the snapshot stays small
    from .reliability import Reference  # the equity replayed from the executions

    ref = Reference({pb.DEFAULT_ACCOUNT: 100_000.0}).replay(broker)
    acc = ref.accounts[pb.DEFAULT_ACCOUNT]
    want = acc.initial + acc.realized - acc.commission + ref.unrealized(pb.DEFAULT_ACCOUNT)
    assert f"Equity {want:,.2f}" in svg  # thousands separators, two decimals
    assert re.search(r'alt="Equity of DEMO-ACCOUNT: from 100,000.00 to [^"]+ points"', html)
    chart.close()


def test_chart_snapshot_of_a_new_account_draws_its_one_point_as_a_flat_line(broker):
    import base64
    import re

    chart = w.EquityChart(broker)
    html = chart.snapshot_html()
    assert 'alt="Equity of DEMO-ACCOUNT: from 100,000.00 to 100,000.00 over 1 point"' in html
    svg = base64.b64decode(re.search(r"base64,([^\"]+)", html).group(1)).decode("utf-8")  # type: ignore[union-attr]
    equity = re.findall(r'points="([^"]+)"', svg)[1].split()
    assert len(equity) == 2 and equity[0].split(",")[1] == equity[1].split(",")[1]
    chart.close()


def test_ticket_snapshot_lists_its_symbols_quotes_and_last_outcome():
    broker = market_broker()
    broker.run(3)
    ticket = w.OrderTicket(broker, symbols=["AAPL", "MSFT"])
    broker.run(1)
    with pytest.raises(pb.BrokerError):
        ticket.place("buy", {"symbol": "AAPL", "type": "limit", "qty": 1})
    rows = cells(html_of(ticket))
    assert rows[0] == ["Symbol", "Bid", "Ask", "Last"]
    quote = broker.quote("AAPL")
    assert rows[1][0] == "AAPL" and rows[1][1] == f"{quote.bid:,.2f}"  # the bid, to the cent
    assert (rows[1][2], rows[2][0]) == (f"{quote.ask:,.2f}", "MSFT")
    assert "Last: " in html_of(ticket) and "limit" in html_of(ticket).lower()
    ticket.close()


def test_ticket_snapshot_without_quotes_lists_its_symbols(broker):
    ticket = w.OrderTicket(broker, symbols=["AAPL", "MSFT"])
    html = ticket.snapshot_html()
    assert "<p>Symbols: AAPL, MSFT</p>" in html and "<table>" not in html and "Last: " not in html
    ticket.close()


def test_dashboard_snapshot_has_every_part_and_one_note(broker):
    broker.fill(broker.buy("AAPL", 5, price=100.0).id)
    board = w.dashboard(broker)
    html = html_of(board)
    for kind in ("summary", "chart", "ticket", "table"):
        assert f"pb-snapshot-{kind}" in html
    assert html.count("pb-snapshot-table") == 3
    # one style sheet and one note for the whole dashboard
    assert html.count("<style>") == 1 and html.count(pb.widgets._html.NOTE) == 1
    board.close()


def test_snapshots_are_deterministic():
    def build() -> str:
        broker = clocked_broker()
        for i in range(30):
            broker.clock.advance(500)
            trade(broker, i)
        board = w.dashboard(broker)
        html = html_of(board)
        board.close()
        return html

    assert build() == build()


def test_a_failing_snapshot_leaves_the_live_view(broker, monkeypatch, caplog):
    table = w.OrdersTable(broker)

    def broken(outer: bool) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(table, "html_part", broken)
    data, _metadata = table._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data and "text/html" not in data
    assert "could not build its HTML snapshot" in caplog.text
    table.close()


# ---------------------------------------------------------------- the clock's time zone


def test_zone_spec_names_the_clock_zone_for_the_browser():
    from zoneinfo import ZoneInfo

    from paperbroker.widgets._zone import zone_spec

    assert zone_spec(dt.timezone.utc) == {"name": "UTC", "iana": "UTC", "offset": 0}
    new_york = zone_spec(ZoneInfo("America/New_York"))
    assert (new_york["name"], new_york["iana"]) == ("America/New_York", "America/New_York")
    assert new_york["offset"] in (-300, -240)  # EST or EDT, whichever it is now
    fixed = zone_spec(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert (fixed["iana"], fixed["offset"]) == (None, 330)


def test_wall_ms_follows_daylight_saving_time():
    from zoneinfo import ZoneInfo

    from paperbroker.widgets._zone import wall_ms

    winter, summer = 1_704_205_800_000.0, 1_719_927_000_000.0  # 2024-01-02 and 2024-07-02, 14:30 UTC
    times = np.array([winter, summer])
    hour = 3_600_000.0
    shifted = wall_ms(times, ZoneInfo("America/New_York"))
    assert shifted.tolist() == [winter - 5 * hour, summer - 4 * hour]
    assert wall_ms(times, dt.timezone.utc) is times
    tokyo_fixed = dt.timezone(dt.timedelta(hours=9))
    assert wall_ms(times, tokyo_fixed).tolist() == [winter + 9 * hour, summer + 9 * hour]


async def test_chart_sends_times_as_wall_clock_of_the_broker_zone():
    clock = pb.SimClock(timezone="America/New_York")  # starts 2024-01-02 14:30 UTC, 09:30 in New York
    broker = pb.BrokerService(execution_delay=None, clock=clock)
    chart = w.EquityChart(broker)
    clock.advance(60_000)
    trade(broker, 0)
    chart.flush()
    sent = [b for kind, d, b in chart.comm.sent if kind == "comm_msg" and d.get("method") == "custom"]
    times = np.frombuffer(sent[-1][0], dtype=np.float64)
    assert times[-1] == clock.now_ms() - 5 * 3_600_000  # drawn at 09:31, New York time
    assert chart.points()["time"][-1] == clock.now_ms()  # the Python side keeps Unix ms
    chart.close()


def test_tables_tell_the_browser_the_clock_zone():
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(timezone="Asia/Tokyo"))
    table = w.ExecutionsTable(broker)
    assert table.zone["iana"] == "Asia/Tokyo" and table.zone["offset"] == 540
    broker.fill(broker.buy("AAPL", 1, price=10.0).id)
    header, row = cells(html_of(table))
    assert header[0] == "Time (Asia/Tokyo)" and row[0] == "23:30:00"  # 14:30 UTC
    table.close()
