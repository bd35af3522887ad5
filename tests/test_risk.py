"""Risk and teaching rules: every rejection reason, margin figures, rules switched off."""

from __future__ import annotations

import numpy as np
import pytest

import paperbroker as pb
from paperbroker import OrderStatus

from .conftest import record


def broker(rules, price=100.0, balance=10_000.0):
    return pb.BrokerService(
        execution_delay=None,
        initial_balance=balance,
        market=pb.ManualQuotes({"X": price}, spread=0.0),
        risk=rules,
    )


def rejected(b, call, message):
    rec = record(b)
    with pytest.raises(pb.OrderRejected, match=message) as info:
        call()
    order = b.order(info.value.order_id)
    assert order.status is OrderStatus.REJECTED
    assert order.message.type == "error" and message.split(" ")[0] in order.message.text
    assert [o.status for o in rec.of("orders")] == [OrderStatus.REJECTED]
    assert str(info.value).endswith(".")
    return order


def test_cash_account_buying_power():
    b = broker(pb.RiskRules())
    b.buy("X", 60)  # 6,000 of 10,000
    eq = b.equity()
    assert (eq.marginUsed, eq.buyingPower) == (pytest.approx(6000.0, abs=1), pytest.approx(4000.0, abs=1))
    rejected(b, lambda: b.buy("X", 50), r"needs 5,000.00 of buying power .* only 4,000.00 is available")
    assert b.position("X").qty == 60  # nothing else changed


def test_working_orders_reserve_buying_power():
    b = broker(pb.RiskRules())
    b.buy("X", 70, limit=90.0)  # reserves 6,300
    rejected(b, lambda: b.buy("X", 50, limit=90.0), "buying power")


def test_cash_account_cannot_sell_short():
    b = broker(pb.RiskRules())
    b.buy("X", 5)
    b.sell("X", 3, limit=120.0)
    rejected(b, lambda: b.sell("X", 3), "A cash account cannot sell short")


def test_margin_account_has_leverage_and_may_short():
    b = broker(pb.RiskRules(account="margin", leverage=2.0))
    b.sell("X", 150)  # 15,000 of 20,000
    eq = b.equity()
    assert (eq.marginUsed, eq.buyingPower) == (pytest.approx(7500.0), pytest.approx(5000.0))
    rejected(b, lambda: b.buy("X", 400), "buying power")  # 150 close, 250 open = 25,000
    b.buy("X", 200)  # closes 150, opens 50


def test_margin_figures_follow_the_marks_of_every_position_held():
    b = pb.BrokerService(
        execution_delay=None,
        initial_balance=10_000.0,
        market=pb.ManualQuotes({"X": 100.0, "Y": 50.0}, spread=0.0),
        risk=pb.RiskRules(account="margin", leverage=2.0),
    )
    heard: list[pb.EquityData] = []
    b.subscribe(pb.topic("equity"), heard.append)
    b.buy("X", 50)  # 5,000
    b.sell("Y", 40)  # 2,000 short
    b.set_price("X", 120.0)  # X: +1,000, worth 6,000
    b.set_price("Y", 45.0)  # Y: +200, worth 1,800
    eq = b.equity()
    assert eq.equity == pytest.approx(11_200.0)
    assert (eq.marginUsed, eq.buyingPower) == (pytest.approx(3_900.0), pytest.approx(22_400.0 - 7_800.0))
    assert (heard[-1].marginUsed, heard[-1].buyingPower) == (eq.marginUsed, eq.buyingPower)
    rejected(b, lambda: b.buy("Y", 400), r"needs 16,200.00 .* \(360 x 45\) but only 14,600.00 is")
    b.buy("X", 121)  # 14,520 of the 14,600 left
    assert b.equity().buyingPower == pytest.approx(80.0)
    b.reset_account(pb.DEFAULT_ACCOUNT)
    assert (b.equity().marginUsed, b.equity().buyingPower) == (0.0, 20_000.0)


