"""A kernel interrupt at any line leaves whole books, and is never lost.

Issue: a ``KeyboardInterrupt`` landing inside ``fill``, a partial fill, ``cancel``,
``submit``, ``flatten`` or a market step left an execution in the history with the position
and ``filledQty`` unchanged, ``executions()`` raising ``IndexError``, or a finished order in
the working index; one landing in the hub's delivery left queued events that went out
after the next, unrelated cascade.

The harness runs each operation once to count the lines of paperbroker it executes, then
again for each line with a trace function that, at that line, calls the SIGINT handler in
force, as the interpreter does when the stop button's signal arrives there.  Each time: the
interrupt must reach the caller, the books must be as if the operation had run whole (or,
for a signal before the operation began, not at all), and the next cascade must carry its
own events only.  CI samples up to ``LINES`` lines of each path (first, last and evenly in
between); ``PAPERBROKER_INTERRUPT_LINES=0`` tries every line.  A second test sends real
SIGINTs to the main thread during a trading loop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np
import pandas as pd
import pytest

import paperbroker as pb

from .books import check_books, digest

PACKAGE = str(Path(pb.__file__).parent)
LINES = int(os.environ.get("PAPERBROKER_INTERRUPT_LINES", "120"))

Setup = Callable[[], tuple[pb.BrokerService, Callable[[], Any]]]


def _classic(**options: Any) -> pb.BrokerService:
    return pb.BrokerService(execution_delay=None, history_limit=None, **options)


def _fill() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic()
    broker.fill(broker.buy("X", 5, price=10.0).id)
    order = broker.buy("X", 3, limit=11.0)
    return broker, lambda: broker.fill(order.id)


def _partial_fill() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic()
    order = broker.sell("X", 8, limit=12.0)
    return broker, lambda: broker.fill(order.id, qty=3)


def _bracket_fill() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic()
    broker.fill(broker.buy("X", 10, price=100.0, take_profit=110.0, stop_loss=90.0).id)
    take_profit = broker.orders(status=pb.OrderStatus.WORKING)[0]
    return broker, lambda: broker.fill(take_profit.id)  # fills, closes, cancels its sibling


def _cancel() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic()
    order = broker.buy("X", 2, limit=9.0, take_profit=12.0)
    return broker, lambda: broker.cancel(order.id)


def _submit() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic()
    return broker, lambda: broker.buy("X", 4, limit=10.0, stop_loss=8.0)


def _flatten() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic(market=pb.ManualQuotes({"X": 100.0}))
    broker.buy("X", 6)
    return broker, lambda: broker.flatten("X")


def _market_step() -> tuple[pb.BrokerService, Callable[[], Any]]:
    broker = _classic(market=pb.ManualQuotes({"X": 100.0}))
    broker.buy("X", 4)
    broker.sell("X", 4, limit=100.5)
    broker.buy("X", 1, stop=100.2)
    return broker, lambda: broker.set_quote("X", bid=100.6, ask=100.8)


def _order_inside_a_step() -> tuple[pb.BrokerService, Callable[[], Any]]:
    """A strategy's order placed from its quote subscriber: a guarded call inside a step."""
    broker = _classic(market=pb.ManualQuotes({"X": 100.0}))
    broker.buy("X", 2, limit=99.0)

    def strategy(quote: pb.Quote) -> None:
        if quote.bid < 100.0:
            broker.cancel(broker.orders(status=pb.OrderStatus.WORKING)[0].id)
            broker.buy("X", 3)

    broker.subscribe(pb.topic("quotes", symbol="X"), strategy)
    return broker, lambda: broker.set_quote("X", bid=99.4, ask=99.6)


CASES: dict[str, Setup] = {
    "fill": _fill,
    "partial fill": _partial_fill,
    "bracket fill": _bracket_fill,
    "cancel": _cancel,
    "submit": _submit,
    "flatten": _flatten,
    "market step": _market_step,
    "order inside a step": _order_inside_a_step,
}


class _Tracer:
    """Counts paperbroker's line events; at line ``at`` calls the SIGINT handler in force."""

    def __init__(self, at: int | None) -> None:
        self.at, self.lines = at, 0

    def __call__(self, frame: FrameType, event: str, _arg: object) -> Any:
        if not frame.f_code.co_filename.startswith(PACKAGE):
            return None
        if event == "line":
            self.lines += 1
            if self.lines == self.at:
                handler = signal.getsignal(signal.SIGINT)
                if callable(handler):
                    handler(signal.SIGINT, frame)
        return self


def _run(setup: Setup, at: int | None) -> tuple[pb.BrokerService, bool, int, tuple[Any, ...]]:
    broker, operation = setup()
    before = digest(broker)
    tracer = _Tracer(at)
    interrupted = False
    sys.settrace(tracer)
    try:
        operation()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        sys.settrace(None)
    return broker, interrupted, tracer.lines, before


