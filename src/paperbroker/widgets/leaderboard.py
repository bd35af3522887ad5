"""Leaderboard: every account of a classroom ranked by equity, live, for the teacher.

``Leaderboard(server)`` (a :class:`~paperbroker.ClassroomServer`) or ``Leaderboard(broker)``
shows one row per account: rank, equity, return since the start, realized and unrealized
P&L, commissions, trades (executions) and a sparkline of its equity.  With a server that
drives the market (``pb.serve(broker, interval=...)``) it also has Pause and Resume
buttons.  Accounts opened later (``server.invite("NEW")``) join the board within a second.

Each row has a Reset button (click it twice: the first click asks): the account's orders
are cancelled, its books closed and its initial balance given back
(:meth:`~paperbroker.BrokerService.reset_account`), through the server when the board shows
one, so that its connected student sees it at once.  The row's trades and sparkline start
again; so they do after a reset the teacher makes through the server in any other way.

Updates are coalesced like every widget's (see :mod:`paperbroker.widgets._base`): an equity
or execution event only marks its account; at most one patch every ``interval`` seconds
carries the whole ranking.
"""

from __future__ import annotations

from collections import deque
from html import escape
from typing import Any

import traitlets

from ..broker import BrokerService
from ..errors import ConfigurationError
from ..events import topic
from ..models import DEFAULT_ACCOUNT, EquityData
from ._base import BrokerWidget, asset, text_arg, whole
from ._html import fixed, signed, snapshot

__all__ = ["Leaderboard"]

#: How often the board looks for accounts opened since it was made (seconds).
WATCH_INTERVAL = 1.0


def _start(data: EquityData) -> float:
    """The account's starting cash: balance less what it has realized, plus commissions."""
    return data.balance - data.realizedPL + data.commission


