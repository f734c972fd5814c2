"""Workflow.create() on AWS uploads a framework estimator's local code; the local backend uploads nothing."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from stepfn.aws import AwsConfigurationError
from stepfn.sagemaker import Session, SKLearn
from stepfn.steps import TrainingStep
from stepfn.workflow import Workflow

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"


def _workflow(source: Path, client: object = None) -> Workflow:
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1",
                        role="arn:aws:iam::123456789012:role/SageMakerRole", instance_count=1,
                        instance_type="ml.m5.large", output_path="s3://out/models",
                        sagemaker_session=Session(region_name="us-east-1", default_bucket="out"))
    step = TrainingStep("Train", estimator=estimator, job_name="job-1", data={"train": "s3://data/train"})
    return Workflow("uploads", step, role=ROLE, client=client)


@mock_aws
def test_create_on_aws_uploads_local_code_and_points_the_definition_at_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STEPFN_CODE_BUCKET", "code-bucket")
    source = tmp_path / "code"
    source.mkdir()
    (source / "train.py").write_text("print('hi')\n")
    client = boto3.client("stepfunctions", region_name="us-east-1")
    workflow = _workflow(source, client)
    arn = workflow.create()
    sent = json.loads(client.describe_state_machine(stateMachineArn=arn)["definition"])
    submit = json.loads(sent["States"]["Train"]["Parameters"]["HyperParameters"]["sagemaker_submit_directory"])
    assert submit.startswith("s3://code-bucket/") and submit.endswith("sourcedir.tar.gz")
    s3 = boto3.client("s3", region_name="us-east-1")
    body = s3.get_object(Bucket="code-bucket", Key=submit.removeprefix("s3://code-bucket/"))["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        assert archive.getnames() == ["train.py"]
    # The authoring object is unchanged: the local form stays what the user wrote.
    assert "file://" in workflow.definition.to_json()


def test_local_backend_runs_local_code_in_place(tmp_path: Path, stepfn_home: Path) -> None:
    source = tmp_path / "code"
    source.mkdir()
    (source / "train.py").write_text("print('hi')\n")
    workflow = _workflow(source)
    workflow.create()
    described = workflow.client.describe_state_machine(stateMachineArn=workflow.state_machine_arn)
    assert f"file://{source}" in described["definition"]
    assert not (stepfn_home / "s3").exists()


@mock_aws
def test_a_definition_built_with_the_local_default_bucket_is_not_deployed_to_aws() -> None:
    # A Session without boto_session names its default bucket after the local account (no STS call); on AWS
    # that bucket is not the user's, so create() refuses before sending anything.
    estimator = SKLearn(entry_point="train.py", framework_version="1.2-1", role=ROLE, instance_count=1,
                        instance_type="ml.m5.large", sagemaker_session=Session(region_name="us-east-1"))
    step = TrainingStep("Train", estimator=estimator, job_name="job-1", data={"train": "s3://data/train"})
    client = boto3.client("stepfunctions", region_name="us-east-1")
    workflow = Workflow("local-bucket", step, role=ROLE, client=client)
    with pytest.raises(AwsConfigurationError, match=r"s3://sagemaker-us-east-1-123456789012, the default bucket "
                                                    r"of a local Session .*boto_session=boto3.Session\(\)"):
        workflow.create()
    assert client.list_state_machines()["stateMachines"] == []
