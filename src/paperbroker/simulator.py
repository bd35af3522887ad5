"""The broker's clock and its single background task.

:class:`Simulator` owns at most one asyncio task.  Each round it sleeps for the interval
the broker asks for, then calls the broker's step; an exception in a step is logged,
counted and kept in :attr:`Simulator.last_error`, and the loop goes on.  The task is kept
by a strong reference (the event loop holds tasks only weakly) and a done-callback logs an
unexpected end.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

__all__ = ["Clock", "SimClock", "Simulator", "WallClock"]

logger = logging.getLogger("paperbroker")


class Clock(ABC):
    """Where the broker reads the time, in Unix milliseconds."""

    @abstractmethod
    def now_ms(self) -> int: ...


class WallClock(Clock):
    """The computer's clock."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def __repr__(self) -> str:
        return "WallClock()"


class SimClock(Clock):
    """A clock that moves only when told: deterministic timestamps for tests and replays.

    ``SimClock(start_ms)`` starts at ``start_ms`` (default 2024-01-02 14:30 UTC);
    :meth:`advance` moves it forward and :meth:`set` jumps to a later time.
    """

    def __init__(self, start_ms: int = 1_704_205_800_000) -> None:
        self._now = int(start_ms)

    def now_ms(self) -> int:
        return self._now

    def advance(self, ms: float) -> int:
        if ms < 0:
            msg = f"A clock cannot go backwards; advance() got {ms!r} ms."
            raise ValueError(msg)
        self._now += int(ms)
        return self._now

    def set(self, now_ms: int) -> int:
        if now_ms < self._now:
            msg = f"A clock cannot go backwards: it is at {self._now} ms, set() got {now_ms}."
            raise ValueError(msg)
        self._now = int(now_ms)
        return self._now

    def __repr__(self) -> str:
        return f"SimClock({self._now})"


class Simulator:
    """Runs ``step()`` every ``interval()`` seconds on the running loop, in one task."""

    def __init__(self, step: Callable[[], object], interval: Callable[[], float]) -> None:
        self._step = step
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.errors = 0
        self.last_error: BaseException | None = None
        self.steps = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> bool:
        """Start the task on the running loop; False when there is no running loop."""
        if self.running:
            return True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._task = loop.create_task(self._run(), name="paperbroker-simulator")
        self._task.add_done_callback(self._ended)
        return True

    def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                self._step()
            except Exception as exc:
                self.errors += 1
                self.last_error = exc
                logger.exception("A simulator step failed; the simulator carries on.")
            self.steps += 1

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task is self._task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            self.errors += 1
            self.last_error = task.exception()
            logger.error("The simulator task ended unexpectedly.", exc_info=task.exception())
