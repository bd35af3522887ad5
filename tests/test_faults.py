"""Faults: subscribers that raise or are slow, a cancelled simulator task, kernel interrupts,
and in market mode fills that fail inside a tick and price sources that fail.

After each fault the broker's books must still be consistent (``check_consistent``), the
fault must show where a user looks (error counters, ``last_error``, the log, the error
``step()`` or ``run()`` raises), and the broker must carry on.

Market mode: a fill that raises inside a tick, and kernel interrupts in subscribers of
market events, leave every order where the market, the brackets and the risk book expect
it.  A price source that raises on some ticks or on every tick, and a source of your own
whose ticks are malformed, raise ``MarketDataError`` and change nothing (a run that meets
one says how many of its steps stand, and ends where a broker whose source never failed
ends); the background task logs a failure that repeats once, counts it and carries on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from pathlib import Path
from typing import Any

import pytest

import paperbroker as pb
from paperbroker.events import TopicHub
from paperbroker.market.source import QuoteChange, Tick

from .reliability import CASCADE, Events, burst, check_consistent, check_views, is_sentence, snapshot

INITIAL = {pb.DEFAULT_ACCOUNT: 100_000.0, "B": 50_000.0}
ACCOUNTS = list(INITIAL)


def make_broker(execution_delay: float | None = None, **options: Any) -> pb.BrokerService:
    broker = pb.BrokerService(execution_delay, clock=pb.SimClock(), seed=3, history_limit=None, **options)
    broker.open_account("B", INITIAL["B"])
    return broker


async def settle(predicate: Any, limit: float = 10.0) -> None:
    """Let the loop run until ``predicate()`` holds (the limit only stops a hung test)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + limit
    while not predicate():
        assert loop.time() < end, "the broker never settled"
        await asyncio.sleep(0.001)


def subscriber_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("paperbroker-subscriber")]


# ---------------------------------------------------------------------- raising subscribers


def test_raising_subscribers_are_isolated_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    broker = make_broker()
    events = Events().attach(broker, ACCOUNTS)
    failing = []
    for account in ACCOUNTS:
        for kind in CASCADE:
            for error in (RuntimeError("boom"), ValueError("bad"), ZeroDivisionError()):

                def fail(payload: Any, error: Exception = error) -> None:
                    raise error

                failing.append(broker.subscribe(pb.topic(kind, account), fail))
    with caplog.at_level(logging.ERROR, logger="paperbroker"):
        fills = burst(broker, 300, seed=1)
    assert broker.execution_count == fills
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)  # the well-behaved subscriber missed nothing
    per_topic = {(a, k): sum(1 for e in events.events if e[:2] == (a, k)) for a in ACCOUNTS for k in CASCADE}
    for sub in failing:
        assert sub.errors == per_topic[(sub.params["accountId"], sub.kind)]
        assert isinstance(sub.last_error, (RuntimeError, ValueError, ZeroDivisionError))
    assert broker.subscriber_errors == sum(s.errors for s in failing)
    tracebacks = [r for r in caplog.records if "raised" in r.getMessage()]
    assert len(tracebacks) == sum(1 for s in failing if s.errors)  # once per subscriber


# ---------------------------------------------------------------------- slow async subscribers


async def test_slow_async_subscribers_get_every_event_in_order() -> None:
    broker = make_broker()
    events = Events().attach(broker, ACCOUNTS)
    pause = random.Random(5)
    got: dict[str, list[Any]] = {kind: [] for kind in CASCADE}
    subs = []
    for kind in CASCADE:

        async def slow(payload: Any, kind: str = kind) -> None:
            await asyncio.sleep(pause.uniform(0, 0.002))  # later events may finish sooner
            got[kind].append(payload)

        subs.append(broker.subscribe(pb.topic(kind), slow))
    burst(broker, 40, seed=2, accounts=(pb.DEFAULT_ACCOUNT,))
    assert any(s.pending for s in subs)  # the broker did not wait for them
    await settle(lambda: not any(s.pending for s in subs))
    for kind in CASCADE:
        want = [p for a, k, p in events.events if a == pb.DEFAULT_ACCOUNT and k == kind]
        assert got[kind] == want, kind
    assert broker.subscriber_errors == 0
    assert subscriber_tasks() == []  # each subscription's task ends when it has caught up
    check_consistent(broker, INITIAL)


