"""Model Monitor from the user's side, as a sagemaker v2 notebook does it, on local SageMaker: deploy a trained
scikit-learn model with data capture, invoke it, find the capture files, suggest a baseline, schedule monitoring,
run an execution and read its violations through DefaultModelMonitor's methods."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sagemaker_support import SKLEARN_SCRIPT  # a script-mode scikit-learn script: trains, and serves

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker import run_monitoring_schedule
from stepfn.sagemaker import Session, SKLearn
from stepfn.sagemaker.deserializers import CSVDeserializer
from stepfn.sagemaker.model_monitor import (
    CronExpressionGenerator,
    DataCaptureConfig,
    DefaultModelMonitor,
    MonitoringExecution,
)
from stepfn.sagemaker.model_monitor.dataset_format import DatasetFormat
from stepfn.sagemaker.serializers import CSVSerializer

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
# y = 2*a + 3*b + 0.5 over a grid: the label first, as the baseline dataset of the notebooks has it.
ROWS = [(2 * a + 3 * b + 0.5, a, b) for a in range(10) for b in range(10)]


def deploy(tmp_path: Path, session: Session) -> Any:
    (tmp_path / "train.py").write_text(SKLEARN_SCRIPT)
    train = session.upload_string_as_file_body("".join(f"{y},{a},{b}\n" for y, a, b in ROWS),
                                               session.default_bucket(), "monitor/train/train.csv")
    estimator = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1)
    estimator.fit({"train": train.rsplit("/", 1)[0]})
    capture = DataCaptureConfig(enable_capture=True, sampling_percentage=100,
                                destination_s3_uri=f"s3://{session.default_bucket()}/monitor/capture")
    return estimator.deploy(1, "ml.m5.large", endpoint_name="monitored", serializer=CSVSerializer(),
                            deserializer=CSVDeserializer(), data_capture_config=capture)


def captured_files(store: ObjectStore, prefix: str, count: int) -> list[str]:
    """The capture files once ``count`` records are in them (they are written off the request path)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        files = store.list(prefix)
        if sum(store.get_bytes(f).count(b"\n") for f in files) >= count:
            return files
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} captured records under {prefix}")


def invoke_all(predictor: Any, session: Session) -> tuple[ObjectStore, list[str]]:
    """A call per row of ROWS, and the capture files once they hold all of them."""
    for _, a, b in ROWS:
        predictor.predict([a, b])
    store = ObjectStore()
    return store, captured_files(store, f"s3://{session.default_bucket()}/monitor/capture/monitored/AllTraffic/", 100)


