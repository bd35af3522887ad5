import json

import pytest

import paperbroker as pb
from paperbroker import OrderStatus, OrderType, ParentType, Side, StopType


def test_enum_values_are_the_tradingview_ones():
    assert {s.name: s.value for s in OrderStatus} == {
        "CANCELED": 1,
        "FILLED": 2,
        "INACTIVE": 3,
        "PLACING": 4,
        "REJECTED": 5,
        "WORKING": 6,
    }
    assert [(t.name, t.value) for t in OrderType] == [
        ("LIMIT", 1),
        ("MARKET", 2),
        ("STOP", 3),
        ("STOP_LIMIT", 4),
    ]
    assert (Side.BUY.value, Side.SELL.value) == (1, -1)
    assert (ParentType.ORDER.value, ParentType.POSITION.value) == (1, 2)
    assert [s.value for s in StopType] == [0, 1, 2]
    assert [c.value for c in pb.ConnectionStatus] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (OrderType.LIMIT, OrderType.LIMIT),
        (2, OrderType.MARKET),
        ("stop-limit", OrderType.STOP_LIMIT),
        ("Market", OrderType.MARKET),
    ],
)
def test_order_type_accepts_member_int_and_name(value, expected):
    assert OrderType.coerce(value, "order type") is expected


@pytest.mark.parametrize("value", [0, 7, "fast", True, 1.0, None])
def test_unknown_enum_values_are_refused_with_the_choices(value):
    with pytest.raises(ValueError, match=r"LIMIT \(1\), MARKET \(2\)"):
        OrderType.coerce(value, "order type")


def test_labels_are_readable():
    assert OrderType.STOP_LIMIT.label == "Stop Limit"
    assert Side.SELL.label == "Sell"
    assert OrderStatus.FILLED.is_done and not OrderStatus.WORKING.is_done


def test_placed_order_serialises_to_tradingview_json():
    order = pb.PlacedOrder(
        "ORDER-1",
        "AAPL",
        OrderType.LIMIT,
        Side.SELL,
        5.0,
        OrderStatus.WORKING,
        limitPrice=101.5,
        parentId="ORDER-0",
        parentType=ParentType.POSITION,
        message=pb.OrderMessage("error", "no"),
    )
    data = json.loads(order.to_json())
    assert data == {
        "id": "ORDER-1",
        "symbol": "AAPL",
        "type": 1,
        "side": -1,
        "qty": 5.0,
        "status": 6,
        "limitPrice": 101.5,
        "filledQty": 0.0,
        "parentId": "ORDER-0",
        "parentType": 2,
        "message": {"type": "error", "text": "no"},
    }
    assert "stopPrice" not in data  # optional fields left out, not null


def test_connection_status_json_uses_int_status():
    status = pb.BrokerConnectionStatus(pb.ConnectionStatus.CONNECTED, "hi", None, 5)
    assert status.to_dict() == {"status": 1, "message": "hi", "timestamp": 5}


def test_repr_shows_only_set_fields_with_enum_names():
    order = pb.PlacedOrder("ORDER-7", "MSFT", OrderType.MARKET, Side.BUY, 1.0, OrderStatus.FILLED)
    text = repr(order)
    assert text.startswith("PlacedOrder(id='ORDER-7', symbol='MSFT', type=MARKET, side=BUY")
    assert "stopPrice" not in text


def test_copy_is_equal_and_independent():
    order = pb.PlacedOrder(
        "ORDER-7", "MSFT", OrderType.MARKET, Side.BUY, 1.0, OrderStatus.WORKING, limitPrice=3.0
    )
    twin = order.copy()
    assert twin == order and twin is not order
    twin.qty = 99.0
    assert order.qty == 1.0


def test_non_finite_floats_serialise_as_null():
    eq = pb.EquityData(float("nan"), 1.0, 0.0, 0.0)
    assert json.loads(eq.to_json())["equity"] is None