async def test_a_subscriber_too_slow_to_keep_up_is_bounded_and_its_loss_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(TopicHub, "max_backlog", 10)
    broker = make_broker()
    seen = []

    async def stuck(payload: Any) -> None:
        await asyncio.sleep(3600)
        seen.append(payload)

    sub = broker.subscribe(pb.topic("orders"), stuck)
    for i in range(50):
        broker.buy("X", 1, limit=10.0 + i)
    assert sub.pending == 10
    assert sub.errors == 40 and isinstance(sub.last_error, pb.SubscriberOverflow)
    assert "has 10 events waiting, so this one was dropped" in str(sub.last_error)
    await asyncio.sleep(0)  # the subscriber starts on its first event
    sub.close()
    assert sub.pending == 0 and seen == []
    await asyncio.sleep(0)
    assert subscriber_tasks() == []
    assert len(broker.orders(status="working")) == 50


def test_an_async_subscriber_without_a_running_loop_is_reported_not_leaked() -> None:
    broker = make_broker()

    async def later(payload: Any) -> None:
        raise AssertionError("never runs")

    sub = broker.subscribe(pb.topic("orders"), later)
    broker.buy("X", 1, limit=1.0)
    broker.buy("X", 1, limit=1.0)
    assert sub.errors == 2 and sub.pending == 0
    assert "outside a running event loop" in str(sub.last_error)


# ---------------------------------------------------------------------- the simulator task


async def test_cancelling_the_simulator_task_mid_run_keeps_the_books() -> None:
    broker = make_broker(execution_delay=0)
    for i in range(120):
        side = ("buy", "sell")[i % 3 % 2]
        order = pb.PreOrder(("AAA", "BBB")[i % 2], "market", side, 1 + i % 7, seenPrice=100.0 + i % 11)
        broker.submit(order, ACCOUNTS[i % 2])
    fills: list[pb.Execution] = []
    broker.subscribe(pb.topic("executions"), fills.append)
    await settle(lambda: len(fills) >= 30)
    task = next(t for t in asyncio.all_tasks() if t.get_name() == "paperbroker-simulator")
    task.cancel()
    await settle(lambda: not broker.simulator_running)
    check_consistent(broker, INITIAL)
    assert broker.simulator.errors == 0  # a cancel is a stop, not a fault
    await broker.place_order(pb.PreOrder("CCC", "limit", "buy", 1, limitPrice=5.0))  # starts it again
    assert broker.simulator_running
    await settle(lambda: broker.execution_count == 121)
    check_consistent(broker, INITIAL)
    broker.shutdown()


# ---------------------------------------------------------------------- kernel interrupts


class InterruptOnCall:
    """A commission model that raises KeyboardInterrupt on its n-th call, as a kernel
    interrupt landing there would."""

    def __init__(self, n: int) -> None:
        self.calls, self.n = 0, n

    def __call__(self, qty: float, price: float, first_fill: bool) -> float:
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return 0.01 * qty


def test_an_interrupt_in_the_commission_model_during_a_burst_changes_nothing_half_way() -> None:
    model = InterruptOnCall(137)
    broker = make_broker(commission=model)
    events = Events().attach(broker, ACCOUNTS)
    with pytest.raises(KeyboardInterrupt):
        burst(broker, 400, seed=4)
    assert broker.execution_count == 136
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)
    (stuck,) = [o for a in ACCOUNTS for o in broker.orders(a, status="working")]
    broker.fill(stuck.id)  # the broker carries on
    assert burst(broker, 100, seed=5) >= 100
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)


