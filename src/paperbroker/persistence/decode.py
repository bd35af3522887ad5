"""A small typed decoder: JSON data into the frozen state types, checked field by field.

:func:`decode` reads a value against a type hint and returns it typed, or raises
:class:`~paperbroker.errors.PersistenceError` naming the field by its path in the file
(``orders.orders[3][1].qty must be a number > 0, got '5'``).  :func:`encode` is its
inverse: state objects to JSON-ready data.  The hints they understand are the plain data
types of :mod:`paperbroker.statetypes`:

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
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, Literal, TypeVar, Union

import numpy as np

from ..errors import BrokerError, PersistenceError
from ..statetypes import Check, Packed, Tagged

__all__ = ["FieldError", "decode", "encode", "problem"]

T = TypeVar("T")
_Refine = Mapping[type[Any], Mapping[str, Any]]
_NOTHING: Mapping[type[Any], Mapping[str, Any]] = {}


class FieldError(PersistenceError):
    """A field of a saved file is not what it must be; the message starts with its path.

    Raised inside :mod:`paperbroker.persistence` only: ``load()`` reports it as a
    malformed file, in a sentence naming the file and the field.
    """


def problem(path: str, wanted: str, value: object) -> FieldError:
    """The error for a value at ``path`` that is not what it must be."""
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return FieldError(f"{path} must be {wanted}, got {shown}")


_HINTS: dict[type[Any], dict[str, Any]] = {}


def _hints(cls: type[Any]) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return hints


def _fields(cls: type[Any], refine: _Refine) -> list[tuple[str, Any, bool]]:
    """``(name, hint, required)`` of each field of dataclass ``cls``."""
    hints = _hints(cls)
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
    if origin is tuple or origin is list:
        return "a list"
    if origin in (dict, Mapping):
        return "an object"
    simple = {bool: "true or false", int: "a whole number", float: "a finite number", str: "a string"}
    if hint in simple:
        return simple[hint]
    if hint is type(None):
        return "null"
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        return "one of " + ", ".join(str(int(m)) for m in hint)
    return "an object"


def decode(hint: Any, value: object, path: str, refine: _Refine = _NOTHING) -> Any:
    """``value`` read as ``hint``; raises PersistenceError naming ``path`` when it does not fit."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _annotated(hint, value, path, refine)
    if hint is Any:
        return value
    if hint is type(None):
        if value is not None:
            raise problem(path, "null", value)
        return None
    if origin in (Union, types.UnionType):
        return _union(hint, value, path, refine)
    if origin is Literal:
        for option in typing.get_args(hint):
            if value == option and type(value) is type(option):
                return value
        raise problem(path, _words(hint), value)
    if origin is tuple:
        return _tuple(hint, value, path, refine)
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise problem(path, "an object", value)
        _, item = typing.get_args(hint)
        return {k: decode(item, v, f"{path}[{k!r}]", refine) for k, v in value.items()}
    return _simple(hint, value, path, refine)


def _simple(hint: Any, value: object, path: str, refine: _Refine) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise problem(path, "true or false", value)
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise problem(path, "a whole number", value)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise problem(path, "a finite number", value)
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise problem(path, "a string", value)
        return value
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        if isinstance(value, bool) or not isinstance(value, int) or value not in hint._value2member_map_:
            raise problem(path, _words(hint), value)
        return hint(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, value, path, refine)
    msg = f"the state type {hint!r} at {path} is not one the decoder reads"  # a bug, not a file
    raise TypeError(msg)


def _annotated(hint: Any, value: object, path: str, refine: _Refine) -> Any:
    base, *meta = typing.get_args(hint)
    for item in meta:
        if isinstance(item, Packed):
            return _unpack(value, path, item.dtype)
        if isinstance(item, Tagged):
            return _tagged(item, value, path, refine)
    checks = [item for item in meta if isinstance(item, Check)]
    try:
        out = decode(base, value, path, refine)
    except PersistenceError:
        if not checks:
            raise
        raise problem(path, checks[0].wanted, value) from None
    for check in checks:
        if not check.test(out):
            raise problem(path, check.wanted, value)
    return out


