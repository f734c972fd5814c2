"""CreateModel / CreateEndpointConfig records and model archive handling; shared helpers of the serving tests."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import numpy as np
import pytest
from botocore.validate import validate_parameters

from stepfn.engine.protocol import TaskRequest
from stepfn.errors import StoreError
from stepfn.local.sagemaker import serving
from stepfn.local.sagemaker.endpoints import list_endpoints, stop_endpoint
from stepfn.local.sagemaker.jobdir import safe_extract
from stepfn.local.sagemaker.models import framework_of
from stepfn.local.sagemaker.records import RecordStore, to_botocore_shape

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


class Control:
    """A TaskControl that is never cancelled (or is, after ``cancel_after`` polls)."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.polls = 0
        self.cancel_after = cancel_after
        self.messages: list[str] = []

    def cancelled(self) -> bool:
        self.polls += 1
        return self.cancel_after is not None and self.polls > self.cancel_after

    def heartbeat(self) -> None:
        pass

    def sleep(self, seconds: float) -> bool:
        return not self.cancelled()

    def log(self, message: str) -> None:
        self.messages.append(message)


def call(home: Path, action: str, parameters: Any, pattern: str = "request_response",
         control: Control | None = None) -> Any:
    request = TaskRequest(
        resource=f"arn:aws:states:::sagemaker:{action}", service="sagemaker", action=action,
        pattern=pattern, parameters=parameters, state_name="Step", execution_arn="arn:exec",  # type: ignore[arg-type]
    )
    return serving.handlers(home)[f"sagemaker:{action}"](request, control or Control())


def bare(result: dict[str, Any]) -> dict[str, Any]:
    """A request-response result without the HTTP metadata the optimized integration adds (checked here)."""
    metadata = {key: result.pop(key) for key in ("SdkHttpMetadata", "SdkResponseMetadata")}
    assert metadata["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert metadata["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"] == metadata["SdkResponseMetadata"]["RequestId"]
    return result


def check_shape(operation: str, record: dict[str, Any]) -> None:
    """Validate a record against botocore's output shape of ``operation`` (types, required and known members)."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    validate_parameters(to_botocore_shape(record), model.operation_model(operation).output_shape)


@pytest.fixture
def home(stepfn_home: Path) -> Iterator[Path]:
    """``$STEPFN_HOME`` of the test; every endpoint the test started is stopped at its end."""
    yield stepfn_home
    for endpoint in list_endpoints(stepfn_home):
        stop_endpoint(endpoint["EndpointName"], stepfn_home)


def wait_for_job(home: Path, kind: str, name: str, timeout: float = 120.0) -> dict[str, Any]:
    """The record of a job started without ``.sync`` once it has left InProgress."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = RecordStore(home).get(kind, name) or {}
        status = next((v for k, v in record.items() if k.endswith("JobStatus")), None)
        if status not in (None, "InProgress"):
            return record
        time.sleep(0.05)
    raise AssertionError(f"{kind} {name} still running after {timeout} s")


def tiny_classification(rows: int = 60) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, 3))
    labels = (features[:, 0] + 0.5 * features[:, 1] > 0).astype(int)
    return features, labels


