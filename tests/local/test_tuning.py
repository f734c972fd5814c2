"""Tuning jobs: optuna searches over real local training jobs (script mode and the built-in XGBoost)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_models import ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, call, check_shape, wait_for_job
from test_training_support import sourcedir

from stepfn.errors import StatesError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.records import RecordStore
from stepfn.local.sagemaker.tuning import list_training_jobs_for_tuning_job

SCRIPT = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, default=0.0)
parser.add_argument("--kind", default="x")
parser.add_argument("--steps", type=int, default=1)
parser.add_argument("--pause", type=float, default=0.0)
args = parser.parse_args()
for step in range(1, args.steps + 1):
    time.sleep(args.pause)
    print(f"step {step} score={args.alpha * step - (0 if args.kind == 'x' else 1)}", flush=True)
if args.alpha < 0:
    raise SystemExit("negative alpha")
"""


def _request(store: ObjectStore, name: str, strategy: str, ranges: dict[str, Any], *, max_jobs: int | None = None,
             parallel: int = 1, static: dict[str, str] | None = None, **config: Any) -> dict[str, Any]:
    code = sourcedir(store, f"s3://bucket/code/{name}/sourcedir.tar.gz", {"train.py": SCRIPT})
    limits: dict[str, Any] = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy, "ResourceLimits": limits,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ParameterRanges": ranges, **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(code),
                                      **(static or {})},
            "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "score", "Regex": r"score=([-0-9.e]+)"}]},
            "RoleArn": ROLE,
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        },
    }


@pytest.fixture
def store(stepfn_home: Path) -> ObjectStore:
    return ObjectStore(stepfn_home / "s3")


def test_random_search_runs_parallel_training_jobs_and_picks_the_best(stepfn_home: Path, store: ObjectStore) -> None:
    request = _request(store, "rand", "Random", {"ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": "0.1", "MaxValue": "1.0", "ScalingType": "Logarithmic"}]},
        max_jobs=4, parallel=2, static={"pause": "0.5"}, RandomSeed=7)
    result = call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    check_shape("DescribeHyperParameterTuningJob", result)
    assert result["HyperParameterTuningJobStatus"] == "Completed"
    assert result["HyperParameterTuningJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/rand"
    assert result["TrainingJobStatusCounters"] == {"Completed": 4, "InProgress": 0, "RetryableError": 0,
                                                   "NonRetryableError": 0, "Stopped": 0}
    assert result["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}

    trials = list_training_jobs_for_tuning_job("rand", stepfn_home)
    assert len(trials) == 4
    assert all(re.fullmatch(r"rand-00[1-4]-[0-9a-f]{8}", t["TrainingJobName"]) for t in trials)
    alphas = [float(t["TunedHyperParameters"]["alpha"]) for t in trials]
    assert all(0.1 <= a <= 1.0 for a in alphas) and len(set(alphas)) == 4
    best = result["BestTrainingJob"]
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {"Type": "Maximize", "MetricName": "score",
                                                                   "Value": max(values)}
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
        float(best["TunedHyperParameters"]["alpha"]))

    records = RecordStore(stepfn_home)
    jobs = [records.get("training-job", t["TrainingJobName"]) or {} for t in trials]
    assert all(j["TuningJobArn"] == result["HyperParameterTuningJobArn"] for j in jobs)
    assert all(j["HyperParameters"]["_tuning_objective_metric"] == "score" for j in jobs)
    spans = sorted((j["TrainingStartTime"], j["TrainingEndTime"]) for j in jobs)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), "no two jobs overlapped"
    assert max(sum(1 for s in spans if s[0] <= t < s[1]) for t, _ in spans) <= 2  # MaxParallelTrainingJobs


def test_grid_search_tries_every_combination_once(stepfn_home: Path, store: ObjectStore) -> None:
    request = _request(store, "grid", "Grid", {
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["x", "y"]}],
        "IntegerParameterRanges": [{"Name": "alpha", "MinValue": "1", "MaxValue": "2"}]}, parallel=2)
    result = call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    trials = list_training_jobs_for_tuning_job("grid", stepfn_home)
    assert sorted((t["TunedHyperParameters"]["alpha"], t["TunedHyperParameters"]["kind"]) for t in trials) == [
        ("1", "x"), ("1", "y"), ("2", "x"), ("2", "y")]
    assert result["BestTrainingJob"]["TunedHyperParameters"] == {"alpha": "2", "kind": "x"}


