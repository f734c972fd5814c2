"""Model Monitor's monitoring schedules on local SageMaker, and the monitoring executions they start.

The API (boto3 ``sagemaker`` shapes): Create/Update/Describe/List/Stop/Start/DeleteMonitoringSchedule,
ListMonitoringExecutions, and Create/Describe/List/DeleteDataQualityJobDefinition (what sagemaker v2's
``DefaultModelMonitor.create_monitoring_schedule`` creates first). A schedule's ``MonitoringScheduleConfig`` names
a data quality job definition (``MonitoringJobDefinitionName``, ``MonitoringType: DataQuality``) or holds one
inline (``MonitoringJobDefinition``). Records live beside the other SageMaker records
(``<home>/sagemaker/monitoring-schedule/``, ``data-quality-job-definition/``, ``monitoring-execution/``).

**When executions run.** A schedule's ``ScheduleExpression`` (:mod:`stepfn.local.sagemaker.cron`) fires in UTC.
The home's control plane (:mod:`stepfn.server.control`) calls :meth:`MonitoringSchedules.run_due` while it runs:
a ``Scheduled`` schedule whose latest fire time has passed since it was created, and has no execution for that
time yet, gets one (only the latest: missed hours are not backfilled, as on SageMaker); a ``NOW`` schedule runs
once, right after it is created. :func:`run_monitoring_schedule` runs one at once (tests, users who do not keep
a control plane running).

**What an execution is.** As on SageMaker, a processing job named ``model-monitoring-<yyyymmddHHMM>-<hash>`` on
the definition's image (the Model Monitor analyzer, :mod:`stepfn.local.sagemaker.monitor`) with

* one input per capture hour folder of the endpoint (``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh``)
  that overlaps the analysis window, at ``<EndpointInput.LocalPath>/<endpoint>/<variant>/yyyy/mm/dd/hh``; for a
  ``BatchTransformInput``, one ``ManifestFile`` input per manifest its transform jobs' data capture wrote under
  ``<DataCapturedDestinationS3Uri>/input/yyyy/mm/dd/hh/`` in the window (the objects the jobs read), analysed in
  its ``DatasetFormat``. The window
  is the hour before the scheduled time, or the schedule's ``DataAnalysisStartTime``/``EndTime`` (a ``NOW``
  schedule), or the endpoint input's ``StartTimeOffset``/``EndTimeOffset``;
* the baseline's ``constraints.json`` / ``statistics.json`` at ``/opt/ml/processing/baseline/constraints`` and
  ``/opt/ml/processing/baseline/stats`` (the ``BaseliningJobName``'s output files where no resource names them);
* the definition's ``RecordPreprocessorSourceUri`` / ``PostAnalyticsProcessorSourceUri`` at
  ``/opt/ml/processing/code/preprocessing`` / ``postprocessing``, named to the analyzer by
  ``record_preprocessor_script`` / ``post_analytics_processor_script`` (it runs them in the job's process);
* the analyzer's environment: ``dataset_format`` (capture JSON), ``dataset_source``, ``output_path``,
  ``start_time``/``end_time``, ``sagemaker_endpoint_name``, ``sagemaker_monitoring_schedule_name``,
  ``baseline_constraints``/``baseline_statistics``, plus the definition's own;
* its report uploaded to ``<MonitoringOutputs S3Uri>/<endpoint>/<schedule>/yyyy/mm/dd/hh`` (for batch transform
  data, ``<MonitoringOutputs S3Uri>/<schedule>/yyyy/mm/dd/hh``, as SageMaker's published listings show).

The execution's status follows the job: ``Completed``, ``CompletedWithViolations`` (the analyzer's exit
message), ``Failed`` or ``Stopped``. A window with no captured data fails without a job, with SageMaker's reason
``Job inputs had no data``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from stepfn.errors import ServiceError, StoreError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.cron import NOW, parse_duration, parse_schedule_expression
from stepfn.local.sagemaker.records import (
    RecordStore,
    arn,
    check_name,
    now_millis,
    page_of,
    sagemaker_error,
    to_botocore_shape,
)

__all__ = ["OPERATIONS", "MonitoringSchedules", "execution_name", "run_monitoring_schedule"]

SCHEDULE = "monitoring-schedule"
DEFINITION = "data-quality-job-definition"
EXECUTION = "monitoring-execution"
_PROCESSING_BASE = "/opt/ml/processing"
_BASELINE_CONSTRAINTS = f"{_PROCESSING_BASE}/baseline/constraints"
_BASELINE_STATISTICS = f"{_PROCESSING_BASE}/baseline/stats"
_CAPTURE_FORMAT = '{"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}'
_ACTIVE = ("Pending", "InProgress", "Stopping")
_START_GRACE_MILLIS = 60_000  # how long an execution may name a processing job that does not exist yet
OPERATIONS = (
    "create_data_quality_job_definition", "describe_data_quality_job_definition", "delete_data_quality_job_definition",
    "list_data_quality_job_definitions", "create_monitoring_schedule", "update_monitoring_schedule",
    "describe_monitoring_schedule",
    "list_monitoring_schedules", "list_monitoring_executions", "stop_monitoring_schedule", "start_monitoring_schedule",
    "delete_monitoring_schedule",
)
"""The boto3 ``sagemaker`` methods :meth:`MonitoringSchedules.call` answers."""
_HOUR_FOLDER = re.compile(r"/(\d{4})/(\d\d)/(\d\d)/(\d\d)/[^/]+$")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _of_millis(millis: int | float) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=UTC)


def _millis(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _whole_second_after(when: datetime) -> datetime:
    """``when`` rounded up to a whole second. Capture records carry whole-second times and a window ends before
    its scheduled time, so a window ending at a moment inside a second would leave out the calls made earlier in
    that second; ending at the next whole second keeps them."""
    return when.replace(microsecond=0) + timedelta(seconds=1) if when.microsecond else when


def execution_name(schedule: dict[str, Any], scheduled: datetime, salt: str = "") -> str:
    """The processing job name of an execution of ``schedule`` (its record) for ``scheduled``, as SageMaker forms
    them (``model-monitoring-<yyyymmddHHMM>-<24 hex>``). The same schedule and time give the same name (with no
    ``salt``), which is what keeps two processes from starting one execution twice; a schedule deleted and made
    again under its name is another schedule (its creation time is in the hash), whose jobs get names of their own."""
    key = f"{schedule['MonitoringScheduleArn']}|{schedule['CreationTime']}|{_iso(scheduled)}|{salt}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"model-monitoring-{scheduled.astimezone(UTC):%Y%m%d%H%M}-{digest}"


def _not_found(operation: str, what: str, name: str) -> ServiceError:
    return sagemaker_error(operation, "ResourceNotFound", f"Could not find {what} '{name}'.")


def _invalid(operation: str, message: str) -> ServiceError:
    return sagemaker_error(operation, "ValidationException", message)


@dataclass(frozen=True)
class _Definition:
    """A schedule's job definition, whichever way it was given, in the inline (MonitoringJobDefinition) terms."""

    job_input: dict[str, Any]  # the EndpointInput or the BatchTransformInput
    batch: bool  # whether it is a BatchTransformInput
    baseline: dict[str, Any]
    app: dict[str, Any]
    environment: dict[str, str]
    output_config: dict[str, Any]
    cluster: dict[str, Any]
    role: str
    stopping: dict[str, Any]
    network: dict[str, Any] | None


