"""Run one job's process as SageMaker runs a container: logs streamed to the job's log file (and the engine's
``TaskControl.log``) while it runs, MetricDefinitions applied line by line, ``MaxRuntimeInSeconds`` and stop
requests enforced with SIGTERM then SIGKILL after a grace period (120 s on SageMaker).

The child gets a clean environment (:func:`clean_environment`): the essentials a process needs to run on this
machine plus what the platform sets, never the parent's credentials or other secrets.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stepfn.engine.protocol import TaskControl
from stepfn.local.sagemaker.isolation import Launch

_PASSTHROUGH = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TERM",
    "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "VIRTUAL_ENV", "CONDA_PREFIX",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "SYSTEMROOT",
)
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(nan|inf|infinity)\s*$", re.I)
TAIL_LINES = 40


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """The essentials from this process's environment, then ``extra`` (platform variables, the request's
    Environment, PYTHONPATH...) on top. Credentials (``AWS_*``) and anything else are not inherited."""
    env = {key: os.environ[key] for key in _PASSTHROUGH if key in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(extra)
    return env


@dataclass
class MetricCollector:
    """``AlgorithmSpecification.MetricDefinitions``: the last numeric capture-group-1 match per metric.

    SageMaker matches the CloudWatch form of each line, where a TAB reads ``#011``; both forms are tried."""

    definitions: list[dict[str, str]]
    values: dict[str, tuple[float, int]] = field(default_factory=dict)
    _compiled: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for definition in self.definitions:
            with contextlib.suppress(re.error, KeyError, TypeError):
                self._compiled.append((definition["Name"], re.compile(definition["Regex"])))

    def feed(self, line: str) -> None:
        if not self._compiled:
            return
        variants = (line, line.replace("\t", "#011")) if "\t" in line else (line,)
        for name, pattern in self._compiled:
            for text in variants:
                match = pattern.search(text)
                if match and match.groups() and match.group(1) is not None and _NUMBER.match(match.group(1)):
                    self.values[name] = (float(match.group(1)), time.time_ns() // 1_000_000)
                    break

    def final_metric_data(self) -> list[dict[str, Any]]:
        """``FinalMetricDataList`` in MetricDefinitions order (at most 40, as SageMaker keeps)."""
        order = {d.get("Name"): i for i, d in enumerate(self.definitions)}
        names = sorted(self.values, key=lambda n: order.get(n, len(order)))[:40]
        return [{"MetricName": n, "Value": self.values[n][0], "Timestamp": self.values[n][1]} for n in names]


@dataclass
class Outcome:
    exit_code: int | None
    stopped: str | None
    """``"MaxRuntimeExceeded"`` or ``"Stopped"`` when the job was ended from outside, else None."""
    error_tail: list[str]
    """The end of the job's output that says why it failed: from its last Python traceback on, when it printed
    one, else its last lines (stdout and stderr share one pipe, so the log keeps the order they were written)."""
    seconds: float


class _LogSink:
    def __init__(self, path: Path, control: TaskControl | None, metrics: MetricCollector, prefix: str = "") -> None:
        self.handle = path.open("a", encoding="utf-8", buffering=1)
        self.prefix = prefix
        self.control = control
        self.metrics = metrics
        self.lock = threading.Lock()
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)

    def pump(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            self.write(line)
        stream.close()

    def write(self, line: str, *, own: bool = False) -> None:
        """One line of the job's output (``own``: a line stepfn itself writes, never part of the error tail)."""
        with self.lock:
            self.handle.write(self.prefix + line + "\n")
            if not own:
                self.tail.append(line)
        self.metrics.feed(line)
        if self.control is not None:
            with contextlib.suppress(Exception):  # a watcher failing must not fail the job
                self.control.log(self.prefix + line)

    def close(self) -> None:
        self.handle.close()


def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    control: TaskControl | None,
    stop_requested: threading.Event,
    max_runtime_seconds: float | None,
    stop_grace_seconds: float,
    metrics: MetricCollector,
    on_tick: Callable[[], None] | None = None,
    tick_seconds: float = 5.0,
    log_prefix: str = "",
    spare_leader: bool = False,
) -> Outcome:
    """Start ``argv`` in its own process group and supervise it to the end. ``log_prefix`` starts each of its
    log lines (``[algo-2] `` for the hosts of a multi-instance job, which share one log). ``spare_leader``: the
    process started is a wrapper that waits for the job (bubblewrap's monitor): SIGTERM goes to the rest of
    the group only, since the wrapper dying at once would SIGKILL the job before it could save its work."""
    sink = _LogSink(log_path, control, metrics, log_prefix)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            # One pipe for stdout and stderr: two would be read by two threads, and a traceback could land in
            # the log before the lines the script printed just before it.
            argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=_die_with_supervisor(),
        )
    except OSError as exc:
        sink.write(f"cannot start {argv[0]}: {exc}")
        tail = error_tail(sink.tail)
        sink.close()
        return Outcome(127, None, tail, 0.0)
    assert process.stdout is not None
    pumps = [threading.Thread(target=sink.pump, args=(process.stdout,), daemon=True)]
    for pump in pumps:
        pump.start()
    exited = threading.Event()

    def reap() -> None:  # a blocking waitpid wakes the supervisor the moment the job exits, no polling lag
        process.wait()
        exited.set()

    threading.Thread(target=reap, daemon=True).start()
    stopped: str | None = None
    deadline = started + max_runtime_seconds if max_runtime_seconds else None
    next_tick = started + tick_seconds
    kill_at: float | None = None
    while not exited.wait(0.05):
        now = time.monotonic()
        if stopped is None:
            if deadline is not None and now >= deadline:
                stopped = "MaxRuntimeExceeded"
            elif stop_requested.is_set() or (control is not None and control.cancelled()):
                stopped = "Stopped"
            if stopped is not None:
                sink.write(f"stepfn: stopping the job ({stopped}): SIGTERM, SIGKILL after {stop_grace_seconds:g} s",
                           own=True)
                _signal_group(process, signal.SIGTERM, spare_leader=spare_leader)
                kill_at = now + stop_grace_seconds
        elif kill_at is not None and now >= kill_at:
            _signal_group(process, signal.SIGKILL)
            kill_at = None
        if on_tick is not None and now >= next_tick:
            next_tick = now + tick_seconds
            on_tick()
    if stopped is not None:
        _signal_group(process, signal.SIGKILL)  # whatever the job left behind in its group
    for pump in pumps:
        pump.join(timeout=5)
    tail = error_tail(sink.tail)
    sink.close()
    return Outcome(process.returncode, stopped, tail, time.monotonic() - started)


