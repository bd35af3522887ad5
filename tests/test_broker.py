"""BrokerService through its public API: the cascade, the order lifecycle, accounts."""

import asyncio
import dataclasses

import pytest

import paperbroker as pb
from paperbroker import OrderStatus, OrderType, PreOrder, Side

from .conftest import record


async def test_execution_cascade_design_document():
    """The design document's cascade test, adapted: place, fill, check order and data."""
    service = pb.BrokerService(execution_delay=None)
    service.open_account("TEST")
    callbacks = {"executions": [], "orders": [], "equity": [], "positions": []}
    for topic_type in callbacks:
        await service.create_topic(
            f'{topic_type}:{{"accountId":"TEST"}}', lambda data, t=topic_type: callbacks[t].append(data)
        )
    order = PreOrder(symbol="AAPL", type=OrderType.MARKET, side=Side.BUY, qty=10, limitPrice=150.0)
    result = await service.place_order(order, account_id="TEST")
    await service.simulate_execution(result.orderId)

    assert len(callbacks["executions"]) == 1
    assert [o.status for o in callbacks["orders"]] == [OrderStatus.WORKING, OrderStatus.FILLED]
    # two equity records: the working order reserves 10 x 150 of buying power (the default
    # risk rules), then the fill turns the reservation into a position of the same value
    reserved, booked = callbacks["equity"]
    assert (reserved.marginUsed, reserved.buyingPower) == (0.0, 100_000.0 - 1_500.0)
    assert (booked.marginUsed, booked.buyingPower) == (1_500.0, 100_000.0 - 1_500.0)
    assert len(callbacks["positions"]) == 1
    execution, filled = callbacks["executions"][0], callbacks["orders"][-1]
    assert filled.filledQty == execution.qty == 10
    assert filled.avgPrice == execution.price == 150.0
    assert callbacks["positions"][0].qty == 10


async def test_simulator_lifecycle_design_document():
    """The design document's lifecycle test, through the public flag."""
    service = pb.BrokerService(execution_delay=0.1)
    assert not service.simulator_running
    topic = 'orders:{"accountId":"TEST"}'
    service.open_account("TEST")
    await service.create_topic(topic, lambda data: None)
    assert service.simulator_running
    service.remove_topic(topic)
    await asyncio.sleep(0.1)
    assert not service.simulator_running


def test_cascade_order_and_current_equity(broker, recorder):
    order = broker.buy("AAPL", 10, price=100.0)
    recorder.clear()
    broker.fill(order.id)
    assert recorder.kinds() == ["executions", "orders", "positions", "equity"]
    sell = broker.sell("AAPL", 4, price=110.0)
    recorder.clear()
    broker.fill(sell.id)
    assert recorder.kinds() == ["executions", "orders", "positions", "equity"]
    pos, eq = recorder.of("positions")[0], recorder.of("equity")[0]
    assert (pos.qty, pos.avgPrice, pos.realizedPL, pos.unrealizedPL) == (6, 100.0, 40.0, 60.0)
    # equity is computed after the position: never one step stale
    assert (eq.realizedPL, eq.unrealizedPL, eq.equity) == (40.0, 60.0, 100_100.0)


def test_subscriber_that_trades_sees_whole_cascades_in_order(broker):
    """A strategy reacting to a fill places and fills the next order from its callback:
    that order's events come after the current cascade's, for every subscriber."""
    broker.subscribe(pb.topic("executions"), lambda e: on_fill(e))
    recorder = record(broker)  # subscribed after the strategy: it hears the same events later
    followed: list[str] = []

    def on_fill(execution: pb.Execution) -> None:
        if execution.side is Side.BUY:  # close what was bought, at once
            sell = broker.sell("AAPL", execution.qty, price=execution.price + 1.0)
            followed.append(sell.id)
            broker.fill(sell.id)

    buy = broker.buy("AAPL", 5, price=100.0)
    recorder.clear()
    broker.fill(buy.id)

    first = ["executions", "orders", "positions", "equity"]  # the buy's fill
    then = ["orders", "executions", "orders", "positions", "equity"]  # the sell, placed and filled
    assert recorder.kinds() == first + then
    events = [p for _, p in recorder.events]
    assert events[1].id == buy.id and events[1].status is OrderStatus.FILLED
    assert events[2].qty == 5  # the buy's position, before the sell closed it
    assert [e.id for e in events[4:7:2]] == followed * 2  # Working, then Filled
    assert events[7].qty == 0 and events[8].realizedPL == 5.0
    assert broker.positions() == []


def test_every_order_state_change_is_broadcast(broker, recorder):
    order = broker.buy("X", 5, limit=10.0)
    broker.modify(order.id, limitPrice=9.5, qty=6)
    broker.cancel(order.id)
    states = [(o.status, o.qty, o.limitPrice) for o in recorder.of("orders")]
    assert states == [
        (OrderStatus.WORKING, 5, 10.0),
        (OrderStatus.WORKING, 6, 9.5),
        (OrderStatus.CANCELED, 6, 9.5),
    ]


