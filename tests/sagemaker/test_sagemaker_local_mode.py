"""sagemaker v2's Local Mode: ``instance_type="local"`` (or ``"local_gpu"``) trains and serves on this machine and
``file://`` data is read where it is (``FileDataSource`` channels), as notebooks prototype before SageMaker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stepfn.errors import ServiceError
from stepfn.local.sagemaker.training import TrainingJobs
from stepfn.sagemaker import Estimator, PyTorch, Session, SKLearn, build_training_job_request
from stepfn.sagemaker.validation import RequestValidationError

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
TRAIN = """\
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "seen.json")) as source:
        return json.load(source)


def predict_fn(data, model):
    return [len(model["files"]) for _ in data]


if __name__ == "__main__":
    channel = os.environ["SM_CHANNEL_TRAIN"]
    files = sorted(os.listdir(channel))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.json"), "w") as out:
        json.dump({"files": files, "first": open(os.path.join(channel, files[0])).read()}, out)
"""


def _estimator(tmp_path: Path, instance_type: str, **kwargs: object) -> SKLearn:
    (tmp_path / "train.py").write_text(TRAIN)
    return SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                   instance_type=instance_type, instance_count=1, **kwargs)


def _local_data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n")
    (data / "b.csv").write_text("3,4\n")
    return data


def test_local_instance_type_trains_on_file_data_and_deploys_locally(tmp_path: Path) -> None:
    data = _local_data(tmp_path)
    estimator = _estimator(tmp_path, "local")
    estimator.fit({"train": f"file://{data}"})
    job = estimator.latest_training_job
    assert job is not None
    described = job.describe()
    assert described["TrainingJobStatus"] == "Completed"
    assert described["InputDataConfig"][0]["DataSource"] == {
        "FileDataSource": {"FileDataDistributionType": "FullyReplicated", "FileUri": f"file://{data}"}}
    predictor = estimator.deploy(initial_instance_count=1, instance_type="local")
    try:
        assert predictor.predict([[0], [0], [0]]).tolist() == [2, 2, 2]  # the job saw both local files
    finally:
        predictor.delete_endpoint()


def test_file_data_is_local_mode_only(tmp_path: Path) -> None:
    data = f"file://{_local_data(tmp_path)}"
    with pytest.raises(RequestValidationError, match="FileDataSource: unknown member"):
        build_training_job_request(_estimator(tmp_path, "ml.m5.large"), {"train": data}, job_name="j")
    request = build_training_job_request(_estimator(tmp_path, "local"), {"train": data}, job_name="j")
    assert request["ResourceConfig"]["InstanceType"] == "local"
    # Local SageMaker, like SageMaker, refuses the Local Mode channel on an ml.* instance.
    request["ResourceConfig"]["InstanceType"] = "ml.m5.large"
    with pytest.raises(ServiceError, match=r'Unknown parameter in InputDataConfig\[0\]\.DataSource: "FileDataSource"'):
        TrainingJobs().create(request)


def test_local_mode_refuses_what_sagemaker_v2_refuses(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    aws = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="my-bucket")
    with pytest.raises(RuntimeError, match="only supported with an instance of LocalSession"):
        _estimator(tmp_path, "local", sagemaker_session=aws)
    with pytest.raises(RuntimeError, match="Distributed Training in Local GPU is not supported"):
        PyTorch(entry_point="train.py", framework_version="2.3", py_version="py311", role=ROLE,
                instance_type="local_gpu", instance_count=2, sagemaker_session=Session())
    with pytest.raises(RequestValidationError, match="'local_gpux' is not one of"):
        build_training_job_request(Estimator("111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1", ROLE,
                                             instance_count=1, instance_type="local_gpux"), "s3://b/train",
                                   job_name="j")


def test_local_session_and_file_input_from_v2_module_paths(tmp_path: Path) -> None:
    code = (
        "from stepfn.sagemaker.local import LocalSession, file_input\n"
        "from stepfn.sagemaker.local.local_session import LocalSession as Deeper\n"
        "assert LocalSession is Deeper\n"
        "print(LocalSession().local_mode, LocalSession().config, LocalSession(disable_local_code=True).config)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True {'local': {'local_code': True}} None"
    assert Session().local_mode is False

    from stepfn.sagemaker.local import LocalSession, file_input
    from stepfn.sagemaker.session import aws_boto_session

    boto3 = pytest.importorskip("boto3")
    session = LocalSession(boto_session=boto3.Session(region_name="eu-west-1"))
    # The boto3 session names the region; the jobs still run here, so Local Mode is allowed (its boto_session is
    # the local one, answered in this process).
    assert session.boto_region_name == "eu-west-1" and aws_boto_session(session) is None
    data = f"file://{_local_data(tmp_path)}"
    request = build_training_job_request(_estimator(tmp_path, "local", sagemaker_session=session),
                                         {"train": file_input(data, content_type="text/csv")}, job_name="j")
    assert request["InputDataConfig"] == [{
        "DataSource": {"FileDataSource": {"FileDataDistributionType": "FullyReplicated", "FileUri": data}},
        "ContentType": "text/csv", "ChannelName": "train"}]
