"""The teacher's controls of a classroom server: pause and resume the market, reset an account.

Each change is told to every connected client: ``{"type":"market","paused":...}`` after a
pause or resume, ``{"type":"reset","accountId":...}`` after a reset (the reset's own
events, the canceled orders, the closed positions and the new equity, go first on the
account's topics).  A client of that account then forgets the executions it mirrored,
as the broker has (see :mod:`paperbroker.core.reset`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidState
from ..models import EquityData

if TYPE_CHECKING:
    from ..broker import BrokerService
    from .session import Session

__all__ = ["MarketControls"]


class MarketControls:
    """Pause, resume and reset (a mixin of :class:`~paperbroker.ClassroomServer`)."""

    if TYPE_CHECKING:  # provided by ClassroomServer
        broker: BrokerService
        interval: float | None
        _sessions: set[Session]
        _paused: bool
        _reset_hooks: list[Callable[[str], Any]]

    @property
    def paused(self) -> bool:
        """True while the teacher has paused the market (trading requests are refused)."""
        return self._paused

    def pause(self) -> None:
        """Stop the market: no steps, and students' trading requests are refused until
        :meth:`resume`.  Needs ``serve(..., interval=...)`` with a manual broker, whose
        steps the server drives; a broker that steps itself cannot be paused from here."""
        if self.interval is None:
            msg = (
                "This server does not drive the market, so it cannot pause it; build the broker with "
                "execution_delay=None and serve it with pb.serve(broker, interval=1.0)."
            )
            raise InvalidState(msg)
        self._set_paused(True)

    def resume(self) -> None:
        """Let the market run again after :meth:`pause`."""
        self._set_paused(False)

    def reset(self, account_id: str) -> EquityData:
        """Reset an account (:meth:`BrokerService.reset_account <paperbroker.BrokerService.reset_account>`:
        its orders canceled, its books closed, its initial balance back); every client is
        told, then the hooks of :meth:`on_reset` run.  Returns the account's new equity."""
        equity = self.broker.reset_account(account_id)
        self._tell({"type": "reset", "accountId": account_id})
        for hook in list(self._reset_hooks):
            hook(account_id)
        return equity

    def on_reset(self, hook: Callable[[str], Any]) -> Callable[[], None]:
        """Call ``hook(account_id)`` after each :meth:`reset`; returns what removes it."""
        self._reset_hooks.append(hook)
        return lambda: self._reset_hooks.remove(hook) if hook in self._reset_hooks else None

    def _set_paused(self, paused: bool) -> None:
        self._paused = paused
        self._tell({"type": "market", "paused": paused})

    def _tell(self, message: dict[str, Any]) -> None:
        frame = json.dumps(message, separators=(",", ":"))
        for session in list(self._sessions):
            session.push(frame)
