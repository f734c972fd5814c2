"""The images' toolkit packages that scripts import (``sagemaker_containers``, ``sagemaker_xgboost_container``), as
stepfn provides them: what each function does for the inputs it accepts, what it refuses, which images get them, and
a script-mode XGBoost job plus its model served (in stepfn's Python and in a handler host) that use them as the
examples' abalone scripts do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_training_support import XGBOOST_IMAGE, sourcedir, training_request

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker import handlerhost
from stepfn.local.sagemaker.toolkits import CONTAINERS, XGBOOST, paths_for

xgb = pytest.importorskip("xgboost")
_PACKAGES = ("sagemaker_containers", "sagemaker_xgboost_container")


def _forget() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] in _PACKAGES]:
        del sys.modules[name]


@pytest.fixture
def toolkits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The toolkit folders on this process's path, as a job of the XGBoost image gets them."""
    _forget()
    for entry in reversed(paths_for("xgboost")):
        monkeypatch.syspath_prepend(entry)
    yield
    _forget()


def test_only_the_images_that_ship_a_toolkit_get_it() -> None:
    assert paths_for("sklearn") == [str(CONTAINERS)]
    assert paths_for("xgboost") == [str(CONTAINERS), str(XGBOOST)]
    assert paths_for("pytorch") == [] and paths_for("tensorflow") == [] and paths_for(None) == []
    assert (CONTAINERS / "sagemaker_containers" / "beta" / "framework" / "__init__.py").is_file()
    assert not (CONTAINERS / "sagemaker_xgboost_container").exists()


def test_encoders_and_content_types(toolkits: None) -> None:
    from sagemaker_containers.beta.framework import content_types, encoders, errors

    assert (content_types.JSON, content_types.CSV, content_types.NPY) == (
        "application/json", "text/csv", "application/x-npy")
    rows = np.array([[1.5, 2.0], [3.0, 4.25]])
    assert encoders.encode(rows, content_types.CSV) == "1.5,2.0\n3.0,4.25\n"
    assert json.loads(encoders.encode(rows, content_types.JSON)) == [[1.5, 2.0], [3.0, 4.25]]
    for kind in (content_types.CSV, content_types.JSON, content_types.NPY):
        body = encoders.encode(rows, kind)
        np.testing.assert_array_equal(encoders.decode(body, kind), rows)
    np.testing.assert_array_equal(encoders.decode(b"1,2\n3,4\n", "text/csv"), [[1, 2], [3, 4]])  # bytes too
    assert encoders.decode("[1, 2]", content_types.JSON).tolist() == [1, 2]
    with pytest.raises(errors.UnsupportedFormatError, match="Content type text/plain is not supported"):
        encoders.decode("x", "text/plain")
    with pytest.raises(errors.UnsupportedFormatError):
        encoders.encode(rows, "text/csv; charset=utf-8")  # the toolkit's maps key on the bare type
    # A pickled object array in a request body is refused: it would run code in the model server.
    with pytest.raises(ValueError, match="allow_pickle"):
        encoders.decode(encoders.array_to_npy(np.array([{"a": 1}], dtype=object)), content_types.NPY)


def test_worker_response_is_answered_with_its_type_and_status(toolkits: None) -> None:
    from sagemaker_containers.beta.framework import worker

    assert handlerhost.answer(worker.Response("1,2\n", mimetype="text/csv"), "application/json") == (
        b"1,2\n", "text/csv; charset=utf-8")
    assert handlerhost.answer(worker.Response(json.dumps({"a": 1}), accept="application/json"), "text/csv") == (
        b'{"a": 1}', "application/json")
    assert handlerhost.answer(worker.Response(b"\x00\x01"), "text/csv") == (b"\x00\x01", "application/json")
    with pytest.raises(handlerhost.InferenceError, match="no such type") as refused:
        handlerhost.answer(worker.Response("no such type", status=415), "text/csv")
    assert refused.value.status == 415


