"""Ledger rules the mutation profile over core/ledger.py found untested (tests/README.md,
"The mutation profile"): the flat tolerance at its edges and for large shorts, the sign of
a zero P&L or size, a fill on a symbol without a mark, and what loading a saved ledger
accepts and refuses, word for word.  Every expected figure is worked out by hand from the
rule in the test's comment."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

import paperbroker as pb
from paperbroker.core.ledger import QTY_EPSILON, Ledger, flat_tolerance

from .test_persistence import rewrite
from .test_persistence_hostile import refused

Body = dict[str, Any]


def classic() -> pb.BrokerService:
    """A classic broker without risk rules (sizes are free) and a second account, B."""
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1, risk=None)
    broker.open_account("B", 5_000.0)
    return broker


def trade(broker: pb.BrokerService, side: str, qty: float, price: float, account: str = pb.DEFAULT_ACCOUNT):
    """A classic market order filled at ``price``."""
    order = getattr(broker, side)("AAA", qty, price=price, account_id=account)
    return broker.fill(order.id)


def positive(x: float) -> bool:
    """``x`` carries a plus sign (0.0 does, -0.0 does not)."""
    return math.copysign(1.0, x) == 1.0


# ---------------------------------------------------------------------- the flat tolerance


def test_the_flat_tolerance_is_qty_epsilon_up_to_where_the_relative_one_is_larger():
    # max(size * 1e-14, 1e-9): 1 unit -> 1e-14 is below 1e-9; 1e8 units -> 1e-6
    assert flat_tolerance(1.0) == QTY_EPSILON == 1e-9
    assert flat_tolerance(0.0) == 1e-9
    assert flat_tolerance(1e8) == 1e-6


def test_a_fill_over_the_remainder_by_less_than_the_tolerance_fills_the_remainder():
    # an order of 1: asking 1 + 5e-10 is within the 1e-9 tolerance, so it fills the 1 left
    broker = classic()
    order = broker.buy("AAA", 1, limit=50.0)
    assert broker.fill(order.id, qty=1.0000000005).qty == 1.0
    assert broker.position("AAA").qty == 1.0
    with pytest.raises(pb.InvalidState):  # filled: nothing is left to fill
        broker.fill(order.id)


def test_a_large_short_bought_back_to_a_float_residue_is_flat():
    # the docs' example mirrored: sold 10,000,000.1 and 0.2, bought 10,000,000.3 back leaves
    # -(-1.86e-9), under the tolerance (10,000,000.3 + 10,000,000.3) * 1e-14 = 2e-7
    broker = classic()
    trade(broker, "sell", 10_000_000.1, 10.0)
    trade(broker, "sell", 0.2, 10.0)
    trade(broker, "buy", 10_000_000.3, 10.0)
    assert broker.positions() == []
    assert broker.equity().unrealizedPL == 0.0


@pytest.mark.parametrize(("side", "signed"), [(1, 1e-9), (-1, -1e-9)])
def test_a_position_of_exactly_qty_epsilon_is_not_flat(side, signed):
    # only quantities *closer* to zero than QTY_EPSILON are zero
    ledger = Ledger()
    account = ledger.open_account("A", 1_000.0)
    ledger.set_mark("X", 10.0)
    pos = ledger.apply_fill(account, "X", side, 1e-9, 10.0, 0.0)
    assert pos.qty == signed
    assert list(account.positions) == ["X"] and list(ledger.holders["X"]) == ["A"]


@pytest.mark.parametrize("side", [pb.Side.BUY, pb.Side.SELL])
def test_a_fill_too_small_to_book_leaves_a_flat_position_on_its_side(side):
    # 1e-10 on a flat symbol is under QTY_EPSILON: nothing opens, and the position the
    # ledger returns is closed on the fill's side, its only fill
    ledger = Ledger()
    account = ledger.open_account("A", 1_000.0)
    ledger.set_mark("X", 10.0)
    pos = ledger.apply_fill(account, "X", int(side), 1e-10, 10.0, 0.0)
    assert (pos.qty, pos.side, pos.unrealized) == (0.0, side, 0.0)
    assert account.positions == {} and ledger.holders == {}


# ---------------------------------------------------------------------- marks


def test_a_fill_on_a_symbol_with_no_mark_is_marked_at_its_price():
    # apply_fill's documented fallback: without set_mark the fill price is the mark
    ledger = Ledger()
    account = ledger.open_account("A", 1_000.0)
    pos = ledger.apply_fill(account, "X", 1, 2.0, 10.0, 0.0)
    assert (pos.mark, pos.unrealized, account.unrealized) == (10.0, 0.0, 0.0)


def test_a_short_on_a_symbol_without_an_ask_is_marked_at_its_mark():
    # bid/ask marks exist for A only: a short in B falls back to B's mark, then its price
    ledger = Ledger()
    account = ledger.open_account("A", 1_000.0)
    ledger.set_mark("A", 99.0, 101.0)
    pos = ledger.apply_fill(account, "B", -1, 2.0, 50.0, 0.0)
    assert (pos.mark, pos.unrealized) == (50.0, 0.0)
    ledger.set_mark("C", 20.0)
    pos = ledger.apply_fill(account, "C", -1, 3.0, 21.0, 0.0)
    assert (pos.mark, pos.unrealized) == (20.0, (20.0 - 21.0) * -3.0)


def test_a_ledger_filled_without_marks_saves_and_loads_back():
    # from_state accepts a position whose symbol has no mark (the mark is the position's)
    ledger = Ledger()
    account = ledger.open_account("A", 1_000.0)
    ledger.apply_fill(account, "X", 1, 2.0, 10.0, 0.0)
    ledger.apply_fill(account, "Y", -1, 1.0, 4.0, 0.0)
    state = ledger.state()
    assert state.marks == {}
    loaded = Ledger.from_state(state)
    assert loaded.state() == state
    assert [(p.qty, p.mark) for p in loaded.accounts["A"].positions.values()] == [(2.0, 10.0), (-1.0, 4.0)]


# ---------------------------------------------------------------------- signs of zero


def test_a_short_opened_at_its_mark_shows_a_plain_zero_pl():
    # (100 - 100) * -5 is -0.0; the ledger shows 0.0
    broker = classic()
    trade(broker, "sell", 5, 100.0)
    pos = broker.position("AAA")
    assert pos.unrealizedPL == 0.0 and positive(pos.unrealizedPL)


def test_a_short_marked_back_at_its_average_shows_a_plain_zero_pl():
    # short 5 at 100; B's fills move the mark to 102 ((100 - 102) * 5 = -10), then back to 100
    broker = classic()
    trade(broker, "sell", 5, 100.0)
    trade(broker, "buy", 1, 102.0, "B")
    assert broker.position("AAA").unrealizedPL == -10.0
    trade(broker, "buy", 1, 100.0, "B")
    pos = broker.position("AAA")
    assert (pos.last, pos.unrealizedPL) == (100.0, 0.0) and positive(pos.unrealizedPL)
    assert broker.position("AAA", "B").unrealizedPL == (100.0 - 101.0) * 2


def test_a_closed_position_is_broadcast_with_a_plain_zero_size():
    broker = classic()
    trade(broker, "buy", 5, 100.0)
    seen: list[pb.Position] = []
    broker.subscribe(pb.topic("positions"), seen.append)
    trade(broker, "sell", 5, 101.0)
    assert [(p.qty, p.realizedPL) for p in seen] == [(0.0, 5.0)]
    assert positive(seen[0].qty)


# ---------------------------------------------------------------------- accounts


@pytest.mark.parametrize(("bad", "shown"), [([], "[]"), ({"B": 1}, "{'B': 1}")])
def test_an_unhashable_account_id_is_an_unknown_account(bad, shown):
    broker = classic()
    with pytest.raises(pb.UnknownAccount) as caught:
        broker.equity(bad)
    assert str(caught.value) == (
        f"There is no account {shown}; open it with broker.open_account({shown}) "
        "(open accounts: DEMO-ACCOUNT, B)."
    )


# ---------------------------------------------------------------------- saved ledgers


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """DEMO long 1000 AAA at 100, B long 1 at 200: the mark is 200, so DEMO's unrealized
    P&L is (200 - 100) * 1000 = 100,000 and B's (200 - 200) * 1 = 0."""
    broker = classic()
    trade(broker, "buy", 1000, 100.0)
    trade(broker, "buy", 1, 200.0, "B")
    return broker.save(tmp_path / "ledger.json")


