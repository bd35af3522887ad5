"""``sweep_heatmap``: a two-parameter sweep as a plotly heatmap."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, cast

from ..errors import ConfigurationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["sweep_heatmap"]


def _column(frame: pd.DataFrame, name: Hashable, role: str) -> pd.Series:
    import pandas as pd

    if name in frame.columns:
        return frame[name].reset_index(drop=True)
    if name in frame.index.names:
        level: pd.Series = pd.Series(frame.index.get_level_values(cast("str", name)), name=name)
        return level
    known = [n for n in frame.index.names if n is not None] + list(frame.columns)
    msg = f"{role}={name!r} is neither a parameter nor a column of the frame; choose one of {known}."
    raise ConfigurationError(msg)


def sweep_heatmap(
    frame: pd.DataFrame, x: Hashable, y: Hashable, value: Hashable, *, title: str | None = None
) -> Any:
    """A plotly heatmap of ``value`` over two parameters of a :func:`sweep` frame.

    ``x`` and ``y`` name index levels (or columns) of ``frame``; each (x, y) pair must occur
    once, so select one value of any other parameter first (``frame.xs(20, level="qty")``).
    Cells are labelled with their value; cells that raised are blank.  Returns a
    ``plotly.graph_objects.Figure`` (plotly is imported when this is first called).
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        msg = f"frame is the DataFrame pb.sweep returned, not {type(frame).__name__}."
        raise ConfigurationError(msg)
    data = pd.DataFrame(
        {"x": _column(frame, x, "x"), "y": _column(frame, y, "y"), "value": _column(frame, value, "value")}
    )
    if data.duplicated(["x", "y"]).any():
        others = [n for n in frame.index.names if n not in (x, y)]
        msg = (
            f"Some ({x}, {y}) pairs occur in more than one row (the frame has other parameters: {others}); "
            f"select one value of each first, e.g. frame.xs(value, level={others[0]!r})."
            if others
            else f"Some ({x}, {y}) pairs occur in more than one row; give a frame with one row per pair."
        )
        raise ConfigurationError(msg)
    try:
        data["value"] = pd.to_numeric(data["value"])
    except (TypeError, ValueError):
        msg = f"value={value!r} must be a column of numbers to colour the cells by."
        raise ConfigurationError(msg) from None
    table = data.pivot(index="y", columns="x", values="value")

    import plotly.graph_objects as go

    heatmap = go.Heatmap(
        z=table.to_numpy(dtype=float),
        x=[str(label) for label in table.columns],
        y=[str(label) for label in table.index],
        colorscale="Viridis",
        colorbar={"title": {"text": str(value)}},
        texttemplate="%{z:.4g}",
        hovertemplate=f"{x}=%{{x}}<br>{y}=%{{y}}<br>{value}=%{{z}}<extra></extra>",
    )
    figure = go.Figure(heatmap)
    figure.update_layout(
        title=title if title is not None else f"{value} by {x} and {y}",
        xaxis={"title": {"text": str(x)}, "type": "category"},
        yaxis={"title": {"text": str(y)}, "type": "category"},
    )
    return figure
