"""TensorFlow models served with the TF Serving container's contract (tfserving.py), in the TensorFlow framework
environment by the handler host.

The request rewriting, the custom attributes and the context are checked without TensorFlow. The slow tests train
and save real models in the TensorFlow 2.16 image's environment (a few hundred MB to build; they run with
``STEPFN_TEST_FRAMEWORK_ENVS=1``, and ``STEPFN_TEST_ENV_DIR`` reuses built environments), deploy them with
``TensorFlowModel.deploy()`` and call them through ``TensorFlowPredictor``:

    STEPFN_TEST_FRAMEWORK_ENVS=1 STEPFN_TEST_ENV_DIR=/tmp/runtime-envs-final \\
        python -m pytest tests/local/test_tf_serving.py -m slow
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from stepfn.local.sagemaker import tfserving
from stepfn.local.sagemaker.envs import environment_for_image, find_python, installed_version, same_release
from stepfn.local.sagemaker.tfserving import TFServingError, parse_custom_attributes, tfs_response_type, to_tfs_request
from stepfn.sagemaker import Session, image_uris
from stepfn.sagemaker.serializers import CSVSerializer, JSONLinesSerializer
from stepfn.sagemaker.tensorflow import TensorFlow, TensorFlowModel, TensorFlowPredictor

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TFSERVING_FILE = Path(tfserving.__file__)


def _request(body: str, content_type: str | None = "application/json") -> object:
    return json.loads(to_tfs_request(body.encode(), content_type))


def test_requests_are_rewritten_as_the_containers_nginx_script_does() -> None:
    # A TF Serving request passes as it is, whichever of its keys it uses.
    assert _request('{"instances": [[1, 2]]}') == {"instances": [[1, 2]]}
    assert _request('{"signature_name": "s", "examples": [{"x": 1}]}') == {"signature_name": "s",
                                                                           "examples": [{"x": 1}]}
    # Other JSON: a list of lists is several instances, anything else one.
    assert _request("[[1, 2], [3, 4]]") == {"instances": [[1, 2], [3, 4]]}
    assert _request("[1, 2]") == {"instances": [[1, 2]]}
    assert _request('{"a": 1}') == {"instances": [{"a": 1}]}
    assert _request("3.5") == {"instances": [3.5]}
    # JSON Lines (by content type or by shape): a row per instance.
    assert _request('[1, 2]\n[3, 4]\n', "application/jsonlines") == {"instances": [[1, 2], [3, 4]]}
    assert _request('{"a": 1}\n{"a": 2}') == {"instances": [{"a": 1}, {"a": 2}]}
    # CSV: numbers stay numbers; one column is a scalar per row; a text first field makes every value text.
    assert _request("1,2.5,3\n4,5,6\n", "text/csv") == {"instances": [[1, 2.5, 3], [4, 5, 6]]}
    assert _request("7\n8\n", "text/csv") == {"instances": [7, 8]}
    assert _request('a,b,c\nd,"e",f', "text/csv") == {"instances": [["a", "b", "c"], ["d", '"e"', "f"]]}
    with pytest.raises(TFServingError) as raised:
        to_tfs_request(b"\x00", "application/x-npy")
    assert raised.value.status == 415
    assert json.loads(str(raised.value)) == {"error": "Unsupported Media Type: application/x-npy"}
    with pytest.raises(TFServingError) as raised:
        to_tfs_request(b"\xff\xfe", "text/csv")
    assert raised.value.status == 400


def test_custom_attributes_pick_the_model_version_and_method() -> None:
    header = "tfs-model-name=half,tfs-model-version=2,tfs-method=classify,trace=on"
    assert parse_custom_attributes(header) == {"tfs-model-name": "half", "tfs-model-version": "2",
                                               "tfs-method": "classify"}
    assert parse_custom_attributes(None) == {} and parse_custom_attributes("a=b") == {}
    # The answer's type is the first Accept type when that asks for JSON or JSON Lines, else TF Serving's JSON.
    assert tfs_response_type("application/jsonlines, application/json") == "application/jsonlines"
    assert tfs_response_type("text/csv") == "application/json" and tfs_response_type(None) == "application/json"


def test_the_context_has_the_containers_fields() -> None:
    # python_service.py's handlers read these by name (tfs_utils.Context).
    assert tfserving.Context._fields == (
        "model_name", "model_version", "method", "rest_uri", "grpc_port", "channel", "custom_attributes",
        "request_content_type", "accept_header", "content_length")


def test_tfserving_runs_under_the_oldest_images_python() -> None:
    # Loaded by path in framework environments (Python 3.9 for TensorFlow 2.11): no newer syntax.
    ast.parse(TFSERVING_FILE.read_text(), feature_version=(3, 7))
    old = find_python("3.7")
    if old is not None:
        subprocess.run([old, "-c", f"import importlib.util as u; s = u.spec_from_file_location('t', "
                        f"{str(TFSERVING_FILE)!r}); m = u.module_from_spec(s); s.loader.exec_module(m); "
                        "print(m.to_tfs_request(b'1,2', 'text/csv'))"], check=True, timeout=60)


# -- served in the TensorFlow 2.16 environment ------------------------------------------------------------------

KERAS = """\
import sys
import keras
import numpy as np