@pytest.mark.parametrize("mark", ["last", "bid_ask"])
def test_margin_used_stays_the_value_of_the_positions_through_fills_flips_and_marks(mark):
    """Margin used is |qty| x mark of every position, over the leverage, whatever opened,
    added to, reduced, flipped or closed them and however the marks moved since."""
    rng = np.random.default_rng(5)
    prices = {"X": 100.0, "Y": 50.0, "Z": 20.0}
    b = pb.BrokerService(
        execution_delay=None,
        initial_balance=1e9,
        market=pb.ManualQuotes(prices, spread=0.02),
        mark=mark,
        risk=pb.RiskRules(account="margin", leverage=4.0),
    )
    for step in range(400):
        symbol = "XYZ"[int(rng.integers(3))]
        if rng.random() < 0.5:
            prices[symbol] = round(prices[symbol] * float(rng.uniform(0.97, 1.03)), 2)
            b.set_price(symbol, prices[symbol])
        else:
            (b.buy if rng.random() < 0.5 else b.sell)(symbol, float(rng.integers(1, 30)))
        value = sum(p.qty * p.last for p in b.positions())
        assert b.equity().marginUsed == pytest.approx(value / 4.0, rel=1e-9, abs=1e-6), step
    for p in b.positions():  # flat again: nothing is tied up, not even rounding residue
        (b.sell if p.side is pb.Side.BUY else b.buy)(p.symbol, p.qty)
    assert b.positions() == []
    assert b.equity().marginUsed == 0.0


def test_max_position_counts_working_orders():
    b = broker(pb.RiskRules(max_position=10))
    b.buy("X", 6)
    b.buy("X", 3, limit=50.0)
    rejected(b, lambda: b.buy("X", 2), r"take the X position to 11 .* the maximum is 10")
    b.sell("X", 6)  # reducing is fine


def test_daily_loss_limit_blocks_new_positions_until_the_session_ends():
    clock = pb.SimClock()
    b = pb.BrokerService(
        execution_delay=None,
        clock=clock,
        market=pb.ManualQuotes({"X": 100.0}, spread=0.0),
        risk=pb.RiskRules(daily_loss_limit=500.0),
    )
    b.buy("X", 100)
    b.set_price("X", 94.0)  # down 600
    rejected(b, lambda: b.buy("X", 1), "daily loss limit of 500.00 is reached")
    b.sell("X", 50)  # closing is still allowed
    clock.advance(24 * 3600 * 1000)
    b.buy("X", 1)  # a new session
    assert b.position("X").qty == 51


@pytest.mark.parametrize(
    ("symbol_rules", "call", "message"),
    [
        (
            pb.SymbolRules(qty_step=10),
            lambda b: b.buy("X", 15),
            "qty 15 is not a multiple of the quantity step 10",
        ),
        (pb.SymbolRules(min_qty=5), lambda b: b.buy("X", 2), "qty 2 is below the minimum quantity 5"),
        (
            pb.SymbolRules(tick_size=0.05),
            lambda b: b.buy("X", 1, limit=99.97),
            "The limit price 99.97 is not on the 0.05",
        ),
        (pb.SymbolRules(max_position=3), lambda b: b.buy("X", 4), "the maximum is 3"),
    ],
)
def test_symbol_rules(symbol_rules, call, message):
    b = broker(pb.RiskRules(symbols={"X": symbol_rules}))
    rejected(b, lambda: call(b), message)


def test_rejections_also_reach_async_callers_and_classic_mode():
    b = pb.BrokerService(execution_delay=None, initial_balance=1_000.0, risk=pb.RiskRules())

    async def place():
        return await b.place_order(pb.PreOrder("X", pb.OrderType.MARKET, pb.Side.BUY, 100, seenPrice=20.0))

    import asyncio

    with pytest.raises(pb.OrderRejected, match="buying power"):
        asyncio.run(place())


def test_malformed_input_is_still_invalid_and_changes_nothing():
    b = broker(pb.RiskRules())
    with pytest.raises(pb.InvalidOrder):
        b.buy("X", -1)
    assert b.orders() == []


