"""One budget per request: a wall-clock deadline that every stage checks.

A request (one ``jac`` invocation, or one call of an API entry point such as
:func:`jacobian_calc.jacobians`) runs inside :func:`request`, which holds the
deadline ``limits.timeout`` seconds ahead in a :class:`contextvars.ContextVar`.
Calls made inside an active request join it, so ``jacobian`` inside ``chain``
inside the ``jac`` command share one deadline.

The request's :class:`~jacobian_calc.core.limits.Limits` travel the same way,
and only this way: the API entry points take a ``limits`` argument and enter
the request with it (:func:`entry_point`); everything below reads
:func:`active_limits`. An entry point called inside a request without
``limits`` uses the request's; with other ``limits`` it uses those for its
own block, on the request's clock (its deadline is not moved).

Two mechanisms enforce it:

* :func:`check` -- called in the loops of the symbolic layer (per node
  evaluated, per output entry differentiated, per entry printed or
  simplified). Works in any thread.
* an alarm (``SIGALRM``) for the calls no check can interrupt, such as
  SymPy's ``simplify`` and ``expand``. It is used only on the main thread,
  where POSIX offers ``setitimer``, and only when nobody else has a
  ``SIGALRM`` handler or timer installed; it is armed for the request's
  block only and the previous handler is restored on leaving it.

Off the main thread (a web server's worker, a notebook's background thread)
there is no alarm: the deadline is still checked between steps, and the
stages that would need one refuse large work up front by size estimates
(:func:`interruptible` tells them which case they are in): ``--simplify``
simplifies only entries of at most :data:`OFF_THREAD_SIMPLIFY_NODES` nodes,
and the chain rule's symbolic check expands only small products.
"""

from __future__ import annotations

import functools
import inspect
import signal
import threading
import time
import weakref
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator

from .errors import JacobianError, JacobianTypeError, LimitError
from .limits import DEFAULT_LIMITS, Limits

#: Largest entry (in expression nodes) simplified where no alarm can interrupt SymPy.
OFF_THREAD_SIMPLIFY_NODES = 300

#: Once the deadline has passed, the alarm fires again this often, in case the
#: interrupted code swallowed the first one in a bare ``except:``.
_REPEAT = 0.05


class Interrupted(BaseException):
    """Raised by the alarm. A ``BaseException``, like ``KeyboardInterrupt``, so that
    no ``except Exception`` inside SymPy can swallow it; converted at the edge of the
    block that armed the alarm."""


class OutOfTime(Exception):
    """A block's own allowance (not the request's) ran out: see :func:`limited`."""


#: Called on entering a block the alarm may interrupt; each returns a function that
#: undoes a half-made change of global state (SymPy's evaluation flags), run after an
#: interruption. Registered by the layers that own such state (:func:`guard_state`).
_STATE_GUARDS: list = []


def guard_state(snapshot) -> None:
    """Register ``snapshot() -> restore``: global state put back after an interruption."""
    _STATE_GUARDS.append(snapshot)


def _snapshots() -> list:
    return [snapshot() for snapshot in _STATE_GUARDS]


def _restore(restores: list) -> None:
    for restore in restores:
        restore()


class Budget:
    """The deadline and the stage of one request (``limits``: those that set the deadline)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.started = time.monotonic()
        self.deadline = self.started + limits.timeout
        self.alarms = False  # whether SIGALRM is ours for this request
        self.thread = threading.get_ident()  # the alarm interrupts this thread only
        self.stage = "computing"
        self.stopped_in: str | None = None  # the stage the last alarm interrupted

    def remaining(self) -> float:
        """Seconds left before the deadline (negative once it has passed)."""
        return self.deadline - time.monotonic()

    def check(self) -> None:
        """Raise the timeout error if the deadline has passed."""
        if time.monotonic() >= self.deadline:
            raise self.timeout_error()

    def timeout_error(self, interrupted: bool = False) -> LimitError:
        stage = self.stopped_in if interrupted and self.stopped_in else self.stage
        return LimitError(f"the request took longer than {self.limits.timeout:g} s "
                          f"(while {stage})", limit="timeout")


_ACTIVE: ContextVar[Budget | None] = ContextVar("jacobian_calc_budget", default=None)
_LIMITS: ContextVar[Limits | None] = ContextVar("jacobian_calc_limits", default=None)


def current() -> Budget | None:
    """The active request's budget, if any."""
    return _ACTIVE.get()


