"""boto3 sagemaker / sagemaker-runtime clients against ``stepfn serve``: models, endpoint configs,
endpoints, InvokeEndpoint, and the errors each answers."""

from __future__ import annotations

import json
import tarfile
import textwrap
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import list_endpoints, stop_endpoint
from stepfn.server import TOKEN_HEADER, read_token

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
INFERENCE = textwrap.dedent("""
    import json

    def model_fn(model_dir):
        with open(f"{model_dir}/weights.json") as handle:
            return json.load(handle)

    def input_fn(body, content_type):
        if content_type != "application/json":
            raise ValueError(f"unsupported content type {content_type}")
        return json.loads(body)

    def predict_fn(data, model):
        return [model["scale"] * x for x in data["values"]]

    def output_fn(prediction, accept):
        return json.dumps({"scaled": prediction}), "application/json"
""")


@pytest.fixture
def model_data(stepfn_home: Path, tmp_path: Path) -> Any:
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "weights.json").write_text(json.dumps({"scale": 3}))
    (model_dir / "code" / "inference.py").write_text(INFERENCE)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    yield ObjectStore(stepfn_home / "s3").upload(archive, "s3://models/scale/model.tar.gz")
    for endpoint in list_endpoints(stepfn_home):
        stop_endpoint(endpoint["EndpointName"], stepfn_home)


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def _wait_status(sagemaker: Any, name: str, wanted: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sagemaker.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] in (wanted, "Failed") or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


def test_models_endpoint_configs_endpoints_and_invoke(
    serve: Callable[..., str], make_client: Callable[..., Any], model_data: str
) -> None:
    url = serve()
    sagemaker = make_client("sagemaker", url)
    runtime = make_client("sagemaker-runtime", url)

    created = sagemaker.create_model(
        ModelName="scale", ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_data, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}},
    )
    assert created["ModelArn"].endswith(":model/scale")
    described = sagemaker.describe_model(ModelName="scale")
    assert described["PrimaryContainer"]["ModelDataUrl"] == model_data
    assert isinstance(described["CreationTime"], datetime), "timestamps travel as epoch seconds"
    assert abs(described["CreationTime"].timestamp() - time.time()) < 60
    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_model(ModelName="scale", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE)
    assert _code(duplicate) == ("ValidationException", 400)
    assert "Cannot create already existing model" in str(duplicate.value)

    sagemaker.create_endpoint_config(
        EndpointConfigName="scale-config",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "scale", "InitialInstanceCount": 1,
                             "InstanceType": "ml.m5.large"}],
    )
    config = sagemaker.describe_endpoint_config(EndpointConfigName="scale-config")
    assert config["ProductionVariants"][0]["ModelName"] == "scale"
    with pytest.raises(ClientError) as missing_model:
        sagemaker.create_endpoint_config(
            EndpointConfigName="broken",
            ProductionVariants=[{"VariantName": "v", "ModelName": "nope", "InitialInstanceCount": 1,
                                 "InstanceType": "ml.m5.large"}],
        )
    assert _code(missing_model) == ("ValidationException", 400)

    arn = sagemaker.create_endpoint(EndpointName="scale", EndpointConfigName="scale-config")["EndpointArn"]
    assert arn.endswith(":endpoint/scale")
    described = _wait_status(sagemaker, "scale", "InService")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    assert sagemaker.list_endpoints()["Endpoints"][0]["EndpointName"] == "scale"

    answer = runtime.invoke_endpoint(
        EndpointName="scale", Body=json.dumps({"values": [1, 2]}), ContentType="application/json",
        Accept="application/json",
    )
    assert json.loads(answer["Body"].read()) == {"scaled": [3, 6]}
    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"

    with pytest.raises(ClientError) as model_error:
        runtime.invoke_endpoint(EndpointName="scale", Body=b"a,b", ContentType="text/csv")
    assert _code(model_error) == ("ModelError", 424)
    with pytest.raises(ClientError) as no_endpoint:
        runtime.invoke_endpoint(EndpointName="absent", Body=b"{}", ContentType="application/json")
    assert _code(no_endpoint) == ("ValidationError", 400)

    sagemaker.update_endpoint(EndpointName="scale", EndpointConfigName="scale-config")
    assert _wait_status(sagemaker, "scale", "InService")["EndpointStatus"] == "InService"
    with pytest.raises(ClientError) as update_missing:
        sagemaker.update_endpoint(EndpointName="absent", EndpointConfigName="scale-config")
    assert _code(update_missing) == ("ValidationException", 400)

    assert sagemaker.delete_endpoint(EndpointName="scale")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_endpoint(EndpointName="scale")
    assert _code(gone) == ("ValidationException", 400)
    sagemaker.delete_endpoint_config(EndpointConfigName="scale-config")
    sagemaker.delete_model(ModelName="scale")
    with pytest.raises(ClientError) as model_gone:
        sagemaker.describe_model(ModelName="scale")
    assert "Could not find model" in str(model_gone.value)


