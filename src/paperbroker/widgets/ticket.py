"""OrderTicket: a form that places orders; invalid and rejected orders show why.

The browser sends ``{"type": "place", "id": n, "side": ..., "order": {...}}`` with the
form's fields (``symbol``, ``type``, ``qty``, ``limitPrice``, ``stopPrice``, ``takeProfit``,
``stopLoss``, ``seenPrice``; numbers as numbers or strings, empty as null; any other field
is refused rather than dropped).  The ticket checks them, places the order
on the broker's loop and shows the result in ``status``: the order placed, or the error
message of an order that was invalid or rejected (also later, if the broker rejects it
after placing, as market rules may).
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Sequence
from typing import Any, ClassVar

import traitlets

from ..errors import BrokerError, ConfigurationError
from ..events import topic
from ..host import BrokerHost, OrderReply
from ..models import DEFAULT_ACCOUNT, OrderStatus, OrderType, PlacedOrder, Quote, Side
from ._base import BrokerWidget, CommandError, asset, shown, text_arg, then
from ._html import ticket_html

__all__ = ["OrderTicket"]

_REJECTED = OrderStatus.REJECTED
_PRICES = {
    "limitPrice": "Limit price",
    "stopPrice": "Stop price",
    "takeProfit": "Take profit",
    "stopLoss": "Stop loss",
    "seenPrice": "Fill price",
}
_MAX_SYMBOL = 64
_FIELDS = ("symbol", "type", "qty", *_PRICES)
#: The broker's field names in its messages, and the boxes of the form they are typed in.
_BOXES = {**_PRICES, "qty": "Quantity"}
_NAMES = re.compile(r"\b(" + "|".join(_BOXES) + r")\b")
#: "The stop loss 11 (stop_loss=, or stopLoss)": the broker names both spellings a script
#: may use; the ticket's user typed into a box, so the box's name replaces all three.
_BOTH = re.compile(r"\b([Tt]he) [a-z ]+?( -?[0-9][0-9.e+-]*)? \(\w+=, or (" + "|".join(_BOXES) + r")\)")
_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED})
#: Orders the ticket watches for a later rejection, at most (the oldest go first).
MAX_WATCHED = 1000


def in_boxes(text: str) -> str:
    """A broker message in the form's words: ``limitPrice`` -> ``Limit price``."""
    text = _BOTH.sub(lambda m: f"{m.group(1)} {_BOXES[m.group(3)]}{m.group(2) or ''}", text)
    return _NAMES.sub(lambda m: _BOXES[m.group(1)], text)


_NEEDS = {
    OrderType.MARKET: (),
    OrderType.LIMIT: ("limitPrice",),
    OrderType.STOP: ("stopPrice",),
    OrderType.STOP_LIMIT: ("stopPrice", "limitPrice"),
}


def _number(value: object, label: str) -> float | None:
    """A form value as a float; None when empty; a CommandError naming the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        with contextlib.suppress(OverflowError):  # an int beyond any float
            number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value.strip().replace(",", ""))
    if not math.isfinite(number):
        msg = f"{label} must be a number, got {shown(value)}."
        raise CommandError(msg)
    return number


def _choice(enum: type[Side] | type[OrderType], value: object, what: str) -> Any:
    """``enum.coerce`` with the browser's value shown at a bounded length."""
    try:
        return enum.coerce(value, what)
    except ValueError:
        accepted = ", ".join(m.name.lower() for m in enum)
        msg = f"{shown(value)} is not a valid {what}; use one of {accepted}."
        raise CommandError(msg) from None


def describe(order: PlacedOrder) -> str:
    """``Buy 10 AAPL limit 101.5`` for a status line."""
    qty = f"{order.qty:g}"
    text = f"{order.side.label} {qty} {order.symbol} {order.type.label.lower()}"
    if order.type is OrderType.MARKET:
        return text
    prices = [p for p in (order.stopPrice, order.limitPrice) if p is not None]
    return text + " " + " / ".join(f"{p:g}" for p in prices)