def test_an_interrupt_in_fast_mode_stops_the_run_between_consistent_steps() -> None:
    model = InterruptOnCall(60)
    broker = make_broker(execution_delay=0.5, commission=model)
    for i in range(100):
        broker.buy("AAA", 1 + i % 5, limit=100.0 + i % 9, account_id=ACCOUNTS[i % 2])
    with pytest.raises(KeyboardInterrupt):
        broker.run(steps=100)
    assert broker.execution_count == 59
    check_consistent(broker, INITIAL)
    assert broker.run(steps=41) == 41  # and it runs on
    assert broker.execution_count == 100
    check_consistent(broker, INITIAL)


def test_an_interrupt_in_the_last_subscriber_of_a_cascade_reaches_the_caller_after_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = make_broker()
    events = Events().attach(broker, ACCOUNTS)
    calls = {"n": 0}

    def interrupted(payload: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt

    sub = broker.subscribe(pb.topic("equity"), interrupted)
    after: list[Any] = []
    broker.subscribe(pb.topic("equity"), after.append)  # subscribed after the interrupted one
    with caplog.at_level(logging.ERROR, logger="paperbroker"), pytest.raises(KeyboardInterrupt):
        burst(broker, 50, seed=6, accounts=(pb.DEFAULT_ACCOUNT,))
    assert len(after) == 5  # the interrupted event still reached the others
    assert sub.errors == 1 and isinstance(sub.last_error, KeyboardInterrupt)
    assert broker.subscriber_errors == 1
    assert any("raised" in r.getMessage() for r in caplog.records)
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)
    burst(broker, 50, seed=7)  # carries on
    check_consistent(broker, INITIAL)


@pytest.mark.parametrize("kind", ["executions", "orders"])
def test_an_interrupt_in_an_early_cascade_subscriber_leaves_the_books_consistent(kind: str) -> None:
    broker = make_broker()
    order = broker.buy("AAA", 3, price=100.0)

    def interrupted(payload: Any) -> None:
        if isinstance(payload, pb.Execution) or (payload.qty == 3 and getattr(payload, "filledQty", 3) == 3):
            raise KeyboardInterrupt

    broker.subscribe(pb.topic(kind), interrupted)
    with pytest.raises(KeyboardInterrupt):
        broker.fill(order.id)
    check_consistent(broker, INITIAL)


# ---------------------------------------------------------------------- re-entrant subscribers


def test_a_subscriber_that_cancels_the_order_being_filled() -> None:
    broker = make_broker()
    order = broker.buy("AAA", 3, price=100.0)

    def cancel_it(execution: pb.Execution) -> None:
        broker.cancel(execution.orderId)  # too late: it has filled, so this must fail cleanly

    sub = broker.subscribe(pb.topic("executions"), cancel_it)
    broker.fill(order.id)
    assert isinstance(sub.last_error, pb.InvalidState)
    check_consistent(broker, INITIAL)


# ---------------------------------------------------------------------- market mode


def market_broker(source: pb.MarketSource, **options: Any) -> pb.BrokerService:
    broker = pb.BrokerService(
        options.pop("execution_delay", None), market=source, seed=3, history_limit=None, **options
    )
    broker.open_account("B", INITIAL["B"])
    return broker


class Feed(pb.ManualQuotes):
    """Manual quotes as a feed of your own: ``down`` (call numbers, or True) raises,
    ``moves`` are the prices of the next ticks, ``spoil`` (call number -> function) spoils
    the tick the feed made (after storing it, as a buggy feed would)."""

    def __init__(self, prices: dict[str, float], **kwargs: Any) -> None:
        super().__init__(prices, **kwargs)
        self.calls = 0
        self.down: Any = set()
        self.moves: list[dict[str, float]] = []
        self.spoil: dict[int, Any] = {}

    def next_tick(self, now_ms: int) -> Any:
        self.calls += 1
        if self.down is True or self.calls in self.down:
            raise ConnectionError("the feed is down")
        for symbol, price in (self.moves.pop(0) if self.moves else {}).items():
            self.set_quote(symbol, QuoteChange(price=price), now_ms)
        tick = super().next_tick(now_ms)
        spoil = self.spoil.pop(self.calls, None)
        return tick if spoil is None else spoil(tick)


