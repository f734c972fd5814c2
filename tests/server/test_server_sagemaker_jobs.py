"""boto3 ``sagemaker`` against ``stepfn serve``: training, processing, transform and tuning jobs run for real
(local processes), with Create / Describe / Stop / List and the errors SageMaker answers."""

from __future__ import annotations

import json
import tarfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepfn.local.objectstore import ObjectStore

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
TRAIN = textwrap.dedent("""
    import argparse, os, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--sleep", type=float, default=0.0)
    args = parser.parse_args()
    time.sleep(args.sleep)
    print(f"score={args.alpha * 2}", flush=True)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as handle:
        handle.write(str(args.alpha))
""")


def _code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return error.value.response["Error"]["Code"], error.value.response["ResponseMetadata"]["HTTPStatusCode"]


def _wait(describe: Callable[[], dict[str, Any]], key: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = describe()
        if described[key] not in ("InProgress", "Stopping") or time.monotonic() > deadline:
            return described
        time.sleep(0.1)


@pytest.fixture
def sagemaker(serve: Callable[..., str], make_client: Callable[..., Any]) -> Any:
    return make_client("sagemaker", serve())


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    return code


def _training(name: str, code_dir: Path, **hyperparameters: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "score", "Regex": r"score=([0-9.]+)"}]},
        "HyperParameters": {"sagemaker_program": '"train.py"',
                            "sagemaker_submit_directory": json.dumps(f"file://{code_dir}"), **hyperparameters},
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def test_training_job_create_describe_list_and_errors(sagemaker: Any, code_dir: Path, stepfn_home: Path) -> None:
    created = sagemaker.create_training_job(**_training("fit-1", code_dir, alpha="3"))
    assert created["TrainingJobArn"].endswith(":training-job/fit-1")
    described = _wait(lambda: sagemaker.describe_training_job(TrainingJobName="fit-1"), "TrainingJobStatus")
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    artifacts = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts == "s3://bucket/output/fit-1/output/model.tar.gz"
    archive = ObjectStore(stepfn_home / "s3").local_path(artifacts)
    with tarfile.open(archive) as tar:
        assert tar.extractfile("model.txt").read() == b"3.0"  # type: ignore[union-attr]
    assert described["TrainingEndTime"] >= described["CreationTime"]
    assert described["FinalMetricDataList"][0]["MetricName"] == "score"
    assert described["FinalMetricDataList"][0]["Value"] == 6.0
    listed = sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert [(job["TrainingJobName"], job["TrainingJobStatus"]) for job in listed] == [("fit-1", "Completed")]

    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_training_job(**_training("fit-1", code_dir))
    assert _code(duplicate) == ("ValidationException", 400)
    assert "Job name must be unique" in str(duplicate.value)
    with pytest.raises(ClientError) as finished:
        sagemaker.stop_training_job(TrainingJobName="fit-1")
    assert "in status Completed" in str(finished.value)
    with pytest.raises(ClientError) as bad_name:
        sagemaker.create_training_job(**_training("bad_name!", code_dir))
    assert _code(bad_name)[0] == "ValidationException"


def test_training_job_stop(sagemaker: Any, code_dir: Path) -> None:
    sagemaker.create_training_job(**_training("long-fit", code_dir, sleep="60"))
    deadline = time.monotonic() + 60
    while sagemaker.describe_training_job(TrainingJobName="long-fit")["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sagemaker.stop_training_job(TrainingJobName="long-fit")
    described = _wait(lambda: sagemaker.describe_training_job(TrainingJobName="long-fit"), "TrainingJobStatus")
    assert described["TrainingJobStatus"] == "Stopped"


PROCESS = textwrap.dedent("""
    import os, sys, time
    time.sleep(float(sys.argv[1]))
    base = os.environ["SAGEMAKER_BASE_DIR"] + "/processing"
    rows = open(base + "/input/data/rows.csv").read().split()
    with open(base + "/output/out/count.txt", "w") as handle:
        handle.write(str(len(rows)))
""")


def _processing(name: str, sleep: str) -> dict[str, Any]:
    return {
        "ProcessingJobName": name, "RoleArn": ROLE,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/count.py"],
                             "ContainerArguments": [sleep]},
        "ProcessingInputs": [
            {"InputName": "data", "S3Input": {"S3Uri": "s3://bucket/rows.csv", "LocalPath": "/opt/ml/processing/input/data",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "code", "S3Input": {"S3Uri": "s3://bucket/code/count.py", "LocalPath": "/opt/ml/processing/input/code",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
        ],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "out", "S3Output": {"S3Uri": "s3://bucket/processed", "LocalPath": "/opt/ml/processing/output/out",
                                                "S3UploadMode": "EndOfJob"}}]},
        "StoppingCondition": {"MaxRuntimeInSeconds": 120},
    }