def _lines_to_try(total: int) -> list[int]:
    if LINES <= 0 or total <= LINES:
        return list(range(1, total + 1))
    edge = min(10, LINES // 4)
    middle = [1 + round(i * (total - 1) / (LINES - 2 * edge)) for i in range(LINES - 2 * edge)]
    return sorted({*range(1, edge + 1), *middle, *range(total - edge + 1, total + 1)})


@pytest.mark.parametrize("name", list(CASES))
def test_an_interrupt_at_any_line_leaves_whole_books(name: str) -> None:
    setup = CASES[name]
    whole, interrupted, total, _before = _run(setup, None)
    assert not interrupted and total > 20
    expected = digest(whole)
    for at in _lines_to_try(total):
        broker, interrupted, _lines, before = _run(setup, at)
        assert interrupted, f"{name}: the interrupt at line {at} of {total} was lost"
        state = digest(broker)
        assert state in (expected, before), f"{name}: an interrupt at line {at} of {total} left half a change"
        check_books(broker)
        # the hub kept nothing for later: the next cascade carries only its own events
        heard: list[object] = []
        sub = broker.subscribe(pb.topic("orders"), heard.append)
        order = broker.buy("Z", 1, limit=1.0)
        sub.close()
        assert [getattr(o, "id", None) for o in heard] == [order.id], f"{name}: line {at}: stale events"


def test_real_sigints_during_a_trading_loop_leave_whole_books() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")  # pytest runs tests on it
    broker = _classic(market=pb.ManualQuotes({"X": 100.0, "Y": 50.0}))
    main = threading.get_ident()
    counts = {"sent": 0, "raised": 0, "outside": 0}
    armed = False
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        # raises only inside the trading calls below, so that none escapes the test's own
        # lines; the broker's guard installs itself in front and passes interrupts on here
        if armed:
            raise KeyboardInterrupt
        counts["outside"] += 1

    def interrupter() -> None:
        while not stop.is_set() and counts["sent"] < 60:
            time.sleep(0.004 + (counts["sent"] % 7) * 0.003)
            signal.pthread_kill(main, signal.SIGINT)
            counts["sent"] += 1
        stop.set()

    original = signal.signal(signal.SIGINT, on_signal)
    price = 100.0
    sender = threading.Thread(target=interrupter)
    sender.start()
    deadline = time.monotonic() + 30
    rounds = 0
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            price += 0.05
            rounds += 1
            try:
                armed = True
                broker.set_quote("X", bid=price - 0.02, ask=price + 0.02)
                broker.buy("X", 1, limit=price - 0.5, take_profit=price + 1.0)
                # sell and buy back by turns: the position stays within the buying power
                # however many rounds a fast machine makes before the signals are all sent
                (broker.sell if rounds % 2 else broker.buy)("X", 1)
                working = broker.orders(status=pb.OrderStatus.WORKING)
                if len(working) > 20:
                    broker.cancel(working[0].id)
                armed = False
            except KeyboardInterrupt:
                armed = False
                counts["raised"] += 1
                check_books(broker)
    finally:
        armed = False
        stop.set()
        sender.join(timeout=10)
        time.sleep(0.05)  # a signal still on its way lands in the test handler
        signal.signal(signal.SIGINT, original)
    # deferred interrupts that arrive during one guarded call count once
    assert counts["sent"] >= 10 and counts["raised"] >= 1
    assert counts["raised"] + counts["outside"] <= counts["sent"]
    check_books(broker)


def _replay(bars: int) -> pb.BrokerService:
    times = pd.date_range("2024-01-02 14:30", periods=bars, freq="1min")
    close = 100.0 + np.arange(bars) * 0.01
    columns = {"open": close, "high": close + 0.02, "low": close - 0.02, "close": close}
    frame = pd.DataFrame(columns, index=times)
    return _classic(market=pb.BarReplay(frame, symbol="X", volume_share=None))


def test_a_sigint_during_a_run_stops_it_after_the_step_it_landed_in() -> None:
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach the main thread only")  # pytest runs tests on it
    broker = _replay(20)
    seen: list[float] = []

    def strategy(quote: pb.Quote) -> None:
        seen.append(quote.last)
        if len(seen) == 5:
            broker.buy("X", 1)  # fills at the next bar's open
            signal.raise_signal(signal.SIGINT)  # lands inside the step: it waits for its end

    broker.subscribe(pb.topic("quotes", symbol="X"), strategy)
    original = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own, as in a script
    try:
        with pytest.raises(KeyboardInterrupt):
            broker.run()
    finally:
        signal.signal(signal.SIGINT, original)
    assert len(seen) == 5 and broker.execution_count == 0  # the fifth step whole, no sixth
    assert broker.orders(status="working")[0].qty == 1
    assert broker.run() == 15  # the rest of the replay runs on
    assert len(seen) == 20 and broker.execution_count == 1
    check_books(broker)


def test_a_run_from_another_thread_takes_the_lock_each_step() -> None:
    broker = _replay(200)
    counts: list[int] = []
    thread = threading.Thread(target=lambda: counts.append(broker.run()))
    thread.start()
    thread.join(timeout=60)
    assert counts == [200]
    assert len(broker.price_history("X")["time"]) == 200
    assert not broker.lock.rlock._is_owned()  # every step let it go
