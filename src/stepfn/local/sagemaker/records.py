"""Describe*-shaped records of local SageMaker resources (docs/design/sagemaker-contract.md §6).

One JSON file per resource at ``$STEPFN_HOME/sagemaker/<kind>/<name>.json``; kinds are ``training-job``,
``model``, ``endpoint-config``, ``endpoint``, ``transform-job``, ``processing-job``, ``tuning-job``, and Model
Monitor's ``monitoring-schedule``, ``data-quality-job-definition`` and ``monitoring-execution``
(:mod:`stepfn.local.sagemaker.schedules`).
Writes are atomic (temporary file + rename) and :meth:`RecordStore.create` is atomic across processes
(``os.link`` of a complete file fails if the name exists), which is what makes job names unique as
SageMaker makes them, and what resume after a crash relies on.

Timestamps in records are epoch milliseconds (ints), the JSON form Step Functions gives SageMaker
timestamps in ``.sync`` results; :func:`to_botocore_shape` turns them into datetimes for botocore.
Job logs live at ``$STEPFN_HOME/sagemaker/logs/<kind>/<name>.log``.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.errors import ServiceError, StatesError, StoreError
from stepfn.local.objectstore import stepfn_home

if TYPE_CHECKING:
    from stepfn.engine.protocol import TaskRequest

KINDS = (
    "training-job", "model", "endpoint-config", "endpoint", "transform-job", "processing-job", "tuning-job",
    "monitoring-schedule", "data-quality-job-definition", "monitoring-execution", "experiment", "experiment-trial",
)
REGION = "us-east-1"
_T = TypeVar("_T")
SAGEMAKER_ERROR = "SageMaker.AmazonSageMakerException"
"""The Task error name Step Functions gives SageMaker API errors (Retry/Catch match it)."""

_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")  # fullmatch: "$" would let a trailing newline in
# Experiments and trials take names of up to 120 characters (SageMaker's ExperimentEntityName).
_NAMES = {kind: re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}") for kind in ("experiment", "experiment-trial")}
_ARN_KIND = {"tuning-job": "hyper-parameter-tuning-job"}
_ALREADY_EXISTS = {
    # What SageMaker answers when the name is taken: (error code, message template)
    "training-job": ("ValidationException",
                     "Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})"),
    "transform-job": ("ValidationException",
                      "Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})"),
    "processing-job": ("ValidationException",
                       "Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})"),
    "tuning-job": ("ResourceInUse", "Hyperparameter tuning job with name {name} already exists"),
    "model": ("ValidationException", 'Cannot create already existing model "{arn}".'),
    "endpoint-config": ("ValidationException", 'Cannot create already existing endpoint configuration "{arn}".'),
    "endpoint": ("ValidationException", 'Cannot create already existing endpoint "{arn}".'),
    "monitoring-schedule": ("ResourceInUse", "Monitoring schedule '{arn}' already exists."),
    "data-quality-job-definition": ("ResourceInUse", "Data quality job definition '{arn}' already exists."),
    "monitoring-execution": ("ResourceInUse", "Monitoring execution {name} already exists."),
    "experiment": ("ValidationException", "Experiment names must be unique within an AWS account."),
    "experiment-trial": ("ValidationException", "Trial names must be unique within an AWS account."),
}
_NOT_FOUND = {
    "training-job": "Requested resource not found.",
    "transform-job": "Could not find requested job with name {name}",
    "processing-job": "Could not find requested job with name {name}",
    "tuning-job": "Amazon SageMaker can't find a tuning job with name {name}",
    "model": 'Could not find model "{arn}".',
    "endpoint-config": 'Could not find endpoint configuration "{arn}".',
    "endpoint": 'Could not find endpoint "{arn}".',
}


_last_millis = 0
_millis_lock = threading.Lock()


def now_millis() -> int:
    """The wall clock in epoch milliseconds, never the same twice in this process. Records stamped within one
    millisecond (jobs created back to back, a schedule deleted and made again under its name) keep distinct
    CreationTimes, which listings sort by and a schedule's execution names are made from; the stamps run ahead
    of the wall clock only while more than one a millisecond is asked for."""
    global _last_millis
    with _millis_lock:
        _last_millis = max(_last_millis + 1, time.time_ns() // 1_000_000)
        return _last_millis


def arn(kind: str, name: str, *, region: str = REGION, account: str = LOCAL_ACCOUNT) -> str:
    """``arn:aws:sagemaker:<region>:<account>:<kind>/<name>``, as SageMaker forms them (names lower-cased)."""
    return f"arn:aws:sagemaker:{region}:{account}:{_ARN_KIND.get(kind, kind)}/{name.lower()}"


def sagemaker_error(operation: str, code: str, message: str, *, status: int = 400) -> ServiceError:
    """A ServiceError carrying the Task error name and the cause text Step Functions shows for SageMaker."""
    cause = (
        f"{message} (Service: AmazonSageMaker; Status Code: {status}; Error Code: {code}; "
        f"Request ID: {uuid.uuid4()}; Proxy: null)"
    )
    return ServiceError(
        cause,
        integration="sagemaker",
        operation=operation,
        error=SAGEMAKER_ERROR,
        response={"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
    )


def as_states_error(error: ServiceError) -> StatesError:
    """The Task failure a ServiceError becomes, so Retry/Catch see ``SageMaker.AmazonSageMakerException``."""
    return StatesError(error.error or SAGEMAKER_ERROR, str(error))


def check_name(kind: str, name: Any, operation: str, member: str) -> str:
    """Refuse names SageMaker refuses (they also become file names here, so this guards the store too)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise sagemaker_error(
            operation,
            "ValidationException",
            f"1 validation error detected: Value '{name}' at '{member[:1].lower() + member[1:]}' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}",
        )
    return name