def active_limits() -> Limits:
    """The limits in force: the active request's (or those an entry point inside it was
    given), else the defaults."""
    limits = _LIMITS.get()
    return limits if limits is not None else DEFAULT_LIMITS


def checked_limits(limits: object) -> Limits:
    """``limits`` if it is a :class:`Limits` object, else the type error."""
    if not isinstance(limits, Limits):
        raise JacobianTypeError(f"limits must be a Limits object, not {type(limits).__name__}")
    return limits


def check() -> None:
    """Raise ``LimitError(limit="timeout")`` if the active request is out of time."""
    budget = _ACTIVE.get()
    if budget is not None and time.monotonic() >= budget.deadline:
        raise budget.timeout_error()


def interruptible() -> bool:
    """Whether a long SymPy call in the active request can be stopped by the alarm."""
    return _alarmed(_ACTIVE.get())


def _alarmed(budget: Budget | None) -> bool:
    """The alarm is armed and would interrupt this thread (a thread that copied the
    context, as ``asyncio.to_thread`` does, shares the deadline but not the alarm)."""
    return budget is not None and budget.alarms and budget.thread == threading.get_ident()


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Name what the request is doing, for the timeout message ("while simplifying")."""
    budget = _ACTIVE.get()
    if budget is None:
        yield
        return
    previous, budget.stage = budget.stage, name
    try:
        yield
    finally:
        budget.stage = previous


@contextmanager
def request(limits: Limits | None = None) -> Iterator[Budget]:
    """Run the block as one request within ``limits.timeout`` seconds (``None``: the
    active request's limits, else the defaults), ``limits`` in force.

    Inside an active request the block joins it: its deadline, and its limits
    unless ``limits`` differ (those are then in force within the block, on the
    request's clock). Raises ``LimitError(limit="timeout")`` when the time is up.

    Examples
    --------
    >>> with request(Limits(timeout=5)) as budget:
    ...     0 < budget.remaining() <= 5
    True
    >>> with request(Limits(max_depth=7)):
    ...     with request():
    ...         active_limits().max_depth
    7
    """
    if limits is not None:
        checked_limits(limits)
    active = _ACTIVE.get()
    if active is not None:
        if limits is None or limits == active_limits():
            yield active
            return
        token = _LIMITS.set(limits)
        try:
            yield active
        finally:
            _LIMITS.reset(token)
        return
    budget = Budget(limits if limits is not None else DEFAULT_LIMITS)
    token, limits_token = _ACTIVE.set(budget), _LIMITS.set(budget.limits)
    try:
        with _alarm(budget):
            yield budget
    finally:
        _LIMITS.reset(limits_token)
        _ACTIVE.reset(token)


def _can_use_alarm() -> bool:
    if not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        return False
    try:
        return signal.getsignal(signal.SIGALRM) == signal.SIG_DFL and \
            signal.getitimer(signal.ITIMER_REAL)[0] == 0
    except (ValueError, OSError):  # not the main interpreter
        return False


def _on_alarm(signum, frame):
    budget = _ACTIVE.get()
    if time.monotonic() < _INTENDED[0] - _LONGEST / 2:  # a capped interval ran out: wait on
        _arm(_INTENDED[0])
        return
    if _unsafe_to_interrupt(frame):  # the repeating alarm fires again in _REPEAT s
        return
    if budget is not None:  # the stage is named now: unwinding will leave it
        budget.stopped_in = budget.stage
    raise Interrupted


#: Code an exception must not interrupt: an import (an interrupted ``import numpy`` leaves
#: its submodules bound to a half-made ``numpy``, broken for the life of the process) and
#: a weakref callback (Python ignores its exceptions, so the interruption would be lost).
_UNSAFE_FILES = ("<frozen importlib._bootstrap>", "<frozen importlib._bootstrap_external>",
                 weakref.__file__)


def _unsafe_to_interrupt(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename in _UNSAFE_FILES:
            return True
        frame = frame.f_back
    return False


@contextmanager
def _alarm(budget: Budget) -> Iterator[None]:
    """Arm SIGALRM for the request's deadline (main thread only); disarm on leaving."""
    if not _can_use_alarm():
        yield
        return
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    budget.alarms = True
    restores = _snapshots()
    try:
        try:
            _arm(budget.deadline)
            yield
        finally:
            try:
                signal.setitimer(signal.ITIMER_REAL, 0)
                _settle()  # an alarm already due runs here, while our handler is installed
            finally:
                budget.alarms = False
                signal.signal(signal.SIGALRM, previous)
    except Interrupted:
        _restore(restores)
        raise budget.timeout_error(interrupted=True) from None


def _settle() -> None:
    """A call: Python runs a pending signal handler at the next call or jump."""


#: Longest interval the alarm is set for (``setitimer`` overflows on ``--timeout 1e300``);
#: a longer deadline is re-armed when this one fires.
_LONGEST = 1e6


_INTENDED = [0.0]  # when the armed alarm is meant to interrupt (past a capped interval)


def _arm(until: float) -> None:
    _INTENDED[0] = until
    signal.setitimer(signal.ITIMER_REAL, min(max(until - time.monotonic(), 1e-3), _LONGEST),
                     _REPEAT)


@contextmanager
def limited(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (or at the request's deadline, if sooner).

    Raises :class:`OutOfTime` when the block's own ``seconds`` ran out (the caller
    keeps what it had, as ``--simplify`` keeps an unsimplified entry) and the
    request's timeout error when the request's time ran out. Without an alarm
    (off the main thread, or outside a request) the block runs uninterrupted:
    callers check :func:`interruptible` first and refuse large work.
    """
    budget = _ACTIVE.get()
    if not _alarmed(budget):
        yield
        return
    budget.check()
    restores = _snapshots()
    try:
        try:
            _arm(min(time.monotonic() + seconds, budget.deadline))
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            _settle()
    except Interrupted:
        _restore(restores)
        _arm(budget.deadline)
        if time.monotonic() >= budget.deadline:
            raise budget.timeout_error(interrupted=True) from None
        raise OutOfTime from None
    _arm(budget.deadline)


_NOT_GIVEN = object()


def entry_point(func):
    """Make ``func`` an API entry point: arguments checked, the call one request.

    A call that does not fit the signature raises :class:`JacobianTypeError`
    (a ``TypeError``) naming the function, and the body runs within the budget
    of its ``limits`` argument (or joins the active request; without
    ``limits``, with the request's). The body reads :func:`active_limits`, never
    its ``limits`` argument: this is the one place where limits enter.
    """
    signature = inspect.signature(func)
    if "limits" not in signature.parameters:
        raise TypeError(f"{func.__name__} has no limits parameter")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise JacobianTypeError(f"{func.__name__}(): {exc}") from None
        given = bound.arguments.get("limits", _NOT_GIVEN)
        try:
            with request(None if given is _NOT_GIVEN else checked_limits(given)):
                return func(*args, **kwargs)
        except RecursionError:
            raise JacobianError("the expression is nested too deeply to process",
                                hint="split it up with {{lets}}") from None
        except MemoryError:
            raise JacobianError("out of memory", hint="ask for something smaller") from None

    return wrapper


__all__ = ["Budget", "request", "check", "stage", "limited", "interruptible", "current",
           "active_limits", "checked_limits", "entry_point", "guard_state", "OutOfTime",
           "Interrupted", "OFF_THREAD_SIMPLIFY_NODES"]