# ---------------------------------------------------------------------- market: a fill fails in a tick


def test_a_fill_that_raises_inside_a_tick_keeps_its_order_working_and_the_tick_published() -> None:
    """An interrupt in the commission model during a tick's first fill: that order was
    taken off the matcher's book before the fill and was lost there (Working for ever), the
    other symbol kept its old quote, and the new marks were never broadcast."""
    feed = Feed({"AAA": 100.0, "BBB": 50.0})
    broker = market_broker(feed, commission=InterruptOnCall(3))
    events = Events().attach(broker, ACCOUNTS)
    broker.buy("AAA", 5)
    broker.buy("BBB", 5, account_id="B")
    sell_a = broker.sell("AAA", 5, limit=101.0)
    sell_b = broker.sell("BBB", 5, limit=51.0, account_id="B")
    feed.moves = [{"AAA": 101.5, "BBB": 51.5}]
    with pytest.raises(KeyboardInterrupt):
        broker.step()
    assert [broker.order(o.id).status for o in (sell_a, sell_b)] == [pb.OrderStatus.WORKING] * 2
    assert broker.position("BBB", account_id="B").last == broker.quote("BBB").last == 51.5
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)  # the marks' pl and equity went out
    assert broker.buy("BBB", 1).avgPrice == broker.quote("BBB").ask  # the new quote, not 50.01
    broker.step()  # the same quotes again: now both fill
    assert [broker.order(o.id).status for o in (sell_a, sell_b)] == [pb.OrderStatus.FILLED] * 2
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)


# ---------------------------------------------------------------------- market: interrupted subscribers


def interrupt_once(broker: pb.BrokerService, when: Any) -> pb.Subscription:
    """An orders subscriber that raises KeyboardInterrupt on the first order ``when`` picks,
    as a kernel interrupt landing in a widget's callback would."""
    fired: list[Any] = []

    def callback(order: pb.PlacedOrder) -> None:
        if not fired and when(order):
            fired.append(order)
            raise KeyboardInterrupt

    return broker.subscribe(pb.topic("orders"), callback)


def placed_with_brackets(broker: pb.BrokerService) -> None:
    interrupt_once(broker, lambda o: o.status is pb.OrderStatus.WORKING and o.takeProfit)
    with pytest.raises(KeyboardInterrupt):
        broker.buy("X", 2, limit=99.0, take_profit=103.0)
    broker.set_price("X", 98.5)  # it fills, and its take-profit is armed
    broker.set_price("X", 103.5)


def bracket_parent_fills(broker: pb.BrokerService) -> None:
    broker.buy("X", 2, limit=99.0, take_profit=103.0, stop_loss=96.0)
    interrupt_once(broker, lambda o: o.status is pb.OrderStatus.FILLED)
    with pytest.raises(KeyboardInterrupt):
        broker.set_price("X", 98.5)
    broker.set_price("X", 103.5)  # the armed take-profit fills, the stop-loss is cancelled


def cancelled(broker: pb.BrokerService) -> None:
    order = broker.buy("X", 2, limit=99.0)
    interrupt_once(broker, lambda o: o.status is pb.OrderStatus.CANCELED)
    with pytest.raises(KeyboardInterrupt):
        broker.cancel(order.id)
    broker.set_price("X", 98.5)  # the cancelled order must not fill


def modified(broker: pb.BrokerService) -> None:
    order = broker.buy("X", 2, limit=95.0)
    interrupt_once(broker, lambda o: o.limitPrice == 99.0)
    with pytest.raises(KeyboardInterrupt):
        broker.modify(order.id, limit_price=99.0)
    broker.set_price("X", 98.5)  # fills at the new limit


