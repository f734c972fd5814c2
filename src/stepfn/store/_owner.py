"""Which process runs an execution, and whether that process is still alive.

An owner is ``host:pid:start``. The start time (from ``/proc`` on Linux) guards against a recycled pid
making a dead owner look alive. On another host we cannot see the process, so only its lease counts.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache


def _process_start(pid: int) -> str:
    """The kernel's start time of ``pid`` in clock ticks since boot, or "" where /proc is not available."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return ""
    # Field 2 (comm) may contain spaces and parentheses; fields after the last ')' are fixed.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    started: str

    @property
    def token(self) -> str:
        return f"{self.host}:{self.pid}:{self.started}"

    @classmethod
    def of_pid(cls, pid: int) -> Owner:
        """Process ``pid`` of this host, as it is now (its start time read afresh: pids are recycled)."""
        return cls(socket.gethostname(), pid, _process_start(pid))

    @classmethod
    def from_token(cls, token: str) -> Owner:
        """The owner a :attr:`token` names (ValueError for anything else)."""
        host, pid, started = token.rsplit(":", 2)
        return cls(host, int(pid), started)

    def seems_alive(self) -> bool | None:
        """True/False when this host can tell; None for a process on another host."""
        if self.host != socket.gethostname():
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        if self.started and _process_start(self.pid) not in ("", self.started):
            return False
        return _is_zombie(self.pid) is False


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return False
    state = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
    return state in ("Z", "X")


@cache
def _owner_for(pid: int) -> Owner:
    return Owner.of_pid(pid)


def current_owner() -> Owner:
    """This process; recomputed after a fork because the pid changes."""
    return _owner_for(os.getpid())


__all__ = ["Owner", "current_owner"]
