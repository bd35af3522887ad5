"""Dashboard: every widget of one account laid out on a grid, in one call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from ..broker import BrokerService
from ..models import DEFAULT_ACCOUNT
from ._base import BrokerWidget, add_snapshot
from ._html import snapshot
from .chart import EquityChart
from .summary import AccountSummary
from .tables import ExecutionsTable, OrdersTable, PositionsTable
from .ticket import OrderTicket

__all__ = ["Dashboard", "dashboard"]

_GAP = "10px"


def _grid(children: list[Any], columns: str) -> Any:
    layout = ipywidgets.Layout(grid_template_columns=columns, grid_gap=_GAP, width="100%")
    return ipywidgets.GridBox(children=children, layout=layout)


class Dashboard(ipywidgets.GridBox):  # type: ignore[misc]
    """The account summary on top; the equity chart beside the order ticket; positions
    beside executions (one above the other when the notebook is narrow); orders.

    The parts are attributes (``summary``, ``chart``, ``ticket``, ``positions``,
    ``executions``, ``orders``).  :meth:`close` closes them all, which unsubscribes them;
    when nothing else subscribes, the broker's simulator stops.
    """

    def __init__(
        self,
        broker: BrokerService,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        symbols: Sequence[str] = (),
        table_height: int = 220,
        chart_height: int = 300,
        **kwargs: Any,
    ) -> None:
        made: list[BrokerWidget] = []

        def make(cls: Any, **options: Any) -> Any:
            widget = cls(broker, account_id, **options)
            widget.layout.min_width = "0"
            made.append(widget)
            return widget

        try:
            self.summary: AccountSummary = make(AccountSummary)
            self.chart: EquityChart = make(EquityChart, height=chart_height)
            self.ticket: OrderTicket = make(OrderTicket, symbols=symbols)
            self.positions: PositionsTable = make(PositionsTable, height=table_height)
            self.executions: ExecutionsTable = make(ExecutionsTable, height=table_height)
            self.orders: OrdersTable = make(OrdersTable, height=table_height)
        except BaseException:
            for widget in made:
                widget.close()
            raise
        rows = [
            self.summary,
            _grid([self.chart, self.ticket], "minmax(0, 2fr) minmax(250px, 1fr)"),
            _grid([self.positions, self.executions], "repeat(auto-fit, minmax(min(100%, 660px), 1fr))"),
            self.orders,
        ]
        self._boxes = rows[1:3]
        layout = ipywidgets.Layout(grid_template_columns="minmax(0, 1fr)", grid_gap=_GAP, width="100%")
        super().__init__(children=rows, layout=layout, **kwargs)

    def __repr__(self) -> str:
        return f"<Dashboard of {self.summary.account_id}>"

    @property
    def parts(self) -> list[BrokerWidget]:
        """The live widgets of the dashboard."""
        return [self.summary, self.chart, self.ticket, self.positions, self.executions, self.orders]

    def snapshot_html(self) -> str:
        """Every part's current state as static HTML, laid out as the dashboard is; what
        pages that cannot run the live widgets show (see
        :meth:`BrokerWidget.snapshot_html <paperbroker.widgets.BrokerWidget.snapshot_html>`)."""
        for widget in self.parts:
            widget.flush()
        row = '<div class="pb-flex">{}</div>'
        body = "".join(
            (
                self.summary._html(outer=False),
                row.format(self.chart._html(outer=False) + self.ticket._html(outer=False)),
                row.format(self.positions._html(outer=False) + self.executions._html(outer=False)),
                self.orders._html(outer=False),
            )
        )
        return snapshot(body, "dashboard")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, dict):
            add_snapshot(self, data)
        return data

    def close(self) -> None:
        """Close every part (unsubscribing it), then the grid."""
        for widget in self.parts:
            widget.close()
        for box in self._boxes:
            box.close()
        super().close()


def dashboard(
    broker: BrokerService,
    account_id: str = DEFAULT_ACCOUNT,
    *,
    symbols: Sequence[str] = (),
    **kwargs: Any,
) -> Dashboard:
    """Build a :class:`Dashboard` for ``broker``'s account; display it as a cell's value.

    ``symbols`` seeds the order ticket's symbol suggestions.  Close it (``d.close()``) to
    unsubscribe every part.
    """
    return Dashboard(broker, account_id, symbols=symbols, **kwargs)