def forge(path: Path, change: Any) -> Path:
    """``path`` with its ledger section changed by ``change(ledger)`` (checksum fixed)."""
    rewrite(path, lambda document: change(document["body"]["ledger"]))
    return path


def demo(ledger: Body) -> Body:
    return ledger["accounts"][0]


def b(ledger: Body) -> Body:
    return ledger["accounts"][1]


def test_the_saved_ledger_loads_with_a_long_of_exactly_one(saved: Path):
    loaded = pb.load(saved)
    assert (loaded.position("AAA").unrealizedPL, loaded.position("AAA", "B").qty) == (100_000.0, 1.0)


def set_unrealized(account: Body, value: float) -> None:
    account["positions"][0]["unrealized"] = value
    account["unrealized"] = value


def test_a_pl_off_by_rounding_relative_to_its_size_loads(saved: Path):
    # 0.005 off 100,000 is 5e-8 of it: within the relative 1e-7 (0.01), far over 1e-6
    forge(saved, lambda ledger: set_unrealized(demo(ledger), 100_000.005))
    assert pb.load(saved).position("AAA").qty == 1000.0


def test_a_pl_off_by_more_than_rounding_is_refused(saved: Path):
    # 0.02 off 100,000 is 2e-7 of it, over the relative 1e-7
    forge(saved, lambda ledger: set_unrealized(demo(ledger), 100_000.02))
    refused(saved, "ledger.accounts[0].positions[0].unrealized 100000.02 is not (mark - avg) * qty")


