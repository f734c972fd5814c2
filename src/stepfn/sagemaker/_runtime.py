"""Where a Predictor's calls go: the local endpoints, or SageMaker through boto3 (the Session's runtime seam).

A session without a ``boto_session`` invokes and deletes stepfn's local endpoints (model servers on 127.0.0.1
recorded under ``$STEPFN_HOME/sagemaker``); one built on boto3 uses the ``sagemaker-runtime`` and ``sagemaker``
clients. The local side is imported on first use only: authoring code never loads it while building requests.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LocalRuntime",
    "create_endpoint",
    "create_resource",
    "delete_endpoint",
    "delete_endpoint_config",
    "delete_endpoint_models",
    "delete_model",
    "describe_endpoint",
    "describe_training_job",
    "monitoring_call",
    "run_training_job",
    "runtime_client",
    "wait_for_training_job",
]


class LocalRuntime:
    """``invoke_endpoint`` with the sagemaker-runtime request shape, against a local endpoint."""

    def invoke_endpoint(self, *, EndpointName: str, Body: Any, ContentType: str | None = None,
                        Accept: str | None = None, CustomAttributes: str | None = None,
                        TargetVariant: str | None = None, InferenceId: str | None = None,
                        TargetModel: str | None = None, InferenceComponentName: str | None = None) -> dict[str, Any]:
        if TargetModel or InferenceComponentName:
            raise NotImplementedError(
                "Multi-model endpoints (TargetModel) and inference components are not served locally.")
        from stepfn.local.sagemaker.endpoints import invoke_endpoint

        # InferenceId tags the call's captured data (eventMetadata.inferenceId), as on SageMaker.
        return invoke_endpoint(EndpointName=EndpointName, Body=Body, ContentType=ContentType, Accept=Accept,
                               CustomAttributes=CustomAttributes, TargetVariant=TargetVariant, InferenceId=InferenceId)


def runtime_client(boto_session: Any, region: str | None) -> Any:
    if boto_session is not None:
        return boto_session.client("sagemaker-runtime", region_name=region)
    return LocalRuntime()


def _config_of(boto_session: Any, region: str | None, endpoint_name: str) -> dict[str, Any]:
    if boto_session is not None:
        client = boto_session.client("sagemaker", region_name=region)
        name = client.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        config: dict[str, Any] = client.describe_endpoint_config(EndpointConfigName=name)
        return config
    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore()
    config_name = (records.get("endpoint", endpoint_name) or {}).get("EndpointConfigName")
    return (records.get("endpoint-config", config_name) or {}) if config_name else {}


def delete_endpoint(boto_session: Any, region: str | None, endpoint_name: str, *, with_config: bool) -> None:
    """DeleteEndpoint (a local endpoint's model server stops), and DeleteEndpointConfig when asked."""
    config_name = _config_of(boto_session, region, endpoint_name).get("EndpointConfigName") if with_config else None
    if boto_session is not None:
        client = boto_session.client("sagemaker", region_name=region)
        client.delete_endpoint(EndpointName=endpoint_name)
        if config_name:
            client.delete_endpoint_config(EndpointConfigName=config_name)
        return
    from stepfn.local.sagemaker.endpoints import Endpoints
    from stepfn.local.sagemaker.records import RecordStore

    Endpoints().delete({"EndpointName": endpoint_name})
    if config_name:
        RecordStore().delete("endpoint-config", config_name)


def delete_endpoint_models(boto_session: Any, region: str | None, endpoint_name: str) -> None:
    """DeleteModel for every model the endpoint's config serves."""
    names = [variant["ModelName"] for variant in
             _config_of(boto_session, region, endpoint_name).get("ProductionVariants") or []]
    if boto_session is not None:
        client = boto_session.client("sagemaker", region_name=region)
        for name in names:
            client.delete_model(ModelName=name)
        return
    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore()
    for name in names:
        records.delete("model", name)


def describe_endpoint(boto_session: Any, region: str | None, endpoint_name: str) -> dict[str, Any]:
    """DescribeEndpoint (a local endpoint whose server died reads OutOfService, as a failed instance would)."""
    return _describe(boto_session, region, "endpoint", endpoint_name)


def describe_training_job(boto_session: Any, region: str | None, name: str) -> dict[str, Any]:
    return _describe(boto_session, region, "training-job", name)


def _describe(boto_session: Any, region: str | None, kind: str, name: str) -> dict[str, Any]:
    if boto_session is not None:
        method, member = {"endpoint": ("describe_endpoint", "EndpointName"),
                          "training-job": ("describe_training_job", "TrainingJobName")}[kind]
        described: dict[str, Any] = getattr(boto_session.client("sagemaker", region_name=region), method)(
            **{member: name})
        return described
    if kind == "endpoint":
        from stepfn.local.sagemaker.endpoints import Endpoints

        return Endpoints().describe(name)
    from stepfn.local.sagemaker.training import TrainingJobs

    return TrainingJobs().describe(name)


# DeleteEndpointConfig / DeleteModel: boto3's method and argument, and the local record kind they remove.
_DELETES = {"endpoint-config": ("delete_endpoint_config", "EndpointConfigName", "DeleteEndpointConfig"),
            "model": ("delete_model", "ModelName", "DeleteModel")}


def delete_endpoint_config(boto_session: Any, region: str | None, config_name: str) -> None:
    _delete(boto_session, region, "endpoint-config", config_name)


def delete_model(boto_session: Any, region: str | None, model_name: str) -> None:
    _delete(boto_session, region, "model", model_name)


def _delete(boto_session: Any, region: str | None, kind: str, name: str) -> None:
    """Delete one resource; an unknown name is SageMaker's ValidationException, locally too."""
    method, argument, operation = _DELETES[kind]
    if boto_session is not None:
        getattr(boto_session.client("sagemaker", region_name=region), method)(**{argument: name})
        return
    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore()
    records.require(kind, name, operation)
    records.delete(kind, name)


def wait_for_training_job(boto_session: Any, region: str | None, name: str) -> dict[str, Any]:
    """The job's DescribeTrainingJob once it has ended."""
    if boto_session is not None:
        client = boto_session.client("sagemaker", region_name=region)
        client.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=name)
        described: dict[str, Any] = client.describe_training_job(TrainingJobName=name)
        return described
    from stepfn.local.sagemaker.training import TrainingJobs

    return TrainingJobs().wait(name)


