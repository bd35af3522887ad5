"""Stateful property tests: random sequences of operations keep the books and the events exact.

A hypothesis ``RuleBasedStateMachine`` drives one broker (classic mode, stepped by hand,
two accounts, three symbols, a commission model drawn per run) with places of every order
type, modifies, cancels, whole and partial fills, fills at new prices (which re-mark the
symbol for every holder), flattens, reverses, save-and-reload and transient subscribers.
Each rule predicts its outcome (the result, or which error) and the exact events it
broadcasts; after every step the invariants of :mod:`tests.reliability` are checked
against a reference ledger fed only with the executions the broker reported.

Market mode, where the matcher decides what fills, has its own machine in
``tests/test_properties_market.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

import paperbroker as pb
from paperbroker import OrderStatus, OrderType, Side

from .reliability import (
    CASCADE,
    EPSILON,
    Events,
    Reference,
    check_books,
    check_order_events,
    check_views,
    close,
    expect_error,
    snapshot,
)

ACCOUNTS = [pb.DEFAULT_ACCOUNT, "B"]
INITIAL = {pb.DEFAULT_ACCOUNT: 100_000.0, "B": 25_000.0}
SYMBOLS = ["AAA", "BBB", "CCC"]

prices = st.floats(1.0, 1_000.0).map(lambda x: round(x, 2))
quantities = st.one_of(st.integers(1, 100).map(float), st.floats(0.001, 50.0).map(lambda x: round(x, 3)))
# (model, its rule written out here): the expected commission never asks the model itself
commissions = st.sampled_from(
    [
        (None, lambda qty, price, first: 0.0),
        (pb.FixedPerOrder(1.0), lambda qty, price, first: 1.0 if first else 0.0),
        (pb.PerUnit(0.005), lambda qty, price, first: 0.005 * qty),
        (pb.PercentOfNotional(0.1), lambda qty, price, first: qty * price * 0.1 / 100.0),
    ]
)
accounts = st.sampled_from(ACCOUNTS)
symbols = st.sampled_from(SYMBOLS)
sides = st.sampled_from([Side.BUY, Side.SELL])


class Model:
    """What the broker should hold: orders as placed and modified, marks, next ids."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.marks: dict[str, float] = {}
        self.holders: dict[str, dict[str, None]] = {s: {} for s in SYMBOLS}  # in ledger order
        self.order_seq = 0
        self.exec_seq = 0


class BrokerMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.broker: pb.BrokerService
        self.model = Model()
        self.ref = Reference(INITIAL)
        self.events = Events()
        self.transient: list[tuple[pb.Subscription, str, str, str | None, int, list[Any]]] = []
        self.commission: Any = None
        self.saved_at = 0

    # ------------------------------------------------------------------ setup

    def make_broker(self, commission: Any) -> pb.BrokerService:
        broker = pb.BrokerService(
            execution_delay=None,
            initial_balance=INITIAL[pb.DEFAULT_ACCOUNT],
            seed=7,
            commission=commission,
            history_limit=None,
            clock=pb.SimClock(),
            risk=None,  # the reference model has no buying-power rule
        )
        broker.open_account("B", INITIAL["B"])
        return broker

    @initialize(commission=commissions)
    def start(self, commission: tuple[Any, Any]) -> None:
        model, self.commission = commission
        self.broker = self.make_broker(model)
        self.events.attach(self.broker, ACCOUNTS)
        self.short_round_trip()

    def short_round_trip(self) -> None:
        """Every run begins with a short sold and covered in two parts, checked to the cent
        against numbers worked out by hand, so the reference's short-cover P&L is exercised
        in every run rather than when the draw happens to make one: sell 10 CCC @ 50.00,
        buy back 4 @ 45.00 (realized (50 - 45) * 4 = +20.00) and 6 @ 52.50 (realized
        (50 - 52.50) * 6 = -15.00): +5.00 in all, flat again."""
        sell = self.place("B", "CCC", Side.SELL, OrderType.LIMIT, 10.0, 50.0, 1.0, None, "method")
        self.fill(sell, None, None)
        cover = self.place("B", "CCC", Side.BUY, OrderType.LIMIT, 10.0, 45.0, 1.0, None, "method")
        self.fill(cover, 0.4, None)
        assert self.broker.equity("B").realizedPL == pytest.approx(20.0, abs=1e-9)
        self.fill(cover, None, 52.5)
        assert self.broker.equity("B").realizedPL == pytest.approx(5.0, abs=1e-9)
        assert self.ref.accounts["B"].realized == pytest.approx(5.0, abs=1e-9)
        assert self.broker.positions("B") == []
        self.books_agree_with_the_reference()

    # ------------------------------------------------------------------ helpers

    def expect_events(self, action: Any, expected: list[tuple[str, str]]) -> tuple[Any, list[Any]]:
        """Run ``action``; the new events must be exactly ``expected`` (account, kind)."""
        start = len(self.events.events)
        result = action()
        new = self.events.events[start:]
        assert [(a, k) for a, k, _ in new] == expected
        return result, [payload for _, _, payload in new]

    def expect_error(self, action: Any, error: type[Exception]) -> None:
        expect_error(self.events, action, error)

    def placed(self, account: str, order: pb.PlacedOrder, payloads: list[Any], **fields: Any) -> str:
        self.model.order_seq += 1
        assert order.id == f"ORDER-{self.model.order_seq}"
        assert payloads == [order]
        assert order.status is OrderStatus.WORKING and order.filledQty == 0.0
        for name, value in fields.items():
            assert getattr(order, name) == value, name
        self.model.orders[order.id] = {
            "account": account,
            "symbol": order.symbol,
            "side": order.side,
            "type": order.type,
            "qty": order.qty,
            "limit": order.limitPrice,
            "stop": order.stopPrice,
            "status": OrderStatus.WORKING,
            "filled": 0.0,
        }
        return order.id

    def position_qty(self, account: str, symbol: str) -> float:
        pos = self.ref.accounts[account].positions.get(symbol)
        return 0.0 if pos is None else pos.qty

    # ------------------------------------------------------------------ placing

    @rule(
        target=orders,
        account=accounts,
        symbol=symbols,
        side=sides,
        kind=st.sampled_from(list(OrderType)),
        qty=quantities,
        limit=prices,
        stop=prices,
        seen=st.none() | prices,
        via=st.sampled_from(["method", "preorder", "dict"]),
    )
    def place(
        self,
        account: str,
        symbol: str,
        side: Side,
        kind: OrderType,
        qty: float,
        limit: float,
        stop: float,
        seen: float | None,
        via: str,
    ) -> Any:
        fields: dict[str, Any] = {"symbol": symbol, "type": kind, "side": side, "qty": qty}
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT):
            fields["limitPrice"] = limit
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT):
            fields["stopPrice"] = stop
        if kind is OrderType.MARKET and seen is not None:
            fields["seenPrice"] = seen
        if via == "method":
            method = self.broker.buy if side is Side.BUY else self.broker.sell
            action: Any = lambda: method(  # noqa: E731
                symbol,
                qty,
                price=fields.get("seenPrice"),
                limit=fields.get("limitPrice"),
                stop=fields.get("stopPrice"),
                account_id=account,
            )
        elif via == "preorder":
            action = lambda: self.broker.submit(pb.PreOrder(**fields), account)  # noqa: E731
        else:
            raw = {**fields, "type": int(kind), "side": side.name.lower()}
            action = lambda: self.broker.submit(raw, account)  # noqa: E731
        if kind is OrderType.MARKET and seen is None and symbol not in self.model.marks:
            self.expect_error(action, pb.InvalidOrder)
            return None
        order, payloads = self.expect_events(action, [(account, "orders")])
        if kind is OrderType.MARKET:
            fields["limitPrice"] = seen if seen is not None else self.model.marks[symbol]
        return self.placed(
            account, order, payloads, limitPrice=fields.get("limitPrice"), stopPrice=fields.get("stopPrice")
        )

    @rule(target=orders, account=accounts, symbol=symbols, part=st.none() | st.floats(0.05, 1.0))
    def flatten(self, account: str, symbol: str, part: float | None) -> Any:
        held = self.position_qty(account, symbol)
        amount = None if part is None else abs(held) * part
        action = lambda: self.broker.flatten(symbol, amount, account_id=account)  # noqa: E731
        if held == 0.0:
            self.expect_error(action, pb.UnknownPosition)
            return None
        order, payloads = self.expect_events(action, [(account, "orders")])
        side = Side.SELL if held > 0 else Side.BUY
        qty = abs(held) if amount is None else min(amount, abs(held))
        mark = self.model.marks[symbol]
        market = OrderType.MARKET
        return self.placed(account, order, payloads, side=side, qty=qty, type=market, limitPrice=mark)

    @rule(target=orders, account=accounts, symbol=symbols)
    def reverse(self, account: str, symbol: str) -> Any:
        held = self.position_qty(account, symbol)
        action = lambda: self.broker.reverse(symbol, account_id=account)  # noqa: E731
        if held == 0.0:
            self.expect_error(action, pb.UnknownPosition)
            return None
        order, payloads = self.expect_events(action, [(account, "orders")])
        side = Side.SELL if held > 0 else Side.BUY
        return self.placed(account, order, payloads, side=side, qty=2 * abs(held), type=OrderType.MARKET)

    # ------------------------------------------------------------------ changing

    @rule(order_id=orders, qty=st.none() | quantities, limit=st.none() | prices, stop=st.none() | prices)
    def modify(
        self, order_id: str | None, qty: float | None, limit: float | None, stop: float | None
    ) -> None:
        if order_id is None:
            return
        want = self.model.orders[order_id]
        changes: dict[str, Any] = {}
        if qty is not None:
            changes["qty"] = qty
        if limit is not None and want["type"] is not OrderType.STOP:
            changes["limit_price" if want["type"] is OrderType.LIMIT else "limitPrice"] = limit
        if stop is not None and want["type"] in (OrderType.STOP, OrderType.STOP_LIMIT):
            changes["stopPrice"] = stop
        action = lambda: self.broker.modify(order_id, **changes)  # noqa: E731
        if want["status"] is not OrderStatus.WORKING:
            self.expect_error(action, pb.InvalidState)
            return
        if qty is not None and qty < want["filled"] - EPSILON:
            self.expect_error(action, pb.InvalidOrder)
            return
        order, payloads = self.expect_events(action, [(want["account"], "orders")])
        assert payloads == [order]
        want["qty"] = order.qty if qty is None else qty
        want["limit"] = changes.get("limitPrice", changes.get("limit_price", want["limit"]))
        want["stop"] = changes.get("stopPrice", want["stop"])
        assert (order.qty, order.limitPrice, order.stopPrice) == (want["qty"], want["limit"], want["stop"])
        if want["qty"] - want["filled"] <= EPSILON:
            want["status"] = OrderStatus.FILLED
        assert order.status is want["status"]

    @rule(order_id=consumes(orders))
    def cancel(self, order_id: str | None) -> None:
        if order_id is None:
            return
        want = self.model.orders[order_id]
        action = lambda: self.broker.cancel(order_id)  # noqa: E731
        if want["status"] is not OrderStatus.WORKING:
            self.expect_error(action, pb.InvalidState)
            return
        order, payloads = self.expect_events(action, [(want["account"], "orders")])
        assert payloads == [order] and order.status is OrderStatus.CANCELED
        want["status"] = OrderStatus.CANCELED

    @rule(order_id=orders, part=st.none() | st.floats(0.01, 1.0), price=st.none() | prices)
    def fill(self, order_id: str | None, part: float | None, price: float | None) -> None:
        """A whole or partial fill, at the order's price or at a new one (a price move)."""
        if order_id is None:
            return
        want = self.model.orders[order_id]
        remaining = want["qty"] - want["filled"]
        qty = None if part is None else remaining * part
        action = lambda: self.broker.fill(order_id, qty=qty, price=price)  # noqa: E731
        if want["status"] is not OrderStatus.WORKING:
            self.expect_error(action, pb.InvalidState)
            return
        account, symbol = want["account"], want["symbol"]
        at = price if price is not None else want["stop"] if want["type"] is OrderType.STOP else want["limit"]
        # the new mark moves every other holder of the symbol, after the filling account
        moved = [a for a in self.model.holders[symbol] if a != account and self.model.marks[symbol] != at]
        expected = [(account, "executions"), (account, "orders"), (account, "positions"), (account, "equity")]
        for other in moved:
            expected += [(other, "pl"), (other, "equity")]
        execution, payloads = self.expect_events(action, expected)
        fill_qty = remaining if qty is None else qty
        self.model.exec_seq += 1
        assert execution == payloads[0]
        assert execution.id == f"EXEC-{self.model.exec_seq}" and execution.orderId == order_id
        assert (execution.symbol, execution.side, execution.price) == (symbol, want["side"], at)
        assert execution.qty == fill_qty
        first = want["filled"] == 0.0
        want_commission = self.commission(fill_qty, at, first)
        assert execution.commission == pytest.approx(want_commission, rel=1e-12, abs=1e-15)
        self.ref.apply(account, execution)
        self.model.marks[symbol] = at
        want["filled"] += fill_qty
        if want["qty"] - want["filled"] <= EPSILON:
            want["status"] = OrderStatus.FILLED
        assert payloads[1].status is want["status"] and payloads[1].filledQty == want["filled"]
        position = payloads[2]
        assert close(position.qty * int(position.side), self.position_qty(account, symbol))
        held = self.model.holders[symbol]
        if self.position_qty(account, symbol) == 0.0:
            held.pop(account, None)
            assert position.qty == 0
        elif account not in held:
            held[account] = None

    # ------------------------------------------------------------------ subscribers

    @rule(
        account=accounts,
        kind=st.sampled_from([*CASCADE, "broker-connection"]),
        symbol=st.none() | symbols,
    )
    def subscribe(self, account: str, kind: str, symbol: str | None) -> None:
        got: list[Any] = []
        params = {"symbol": symbol} if kind == "executions" and symbol is not None else {}
        text = pb.topic(kind, account, **params)
        sub = self.broker.subscribe(text, got.append)
        if kind == "broker-connection":
            assert len(got) == 1 and got[0].status is pb.ConnectionStatus.CONNECTED
            got.clear()
        self.transient.append((sub, account, kind, params.get("symbol"), len(self.events.events), got))

    @rule(data=st.data())
    def unsubscribe(self, data: st.DataObject) -> None:
        if not self.transient:
            return
        index = data.draw(st.integers(0, len(self.transient) - 1))
        sub = self.transient[index][0]
        self.check_transient(self.transient.pop(index))
        if data.draw(st.booleans()):
            sub.close()
        else:
            assert self.broker.remove_topic(sub.topic, sub.callback) == 1
        assert not sub.active
        before = len(self.broker.subscriptions())
        sub.close()  # closing twice changes nothing
        assert len(self.broker.subscriptions()) == before

    def check_transient(self, entry: tuple[pb.Subscription, str, str, str | None, int, list[Any]]) -> None:
        """A subscriber attached mid-run got exactly the events of its topic since then."""
        _, account, kind, symbol, start, got = entry
        want = [
            payload
            for a, k, payload in self.events.events[start:]
            if a == account and k == kind and (symbol is None or payload.symbol == symbol)
        ]
        assert got == want

    # ------------------------------------------------------------------ persistence

    @precondition(lambda self: self.model.exec_seq > self.saved_at)  # something new to save
    @rule()
    def save_and_reload(self) -> None:
        """Carry on with a broker loaded from a file; subscribers attach again."""
        self.saved_at = self.model.exec_seq
        with tempfile.TemporaryDirectory() as directory:
            loaded = pb.load(pb.save(self.broker, Path(directory) / "broker.json"))
        before, after = snapshot(self.broker, history=False), snapshot(loaded, history=False)
        assert after.pop("subscriptions") == [] and before.pop("subscriptions")
        assert after == before
        for entry in self.transient:
            self.check_transient(entry)
        self.transient.clear()
        self.broker.shutdown()
        self.events.subs.clear()
        self.broker = loaded
        self.events.attach(loaded, ACCOUNTS)

    # ------------------------------------------------------------------ invariants

    @invariant()
    def books_agree_with_the_reference(self) -> None:
        if hasattr(self, "broker"):
            check_books(self.broker, self.ref)

    @invariant()
    def views_rebuilt_from_events_equal_snapshots(self) -> None:
        if hasattr(self, "broker"):
            check_views(self.broker, self.events, ACCOUNTS)
            check_order_events(self.events)
            for entry in self.transient:
                self.check_transient(entry)

    @invariant()
    def model_orders_match(self) -> None:
        if not hasattr(self, "broker"):
            return
        for order_id, want in self.model.orders.items():
            got = self.broker.order(order_id)
            assert got.status is want["status"], (order_id, got)
            assert (got.qty, got.filledQty) == (want["qty"], want["filled"])

    def teardown(self) -> None:
        if hasattr(self, "broker"):
            self.broker.shutdown()
            assert self.broker.subscriptions() == []


