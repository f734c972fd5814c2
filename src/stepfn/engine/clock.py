"""Time as the engine sees it: injected so that tests and users can run Wait states and retries fast.

``Clock.now()`` stamps history events, ``$$.Execution.StartTime`` and Timestamp waits;
``Clock.sleep(seconds, cancel_event)`` is every delay the engine takes (Wait, Retry backoff, task
timeouts and heartbeats). It returns True when the full delay elapsed and False as soon as
``cancel_event`` is set, so stop, timeouts and task completion interrupt it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ScaledClock", "SystemClock"]


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
            # Instant clock: time jumps forward instead of passing.
            with self._lock:
                self._skipped += seconds
            return True
        event = cancel_event if cancel_event is not None else threading.Event()
        return not event.wait(seconds / self.speed)