def trailed(broker: pb.BrokerService) -> None:
    broker.buy("X", 2, trailing_stop_pips=200)  # 2.00 below
    interrupt_once(broker, lambda o: o.stopPrice == 101.0)
    with pytest.raises(KeyboardInterrupt):
        broker.set_price("X", 103.0)
    broker.set_price("X", 100.9)  # under the moved stop


def expired(broker: pb.BrokerService) -> None:
    broker.buy("X", 2, limit=99.0, duration="DAY")
    interrupt_once(broker, lambda o: o.status is pb.OrderStatus.CANCELED)
    with pytest.raises(KeyboardInterrupt):
        broker.run(8)  # hours: past the session end
    broker.set_price("X", 98.5)


def parent_cancelled_with_two_brackets(broker: pb.BrokerService) -> None:
    parent = broker.buy("X", 2, limit=95.0, take_profit=103.0, stop_loss=90.0)
    interrupt_once(broker, lambda o: o.status is pb.OrderStatus.CANCELED and o.parentId == parent.id)
    with pytest.raises(KeyboardInterrupt):
        broker.cancel(parent.id)  # then its take-profit, then its stop-loss
    broker.set_price("X", 89.0)  # neither bracket may be left to fill


def two_day_orders_expire(broker: pb.BrokerService) -> None:
    broker.buy("X", 2, limit=99.0, duration="DAY")
    broker.buy("X", 1, limit=98.0, duration="DAY")
    interrupt_once(broker, lambda o: o.status is pb.OrderStatus.CANCELED)
    with pytest.raises(KeyboardInterrupt):
        broker.run(8)  # hours: past the session end, where both expire
    broker.set_price("X", 97.5)  # the second must not fill either


@pytest.mark.parametrize(
    ("scenario", "final"),
    [
        (placed_with_brackets, {"FILLED": 2}),
        (bracket_parent_fills, {"FILLED": 2, "CANCELED": 1}),
        (cancelled, {"CANCELED": 1}),
        (modified, {"FILLED": 1}),
        (trailed, {"FILLED": 2}),
        (expired, {"CANCELED": 1}),
        (parent_cancelled_with_two_brackets, {"CANCELED": 3}),
        (two_day_orders_expire, {"CANCELED": 2}),
    ],
)
def test_an_interrupt_in_a_subscriber_of_a_market_event_leaves_every_order_in_its_place(
    scenario: Any, final: dict[str, int]
) -> None:
    """The broker broadcast the order's change before the market, brackets, risk book and
    day orders heard of it, so an interrupt there left a placed order out of the market, a
    filled parent's brackets Inactive for ever, a modified order matching at its old price,
    a trailing stop at its old stop, and a cancelled or expired order in the matcher (where
    the next tick through its price crashed the broker with a KeyError)."""
    broker = market_broker(
        Feed({"X": 100.0}, step_ms=3_600_000), risk=pb.RiskRules(default=pb.SymbolRules(pip_size=0.01))
    )
    scenario(broker)
    statuses = [o.status.name for o in broker.orders()]
    assert {s: statuses.count(s) for s in set(statuses)} == final
    check_consistent(broker, INITIAL)
    broker.run(3)  # and it runs on


# ---------------------------------------------------------------------- market: price sources


