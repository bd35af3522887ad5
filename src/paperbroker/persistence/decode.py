"""A small typed decoder: JSON data into the frozen state types, checked field by field.

:func:`decode` reads a value against a type hint and returns it typed, or raises
:class:`FieldError` naming the field by its path in the file (``orders.orders[3][1].qty
must be a number > 0, got '5'``); :func:`~paperbroker.persistence.encode.encode` is its
inverse.  The hints it understands are the plain data types of
:mod:`paperbroker.statetypes`:

* ``bool``, ``int`` (whole numbers, not booleans), ``float`` (finite numbers: NaN and
  infinities are refused), ``str``, ``None``, ``Literal[...]``, ``X | Y``;
* ``tuple[X, ...]`` and ``tuple[X, Y]`` from JSON lists, ``dict[str, X]`` (or ``Mapping``)
  from JSON objects;
* :class:`~enum.IntEnum` subclasses from their integer values;
* dataclasses from JSON objects with exactly their fields (a field with a default may be
  missing); ``refine`` gives stricter hints for fields of classes defined elsewhere (the
  records of :mod:`paperbroker.models`);
* ``Annotated[X, Check(...)]``, ``Annotated[np.ndarray, Packed(dtype)]`` and
  ``Annotated[A | B, Tagged("type", {...})]`` (see :mod:`paperbroker.statetypes`).

Each hint is compiled once into a reader: a small function per type that
checks and converts one value, so a file of a hundred thousand orders reads in a few
seconds.  A reader that fails raises an internal error carrying the problem; each
container on the way out adds its key, so the path is built only for the one bad value.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any, Literal, Union

import numpy as np

from ..errors import BrokerError, PersistenceError
from ..statetypes import Check, Packed, Tagged

__all__ = ["FieldError", "decode", "field_hints", "problem"]

_Refine = Mapping[type[Any], Mapping[str, Any]]
_Reader = Callable[[Any], Any]
_NOTHING: Mapping[type[Any], Mapping[str, Any]] = {}


class FieldError(PersistenceError):
    """A field of a saved file is not what it must be; the message starts with its path.

    Raised inside :mod:`paperbroker.persistence` only: ``load()`` reports it as a
    malformed file, in a sentence naming the file and the field.
    """


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problem(path: str, wanted: str, value: object) -> FieldError:
    """The error for a value at ``path`` that is not what it must be."""
    return FieldError(f"{path} must be {wanted}, got {_shown(value)}")


class _Bad(Exception):
    """A reader's failure: what is wrong (after the path), and the keys on the way out."""

    def __init__(self, tail: str) -> None:
        super().__init__(tail)
        self.tail = tail
        self.parts: list[str] = []


def _bad(wanted: str, value: object) -> _Bad:
    return _Bad(f"must be {wanted}, got {_shown(value)}")


def decode(hint: Any, value: object, path: str, refine: _Refine = _NOTHING) -> Any:
    """``value`` read as ``hint``; raises FieldError naming ``path`` when it does not fit."""
    try:
        return _reader(hint, refine)(value)
    except _Bad as exc:
        raise FieldError(f"{path}{''.join(reversed(exc.parts))} {exc.tail}") from None


# ---------------------------------------------------------------------- words


def field_hints(cls: type[Any], refine: _Refine) -> list[tuple[str, Any, bool]]:
    """``(name, hint, required)`` of each field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls, include_extras=True)
    stricter = refine.get(cls, {})
    return [
        (
            f.name,
            stricter.get(f.name, hints[f.name]),
            f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
    ]


def _words(hint: Any) -> str:
    """What a value of ``hint`` is, in the words of an error message."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for item in meta:
            if isinstance(item, Check):
                return item.wanted
            if isinstance(item, Packed):
                return "packed numbers (base64 text)"
            if isinstance(item, Tagged):
                return f"an object whose {item.key!r} is one of {', '.join(map(repr, item.choices))}"
        return _words(base)
    if origin in (Union, types.UnionType):
        return " or ".join(_words(arg) for arg in typing.get_args(hint))
    if origin is Literal:
        return " or ".join(repr(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return "a list"
    simple = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}
    if hint in simple:
        return simple[hint]
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        return "one of " + ", ".join(str(int(m)) for m in hint)
    return "an object"


# ---------------------------------------------------------------------- readers

_READERS: dict[tuple[int, int], tuple[Any, _Reader]] = {}


def _reader(hint: Any, refine: _Refine) -> _Reader:
    key = (id(hint), id(refine))
    known = _READERS.get(key)
    if known is None or known[0] is not hint:
        known = _READERS[key] = (hint, _compile(hint, refine))  # the hint kept alive: ids stay unique
    return known[1]


def _compile(hint: Any, refine: _Refine) -> _Reader:
    origin = typing.get_origin(hint)
    wanted = _words(hint)
    if origin is typing.Annotated:
        return _annotated(hint, refine)
    if hint is Any:
        return lambda value: value
    if hint is type(None):

        def read_none(value: Any) -> None:
            if value is not None:
                raise _bad("null", value)

        return read_none
    if origin in (Union, types.UnionType):
        return _union(hint, refine)
    if origin is Literal:
        options = typing.get_args(hint)

        def read_literal(value: Any) -> Any:
            for option in options:
                if value == option and type(value) is type(option):
                    return value
            raise _bad(wanted, value)

        return read_literal
    if origin is tuple:
        return _tuple(hint, refine)
    if origin in (dict, Mapping):
        item = _reader(typing.get_args(hint)[1], refine)

        def read_dict(value: Any) -> dict[str, Any]:
            if type(value) is not dict:
                raise _bad("an object", value)
            out = {}
            for k, v in value.items():
                try:
                    out[k] = item(v)
                except _Bad as exc:
                    exc.parts.append(f"[{k!r}]")
                    raise
            return out

        return read_dict
    if hint is float:
        return _read_float
    if hint in (bool, int, str):
        exact = hint

        def read_exact(value: Any) -> Any:
            if type(value) is not exact:
                raise _bad(wanted, value)
            return value

        return read_exact
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        members = hint._value2member_map_

        def read_enum(value: Any) -> Any:
            member = members.get(value) if type(value) is int else None
            if member is None:
                raise _bad(wanted, value)
            return member

        return read_enum
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, refine)
    msg = f"the state type {hint!r} is not one the decoder reads"  # a bug, not a file
    raise TypeError(msg)