def test_closed_position_broadcast_once_with_qty_zero_then_removed(broker, recorder):
    broker.fill(broker.buy("X", 3, price=10.0).id)
    broker.fill(broker.sell("X", 3, price=12.0).id)
    positions = recorder.of("positions")
    assert [(p.id, p.qty, p.side) for p in positions] == [("X", 3, Side.BUY), ("X", 0, Side.BUY)]
    assert broker.positions() == []
    with pytest.raises(pb.UnknownPosition):
        broker.position("X")


def test_broadcast_records_are_snapshots(broker, recorder):
    order = broker.buy("X", 4, limit=10.0)
    broker.fill(order.id, qty=1)
    broker.fill(order.id)
    working, partial, filled = recorder.of("orders")
    assert (working.filledQty, partial.filledQty, filled.filledQty) == (0, 1, 4)
    assert partial.status is OrderStatus.WORKING and filled.status is OrderStatus.FILLED
    changed = dataclasses.replace(filled, qty=1000)  # a changed copy, the broker's is untouched
    assert changed.qty == 1000 and broker.order(order.id).qty == 4


def test_partial_fills_advance_filled_qty_and_avg_price(broker):
    order = broker.buy("X", 10, limit=100.0)
    broker.fill(order.id, qty=4, price=99.0)
    mid = broker.order(order.id)
    assert (mid.status, mid.filledQty, mid.avgPrice) == (OrderStatus.WORKING, 4, 99.0)
    broker.fill(order.id, qty=6, price=100.0)
    done = broker.order(order.id)
    assert (done.status, done.filledQty) == (OrderStatus.FILLED, 10)
    assert done.avgPrice == pytest.approx((4 * 99 + 6 * 100) / 10)
    assert sum(e.qty for e in broker.executions()) == 10
    with pytest.raises(pb.InvalidState, match="only working orders can fill"):
        broker.fill(order.id)


def test_overfill_is_refused(broker):
    order = broker.buy("X", 2, limit=5.0)
    with pytest.raises(pb.InvalidOrder, match=r"only 2\.0 remains"):
        broker.fill(order.id, qty=3)
    assert broker.order(order.id).filledQty == 0


def test_market_price_priority(broker):
    quotes = pb.CurrentQuotes(ask=10.5, bid=10.0)
    m = OrderType.MARKET
    assert (
        broker.submit(
            PreOrder("X", m, Side.BUY, 1, limitPrice=9.0, seenPrice=8.0, currentQuotes=quotes)
        ).limitPrice
        == 9.0
    )
    assert broker.submit(PreOrder("X", m, Side.BUY, 1, seenPrice=8.0, currentQuotes=quotes)).limitPrice == 8.0
    assert broker.submit(PreOrder("X", m, Side.BUY, 1, currentQuotes=quotes)).limitPrice == 10.5
    assert broker.submit(PreOrder("X", m, Side.SELL, 1, currentQuotes=quotes)).limitPrice == 10.0
    broker.fill_all()
    assert broker.submit(PreOrder("X", m, Side.BUY, 1)).limitPrice == 10.0  # the last fill price


def test_fills_at_own_price_by_type(broker):
    limit = broker.sell("X", 1, limit=11.0)
    stop = broker.sell("X", 1, stop=9.0)
    stop_limit = broker.buy("X", 1, stop=12.0, limit=12.5)
    executions = broker.fill_all()
    assert [(e.orderId, e.price) for e in executions] == [
        (limit.id, 11.0),
        (stop.id, 9.0),
        (stop_limit.id, 12.5),
    ]
    assert broker.orders(status="working") == []


def test_cancel_rules(broker, recorder):
    order = broker.buy("X", 1, price=5.0)
    broker.fill(order.id)
    recorder.clear()
    with pytest.raises(pb.InvalidState, match="is already filled; only working orders can be cancelled"):
        broker.cancel(order.id)
    other = broker.buy("X", 1, limit=4.0)
    broker.cancel(other.id)
    with pytest.raises(pb.InvalidState, match="already canceled"):
        broker.cancel(other.id)
    assert [o.status for o in recorder.of("orders")] == [OrderStatus.WORKING, OrderStatus.CANCELED]


def test_modify_rules(broker):
    order = broker.buy("X", 5, limit=10.0)
    with pytest.raises(pb.InvalidOrder, match="cannot be modified"):
        broker.modify(order.id, symbol="Y")
    with pytest.raises(
        pb.InvalidOrder, match=r"limit price \(limit=, or limitPrice\) must be a finite price"
    ):
        broker.modify(order.id, limit_price=-1)
    with pytest.raises(pb.InvalidOrder, match="symbol and side cannot change"):
        broker.modify(order.id, PreOrder("X", OrderType.LIMIT, Side.SELL, 5, limitPrice=10.0))
    assert broker.order(order.id).limitPrice == 10.0  # nothing changed
    broker.fill(order.id, qty=3)
    with pytest.raises(pb.InvalidOrder, match=r"below the 3\.0 already filled"):
        broker.modify(order.id, qty=2)
    changed = broker.modify(
        order.id, PreOrder("X", OrderType.LIMIT, Side.BUY, 4, limitPrice=9.0, takeProfit=12.0)
    )
    assert (changed.qty, changed.limitPrice, changed.takeProfit) == (4, 9.0, 12.0)
    broker.modify(order.id, take_profit=None)
    assert broker.order(order.id).takeProfit is None
    broker.fill(order.id)
    with pytest.raises(pb.InvalidState, match="only working orders can be modified"):
        broker.modify(order.id, qty=10)


