"""Writing the state types as JSON-ready data: the inverse of :mod:`.decode`.

:func:`encode` turns a state object of a declared type into plain JSON data: tuples into
lists, enums into their integers, dataclasses into objects of their fields (with the
``"type"`` tag of a :class:`~paperbroker.statetypes.Tagged` choice), packed arrays into
base64 text.  Like the reader, each hint is compiled once into a small function.
"""

from __future__ import annotations

import base64
import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any, Literal, Union

import numpy as np

from ..statetypes import Omit, Packed, Tagged
from .decode import field_hints

__all__ = ["encode"]

_Refine = Mapping[type[Any], Mapping[str, Any]]
_Writer = Callable[[Any], Any]
_NOTHING: Mapping[type[Any], Mapping[str, Any]] = {}


def encode(hint: Any, value: Any, refine: _Refine = _NOTHING) -> Any:
    """``value`` (of type ``hint``) as JSON-ready data: the inverse of
    :func:`~paperbroker.persistence.decode.decode`."""
    return _writer(hint, refine)(value)


_WRITERS: dict[tuple[int, int], tuple[Any, _Writer]] = {}


def _same(value: Any) -> Any:
    return value


def _writer(hint: Any, refine: _Refine) -> _Writer:
    key = (id(hint), id(refine))
    known = _WRITERS.get(key)
    if known is None or known[0] is not hint:
        known = _WRITERS[key] = (hint, _compile_writer(hint, refine))
    return known[1]


def _compile_writer(hint: Any, refine: _Refine) -> _Writer:
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for item in meta:
            if isinstance(item, Packed):
                dtype = item.dtype
                return lambda value: base64.b64encode(np.asarray(value, dtype=dtype).tobytes()).decode(
                    "ascii"
                )
            if isinstance(item, Tagged):
                return _tagged_writer(item, refine)
        return _writer(base, refine)
    if origin in (Union, types.UnionType):
        options = [o for o in typing.get_args(hint) if o is not type(None)]
        writers = [_writer(o, refine) for o in options]
        if all(w is _same for w in writers):
            return _same
        if len(writers) == 1:
            only = writers[0]
            return lambda value: None if value is None else only(value)
        return lambda value: _encode_union(options, refine, value)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _writer(args[0], refine)
            return (lambda value: list(value)) if item is _same else (lambda value: [item(v) for v in value])
        writers = [_writer(a, refine) for a in args]
        return lambda value: [w(v) for w, v in zip(writers, value, strict=True)]
    if origin in (dict, Mapping):
        item = _writer(typing.get_args(hint)[1], refine)
        return (
            (lambda value: dict(value))
            if item is _same
            else (lambda value: {k: item(v) for k, v in value.items()})
        )
    if isinstance(hint, type) and issubclass(hint, IntEnum):
        return lambda value: None if value is None else int(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _fields_writer(hint, refine)
    return _same


def _tagged_writer(spec: Tagged, refine: _Refine) -> _Writer:
    by_tag = {tag: _fields_writer(cls, refine) for tag, cls in spec.choices.items()}

    def write(value: Any) -> dict[str, Any]:
        tag = spec.tag_of(value)
        return {spec.key: tag, **by_tag[tag](value)}

    return write


def _encode_union(options: list[Any], refine: _Refine, value: Any) -> Any:
    if value is None:
        return None
    for option in options:
        base = typing.get_args(option)[0] if typing.get_origin(option) is typing.Annotated else option
        kind = typing.get_origin(base) or base
        if kind is Literal or (isinstance(kind, type) and isinstance(value, kind)):
            return _writer(option, refine)(value)
    return value


def _omitted(hint: Any) -> bool:
    return typing.get_origin(hint) is typing.Annotated and any(
        isinstance(item, Omit) for item in typing.get_args(hint)[1:]
    )


def _default(f: dataclasses.Field[Any]) -> Any:
    """A dataclass field's default value (``None`` when it has none)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _fields_writer(cls: type[Any], refine: _Refine) -> _Writer:
    hints = field_hints(cls, refine)
    fields = [(name, _writer(h, refine)) for name, h, _ in hints if not _omitted(h)]
    plain = [name for name, w in fields if w is _same]
    other = [(name, w) for name, w in fields if w is not _same]
    defaults = {f.name: _default(f) for f in dataclasses.fields(cls)}
    omitted = [(name, _writer(h, refine), defaults.get(name)) for name, h, _ in hints if _omitted(h)]

    def write(value: Any) -> dict[str, Any]:
        out = {name: getattr(value, name) for name in plain}
        for name, w in other:
            out[name] = w(getattr(value, name))
        for name, w, default in omitted:
            item = getattr(value, name)
            if item is not None and (default is None or item != default):
                out[name] = w(item)
        return out

    return write
