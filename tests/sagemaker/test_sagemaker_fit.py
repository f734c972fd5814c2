"""``estimator.fit()``, ``model._create_sagemaker_model()`` and ``Session.create_endpoint_config()`` on local SageMaker,
as sagemaker v2 behaves (the original SDK's integration tests and many notebooks call them before building steps)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.records import RecordStore
from stepfn.sagemaker import PCA, Session, SKLearn
from stepfn.sagemaker.exceptions import UnexpectedStatusException
from stepfn.sagemaker.utils import unique_name_from_base

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
TRAIN = """\
import os
names = sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"]))
with open(os.path.join(os.environ["SM_MODEL_DIR"], "seen.txt"), "w") as out:
    out.write(",".join(names))
"""


def _sklearn(tmp_path: Path, script: str) -> SKLearn:
    (tmp_path / "train.py").write_text(script)
    return SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                   instance_type="ml.m5.large", instance_count=1)


def _data() -> str:
    session = Session()
    return session.upload_string_as_file_body("1,2\n", session.default_bucket(), "fit/train/a.csv").rsplit("/", 1)[0]


def test_fit_uploads_a_lone_entry_point_trains_and_the_model_can_be_created(tmp_path: Path) -> None:
    estimator = _sklearn(tmp_path, TRAIN)
    estimator.fit({"train": _data()})

    job = estimator.latest_training_job
    assert job is not None and job.name.startswith("sagemaker-scikit-learn-")
    assert job.describe()["TrainingJobStatus"] == "Completed"
    assert estimator.model_data == job.describe()["ModelArtifacts"]["S3ModelArtifacts"]
    assert ObjectStore().exists(estimator.model_data)

    model = estimator.create_model()
    model._create_sagemaker_model(instance_type="ml.m5.large")
    records = RecordStore()
    record = records.get("model", model.name)
    assert record is not None and record["PrimaryContainer"]["ModelDataUrl"] == estimator.model_data

    assert Session().create_endpoint_config("cfg", model.name, 1, "ml.m5.large") == "cfg"
    config = records.get("endpoint-config", "cfg")
    expected = {"ModelName": model.name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1,
                "VariantName": "AllTraffic", "InitialVariantWeight": 1}
    assert config is not None and {key: config["ProductionVariants"][0][key] for key in expected} == expected


def test_a_plain_model_is_named_from_its_image() -> None:
    from stepfn.sagemaker.model import Model

    model = Model("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "s3://b/m.tar.gz", ROLE)
    model._create_sagemaker_model()
    assert re.fullmatch(r"sagemaker-xgboost-\d{4}(-\d{2}){5}-\d{3}", model.name)
    assert RecordStore().get("model", model.name) is not None


def test_a_failing_job_raises_with_its_reason(tmp_path: Path) -> None:
    estimator = _sklearn(tmp_path, "raise SystemExit('the data is not there')\n")
    with pytest.raises(UnexpectedStatusException) as raised:
        estimator.fit({"train": _data()}, job_name="fails-1")
    assert raised.value.actual_status == "Failed" and raised.value.allowed_statuses == ["Completed"]
    assert str(raised.value).startswith("Error for Training job fails-1: Failed. Reason: ")
    assert "the data is not there" in str(raised.value)


def test_fit_without_waiting_then_wait(tmp_path: Path) -> None:
    estimator = _sklearn(tmp_path, TRAIN)
    estimator.fit({"train": _data()}, wait=False, job_name="later-1")
    job = estimator.latest_training_job
    assert job is not None and job.name == "later-1"
    assert job.wait()["TrainingJobStatus"] == "Completed"


def test_builtin_fit_takes_records_and_mini_batch_size() -> None:
    pca = PCA(role=ROLE, instance_count=1, instance_type="ml.m5.large", num_components=2)
    records = pca.record_set(np.random.default_rng(0).random((40, 5), dtype=np.float32))
    pca.fit(records=records, mini_batch_size=20, job_name="pca-1")
    described = pca.latest_training_job.describe()  # type: ignore[union-attr]
    assert described["TrainingJobStatus"] == "Completed"
    assert described["HyperParameters"]["mini_batch_size"] == "20"
    assert described["HyperParameters"]["feature_dim"] == "5"


def test_unique_name_from_base() -> None:
    names = {unique_name_from_base("integ-test") for _ in range(5)}
    assert all(re.fullmatch(r"integ-test-\d{10}-[0-9a-f]{4}", name) for name in names) and len(names) > 1
    long = unique_name_from_base("x" * 100)
    assert len(long) == 63 and long.startswith("x" * 47 + "-")


def test_training_job_analytics_of_a_fitted_estimator(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """``estimator.training_job_analytics.dataframe()`` (sagemaker v2): the job's metrics, each the last value its
    definition matched, at ``timestamp`` 0 (one CloudWatch period, as a short job on SageMaker gives)."""
    from stepfn.sagemaker.analytics import TrainingJobAnalytics

    (tmp_path / "train.py").write_text("for epoch in range(3):\n    print(f'epoch={epoch} loss={0.5 / (epoch + 1)}')\n")
    estimator = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1,
                        metric_definitions=[{"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
                                            {"Name": "train:epoch", "Regex": r"epoch=([0-9]+)"}])
    with pytest.raises(ValueError, match="Estimator is not associated with a TrainingJob"):
        estimator.training_job_analytics  # noqa: B018
    estimator.fit({"train": _data()}, job_name="analytics-1")
    frame = estimator.training_job_analytics.dataframe()
    assert frame.to_dict("records") == [{"timestamp": 0.0, "metric_name": "train:loss", "value": pytest.approx(0.5 / 3)},
                                        {"timestamp": 0.0, "metric_name": "train:epoch", "value": 2.0}]
    analytics = TrainingJobAnalytics("analytics-1", metric_names=["train:loss", "validation:loss"])
    assert repr(analytics) == "<sagemaker.TrainingJobAnalytics for analytics-1>"
    with caplog.at_level("WARNING"):
        assert analytics.dataframe()["metric_name"].tolist() == ["train:loss"]
    assert "No metrics called validation:loss found" in caplog.text


def test_training_job_analytics_on_aws_reads_cloudwatch() -> None:
    """A session built on boto3 asks CloudWatch, as sagemaker v2: each period's average, seconds since the first."""
    import datetime

    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from stepfn.sagemaker.analytics import TrainingJobAnalytics

    with moto.mock_aws():
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        sagemaker.create_training_job(
            TrainingJobName="aws-1", AlgorithmSpecification={"TrainingImage": "i", "TrainingInputMode": "File"},
            RoleArn=ROLE, OutputDataConfig={"S3OutputPath": "s3://b/o"}, StoppingCondition={"MaxRuntimeInSeconds": 60},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
        start = sagemaker.describe_training_job(TrainingJobName="aws-1")["TrainingStartTime"]
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        for seconds, value in ((5, 0.5), (75, 0.3)):
            cloudwatch.put_metric_data(Namespace="/aws/sagemaker/TrainingJobs", MetricData=[{
                "MetricName": "loss", "Dimensions": [{"Name": "TrainingJobName", "Value": "aws-1"}],
                "Timestamp": start + datetime.timedelta(seconds=seconds), "Value": value}])
        session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="b")
        frame = TrainingJobAnalytics("aws-1", metric_names=["loss"], sagemaker_session=session,
                                     end_time=start + datetime.timedelta(minutes=5)).dataframe()
        assert frame.to_dict("list") == {"timestamp": [0.0, 60.0], "metric_name": ["loss", "loss"], "value": [0.5, 0.3]}
