"""``estimator.logs()`` and ``Session.logs_for_job`` / ``logs_for_processing_job`` as sagemaker v2's: a job's log
printed (until it ends, with ``wait``); locally the job's own log, on AWS its CloudWatch streams (moto)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stepfn.sagemaker import Session, SKLearn
from stepfn.sagemaker.exceptions import UnexpectedStatusException
from stepfn.sagemaker.sklearn.processing import SKLearnProcessor

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
TRAIN = """\
import time
for epoch in range(3):
    print("epoch %d loss=%.1f" % (epoch, 1.0 / (epoch + 1)), flush=True)
    time.sleep(0.3)
"""


def _estimator(tmp_path: Path, script: str) -> SKLearn:
    (tmp_path / "train.py").write_text(script)
    return SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                   instance_type="ml.m5.large", instance_count=1)


def _data() -> str:
    session = Session()
    return session.upload_string_as_file_body("1\n", session.default_bucket(), "logs/train/a.csv").rsplit("/", 1)[0]


def test_logs_follow_a_running_job_to_its_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    estimator = _estimator(tmp_path, TRAIN)
    with pytest.raises(ValueError, match="not associated with a training job"):
        estimator.logs()
    estimator.fit({"train": _data()}, wait=False)
    estimator.logs()  # returns once the job has ended, every line printed
    printed = capsys.readouterr().out
    assert [line for line in printed.splitlines() if line.startswith("epoch")] == [
        "epoch 0 loss=1.0", "epoch 1 loss=0.5", "epoch 2 loss=0.3"]
    assert estimator.latest_training_job is not None
    assert estimator.latest_training_job.describe()["TrainingJobStatus"] == "Completed"

    Session().logs_for_job(estimator.latest_training_job.name)  # an ended job's whole log, once
    assert capsys.readouterr().out.count("epoch ") == 3


def test_logs_of_a_failed_job_raise_after_printing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    estimator = _estimator(tmp_path, "print('reading the data', flush=True)\nraise SystemExit('no rows')\n")
    estimator.fit({"train": _data()}, wait=False, job_name="logs-fails")
    with pytest.raises(UnexpectedStatusException, match="Error for Training job logs-fails: Failed"):
        estimator.logs()
    assert "reading the data" in capsys.readouterr().out


def test_logs_for_processing_job(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "process.py").write_text("print('processed 42 rows')\n")
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1)
    processor.run(code=str(tmp_path / "process.py"), job_name="logs-processing", logs=False)
    capsys.readouterr()
    Session().logs_for_processing_job("logs-processing", wait=True)
    assert "processed 42 rows" in capsys.readouterr().out


def test_on_aws_logs_are_read_from_cloudwatch(capsys: pytest.CaptureFixture[str]) -> None:
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        session = Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="my-bucket")
        session.logs_for_job("aws-job")  # no log group yet: nothing to print
        assert capsys.readouterr().out == ""
        logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
        now = int(time.time() * 1000)  # CloudWatch drops events more than 14 days old
        for host in ("algo-1-1700000000", "algo-2-1700000000"):
            logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"aws-job/{host}")
            logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=f"aws-job/{host}",
                                logEvents=[{"timestamp": now + i, "message": f"{host} line {i}"}
                                           for i in range(2)])
        logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="other-job/algo-1-1")
        session.logs_for_job("aws-job")
        assert capsys.readouterr().out.splitlines() == [
            "algo-1-1700000000 line 0", "algo-1-1700000000 line 1", "algo-2-1700000000 line 0",
            "algo-2-1700000000 line 1"]


def test_fit_and_run_print_the_log_as_sagemaker_v2_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    estimator = _estimator(tmp_path, TRAIN)
    estimator.fit({"train": _data()})  # logs=True by default: the log under the cell, as the job runs
    assert capsys.readouterr().out.count("loss=") == 3
    estimator.fit({"train": _data()}, logs=False)
    estimator.fit({"train": _data()}, logs="None")
    assert "loss=" not in capsys.readouterr().out

    failing = _estimator(tmp_path, "print('reading the data', flush=True)\nraise SystemExit('no rows')\n")
    with pytest.raises(UnexpectedStatusException) as raised:
        failing.fit({"train": _data()}, job_name="fit-logs-fails")
    assert raised.value.allowed_statuses == ["Completed"]  # fit's own check, after the log
    assert "reading the data" in capsys.readouterr().out

    (tmp_path / "process.py").write_text("print('processed 7 rows')\n")
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1)
    processor.run(code=str(tmp_path / "process.py"))
    assert "processed 7 rows" in capsys.readouterr().out
    processor.run(code=str(tmp_path / "process.py"), logs=False)
    assert "processed 7 rows" not in capsys.readouterr().out
