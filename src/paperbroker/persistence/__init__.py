"""Save a whole broker to a file and load it back, so that a seeded run goes on identically.

:func:`save` writes accounts, orders (working, inactive and the finished ones still kept,
with their time in force), positions with their marks, the execution and equity history,
the settings (``execution_delay``, ``history_limit``, the commission model, the clock and
its time), the id counters and the random generator's state; in market mode also the price
source with its state and the matching state; and the risk rules, brackets and day orders.
:func:`load` returns a new :class:`~paperbroker.BrokerService` in that state.  Subscriptions
are not saved: they are callbacks into the code of the session that made them, so subscribe
again after loading (which also starts the simulator again).

The file is JSON::

    {"format": "paperbroker.broker", "version": 1, "sha256": "<hex>", "body": {...}}

``sha256`` is the digest of the body written as canonical JSON (sorted keys, no spaces).
The body has one section per component, each with its own ``version``; the format is
declared once, as typed definitions (:mod:`~paperbroker.persistence.schema`): each
stateful component says what it saves as a small frozen dataclass next to its code, with
``state()`` to take it and ``from_state()`` to build a new component from it.  Derived
indexes (the book's index of working orders, the matcher's heaps and thresholds, the
brackets' owners, the codes' lookup tables, which accounts hold a symbol) are rebuilt on
load, never read from the file.  (The file keeps the order in which accounts came to hold
each symbol, the order of their ``pl`` events, and it is checked against the positions.)

A load checks the whole file before it builds anything: the envelope and checksum, then
every field against its declared type (:mod:`~paperbroker.persistence.decode`: whole
numbers, finite numbers, quantities > 0 ...), then each component's own rules (an order
listed twice as working, a position whose quantity does not fit its side ...), then what
ties the sections together (:mod:`~paperbroker.persistence.check`: every account, order,
symbol code and id counter one section names must resolve).  Anything wrong raises
:class:`~paperbroker.errors.PersistenceError` naming the field by its path in the file, and
nothing is loaded (a price source given to :func:`load` is left free for another try).

Writes are atomic: the file is written to a temporary file in the same directory, flushed
to disk and renamed over the target, so a crash leaves the old file or the new one, never
half of one.

A commission model, clock, price source or slippage model of your own cannot be written
to a file: the file notes it, and :func:`load` asks for it again
(``load(path, commission=my_model)``, ``load(path, market=my_source)``).

Modules: :mod:`~.schema` (the format), :mod:`~.decode` and :mod:`~.encode` (typed
reading and writing),
:mod:`~.check` (references across sections), :mod:`~.wiring` (the one module that knows
the broker's insides: it collects the states and assembles a broker from them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..clock import Clock
from ..core.commissions import as_commission_model
from ..errors import ConfigurationError, PersistenceError
from ..market.slippage import as_slippage
from ..market.source import MarketSource
from .check import check_document
from .decode import FieldError, decode
from .encode import encode
from .schema import REFINE, SECTIONS, Document
from .wiring import assemble, check_free, collect

if TYPE_CHECKING:
    from ..parts import BrokerParts

__all__ = ["FORMAT", "VERSION", "read", "write"]

FORMAT = "paperbroker.broker"
VERSION = 1


def _section_types() -> dict[str, Any]:
    hints = typing.get_type_hints(Document)
    return {
        name: next(a for a in typing.get_args(h) or (h,) if a is not type(None)) for name, h in hints.items()
    }


_TYPES = _section_types()


def write(parts: BrokerParts, path: str | os.PathLike[str]) -> Path:
    """Write a broker's parts to ``path`` atomically; return the path (see
    :func:`paperbroker.save`: the old file, if any, is left as it was on failure)."""
    target = _path(path)
    document = collect(parts)
    body = {}
    for name, section in SECTIONS.items():
        state = getattr(document, name)
        if state is not None:
            body[name] = {"version": section.version(state), **encode(_TYPES[name], state, REFINE)}
    try:
        text = _canonical(body, allow_nan=False)
    except ValueError as exc:  # a NaN or infinity somewhere in the books
        msg = f"The broker cannot be saved: it holds a value that is not a finite number ({exc})."
        raise PersistenceError(msg) from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    head = json.dumps({"format": FORMAT, "version": VERSION, "sha256": digest})
    _write_atomically(target, f'{head[:-1]}, "body": {text}}}\n'.encode())
    return target


def read(
    path: str | os.PathLike[str],
    *,
    commission: Any = None,
    clock: Clock | None = None,
    market: MarketSource | None = None,
    slippage: Any = None,
) -> BrokerParts:
    """The parts of a broker written by :func:`write` (see :func:`paperbroker.load`).  The
    whole file is checked before anything is built; a file that fails raises
    PersistenceError naming the field, and nothing is loaded."""
    target = _path(path)
    if commission is not None:
        commission = as_commission_model(commission)
    if clock is not None and not isinstance(clock, Clock):
        msg = f"clock must be a paperbroker Clock (WallClock or SimClock), got {clock!r}."
        raise ConfigurationError(msg)
    if market is not None:
        if not isinstance(market, MarketSource):
            msg = f"market must be a price source such as pb.RandomWalk(...), got {market!r}."
            raise ConfigurationError(msg)
        check_free(market)
    if slippage is not None:
        slippage = as_slippage(slippage)
    try:
        raw = target.read_bytes()
    except OSError as exc:
        msg = f"Cannot read the saved broker {str(target)!r}: {exc.strerror or exc}."
        raise PersistenceError(msg) from None
    name = repr(str(target))
    try:
        document = _document(name, _verified_body(name, raw))
        check_document(document)
        return assemble(document, commission=commission, clock=clock, market=market, slippage=slippage)
    except FieldError as exc:
        msg = (
            f"The saved broker {name} passed its checksum but its contents are malformed: {exc}. "
            "It was not written by paperbroker's save(), so nothing was loaded."
        )
        raise PersistenceError(msg) from None
    except PersistenceError as exc:
        if str(exc).startswith("The saved broker has"):
            raise PersistenceError(
                str(exc).replace("The saved broker", f"The saved broker {name}", 1)
            ) from None
        raise


def _document(name: str, body: dict[str, Any]) -> Document:
    """The body read into the typed document, section by section."""
    parts = {}
    for section, content in body.items():
        fields = {k: v for k, v in content.items() if k != "version"}
        parts[section] = decode(_TYPES[section], fields, section, REFINE)
    return Document(**parts)


def _path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        msg = f"path must be a file name (str or pathlib.Path), got {path!r}."
        raise PersistenceError(msg)
    return Path(path)


def _canonical(body: Any, *, allow_nan: bool) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=allow_nan)


def _write_atomically(target: Path, data: bytes) -> None:
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        msg = f"Cannot save the broker to {str(target)!r}: {exc.strerror or exc}."
        raise PersistenceError(msg) from None
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            msg = f"Cannot save the broker to {str(target)!r}: {exc.strerror or exc}."
            raise PersistenceError(msg) from None
        raise


def _verified_body(name: str, raw: bytes) -> dict[str, Any]:
    """The body of a file whose envelope, checksum, sections and their versions are sound."""
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        msg = f"The saved broker {name} is not complete JSON: it is truncated or not a broker file."
        raise PersistenceError(msg) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        msg = f"{name} is not a saved paperbroker broker (its format is not {FORMAT!r})."
        raise PersistenceError(msg)
    version = document.get("version")
    if version != VERSION:
        msg = (
            f"{name} is a saved broker of format version {version!r}; this paperbroker "
            f"reads version {VERSION}."
        )
        raise PersistenceError(msg)
    body = document.get("body")
    if not isinstance(body, dict):
        msg = f"The saved broker {name} has no body; it is damaged."
        raise PersistenceError(msg)
    try:  # NaN and infinities are checked field by field below, naming the field
        digest = hashlib.sha256(_canonical(body, allow_nan=True).encode()).hexdigest()
    except RecursionError:
        digest = None
    if digest is None or digest != document.get("sha256"):
        msg = f"The saved broker {name} fails its checksum: it was changed or damaged after saving."
        raise PersistenceError(msg)
    required = sorted(n for n, section in SECTIONS.items() if section.required)
    unknown = sorted(body.keys() - SECTIONS.keys())
    missing = sorted(set(required) - body.keys())
    if unknown or missing:
        optional = sorted(SECTIONS.keys() - set(required))
        msg = (
            f"The saved broker {name} has the sections {sorted(body)}, but this paperbroker "
            f"reads {required} and optionally {optional}."
        )
        raise PersistenceError(msg)
    for section, content in body.items():
        got = content.get("version") if isinstance(content, dict) else None
        readable = SECTIONS[section].versions
        if got not in readable or isinstance(got, bool):
            msg = (
                f"Section {section!r} of the saved broker {name} is version {got!r}; this "
                f"paperbroker reads version {' or '.join(map(str, readable))} of it."
            )
            raise PersistenceError(msg)
    return body
