"""Parameter sweeps and walk-forward tests, here or on any ``concurrent.futures`` executor.

:func:`sweep` runs a backtest for every cell of a grid; :func:`walk_forward` chooses the
best cell on each training window and trades it on the next; :func:`sweep_heatmap` draws a
two-parameter sweep.  Nothing here imports an executor library: pass one in.
"""

from .heatmap import sweep_heatmap
from .run import sweep
from .walkforward import Split, WalkForwardResult, walk_forward, walk_forward_splits

__all__ = ["Split", "WalkForwardResult", "sweep", "sweep_heatmap", "walk_forward", "walk_forward_splits"]
