"""Worked accounting cases, computed by hand in the comments."""

import pytest

import paperbroker as pb
from paperbroker.core.ledger import Ledger
from paperbroker.models import Side

BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def book():
    ledger = Ledger()
    account = ledger.open_account("A", 10_000.0)

    def fill(side, qty, price, commission=0.0, symbol="X"):
        ledger.set_mark(symbol, price)
        return ledger.apply_fill(account, symbol, side, qty, price, commission)

    return ledger, account, fill


def test_long_add_averages_then_partial_close_realizes_only_closed_part(book):
    _, account, fill = book
    fill(BUY, 10, 100.0)
    pos = fill(BUY, 10, 110.0)  # avg (10*100 + 10*110) / 20 = 105
    assert (pos.qty, pos.avg) == (20, 105.0)
    pos = fill(SELL, 5, 120.0)  # realize (120 - 105) * 5 = 75; 15 left at 105
    assert (pos.qty, pos.avg, pos.realized) == (15, 105.0, 75.0)
    assert account.realized == 75.0
    assert pos.unrealized == (120.0 - 105.0) * 15  # marked at the last fill
    eq = account.equity()
    assert eq.balance == 10_075.0
    assert eq.equity == 10_075.0 + 225.0


def test_short_round_trip(book):
    _, account, fill = book
    fill(SELL, 4, 50.0)
    pos = fill(SELL, 4, 40.0)  # short 8 at 45
    assert (pos.qty, pos.avg) == (-8, 45.0)
    assert pos.unrealized == (40.0 - 45.0) * -8  # +40: a short gains when price falls
    pos = fill(BUY, 8, 42.0)  # realize (42 - 45) * 8 * -1 = +24
    assert pos.qty == 0
    assert account.realized == 24.0
    assert account.positions == {} and account.unrealized == 0.0


def test_flip_long_to_short_opens_remainder_at_fill_price(book):
    _, account, fill = book
    fill(BUY, 10, 100.0)
    pos = fill(SELL, 15, 90.0)  # closes 10: realize (90-100)*10 = -100; opens short 5 @ 90
    assert (pos.qty, pos.avg, pos.side) == (-5, 90.0, SELL)
    assert account.realized == -100.0
    assert pos.unrealized == 0.0


def test_flip_short_to_long(book):
    _, account, fill = book
    fill(SELL, 3, 20.0)
    pos = fill(BUY, 5, 18.0)  # realize (18-20)*3*-1 = +6; long 2 @ 18
    assert (pos.qty, pos.avg, pos.side) == (2, 18.0, BUY)
    assert account.realized == 6.0


def test_add_after_reduce_keeps_weighted_average(book):
    _, _, fill = book
    fill(BUY, 10, 10.0)
    fill(SELL, 6, 12.0)  # 4 left @ 10, realized 12
    pos = fill(BUY, 4, 13.0)  # avg (4*10 + 4*13) / 8 = 11.5
    assert (pos.qty, pos.avg, pos.realized) == (8, 11.5, 12.0)


def test_many_small_fractional_fills_close_exactly(book):
    _, account, fill = book
    for _ in range(10):
        fill(BUY, 0.1, 100.0)
    for _ in range(3):
        fill(SELL, 0.3, 101.0)
    pos = fill(SELL, 0.1, 101.0)  # 1.0 - 0.9 - 0.1 is 2.7e-17 in floats: closes anyway
    assert pos.qty == 0
    assert account.realized == pytest.approx(1.0)
    assert account.positions == {}


def test_commission_reduces_balance_not_realized(book):
    _, account, fill = book
    fill(BUY, 10, 100.0, commission=1.5)
    fill(SELL, 10, 101.0, commission=1.5)
    eq = account.equity()
    assert eq.realizedPL == 10.0
    assert eq.commission == 3.0
    assert eq.balance == 10_000.0 + 10.0 - 3.0
    assert eq.equity == eq.balance


