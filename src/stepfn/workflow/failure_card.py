"""The failure card: what a person needs first when an execution did not succeed, for every view.

The state (and Map iteration) that failed, the error and its exception line, the SageMaker job it ran with
the last lines of its log, and the ``file:line`` of the user's own source where the exception was raised: a
job runs a copy of the code (``/opt/ml/code/train.py``), mapped back here to the file the user edits. The
CLI, the console and the notebook all render :func:`build_failure_card`'s result; the whole cause (for a
training job, its DescribeTrainingJob record) stays available as ``cause``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepfn.workflow.progress import execution_failure_summary, failed_run

LOG_LINES = 20
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_JOB_CODE = "/opt/ml/code/"
_JOB_NAME_KEYS = {"TrainingJobName": "training-job", "ProcessingJobName": "processing-job",
                  "TransformJobName": "transform-job"}
SOURCE_HEADER = "STEPFN.source"
"""The PAX header ``ObjectStore.upload_code`` writes on each member: the file it was packed from."""


@dataclass(frozen=True)
class SourceLine:
    """A frame of the traceback: where the job ran it, and the user's file it came from (None if unknown)."""

    ran: str
    line: int
    source: str | None

    @property
    def location(self) -> str:
        return f"{self.source or self.ran}:{self.line}"


@dataclass(frozen=True)
class FailureCard:
    status: str
    state: str | None
    iteration: str | None
    error: str | None
    reason: str | None
    """The exception line."""
    cause: str | None
    job_kind: str | None
    job: str | None
    log_tail: list[str] = field(default_factory=list)
    source: SourceLine | None = None
    """The innermost frame of the traceback, mapped to the user's file."""

    @property
    def where(self) -> str:
        return (self.state or "") + (f" in {self.iteration}" if self.iteration else "")

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "state": self.state, "iteration": self.iteration, "error": self.error,
                "reason": self.reason, "cause": self.cause, "jobKind": self.job_kind, "job": self.job,
                "logTail": self.log_tail,
                "source": None if self.source is None else {"ran": self.source.ran, "line": self.source.line,
                                                            "file": self.source.source,
                                                            "location": self.source.location}}


def _job_of(cause: str | None, jobs: list[tuple[str, str]]) -> tuple[str | None, str | None]:
    try:
        record = json.loads(cause or "")
    except ValueError:
        record = None
    if isinstance(record, dict):
        for key, kind in _JOB_NAME_KEYS.items():
            if isinstance(record.get(key), str):
                return kind, record[key]
    return jobs[-1] if jobs else (None, None)


def _source_of(home: Path, record: dict[str, Any] | None, ran: str) -> str | None:
    """The user's file a job's code file was copied from: a ``file://`` source_dir is read in place; an
    ``s3://`` sourcedir.tar.gz names the file each member was packed from (``upload_code``)."""
    if not ran.startswith(_JOB_CODE) or record is None:
        return ran if Path(ran).is_file() else None  # a Lambda's or an in-process frame: already the user's
    relative = ran[len(_JOB_CODE):]
    hyperparameters = record.get("HyperParameters") or {}
    submit = hyperparameters.get("sagemaker_submit_directory", "")
    with contextlib.suppress(TypeError, ValueError):
        submit = json.loads(submit)  # hyperparameters are JSON-encoded strings
    if not isinstance(submit, str) or not submit:
        return None
    from stepfn.errors import StoreError
    from stepfn.local.objectstore import ObjectStore

    store = ObjectStore(home / "s3")
    try:
        local = store.local_path(submit)
    except StoreError:
        return None
    if local.is_dir():
        candidate = local / relative
        return str(candidate) if candidate.is_file() else None
    if local.is_file() and submit.endswith(".tar.gz"):
        try:
            with tarfile.open(fileobj=io.BytesIO(local.read_bytes())) as archive:
                member = archive.getmember(relative)
        except (KeyError, OSError, tarfile.TarError):
            return None
        return member.pax_headers.get(SOURCE_HEADER)
    return str(local) if local.is_file() and local.name == relative else None


def _innermost_frame(texts: list[str]) -> tuple[str, int] | None:
    for text in reversed(texts):
        frames = _FRAME.findall(text.replace('\\"', '"'))
        if frames:
            file, line = frames[-1]
            return file, int(line)
    return None


_ENDINGS = {"ExecutionFailed": "FAILED", "ExecutionTimedOut": "TIMED_OUT", "ExecutionAborted": "ABORTED"}


def ended_badly(events: list[dict[str, Any]]) -> str | None:
    """FAILED, TIMED_OUT or ABORTED when the history ends so (None while running or after success)."""
    return _ENDINGS.get(events[-1].get("type", "")) if events else None


def build_failure_card(status: str, events: list[dict[str, Any]], home: Path | str | None = None) -> FailureCard:
    """The card of an execution that ended with ``status`` (FAILED, TIMED_OUT, ABORTED), from its history and,
    for a SageMaker job, the local job record and log under ``home`` (``$STEPFN_HOME`` by default)."""
    from stepfn.local.sagemaker.records import RecordStore

    failure = execution_failure_summary(status, events)
    run = failed_run(events)
    kind, job = _job_of(failure.cause, run.jobs if run else [])
    records = RecordStore(home)
    record = records.get(kind, job) if kind and job else None
    log_tail: list[str] = []
    if kind and job:
        log = records.log_file(kind, job)
        if log.is_file():
            log_tail = log.read_text(errors="replace").splitlines()[-LOG_LINES:]
    frame = _innermost_frame([failure.cause or "", "\n".join(log_tail)])
    source = None
    if frame is not None:
        source = SourceLine(ran=frame[0], line=frame[1], source=_source_of(records.home, record, frame[0]))
    return FailureCard(status=status, state=failure.state, iteration=failure.iteration, error=failure.error,
                       reason=failure.reason, cause=failure.cause, job_kind=kind, job=job, log_tail=log_tail,
                       source=source)


__all__ = ["LOG_LINES", "FailureCard", "SourceLine", "build_failure_card", "ended_badly"]
