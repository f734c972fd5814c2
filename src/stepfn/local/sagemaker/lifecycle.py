"""One lifecycle for local SageMaker jobs: the table of job kinds and the steps every job goes through.

:data:`JOB_KINDS` holds, per kind (training, processing, transform, tuning jobs and endpoints), the names its
API and Describe* record use: the create action, the name, ARN, status, start and end members, and whether
the record has ``LastModifiedTime``. The Task handlers, the HTTP API and the job runners read them from here
instead of spelling them per module.

A job is recorded (:func:`begin_job`: a taken name is SageMaker's ValidationException), run on the caller's
thread or a daemon thread (:func:`run_detached`) inside :func:`run_guarded` (a bug ends the job Failed with
SageMaker's ``InternalServerError`` instead of leaving it InProgress), updated (:func:`update_job`) and finished
(:func:`finish_job`: status, end time, FailureReason cut at 1024 characters).

Who runs a job is its :class:`Lease`, as the store leases executions: the owner (``host:pid:start``, the store's
:class:`~stepfn.store.Owner`) and an expiry renewed while the job runs, in ``<home>/sagemaker/leases/<kind>/``.
A resumed task (the engine re-dispatching a task after its process died) attaches to the job of its name: it
returns the record of a finished one, waits for one whose owner is alive (a process on another host: until its
lease runs out), and starts over one whose owner is gone. A stop request (:func:`request_stop`) is a file beside
the lease, seen by the job's :func:`job_control` whichever process runs it. When a job ends, its lease, stop request
and lock file are removed (:func:`run_guarded`), so ``leases/`` holds only jobs that run or whose runner died
before their end. Training jobs go through the same steps (:mod:`stepfn.local.sagemaker.training` records their
secondary statuses on top).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskControl
from stepfn.errors import ServiceError, StatesError
from stepfn.local.sagemaker.records import RecordStore, now_millis
from stepfn.store import DEFAULT_LEASE_SECONDS, Owner, current_owner

TERMINAL = ("Completed", "Failed", "Stopped")
ACTIVE = ("InProgress", "Stopping")


@dataclass(frozen=True)
class JobKind:
    kind: str
    """The record kind (``training-job``): the folder of its records, logs and job directories."""
    action: str
    """The Step Functions action that creates one (``createTrainingJob``)."""
    name_key: str
    arn_key: str
    status_key: str
    start_key: str | None
    end_key: str | None
    label: str
    """As SageMaker's messages name it (``training job``)."""
    last_modified: bool = True
    """Whether the Describe* record has ``LastModifiedTime`` (DescribeTransformJob has none)."""


JOB_KINDS: dict[str, JobKind] = {kind.kind: kind for kind in (
    JobKind("training-job", "createTrainingJob", "TrainingJobName", "TrainingJobArn", "TrainingJobStatus",
            "TrainingStartTime", "TrainingEndTime", "training job"),
    JobKind("processing-job", "createProcessingJob", "ProcessingJobName", "ProcessingJobArn", "ProcessingJobStatus",
            "ProcessingStartTime", "ProcessingEndTime", "processing job"),
    JobKind("transform-job", "createTransformJob", "TransformJobName", "TransformJobArn", "TransformJobStatus",
            "TransformStartTime", "TransformEndTime", "transform job", last_modified=False),
    JobKind("tuning-job", "createHyperParameterTuningJob", "HyperParameterTuningJobName",
            "HyperParameterTuningJobArn", "HyperParameterTuningJobStatus", None, "HyperParameterTuningEndTime",
            "hyperparameter tuning job"),
    JobKind("endpoint", "createEndpoint", "EndpointName", "EndpointArn", "EndpointStatus", None, None, "endpoint"),
)}
BY_ACTION: dict[str, JobKind] = {kind.action: kind for kind in JOB_KINDS.values()}