def test_capture_baseline_schedule_and_violations(tmp_path: Path) -> None:
    session = Session()
    bucket = session.default_bucket()
    predictor = deploy(tmp_path, session)
    try:
        store, files = invoke_all(predictor, session)
        assert all(re.search(r"/AllTraffic/\d{4}/\d\d/\d\d/\d\d/\d\d-\d\d-\d{3}-[0-9a-f-]{36}\.jsonl$", f)
                   for f in files), files
        first = json.loads(store.get_bytes(files[0]).splitlines()[0])
        assert first["captureData"]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                                         "data": "0,0", "encoding": "CSV"}
        assert first["captureData"]["endpointOutput"]["encoding"] == "CSV"
        assert float(first["captureData"]["endpointOutput"]["data"]) == pytest.approx(0.5)

        # The baseline: the training data with a header, label first.
        (tmp_path / "baseline.csv").write_text("y,a,b\n" + "".join(f"{y},{a},{b}\n" for y, a, b in ROWS))
        monitor = DefaultModelMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                                      sagemaker_session=session)
        monitor.suggest_baseline(baseline_dataset=str(tmp_path / "baseline.csv"),
                                 dataset_format=DatasetFormat.csv(header=True),
                                 output_s3_uri=f"s3://{bucket}/monitor/baseline", wait=True)
        monitor.create_monitoring_schedule(
            monitor_schedule_name="monitored-hourly", endpoint_input=predictor.endpoint_name,
            output_s3_uri=f"s3://{bucket}/monitor/reports", statistics=monitor.baseline_statistics(),
            constraints=monitor.suggested_constraints(), schedule_cron_expression=CronExpressionGenerator.hourly())
        described = monitor.describe_schedule()
        assert described["MonitoringScheduleStatus"] == "Scheduled"
        assert described["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
        assert described["MonitoringType"] == "DataQuality" and described["EndpointName"] == "monitored"
        assert monitor.list_executions() == []
        assert monitor.latest_monitoring_constraint_violations() is None

        # The same kind of data as the baseline: no violations.
        summary = run_monitoring_schedule("monitored-hourly")
        assert summary["MonitoringExecutionStatus"] == "Completed", (monitor.latest_monitoring_constraint_violations().body_dict, monitor.latest_monitoring_statistics().body_dict)  # type: ignore[union-attr]
        [execution] = monitor.list_executions()
        assert isinstance(execution, MonitoringExecution)
        assert execution.describe()["ProcessingJobStatus"] == "Completed"
        assert execution.output.destination.startswith(f"s3://{bucket}/monitor/reports/monitored/monitored-hourly/")
        # No violations: the analyzer writes no constraint_violations.json, and v2's reader answers None.
        assert execution.constraint_violations() is None
        assert monitor.latest_monitoring_constraint_violations() is None
        assert sorted(f.rsplit("/", 1)[1] for f in store.list(f"{execution.output.destination}/")) == [
            "constraints.json", "statistics.json"]
        statistics = monitor.latest_monitoring_statistics().body_dict  # type: ignore[union-attr]
        assert statistics["dataset"]["item_count"] == 100
        assert [f["name"] for f in statistics["features"]] == ["y", "a", "b"]

        # Inputs the model never saw: negative, fractional and far out.
        for index in range(40):
            predictor.predict([-50.5 - index, 1000 + index])
        captured_files(store, f"s3://{bucket}/monitor/capture/monitored/AllTraffic/", 140)
        summary = run_monitoring_schedule("monitored-hourly")
        assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
        assert len(monitor.list_executions()) == 2
        violations = monitor.latest_monitoring_constraint_violations().body_dict["violations"]  # type: ignore[union-attr]
        kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
        assert ("a", "data_type_check") in kinds and ("b", "baseline_drift_check") in kinds, kinds
        assert monitor.describe_schedule()["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == \
            "CompletedWithViolations"

        attached = DefaultModelMonitor.attach("monitored-hourly")  # another notebook, later
        assert attached.role == ROLE and attached.instance_type == "ml.m5.xlarge"
        assert attached.job_definition_name == monitor.job_definition_name
        assert [e.job_name for e in attached.list_executions()] == [e.job_name for e in monitor.list_executions()]

        monitor.stop_monitoring_schedule()
        assert monitor.describe_schedule()["MonitoringScheduleStatus"] == "Stopped"
        monitor.start_monitoring_schedule()
        assert monitor.describe_schedule()["MonitoringScheduleStatus"] == "Scheduled"
        definition = monitor.job_definition_name
        monitor.delete_monitoring_schedule()
        assert monitor.monitoring_schedule_name is None and monitor.job_definition_name is None
        with pytest.raises(Exception, match="Could not find monitoring schedule"):
            session.describe_monitoring_schedule("monitored-hourly")
        from stepfn.local.sagemaker.records import RecordStore

        assert RecordStore().get("data-quality-job-definition", str(definition)) is None

        # A one-time schedule (NOW) runs once, before create_monitoring_schedule returns.
        once = DefaultModelMonitor(role=ROLE, sagemaker_session=session)
        once.create_monitoring_schedule(
            monitor_schedule_name="monitored-once", endpoint_input=predictor.endpoint_name,
            statistics=monitor.baseline_statistics(), constraints=monitor.suggested_constraints(),
            schedule_cron_expression=CronExpressionGenerator.now(), data_analysis_start_time="-PT1H",
            data_analysis_end_time="-PT0H")
        [execution] = once.list_executions()
        assert execution.describe()["ProcessingJobStatus"] == "Completed"
        assert execution.output.destination.startswith(
            f"s3://{bucket}/model-monitor/monitoring/monitored-once/results/monitored/monitored-once/")
        assert once.latest_monitoring_constraint_violations().body_dict["violations"]  # type: ignore[union-attr]
        once.delete_monitoring_schedule()
        with pytest.raises(ValueError, match="data_analysis_start_time"):
            DefaultModelMonitor(role=ROLE, sagemaker_session=session).create_monitoring_schedule(
                endpoint_input="monitored", schedule_cron_expression="NOW")
    finally:
        predictor.delete_endpoint()


def test_notebook_flow_with_built_in_xgboost(tmp_path: Path) -> None:
    """The flow of SageMaker's "Introduction to Model Monitor" notebook: a built-in XGBoost endpoint deployed with
    capture, invoked row by row and in batches from a CSV file, a baseline from the training data with header,
    an hourly schedule, then the latest execution read as the notebook reads it."""
    import numpy as np
    import pandas as pd

    from stepfn.sagemaker import image_uris
    from stepfn.sagemaker.estimator import Estimator
    from stepfn.sagemaker.inputs import TrainingInput
    from stepfn.sagemaker.predictor import Predictor
    from stepfn.sagemaker.s3 import S3Downloader

    session = Session()
    bucket = session.default_bucket()
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"Churn": 0, "Account Length": rng.integers(1, 200, 400),
                          "Day Mins": rng.normal(180, 50, 400).round(1), "Intl Plan": rng.integers(0, 2, 400)})
    frame["Churn"] = ((frame["Day Mins"] > 220) | (frame["Intl Plan"] == 1) & (frame["Account Length"] > 150)).astype(int)
    train = session.upload_string_as_file_body(frame.to_csv(header=False, index=False), bucket, "churn/train/train.csv")
    image = image_uris.retrieve("xgboost", session.boto_region_name, "1.2-1")
    estimator = Estimator(image, ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                          output_path=f"s3://{bucket}/churn/output", sagemaker_session=session)
    estimator.set_hyperparameters(objective="binary:logistic", num_round=20, max_depth=3)
    estimator.fit({"train": TrainingInput(train.rsplit("/", 1)[0], content_type="csv")})
    capture = DataCaptureConfig(enable_capture=True, sampling_percentage=100,
                                destination_s3_uri=f"s3://{bucket}/churn/datacapture")
    estimator.deploy(initial_instance_count=1, instance_type="ml.m4.xlarge", endpoint_name="churn",
                     data_capture_config=capture)
    predictor = Predictor(endpoint_name="churn", serializer=CSVSerializer())
    try:
        features = frame.drop(columns=["Churn"]).to_csv(header=False, index=False).splitlines()
        for row in features[:60]:
            predictor.predict(row)
        predictor.predict("\n".join(features[60:100]))  # one call, 40 records: 40 scores in one line
        captured_files(ObjectStore(), f"s3://{bucket}/churn/datacapture/churn/AllTraffic/", 61)

        (tmp_path / "training-dataset-with-header.csv").write_text(frame.to_csv(index=False))
        baseline_uri = session.upload_data(str(tmp_path / "training-dataset-with-header.csv"), bucket, "churn/baselining")
        my_default_monitor = DefaultModelMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                                                 volume_size_in_gb=20, max_runtime_in_seconds=3600)
        baseline_job = my_default_monitor.suggest_baseline(
            baseline_dataset=baseline_uri, dataset_format=DatasetFormat.csv(header=True),
            output_s3_uri=f"s3://{bucket}/churn/baselining/results", wait=True)
        schema = pd.json_normalize(baseline_job.baseline_statistics().body_dict["features"])
        assert list(schema["name"]) == ["Churn", "Account Length", "Day Mins", "Intl Plan"]
        my_default_monitor.create_monitoring_schedule(
            monitor_schedule_name="churn-schedule", endpoint_input=predictor.endpoint_name,
            output_s3_uri=f"s3://{bucket}/churn/reports", statistics=my_default_monitor.baseline_statistics(),
            constraints=my_default_monitor.suggested_constraints(),
            schedule_cron_expression=CronExpressionGenerator.hourly(), enable_cloudwatch_metrics=True)
        assert my_default_monitor.describe_schedule()["MonitoringScheduleStatus"] == "Scheduled"

        run_monitoring_schedule("churn-schedule")
        mon_executions = my_default_monitor.list_executions()
        latest_execution = mon_executions[-1]
        latest_execution.wait(logs=False)
        described = latest_execution.describe()
        assert described["ProcessingJobStatus"] == "Completed"
        assert described["ExitMessage"].startswith(("Completed:", "CompletedWithViolations:"))
        report_uri = latest_execution.output.destination
        assert sorted(f.rsplit("/", 1)[1] for f in S3Downloader.list(report_uri, sagemaker_session=session)) == [
            "constraint_violations.json", "constraints.json", "statistics.json"]  # as the notebook's listing
        statistics = my_default_monitor.latest_monitoring_statistics().body_dict  # type: ignore[union-attr]
        assert statistics["dataset"]["item_count"] == 100  # the batch call counts 40 records
        # The scores (the model's output, first) stand where the label stood in the baseline.
        churn = next(f for f in statistics["features"] if f["name"] == "Churn")
        assert churn["inferred_type"] == "Fractional"
        violations = my_default_monitor.latest_monitoring_constraint_violations()
        assert violations is not None
        table = pd.json_normalize(violations.body_dict["violations"])
        # Scores (fractional) where the baseline had 0/1 labels: the analyzer says so, as on SageMaker.
        assert ("Churn", "data_type_check") in set(zip(table["feature_name"], table["constraint_check_type"],
                                                       strict=True))
        my_default_monitor.stop_monitoring_schedule()
        my_default_monitor.delete_monitoring_schedule()
    finally:
        predictor.delete_endpoint()


