"""The jobs sagemaker v2 starts at once (``transformer.transform()``, ``processor.run()``, ``tuner.fit()``) and their
handles (``transformer.latest_transform_job``, ``processor.latest_job``, ``tuner.latest_tuning_job``).

A session without a ``boto_session`` runs them on local SageMaker in this process (to their end with ``wait``,
else on a background thread, as SageMaker runs a job after Create* returns); one built on boto3 calls SageMaker.
The local side is imported on first use only: building requests never loads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .exceptions import UnexpectedStatusException
from .session import aws_boto_session

__all__ = ["PROCESSING", "TRAINING", "TRANSFORM", "TUNING", "JobKind", "SessionJob", "print_job_log"]


@dataclass(frozen=True)
class JobKind:
    """One SageMaker job type: its local record kind and the boto3 names that act on it."""

    record: str  # the local RecordStore kind
    label: str  # how sagemaker v2's errors name it ("Transform job")
    name_key: str
    status_key: str
    create: str
    describe: str
    stop: str
    waiter: str | None  # boto3's waiter; None where boto3 has none (sagemaker v2 polls Describe* then)
    log_group: str | None = None  # where SageMaker's jobs of this type log in CloudWatch


TRANSFORM = JobKind("transform-job", "Transform job", "TransformJobName", "TransformJobStatus",
                    "create_transform_job", "describe_transform_job", "stop_transform_job",
                    "transform_job_completed_or_stopped", "/aws/sagemaker/TransformJobs")
PROCESSING = JobKind("processing-job", "Processing job", "ProcessingJobName", "ProcessingJobStatus",
                     "create_processing_job", "describe_processing_job", "stop_processing_job",
                     "processing_job_completed_or_stopped", "/aws/sagemaker/ProcessingJobs")
# Only read here (logs, describe, wait): estimator.fit() starts training jobs through its own runner.
TRAINING = JobKind("training-job", "Training job", "TrainingJobName", "TrainingJobStatus",
                   "create_training_job", "describe_training_job", "stop_training_job",
                   "training_job_completed_or_stopped", "/aws/sagemaker/TrainingJobs")
# sagemaker v2 names a tuning job's failure "HyperParameterTuning job" (its status key less "JobStatus").
TUNING = JobKind("tuning-job", "HyperParameterTuning job", "HyperParameterTuningJobName",
                 "HyperParameterTuningJobStatus", "create_hyper_parameter_tuning_job",
                 "describe_hyper_parameter_tuning_job", "stop_hyper_parameter_tuning_job", None)
_RUNNING = ("InProgress", "Stopping")
# How often a local wait re-reads the job's record (a local job's status is a file read, so this is cheap).
_LOCAL_POLL_SECONDS = 0.1
# How often a wait without a boto3 waiter asks SageMaker (sagemaker v2 polls tuning jobs every 5 s too).
_AWS_POLL_SECONDS = 5.0


class SessionJob:
    """A job started through a session: ``describe()``, ``wait()``, ``stop()`` as sagemaker v2's job objects."""

    def __init__(self, kind: JobKind, sagemaker_session: Any, job_name: str) -> None:
        self.kind = kind
        self.sagemaker_session = sagemaker_session
        self.job_name = job_name

    @property
    def name(self) -> str:
        return self.job_name

    def _client(self) -> Any:
        boto_session = aws_boto_session(self.sagemaker_session)
        if boto_session is None:
            return None
        return boto_session.client("sagemaker", region_name=self.sagemaker_session.boto_region_name)

    def start(self, request: dict[str, Any], *, wait: bool) -> None:
        """Create the job; locally with ``wait`` it runs to its end before this returns."""
        client = self._client()
        if client is not None:
            getattr(client, self.kind.create)(**request)
            return
        from stepfn.local.sagemaker.records import RecordStore

        home = RecordStore().home
        if self.kind is TRANSFORM:
            from stepfn.local.sagemaker.transform import run_transform_job

            run_transform_job(home, request, background=not wait)
        elif self.kind is TUNING:
            from stepfn.local.sagemaker.tuning import run_tuning_job

            run_tuning_job(home, request, background=not wait)
        elif self.kind is PROCESSING:
            from stepfn.local.sagemaker.processing import ProcessingJobs

            ProcessingJobs(home).run(request, background=not wait)
        else:
            raise ValueError(f"{self.kind.label}s are not started through a session job")

    def describe(self) -> dict[str, Any]:
        client = self._client()
        if client is not None:
            described: dict[str, Any] = getattr(client, self.kind.describe)(**{self.kind.name_key: self.job_name})
            return described
        from stepfn.local.sagemaker.records import RecordStore

        operation = "Describe" + self.kind.label.replace(" job", "Job")
        return RecordStore().require(self.kind.record, self.job_name, operation)

    def wait(self, logs: Any = True) -> dict[str, Any]:
        """Wait for the job to end and return its description; as sagemaker v2, a Failed job raises
        :class:`UnexpectedStatusException` and a Stopped one does not. With ``logs`` the job's log is printed as
        it ends (see :func:`print_job_log`), as v2 prints it under the notebook cell."""
        if shows_logs(logs) and self.kind.log_group is not None:
            print_job_log(self.kind, self.sagemaker_session, self.job_name, wait=True, poll=_AWS_POLL_SECONDS,
                          check=False)
        client = self._client()
        if client is not None and self.kind.waiter is not None:
            client.get_waiter(self.kind.waiter).wait(**{self.kind.name_key: self.job_name})
        while (description := self.describe())[self.kind.status_key] in _RUNNING:
            time.sleep(_LOCAL_POLL_SECONDS if client is None else _AWS_POLL_SECONDS)
        status = description[self.kind.status_key]
        if status not in ("Completed", "Stopped"):
            reason = description.get("FailureReason", "(No reason provided)")
            raise UnexpectedStatusException(
                message=f"Error for {self.kind.label} {self.job_name}: {status}. Reason: {reason}",
                allowed_statuses=["Completed", "Stopped"], actual_status=status)
        return description

    def stop(self) -> None:
        client = self._client()
        if client is not None:
            getattr(client, self.kind.stop)(**{self.kind.name_key: self.job_name})
            return
        from stepfn.local.sagemaker.lifecycle import request_stop
        from stepfn.local.sagemaker.records import RecordStore

        records = RecordStore()
        records.require(self.kind.record, self.job_name, "Stop" + self.kind.label.replace(" job", "Job"))
        request_stop(records, self.kind.record, self.job_name)