def test_processing_jobs(sagemaker: Any, stepfn_home: Path) -> None:
    store = ObjectStore(stepfn_home / "s3")
    store.put_bytes("s3://bucket/rows.csv", b"1\n2\n3\n")
    store.put_bytes("s3://bucket/code/count.py", PROCESS.encode())
    arn = sagemaker.create_processing_job(**_processing("count-rows", "0"))["ProcessingJobArn"]
    assert arn.endswith(":processing-job/count-rows")
    described = _wait(lambda: sagemaker.describe_processing_job(ProcessingJobName="count-rows"), "ProcessingJobStatus")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert store.get_bytes("s3://bucket/processed/count.txt") == b"3"
    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_processing_job(**_processing("count-rows", "0"))
    assert _code(duplicate)[0] == "ValidationException"
    with pytest.raises(ClientError) as finished:
        sagemaker.stop_processing_job(ProcessingJobName="count-rows")
    assert "in status Completed" in str(finished.value)
    with pytest.raises(ClientError) as bad_name:  # SageMaker's validation error, not an internal failure
        sagemaker.create_processing_job(**_processing("bad_name!", "0"))
    assert _code(bad_name)[0] == "ValidationException"

    sagemaker.create_processing_job(**_processing("slow-rows", "60"))
    assert sagemaker.describe_processing_job(ProcessingJobName="slow-rows")["ProcessingJobStatus"] == "InProgress"
    sagemaker.stop_processing_job(ProcessingJobName="slow-rows")
    stopped = _wait(lambda: sagemaker.describe_processing_job(ProcessingJobName="slow-rows"), "ProcessingJobStatus")
    assert stopped["ProcessingJobStatus"] == "Stopped"


INFERENCE = textwrap.dedent("""
    def model_fn(model_dir):
        return 10

    def input_fn(body, content_type):
        return [float(line) for line in body.split()]  # text/csv: the scikit-learn container hands it as str

    def predict_fn(data, model):
        return [model * value for value in data]

    def output_fn(prediction, accept):
        return "".join(f"{value}\\n" for value in prediction), "text/csv"
""")


def test_transform_job(sagemaker: Any, stepfn_home: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "code" / "inference.py").write_text(INFERENCE)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "code", arcname="code")
    store = ObjectStore(stepfn_home / "s3")
    model_data = store.upload(archive, "s3://bucket/model/model.tar.gz")
    store.put_bytes("s3://bucket/batch/input.csv", b"1\n2\n")
    sagemaker.create_model(ModelName="tenfold", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": IMAGE, "ModelDataUrl": model_data, "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}})
    request = {
        "TransformJobName": "batch-1", "ModelName": "tenfold",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/batch/"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://bucket/batch-out", "AssembleWith": "Line", "Accept": "text/csv"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    assert sagemaker.create_transform_job(**request)["TransformJobArn"].endswith(":transform-job/batch-1")
    described = _wait(lambda: sagemaker.describe_transform_job(TransformJobName="batch-1"), "TransformJobStatus")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert store.get_bytes("s3://bucket/batch-out/input.csv.out").split() == [b"10.0", b"20.0"]
    with pytest.raises(ClientError) as no_model:
        sagemaker.create_transform_job(**{**request, "TransformJobName": "batch-2", "ModelName": "absent"})
    assert _code(no_model)[0] == "ValidationException"


def test_tuning_job(sagemaker: Any, code_dir: Path) -> None:
    definition = _training("unused", code_dir)
    definition.pop("TrainingJobName")
    definition["StaticHyperParameters"] = definition.pop("HyperParameters")
    request = {
        "HyperParameterTuningJobName": "tune-1",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid",
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["1", "4"]}]},
        },
        "TrainingJobDefinition": definition,
    }
    arn = sagemaker.create_hyper_parameter_tuning_job(**request)["HyperParameterTuningJobArn"]
    assert arn.endswith(":hyper-parameter-tuning-job/tune-1")
    described = _wait(lambda: sagemaker.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="tune-1"),
                      "HyperParameterTuningJobStatus")
    assert described["HyperParameterTuningJobStatus"] == "Completed", described.get("FailureReason")
    best = described["BestTrainingJob"]
    assert best["TunedHyperParameters"]["alpha"] in ("4", '"4"')
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 8.0
    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_hyper_parameter_tuning_job(**request)
    assert _code(duplicate)[0] == "ResourceInUse"