def test_on_aws_create_monitoring_schedule_calls_sagemaker() -> None:
    """With a boto3 session the same calls go to SageMaker, with sagemaker v2's request shapes."""
    import boto3
    from botocore.stub import ANY, Stubber

    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

    class BotoSession:  # what monitoring calls ask of a boto3 session: its region and a sagemaker client
        region_name = "us-east-1"

        def client(self, service: str, region_name: str | None = None) -> Any:
            assert service == "sagemaker"
            return client

    session = Session(boto_session=BotoSession(), default_bucket="my-bucket")
    monitor = DefaultModelMonitor(role=ROLE, sagemaker_session=session, max_runtime_in_seconds=1800)
    with Stubber(client) as stub:
        stub.add_response("create_data_quality_job_definition", {"JobDefinitionArn": "arn:dq"}, {
            "JobDefinitionName": ANY,
            "DataQualityAppSpecification": {
                "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer",
                "Environment": {"publish_cloudwatch_metrics": "Disabled"}},
            "DataQualityJobInput": {"EndpointInput": {
                "EndpointName": "ep", "LocalPath": "/opt/ml/processing/input/endpoint", "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated"}},
            "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
                "S3Uri": "s3://my-bucket/model-monitor/monitoring/sched/results",
                "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "Continuous"}}]},
            "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                               "VolumeSizeInGB": 30}},
            "RoleArn": ROLE,
            "DataQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://my-bucket/c.json"},
                                          "StatisticsResource": {"S3Uri": "s3://my-bucket/s.json"}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 1800}})
        stub.add_response("create_monitoring_schedule", {"MonitoringScheduleArn": "arn:sched"}, {
            "MonitoringScheduleName": "sched", "Tags": [], "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": ANY, "MonitoringType": "DataQuality"}})
        stub.add_response("list_monitoring_executions", {"MonitoringExecutionSummaries": []}, {
            "MonitoringScheduleName": "sched", "SortBy": "ScheduledTime", "SortOrder": "Descending",
            "MaxResults": 100})
        monitor.create_monitoring_schedule(
            endpoint_input="ep", constraints="s3://my-bucket/c.json", statistics="s3://my-bucket/s.json",
            monitor_schedule_name="sched", schedule_cron_expression=CronExpressionGenerator.hourly(),
            enable_cloudwatch_metrics=False)
        assert monitor.list_executions() == []
        stub.assert_no_pending_responses()