def error_tail(lines: Iterable[str]) -> list[str]:
    """The job's last lines from its last ``Traceback (most recent call last):`` on, else all of them."""
    tail = list(lines)
    for index in range(len(tail) - 1, -1, -1):
        if tail[index].startswith("Traceback (most recent call last):"):
            return tail[index:]
    return tail


def run_instances(
    instances: list[tuple[str, Launch]],
    *,
    log_path: Path,
    control: TaskControl | None,
    stop_requested: threading.Event,
    max_runtime_seconds: float | None,
    stop_grace_seconds: float,
    metrics: MetricCollector,
    on_tick: Callable[[], None] | None = None,
    tick_seconds: float = 0.5,
) -> dict[str, Outcome]:
    """Every instance's process (``[(host name, launch)]``) at once, to the end of all of them; the first to fail
    stops the others (``stop_requested`` is set: SIGTERM, then SIGKILL after the grace period), as SageMaker ends
    a job when one instance fails. The log lines of several instances carry their host's name; ``on_tick`` runs
    on the first instance's supervisor."""
    outcomes: dict[str, Outcome] = {}
    several = len(instances) > 1

    def run(host: str, launch: Launch, first: bool) -> None:
        outcome = run_process(
            launch.command(), env=launch.environment, cwd=launch.host_cwd, log_path=log_path, control=control,
            stop_requested=stop_requested, max_runtime_seconds=max_runtime_seconds,
            stop_grace_seconds=stop_grace_seconds, metrics=metrics, on_tick=on_tick if first else None,
            tick_seconds=tick_seconds, log_prefix=f"[{host}] " if several else "", spare_leader=launch.wrapped,
        )
        outcomes[host] = outcome
        if outcome.exit_code != 0 and outcome.stopped is None and several:
            append_log(log_path, f"stepfn: {host} exited with code {outcome.exit_code}: stopping the other "
                       "instances", control)
            stop_requested.set()

    threads = [threading.Thread(target=run, args=(host, launch, index == 0), name=f"instance-{host}", daemon=True)
               for index, (host, launch) in enumerate(instances)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def first_failure(outcomes: dict[str, Outcome]) -> str | None:
    """The instance that failed on its own (not one stopped because of it or from outside), if any."""
    return next((host for host, o in outcomes.items() if o.exit_code != 0 and o.stopped is None), None)


_PR_SET_PDEATHSIG = 1


def _die_with_supervisor() -> Callable[[], None] | None:
    """Linux: the job gets SIGKILL when the thread supervising it dies (kill -9 of stepfn). Otherwise the job
    would run on unsupervised while the process that resumes its execution runs it again under its name
    (bench/chaos.py counted that as a task run twice). None where prctl is not available."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    supervisor = os.getpid()

    def set_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != supervisor:  # the supervisor died before prctl took effect
            os.kill(os.getpid(), signal.SIGKILL)

    return set_death_signal


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals, *, spare_leader: bool = False) -> None:
    if spare_leader:
        for pid in _group_members(process.pid):
            if pid != process.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def _group_members(group: int) -> list[int]:
    """The processes of process group ``group`` (from /proc; empty where there is none)."""
    members = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after comm: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(group):
            members.append(int(entry))
    return members


def append_log(log_path: Path, line: str, control: TaskControl | None = None) -> None:
    """A platform line in the job's log (``Starting``, ``Uploading``...), also shown to watchers."""
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    if control is not None:
        with contextlib.suppress(Exception):
            control.log(line)


def relocation_hint(stderr: str) -> str:
    """A FailureReason prefix for a script that died opening a hard-coded ``/opt/ml`` path (empty otherwise).

    Where a job cannot have its own mount namespace, ``/opt/ml`` is relocated into the job's directory, which such
    a script never sees."""
    if "No such file or directory: '/opt/ml/" not in stderr:
        return ""
    return ("the script opens a hard-coded /opt/ml path, but jobs here cannot have their own mount namespace "
            "(install bubblewrap, or allow unprivileged user namespaces) and /opt/ml is relocated: take paths from "
            "the SM_* variables, the arguments or $SAGEMAKER_BASE_DIR. ")


__all__ = [
    "MetricCollector",
    "Outcome",
    "append_log",
    "clean_environment",
    "first_failure",
    "relocation_hint",
    "run_instances",
    "run_process",
]
