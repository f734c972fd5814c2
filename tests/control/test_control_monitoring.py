"""The control plane starts the monitoring executions that Model Monitor schedules make due, and stays up while a
schedule is Scheduled (a real service process, as a user's workflows start it)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from control_support import wait_until

from stepfn.local.sagemaker.schedules import MonitoringSchedules
from stepfn.workflow._control import ensure_service, service_running

pytestmark = pytest.mark.timeout(180)
IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def schedule(name: str, expression: str) -> dict[str, object]:
    window = {"DataAnalysisStartTime": "-PT1H", "DataAnalysisEndTime": "-PT0H"} if expression == "NOW" else {}
    return {"MonitoringScheduleName": name, "MonitoringScheduleConfig": {
        "ScheduleConfig": {"ScheduleExpression": expression, **window}, "MonitoringJobDefinitionName": "dq",
        "MonitoringType": "DataQuality"}}


def test_the_service_runs_due_schedules_and_stays_up_for_scheduled_ones(
        user_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEPFN_CONTROL_IDLE_SECONDS", "1")
    schedules = MonitoringSchedules(user_home)
    schedules.create_data_quality_job_definition({
        "JobDefinitionName": "dq", "DataQualityAppSpecification": {"ImageUri": IMAGE},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "gone", "LocalPath": "/opt/ml/processing/input/ep"}},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://bucket/reports", "LocalPath": "/opt/ml/processing/output"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge"}},
        "RoleArn": "arn:aws:iam::123456789012:role/Monitor"})
    # Made while no service runs: nothing has run it yet.
    schedules.create(schedule("once", "NOW"))
    schedules.create(schedule("hourly", "cron(0 * ? * * *)"))
    assert schedules.list_executions({})["MonitoringExecutionSummaries"] == []

    ensure_service(user_home)

    def executions(name: str) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = schedules.list_executions(
            {"MonitoringScheduleName": name})["MonitoringExecutionSummaries"]
        return summaries

    wait_until(lambda: executions("once") and executions("once")[0]["MonitoringExecutionStatus"] == "Failed", 60,
               "the service to run the NOW schedule")
    [execution] = executions("once")
    assert execution["FailureReason"] == "Endpoint gone does not exist."
    # Idle for longer than its idle timeout, the service stays: a schedule is Scheduled.
    time.sleep(4)
    assert service_running(user_home)
    # The test may cross an hour: the hourly schedule then runs once, for that whole hour (never for one before it
    # was made); otherwise not at all.
    created = schedules.describe("hourly")["CreationTime"]
    hours = [summary["ScheduledTime"] for summary in executions("hourly")]
    assert all(scheduled % 3_600_000 == 0 and scheduled >= created for scheduled in hours), (created, hours)
    assert len(hours) <= 1, hours
    schedules.delete("hourly")
    wait_until(lambda: not service_running(user_home), 60, "the service to exit once nothing is scheduled")
