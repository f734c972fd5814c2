"""Local models, endpoint configs and endpoints: real model server processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_models import (
    ROLE,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
    bare,
    call,
    check_shape,
    home,
    make_tar,
    tiny_classification,
)

from stepfn.errors import ServiceError, StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.endpoints import Endpoints, invoke_endpoint, list_endpoints, stop_endpoint
from stepfn.local.sagemaker.records import RecordStore

__all__ = ["home"]


@pytest.fixture
def sklearn_model(home: Path, tmp_path: Path) -> tuple[str, Any, np.ndarray]:
    """A LogisticRegression trained here, packed as model.tar.gz with an inference script in code/."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    features, labels = tiny_classification()
    model = LogisticRegression().fit(features, labels)
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    joblib.dump(model, model_dir / "model.joblib")
    (model_dir / "code" / "inference.py").write_text(textwrap.dedent("""
        import json, os
        import joblib
        import numpy as np

        def model_fn(model_dir):
            return joblib.load(os.path.join(model_dir, "model.joblib"))

        def input_fn(body, content_type):
            assert content_type == "application/json", content_type
            return np.array(json.loads(body)["rows"])

        def predict_fn(data, model):
            return model.predict_proba(data)[:, 1]

        def output_fn(prediction, accept):
            return json.dumps({"scores": prediction.round(6).tolist(), "accept": accept}), "application/json"
    """))
    uri = ObjectStore(home / "s3").upload(make_tar(model_dir, tmp_path / "model.tar.gz"), "s3://bucket/sk/model.tar.gz")
    return uri, model, features


def _deploy(home: Path, name: str, image: str, model_data: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": image, "ModelDataUrl": model_data}
    if env:
        container["Environment"] = env
    call(home, "createModel", {"ModelName": name, "PrimaryContainer": container, "ExecutionRoleArn": ROLE})
    call(home, "createEndpointConfig", {
        "EndpointConfigName": f"{name}-config",
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                                "InstanceType": "ml.m5.large"}],
    })
    result: dict[str, Any] = call(home, "createEndpoint", {"EndpointName": f"{name}-ep", "EndpointConfigName": f"{name}-config"})
    return result


