"""The widgets and frames on a classroom client (``pb.connect``), driven through a real
``pb.serve`` on 127.0.0.1 in the test's own loop: each shows what the same widget on the
teacher's broker shows, and its commands wait for the server's answer without blocking."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

import paperbroker as pb
from paperbroker.widgets import Dashboard, OrdersTable, dashboard

from .serve_helpers import until
from .test_widgets import browser, recording_comm, replies  # noqa: F401 - recording_comm: a fixture

pytestmark = pytest.mark.usefixtures("recording_comm")

START = 1_704_205_800_000  # 2024-01-02 14:30 UTC, 09:30 in New York


@pytest.fixture
async def classroom() -> AsyncIterator[tuple[pb.BrokerService, pb.ClassroomServer, pb.RemoteBroker]]:
    clock = pb.SimClock(START, timezone="America/New_York")
    market = pb.ManualQuotes({"AAPL": 100.0, "MSFT": 50.0}, spread=0.02)
    broker = pb.BrokerService(execution_delay=None, clock=clock, market=market, initial_balance=10_000.0)
    server = pb.serve(broker)
    remote = await pb.connect(server.invite("ALICE").url)
    yield broker, server, remote
    remote.close()
    server.close()
    await server.wait_closed()


def _trade(broker: pb.BrokerService) -> None:
    """ALICE: 10 AAPL bought at the ask (100.01), a working limit sell of 5 MSFT at 60."""
    broker.buy("AAPL", 10, account_id="ALICE")
    broker.sell("MSFT", 5, limit=60.0, account_id="ALICE")


async def _answered(widget: Any, count: int) -> dict[str, Any]:
    await until(lambda: len(replies(widget)) >= count)
    return replies(widget)[count - 1]


async def test_both_brokers_are_widget_hosts_and_anything_else_is_refused(classroom):
    broker, _, remote = classroom
    assert isinstance(broker, pb.BrokerHost) and isinstance(remote, pb.BrokerHost)
    assert isinstance(remote.clock, pb.HostClock)
    with pytest.raises(pb.ConfigurationError, match="BrokerService or a classroom client"):
        OrdersTable(object())  # type: ignore[arg-type]


async def test_the_remote_clock_tells_the_servers_zone_and_time(classroom):
    broker, _, remote = classroom
    assert str(remote.clock.timezone) == "America/New_York"
    # the simulated clock stands still: the client's estimate moves only with its own clock
    assert abs(remote.clock.now_ms() - broker.clock.now_ms()) < 5_000
    table = OrdersTable(remote)
    assert table.zone == OrdersTable(broker, "ALICE").zone
    table.close()


async def test_a_dashboard_on_a_client_shows_what_one_on_the_broker_shows(classroom):
    broker, _, remote = classroom
    _trade(broker)
    await until(lambda: len(remote.orders()) == 2 and len(remote.positions()) == 1)
    seen = dashboard(remote, symbols=["AAPL"])  # no account: the token's own
    here = dashboard(broker, "ALICE", symbols=["AAPL"])
    assert isinstance(seen, Dashboard) and seen.summary.account_id == "ALICE"
    for a, b in [
        (seen.orders, here.orders),
        (seen.positions, here.positions),
        (seen.executions, here.executions),
    ]:
        assert a.rows() == b.rows() and len(a.rows()) > 0
    assert seen.summary.snapshot_html() == here.summary.snapshot_html()
    assert seen.orders.snapshot_html() == here.orders.snapshot_html()  # times in New York's zone
    assert seen.price is not None and seen.price.symbol == "AAPL"
    await until(lambda: len(seen.price.markers()) == 1)
    assert seen.price.markers() == here.price.markers()  # the fill of the AAPL buy
    assert seen.price.mode == here.price.mode == "line"
    # a later change on the teacher's side reaches the client's widgets
    broker.set_quote("AAPL", bid=110.0, ask=110.02)
    await until(lambda: remote.positions()[0].last == pytest.approx(110.01))  # marked at the mid
    seen.positions.flush()
    here.positions.flush()
    assert seen.positions.rows() == here.positions.rows()
    assert seen.positions.rows()[0]["unrealizedPL"] == pytest.approx((110.01 - 100.01) * 10)
    seen.close()
    here.close()


async def test_widget_commands_on_a_client_wait_for_the_servers_answer(classroom):
    broker, _, remote = classroom
    board = dashboard(remote, symbols=["AAPL"])
    ticket = board.ticket
    browser(ticket, {"type": "place", "id": 1, "side": "buy", "order": {"symbol": "AAPL", "qty": 3}})
    assert replies(ticket) == []  # sent: the loop goes on until the server answers
    reply = await _answered(ticket, 1)
    assert reply["ok"] is True
    placed = broker.order(reply["note"])
    assert (placed.symbol, placed.qty, placed.status) == ("AAPL", 3, pb.OrderStatus.FILLED)
    assert ticket.status["kind"] == "ok" and placed.id in ticket.status["text"]
    # the broker's own refusal comes back with the broker's own sentence
    browser(ticket, {"type": "place", "id": 2, "side": "buy", "order": {"symbol": "AAPL", "qty": -1}})
    refused = await _answered(ticket, 2)
    with pytest.raises(pb.InvalidOrder) as local:
        broker.buy("AAPL", -1.0, account_id="ALICE")  # the ticket sends the form's number as a float
    assert refused["ok"] is False and refused["error"] == str(local.value)
    assert ticket.status == {"kind": "error", "text": str(local.value), "seq": ticket.status["seq"]}
    # a working order cancelled from the orders table
    limit = broker.sell("AAPL", 1, limit=500.0, account_id="ALICE")
    await until(lambda: limit.id in {r["id"] for r in board.orders.rows()})
    browser(board.orders, {"type": "action", "id": 3, "name": "cancel", "key": limit.id})
    assert (await _answered(board.orders, 1)) == {
        "type": "reply",
        "id": 3,
        "ok": True,
        "error": None,
        "note": f"Cancelled {limit.id}.",
    }
    assert broker.order(limit.id).status is pb.OrderStatus.CANCELED
    # a limit line dragged on the price chart, then the position closed from its table
    buy = broker.buy("AAPL", 1, limit=90.0, account_id="ALICE")
    chart = board.price
    assert chart is not None
    await until(lambda: buy.id in {line["id"] for line in chart.lines()})
    browser(chart, {"type": "move", "id": 4, "order": buy.id, "field": "limitPrice", "price": 91.5})
    moved = await _answered(chart, 1)
    assert moved["ok"] is True and broker.order(buy.id).limitPrice == 91.5
    position = remote.positions()[0]
    await until(lambda: position.id in {r["id"] for r in board.positions.rows()})
    browser(board.positions, {"type": "action", "id": 5, "name": "close", "key": position.id})
    closed = await _answered(board.positions, 1)
    assert closed["ok"] is True, closed["error"]
    assert closed["note"].startswith(f"Closing {position.id} with ORDER-")
    assert broker.positions("ALICE") == []
    board.close()


async def test_an_order_from_the_ticket_of_a_closed_client_is_refused_and_shown(classroom):
    broker, _, remote = classroom
    ticket = dashboard(remote, price_chart=False).ticket
    remote.close()  # the request below cannot be sent any more
    with pytest.raises(pb.InvalidState, match="closed"):
        ticket.place("buy", {"symbol": "AAPL", "qty": 1})
    assert ticket.status["kind"] == "error" and broker.orders("ALICE") == []


async def test_frames_of_a_client_equal_the_brokers_for_its_account(classroom):
    broker, _, remote = classroom
    _trade(broker)
    broker.set_quote("MSFT", bid=61.0, ask=61.02)  # fills the limit sell
    await until(lambda: len(remote.executions()) == 2 and len(remote.positions()) == 2)
    for frame in (pb.orders_frame, pb.positions_frame):
        pd_remote, pd_local = frame(remote), frame(broker, "ALICE")
        assert pd_remote.equals(pd_local), frame.__name__
    ours, theirs = pb.executions_frame(remote), pb.executions_frame(broker, "ALICE")
    assert list(ours.columns) == list(theirs.columns)
    assert ours.astype(str).reset_index(drop=True).equals(theirs.astype(str).reset_index(drop=True))
    equity = pb.equity_frame(remote)
    assert equity["equity"].iloc[-1] == pytest.approx(broker.equity("ALICE").equity)
    assert set(equity["account"]) == {"ALICE"}


async def test_a_teacher_client_holds_no_account_for_the_widgets():
    broker = pb.BrokerService(execution_delay=None)
    server = pb.serve(broker)
    teacher = await pb.connect(server.invite(teacher=True).url)
    with pytest.raises(pb.InvalidState, match="holds no account"):
        dashboard(teacher)
    teacher.close()
    server.close()
    await asyncio.sleep(0)


async def test_a_clients_buying_power_follows_its_working_orders():
    # the default rules: a margin account at leverage 1, so buying power is equity minus
    # positions minus what working orders reserve
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"AAPL": 100.0}))
    broker.open_account("ALICE", 10_000.0)
    server = pb.serve(broker)
    remote = await pb.connect(server.invite("ALICE").url)
    seen: list[float] = []
    remote.subscribe('equity:{"accountId":"ALICE"}', lambda e: seen.append(e.buyingPower))
    try:
        order = broker.buy("AAPL", 3, limit=99.0, account_id="ALICE")  # reserves 3 x 99
        await until(lambda: remote.equity().buyingPower == 10_000.0 - 297.0)
        broker.modify(order.id, qty=5)  # reserves 5 x 99 instead
        await until(lambda: remote.equity().buyingPower == 10_000.0 - 495.0)
        broker.cancel(order.id)  # gives it back
        await until(lambda: remote.equity().buyingPower == 10_000.0)
        assert seen[-3:] == [9_703.0, 9_505.0, 10_000.0]
        assert broker.equity("ALICE").buyingPower == 10_000.0
    finally:
        remote.close()
        server.close()
        await server.wait_closed()
