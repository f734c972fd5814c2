"""Framework environments: a framework image's job runs in a Python environment matching the image, built once
with uv from the pinned table and shared by jobs, its requirements.txt in a cached layer.

The scikit-learn 1.2-1 tests build a real environment (Python 3.9 and scikit-learn 1.2.1 from PyPI; uv downloads
the interpreter where the machine has none), once per session. The PyTorch and TensorFlow tests download a few
hundred megabytes each; they run with ``STEPFN_TEST_FRAMEWORK_ENVS=1``:

    STEPFN_TEST_FRAMEWORK_ENVS=1 python -m pytest tests/local/test_job_environments.py -m slow
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from test_training_support import sourcedir, training_request

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.envs import find_python, installed_version, pinned_version, same_release
from stepfn.local.sagemaker.frameworks import (
    TABLE,
    ImageFramework,
    UnknownFrameworkVersion,
    framework_of_image,
    lookup,
)
from stepfn.local.sagemaker.processing import ProcessingJobs
from stepfn.local.sagemaker.training import TrainingJobs

ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"
DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
SKLEARN_1_2 = f"{ECR}/sagemaker-scikit-learn:1.2-1-cpu-py3"
framework_envs = pytest.mark.skipif(
    os.environ.get("STEPFN_TEST_FRAMEWORK_ENVS") != "1",
    reason="downloads PyTorch / TensorFlow (hundreds of MB): set STEPFN_TEST_FRAMEWORK_ENVS=1")


def test_image_uris_name_a_pinned_row() -> None:
    assert framework_of_image(SKLEARN_1_2) == ImageFramework("sklearn", "1.2-1", None)
    assert framework_of_image(f"{DLC}/pytorch-training:2.1.0-cpu-py310-ubuntu20.04-sagemaker") == \
        ImageFramework("pytorch", "2.1.0", "3.10")
    assert framework_of_image(f"{ECR}/sagemaker-xgboost:1.7-1") == ImageFramework("xgboost", "1.7-1", None)
    assert framework_of_image(f"{ECR}/kmeans:1") is None
    assert framework_of_image("my-registry/my-image:latest") is None
    row = lookup(framework_of_image(SKLEARN_1_2))  # type: ignore[arg-type]
    assert row.python == "3.9" and "scikit-learn==1.2.1" in row.packages
    pytorch = lookup(ImageFramework("pytorch", "2.1.0", "3.10"))  # 2.1.0 finds the 2.1 row
    assert "torch==2.1.0" in pytorch.packages and pytorch.index == "https://download.pytorch.org/whl/cpu"
    assert lookup(ImageFramework("tensorflow", "2.13", "3.11")).python == "3.11"  # the tag's Python wins
    # TensorFlow(framework_version="2.2", py_version="py37"), as sagemaker v1-era notebooks train
    tf22 = lookup(framework_of_image(f"{DLC}/tensorflow-training:2.2-cpu-py37"))  # type: ignore[arg-type]
    assert tf22.python == "3.7" and "tensorflow-cpu==2.2.0" in tf22.packages and "protobuf==3.20.3" in tf22.packages
    assert pytorch.key.startswith("pytorch-2.1-py3.10-cpu-") and pytorch.key != pytorch.with_python("3.11").key
    with pytest.raises(UnknownFrameworkVersion, match=r"no pinned environment for sklearn 0\.19\.0 .*0\.20\.0.*1\.2-1"):
        lookup(ImageFramework("sklearn", "0.19.0", None))
    assert lookup(ImageFramework("sklearn", "0.20.0", None)).python == "3.7"  # the oldest image the SDKs name
    for row in TABLE.values():  # every row pins its framework package exactly
        assert any(p.split("==")[0] in ("scikit-learn", "xgboost", "torch", "tensorflow-cpu") for p in row.packages)
        assert all("==" in p for p in row.packages) and row.source


@pytest.fixture(scope="module")
def env_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One environment cache for the module: the first job builds, the others reuse
    (``STEPFN_TEST_ENV_DIR`` keeps one across runs)."""
    kept = os.environ.get("STEPFN_TEST_ENV_DIR")
    return Path(kept) if kept else tmp_path_factory.mktemp("envs")


