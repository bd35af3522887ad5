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


@pytest.mark.parametrize(
    ("model", "name"),
    [(pb.FixedPerOrder, "FixedPerOrder amount"), (pb.PercentOfNotional, "PercentOfNotional percent")],
)
@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf"), "1", True, None])
def test_every_built_in_model_refuses_a_bad_rate(model, name, bad):
    with pytest.raises(pb.ConfigurationError, match=name) as caught:
        model(bad)
    assert str(caught.value).endswith(".") and repr(bad) in str(caught.value)


@pytest.mark.parametrize(
    ("model", "example"),
    [
        (pb.FixedPerOrder, "FixedPerOrder(1.0)"),
        (pb.PerUnit, "PerUnit(0.005)"),
        (pb.PercentOfNotional, "PercentOfNotional(0.1)"),
    ],
)
def test_a_refused_rate_says_what_a_good_one_looks_like(model, example):
    with pytest.raises(
        pb.ConfigurationError, match=r"for example " + example.replace("(", r"\(").replace(")", r"\)")
    ):
        model(-1.0)


@pytest.mark.parametrize("model", [pb.FixedPerOrder, pb.PerUnit, pb.PercentOfNotional])
def test_a_zero_rate_is_free_trading(model):
    assert model(0)(10, 100.0, True) == 0.0
    assert model(0.0)(10, 100.0, False) == 0.0


def test_a_custom_model_sees_the_fill_s_qty_price_and_first_fill():
    seen = []

    def model(qty, price, first_fill):
        seen.append((qty, price, first_fill))
        return 0.5 if first_fill else 0.25

    b = pb.BrokerService(execution_delay=None, commission=model)
    order = b.buy("X", 10, price=5.0)
    first = b.fill(order.id, qty=4)
    second = b.fill(order.id, price=6.0)
    assert seen == [(4.0, 5.0, True), (6.0, 6.0, False)]
    assert (first.commission, second.commission) == (0.5, 0.25)
    assert b.equity().commission == 0.75


@pytest.mark.parametrize("value", [0.0, 0.5, 3, 1e9])
def test_a_custom_model_may_return_any_finite_amount_from_zero(value):
    b = pb.BrokerService(execution_delay=None, commission=lambda q, p, f: value)
    execution = b.fill(b.buy("X", 1, price=5.0).id)
    assert execution.commission == float(value) and type(execution.commission) is float


@pytest.mark.parametrize("value", [-0.01, float("inf"), float("nan"), True, "1", None])
def test_a_custom_model_returning_a_non_amount_is_refused(value):
    b = pb.BrokerService(execution_delay=None, commission=lambda q, p, f: value)
    order = b.buy("X", 1, price=5.0)
    with pytest.raises(pb.ConfigurationError, match="commission model returned"):
        b.fill(order.id)
    assert b.execution_count == 0


def test_a_model_with_the_wrong_arguments_is_refused_with_the_signature():
    with pytest.raises(pb.ConfigurationError, match=r"cannot be called as model\(qty, price, first_fill\)"):
        pb.BrokerService(commission=lambda qty: 0.0)
