"""Serving for TensorFlow (TF Serving's REST contract), PyTorch and Hugging Face models.

TensorFlow, torch and transformers are not stepfn dependencies: where one is importable the model is really
served (TF: a SavedModel built here, with inference.py's input_handler/output_handler and handler); where it is
not, the endpoint fails with a reason that says what to install.
"""

from __future__ import annotations

import contextlib
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_models import call, home, make_tar

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.inference import Container, InferenceError
from stepfn.local.sagemaker.records import RecordStore
from stepfn.sagemaker import image_uris

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
__all__ = ["home"]  # the fixture, imported from test_models


INFERENCE = '''
import json

def input_handler(data, context):
    assert context.request_content_type == "text/csv", context
    rows = [[float(v) for v in line.split(",")] for line in data.read().decode().splitlines()]
    return json.dumps({"instances": rows})

def output_handler(data, context):
    if data.status_code != 200:
        raise ValueError(data.content.decode("utf-8"))
    predictions = json.loads(data.content)["predictions"]
    return json.dumps({"doubled_plus_one": predictions, "model": context.model_name}), "application/json"
'''

HANDLER = '''
import json
import requests

def handler(data, context):
    response = requests.post(context.rest_uri, data=json.dumps({"instances": json.loads(data.read())}))
    return response.content, context.accept_header
'''


def saved_model(model_dir: Path) -> None:
    """y = 2x + 1 over float32[None, 3], exported as model/1 (TF Serving's <name>/<version>)."""
    tf = pytest.importorskip("tensorflow")

    class Affine(tf.Module):  # type: ignore[misc, name-defined]
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x: Any) -> Any:
            return {"y": 2.0 * x + 1.0}

    module = Affine()
    tf.saved_model.save(module, str(model_dir / "model" / "1"), signatures={"serving_default": module.serve})


def tf_spec(model_dir: Path, program: str | None) -> dict[str, Any]:
    return {"ModelDir": str(model_dir), "CodeDir": str(model_dir / "code"), "Program": program,
            "Framework": "tensorflow", "Environment": {}}


def test_tf_serving_rest_contract_in_process(tmp_path: Path) -> None:
    saved_model(tmp_path)
    container = Container.load(tf_spec(tmp_path, None))
    body, content_type = container.invoke(b'{"instances": [[1, 2, 3], [0, 0, 0]]}', "application/json", None)
    assert (json.loads(body), content_type) == ({"predictions": [[3.0, 5.0, 7.0], [1.0, 1.0, 1.0]]},
                                                "application/json")
    # Simplified JSON: a 1-D array is one instance; CSV and JSON Lines rows are instances; columnar 'inputs'.
    assert json.loads(container.invoke(b"[1, 1, 1]", "application/json", None)[0]) == {"predictions": [[3.0] * 3]}
    assert json.loads(container.invoke(b"1,2,3\n4,5,6", "text/csv", None)[0])["predictions"][1] == [9.0, 11.0, 13.0]
    assert json.loads(container.invoke(b"[0,0,1]\n[1,0,0]", "application/jsonlines", None)[0])["predictions"] == [
        [1.0, 1.0, 3.0], [3.0, 1.0, 1.0]]
    assert json.loads(container.invoke(b'{"inputs": {"x": [[1, 1, 1]]}}', "application/json", None)[0]) == {
        "outputs": [[3.0, 3.0, 3.0]]}
    with pytest.raises(InferenceError, match="not found in signature def"):
        container.invoke(b'{"signature_name": "nope", "instances": [[1, 2, 3]]}', "application/json", None)


def test_tf_inference_py_handlers(tmp_path: Path) -> None:
    saved_model(tmp_path)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(INFERENCE)
    container = Container.load(tf_spec(tmp_path, "inference.py"))
    body, _ = container.invoke(b"1,2,3", "text/csv", "application/json")
    # The container's context names a model only when the request's tfs-model-name attribute does.
    assert json.loads(body) == {"doubled_plus_one": [[3.0, 5.0, 7.0]], "model": None}
    (tmp_path / "code" / "inference.py").write_text(HANDLER)
    sys.modules.pop("inference", None)
    container = Container.load(tf_spec(tmp_path, "inference.py"))
    body, _ = container.invoke(b"[[1, 1, 1]]", "application/json", "application/json")
    assert json.loads(body) == {"predictions": [[3.0, 3.0, 3.0]]}


