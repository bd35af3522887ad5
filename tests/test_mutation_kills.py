"""Messages and refusals a user reads when opening and naming accounts, word for word:
found untested by the mutation profile over core/ledger.py and core/commissions.py
(tests/README.md)."""

from __future__ import annotations

import pytest

import paperbroker as pb


@pytest.fixture
def broker():
    return pb.BrokerService(execution_delay=None, clock=pb.SimClock(), seed=1)


@pytest.mark.parametrize(("bad", "shown"), [("", "''"), ("  ", "'  '"), (5, "5"), (None, "None")])
def test_an_account_id_must_be_a_non_empty_string(broker, bad, shown):
    with pytest.raises(pb.ConfigurationError) as caught:
        broker.open_account(bad)
    assert str(caught.value) == f"account_id must be a non-empty string such as 'ALICE', got {shown}."
    assert broker.accounts() == [pb.DEFAULT_ACCOUNT]


def test_an_account_cannot_be_opened_twice(broker):
    broker.open_account("ALICE", 5_000)
    with pytest.raises(pb.InvalidState) as caught:
        broker.open_account("ALICE", 9_000)
    assert str(caught.value) == "Account 'ALICE' is already open; pick another id."
    assert broker.equity("ALICE").balance == 5_000


@pytest.mark.parametrize(("bad", "shown"), [("NOPE", "'NOPE'"), (5, "5")])
def test_an_unknown_account_is_named_with_the_open_ones(broker, bad, shown):
    broker.open_account("ALICE")
    with pytest.raises(pb.UnknownAccount) as caught:
        broker.equity(bad)
    assert str(caught.value) == (
        f"There is no account {shown}; open it with broker.open_account({shown}) "
        "(open accounts: DEMO-ACCOUNT, ALICE)."
    )


def test_a_saved_commission_of_your_own_names_your_function(tmp_path):
    # found by the profile over core/commissions.py: the file and the refusal to load it
    # without the model name the user's function, not the wrapper that checks its results
    def fee(qty: float, price: float, is_buy: bool) -> float:
        return 1.0

    saved = pb.BrokerService(execution_delay=None, commission=fee).save(tmp_path / "fee.json")
    with pytest.raises(pb.PersistenceError) as caught:
        pb.load(saved)
    assert f"a commission model of your own ({fee!r})" in str(caught.value)
    assert "CheckedModel" not in saved.read_text()