def test_close_and_reverse_place_market_orders(broker):
    broker.fill(broker.buy("X", 10, price=20.0).id)
    close = broker.flatten("X", 4)
    assert (close.type, close.side, close.qty, close.limitPrice) == (OrderType.MARKET, Side.SELL, 4, 20.0)
    broker.fill(close.id)
    assert broker.position("X").qty == 6
    with pytest.raises(pb.InvalidOrder, match=r"it holds only 6\.0"):
        broker.flatten("X", 7)
    rev = broker.reverse("X")
    assert (rev.side, rev.qty) == (Side.SELL, 12)
    broker.fill(rev.id)
    pos = broker.position("X")
    assert (pos.side, pos.qty) == (Side.SELL, 6)


async def test_async_close_and_reverse_and_execute_all():
    b = pb.BrokerService(execution_delay=None)
    await b.place_order(PreOrder("X", OrderType.MARKET, Side.BUY, 2, seenPrice=3.0))
    assert await b.execute_all_working_orders() == 1
    await b.close_position("X")
    await b.execute_all_working_orders()
    assert b.positions() == []
    assert await b.execute_all_working_orders() == 0


def test_accounts_are_separate(broker):
    broker.open_account("ALICE", 5_000.0)
    alice = record(broker, "ALICE")
    demo = record(broker)
    broker.fill(broker.buy("X", 10, price=10.0, account_id="ALICE").id)
    assert demo.events == []
    # placing reserves buying power (the default risk rules): equity, then the fill's cascade
    kinds = ["orders", "equity", "executions", "orders", "positions", "equity"]
    assert [k for k, _ in alice.events] == kinds
    assert broker.positions() == []
    assert broker.positions("ALICE")[0].qty == 10
    assert broker.equity("ALICE").balance == 5_000.0
    assert broker.orders() == []
    assert broker.accounts() == ["DEMO-ACCOUNT", "ALICE"]
    with pytest.raises(pb.InvalidState, match="already open"):
        broker.open_account("ALICE")


def test_a_fill_re_marks_other_holders_on_pl(broker):
    broker.open_account("B")
    broker.fill(broker.buy("X", 10, price=10.0).id)
    other = record(broker, "B")
    demo = record(broker)
    broker.fill(broker.sell("X", 1, price=12.0, account_id="B").id)
    assert [k for k, _ in demo.events] == ["pl", "equity"]
    assert demo.of("pl")[0].unrealizedPL == 20.0
    assert broker.equity().equity == 100_020.0
    assert "pl" not in other.kinds()


def test_history_is_bounded_but_totals_exact():
    b = pb.BrokerService(execution_delay=None, history_limit=10)
    for i in range(50):
        b.fill(b.buy("X", 1, price=10.0 + i).id)
    kept = b.executions()
    assert 10 <= len(kept) <= 20
    assert kept[-1].id == "EXEC-50" and kept[-1].price == 59.0
    assert b.execution_count == 50
    assert b.position("X").qty == 50  # accounting saw every fill
    assert len(b.orders()) <= 20
    with pytest.raises(pb.UnknownOrder, match="Only the newest 10 finished orders are kept"):
        b.order("ORDER-1")


def test_executions_filter_by_symbol(broker):
    broker.fill(broker.buy("X", 1, price=1.0).id)
    broker.fill(broker.buy("Y", 2, price=2.0).id)
    assert [e.symbol for e in broker.executions()] == ["X", "Y"]
    assert [e.qty for e in broker.executions("Y")] == [2]
    assert broker.executions("Z") == []


def test_sync_buy_builds_the_right_order_types(broker):
    assert broker.buy("X", 1, price=5.0).type is OrderType.MARKET
    assert broker.buy("X", 1, limit=5.0).type is OrderType.LIMIT
    assert broker.sell("X", 1, stop=5.0).type is OrderType.STOP
    assert broker.sell("X", 1, stop=5.0, limit=4.9).type is OrderType.STOP_LIMIT
    with pytest.raises(pb.InvalidOrder, match="price= is the fill price of a market order"):
        broker.buy("X", 1, price=5.0, limit=5.0)


def test_times_come_from_the_clock():
    clock = pb.SimClock(1_000)
    b = pb.BrokerService(execution_delay=None, clock=clock)
    order = b.buy("X", 1, price=1.0)
    clock.advance(500)
    execution = b.fill(order.id)
    assert (order.updateTime, execution.time, b.order(order.id).updateTime) == (1_000, 1_500, 1_500)


def test_repr_is_informative(broker):
    broker.buy("X", 1, limit=1.0)
    assert repr(broker) == "<BrokerService manual, 1 working orders, equity 100,000.00, simulator idle>"