@dataclass(frozen=True)
class Lease:
    """Who runs a job and until when, as the store leases executions: the owner (``host:pid:start``) and an
    expiry it renews while the job runs, which is all that tells a process on another host is gone."""

    owner: Owner
    expires: float

    @classmethod
    def mine(cls) -> str:
        return json.dumps({"owner": current_owner().token, "lease_expires": time.time() + DEFAULT_LEASE_SECONDS})

    @classmethod
    def read(cls, path: Path) -> Lease:
        """The lease in ``path`` (OSError, ValueError, KeyError or TypeError when there is none to read)."""
        data = json.loads(path.read_text())
        return cls(Owner.from_token(str(data["owner"])), float(data.get("lease_expires") or 0))

    def held_elsewhere(self) -> bool:
        """Another live process holds it (one on another host until its lease runs out)."""
        if self.owner == current_owner():
            return False
        alive = self.owner.seems_alive()
        return alive if alive is not None else self.expires > time.time()


# The jobs a thread of this process runs: a lease naming this process says nothing about which thread.
_RUNNING_HERE: set[tuple[str, str, str]] = set()
_RUNNING_LOCK = threading.Lock()
_POLL_SECONDS = 0.2


def lease_path(records: RecordStore, kind: str, name: str) -> Path:
    records.path(kind, name)  # refuses names that are not SageMaker names before touching the disk
    return records.base / "leases" / kind / f"{name}.json"


