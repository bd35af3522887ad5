"""Save a whole broker to a file and load it back, so that a seeded run goes on identically.

:func:`save` writes accounts, orders (working, inactive and the finished ones still kept,
with their time in force), positions with their marks, the execution and equity history,
the settings (``execution_delay``, ``history_limit``, the commission model, the clock and
its time), the id counters and the random generator's state; in market mode also the price
source with its state and the matching state; and the risk rules, brackets and day orders.
:func:`load` returns a new :class:`BrokerService` in that state.  Subscriptions are not
saved: they are callbacks into the code of the session that made them, so subscribe again
after loading (which also starts the simulator again).

The file is JSON::

    {"format": "paperbroker.broker", "version": 1, "sha256": "<hex>", "body": {...}}

``sha256`` is the digest of the body written as canonical JSON (sorted keys, no spaces).
The body has one section per component, each with its own ``version``, so a component that
grows adds a section or a section version without breaking the others.  Every file has
``settings``, ``random``, ``ledger``, ``orders`` and ``history``; the sections of
:mod:`paperbroker.persistence.market` are added only for what the broker uses: ``market``
(the price source, see :mod:`paperbroker.persistence.sources`, the slippage model and the
matching state), ``risk`` (the rules, reservations, and the equity the daily loss counts
from), ``brackets`` (which orders protect which parent order or position) and ``session``
(the working day orders).  A section's version goes up only when it must hold something
new (``orders`` is version 2 when an order has a time in force), so a file of a plain
classic broker reads in any paperbroker that reads format 1.  Numeric history columns and
market arrays are stored as base64 of little-endian numbers, which is exact.

Writes are atomic: the file is written to a temporary file in the same directory, flushed
to disk and renamed over the target, so a crash leaves the old file or the new one, never
half of one.  A missing, truncated, tampered or unknown-version file raises
:class:`~paperbroker.errors.PersistenceError` and nothing is loaded (a price source given
to :func:`load` is left free for another try).

A commission model, clock, price source or slippage model of your own cannot be written
to a file: the file notes it, and :func:`load` asks for it again
(``load(path, commission=my_model)``, ``load(path, market=my_source)``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..broker import RANDOM_DELAY, BrokerService
from ..clock import Clock, SimClock, WallClock
from ..core.commissions import (
    FixedPerOrder,
    NoCommission,
    PercentOfNotional,
    PerUnit,
    as_commission_model,
    custom_model,
)
from ..errors import BrokerError, ConfigurationError, PersistenceError
from ..market.slippage import as_slippage
from ..market.source import MarketSource
from .books import (
    dump_history,
    dump_ledger,
    dump_orders,
    load_history,
    load_ledger,
    load_orders,
)
from .codec import count, custom, not_custom
from .market import (
    dump_brackets,
    dump_market,
    dump_risk,
    dump_session,
    join_market,
    load_brackets,
    load_matching,
    load_risk,
    load_session,
)

__all__ = ["FORMAT", "VERSION", "load", "save"]

FORMAT = "paperbroker.broker"
VERSION = 1

_COMMISSIONS: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (NoCommission, FixedPerOrder, PerUnit, PercentOfNotional)
}
_BIT_GENERATORS: dict[str, Callable[[], np.random.BitGenerator]] = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


# ---------------------------------------------------------------------- files


def save(broker: BrokerService, path: str | os.PathLike[str]) -> Path:
    """Write ``broker`` to ``path`` atomically; return the path.

    Everything the broker's future depends on is written (see the module docstring), so
    :func:`load` gives a broker that goes on exactly as this one would.  Subscriptions are
    not written, nor are commission models, clocks, price sources or slippage models of your
    own class: the file notes them and :func:`load` asks for them.  Raises
    :class:`~paperbroker.errors.PersistenceError` when the file cannot be written; the old
    file, if any, is then left as it was.
    """
    if not isinstance(broker, BrokerService):
        msg = f"save() needs a BrokerService, got {type(broker).__name__}."
        raise PersistenceError(msg)
    target = _path(path)
    sections = {name: section.dump(broker) for name, section in _SECTIONS.items()}
    body = {name: content for name, content in sections.items() if content is not None}
    try:
        text = _canonical(body)
    except ValueError as exc:  # a NaN or infinity somewhere in the books
        msg = f"The broker cannot be saved: it holds a value that is not a finite number ({exc})."
        raise PersistenceError(msg) from None
    digest = hashlib.sha256(text.encode()).hexdigest()
    head = json.dumps({"format": FORMAT, "version": VERSION, "sha256": digest})
    data = f'{head[:-1]}, "body": {text}}}\n'.encode()
    _write_atomically(target, data)
    return target


def load(
    path: str | os.PathLike[str],
    *,
    commission: Any = None,
    clock: Clock | None = None,
    market: MarketSource | None = None,
    slippage: Any = None,
) -> BrokerService:
    """Read a broker written by :func:`save`.

    ``commission``, ``clock``, ``market`` and ``slippage`` replace the saved ones; they are
    required when the broker was saved with a model, clock or price source of your own,
    which a file cannot hold.  A ``market`` of your own must be new (not used by a broker
    yet), quote the saved market's symbols in the same order, and be where the saved run
    was: the loaded broker asks it for the next tick.
    """
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
        if market._rng is not None:
            msg = f"The price source {market!r} already belongs to a broker; pass a new one to load()."
            raise ConfigurationError(msg)
    if slippage is not None:
        slippage = as_slippage(slippage)
    try:
        raw = target.read_bytes()
    except OSError as exc:
        msg = f"Cannot read the saved broker {str(target)!r}: {exc.strerror or exc}."
        raise PersistenceError(msg) from None
    body = _verified_body(target, raw)
    if "market" not in body and (market is not None or slippage is not None):
        msg = (
            f"The saved broker {str(target)!r} has no market, so it takes no market= or "
            "slippage=; leave them out."
        )
        raise PersistenceError(msg)
    overrides = {"commission": commission, "clock": clock}
    loaded: BrokerService | None = None
    try:
        broker = _load_settings(body["settings"], overrides)
        for name, restore in _restore_steps(market, slippage):
            if name in body:
                restore(broker, body[name])
        loaded = broker
    except PersistenceError:
        raise
    except (BrokerError, KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        msg = (
            f"The saved broker {str(target)!r} passed its checksum but its contents are "
            f"malformed ({type(exc).__name__}: {exc}); it was not written by paperbroker's save()."
        )
        raise PersistenceError(msg) from exc
    finally:
        if loaded is None and market is not None:
            market._rng = None  # a failed load leaves the source it was given free
    return broker


def _path(path: object) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        msg = f"path must be a file name (str or pathlib.Path), got {path!r}."
        raise PersistenceError(msg)
    return Path(path)


def _canonical(body: Any) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)


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


def _verified_body(target: Path, raw: bytes) -> dict[str, Any]:
    name = repr(str(target))
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
    digest = hashlib.sha256(_canonical(body).encode()).hexdigest()
    if digest != document.get("sha256"):
        msg = f"The saved broker {name} fails its checksum: it was changed or damaged after saving."
        raise PersistenceError(msg)
    required = sorted(n for n, section in _SECTIONS.items() if section.required)
    unknown = sorted(body.keys() - _SECTIONS.keys())
    missing = sorted(set(required) - body.keys())
    if unknown or missing:
        optional = sorted(_SECTIONS.keys() - set(required))
        msg = (
            f"The saved broker {name} has the sections {sorted(body)}, but this paperbroker "
            f"reads {required} and optionally {optional}."
        )
        raise PersistenceError(msg)
    for section, content in body.items():
        got = content.get("version") if isinstance(content, dict) else None
        readable = _SECTIONS[section].versions
        if got not in readable:
            msg = (
                f"Section {section!r} of the saved broker {name} is version {got!r}; this "
                f"paperbroker reads version {' or '.join(map(str, readable))} of it."
            )
            raise PersistenceError(msg)
    return body


# ---------------------------------------------------------------------- settings


def _dump_settings(broker: BrokerService) -> dict[str, Any]:
    delay = broker._stepper.delay
    return {
        "version": 1,
        "execution_delay": "random" if delay is RANDOM_DELAY else delay,
        "initial_balance": broker._parts.initial_balance,
        "history_limit": broker.history_limit,
        "commission": _dump_commission(broker._engine.commission),
        "clock": _dump_clock(broker.clock),
        "order_seq": broker._engine.order_seq,
        "exec_seq": broker._engine.exec_seq,
        "session_end": broker._engine.session_end,
    }


def _dump_commission(model: Any) -> dict[str, Any]:
    own = custom_model(model)
    if own is not None or type(model).__name__ not in _COMMISSIONS:
        return custom(own or model)
    return {"type": type(model).__name__, **asdict(model)}


def _dump_clock(clock: Clock) -> dict[str, Any]:
    if type(clock) is SimClock:
        out: dict[str, Any] = {"type": "sim", "now_ms": clock.now_ms()}
    elif type(clock) is WallClock:
        out = {"type": "wall"}
    else:
        return custom(clock)
    session_end = getattr(clock, "session_end", None)  # clocks with trading sessions
    if session_end is not None:
        out["session_end"] = session_end.isoformat()
        out["timezone"] = _timezone_name(getattr(clock, "timezone", dt.timezone.utc))
    return out


def _timezone_name(tz: dt.tzinfo) -> str:
    key = getattr(tz, "key", None)  # a zoneinfo.ZoneInfo
    if isinstance(key, str):
        return key
    if tz is dt.timezone.utc:
        return "UTC"
    msg = f"The broker's clock has the time zone {tz!r}, which cannot be saved; use 'UTC' or an IANA name."
    raise PersistenceError(msg)


def _load_settings(settings: dict[str, Any], overrides: dict[str, Any]) -> BrokerService:
    delay = settings["execution_delay"]
    broker = BrokerService(
        RANDOM_DELAY if delay == "random" else delay,
        initial_balance=settings["initial_balance"],
        commission=_override(overrides["commission"], _load_commission, settings["commission"]),
        history_limit=settings["history_limit"],
        clock=_override(overrides["clock"], _load_clock, settings["clock"]),
    )
    broker._engine.order_seq = count(settings["order_seq"])
    broker._engine.exec_seq = count(settings["exec_seq"])
    broker._engine.session_end = count(settings["session_end"])
    return broker


def _override(given: Any, read: Callable[[dict[str, Any]], Any], saved: dict[str, Any]) -> Any:
    return read(saved) if given is None else given


def _load_commission(saved: dict[str, Any]) -> Any:
    kind = not_custom(saved, "commission model", "commission=model")
    params = {k: v for k, v in saved.items() if k != "type"}
    return _COMMISSIONS[kind](**params)


def _load_clock(saved: dict[str, Any]) -> Clock:
    kind = not_custom(saved, "clock", "clock=clock")
    session = {k: saved[k] for k in ("session_end", "timezone") if k in saved}
    if kind == "sim":
        return SimClock(count(saved["now_ms"]), **session)
    if kind == "wall":
        return WallClock(**session)
    msg = f"The saved clock type {kind!r} is not known to this paperbroker."
    raise PersistenceError(msg)


# ---------------------------------------------------------------------- random generator


def _dump_random(broker: BrokerService) -> dict[str, Any]:
    return {"version": 1, "state": broker.rng.bit_generator.state}


def _load_random(broker: BrokerService, saved: dict[str, Any]) -> None:
    state = saved["state"]
    kind = _BIT_GENERATORS[state["bit_generator"]]
    if type(broker.rng.bit_generator) is kind:  # in place: the broker's parts hold this generator
        broker.rng.bit_generator.state = state
        return
    bit_generator = kind()
    bit_generator.state = state
    broker.rng = np.random.Generator(bit_generator)


class _Section(NamedTuple):
    dump: Callable[[BrokerService], dict[str, Any] | None]  # None: not in use, left out
    versions: tuple[int, ...]  # the versions of the section this paperbroker reads
    required: bool = True  # optional sections are absent from files of brokers not using them


_SECTIONS: dict[str, _Section] = {
    "settings": _Section(_dump_settings, (1,)),
    "random": _Section(_dump_random, (1,)),
    "ledger": _Section(dump_ledger, (1,)),
    "orders": _Section(dump_orders, (1, 2)),  # version 1 had no durations
    "history": _Section(dump_history, (1,)),
    "market": _Section(dump_market, (1,), required=False),
    "risk": _Section(dump_risk, (1,), required=False),
    "brackets": _Section(dump_brackets, (1,), required=False),
    "session": _Section(dump_session, (1,), required=False),
}

_Restore = Callable[[BrokerService, dict[str, Any]], None]


def _restore_steps(market: MarketSource | None, slippage: Any) -> tuple[tuple[str, _Restore], ...]:
    """How the sections are read back, in this order, into the broker the settings section
    built.  The market joins right after the generator it draws from and before the ledger
    (joining marks its quotes there); what refers to orders comes after the orders."""
    return (
        ("random", _load_random),
        ("market", functools.partial(join_market, market=market, slippage=slippage)),
        ("ledger", load_ledger),
        ("orders", load_orders),
        ("history", load_history),
        ("market", load_matching),
        ("risk", load_risk),
        ("brackets", load_brackets),
        ("session", load_session),
    )
