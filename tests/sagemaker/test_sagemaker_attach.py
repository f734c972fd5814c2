"""``Estimator.attach(training_job_name)`` as sagemaker v2's: an estimator rebuilt from an existing training job
(DescribeTrainingJob), bound to it, whose model deploys; on local SageMaker and, for the description, on SageMaker
(moto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stepfn.sagemaker import Estimator, Session, SKLearn
from stepfn.sagemaker._frameworks import framework_name_from_image, framework_version_from_tag
from stepfn.sagemaker.exceptions import UnexpectedStatusException
from stepfn.sagemaker.tensorflow import TensorFlow

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
DLC = "763104351884.dkr.ecr.us-east-1.amazonaws.com"
TRAIN = """\
import argparse
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as source:
        return json.load(source)


def predict_fn(data, model):
    return [model["depth"] * row[0] for row in data]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--depth", type=int)
    args, _ = parser.parse_known_args()
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
        json.dump({"depth": args.depth}, out)
"""


def _data() -> str:
    session = Session()
    return session.upload_string_as_file_body("1\n", session.default_bucket(), "attach/train/a.csv").rsplit("/", 1)[0]


def test_v2s_image_parsing() -> None:
    assert framework_name_from_image(f"{DLC}/tensorflow-training:2.2-cpu-py37") == (
        "tensorflow", "py37", "2.2-cpu-py37", "training")
    assert framework_name_from_image(
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3") == (
        "scikit-learn", "py3", "1.2-1-cpu-py3", None)
    assert framework_name_from_image("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tensorflow-py2-cpu:1.0") \
        == ("tensorflow", "py2", "1.0", None)
    assert framework_name_from_image("my-registry/mine:latest") == (None, None, None, None)
    assert framework_version_from_tag("2.2-cpu-py37") == "2.2" and framework_version_from_tag("1.0") is None


def test_attach_rebuilds_a_script_mode_estimator_that_deploys(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(TRAIN)
    trained = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                      instance_type="ml.m5.large", instance_count=1, hyperparameters={"depth": 3},
                      base_job_name="attach-me")
    trained.fit({"train": _data()})
    assert trained.latest_training_job is not None
    name = trained.latest_training_job.name

    attached = SKLearn.attach(name)
    assert attached.latest_training_job is not None and attached.latest_training_job.name == name
    assert (attached.entry_point, attached.framework_version, attached.py_version) == ("train.py", "1.2-1", "py3")
    assert attached.source_dir == f"s3://{Session().default_bucket()}/{name}/source/sourcedir.tar.gz"
    assert (attached.instance_type, attached.role, attached.base_job_name) == ("ml.m5.large", ROLE, "attach-me")
    assert attached.hyperparameters()["depth"] == "3" and attached.model_data == trained.model_data
    predictor = attached.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert predictor.predict([[2], [5]]).tolist() == [6, 15]  # the attached job's model (depth 3)
    finally:
        predictor.delete_endpoint()

    with pytest.raises(ValueError, match=f"Training job: {name} didn't use image for requested framework"):
        TensorFlow.attach(name)
    generic = Estimator.attach(name)  # any job attaches as a bring-your-own-image estimator
    assert generic.image_uri == trained.training_image_uri() and generic.hyperparameters()["depth"] == "3"


def test_attaching_to_a_failed_job_raises(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("raise SystemExit('no data')\n")
    failing = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                      instance_type="ml.m5.large", instance_count=1)
    with pytest.raises(UnexpectedStatusException):
        failing.fit({"train": _data()}, job_name="attach-fails")
    with pytest.raises(UnexpectedStatusException, match="Error for Training job attach-fails: Failed"):
        SKLearn.attach("attach-fails")


def test_on_aws_attach_reads_the_job_and_its_tags() -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        client = boto3.client("sagemaker", region_name="us-east-1")
        client.create_training_job(
            TrainingJobName="tf-2-workflow-2020-12-12-10-00-00-000",
            AlgorithmSpecification={"TrainingImage": f"{DLC}/tensorflow-training:2.2-cpu-py37",
                                    "TrainingInputMode": "File"},
            RoleArn=ROLE, OutputDataConfig={"S3OutputPath": "s3://my-bucket/"},
            ResourceConfig={"InstanceType": "ml.c5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 86400},
            HyperParameters={"epochs": "30", "model_dir": '"/opt/ml/model"', "sagemaker_program": '"train.py"',
                             "sagemaker_submit_directory": '"s3://my-bucket/code/sourcedir.tar.gz"',
                             "sagemaker_container_log_level": "20"},
            Tags=[{"Key": "team", "Value": "ml"}])
        session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="my-bucket")
        attached = TensorFlow.attach("tf-2-workflow-2020-12-12-10-00-00-000", sagemaker_session=session)
        assert (attached.framework_version, attached.py_version, attached.model_dir) == ("2.2", "py37",
                                                                                         "/opt/ml/model")
        assert attached.image_uri is None  # the framework's own image: rebuilt from its version, as v2 does
        assert attached.tags == [{"Key": "team", "Value": "ml"}] and attached.base_job_name == "tf-2-workflow"
        assert attached.hyperparameters()["epochs"] == "30" and attached.source_dir == (
            "s3://my-bucket/code/sourcedir.tar.gz")
