"""The broker's single background task and its steps; the clocks it reads are in
:mod:`paperbroker.clock`.

:class:`Simulator` owns at most one asyncio task.  Each round it sleeps for the interval
the broker asks for, then calls the broker's step; an exception in a step is logged,
counted and kept in :attr:`Simulator.last_error`, and the loop goes on (a failure that
repeats, such as a price source that is down, is logged once and then only counted in
:attr:`Simulator.failing` until a step succeeds again).  The task is kept
by a strong reference (the event loop holds tasks only weakly) and a done-callback logs an
unexpected end.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import warnings
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .clock import Clock, SimClock
from .errors import ConfigurationError, InvalidState, MarketDataError
from .events import TopicHub
from .guard import repeat
from .market.source import QuoteChange
from .market.venue import Venue
from .models import BrokerConnectionStatus, ConnectionStatus
from .records import read_only

if TYPE_CHECKING:
    import numpy as np

    from .core.engine import OrderEngine

__all__ = [
    "NO_LOOP",
    "RANDOM_DELAY",
    "Simulator",
    "Stepper",
    "check_delay",
    "progress_steps",
]

logger = logging.getLogger("paperbroker")


class Simulator:
    """Runs ``step()`` every ``interval()`` seconds on the running loop, in one task."""

    def __init__(
        self,
        step: Callable[[], object],
        interval: Callable[[], float],
        on_health: Callable[[BaseException | None], object] | None = None,
    ) -> None:
        self._step = step
        self._interval = interval
        # told the first failure of a streak of failed steps, and None when one works again
        self._on_health = on_health
        self._task: asyncio.Task[None] | None = None
        self.errors = 0
        #: Steps that failed in a row, up to now (0 once a step succeeds).
        self.failing = 0
        self.last_error: BaseException | None = None
        #: Steps the task has run, the failed ones included (``errors`` counts those).
        self.steps = 0

    @property
    def running(self) -> bool:
        """True while the task runs."""
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
        """Cancel the task, if it runs."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval())
            try:
                self._step()
            except Exception as exc:  # noqa: BLE001 - counted, kept and logged by _failed
                self._failed(exc)
            except KeyboardInterrupt as exc:
                # a kernel interrupt landed in a background step: the step's own code keeps
                # the books consistent; stop here rather than let it escape the event loop
                self.errors += 1
                self.last_error = exc
                logger.warning("The simulator was interrupted and has stopped.")
                return
            else:
                if self.failing:
                    logger.warning("The simulator recovered after %d failed steps in a row.", self.failing)
                    self.failing = 0
                    if self._on_health is not None:
                        self._on_health(None)
            self.steps += 1

    def _failed(self, exc: Exception) -> None:
        """Count and keep a failed step; log it unless it repeats the previous failure."""
        last = self.last_error
        repeat = self.failing and type(last) is type(exc) and str(last) == str(exc)
        self.errors += 1
        self.failing += 1
        self.last_error = exc
        if self.failing == 1 and self._on_health is not None:
            self._on_health(exc)
        if repeat:  # a source that is down fails every step: one traceback is enough
            return
        logger.error(
            "A simulator step failed; the simulator carries on, and the same failure again "
            "is only counted (broker.simulator.errors, .failing, .last_error).",
            exc_info=exc,
        )

    def _ended(self, task: asyncio.Task[None]) -> None:
        if task is self._task:
            self._task = None
        if not task.cancelled() and task.exception() is not None:
            self.errors += 1
            self.last_error = task.exception()
            logger.error("The simulator task ended unexpectedly.", exc_info=task.exception())


def progress_steps(steps: int, progress: bool, unit: str = "step") -> Iterable[int]:
    """``range(steps)``, wrapped in a ``tqdm.auto`` progress bar when ``progress`` is true."""
    if not progress:
        return range(steps)
    from tqdm.auto import tqdm

    bar: Any = tqdm(range(steps), unit=unit, mininterval=0.25)
    return bar  # type: ignore[no-any-return]