def _read_float(value: Any) -> float:
    kind = type(value)
    if kind is float:
        if value - value == 0.0:  # NaN and infinities give NaN
            return value  # type: ignore[no-any-return]
    elif kind is int and -1e300 < value < 1e300:
        return value  # type: ignore[no-any-return]  # kept as written (2, not 2.0), as it was saved
    raise _bad("a finite number", value)


def _annotated(hint: Any, refine: _Refine) -> _Reader:
    base, *meta = typing.get_args(hint)
    for item in meta:
        if isinstance(item, Packed):
            dtype = item.dtype
            return lambda value: _unpack(value, dtype)
        if isinstance(item, Tagged):
            return _tagged(item, refine)
    inner = _reader(base, refine)
    checks = [item for item in meta if isinstance(item, Check)]
    if not checks:
        return inner
    test, wanted = checks[0].test, checks[0].wanted

    def read_checked(value: Any) -> Any:
        try:
            out = inner(value)
        except _Bad:
            raise _bad(wanted, value) from None
        if not test(out):
            raise _bad(wanted, value)
        return out

    return read_checked


def _union(hint: Any, refine: _Refine) -> _Reader:
    options = [o for o in typing.get_args(hint) if o is not type(None)]
    nullable = len(options) < len(typing.get_args(hint))
    readers = [_reader(o, refine) for o in options]
    wanted = _words(hint)
    if len(readers) == 1:
        only = readers[0]
        return lambda value: None if value is None else only(value)

    def read_union(value: Any) -> Any:
        if value is None and nullable:
            return None
        for read in readers:
            try:
                return read(value)
            except _Bad:
                pass
        raise _bad(wanted, value)

    return read_union


def _tuple(hint: Any, refine: _Refine) -> _Reader:
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        item = _reader(args[0], refine)

        def read_items(value: Any) -> tuple[Any, ...]:
            if type(value) is not list:
                raise _bad("a list", value)
            try:
                return tuple([item(v) for v in value])
            except _Bad:
                for n, v in enumerate(value):  # find the bad one, to name it
                    try:
                        item(v)
                    except _Bad as exc:
                        exc.parts.append(f"[{n}]")
                        raise
                raise

        return read_items
    readers = [_reader(a, refine) for a in args]

    def read_fixed(value: Any) -> tuple[Any, ...]:
        if type(value) is not list or len(value) != len(readers):
            raise _bad(f"a list of {len(readers)} values", value)
        out = []
        for n, (read, v) in enumerate(zip(readers, value, strict=True)):
            try:
                out.append(read(v))
            except _Bad as exc:
                exc.parts.append(f"[{n}]")
                raise
        return tuple(out)

    return read_fixed


def _dataclass(cls: type[Any], refine: _Refine, skip: str = "") -> _Reader:
    hints = field_hints(cls, refine)
    readers = {name: _reader(h, refine) for name, h, _ in hints}
    required = [name for name, _, needed in hints if needed]
    names = set(readers) | ({skip} if skip else set())
    listed = ", ".join(sorted(names))

    def fail(tail: str, name: str) -> _Bad:
        exc = _Bad(tail)
        exc.parts.append(f".{name}")
        return exc

    def read_object(value: Any) -> Any:
        if type(value) is not dict:
            raise _bad("an object", value)
        kwargs = {}
        for name, item in value.items():
            read = readers.get(name)
            if read is None:
                if name == skip:
                    continue
                raise fail(f"is not a field here (the fields are {listed})", str(name))
            try:
                kwargs[name] = read(item)
            except _Bad as exc:
                exc.parts.append(f".{name}")
                raise
        if len(kwargs) < len(readers):
            for name in required:
                if name not in kwargs:
                    raise fail("is missing", name)
        try:
            return cls(**kwargs)
        except (BrokerError, ValueError, TypeError) as error:  # the class's own checks
            raise _Bad(f"is not valid: {str(error).rstrip('.')}") from None

    return read_object


def _tagged(spec: Tagged, refine: _Refine) -> _Reader:
    readers = {tag: _dataclass(cls, refine, skip=spec.key) for tag, cls in spec.choices.items()}
    wanted = " or ".join(map(repr, spec.choices))

    def read_tagged(value: Any) -> Any:
        tag = value.get(spec.key) if type(value) is dict else None
        read = readers.get(tag) if type(tag) is str else None
        if read is None:
            exc = _bad(wanted, tag)
            exc.parts.append(f".{spec.key}")
            raise exc
        return read(value)

    return read_tagged


def _unpack(value: object, dtype: str) -> np.ndarray[Any, Any]:
    if type(value) is not str:
        raise _bad("packed numbers (base64 text)", value)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("packed numbers (base64 text)", value) from None
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise _bad(f"whole {width}-byte numbers", f"{len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="))
