"""W2: quote updates against 10,000 resting orders, then a burst that triggers them all.

10 symbols on a seeded random walk (market mode, manual stepping); 1,000 resting orders
per symbol: 250 each of buy limits, sell limits, buy stops and sell stops, all far from
the price.  Phase 1 runs ``--ticks`` broker steps (10 quote updates each) during which
nothing triggers, and reports quote updates per second: for the whole broker step (price
source, clock, marks, matching), the same with a ``quotes`` subscriber on every symbol
(a Quote record built and delivered per update), and for the matcher alone.  Phase 2
moves every symbol down through its buy limits and sell stops, then up through its sell
limits and buy stops: 10,000 fills, each a full cascade (execution -> order -> position
-> equity) with four topic subscribers; it reports the cost per fill.

    python bench/w2_matching.py [--ticks 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import platform
import time

import paperbroker as pb

SYMBOLS = [f"S{i}" for i in range(10)]
PER_KIND = 250


def build(quote_subscribers: bool = False) -> tuple[pb.BrokerService, list[int]]:
    walk = pb.RandomWalk({s: 100.0 for s in SYMBOLS}, volatility=0.0002)
    broker = pb.BrokerService(execution_delay=None, seed=5, market=walk, initial_balance=1e12)
    counts = [0]

    def count(_payload: object) -> None:
        counts[0] += 1

    for kind in ("orders", "positions", "executions", "equity"):
        broker.subscribe(pb.topic(kind), count)
    for symbol in SYMBOLS:
        if quote_subscribers:
            broker.subscribe(pb.topic("quotes", symbol=symbol), count)
        for k in range(PER_KIND):
            step = k * 0.01
            broker.buy(symbol, 1, limit=round(60.0 - step, 2))
            broker.sell(symbol, 1, limit=round(140.0 + step, 2))
            broker.buy(symbol, 1, stop=round(160.0 + step, 2))
            broker.sell(symbol, 1, stop=round(40.0 - step, 2))
    assert len(broker.orders(status="working")) == 4 * PER_KIND * len(SYMBOLS)
    return broker, counts


def quiet_phase(broker: pb.BrokerService, ticks: int) -> float:
    gc.collect()
    start = time.perf_counter()
    broker.run(ticks)
    elapsed = time.perf_counter() - start
    assert broker.execution_count == 0, "nothing may trigger in the quiet phase"
    return ticks * len(SYMBOLS) / elapsed


def matcher_only(broker: pb.BrokerService, ticks: int) -> float:
    """The matcher's share: on_quotes over pre-built quote lists."""
    matcher = broker._parts.venue.matcher  # type: ignore[union-attr]  # the matcher alone, measured
    index = list(range(len(SYMBOLS)))
    rows = []
    for t in range(1000):
        bid = [100.0 + (t % 7) * 0.01] * len(SYMBOLS)
        rows.append((bid, [b + 0.01 for b in bid]))
    sizes = [float("inf")] * len(SYMBOLS)
    on_quotes = matcher.on_quotes
    gc.collect()
    start = time.perf_counter()
    for t in range(ticks):
        bid, ask = rows[t % 1000]
        on_quotes(index, bid, ask, sizes, sizes)
    return ticks * len(SYMBOLS) / (time.perf_counter() - start)


def burst(broker: pb.BrokerService) -> tuple[int, float]:
    gc.collect()
    start = time.perf_counter()
    for symbol in SYMBOLS:
        broker.set_price(symbol, 20.0)  # through every buy limit and sell stop
        broker.set_price(symbol, 200.0)  # through every sell limit and buy stop
    elapsed = time.perf_counter() - start
    fills = broker.execution_count
    assert fills == 4 * PER_KIND * len(SYMBOLS), f"expected every order to fill, got {fills}"
    return fills, elapsed / fills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=100_000, help="broker steps (10 quote updates each)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"W2 on {platform.python_implementation()} {platform.python_version()}, {platform.machine()}, "
        f"{platform.platform()}, {dt.date.today()}"
    )
    broker_rates, quote_rates, matcher_rates, fill_costs = [], [], [], []
    for _ in range(args.repeat):
        quote_rates.append(quiet_phase(build(quote_subscribers=True)[0], args.ticks))
        broker, _counts = build()
        broker_rates.append(quiet_phase(broker, args.ticks))
        matcher_rates.append(matcher_only(broker, args.ticks))
        fills, per_fill = burst(broker)
        fill_costs.append(per_fill)
    updates = args.ticks * len(SYMBOLS)
    print(f"resting orders            {4 * PER_KIND * len(SYMBOLS):>10,}")
    print(f"quote updates (quiet)     {updates:>10,}  nothing triggered")
    print(f"broker step               {max(broker_rates):>10,.0f} quote updates/s (best of {args.repeat})")
    print(f"  + quotes subscribers    {max(quote_rates):>10,.0f} quote updates/s")
    print(f"matcher alone             {max(matcher_rates):>10,.0f} quote updates/s")
    print(
        f"burst                     {fills:>10,} fills, "
        f"{min(fill_costs) * 1e6:.1f} us per fill (full cascade)"
    )


if __name__ == "__main__":
    main()
