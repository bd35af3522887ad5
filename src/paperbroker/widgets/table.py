"""LiveTable: a keyed, sortable, virtualized table patched from broker events.

Rows are keyed by record id.  An event stores its record in a dirty map (last write
wins); a flush turns the dirty records into rows and sends one patch
``{"type": "patch", "upsert": [rows], "remove": [keys]}``.  A row is a list: the key, then
one value per column, raw (numbers and enum integers), so the browser formats and sorts
them.  The table keeps its newest ``max_rows`` rows; older ones are dropped from the view.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import traitlets

from ..host import BrokerHost
from ..models import DEFAULT_ACCOUNT
from ._base import BrokerWidget, asset, host_account, shown, text_arg, whole
from ._html import table_html
from ._zone import zone_spec

__all__ = ["Action", "Column", "LiveTable"]


class Column(NamedTuple):
    """One column: the record field, its header and how the browser formats it.

    ``kind`` is one of ``id text symbol side direction type status qty price avg money pl
    time note``; ``price`` values set how many decimals the row's symbol shows, ``avg``
    values (averages) are shown with that many.  ``gives_way`` > 0 lets the column hide
    when the table is too narrow for every column: the highest number first; 0 never.
    """

    key: str
    label: str
    kind: str
    gives_way: int = 0


class Action(NamedTuple):
    """A row button: ``run(key)`` does it and returns a note (or a future of one, on a
    classroom client); shown only on rows whose
    ``field`` value is in ``values`` (always when ``field`` is empty)."""

    name: str
    label: str
    run: Callable[[str], Any]
    field: str = ""
    values: tuple[Any, ...] = ()


class LiveTable(BrokerWidget):
    """Base of the live tables; subclasses set ``COLUMNS`` and the topics they follow."""

    _esm = asset("table", "js")
    _css = asset("table", "css")

    COLUMNS: Sequence[Column] = ()
    TOPICS: Sequence[str] = ()
    TITLE = ""
    SORT: tuple[str, int] = ("", -1)

    title = traitlets.Unicode("").tag(sync=True)
    columns = traitlets.List(traitlets.Dict()).tag(sync=True)
    actions = traitlets.List(traitlets.Dict()).tag(sync=True)
    sort = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(300).tag(sync=True)
    empty_text = traitlets.Unicode("Nothing yet").tag(sync=True)
    #: The broker clock's time zone (see ``_zone.zone_spec``): times show in it.
    zone = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        broker: BrokerHost,
        account_id: str = DEFAULT_ACCOUNT,
        *,
        height: int = 300,
        max_rows: int = 10_000,
        interval: float = 0.1,
        **kwargs: Any,
    ) -> None:
        whole(height, "height", 80, 5000, "pixels")
        account_id = host_account(broker, account_id, type(self).__name__)  # before the actions use it
        self._max_rows = whole(max_rows, "max_rows", 1, 10**7, "the newest rows are kept")
        self._rows: OrderedDict[str, list[Any]] = OrderedDict()
        self._dirty: dict[str, Any] = {}
        # one C-level call per row; the broker's numbers are always finite (it checks
        # prices and quantities), so rows need no cleaning for JSON
        self._values = operator.attrgetter(*(c.key for c in self.COLUMNS))
        self._row_actions = {a.name: a for a in self._make_actions(broker, account_id)}
        super().__init__(
            broker,
            account_id,
            interval=interval,
            title=self.TITLE,
            height=height,
            columns=[c._asdict() for c in self.COLUMNS],
            sort={"key": self.SORT[0], "dir": self.SORT[1]},
            zone=zone_spec(broker.clock.timezone),
            actions=[
                {"name": a.name, "label": a.label, "field": a.field, "values": list(a.values)}
                for a in self._row_actions.values()
            ],
            **kwargs,
        )
        self._commands["action"] = self._cmd_action

    # ------------------------------------------------------------------ for subclasses

    def _make_actions(self, broker: BrokerHost, account_id: str) -> Sequence[Action]:
        return ()

    def _initial(self) -> Sequence[Any]:
        """The records to show at creation, oldest first."""
        return ()

    def _keep(self, record: Any) -> bool:
        """False for a record whose row must go (a closed position)."""
        return True

    # ------------------------------------------------------------------ rows

    def _bind(self) -> None:
        for kind in self.TOPICS:
            self._subscribe(kind, self._on_record)
        rows = self._rows
        for record in self._initial():
            if self._keep(record):
                rows[record.id] = self._row(record)
        while len(rows) > self._max_rows:
            rows.popitem(last=False)

    def _on_record(self, record: Any) -> None:
        # the per-event cost: one dict assignment (and arming the timer once per flush)
        self._dirty[record.id] = record
        if self._timer is None:
            self._arm()

    def _row(self, record: Any) -> list[Any]:
        return [record.id, *self._values(record)]

    def _flush_now(self) -> None:
        dirty = self._dirty
        if not dirty:
            return
        self._dirty = {}
        rows = self._rows
        upsert: list[list[Any]] = []
        remove: list[str] = []
        for key, record in dirty.items():
            if self._keep(record):
                row = self._row(record)
                rows[key] = row
                upsert.append(row)
            elif rows.pop(key, None) is not None:
                remove.append(key)
        while len(rows) > self._max_rows:
            remove.append(rows.popitem(last=False)[0])
        if upsert or remove:
            self._post({"type": "patch", "upsert": upsert, "remove": remove})

    def _snapshot(self) -> None:
        self._post({"type": "snapshot", "rows": list(self._rows.values())})

    def html_part(self, outer: bool) -> str:
        """This widget's current state as static HTML (see :meth:`BrokerWidget.html_part`)."""
        return table_html(
            self.TITLE,
            self.account_id,
            self.COLUMNS,
            self._rows.values(),
            sort=self.SORT,
            empty_text=self.empty_text,
            tz=self.broker.clock.timezone,
            outer=outer,
        )

    def rows(self) -> list[dict[str, Any]]:
        """The rows as the browser shows them (after pending updates), oldest first."""
        self.flush()
        keys = ["id", *(c.key for c in self.COLUMNS)]
        return [dict(zip(keys, row, strict=True)) for row in self._rows.values()]

    def _cmd_action(self, content: dict[str, Any]) -> Any:
        name = text_arg(content, "name", "The action name")
        action = self._row_actions.get(name)
        if action is None:
            known = ", ".join(self._row_actions) or "none"
            msg = f"{self.TITLE} has no row action {shown(name)} (actions: {known})."
            raise ValueError(msg)
        key = text_arg(content, "key", "The row key")
        if key not in self._rows:
            msg = f"{shown(key)} is not a row of {self.TITLE.lower()} for account {self.account_id}."
            raise ValueError(msg)
        return action.run(key)