TestBrokerMachine = BrokerMachine.TestCase


def test_the_machine_is_not_vacuous() -> None:
    """One fixed run through the machine's rules, so a rule that stopped asserting shows."""
    machine = BrokerMachine()
    machine.start((pb.FixedPerOrder(1.0), lambda qty, price, first: 1.0 if first else 0.0))
    first = machine.place(
        pb.DEFAULT_ACCOUNT, "AAA", Side.BUY, OrderType.MARKET, 10.0, 1.0, 1.0, 100.0, "method"
    )
    machine.fill(first, 0.5, None)
    machine.subscribe("B", "pl", None)
    other = machine.place("B", "AAA", Side.SELL, OrderType.LIMIT, 4.0, 101.0, 1.0, None, "dict")
    machine.fill(other, None, 105.0)
    machine.books_agree_with_the_reference()
    machine.views_rebuilt_from_events_equal_snapshots()
    assert machine.broker.position("AAA").unrealizedPL == pytest.approx(25.0)
    assert machine.broker.equity("B").commission == 3.0  # the short, its cover, this sale
    machine.ref.accounts["B"].realized += 1.0  # a wrong reference must be caught
    with pytest.raises(AssertionError):
        machine.books_agree_with_the_reference()
    machine.teardown()


def test_the_machine_checks_commissions_against_its_own_rule() -> None:
    """The expected commission is the machine's own arithmetic: a broker charging 1.01
    where the rule says 1.00 fails the first fill of every run."""
    machine = BrokerMachine()
    with pytest.raises(AssertionError):
        machine.start((pb.FixedPerOrder(1.01), lambda qty, price, first: 1.0 if first else 0.0))
    machine.teardown()
