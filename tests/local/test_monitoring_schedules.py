"""Monitoring schedules on local SageMaker: the API's shapes, when executions are due, and what they analyze
(stepfn.local.sagemaker.schedules, run by the analyzer as real processing jobs)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from test_models import check_shape

from stepfn.errors import ServiceError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.capture import capture_event, capture_file_uri
from stepfn.local.sagemaker.monitor import analyze, read_dataset, suggest_constraints
from stepfn.local.sagemaker.records import RecordStore, now_millis
from stepfn.local.sagemaker.records import arn as records_arn
from stepfn.local.sagemaker.schedules import MonitoringSchedules, execution_name

IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ROLE = "arn:aws:iam::111122223333:role/Monitor"
CAPTURE = "s3://bucket/capture"
CAPTURE_CONFIG = {"EnableCapture": True, "InitialSamplingPercentage": 100, "DestinationS3Uri": CAPTURE,
                  "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                  "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]}}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


BASELINE: list[tuple[str, str, str]] = []


@pytest.fixture
def setup(stepfn_home: Path, tmp_path: Path) -> tuple[MonitoringSchedules, ObjectStore]:
    """An endpoint record that captures to CAPTURE, and a baseline (label first, then two features)."""
    store = ObjectStore(stepfn_home / "s3")
    records = RecordStore(stepfn_home)
    records.put("endpoint", "ep", {"EndpointName": "ep", "EndpointConfigName": "ep", "EndpointStatus": "InService",
                                   "CreationTime": now_millis(), "LastModifiedTime": now_millis(),
                                   "DataCaptureConfig": {"EnableCapture": True, "CaptureStatus": "Started",
                                                         "CurrentSamplingPercentage": 100,
                                                         "DestinationS3Uri": CAPTURE}})
    rng = np.random.default_rng(0)
    BASELINE[:] = [(f"{rng.random():.4f}", str(rng.integers(20, 60)), f"{rng.normal(50, 5):.3f}") for _ in range(500)]
    (tmp_path / "baseline").mkdir()
    (tmp_path / "baseline" / "train.csv").write_text("label,age,income\n" + "".join(",".join(r) + "\n" for r in BASELINE))
    statistics = analyze(read_dataset(tmp_path / "baseline", {"csv": {"header": True}}))
    store.put_bytes("s3://bucket/baseline/statistics.json", json.dumps(statistics).encode())
    store.put_bytes("s3://bucket/baseline/constraints.json", json.dumps(suggest_constraints(statistics)).encode())
    return MonitoringSchedules(stepfn_home), store


def capture(store: ObjectStore, when: datetime, rows: list[tuple[str, str, str]]) -> None:
    """One capture file of the endpoint holding a call per (score, age, income) row: the features as the request,
    the score as the response."""
    lines = []
    for index, (score, age, income) in enumerate(rows):
        moment = when + timedelta(seconds=index)
        event = capture_event(CAPTURE_CONFIG, f"{age},{income}".encode(), "text/csv", score.encode(), "text/csv",
                              moment)
        lines.append(json.dumps(event))
    store.put_bytes(capture_file_uri(CAPTURE, "ep", "AllTraffic", when, str(uuid.uuid4())),
                    ("\n".join(lines) + "\n").encode())


def definition(name: str = "dq") -> dict[str, Any]:
    return {
        "JobDefinitionName": name,
        "DataQualityBaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://bucket/baseline/constraints.json"},
                                      "StatisticsResource": {"S3Uri": "s3://bucket/baseline/statistics.json"}},
        "DataQualityAppSpecification": {"ImageUri": IMAGE, "Environment": {"publish_cloudwatch_metrics": "Disabled"}},
        "DataQualityJobInput": {"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input/endpoint"}},
        "DataQualityJobOutputConfig": {"MonitoringOutputs": [{"S3Output": {
            "S3Uri": "s3://bucket/reports", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "Continuous"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}},
        "RoleArn": ROLE,
    }


def schedule(name: str, expression: str = "cron(0 * ? * * *)", **extra: Any) -> dict[str, Any]:
    return {"MonitoringScheduleName": name, "MonitoringScheduleConfig": {
        "ScheduleConfig": {"ScheduleExpression": expression, **extra},
        "MonitoringJobDefinitionName": "dq", "MonitoringType": "DataQuality"}}


def test_schedule_api_shapes(setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, _ = setup
    created = schedules.call("create_data_quality_job_definition", definition())
    assert created["JobDefinitionArn"].endswith(":data-quality-job-definition/dq")
    check_shape("DescribeDataQualityJobDefinition", schedules.describe_data_quality_job_definition("dq"))
    arn = schedules.call("create_monitoring_schedule", schedule("hourly"))["MonitoringScheduleArn"]
    assert arn == records_arn("monitoring-schedule", "hourly") and arn.endswith(":monitoring-schedule/hourly")
    described = schedules.describe("hourly")
    check_shape("DescribeMonitoringSchedule", described)
    assert described["MonitoringScheduleStatus"] == "Scheduled" and described["EndpointName"] == "ep"
    assert "LastMonitoringExecutionSummary" not in described
    listed = schedules.call("list_monitoring_schedules", {"EndpointName": "ep"})
    check_shape("ListMonitoringSchedules", listed)
    assert [s["MonitoringScheduleName"] for s in listed["MonitoringScheduleSummaries"]] == ["hourly"]
    assert isinstance(listed["MonitoringScheduleSummaries"][0]["CreationTime"], datetime)
    with pytest.raises(ServiceError, match="already exists") as taken:
        schedules.create(schedule("hourly"))
    assert taken.value.response["Error"]["Code"] == "ResourceInUse"
    with pytest.raises(ServiceError) as missing:
        schedules.describe("nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    with pytest.raises(ServiceError, match="used by monitoring schedule hourly"):
        schedules.delete_data_quality_job_definition("dq")
    for bad in ("rate(1 hour)", "cron(0 * * * *)"):
        with pytest.raises(ServiceError, match="Invalid ScheduleExpression"):
            schedules.create(schedule("bad", bad))
    with pytest.raises(ServiceError, match="DataAnalysisStartTime"):
        schedules.create(schedule("once", "NOW"))
    schedules.stop("hourly")
    assert schedules.describe("hourly")["MonitoringScheduleStatus"] == "Stopped"
    schedules.start("hourly")
    schedules.delete("hourly")
    assert schedules.list_schedules({})["MonitoringScheduleSummaries"] == []
    schedules.delete_data_quality_job_definition("dq")


def test_hourly_execution_is_due_once_after_the_hour(setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, store = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("hourly"))
    described_before = schedules.describe("hourly")
    created = datetime.fromtimestamp(described_before["CreationTime"] / 1000, tz=UTC)
    next_hour = created.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    # Calls of the hour before the fire time, and one of the hour before that (outside the window).
    capture(store, next_hour - timedelta(minutes=30), BASELINE[::2])  # the baseline's own kind of data
    capture(store, next_hour - timedelta(minutes=90), [("0.1", "-1", "500.0")])
    assert schedules.run_due(next_hour - timedelta(seconds=1), background=False) == []
    [job] = schedules.run_due(next_hour + timedelta(minutes=3), background=False)
    assert job == execution_name(schedules.describe("hourly"), next_hour)
    assert job.startswith(f"model-monitoring-{next_hour:%Y%m%d%H}00-")
    assert schedules.run_due(next_hour + timedelta(minutes=20), background=False) == []  # once per fire time
    listed = schedules.call("list_monitoring_executions", {"MonitoringScheduleName": "hourly"})
    check_shape("ListMonitoringExecutions", listed)
    [execution] = listed["MonitoringExecutionSummaries"]
    assert execution["MonitoringExecutionStatus"] == "Completed", execution.get("FailureReason")
    assert execution["ScheduledTime"] == next_hour and execution["MonitoringJobDefinitionName"] == "dq"
    assert execution["ProcessingJobArn"].endswith(f"processing-job/{job}")
    job_record = RecordStore(schedules.records.home).get("processing-job", job) or {}
    environment = job_record["Environment"]
    assert environment["start_time"] == f"{next_hour - timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"
    assert environment["end_time"] == f"{next_hour:%Y-%m-%dT%H:%M:%SZ}"
    assert environment["sagemaker_monitoring_schedule_name"] == "hourly"
    assert environment["publish_cloudwatch_metrics"] == "Disabled"  # the definition's own environment wins
    assert job_record["MonitoringScheduleArn"] == schedules.describe("hourly")["MonitoringScheduleArn"]
    folder = f"ep/AllTraffic/{next_hour - timedelta(hours=1):%Y/%m/%d/%H}"
    assert [(i["InputName"], i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"]) for i in job_record["ProcessingInputs"]] == [
        ("input_1", f"{CAPTURE}/{folder}", f"/opt/ml/processing/input/endpoint/{folder}"),
        ("constraints", "s3://bucket/baseline/constraints.json", "/opt/ml/processing/baseline/constraints"),
        ("baseline", "s3://bucket/baseline/statistics.json", "/opt/ml/processing/baseline/stats")]
    report = f"s3://bucket/reports/ep/hourly/{next_hour:%Y/%m/%d/%H}"
    statistics = json.loads(store.get_bytes(f"{report}/statistics.json"))
    assert statistics["dataset"]["item_count"] == 250  # the call of the hour before the window is left out
    assert [f["name"] for f in statistics["features"]] == ["label", "age", "income"]  # output column first
    assert not store.exists(f"{report}/constraint_violations.json")  # written only when something is violated
    assert [f["name"] for f in json.loads(store.get_bytes(f"{report}/constraints.json"))["features"]] == [
        "label", "age", "income"]
    summary = schedules.describe("hourly")["LastMonitoringExecutionSummary"]
    assert summary["MonitoringExecutionStatus"] == "Completed"
    # Deleted and made again under its name, it is another schedule: its execution of that hour is its own.
    schedules.delete("hourly")
    schedules.create(schedule("hourly"))
    again = schedules.describe("hourly")
    again_hour = datetime.fromtimestamp(again["CreationTime"] / 1000, tz=UTC).replace(minute=0, second=0,
                                                                                     microsecond=0) + timedelta(hours=1)
    assert execution_name(again, again_hour) != execution_name(described_before, again_hour)


def test_a_schedule_made_again_in_the_same_millisecond_is_another_schedule(
        setup: tuple[MonitoringSchedules, ObjectStore], monkeypatch: pytest.MonkeyPatch) -> None:
    """A schedule's execution names hash its CreationTime, so that one deleted and made again under its name gets
    jobs of its own (the old one's processing jobs stay). On a quick machine the delete and the create can share a
    millisecond of the wall clock: forced here by stopping it."""
    from stepfn.local.sagemaker import records as records_module

    schedules, _ = setup
    schedules.create_data_quality_job_definition(definition())
    frozen = time.time_ns()
    monkeypatch.setattr(records_module, "time", SimpleNamespace(time_ns=lambda: frozen))
    schedules.create(schedule("hourly"))
    before = schedules.describe("hourly")
    schedules.delete("hourly")
    schedules.create(schedule("hourly"))
    again = schedules.describe("hourly")
    hour = at("2026-01-01T12:00:00")
    assert execution_name(again, hour) != execution_name(before, hour)


def test_run_now_finds_violations_and_a_stopped_schedule_runs_nothing(
        setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, store = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("drift"))
    now = datetime.now(UTC)
    # Incomes far above the baseline's, and ages that are not whole numbers.
    capture(store, now - timedelta(minutes=5), [(score, f"{age}.5", f"{float(income) + 40:.3f}")
                                                 for score, age, income in BASELINE[:100]])
    execution = schedules.run_now("drift")
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution.get("FailureReason")
    scheduled = datetime.fromtimestamp(execution["ScheduledTime"] / 1000, tz=UTC)
    report = f"s3://bucket/reports/ep/drift/{scheduled:%Y/%m/%d/%H}"
    violations = json.loads(store.get_bytes(f"{report}/constraint_violations.json"))["violations"]
    assert {(v["feature_name"], v["constraint_check_type"]) for v in violations} == {
        ("income", "baseline_drift_check"), ("age", "data_type_check")}
    schedules.stop("drift")
    assert schedules.run_due(now + timedelta(hours=2), background=False) == []


def test_a_window_without_data_fails_as_on_sagemaker(setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, _ = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("empty"))
    execution = schedules.run_now("empty")
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert execution["FailureReason"] == "Job inputs had no data"
    assert "ProcessingJobArn" not in execution


def test_executions_list_newest_created_first_unless_sorted_by_scheduled_time(
        setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    """ListMonitoringExecutions sorts by CreationTime unless SortBy names another field (botocore's model)."""
    schedules, _ = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("empty"))
    later, earlier = at("2026-01-01T12:00:00"), at("2026-01-01T09:00:00")
    schedules.run_now("empty", scheduled_time=later)
    schedules.run_now("empty", scheduled_time=earlier)

    def listed(**params: str) -> list[datetime]:
        summaries = schedules.list_executions({"MonitoringScheduleName": "empty", **params})
        return [datetime.fromtimestamp(e["ScheduledTime"] / 1000, tz=UTC)
                for e in summaries["MonitoringExecutionSummaries"]]

    assert listed() == [earlier, later]
    assert listed(SortBy="ScheduledTime") == [later, earlier]
    assert listed(SortBy="ScheduledTime", SortOrder="Ascending") == [earlier, later]
    with pytest.raises(ServiceError, match="Invalid pagination token"):
        schedules.list_executions({"MonitoringScheduleName": "empty", "NextToken": "garbage"})


def test_two_runs_in_one_second_the_later_created_is_the_last(
        setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    """Runs started by hand within one second share a ScheduledTime; describe's LastMonitoringExecutionSummary and
    the SDK's newest-by-ScheduledTime listing must both give the one created later."""
    schedules, store = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("twice"))
    scheduled = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    first = schedules.run_now("twice", scheduled_time=scheduled)
    assert first["MonitoringExecutionStatus"] == "Failed"  # no data yet
    capture(store, scheduled - timedelta(minutes=5), BASELINE[:50])
    second = schedules.run_now("twice", scheduled_time=scheduled)
    assert second["MonitoringExecutionStatus"] != "Failed", second.get("FailureReason")
    last = schedules.describe("twice")["LastMonitoringExecutionSummary"]
    assert (last["CreationTime"], last["MonitoringExecutionStatus"]) == \
        (second["CreationTime"], second["MonitoringExecutionStatus"])
    newest = schedules.list_executions({"MonitoringScheduleName": "twice", "SortBy": "ScheduledTime",
                                        "MaxResults": 1})["MonitoringExecutionSummaries"]
    assert [e["CreationTime"] for e in newest] == [second["CreationTime"]]


def test_now_schedule_runs_once_over_its_window(setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, store = setup
    inline = definition()
    schedules.create({"MonitoringScheduleName": "once", "MonitoringScheduleConfig": {
        "ScheduleConfig": {"ScheduleExpression": "NOW", "DataAnalysisStartTime": "-PT2H",
                           "DataAnalysisEndTime": "-PT0H"},
        "MonitoringJobDefinition": {
            "BaselineConfig": inline["DataQualityBaselineConfig"],
            "MonitoringInputs": [inline["DataQualityJobInput"]],
            "MonitoringOutputConfig": inline["DataQualityJobOutputConfig"],
            "MonitoringResources": inline["JobResources"],
            "MonitoringAppSpecification": {"ImageUri": IMAGE},
            "RoleArn": ROLE}}})
    now = datetime.now(UTC)
    capture(store, now - timedelta(minutes=100), BASELINE[:5])
    capture(store, now - timedelta(minutes=10), BASELINE[5:10])
    [job] = schedules.run_due(background=False)
    assert schedules.run_due(background=False) == []
    [execution] = schedules.list_executions({"MonitoringScheduleName": "once"})["MonitoringExecutionSummaries"]
    assert execution["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), execution
    record = RecordStore(schedules.records.home).get("processing-job", job) or {}
    assert len([i for i in record["ProcessingInputs"] if i["InputName"].startswith("input_")]) == 2  # two hours
    assert not schedules.busy()  # a NOW schedule that ran keeps nothing up


def test_now_schedule_window_holds_calls_made_in_its_creation_second(
        setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    """Capture records carry whole-second times: a call made in the second the NOW schedule was created, before it,
    is in its window ending -PT0H (CI on a quick machine created the schedule in the very second of the calls)."""
    schedules, store = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("same-second", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"))
    created = datetime.fromtimestamp(schedules.describe("same-second")["CreationTime"] / 1000, tz=UTC)
    capture(store, created - timedelta(minutes=10), BASELINE[:5])
    capture(store, created.replace(microsecond=0), BASELINE[5:6])  # inferenceTime: the creation second
    [job] = schedules.run_due(background=False)
    record = RecordStore(schedules.records.home).get("processing-job", job) or {}
    report = record["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    statistics = json.loads(store.get_bytes(f"{report}/statistics.json"))
    assert statistics["dataset"]["item_count"] == 6


def test_a_now_schedule_run_by_another_process_sees_the_calls_this_one_still_buffers(
        setup: tuple[MonitoringSchedules, ObjectStore], monkeypatch: pytest.MonkeyPatch, stepfn_home: Path) -> None:
    """A NOW schedule is due at once: a control plane (another process) may start its execution before the process
    that made it does, and must find the calls that process captured just before (held in memory for a moment)."""
    from stepfn.local.sagemaker import capture as capture_module

    schedules, store = setup
    schedules.create_data_quality_job_definition(definition())
    writer = capture_module.CaptureWriter(flush_seconds=600)  # holds the calls until flushed
    monkeypatch.setattr(capture_module, "_WRITER", writer)
    now = datetime.now(UTC)
    for index, (score, age, income) in enumerate(BASELINE[:20]):
        moment = now - timedelta(minutes=5, seconds=-index)
        event = capture_event(CAPTURE_CONFIG, f"{age},{income}".encode(), "text/csv", score.encode(), "text/csv",
                              moment)
        writer.add(store, CAPTURE, "ep", "AllTraffic", event, moment)
    schedules.create(schedule("elsewhere", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"))
    code = ("import sys; from stepfn.local.sagemaker.schedules import MonitoringSchedules; "
            "print(MonitoringSchedules(sys.argv[1]).run_due(background=False))")
    subprocess.run([sys.executable, "-c", code, str(stepfn_home)], check=True, timeout=120)
    [execution] = schedules.list_executions({"MonitoringScheduleName": "elsewhere"})["MonitoringExecutionSummaries"]
    # Analysed (20 calls may well violate the baseline's constraints), not failed for want of data.
    assert execution["MonitoringExecutionStatus"] in ("Completed", "CompletedWithViolations"), \
        execution.get("FailureReason")
    record = RecordStore(stepfn_home).get("processing-job", execution["ProcessingJobArn"].rsplit("/", 1)[1]) or {}
    report = record["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert json.loads(store.get_bytes(f"{report}/statistics.json"))["dataset"]["item_count"] == 20


def test_an_execution_whose_runner_died_ends_failed(setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, _ = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create(schedule("orphan", "NOW", DataAnalysisStartTime="-PT1H", DataAnalysisEndTime="-PT0H"))
    records = schedules.records
    job = "model-monitoring-202601010000-000000000000000000000000"
    stamp = now_millis()
    # What a control plane killed mid-job leaves: the execution and its job InProgress, and no live runner.
    records.create("monitoring-execution", job, {
        "MonitoringScheduleName": "orphan", "ScheduledTime": stamp, "CreationTime": stamp, "LastModifiedTime": stamp,
        "MonitoringExecutionStatus": "InProgress", "EndpointName": "ep", "MonitoringType": "DataQuality",
        "ProcessingJobName": job, "ProcessingJobArn": records_arn("processing-job", job)})
    records.put("processing-job", job, {"ProcessingJobName": job, "ProcessingJobStatus": "InProgress"})
    assert schedules.busy() is False  # reading it found it orphaned
    [execution] = schedules.list_executions({"MonitoringScheduleName": "orphan"})["MonitoringExecutionSummaries"]
    assert execution["MonitoringExecutionStatus"] == "Failed"
    assert "exited before the job ended" in execution["FailureReason"]


def test_update_replaces_the_config_and_keeps_status_and_history(setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    schedules, store = setup
    schedules.create_data_quality_job_definition(definition())
    schedules.create_data_quality_job_definition({**definition("dq2"), "StoppingCondition": {"MaxRuntimeInSeconds": 900}})
    schedules.create(schedule("hourly"))
    before = schedules.describe("hourly")
    schedules.stop("hourly")
    answer = schedules.call("update_monitoring_schedule", {
        "MonitoringScheduleName": "hourly", "MonitoringScheduleConfig": {
            "ScheduleConfig": {"ScheduleExpression": "cron(0 0 ? * * *)"}, "MonitoringJobDefinitionName": "dq2",
            "MonitoringType": "DataQuality"}})
    assert answer == {"MonitoringScheduleArn": before["MonitoringScheduleArn"]}
    after = schedules.describe("hourly")
    check_shape("DescribeMonitoringSchedule", after)
    assert after["MonitoringScheduleStatus"] == "Stopped"  # an update does not start a stopped schedule
    assert after["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "dq2"
    assert after["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 0 ? * * *)"
    assert after["CreationTime"] == before["CreationTime"] and after["LastModifiedTime"] >= before["LastModifiedTime"]
    # The next execution runs the new definition.
    capture(store, datetime.now(UTC) - timedelta(minutes=5), BASELINE[:50])
    execution = schedules.run_now("hourly")
    assert execution["MonitoringJobDefinitionName"] == "dq2", execution
    job = RecordStore(schedules.records.home).get("processing-job", execution["ProcessingJobArn"].rsplit("/", 1)[1])
    assert (job or {})["StoppingCondition"] == {"MaxRuntimeInSeconds": 900}
    for name, config, code in (
            ("missing", schedule("missing")["MonitoringScheduleConfig"], "ResourceNotFound"),
            ("hourly", {"ScheduleConfig": {"ScheduleExpression": "rate(5 minutes)"},
                        "MonitoringJobDefinitionName": "dq"}, "ValidationException"),
            ("hourly", {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                        "MonitoringJobDefinitionName": "nope"}, "ResourceNotFound")):
        with pytest.raises(ServiceError) as refused:
            schedules.call("update_monitoring_schedule", {"MonitoringScheduleName": name,
                                                          "MonitoringScheduleConfig": config})
        assert refused.value.response["Error"]["Code"] == code
    assert schedules.describe("hourly")["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "dq2"


def test_scripts_and_a_baselining_job_in_the_definition(setup: tuple[MonitoringSchedules, ObjectStore],
                                                         stepfn_home: Path) -> None:
    """RecordPreprocessorSourceUri runs per captured record, PostAnalyticsProcessorSourceUri after the analysis, and
    a BaseliningJobName without resources names the baseline files of that processing job."""
    schedules, store = setup
    RecordStore(stepfn_home).put("processing-job", "baseline-job", {
        "ProcessingJobName": "baseline-job", "ProcessingJobStatus": "Completed",
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
            "S3Uri": "s3://bucket/baseline", "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]}})
    store.put_bytes("s3://bucket/scripts/pre/preprocessor.py", (
        b"def preprocess_handler(inference_record):\n"
        b"    age, income = inference_record.endpoint_input.data.split(',')\n"
        b"    if int(age) < 30:\n        return []\n"
        b"    return {'label': float(inference_record.endpoint_output.data), 'age': int(age), 'income': float(income)}\n"))
    store.put_bytes("s3://bucket/scripts/post/postprocessor.py",
                    b"def postprocess_handler():\n    print('post-analytics processor ran')\n")
    scripted = definition()
    scripted["DataQualityBaselineConfig"] = {"BaseliningJobName": "baseline-job"}
    scripted["DataQualityAppSpecification"] = {**scripted["DataQualityAppSpecification"],
                                               "RecordPreprocessorSourceUri": "s3://bucket/scripts/pre/preprocessor.py",
                                               "PostAnalyticsProcessorSourceUri": "s3://bucket/scripts/post/postprocessor.py"}
    schedules.create_data_quality_job_definition(scripted)
    schedules.create(schedule("scripted"))
    rows = BASELINE[:120]
    capture(store, datetime.now(UTC) - timedelta(minutes=5), rows)
    execution = schedules.run_now("scripted")
    # Leaving the young callers out moves the ages (and the scores that go with them) away from the baseline's.
    assert execution["MonitoringExecutionStatus"] == "CompletedWithViolations", execution.get("FailureReason")
    job_name = execution["ProcessingJobArn"].rsplit("/", 1)[1]
    job = RecordStore(stepfn_home).get("processing-job", job_name) or {}
    inputs = {i["InputName"]: (i["S3Input"]["S3Uri"], i["S3Input"]["LocalPath"]) for i in job["ProcessingInputs"]}
    assert inputs["constraints"] == ("s3://bucket/baseline/constraints.json", "/opt/ml/processing/baseline/constraints")
    assert inputs["record_preprocessor_script"] == ("s3://bucket/scripts/pre/preprocessor.py",
                                                    "/opt/ml/processing/code/preprocessing")
    assert job["Environment"]["record_preprocessor_script"] == "/opt/ml/processing/code/preprocessing/preprocessor.py"
    assert job["Environment"]["post_analytics_processor_script"] == \
        "/opt/ml/processing/code/postprocessing/postprocessor.py"
    scheduled = datetime.fromtimestamp(execution["ScheduledTime"] / 1000, tz=UTC)
    statistics = json.loads(store.get_bytes(f"s3://bucket/reports/ep/scripted/{scheduled:%Y/%m/%d/%H}/statistics.json"))
    # The preprocessor left out the records of callers under 30; its keys, sorted, are the features.
    assert statistics["dataset"]["item_count"] == sum(1 for _, age, _ in rows if int(age) >= 30)
    assert [f["name"] for f in statistics["features"]] == ["age", "income", "label"]
    violations = json.loads(store.get_bytes(
        f"s3://bucket/reports/ep/scripted/{scheduled:%Y/%m/%d/%H}/constraint_violations.json"))["violations"]
    kinds = {(v["feature_name"], v["constraint_check_type"]) for v in violations}
    assert ("age", "baseline_drift_check") in kinds and {kind for _, kind in kinds} == {"baseline_drift_check"}
    assert "post-analytics processor ran" in RecordStore(stepfn_home).log_path("processing-job", job_name).read_text()


def test_batch_transform_input_reads_the_manifests_of_the_window(
        setup: tuple[MonitoringSchedules, ObjectStore]) -> None:
    from stepfn.local.sagemaker.transform import write_capture_manifests

    schedules, store = setup
    batch_input = {"DataCapturedDestinationS3Uri": "s3://bucket/batch-capture", "LocalPath": "/opt/ml/processing/input",
                   "DatasetFormat": {"Csv": {"Header": False}}}
    batch = {**definition("batch"), "DataQualityJobInput": {"BatchTransformInput": batch_input}}
    for broken, message in (({**batch_input, "DatasetFormat": {"Avro": {}}}, "must be Csv, Json or Parquet"),
                            ({k: v for k, v in batch_input.items() if k != "LocalPath"}, "LocalPath is required")):
        with pytest.raises(ServiceError, match=message):
            schedules.create_data_quality_job_definition({**batch, "DataQualityJobInput": {"BatchTransformInput": broken}})
    schedules.create_data_quality_job_definition(batch)
    schedules.create({"MonitoringScheduleName": "nightly", "MonitoringScheduleConfig": {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}, "MonitoringJobDefinitionName": "batch",
        "MonitoringType": "DataQuality"}})
    described = schedules.describe("nightly")
    check_shape("DescribeMonitoringSchedule", described)
    assert "EndpointName" not in described
    now = datetime.now(UTC)
    for when, rows, name in ((now - timedelta(minutes=10), BASELINE, "recent"),
                             (now - timedelta(hours=5), BASELINE[:10], "old")):  # outside the hour's window
        store.put_bytes(f"s3://bucket/transform-in/{name}/data.csv",
                        "".join(f"{score},{age},{income}\n" for score, age, income in rows).encode())
        write_capture_manifests(store, "s3://bucket/batch-capture", [(f"s3://bucket/transform-in/{name}/data.csv",
                                                                      "data.csv")], "s3://bucket/transform-out", when)
    execution = schedules.run_now("nightly")
    assert execution["MonitoringExecutionStatus"] == "Completed", execution.get("FailureReason")
    assert "EndpointName" not in execution
    job = RecordStore(schedules.records.home).get("processing-job", execution["ProcessingJobArn"].rsplit("/", 1)[1])
    [data_input] = [i for i in (job or {})["ProcessingInputs"] if i["InputName"].startswith("input_")]
    assert data_input["S3Input"]["S3DataType"] == "ManifestFile"
    assert data_input["S3Input"]["LocalPath"].startswith(f"/opt/ml/processing/input/{now - timedelta(minutes=10):%Y/%m/%d/%H}/")
    scheduled = datetime.fromtimestamp(execution["ScheduledTime"] / 1000, tz=UTC)
    statistics = json.loads(store.get_bytes(f"s3://bucket/reports/nightly/{scheduled:%Y/%m/%d/%H}/statistics.json"))
    # The recent job's rows (the baseline's own), headerless, named after the baseline's features.
    assert statistics["dataset"]["item_count"] == len(BASELINE)
    assert [f["name"] for f in statistics["features"]] == ["label", "age", "income"]
