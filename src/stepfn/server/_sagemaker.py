"""The SageMaker API over local SageMaker: jobs, models, endpoint configs, endpoints, InvokeEndpoint, and Model
Monitor's schedules (:mod:`stepfn.local.sagemaker.schedules`).

:class:`LocalSageMakerClient` has boto3's ``sagemaker`` method names and keyword arguments, so the
server dispatches to it exactly as it dispatches Step Functions calls to ``LocalStepFunctionsClient``.

Training, transform, processing and tuning jobs run through the engine's SageMaker task handlers
(docs/design/sagemaker-contract.md §1), on a background thread per job: Create* returns as soon as the job's record exists (SageMaker's
Create* does not wait for the job either), Describe* reads the record, and Stop* asks the job to stop through
its lifecycle (:mod:`stepfn.local.sagemaker.lifecycle`), whichever process runs it. CreateEndpoint and UpdateEndpoint also return while
the endpoint is ``Creating``/``Updating``; local CreateEndpoint otherwise blocks until InService,
which a boto3 waiter (``endpoint_in_service``) handles the same way it does on AWS.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepfn._partitions import LOCAL_ACCOUNT
from stepfn.engine.protocol import TaskRequest
from stepfn.errors import ServiceError, StatesError, StoreError
from stepfn.local.sagemaker.lifecycle import ACTIVE, JOB_KINDS, request_stop
from stepfn.local.sagemaker.records import RecordStore, page_of, sagemaker_error, to_botocore_shape
from stepfn.server._protocol import ApiError

_CREATE_WAIT_SECONDS = 30.0
_STOP_WAIT_SECONDS = 10.0


class _Control:
    """The TaskControl a job started through the API runs under: nothing cancels it but Stop*, which reaches
    the job through its lifecycle's stop request (:func:`stepfn.local.sagemaker.lifecycle.request_stop`)."""

    def cancelled(self) -> bool:
        return False

    def heartbeat(self) -> None:
        return None

    def sleep(self, seconds: float) -> bool:
        time.sleep(seconds)
        return True

    def log(self, message: str) -> None:
        return None


