"""Task handlers for the serving half of local SageMaker (docs/design/sagemaker-contract.md §1): models, endpoints, transform,
processing and tuning jobs.

Results follow the Step Functions optimized integration (docs/design/sagemaker-contract.md §2.4): request-response tasks
return the Create* response (``{"ModelArn": ...}``); ``.sync`` tasks wait for the job and return its
Describe* record (timestamps as epoch milliseconds). SageMaker API errors become the Task error
``SageMaker.AmazonSageMakerException`` with the service's message as cause; a job that ends Failed fails the
Task with ``States.TaskFailed`` and the Describe* record (JSON) as cause, so Retry/Catch behave as on AWS.
Only the job APIs support ``.sync``; asking it of the others is the ``States.Runtime`` error. A job started
without ``.sync`` is accepted (its name checked and recorded) before the Task returns, then runs on a thread.
"""

from __future__ import annotations

import contextlib
import json
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import ServiceError, StatesError
from stepfn.local.sagemaker.records import RecordStore, as_states_error, now_millis

_SYNC_STATUS = {
    "createTransformJob": "TransformJobStatus",
    "createProcessingJob": "ProcessingJobStatus",
    "createHyperParameterTuningJob": "HyperParameterTuningJobStatus",
}


def begin_job(
    records: RecordStore, kind: str, name: str, record: dict[str, Any], *, operation: str, resumed: bool
) -> dict[str, Any] | None:
    """Store a new job record (a taken name is SageMaker's ValidationException). When the engine re-dispatches a
    task whose process died (``resumed``), an existing job that already ended is returned instead of re-run, and
    one left InProgress by the dead process starts over under the same name."""
    if resumed and (existing := records.get(kind, name)) is not None:
        status = next((value for key, value in existing.items() if key.endswith("JobStatus")), None)
        if status in ("Completed", "Failed", "Stopped"):
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
        prefix = {"transform-job": "Transform", "processing-job": "Processing",
                  "tuning-job": "HyperParameterTuning"}[kind]
        end_key = "HyperParameterTuningEndTime" if kind == "tuning-job" else f"{prefix}EndTime"
        return finish_job(records, kind, name, f"{prefix}JobStatus", "Failed", end_key,
                          failure=f"InternalServerError: {type(exc).__name__}: {exc}")


