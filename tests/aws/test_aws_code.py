"""Packing local source directories and data, rewriting definitions, uploading to (moto) S3."""

from __future__ import annotations

import copy
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from stepfn.aws import UploadError, build_sourcedir_archive, deploy_definition_code, plan_uploads, run_uploads


def _training_state(submit_directory: str, program: str = "train.py", channel_uri: str = "s3://data/train") -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
        "Parameters": {
            "TrainingJobName": "job",
            "InputDataConfig": [
                {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": channel_uri}}}
            ],
            "HyperParameters": {
                "epochs": "3",
                "sagemaker_submit_directory": json.dumps(submit_directory),
                "sagemaker_program": json.dumps(program),
            },
        },
        "Next": "Model",
    }


def _model_state(submit_directory: str) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sagemaker:createModel",
        "Parameters": {
            "ModelName": "m",
            "PrimaryContainer": {
                "Image": "img",
                "Environment": {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit_directory},
            },
        },
        "End": True,
    }


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    (root / "lib").mkdir(parents=True)
    (root / "train.py").write_text("print('training')\n")
    (root / "lib" / "helpers.py").write_text("X = 1\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "train.cpython-311.pyc").write_bytes(b"junk")
    return root


def _names(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return sorted(tar.getnames())


def test_archive_holds_directory_contents_at_root_and_is_reproducible(source_dir: Path) -> None:
    first = build_sourcedir_archive(source_dir, "train.py")
    assert _names(first) == ["lib/helpers.py", "train.py"]
    assert build_sourcedir_archive(source_dir, "train.py") == first
    (source_dir / "train.py").write_text("print('changed')\n")
    assert build_sourcedir_archive(source_dir, "train.py") != first


def test_archive_of_a_single_entry_point(source_dir: Path) -> None:
    assert _names(build_sourcedir_archive(None, str(source_dir / "train.py"))) == ["train.py"]


def test_archive_errors_name_the_path(tmp_path: Path, source_dir: Path) -> None:
    with pytest.raises(UploadError, match="does not exist"):
        build_sourcedir_archive(tmp_path / "missing", "train.py")
    with pytest.raises(UploadError, match=r"entry point 'nope\.py' not found"):
        build_sourcedir_archive(source_dir, "nope.py")


def test_plan_rewrites_local_code_in_training_and_model(source_dir: Path) -> None:
    definition = {
        "StartAt": "Train",
        "States": {"Train": _training_state(f"file://{source_dir}"), "Model": _model_state(str(source_dir))},
    }
    original = copy.deepcopy(definition)
    plan = plan_uploads(definition, bucket="bkt", prefix="wf")
    assert definition == original, "the input definition must not be modified"
    assert len(plan.uploads) == 1, "the same code is uploaded once"
    upload = plan.uploads[0]
    assert upload.kind == "code" and upload.entry_point == "train.py"
    assert upload.uri.startswith("s3://bkt/wf/source/") and upload.uri.endswith("/sourcedir.tar.gz")
    hyper = plan.definition["States"]["Train"]["Parameters"]["HyperParameters"]
    assert hyper["sagemaker_submit_directory"] == json.dumps(upload.uri)
    assert hyper["epochs"] == "3"
    env = plan.definition["States"]["Model"]["Parameters"]["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_SUBMIT_DIRECTORY"] == upload.uri
    # Data stays where it is unless asked for.
    channel = plan.definition["States"]["Train"]["Parameters"]["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://data/train"


def test_s3_code_is_left_alone_unless_sources_maps_it(source_dir: Path) -> None:
    uri = "s3://sagemaker/job/source/sourcedir.tar.gz"
    definition = {"StartAt": "Train", "States": {"Train": {**_training_state(uri), "End": True}}}
    definition["States"]["Train"].pop("Next")
    assert plan_uploads(definition, bucket="b").uploads == ()
    plan = plan_uploads(definition, bucket="b", sources={uri: source_dir})
    assert [u.uri for u in plan.uploads] == [uri]
    assert plan.definition == definition


def test_nested_states_in_parallel_and_map_are_found(source_dir: Path) -> None:
    inner = {"StartAt": "Train", "States": {"Train": {**_training_state(str(source_dir)), "End": True}}}
    inner["States"]["Train"].pop("Next")
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Parallel", "Branches": [inner], "Next": "M"},
            "M": {"Type": "Map", "ItemProcessor": copy.deepcopy(inner), "End": True},
        },
    }
    plan = plan_uploads(json.dumps(definition), bucket="b")
    assert len(plan.uploads) == 1
    for hyper in (
        plan.definition["States"]["P"]["Branches"][0]["States"]["Train"]["Parameters"]["HyperParameters"],
        plan.definition["States"]["M"]["ItemProcessor"]["States"]["Train"]["Parameters"]["HyperParameters"],
    ):
        assert json.loads(hyper["sagemaker_submit_directory"]) == plan.uploads[0].uri


def test_local_data_uploaded_on_request(tmp_path: Path, source_dir: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("1,2\n")
    definition = {"StartAt": "Train", "States": {"Train": _training_state(str(source_dir), channel_uri=str(data)),
                                                 "Model": _model_state("")}}
    plan = plan_uploads(definition, bucket="b", prefix="", include_data=True)
    kinds = sorted(u.kind for u in plan.uploads)
    assert kinds == ["code", "data"]
    channel = plan.definition["States"]["Train"]["Parameters"]["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://b/data/Train/train/"
    missing = {"StartAt": "Train", "States": {"Train": _training_state(str(source_dir), channel_uri=str(tmp_path / "nope")),
                                              "Model": _model_state("")}}
    with pytest.raises(UploadError, match="'Train' does not exist"):
        plan_uploads(missing, bucket="b", include_data=True)


def test_processing_code_input_is_always_uploaded(tmp_path: Path) -> None:
    script = tmp_path / "preprocess.py"
    script.write_text("print(1)\n")
    definition = {
        "StartAt": "Process",
        "States": {
            "Process": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": {
                    "ProcessingInputs": [
                        {"InputName": "code", "S3Input": {"S3Uri": str(script), "LocalPath": "/opt/ml/processing/input/code"}},
                        {"InputName": "input-1", "S3Input": {"S3Uri": str(tmp_path), "LocalPath": "/opt/ml/processing/input"}},
                    ]
                },
                "End": True,
            }
        },
    }
    plan = plan_uploads(definition, bucket="b")
    inputs = plan.definition["States"]["Process"]["Parameters"]["ProcessingInputs"]
    assert inputs[0]["S3Input"]["S3Uri"] == "s3://b/stepfn/data/Process/code/preprocess.py"
    assert inputs[1]["S3Input"]["S3Uri"] == str(tmp_path)


@mock_aws
def test_upload_to_moto_s3(tmp_path: Path, source_dir: Path) -> None:
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    (data / "train.csv").write_text("1,2\n")
    (data / "nested" / "more.csv").write_text("3,4\n")
    s3 = boto3.client("s3", region_name="eu-west-1")
    definition = {"StartAt": "Train", "States": {"Train": _training_state(str(source_dir), channel_uri=f"file://{data}"),
                                                 "Model": _model_state(f"file://{source_dir}")}}
    rewritten = deploy_definition_code(definition, s3_client=s3, bucket="my-bucket", prefix="wf", include_data=True)
    code_uri = json.loads(rewritten["States"]["Train"]["Parameters"]["HyperParameters"]["sagemaker_submit_directory"])
    key = code_uri.removeprefix("s3://my-bucket/")
    body = s3.get_object(Bucket="my-bucket", Key=key)["Body"].read()
    assert body == build_sourcedir_archive(source_dir, "train.py")
    assert _names(body) == ["lib/helpers.py", "train.py"]
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket="my-bucket")["Contents"])
    assert keys == sorted([key, "wf/data/Train/train/nested/more.csv", "wf/data/Train/train/train.csv"])
    assert s3.get_bucket_location(Bucket="my-bucket")["LocationConstraint"] == "eu-west-1"
    # Deploying again with the same code writes the same key (nothing new appears).
    deploy_definition_code(definition, s3_client=s3, bucket="my-bucket", prefix="wf")
    assert len(s3.list_objects_v2(Bucket="my-bucket")["Contents"]) == 3


@mock_aws
def test_nothing_to_upload_touches_nothing() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    assert deploy_definition_code(definition, s3_client=s3, bucket="absent") == definition
    assert s3.list_buckets()["Buckets"] == []
    assert run_uploads((), s3) == []