def test_new_mark_moves_every_holder(book):
    ledger, account, fill = book
    other = ledger.open_account("B", 5_000.0)
    fill(BUY, 10, 100.0)
    ledger.set_mark("X", 100.0)
    ledger.apply_fill(other, "X", SELL, 2, 100.0, 0.0)
    changed = ledger.set_mark("X", 103.0)
    assert {a.account_id for a, _ in changed} == {"A", "B"}
    assert account.unrealized == 30.0
    assert other.unrealized == -6.0


def test_a_holder_is_still_marked_after_another_account_closes():
    """A and B hold X; A closes; a fill of C's at 12 still marks B: (12 - 10) * 5 = +10."""
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)
    for name in ("A", "B", "C"):
        broker.open_account(name)
    broker.fill(broker.buy("X", 3, price=10.0, account_id="A").id)
    broker.fill(broker.buy("X", 5, price=10.0, account_id="B").id)
    broker.fill(broker.sell("X", 3, price=10.0, account_id="A").id)
    broker.fill(broker.buy("X", 1, price=12.0, account_id="C").id)
    assert broker.position("X", "B").unrealizedPL == 10.0
    assert broker.equity("B").equity == 100_010.0


def fills(*trades: tuple[str, float, float]) -> pb.BrokerService:
    """A broker that made ``trades`` (side, qty, price) in X, in order."""
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)
    for side, qty, price in trades:
        broker.fill((broker.buy if side == "buy" else broker.sell)("X", qty, price=price).id)
    return broker


def test_a_position_s_realized_pl_adds_up_over_partial_closes():
    # 10 @ 10; sell 3 @ 12: +6; sell 2 @ 13: +6 -> 12 realized, 5 left at avg 10
    position = fills(("buy", 10, 10.0), ("sell", 3, 12.0), ("sell", 2, 13.0)).position("X")
    assert (position.qty, position.avgPrice, position.realizedPL) == (5.0, 10.0, 12.0)


def test_adding_to_a_one_unit_position_averages():
    # 1 @ 10 + 1 @ 12: avg 11, marked at 12: (12 - 11) * 2 = +2
    position = fills(("buy", 1, 10.0), ("buy", 1, 12.0)).position("X")
    assert (position.qty, position.avgPrice, position.unrealizedPL) == (2.0, 11.0, 2.0)


def test_adding_to_a_short_averages():
    # short 2 @ 10 + 2 @ 8: avg 9, marked at 8: (9 - 8) * 4 = +4
    position = fills(("sell", 2, 10.0), ("sell", 2, 8.0)).position("X")
    assert (position.side, position.qty, position.avgPrice, position.unrealizedPL) == (SELL, 4.0, 9.0, 4.0)


@pytest.mark.parametrize(
    ("trades", "side", "qty", "avg", "realized"),
    [
        # short 2 @ 10, buy 3 @ 8: +4 realized on 2, long 1 opens at 8
        ((("sell", 2, 10.0), ("buy", 3, 8.0)), BUY, 1.0, 8.0, 4.0),
        # short 1 @ 10, buy 1.5 @ 9: +1 realized, long 0.5 opens at 9
        ((("sell", 1, 10.0), ("buy", 1.5, 9.0)), BUY, 0.5, 9.0, 1.0),
        # long 2 @ 10, sell 3 @ 12: +4 realized, short 1 opens at 12
        ((("buy", 2, 10.0), ("sell", 3, 12.0)), SELL, 1.0, 12.0, 4.0),
    ],
)
def test_a_flip_opens_the_rest_at_the_fill_price(trades, side, qty, avg, realized):
    position = fills(*trades).position("X")
    assert (position.side, position.qty, position.avgPrice, position.unrealizedPL) == (side, qty, avg, 0.0)
    assert position.realizedPL == realized


@pytest.mark.parametrize(("opening", "closing", "side"), [("buy", "sell", BUY), ("sell", "buy", SELL)])
def test_a_closed_position_is_broadcast_once_with_its_side(opening, closing, side):
    broker = fills((opening, 2, 10.0))
    events = []
    broker.subscribe(pb.topic("positions"), events.append)
    broker.fill((broker.buy if closing == "buy" else broker.sell)("X", 2, price=11.0).id)
    assert [(e.qty, e.side) for e in events] == [(0.0, side)]