def run_training_job(boto_session: Any, region: str | None, request: dict[str, Any], *, wait: bool) -> dict[str, Any]:
    """CreateTrainingJob now (``estimator.fit()``); with ``wait``, the job's final DescribeTrainingJob.

    Locally the job runs under local training's supervisor (detached when not waiting, so it outlives nothing it
    should not and can be stopped from any process); on AWS, boto3's ``training_job_completed_or_stopped`` waiter.
    """
    name = request["TrainingJobName"]
    if boto_session is not None:
        boto_session.client("sagemaker", region_name=region).create_training_job(**request)
    else:
        from stepfn.local.sagemaker.training import TrainingJobs

        TrainingJobs().start(request)
    if not wait:
        return {"TrainingJobName": name, "TrainingJobStatus": "InProgress"}
    return wait_for_training_job(boto_session, region, name)


# CreateModel / CreateEndpointConfig: boto3's method, and the local function that records the resource.
_CREATES = {"model": "create_model", "endpoint-config": "create_endpoint_config"}


def create_resource(boto_session: Any, region: str | None, kind: str, request: dict[str, Any]) -> dict[str, Any]:
    """CreateModel or CreateEndpointConfig now (``model._create_sagemaker_model()``,
    ``session.create_endpoint_config()``); SageMaker's errors (a name taken, a model missing) locally too."""
    method = _CREATES[kind]
    if boto_session is not None:
        created: dict[str, Any] = getattr(boto_session.client("sagemaker", region_name=region), method)(**request)
        return created
    from stepfn.local.sagemaker import models
    from stepfn.local.sagemaker.records import RecordStore

    recorded: dict[str, Any] = getattr(models, method)(RecordStore(), request)
    return recorded


def create_endpoint(boto_session: Any, region: str | None, request: dict[str, Any]) -> None:
    """CreateEndpoint now (``model.deploy()``). A local endpoint's model server has started (or failed) when this
    returns; on AWS the caller waits with DescribeEndpoint."""
    if boto_session is not None:
        boto_session.client("sagemaker", region_name=region).create_endpoint(**request)
        return
    from stepfn.local.sagemaker.endpoints import Endpoints

    Endpoints().create(request)


def monitoring_call(session: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """A Model Monitor operation of the boto3 ``sagemaker`` client (``create_monitoring_schedule``,
    ``list_monitoring_executions``, ...): SageMaker's for a boto3-built session, local SageMaker's otherwise. Locally a
    one-time (NOW) schedule's execution runs before ``create_monitoring_schedule`` returns, as local CreateEndpoint
    returns once the endpoint serves."""
    from .session import aws_boto_session  # session.py builds on this module

    boto_session = aws_boto_session(session)
    if boto_session is not None:
        answer: dict[str, Any] = getattr(boto_session.client("sagemaker", region_name=session.boto_region_name),
                                         method)(**params)
        return answer
    from stepfn.local.sagemaker.schedules import MonitoringSchedules

    schedules = MonitoringSchedules()
    answer = schedules.call(method, params)
    if method == "create_monitoring_schedule":
        schedules.run_due(names=(str(params["MonitoringScheduleName"]),), background=False)
    return answer
