"""The classroom server on loopback: order round trip, and fan-out to many clients.

The server runs in a child process (the teacher's kernel), the clients in this one (the
class), so the two ends have their own event loops as they would on separate machines.

* **Round trip**: one client sends ``--orders`` market orders one after another
  (``await remote.buy(...)``) to a market-mode broker, where each fills at once; the time
  from sending to the answer (which comes after the fill's whole cascade) gives p50/p99.
* **Fan-out**: ``--clients`` clients join, each mirroring its own account; the server then
  makes ``--rate`` fills a second for ``--seconds``, spread over the accounts (a ticker
  every 10 ms).  Measured: the pace the server kept (fills a second, and how late its
  ticks ran), every event arriving (none lost), and the delay from a fill to its
  execution event reaching its client (p50/p99, by the wall clock both processes share).

    python bench/serve.py [--orders 1000] [--clients 50] [--rate 200] [--seconds 10]

Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import subprocess
import sys
import time
from typing import Any

import paperbroker as pb


async def wait_until(predicate: Any, seconds: float = 60.0) -> None:
    """Poll ``predicate`` until it holds; give up (exit) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"gave up after {seconds} s waiting for {predicate}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------------- the server process


async def run_server(mode: str, clients: int, rate: int, seconds: float) -> None:
    if mode == "roundtrip":
        broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"AAPL": 100.0}), risk=None)
    else:  # classic manual mode: wall-clock times, so the client can measure the delay
        broker = pb.BrokerService(execution_delay=None, risk=None)
    # a round trip sends orders back to back, faster than the per-connection limit allows
    server = pb.serve(broker, rate=1e6, burst=1e6) if mode == "roundtrip" else pb.serve(broker)
    invitations = [server.invite(f"S{i:02d}").url for i in range(clients)]
    print(json.dumps({"invitations": invitations}), flush=True)
    await wait_until(lambda: len(server.clients) >= clients)
    if mode == "roundtrip":
        await wait_until(lambda: not server.clients, 600)
        server.close()
        return
    await asyncio.sleep(1.0)  # the clients' mirrors are loaded
    loop = asyncio.get_running_loop()
    per_tick = rate / 100
    lateness: list[float] = []
    start = loop.time()
    fills = 0
    tick = 0
    accounts = broker.accounts()[1:]  # the students' (not the demo account)
    while True:
        due = start + tick * 0.01
        now = loop.time()
        if now - start >= seconds:
            break
        if due > now:
            await asyncio.sleep(due - now)
        lateness.append(loop.time() - due)
        target = int((tick + 1) * per_tick)
        while fills < target:
            account = accounts[fills % len(accounts)]
            side = broker.buy if (fills // len(accounts)) % 2 == 0 else broker.sell
            order = side("AAPL", 1, price=100.0 + (fills % 7), account_id=account)
            broker.fill(order.id)
            fills += 1
        tick += 1
    elapsed = loop.time() - start
    stats = {"fills": fills, "elapsed": elapsed, "late_p99_ms": percentile(lateness, 0.99) * 1e3}
    print(json.dumps({"server": stats}), flush=True)
    await wait_until(lambda: not server.clients)
    server.close()


# ---------------------------------------------------------------------- the clients (this process)


def start_server(
    mode: str, clients: int, rate: int, seconds: float
) -> tuple[subprocess.Popen[str], list[str]]:
    args = [sys.executable, __file__, "--serve", mode, "--clients", str(clients)]
    args += ["--rate", str(rate), "--seconds", str(seconds)]
    child = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    first = json.loads(child.stdout.readline())
    return child, first["invitations"]


async def roundtrip(orders: int) -> dict[str, float]:
    child, [url] = start_server("roundtrip", 1, 0, 0)
    try:
        remote = await pb.connect(url)
        for _ in range(50):  # warm up
            await remote.buy("AAPL", 1)
        times = []
        for i in range(orders):
            started = time.perf_counter()
            await (remote.buy if i % 2 == 0 else remote.sell)("AAPL", 1)
            times.append(time.perf_counter() - started)
        remote.close()
        await remote.wait_closed()
    finally:
        await asyncio.get_running_loop().run_in_executor(None, child.wait, 30)
    return {"p50_ms": percentile(times, 0.5) * 1e3, "p99_ms": percentile(times, 0.99) * 1e3}


async def fanout(clients: int, rate: int, seconds: float) -> dict[str, Any]:
    child, urls = start_server("fanout", clients, rate, seconds)
    delays: list[float] = []
    remotes = [await pb.connect(url) for url in urls]

    def on_execution(execution: pb.Execution) -> None:
        delays.append(time.time() - execution.time / 1000)

    for remote in remotes:
        remote.subscribe(pb.topic("executions", remote.account_id), on_execution)
    assert child.stdout is not None
    line = await asyncio.get_running_loop().run_in_executor(None, child.stdout.readline)
    server = json.loads(line)["server"]
    with contextlib.suppress(SystemExit):  # what is missing after 30 s is counted below
        await wait_until(lambda: len(delays) >= server["fills"], 30)
    events = sum(r.mirror.events for r in remotes)
    gaps = sum(r.gaps for r in remotes)
    for remote in remotes:
        remote.close()
    await asyncio.gather(*(r.wait_closed() for r in remotes))
    await asyncio.get_running_loop().run_in_executor(None, child.wait, 30)
    return {
        "fills": server["fills"],
        "fills_per_s": server["fills"] / server["elapsed"],
        "server_tick_late_p99_ms": server["late_p99_ms"],
        "executions_received": len(delays),
        "events_received": events,
        "seq_gaps": gaps,
        "delay_p50_ms": percentile(delays, 0.5) * 1e3,
        "delay_p99_ms": percentile(delays, 0.99) * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--serve", choices=["roundtrip", "fanout"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(run_server(args.serve, args.clients, args.rate, args.seconds))
        return
    print(f"CPython {platform.python_version()}, {platform.machine()}")
    rt = asyncio.run(roundtrip(args.orders))
    figures = f"p50 {rt['p50_ms']:.2f} ms, p99 {rt['p99_ms']:.2f} ms"
    print(f"round trip of a market order, {args.orders} orders: {figures}")
    fo = asyncio.run(fanout(args.clients, args.rate, args.seconds))
    print(f"fan-out, {args.clients} clients, {args.rate} fills/s for {args.seconds:g} s:")
    for key, value in fo.items():
        print(f"  {key}: {value:.2f}" if isinstance(value, float) else f"  {key}: {value}")


if __name__ == "__main__":
    main()
