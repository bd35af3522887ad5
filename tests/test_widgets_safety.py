"""What the browser may and may not do to a widget, commands under a kernel interrupt, the
ticket's memory, a chart made late, one equity figure, and the presentation scale."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pandas as pd
import pytest

import paperbroker as pb
from paperbroker import widgets as w

from .test_widgets import browser, comm_msgs, custom, recording_comm, replies  # noqa: F401


def front_end_update(widget: Any, state: dict[str, Any]) -> None:
    """Deliver a state update as the browser's widget manager sends it."""
    widget.comm.handle_msg({"content": {"data": {"method": "update", "state": state}}, "buffers": []})


def sent_states(widget: Any) -> list[dict[str, Any]]:
    return [d["state"] for d in comm_msgs(widget) if d.get("method") == "update"]


@pytest.fixture
def two() -> pb.BrokerService:
    broker = pb.BrokerService(execution_delay=None, seed=3)
    broker.open_account("ALICE")
    broker.open_account("BOB")
    return broker


# ---------------------------------------------------------------- kernel-owned traits


async def test_the_browser_cannot_move_a_ticket_to_another_account(two):
    ticket = w.OrderTicket(two, "ALICE", symbols=["AAPL"])
    front_end_update(ticket, {"account_id": "BOB"})
    assert ticket.account_id == "ALICE"
    # the views that sent it are told the kernel's value back
    assert sent_states(ticket)[-1] == {"account_id": "ALICE"}
    order = {"symbol": "AAPL", "type": "limit", "qty": 3, "limitPrice": 100}
    browser(ticket, {"type": "place", "id": 1, "side": "buy", "order": order})
    assert replies(ticket)[-1]["ok"] is True
    assert [o.qty for o in two.orders("ALICE")] == [3.0]
    assert two.orders("BOB") == []


async def test_junk_in_kernel_owned_traits_changes_nothing_a_user_sees(two):
    two.fill(two.buy("AAPL", 2, price=100, account_id="ALICE").id)
    board = w.dashboard(two, "ALICE", symbols=["AAPL"])
    before = {type(p).__name__: p.snapshot_html() for p in board.parts}
    junk: list[Any] = ["BOB", 12345, 0.1, {"junk": [1, None]}, [["junk", "x", "y"]], None]
    for part in board.parts:
        for name in sorted(set(part.keys) - part.front_end_traits):
            for value in junk:  # one update each: a value of the trait's type would stick
                front_end_update(part, {name: value})
        assert part.account_id == "ALICE"
        assert part.error == ""
    after = {type(p).__name__: p.snapshot_html() for p in board.parts}
    assert after == before
    assert "BOB" not in board.snapshot_html()


async def test_the_ticket_symbol_typed_in_the_browser_still_reaches_the_kernel(two):
    board = w.dashboard(two, "ALICE", symbols=["AAPL", "MSFT"])
    front_end_update(board.ticket, {"symbol": "MSFT"})
    assert board.ticket.symbol == "MSFT"
    assert board.price is not None and board.price.symbol == "MSFT"


def test_a_front_end_state_that_is_not_an_object_is_ignored(two):
    ticket = w.OrderTicket(two, "ALICE")
    ticket.set_state(["account_id", "BOB"])  # type: ignore[arg-type]
    assert ticket.account_id == "ALICE"


# ---------------------------------------------------------------- interrupts, memory


async def test_an_interrupt_during_a_command_still_answers_the_browser(two):
    ticket = w.OrderTicket(two, "ALICE", symbols=["AAPL"])
    hits: list[int] = []

    def stop_button(_order: object) -> None:  # the kernel interrupt lands in a subscriber
        hits.append(1)
        raise KeyboardInterrupt

    two.subscribe(pb.topic("orders", "ALICE"), stop_button)
    order = {"symbol": "AAPL", "type": "limit", "qty": 1, "limitPrice": 100}
    with pytest.raises(KeyboardInterrupt):
        browser(ticket, {"type": "place", "id": 5, "side": "buy", "order": order})
    assert hits == [1]
    reply = replies(ticket)[-1]
    assert reply["id"] == 5 and reply["ok"] is False
    assert reply["error"].startswith("Interrupted while the kernel ran this command")


async def test_the_ticket_forgets_finished_orders_and_watches_a_bounded_number():
    # no risk rules: a thousand working orders would need more buying power than the account has
    broker = pb.BrokerService(execution_delay=None, seed=1, history_limit=10, risk=None)
    ticket = w.OrderTicket(broker, symbols=["AAPL"])
    placed = [
        ticket.place("buy", {"symbol": "AAPL", "type": "limit", "qty": 1, "limitPrice": 100}).id
        for _ in range(w.ticket.MAX_WATCHED + 5)
    ]
    assert ticket.watching == tuple(placed[5:])  # the newest, oldest first
    for order_id in placed:
        broker.cancel(order_id)
    assert ticket.watching == ()
    # and an order filled at once is never watched
    filled = ticket.place("buy", {"symbol": "AAPL", "type": "market", "qty": 1, "seenPrice": 100})
    broker.fill(filled.id)
    assert ticket.watching == ()


async def test_a_late_rejection_of_a_watched_order_still_shows():
    broker = pb.BrokerService(execution_delay=None, seed=1)
    ticket = w.OrderTicket(broker, symbols=["AAPL"])
    order = ticket.place("buy", {"symbol": "AAPL", "type": "limit", "qty": 1, "limitPrice": 100})
    assert ticket.watching == (order.id,)
    assert order.status is pb.OrderStatus.WORKING