def test_without_rules_nothing_is_refused_and_equity_has_no_margin_fields():
    b = broker(None)
    b.buy("X", 10_000)
    b.sell("X", 20_000)
    assert b.equity().buyingPower is None and "buyingPower" not in b.equity().to_dict()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"account": "savings"}, "account must be 'cash' or 'margin'"),
        ({"account": "cash", "leverage": 2}, "A cash account has no leverage"),
        ({"account": "margin", "leverage": 0.5}, "leverage must be a number >= 1"),
        ({"max_position": -1}, "max_position must be a finite number > 0"),
        ({"symbols": {"X": 1}}, "symbols must be a dict of symbol -> SymbolRules"),
    ],
)
def test_bad_rules_are_configuration_errors(kwargs, message):
    with pytest.raises(pb.ConfigurationError, match=message):
        pb.RiskRules(**kwargs)
    with pytest.raises(pb.ConfigurationError, match="risk must be RiskRules"):
        pb.BrokerService(risk={"account": "cash"})


def test_modify_is_checked_like_a_new_order_and_refused_changes_nothing():
    b = broker(pb.RiskRules())
    order = b.buy("X", 50, limit=90.0)  # reserves 4,500 of 10,000
    rec = record(b)
    before = b.equity()
    with pytest.raises(pb.OrderRejected, match=r"left as it was: .*needs 13,500.00 of buying power"):
        b.modify(order.id, qty=150)  # the order's own 4,500 counts as free: 10,000 available
    assert b.order(order.id) == order  # still working, still 50
    assert rec.events == [] and b.equity() == before
    b.modify(order.id, qty=100)  # 9,000 fits once its own reservation is free again
    assert b.equity().buyingPower == pytest.approx(1000.0)
    rejected(b, lambda: b.buy("X", 20, limit=90.0), "buying power")  # 1,800 > 1,000
    b.modify(order.id, qty=40)  # a smaller order gives buying power back
    assert b.equity().buyingPower == pytest.approx(6400.0)
    b.buy("X", 20, limit=90.0)


def test_modify_cannot_turn_a_sell_into_a_short_in_a_cash_account():
    b = broker(pb.RiskRules())
    b.buy("X", 5)
    sell = b.sell("X", 3, limit=120.0)
    with pytest.raises(pb.OrderRejected, match="cannot sell short"):
        b.modify(sell.id, qty=8)
    assert b.order(sell.id).qty == 3
    b.modify(sell.id, qty=5)
    assert b.order(sell.id).qty == 5


def test_a_working_order_moves_buying_power_with_an_equity_event():
    # cash account, 10,000: a limit buy of 20 at 95 holds 1,900 while it works
    b = broker(pb.RiskRules())
    rec = record(b)
    order = b.buy("X", 20, limit=95.0)
    b.modify(order.id, qty=30)  # now 2,850
    b.cancel(order.id)  # all of it back
    kinds = [kind for kind, _ in rec.events]
    assert kinds == ["orders", "equity", "orders", "equity", "orders", "equity"]
    power = [e.buyingPower for kind, e in rec.events if kind == "equity"]
    assert power == [8_100.0, 7_150.0, 10_000.0]
    # no money moved: the equity history has no new row, only the opening one
    assert len(pb.equity_frame(b)) == 1


def test_orders_that_hold_no_buying_power_send_no_equity_event():
    b = broker(pb.RiskRules())
    b.buy("X", 10)  # fills at 100: 1,000 in the position
    rec = record(b)
    closing = b.sell("X", 10, limit=105.0)  # closes the position: it opens nothing
    b.cancel(closing.id)
    assert [kind for kind, _ in rec.events] == ["orders", "orders"]
    free = broker(None)
    rec = record(free)
    free.cancel(free.buy("X", 10, limit=95.0).id)  # no risk rules: no buying power to move
    assert [kind for kind, _ in rec.events] == ["orders", "orders"]