def test_tensorflow_endpoint_from_a_model_tar(home: Path, tmp_path: Path) -> None:
    """A TensorFlowModel-shaped model (no SAGEMAKER_PROGRAM) on the tensorflow-inference image: served where
    TensorFlow is importable in the model server, else Failed with a reason that says what to install."""
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    try:
        saved_model(model_dir)
        has_tf = True
    except pytest.skip.Exception:
        (model_dir / "model" / "1").mkdir(parents=True)
        (model_dir / "model" / "1" / "saved_model.pb").write_bytes(b"")
        has_tf = False
    uri = ObjectStore().upload(make_tar(model_dir, tmp_path / "model.tar.gz"), "s3://bucket/tf/model.tar.gz")
    image = image_uris.retrieve("tensorflow", "us-east-1", "2.11", instance_type="ml.m5.large",
                                image_scope="inference")
    call(home, "createModel", {"ModelName": "tf", "ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": image, "ModelDataUrl": uri, "Environment": {"SAGEMAKER_PROGRAM": "", "SAGEMAKER_REGION": "us-east-1"}}})
    call(home, "createEndpointConfig", {"EndpointConfigName": "tf-config", "ProductionVariants": [
        {"VariantName": "AllTraffic", "ModelName": "tf", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}]})
    # A failure is recorded on the endpoint, as SageMaker's DescribeEndpoint shows it.
    with contextlib.suppress(Exception):
        call(home, "createEndpoint", {"EndpointName": "tf-ep", "EndpointConfigName": "tf-config"})
    record = RecordStore(home).get("endpoint", "tf-ep") or {}
    server_has_tf = has_tf and record.get("EndpointStatus") == "InService"
    if not server_has_tf:
        assert record.get("EndpointStatus") == "Failed"
        assert "pip install tensorflow" in record.get("FailureReason", ""), record
        return
    from stepfn.sagemaker.tensorflow import TensorFlowPredictor

    assert TensorFlowPredictor("tf-ep").predict([[1, 2, 3]]) == {"predictions": [[3.0, 5.0, 7.0]]}


def test_pytorch_and_huggingface_name_what_to_install(tmp_path: Path) -> None:
    for framework, module, package in (("pytorch", "torch", "pip install torch"),
                                       ("huggingface", "transformers", "pip install transformers")):
        if module in sys.modules or __import__("importlib").util.find_spec(module) is not None:
            continue  # installed here: nothing to name
        spec = {"ModelDir": str(tmp_path), "CodeDir": str(tmp_path), "Program": None, "Framework": framework,
                "Environment": {}}
        (tmp_path / "model.pt").write_bytes(b"")
        (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
        with pytest.raises(InferenceError, match=package.replace(" ", r"\s")):
            Container.load(spec)


def test_pytorch_user_handlers_serve_without_torch(tmp_path: Path) -> None:
    """A PyTorch model whose inference.py brings every function needs no torch from the container."""
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(textwrap.dedent('''
        import json
        def model_fn(model_dir):
            return lambda rows: [sum(row) for row in rows]
        def input_fn(body, content_type):
            return json.loads(body)
        def predict_fn(data, model):
            return model(data)
        def output_fn(prediction, accept):
            return json.dumps(prediction), accept
    '''))
    sys.modules.pop("inference", None)
    container = Container.load({"ModelDir": str(tmp_path), "CodeDir": str(tmp_path / "code"),
                                "Program": "inference.py", "Framework": "pytorch", "Environment": {}})
    assert container.invoke(b"[[1, 2], [3, 4]]", "application/json", "application/json") == (b"[3, 7]",
                                                                                              "application/json")


def test_an_output_fn_that_returns_a_dict_is_answered_as_the_containers_server_answers_it(tmp_path: Path) -> None:
    """The examples' scikit-learn bring-your-own-model script returns ``{"Output": n}`` from ``output_fn``: the
    scikit-learn (and XGBoost) container's Flask worker answers a dict as Flask 1.1's ``jsonify`` (compact, keys
    sorted, a newline, application/json); MMS / TorchServe (PyTorch, Hugging Face) answers any JSON value with
    ``json.dumps(indent=2)`` under the accept type. stepfn's own server and the handler host share the rule."""
    from stepfn.local.sagemaker import handlerhost
    from stepfn.local.sagemaker.handlerhost import attempt

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(textwrap.dedent('''
        import json
        def model_fn(model_dir):
            return lambda rows: [sum(row) for row in rows]
        def input_fn(body, content_type):
            return json.loads(body)["Input"]
        def predict_fn(data, model):
            return model(data)
        def output_fn(prediction, accept):
            return {"Output": int(prediction[0]), "All": prediction} if len(prediction) > 1 else prediction
    '''))
    answers = {}
    for framework in ("sklearn", "pytorch", "generic"):
        sys.modules.pop("inference", None)
        container = Container.load({"ModelDir": str(tmp_path), "CodeDir": str(tmp_path / "code"),
                                    "Program": "inference.py", "Framework": framework, "Environment": {}})
        answers[framework] = [
            attempt(container.invoke, json.dumps({"Input": rows}).encode(), "application/json", "text/csv")
            for rows in ([[1, 2], [3, 4]], [[5, 6]])]
    assert answers["sklearn"][0] == (b'{"All":[3,7],"Output":3}\n', "application/json")
    assert isinstance(answers["sklearn"][1], InferenceError)  # a list is no Flask 1.1 response
    assert str(answers["sklearn"][1]) == "output_fn returned list, expected bytes or str"
    assert answers["pytorch"] == [(json.dumps({"Output": 3, "All": [3, 7]}, indent=2).encode(), "text/csv"),
                                  (b"[\n  11\n]", "text/csv")]
    assert all(isinstance(a, InferenceError) for a in answers["generic"])  # no container's server to follow
    # The handler host (a framework environment's Python) answers by the same function.
    assert handlerhost.SklearnDefaults.object_results == handlerhost.FLASK
    assert handlerhost.XGBoostDefaults.object_results == handlerhost.FLASK
    assert handlerhost.PyTorchDefaults.object_results == handlerhost.MODEL_SERVER
    assert handlerhost.HuggingFaceDefaults.object_results == handlerhost.MODEL_SERVER