@pytest.fixture
def image_envs(env_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STEPFN_JOB_ENV", "image")
    monkeypatch.setenv("STEPFN_ENV_DIR", str(env_dir))
    return env_dir


@pytest.fixture
def default_envs(env_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What a user gets: no STEPFN_JOB_ENV (the test suite's fixture sets host)."""
    monkeypatch.delenv("STEPFN_JOB_ENV")
    monkeypatch.setenv("STEPFN_ENV_DIR", str(env_dir))
    return env_dir


SHOW_VERSIONS = """\
import json, os, sys
import boto3, numpy, sklearn  # boto3: the image's requirements.txt installs it, and scripts import it
seen = {"sklearn": sklearn.__version__, "numpy": numpy.__version__, "python": "%d.%d" % sys.version_info[:2],
        "executable": sys.executable, "boto3": boto3.__version__}
try:
    import six
    seen["six"] = six.__version__
except ImportError:
    pass
json.dump(seen, open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w"))
"""


def _job(store: ObjectStore, name: str, files: dict[str, str], image: str = SKLEARN_1_2) -> dict[str, Any]:
    code = sourcedir(store, f"s3://bucket/{name}/sourcedir.tar.gz", files)
    store.put_bytes(f"s3://bucket/{name}/data/x.csv", b"1,2\n")
    return training_request(name, image=image, hyperparameters={
        "sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code)},
        channels={"train": f"s3://bucket/{name}/data/"}, max_runtime=600)


def test_sklearn_1_2_job_sees_its_image_versions_whatever_the_host_has(
        stepfn_home: Path, image_envs: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    files = {"train.py": SHOW_VERSIONS, "requirements.txt": "six==1.16.0\n"}
    record = jobs.run(_job(store, "sk12-a", files))
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    seen = json.loads((jobs.job_dir("sk12-a").model / "seen.json").read_text())
    assert seen["sklearn"] == "1.2.1" and seen["numpy"] == "1.24.1" and seen["python"] == "3.9"
    assert seen["boto3"] == "1.28.57"
    assert seen["six"] == "1.16.0"
    assert Path(seen["executable"]).is_relative_to(image_envs)
    assert metadata.version("scikit-learn") != "1.2.1" or sys.version_info[:2] != (3, 9)  # not the host's
    log = jobs.log_path("sk12-a").read_text()
    assert "stepfn: the job runs in the sklearn 1.2-1 environment (Python 3.9: scikit-learn==1.2.1" in log
    assert "installing requirements.txt into" in log
    # The working directory's project (here stepfn's own pyproject.toml) is none of the environment's business.
    assert "requires-python" not in log

    # A second job reuses both the environment and the requirements layer: nothing is built or installed.
    record = jobs.run(_job(store, "sk12-b", files))
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    log = jobs.log_path("sk12-b").read_text()
    assert "building the sklearn" not in log and "uv:" not in log
    assert "(already installed)" in log
    assert json.loads((jobs.job_dir("sk12-b").model / "seen.json").read_text())["sklearn"] == "1.2.1"


def test_jobs_starting_together_build_the_environment_once(
        stepfn_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_JOB_ENV", "image")
    monkeypatch.setenv("STEPFN_ENV_DIR", str(tmp_path / "envs"))  # nothing built yet
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    names = ["together-a", "together-b", "together-c"]
    for name in names:
        jobs.start(_job(store, name, {"train.py": SHOW_VERSIONS}))
    records = [jobs.wait(name) for name in names]
    assert [r["TrainingJobStatus"] for r in records] == ["Completed"] * 3, [r.get("FailureReason") for r in records]
    logs = [jobs.log_path(name).read_text() for name in names]
    assert sum("building the sklearn 1.2-1 environment" in log for log in logs) == 1  # the others waited for it
    assert len(list((tmp_path / "envs").glob("sklearn-1.2-1-*/bin/python"))) == 1
    for name in names:
        assert json.loads((jobs.job_dir(name).model / "seen.json").read_text())["sklearn"] == "1.2.1"


def test_sklearn_processor_runs_in_the_image_environment(stepfn_home: Path, image_envs: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/code/versions.py", (
        b"import sklearn, sys, os\n"
        b"open(os.environ['SAGEMAKER_BASE_DIR'] + '/processing/output/out/v.txt', 'w').write(sklearn.__version__)\n"))
    record = ProcessingJobs(stepfn_home).run({
        "ProcessingJobName": "sk12-processing", "RoleArn": "arn:aws:iam::123456789012:role/R",
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": SKLEARN_1_2,
                             "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/versions.py"]},
        "ProcessingInputs": [{"InputName": "code", "S3Input": {
            "S3Uri": "s3://bucket/code/versions.py", "S3DataType": "S3Prefix",
            "LocalPath": "/opt/ml/processing/input/code"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": "s3://bucket/versions", "S3UploadMode": "EndOfJob", "LocalPath": "/opt/ml/processing/output/out"}}]},
    })
    assert record["ProcessingJobStatus"] == "Completed", record.get("FailureReason")
    assert store.get_bytes("s3://bucket/versions/v.txt") == b"1.2.1"


def test_auto_trusts_stepfns_python_only_with_the_images_framework_release() -> None:
    """The decision: the same major.minor (a patch release or a local build tag apart is the same image)."""
    assert same_release("1.2.2", "1.2.1") and same_release("2.1.0+cpu", "2.1.0") and same_release("2.16.1", "2.16.2")
    assert not same_release("1.9.1", "0.20.0")  # sklearn.externals.joblib is gone
    assert not same_release("1.4.2", "1.2.1")  # OneHotEncoder(sparse=) is gone
    assert not same_release("2.15.0", "2.16.2")  # Keras 2 against Keras 3
    assert not same_release("0.20.0", "0.2.0") and not same_release(None, "1.2.1")
    assert not same_release("nightly", "1.2.1")
    # Every row's pinned framework version is its image's release, so the comparison means the image's version.
    for (framework, version), row in TABLE.items():
        assert same_release(pinned_version(row), version.split("-")[0] + ".0"), (framework, version)
    assert installed_version("sklearn") == metadata.version("scikit-learn")
    if importlib.util.find_spec("torch") is None:
        assert installed_version("pytorch") is None


def test_by_default_a_job_runs_in_stepfns_python_only_where_it_has_the_images_release(
        stepfn_home: Path, default_envs: Path) -> None:
    """The default (auto): a scikit-learn 1.2-1 job runs in stepfn's Python where that has scikit-learn 1.2.x,
    else (this machine's newer scikit-learn) in the image's environment, and the log says which and why."""
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    record = jobs.run(_job(store, "sk-default", {"train.py": SHOW_VERSIONS}))
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    seen = json.loads((jobs.job_dir("sk-default").model / "seen.json").read_text())
    log = jobs.log_path("sk-default").read_text()
    ours = metadata.version("scikit-learn")
    if same_release(ours, "1.2.1"):
        assert seen["sklearn"] == ours and seen["executable"] == sys.executable
        assert (f"stepfn: stepfn's own Python runs it: its scikit-learn {ours} is the sklearn 1.2-1 image's release "
                "(1.2.1); STEPFN_JOB_ENV=image runs it in the image's own environment") in log
    else:
        assert seen["sklearn"] == "1.2.1" and Path(seen["executable"]).is_relative_to(default_envs)
        assert (f"stepfn: stepfn's own Python has scikit-learn {ours} and the sklearn 1.2-1 image 1.2.1, so the "
                "image's environment runs it (STEPFN_JOB_ENV=host runs it in stepfn's own Python)") in log
        assert "stepfn: the job runs in the sklearn 1.2-1 environment (Python 3.9" in log


SKLEARN_0_20_TRAIN = """\
import os

import numpy as np
from sklearn.externals import joblib  # scikit-learn 0.20's; gone since 0.23
from sklearn.linear_model import LinearRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    import sklearn
    rows = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "data.csv"), delimiter=",")
    model = LinearRegression().fit(rows[:, 1:], rows[:, 0])
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    print("trained with scikit-learn", sklearn.__version__)
"""

SKLEARN_0_20_PIPELINE = """\
from stepfn.inputs import ExecutionInput
from stepfn.sagemaker import Session, SKLearn
from stepfn.sagemaker.transformer import Transformer
from stepfn.steps import Chain, ModelStep, TrainingStep, TransformStep
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowRole"
session = Session(default_bucket="bkt")
inputs = ExecutionInput(schema={"JobName": str})
estimator = SKLearn(entry_point="train.py", framework_version="0.20.0", role=ROLE, instance_count=1,
                    instance_type="ml.m5.large", sagemaker_session=session)
train = TrainingStep("Train", estimator=estimator, job_name=inputs["JobName"], data={"train": "s3://bkt/train/"})
model = ModelStep("Save model", model=train.get_expected_model(), model_name=inputs["JobName"])
transformer = Transformer(model_name="placeholder", instance_count=1, instance_type="ml.m5.large",
                          output_path="s3://bkt/predictions", accept="text/csv", assemble_with="Line",
                          sagemaker_session=session)
transform = TransformStep("Predict", transformer=transformer, job_name=inputs["JobName"],
                          model_name=inputs["JobName"], data="s3://bkt/batch/", content_type="text/csv",
                          split_type="Line")
workflow = Workflow("sklearn-0-20", Chain([train, model, transform]), role=ROLE, execution_input=inputs)
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(find_python("3.7") is None, reason="no Python 3.7 (the scikit-learn 0.20.0 image's) here")
def test_a_0_20_estimator_trains_and_serves_in_its_image_by_default(
        tmp_path: Path, user_env: dict[str, str], env_dir: Path) -> None:
    """A notebook's SKLearn(framework_version="0.20.0") script, `from sklearn.externals import joblib` and all, run
    with `stepfn run` as a user would: no STEPFN_JOB_ENV, no image. stepfn's scikit-learn is another release, so
    the job trains in the image's environment and the batch transform serves the model there."""
    if same_release(installed_version("sklearn"), "0.20.0"):
        pytest.skip("stepfn's own Python has scikit-learn 0.20: the job would run there")
    folder = tmp_path / "my-project"
    folder.mkdir()
    (folder / "train.py").write_text(SKLEARN_0_20_TRAIN)
    (folder / "pipeline.py").write_text(SKLEARN_0_20_PIPELINE)
    store = ObjectStore(folder / ".stepfn" / "s3")  # the default relative home's object store
    store.put_bytes("s3://bkt/train/data.csv", b"".join(f"{2 * x + 1},{x}\n".encode() for x in range(10)))
    store.put_bytes("s3://bkt/batch/rows.csv", b"20\n30\n")
    env = {key: value for key, value in user_env.items() if key != "STEPFN_JOB_ENV"}
    env["STEPFN_ENV_DIR"] = str(env_dir)
    ran = subprocess.run(["stepfn", "run", "pipeline.py", "--input", '{"JobName": "sk020"}'], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=840)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "trained with scikit-learn 0.20.0" in ran.stdout
    predictions = [float(line) for line in store.get_bytes("s3://bkt/predictions/rows.csv.out").split()]
    assert predictions == pytest.approx([41.0, 61.0])
    logs = subprocess.run(["stepfn", "logs", "sk020"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=60)
    assert (f"stepfn's own Python has scikit-learn {installed_version('sklearn')} and the sklearn 0.20.0 image "
            "0.20.0, so the image's environment runs it") in logs.stdout, logs.stdout + logs.stderr
    transform_log = subprocess.run(["stepfn", "logs", "--kind", "transform-job", "sk020"], cwd=folder, env=env,
                                   capture_output=True, text=True, timeout=60)
    assert "the model is served in the sklearn environment" in transform_log.stdout, transform_log.stdout


def test_offline_the_error_names_what_is_missing(
        stepfn_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_JOB_ENV", "image")
    monkeypatch.setenv("STEPFN_ENV_DIR", str(tmp_path / "envs"))
    monkeypatch.setenv("UV_OFFLINE", "1")  # no network, and an empty uv cache: nothing can be fetched
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    record = jobs.run(_job(store, "offline", {"train.py": "print('never runs')\n"},
                           image=f"{ECR}/sagemaker-xgboost:1.7-1"))
    assert record["TrainingJobStatus"] == "Failed"
    reason = record["FailureReason"]
    assert reason.startswith("ClientError: ")
    # Either the interpreter (Python 3.8, where the machine has none) or the packages are what is missing.
    assert ("Python 3.8 (the xgboost 1.7-1 image's) is not on this machine" in reason
            or "cannot install the xgboost 1.7-1 packages (xgboost==1.7.4" in reason), reason
    assert "STEPFN_JOB_ENV=host" in reason
    assert "building the xgboost 1.7-1 environment" in jobs.log_path("offline").read_text()
    assert not any((tmp_path / "envs").glob("xgboost-*/.stepfn-complete.json"))  # nothing half-built is kept


PYTORCH_TRAIN = """\
import os, sys, torch
torch.manual_seed(0)
x = torch.randn(64, 3)
y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1
model = torch.nn.Linear(3, 1)
optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(200):
    optimiser.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x).squeeze(1), y)
    loss.backward()
    optimiser.step()
print(f"loss={loss.item():.6f}")
torch.save(model.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pt"))
open(os.path.join(os.environ["SM_MODEL_DIR"], "version"), "w").write(torch.__version__)
"""

TENSORFLOW_TRAIN = """\
import os, numpy, tensorflow as tf
x = numpy.random.default_rng(0).normal(size=(64, 3)).astype("float32")
y = x @ numpy.array([1.0, -2.0, 0.5], dtype="float32")
model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
history = model.fit(x, y, epochs=50, verbose=0)
print(f"loss={history.history['loss'][-1]:.6f}")
model.save(os.path.join(os.environ["SM_MODEL_DIR"], "model.keras"))
open(os.path.join(os.environ["SM_MODEL_DIR"], "version"), "w").write(tf.__version__)
"""


@pytest.mark.slow
@framework_envs
@pytest.mark.timeout(1800)
@pytest.mark.parametrize(("image", "script", "version"), [
    (f"{DLC}/pytorch-training:2.3-cpu-py311", PYTORCH_TRAIN, "2.3.0"),
    (f"{DLC}/tensorflow-training:2.16-cpu-py310", TENSORFLOW_TRAIN, "2.16.2"),
    (f"{DLC}/tensorflow-training:2.2-cpu-py37", TENSORFLOW_TRAIN, "2.2.0"),
], ids=["pytorch-2.3", "tensorflow-2.16", "tensorflow-2.2"])
def test_framework_estimators_run_without_the_framework_in_stepfns_environment(
        image: str, script: str, version: str, stepfn_home: Path, default_envs: Path) -> None:
    module = "torch" if "pytorch" in image else "tensorflow"
    if same_release(installed_version("pytorch" if module == "torch" else module), version):
        pytest.skip(f"stepfn's Python has {module} {version[:4]}: by default the job runs there")
    store = ObjectStore(stepfn_home / "s3")
    jobs = TrainingJobs(stepfn_home)
    name = "fw-" + image.rsplit("/", 1)[1].split(":")[0] + "-" + version.replace(".", "-")
    request = _job(store, name, {"train.py": script}, image=image)
    request["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    record = jobs.run(request)
    assert record["TrainingJobStatus"] == "Completed", record.get("FailureReason")
    # "+cpu" from PyTorch's CPU index; PyPI's build (where that index cannot be reached) has no suffix
    assert (jobs.job_dir(name).model / "version").read_text().split("+")[0] == version
    assert f"stepfn: the job runs in the {module.replace('torch', 'pytorch')} " in jobs.log_path(name).read_text()
    assert record["FinalMetricDataList"][0]["Value"] < 0.05  # it really trained
