import pytest

import paperbroker as pb


def test_models_compute_per_fill():
    assert pb.NoCommission()(10, 100.0, True) == 0.0
    assert pb.FixedPerOrder(2.0)(10, 100.0, True) == 2.0
    assert pb.FixedPerOrder(2.0)(10, 100.0, False) == 0.0
    assert pb.PerUnit(0.01)(300, 50.0, True) == pytest.approx(3.0)
    assert pb.PercentOfNotional(0.1)(10, 200.0, True) == pytest.approx(2.0)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1", True])
def test_bad_rates_are_refused(bad):
    with pytest.raises(pb.ConfigurationError, match="PerUnit rate"):
        pb.PerUnit(bad)


def test_fixed_fee_is_charged_once_per_order_across_partial_fills(broker):
    b = pb.BrokerService(execution_delay=None, commission=pb.FixedPerOrder(1.0))
    order = b.buy("X", 10, price=5.0)
    first = b.fill(order.id, qty=4)
    second = b.fill(order.id)
    assert (first.commission, second.commission) == (1.0, 0.0)
    assert b.equity().commission == 1.0
    assert b.equity().balance == 100_000.0 - 1.0


def test_broker_refuses_a_non_model():
    with pytest.raises(pb.ConfigurationError, match="commission must be None or a commission model"):
        pb.BrokerService(commission=0.5)


def test_a_model_returning_garbage_changes_nothing():
    b = pb.BrokerService(execution_delay=None, commission=lambda q, p, first: float("nan"))
    order = b.buy("X", 1, price=5.0)
    with pytest.raises(pb.BrokerError, match="commission model returned nan"):
        b.fill(order.id)
    assert b.order(order.id).status is pb.OrderStatus.WORKING
    assert b.positions() == [] and b.executions() == []