def make_tar(source: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(source.iterdir()):
            tar.add(path, arcname=path.name)
    return archive


def write_arrays(rows: np.ndarray) -> bytes:
    """Dense rows as RecordIO-protobuf, written by the sagemaker-training toolkit's own encoder."""
    from sagemaker_training.recordio import _write_numpy_to_dense_tensor

    buffer = io.BytesIO()
    _write_numpy_to_dense_tensor(buffer, rows)
    return buffer.getvalue()


def test_model_and_endpoint_config_records_have_describe_shapes(home: Path) -> None:
    container = {"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://b/m/model.tar.gz",
                 "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}
    assert bare(call(home, "createModel", {"ModelName": "m", "PrimaryContainer": container, "ExecutionRoleArn": ROLE})) == {
        "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m"}
    assert bare(call(home, "createEndpointConfig", {"EndpointConfigName": "Cfg", "ProductionVariants": [
        {"VariantName": "A", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]})) == {
        "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg"}
    records = RecordStore(home)
    model = records.get("model", "m")
    assert model is not None and model["PrimaryContainer"] == container and model["ExecutionRoleArn"] == ROLE
    check_shape("DescribeModel", model)
    check_shape("DescribeEndpointConfig", records.get("endpoint-config", "Cfg") or {})


@pytest.mark.parametrize(("params", "message"), [
    ({"ModelName": "m"}, "Either PrimaryContainer or Containers"),
    ({"ModelName": "m", "PrimaryContainer": {"ModelDataUrl": "s3://b/k"}}, "needs an Image"),
])
def test_create_model_refuses_incomplete_requests(home: Path, params: dict[str, Any], message: str) -> None:
    from stepfn.errors import StatesError

    with pytest.raises(StatesError) as raised:
        call(home, "createModel", params)
    assert raised.value.error == "SageMaker.AmazonSageMakerException" and message in (raised.value.cause or "")
    assert "Error Code: ValidationException" in (raised.value.cause or "")


def test_endpoint_config_validates_variants(home: Path) -> None:
    from stepfn.errors import StatesError

    call(home, "createModel", {"ModelName": "m", "PrimaryContainer": {"Image": SKLEARN_IMAGE}})
    for variants, message in (([], "must not be null"),
                              ([{"VariantName": "a", "ModelName": "m"}, {"VariantName": "a", "ModelName": "m"}],
                               "not unique")):
        with pytest.raises(StatesError) as raised:
            call(home, "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": variants})
        assert message in (raised.value.cause or "")


def test_framework_of_image_uris() -> None:
    assert framework_of(SKLEARN_IMAGE) == "sklearn"
    assert framework_of(XGBOOST_IMAGE) == "xgboost"
    assert framework_of("382416733822.dkr.ecr.us-east-1.amazonaws.com/kmeans:1") == "kmeans"
    assert framework_of("438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1") == "linear-learner"
    assert framework_of("1234.dkr.ecr.us-east-1.amazonaws.com/mine:latest") is None


def _archive(tmp_path: Path, add: Any) -> Path:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        add(tar)
    return archive


def test_extract_archive_keeps_members_inside(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "code").mkdir(parents=True)
    (source / "code" / "inference.py").write_text("x = 1\n")
    (source / "model.joblib").write_bytes(b"abc")
    destination = tmp_path / "out"
    safe_extract(make_tar(source, tmp_path / "ok.tar.gz"), destination)
    assert (destination / "code" / "inference.py").read_text() == "x = 1\n"
    assert (destination / "model.joblib").read_bytes() == b"abc"


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink"])
def test_extract_archive_refuses_escapes(tmp_path: Path, kind: str) -> None:
    payload = tmp_path / "payload"
    payload.write_text("x")

    def add(tar: tarfile.TarFile) -> None:
        if kind == "dotdot":
            tar.add(payload, arcname="a/../../escaped")
        elif kind == "absolute":
            info = tarfile.TarInfo(str(tmp_path / "escaped"))  # tar.add would strip the leading "/"
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
        else:
            info = tarfile.TarInfo("link")
            info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.LNKTYPE
            info.linkname = "../../etc/passwd" if kind == "symlink" else "/etc/passwd"
            tar.addfile(info)

    destination = tmp_path / "deep" / "out"
    with pytest.raises(StoreError, match=r"outside|absolute path"):
        safe_extract(_archive(tmp_path, add), destination)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "deep" / "escaped").exists()
    assert not (destination / "link").exists()


def test_aws_sdk_describe_tasks_read_the_records(home: Path) -> None:
    # arn:aws:states:::aws-sdk:sagemaker:describeModel reaches this handler (e.g. after a TuningStep).
    from stepfn.errors import StatesError

    call(home, "createModel", {"ModelName": "described", "ExecutionRoleArn": ROLE,
                               "PrimaryContainer": {"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://bucket/m.tar.gz"}})
    described = call(home, "describeModel", {"ModelName": "described"})
    assert described["PrimaryContainer"]["ModelDataUrl"] == "s3://bucket/m.tar.gz"
    check_shape("DescribeModel", described)
    with pytest.raises(StatesError) as raised:
        call(home, "describeTrainingJob", {"TrainingJobName": "never-ran"})
    assert raised.value.error == "SageMaker.AmazonSageMakerException" and "Requested resource not found" in raised.value.cause
    with pytest.raises(StatesError, match="Member must not be null"):
        call(home, "describeEndpoint", {})


def test_aws_sdk_create_model_returns_the_bare_response(home: Path) -> None:
    """The optimized integration adds SdkHttpMetadata; the aws-sdk integration returns the API's response only."""
    request = TaskRequest(
        resource="arn:aws:states:::aws-sdk:sagemaker:createModel", service="sagemaker", action="createModel",
        pattern="request_response", parameters={"ModelName": "plain", "PrimaryContainer": {"Image": SKLEARN_IMAGE}},
        state_name="Step", execution_arn="arn:exec",
    )
    assert serving.handlers(home)["sagemaker:createModel"](request, Control()) == {
        "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/plain"}
