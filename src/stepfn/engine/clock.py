"""Time as the engine sees it: injected so that tests and users can run Wait states and retries fast.

``Clock.now()`` stamps history events, ``$$.Execution.StartTime`` and Timestamp waits;
``Clock.sleep(seconds, cancel_event)`` is every delay the engine takes (Wait, Retry backoff, task
timeouts and heartbeats). It returns True when the full delay elapsed and False as soon as
``cancel_event`` is set, so stop, timeouts and task completion interrupt it. A deadline kept while other
work goes on (a Task's timeout, an execution's TimeoutSeconds) is waited for with :func:`wait_until`.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ScaledClock", "SystemClock", "wait_until"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        """Wait ``seconds`` of clock time; False if ``cancel_event`` was set first."""
        ...


class SystemClock:
    """Wall-clock time; delays really elapse."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return not (cancel_event is not None and cancel_event.is_set())
        event = cancel_event if cancel_event is not None else threading.Event()
        return not event.wait(seconds)


class ScaledClock:
    """A clock that runs ``speed`` times faster than real time (``ScaledClock(1000)``: a 1 h Wait takes 3.6 s).

    ``now()`` advances at the same rate from the moment the clock was made, so a Timestamp wait and
    ``$$.State.EnteredTime`` agree with the shortened delays. ``speed=float('inf')`` never sleeps.
    """

    def __init__(self, speed: float = 1.0, *, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._origin_real = datetime.now(UTC)
        self._origin = start if start is not None else self._origin_real
        self._skipped = 0.0
        self._lock = threading.Lock()
        # An instant clock's deadlines being waited for (wait_until): (seconds skipped at the deadline, wake).
        self._deadlines: list[tuple[float, threading.Event]] = []

    def now(self) -> datetime:
        real = (datetime.now(UTC) - self._origin_real).total_seconds()
        with self._lock:
            skipped = self._skipped
        scaled = real * self.speed if self.speed != float("inf") else 0.0
        return self._origin + timedelta(seconds=scaled + skipped)

    def sleep(self, seconds: float, cancel_event: threading.Event | None = None) -> bool:
        if cancel_event is not None and cancel_event.is_set():
            return False
        if seconds <= 0:
            return True
        if self.speed == float("inf"):
            # Instant clock: time jumps forward instead of passing, and wakes the deadlines it reaches.
            with self._lock:
                self._skipped += seconds
                reached = [wake for mark, wake in self._deadlines if mark <= self._skipped]
            for wake in reached:
                wake.set()
            return True
        event = cancel_event if cancel_event is not None else threading.Event()
        return not event.wait(seconds / self.speed)

    def wait_until(self, deadline: datetime, wake: threading.Event) -> None:
        """:func:`wait_until` on this clock. An instant clock moves only when something sleeps on it: until a
        sleep moves it to ``deadline``, the wait is for ``wake`` alone, however long the real work takes (a
        handler's or a branch's), and it never moves the clock itself (jumping to the deadline would time out
        every Task whose handler had not returned in the moment it took to look)."""
        if self.speed != float("inf"):
            self.sleep(max(0.0, (deadline - self.now()).total_seconds()), wake)
            return
        entry = ((deadline - self._origin).total_seconds(), wake)
        with self._lock:
            if self._skipped >= entry[0]:
                return
            self._deadlines.append(entry)
        try:
            wake.wait()
        finally:
            with self._lock:
                self._deadlines.remove(entry)


def wait_until(clock: Clock, deadline: datetime, wake: threading.Event) -> None:
    """Wait until ``clock`` reaches ``deadline`` or ``wake`` is set: a deadline kept while other work goes on (a
    Task's timeout, an execution's TimeoutSeconds), unlike a delay of the engine's own (``Clock.sleep``). The
    caller looks at the clock again afterwards. A clock with a ``wait_until`` method of its own (an instant
    :class:`ScaledClock`) waits its way; any other sleeps until the deadline."""
    own = getattr(clock, "wait_until", None)
    if own is not None:
        own(deadline, wake)
    else:
        clock.sleep(max(0.0, (deadline - clock.now()).total_seconds()), wake)