def _write_lease(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    tmp.write_text(Lease.mine())
    os.replace(tmp, path)  # readers never see half a lease


def _running_key(records: RecordStore, kind: str, name: str) -> tuple[str, str, str]:
    return (str(records.base.absolute()), kind, name)


def held_elsewhere(records: RecordStore, kind: str, name: str) -> bool:
    """Whether a live runner holds the job: another process (see :meth:`Lease.held_elsewhere`) or another thread
    of this one. A job without a readable lease has nobody running it."""
    try:
        lease = Lease.read(lease_path(records, kind, name))
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if lease.owner == current_owner():
        with _RUNNING_LOCK:
            return _running_key(records, kind, name) in _RUNNING_HERE
    return lease.held_elsewhere()


@contextlib.contextmanager
def _lease_lock(records: RecordStore, kind: str, name: str) -> Iterator[Path]:
    """Hold the job's lock file (``<name>.lock`` beside its lease); yields its path. A job's end removes the
    file, so a process may lock a file that another has just locked, removed and let go of; such a lock guards
    nothing (a third process locks the new file at that path), so the file locked is checked to still be the
    one at the path, and locked afresh where it is not."""
    path = lease_path(records, kind, name).with_suffix(".lock")
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # closing the file lets go of it
            try:
                current = os.stat(path)
            except FileNotFoundError:
                continue
            locked = os.fstat(lock.fileno())
            if (current.st_dev, current.st_ino) == (locked.st_dev, locked.st_ino):
                yield path
                return


def _ended(records: RecordStore, kind: str, name: str) -> bool:
    return (records.get(kind, name) or {}).get(JOB_KINDS[kind].status_key) in TERMINAL


def _forget_if_ended(records: RecordStore, kind: str, name: str, lock: Path) -> bool:
    """With the job's lock held: remove the lease, stop request and lock file of a job that has ended and that no
    live runner holds (this process's thread may have let go of it, or its runner's process be gone); True
    when removed. A lease another live process holds stays, whatever the record says: that process took the
    job over and lets go of it itself."""
    if held_elsewhere(records, kind, name) or not _ended(records, kind, name):
        return False
    lease_path(records, kind, name).unlink(missing_ok=True)
    request_stop_path(records, kind, name).unlink(missing_ok=True)
    lock.unlink(missing_ok=True)  # last, while held: see _lease_lock
    return True


def _take(records: RecordStore, kind: str, name: str, *, unfinished: bool = False) -> bool:
    """Make this process (the calling thread) the job's runner unless a live one holds it (or, ``unfinished``,
    the job has ended); True when taken. Under a lock file, so two processes resuming the same job at once do
    not both start it over. A runner records the job's end before it lets go of it, so a job found let go of
    and unfinished here is one to start over."""
    path = lease_path(records, kind, name)
    with _lease_lock(records, kind, name) as lock:
        if held_elsewhere(records, kind, name):
            return False
        if unfinished and _ended(records, kind, name):
            _forget_if_ended(records, kind, name, lock)  # the lock file this call made, at least
            return False
        _write_lease(path)
        with _RUNNING_LOCK:
            _RUNNING_HERE.add(_running_key(records, kind, name))
        return True


def _let_go(records: RecordStore, kind: str, name: str) -> None:
    """Undo :func:`_take` for a job this process turned out not to run: its lease goes if it is still this
    process's, and the job's files with it once the job has ended."""
    with _RUNNING_LOCK:
        _RUNNING_HERE.discard(_running_key(records, kind, name))
    path = lease_path(records, kind, name)
    with contextlib.suppress(OSError), _lease_lock(records, kind, name) as lock:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            if Lease.read(path).owner == current_owner():
                path.unlink()
        _forget_if_ended(records, kind, name, lock)


def begin_job(
    records: RecordStore, kind: str, name: str, record: dict[str, Any] | None, *, operation: str, resumed: bool,
    control: TaskControl | None = None, background: bool = False,
) -> dict[str, Any] | None:
    """Store a new job record (a taken name is SageMaker's ValidationException) and take its lease; None means
    the caller runs the job (inside :func:`run_guarded`). When the engine re-dispatches a task whose process
    died (``resumed``), the job of that name is attached to instead: a finished one's record is returned, one
    whose runner is alive is waited for (its record returned at once when ``background``; ``control``
    cancelled asks it to stop), and one whose runner is gone starts over under the same name (as ``record``
    when one is given; None leaves the record for the runner to reset)."""
    if not resumed:
        assert record is not None, "a new job needs its record"
        # The lease before the record: a reader that finds the job InProgress must find its runner too. Taken
        # after, a monitoring execution read in between saw its processing job as abandoned and failed for good.
        taken = _take(records, kind, name)
        try:
            records.create(kind, name, record, operation=operation)
        except BaseException:
            if taken:  # the name is another job's: leave no lease of this process on it
                _let_go(records, kind, name)
            raise
        request_stop_path(records, kind, name).unlink(missing_ok=True)  # a stale one from a deleted record
        if not taken:
            _take(records, kind, name)
        return None
    while True:
        existing = records.get(kind, name)
        if existing is None:  # the process died before it recorded the job
            if record is None:
                records.require(kind, name, operation)  # SageMaker's not-found error, unless just recorded
                continue
            try:
                records.create(kind, name, record, operation=operation)
            except ServiceError:
                continue  # another resumer just recorded it
            _take(records, kind, name)
            return None
        if existing.get(JOB_KINDS[kind].status_key) in TERMINAL:
            return existing
        if _take(records, kind, name, unfinished=True):
            if record is not None:
                records.put(kind, name, record)
            return None
        if background:
            return existing
        if control is not None and control.cancelled():
            request_stop(records, kind, name)
        time.sleep(_POLL_SECONDS)


def request_stop_path(records: RecordStore, kind: str, name: str) -> Path:
    return lease_path(records, kind, name).with_suffix(".stop")


def request_stop(records: RecordStore, kind: str, name: str) -> None:
    """Ask the job to stop, whichever process runs it (its :func:`job_control` sees the request). Under the
    job's lock, so a request that comes as the job ends is not left behind once its files are removed."""
    with _lease_lock(records, kind, name) as lock:
        if not _forget_if_ended(records, kind, name, lock):
            request_stop_path(records, kind, name).touch()


def stop_requested(records: RecordStore, kind: str, name: str) -> bool:
    return request_stop_path(records, kind, name).exists()


class _JobControl:
    """The TaskControl a job runs under: the caller's (the engine's, when there is one) plus the job's stop
    requests, whichever process made them."""

    def __init__(self, inner: TaskControl | None, stop_file: Path) -> None:
        self.inner = inner
        self.stop_file = stop_file
        self._stopped = False
        self._checked = 0.0

    def cancelled(self) -> bool:
        if self.inner is not None and self.inner.cancelled():
            return True
        # A transform asks before every request: look at the disk at most every 50 ms.
        if not self._stopped and time.monotonic() - self._checked >= 0.05:
            self._checked = time.monotonic()
            self._stopped = self.stop_file.exists()
        return self._stopped

    def heartbeat(self) -> None:
        if self.inner is not None:
            self.inner.heartbeat()

    def sleep(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if self.cancelled():
                return False
            if self.inner is not None:
                if not self.inner.sleep(min(left, _POLL_SECONDS)):
                    return False
            else:
                time.sleep(min(left, _POLL_SECONDS))
        return not self.cancelled()

    def log(self, message: str) -> None:
        if self.inner is not None:
            self.inner.log(message)


def job_control(records: RecordStore, kind: str, name: str, control: TaskControl | None) -> TaskControl:
    """``control`` (None for a job nobody waits on) cancelled also by :func:`request_stop`."""
    return _JobControl(control, request_stop_path(records, kind, name))


def run_detached(name: str, work: Callable[[], Any]) -> None:
    """Run a job accepted without ``.sync`` on a daemon thread, as SageMaker runs it after Create* returns."""
    threading.Thread(target=work, name=f"stepfn-{name}", daemon=True).start()


def run_guarded(records: RecordStore, kind: str, name: str, work: Callable[[], dict[str, Any]], *,
                fail: Callable[[str], dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run a job's body, renewing its lease meanwhile; an unexpected error (a bug, a full disk) ends the job
    Failed with SageMaker's InternalServerError reason (through ``fail`` where the kind records failures its
    own way), and the traceback in its log, instead of leaving it InProgress forever."""
    done = threading.Event()
    path = lease_path(records, kind, name)

    def renew() -> None:
        while not done.wait(DEFAULT_LEASE_SECONDS / 3):
            with contextlib.suppress(OSError):
                _write_lease(path)

    renewer = threading.Thread(target=renew, name=f"stepfn-lease-{name}", daemon=True)
    renewer.start()
    try:
        return work()
    except Exception as exc:
        with contextlib.suppress(OSError), records.log_path(kind, name).open("a") as log:
            traceback.print_exc(file=log)
        reason = f"InternalServerError: {type(exc).__name__}: {exc}"
        return fail(reason) if fail is not None else finish_job(records, kind, name, "Failed", failure=reason)
    finally:
        done.set()
        renewer.join()  # a renewal after the removal below would leave a lease behind
        with _RUNNING_LOCK:
            _RUNNING_HERE.discard(_running_key(records, kind, name))
        # The job has ended (recorded before this): its files go, unless another thread or live process took it
        # over meanwhile.
        with contextlib.suppress(OSError), _lease_lock(records, kind, name) as lock:
            _forget_if_ended(records, kind, name, lock)


def update_job(records: RecordStore, kind: str, name: str, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into a job record (and stamp LastModifiedTime where the Describe shape has one)."""
    record = records.get(kind, name) or {}
    record.update(changes)
    if JOB_KINDS[kind].last_modified:
        record["LastModifiedTime"] = now_millis()
    records.put(kind, name, record)
    return record


def finish_job(records: RecordStore, kind: str, name: str, status: str, *, failure: str | None = None,
               **changes: Any) -> dict[str, Any]:
    """Stamp a job's terminal ``status``, its end time and (first 1024 characters of) failure reason."""
    job = JOB_KINDS[kind]
    if failure is not None:
        changes["FailureReason"] = failure[:1024]
    if job.end_key is not None:
        changes[job.end_key] = now_millis()
    return update_job(records, kind, name, **{job.status_key: status}, **changes)


def job_failed_error(record: dict[str, Any]) -> StatesError:
    """The Task failure of a ``.sync`` job that ended Failed (or Stopped): its Describe* record as cause."""
    return StatesError("States.TaskFailed", json.dumps(record, default=str))


__all__ = [
    "ACTIVE",
    "BY_ACTION",
    "JOB_KINDS",
    "TERMINAL",
    "JobKind",
    "Lease",
    "begin_job",
    "finish_job",
    "held_elsewhere",
    "job_control",
    "job_failed_error",
    "lease_path",
    "request_stop",
    "run_detached",
    "run_guarded",
    "stop_requested",
    "update_job",
]