class FlakyWalk(pb.RandomWalk):
    """A random walk whose feed is down on the ``down`` calls of ``next_tick``: it raises
    before drawing, so the walk goes on afterwards as if those calls had not happened."""

    def __init__(self, *args: Any, down: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls, self.down = 0, down

    def next_tick(self, now_ms: int) -> Tick:
        self.calls += 1
        if self.calls in self.down:
            raise ConnectionError("the feed is down")
        return super().next_tick(now_ms)


WALK = {"volatility": 0.004, "quote_size": 3}
PRICES = {"AAA": 100.0, "BBB": 50.0, "CCC": 20.0}


def rest_orders(broker: pb.BrokerService) -> None:
    """Orders of every kind, resting and partly filled, brackets, in both accounts."""
    for n, account in enumerate(ACCOUNTS):
        broker.buy("AAA", 6 + n, account_id=account)  # 3 now (the quote size), the rest later
        broker.sell("BBB", 4, account_id=account)
        broker.buy("AAA", 4, limit=99.6 - n / 10, account_id=account)
        broker.sell("AAA", 5, stop=99.4 + n / 10, account_id=account)
        broker.buy("BBB", 2, stop=50.3, limit=50.4, account_id=account)
        broker.sell("BBB", 3, limit=50.4, account_id=account)
        broker.buy("CCC", 5, limit=19.95, take_profit=20.3, stop_loss=19.7, account_id=account)


def test_a_price_source_that_fails_on_some_ticks_changes_nothing_and_runs_on() -> None:
    broker = market_broker(FlakyWalk(PRICES, down={5, 9, 10}, **WALK))
    twin = market_broker(pb.RandomWalk(PRICES, **WALK))  # the same prices, never down
    events, twin_events = Events().attach(broker, ACCOUNTS), Events().attach(twin, ACCOUNTS)
    for b in (broker, twin):
        rest_orders(b)
    with pytest.raises(pb.MarketDataError) as info:
        broker.run(60)
    message = str(info.value)
    assert message.startswith("run() stopped after 4 of 60 steps, which stand.")
    assert "ConnectionError: the feed is down" in message and is_sentence(message)
    assert isinstance(info.value.__cause__, ConnectionError)
    twin.run(4)
    assert snapshot(broker) == snapshot(twin) and broker.quotes() == twin.quotes()
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)
    with pytest.raises(pb.MarketDataError, match=r"^run\(\) stopped after 3 of 56 steps"):
        broker.run(56)
    with pytest.raises(pb.MarketDataError, match=r"^run\(\) stopped after 0 of 53 steps"):
        broker.run(53)
    assert broker.run(53) == 53  # the feed is back
    twin.run(56)
    assert snapshot(broker) == snapshot(twin) and broker.quotes() == twin.quotes()
    assert [e[:2] for e in events.events] == [e[:2] for e in twin_events.events]
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)
    filled = {o.type for a in ACCOUNTS for o in broker.orders(a, status="filled")}
    assert filled == set(pb.OrderType)  # the run did trade: every kind of order filled


def test_a_random_walk_that_would_pass_any_tradable_price_stops_with_a_clear_error(
    tmp_path: Path,
) -> None:
    """A huge drift (5 per step: x148 a step from 100) would reach inf; the walk stops
    before its first untradable price instead, and says why, every time it is asked."""
    broker = market_broker(pb.RandomWalk({"X": 100.0}, drift=5.0, volatility=0.0))
    broker.buy("X", 1)
    with pytest.raises(pb.MarketDataError, match=r"^run\(\) stopped after 4 of 10 steps") as info:
        broker.run(10)  # 100 * e**(5 * 5) is above 1e12
    assert "smaller volatility or drift" in str(info.value) and is_sentence(str(info.value))
    before = snapshot(broker)
    assert before["positions"][pb.DEFAULT_ACCOUNT][0]["last"] < 1e12
    loaded = pb.load(broker.save(tmp_path / "walk.json"))
    for b in (broker, loaded):  # a saved walk ends at the same place
        with pytest.raises(pb.MarketDataError, match=r"above 1e\+12"):
            b.step()
    assert snapshot(broker) == before
    check_consistent(broker, INITIAL)