def test_training_env_is_the_jobs(toolkits: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import sagemaker_containers
    from sagemaker_containers.beta.framework import modules

    monkeypatch.delenv("SM_TRAINING_ENV", raising=False)
    with pytest.raises(RuntimeError, match="SM_TRAINING_ENV is not set"):
        sagemaker_containers.training_env()
    monkeypatch.setenv("SM_TRAINING_ENV", json.dumps({
        "hosts": ["algo-1"], "current_host": "algo-1", "model_dir": "/opt/ml/model",
        "hyperparameters": {"max_depth": 5, "e": 0.2, "opts": {"b": 1, "a": "x"}},
        "channel_input_dirs": {"train": "/opt/ml/input/data/train"}}))
    monkeypatch.setenv("SM_MODEL_DIR", "/opt/ml/model")
    env = sagemaker_containers.training_env()
    assert env.hosts == ["algo-1"] and env.model_dir == "/opt/ml/model" and env["current_host"] == "algo-1"
    assert env.channel_input_dirs == {"train": "/opt/ml/input/data/train"}
    assert env.to_cmd_args() == ["-e", "0.2", "--max_depth", "5", "--opts", "a=x,b=1"]
    assert env.to_env_vars()["SM_MODEL_DIR"] == "/opt/ml/model"
    with pytest.raises(AttributeError, match="no 'num_gpus'"):
        _ = env.num_gpus
    with pytest.raises(AttributeError, match=r"does not provide beta\.framework\.modules\.import_module"):
        _ = modules.import_module


def test_hostname_wait_and_one_host_rabit_run(toolkits: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from sagemaker_containers import entry_point
    from sagemaker_xgboost_container import distributed

    monkeypatch.setenv("SM_TRAINING_ENV", json.dumps({"hosts": ["localhost"]}))
    entry_point._wait_hostname_resolution()  # returns once each host resolves
    # A job's own host that does not resolve (a job stepfn does not isolate) never will: it raises at once.
    monkeypatch.setenv("SM_TRAINING_ENV", json.dumps({"hosts": ["localhost", "algo-9.stepfn.invalid"]}))
    with pytest.raises(OSError, match=r"host algo-9\.stepfn\.invalid does not resolve: stepfn names its hosts only"):
        entry_point._wait_hostname_resolution()
    with pytest.raises(OSError, match="does not resolve"):
        distributed.wait_hostname_resolution(["algo-9.stepfn.invalid"])
    calls: list[dict[str, Any]] = []
    distributed.rabit_run(exec_fun=lambda **kw: calls.append(kw), args={"a": 1}, include_in_training=True,
                          hosts=["algo-1"], current_host="algo-1", update_rabit_args=True)
    assert calls == [{"a": 1, "is_master": True}]
    with pytest.raises(NotImplementedError, match="one host only; this job has 2"):
        distributed.rabit_run(lambda **kw: None, {}, True, ["algo-1", "algo-2"], "algo-1")
    with pytest.raises(RuntimeError, match="No hosts received training data"):
        distributed.rabit_run(lambda **kw: None, {}, False, ["algo-1"], "algo-1")


def test_get_dmatrix_reads_a_channel(toolkits: None, tmp_path: Path) -> None:
    from sagemaker_xgboost_container.data_utils import get_dmatrix

    libsvm = tmp_path / "libsvm"
    libsvm.mkdir()
    (libsvm / "part-1").write_text("3 1:0.5 3:2\n")
    (libsvm / "part-2").write_text("7 2:1.5\n")
    matrix = get_dmatrix(str(libsvm), "libsvm")
    assert matrix.num_row() == 2 and matrix.get_label().tolist() == [3.0, 7.0]
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "train.csv").write_text("1,0.5,2\n0,1.5,3\n1,2.5,4\n")
    matrix = get_dmatrix(str(tmp_path / "csv"), "csv")
    assert (matrix.num_row(), matrix.num_col()) == (3, 2) and matrix.get_label().tolist() == [1.0, 0.0, 1.0]
    assert get_dmatrix(str(tmp_path / "absent"), "libsvm") is None  # no such channel
    with pytest.raises(ValueError, match="parquet is not supported"):
        get_dmatrix(str(libsvm), "parquet")
    with pytest.raises(ValueError, match="file-mode channels only"):
        get_dmatrix(str(libsvm), "libsvm", is_pipe=True)


def test_encoder_decodes_request_bodies(toolkits: None) -> None:
    from sagemaker_containers.beta.framework import errors
    from sagemaker_xgboost_container import encoder

    matrix = encoder.libsvm_to_dmatrix(b"0 1:1 2:2\n0 2:4\n")
    assert (matrix.num_row(), matrix.num_col()) == (2, 3)
    matrix = encoder.csv_to_dmatrix("1,2,\n3,4,5")
    assert (matrix.num_row(), matrix.num_col()) == (2, 3)
    assert encoder.decode(b"1;2\n3;4", "text/csv; charset=utf-8").num_row() == 2  # the sniffed delimiter
    assert encoder.decode(b"0 1:1", "text/x-libsvm").num_col() == 2
    with pytest.raises(ValueError, match="does not decode RecordIO-protobuf"):
        encoder.decode(b"", "application/x-recordio-protobuf")
    with pytest.raises(errors.UnsupportedFormatError):
        encoder.decode(b"{}", "application/json")
    assert encoder.json_to_jsonlines({"predictions": [{"score": 1}, {"score": 2}]}) == (
        b'{"score": 1}\n{"score": 2}\n')


# A script-mode XGBoost job as the examples' abalone script writes it: hyperparameters from argparse, channels from
# SM_CHANNEL_*, the toolkit's get_dmatrix and rabit_run, the model pickled into SM_MODEL_DIR.
TRAIN = '''
import argparse, json, os, pickle
import xgboost as xgb
from sagemaker_containers import entry_point
from sagemaker_xgboost_container import distributed
from sagemaker_xgboost_container.data_utils import get_dmatrix

def train(params, dtrain, evals, num_boost_round, model_dir, is_master):
    booster = xgb.train(params=params, dtrain=dtrain, evals=evals, num_boost_round=num_boost_round)
    if is_master:
        pickle.dump(booster, open(os.path.join(model_dir, "xgboost-model"), "wb"))

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_depth", type=int)
    parser.add_argument("--num_round", type=int)
    parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
    args, _ = parser.parse_known_args()
    hosts = json.loads(os.environ["SM_HOSTS"])
    dtrain = get_dmatrix(args.train, "libsvm")
    dval = get_dmatrix(args.validation, "libsvm")
    if len(hosts) > 1:
        entry_point._wait_hostname_resolution()
    distributed.rabit_run(exec_fun=train, args=dict(
        params={"max_depth": args.max_depth, "objective": "reg:squarederror"}, dtrain=dtrain,
        evals=[(dtrain, "train"), (dval, "validation")], num_boost_round=args.num_round, model_dir=args.model_dir),
        include_in_training=dtrain is not None, hosts=hosts, current_host=os.environ["SM_CURRENT_HOST"],
        update_rabit_args=True)
'''

INFERENCE = '''
import os, pickle
import numpy as np
import sagemaker_xgboost_container.encoder as xgb_encoders
from sagemaker_containers.beta.framework import worker

def model_fn(model_dir):
    return pickle.load(open(os.path.join(model_dir, "xgboost-model"), "rb"))

def input_fn(request_body, request_content_type):
    if request_content_type == "text/libsvm":
        return xgb_encoders.libsvm_to_dmatrix(request_body)
    raise ValueError("Content type {} is not supported.".format(request_content_type))

def predict_fn(input_data, model):
    return model.predict(input_data)

def output_fn(predictions, content_type):
    return worker.Response(",".join("%.3f" % p for p in predictions), mimetype="text/csv")
'''


def _libsvm(rows: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(rows):
        x = rng.uniform(0, 1, 3)
        lines.append(f"{10 * x[0] + 2 * x[1]:.4f} 1:{x[0]:.4f} 2:{x[1]:.4f} 3:{x[2]:.4f}")
    return "\n".join(lines) + "\n"


def test_an_xgboost_script_using_the_toolkits_trains_and_serves(stepfn_home: Path, tmp_path: Path) -> None:
    from stepfn.local.sagemaker.hosted import HostedContainer
    from stepfn.local.sagemaker.inference import Container
    from stepfn.local.sagemaker.training import TrainingJobs

    store = ObjectStore(stepfn_home / "s3")
    code = sourcedir(store, "s3://bucket/abalone/sourcedir.tar.gz", {"abalone.py": TRAIN})
    store.put_bytes("s3://bucket/abalone/train/train.libsvm", _libsvm(200, 0).encode())
    store.put_bytes("s3://bucket/abalone/validation/validation.libsvm", _libsvm(50, 1).encode())
    jobs = TrainingJobs(stepfn_home)
    record = jobs.run(training_request("abalone", image=XGBOOST_IMAGE, max_runtime=300, hyperparameters={
        "sagemaker_program": '"abalone.py"', "sagemaker_submit_directory": json.dumps(code),
        "max_depth": "3", "num_round": "20"}, channels={
        "train": "s3://bucket/abalone/train/", "validation": "s3://bucket/abalone/validation/"}))
    assert record["TrainingJobStatus"] == "Completed", (record.get("FailureReason"),
                                                        jobs.log_path("abalone").read_text()[-3000:])
    # The XGBoost image's metrics apply in script mode too: read from the lines xgb.train prints.
    metrics = {m["MetricName"]: m["Value"] for m in record["FinalMetricDataList"]}
    assert {"train:rmse", "validation:rmse"} <= set(metrics) and metrics["validation:rmse"] > 0
    model_dir = jobs.job_dir("abalone").model
    assert (model_dir / "xgboost-model").is_file()

    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "inference.py").write_text(textwrap.dedent(INFERENCE))
    spec = {"ModelDir": str(model_dir), "CodeDir": str(tmp_path / "code"), "Program": "inference.py",
            "Framework": "xgboost", "Environment": {}}
    body = b"0 1:0.5 2:0.5 3:0.1\n0 1:0.1 2:0.9 3:0.5\n"  # LIBSVM rows begin with a label, ignored
    sys.modules.pop("inference", None)
    own = Container.load(spec).invoke(body, "text/libsvm", "text/csv")
    predictions = [float(v) for v in own[0].decode().split(",")]
    assert own[1] == "text/csv; charset=utf-8" and len(predictions) == 2
    assert abs(predictions[0] - 6.0) < 1.5 and abs(predictions[1] - 2.8) < 1.5  # 10*x1 + 2*x2, learned
    # The handler host (a framework environment's server side), here with this interpreter: the same answer.
    hosted = HostedContainer.load({**spec, "Python": sys.executable})
    try:
        assert hosted.invoke(body, "text/libsvm", "text/csv") == own
    finally:
        hosted.close()


def test_the_toolkits_import_in_the_oldest_images_python(tmp_path: Path) -> None:
    """They run in the images' Pythons: each module compiles as Python 3.7 would read it (no newer syntax), checked
    with this interpreter's parser at 3.7's feature version."""
    import ast

    for root in (CONTAINERS, XGBOOST):
        for path in root.rglob("*.py"):
            ast.parse(path.read_text(), filename=str(path), feature_version=(3, 7))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "PYTHONPATH": os.pathsep.join(paths_for("xgboost"))}
    done = subprocess.run([sys.executable, "-c", "import sagemaker_containers.beta.framework, "
                           "sagemaker_xgboost_container.encoder, sagemaker_xgboost_container.distributed"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
