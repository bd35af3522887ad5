"""Stateful property test of market mode: random orders against moving quotes keep the
books, the events and the order rules exact.

A hypothesis ``RuleBasedStateMachine`` drives one broker on :class:`~paperbroker.ManualQuotes`
(two accounts, two symbols, a quote size and a commission model drawn per run, three hours
of simulated time per step so sessions end) with orders of every type and time in force
(GTC, DAY, IOC, FOK), brackets (take-profit, stop-loss, trailing stop), quotes moved by
hand, market steps, cancels, modifies and flattens.  The matcher decides what fills; the
machine checks after every step that what happened obeys the rules:

* the invariants of :mod:`tests.reliability`: positions, order fills, balance and equity
  agree with a reference ledger fed only with the executions; a subscriber's view rebuilt
  from its events equals the snapshot; no order changes after it is filled or cancelled;
* every fill is one cascade, in order: execution -> order (its filledQty grown by the
  fill) -> position -> equity, each event once;
* every fill is at the quote (the ask to buy, the bid to sell) and within the order's
  limit, a stop fills only when touched, and the fills of one side of a symbol between two
  quotes never exceed the quote's size (so large orders fill in parts);
* IOC orders never stay working; FOK orders fill whole at once or are cancelled unfilled;
  DAY orders do not outlive their session; an order the machine did not cancel is
  cancelled only by its time in force or by its brackets' rules;
* an Inactive bracket child waits for a parent that has not filled, and never fills
  before its parent; an armed child belongs to an open position on the other side and
  closes exactly what is held; when one closes the position its sibling is cancelled
  (one-cancels-other); a trailing stop only moves the position's way.

Profiles as for ``tests/test_properties.py`` (``PAPERBROKER_HYPOTHESIS=ci/dev/long``).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, initialize, invariant, rule

import paperbroker as pb
from paperbroker import OrderStatus, OrderType, ParentType, Side, StopType

from .reliability import (
    EPSILON,
    Events,
    Reference,
    check_books,
    check_order_events,
    check_views,
    expect_error,
)

ACCOUNTS = [pb.DEFAULT_ACCOUNT, "B"]
INITIAL = {pb.DEFAULT_ACCOUNT: 1_000_000.0, "B": 250_000.0}
START = {"AAA": 100.0, "BBB": 20.0}
SYMBOLS = list(START)
TICK = 0.01
STEP_MS = 3 * 3_600_000  # one market step: a session ends (21:00 UTC) every eight
EXPIRED = "The day order expired at the end of the session."
OCO = "One-cancels-other: "

accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from([Side.BUY, Side.SELL])
quantities = st.one_of(st.integers(1, 25).map(float), st.floats(0.1, 8.0).map(lambda x: round(x, 1)))
ticks = st.integers(-30, 30)  # an offset from the quote, in ticks
commissions = st.sampled_from([None, pb.FixedPerOrder(1.0), pb.PerUnit(0.01), pb.PercentOfNotional(0.05)])


def note(label: str) -> None:
    """Count what a run exercised (``--hypothesis-show-statistics`` shows the shares)."""
    if currently_in_test_context():
        event(label)


def touches(order: pb.PlacedOrder, quote: pb.Quote) -> bool:
    """The quote reaches the order's stop: the ask a buy stop, the bid a sell stop."""
    stop = order.stopPrice
    return stop is not None and (quote.ask >= stop if order.side is Side.BUY else quote.bid <= stop)


def cents(price: float) -> float:
    return round(max(price, TICK), 2)


class MarketMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.broker: pb.BrokerService
        self.events = Events()
        self.seen = 0  # events already checked
        self.size: dict[str, float] = {}  # symbol -> the size its last quote offered
        self.used: dict[tuple[str, Side], float] = {}  # fills against that quote, per side
        self.filled_before: set[str] = set()  # orders with at least one execution
        self.parents: dict[str, str] = {}  # bracket child -> the order it was made for
        self.stops: dict[str, float] = {}  # trailing stop -> its last stop price
        self.cancelled: set[str] = set()  # orders this machine cancelled
        self.touched: set[str] = set()  # stop orders whose stop a quote has touched
        self.day: dict[str, int] = {}  # DAY order -> the session end it must not outlive
        self.default_size = float("inf")

    # ------------------------------------------------------------------ setup

    @initialize(commission=commissions, size=st.sampled_from([None, 4.0, 15.0]))
    def start(self, commission: Any, size: float | None) -> None:
        market = pb.ManualQuotes(START, quote_size=size, step_ms=STEP_MS)
        self.broker = pb.BrokerService(
            None,
            initial_balance=INITIAL[pb.DEFAULT_ACCOUNT],
            seed=11,
            commission=commission,
            history_limit=None,
            market=market,
            risk=None,  # the reference model has no buying-power rule
        )
        self.broker.open_account("B", INITIAL["B"])
        self.events.attach(self.broker, ACCOUNTS)
        self.default_size = float("inf") if size is None else size
        self.quoted(SYMBOLS, self.default_size)
        self.short_round_trip()

    def short_round_trip(self) -> None:
        """Every run begins with a short sold at the bid and covered at the ask, checked
        against numbers worked out by hand: sell 5 BBB at the bid 20.00, buy them back at
        the ask 19.02: realized (20.00 - 19.02) * 5 = +4.90, flat again."""
        broker, account = self.broker, pb.DEFAULT_ACCOUNT
        before = broker.equity(account).realizedPL
        for bid, ask, order, price in ((20.0, 20.02, broker.sell, 20.0), (19.0, 19.02, broker.buy, 19.02)):
            self.quoted(["BBB"], 10.0)
            broker.set_quote("BBB", bid=bid, ask=ask, size=10)
            self.after()
            filled = order("BBB", 5, account_id=account)
            self.after()
            assert filled.status is OrderStatus.FILLED and filled.avgPrice == price
        assert broker.equity(account).realizedPL - before == pytest.approx(4.9, abs=1e-9)
        assert self.position_qty(account, "BBB") == 0.0
        self.books_agree_with_the_reference()

    # ------------------------------------------------------------------ helpers

    def quoted(self, names: list[str], size: float) -> None:
        """New quotes for ``names``: each side offers ``size`` until the next quote."""
        for symbol in names:
            self.size[symbol] = size
            self.used[(symbol, Side.BUY)] = self.used[(symbol, Side.SELL)] = 0.0

    def after(self) -> None:
        """Check the events since the last call: cascades, prices, sizes, brackets."""
        events = self.events.events
        new, self.seen = events[self.seen :], len(events)
        for n, (account, kind, payload) in enumerate(new):
            if kind == "orders":
                self.order_event(payload)
            elif kind == "executions":
                self.execution_event(account, payload, new[n + 1 : n + 4])
        for account in ACCOUNTS:  # stops the quotes now touch: from here on they may fill
            for order in self.broker.orders(account, status="working"):
                if order.stopPrice is not None and touches(order, self.broker.quote(order.symbol)):
                    self.touched.add(order.id)
                    self.touched_stop_filled(order)

    def touched_stop_filled(self, order: pb.PlacedOrder) -> None:
        """A stop the quote touches has become a market order and filled, unless the
        quote's size on its side is used up: a stop still working at a touching quote with
        size left was missed (a strict cross where a touch is the rule)."""
        if order.type is not OrderType.STOP:
            return  # a touched stop-limit is a limit order, which may rightly wait
        if order.parentType is not None:
            # A bracket child armed by its parent's fill at a stop the quote already
            # touches waits for the next quote (core/brackets.py activates it with
            # immediate=False), unlike a plain stop placed there: reported, not asserted.
            return
        used, size = self.used[(order.symbol, order.side)], self.size[order.symbol]
        assert used >= size - EPSILON, (order, self.broker.quote(order.symbol), used, size)
        note("a touched stop waits for size")

    def order_event(self, order: pb.PlacedOrder) -> None:
        if order.status is OrderStatus.INACTIVE and order.id not in self.parents:
            assert order.parentType is ParentType.ORDER and order.filledQty == 0.0, order
            self.parents[order.id] = order.parentId  # type: ignore[assignment]
        if order.stopType is StopType.TRAILING_STOP and order.status is OrderStatus.WORKING:
            last = self.stops.get(order.id)
            if last is not None and last != order.stopPrice:
                note("a trailing stop moved")
            if last is not None:  # it follows the price one way only
                assert (order.stopPrice >= last) if order.side is Side.SELL else (order.stopPrice <= last), (
                    order
                )
            self.stops[order.id] = order.stopPrice  # type: ignore[assignment]

    def execution_event(self, account: str, execution: pb.Execution, rest: list[Any]) -> None:
        """One fill: its cascade, its price against the quote and the order, the size it took."""
        order_id, symbol, side = execution.orderId, execution.symbol, execution.side
        assert [(a, k) for a, k, _ in rest] == [
            (account, "orders"),
            (account, "positions"),
            (account, "equity"),
        ]
        order, position = rest[0][2], rest[1][2]
        assert order.id == order_id and position.symbol == symbol
        parent = self.parents.get(order_id)
        assert parent is None or parent in self.filled_before, f"{order_id} filled before its parent {parent}"
        self.filled_before.add(order_id)
        quote = self.broker.quote(symbol)
        assert execution.price == (quote.ask if side is Side.BUY else quote.bid), (execution, quote)
        buy = side is Side.BUY
        if order.limitPrice is not None and order.type is not OrderType.MARKET:
            assert execution.price <= order.limitPrice if buy else execution.price >= order.limitPrice
        if order.type in (OrderType.STOP, OrderType.STOP_LIMIT):  # only once its stop was touched
            assert order_id in self.touched or touches(order, quote), (order, quote)
        key = (symbol, side)
        self.used[key] += execution.qty
        role = "bracket " if order.parentType is not None else ""
        note(
            f"fill: {role}{order.type.name.lower()}{' (part)' if order.status is OrderStatus.WORKING else ''}"
        )
        assert self.used[key] <= self.size[symbol] + EPSILON, (key, self.used[key], self.size[symbol])

    def expect_error(self, action: Any, error: type[Exception]) -> None:
        expect_error(self.events, action, error)

    def position_qty(self, account: str, symbol: str) -> float:
        found = [p for p in self.broker.positions(account) if p.id == symbol]
        return found[0].qty * int(found[0].side) if found else 0.0

    # ------------------------------------------------------------------ orders

    @rule(
        target=orders,
        account=accounts,
        symbol=symbols,
        side=sides,
        kind=st.sampled_from(list(OrderType)),
        qty=quantities,
        limit=ticks,
        stop=ticks,
        tif=st.sampled_from([None, "GTC", "DAY", "IOC", "FOK"]),
        brackets=st.one_of(
            st.none(),
            st.tuples(st.none() | st.integers(-2, 60), st.none() | st.integers(-2, 60), st.none()),
            st.tuples(st.none() | st.integers(-2, 60), st.none(), st.sampled_from([20.0, 100.0])),
        ),
    )
    def place(
        self,
        account: str,
        symbol: str,
        side: Side,
        kind: OrderType,
        qty: float,
        limit: int,
        stop: int,
        tif: str | None,
        brackets: tuple[int | None, int | None, float | None] | None,
    ) -> Any:
        broker = self.broker
        quote = broker.quote(symbol)
        mid = (quote.bid + quote.ask) / 2
        prices: dict[str, Any] = {}
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            prices["limit"] = cents(mid + limit * TICK)
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
            prices["stop"] = cents(mid + stop * TICK)
        # the price brackets are checked against, as the broker takes it
        buy = side is Side.BUY
        ref = prices.get("limit", prices.get("stop", quote.ask if buy else quote.bid))
        wrong = False
        if brackets is not None:
            tp, sl, pips = brackets
            direction = 1 if buy else -1
            if tp is not None:
                prices["take_profit"] = cents(ref + direction * tp * TICK)
                wrong |= (prices["take_profit"] - ref) * direction <= 0
            if sl is not None:
                prices["stop_loss"] = cents(ref - direction * sl * TICK)
                wrong |= (ref - prices["stop_loss"]) * direction <= 0
            if pips is not None:
                prices["trailing_stop_pips"] = pips
        method = broker.buy if buy else broker.sell
        action = lambda: method(symbol, qty, duration=tif, account_id=account, **prices)  # noqa: E731
        if wrong:
            self.expect_error(action, pb.InvalidOrder)
            return None
        session_end = broker.clock.next_session_end(broker.clock.now_ms())
        placed = action()
        self.after()
        now = broker.order(placed.id)
        assert placed == now, "submit() returned a stale record of the order"
        assert (now.symbol, now.side, now.type, now.qty) == (symbol, side, kind, qty)
        note(f"placed {tif}: {now.status.name.lower()}{' (part)' if 0 < now.filledQty < qty else ''}")
        if tif == "IOC":
            assert now.status in (OrderStatus.FILLED, OrderStatus.CANCELED), now
        elif tif == "FOK":
            assert (now.status, now.filledQty) in ((OrderStatus.FILLED, qty), (OrderStatus.CANCELED, 0.0)), (
                now
            )
        elif tif == "DAY":
            self.day[placed.id] = session_end
        return placed.id

    @rule(account=accounts, symbol=symbols, part=st.none() | st.floats(0.1, 1.0))
    def flatten(self, account: str, symbol: str, part: float | None) -> None:
        held = self.position_qty(account, symbol)
        amount = None if part is None else round(abs(held) * part, 6) or None
        action = lambda: self.broker.flatten(symbol, amount, account_id=account)  # noqa: E731
        if held == 0.0:
            self.expect_error(action, pb.UnknownPosition)
            return
        order = action()
        self.after()
        assert order.side is (Side.SELL if held > 0 else Side.BUY) and order.type is OrderType.MARKET

    @rule(order_id=consumes(orders))
    def cancel(self, order_id: str | None) -> None:
        if order_id is None:
            return
        broker = self.broker
        before = broker.order(order_id)
        action = lambda: broker.cancel(order_id)  # noqa: E731
        if before.status not in (OrderStatus.WORKING, OrderStatus.INACTIVE):
            self.expect_error(action, pb.InvalidState)
            return
        start = len(self.events.events)
        order = action()
        self.after()
        assert order.status is OrderStatus.CANCELED and order.filledQty == before.filledQty
        first = self.events.events[start]
        assert first[1] == "orders" and first[2] == order  # the cancel first, then its effects
        self.cancelled.add(order_id)

    @rule(order_id=orders, offset=ticks)
    def modify(self, order_id: str | None, offset: int) -> None:
        """Move the price of an order without brackets; it may then fill at once."""
        if order_id is None:
            return
        broker = self.broker
        order = broker.order(order_id)
        if order.type is OrderType.MARKET or order.takeProfit or order.stopLoss or order.trailingStopPips:
            return
        quote = broker.quote(order.symbol)
        price = cents((quote.bid + quote.ask) / 2 + offset * TICK)
        field = "limitPrice" if order.type is not OrderType.STOP else "stopPrice"
        action = lambda: broker.modify(order_id, **{field: price})  # noqa: E731
        if order.status is not OrderStatus.WORKING:
            self.expect_error(action, pb.InvalidState)
            return
        if field == "stopPrice" and price != order.stopPrice:
            self.touched.discard(order_id)  # a new stop waits for its own touch
        changed = action()
        self.after()
        assert getattr(changed, field) == price and changed.qty == order.qty

    # ------------------------------------------------------------------ the market

    @rule(
        symbol=symbols,
        move=st.integers(-60, 60),
        spread=st.integers(0, 3),
        size=st.none() | st.integers(1, 8),
    )
    def quote(self, symbol: str, move: int, spread: int, size: int | None) -> None:
        """Move one symbol's quote by hand: what it now triggers fills at once."""
        broker = self.broker
        bid = cents(broker.quote(symbol).bid + move * TICK)
        ask = cents(bid + spread * TICK)
        self.quoted([symbol], self.size_of(size))
        broker.set_quote(symbol, bid=bid, ask=ask, size=size)
        self.after()
        now = broker.quote(symbol)
        assert (now.bid, now.ask) == (bid, ask)

    def size_of(self, size: float | None) -> float:
        """What a quote offers per side: ``size``, or the market's quote size."""
        return self.default_size if size is None else float(size)

    @rule(steps=st.integers(1, 4))
    def step(self, steps: int) -> None:
        """Let the market run: each step re-offers the quotes with fresh size, three hours on."""
        broker = self.broker
        for _ in range(steps):
            before = broker.clock.now_ms()
            self.quoted(SYMBOLS, self.size_of(None))
            assert broker.step()
            self.after()
            assert broker.clock.now_ms() == before + STEP_MS

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_agree_with_the_reference(self) -> None:
        if hasattr(self, "broker"):
            check_books(self.broker, Reference(INITIAL).replay(self.broker))

    @invariant()
    def views_rebuilt_from_events_equal_snapshots(self) -> None:
        if hasattr(self, "broker"):
            check_views(self.broker, self.events, ACCOUNTS)
            check_order_events(self.events)
            for account in ACCOUNTS:  # every execution broadcast once, in order
                sent = [e.id for a, k, e in self.events.events if (a, k) == (account, "executions")]
                assert sent == [e.id for e in self.broker.executions(account_id=account)]

    @invariant()
    def order_rules_hold(self) -> None:
        if not hasattr(self, "broker"):
            return
        broker = self.broker
        now = broker.clock.now_ms()
        orders = {o.id: (a, o) for a in ACCOUNTS for o in broker.orders(a)}
        for order_id, (account, order) in orders.items():
            status, message = order.status, order.message.text if order.message else ""
            if status is OrderStatus.INACTIVE:  # waits for a parent that has not filled
                parent = orders[order.parentId][1]  # type: ignore[index]
                assert parent.status is OrderStatus.WORKING and parent.filledQty == 0.0, (order, parent)
            elif status is OrderStatus.WORKING and order.parentType is ParentType.POSITION:
                # an armed bracket closes exactly what its position holds
                held = self.position_qty(account, order.symbol)
                assert held != 0.0 and (held > 0) == (order.side is Side.SELL), (order, held)
                assert abs(order.qty - order.filledQty - abs(held)) <= EPSILON, (order, held)
            elif status is OrderStatus.CANCELED and message.startswith(OCO):
                note("one-cancels-other")
                cause = orders[message[len(OCO) :].split()[0]][1]
                assert cause.status is OrderStatus.FILLED and cause.parentType is ParentType.POSITION
                assert (cause.symbol, orders[cause.id][0]) == (order.symbol, account)
            elif (
                status is OrderStatus.CANCELED and order.parentType is None and order_id not in self.cancelled
            ):
                tif = order.duration.type if order.duration else None
                if tif == "DAY":
                    assert message == EXPIRED, order
                else:
                    assert tif in ("IOC", "FOK") and message.startswith(
                        ("Immediate or cancel", "Fill or kill")
                    )
            if order_id in self.day and self.day[order_id] <= now:
                assert status is not OrderStatus.WORKING, f"{order_id} outlived its session"
            if message == EXPIRED:
                note("a day order expired")
                assert order_id in self.day and self.day[order_id] <= now

    def teardown(self) -> None:
        if hasattr(self, "broker"):
            self.broker.shutdown()


