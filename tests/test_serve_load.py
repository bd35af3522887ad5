"""The classroom under load and faults, on 127.0.0.1, bounded in clients, orders and time.

The CI profile is 20 clients for about 3 seconds.  The issue's long profile, 50 clients for
30 seconds, runs with ``PAPERBROKER_SERVE_LOAD=50x30`` in the environment (about a minute
on a laptop).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket

from websockets.exceptions import ConnectionClosed

import paperbroker as pb

from .serve_helpers import Raw, until


def _profile() -> tuple[int, float]:
    clients, _, seconds = os.environ.get("PAPERBROKER_SERVE_LOAD", "20x3").partition("x")
    return int(clients), float(seconds)


def _market() -> pb.BrokerService:
    prices = {"AAPL": 190.0, "MSFT": 410.0, "SPY": 520.0}
    # the default risk rules: every order placed, modified or cancelled moves buyingPower,
    # which each client's copy of the equity must follow
    return pb.BrokerService(execution_delay=None, market=pb.RandomWalk(prices, volatility=0.002), seed=11)


async def _trade(remote: pb.RemoteBroker, rng: random.Random, stop_at: float) -> int:
    """Random market and limit orders, modifies, cancels and closes until ``stop_at``."""
    loop = asyncio.get_running_loop()
    done = 0
    while loop.time() < stop_at:
        symbol = rng.choice(["AAPL", "MSFT", "SPY"])
        roll = rng.random()
        try:
            if roll < 0.45:
                await (remote.buy if rng.random() < 0.5 else remote.sell)(symbol, rng.randint(1, 5))
            elif roll < 0.75:
                mark = remote.quote(symbol).last
                order = await remote.buy(symbol, rng.randint(1, 5), limit=round(mark * 0.999, 2))
                if rng.random() < 0.5:
                    await remote.modify(order.id, qty=order.qty + 1)
                if rng.random() < 0.5:
                    await remote.cancel(order.id)
            elif remote.positions():
                await remote.flatten(rng.choice(remote.positions()).id)
        except pb.BrokerError:
            pass  # a quote not here yet, an order that filled before its cancel ...: the market's answer
        done += 1
        await asyncio.sleep(rng.uniform(0.0, 0.02))
    return done


def _same_view(remote: pb.RemoteBroker, broker: pb.BrokerService) -> bool:
    account = remote.account_id or ""
    return (
        remote.orders() == broker.orders(account)
        and remote.positions() == broker.positions(account)
        and remote.executions() == broker.executions(account_id=account)
        and remote.equity() == broker.equity(account)
    )


async def test_many_clients_trading_each_rebuild_the_servers_state_from_their_events():
    clients, seconds = _profile()
    broker = _market()
    server = pb.serve(broker, interval=0.01)
    names = [f"S{i:02d}" for i in range(clients)]
    remotes = [await pb.connect(server.invite(name).url) for name in names]
    # each client's own record of the order events it was sent, to check their order
    streams: dict[str, list[pb.PlacedOrder]] = {name: [] for name in names}
    for name, remote in zip(names, remotes, strict=True):
        remote.subscribe(pb.topic("orders", name), streams[name].append)
        for symbol in ("AAPL", "MSFT", "SPY"):
            remote.subscribe(pb.topic("quotes", symbol=symbol), lambda quote: None)
    stop_at = asyncio.get_running_loop().time() + seconds
    rngs = [random.Random(i) for i in range(clients)]
    counts = await asyncio.gather(*(_trade(r, g, stop_at) for r, g in zip(remotes, rngs, strict=True)))
    assert sum(counts) >= clients  # every client traded
    server.pause()  # no more steps: let the last events arrive
    await until(lambda: all(_same_view(r, broker) for r in remotes), timeout=30)
    assert broker.execution_count > clients
    for name, remote in zip(names, remotes, strict=True):
        assert remote.gaps == 0 and remote.reconnects == 0
        stream = streams[name]
        assert stream, name
        # per order: timestamps never go back, a finished order never changes again
        last: dict[str, pb.PlacedOrder] = {}
        for order in stream:
            before = last.get(order.id)
            if before is not None:
                assert order.updateTime >= before.updateTime
                assert before.status in (pb.OrderStatus.WORKING, pb.OrderStatus.PLACING)
            last[order.id] = order
        assert list(last.values()) == broker.orders(name)  # nothing lost at the end either
        ids = [e.id for e in remote.executions()]
        assert len(ids) == len(set(ids))  # no execution twice
    assert broker.subscriber_errors == 0
    for remote in remotes:
        remote.close()
    server.close()
    await server.wait_closed()


async def test_a_client_killed_mid_cascade_changes_nothing_for_the_others():
    broker = pb.BrokerService(execution_delay=None, seed=5)
    server = pb.serve(broker)
    others = [await pb.connect(server.invite(f"S{i}").url) for i in range(4)]
    victim = await Raw.open(server.invite(teacher=True).url)
    await victim.recv()
    for name in broker.accounts():
        for kind in ("orders", "executions", "positions", "equity"):
            await victim.send("subscribe", topic=pb.topic(kind, name))
    orders = [await o.buy("AAPL", 1 + i, limit=100.0 + i) for o in others for i in range(25)]
    await until(lambda: len(server.clients) == 5 and max(c.subscriptions for c in server.clients) >= 4)
    killed = False
    for i, order in enumerate(orders):
        broker.fill(order.id)  # each fill: one cascade to every subscriber
        if i == len(orders) // 2:
            victim.ws.transport.abort()  # the teacher's laptop lid closes, mid-stream
            killed = True
        if i % 10 == 0:
            await asyncio.sleep(0)
    assert killed
    await until(lambda: all(_same_view(o, broker) for o in others))
    await until(lambda: len(server.clients) == 4)
    assert all(o.gaps == 0 and o.reconnects == 0 for o in others)
    assert broker.subscriber_errors == 0
    assert [len(o.executions()) for o in others] == [25] * 4
    for other in others:
        other.close()
    server.close()
    await server.wait_closed()


async def test_a_client_that_stops_reading_is_disconnected_without_slowing_the_market():
    broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"AAPL": 100.0}), seed=2)
    server = pb.serve(broker, buffer=500)
    quotes = pb.topic("quotes", symbol="AAPL")
    reader = await pb.connect(server.invite("FAST").url)
    seen: list[pb.Quote] = []
    reader.subscribe(quotes, seen.append)
    # a client with tiny buffers that subscribes and then never reads again
    tiny = socket.socket()
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tiny.connect(("127.0.0.1", int(server.url.rsplit(":", 1)[1].rstrip("/"))))
    tiny.setblocking(False)
    slow = await Raw.open(server.invite("SLOW").url, max_queue=1, sock=tiny)
    await slow.recv()
    await slow.send("subscribe", topic=quotes)
    await until(lambda: sum(c.subscriptions for c in server.clients) >= 6)  # FAST 4 + quotes, SLOW 1
    slow.ws.transport.pause_reading()
    ticks = 4_000
    for i in range(ticks):
        broker.set_price("AAPL", 100.0 + (i % 100) * 0.01)
        if i % 50 == 0:
            await asyncio.sleep(0)  # the kernel's loop keeps turning, as in a notebook
    await until(lambda: any(code == 4408 for name, code, _ in server.disconnects if name == "SLOW"), 10)
    reason = next(r for name, code, r in server.disconnects if name == "SLOW")
    assert reason.startswith("Too slow: 500 messages were waiting unread")
    # the subscription's snapshot (the quote before the ticks), then every tick in order
    await until(lambda: len(seen) == 1 + ticks, timeout=30)
    assert [q.last for q in seen] == [100.0] + [round(100.0 + (i % 100) * 0.01, 2) for i in range(ticks)]
    assert reader.gaps == 0 and reader.reconnects == 0
    assert [c.account_id for c in server.clients] == ["FAST"]
    slow.ws.transport.resume_reading()
    received = 0
    try:
        while received < 2 * ticks:  # what was sent before the cut, then the end
            await slow.recv(timeout=10)
            received += 1
    except ConnectionClosed:
        pass
    assert slow.ws.close_code is not None and received < ticks
    reader.close()
    server.close()
    await server.wait_closed()
