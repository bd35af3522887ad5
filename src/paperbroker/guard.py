"""One lock, and one place where a kernel interrupt waits, around every change of the books.

A broker is used from more than one thread: ipykernel 7 runs widget messages on a subshell
thread, and users call ``asyncio.to_thread`` or start threads.  And the kernel's stop button
raises ``KeyboardInterrupt`` at whatever line the main thread is running.  Either could
leave the books half-changed: an execution in the history with the position unchanged, a
filled order still in the working index.

:class:`BooksGuard` is the broker's answer to both.  Every public method of
:class:`~paperbroker.BrokerService`, every simulator step and every subscription's
``close()`` runs inside it:

* it holds a re-entrant lock, so calls from different threads take turns (the broker does
  not hop to its loop's thread: a cell that starts threads and joins them would wait for
  itself);
* while the **main** thread is inside, a SIGINT is only noted; when the main thread leaves
  the outermost guarded call the interrupt goes on, to whatever handler was there before
  (ipykernel's or Python's own ``KeyboardInterrupt``, asyncio's runner ...).  So a stop
  lands between two calls, or between two steps of ``run()``, never inside one.

The handler is installed the first time the main thread enters a guard, and again whenever
someone else (ipykernel does, for every cell) installed another since.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # C module: signal.getsignal adds an enum lookup a call
import functools
import inspect
import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any, TypeVar

__all__ = ["BooksGuard", "guard_methods", "guarded"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

_get_ident = threading.get_ident
_MAIN = threading.main_thread().ident
_SIGINT = _signal.SIGINT
_getsignal = _signal.getsignal

# How deep the main thread is in guarded calls (of any broker), whether a SIGINT waits for
# it to leave, and the handler the waiting one goes to.  Only the main thread changes them.
_depth = 0
_pending = False
_previous: Any = signal.default_int_handler


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _pending
    if _depth:
        _pending = True  # the books are being changed: let the change finish first
        return
    _pass_on(signum, frame)


def _pass_on(signum: int, frame: FrameType | None) -> None:
    previous = _previous
    if previous is signal.SIG_IGN:
        return
    if callable(previous):
        previous(signum, frame)
        return
    raise KeyboardInterrupt  # SIG_DFL, or a handler not set from Python


def _unwind(exc: BaseException) -> None:
    """The main thread's guarded call raised ``exc``: count it out, and let a SIGINT that
    waited for it go on (unless ``exc`` is that interrupt already)."""
    global _depth, _pending
    _depth -= 1
    if _pending and not _depth:
        _pending = False
        if not isinstance(exc, KeyboardInterrupt):
            _pass_on(_SIGINT, None)


def _install() -> None:
    global _previous
    current = _getsignal(_SIGINT)
    if current is _on_sigint:
        return
    try:
        signal.signal(_SIGINT, _on_sigint)
    except ValueError:  # not the main interpreter: interrupts land where they land
        return
    _previous = current


class BooksGuard:
    """A re-entrant lock that also holds back a kernel interrupt until the outermost
    guarded call returns.  Use it as a context manager: ``with broker.lock: ...`` makes
    several calls one step that no other thread and no interrupt can split."""

    __slots__ = ("rlock",)

    def __init__(self) -> None:
        #: The lock itself (the wrappers below take it directly, at C speed).
        self.rlock = threading.RLock()

    def __enter__(self) -> BooksGuard:
        global _depth
        if _get_ident() == _MAIN:
            # counted before the lock is taken, so an interrupt from here on waits
            if not _depth and _getsignal(_SIGINT) is not _on_sigint:
                _install()
            _depth += 1
            try:
                self.rlock.acquire()
            except BaseException:
                _depth -= 1
                raise
        else:
            self.rlock.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        global _depth, _pending
        self.rlock.release()
        if _get_ident() != _MAIN:
            return
        _depth -= 1
        if _pending and not _depth:
            _pending = False
            if kind is not KeyboardInterrupt:  # one interrupt, not two
                _pass_on(_SIGINT, None)

    def __repr__(self) -> str:
        return f"<BooksGuard {self.rlock!r}>"


# What ``with guard:`` does around a call, written into the wrapper itself: one Python
# frame a call instead of three (the wrapper, __enter__, __exit__), the lock taken by the
# C RLock's own ``with``.  A wrapper is made from this text, in this module's globals (so
# ``global _depth`` is this module's), with the wrapped function's own parameters: a call
# then passes its arguments on as they came, without packing them into ``*args`` and
# ``**kwargs`` (about a tenth of the guard's cost).  The factories are kept per shape.
# A call made inside a guarded one on the main thread (a subscriber's ``buy`` during a
# step) only takes the lock: an interrupt there already waits for the outermost call,
# which is the one that counts ``_depth`` and passes the interrupt on.
_WRAPPER = """
def factory(function, _lock, _defaults):
    {unpack}
    def call({params}):
        global _depth, _pending
        lock = {lock}
        if _depth or _get_ident() != _MAIN:  # a call inside a guarded one, or another thread
            with lock:
                return function({args})
        if _getsignal(_SIGINT) is not _on_sigint:  # the outermost call: ours in place first
            _install()
        _depth += 1
        try:
            with lock:
                result = function({args})
        except BaseException as exc:
            _unwind(exc)
            raise
        _depth -= 1
        if _pending and not _depth:
            _pending = False
            _pass_on(_SIGINT, None)
        return result
    return call
