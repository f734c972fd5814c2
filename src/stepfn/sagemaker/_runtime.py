"""Where a Predictor's calls go: the local endpoints, or SageMaker through boto3 (the Session's runtime seam).

A session without a ``boto_session`` invokes and deletes stepfn's local endpoints (model servers on 127.0.0.1
recorded under ``$STEPFN_HOME/sagemaker``); one built on boto3 uses the ``sagemaker-runtime`` and ``sagemaker``
clients. The local side is imported on first use only: authoring code never loads it while building requests.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalRuntime", "delete_endpoint", "delete_endpoint_config", "delete_endpoint_models", "delete_model",
           "describe_endpoint", "runtime_client"]


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

        # InferenceId only tags captured data on SageMaker; the local capture has no field for it.
        return invoke_endpoint(EndpointName=EndpointName, Body=Body, ContentType=ContentType, Accept=Accept,
                               CustomAttributes=CustomAttributes, TargetVariant=TargetVariant)


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
    if boto_session is not None:
        described: dict[str, Any] = boto_session.client("sagemaker", region_name=region).describe_endpoint(
            EndpointName=endpoint_name)
        return described
    from stepfn.local.sagemaker.endpoints import Endpoints

    return Endpoints().describe(endpoint_name)


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