class Leaderboard(BrokerWidget):
    """Every account ranked by equity; see the module docstring.

    ``rows`` holds one list per account, best first: ``[account, equity, returnPct,
    realizedPL, unrealizedPL, commission, trades, sparkline]``.  ``points`` is how many
    equity samples each sparkline keeps (one per update at most).  The demo account is left
    out unless ``include_demo=True``.
    """

    _esm = asset("leaderboard", "js")
    _css = asset("leaderboard", "css")

    rows: traitlets.List[Any] = traitlets.List().tag(sync=True)
    paused = traitlets.Bool(False).tag(sync=True)
    can_pause = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        source: Any,
        *,
        include_demo: bool = False,
        points: int = 60,
        interval: float = 0.5,
        **kwargs: Any,
    ) -> None:
        from ..serve.server import ClassroomServer

        self._server = source if isinstance(source, ClassroomServer) else None
        broker = source.broker if self._server is not None else source
        if not isinstance(broker, BrokerService):
            msg = f"Leaderboard needs a ClassroomServer or a BrokerService, got {source!r}."
            raise ConfigurationError(msg)
        self._include_demo = bool(include_demo)
        self._points = whole(points, "points", 2, 1000, "equity samples per sparkline")
        self._equity: dict[str, EquityData] = {}
        self._trades: dict[str, int] = {}
        self._curves: dict[str, deque[float]] = {}
        self._watch: Any = None
        self._local = broker
        super().__init__(broker, DEFAULT_ACCOUNT, interval=interval, **kwargs)
        self.set_trait("can_pause", self._server is not None and self._server.interval is not None)
        self._commands["pause"] = self._cmd_pause
        self._commands["resume"] = self._cmd_resume
        self._commands["reset"] = self._cmd_reset
        self._unhook = self._server.on_reset(self._restart) if self._server is not None else None

    # ------------------------------------------------------------------ accounts

    def _wanted(self) -> list[str]:
        accounts = self.broker.accounts()
        if self._include_demo or accounts == [DEFAULT_ACCOUNT]:
            return accounts
        return [a for a in accounts if a != DEFAULT_ACCOUNT]

    def _add(self, account_id: str) -> None:
        self._equity[account_id] = self.broker.equity(account_id)
        self._trades[account_id] = len(self.broker.executions(account_id=account_id))
        self._curves[account_id] = deque([self._equity[account_id].equity], maxlen=self._points)
        broker = self.broker
        self._subs.append(broker.subscribe(topic("equity", account_id), self._equity_listener(account_id)))
        self._subs.append(broker.subscribe(topic("executions", account_id), self._trade_listener(account_id)))

    def _bind(self) -> None:
        for account_id in self._wanted():
            self._add(account_id)
        self._flush_now()
        self._look_again()

    def _look_again(self) -> None:
        """Every WATCH_INTERVAL seconds: add the accounts opened since (a cheap list check)."""
        new = [a for a in self._wanted() if a not in self._equity]
        for account_id in new:
            self._add(account_id)
        if new and self._timer is None:
            self._arm()
        if self._loop is not None and not self._loop.is_closed() and self.comm is not None:
            self._watch = self._loop.call_later(WATCH_INTERVAL, self._look_again)

    def _equity_listener(self, account_id: str) -> Any:
        def on_equity(data: EquityData) -> None:
            self._equity[account_id] = data
            if self._timer is None:
                self._arm()

        return on_equity

    def _trade_listener(self, account_id: str) -> Any:
        def on_trade(_execution: object) -> None:
            self._trades[account_id] += 1
            if self._timer is None:
                self._arm()

        return on_trade

    # ------------------------------------------------------------------ state

    def ranking(self) -> list[list[Any]]:
        """The rows as shown: ``[account, equity, returnPct, realizedPL, unrealizedPL,
        commission, trades, sparkline]``, best equity first (ties by account id)."""
        ranked = sorted(self._equity.items(), key=lambda item: (-item[1].equity, item[0]))
        rows: list[list[Any]] = []
        for account_id, data in ranked:
            start = _start(data)
            ret = (data.equity / start - 1.0) * 100.0 if start > 0 else 0.0
            curve = [round(v, 2) for v in self._curves[account_id]]
            pl = [data.realizedPL, data.unrealizedPL, data.commission]
            rows.append([account_id, data.equity, ret, *pl, self._trades[account_id], curve])
        return rows

    def _flush_now(self) -> None:
        for account_id, data in self._equity.items():
            curve = self._curves[account_id]
            if curve[-1] != data.equity:
                curve.append(data.equity)
        with self.hold_sync():
            self.rows = self.ranking()
            if self._server is not None:
                self.paused = self._server.paused

    def _cmd_pause(self, _content: dict[str, Any]) -> str:
        self._market().pause()
        self.paused = True
        return "The market is paused."

    def _cmd_resume(self, _content: dict[str, Any]) -> str:
        self._market().resume()
        self.paused = False
        return "The market runs again."

    def reset(self, account_id: str) -> EquityData:
        """Reset one account of the board, as its Reset button does; returns its new equity.

        Through the server when the board shows one (its student sees the change at
        once); raises ConfigurationError for an account that is not on the board."""
        if account_id not in self._equity:
            shown = ", ".join(sorted(self._equity)) or "none yet"
            msg = f"{account_id!r} is not an account on this leaderboard (its accounts: {shown})."
            raise ConfigurationError(msg)
        if self._server is not None:
            return self._server.reset(account_id)  # calls _restart through its hook
        equity = self._local.reset_account(account_id)
        self._restart(account_id)
        return equity

    def _restart(self, account_id: str) -> None:
        """After a reset: the account's trades and sparkline start again."""
        if account_id in self._equity:
            self._equity[account_id] = data = self._local.equity(account_id)
            self._trades[account_id] = 0
            self._curves[account_id] = deque([data.equity], maxlen=self._points)
            if self._timer is None:
                self._arm()

    def _cmd_reset(self, content: dict[str, Any]) -> str:
        account_id = text_arg(content, "account", "The account")
        equity = self.reset(account_id)
        return f"{account_id} was reset to {equity.balance:,.2f}."

    def _market(self) -> Any:
        if self._server is None:
            msg = "This leaderboard shows a broker, not a classroom server; use Leaderboard(server) to pause."
            raise ConfigurationError(msg)
        return self._server

    # ------------------------------------------------------------------ snapshot and lifecycle

    def html_part(self, outer: bool) -> str:
        """This widget's current state as static HTML (see :meth:`BrokerWidget.html_part`)."""
        titles = ["#", "Account", "Equity", "Return", "Realized", "Unrealized", "Commission", "Trades"]
        head = "".join(
            f'<th align="{"left" if i == 1 else "right"}">{escape(t)}</th>' for i, t in enumerate(titles)
        )
        body = []
        for rank, (account, equity, ret, realized, unrealized, commission, trades, _curve) in enumerate(
            self.rows, 1
        ):
            cells = [str(rank), account, fixed(equity), signed(ret, 2, "%"), signed(realized)]
            cells += [signed(unrealized), fixed(commission), str(trades)]
            tds = "".join(
                f'<td align="{"left" if i == 1 else "right"}">{escape(c)}</td>' for i, c in enumerate(cells)
            )
            body.append(f"<tr>{tds}</tr>")
        state = " (paused)" if self.paused else ""
        title = f"<p><strong>Leaderboard</strong> <small>{len(self.rows)} accounts{state}</small></p>"
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        return snapshot(title + table, "leaderboard", outer)

    def close(self) -> None:
        """Stop listening to the broker and looking for new accounts."""
        watch, self._watch = getattr(self, "_watch", None), None
        if watch is not None:
            watch.cancel()
        unhook, self._unhook = getattr(self, "_unhook", None), None
        if unhook is not None:
            unhook()
        super().close()

    def __repr__(self) -> str:
        state = " (closed)" if self.closed else ""
        return f"<Leaderboard of {len(getattr(self, '_equity', {}))} accounts{state}>"
