"""Messages and refusals a user reads when opening and naming accounts, word for word:
found untested by the mutation profile over core/ledger.py (tests/README.md)."""

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