def optimized_result(request: TaskRequest, result: dict[str, Any]) -> dict[str, Any]:
    """A request-response result as the optimized integration returns it: the API's response plus the HTTP
    metadata of SageMaker's JSON reply (the original SDK's integration tests read ``SdkHttpMetadata.HttpStatusCode``)."""
    if ":aws-sdk:" in request.resource:
        return result
    request_id = str(uuid.uuid4())
    headers = {
        "Content-Length": str(len(json.dumps(result, separators=(",", ":")))),
        "Content-Type": "application/x-amz-json-1.1",
        "Date": formatdate(usegmt=True),
        "x-amzn-RequestId": request_id,
    }
    return {**result,
            "SdkHttpMetadata": {"AllHttpHeaders": {key: [value] for key, value in headers.items()},
                                "HttpHeaders": headers, "HttpStatusCode": 200},
            "SdkResponseMetadata": {"RequestId": request_id}}


class RecordStore:
    """JSON records of local SageMaker resources under ``<home>/sagemaker``."""

    def __init__(self, home: Path | str | None = None) -> None:
        self.home = Path(home) if home is not None else stepfn_home()
        self.base = self.home / "sagemaker"

    def path(self, kind: str, name: str) -> Path:
        if kind not in KINDS:
            raise StoreError(f"unknown SageMaker record kind {kind!r}; expected one of {', '.join(KINDS)}")
        if not _NAMES.get(kind, _NAME).fullmatch(name):
            raise StoreError(f"invalid SageMaker resource name {name!r}")
        return self.base / kind / f"{name}.json"

    def log_file(self, kind: str, name: str) -> Path:
        """``<home>/sagemaker/logs/<kind>/<name>.log``, for reading: nothing is created."""
        self.path(kind, name)
        return self.base / "logs" / kind / f"{name}.log"

    def log_path(self, kind: str, name: str) -> Path:
        """:meth:`log_file`, its directory created, for a job about to write it."""
        path = self.log_file(kind, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            text = self.path(kind, name).read_text()
            if not text:
                return None  # claimed by create() a moment ago, content not in place yet
            data: dict[str, Any] = json.loads(text)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read SageMaker {kind} record {name!r}: {exc}") from exc
        return data

    def require(self, kind: str, name: str, operation: str) -> dict[str, Any]:
        """The record, or the ValidationException SageMaker's Describe* raises for a missing resource."""
        record = self.get(kind, name)
        if record is None:
            template = _NOT_FOUND.get(kind, "Could not find {name}")
            raise sagemaker_error(operation, "ValidationException",
                                  template.format(name=name, arn=arn(kind, name)))
        return record

    def put(self, kind: str, name: str, record: dict[str, Any]) -> None:
        target = self.path(kind, name)
        tmp = self._write_tmp(target, record)
        os.replace(tmp, target)

    def create(self, kind: str, name: str, record: dict[str, Any], *, operation: str = "Create") -> None:
        """Store a new record; an existing name raises SageMaker's error for it (ServiceError)."""
        target = self.path(kind, name)
        tmp = self._write_tmp(target, record)
        try:
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise
            except OSError:  # no hard links on this filesystem: claim the name, then fill it in atomically
                os.close(os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                os.replace(tmp, target)
        except FileExistsError:
            code, template = _ALREADY_EXISTS[kind]
            raise sagemaker_error(operation, code, template.format(name=name, arn=arn(kind, name))) from None
        finally:
            tmp.unlink(missing_ok=True)

    def update(self, kind: str, name: str, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into a record and stamp LastModifiedTime; returns the new record."""
        record = self.get(kind, name)
        if record is None:
            raise StoreError(f"no SageMaker {kind} named {name!r}")
        record.update(changes)
        record["LastModifiedTime"] = now_millis()
        self.put(kind, name, record)
        return record

    def delete(self, kind: str, name: str) -> bool:
        try:
            self.path(kind, name).unlink()
        except FileNotFoundError:
            return False
        return True

    def list(self, kind: str) -> list[dict[str, Any]]:
        """Every record of ``kind``, oldest first (by CreationTime, then name)."""
        directory = self.base / kind
        self.path(kind, "x")
        records = []
        for file in sorted(directory.glob("*.json")) if directory.is_dir() else []:
            if file.name.startswith("."):
                continue  # a put or create being written (_write_tmp's file), not a record
            record = self.get(kind, file.stem)
            if record is not None:
                records.append(record)
        return sorted(records, key=lambda r: r.get("CreationTime") or 0)  # stable: ties stay in name order

    def _write_tmp(self, target: Path, record: dict[str, Any]) -> Path:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=1, sort_keys=False)
        return Path(name)


def page_of(items: list[_T], params: dict[str, Any], operation: str) -> tuple[list[_T], str | None]:
    """One page of a SageMaker List* answer: ``MaxResults`` items (default 10) from ``NextToken`` (an offset this
    API handed out) on, and the next page's token while more remain."""
    token = str(params.get("NextToken") or "0")
    if not token.isdigit():  # a token this API never handed out; starting over would loop a paginator forever
        raise sagemaker_error(operation, "ValidationException", f"Invalid pagination token: {token[:64]}")
    start, size = int(token), int(params.get("MaxResults") or 10)
    return items[start:start + size], (str(start + size) if start + size < len(items) else None)


def to_botocore_shape(value: Any, *, keys: frozenset[str] = frozenset()) -> Any:
    """A copy of a record with epoch-millisecond timestamps (members ending in ``Time`` / ``Timestamp``, or named
    in ``keys``) turned into aware datetimes, the form boto3 returns and botocore validates."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            timestamp = key.endswith(("Time", "Timestamp")) or key in keys
            if timestamp and isinstance(item, int | float) and not isinstance(item, bool):
                out[key] = datetime.fromtimestamp(item / 1000, tz=UTC)
            else:
                out[key] = to_botocore_shape(item, keys=keys)
        return out
    if isinstance(value, list):
        return [to_botocore_shape(item, keys=keys) for item in value]
    return value


__all__ = [
    "KINDS",
    "REGION",
    "SAGEMAKER_ERROR",
    "RecordStore",
    "arn",
    "as_states_error",
    "check_name",
    "now_millis",
    "page_of",
    "sagemaker_error",
    "to_botocore_shape",
]