def _said(order: PlacedOrder) -> str:
    """The status line of an order: ``ORDER-1 filled: Buy 5 MSFT limit 369``."""
    return f"{order.id} {order.status.label.lower()}: {describe(order)}"


class OrderTicket(BrokerWidget):
    """Place orders from a form: symbol, type, quantity, prices, brackets; Buy or Sell.

    Parameters
    ----------
    broker, account_id
        Where orders go.
    symbols
        Suggestions for the symbol field; the first is the default.  In market mode the
        ticket shows their live bid and ask.
    qty
        The default quantity.
    """

    _esm = asset("ticket", "js")
    _css = asset("ticket", "css")
    #: The symbol box: the browser tells the kernel what was typed (a dashboard follows it).
    front_end_traits: ClassVar[frozenset[str]] = frozenset({"symbol"})

    symbols = traitlets.List(traitlets.Unicode()).tag(sync=True)
    symbol = traitlets.Unicode("").tag(sync=True)
    qty = traitlets.Float(1.0).tag(sync=True)
    #: The last outcome: ``{"kind": "ok" | "error" | "", "text": ..., "seq": n}``.
    status = traitlets.Dict({"kind": "", "text": "", "seq": 0}).tag(sync=True)
    #: The latest quote of each of ``symbols`` (market mode): ``{symbol: [bid, ask, last]}``.
    quotes = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        broker: BrokerHost,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        symbols: Sequence[str] = (),
        qty: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if isinstance(symbols, str) or not all(isinstance(s, str) and s for s in symbols):
            msg = f"symbols must be a list of symbol strings such as ['AAPL', 'MSFT'], got {symbols!r}."
            raise ConfigurationError(msg)
        if isinstance(qty, bool) or not isinstance(qty, (int, float)) or not 0 < qty < math.inf:
            msg = f"qty must be a number > 0, got {qty!r}."
            raise ConfigurationError(msg)
        self._mine: dict[str, None] = {}  # working orders it placed, oldest first
        self._rejected: PlacedOrder | None = None
        self._latest_id = ""  # the order the status line names, and its newest state
        self._latest: PlacedOrder | None = None
        self._shown = 0
        super().__init__(
            broker,
            account_id,
            interval=0.5,  # its quotes and late outcomes: twice a second
            symbols=list(symbols),
            symbol=symbols[0] if symbols else "",
            qty=float(qty),
            **kwargs,
        )
        self._commands["place"] = self._cmd_place

    def _bind(self) -> None:
        self._quotes: dict[str, Quote] = {}
        self._subscribe("orders", self._on_order)
        for symbol in self.symbols:
            self._subs.append(self.broker.subscribe(topic("quotes", symbol=symbol), self._on_quote))

    @property
    def watching(self) -> tuple[str, ...]:
        """Ids of the ticket's orders still open, watched for a later rejection (at most
        1,000, the newest); a finished order is no longer watched."""
        return tuple(self._mine)

    def _on_order(self, order: PlacedOrder) -> None:
        mine = order.id in self._mine
        if mine and order.status in _FINAL:  # finished: the broker may forget it now
            del self._mine[order.id]
        if mine and order.status is _REJECTED:
            self._rejected = order
            if self._timer is None:
                self._arm()
        elif order.id == self._latest_id:  # the status line follows the order it names
            self._latest = order
            if self._timer is None:
                self._arm()

    def _on_quote(self, quote: Quote) -> None:
        self._quotes[quote.symbol] = quote
        if self._timer is None:
            self._arm()

    def _flush_now(self) -> None:
        latest, self._latest = self._latest, None
        if latest is not None and latest.id == self._latest_id:
            self._show("ok", _said(latest))
        order, self._rejected = self._rejected, None
        if order is not None:
            reason = order.message.text if order.message is not None else "no reason given"
            self._show("error", f"{order.id} was rejected: {reason}")
        if self._quotes:
            fresh = {s: [q.bid, q.ask, q.last] for s, q in self._quotes.items()}
            self._quotes = {}
            self.quotes = {**self.quotes, **fresh}

    def html_part(self, outer: bool) -> str:
        """This widget's current state as static HTML (see :meth:`BrokerWidget.html_part`)."""
        return ticket_html(self.account_id, self.symbols, self.quotes, self.status, outer=outer)

    def _show(self, kind: str, text: str) -> None:
        self._shown += 1
        self.status = {"kind": kind, "text": text, "seq": self._shown}

    def place(self, side: str | int | Side, fields: dict[str, Any]) -> OrderReply:
        """Place an order from form fields, as the Buy and Sell buttons do; the outcome
        is also shown in the ticket.  Raises (and shows) the error of a bad order.  On a
        classroom client (``pb.connect``) it returns a future of the server's answer."""
        try:
            order = self._place(side, fields)
        except (BrokerError, ValueError, TypeError, KeyError) as exc:
            self._refused(exc)
            raise
        return then(order, self._placed, self._refused)  # type: ignore[no-any-return]

    def _refused(self, exc: BaseException) -> None:
        # the status line now tells this error: it no longer follows the order before
        self._latest_id, self._latest = "", None
        self._show("error", str(exc))

    def _placed(self, order: PlacedOrder) -> PlacedOrder:
        if order.status not in _FINAL:
            self._mine[order.id] = None
            if len(self._mine) > MAX_WATCHED:
                del self._mine[next(iter(self._mine))]
        self._latest_id, self._latest = order.id, None
        if order.status is _REJECTED:
            self._rejected = order
            if self._timer is None:
                self._arm()
        else:
            self._show("ok", _said(order))
        return order

    def _place(self, side: object, fields: dict[str, Any]) -> OrderReply:
        if not isinstance(fields, dict):
            msg = f"The order must be a JSON object of form fields, got {shown(fields)}."
            raise CommandError(msg)
        unknown = [key for key in fields if key not in _FIELDS]
        if unknown:
            # a misspelt field (a "takeprofit") would otherwise be dropped without a word
            msg = (
                f"The order has fields the ticket does not know: {shown(unknown)}; "
                f"its fields are {', '.join(_FIELDS)}."
            )
            raise CommandError(msg)
        symbol = text_arg(fields, "symbol", "Symbol")
        if len(symbol) > _MAX_SYMBOL:
            msg = f"Symbol is {len(symbol)} characters long; at most {_MAX_SYMBOL} are allowed."
            raise CommandError(msg)
        if not symbol.isprintable():
            msg = f"Symbol {shown(symbol)} has control characters; type the symbol as text."
            raise CommandError(msg)
        side_ = _choice(Side, side, "side")
        kind = fields.get("type")
        kind = _choice(OrderType, "market" if kind is None or kind == "" else kind, "order type")
        qty = _number(fields.get("qty"), "Quantity")
        if qty is None:
            msg = "Quantity is empty; enter how many to trade."
            raise CommandError(msg)
        order: dict[str, Any] = {"symbol": symbol, "type": kind, "side": side_, "qty": qty}
        for key, label in _PRICES.items():
            value = _number(fields.get(key), label)
            if value is not None:
                order[key] = value
        if kind is not OrderType.MARKET:
            order.pop("seenPrice", None)
        for key in ("limitPrice", "stopPrice"):
            if key in _NEEDS[kind] and key not in order:
                box = _PRICES[key]
                msg = f"A {kind.label.lower()} order needs a {box}; enter it in the {box} box."
                raise CommandError(msg)
        try:
            return self.broker.submit(order, self.account_id)
        except BrokerError as exc:  # say it in the form's words, not the protocol's
            if exc.args and isinstance(exc.args[0], str):
                text = exc.args[0]
                if kind is OrderType.MARKET and "cannot be priced" in text:
                    text = text.split(":")[0] + ": enter a Fill price, or place a limit order."
                exc.args = (in_boxes(text), *exc.args[1:])
            raise

    def _cmd_place(self, content: dict[str, Any]) -> Any:
        order = self.place(content.get("side"), content.get("order"))  # type: ignore[arg-type]
        return then(order, lambda placed: placed.id)
