"""A classroom client hands out read-only records, as a local broker does."""

from __future__ import annotations

import dataclasses

import pytest

import paperbroker as pb

from .serve_helpers import until

pytest.importorskip("websockets")


async def test_the_clients_records_are_read_only() -> None:
    broker = pb.BrokerService(execution_delay=None, seed=3)
    server = pb.serve(broker)
    await server.started()
    try:
        remote = await pb.connect(server.invite("ALICE").url)
        heard: list[pb.PlacedOrder] = []
        remote.subscribe(pb.topic("orders", "ALICE"), heard.append)
        order = await remote.buy("AAPL", 5, price=100.0)
        broker.fill(order.id)
        await until(lambda: len(remote.positions()) == 1 and len(heard) == 2)
        for record in (order, *heard, *remote.positions(), *remote.executions(), remote.equity()):
            name = dataclasses.fields(record)[0].name
            with pytest.raises(dataclasses.FrozenInstanceError, match="read-only"):
                setattr(record, name, None)
        remote.close()
    finally:
        server.close()
        await server.wait_closed()