TestMarketMachine = MarketMachine.TestCase


def test_the_machine_is_not_vacuous() -> None:
    """One fixed run through the rules: a bracketed limit order fills in parts against the
    quote size, its take-profit closes the position in parts and cancels the stop-loss;
    then a check that must bite does."""
    machine = MarketMachine()
    machine.start(pb.FixedPerOrder(1.0), 4.0)
    broker = machine.broker
    parent = machine.place("B", "AAA", Side.BUY, OrderType.LIMIT, 6.0, -10, 0, None, (20, 20, None))
    assert [o.status for o in broker.orders("B")] == [OrderStatus.WORKING] + [OrderStatus.INACTIVE] * 2
    machine.quote("AAA", -15, 1, None)  # the ask comes down through the limit: 4 of 6 fill
    machine.order_rules_hold()
    take_profit, stop_loss = (o.id for o in broker.orders("B")[1:])
    assert broker.order(parent).filledQty == 4.0
    assert [broker.order(o).status for o in (take_profit, stop_loss)] == [OrderStatus.WORKING] * 2
    machine.step(1)  # fresh size: the rest fills, and the brackets follow the position
    assert broker.order(parent).status is OrderStatus.FILLED and broker.order(stop_loss).qty == 6.0
    machine.quote("AAA", 30, 1, None)  # up through the take-profit: 4 of 6 close
    assert broker.order(stop_loss).qty == 2.0 and broker.position("AAA", account_id="B").qty == 2.0
    machine.step(1)
    cancelled = broker.order(stop_loss)
    assert cancelled.status is OrderStatus.CANCELED
    assert cancelled.message.text == f"One-cancels-other: {take_profit} closed the position."
    machine.books_agree_with_the_reference()
    machine.views_rebuilt_from_events_equal_snapshots()
    machine.order_rules_hold()
    assert broker.equity("B").commission == 2.0  # one per order: the parent and the take-profit
    machine.size["BBB"] = 0.5  # a quote that offered less than the machine then sees filled
    with pytest.raises(AssertionError):
        machine.place(pb.DEFAULT_ACCOUNT, "BBB", Side.BUY, OrderType.MARKET, 1.0, 0, 0, None, None)
    machine.teardown()