class MonitoringSchedules:
    """Monitoring schedules, data quality job definitions and monitoring executions of one ``$STEPFN_HOME``."""

    def __init__(self, home: Path | str | None = None, *, store: ObjectStore | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.records = RecordStore(home)
        self.store = store if store is not None else ObjectStore(self.records.home / "s3")
        self._clock = clock or (lambda: datetime.now(UTC))

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The boto3 ``sagemaker`` client method ``method`` (``create_monitoring_schedule``, ...) with its keyword
        arguments, answered as botocore would (timestamps as datetimes)."""
        operations = {
            "create_data_quality_job_definition": lambda: self.create_data_quality_job_definition(params),
            "describe_data_quality_job_definition": lambda: self.describe_data_quality_job_definition(
                params["JobDefinitionName"]),
            "delete_data_quality_job_definition": lambda: self.delete_data_quality_job_definition(
                params["JobDefinitionName"]),
            "list_data_quality_job_definitions": lambda: self.list_data_quality_job_definitions(params),
            "create_monitoring_schedule": lambda: self.create(params),
            "update_monitoring_schedule": lambda: self.update(params),
            "describe_monitoring_schedule": lambda: self.describe(params["MonitoringScheduleName"]),
            "list_monitoring_schedules": lambda: self.list_schedules(params),
            "list_monitoring_executions": lambda: self.list_executions(params),
            "stop_monitoring_schedule": lambda: self.stop(params["MonitoringScheduleName"]),
            "start_monitoring_schedule": lambda: self.start(params["MonitoringScheduleName"]),
            "delete_monitoring_schedule": lambda: self.delete(params["MonitoringScheduleName"]),
        }
        if method not in operations:
            raise AttributeError(f"local SageMaker has no Model Monitor operation {method!r}")
        shaped: dict[str, Any] = to_botocore_shape(operations[method]())
        return shaped

    # -- data quality job definitions -------------------------------------------------------------------------

    def create_data_quality_job_definition(self, params: dict[str, Any]) -> dict[str, Any]:
        operation = "CreateDataQualityJobDefinition"
        name = check_name(DEFINITION, params.get("JobDefinitionName"), operation, "JobDefinitionName")
        for member in ("DataQualityAppSpecification", "DataQualityJobInput", "DataQualityJobOutputConfig",
                       "JobResources", "RoleArn"):
            if not params.get(member):
                raise _invalid(operation, f"1 validation error detected: Value null at '{member[:1].lower()}"
                                          f"{member[1:]}' failed to satisfy constraint: Member must not be null")
        self._check_input(operation, params["DataQualityJobInput"])
        record = {key: value for key, value in params.items() if key != "Tags"}
        record.update({"JobDefinitionArn": arn(DEFINITION, name), "CreationTime": now_millis()})
        self.records.create(DEFINITION, name, record, operation=operation)
        return {"JobDefinitionArn": record["JobDefinitionArn"]}

    def describe_data_quality_job_definition(self, name: str) -> dict[str, Any]:
        return self._require(DEFINITION, name, "DescribeDataQualityJobDefinition", "data quality job definition")

    def delete_data_quality_job_definition(self, name: str) -> dict[str, Any]:
        operation = "DeleteDataQualityJobDefinition"
        self._require(DEFINITION, name, operation, "data quality job definition")
        users = [s["MonitoringScheduleName"] for s in self.records.list(SCHEDULE)
                 if s["MonitoringScheduleConfig"].get("MonitoringJobDefinitionName") == name]
        if users:
            raise sagemaker_error(operation, "ResourceInUse",
                                  f"Job definition {name} is used by monitoring schedule {users[0]}.")
        self.records.delete(DEFINITION, name)
        return {}

    def list_data_quality_job_definitions(self, params: dict[str, Any]) -> dict[str, Any]:
        summaries = [{"MonitoringJobDefinitionName": r["JobDefinitionName"],
                      "MonitoringJobDefinitionArn": r["JobDefinitionArn"], "CreationTime": r["CreationTime"],
                      "EndpointName": (r["DataQualityJobInput"].get("EndpointInput") or {}).get("EndpointName", "")}
                     for r in self.records.list(DEFINITION)]
        if params.get("EndpointName"):
            summaries = [s for s in summaries if s.get("EndpointName") == params["EndpointName"]]
        if params.get("NameContains"):
            summaries = [s for s in summaries if params["NameContains"] in s["MonitoringJobDefinitionName"]]
        summaries.sort(key=lambda s: s["CreationTime"], reverse=params.get("SortOrder", "Descending") == "Descending")
        return _page(summaries, params, "JobDefinitionSummaries")

    # -- schedules --------------------------------------------------------------------------------------------

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateMonitoringSchedule: the schedule is ``Scheduled`` at once (SageMaker passes through Pending)."""
        from stepfn.local.sagemaker.capture import flush_captures

        operation = "CreateMonitoringSchedule"
        name = check_name(SCHEDULE, params.get("MonitoringScheduleName"), operation, "MonitoringScheduleName")
        config, endpoint = self._checked_config(operation, params.get("MonitoringScheduleConfig"))
        # The calls this process captured and still buffers are written before the schedule exists: a NOW one is
        # due at once, and a control plane (another process) may start its execution before this one does.
        flush_captures()
        stamp = now_millis()
        record: dict[str, Any] = {
            "MonitoringScheduleArn": arn(SCHEDULE, name), "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": "Scheduled", "MonitoringType": config["MonitoringType"],
            "CreationTime": stamp, "LastModifiedTime": stamp, "MonitoringScheduleConfig": config,
            **({"EndpointName": endpoint} if endpoint else {}),  # a batch transform input names no endpoint
        }
        self.records.create(SCHEDULE, name, record, operation=operation)
        return {"MonitoringScheduleArn": record["MonitoringScheduleArn"]}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateMonitoringSchedule: the new ``MonitoringScheduleConfig`` (checked as CreateMonitoringSchedule
        checks it) replaces the old one; the schedule keeps its status, its executions and its creation time, so a
        fire time before the update still belongs to it. SageMaker shows ``Pending`` while it applies the change;
        locally it applies at once."""
        operation = "UpdateMonitoringSchedule"
        name = params.get("MonitoringScheduleName")
        record = self._require(SCHEDULE, str(name), operation, "monitoring schedule")
        config, endpoint = self._checked_config(operation, params.get("MonitoringScheduleConfig"))
        changed = {key: value for key, value in record.items() if key != "EndpointName"}
        changed.update(MonitoringScheduleConfig=config, MonitoringType=config["MonitoringType"],
                       LastModifiedTime=now_millis(), **({"EndpointName": endpoint} if endpoint else {}))
        self.records.put(SCHEDULE, str(name), changed)
        return {"MonitoringScheduleArn": record["MonitoringScheduleArn"]}

    def _checked_config(self, operation: str, config: Any) -> tuple[dict[str, Any], str | None]:
        """A schedule's ``MonitoringScheduleConfig`` with its ``MonitoringType`` filled in, and the endpoint it
        monitors (None for batch transform data); a ValidationException for what SageMaker (or the local analyzer)
        refuses."""
        if not isinstance(config, dict):
            raise _invalid(operation, "1 validation error detected: Value null at 'monitoringScheduleConfig' "
                                      "failed to satisfy constraint: Member must not be null")
        schedule = config.get("ScheduleConfig") or {}
        expression = schedule.get("ScheduleExpression")
        if not isinstance(expression, str):
            raise _invalid(operation, "ScheduleConfig.ScheduleExpression is required.")
        try:
            parse_schedule_expression(expression)
            for member in ("DataAnalysisStartTime", "DataAnalysisEndTime"):
                if member in schedule:
                    parse_duration(str(schedule[member]))
        except ValueError as exc:
            raise _invalid(operation, f"Invalid ScheduleExpression or analysis window: {exc}") from exc
        if expression.strip() == NOW and not ("DataAnalysisStartTime" in schedule and "DataAnalysisEndTime" in schedule):
            raise _invalid(operation, "A one-time (NOW) schedule needs DataAnalysisStartTime and DataAnalysisEndTime.")
        monitoring_type = config.get("MonitoringType", "DataQuality")
        if monitoring_type != "DataQuality":
            raise _invalid(operation, f"MonitoringType {monitoring_type} is not run locally: stepfn's analyzer "
                                      "computes data quality (DataQuality) only.")
        definition = self._definition({"MonitoringScheduleConfig": config}, operation)
        return {**config, "MonitoringType": monitoring_type}, definition.job_input.get("EndpointName")

    def describe(self, name: str) -> dict[str, Any]:
        record = self._require(SCHEDULE, name, "DescribeMonitoringSchedule", "monitoring schedule")
        executions = self._executions(name)
        if executions:
            # Two runs started by hand within one second share a ScheduledTime: the later-created one is the last.
            record["LastMonitoringExecutionSummary"] = max(executions,
                                                           key=lambda e: (e["ScheduledTime"], e["CreationTime"]))
        return record

    def list_schedules(self, params: dict[str, Any]) -> dict[str, Any]:
        summaries = []
        for record in self.records.list(SCHEDULE):
            config = record["MonitoringScheduleConfig"]
            summary: dict[str, Any] = {key: record[key] for key in (
                "MonitoringScheduleName", "MonitoringScheduleArn", "CreationTime", "LastModifiedTime",
                "MonitoringScheduleStatus", "EndpointName", "MonitoringType") if key in record}
            if config.get("MonitoringJobDefinitionName"):
                summary["MonitoringJobDefinitionName"] = config["MonitoringJobDefinitionName"]
            summaries.append(summary)
        for member, key in (("EndpointName", "EndpointName"), ("StatusEquals", "MonitoringScheduleStatus"),
                            ("MonitoringJobDefinitionName", "MonitoringJobDefinitionName"),
                            ("MonitoringTypeEquals", "MonitoringType")):
            if params.get(member):
                summaries = [s for s in summaries if s.get(key) == params[member]]
        if params.get("NameContains"):
            summaries = [s for s in summaries if params["NameContains"] in s["MonitoringScheduleName"]]
        sort_key = {"Name": "MonitoringScheduleName", "Status": "MonitoringScheduleStatus"}.get(
            params.get("SortBy", ""), "CreationTime")
        summaries.sort(key=lambda s: s[sort_key], reverse=params.get("SortOrder", "Descending") == "Descending")
        return _page(summaries, params, "MonitoringScheduleSummaries")

    def stop(self, name: str) -> dict[str, Any]:
        """StopMonitoringSchedule: no execution starts until it is started again (a running one goes on)."""
        self._require(SCHEDULE, name, "StopMonitoringSchedule", "monitoring schedule")
        self.records.update(SCHEDULE, name, MonitoringScheduleStatus="Stopped")
        return {}

    def start(self, name: str) -> dict[str, Any]:
        self._require(SCHEDULE, name, "StartMonitoringSchedule", "monitoring schedule")
        self.records.update(SCHEDULE, name, MonitoringScheduleStatus="Scheduled")
        return {}

    def delete(self, name: str) -> dict[str, Any]:
        """DeleteMonitoringSchedule; its executions' records go with it (their processing jobs stay)."""
        self._require(SCHEDULE, name, "DeleteMonitoringSchedule", "monitoring schedule")
        for execution in self.records.list(EXECUTION):
            if execution["MonitoringScheduleName"] == name:
                self.records.delete(EXECUTION, _job_name(execution))
        self.records.delete(SCHEDULE, name)
        return {}

    def list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListMonitoringExecutions: newest first by ``SortBy`` (default CreationTime, as the API's; the SageMaker
        Python SDK asks for ScheduledTime) unless SortOrder says Ascending."""
        name = params.get("MonitoringScheduleName")
        executions = self._executions(name)
        if params.get("EndpointName"):
            executions = [e for e in executions if e.get("EndpointName") == params["EndpointName"]]
        if params.get("StatusEquals"):
            executions = [e for e in executions if e["MonitoringExecutionStatus"] == params["StatusEquals"]]
        for member, key, before in (("ScheduledTimeBefore", "ScheduledTime", True),
                                    ("ScheduledTimeAfter", "ScheduledTime", False),
                                    ("CreationTimeBefore", "CreationTime", True),
                                    ("CreationTimeAfter", "CreationTime", False)):
            if params.get(member) is not None:
                bound = _bound_millis(params[member])
                executions = [e for e in executions if (e[key] < bound if before else e[key] > bound)]
        sort_key = {"ScheduledTime": "ScheduledTime", "Status": "MonitoringExecutionStatus"}.get(
            params.get("SortBy", ""), "CreationTime")
        # CreationTime breaks ties: runs started by hand within one second share a ScheduledTime.
        executions.sort(key=lambda e: (e[sort_key], e["CreationTime"]),
                        reverse=params.get("SortOrder", "Descending") == "Descending")
        return _page(executions, params, "MonitoringExecutionSummaries")

    # -- running executions -----------------------------------------------------------------------------------

    def run_due(self, now: datetime | None = None, *, names: tuple[str, ...] | None = None,
                background: bool = True) -> list[str]:
        """Start the executions that are due at ``now`` (of the schedules ``names``, default all), on background
        threads unless ``background`` is False; returns their job names."""
        now = now or self._clock()
        started = []
        for record in self.records.list(SCHEDULE):
            if record.get("MonitoringScheduleStatus") != "Scheduled":
                continue
            if names is not None and record["MonitoringScheduleName"] not in names:
                continue
            due = self._due(record, now)
            if due is None:
                continue
            name = self._start(record, due, execution_name(record, due), background=background)
            if name is not None:
                started.append(name)
        return started

    def _due(self, record: dict[str, Any], now: datetime) -> datetime | None:
        expression = parse_schedule_expression(record["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"])
        created = _of_millis(record["CreationTime"])
        if expression is None:  # NOW: once, for the moment it was created (a call made in that second is in)
            due = _whole_second_after(created)
        else:
            fire = expression.latest_at_or_before(now)
            if fire is None or fire < created:  # a fire time before the schedule existed is not its to run
                return None
            due = fire
        if self.records.get(EXECUTION, execution_name(record, due)) is not None:
            return None
        return due

    def run_now(self, name: str, *, scheduled_time: datetime | None = None, wait: bool = True) -> dict[str, Any]:
        """Start an execution of schedule ``name`` for ``scheduled_time`` (default: now, so the window is the
        hour that just passed), whatever its expression says; returns its MonitoringExecutionSummary (final
        with ``wait``)."""
        operation = "StartMonitoringExecution"
        record = self._require(SCHEDULE, name, operation, "monitoring schedule")
        scheduled = (scheduled_time or _whole_second_after(self._clock())).astimezone(UTC)
        job = execution_name(record, scheduled, salt=uuid.uuid4().hex)
        self._start(record, scheduled, job, background=not wait)
        return self._refresh(self.records.get(EXECUTION, job) or {})

    def _start(self, schedule: dict[str, Any], scheduled: datetime, job: str, *, background: bool) -> str | None:
        """Record the execution (None if another process recorded it first) and start its processing job."""
        from stepfn.local.sagemaker.capture import flush_captures
        from stepfn.local.sagemaker.processing import ProcessingJobs

        config = schedule["MonitoringScheduleConfig"]
        stamp = now_millis()
        execution: dict[str, Any] = {
            "MonitoringScheduleName": schedule["MonitoringScheduleName"], "ScheduledTime": _millis(scheduled),
            "CreationTime": stamp, "LastModifiedTime": stamp, "MonitoringExecutionStatus": "Pending",
            "MonitoringType": schedule["MonitoringType"], "ProcessingJobName": job,
            **({"EndpointName": schedule["EndpointName"]} if schedule.get("EndpointName") else {}),
        }
        if config.get("MonitoringJobDefinitionName"):
            execution["MonitoringJobDefinitionName"] = config["MonitoringJobDefinitionName"]
        try:
            self.records.create(EXECUTION, job, execution, operation="CreateMonitoringExecution")
        except ServiceError:
            return None  # due in two processes at once: the other one runs it
        flush_captures()  # the calls this process captured and still buffers belong in the window
        try:
            request = self._job_request(schedule, scheduled, job)
        except (ServiceError, StoreError, ValueError, OverflowError) as exc:
            self.records.update(EXECUTION, job, MonitoringExecutionStatus="Failed", FailureReason=str(exc)[:1024])
            return job
        if request is None:
            self.records.update(EXECUTION, job, MonitoringExecutionStatus="Failed",
                                FailureReason="Job inputs had no data")
            return job
        self.records.update(EXECUTION, job, MonitoringExecutionStatus="InProgress",
                            ProcessingJobArn=arn("processing-job", job))
        try:
            ProcessingJobs(self.records.home, store=self.store).run(request, background=background)
        except ServiceError as exc:
            self.records.update(EXECUTION, job, MonitoringExecutionStatus="Failed",
                                FailureReason=str((exc.response or {}).get("Error", {}).get("Message") or exc)[:1024])
        except Exception as exc:  # whatever stopped the job from starting ends the execution, never leaves it running
            self.records.update(EXECUTION, job, MonitoringExecutionStatus="Failed",
                                FailureReason=f"InternalServerError: {type(exc).__name__}: {exc}"[:1024])
        return job

    def _job_request(self, schedule: dict[str, Any], scheduled: datetime, job: str) -> dict[str, Any] | None:
        """The CreateProcessingJob request of an execution, or None when its window holds no captured data."""
        definition = self._definition(schedule, "CreateMonitoringExecution")
        start, end = self._window(schedule, definition, scheduled)
        if definition.batch:
            inputs, environment = self._batch_inputs(definition.job_input, start, end)
        else:
            inputs, environment = self._endpoint_inputs(definition.job_input, start, end)
        if not inputs:
            return None
        environment.update({"start_time": _iso(start), "end_time": _iso(end), "metric_time": _iso(scheduled),
                            "publish_cloudwatch_metrics": "Enabled",
                            "sagemaker_monitoring_schedule_name": schedule["MonitoringScheduleName"]})
        baselining_output = self._baselining_output(definition.baseline)
        for member, key, path, file_name in (("ConstraintsResource", "baseline_constraints", _BASELINE_CONSTRAINTS,
                                              "constraints.json"),
                                             ("StatisticsResource", "baseline_statistics", _BASELINE_STATISTICS,
                                              "statistics.json")):
            uri = (definition.baseline.get(member) or {}).get("S3Uri")
            if not uri and baselining_output:
                uri = f"{baselining_output}/{file_name}"  # the named baselining job's file
            if uri:
                inputs.append({"InputName": "constraints" if member == "ConstraintsResource" else "baseline",
                               "S3Input": {"S3Uri": uri, "LocalPath": path, "S3DataType": "S3Prefix",
                                           "S3InputMode": "File"}})
                environment[key] = f"{path}/{uri.rstrip('/').rsplit('/', 1)[-1] or file_name}"
        for member, key, folder in (("RecordPreprocessorSourceUri", "record_preprocessor_script", "preprocessing"),
                                    ("PostAnalyticsProcessorSourceUri", "post_analytics_processor_script",
                                     "postprocessing")):
            uri = definition.app.get(member)
            if uri:
                local_folder = f"{_PROCESSING_BASE}/code/{folder}"
                inputs.append({"InputName": key, "S3Input": {"S3Uri": uri, "LocalPath": local_folder,
                                                             "S3DataType": "S3Prefix", "S3InputMode": "File"}})
                environment[key] = f"{local_folder}/{str(uri).rstrip('/').rsplit('/', 1)[-1]}"
        outputs = []
        endpoint = definition.job_input.get("EndpointName")
        for index, output in enumerate(definition.output_config.get("MonitoringOutputs") or []):
            s3 = output["S3Output"]
            if index == 0:
                environment["output_path"] = s3["LocalPath"]
            outputs.append({"OutputName": "result" if index == 0 else f"result_{index}", "S3Output": {
                # <endpoint>/ for an endpoint's data; batch transform reports go straight under the schedule.
                "S3Uri": f"{s3['S3Uri'].rstrip('/')}/{endpoint + '/' if endpoint else ''}"
                         f"{schedule['MonitoringScheduleName']}/{scheduled:%Y/%m/%d/%H}",
                "LocalPath": s3["LocalPath"], "S3UploadMode": "EndOfJob"}})
        environment.update(definition.environment)
        app: dict[str, Any] = {"ImageUri": definition.app["ImageUri"]}
        for member in ("ContainerEntrypoint", "ContainerArguments"):
            if definition.app.get(member):
                app[member] = definition.app[member]
        request: dict[str, Any] = {
            "ProcessingJobName": job, "ProcessingInputs": inputs,
            "ProcessingOutputConfig": {"Outputs": outputs, **({"KmsKeyId": definition.output_config["KmsKeyId"]}
                                                               if definition.output_config.get("KmsKeyId") else {})},
            "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                                      "VolumeSizeInGB": 30, **definition.cluster}},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600, **definition.stopping},
            "AppSpecification": app, "Environment": environment, "RoleArn": definition.role,
            "MonitoringScheduleArn": schedule["MonitoringScheduleArn"],
        }
        if definition.network:
            request["NetworkConfig"] = definition.network
        return request

    def _endpoint_inputs(self, endpoint_input: dict[str, Any], start: datetime,
                         end: datetime) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The capture hour folders of the endpoint that overlap [start, end), as job inputs, and the analyzer's
        environment for them."""
        endpoint = str(endpoint_input["EndpointName"])
        endpoint_record = self.records.get("endpoint", endpoint)
        if endpoint_record is None:
            raise ValueError(f"Endpoint {endpoint} does not exist.")
        capture = endpoint_record.get("DataCaptureConfig") or {}
        if not capture.get("DestinationS3Uri"):
            raise ValueError(f"Endpoint {endpoint} does not capture data: its endpoint config has no DataCaptureConfig.")
        local = endpoint_input.get("LocalPath") or f"{_PROCESSING_BASE}/input/endpoint"
        folders = sorted({uri.rsplit("/", 1)[0]: hour for uri, hour in self._hourly_objects(
            f"{capture['DestinationS3Uri'].rstrip('/')}/{endpoint}/", start, end)}.items(),
            key=lambda item: (item[1], item[0]))
        inputs = [{"InputName": f"input_{index}", "S3Input": {
            "S3Uri": folder, "LocalPath": f"{local.rstrip('/')}/{endpoint}/{folder.split(f'/{endpoint}/', 1)[1]}",
            "S3DataType": "S3Prefix", "S3InputMode": "File",
            "S3DataDistributionType": endpoint_input.get("S3DataDistributionType", "FullyReplicated")}}
            for index, (folder, _) in enumerate(folders, 1)]
        return inputs, {"dataset_format": _CAPTURE_FORMAT, "dataset_source": local,
                        "monitoring_input_type": "ENDPOINT_INPUT", "sagemaker_endpoint_name": endpoint}

    def _batch_inputs(self, batch_input: dict[str, Any], start: datetime,
                      end: datetime) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """The input manifests a batch transform's data capture wrote in [start, end), as ManifestFile job inputs
        (each in a folder of its own), and the analyzer's environment: their format is the input's
        DatasetFormat. Data quality analyses what the transform jobs read."""
        local = str(batch_input["LocalPath"]).rstrip("/")
        manifests = self._hourly_objects(f"{str(batch_input['DataCapturedDestinationS3Uri']).rstrip('/')}/input/",
                                         start, end)
        inputs = []
        for index, (uri, hour) in enumerate(manifests, 1):
            stem = uri.rsplit("/", 1)[1].removesuffix(".json")
            inputs.append({"InputName": f"input_{index}", "S3Input": {
                "S3Uri": uri, "LocalPath": f"{local}/{hour:%Y/%m/%d/%H}/{stem}", "S3DataType": "ManifestFile",
                "S3InputMode": "File",
                "S3DataDistributionType": batch_input.get("S3DataDistributionType", "FullyReplicated")}})
        return inputs, {"dataset_format": json.dumps(_analyzer_format(batch_input["DatasetFormat"])),
                        "dataset_source": local}

    def _baselining_output(self, baseline: dict[str, Any]) -> str | None:
        """Where the baseline's ``BaseliningJobName`` (a suggest_baseline processing job) wrote its files."""
        name = baseline.get("BaseliningJobName")
        if not name:
            return None
        job = self.records.get("processing-job", str(name))
        if job is None:
            raise ValueError(f"The baselining job {name} does not exist.")
        outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
        uri = next((o["S3Output"]["S3Uri"] for o in outputs if "S3Output" in o), None)
        return str(uri).rstrip("/") if uri else None

    def _window(self, schedule: dict[str, Any], definition: _Definition, scheduled: datetime) -> tuple[datetime, datetime]:
        config = schedule["MonitoringScheduleConfig"]["ScheduleConfig"]
        start_text = config.get("DataAnalysisStartTime") or definition.job_input.get("StartTimeOffset")
        end_text = config.get("DataAnalysisEndTime") or definition.job_input.get("EndTimeOffset")
        start = scheduled + (parse_duration(start_text) if start_text else timedelta(hours=-1))
        end = scheduled + (parse_duration(end_text) if end_text else timedelta())
        return start, end

    def _hourly_objects(self, prefix: str, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """The objects under ``prefix`` in ``.../yyyy/mm/dd/hh/`` folders that overlap [start, end), oldest first."""
        found: list[tuple[str, datetime]] = []
        for uri in self.store.list(prefix):
            match = _HOUR_FOLDER.search(uri)
            if match is None:
                continue
            year, month, day, hour_of_day = (int(part) for part in match.groups())
            hour = datetime(year, month, day, hour_of_day, tzinfo=UTC)
            if hour < end and hour + timedelta(hours=1) > start:
                found.append((uri, hour))
        return sorted(found, key=lambda item: (item[1], item[0]))

    def _definition(self, schedule: dict[str, Any], operation: str) -> _Definition:
        config = schedule["MonitoringScheduleConfig"]
        name = config.get("MonitoringJobDefinitionName")
        if name:
            found = self.records.get(DEFINITION, name)
            if found is None:
                raise _not_found(operation, "data quality job definition", name)
            app = found["DataQualityAppSpecification"]
            return _Definition(
                *self._check_input(operation, found["DataQualityJobInput"]),
                found.get("DataQualityBaselineConfig") or {}, app, dict(app.get("Environment") or {}),
                found["DataQualityJobOutputConfig"], (found.get("JobResources") or {}).get("ClusterConfig") or {},
                found["RoleArn"], found.get("StoppingCondition") or {}, found.get("NetworkConfig"))
        inline = config.get("MonitoringJobDefinition")
        if not isinstance(inline, dict):
            raise _invalid(operation, "MonitoringScheduleConfig needs MonitoringJobDefinitionName or "
                                      "MonitoringJobDefinition.")
        inputs = inline.get("MonitoringInputs") or []
        if len(inputs) != 1:
            raise _invalid(operation, "MonitoringJobDefinition.MonitoringInputs must hold one input.")
        for member in ("MonitoringOutputConfig", "MonitoringResources", "MonitoringAppSpecification", "RoleArn"):
            if not inline.get(member):
                raise _invalid(operation, f"MonitoringJobDefinition.{member} is required.")
        return _Definition(
            *self._check_input(operation, inputs[0]), inline.get("BaselineConfig") or {},
            inline["MonitoringAppSpecification"], dict(inline.get("Environment") or {}),
            inline["MonitoringOutputConfig"], inline["MonitoringResources"].get("ClusterConfig") or {},
            inline["RoleArn"], inline.get("StoppingCondition") or {}, inline.get("NetworkConfig"))

    @staticmethod
    def _check_input(operation: str, job_input: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The job input's EndpointInput or BatchTransformInput, and whether it is the latter."""
        batch = job_input.get("BatchTransformInput")
        if isinstance(batch, dict):
            for member in ("DataCapturedDestinationS3Uri", "LocalPath", "DatasetFormat"):
                if not batch.get(member):
                    raise _invalid(operation, f"BatchTransformInput.{member} is required.")
            _analyzer_format(batch["DatasetFormat"], operation)
            return batch, True
        endpoint_input = job_input.get("EndpointInput")
        if not isinstance(endpoint_input, dict) or not endpoint_input.get("EndpointName"):
            raise _invalid(operation, "The job input needs an EndpointInput with an EndpointName, or a "
                                      "BatchTransformInput.")
        return endpoint_input, False

    # -- execution status -------------------------------------------------------------------------------------

    def _executions(self, schedule: str | None) -> list[dict[str, Any]]:
        return [self._refresh(e) for e in self.records.list(EXECUTION)
                if schedule is None or e["MonitoringScheduleName"] == schedule]

    def _refresh(self, execution: dict[str, Any]) -> dict[str, Any]:
        """The execution summary with its status read from its processing job while that runs."""
        from stepfn.local.sagemaker.lifecycle import held_elsewhere

        if execution.get("MonitoringExecutionStatus") in _ACTIVE and execution.get("ProcessingJobArn"):
            job = self.records.get("processing-job", _job_name(execution)) or {}
            status = job.get("ProcessingJobStatus")
            changes: dict[str, Any] = {}
            if status == "Completed":
                violations = str(job.get("ExitMessage") or "").startswith("CompletedWithViolations")
                changes["MonitoringExecutionStatus"] = "CompletedWithViolations" if violations else "Completed"
            elif status in ("Failed", "Stopped", "Stopping"):
                changes["MonitoringExecutionStatus"] = status
                if job.get("FailureReason"):
                    changes["FailureReason"] = job["FailureReason"]
            elif status == "InProgress" and not held_elsewhere(self.records, "processing-job", _job_name(execution)):
                # Its runner (a control plane, a script) exited mid-job: nothing will finish it, and a running
                # execution would keep the control plane up for ever.
                changes.update(MonitoringExecutionStatus="Failed",
                               FailureReason="The process running the execution's processing job exited before the "
                                             "job ended.")
            elif status is None and now_millis() - int(execution.get("LastModifiedTime") or 0) > _START_GRACE_MILLIS:
                changes.update(MonitoringExecutionStatus="Failed",
                               FailureReason="The execution's processing job was never created.")
            if changes:
                execution = self.records.update(EXECUTION, _job_name(execution), **changes)
        return {key: value for key, value in execution.items() if key != "ProcessingJobName"}

    def busy(self) -> bool:
        """Whether a cron schedule is Scheduled or an execution runs: what keeps the control plane up."""
        for record in self.records.list(SCHEDULE):
            expression = record["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
            if record.get("MonitoringScheduleStatus") == "Scheduled" and expression.strip() != NOW:
                return True
        return any(e["MonitoringExecutionStatus"] in _ACTIVE for e in self._executions(None))

    # -- records ----------------------------------------------------------------------------------------------

    def _require(self, kind: str, name: str, operation: str, label: str) -> dict[str, Any]:
        try:
            record = self.records.get(kind, name) if isinstance(name, str) else None
        except StoreError:
            record = None
        if record is None:
            raise _not_found(operation, label, str(name))
        return record


def _analyzer_format(dataset_format: Any, operation: str = "CreateMonitoringExecution") -> dict[str, Any]:
    """A BatchTransformInput's ``DatasetFormat`` (``{"Csv": {"Header": false}}``, ``{"Json": {"Line": true}}``,
    ``{"Parquet": {}}``) as the analyzer's ``dataset_format``."""
    if isinstance(dataset_format, dict) and isinstance(dataset_format.get("Csv"), dict):
        return {"csv": {"header": bool(dataset_format["Csv"].get("Header", False))}}
    if isinstance(dataset_format, dict) and isinstance(dataset_format.get("Json"), dict):
        return {"json": {"lines": bool(dataset_format["Json"].get("Line", False))}}
    if isinstance(dataset_format, dict) and "Parquet" in dataset_format:
        return {"parquet": {}}
    raise _invalid(operation, f"BatchTransformInput.DatasetFormat must be Csv, Json or Parquet, not "
                              f"{json.dumps(dataset_format)}")


def _job_name(execution: dict[str, Any]) -> str:
    return str(execution.get("ProcessingJobName") or str(execution["ProcessingJobArn"]).rsplit("/", 1)[1])


def _bound_millis(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp() * 1000
    if isinstance(value, int | float):
        return float(value) * 1000  # boto3 JSON: epoch seconds
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000


def _page(items: list[dict[str, Any]], params: dict[str, Any], member: str) -> dict[str, Any]:
    """One page of a List* answer (:func:`~stepfn.local.sagemaker.records.page_of`) under ``member``."""
    page, next_token = page_of(items, params, f"List{member.removesuffix('Summaries')}s")
    return {member: page} | ({"NextToken": next_token} if next_token else {})


def run_monitoring_schedule(name: str, *, scheduled_time: datetime | None = None, wait: bool = True,
                            home: Path | str | None = None) -> dict[str, Any]:
    """Run an execution of monitoring schedule ``name`` now, whatever its schedule expression says: the
    analysis window is the hour before ``scheduled_time`` (default: now; a ``NOW`` schedule's own window
    otherwise). Returns the MonitoringExecutionSummary, final when ``wait``. What the control plane does when
    an execution is due, for tests and for users who do not keep a control plane running."""
    return MonitoringSchedules(home).run_now(name, scheduled_time=scheduled_time, wait=wait)
