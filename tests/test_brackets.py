"""Brackets through the public API: inactive children, arming, OCO, qty sync, trailing stops."""

from __future__ import annotations

import pytest

import paperbroker as pb
from paperbroker import OrderStatus, OrderType, ParentType, Side, StopType

from .conftest import record


def market(price=100.0, **kwargs):
    return pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": price}), **kwargs)


def brackets_of(b, symbol="X"):
    return [
        o for o in b.orders(status="working") if o.parentType is ParentType.POSITION and o.symbol == symbol
    ]


def test_children_are_inactive_until_the_parent_fills_then_work_for_the_position():
    b = market()
    parent = b.buy("X", 10, limit=99.0, take_profit=105.0, stop_loss=95.0)
    children = b.orders(status="inactive")
    assert [(c.type, c.side, c.qty, c.parentId, c.parentType) for c in children] == [
        (OrderType.LIMIT, Side.SELL, 10, parent.id, ParentType.ORDER),
        (OrderType.STOP, Side.SELL, 10, parent.id, ParentType.ORDER),
    ]
    assert (children[0].limitPrice, children[1].stopPrice) == (105.0, 95.0)
    b.set_price("X", 98.5)
    armed = brackets_of(b)
    assert [(o.status, o.parentId, o.qty) for o in armed] == [(OrderStatus.WORKING, "X", 10)] * 2
    assert [o.id for o in armed] == [c.id for c in children]


def test_take_profit_fill_cancels_the_stop_loss():
    b = market()
    rec = record(b)
    b.buy("X", 10, take_profit=101.0, stop_loss=95.0)
    tp, sl = brackets_of(b)
    b.set_price("X", 101.5)
    assert b.order(tp.id).status is OrderStatus.FILLED
    cancelled = b.order(sl.id)
    assert cancelled.status is OrderStatus.CANCELED
    assert cancelled.message.text == f"One-cancels-other: {tp.id} closed the position."
    assert b.positions() == []
    # the closed position was broadcast once with qty 0, then the sibling's cancel
    kinds = [(k, getattr(p, "qty", None)) for k, p in rec.events if k in ("positions",)]
    assert kinds[-1] == ("positions", 0)


def test_stop_loss_fill_cancels_the_take_profit():
    b = market()
    b.sell("X", 4, take_profit=90.0, stop_loss=103.0)
    tp, sl = brackets_of(b)
    assert (tp.side, sl.side) == (Side.BUY, Side.BUY)
    b.set_price("X", 104.0)
    assert b.order(sl.id).status is OrderStatus.FILLED
    assert b.order(tp.id).status is OrderStatus.CANCELED


def test_bracket_qty_follows_the_position_and_closing_it_cancels_them():
    b = market()
    b.buy("X", 10, take_profit=110.0, stop_loss=90.0)
    b.sell("X", 4)
    assert [o.qty for o in brackets_of(b)] == [6, 6]
    b.buy("X", 1)
    assert [o.qty for o in brackets_of(b)] == [7, 7]
    close = b.flatten("X")
    assert b.order(close.id).status is OrderStatus.FILLED
    assert brackets_of(b) == []
    assert {o.message.text for o in b.orders(status="canceled")} == {"The position was closed."}


def test_a_partly_filled_take_profit_keeps_in_step():
    b = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"X": 100.0}, quote_size=3))
    b.buy("X", 3, take_profit=101.0, stop_loss=99.0)
    for _ in range(2):
        b.step()  # fresh size each tick
        b.buy("X", 3)
    tp, sl = brackets_of(b)
    assert (tp.qty, sl.qty) == (9, 9)
    b.set_price("X", 101.2)  # 3 of the take-profit fill
    tp_now, sl_now = b.order(tp.id), b.order(sl.id)
    assert (tp_now.filledQty, tp_now.qty, sl_now.qty) == (3, 9, 6)
    b.step()
    b.step()
    assert b.positions() == [] and b.order(sl.id).status is OrderStatus.CANCELED


def test_cancelling_the_parent_cancels_its_inactive_children():
    b = market()
    parent = b.buy("X", 2, limit=90.0, take_profit=95.0)
    b.cancel(parent.id)
    (child,) = b.orders(status="canceled")[1:]
    assert child.message.text == f"Its parent {parent.id} was canceled."


def test_new_brackets_replace_the_positions_old_ones():
    b = market()
    b.buy("X", 1, take_profit=110.0)
    old = brackets_of(b)[0]
    b.buy("X", 1, stop_loss=90.0)
    assert b.order(old.id).status is OrderStatus.CANCELED
    assert [(o.type, o.qty) for o in brackets_of(b)] == [(OrderType.STOP, 2)]