def test_auto_early_stopping_prunes_a_trial_on_intermediate_metrics(stepfn_home: Path, store: ObjectStore) -> None:
    request = _request(store, "early", "Grid", {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["3", "2", "1"]}]},
                       parallel=1, static={"steps": "6", "pause": "0.2"}, TrainingJobEarlyStoppingType="Auto")
    result = call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    assert result["TrainingJobStatusCounters"]["Completed"] == 2
    assert result["TrainingJobStatusCounters"]["Stopped"] == 1
    [stopped] = [t for t in list_training_jobs_for_tuning_job("early", stepfn_home) if t["TrainingJobStatus"] == "Stopped"]
    assert stopped["TunedHyperParameters"] == {"alpha": "1"}
    assert result["BestTrainingJob"]["TunedHyperParameters"] == {"alpha": "3"}


@pytest.mark.slow
def test_builtin_xgboost_bayesian_search(stepfn_home: Path, store: ObjectStore) -> None:
    rng = np.random.default_rng(3)
    features = rng.normal(size=(80, 3))
    labels = (features[:, 0] > 0).astype(int)
    rows = "".join(f"{y}," + ",".join(f"{v:.4f}" for v in x) + "\n" for x, y in zip(features, labels, strict=True))
    store.put_bytes("s3://bucket/xgb/train/train.csv", rows[: len(rows) // 2].encode())
    store.put_bytes("s3://bucket/xgb/validation/validation.csv", rows[len(rows) // 2:].encode())
    channels = [{"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://bucket/xgb/{channel}/"}}} for channel in ("train", "validation")]
    request = {
        "HyperParameterTuningJobName": "xgb-tune",
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian", "RandomSeed": 1,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 2},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ParameterRanges": {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "1", "MaxValue": "4"}],
                                "ContinuousParameterRanges": [{"Name": "eta", "MinValue": "0.1", "MaxValue": "0.5"}]},
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"num_round": "5", "objective": "binary:logistic", "eval_metric": "auc",
                                      "nthread": "1"},
            "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            "RoleArn": ROLE, "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": "s3://bucket/xgb-out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 120},
        },
    }
    result = call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    assert result["HyperParameterTuningJobStatus"] == "Completed", result.get("FailureReason")
    best = result["BestTrainingJob"]
    assert 0.5 <= best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] <= 1.0
    assert store.exists(f"s3://bucket/xgb-out/{best['TrainingJobName']}/output/model.tar.gz")
    check_shape("DescribeHyperParameterTuningJob", result)


def test_all_trials_failing_fails_the_task(stepfn_home: Path, store: ObjectStore) -> None:
    request = _request(store, "fails", "Random", {"ContinuousParameterRanges": [
        {"Name": "alpha", "MinValue": "-2", "MaxValue": "-1"}]}, max_jobs=2, parallel=2)
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    assert raised.value.error == "States.TaskFailed"
    described = json.loads(raised.value.cause or "{}")
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert described["ObjectiveStatusCounters"]["Failed"] == 2
    assert "No training job succeeded after 2 attempts" in described["FailureReason"]
    check_shape("DescribeHyperParameterTuningJob", described)


@pytest.mark.parametrize(("change", "message"), [
    ({"HyperParameterTuningJobName": "a-name-that-is-longer-than-thirty-two-chars"}, "regular expression"),
    ({"HyperParameterTuningJobName": "xgb-tune\n"}, "regular expression"),
    ({"Strategy": "Annealing"}, "is not one of"),
    ({"ResourceLimits": {"MaxParallelTrainingJobs": 1}}, "MaxNumberOfTrainingJobs is required"),
    ({"ParameterRanges": {"ContinuousParameterRanges": [{"Name": "a", "MinValue": "0", "MaxValue": "1",
                                                         "ScalingType": "Logarithmic"}]}}, "greater than 0"),
])
def test_invalid_requests_are_refused(stepfn_home: Path, store: ObjectStore, change: dict[str, Any], message: str) -> None:
    request = _request(store, "bad", "Random", {}, max_jobs=1)
    if "HyperParameterTuningJobName" in change:
        request.update(change)
    else:
        request["HyperParameterTuningJobConfig"].update(change)
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    assert raised.value.error == "SageMaker.AmazonSageMakerException" and message in (raised.value.cause or "")


