"""AccountSummary: the account's money at a glance, updated live from the equity topic.

Shows equity, balance, unrealized and realized P&L, commission and the return since the
start, plus any other numeric field the broker's :class:`EquityData` carries (margin,
buying power ... in market mode), labelled from its name.
"""

from __future__ import annotations

import math
import re
from typing import Any

import traitlets

from ..host import BrokerHost
from ..models import DEFAULT_ACCOUNT, EquityData
from ._base import BrokerWidget, asset
from ._html import summary_html

__all__ = ["AccountSummary"]

# field -> (label, kind); kind "pl" is coloured by sign, "pct" is a signed percentage
_KNOWN: dict[str, tuple[str, str]] = {
    "equity": ("Equity", "money"),
    "balance": ("Balance", "money"),
    "unrealizedPL": ("Unrealized P&L", "pl"),
    "realizedPL": ("Realized P&L", "pl"),
    "returnPct": ("Return", "pct"),
    "commission": ("Commission", "money"),
}


def _label(name: str) -> str:
    """``buyingPower`` -> ``Buying power``, ``marginUsedPL`` -> ``Margin used P&L``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    text = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in words)
    text = text.replace("P L", "P&L").replace(" PL", " P&L")
    return text[:1].upper() + text[1:]


def _kind(name: str) -> str:
    known = _KNOWN.get(name)
    if known is not None:
        return known[1]
    return "pl" if name.endswith(("PL", "Pnl", "PnL")) else "money"


class AccountSummary(BrokerWidget):
    """Balance, equity, P&L and commission of one account, updating live.

    ``values`` holds the numbers shown (EquityData's fields plus ``returnPct``) and
    ``fields`` their order, labels and formats.  ``interval`` is the seconds between
    updates sent to the browser.
    """

    _esm = asset("summary", "js")
    _css = asset("summary", "css")

    values = traitlets.Dict().tag(sync=True)
    fields = traitlets.List(traitlets.List()).tag(sync=True)

    def __init__(
        self,
        broker: BrokerHost,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        interval: float = 0.2,
        **kwargs: Any,
    ) -> None:
        self._latest: EquityData | None = None
        super().__init__(broker, account_id, interval=interval, **kwargs)

    def _bind(self) -> None:
        self._subscribe("equity", self._on_equity)
        self._latest = self.broker.equity(self.account_id)
        self._flush_now()

    def html_part(self, outer: bool) -> str:
        """This widget's current state as static HTML (see :meth:`BrokerWidget.html_part`)."""
        return summary_html(self.account_id, self.fields, self.values, outer=outer)

    def _on_equity(self, data: EquityData) -> None:
        self._latest = data
        if self._timer is None:
            self._arm()

    def _flush_now(self) -> None:
        data, self._latest = self._latest, None
        if data is None:
            return
        values = {
            k: (v if math.isfinite(v) else None)
            for k, v in data.to_dict().items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        start = (values.get("balance") or 0.0) - (values.get("realizedPL") or 0.0)
        start += values.get("commission") or 0.0
        equity = values.get("equity")
        if start > 0 and equity is not None:
            values["returnPct"] = (equity / start - 1.0) * 100.0
        order = [k for k in _KNOWN if k in values] + [k for k in values if k not in _KNOWN]
        fields = [[k, _KNOWN[k][0] if k in _KNOWN else _label(k), _kind(k)] for k in order]
        with self.hold_sync():
            if fields != self.fields:
                self.fields = fields
            self.values = values
