"""Bad input raises a clear error and changes nothing."""

import math

import pytest

import paperbroker as pb
from paperbroker import OrderType, PreOrder, Side

M, L, S, SL = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.STOP_LIMIT


def state(b: pb.BrokerService):
    return (b.orders(), b.positions(), b.executions(), b.equity())


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (PreOrder("X", M, Side.BUY, 0, seenPrice=1.0), "qty must be a finite number greater than 0, got 0"),
        (PreOrder("X", M, Side.BUY, -3, seenPrice=1.0), "qty must be a finite number greater than 0"),
        (PreOrder("X", M, Side.BUY, math.nan, seenPrice=1.0), "got nan"),
        (PreOrder("X", M, Side.BUY, math.inf, seenPrice=1.0), "got inf"),
        (PreOrder("X", M, Side.BUY, "10", seenPrice=1.0), "got '10'"),
        (PreOrder("X", M, Side.BUY, True, seenPrice=1.0), "got True"),
        (PreOrder("X", L, Side.BUY, 1), "limit order needs a limit price (limit=..., or limitPrice)"),
        (PreOrder("X", S, Side.BUY, 1), "stop order needs a stop price (stop=..., or stopPrice)"),
        (
            PreOrder("X", SL, Side.BUY, 1, limitPrice=5.0),
            "stop limit order needs a stop price (stop=..., or stopPrice)",
        ),
        (
            PreOrder("X", SL, Side.BUY, 1, stopPrice=5.0),
            "stop limit order needs a limit price (limit=..., or limitPrice)",
        ),
        (PreOrder("X", L, Side.BUY, 1, limitPrice=-5.0), "limitPrice) must be a finite price greater than 0"),
        (PreOrder("X", L, Side.BUY, 1, limitPrice=math.nan), "limitPrice) must be a finite price"),
        (PreOrder("X", M, Side.BUY, 1, seenPrice=0.0), "seenPrice) must be a finite price"),
        (PreOrder("X", M, Side.BUY, 1, takeProfit=-1.0, seenPrice=1.0), "takeProfit) must be a finite price"),
        (PreOrder("", M, Side.BUY, 1, seenPrice=1.0), "symbol must be a non-empty string"),
        (PreOrder("   ", M, Side.BUY, 1, seenPrice=1.0), "symbol must be a non-empty string"),
        (PreOrder(None, M, Side.BUY, 1, seenPrice=1.0), "symbol must be a non-empty string"),  # type: ignore[arg-type]
        (PreOrder("X", 9, Side.BUY, 1, seenPrice=1.0), "9 is not a valid order type"),  # type: ignore[arg-type]
        (PreOrder("X", M, 0, 1, seenPrice=1.0), "0 is not a valid side"),  # type: ignore[arg-type]
        (PreOrder("X", M, "hold", 1, seenPrice=1.0), "'hold' is not a valid side"),  # type: ignore[arg-type]
        (PreOrder("X", M, Side.BUY, 1), "No price is known for 'X' yet"),
        (
            PreOrder("X", M, Side.BUY, 1, currentQuotes=pb.CurrentQuotes(ask=1.0, bid=2.0)),
            "currentQuotes are crossed",
        ),
        ({"symbol": "X", "type": 2, "side": 1}, "lacks qty"),
        ({"symbol": "X", "type": 2, "side": 1, "qty": 1, "colour": "red"}, "Unknown order field(s) 'colour'"),
        (42, "must be a PreOrder or a dict"),
    ],
)
def test_bad_orders_raise_invalid_order_and_change_nothing(broker, recorder, order, message):
    before = state(broker)
    with pytest.raises(pb.InvalidOrder) as info:
        broker.submit(order)
    assert message in str(info.value)
    assert str(info.value).endswith(".")  # a whole sentence
    assert state(broker) == before
    assert recorder.events == []


def test_a_dict_in_tradingview_shape_is_accepted(broker):
    placed = broker.submit(
        {
            "symbol": "X",
            "type": 1,
            "side": -1,
            "qty": 3,
            "limitPrice": 9.5,
            "currentQuotes": {"ask": 9.6, "bid": 9.4},
        }
    )
    assert (placed.type, placed.side, placed.limitPrice, placed.status) == (
        L,
        Side.SELL,
        9.5,
        pb.OrderStatus.WORKING,
    )


def test_unknown_account_is_explained(broker):
    with pytest.raises(pb.UnknownAccount, match=r"open it with broker.open_account\('BOB'\)"):
        broker.buy("X", 1, price=1.0, account_id="BOB")


def test_unknown_order_and_position(broker):
    with pytest.raises(pb.UnknownOrder, match="There is no order 'ORDER-99'"):
        broker.cancel("ORDER-99")
    with pytest.raises(pb.UnknownPosition, match=r"no open position 'X' \(open: none\)"):
        broker.flatten("X")
    assert isinstance(pb.UnknownOrder("x"), KeyError)  # lookups behave like mappings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"execution_delay": -1}, "execution_delay must be seconds >= 0"),
        ({"execution_delay": "fast"}, "execution_delay must be seconds >= 0"),
        ({"initial_balance": float("nan")}, "initial_balance must be a finite amount"),
        ({"history_limit": 0}, "history_limit must be a whole number >= 1 or None"),
        ({"seed": -5}, "seed must be a non-negative whole number"),
        ({"clock": "now"}, "clock must be a paperbroker Clock"),
    ],
)
def test_bad_configuration(kwargs, message):
    with pytest.raises(pb.ConfigurationError, match=message):
        pb.BrokerService(**kwargs)


def test_error_tree():
    for cls in (
        pb.InvalidOrder,
        pb.OrderRejected,
        pb.InvalidState,
        pb.InvalidTopic,
        pb.UnknownOrder,
        pb.UnknownPosition,
        pb.UnknownAccount,
        pb.ConfigurationError,
        pb.PersistenceError,
    ):
        assert issubclass(cls, pb.BrokerError)
    assert str(pb.UnknownOrder("No such order.")) == "No such order."  # not KeyError's quoted repr
