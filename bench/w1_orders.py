"""W1: one market order per bar over N replayed bars, four topic subscribers attached.

Each bar: place a market order (alternating buy and sell, so positions open, close and
flip) priced at the bar's close, fill it, and let the cascade update the order, position
and equity; subscribers on orders, positions, executions and equity count what they get.
The same workload runs through backtrader (when installed: ``pip install -e .[bench]``)
and through a minimal pure-Python cascade that only does the arithmetic, to put the figure
in proportion on this machine.

    python bench/w1_orders.py [--bars 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import sys
import time

import numpy as np

import paperbroker as pb


def make_bars(n: int, seed: int = 7) -> tuple[list[int], list[float]]:
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.001, n)))
    times = (1_704_205_800_000 + 60_000 * np.arange(n)).tolist()
    return times, close.tolist()


def run_paperbroker(times: list[int], closes: list[float]) -> float:
    clock = pb.SimClock(times[0])
    # no risk rules, as when the figures in bench/README.md were recorded (the default
    # DEFAULT_RISK checks buying power on every order)
    broker = pb.BrokerService(execution_delay=None, clock=clock, risk=None)
    counts = [0]

    def count(_payload: object) -> None:
        counts[0] += 1

    for kind in ("orders", "positions", "executions", "equity"):
        broker.subscribe(pb.topic(kind), count)
    buy, sell, market = pb.Side.BUY, pb.Side.SELL, pb.OrderType.MARKET
    submit, fill, PreOrder = broker.submit, broker.fill, pb.PreOrder  # noqa: N806
    gc.collect()
    start = time.perf_counter()
    for i, (t, close) in enumerate(zip(times, closes, strict=True)):
        clock.set(t)
        order = submit(PreOrder("SPY", market, buy if i % 2 == 0 else sell, 1.0, seenPrice=close))
        fill(order.id)
    elapsed = time.perf_counter() - start
    n = len(times)
    assert broker.execution_count == n, "every order must fill"
    assert counts[0] == 5 * n, f"expected {5 * n} events, got {counts[0]}"
    return elapsed / n


def run_minimal(times: list[int], closes: list[float]) -> float:
    """The least a cascade can do: a fill record, a netted position, equity, 4 callbacks."""
    callbacks = [lambda _x: None] * 4
    position = {"qty": 0.0, "avg": 0.0}
    realized = 0.0
    start = time.perf_counter()
    for i, (t, close) in enumerate(zip(times, closes, strict=True)):
        side = 1 if i % 2 == 0 else -1
        order = {"id": i, "side": side, "qty": 1.0, "price": close, "status": 6}
        callbacks[0](order)
        execution = (t, close, 1.0, side)
        callbacks[1](execution)
        order["status"] = 2
        callbacks[0](order)
        old = position["qty"]
        new = old + side
        if old and (old > 0) != (side > 0):
            realized += (close - position["avg"]) * (1.0 if old > 0 else -1.0)
            if new and (new > 0) != (old > 0):
                position["avg"] = close
        else:
            position["avg"] = (position["avg"] * abs(old) + close) / abs(new)
        position["qty"] = new
        callbacks[2](dict(position))
        callbacks[3]((realized, (close - position["avg"]) * new))
    return (time.perf_counter() - start) / len(times)


def run_floor(times: list[int], closes: list[float]) -> float:
    """The least a broker can do that hands subscribers paperbroker's records.

    The same orders, fills and five events per order as :func:`run_paperbroker`, with the
    records a subscriber gets there (the order on placing and on filling, the execution,
    the position, the equity) and the history rows an export needs, but written as two
    flat functions for one account and one symbol: no accounts, no order index, no risk
    or bracket hooks, no subscriber isolation.  Any broker that hands out these records
    and keeps these rows has at least this work to do, so it shows what the interpreter
    allows on this machine.
    """
    import array
    import struct

    pack = struct.Struct("7d").pack
    rows, equity_rows = array.array("d"), array.array("d")
    exec_ids: list[str] = []
    order_ids: list[str] = []
    orders: dict[str, pb.PlacedOrder] = {}
    counts = [0]

    def count(_payload: object) -> None:
        counts[0] += 1

    subscribers = (count,)
    working, filled = pb.OrderStatus.WORKING, pb.OrderStatus.FILLED
    market_type, side_type, placed_order = pb.OrderType, pb.Side, pb.PlacedOrder
    execution, position, equity_data = pb.Execution, pb.Position, pb.EquityData
    state = {"orders": 0, "fills": 0, "qty": 0.0, "avg": 0.0, "realized": 0.0, "now": 0}

    def submit(pre: pb.PreOrder) -> pb.PlacedOrder:
        symbol, kind, side, qty = pre.symbol, pre.type, pre.side, pre.qty
        if type(symbol) is not str or not symbol or type(kind) is not market_type:
            raise ValueError(pre)
        if type(side) is not side_type or type(qty) is not float or not 0.0 < qty <= 1e12:
            raise ValueError(pre)
        if pre.limitPrice is not None or pre.stopPrice is not None or pre.duration is not None:
            raise ValueError(pre)
        state["orders"] += 1
        order = placed_order(
            f"ORDER-{state['orders']}", symbol, kind, side, qty, working, pre.seenPrice,
            None, None, None, None, None, None, 0.0, None, state["now"],
        )  # fmt: skip
        orders[order.id] = order
        snapshot = order.copy()
        for callback in subscribers:
            callback(snapshot)
        return snapshot

    def fill(order_id: str) -> pb.Execution:
        order = orders[order_id]
        if order.status is not working:
            raise ValueError(order_id)
        qty, price, side, now = order.qty - order.filledQty, order.limitPrice, order.side, state["now"]
        assert price is not None
        state["fills"] += 1
        exec_id = f"EXEC-{state['fills']}"
        fill_record = execution(order.symbol, price, qty, side, now, 0.0, exec_id, order_id)
        rows.frombytes(pack(now, 0, 0, side, qty, price, 0.0))
        exec_ids.append(exec_id)
        order_ids.append(order_id)
        order.filledQty, order.avgPrice, order.status, order.updateTime = qty, price, filled, now
        old = state["qty"]
        new = old + (qty if side > 0 else -qty)
        if old == 0.0:
            state["avg"] = price
        else:  # W1 alternates buys and sells: every second fill closes
            state["realized"] += (price - state["avg"]) * old
        state["qty"] = new
        avg, realized = state["avg"], state["realized"]
        unrealized = (price - avg) * new
        balance = 100_000.0 + realized
        equity_rows.frombytes(pack(now, 0, balance, balance + unrealized, realized, unrealized, 0.0))
        events = (
            fill_record,
            order.copy(),
            position(order.symbol, order.symbol, abs(new), side, avg, unrealized, 0.0, price),
            equity_data(balance + unrealized, balance, unrealized, realized, 0.0),
        )
        for payload in events:
            for callback in subscribers:
                callback(payload)
        return fill_record

    buy, sell, market = pb.Side.BUY, pb.Side.SELL, pb.OrderType.MARKET
    PreOrder = pb.PreOrder  # noqa: N806
    gc.collect()
    start = time.perf_counter()
    for i, (t, close) in enumerate(zip(times, closes, strict=True)):
        state["now"] = t
        order = submit(PreOrder("SPY", market, buy if i % 2 == 0 else sell, 1.0, seenPrice=close))
        fill(order.id)
    elapsed = time.perf_counter() - start
    assert counts[0] == 5 * len(times), "every order must give five events"
    return elapsed / len(times)


def run_backtrader(times: list[int], closes: list[float]) -> float | None:
    try:
        import backtrader as bt
        import pandas as pd
    except ImportError:
        return None

    index = pd.to_datetime(np.asarray(times, dtype="int64"), unit="ms")
    close = np.asarray(closes)
    frame = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6}, index=index
    )

    class OnePerBar(bt.Strategy):  # type: ignore[misc]
        def __init__(self) -> None:
            self.i = 0
            self.fills = 0

        def notify_order(self, order: object) -> None:  # a subscriber, like ours
            if order.status == order.Completed:  # type: ignore[attr-defined]
                self.fills += 1

        def notify_trade(self, trade: object) -> None:
            pass

        def notify_cashvalue(self, cash: float, value: float) -> None:
            pass

        def next(self) -> None:
            if self.i % 2 == 0:
                self.buy(size=1)
            else:
                self.sell(size=1)
            self.i += 1

    cerebro = bt.Cerebro(stdstats=False)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.addstrategy(OnePerBar)
    cerebro.broker.set_coc(True)  # fill at this bar's close, as paperbroker does
    gc.collect()
    start = time.perf_counter()
    strategy = cerebro.run()[0]
    elapsed = time.perf_counter() - start
    assert strategy.fills >= len(times) - 1, f"backtrader filled only {strategy.fills}"
    return elapsed / len(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bt-bars", type=int, default=50_000, help="bars for backtrader (slower)")
    args = parser.parse_args()
    times, closes = make_bars(args.bars)
    print(f"W1 on {platform.python_implementation()} {platform.python_version()}, {platform.machine()}")
    ours = min(run_paperbroker(times, closes) for _ in range(args.repeat))
    floor = min(run_floor(times, closes) for _ in range(args.repeat))
    minimal = min(run_minimal(times, closes) for _ in range(args.repeat))
    print(f"paperbroker       {ours * 1e6:8.2f} us/order  ({args.bars} bars, best of {args.repeat})")
    print(f"floor             {floor * 1e6:8.2f} us/order  (the same records, two flat functions)")
    print(f"minimal cascade   {minimal * 1e6:8.2f} us/order  (arithmetic and 4 callbacks only)")
    bt_times, bt_closes = times[: args.bt_bars], closes[: args.bt_bars]
    bt_runs = [run_backtrader(bt_times, bt_closes) for _ in range(max(1, args.repeat - 1))]
    if bt_runs[0] is None:
        print("backtrader        not installed (pip install -e .[bench])")
    else:
        backtrader = statistics.median(r for r in bt_runs if r is not None)
        print(f"backtrader        {backtrader * 1e6:8.2f} us/order  ({args.bt_bars} bars)")
        print(f"paperbroker is {backtrader / ours:.1f}x faster than backtrader per order")
        print(f"the floor is   {backtrader / floor:.1f}x faster than backtrader per order")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