def test_request_response_returns_once_accepted_and_the_search_runs_on(stepfn_home: Path, store: ObjectStore) -> None:
    request = _request(store, "bg", "Grid", {"CategoricalParameterRanges": [{"Name": "alpha", "Values": ["1", "2"]}]},
                       static={"pause": "0.5"})
    result = call(stepfn_home, "createHyperParameterTuningJob", request)
    # The ARN (a request-response Task's result also carries the SDK's SdkHttpMetadata).
    assert result["HyperParameterTuningJobArn"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/bg")
    assert (RecordStore(stepfn_home).get("tuning-job", "bg") or {})["HyperParameterTuningJobStatus"] == "InProgress"
    record = wait_for_job(stepfn_home, "tuning-job", "bg")
    assert record["HyperParameterTuningJobStatus"] == "Completed"
    assert record["BestTrainingJob"]["TunedHyperParameters"] == {"alpha": "2"}


def test_hyperband_strategy_runs_with_its_resource_config(stepfn_home: Path, store: ObjectStore) -> None:
    request = _request(store, "hb", "Hyperband", {"IntegerParameterRanges": [
        {"Name": "alpha", "MinValue": "1", "MaxValue": "5"}]}, max_jobs=3, parallel=1, static={"steps": "3"},
        StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}}, RandomSeed=3)
    result = call(stepfn_home, "createHyperParameterTuningJob", request, pattern="sync")
    check_shape("DescribeHyperParameterTuningJob", result)
    counters = result["TrainingJobStatusCounters"]
    assert counters["Completed"] + counters["Stopped"] == 3 and counters["Completed"] >= 1
    best = result["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == 3 * int(best["TunedHyperParameters"]["alpha"])


def test_warm_start_seeds_the_search_with_the_parent_trials(stepfn_home: Path, store: ObjectStore) -> None:
    ranges = {"IntegerParameterRanges": [{"Name": "alpha", "MinValue": "1", "MaxValue": "50"}]}
    call(stepfn_home, "createHyperParameterTuningJob", _request(store, "parent", "Grid", {
        "CategoricalParameterRanges": [{"Name": "alpha", "Values": ["40", "45"]}]}, parallel=2), pattern="sync")
    child = _request(store, "child", "Bayesian", ranges, max_jobs=1, RandomSeed=0)
    child["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "parent"}],
                                "WarmStartType": "IdenticalDataAndAlgorithm"}
    result = call(stepfn_home, "createHyperParameterTuningJob", child, pattern="sync")
    assert result["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    assert result["TrainingJobStatusCounters"]["Completed"] == 1  # the parent's trials are not re-run
    log = (stepfn_home / "sagemaker" / "logs" / "tuning-job" / "child.log").read_text()
    assert "warm start from parent: 2 finished trial(s)" in log
    check_shape("DescribeHyperParameterTuningJob", result)

    orphan = _request(store, "orphan", "Random", ranges, max_jobs=1)
    orphan["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "nope"}],
                                 "WarmStartType": "TransferLearning"}
    with pytest.raises(StatesError) as raised:
        call(stepfn_home, "createHyperParameterTuningJob", orphan, pattern="sync")
    assert "can't find a tuning job with name nope" in (raised.value.cause or "")


def test_warm_start_trials_reach_the_optuna_study() -> None:
    from stepfn.local.sagemaker.tuning import parse_ranges

    [alpha, rate] = parse_ranges({"IntegerParameterRanges": [{"Name": "alpha", "MinValue": "1", "MaxValue": "9"}],
                                  "ContinuousParameterRanges": [{"Name": "rate", "MinValue": "0.5", "MaxValue": "0.99",
                                                                 "ScalingType": "ReverseLogarithmic"}]})
    assert alpha.decode(alpha.encode(7)) == 7
    sampled = rate.distribution().low
    assert rate.encode(sampled) == repr(0.99) and rate.decode(rate.encode(sampled)) == pytest.approx(sampled)
