"""A TrainingStep + ModelStep built with stepfn.sagemaker run for real on the local backend.

The request the step builds (JSON-encoded hyperparameters, ``sagemaker_submit_directory`` for a local
``source_dir``, channels) is what the local training runner consumes; the ModelStep's ``ModelDataUrl.$`` wiring
picks up the trained artifact.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.sagemaker import Session, SKLearn
from stepfn.steps import Chain, ModelStep, TrainingStep
from stepfn.workflow import Workflow

TRAIN_SCRIPT = """
import argparse, json, os
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--name")
args, _ = parser.parse_known_args()
files = sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"]))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as f:
    json.dump({"alpha": args.alpha, "name": args.name, "files": files}, f)
print("loss=0.25")
"""


def _stage_code_and_data(tmp_path: Path) -> Path:
    """The training script in a local source_dir, and one CSV part under s3://bucket/data."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN_SCRIPT)
    data = tmp_path / "data"
    data.mkdir()
    (data / "part-0.csv").write_text("1,2\n")
    ObjectStore().upload(str(data), "s3://bucket/data")
    return code


@pytest.mark.timeout(120)
def test_training_then_model_on_the_local_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    code = _stage_code_and_data(tmp_path)
    store = ObjectStore()

    estimator = SKLearn(entry_point="train.py", source_dir=str(code), framework_version="1.2-1",
                        role="arn:aws:iam::123456789012:role/SageMaker", instance_count=1, instance_type="ml.m5.large",
                        output_path="s3://bucket/out", hyperparameters={"alpha": 0.3, "name": "first"},
                        metric_definitions=[{"Name": "loss", "Regex": "loss=(\\S+)"}],
                        sagemaker_session=Session(region_name="us-east-1", default_bucket="bucket"))
    training = TrainingStep("Train", estimator=estimator, job_name="local-job", data={"train": "s3://bucket/data"})
    model = ModelStep("Model", model=training.get_expected_model())
    training.next(model)
    workflow = Workflow("local-sagemaker", Chain([training, model]), role="arn:aws:iam::123456789012:role/SFN")
    workflow.create()
    execution = workflow.execute(inputs={})
    output = execution.get_output(wait=True)
    assert execution.describe()["status"] == "SUCCEEDED", execution.list_events()
    assert output["ModelArn"] == "arn:aws:sagemaker:us-east-1:123456789012:model/local-job"
    # The SageMaker records name the account their execution's ARN names.
    assert execution.execution_arn.split(":")[4] == output["ModelArn"].split(":")[4]
    assert output["SdkHttpMetadata"]["HttpStatusCode"] == 200  # what the optimized integration adds
    scheduled = [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in execution.list_events()
                 if e["type"] == "TaskScheduled"]
    assert [p.get("ModelName") for p in scheduled] == [None, "local-job"]
    container = scheduled[1]["PrimaryContainer"]
    assert container["ModelDataUrl"] == "s3://bucket/out/local-job/output/model.tar.gz"

    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(store.get_bytes("s3://bucket/out/local-job/output/model.tar.gz"))
    with tarfile.open(archive) as tar:
        member = tar.extractfile("model.json")
        assert member is not None
        assert json.load(member) == {"alpha": 0.3, "name": "first", "files": ["part-0.csv"]}


@pytest.mark.timeout(120)
def test_expected_model_follows_the_training_steps_result_path(tmp_path: Path) -> None:
    """Original SDK issue #104: with ``result_path="$.train"`` the ModelStep must read the artifact there."""
    code = _stage_code_and_data(tmp_path)
    estimator = SKLearn(entry_point="train.py", source_dir=str(code), framework_version="1.2-1",
                        role="arn:aws:iam::123456789012:role/SageMaker", instance_count=1, instance_type="ml.m5.large",
                        output_path="s3://bucket/out", hyperparameters={"alpha": 0.1, "name": "rp"},
                        sagemaker_session=Session(region_name="us-east-1", default_bucket="bucket"))
    training = TrainingStep("Train", estimator=estimator, job_name="rp-job", data={"train": "s3://bucket/data"},
                            result_path="$.train")
    expected = training.get_expected_model()
    assert expected.model_data.to_jsonpath() == "$['train']['ModelArtifacts']['S3ModelArtifacts']"
    model = ModelStep("Model", model=expected, result_path="$.model")
    workflow = Workflow("result-path-model", Chain([training, model]), role="arn:aws:iam::123456789012:role/SFN")
    workflow.create()
    execution = workflow.execute(inputs={"keep": 1})
    output = execution.get_output(wait=True)
    assert execution.describe()["status"] == "SUCCEEDED", execution.list_events()
    assert output["keep"] == 1
    assert output["model"]["ModelArn"] == "arn:aws:sagemaker:us-east-1:123456789012:model/rp-job"
    assert output["train"]["ModelArtifacts"]["S3ModelArtifacts"] == "s3://bucket/out/rp-job/output/model.tar.gz"


def test_expected_model_with_a_discarded_or_filtered_result_is_a_clear_error() -> None:
    estimator = SKLearn(entry_point="train.py", source_dir="s3://bucket/code.tar.gz", framework_version="1.2-1",
                        role="arn:aws:iam::123456789012:role/SageMaker", instance_count=1, instance_type="ml.m5.large",
                        sagemaker_session=Session(region_name="us-east-1", default_bucket="bucket"))
    with pytest.raises(ValueError, match="'Train': ResultPath is null"):
        TrainingStep("Train", estimator=estimator, job_name="j", result_path=None).get_expected_model()
    with pytest.raises(ValueError, match=r"OutputPath '\$\.other' does not keep"):
        TrainingStep("Train", estimator=estimator, job_name="j", result_path="$.train",
                     output_path="$.other").get_expected_model()
    kept = TrainingStep("Train", estimator=estimator, job_name="j", result_path="$.train.job", output_path="$.train")
    assert kept.get_expected_model().model_data.to_jsonpath() == "$['job']['ModelArtifacts']['S3ModelArtifacts']"
    default = TrainingStep("Train", estimator=estimator, job_name="j").get_expected_model()
    assert default.model_data.to_jsonpath() == "$['ModelArtifacts']['S3ModelArtifacts']"


def test_model_step_input_path_narrows_the_expected_model_data() -> None:
    """Notebooks for the original SDK pair ``result_path='$.TrainingResults'`` with a ModelStep
    ``input_path='$.TrainingResults'``: the model data is then read from the narrowed input, as there."""
    estimator = SKLearn(entry_point="train.py", source_dir="s3://bucket/code.tar.gz", framework_version="1.2-1",
                        role="arn:aws:iam::123456789012:role/SageMaker", instance_count=1, instance_type="ml.m5.large",
                        sagemaker_session=Session(region_name="us-east-1", default_bucket="bucket"))
    training = TrainingStep("Train", estimator=estimator, job_name="j", result_path="$.TrainingResults")
    expected = training.get_expected_model()
    narrowed = ModelStep("Model", model=expected, input_path="$.TrainingResults").to_dict()
    assert narrowed["Parameters"]["PrimaryContainer"]["ModelDataUrl.$"] == "$['ModelArtifacts']['S3ModelArtifacts']"
    whole = ModelStep("Model", model=expected).to_dict()
    assert whole["Parameters"]["PrimaryContainer"]["ModelDataUrl.$"] == (
        "$['TrainingResults']['ModelArtifacts']['S3ModelArtifacts']")
    # The estimator's model itself is not changed by the narrowing.
    assert expected.model_data.to_jsonpath() == "$['TrainingResults']['ModelArtifacts']['S3ModelArtifacts']"