def test_a_price_source_that_is_always_down_changes_nothing_until_it_is_back() -> None:
    feed = Feed({"AAA": 100.0})
    broker = market_broker(feed)
    events = Events().attach(broker, ACCOUNTS)
    broker.buy("AAA", 2)
    order = broker.buy("AAA", 3, limit=99.0, account_id="B")
    before, quote, now = snapshot(broker), broker.quote("AAA"), broker.clock.now_ms()
    feed.down = True
    for _ in range(3):
        with pytest.raises(pb.MarketDataError) as info:
            broker.step()
        assert str(info.value) == (
            "The price source <Feed AAA> failed: ConnectionError: the feed is down. Nothing of that "
            "tick was applied; the next step asks the source again."
        )
    with pytest.raises(pb.MarketDataError, match=r"^run\(\) stopped after 0 of 5 steps"):
        broker.run(5)
    assert snapshot(broker) == before and broker.quote("AAA") == quote and broker.clock.now_ms() == now
    feed.down = set()
    feed.moves = [{"AAA": 98.5}]
    assert broker.step()
    assert broker.order(order.id).status is pb.OrderStatus.FILLED
    assert broker.clock.now_ms() == now + feed.step_ms
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)


def nan_bid(tick: Tick) -> Tick:
    tick.bid[0] = math.nan
    return tick


def crossed(tick: Tick) -> Tick:
    tick.bid[1] = tick.ask[1] + 1.0
    return tick


def zero_last(tick: Tick) -> Tick:
    tick.last[0] = 0.0
    return tick


def negative_size(tick: Tick) -> Tick:
    tick.ask_size = [tick.ask_size[0], -1.0]
    return tick


def unknown_symbol(tick: Tick) -> Tick:
    tick.index[1] = 7
    return tick


def twice(tick: Tick) -> Tick:
    tick.index[1] = tick.index[0]
    return tick


def short(tick: Tick) -> Tick:
    tick.ask = tick.ask[:1]
    return tick


def text_price(tick: Tick) -> Tick:
    tick.bid[0] = "100"  # type: ignore[call-overload]
    return tick


def in_the_past(tick: Tick) -> Tick:
    tick.time -= 10_000
    return tick


def not_a_tick(tick: Tick) -> Any:
    return {"AAA": 100.0}


@pytest.mark.parametrize(
    ("spoil", "problem"),
    [
        (
            nan_bid,
            "'AAA' has bid nan, ask 100.01 and last 100.0 (prices must be finite and > 0, with bid <= ask)",
        ),
        (crossed, "'BBB' has bid 51.01, ask 50.01 and last 50.0"),
        (zero_last, "'AAA' has bid 100.0, ask 100.01 and last 0.0"),
        (negative_size, "'BBB' has sizes 10.0 and -1.0 (sizes must be >= 0)"),
        (unknown_symbol, "its index must name each of the source's 2 symbols at most once, got [0, 7]"),
        (twice, "its index must name each of the source's 2 symbols at most once, got [0, 0]"),
        (short, "its columns (index, bid, ask, sizes, last ...) differ in length"),
        (text_price, "its prices and sizes lists of numbers"),
        (in_the_past, "is before the broker's clock"),
        (not_a_tick, "next_tick() must return a Tick or None, got {'AAA': 100.0}"),
    ],
)
def test_a_tick_that_cannot_be_used_is_refused_before_anything_changes(spoil: Any, problem: str) -> None:
    feed = Feed({"AAA": 100.0, "BBB": 50.0}, quote_size=10)
    broker = market_broker(feed)
    events = Events().attach(broker, ACCOUNTS)
    broker.buy("AAA", 4)
    broker.sell("BBB", 2, account_id="B")
    waiting = broker.buy("AAA", 1, limit=99.0)
    before, quotes, now = snapshot(broker), broker.quotes(), broker.clock.now_ms()
    feed.spoil[1] = spoil
    with pytest.raises(pb.MarketDataError) as info:
        broker.step()
    message = str(info.value)
    assert message.startswith("The price source <Feed AAA, BBB> gave a tick that cannot be used: ")
    assert problem in message and message.endswith("Nothing of it was applied; fix the source's next_tick().")
    assert snapshot(broker) == before and broker.quotes() == quotes and broker.clock.now_ms() == now
    assert broker.step()  # the next tick is sound and offers the quotes from before
    assert [(q.bid, q.ask, q.last) for q in broker.quotes()] == [(q.bid, q.ask, q.last) for q in quotes]
    assert broker.buy("BBB", 1).avgPrice == quotes[1].ask
    feed.moves = [{"AAA": 98.5}]
    broker.step()
    assert broker.order(waiting.id).status is pb.OrderStatus.FILLED
    check_consistent(broker, INITIAL)
    check_views(broker, events, ACCOUNTS)