def _union(hint: Any, value: object, path: str, refine: _Refine) -> Any:
    options = typing.get_args(hint)
    if value is None and type(None) in options:
        return None
    first: PersistenceError | None = None
    for option in options:
        if option is type(None):
            continue
        try:
            return decode(option, value, path, refine)
        except PersistenceError as exc:
            first = first or exc
    if len([o for o in options if o is not type(None)]) == 1 and first is not None:
        raise first  # the one type's own words, which name the field inside it
    raise problem(path, _words(hint), value)


def _tuple(hint: Any, value: object, path: str, refine: _Refine) -> tuple[Any, ...]:
    if not isinstance(value, list):
        raise problem(path, "a list", value)
    args = typing.get_args(hint)
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(decode(args[0], v, f"{path}[{n}]", refine) for n, v in enumerate(value))
    if len(value) != len(args):
        raise problem(path, f"a list of {len(args)} values", value)
    return tuple(
        decode(a, v, f"{path}[{n}]", refine) for n, (a, v) in enumerate(zip(args, value, strict=True))
    )


def _dataclass(cls: type[T], value: object, path: str, refine: _Refine, skip: str = "") -> T:
    if not isinstance(value, dict):
        raise problem(path, "an object", value)
    fields = _fields(cls, refine)
    names = {name for name, _, _ in fields} | ({skip} if skip else set())
    unknown = sorted(set(value) - names)
    if unknown:
        raise problem(f"{path}.{unknown[0]}", f"left out (the fields are {', '.join(sorted(names))})", "...")
    kwargs = {}
    for name, hint, required in fields:
        if name in value:
            kwargs[name] = decode(hint, value[name], f"{path}.{name}", refine)
        elif required:
            raise FieldError(f"{path}.{name} is missing")
    try:
        return cls(**kwargs)
    except (BrokerError, ValueError, TypeError) as exc:  # the class's own checks
        raise FieldError(f"{path} is not valid: {str(exc).rstrip('.')}") from None


def _tagged(spec: Tagged, value: object, path: str, refine: _Refine) -> Any:
    tag = value.get(spec.key) if isinstance(value, dict) else None
    cls = spec.choices.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise problem(f"{path}.{spec.key}", " or ".join(map(repr, spec.choices)), tag)
    return _dataclass(cls, value, path, refine, skip=spec.key)


def _unpack(value: object, path: str, dtype: str) -> np.ndarray[Any, Any]:
    if not isinstance(value, str):
        raise problem(path, "packed numbers (base64 text)", value)
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise problem(path, "packed numbers (base64 text)", value) from None
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise problem(path, f"whole {width}-byte numbers", f"{len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype).astype(np.dtype(dtype).newbyteorder("="))


# ---------------------------------------------------------------------- encoding


def encode(hint: Any, value: Any, refine: _Refine = _NOTHING) -> Any:
    """``value`` (of type ``hint``) as JSON-ready data: the inverse of :func:`decode`."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for item in meta:
            if isinstance(item, Packed):
                array = np.asarray(value, dtype=item.dtype)
                return base64.b64encode(array.tobytes()).decode("ascii")
            if isinstance(item, Tagged):
                tag = item.tag_of(value)
                return {item.key: tag, **_encode_fields(item.choices[tag], value, refine)}
        return encode(base, value, refine)
    if value is None or hint is Any:
        return value
    if origin in (Union, types.UnionType):
        return _encode_union(hint, value, refine)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return [encode(args[0], v, refine) for v in value]
        return [encode(a, v, refine) for a, v in zip(args, value, strict=True)]
    if origin in (dict, Mapping):
        _, item = typing.get_args(hint)
        return {k: encode(item, v, refine) for k, v in value.items()}
    if isinstance(value, IntEnum):
        return int(value)
    if dataclasses.is_dataclass(value):
        return _encode_fields(type(value), value, refine)
    return value


def _encode_union(hint: Any, value: Any, refine: _Refine) -> Any:
    for option in typing.get_args(hint):
        base = typing.get_args(option)[0] if typing.get_origin(option) is typing.Annotated else option
        base_origin = typing.get_origin(base) or base
        if base_origin is Literal or (isinstance(base_origin, type) and isinstance(value, base_origin)):
            return encode(option, value, refine)
    return encode(Any, value, refine)


def _encode_fields(cls: type[Any], value: Any, refine: _Refine) -> dict[str, Any]:
    return {name: encode(hint, getattr(value, name), refine) for name, hint, _ in _fields(cls, refine)}