def test_list_processing_and_training_jobs_filter_sort_and_page(
        sagemaker: Any, stepfn_home: Path, serve: Callable[..., str]) -> None:
    from datetime import UTC, datetime

    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore(stepfn_home)
    day = 1_700_000_000_000  # epoch milliseconds, as the records keep them
    jobs = [("scikit-learn-sm-preprocessing-a", "Completed", 1), ("scikit-learn-sm-evaluation-a", "Completed", 2),
            ("Scikit-Learn-SM-Preprocessing-b", "Failed", 3), ("scikit-learn-sm-preprocessing-c", "Completed", 4)]
    for name, status, minute in jobs:
        records.put("processing-job", name, {
            "ProcessingJobName": name, "ProcessingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{name}",
            "ProcessingJobStatus": status, "CreationTime": day + minute * 60_000,
            "LastModifiedTime": day + minute * 60_000 + 1, "AppSpecification": {"ImageUri": "i"}})
        records.put("training-job", name, {
            "TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
            "TrainingJobStatus": status, "SecondaryStatus": status, "CreationTime": day + minute * 60_000})

    # awslabs/mlmax's inference_pipeline_run.py: the newest completed preprocessing job
    latest = sagemaker.list_processing_jobs(NameContains="scikit-learn-sm-preprocessing", StatusEquals="Completed",
                                            SortBy="CreationTime", SortOrder="Descending")
    assert [j["ProcessingJobName"] for j in latest["ProcessingJobSummaries"]] == [
        "scikit-learn-sm-preprocessing-c", "scikit-learn-sm-preprocessing-a"]
    assert "NextToken" not in latest
    summary = latest["ProcessingJobSummaries"][0]
    assert set(summary) == {"ProcessingJobName", "ProcessingJobArn", "ProcessingJobStatus", "CreationTime",
                            "LastModifiedTime"}
    assert summary["CreationTime"] == datetime.fromtimestamp((day + 4 * 60_000) / 1000, UTC)
    # Defaults: CreationTime, Ascending; the name matched without regard to case.
    assert [j["ProcessingJobName"] for j in sagemaker.list_processing_jobs(
        NameContains="PREPROCESSING")["ProcessingJobSummaries"]] == [
        "scikit-learn-sm-preprocessing-a", "Scikit-Learn-SM-Preprocessing-b", "scikit-learn-sm-preprocessing-c"]
    assert [j["TrainingJobName"] for j in sagemaker.list_training_jobs(
        SortBy="Status", CreationTimeAfter=datetime.fromtimestamp((day + 60_000) / 1000, UTC),
    )["TrainingJobSummaries"]] == ["scikit-learn-sm-evaluation-a", "scikit-learn-sm-preprocessing-c",
                                   "Scikit-Learn-SM-Preprocessing-b"]
    # Pages of MaxResults with a NextToken, as boto3's paginators walk them.
    first = sagemaker.list_training_jobs(MaxResults=3)
    assert len(first["TrainingJobSummaries"]) == 3 and first["NextToken"]
    rest = sagemaker.list_training_jobs(MaxResults=3, NextToken=first["NextToken"])
    assert [j["TrainingJobName"] for j in rest["TrainingJobSummaries"]] == ["scikit-learn-sm-preprocessing-c"]
    assert "NextToken" not in rest
    pages = sagemaker.get_paginator("list_processing_jobs").paginate(PaginationConfig={"PageSize": 2})
    assert sum(len(page["ProcessingJobSummaries"]) for page in pages) == 4
    # A token the API never handed out is refused; starting over at page one would loop a paginator forever.
    with pytest.raises(ClientError, match="Invalid pagination token") as invalid:
        sagemaker.list_training_jobs(MaxResults=3, NextToken="not-a-token")
    assert invalid.value.response["Error"]["Code"] == "ValidationException"