# ---------------------------------------------------------------- a chart made late


def test_a_chart_made_late_starts_from_the_prices_so_far():
    broker = pb.BrokerService(
        execution_delay=None, seed=2, market=pb.RandomWalk({"AAPL": 100.0, "MSFT": 50.0})
    )
    for _ in range(40):
        broker.step()
    log = broker.price_history("AAPL")
    chart = w.PriceChart(broker, "AAPL", max_points=25)
    points = chart.points()
    assert points["time"].tolist() == log["time"][-25:].tolist()
    assert points["close"].tolist() == log["last"][-25:].tolist()
    assert points["bid"].tolist() == log["bid"][-25:].tolist()
    assert chart.mode == "line"
    broker.step()
    assert chart.points()["close"][-1] == broker.quote("AAPL").last
    assert len(chart.points()["time"]) == 25


def test_a_chart_made_late_on_a_bar_replay_starts_with_its_candles():
    bars = pd.DataFrame(
        {
            "open": [10.0, 11.0, 12.0],
            "high": [11.5, 12.5, 12.2],
            "low": [9.5, 10.5, 11.0],
            "close": [11.0, 12.0, 11.5],
            "volume": 1000.0,
        },
        index=pd.date_range("2024-01-02 09:30", periods=3, freq="min", name="time"),
    )
    broker = pb.BrokerService(seed=1, market=pb.BarReplay(bars, symbol="SYN"), execution_delay=None)
    for _ in range(3):
        broker.step()
    chart = w.PriceChart(broker, "SYN")
    assert chart.mode == "candles"
    points = chart.points()
    for column in ("open", "high", "low", "close"):
        assert points[column].tolist() == bars[column].tolist()


def test_a_chart_of_a_symbol_with_no_prices_yet_starts_empty():
    broker = pb.BrokerService(execution_delay=None, seed=2, market=pb.RandomWalk({"AAPL": 100.0}))
    assert len(w.PriceChart(broker, "ZZZ").points()["time"]) == 0
    assert len(w.PriceChart(pb.BrokerService(execution_delay=None), "AAPL").points()["time"]) == 0


# ---------------------------------------------------------------- one equity figure


def last_drawn_equity(chart: w.EquityChart) -> float:
    """The newest equity the browser was sent (the chart's header shows it)."""
    sent = [
        bufs for kind, data, bufs in chart.comm.sent if kind == "comm_msg" and data.get("method") == "custom"
    ]
    points = [b for b in sent if len(b) == 3]
    return float(np.frombuffer(points[-1][1], dtype=np.float64)[-1])


async def test_summary_and_equity_chart_show_the_same_equity_at_every_moment():
    broker = pb.BrokerService(execution_delay=None, seed=4, market=pb.RandomWalk({"AAPL": 100.0}))
    broker.step()
    assert broker.buy("AAPL", 50).status is pb.OrderStatus.FILLED  # at the ask, at once
    board = w.dashboard(broker, symbols=["AAPL"])
    board.chart.snapshot_html()  # the views have the chart so far
    seen = set()
    for _ in range(3):
        for _ in range(20):
            broker.step()
        equity = broker.equity().equity
        for _ in range(14):  # look every 50 ms, across more than one flush interval
            await asyncio.sleep(0.05)
            shown = board.summary.values["equity"]
            assert last_drawn_equity(board.chart) == shown
            seen.add(shown)
        assert shown == equity  # after the flush, the broker's equity
    assert len(seen) == 4  # the equity at the start, then after each run


async def test_widgets_flushed_together_send_when_either_timer_fires(broker_with_market):
    broker = broker_with_market
    summary = w.AccountSummary(broker, interval=0.2)
    chart = w.EquityChart(broker, interval=5.0)
    summary.flush_with(chart)
    broker.step()
    assert summary.pending and chart.pending
    chart.flush()  # the link goes both ways
    assert not summary.pending and not chart.pending
    assert summary.values["equity"] == broker.equity().equity == chart.points()["equity"][-1]


@pytest.fixture
def broker_with_market() -> pb.BrokerService:
    broker = pb.BrokerService(execution_delay=None, seed=4, market=pb.RandomWalk({"AAPL": 100.0}))
    broker.step()
    broker.buy("AAPL", 50)
    return broker


# ---------------------------------------------------------------- presentation scale


def test_a_dashboard_scale_reaches_every_part(two):
    board = w.dashboard(two, "ALICE", symbols=["AAPL"], scale=1.4)
    assert [p.scale for p in board.parts] == [1.4] * len(board.parts)
    assert w.dashboard(two, "BOB").summary.scale == 1.0


@pytest.mark.parametrize("scale", [0, 0.2, 5, float("nan"), True, "big"])
def test_a_bad_scale_is_refused(two, scale):
    with pytest.raises(pb.ConfigurationError, match=r"scale must be a number from 0\.5 to 3"):
        w.dashboard(two, "ALICE", scale=scale)
    with pytest.raises(pb.ConfigurationError, match="scale must be"):
        w.AccountSummary(two, "ALICE", scale=scale)


def test_the_browser_cannot_change_the_scale(two):
    summary = w.AccountSummary(two, "ALICE", scale=1.5)
    front_end_update(summary, {"scale": 0.1})
    assert summary.scale == 1.5