def test_a_residue_under_the_absolute_tolerance_loads(saved: Path):
    # B's P&L is 0: 5e-7 is under the absolute 1e-6, in the position and the account
    forge(saved, lambda ledger: set_unrealized(b(ledger), 5e-7))
    assert pb.load(saved).position("AAA", "B").qty == 1.0


def test_a_pl_where_there_is_none_is_refused(saved: Path):
    # B's P&L is 0: 0.5 is over the absolute 1e-6, and relative to 0.5 every difference is 100%
    forge(saved, lambda ledger: set_unrealized(b(ledger), 0.5))
    refused(saved, "ledger.accounts[1].positions[0].unrealized 0.5 is not (mark - avg) * qty")


def test_an_account_pl_that_is_not_its_positions_sum_is_refused(saved: Path):
    forge(saved, lambda ledger: demo(ledger).update(unrealized=100_001.0))
    refused(saved, "ledger.accounts[0].unrealized 100001.0 is not its positions' sum")


def test_a_position_listed_twice_is_refused(saved: Path):
    forge(saved, lambda ledger: b(ledger)["positions"].append(dict(b(ledger)["positions"][0])))
    refused(saved, "ledger.accounts[1].positions[1].symbol 'AAA' is a position listed twice")


def test_a_flat_position_is_refused_when_the_books_cannot_be_replayed(tmp_path: Path):
    # a saved position is open: qty 0 fits neither side (here the short side).  With every
    # execution kept the replayed books refuse it first, so the history is cut to one: two
    # buys of 1 at 100 leave a long of 2 at its mark, (100 - 100) * 2 = 0 unrealized
    broker = pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1, risk=None, history_limit=1)
    trade(broker, "buy", 1, 100.0)
    trade(broker, "buy", 1, 100.0)
    path = broker.save(tmp_path / "cut.json")
    forge(path, lambda ledger: demo(ledger)["positions"][0].update(qty=0.0, side=-1))
    refused(path, "ledger.accounts[0].positions[0].qty 0.0 does not fit its side -1")


def test_a_long_not_at_the_symbols_mark_is_refused(saved: Path):
    forge(saved, lambda ledger: demo(ledger)["positions"][0].update(mark=150.0))
    refused(saved, "ledger.accounts[0].positions[0].mark 150.0 is not the mark of 'AAA'")


def test_a_held_symbol_missing_from_the_holders_is_refused(saved: Path):
    forge(saved, lambda ledger: ledger["holders"].pop("AAA"))
    refused(saved, "ledger.holders lacks 'AAA', which accounts hold")


def test_holders_that_are_not_the_accounts_holding_it_are_refused(saved: Path):
    forge(saved, lambda ledger: ledger["holders"].update(AAA=["B"]))
    refused(saved, "ledger.holders['AAA'] ['B'] are not the accounts ['B', 'DEMO-ACCOUNT'] holding it")


def test_a_fractional_long_marked_at_the_bid_loads_back(tmp_path: Path):
    # bid 99, ask 101: a long of 0.5 bought at 101 is marked at the bid, (99 - 101) * 0.5 = -1;
    # the file holds the ask as the short mark, which a long does not use
    quotes = pb.ManualQuotes({"ABC": 100.0}, spread=2.0)
    broker = pb.BrokerService(execution_delay=None, market=quotes, mark="bid_ask", risk=None)
    broker.buy("ABC", 0.5)
    path = broker.save(tmp_path / "bid_ask.json")
    assert json.loads(path.read_bytes())["body"]["ledger"]["short_marks"] == {"ABC": 101.0}
    pos = pb.load(path).position("ABC")
    assert (pos.qty, pos.side, pos.last, pos.unrealizedPL) == (0.5, pb.Side.BUY, 99.0, -1.0)