# y = x0 + 2 x1 + 3 x2 + 1, learned.
model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
x = np.random.default_rng(0).normal(size=(256, 3)).astype("float32")
model.fit(x, x @ np.array([[1.0], [2.0], [3.0]], dtype="float32") + 1.0, epochs=60, batch_size=32, verbose=0)
model.export(sys.argv[1])
"""

# An Estimator-style export (tf.estimator is gone from TensorFlow 2.16): serialized tf.Examples in, the
# classification and regression signatures TF Serving's classify and regress need, and a predict default.
CLASSIFIER = """\
import sys
import tensorflow as tf

v1 = tf.compat.v1
signatures = v1.saved_model.signature_def_utils
with tf.Graph().as_default():
    examples = v1.placeholder(tf.string, [None], name="tf_example")
    features = tf.io.parse_example(examples, {"x": tf.io.FixedLenFeature([2], tf.float32),
                                              "bias": tf.io.FixedLenFeature([1], tf.float32, [0.0])})
    x = features["x"]
    probability = tf.sigmoid(x[:, 0] - x[:, 1])
    scores = tf.stack([1.0 - probability, probability], axis=1)
    classes = tf.tile(tf.constant([["no", "yes"]]), [tf.shape(x)[0], 1])
    value = tf.reshape(2.0 * x[:, 0] + x[:, 1] + features["bias"][:, 0], [-1, 1])
    direct = v1.placeholder(tf.float32, [None, 2], name="x")
    with v1.Session() as session:
        builder = v1.saved_model.Builder(sys.argv[1])
        builder.add_meta_graph_and_variables(session, [v1.saved_model.tag_constants.SERVING], signature_def_map={
            "serving_default": signatures.predict_signature_def({"x": direct}, {"sum": tf.reduce_sum(direct, 1)}),
            "classification": signatures.classification_signature_def(examples, classes, scores),
            "regression": signatures.regression_signature_def(examples, value),
        })
        builder.save()