def test_endpoint_with_missing_config_is_refused(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    sagemaker = make_client("sagemaker", serve())
    with pytest.raises(ClientError) as error:
        sagemaker.create_endpoint(EndpointName="e", EndpointConfigName="absent")
    assert _code(error) == ("ValidationException", 400)
    assert "Could not find endpoint configuration" in str(error.value)


def test_describe_missing_jobs(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    sagemaker = make_client("sagemaker", serve())
    for call, kwargs, text in (
        (sagemaker.describe_training_job, {"TrainingJobName": "nope"}, "Requested resource not found"),
        (sagemaker.describe_transform_job, {"TransformJobName": "nope"}, "Could not find requested job"),
        (sagemaker.describe_processing_job, {"ProcessingJobName": "nope"}, "Could not find requested job"),
        (sagemaker.describe_hyper_parameter_tuning_job, {"HyperParameterTuningJobName": "nope"}, "can't find a tuning job"),
        (sagemaker.stop_training_job, {"TrainingJobName": "nope"}, "Requested resource not found"),
    ):
        with pytest.raises(ClientError) as error:
            call(**kwargs)
        assert _code(error) == ("ValidationException", 400)
        assert text in str(error.value)


def test_unimplemented_operation(serve: Callable[..., str], make_client: Callable[..., Any]) -> None:
    sagemaker = make_client("sagemaker", serve())
    with pytest.raises(ClientError) as error:
        sagemaker.list_notebook_instances()
    assert _code(error) == ("UnknownOperationException", 400)


def test_server_side_validation_for_non_botocore_clients(serve: Callable[..., str]) -> None:
    url = serve()
    token = {TOKEN_HEADER: read_token() or ""}
    answer = httpx.post(url, content=json.dumps({"PrimaryContainer": {"Image": 5}}),
                        headers={"X-Amz-Target": "SageMaker.CreateModel", "Content-Type": "application/x-amz-json-1.1", **token})
    assert answer.status_code == 400
    body = answer.json()
    assert body["__type"] == "ValidationException"
    assert "ModelName" in body["message"] and "PrimaryContainer.Image" in body["message"]
    assert answer.headers["content-type"].startswith("application/x-amz-json-1.1")
    bad_enum = httpx.post(url, content=json.dumps({"EndpointConfigName": "c", "ProductionVariants": [
        {"VariantName": "v", "ModelName": "m", "InstanceType": "ml.imaginary"}]}),
        headers={"X-Amz-Target": "SageMaker.CreateEndpointConfig", **token})
    assert bad_enum.status_code == 400 and bad_enum.json()["__type"] == "ValidationException"
    assert bad_enum.json()["message"].startswith(
        "1 validation error detected: Value 'ml.imaginary' at 'productionVariants.1.member.instanceType' failed to "
        "satisfy constraint: Member must satisfy enum value set: [")
    not_json = httpx.post(url, content=b"{", headers={"X-Amz-Target": "SageMaker.DescribeModel", **token})
    assert (not_json.status_code, not_json.json()["__type"]) == (400, "SerializationException")
    no_target = httpx.post(url, content=b"{}", headers=token)
    assert (no_target.status_code, no_target.json()["__type"]) == (400, "UnknownOperationException")


@pytest.mark.parametrize(
    ("operation", "kwargs", "text"),
    [
        ("describe_endpoint_config", {"EndpointConfigName": "absent"}, "Could not find endpoint configuration"),
        ("delete_endpoint_config", {"EndpointConfigName": "absent"}, "Could not find endpoint configuration"),
        ("delete_model", {"ModelName": "absent"}, "Could not find model"),
        ("delete_endpoint", {"EndpointName": "absent"}, "Could not find endpoint"),
        ("stop_transform_job", {"TransformJobName": "absent"}, "Could not find requested job"),
        ("stop_processing_job", {"ProcessingJobName": "absent"}, "Could not find requested job"),
        ("stop_hyper_parameter_tuning_job", {"HyperParameterTuningJobName": "absent"}, "can't find a tuning job"),
    ],
)
def test_missing_resources(serve: Callable[..., str], make_client: Callable[..., Any], operation: str,
                           kwargs: dict[str, Any], text: str) -> None:
    sagemaker = make_client("sagemaker", serve())
    with pytest.raises(ClientError) as error:
        getattr(sagemaker, operation)(**kwargs)
    assert _code(error) == ("ValidationException", 400)
    assert text in error.value.response["Error"]["Message"]
