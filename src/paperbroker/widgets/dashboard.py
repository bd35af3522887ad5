"""Dashboard: every widget of one account laid out on a grid, in one call.

In Jupyter (JupyterLab, Notebook 7, VS Code) the dashboard is an ``ipywidgets.GridBox``.
marimo renders anywidgets but not ipywidgets containers, so there the dashboard shows
itself through marimo's ``_display_`` hook as marimo's own stacks of the same live parts
(``mo.ui.anywidget`` each): nothing to change in the notebook, and marimo is not a
dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ipywidgets

from ..host import BrokerHost
from ..models import DEFAULT_ACCOUNT
from ._base import BrokerWidget, add_snapshot, check_scale, host_account
from ._html import snapshot
from .chart import EquityChart
from .price import PriceChart
from .summary import AccountSummary
from .tables import ExecutionsTable, OrdersTable, PositionsTable
from .ticket import OrderTicket

__all__ = ["Dashboard", "dashboard"]

_GAP = "10px"


def _grid(children: list[Any], columns: str) -> Any:
    layout = ipywidgets.Layout(grid_template_columns=columns, grid_gap=_GAP, width="100%")
    return ipywidgets.GridBox(children=children, layout=layout)


def _first_symbol(broker: BrokerHost, account_id: str, symbols: Sequence[str]) -> str | None:
    """The symbol the price chart starts with: the ticket's first, else one the market
    quotes, else one the account holds or has orders in."""
    if symbols:
        return symbols[0]
    held = [q.symbol for q in broker.quotes()]
    held += [p.symbol for p in broker.positions(account_id)]
    held += [o.symbol for o in broker.orders(account_id)]
    return held[0] if held else None


class Dashboard(ipywidgets.GridBox):  # type: ignore[misc]
    """The account summary on top; the price chart beside the order ticket; positions
    beside executions (one above the other when the notebook is narrow); orders; the
    equity chart.

    ``scale`` sizes the type of every part (1 normal; 1.4 or so for a projector).  The
    summary and the equity chart send their updates together (at the summary's pace; the
    chart's page redraws its curve at most twice a second), so they show the same equity
    at every moment.

    The parts are attributes (``summary``, ``price``, ``ticket``, ``positions``,
    ``executions``, ``orders``, ``chart``).  The price chart follows the ticket's symbol;
    it is ``None`` when no symbol is known yet (no ``symbols``, quotes, positions or
    orders) or with ``price_chart=False``.  :meth:`close` closes every part, which
    unsubscribes them; when nothing else subscribes, the broker's simulator stops.
    """

    def __init__(
        self,
        broker: BrokerHost,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        symbols: Sequence[str] = (),
        table_height: int = 220,
        chart_height: int = 300,
        price_chart: bool = True,
        price_height: int = 360,
        scale: float = 1.0,
        **kwargs: Any,
    ) -> None:
        check_scale(scale)
        made: list[BrokerWidget] = []
        account_id = host_account(broker, account_id, "Dashboard")  # a client: its own account

        def make(cls: Any, **options: Any) -> Any:
            widget = cls(broker, account_id, scale=scale, **options)
            widget.layout.min_width = "0"
            made.append(widget)
            return widget

        try:
            self.summary: AccountSummary = make(AccountSummary)
            self.chart: EquityChart = make(EquityChart, height=chart_height)
            self.ticket: OrderTicket = make(OrderTicket, symbols=symbols)
            first = _first_symbol(broker, account_id, symbols) if price_chart else None
            self.price: PriceChart | None = None
            if first is not None:
                self.price = PriceChart(broker, first, account_id, height=price_height, scale=scale)
                self.price.layout.min_width = "0"
                made.append(self.price)
            self.positions: PositionsTable = make(PositionsTable, height=table_height)
            self.executions: ExecutionsTable = make(ExecutionsTable, height=table_height)
            self.orders: OrdersTable = make(OrdersTable, height=table_height)
        except BaseException:
            for widget in made:
                widget.close()
            raise
        # the summary and the equity chart both show the equity: they send it together
        self.summary.flush_with(self.chart)
        top = self.price if self.price is not None else self.chart
        rows = [
            self.summary,
            _grid([top, self.ticket], f"minmax(0, 2fr) minmax({250 * scale:.0f}px, 1fr)"),
            _grid(
                [self.positions, self.executions],
                f"repeat(auto-fit, minmax(min(100%, {660 * scale:.0f}px), 1fr))",
            ),
            self.orders,
        ]
        if self.price is not None:
            rows.append(self.chart)
            self.ticket.observe(self._follow_ticket, names="symbol")
        self._boxes = rows[1:3]
        layout = ipywidgets.Layout(grid_template_columns="minmax(0, 1fr)", grid_gap=_GAP, width="100%")
        super().__init__(children=rows, layout=layout, **kwargs)

    def __repr__(self) -> str:
        return f"<Dashboard of {self.summary.account_id}>"

    def _follow_ticket(self, change: dict[str, Any]) -> None:
        symbol = change["new"]
        if self.price is not None and isinstance(symbol, str) and symbol.strip() and symbol.isprintable():
            self.price.symbol = symbol.strip()

    @property
    def parts(self) -> list[BrokerWidget]:
        """The live widgets of the dashboard, in the order they are laid out."""
        top = [self.price] if self.price is not None else []
        bottom = [self.chart] if self.price is not None else []
        first = top or [self.chart]
        return [self.summary, *first, self.ticket, self.positions, self.executions, self.orders, *bottom]

    def snapshot_html(self) -> str:
        """Every part's current state as static HTML, laid out as the dashboard is; what
        pages that cannot run the live widgets show (see
        :meth:`BrokerWidget.snapshot_html <paperbroker.widgets.BrokerWidget.snapshot_html>`)."""
        for widget in self.parts:
            widget.flush()
        row = '<div class="pb-flex">{}</div>'
        top = self.price if self.price is not None else self.chart
        parts = [
            self.summary.html_part(outer=False),
            row.format(top.html_part(outer=False) + self.ticket.html_part(outer=False)),
            row.format(self.positions.html_part(outer=False) + self.executions.html_part(outer=False)),
            self.orders.html_part(outer=False),
        ]
        if self.price is not None:
            parts.append(self.chart.html_part(outer=False))
        return snapshot("".join(parts), "dashboard")

    def _display_(self) -> Any:
        """marimo's display hook: the same parts in marimo's own layout (marimo renders
        anywidgets, not ipywidgets containers such as this GridBox)."""
        import marimo as mo

        def view(widget: BrokerWidget) -> Any:
            return mo.ui.anywidget(widget)

        top = self.price if self.price is not None else self.chart
        rows = [
            view(self.summary),
            mo.hstack([view(top), view(self.ticket)], widths=[2, 1], align="start"),
            mo.hstack([view(self.positions), view(self.executions)], widths="equal", wrap=True),
            view(self.orders),
        ]
        if self.price is not None:
            rows.append(view(self.chart))
        return mo.vstack(rows, gap=0.6)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data = super()._repr_mimebundle_(**kwargs)
        if isinstance(data, dict):
            add_snapshot(self, data)
        return data

    def close(self) -> None:
        """Close every part (unsubscribing it), then the grid."""
        if not hasattr(self, "_boxes"):  # refused while being built: its parts are closed
            super().close()
            return
        for widget in self.parts:
            widget.close()
        for box in self._boxes:
            box.close()
        super().close()


def dashboard(
    broker: BrokerHost,
    account_id: str = DEFAULT_ACCOUNT,
    *,
    symbols: Sequence[str] = (),
    **kwargs: Any,
) -> Dashboard:
    """Build a :class:`Dashboard` for ``broker``'s account; display it as a cell's value.

    ``symbols`` seeds the order ticket's symbol suggestions (and the price chart's first
    symbol).  Close it (``d.close()``) to unsubscribe every part.
    """
    return Dashboard(broker, account_id, symbols=symbols, **kwargs)
