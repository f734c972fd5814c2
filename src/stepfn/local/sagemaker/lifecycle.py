"""One lifecycle for local SageMaker jobs: the table of job kinds and the steps every job goes through.

:data:`JOB_KINDS` holds, per kind (training, processing, transform, tuning jobs and endpoints), the names its
API and Describe* record use: the create action, the name, ARN, status, start and end members, and whether
the record has ``LastModifiedTime``. The Task handlers, the HTTP API and the job runners read them from here
instead of spelling them per module.

A job is recorded (:func:`begin_job`: a taken name is SageMaker's ValidationException; a resumed task attaches
to the finished job of that name, or starts an unfinished one over), run on the caller's thread or a daemon
thread (:func:`run_detached`) inside :func:`run_guarded` (a bug ends the job Failed with SageMaker's
``InternalServerError`` instead of leaving it InProgress), updated (:func:`update_job`) and finished
(:func:`finish_job`: status, end time, FailureReason cut at 1024 characters). Training jobs supervise their
process themselves (:mod:`stepfn.local.sagemaker.training`: cross-process stop, a lease like the store's);
their kind is in the table all the same.
"""

from __future__ import annotations

import contextlib
import json
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stepfn.errors import StatesError
from stepfn.local.sagemaker.records import RecordStore, now_millis

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


def begin_job(
    records: RecordStore, kind: str, name: str, record: dict[str, Any], *, operation: str, resumed: bool
) -> dict[str, Any] | None:
    """Store a new job record (a taken name is SageMaker's ValidationException). When the engine re-dispatches a
    task whose process died (``resumed``), an existing job that already ended is returned instead of re-run, and
    one left InProgress by the dead process starts over under the same name."""
    if resumed and (existing := records.get(kind, name)) is not None:
        if existing.get(JOB_KINDS[kind].status_key) in TERMINAL:
            return existing
        records.put(kind, name, record)
        return None
    records.create(kind, name, record, operation=operation)
    return None


def run_detached(name: str, work: Callable[[], Any]) -> None:
    """Run a job accepted without ``.sync`` on a daemon thread, as SageMaker runs it after Create* returns."""
    threading.Thread(target=work, name=f"stepfn-{name}", daemon=True).start()


def run_guarded(records: RecordStore, kind: str, name: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run a job's body; an unexpected error (a bug, a full disk) ends the job Failed with SageMaker's
    InternalServerError reason, and the traceback in its log, instead of leaving it InProgress forever."""
    try:
        return work()
    except Exception as exc:
        with contextlib.suppress(OSError), records.log_path(kind, name).open("a") as log:
            traceback.print_exc(file=log)
        return finish_job(records, kind, name, "Failed", failure=f"InternalServerError: {type(exc).__name__}: {exc}")


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
    "begin_job",
    "finish_job",
    "job_failed_error",
    "run_detached",
    "run_guarded",
    "update_job",
]
