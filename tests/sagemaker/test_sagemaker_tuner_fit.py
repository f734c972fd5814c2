"""``tuner.fit()``, ``tuner.wait()``, ``tuner.deploy()`` and ``HyperparameterTuningJobAnalytics`` as sagemaker v2's,
on local SageMaker (real training jobs searched by the local tuning runner) and, for the request, on SageMaker (moto)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import stepfn.sagemaker as sagemaker
from stepfn.sagemaker import Session, SKLearn
from stepfn.sagemaker.exceptions import UnexpectedStatusException
from stepfn.sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner

pytest.importorskip("optuna")

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
# The loss is smallest where rate is nearest 0.3; "shape" is a categorical the model records.
TRAIN = """\
import argparse
import json
import os


def model_fn(model_dir):
    with open(os.path.join(model_dir, "model.json")) as source:
        return json.load(source)


def predict_fn(data, model):
    return [model["rate"] for _ in data]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float)
    parser.add_argument("--shape", type=str)
    parser.add_argument("--fixed", type=int)
    args, _ = parser.parse_known_args()
    print("val_loss: %.6f" % ((args.rate - 0.3) ** 2))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as out:
        json.dump({"rate": args.rate, "shape": args.shape, "fixed": args.fixed}, out)
"""
FAILS = "raise SystemExit('no data')\n"


def _tuner(tmp_path: Path, script: str, **kwargs: object) -> HyperparameterTuner:
    (tmp_path / "train.py").write_text(script)
    estimator = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1, hyperparameters={"fixed": 7})
    return HyperparameterTuner(estimator, "val_loss",
                               {"rate": ContinuousParameter(0.0, 1.0), "shape": CategoricalParameter(["a", "b"])},
                               [{"Name": "val_loss", "Regex": "val_loss: ([0-9\\.]+)"}],
                               objective_type="Minimize", **kwargs)


def _data() -> str:
    session = Session()
    return session.upload_string_as_file_body("1\n", session.default_bucket(), "tune/train/a.csv").rsplit("/", 1)[0]


def test_fit_wait_analytics_and_deploy_the_best_job(tmp_path: Path) -> None:
    tuner = _tuner(tmp_path, TRAIN, max_jobs=4, max_parallel_jobs=2, strategy="Random")
    tuner.fit({"train": _data()}, job_name="tune-fit-1")  # as v2: waits for the job to end
    assert tuner.latest_tuning_job is not None and tuner.latest_tuning_job.name == "tune-fit-1"
    assert tuner.describe()["HyperParameterTuningJobStatus"] == "Completed"

    analytics = sagemaker.HyperparameterTuningJobAnalytics("tune-fit-1")
    frame = analytics.dataframe()
    assert len(frame) == 4 and set(frame["TrainingJobStatus"]) == {"Completed"}
    assert {"rate", "shape", "TrainingJobName", "FinalObjectiveValue", "TrainingStartTime", "TrainingEndTime",
            "TrainingElapsedTimeSeconds"} <= set(frame.columns)
    assert (frame["TrainingElapsedTimeSeconds"] > 0).all()
    # Numbers come back as floats, as v2 converts them; the objective is each job's own metric.
    for _, row in frame.iterrows():
        assert isinstance(row["rate"], float) and row["FinalObjectiveValue"] == pytest.approx((row["rate"] - 0.3) ** 2,
                                                                                            abs=1e-5)
    best_row = frame.sort_values(["FinalObjectiveValue"]).iloc[0]
    assert tuner.best_training_job() == best_row["TrainingJobName"]
    # The session's own describe / wait_for_* of the same jobs (older notebooks call those).
    session = Session()
    assert session.wait_for_tuning_job("tune-fit-1")["HyperParameterTuningJobStatus"] == "Completed"
    assert session.describe_tuning_job("tune-fit-1")["BestTrainingJob"]["TrainingJobName"] == best_row["TrainingJobName"]
    assert session.wait_for_job(best_row["TrainingJobName"])["TrainingJobStatus"] == "Completed"
    assert session.describe_training_job(best_row["TrainingJobName"])["HyperParameters"]["rate"] == json.dumps(
        best_row["rate"])
    assert set(analytics.tuning_ranges) == {"rate", "shape"} and repr(analytics) == (
        "<sagemaker.HyperparameterTuningJobAnalytics for tune-fit-1>")
    analytics.export_csv(str(tmp_path / "trials.csv"))
    assert (tmp_path / "trials.csv").read_text().count("\n") == 5

    # attach() rebuilds the tuner (and its estimator's class) from the tuning job, as a later notebook cell does.
    attached = HyperparameterTuner.attach("tune-fit-1")
    assert type(attached.estimator) is SKLearn and attached.estimator.framework_version == "1.2-1"
    assert (attached.max_jobs, attached.max_parallel_jobs, attached.strategy) == (4, 2, "Random")
    assert (attached.objective_metric_name, attached.objective_type) == ("val_loss", "Minimize")
    assert attached.hyperparameter_ranges()["ContinuousParameterRanges"][0]["Name"] == "rate"
    assert attached.estimator.hyperparameters()["fixed"] == "7" and attached.base_tuning_job_name == "tune-fit-1"
    assert attached.best_training_job() == best_row["TrainingJobName"]
    plain = HyperparameterTuner.attach("tune-fit-1", estimator_cls="sagemaker.estimator.Estimator")
    assert type(plain.estimator) is sagemaker.Estimator
    with pytest.raises(ValueError, match=r"not one of stepfn\.sagemaker's estimator classes"):
        HyperparameterTuner.attach("tune-fit-1", estimator_cls="os.system")

    best = tuner.best_estimator()
    assert best.hyperparameters()["rate"] == json.dumps(best_row["rate"])  # the tuned value, JSON-encoded as sent
    assert "rate" not in tuner.estimator.hyperparameters()  # the tuner's own estimator is left as it was
    predictor = tuner.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        assert predictor.endpoint_name == best_row["TrainingJobName"]  # named after the best job, as v2 names it
        assert predictor.predict([[1.0], [2.0]]).tolist() == pytest.approx([best_row["rate"]] * 2)
    finally:
        predictor.delete_endpoint()


def test_fit_waits_and_raises_when_every_job_fails(tmp_path: Path) -> None:
    tuner = _tuner(tmp_path, FAILS, max_jobs=2, max_parallel_jobs=2)
    with pytest.raises(UnexpectedStatusException) as raised:
        tuner.fit({"train": _data()}, job_name="tune-fails-1")  # v2's default: wait=True
    assert str(raised.value).startswith("Error for HyperParameterTuning job tune-fails-1: Failed. Reason: ")
    with pytest.raises(Exception, match="Best training job not available for tuning job: tune-fails-1"):
        tuner.deploy(1, "ml.m5.large")
    # wait=False returns once the job is created, so the failure reaches only a later wait().
    tuner.fit({"train": _data()}, job_name="tune-fails-2", wait=False)
    with pytest.raises(UnexpectedStatusException, match="job tune-fails-2: Failed"):
        tuner.wait()
    with pytest.raises(UnexpectedStatusException, match="job tune-fails-2: Failed"):
        Session().wait_for_tuning_job("tune-fails-2")


def test_nothing_to_wait_for_or_deploy_before_fit(tmp_path: Path) -> None:
    tuner = _tuner(tmp_path, TRAIN)
    for call in (tuner.wait, tuner.best_training_job, lambda: tuner.deploy(1, "ml.m5.large")):
        with pytest.raises(ValueError, match="No tuning job available"):
            call()


def test_on_aws_fit_creates_the_tuning_job_in_sagemaker(tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="my-bucket")
        estimator = sagemaker.Estimator("111122223333.dkr.ecr.us-east-1.amazonaws.com/mine:1", ROLE,
                                        instance_count=1, instance_type="ml.m5.large", sagemaker_session=session)
        tuner = HyperparameterTuner(estimator, "loss", {"x": ContinuousParameter(0.0, 1.0)},
                                    [{"Name": "loss", "Regex": "loss=([0-9.]+)"}], max_jobs=3)
        tuner.fit("s3://my-bucket/train", job_name="aws-tuning", wait=False)  # moto runs no training jobs
        described = boto3.client("sagemaker", region_name="us-east-1").describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="aws-tuning")
        assert described["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 3
        assert tuner.describe()["HyperParameterTuningJobName"] == "aws-tuning"


def test_on_aws_analytics_pages_through_the_trials() -> None:
    # moto has no ListTrainingJobsForHyperParameterTuningJob: botocore's Stubber answers as SageMaker does.
    boto3 = pytest.importorskip("boto3")
    import datetime

    from botocore.stub import Stubber

    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")

    class OneClientSession:  # a boto3 session whose sagemaker client is the stubbed one
        region_name = "us-east-1"

        def client(self, service: str, region_name: str | None = None) -> object:
            assert service == "sagemaker"
            return client

    start = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)

    def summary(name: str, rate: str, value: float, seconds: int) -> dict[str, object]:
        return {"TrainingJobName": name, "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:111122223333:training-job/{name}",
                "CreationTime": start, "TrainingStartTime": start,
                "TrainingEndTime": start + datetime.timedelta(seconds=seconds), "TrainingJobStatus": "Completed",
                "TunedHyperParameters": {"rate": rate, "shape": '"a"'},
                "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "val_loss", "Value": value}}

    with Stubber(client) as stub:
        request = {"HyperParameterTuningJobName": "aws-tuning", "MaxResults": 100}
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job",
                          {"TrainingJobSummaries": [summary("aws-tuning-001-a", "0.1", 0.04, 60)], "NextToken": "t"},
                          request)
        stub.add_response("list_training_jobs_for_hyper_parameter_tuning_job",
                          {"TrainingJobSummaries": [summary("aws-tuning-002-b", "0.5", 0.01, 90)]},
                          {**request, "NextToken": "t"})
        session = Session(boto_session=OneClientSession(), default_bucket="my-bucket")
        frame = sagemaker.HyperparameterTuningJobAnalytics("aws-tuning", sagemaker_session=session).dataframe()
        stub.assert_no_pending_responses()
    assert list(frame["TrainingJobName"]) == ["aws-tuning-001-a", "aws-tuning-002-b"]
    assert list(frame["rate"]) == [0.1, 0.5] and list(frame["shape"]) == ['"a"', '"a"']
    assert list(frame["TrainingElapsedTimeSeconds"]) == [60.0, 90.0]
    assert list(frame["FinalObjectiveValue"]) == [0.04, 0.01]
