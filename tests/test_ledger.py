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