PREPROCESSOR = '''import json


def preprocess_handler(inference_record, logger):
    """The request's two features and the model's score, by name; calls with a=0 are test traffic."""
    a, b = (float(value) for value in inference_record.endpoint_input.data.split(","))
    if a == 0:
        logger.info("left out %s", inference_record.event_metadata.event_id)
        return []
    return {"y": float(inference_record.endpoint_output.data), "a": a, "b": b}
'''

POSTPROCESSOR = '''def postprocess_handler():
    print("postprocess_handler: reports are written")
'''


def test_baseline_job_scripts_and_schedule_updates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """suggest_baseline runs a baseline suggestion processing job (with a post-analytics script); a schedule with
    a record preprocessor and the baselining job as its baseline; update_monitoring_schedule as sagemaker v2: a
    cron expression alone updates the schedule, other settings make a new job definition the schedule points at."""
    from stepfn.local.sagemaker.records import RecordStore

    session = Session()
    bucket = session.default_bucket()
    predictor = deploy(tmp_path, session)
    try:
        invoke_all(predictor, session)
        (tmp_path / "baseline.csv").write_text("y,a,b\n" + "".join(f"{y},{a},{b}\n" for y, a, b in ROWS))
        (tmp_path / "preprocessor.py").write_text(PREPROCESSOR)
        (tmp_path / "postprocessor.py").write_text(POSTPROCESSOR)
        monitor = DefaultModelMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge",
                                      sagemaker_session=session)
        job = monitor.suggest_baseline(baseline_dataset=str(tmp_path / "baseline.csv"),
                                       dataset_format=DatasetFormat.csv(header=True),
                                       post_analytics_processor_script=str(tmp_path / "postprocessor.py"))
        assert "postprocess_handler: reports are written" in capsys.readouterr().out  # the job's log, shown
        assert job is monitor.latest_baselining_job and job.job_name == monitor.latest_baselining_job_name
        assert job.job_name.startswith("baseline-suggestion-job-")
        described = job.describe()
        assert described["ProcessingJobStatus"] == "Completed"
        assert described["ExitMessage"] == "Completed: Job completed successfully with no violations."
        assert [(i["InputName"], i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"])
                for i in described["ProcessingInputs"]] == [
            ("baseline_dataset_input",
             f"s3://{bucket}/model-monitor/baselining/{job.job_name}/input/baseline_dataset_input",
             "/opt/ml/processing/input/baseline_dataset_input"),
            ("post_analytics_processor_script_input",
             f"s3://{bucket}/model-monitor/baselining/{job.job_name}/input/post_analytics_processor_script_input",
             "/opt/ml/processing/input/post_analytics_processor_script_input")]
        assert described["Environment"]["post_analytics_processor_script"] == \
            "/opt/ml/processing/input/post_analytics_processor_script_input/postprocessor.py"
        assert described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"] == \
            f"s3://{bucket}/model-monitor/baselining/{job.job_name}/results"
        assert [f["name"] for f in job.baseline_statistics().body_dict["features"]] == ["y", "a", "b"]

        # No baseline files given: the definition names the baselining job, and the executions read its files.
        monitor.create_monitoring_schedule(
            monitor_schedule_name="scripted", endpoint_input=predictor.endpoint_name,
            record_preprocessor_script=str(tmp_path / "preprocessor.py"),
            schedule_cron_expression=CronExpressionGenerator.hourly())
        first_definition = str(monitor.job_definition_name)
        definition = RecordStore().get("data-quality-job-definition", first_definition) or {}
        assert definition["DataQualityBaselineConfig"] == {"BaseliningJobName": job.job_name}
        script_uri = definition["DataQualityAppSpecification"]["RecordPreprocessorSourceUri"]
        assert re.fullmatch(rf"s3://{bucket}/model-monitor/monitoring/scripted/input/[0-9a-f-]{{36}}/preprocessor\.py",
                            script_uri), script_uri
        summary = run_monitoring_schedule("scripted")
        assert summary["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), summary
        statistics = monitor.latest_monitoring_statistics().body_dict  # type: ignore[union-attr]
        assert statistics["dataset"]["item_count"] == 90  # the ten calls with a=0 left out by the preprocessor
        assert [f["name"] for f in statistics["features"]] == ["a", "b", "y"]

        # A new expression alone: the same definition, the schedule's expression changed.
        monitor.update_monitoring_schedule(schedule_cron_expression=CronExpressionGenerator.daily(6))
        config = monitor.describe_schedule()["MonitoringScheduleConfig"]
        assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 6 ? * * *)"
        assert config["MonitoringJobDefinitionName"] == first_definition == monitor.job_definition_name
        # Other settings: a new definition from the current one, with them changed; the monitor follows.
        monitor.update_monitoring_schedule(max_runtime_in_seconds=1200, instance_type="ml.m5.large",
                                           env={"note": "v2"})
        second_definition = str(monitor.job_definition_name)
        assert second_definition != first_definition and monitor.instance_type == "ml.m5.large"
        config = monitor.describe_schedule()["MonitoringScheduleConfig"]
        assert config["MonitoringJobDefinitionName"] == second_definition
        assert config["ScheduleConfig"]["ScheduleExpression"] == "cron(0 6 ? * * *)"  # kept
        records = RecordStore()
        updated = records.get("data-quality-job-definition", second_definition) or {}
        assert updated["StoppingCondition"] == {"MaxRuntimeInSeconds": 1200}
        assert updated["JobResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"
        assert updated["DataQualityAppSpecification"]["RecordPreprocessorSourceUri"] == script_uri
        assert updated["DataQualityAppSpecification"]["Environment"] == {"note": "v2"}
        assert updated["DataQualityBaselineConfig"] == {"BaseliningJobName": job.job_name}
        assert records.get("data-quality-job-definition", first_definition) is not None  # v2 leaves it
        run_monitoring_schedule("scripted")
        latest = monitor.list_executions()[-1].describe()
        assert latest["StoppingCondition"] == {"MaxRuntimeInSeconds": 1200}
        assert latest["Environment"]["note"] == "v2"
        assert latest["Environment"]["record_preprocessor_script"] == \
            "/opt/ml/processing/code/preprocessing/preprocessor.py"
        monitor.delete_monitoring_schedule()
        with pytest.raises(ValueError, match="Nothing to update, please create a schedule first"):
            monitor.update_monitoring_schedule(schedule_cron_expression=CronExpressionGenerator.hourly())
    finally:
        predictor.delete_endpoint()


def test_on_aws_update_monitoring_schedule_calls_sagemaker() -> None:
    """update_monitoring_schedule with a boto3 session: UpdateMonitoringSchedule, and for other settings a new job
    definition first, with sagemaker v2's request shapes."""
    import boto3
    from botocore.stub import ANY, Stubber

    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")

    class BotoSession:
        region_name = "us-east-1"

        def client(self, service: str, region_name: str | None = None) -> Any:
            return client

    session = Session(boto_session=BotoSession(), default_bucket="my-bucket")
    monitor = DefaultModelMonitor(role=ROLE, sagemaker_session=session)
    monitor.monitoring_schedule_name, monitor.job_definition_name = "sched", "dq-1"
    existing = {
        "JobDefinitionName": "dq-1", "JobDefinitionArn": "arn:dq-1", "CreationTime": datetime(2026, 1, 1),
        "DataQualityAppSpecification": {"ImageUri": monitor.image_uri,
                                        "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input"}},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://my-bucket/out", "LocalPath": "/opt/ml/processing/output"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}},
        "RoleArn": ROLE}
    with Stubber(client) as stub:
        stub.add_response("update_monitoring_schedule", {"MonitoringScheduleArn": "arn:sched"}, {
            "MonitoringScheduleName": "sched", "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": "dq-1", "MonitoringType": "DataQuality"}})
        monitor.update_monitoring_schedule(schedule_cron_expression=CronExpressionGenerator.hourly())
        stub.add_response("describe_monitoring_schedule", {
            "MonitoringScheduleArn": "arn:sched", "MonitoringScheduleName": "sched",
            "MonitoringScheduleStatus": "Scheduled", "CreationTime": datetime(2026, 1, 1),
            "LastModifiedTime": datetime(2026, 1, 1), "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": "dq-1", "MonitoringType": "DataQuality"}},
            {"MonitoringScheduleName": "sched"})
        stub.add_response("describe_data_quality_job_definition", existing, {"JobDefinitionName": "dq-1"})
        stub.add_response("create_data_quality_job_definition", {"JobDefinitionArn": "arn:dq-2"}, {
            "JobDefinitionName": ANY,
            "DataQualityAppSpecification": {"ImageUri": monitor.image_uri,
                                            "Environment": {"publish_cloudwatch_metrics": "Enabled"}},
            "DataQualityJobInput": existing["DataQualityJobInput"],
            "DataQualityJobOutputConfig": existing["DataQualityJobOutputConfig"],
            "JobResources": {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge",
                                               "VolumeSizeInGB": 30}},
            "RoleArn": ROLE, "StoppingCondition": {"MaxRuntimeInSeconds": 600}})
        stub.add_response("update_monitoring_schedule", {"MonitoringScheduleArn": "arn:sched"}, {
            "MonitoringScheduleName": "sched", "MonitoringScheduleConfig": {
                "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                "MonitoringJobDefinitionName": ANY, "MonitoringType": "DataQuality"}})
        monitor.update_monitoring_schedule(instance_count=2, max_runtime_in_seconds=600)
        stub.assert_no_pending_responses()
    assert monitor.job_definition_name != "dq-1" and monitor.instance_count == 2


def test_batch_transform_data_capture_and_monitoring(tmp_path: Path) -> None:
    """The flow of SageMaker's "Model Monitor with Batch Transform - Data Quality Monitoring On-Schedule" notebook:
    a transform with a BatchDataCaptureConfig writes manifests under input/ and output/, a baseline from the
    training inputs with a header, an hourly schedule over a BatchTransformInput of headerless CSV, its execution
    reading the transform's inputs."""
    from stepfn.sagemaker.inputs import BatchDataCaptureConfig
    from stepfn.sagemaker.model_monitor import BatchTransformInput, MonitoringDatasetFormat
    from stepfn.sagemaker.s3 import S3Downloader

    session = Session()
    bucket = session.default_bucket()
    (tmp_path / "train.py").write_text(SKLEARN_SCRIPT)
    train = session.upload_string_as_file_body("".join(f"{y},{a},{b}\n" for y, a, b in ROWS), bucket,
                                               "batch/train/train.csv")
    estimator = SKLearn(entry_point=str(tmp_path / "train.py"), framework_version="1.2-1", role=ROLE,
                        instance_type="ml.m5.large", instance_count=1)
    estimator.fit({"train": train.rsplit("/", 1)[0]})
    capture = f"s3://{bucket}/batch/datacapture"
    transformer = estimator.transformer(instance_count=1, instance_type="ml.m4.xlarge", accept="text/csv",
                                        assemble_with="Line", output_path=f"s3://{bucket}/batch/transform-output")
    # Inputs of a later month: b far outside what the model was trained on.
    session.upload_string_as_file_body("".join(f"{a},{b + 40}\n" for _, a, b in ROWS[:60]), bucket,
                                       "batch/transform-input/part-1.csv")
    session.upload_string_as_file_body("".join(f"{a},{b + 40}\n" for _, a, b in ROWS[60:]), bucket,
                                       "batch/transform-input/part-2.csv")
    transformer.transform(f"s3://{bucket}/batch/transform-input", content_type="text/csv", split_type="Line",
                          batch_data_capture_config=BatchDataCaptureConfig(destination_s3_uri=capture), wait=True)

    # SageMaker would add an inference id and time to each output record; the local transform says it does not.
    with pytest.raises(Exception, match="GenerateInferenceId is not supported by the local batch transform"):
        transformer.transform(f"s3://{bucket}/batch/transform-input", content_type="text/csv", split_type="Line",
                              batch_data_capture_config=BatchDataCaptureConfig(capture, generate_inference_id=True))
    [input_manifest] = S3Downloader.list(f"{capture}/input/", sagemaker_session=session)
    [output_manifest] = S3Downloader.list(f"{capture}/output/", sagemaker_session=session)
    assert re.search(r"/input/\d{4}/\d\d/\d\d/\d\d/[0-9a-f-]{36}\.json$", input_manifest), input_manifest
    assert json.loads(S3Downloader.read_file(input_manifest, session)) == [
        {"prefix": f"s3://{bucket}/batch/transform-input/"}, "part-1.csv", "part-2.csv"]
    assert json.loads(S3Downloader.read_file(output_manifest, session)) == [
        {"prefix": f"s3://{bucket}/batch/transform-output/"}, "part-1.csv.out", "part-2.csv.out"]

    (tmp_path / "training-inputs-with-header.csv").write_text("a,b\n" + "".join(f"{a},{b}\n" for _, a, b in ROWS))
    monitor = DefaultModelMonitor(role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session)
    monitor.suggest_baseline(baseline_dataset=str(tmp_path / "training-inputs-with-header.csv"),
                             dataset_format=DatasetFormat.csv(header=True),
                             output_s3_uri=f"s3://{bucket}/batch/baselining/results")
    monitor.create_monitoring_schedule(
        monitor_schedule_name="batch-schedule",
        batch_transform_input=BatchTransformInput(data_captured_destination_s3_uri=capture,
                                                  destination="/opt/ml/processing/input",
                                                  dataset_format=MonitoringDatasetFormat.csv(header=False)),
        output_s3_uri=f"s3://{bucket}/batch/reports", statistics=f"s3://{bucket}/batch/baselining/results/statistics.json",
        constraints=f"s3://{bucket}/batch/baselining/results/constraints.json",
        schedule_cron_expression=CronExpressionGenerator.hourly())
    described = monitor.describe_schedule()
    assert described["MonitoringScheduleStatus"] == "Scheduled" and "EndpointName" not in described

    summary = run_monitoring_schedule("batch-schedule")
    assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations", summary
    latest = monitor.list_executions()[-1]
    job = latest.describe()
    assert [(i["S3Input"]["S3Uri"], i["S3Input"]["S3DataType"]) for i in job["ProcessingInputs"]
            if i["InputName"].startswith("input_")] == [(input_manifest, "ManifestFile")]
    assert json.loads(job["Environment"]["dataset_format"]) == {"csv": {"header": False}}
    # A batch transform's reports go under the schedule's name, with no endpoint folder.
    assert re.fullmatch(rf"s3://{bucket}/batch/reports/batch-schedule/\d{{4}}/\d\d/\d\d/\d\d",
                        latest.output.destination), latest.output.destination
    statistics = monitor.latest_monitoring_statistics().body_dict  # type: ignore[union-attr]
    assert statistics["dataset"]["item_count"] == 100  # what the transform read, named after the baseline
    assert [f["name"] for f in statistics["features"]] == ["a", "b"]
    violations = monitor.latest_monitoring_constraint_violations().body_dict["violations"]  # type: ignore[union-attr]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == {("b", "baseline_drift_check")}
    monitor.delete_monitoring_schedule()