def test_script_mode_endpoint_serves_user_handlers(home: Path, sklearn_model: tuple[str, Any, np.ndarray]) -> None:
    uri, model, features = sklearn_model
    result = _deploy(home, "skmodel", SKLEARN_IMAGE, uri, {"SAGEMAKER_PROGRAM": "inference.py",
                                                           "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})
    assert bare(result) == {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/skmodel-ep"}

    records = RecordStore(home)
    for operation, kind, name in (("DescribeModel", "model", "skmodel"),
                                  ("DescribeEndpointConfig", "endpoint-config", "skmodel-config"),
                                  ("DescribeEndpoint", "endpoint", "skmodel-ep")):
        check_shape(operation, records.get(kind, name) or {})
    assert records.get("endpoint", "skmodel-ep")["EndpointStatus"] == "InService"

    response = invoke_endpoint("skmodel-ep", json.dumps({"rows": features[:4].tolist()}),
                               ContentType="application/json", Accept="application/json", home=home)
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    body = json.loads(response["Body"].read())
    assert body["scores"] == pytest.approx(model.predict_proba(features[:4])[:, 1].round(6).tolist())
    assert body["accept"] == "application/json"

    [listed] = list_endpoints(home)
    assert listed["EndpointStatus"] == "InService" and listed["Url"].startswith("http://127.0.0.1:")
    # A web page reaching the model server (rebound DNS name, or any cross-origin request) is refused.
    import httpx

    rows = json.dumps({"rows": features[:1].tolist()})
    for headers in ({"Host": "attacker.example"}, {"Origin": "http://attacker.example"}):
        refused = httpx.post(listed["Url"] + "/invocations", content=rows,
                             headers={"Content-Type": "application/json", **headers})
        assert refused.status_code == 403 and httpx.get(listed["Url"] + "/ping", headers=headers).status_code == 403
    assert httpx.post(listed["Url"] + "/invocations", content=rows,
                      headers={"Content-Type": "application/json", "Host": "localhost"}).status_code == 200


def test_endpoint_survives_the_creating_process(home: Path, sklearn_model: tuple[str, Any, np.ndarray]) -> None:
    uri, _model, features = sklearn_model
    call(home, "createModel", {"ModelName": "m", "PrimaryContainer": {
        "Image": SKLEARN_IMAGE, "ModelDataUrl": uri,
        "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}})
    call(home, "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [
        {"VariantName": "v", "ModelName": "m"}]})
    # CreateEndpoint in another Python process, which exits before the endpoint is used.
    script = (
        "import sys; from stepfn.local.sagemaker.endpoints import Endpoints; "
        "print(Endpoints(sys.argv[1]).create({'EndpointName': 'e', 'EndpointConfigName': 'c'}))"
    )
    subprocess.run([sys.executable, "-c", script, str(home)], check=True, timeout=120, capture_output=True)
    server = Endpoints(home).server("e")
    assert server is not None and server.pid != os.getpid()
    response = invoke_endpoint("e", json.dumps({"rows": features[:2].tolist()}), "application/json", home=home)
    assert len(json.loads(response["Body"].read())["scores"]) == 2
    assert stop_endpoint("e", home) is True
    assert Endpoints(home).server("e") is None
    assert RecordStore(home).get("endpoint", "e")["EndpointStatus"] == "OutOfService"
    with pytest.raises(ServiceError) as raised:
        invoke_endpoint("e", b"1,2,3", "text/csv", home=home)
    assert raised.value.error == "ValidationError"


def test_sklearn_default_handlers_and_model_errors(home: Path, tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    features, labels = tiny_classification()
    model = LogisticRegression().fit(features, labels)
    model_dir = tmp_path / "plain"
    model_dir.mkdir()
    joblib.dump(model, model_dir / "model.joblib")
    uri = ObjectStore(home / "s3").upload(make_tar(model_dir, tmp_path / "plain.tar.gz"), "s3://bucket/plain/model.tar.gz")
    _deploy(home, "plain", SKLEARN_IMAGE, uri)
    csv_rows = "\n".join(",".join(str(v) for v in row) for row in features[:5])
    response = invoke_endpoint("plain-ep", csv_rows, "text/csv", "application/json", home=home)
    assert json.loads(response["Body"].read()) == model.predict(features[:5].astype("float32")).tolist()
    response = invoke_endpoint("plain-ep", csv_rows, "text/csv", "text/csv", home=home)
    assert response["Body"].read().decode().split() == [str(v) for v in model.predict(features[:5].astype("float32"))]
    with pytest.raises(ServiceError) as raised:
        invoke_endpoint("plain-ep", b"\x00\x01", "application/x-image", home=home)
    assert raised.value.error == "ModelError"
    assert raised.value.response is not None and raised.value.response["OriginalStatusCode"] == 415
    with pytest.raises(ServiceError) as raised:
        invoke_endpoint("plain-ep", "1,2", "text/csv", home=home)  # wrong feature count: the model raises
    assert raised.value.response is not None and raised.value.response["OriginalStatusCode"] == 500
    with pytest.raises(ServiceError) as raised:
        invoke_endpoint("nope", "1", "text/csv", home=home)
    assert raised.value.error == "ValidationError"


def test_xgboost_default_handlers(home: Path, tmp_path: Path) -> None:
    import xgboost as xgb

    features, labels = tiny_classification()
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(features, label=labels), 5)
    model_dir = tmp_path / "xgb"
    model_dir.mkdir()
    with warnings.catch_warnings():  # the built-in's file name has no extension; xgboost warns about the format
        warnings.simplefilter("ignore", UserWarning)
        booster.save_model(str(model_dir / "xgboost-model"))
    uri = ObjectStore(home / "s3").upload(make_tar(model_dir, tmp_path / "x.tar.gz"), "s3://bucket/xgb/model.tar.gz")
    _deploy(home, "xgb", XGBOOST_IMAGE, uri)
    csv_rows = "\n".join(",".join(str(v) for v in row) for row in features[:3])
    response = invoke_endpoint("xgb-ep", csv_rows, "text/csv", home=home)
    expected = booster.predict(xgb.DMatrix(features[:3]))
    assert [float(v) for v in response["Body"].read().decode().split(",")] == pytest.approx(expected.tolist(), rel=1e-6)
    assert response["ContentType"] == "text/csv"
    libsvm = "\n".join(" ".join(f"{i}:{v}" for i, v in enumerate(row)) for row in features[:3])
    response = invoke_endpoint("xgb-ep", libsvm, "text/libsvm", home=home)
    assert [float(v) for v in response["Body"].read().decode().split(",")] == pytest.approx(expected.tolist(), rel=1e-5)


def test_update_endpoint_swaps_model_and_delete_stops_it(home: Path, tmp_path: Path, sklearn_model: tuple[str, Any, np.ndarray]) -> None:
    import joblib
    from sklearn.dummy import DummyClassifier

    uri, _model, features = sklearn_model
    _deploy(home, "first", SKLEARN_IMAGE, uri, {"SAGEMAKER_PROGRAM": "inference.py"})
    old = Endpoints(home).server("first-ep")
    dummy_dir = tmp_path / "dummy"
    dummy_dir.mkdir()
    joblib.dump(DummyClassifier(strategy="constant", constant=7).fit(features, [7] * len(features)), dummy_dir / "model.joblib")
    dummy_uri = ObjectStore(home / "s3").upload(make_tar(dummy_dir, tmp_path / "d.tar.gz"), "s3://bucket/dummy/model.tar.gz")
    call(home, "createModel", {"ModelName": "second", "PrimaryContainer": {"Image": SKLEARN_IMAGE, "ModelDataUrl": dummy_uri}})
    call(home, "createEndpointConfig", {"EndpointConfigName": "second-config", "ProductionVariants": [
        {"VariantName": "Blue", "ModelName": "second", "InitialVariantWeight": 1.0}]})
    result = call(home, "updateEndpoint", {"EndpointName": "first-ep", "EndpointConfigName": "second-config"})
    assert bare(result) == {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/first-ep"}
    new = Endpoints(home).server("first-ep")
    assert old is not None and new is not None and new.pid != old.pid
    assert not Path(f"/proc/{old.pid}").exists() or b"inference" not in Path(f"/proc/{old.pid}/cmdline").read_bytes()
    response = invoke_endpoint("first-ep", "0,0,0", "text/csv", "application/json", home=home)
    assert json.loads(response["Body"].read()) == [7]
    assert response["InvokedProductionVariant"] == "Blue"
    record = RecordStore(home).get("endpoint", "first-ep")
    assert record is not None and record["EndpointConfigName"] == "second-config"
    check_shape("DescribeEndpoint", record)

    assert bare(call(home, "deleteEndpoint", {"EndpointName": "first-ep"})) == {}
    assert RecordStore(home).get("endpoint", "first-ep") is None
    assert not Path(f"/proc/{new.pid}").exists() or b"inference" not in Path(f"/proc/{new.pid}/cmdline").read_bytes()


def test_failing_model_marks_endpoint_failed(home: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "broken"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text("def model_fn(model_dir):\n    raise RuntimeError('no weights here')\n")
    uri = ObjectStore(home / "s3").upload(make_tar(model_dir, tmp_path / "b.tar.gz"), "s3://bucket/broken/model.tar.gz")
    _deploy(home, "broken", SKLEARN_IMAGE, uri, {"SAGEMAKER_PROGRAM": "inference.py"})
    record = RecordStore(home).get("endpoint", "broken-ep")
    assert record is not None and record["EndpointStatus"] == "Failed"
    assert "no weights here" in record["FailureReason"]
    check_shape("DescribeEndpoint", record)


def test_create_errors_as_sagemaker_raises_them(home: Path, sklearn_model: tuple[str, Any, np.ndarray]) -> None:
    uri, _model, _features = sklearn_model
    call(home, "createModel", {"ModelName": "dup", "PrimaryContainer": {"Image": SKLEARN_IMAGE, "ModelDataUrl": uri}})
    with pytest.raises(StatesError) as raised:
        call(home, "createModel", {"ModelName": "dup", "PrimaryContainer": {"Image": SKLEARN_IMAGE}})
    assert raised.value.error == "SageMaker.AmazonSageMakerException"
    assert "Cannot create already existing model" in (raised.value.cause or "")
    with pytest.raises(StatesError) as raised:
        call(home, "createEndpointConfig", {"EndpointConfigName": "c", "ProductionVariants": [
            {"VariantName": "v", "ModelName": "missing"}]})
    assert 'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/missing"' in (raised.value.cause or "")
    with pytest.raises(StatesError) as raised:
        call(home, "createEndpoint", {"EndpointName": "e", "EndpointConfigName": "nope"})
    assert "Could not find endpoint configuration" in (raised.value.cause or "")
    with pytest.raises(StatesError) as raised:
        call(home, "createModel", {"ModelName": "bad_name", "PrimaryContainer": {"Image": SKLEARN_IMAGE}})
    assert "regular expression pattern" in (raised.value.cause or "")
    with pytest.raises(StatesError) as raised:
        call(home, "createModel", {"ModelName": "m2"}, pattern="sync")
    assert raised.value.error == "States.Runtime"
    # An image stepfn cannot serve, with no entry point: a clear failure on the endpoint.
    call(home, "createModel", {"ModelName": "byo", "PrimaryContainer": {"Image": "1234.dkr.ecr.us-east-1.amazonaws.com/mine:1"}})
    call(home, "createEndpointConfig", {"EndpointConfigName": "byo-c", "ProductionVariants": [{"VariantName": "v", "ModelName": "byo"}]})
    call(home, "createEndpoint", {"EndpointName": "byo-e", "EndpointConfigName": "byo-c"})
    record = RecordStore(home).get("endpoint", "byo-e")
    assert record is not None and record["EndpointStatus"] == "Failed" and "cannot be served locally" in record["FailureReason"]


def test_model_archive_cannot_escape_its_directory(home: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar.gz"
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as tar:
        tar.add(payload, arcname="../../escaped.txt")
    uri = ObjectStore(home / "s3").upload(evil, "s3://bucket/evil/model.tar.gz")
    _deploy(home, "evil", SKLEARN_IMAGE, uri)
    record = RecordStore(home).get("endpoint", "evil-ep")
    assert record is not None and record["EndpointStatus"] == "Failed"
    assert "outside" in record["FailureReason"]
    assert not list(home.rglob("escaped.txt"))


BYO_SERVER = """
import json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
assert sys.argv[1:] == ["serve"], sys.argv
weights = open(os.path.join(os.environ["SAGEMAKER_BASE_DIR"], "model", "weights.txt")).read().strip()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/ping" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        answer = json.dumps({"echo": body.upper(), "weights": weights, "accept": self.headers.get("Accept")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

HTTPServer(("127.0.0.1", int(os.environ["SAGEMAKER_BIND_TO_PORT"])), Handler).serve_forever()
"""


def test_registered_image_serves_with_its_own_command_and_restarts(home: Path, tmp_path: Path) -> None:
    from stepfn.local.sagemaker.endpoints import start_endpoint
    from stepfn.local.sagemaker.images import register_image, unregister_image

    server = tmp_path / "serve.py"
    server.write_text(BYO_SERVER)
    (tmp_path / "byo").mkdir()
    (tmp_path / "byo" / "weights.txt").write_text("w-42\n")
    uri = ObjectStore(home / "s3").upload(make_tar(tmp_path / "byo", tmp_path / "byo.tar.gz"), "s3://bucket/byo/model.tar.gz")
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-server:latest"
    register_image(image, [sys.executable, str(server)], persist=True, home=home)
    try:
        _deploy(home, "byo", image, uri)
        record = RecordStore(home).get("endpoint", "byo-ep")
        assert record is not None and record["EndpointStatus"] == "InService", record.get("FailureReason")
        response = invoke_endpoint("byo-ep", "hello", "text/plain", "application/json", home=home)
        assert json.loads(response["Body"].read()) == {"echo": "HELLO", "weights": "w-42", "accept": "application/json"}
        assert response["InvokedProductionVariant"] == "AllTraffic"

        assert stop_endpoint("byo-ep", home) is True
        assert start_endpoint("byo-ep", home)["EndpointStatus"] == "InService"
        response = invoke_endpoint("byo-ep", "again", "text/plain", home=home)
        assert json.loads(response["Body"].read())["echo"] == "AGAIN"
    finally:
        unregister_image(image, home=home)


def test_data_capture_writes_sagemaker_capture_records(home: Path, sklearn_model: tuple[str, Any, np.ndarray]) -> None:
    uri, _model, features = sklearn_model
    call(home, "createModel", {"ModelName": "cap", "PrimaryContainer": {
        "Image": SKLEARN_IMAGE, "ModelDataUrl": uri, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}})
    call(home, "createEndpointConfig", {
        "EndpointConfigName": "cap", "ProductionVariants": [{"VariantName": "Main", "ModelName": "cap"}],
        "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": 100,
                              "DestinationS3Uri": "s3://bucket/capture", "CaptureOptions": [
                                  {"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                              "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]}}})
    call(home, "createEndpoint", {"EndpointName": "cap", "EndpointConfigName": "cap"})
    record = RecordStore(home).get("endpoint", "cap") or {}
    assert record["DataCaptureConfig"]["CaptureStatus"] == "Started"
    check_shape("DescribeEndpoint", record)
    body = json.dumps({"rows": features[:2].tolist()})
    answer = invoke_endpoint("cap", body, "application/json", "application/json", InferenceId="call-1",
                             home=home)["Body"].read().decode()
    invoke_endpoint("cap", body, "application/json", "text/plain", home=home)
    store = ObjectStore(home / "s3")

    def captured() -> tuple[list[str], list[Any]]:
        files = sorted(store.list("s3://bucket/capture/cap/Main/"))  # hour folder, then mm-ss-mmm: oldest first
        return files, [json.loads(line) for file in files for line in store.get_bytes(file).decode().splitlines()]

    # Written off the request path, a moment later: one file as a rule (the writer gathers the calls of half a
    # second, tests/local/test_capture.py), two when the machine was slow between the calls or an hour turned.
    deadline = time.monotonic() + 30
    while len(captured()[1]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    files, (event, second) = captured()
    assert all(re.fullmatch(r"s3://bucket/capture/cap/Main/\d{4}/\d\d/\d\d/\d\d/\d\d-\d\d-\d{3}-[0-9a-f-]{36}\.jsonl",
                            file) for file in files), files
    assert event["captureData"]["endpointInput"] == {"observedContentType": "application/json", "mode": "INPUT",
                                                     "data": body, "encoding": "JSON"}
    assert event["captureData"]["endpointOutput"]["data"] == answer
    assert event["eventVersion"] == "0" and event["eventMetadata"]["eventId"]
    assert event["eventMetadata"]["inferenceId"] == "call-1"
    hour = datetime.strptime(event["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert f"/{hour:%Y/%m/%d/%H}/" in files[0]
    assert second["captureData"]["endpointInput"]["data"] == body
    assert "inferenceId" not in second["eventMetadata"]


def test_transform_fn_from_a_sourcedir_in_the_object_store(home: Path, tmp_path: Path) -> None:
    from test_training_support import sourcedir

    store = ObjectStore(home / "s3")
    code = sourcedir(store, "s3://bucket/serving-code/sourcedir.tar.gz", {
        "serve.py": "from helper import scale\n"
                    "def model_fn(model_dir, context):\n"
                    "    return {'factor': float(open(model_dir + '/factor.txt').read()), 'ctx': context is not None}\n"
                    "def transform_fn(model, body, content_type, accept):\n"
                    "    values = [scale(float(v), model['factor']) for v in body.decode().split(',')]\n"
                    "    return ','.join(str(v) for v in values) + f';{content_type};{accept};{model[\"ctx\"]}', 'text/plain'\n",
        "helper.py": "def scale(value, factor):\n    return value * factor\n",
    })
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "factor.txt").write_text("2.5")
    uri = store.upload(make_tar(tmp_path / "m", tmp_path / "m.tar.gz"), "s3://bucket/factor/model.tar.gz")
    _deploy(home, "factor", "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310", uri,
            {"SAGEMAKER_PROGRAM": "serve.py", "SAGEMAKER_SUBMIT_DIRECTORY": code})
    response = invoke_endpoint("factor-ep", "1,2", "text/csv", "text/plain", home=home)
    assert response["Body"].read().decode() == "2.5,5.0;text/csv;text/plain;True"
    assert response["ContentType"] == "text/plain"


def test_a_zombie_server_does_not_count_as_running(tmp_path: Path) -> None:
    import time

    from stepfn.local.sagemaker.endpoints import _alive, _started

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    start = _started(child.pid)
    assert start is not None
    deadline = time.monotonic() + 30
    while ") Z " not in Path(f"/proc/{child.pid}/stat").read_text() and time.monotonic() < deadline:
        time.sleep(0.02)  # exited but not reaped: a zombie, as a server stopped by another process becomes
    assert Path(f"/proc/{child.pid}").exists()
    assert not _alive(child.pid, start)
    child.wait()
