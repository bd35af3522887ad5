"""What a build of the package compiled with mypyc needs to be told (``bench/compiled.py``
builds one to measure it; the package as installed is pure Python).

mypyc turns every class of a module it compiles into a native class.  Two kinds must say
otherwise, with ``@mypyc_attr(...)``: a class that Python code subclasses
(``allow_interpreted_subclasses=True``: :class:`~paperbroker.market.source.MarketSource`,
which your own price sources extend), a subclass of a built-in type, and a class the code
builds with ``object.__new__`` to skip its ``__init__`` frame, which mypyc refuses for a
native class (both ``native_class=False``).  The decorator comes with mypy; without it,
it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["mypyc_attr"]

T = TypeVar("T")

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr
else:
    try:
        from mypy_extensions import mypyc_attr
    except ImportError:  # mypy is not installed: nothing is compiled

        def mypyc_attr(*_args: Any, **_kwargs: Any) -> Callable[[T], T]:
            """A class decorator that leaves the class as it is."""
            return lambda cls: cls