# ---------------------------------------------------------------------- found defects


def test_an_order_that_fills_in_part_when_placed_is_returned_as_it_is() -> None:
    """submit() returned the record broadcast on placing (filledQty 0) although the order
    had already filled against the quote's size."""
    broker = pb.BrokerService(None, market=pb.ManualQuotes({"X": 10.0}, quote_size=4))
    order = broker.buy("X", 10)
    assert (order.status, order.filledQty) == (OrderStatus.WORKING, 4.0)
    assert order == broker.order(order.id)


def test_a_triggered_stop_given_a_new_stop_waits_for_it() -> None:
    """A stop touched when no size was left stayed triggered when its stop was moved away,
    and then filled above its new sell stop, as its record said it could not."""
    broker = pb.BrokerService(None, market=pb.ManualQuotes({"X": 20.0}, quote_size=1))
    broker.sell("X", 1)  # takes the bid's size
    stop = broker.sell("X", 1, stop=20.0)  # touched, but nothing left to fill against
    assert broker.order(stop.id).status is OrderStatus.WORKING
    broker.modify(stop.id, stopPrice=19.9)
    broker.step()  # fresh size at 20.00: above the new stop
    assert broker.order(stop.id).filledQty == 0.0
    broker.set_price("X", 19.85)
    filled = broker.order(stop.id)
    assert filled.status is OrderStatus.FILLED and filled.avgPrice <= 19.9
