"""boto3's sagemaker client against ``stepfn serve``: Model Monitor's data quality job definitions, monitoring
schedules and executions, shapes parsed by botocore, errors with SageMaker's codes."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.capture import capture_event, capture_file_uri
from stepfn.local.sagemaker.records import RecordStore, now_millis

IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ROLE = "arn:aws:iam::123456789012:role/Monitor"
CAPTURE = "s3://bucket/capture"


def prepare(home: Path) -> None:
    """An endpoint that captured calls of two features a few minutes ago, and a baseline of the same data."""
    store = ObjectStore(home / "s3")
    RecordStore(home).put("endpoint", "ep", {
        "EndpointName": "ep", "EndpointConfigName": "ep", "EndpointStatus": "InService", "CreationTime": now_millis(),
        "LastModifiedTime": now_millis(), "DataCaptureConfig": {
            "EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 100,
            "DestinationS3Uri": CAPTURE}})
    rows = [(index % 7, index % 5 + 0.5) for index in range(70)]
    store.put_bytes("s3://bucket/baseline/data.csv", ("a,b\n" + "".join(f"{a},{b}\n" for a, b in rows)).encode())
    config = {"CaptureOptions": [{"CaptureMode": "Input"}], "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]}}
    when = datetime.now(UTC) - timedelta(minutes=3)
    lines = [json.dumps(capture_event(config, f"{a},{b}".encode(), "text/csv", b"", None, when)) for a, b in rows]
    store.put_bytes(capture_file_uri(CAPTURE, "ep", "AllTraffic", when, str(uuid.uuid4())),
                    ("\n".join(lines) + "\n").encode())


def test_monitoring_api_through_boto3(serve: Callable[..., str], make_client: Callable[..., Any],
                                      stepfn_home: Path) -> None:
    from stepfn.sagemaker import Session
    from stepfn.sagemaker.model_monitor import DatasetFormat, DefaultModelMonitor

    prepare(stepfn_home)
    baseline = DefaultModelMonitor(role=ROLE, sagemaker_session=Session()).suggest_baseline(
        "s3://bucket/baseline/data.csv", DatasetFormat.csv(header=True), output_s3_uri="s3://bucket/baseline/out")
    sagemaker = make_client("sagemaker", serve())
    sagemaker.create_data_quality_job_definition(
        JobDefinitionName="dq",
        DataQualityBaselineConfig={"ConstraintsResource": {"S3Uri": f"{baseline.outputs[0].destination}/constraints.json"},
                                   "StatisticsResource": {"S3Uri": f"{baseline.outputs[0].destination}/statistics.json"}},
        DataQualityAppSpecification={"ImageUri": IMAGE},
        DataQualityJobInput={"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input/endpoint"}},
        DataQualityJobOutputConfig={"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://bucket/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        JobResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        RoleArn=ROLE)
    assert sagemaker.describe_data_quality_job_definition(JobDefinitionName="dq")["RoleArn"] == ROLE
    # A one-time schedule: its execution starts as the schedule is created, on the server.
    arn = sagemaker.create_monitoring_schedule(MonitoringScheduleName="once", MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT1H",
                           "DataAnalysisEndTime": "-PT0H"},
        "MonitoringJobDefinitionName": "dq", "MonitoringType": "DataQuality"})["MonitoringScheduleArn"]
    assert arn.endswith(":monitoring-schedule/once")
    deadline = time.monotonic() + 60
    while True:
        [execution] = sagemaker.list_monitoring_executions(MonitoringScheduleName="once")["MonitoringExecutionSummaries"]
        if execution["MonitoringExecutionStatus"] not in ("Pending", "InProgress") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert execution["MonitoringExecutionStatus"] == "Completed", execution
    assert isinstance(execution["ScheduledTime"], datetime) and execution["EndpointName"] == "ep"
    job = sagemaker.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].rsplit("/", 1)[1])
    assert job["MonitoringScheduleArn"] == arn and job["ProcessingJobStatus"] == "Completed"
    report = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert report.startswith("s3://bucket/reports/ep/once/")
    reports = ObjectStore(stepfn_home / "s3")
    # Nothing violated: statistics and the constraints this data suggests, and no violations file.
    assert not reports.exists(f"{report}/constraint_violations.json")
    assert json.loads(reports.get_bytes(f"{report}/constraints.json"))["features"]
    described = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="once")
    assert described["LastMonitoringExecutionSummary"]["MonitoringExecutionStatus"] == "Completed"

    sagemaker.create_monitoring_schedule(MonitoringScheduleName="hourly", MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}, "MonitoringJobDefinitionName": "dq",
        "MonitoringType": "DataQuality"})
    assert sagemaker.list_monitoring_executions(MonitoringScheduleName="hourly")["MonitoringExecutionSummaries"] == []
    summaries = sagemaker.list_monitoring_schedules(SortBy="Name", SortOrder="Ascending")["MonitoringScheduleSummaries"]
    assert [(s["MonitoringScheduleName"], s["MonitoringScheduleStatus"]) for s in summaries] == [
        ("hourly", "Scheduled"), ("once", "Scheduled")]
    sagemaker.stop_monitoring_schedule(MonitoringScheduleName="hourly")
    assert sagemaker.describe_monitoring_schedule(MonitoringScheduleName="hourly")["MonitoringScheduleStatus"] == \
        "Stopped"
    sagemaker.update_monitoring_schedule(MonitoringScheduleName="hourly", MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "cron(0 12 ? * * *)"}, "MonitoringJobDefinitionName": "dq",
        "MonitoringType": "DataQuality"})
    updated = sagemaker.describe_monitoring_schedule(MonitoringScheduleName="hourly")
    assert updated["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 12 ? * * *)"
    assert updated["MonitoringScheduleStatus"] == "Stopped"
    with pytest.raises(ClientError) as in_use:
        sagemaker.delete_data_quality_job_definition(JobDefinitionName="dq")
    assert in_use.value.response["Error"]["Code"] == "ResourceInUse"
    for name in ("hourly", "once"):
        sagemaker.delete_monitoring_schedule(MonitoringScheduleName=name)
    sagemaker.delete_data_quality_job_definition(JobDefinitionName="dq")
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_monitoring_schedule(MonitoringScheduleName="once")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
