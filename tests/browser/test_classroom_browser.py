"""The classroom in a real JupyterLab: a student's dashboard on a client (``pb.connect``)
renders live and trades through the server; the teacher's leaderboard resets an account."""

from __future__ import annotations

from .conftest import Lab, Page
from .test_widgets_browser import wait_row

# the server, a student client and its dashboard, all in the lab's kernel on 127.0.0.1
CLASS = """\
import paperbroker as pb
from paperbroker.widgets import Leaderboard, dashboard
broker = pb.BrokerService(execution_delay=None, market=pb.ManualQuotes({"AAPL": 100.0}, spread=0.02))
server = pb.serve(broker)
broker.open_account("ALICE")
broker.buy("AAPL", 4, account_id="ALICE")
remote = await pb.connect(server.invite("ALICE").url)
board = dashboard(remote, symbols=["AAPL"])
board"""

TEACHER = """\
ranking = Leaderboard(server)
ranking"""


def test_a_dashboard_on_a_client_renders_live_and_trades_through_the_server(lab: Lab, tab: Page) -> None:
    tab.open_lab(lab.notebook("classroom.ipynb", CLASS, TEACHER))
    page = tab.page
    page.wait_for_selector(".pb-summary .pb-figure-equity .pb-value:not(:empty)")
    wait_row(tab, "Positions", "AAPL", "Long", "4", "100.01")
    wait_row(tab, "Executions", "AAPL", "Buy", "4", "100.01")
    # the ticket's order goes to the server; its answer shows in the ticket and the tables
    ticket = page.locator(".pb-ticket")
    ticket.locator("label:has-text('Type') select").select_option("limit")
    ticket.locator("label:has-text('Quantity') input").fill("3")
    ticket.locator("label:has-text('Limit price') input").fill("95.5")
    ticket.locator("button", has_text="Buy").click()
    wait_row(tab, "Orders", "AAPL", "Buy", "Limit", "3", "95.50", "Working", "ORDER-2")
    page.wait_for_function(
        "() => document.querySelector('.pb-ticket .pb-status-line').textContent.startsWith('ORDER-2')"
    )
    assert ticket.locator(".pb-status-line").get_attribute("data-kind") == "ok"
    tab.screenshot(".jp-OutputArea-output:has(.pb-summary)", "classroom-dashboard-lab.png")
    # the teacher resets ALICE from the leaderboard: two clicks; her dashboard follows
    board = page.locator(".pb-leaderboard")
    board.wait_for()
    reset = board.locator("tr:has(.pb-account:text-is('ALICE')) button", has_text="Reset")
    reset.click()
    board.locator("button", has_text="Reset?").click()
    page.wait_for_function(
        "() => document.querySelector('.pb-leaderboard .pb-notice').textContent.includes('ALICE was reset')"
    )
    wait_row(tab, "Orders", "ORDER-2", "Canceled")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pb-table')].find((t) => "
        "t.querySelector('.pb-heading').textContent === 'Positions')"
        ".querySelectorAll('.pb-row:not([hidden])').length === 0"
    )
    tab.screenshot(".jp-OutputArea-output:has(.pb-leaderboard)", "classroom-leaderboard-lab.png")
    assert tab.dialogs == []
    assert tab.errors == []