"""

HANDLERS = '''\
import json

def input_handler(data, context):
    rows = [[float(v) for v in line.split(",")] for line in data.read().decode().splitlines() if line]
    return json.dumps({"instances": rows})

def output_handler(response, context):
    if response.status_code != 200:
        raise ValueError(response.content.decode("utf-8"))
    seen = {name: getattr(context, name) for name in context._fields if name not in ("rest_uri", "channel")}
    return json.dumps({"predictions": response.json()["predictions"], "context": seen}), "application/json"
'''

HANDLER = '''\
import json
import requests

def handler(data, context):
    status = requests.get(context.rest_uri.rsplit(":", 1)[0]).json()
    response = requests.post(context.rest_uri, data=data.read())
    return json.dumps({"answer": response.json(), "status": status, "uri": context.rest_uri}), "application/json"
'''


@pytest.fixture
def tf_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The TensorFlow 2.16 image's Python, as a user gets it by default (auto: stepfn's Python has no TF)."""
    if os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1":
        pytest.skip("downloads TensorFlow (hundreds of MB): set STEPFN_TEST_FRAMEWORK_ENVS=1")
    if same_release(installed_version("tensorflow"), "2.16"):
        pytest.skip("stepfn's Python has tensorflow 2.16: by default the model is served there")
    monkeypatch.setenv("STEPFN_JOB_ENV", "auto")
    monkeypatch.setenv("STEPFN_ENV_DIR", os.environ.get("STEPFN_TEST_ENV_DIR") or str(tmp_path / "envs"))
    image = image_uris.retrieve("tensorflow", "us-east-1", "2.16", instance_type="ml.m5.large",
                                image_scope="inference")
    environment = environment_for_image(image, lambda line: None)
    assert environment is not None
    yield str(environment.python)


