"""The figures the widgets show, against numbers worked out by hand (kernel side).

tests/test_widgets.py covers how widgets send and batch their state; here the point is
that the number a reader sees is the right one: the summary's return, P&L and commission,
read from the widget's public ``values`` and from its HTML snapshot.
"""

from __future__ import annotations

import html as html_lib
import re

import pytest

import paperbroker as pb
from paperbroker import widgets as w


def figures(widget: w.AccountSummary) -> dict[str, str]:
    """Label -> text of the summary's HTML snapshot (one header row, one value row)."""
    rows = re.findall(r"<tr>(.*?)</tr>", widget.snapshot_html(), re.DOTALL)
    cell = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.DOTALL)
    header, values = ([html_lib.unescape(re.sub("<[^>]+>", "", c)) for c in cell.findall(r)] for r in rows)
    return dict(zip(header, values, strict=True))


def round_trip_with_fees() -> pb.BrokerService:
    """10,000 to start, 25 a trade: buy 100 @ 50, sell 100 @ 52.

    realized (52 - 50) * 100 = 200, commission 2 * 25 = 50, so balance = equity =
    10,000 + 200 - 50 = 10,150 and the return on the 10,000 put in is +1.50 %.
    """
    broker = pb.BrokerService(
        execution_delay=None, clock=pb.SimClock(), initial_balance=10_000.0, commission=pb.FixedPerOrder(25.0)
    )
    broker.fill(broker.buy("X", 100, price=50.0).id)
    broker.fill(broker.sell("X", 100, price=52.0).id)
    return broker


def test_summary_return_is_measured_on_the_initial_balance():
    summary = w.AccountSummary(round_trip_with_fees())
    summary.flush()
    values = summary.values
    assert values["returnPct"] == pytest.approx(1.5)
    assert (values["equity"], values["balance"]) == (10_150.0, 10_150.0)
    assert (values["realizedPL"], values["commission"]) == (200.0, 50.0)
    shown = figures(summary)
    assert shown["Return"] == "+1.50%"
    assert shown["Equity"] == "10,150.00" and shown["Balance"] == "10,150.00"
    assert shown["Realized P&L"] == "+200.00" and shown["Commission"] == "50.00"
    summary.close()


def test_summary_return_of_an_open_losing_short():
    """Short 200 @ 25 from 10,000 at 0.01 a unit (2.00), then 1 bought back @ 26 (0.01):
    realized (25 - 26) * 1 = -1, the 199 still short marked at 26 lose (25 - 26) * 199 =
    -199, so equity = 10,000 - 1 - 199 - 2.01 = 9,797.99: a return of -2.0201 %."""
    broker = pb.BrokerService(
        execution_delay=None, clock=pb.SimClock(), initial_balance=10_000.0, commission=pb.PerUnit(0.01)
    )
    broker.fill(broker.sell("Y", 200, price=25.0).id)
    broker.fill(broker.buy("Y", 1, price=26.0).id)
    summary = w.AccountSummary(broker)
    summary.flush()
    values = summary.values
    assert values["realizedPL"] == pytest.approx(-1.0)
    assert values["unrealizedPL"] == pytest.approx(-199.0)
    assert values["commission"] == pytest.approx(2.01)
    assert values["equity"] == pytest.approx(10_000.0 - 1.0 - 199.0 - 2.01)
    assert values["returnPct"] == pytest.approx((9_797.99 / 10_000.0 - 1.0) * 100.0)
    shown = figures(summary)
    assert shown["Return"] == "\u22122.02%"  # a minus sign, not a hyphen
    assert shown["Unrealized P&L"] == "\u2212199.00"
    summary.close()
