"""A sweep's grid: its cells, their seeds and the index of the result frame."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence, Set
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["RESERVED", "cell_seeds", "grid_cells", "params_index"]

# Keyword arguments the sweep passes itself, and columns it adds to the result.
RESERVED = ("seed", "window", "error")


def _values(name: str, values: Any) -> list[Any]:
    if isinstance(values, Set):
        msg = f"grid[{name!r}] is a set, which has no order; give a list, e.g. {sorted(values, key=repr)!r}."
        raise ConfigurationError(msg)
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__iter__"):
        msg = (
            f"grid[{name!r}] is {values!r}, not a list of values; give a list, "
            f"e.g. {{{name!r}: [{values!r}]}} for one value."
        )
        raise ConfigurationError(msg)
    listed = list(values)
    if not listed:
        msg = f"grid[{name!r}] is empty, so the grid has no cells; give it at least one value."
        raise ConfigurationError(msg)
    return listed


def _check_names(names: list[Any]) -> None:
    if not names:
        msg = "The grid has no parameters; give a dict of lists, e.g. {'fast': [5, 10], 'slow': [50]}."
        raise ConfigurationError(msg)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier():
            msg = f"Grid parameter names are passed as keyword arguments, so {name!r} must be an identifier."
            raise ConfigurationError(msg)
        if name in RESERVED:
            msg = (
                f"The grid parameter {name!r} clashes with the sweep's own {name!r}; "
                f"rename it (the names {', '.join(RESERVED)} are reserved)."
            )
            raise ConfigurationError(msg)


def grid_cells(grid: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """The parameter names and the cells of ``grid``, in grid order.

    A dict of lists is a cartesian product, its first key varying slowest (as nested
    ``for`` loops in the dict's order); a list of dicts is taken as it is, every dict with
    the same keys.
    """
    if isinstance(grid, Mapping):
        names = list(grid)
        _check_names(names)
        columns = [_values(name, grid[name]) for name in names]
        return names, [dict(zip(names, combo, strict=True)) for combo in itertools.product(*columns)]
    if isinstance(grid, Sequence) and not isinstance(grid, (str, bytes)):
        cells = list(grid)
        if not cells:
            msg = (
                "The grid is an empty list, so there is nothing to run; give at least one dict of parameters."
            )
            raise ConfigurationError(msg)
        for i, cell in enumerate(cells):
            if not isinstance(cell, Mapping):
                msg = f"grid[{i}] is {cell!r}; a list grid holds one dict of parameters per cell."
                raise ConfigurationError(msg)
        names = list(cells[0])
        _check_names(names)
        for i, cell in enumerate(cells):
            if set(cell) != set(names):
                msg = (
                    f"grid[{i}] has the parameters {sorted(cell)}, but grid[0] has {sorted(names)}; "
                    "every cell of a list grid needs the same parameters."
                )
                raise ConfigurationError(msg)
        return names, [{name: cell[name] for name in names} for cell in cells]
    msg = (
        f"A grid is a dict of lists (every combination) or a list of dicts (one per cell), "
        f"not {type(grid).__name__}."
    )
    raise ConfigurationError(msg)


def cell_seeds(seed: Any, n: int) -> list[int]:
    """One independent seed per cell: ``SeedSequence(seed).spawn(n)``, each as a 32-bit int.

    The ints suit ``BrokerService(seed=...)``, ``numpy.random.default_rng`` and the legacy
    ``numpy.random.seed`` alike; cell ``i`` gets the same seed whoever runs it.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"seed must be a non-negative whole number, got {seed!r}."
        raise ConfigurationError(msg)
    children = np.random.SeedSequence(int(seed)).spawn(n)
    return [int(child.generate_state(1)[0]) for child in children]


def params_index(names: list[str], cells: list[dict[str, Any]]) -> pd.Index:
    """The result frame's index: one level per parameter, one entry per cell."""
    import pandas as pd

    index: pd.Index
    if len(names) == 1:
        index = pd.Index([cell[names[0]] for cell in cells], name=names[0], tupleize_cols=False)
    else:
        index = pd.MultiIndex.from_tuples(
            [tuple(cell[name] for name in names) for cell in cells], names=names
        )
    return index