def _saved(tf_python: str, script: str, base: Path, where: str, code: dict[str, str] | None = None) -> str:
    """``script`` run in the TF environment saves a SavedModel at ``base/where``; ``code`` goes to ``base/code``;
    returns the uploaded model.tar.gz."""
    result = subprocess.run([tf_python, "-c", script, str(base / where)], timeout=600, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    for name, text in (code or {}).items():
        (base / "code").mkdir(exist_ok=True)
        (base / "code" / name).write_text(text)
    archive = base.parent / f"{base.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(base.iterdir()):
            tar.add(path, arcname=path.name)
    session = Session()
    return session.upload_data(str(archive), session.default_bucket(), f"tf/{base.name}")


def _deploy(model_data: str, name: str, **kwargs: object) -> TensorFlowPredictor:
    model = TensorFlowModel(model_data=model_data, role=ROLE, framework_version="2.16", **kwargs)
    predictor = model.deploy(1, "ml.m5.large", endpoint_name=name)
    assert isinstance(predictor, TensorFlowPredictor)
    return predictor


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_keras_model_answers_tf_servings_rest_contract_from_its_environment(
        tf_python: str, tmp_path: Path) -> None:
    uri = _saved(tf_python, KERAS, tmp_path / "keras", "export/Servo/1")
    predictor = _deploy(uri, "tf-keras")
    try:
        answer = predictor.predict({"instances": [[1, 1, 1], [0, 0, 0]]})
        assert [row[0] for row in answer["predictions"]] == pytest.approx([7.0, 1.0], abs=0.05)
        # The container's simplifications: a bare list is one instance, a list of lists several.
        assert predictor.predict([1, 0, 0])["predictions"][0][0] == pytest.approx(2.0, abs=0.05)
        assert len(predictor.predict([[1, 0, 0], [0, 1, 0]])["predictions"]) == 2
        assert predictor.predict({"inputs": {"x": [[0, 0, 1]]}})["outputs"][0][0] == pytest.approx(4.0, abs=0.05)
        # CSV and JSON Lines rows become instances.
        csv = TensorFlowPredictor("tf-keras", serializer=CSVSerializer()).predict([[0, 1, 0], [0, 0, 0]])
        assert [row[0] for row in csv["predictions"]] == pytest.approx([3.0, 1.0], abs=0.05)
        lines = TensorFlowPredictor("tf-keras", serializer=JSONLinesSerializer()).predict([[1, 1, 0], [0, 0, 0]])
        assert [row[0] for row in lines["predictions"]] == pytest.approx([4.0, 1.0], abs=0.05)
        # The model is Servo (export/Servo/1): another name or version is TF Serving's 404, passed on.
        with pytest.raises(Exception, match=r"Servable not found for request: Latest\(nope\)"):
            TensorFlowPredictor("tf-keras", model_name="nope").predict([1, 1, 1])
        with pytest.raises(Exception, match=r"Specific\(Servo, 7\)"):
            TensorFlowPredictor("tf-keras", model_name="Servo", model_version="7").predict([1, 1, 1])
        named = TensorFlowPredictor("tf-keras", model_name="Servo", model_version="1").predict([0, 0, 0])
        assert named["predictions"][0][0] == pytest.approx(1.0, abs=0.05)
    finally:
        predictor.delete_endpoint()
    log = (Path(os.environ["STEPFN_HOME"])).rglob("*.log")
    assert any("served in the tensorflow environment" in path.read_text(errors="replace") for path in log)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_classify_and_regress_use_the_models_classification_and_regression_signatures(
        tf_python: str, tmp_path: Path) -> None:
    uri = _saved(tf_python, CLASSIFIER, tmp_path / "classifier", "1")
    predictor = _deploy(uri, "tf-classifier")
    try:
        classified = predictor.classify({"signature_name": "classification",
                                         "examples": [{"x": [1.0, 3.0]}, {"x": [3.0, 1.0]}]})
        assert [[label for label, _ in row] for row in classified["results"]] == [["no", "yes"], ["no", "yes"]]
        # sigmoid(x0 - x1): 0.119 for (1, 3), 0.881 for (3, 1).
        assert [row[1][1] for row in classified["results"]] == pytest.approx([0.1192, 0.8808], abs=1e-3)
        # Context features go into every example.
        regressed = predictor.regress({"signature_name": "regression", "context": {"bias": 10.0},
                                       "examples": [{"x": [1.0, 3.0]}, {"x": [0.0, 0.5]}]})
        assert regressed == {"results": pytest.approx([15.0, 10.5])}
        # The default signature is a predict one: classify refuses it as TF Serving does.
        with pytest.raises(Exception, match=r"Expected classification signature method_name to be "
                                            r"tensorflow/serving/classify\. Was: tensorflow/serving/predict"):
            predictor.classify({"examples": [{"x": [1.0, 3.0]}]})
        with pytest.raises(Exception, match="Unexpected element type in feature: x expecting type: float"):
            predictor.regress({"signature_name": "regression", "examples": [{"x": [1.0, 3]}]})
        assert predictor.predict({"instances": [[1.0, 2.0]]}) == {"predictions": [3.0]}
    finally:
        predictor.delete_endpoint()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_inference_py_handlers_see_the_containers_context(tf_python: str, tmp_path: Path) -> None:
    # input_handler/output_handler from code/inference.py inside model.tar.gz, as the container finds them.
    uri = _saved(tf_python, KERAS, tmp_path / "handlers", "export/Servo/1", {"inference.py": HANDLERS})
    predictor = _deploy(uri, "tf-handlers")
    try:
        csv = TensorFlowPredictor("tf-handlers", serializer=CSVSerializer())
        answer = csv.predict([[1, 1, 1]], custom_attributes="tfs-model-version=1,trace=on")
        assert answer["predictions"][0][0] == pytest.approx(7.0, abs=0.05)
        assert answer["context"] == {
            "model_name": None, "model_version": "1", "method": None, "grpc_port": None,
            "custom_attributes": "tfs-model-version=1,trace=on", "request_content_type": "text/csv",
            "accept_header": "application/json", "content_length": len("1,1,1")}
    finally:
        predictor.delete_endpoint()
    # handler(data, context) from an entry point and source_dir (TensorFlowModel(entry_point=...)) posts to
    # context.rest_uri itself: TF Serving's REST API, served by the host on 127.0.0.1.
    source = tmp_path / "source"
    source.mkdir()
    (source / "inference.py").write_text(HANDLER)
    uri = _saved(tf_python, KERAS, tmp_path / "plain", "model/1")
    predictor = _deploy(uri, "tf-handler", entry_point="inference.py", source_dir=str(source))
    try:
        answer = predictor.predict({"instances": [[0, 0, 0]]})
        assert answer["answer"]["predictions"][0][0] == pytest.approx(1.0, abs=0.05)
        assert answer["uri"].startswith("http://127.0.0.1:") and answer["uri"].endswith("/v1/models/model:predict")
        assert answer["status"]["model_version_status"][0]["state"] == "AVAILABLE"
        # That REST API answers only programs on this machine: a rebound DNS name or a web page is refused.
        rest = urlsplit(answer["uri"])
        body = b'{"instances": [[0, 0, 0]]}'
        for headers in ({"Host": "attacker.example"}, {"Origin": "http://attacker.example"}, {}):
            connection = http.client.HTTPConnection("127.0.0.1", rest.port, timeout=30)
            connection.request("POST", rest.path, body=body, headers={"Content-Type": "text/plain", **headers})
            response = connection.getresponse()
            assert response.status == (200 if not headers else 403), (headers, response.read())
            connection.close()
    finally:
        predictor.delete_endpoint()


TRAIN = """\
import argparse
import os

import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--model_dir")  # the TensorFlow estimator passes it; the SavedModel goes to SM_MODEL_DIR
parser.add_argument("--epochs", type=int, default=80)
args, _ = parser.parse_known_args()
rows = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAINING"], "train.csv"), delimiter=",", dtype="float32")
model = tf.keras.Sequential([tf.keras.Input((2,), name="x"), tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.SGD(0.02), loss="mse")
model.fit(rows[:, 1:], rows[:, :1], epochs=args.epochs, verbose=0)
model.export(os.path.join(os.environ["SM_MODEL_DIR"], "1"))
"""


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_tensorflow_estimator_trains_and_deploys_in_its_environment(tf_python: str, tmp_path: Path) -> None:
    """A notebook's flow: fit() in the TensorFlow image's environment, deploy(), predict(), with no TensorFlow in
    stepfn's Python."""
    (tmp_path / "train.py").write_text(TRAIN)
    session = Session()
    rows = "".join(f"{2 * a + 3 * b + 1},{a},{b}\n" for a in range(-2, 3) for b in range(-2, 3))
    train = session.upload_string_as_file_body(rows, session.default_bucket(), "tf-estimator/train/train.csv")
    estimator = TensorFlow(entry_point=str(tmp_path / "train.py"), framework_version="2.16", py_version="py310",
                           role=ROLE, instance_type="ml.m5.large", instance_count=1,
                           hyperparameters={"epochs": 120})
    estimator.fit({"training": train.rsplit("/", 1)[0]})
    predictor = estimator.deploy(1, "ml.m5.large", endpoint_name="tf-estimator")
    try:
        assert isinstance(predictor, TensorFlowPredictor)
        answer = predictor.predict({"instances": [[1.0, 1.0], [0.0, -1.0]]})
        assert [row[0] for row in answer["predictions"]] == pytest.approx([6.0, -2.0], abs=0.1)
    finally:
        predictor.delete_endpoint()
    # Batch transform of CSV lines: each request's rows are the TF Serving request's instances.
    data = session.upload_string_as_file_body("1,1\n0,-1\n2,0\n", session.default_bucket(), "tf-estimator/in/x.csv")
    transformer = estimator.transformer(1, "ml.m5.large", strategy="MultiRecord",
                                        output_path=f"s3://{session.default_bucket()}/tf-estimator/out")
    transformer.transform(data, content_type="text/csv", split_type="Line")
    output = json.loads(session.read_s3_file(session.default_bucket(), "tf-estimator/out/x.csv.out"))
    assert [row[0] for row in output["predictions"]] == pytest.approx([6.0, -2.0, 5.0], abs=0.1)