"""
_FACTORIES: dict[tuple[Any, ...], Callable[..., Any]] = {}
_SIMPLE = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _shape(function: Callable[..., Any], method: bool) -> tuple[tuple[str, ...], tuple[str, ...], list[Any]]:
    """The wrapper's parameter list, its call's arguments and the defaults it binds."""
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # no signature to copy: the generic shape
        parameters = []
    if (
        not parameters
        or any(p.kind not in _SIMPLE for p in parameters)
        or (method and parameters[0].default is not inspect.Parameter.empty)
    ):
        first = ("self",) if method else ()
        return (*first, "*args", "**kwargs"), (*first, "*args", "**kwargs"), []
    params: list[str] = []
    args: list[str] = []
    defaults: list[Any] = []
    keyword_only = False
    for p in parameters:
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not keyword_only:
            keyword_only = True
            params.append("*")
        if p.default is inspect.Parameter.empty:
            params.append(p.name)
        else:
            params.append(f"{p.name}=_d{len(defaults)}")
            defaults.append(p.default)
        args.append(f"{p.name}={p.name}" if keyword_only else p.name)
    return tuple(params), tuple(args), defaults


def _wrap(function: Callable[..., Any], lock: Any, method: bool) -> Callable[..., Any]:
    params, args, defaults = _shape(function, method)
    key = (params, args, method)
    factory = _FACTORIES.get(key)
    if factory is None:
        unpack = f"{', '.join(f'_d{n}' for n in range(len(defaults)))}, = _defaults" if defaults else "pass"
        text = _WRAPPER.format(
            unpack=unpack,
            params=", ".join(params),
            args=", ".join(args),
            lock=f"{params[0]}.lock.rlock" if method else "_lock",
        )
        namespace: dict[str, Any] = {}
        exec(compile(text, "<paperbroker.guard wrapper>", "exec"), globals(), namespace)
        factory = _FACTORIES[key] = namespace["factory"]
    return functools.wraps(function)(factory(function, lock, tuple(defaults)))


def repeat(guard: BooksGuard, step: Callable[[], bool], times: int, reached: list[int]) -> int:
    """Call ``step()`` up to ``times`` times, each call one guarded change, until it returns
    False; return how many calls returned True.  When a call raises, ``reached[0]`` is set
    to the calls that returned True before it.

    What ``with guard: step()`` does, in one loop: ``run()`` pays for no guard frames a
    step, and an interrupt still waits for the step it lands in and then stops the loop.
    """
    global _depth, _pending
    lock = guard.rlock
    done = 0
    if _get_ident() != _MAIN:
        try:
            while done < times:
                with lock:
                    more = step()
                if not more:
                    break
                done += 1
        except BaseException:
            reached[0] = done
            raise
        return done
    while done < times:
        if not _depth and _getsignal(_SIGINT) is not _on_sigint:
            _install()
        _depth += 1
        try:
            with lock:
                more = step()
        except BaseException as exc:
            reached[0] = done
            _unwind(exc)
            raise
        _depth -= 1
        if _pending and not _depth:
            _pending = False
            _pass_on(_SIGINT, None)  # as a rule it raises: the interrupt lands between two steps
        if not more:
            break
        done += 1
    return done


def guarded(guard: BooksGuard, function: Callable[..., T]) -> Callable[..., T]:
    """``function`` run inside ``guard``."""
    return _wrap(function, guard.rlock, method=False)


def _method(function: F) -> F:
    return _wrap(function, None, method=True)  # type: ignore[return-value]


def guard_methods(*skip: str) -> Callable[[type[T]], type[T]]:
    """Class decorator: run every public method and property of the class inside
    ``self.lock`` (a :class:`BooksGuard`), except coroutines (they call guarded methods),
    class methods and the names in ``skip`` (which guard themselves, step by step)."""

    def decorate(cls: type[T]) -> type[T]:
        for name, value in list(vars(cls).items()):
            if name.startswith("_") or name in skip or inspect.iscoroutinefunction(value):
                continue
            if isinstance(value, property) and value.fget is not None:
                setattr(cls, name, property(_method(value.fget), doc=value.__doc__))
            elif inspect.isfunction(value):
                setattr(cls, name, _method(value))
        return cls

    return decorate