def test_modifying_a_parents_brackets_moves_its_children():
    b = market()
    parent = b.buy("X", 2, limit=90.0, take_profit=95.0)
    b.modify(parent.id, take_profit=96.0, stop_loss=85.0)
    kids = b.orders(status="inactive")
    assert [(k.type, k.limitPrice or k.stopPrice) for k in kids] == [
        (OrderType.LIMIT, 96.0),
        (OrderType.STOP, 85.0),
    ]
    b.modify(parent.id, take_profit=None)
    assert [k.type for k in b.orders(status="inactive")] == [OrderType.STOP]


@pytest.mark.parametrize(
    ("side", "kwargs", "message"),
    [
        (
            "buy",
            {"take_profit": 99.0},
            r"take profit 99 \(take_profit=, or takeProfit\) of this buy order must be above 100",
        ),
        (
            "buy",
            {"stop_loss": 101.0},
            r"stop loss 101 \(stop_loss=, or stopLoss\) of this buy order must be below 100",
        ),
        (
            "sell",
            {"take_profit": 101.0},
            r"take profit 101 \(take_profit=, or takeProfit\) of this sell order must be below 100",
        ),
        (
            "sell",
            {"stop_loss": 99.0},
            r"stop loss 99 \(stop_loss=, or stopLoss\) of this sell order must be above 100",
        ),
    ],
)
def test_brackets_on_the_wrong_side_are_invalid_and_change_nothing(side, kwargs, message):
    b = market()
    with pytest.raises(pb.InvalidOrder, match=message):
        getattr(b, side)("X", 1, limit=100.0, **kwargs)
    assert b.orders() == []


async def test_edit_position_brackets_creates_moves_and_removes():
    b = market()
    b.buy("X", 5)
    rec = record(b)
    found = await b.edit_position_brackets("X", pb.Brackets(takeProfit=120.0, stopLoss=90.0))
    assert [(o.type, o.status, o.qty, o.parentType) for o in found] == [
        (OrderType.LIMIT, OrderStatus.WORKING, 5, ParentType.POSITION),
        (OrderType.STOP, OrderStatus.WORKING, 5, ParentType.POSITION),
    ]
    assert [o.status for o in rec.of("orders")] == [OrderStatus.WORKING] * 2
    moved = b.edit_brackets("X", take_profit=125.0, stop_loss=90.0)
    assert moved[0].limitPrice == 125.0 and moved[0].id == found[0].id
    assert [o.type for o in b.edit_brackets("X", stop_loss=91.0)] == [OrderType.STOP]
    with pytest.raises(
        pb.InvalidOrder, match=r"stop loss 101 \(stop_loss=, or stopLoss\) of position X must be below"
    ):
        b.edit_brackets("X", stop_loss=101.0)
    with pytest.raises(pb.UnknownPosition):
        b.edit_brackets("Y", stop_loss=1.0)


def test_trailing_stop_moves_up_with_the_price_and_then_stops_out():
    b = market(risk=pb.RiskRules(default=pb.SymbolRules(pip_size=0.1)))
    rec = record(b)
    b.buy("X", 1, trailing_stop_pips=20)  # 20 pips of 0.1 = 2.00 below the entry
    (stop,) = brackets_of(b)
    assert (stop.stopType, stop.trailingStopPips, stop.stopPrice) == (StopType.TRAILING_STOP, 20, 98.01)
    b.set_price("X", 103.0)
    b.set_price("X", 102.0)  # falls back: the stop does not
    assert b.order(stop.id).stopPrice == 101.0
    moves = [o.stopPrice for o in rec.of("orders") if o.id == stop.id]
    assert moves[-1] == 101.0
    b.set_price("X", 100.9)
    assert b.order(stop.id).status is OrderStatus.FILLED
    assert b.positions() == []


def test_brackets_also_work_in_manual_mode():
    b = pb.BrokerService(execution_delay=None)
    parent = b.buy("X", 2, price=10.0, take_profit=12.0, stop_loss=9.0)
    b.fill(parent.id)
    tp, sl = brackets_of(b)
    b.fill(sl.id)
    assert b.order(tp.id).status is OrderStatus.CANCELED
    assert b.equity().realizedPL == -2.0


def test_fill_all_skips_a_bracket_that_an_earlier_fill_cancelled():
    broker = pb.BrokerService(execution_delay=None)
    broker.fill(broker.buy("X", 10, price=100.0, take_profit=110.0, stop_loss=90.0).id)
    take_profit, stop_loss = broker.orders(status=pb.OrderStatus.WORKING)
    (execution,) = broker.fill_all()  # the take-profit fills and cancels the stop-loss
    assert execution.orderId == take_profit.id
    assert broker.order(stop_loss.id).status is pb.OrderStatus.CANCELED
    assert broker.positions() == []