def update_job(records: RecordStore, kind: str, name: str, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into a job record; LastModifiedTime only where the Describe shape has one
    (DescribeTransformJob has none)."""
    record = records.get(kind, name) or {}
    record.update(changes)
    if kind != "transform-job":
        record["LastModifiedTime"] = now_millis()
    records.put(kind, name, record)
    return record


def finish_job(records: RecordStore, kind: str, name: str, status_key: str, status: str, end_key: str,
               failure: str | None = None, **changes: Any) -> dict[str, Any]:
    """Stamp a job's terminal status, end time and (first 1024 characters of) failure reason."""
    if failure is not None:
        changes["FailureReason"] = failure[:1024]
    return update_job(records, kind, name, **{status_key: status, end_key: now_millis()}, **changes)


def job_failed_error(record: dict[str, Any]) -> StatesError:
    """The Task failure of a ``.sync`` job that ended Failed (or Stopped): its Describe* record as cause."""
    return StatesError("States.TaskFailed", json.dumps(record, default=str))


def _check_parameters(request: TaskRequest) -> dict[str, Any]:
    if not isinstance(request.parameters, dict):
        raise StatesError(
            "States.Runtime",
            f"The parameters of a sagemaker:{request.action} task must be a JSON object, "
            f"got {type(request.parameters).__name__}",
            state=request.state_name, field="Parameters",
        )
    return request.parameters


def _request_response(home: Path, run: Callable[[Path, dict[str, Any]], dict[str, Any]]) -> TaskHandler:
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        if request.pattern != "request_response":
            raise StatesError(
                "States.Runtime",
                f"sagemaker:{request.action} supports only the request-response pattern, not {request.pattern}",
                state=request.state_name, field="Resource",
            )
        try:
            return run(home, _check_parameters(request))
        except ServiceError as exc:
            raise as_states_error(exc) from exc

    return handler


def _job(home: Path, run: Callable[[Path, dict[str, Any], TaskRequest, TaskControl], dict[str, Any]], arn_key: str) -> TaskHandler:
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        if request.pattern not in ("request_response", "sync"):
            raise StatesError(
                "States.Runtime",
                f"sagemaker:{request.action} supports request-response and .sync, not {request.pattern}",
                state=request.state_name, field="Resource",
            )
        try:
            record = run(home, _check_parameters(request), request, control)
        except ServiceError as exc:
            raise as_states_error(exc) from exc
        if request.pattern == "request_response":
            return {arn_key: record[arn_key]}
        if record[_SYNC_STATUS[request.action]] in ("Failed", "Stopped"):
            raise job_failed_error(record)
        return record

    return handler


def _create_model(home: Path, params: dict[str, Any]) -> dict[str, Any]:
    from stepfn.local.sagemaker.models import create_model
    from stepfn.local.sagemaker.records import RecordStore

    return create_model(RecordStore(home), params)


def _create_endpoint_config(home: Path, params: dict[str, Any]) -> dict[str, Any]:
    from stepfn.local.sagemaker.models import create_endpoint_config
    from stepfn.local.sagemaker.records import RecordStore

    return create_endpoint_config(RecordStore(home), params)


def _endpoint_operation(name: str) -> Callable[[Path, dict[str, Any]], dict[str, Any]]:
    def run(home: Path, params: dict[str, Any]) -> dict[str, Any]:
        from stepfn.local.sagemaker.endpoints import Endpoints

        result: dict[str, Any] = getattr(Endpoints(home), name)(params)
        return result

    return run


def _transform(home: Path, params: dict[str, Any], request: TaskRequest, control: TaskControl) -> dict[str, Any]:
    from stepfn.local.sagemaker.transform import run_transform_job

    return run_transform_job(home, params, resumed=request.resumed, control=control,
                             background=request.pattern == "request_response")


def _processing(home: Path, params: dict[str, Any], request: TaskRequest, control: TaskControl) -> dict[str, Any]:
    from stepfn.local.sagemaker.processing import run_processing_job

    return run_processing_job(home, params, resumed=request.resumed, control=control,
                              background=request.pattern == "request_response")


def _tuning(home: Path, params: dict[str, Any], request: TaskRequest, control: TaskControl) -> dict[str, Any]:
    from stepfn.local.sagemaker.tuning import run_tuning_job

    return run_tuning_job(home, params, resumed=request.resumed, control=control,
                          background=request.pattern == "request_response")


# ``aws-sdk:sagemaker:describe*`` Tasks (e.g. the best training job's artifacts after a TuningStep): the record
# kind and the request member naming it. The engine sends aws-sdk resources to the plain action's handler.
_DESCRIBE = {
    "describeTrainingJob": ("training-job", "TrainingJobName"),
    "describeTransformJob": ("transform-job", "TransformJobName"),
    "describeProcessingJob": ("processing-job", "ProcessingJobName"),
    "describeHyperParameterTuningJob": ("tuning-job", "HyperParameterTuningJobName"),
    "describeModel": ("model", "ModelName"),
    "describeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "describeEndpoint": ("endpoint", "EndpointName"),
}


def _describe(action: str) -> Callable[[Path, dict[str, Any]], dict[str, Any]]:
    kind, member = _DESCRIBE[action]
    operation = action[0].upper() + action[1:]

    def run(home: Path, params: dict[str, Any]) -> dict[str, Any]:
        from stepfn.local.sagemaker.records import sagemaker_error

        name = params.get(member)
        if not isinstance(name, str):
            raise sagemaker_error(operation, "ValidationException", f"1 validation error detected: Value null at "
                                  f"'{member[0].lower() + member[1:]}' failed to satisfy constraint: Member must not be null")
        if kind == "endpoint":
            from stepfn.local.sagemaker.endpoints import Endpoints

            described: dict[str, Any] = Endpoints(home).describe(name)
            return described
        return dict(RecordStore(home).require(kind, name, operation))

    return run


def handlers(home: Path) -> dict[str, TaskHandler]:
    """The serving-side SageMaker handlers for the engine, all keeping their state under ``home``."""
    home = Path(home)
    return {
        **{f"sagemaker:{action}": _request_response(home, _describe(action)) for action in _DESCRIBE},
        "sagemaker:createModel": _request_response(home, _create_model),
        "sagemaker:createEndpointConfig": _request_response(home, _create_endpoint_config),
        "sagemaker:createEndpoint": _request_response(home, _endpoint_operation("create")),
        "sagemaker:updateEndpoint": _request_response(home, _endpoint_operation("update")),
        "sagemaker:deleteEndpoint": _request_response(home, _endpoint_operation("delete")),
        "sagemaker:createTransformJob": _job(home, _transform, "TransformJobArn"),
        "sagemaker:createProcessingJob": _job(home, _processing, "ProcessingJobArn"),
        "sagemaker:createHyperParameterTuningJob": _job(home, _tuning, "HyperParameterTuningJobArn"),
    }


__all__ = ["begin_job", "finish_job", "handlers", "job_failed_error", "run_detached", "run_guarded", "update_job"]