@dataclass
class _Background:
    """One job (or endpoint change) running on a thread of this server, and how it ended."""

    control: _Control = field(default_factory=_Control)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class LocalSageMakerClient:
    """boto3 ``sagemaker`` operations answered by local SageMaker under ``home``."""

    def __init__(self, home: Path | str) -> None:
        self.home = Path(home)
        self.records = RecordStore(self.home)
        self._work: dict[tuple[str, str], _Background] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Any] | None = None

    def handlers(self) -> dict[str, Any]:
        if self._handlers is None:
            from stepfn.local import default_handlers

            self._handlers = default_handlers(self.home)
        return self._handlers

    # Background work -----------------------------------------------------------------------------------------

    def _start(self, key: tuple[str, str], work: Callable[[_Control], Any], ready: Callable[[], bool]) -> None:
        """Run ``work`` on a thread; return once ``ready()`` holds, or raise the error it ended with."""
        entry = _Background()

        def target() -> None:
            try:
                work(entry.control)
            except BaseException as exc:  # kept for the caller still waiting on ready()
                entry.error = exc

        thread = entry.thread = threading.Thread(target=target, name=f"stepfn-serve-{key[0]}-{key[1]}", daemon=True)
        with self._lock:
            self._work[key] = entry
        thread.start()
        deadline = time.monotonic() + _CREATE_WAIT_SECONDS
        while time.monotonic() < deadline:
            if ready():
                return
            if not thread.is_alive():
                if entry.error is not None:
                    raise _service_error_of(entry.error) from entry.error
                return
            time.sleep(0.01)

    def _refuse_existing(self, kind: str, name: Any, operation: str) -> None:
        try:
            existing = isinstance(name, str) and self.records.get(kind, name) is not None
        except StoreError:  # not a SageMaker name: the handler fails with SageMaker's own error for it
            return
        if existing:
            # RecordStore.create raises SageMaker's own "already exists" error for a taken name.
            self.records.create(kind, name, {}, operation=operation)

    # Jobs ----------------------------------------------------------------------------------------------------

    def _create_job(self, kind: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        job = JOB_KINDS[kind]
        name = params.get(job.name_key)
        self._refuse_existing(kind, name, operation)
        handler = self.handlers().get(f"sagemaker:{job.action}")
        if handler is None:
            raise ApiError("UnknownOperationException", f"local SageMaker cannot run {operation} in this installation")
        request = TaskRequest(
            resource=f"arn:aws:states:::sagemaker:{job.action}.sync", service="sagemaker", action=job.action,
            pattern="sync", parameters=params, state_name=operation,
            execution_arn=f"arn:aws:states:us-east-1:{LOCAL_ACCOUNT}:execution:stepfn-serve:{name}",
        )

        def recorded() -> bool:
            try:
                return self.records.get(kind, str(name)) is not None
            except StoreError:  # not a SageMaker name: the handler fails with SageMaker's own error for it
                return False

        self._start((kind, str(name)), lambda control: handler(request, control), recorded)
        record = self.records.require(kind, str(name), operation)
        return {job.arn_key: record[job.arn_key]}

    def _describe(self, kind: str, name: str, operation: str) -> dict[str, Any]:
        shaped: dict[str, Any] = to_botocore_shape(self.records.require(kind, name, operation))
        return shaped

    def _stop_job(self, kind: str, name: str, operation: str) -> dict[str, Any]:
        job = JOB_KINDS[kind]
        record = self.records.require(kind, name, operation)
        status = record.get(job.status_key)
        if status not in ACTIVE:
            raise sagemaker_error(
                operation, "ValidationException",
                f"The request was rejected because the {job.label} is in status {status}.",
            )
        request_stop(self.records, kind, name)  # seen by the job whichever process runs it
        with self._lock:
            entry = self._work.get((kind, name))
        if entry is not None and entry.thread is not None and entry.running():
            entry.thread.join(_STOP_WAIT_SECONDS)
        return {}

    def create_training_job(self, **params: Any) -> dict[str, Any]:
        return self._create_job("training-job", "CreateTrainingJob", params)

    def describe_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self._describe("training-job", TrainingJobName, "DescribeTrainingJob")

    def stop_training_job(self, TrainingJobName: str) -> dict[str, Any]:
        return self._stop_job("training-job", TrainingJobName, "StopTrainingJob")

    def create_transform_job(self, **params: Any) -> dict[str, Any]:
        return self._create_job("transform-job", "CreateTransformJob", params)

    def describe_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self._describe("transform-job", TransformJobName, "DescribeTransformJob")

    def stop_transform_job(self, TransformJobName: str) -> dict[str, Any]:
        return self._stop_job("transform-job", TransformJobName, "StopTransformJob")

    def create_processing_job(self, **params: Any) -> dict[str, Any]:
        return self._create_job("processing-job", "CreateProcessingJob", params)

    def describe_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self._describe("processing-job", ProcessingJobName, "DescribeProcessingJob")

    def stop_processing_job(self, ProcessingJobName: str) -> dict[str, Any]:
        return self._stop_job("processing-job", ProcessingJobName, "StopProcessingJob")

    def create_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        return self._create_job("tuning-job", "CreateHyperParameterTuningJob", params)

    def describe_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        return self._describe("tuning-job", HyperParameterTuningJobName, "DescribeHyperParameterTuningJob")

    def stop_hyper_parameter_tuning_job(self, HyperParameterTuningJobName: str) -> dict[str, Any]:
        return self._stop_job("tuning-job", HyperParameterTuningJobName, "StopHyperParameterTuningJob")

    def _list_jobs(self, kind: str, summary_keys: tuple[str, ...], params: dict[str, Any], *,
                   descending: bool = False, by_name: bool = False) -> tuple[list[Any], Any]:
        """SageMaker's List*Jobs: filters, ``SortBy`` (default CreationTime, or the name with ``by_name``),
        ``SortOrder`` (default Ascending, or Descending with ``descending``: each API documents its own), pages of
        ``MaxResults`` (default 10) with a ``NextToken`` while more remain."""
        job = JOB_KINDS[kind]
        records = _named_like(self.records.list(kind), job.name_key, params)
        if params.get("StatusEquals"):
            records = [r for r in records if r.get(job.status_key) == params["StatusEquals"]]
        records = _within(_within(records, "CreationTime", params, "CreationTime"),
                          "LastModifiedTime", params, "LastModifiedTime")
        sort_key = {"Name": job.name_key, "Status": job.status_key}.get(
            params.get("SortBy") or "", job.name_key if by_name else "CreationTime")
        return _sorted_page(records, summary_keys, sort_key, job.name_key, params, descending=descending)

    def _list_resources(self, kind: str, name_key: str, summary_keys: tuple[str, ...],
                        params: dict[str, Any]) -> tuple[list[Any], Any]:
        """ListModels / ListEndpointConfigs: ``NameContains``, the creation time bounds, ``SortBy`` Name or
        CreationTime (the default), ``SortOrder`` (default Descending), pages as :meth:`_list_jobs`."""
        records = _within(_named_like(self.records.list(kind), name_key, params), "CreationTime", params,
                          "CreationTime")
        sort_key = name_key if params.get("SortBy") == "Name" else "CreationTime"
        return _sorted_page(records, summary_keys, sort_key, name_key, params, descending=True)

    def list_training_jobs(self, **params: Any) -> dict[str, Any]:
        summaries, next_token = self._list_jobs("training-job", (
            "TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingEndTime", "LastModifiedTime",
            "TrainingJobStatus", "SecondaryStatus"), params)
        return {"TrainingJobSummaries": summaries} | ({"NextToken": next_token} if next_token else {})

    def list_processing_jobs(self, **params: Any) -> dict[str, Any]:
        summaries, next_token = self._list_jobs("processing-job", (
            "ProcessingJobName", "ProcessingJobArn", "CreationTime", "ProcessingEndTime", "LastModifiedTime",
            "ProcessingJobStatus", "FailureReason", "ExitMessage"), params)
        return {"ProcessingJobSummaries": summaries} | ({"NextToken": next_token} if next_token else {})

    def list_transform_jobs(self, **params: Any) -> dict[str, Any]:
        summaries, next_token = self._list_jobs("transform-job", (
            "TransformJobName", "TransformJobArn", "CreationTime", "TransformEndTime", "LastModifiedTime",
            "TransformJobStatus", "FailureReason"), params, descending=True)
        return {"TransformJobSummaries": summaries} | ({"NextToken": next_token} if next_token else {})

    def list_hyper_parameter_tuning_jobs(self, **params: Any) -> dict[str, Any]:
        summaries, next_token = self._list_jobs("tuning-job", (
            "HyperParameterTuningJobName", "HyperParameterTuningJobArn", "HyperParameterTuningJobStatus",
            "HyperParameterTuningJobConfig", "CreationTime", "HyperParameterTuningEndTime", "LastModifiedTime",
            "TrainingJobStatusCounters", "ObjectiveStatusCounters"), params, by_name=True)
        for summary in summaries:  # the summary lifts these two out of the job's config
            config = summary.pop("HyperParameterTuningJobConfig", {})
            summary.update({key: config[key] for key in ("Strategy", "ResourceLimits") if key in config})
        return {"HyperParameterTuningJobSummaries": summaries} | ({"NextToken": next_token} if next_token else {})

    # Experiments and trials (names jobs are filed under) --------------------------------------------------------

    def create_experiment(self, **params: Any) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import create_experiment

        return create_experiment(self.records, params)

    def describe_experiment(self, ExperimentName: str) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import describe_experiment

        shaped: dict[str, Any] = to_botocore_shape(describe_experiment(self.records, ExperimentName))
        return shaped

    def delete_experiment(self, ExperimentName: str) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import delete_experiment

        return delete_experiment(self.records, ExperimentName)

    def list_experiments(self, **params: Any) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import experiment_summaries

        summaries = _within(experiment_summaries(self.records), "CreationTime", params, "Created")
        sort_key = "ExperimentName" if params.get("SortBy") == "Name" else "CreationTime"
        page, next_token = _sorted_page(summaries, (), sort_key, "ExperimentName", params, descending=True)
        return {"ExperimentSummaries": page} | ({"NextToken": next_token} if next_token else {})

    def create_trial(self, **params: Any) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import create_trial

        return create_trial(self.records, params)

    def describe_trial(self, TrialName: str) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import describe_trial

        shaped: dict[str, Any] = to_botocore_shape(describe_trial(self.records, TrialName))
        return shaped

    def delete_trial(self, TrialName: str) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import delete_trial

        return delete_trial(self.records, TrialName)

    def list_trials(self, **params: Any) -> dict[str, Any]:
        from stepfn.local.sagemaker.experiments import trial_summaries

        summaries = _within(trial_summaries(self.records, params.get("ExperimentName")), "CreationTime", params,
                            "Created")
        sort_key = "TrialName" if params.get("SortBy") == "Name" else "CreationTime"
        page, next_token = _sorted_page(summaries, (), sort_key, "TrialName", params, descending=True)
        return {"TrialSummaries": page} | ({"NextToken": next_token} if next_token else {})

    # Models, endpoint configs, endpoints ----------------------------------------------------------------------

    def create_model(self, **params: Any) -> dict[str, Any]:
        from stepfn.local.sagemaker.models import create_model

        return create_model(self.records, params)

    def list_models(self, **params: Any) -> dict[str, Any]:
        summaries, next_token = self._list_resources("model", "ModelName", ("ModelName", "ModelArn", "CreationTime"),
                                                     params)
        return {"Models": summaries} | ({"NextToken": next_token} if next_token else {})

    def describe_model(self, ModelName: str) -> dict[str, Any]:
        return self._describe("model", ModelName, "DescribeModel")

    def delete_model(self, ModelName: str) -> dict[str, Any]:
        self.records.require("model", ModelName, "DeleteModel")
        self.records.delete("model", ModelName)
        return {}

    def create_endpoint_config(self, **params: Any) -> dict[str, Any]:
        from stepfn.local.sagemaker.models import create_endpoint_config

        return create_endpoint_config(self.records, params)

    def list_endpoint_configs(self, **params: Any) -> dict[str, Any]:
        summaries, next_token = self._list_resources(
            "endpoint-config", "EndpointConfigName", ("EndpointConfigName", "EndpointConfigArn", "CreationTime"),
            params)
        return {"EndpointConfigs": summaries} | ({"NextToken": next_token} if next_token else {})

    def describe_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        return self._describe("endpoint-config", EndpointConfigName, "DescribeEndpointConfig")

    def delete_endpoint_config(self, EndpointConfigName: str) -> dict[str, Any]:
        self.records.require("endpoint-config", EndpointConfigName, "DeleteEndpointConfig")
        self.records.delete("endpoint-config", EndpointConfigName)
        return {}

    def _endpoints(self) -> Any:
        from stepfn.local.sagemaker.endpoints import Endpoints

        return Endpoints(self.home)

    def create_endpoint(self, **params: Any) -> dict[str, Any]:
        name = params.get("EndpointName")
        self._refuse_existing("endpoint", name, "CreateEndpoint")
        self._start(("endpoint", str(name)), lambda _: self._endpoints().create(params),
                    lambda: self.records.get("endpoint", str(name)) is not None)
        return {"EndpointArn": self.records.require("endpoint", str(name), "CreateEndpoint")["EndpointArn"]}

    def update_endpoint(self, **params: Any) -> dict[str, Any]:
        name = str(params.get("EndpointName"))
        record = self.records.require("endpoint", name, "UpdateEndpoint")

        def updating() -> bool:
            current = self.records.get("endpoint", name) or {}
            return current.get("EndpointStatus") == "Updating"

        self._start(("endpoint", name), lambda _: self._endpoints().update(params), updating)
        return {"EndpointArn": record["EndpointArn"]}

    def describe_endpoint(self, EndpointName: str) -> dict[str, Any]:
        shaped: dict[str, Any] = to_botocore_shape(self._endpoints().describe(EndpointName))
        return shaped

    def delete_endpoint(self, EndpointName: str) -> dict[str, Any]:
        result: dict[str, Any] = self._endpoints().delete({"EndpointName": EndpointName})
        return result

    def list_endpoints(self, **params: Any) -> dict[str, Any]:
        summaries = [
            {key: value for key, value in item.items() if key not in ("Url", "Pid")}
            for item in reversed(self._endpoints().list())
        ]
        return {"Endpoints": to_botocore_shape(summaries)}

    def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._endpoints().invoke(**params)
        return result

    # Model Monitor: monitoring schedules, data quality job definitions, monitoring executions ----------------

    def _monitoring(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        from stepfn.local.sagemaker.schedules import MonitoringSchedules

        schedules = MonitoringSchedules(self.home)
        result = schedules.call(method, params)
        if method == "create_monitoring_schedule":
            # A one-time (NOW) schedule's execution starts at once, on a thread of this server, as SageMaker
            # starts it when the schedule is created.
            schedules.run_due(names=(str(params["MonitoringScheduleName"]),))
        return result

    def create_data_quality_job_definition(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("create_data_quality_job_definition", params)

    def describe_data_quality_job_definition(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("describe_data_quality_job_definition", params)

    def delete_data_quality_job_definition(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("delete_data_quality_job_definition", params)

    def list_data_quality_job_definitions(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("list_data_quality_job_definitions", params)

    def create_monitoring_schedule(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("create_monitoring_schedule", params)

    def update_monitoring_schedule(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("update_monitoring_schedule", params)

    def describe_monitoring_schedule(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("describe_monitoring_schedule", params)

    def list_monitoring_schedules(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("list_monitoring_schedules", params)

    def list_monitoring_executions(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("list_monitoring_executions", params)

    def stop_monitoring_schedule(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("stop_monitoring_schedule", params)

    def start_monitoring_schedule(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("start_monitoring_schedule", params)

    def delete_monitoring_schedule(self, **params: Any) -> dict[str, Any]:
        return self._monitoring("delete_monitoring_schedule", params)


def _service_error_of(error: BaseException) -> BaseException:
    """The error a Create* answers when its background work failed before the resource existed.

    Task handlers wrap SageMaker API errors in ``StatesError`` (``raise ... from``), so the
    ServiceError with the API's code is the cause.
    """
    if isinstance(error, ServiceError):
        return error
    if isinstance(error, StatesError) and isinstance(error.__cause__, ServiceError):
        return error.__cause__
    message = error.cause if isinstance(error, StatesError) else str(error)
    return sagemaker_error("Create", "ValidationException", str(message or error))


def _named_like(records: list[dict[str, Any]], name_key: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The records whose name contains the request's ``NameContains`` (SageMaker ignores case), or all."""
    contains = str(params.get("NameContains") or "").lower()
    return [r for r in records if contains in str(r.get(name_key, "")).lower()] if contains else records


def _within(records: list[dict[str, Any]], key: str, params: dict[str, Any], member: str) -> list[dict[str, Any]]:
    """The records whose ``key`` time lies inside the request's ``<member>After`` / ``<member>Before`` bounds."""
    for suffix, after in (("After", True), ("Before", False)):
        if params.get(member + suffix) is not None:
            bound = _epoch_millis(params[member + suffix])
            records = [r for r in records if r.get(key) is not None and (r[key] > bound if after else r[key] < bound)]
    return records


def _sorted_page(records: list[dict[str, Any]], summary_keys: tuple[str, ...], sort_key: str, name_key: str,
                 params: dict[str, Any], *, descending: bool) -> tuple[list[Any], str | None]:
    """One page of summaries sorted as SageMaker's List* APIs sort them (``SortOrder`` given, else the API's own
    default), ``MaxResults`` long (default 10), and the ``NextToken`` of the next page while more remain.
    ``summary_keys`` picks each record's members (all of them when empty)."""
    order = params.get("SortOrder")
    records = sorted(records, key=lambda r: (r.get(sort_key) is None, r.get(sort_key) or 0, r.get(name_key, "")),
                     reverse=order == "Descending" if order else descending)
    page, next_token = page_of(records, params, "List")
    summaries = [{key: r[key] for key in summary_keys if r.get(key) is not None} if summary_keys else r for r in page]
    return to_botocore_shape(summaries), next_token


def _epoch_millis(value: Any) -> float:
    """A request timestamp (epoch seconds on the wire, or a datetime from an in-process caller) in the
    records' epoch milliseconds."""
    if hasattr(value, "timestamp"):
        return float(value.timestamp()) * 1000
    return float(value) * 1000