def test_sts_get_caller_identity_names_the_local_account(serve: Callable[..., str]) -> None:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError as BotoClientError

    from stepfn.server import read_token

    url = serve()
    sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id=read_token(),
                       aws_secret_access_key="stepfn", config=Config(retries={"max_attempts": 0}))
    identity = sts.get_caller_identity()
    assert (identity["Account"], identity["Arn"]) == ("123456789012", "arn:aws:iam::123456789012:root")
    with pytest.raises(BotoClientError) as refused:
        sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="session")
    assert refused.value.response["Error"]["Code"] == "InvalidAction"
    anonymous = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id="wrong",
                             aws_secret_access_key="x", config=Config(retries={"max_attempts": 0}))
    with pytest.raises(BotoClientError) as forbidden:  # the token guards STS as every other route
        anonymous.get_caller_identity()
    assert forbidden.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert "missing or wrong stepfn server token" in forbidden.value.response["Error"]["Message"]


def test_experiments_and_trials(sagemaker: Any) -> None:
    created = sagemaker.create_experiment(ExperimentName="mlops-nyctaxi", Description="taxi trips")
    assert created["ExperimentArn"] == "arn:aws:sagemaker:us-east-1:123456789012:experiment/mlops-nyctaxi"
    with pytest.raises(ClientError) as duplicate:
        sagemaker.create_experiment(ExperimentName="mlops-nyctaxi")
    assert _code(duplicate) == ("ValidationException", 400)
    assert "Experiment names must be unique" in duplicate.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as orphan:
        sagemaker.create_trial(TrialName="trial-1", ExperimentName="no-such-experiment")
    assert _code(orphan)[0] == "ResourceNotFound"
    trial = sagemaker.create_trial(TrialName="trial-1", ExperimentName="mlops-nyctaxi")
    assert trial["TrialArn"] == "arn:aws:sagemaker:us-east-1:123456789012:experiment-trial/trial-1"
    with pytest.raises(ClientError) as again:
        sagemaker.create_trial(TrialName="trial-1", ExperimentName="mlops-nyctaxi")
    assert "Trial names must be unique" in again.value.response["Error"]["Message"]
    sagemaker.create_trial(TrialName="trial-2", ExperimentName="mlops-nyctaxi", DisplayName="second")
    sagemaker.create_experiment(ExperimentName="x" * 120)  # experiment names run to 120 characters

    described = sagemaker.describe_experiment(ExperimentName="mlops-nyctaxi")
    assert (described["DisplayName"], described["Description"]) == ("mlops-nyctaxi", "taxi trips")
    assert sagemaker.describe_trial(TrialName="trial-2")["DisplayName"] == "second"
    # Newest first by default, as SageMaker lists experiments and trials.
    assert [t["TrialName"] for t in sagemaker.list_trials(ExperimentName="mlops-nyctaxi")["TrialSummaries"]] == [
        "trial-2", "trial-1"]
    assert [e["ExperimentName"] for e in sagemaker.list_experiments(SortBy="Name", SortOrder="Ascending")[
        "ExperimentSummaries"]] == ["mlops-nyctaxi", "x" * 120]

    with pytest.raises(ClientError) as has_trials:
        sagemaker.delete_experiment(ExperimentName="mlops-nyctaxi")
    assert _code(has_trials)[0] == "ValidationException"
    for name in ("trial-1", "trial-2"):
        sagemaker.delete_trial(TrialName=name)
    assert sagemaker.delete_experiment(ExperimentName="mlops-nyctaxi")["ExperimentArn"] == created["ExperimentArn"]
    with pytest.raises(ClientError) as gone:
        sagemaker.describe_experiment(ExperimentName="mlops-nyctaxi")
    assert _code(gone)[0] == "ResourceNotFound"


