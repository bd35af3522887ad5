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
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..clock import Clock
from ..core.commissions import as_commission_model
from ..errors import BrokerError, ConfigurationError, PersistenceError
from ..market.slippage import as_slippage
from ..market.source import MarketSource
from ..parts import BrokerParts, build_parts
from ..simulator import RANDOM_DELAY
from .books import (
    dump_history,
    dump_ledger,
    dump_orders,
    load_history,
    load_ledger,
    load_orders,
)
from .codec import count
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
from .settings import dump_clock, dump_commission, load_clock, load_commission

__all__ = ["FORMAT", "VERSION", "read", "write"]

FORMAT = "paperbroker.broker"
VERSION = 1

_BIT_GENERATORS: dict[str, Callable[[], np.random.BitGenerator]] = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


# ---------------------------------------------------------------------- files


def write(parts: BrokerParts, path: str | os.PathLike[str]) -> Path:
    """Write a broker's parts to ``path`` atomically (see :func:`paperbroker.save`)."""
    target = _path(path)
    sections = {name: section.dump(parts) for name, section in _SECTIONS.items()}
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


def read(
    path: str | os.PathLike[str],
    *,
    commission: Any = None,
    clock: Clock | None = None,
    market: MarketSource | None = None,
    slippage: Any = None,
) -> BrokerParts:
    """Read the parts of a broker written by :func:`write` (see :func:`paperbroker.load`)."""
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
    loaded: BrokerParts | None = None
    try:
        parts = _load_settings(body["settings"], overrides)
        for name, restore in _restore_steps(market, slippage):
            if name in body:
                restore(parts, body[name])
        loaded = parts
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
    return parts


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


def _dump_settings(parts: BrokerParts) -> dict[str, Any]:
    delay = parts.stepper.delay
    return {
        "version": 1,
        "execution_delay": "random" if delay is RANDOM_DELAY else delay,
        "initial_balance": parts.initial_balance,
        "history_limit": parts.history_limit,
        "commission": dump_commission(parts.engine.commission),
        "clock": dump_clock(parts.clock),
        "order_seq": parts.engine.order_seq,
        "exec_seq": parts.engine.exec_seq,
        "session_end": parts.engine.session_end,
    }


def _load_settings(settings: dict[str, Any], overrides: dict[str, Any]) -> BrokerParts:
    delay = settings["execution_delay"]
    parts = build_parts(
        RANDOM_DELAY if delay == "random" else delay,
        settings["initial_balance"],
        None,
        _override(overrides["commission"], load_commission, settings["commission"]),
        settings["history_limit"],
        _override(overrides["clock"], load_clock, settings["clock"]),
        None,
        None,
        None,
    )
    parts.engine.order_seq = count(settings["order_seq"])
    parts.engine.exec_seq = count(settings["exec_seq"])
    parts.engine.session_end = count(settings["session_end"])
    return parts


def _override(given: Any, read: Callable[[dict[str, Any]], Any], saved: dict[str, Any]) -> Any:
    return read(saved) if given is None else given


def _dump_random(parts: BrokerParts) -> dict[str, Any]:
    return {"version": 1, "state": parts.rng.bit_generator.state}


def _load_random(parts: BrokerParts, saved: dict[str, Any]) -> None:
    state = saved["state"]
    kind = _BIT_GENERATORS[state["bit_generator"]]
    if type(parts.rng.bit_generator) is kind:  # in place: the broker's parts hold this generator
        parts.rng.bit_generator.state = state
        return
    bit_generator = kind()
    bit_generator.state = state
    parts.rng = np.random.Generator(bit_generator)


class _Section(NamedTuple):
    dump: Callable[[BrokerParts], dict[str, Any] | None]  # None: not in use, left out
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

_Restore = Callable[[BrokerParts, dict[str, Any]], None]


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
