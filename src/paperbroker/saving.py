"""``save(broker, path)`` and ``load(path)``: a whole broker to a file and back.

The file and what it holds are described in :mod:`paperbroker.persistence`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .broker import BrokerService
from .errors import PersistenceError

__all__ = ["load", "save"]


def save(broker: BrokerService, path: str | os.PathLike[str]) -> Path:
    """Write ``broker`` to ``path`` atomically; return the path.

    Everything the broker's future depends on is written (see :mod:`paperbroker.persistence`),
    so :func:`load` gives a broker that goes on exactly as this one would.  Subscriptions are
    not written, nor are commission models, clocks, price sources or slippage models of your
    own class: the file notes them and :func:`load` asks for them.  Raises
    :class:`~paperbroker.errors.PersistenceError` when the file cannot be written; the old
    file, if any, is then left as it was.
    """
    if not isinstance(broker, BrokerService):
        msg = f"save() needs a BrokerService, got {type(broker).__name__}."
        raise PersistenceError(msg)
    return broker.save(path)


def load(path: str | os.PathLike[str], **replacements: Any) -> BrokerService:
    """Read a broker written by :func:`save`.

    ``commission=``, ``clock=``, ``market=`` and ``slippage=`` replace the saved ones; they
    are required when the broker was saved with a model, clock or price source of your own,
    which a file cannot hold.  A ``market`` of your own must be new (not used by a broker
    yet), quote the saved market's symbols in the same order, and be where the saved run
    was: the loaded broker asks it for the next tick.
    """
    return BrokerService.load(path, **replacements)
