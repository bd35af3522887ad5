"""A record's JSON is safe inside an HTML ``<script>`` element (reliability 2, item 9)."""

from __future__ import annotations

import json

import paperbroker as pb


def test_to_json_escapes_what_would_close_a_script_element() -> None:
    symbol = "</script><script>alert(1)</script>&amp;"
    broker = pb.BrokerService(execution_delay=None)
    order = broker.buy(symbol, 1, price=10.0)
    text = order.to_json()
    assert "<" not in text and ">" not in text and "&" not in text
    assert "\\u003c/script\\u003e" in text
    assert json.loads(text)["symbol"] == symbol  # the same JSON value


def test_to_json_of_plain_records_is_unchanged() -> None:
    execution = pb.Execution("AAPL", 150.5, 10.0, pb.Side.BUY, 1_704_205_800_000, 0.1, "EXEC-1", "ORDER-1")
    assert execution.to_json() == (
        '{"symbol":"AAPL","price":150.5,"qty":10.0,"side":1,"time":1704205800000,'
        '"commission":0.1,"id":"EXEC-1","orderId":"ORDER-1"}'
    )