def test_list_models_endpoint_configs_transform_and_tuning_jobs(sagemaker: Any, stepfn_home: Path) -> None:
    """The other List operations a notebook's clean-up or a script's lookup calls, with each API's own defaults:
    ListModels / ListEndpointConfigs / ListTransformJobs newest first, ListHyperParameterTuningJobs by name."""
    from stepfn.local.sagemaker.records import RecordStore

    records = RecordStore(stepfn_home)
    day = 1_700_000_000_000
    arn = "arn:aws:sagemaker:us-east-1:123456789012:{}/{}"
    for minute, name in enumerate(("pca-model-b", "my-pca-model", "PCA-Model-a"), start=1):
        records.put("model", name, {"ModelName": name, "ModelArn": arn.format("model", name),
                                    "CreationTime": day + minute * 60_000, "PrimaryContainer": {"Image": "i"}})
        records.put("endpoint-config", name, {"EndpointConfigName": name, "ProductionVariants": [],
                                              "EndpointConfigArn": arn.format("endpoint-config", name),
                                              "CreationTime": day + minute * 60_000})
        records.put("transform-job", name, {"TransformJobName": name, "TransformJobArn": arn.format("transform-job", name),
                                            "TransformJobStatus": "Completed", "CreationTime": day + minute * 60_000,
                                            "ModelName": name})
        records.put("tuning-job", name, {
            "HyperParameterTuningJobName": name, "HyperParameterTuningJobArn": arn.format("hyper-parameter-tuning-job", name),
            "HyperParameterTuningJobStatus": "Completed", "CreationTime": day + minute * 60_000,
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian", "HyperParameterTuningJobObjective": {},
                                              "ResourceLimits": {"MaxNumberOfTrainingJobs": 6,
                                                                 "MaxParallelTrainingJobs": 2}},
            "TrainingJobStatusCounters": {"Completed": 6}, "ObjectiveStatusCounters": {"Succeeded": 6}})

    models = sagemaker.list_models()["Models"]
    assert [m["ModelName"] for m in models] == ["PCA-Model-a", "my-pca-model", "pca-model-b"]  # newest first
    assert set(models[0]) == {"ModelName", "ModelArn", "CreationTime"}
    assert [m["ModelName"] for m in sagemaker.list_models(NameContains="pca-model-", SortBy="Name",
                                                          SortOrder="Ascending")["Models"]] == [
        "PCA-Model-a", "pca-model-b"]
    configs = sagemaker.list_endpoint_configs(MaxResults=2)
    assert [c["EndpointConfigName"] for c in configs["EndpointConfigs"]] == ["PCA-Model-a", "my-pca-model"]
    rest = sagemaker.list_endpoint_configs(MaxResults=2, NextToken=configs["NextToken"])
    assert [c["EndpointConfigName"] for c in rest["EndpointConfigs"]] == ["pca-model-b"] and "NextToken" not in rest
    transforms = sagemaker.list_transform_jobs(StatusEquals="Completed")["TransformJobSummaries"]
    assert [t["TransformJobName"] for t in transforms] == ["PCA-Model-a", "my-pca-model", "pca-model-b"]
    tunings = sagemaker.list_hyper_parameter_tuning_jobs()["HyperParameterTuningJobSummaries"]
    assert [t["HyperParameterTuningJobName"] for t in tunings] == ["PCA-Model-a", "my-pca-model", "pca-model-b"]
    assert (tunings[0]["Strategy"], tunings[0]["ResourceLimits"]["MaxNumberOfTrainingJobs"]) == ("Bayesian", 6)
    assert tunings[0]["TrainingJobStatusCounters"]["Completed"] == 6
