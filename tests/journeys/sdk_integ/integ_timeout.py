"""``tests.integ.timeout.timeout`` for the SDK's integration tests run here: the same context manager (a time limit
for the block, its units added together) without the SDK's ``stopit`` test dependency; SIGALRM, since pytest runs
each test in the main thread."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def timeout(seconds: int = 0, minutes: int = 0, hours: int = 0) -> Iterator[None]:
    limit = seconds + 60 * minutes + 3600 * hours

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"timed out after {limit} seconds")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