def shows_logs(logs: Any) -> bool:
    """Whether sagemaker v2's ``logs`` argument asks for the log (``True``, ``"All"``, ``"Rules"``...)."""
    return bool(logs) and logs != "None"


def print_job_log(kind: JobKind, sagemaker_session: Any, job_name: str, *, wait: bool, poll: float,
                  check: bool = True) -> None:
    """Print a job's log, as sagemaker v2's ``logs_for_job`` prints its CloudWatch streams: locally the job's own
    log file (what ``stepfn logs`` prints), on AWS the job's streams in CloudWatch Logs. With ``wait`` it keeps
    printing until the job ends, then (``check``) raises :class:`UnexpectedStatusException` for a failed job, as
    v2 does."""
    job = SessionJob(kind, sagemaker_session, job_name)
    client = job._client()
    read = _local_reader(kind, job_name) if client is None else _cloudwatch_reader(kind, sagemaker_session, job_name)
    while True:
        # Whether it ended is read before the log, so the last read has every line the job wrote.
        ended = not wait or job.describe()[kind.status_key] not in _RUNNING
        for line in read():
            print(line)
        if ended:
            break
        time.sleep(_LOCAL_POLL_SECONDS if client is None else poll)
    if wait and check:
        job.wait(logs=False)  # printed above


def _local_reader(kind: JobKind, job_name: str) -> Any:
    from stepfn.local.sagemaker.records import RecordStore

    path = RecordStore().log_file(kind.record, job_name)
    offset = 0

    def read() -> list[str]:
        nonlocal offset
        if not path.is_file():
            return []
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
        complete = data.rfind(b"\n") + 1  # a line still being written is read next time
        offset += complete
        return data[:complete].decode(errors="replace").splitlines()

    return read


def _cloudwatch_reader(kind: JobKind, sagemaker_session: Any, job_name: str) -> Any:
    logs = aws_boto_session(sagemaker_session).client("logs", region_name=sagemaker_session.boto_region_name)
    tokens: dict[str, str] = {}

    def read() -> list[str]:
        try:
            streams = logs.describe_log_streams(logGroupName=kind.log_group,
                                                logStreamNamePrefix=f"{job_name}/")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:  # nothing logged yet
            return []
        lines: list[str] = []
        for stream in streams:
            name = stream["logStreamName"]
            while True:
                request = {"logGroupName": kind.log_group, "logStreamName": name, "startFromHead": True}
                if name in tokens:
                    request["nextToken"] = tokens[name]
                page = logs.get_log_events(**request)
                lines.extend(event["message"] for event in page["events"])
                if page["nextForwardToken"] == tokens.get(name):
                    break
                tokens[name] = page["nextForwardToken"]
        return lines

    return read