def test_a_numpy_tick_from_a_source_of_your_own_is_accepted() -> None:
    import numpy as np

    def numpy_tick(tick: Tick) -> Tick:
        tick.time = np.int64(tick.time)  # type: ignore[assignment]
        tick.index = [np.int64(i) for i in tick.index]  # type: ignore[misc]
        tick.bid = [np.float64(b) for b in tick.bid]  # type: ignore[misc]
        return tick

    feed = Feed({"AAA": 100.0})
    broker = market_broker(feed)
    feed.spoil[1] = numpy_tick
    assert broker.step()
    assert type(broker.clock.now_ms()) is int and broker.quote("AAA").bid == 100.0


async def test_the_background_task_logs_a_failing_source_once_counts_it_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = Feed({"AAA": 100.0})
    feed.down = {2, 3, 4, 5}
    broker = market_broker(feed, execution_delay=0)
    broker.buy("AAA", 1)
    quotes: list[pb.Quote] = []
    with caplog.at_level(logging.WARNING, logger="paperbroker"):
        broker.subscribe(pb.topic("quotes", symbol="AAA"), quotes.append)
        await settle(lambda: broker.simulator.steps >= 9)
        broker.shutdown()
    sim = broker.simulator
    assert (sim.errors, sim.failing) == (4, 0)
    assert isinstance(sim.last_error, pb.MarketDataError) and isinstance(
        sim.last_error.__cause__, ConnectionError
    )
    assert len(quotes) == sim.steps - 4  # every tick that worked, and only those
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "ERROR",
            "A simulator step failed; the simulator carries on, and the same failure again is only "
            "counted (broker.simulator.errors, .failing, .last_error).",
        ),
        ("WARNING", "The simulator recovered after 4 failed steps in a row."),
    ]
    check_consistent(broker, INITIAL)


async def test_broker_connection_reports_a_failing_source_and_its_return() -> None:
    """A TradingView front end shows the broker's connection: Error while the background
    task's steps fail, with the reason, and Connected again once they work."""
    feed = Feed({"AAA": 100.0})
    feed.down = {3, 4, 5}
    broker = market_broker(feed, execution_delay=0)
    statuses: list[pb.BrokerConnectionStatus] = []
    broker.subscribe(pb.topic("broker-connection"), statuses.append)
    await settle(lambda: broker.simulator.steps >= 8)
    broker.shutdown()
    assert [s.status for s in statuses] == [
        pb.ConnectionStatus.CONNECTED,  # on subscribe
        pb.ConnectionStatus.ERROR,  # once, at the first failed step of the three
        pb.ConnectionStatus.CONNECTED,
    ]
    assert statuses[1].message is not None and "the feed is down" in statuses[1].message
    assert statuses[1].to_dict()["status"] == 4  # TradingView's ConnectionStatus.Error

    feed.down = True  # down for good: a front end connecting now sees Error at once
    broker.subscribe(pb.topic("quotes", symbol="AAA"), lambda _q: None)
    await settle(lambda: broker.simulator.failing >= 2)
    late: list[pb.BrokerConnectionStatus] = []
    broker.subscribe(pb.topic("broker-connection"), late.append)
    await settle(lambda: broker.simulator.failing >= 4)
    broker.shutdown()
    assert [s.status for s in late] == [pb.ConnectionStatus.ERROR]  # and not again per step
