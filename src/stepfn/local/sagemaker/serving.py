"""Task handlers for the serving half of local SageMaker (docs/design/sagemaker-contract.md §1): models, endpoints, transform,
processing and tuning jobs.

Results follow the Step Functions optimized integration (docs/design/sagemaker-contract.md §2.4): request-response tasks
return the Create* response (``{"ModelArn": ...}``) with the ``SdkHttpMetadata`` / ``SdkResponseMetadata`` members
the service adds (as for SNS, SQS and DynamoDB; ``aws-sdk:sagemaker:*`` Tasks return the bare response); ``.sync`` tasks wait for the job and return its
Describe* record (timestamps as epoch milliseconds). SageMaker API errors become the Task error
``SageMaker.AmazonSageMakerException`` with the service's message as cause; a job that ends Failed fails the
Task with ``States.TaskFailed`` and the Describe* record (JSON) as cause, so Retry/Catch behave as on AWS.
Only the job APIs support ``.sync``; asking it of the others is the ``States.Runtime`` error. A job started
without ``.sync`` is accepted (its name checked and recorded) before the Task returns, then runs on a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepfn.engine.protocol import TaskControl, TaskHandler, TaskRequest
from stepfn.errors import ServiceError, StatesError
from stepfn.local.sagemaker.lifecycle import BY_ACTION, job_failed_error
from stepfn.local.sagemaker.records import RecordStore, as_states_error, optimized_result


def _check_parameters(request: TaskRequest) -> dict[str, Any]:
    if not isinstance(request.parameters, dict):
        raise StatesError(
            "States.Runtime",
            f"The parameters of a sagemaker:{request.action} task must be a JSON object, "
            f"got {type(request.parameters).__name__}",
            state=request.state_name, field="Parameters",
        )
    return request.parameters


def _request_response(home: Path, run: Callable[[Path, dict[str, Any]], dict[str, Any]], *,
                      optimized: bool = True) -> TaskHandler:
    """A request-response-only handler; ``optimized=False`` for the ``aws-sdk:sagemaker:describe*`` actions,
    which only exist as aws-sdk integrations and return the bare response."""
    def handler(request: TaskRequest, control: TaskControl) -> Any:
        if request.pattern != "request_response":
            raise StatesError(
                "States.Runtime",
                f"sagemaker:{request.action} supports only the request-response pattern, not {request.pattern}",
                state=request.state_name, field="Resource",
            )
        try:
            result = run(home, _check_parameters(request))
            return optimized_result(request, result) if optimized else result
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
            return optimized_result(request, {arn_key: record[arn_key]})
        if record[BY_ACTION[request.action].status_key] in ("Failed", "Stopped"):
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
        **{f"sagemaker:{action}": _request_response(home, _describe(action), optimized=False)
           for action in _DESCRIBE},
        "sagemaker:createModel": _request_response(home, _create_model),
        "sagemaker:createEndpointConfig": _request_response(home, _create_endpoint_config),
        "sagemaker:createEndpoint": _request_response(home, _endpoint_operation("create")),
        "sagemaker:updateEndpoint": _request_response(home, _endpoint_operation("update")),
        "sagemaker:deleteEndpoint": _request_response(home, _endpoint_operation("delete")),
        "sagemaker:createTransformJob": _job(home, _transform, "TransformJobArn"),
        "sagemaker:createProcessingJob": _job(home, _processing, "ProcessingJobArn"),
        "sagemaker:createHyperParameterTuningJob": _job(home, _tuning, "HyperParameterTuningJobArn"),
    }


__all__ = ["handlers"]