#: The warning of a subscription that needs the background task while no loop runs.
NO_LOOP = (
    "No asyncio event loop is running, so the broker's background simulator cannot start "
    "and nothing will fill or tick on its own (Jupyter runs a loop for you; a plain script "
    "does not). In a script, use manual mode: BrokerService(execution_delay=None), then "
    "broker.fill(order), broker.fill_all(), broker.step() or broker.run(n); or run your "
    "code inside asyncio.run(main())."
)


def _user_level() -> int:
    """The ``stacklevel`` of the first frame outside paperbroker: the user's line."""
    frame = sys._getframe(1)  # noqa: SLF001 - the stdlib's documented frame access
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("paperbroker"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


class _RandomDelay:
    def __repr__(self) -> str:
        return "RANDOM_DELAY"


#: The default ``execution_delay``: a random 1-2 s between fills, as in the design document.
RANDOM_DELAY: Any = _RandomDelay()


class Stepper:
    """The broker's steps: the background task, ``step``, ``run`` (fast mode) and ``run_for``.

    A step is one market tick in market mode; in classic and manual mode it fills one
    random working order, and a SimClock moves on by the interval.  ``run`` takes no
    sleeps at all; ``run_for`` sleeps between steps so a live notebook keeps drawing.
    """

    def __init__(
        self,
        engine: OrderEngine,
        venue: Venue | None,
        hub: TopicHub,
        rng: np.random.Generator,
        delay: Any,
    ) -> None:
        self._engine = engine
        self.venue = venue
        self._hub = hub
        self._rng = rng
        self._clock: Clock = engine.clock
        self.delay = delay
        self.simulator = Simulator(self._step_once, self.next_interval, self._health_changed)
        self._warned = False  # NO_LOOP is said once per broker

    @property
    def mode(self) -> str:
        """ "market", "manual" (no delay: nothing happens on its own) or "classic"."""
        if self.venue is not None:
            return "market"
        return "manual" if self.delay is None else "classic"

    def connection_status(self) -> BrokerConnectionStatus:
        """Connected, or Error while the background task's steps fail (a price source that
        is down, say), with the failure as the message."""
        simulator = self.simulator
        now = self._clock.now_ms()
        if simulator.failing and simulator.last_error is not None:
            text = f"The simulator's steps are failing: {simulator.last_error}"
            return read_only(BrokerConnectionStatus(ConnectionStatus.ERROR, text, None, now))
        return read_only(
            BrokerConnectionStatus(ConnectionStatus.CONNECTED, "Connected to paperbroker", None, now)
        )

    def _health_changed(self, _error: BaseException | None) -> None:
        """The background task began to fail, or works again: tell broker-connection."""
        for subs in self._hub.table("broker-connection").values():
            self._hub.deliver(subs, self.connection_status())

    def subscribers_changed(self, count: int) -> None:
        """The hub's subscriptions changed: the first starts the task, the last stops it."""
        if count == 0:
            self.simulator.stop()
        else:
            self.ensure_running()

    def ensure_running(self) -> None:
        """Start the background task when it should run (a delay, subscribers, a loop).

        Without a running event loop it cannot start: the first time, a ``RuntimeWarning``
        says what to do instead (manual mode, or ``asyncio.run``).
        """
        if self.delay is None or not len(self._hub) or self.simulator.running:
            return
        if not self.simulator.start() and not self._warned:
            self._warned = True
            warnings.warn(NO_LOOP, RuntimeWarning, stacklevel=_user_level())

    def next_interval(self) -> float:
        """Seconds until the next background step (random 1-2 s in classic mode)."""
        if self.delay is RANDOM_DELAY:
            return 1.0 if self.venue is not None else float(self._rng.uniform(1.0, 2.0))
        return 1.0 if self.delay is None else float(self.delay)

    def _step_once(self) -> bool:
        """The background task's step: one guarded change of the books."""
        with self._hub.guard:
            return self._advance()

    def _advance(self) -> bool:
        """A market tick, or a random working order filled (the caller holds the guard)."""
        if self.venue is not None:
            return self.venue.step()
        book = self._engine.book
        n = book.working_count()
        if n:
            self._engine.fill(book.working_at(int(self._rng.integers(n))).id)
        return True

    def step(self) -> bool:
        """A step outside the background task: a classic SimClock moves on by the interval.

        Each step is one guarded change (:mod:`paperbroker.guard`): ``run()`` can be stopped
        between two steps, never inside one."""
        with self._hub.guard:
            return self._own_step()

    def _own_step(self) -> bool:
        """:meth:`step`, the guard held by the caller."""
        if self.venue is not None:
            return self.venue.step()
        if isinstance(self._clock, SimClock):
            self._clock.advance(self.next_interval() * 1000.0)
        return self._advance()

    def run(self, steps: int | None = None, *, progress: bool = False) -> int:
        """See :meth:`paperbroker.BrokerService.run`."""
        if steps is None:
            remaining = getattr(self.venue.source, "remaining", None) if self.venue is not None else None
            if remaining is None:
                msg = "run() needs steps=...: only a replay knows how many steps it has."
                raise ConfigurationError(msg)
            steps = int(remaining)
        _check_steps(steps)
        if not progress:  # the guard taken in one loop (guard.repeat), not a frame a step
            own = self.venue.step if self.venue is not None else self._own_step
            reached = [0]
            try:
                return repeat(self._hub.guard, own, steps, reached)
            except MarketDataError as exc:
                raise _stopped("run()", exc, reached[0], steps) from exc.__cause__
        done = 0
        step = self.step
        try:
            for _ in progress_steps(steps, progress):
                if not step():
                    break
                done += 1
        except MarketDataError as exc:
            raise _stopped("run()", exc, done, steps) from exc.__cause__
        return done

    async def run_for(
        self, seconds: float | None = None, *, steps: int | None = None, interval: float | None = None
    ) -> int:
        """See :meth:`paperbroker.BrokerService.run_for`."""
        if (seconds is None) == (steps is None):
            msg = "run_for() needs exactly one of seconds=... or steps=..."
            raise ConfigurationError(msg)
        if steps is not None:
            _check_steps(steps)
        elif isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds >= 0:
            msg = f"seconds must be a number >= 0, got {seconds!r}."
            raise ConfigurationError(msg)
        if interval is None:
            pause = 1.5 if self.delay is RANDOM_DELAY and self.venue is None else self.next_interval()
        else:
            pause = float(interval)
        running = self.simulator.running
        self.simulator.stop()
        start = self._clock.now_ms()
        done = 0
        try:
            while steps is None or done < steps:
                if seconds is not None and self._clock.now_ms() - start >= seconds * 1000:
                    break
                if not self.step():
                    break
                done += 1
                await asyncio.sleep(pause)
        except MarketDataError as exc:
            raise _stopped("run_for()", exc, done, steps) from exc.__cause__
        finally:
            if running:
                self.ensure_running()
        return done

    def set_quote(self, what: str, symbol: str, change: QuoteChange) -> None:
        """Move ``symbol``'s quote by hand (``what``: the method the user called)."""
        if self.venue is None:
            msg = (
                f"{what}() needs a market: build the broker with BrokerService(market=pb.ManualQuotes(...))."
            )
            raise InvalidState(msg)
        self.venue.set_quote(symbol, change)


def _stopped(what: str, exc: MarketDataError, done: int, steps: int | None) -> MarketDataError:
    """``exc`` (a tick that failed) with how far the run got: the steps before it stand."""
    of = "" if steps is None else f" of {steps}"
    return MarketDataError(f"{what} stopped after {done}{of} steps, which stand. {exc}")


def _check_steps(steps: object) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        msg = f"steps must be a whole number >= 0, got {steps!r}."
        raise ConfigurationError(msg)


def check_delay(value: object) -> Any:
    """An ``execution_delay``: seconds >= 0, ``None`` (manual) or ``RANDOM_DELAY``."""
    if value is None or value is RANDOM_DELAY:
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        msg = (
            f"execution_delay must be seconds >= 0, None for manual fills, or left out for a "
            f"random 1-2 s; got {value!r}."
        )
        raise ConfigurationError(msg)
    return float(value)
