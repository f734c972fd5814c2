"""sagemaker v2 ``sagemaker.model_monitor``: ``DataCaptureConfig`` for CreateEndpointConfig (docs/design/compat.md
§6.7), ``DatasetFormat``, the monitoring files, ``DefaultModelMonitor``'s baseline suggestion and monitoring
schedules (``CronExpressionGenerator``, ``EndpointInput``, ``MonitoringOutput``, ``MonitoringExecution``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ._runtime import monitoring_call
from .session import SessionLike

__all__ = [
    "BaseliningJob",
    "ConstraintViolations",
    "Constraints",
    "CronExpressionGenerator",
    "DataCaptureConfig",
    "DatasetFormat",
    "DefaultModelMonitor",
    "EndpointInput",
    "ModelMonitoringFile",
    "MonitoringDatasetFormat",
    "MonitoringExecution",
    "MonitoringOutput",
    "Statistics",
]

logger = logging.getLogger("stepfn.sagemaker.model_monitor")
_ENDPOINT_INPUT_PATH = "/opt/ml/processing/input/endpoint"
_OUTPUT_PATH = "/opt/ml/processing/output"

_CAPTURE_MODES = {"REQUEST": "Input", "RESPONSE": "Output"}


class DataCaptureConfig:
    """Which endpoint requests/responses to capture, and where (``s3://{bucket}/model-monitor/data-capture``)."""

    def __init__(
        self,
        enable_capture: Any,
        sampling_percentage: Any = 20,
        destination_s3_uri: Any = None,
        kms_key_id: Any = None,
        capture_options: list[str] | None = None,
        csv_content_types: Any = None,
        json_content_types: Any = None,
        sagemaker_session: SessionLike | None = None,
    ) -> None:
        self.enable_capture = enable_capture
        self.sampling_percentage = sampling_percentage
        self.destination_s3_uri = destination_s3_uri
        self.sagemaker_session = sagemaker_session
        self.kms_key_id = kms_key_id
        self.capture_options = capture_options or ["REQUEST", "RESPONSE"]
        for mode in self.capture_options:
            if mode not in _CAPTURE_MODES:
                raise ValueError(f"capture_options must be REQUEST and/or RESPONSE, got {mode!r}.")
        self.csv_content_types = csv_content_types or ["text/csv"]
        self.json_content_types = json_content_types or ["application/json"]

    def _destination(self) -> Any:
        if self.destination_s3_uri is not None:
            return self.destination_s3_uri
        if self.sagemaker_session is None:
            from .session import Session

            self.sagemaker_session = Session()
        return f"s3://{self.sagemaker_session.default_bucket()}/model-monitor/data-capture"

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "EnableCapture": self.enable_capture,
            "InitialSamplingPercentage": self.sampling_percentage,
            "DestinationS3Uri": self._destination(),
            "CaptureOptions": [{"CaptureMode": _CAPTURE_MODES[mode]} for mode in self.capture_options],
        }
        if self.kms_key_id is not None:
            request["KmsKeyId"] = self.kms_key_id
        request["CaptureContentTypeHeader"] = {
            "CsvContentTypes": self.csv_content_types,
            "JsonContentTypes": self.json_content_types,
        }
        return request


class DatasetFormat:
    """The ``dataset_format`` a Model Monitor analyzer job reads (``sagemaker.model_monitor.DatasetFormat``)."""

    @staticmethod
    def csv(header: bool = True, output_columns_position: str = "START") -> dict[str, Any]:
        return {"csv": {"header": header, "output_columns_position": output_columns_position}}

    @staticmethod
    def json(lines: bool = True) -> dict[str, Any]:
        return {"json": {"lines": lines}}

    @staticmethod
    def sagemaker_capture_json() -> dict[str, Any]:
        return {"sagemakerCaptureJson": {}}


class MonitoringDatasetFormat:
    """The batch-transform monitoring input format (``sagemaker.model_monitor.MonitoringDatasetFormat``)."""

    @staticmethod
    def csv(header: bool = True) -> dict[str, Any]:
        return {"Csv": {"Header": header}}

    @staticmethod
    def json(lines: bool = True) -> dict[str, Any]:
        return {"Json": {"Line": lines}}

    @staticmethod
    def parquet() -> dict[str, Any]:
        return {"Parquet": {}}


class ModelMonitoringFile:
    """A JSON file an analyzer job wrote (statistics, constraints, violations): ``body_dict`` and where it lives."""

    def __init__(self, body_dict: dict[str, Any], file_s3_uri: str, kms_key: str | None = None,
                 sagemaker_session: Any = None) -> None:
        self.body_dict = body_dict
        self.file_s3_uri = file_s3_uri
        self.kms_key = kms_key
        self.session = sagemaker_session

    @classmethod
    def from_s3_uri(cls, file_s3_uri: str, kms_key: str | None = None,
                    sagemaker_session: Any = None) -> ModelMonitoringFile:
        from .s3 import S3Downloader

        session = sagemaker_session or _session()
        return cls(json.loads(S3Downloader.read_file(file_s3_uri, session)), file_s3_uri, kms_key, session)

    def save(self, new_save_location_s3_uri: str | None = None) -> str:
        from .s3 import S3Uploader

        if new_save_location_s3_uri is not None:
            self.file_s3_uri = new_save_location_s3_uri
        return S3Uploader.upload_string_as_file_body(json.dumps(self.body_dict), self.file_s3_uri, self.kms_key,
                                                     self.session or _session())


class Statistics(ModelMonitoringFile):
    """statistics.json."""


class Constraints(ModelMonitoringFile):
    """constraints.json."""


class ConstraintViolations(ModelMonitoringFile):
    """constraint_violations.json."""


def _session() -> Any:
    from .session import Session

    return Session()


class BaseliningJob:
    """A finished baseline suggestion: its statistics and suggested constraints."""

    def __init__(self, job_name: str, output_s3_uri: str, sagemaker_session: Any) -> None:
        self.job_name = job_name
        self.output_s3_uri = output_s3_uri
        self.sagemaker_session = sagemaker_session

    def baseline_statistics(self) -> ModelMonitoringFile:
        return Statistics.from_s3_uri(f"{self.output_s3_uri}/statistics.json", sagemaker_session=self.sagemaker_session)

    def suggested_constraints(self) -> ModelMonitoringFile:
        return Constraints.from_s3_uri(f"{self.output_s3_uri}/constraints.json",
                                       sagemaker_session=self.sagemaker_session)


class CronExpressionGenerator:
    """The schedule expressions monitoring schedules accept (``sagemaker.model_monitor.CronExpressionGenerator``);
    UTC, run at the top of the hour."""

    @staticmethod
    def hourly() -> str:
        return "cron(0 * ? * * *)"

    @staticmethod
    def daily(hour: int = 0) -> str:
        return f"cron(0 {hour} ? * * *)"

    @staticmethod
    def daily_every_x_hours(hour_interval: int, starting_hour: int = 0) -> str:
        return f"cron(0 {starting_hour}/{hour_interval} ? * * *)"

    @staticmethod
    def now() -> str:
        """A one-time schedule that runs once, at once (give its analysis window too)."""
        return "NOW"


class EndpointInput:
    """The endpoint a monitoring job reads the captured data of, and where the job sees it."""

    def __init__(self, endpoint_name: str, destination: str, s3_input_mode: str = "File",
                 s3_data_distribution_type: str = "FullyReplicated", start_time_offset: str | None = None,
                 end_time_offset: str | None = None, features_attribute: str | None = None,
                 inference_attribute: str | None = None, probability_attribute: str | None = None,
                 probability_threshold_attribute: float | None = None,
                 exclude_features_attribute: str | None = None) -> None:
        self.endpoint_name = endpoint_name
        self.destination = destination
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type
        self.start_time_offset = start_time_offset
        self.end_time_offset = end_time_offset
        self.features_attribute = features_attribute
        self.inference_attribute = inference_attribute
        self.probability_attribute = probability_attribute
        self.probability_threshold_attribute = probability_threshold_attribute
        self.exclude_features_attribute = exclude_features_attribute

    def _to_request_dict(self) -> dict[str, Any]:
        request: dict[str, Any] = {"EndpointName": self.endpoint_name, "LocalPath": self.destination,
                                   "S3InputMode": self.s3_input_mode,
                                   "S3DataDistributionType": self.s3_data_distribution_type}
        for key, value in (("StartTimeOffset", self.start_time_offset), ("EndTimeOffset", self.end_time_offset),
                           ("FeaturesAttribute", self.features_attribute),
                           ("InferenceAttribute", self.inference_attribute),
                           ("ProbabilityAttribute", self.probability_attribute),
                           ("ProbabilityThresholdAttribute", self.probability_threshold_attribute),
                           ("ExcludeFeaturesAttribute", self.exclude_features_attribute)):
            if value is not None:
                request[key] = value
        return {"EndpointInput": request}


class MonitoringOutput:
    """Where a monitoring job's reports go: ``source`` in the job, uploaded under ``destination``."""

    def __init__(self, source: str, destination: str | None = None, s3_upload_mode: str = "Continuous") -> None:
        self.source = source
        self.destination = destination
        self.s3_upload_mode = s3_upload_mode

    def _to_request_dict(self) -> dict[str, Any]:
        return {"S3Output": {"S3Uri": self.destination, "LocalPath": self.source, "S3UploadMode": self.s3_upload_mode}}


class MonitoringExecution:
    """One run of a monitoring schedule: the processing job it started, and the reports it wrote."""

    def __init__(self, sagemaker_session: Any, job_name: str, inputs: list[Any], output: Any,
                 output_kms_key: str | None = None) -> None:
        from ._jobs import PROCESSING, SessionJob

        self.sagemaker_session = sagemaker_session
        self.job_name = job_name
        self.inputs = inputs
        self.output = output
        self.outputs = [output]
        self.output_kms_key = output_kms_key
        self._job = SessionJob(PROCESSING, sagemaker_session, job_name)

    @classmethod
    def from_processing_arn(cls, sagemaker_session: Any, processing_job_arn: str) -> MonitoringExecution:
        from .processing import ProcessingInput, ProcessingOutput

        name = processing_job_arn.split(":")[5][len("processing-job/"):]
        description = sagemaker_session.describe_processing_job(name)
        output = description["ProcessingOutputConfig"]["Outputs"][0]
        return cls(
            sagemaker_session, name,
            [ProcessingInput(source=item["S3Input"]["S3Uri"], destination=item["S3Input"]["LocalPath"],
                             input_name=item["InputName"]) for item in description.get("ProcessingInputs") or []],
            ProcessingOutput(source=output["S3Output"]["LocalPath"], destination=output["S3Output"]["S3Uri"],
                             output_name=output["OutputName"]),
            description["ProcessingOutputConfig"].get("KmsKeyId"))

    def describe(self) -> dict[str, Any]:
        return self._job.describe()

    def wait(self, logs: bool = True) -> dict[str, Any]:
        return self._job.wait(logs=logs)

    def stop(self) -> None:
        self._job.stop()

    def _file(self, cls: type[ModelMonitoringFile], file_name: str, kms_key: str | None) -> ModelMonitoringFile:
        from .exceptions import UnexpectedStatusException

        status = self.describe()["ProcessingJobStatus"]
        if status != "Completed":
            raise UnexpectedStatusException(
                message="The underlying job is not in 'Completed' state. You may only retrieve files for a job "
                        "that has completed successfully.", allowed_statuses=["Completed"], actual_status=status)
        return cls.from_s3_uri(f"{str(self.output.destination).rstrip('/')}/{file_name}", kms_key,
                               self.sagemaker_session)

    def statistics(self, file_name: str = "statistics.json", kms_key: str | None = None) -> ModelMonitoringFile:
        return self._file(Statistics, file_name, kms_key)

    def constraint_violations(self, file_name: str = "constraint_violations.json",
                              kms_key: str | None = None) -> ModelMonitoringFile:
        return self._file(ConstraintViolations, file_name, kms_key)


class DefaultModelMonitor:
    """Model Monitor with the analyzer image (``sagemaker.model_monitor.DefaultModelMonitor``).

    ``suggest_baseline`` computes the baseline here, as the analyzer's baseline job does
    (:mod:`stepfn.local.sagemaker.monitor`, with pandas), reading the dataset from and writing
    ``statistics.json`` / ``constraints.json`` to the session's object store. ``create_monitoring_schedule``
    creates a data quality job definition and a monitoring schedule over an endpoint's captured data, as
    sagemaker v2 does: on local SageMaker (:mod:`stepfn.local.sagemaker.schedules`) the home's control plane runs
    its executions when they are due, a ``CronExpressionGenerator.now()`` schedule runs before this returns, and
    ``stepfn.local.sagemaker.run_monitoring_schedule(name)`` runs one at once; with a boto3 session, SageMaker
    does.
    """

    def __init__(self, role: Any = None, instance_count: Any = 1, instance_type: Any = "ml.m5.xlarge",
                 volume_size_in_gb: Any = 30, volume_kms_key: Any = None, output_kms_key: Any = None,
                 max_runtime_in_seconds: Any = None, base_job_name: str | None = None,
                 sagemaker_session: Any = None, env: dict[str, str] | None = None, tags: Any = None,
                 network_config: Any = None) -> None:
        self.role = role
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.volume_size_in_gb = volume_size_in_gb
        self.volume_kms_key = volume_kms_key
        self.output_kms_key = output_kms_key
        self.max_runtime_in_seconds = max_runtime_in_seconds
        self.base_job_name = base_job_name
        self.sagemaker_session = sagemaker_session or _session()
        self.env = env
        self.tags = tags
        self.network_config = network_config
        self.baselining_jobs: list[BaseliningJob] = []
        self.latest_baselining_job: BaseliningJob | None = None
        self.latest_baselining_job_name: str | None = None
        self.monitoring_schedule_name: str | None = None
        self.job_definition_name: str | None = None
        from .image_uris import retrieve

        self.image_uri = retrieve("model-monitor", self.sagemaker_session.boto_region_name)

    def suggest_baseline(self, baseline_dataset: str, dataset_format: dict[str, Any],
                         record_preprocessor_script: str | None = None,
                         post_analytics_processor_script: str | None = None, output_s3_uri: str | None = None,
                         wait: bool = True, logs: bool = True, job_name: str | None = None,
                         monitoring_config_override: Any = None) -> BaseliningJob:
        """Compute statistics.json and constraints.json of ``baseline_dataset`` (an S3 URI or a local path)."""
        import os
        import tempfile
        from pathlib import Path

        from stepfn.local.sagemaker.monitor import analyze, read_dataset, suggest_constraints

        from .s3 import S3Downloader, S3Uploader
        from .session import name_from_base

        if record_preprocessor_script or post_analytics_processor_script:
            raise NotImplementedError("record_preprocessor_script / post_analytics_processor_script are not run by "
                                      "the local analyzer.")
        session = self.sagemaker_session
        name = job_name or name_from_base(self.base_job_name or "baseline-suggestion-job")
        output = (output_s3_uri or f"s3://{session.default_bucket()}/model-monitor/baselining/{name}/results")
        with tempfile.TemporaryDirectory(prefix="stepfn-baseline-") as scratch:
            if baseline_dataset.startswith("s3://"):
                S3Downloader.download(baseline_dataset, scratch, sagemaker_session=session)
                source = scratch
            else:
                source = os.path.abspath(baseline_dataset)
            statistics = analyze(read_dataset(Path(source), dataset_format))
        constraints = suggest_constraints(statistics)
        for file_name, document in (("statistics.json", statistics), ("constraints.json", constraints)):
            S3Uploader.upload_string_as_file_body(json.dumps(document, indent=4), f"{output}/{file_name}",
                                                  sagemaker_session=session)
        job = BaseliningJob(name, output, session)
        self.baselining_jobs.append(job)
        self.latest_baselining_job = job
        self.latest_baselining_job_name = name
        return job

    def baseline_statistics(self) -> ModelMonitoringFile | None:
        return self.latest_baselining_job.baseline_statistics() if self.latest_baselining_job else None

    def suggested_constraints(self) -> ModelMonitoringFile | None:
        return self.latest_baselining_job.suggested_constraints() if self.latest_baselining_job else None

    @classmethod
    def attach(cls, monitor_schedule_name: str, sagemaker_session: Any = None) -> DefaultModelMonitor:
        """A monitor for an existing schedule (its job definition's role, resources and environment), so that
        ``describe_schedule()``, ``list_executions()`` and the rest act on it, as sagemaker v2's ``attach``."""
        session = sagemaker_session or _session()
        config = session.describe_monitoring_schedule(monitor_schedule_name)["MonitoringScheduleConfig"]
        definition_name = config.get("MonitoringJobDefinitionName")
        if definition_name:
            if config.get("MonitoringType") != "DataQuality":
                raise TypeError("DefaultModelMonitor can only attach to Data quality monitoring schedule.")
            job = monitoring_call(session, "describe_data_quality_job_definition",
                                  {"JobDefinitionName": definition_name})
            cluster = job["JobResources"]["ClusterConfig"]
            output_config = job["DataQualityJobOutputConfig"]
            environment = job["DataQualityAppSpecification"].get("Environment")
        else:
            job = config["MonitoringJobDefinition"]
            cluster = job["MonitoringResources"]["ClusterConfig"]
            output_config = job["MonitoringOutputConfig"]
            environment = job.get("Environment")
        monitor = cls(role=job["RoleArn"], instance_count=cluster["InstanceCount"],
                      instance_type=cluster["InstanceType"], volume_size_in_gb=cluster.get("VolumeSizeInGB", 30),
                      volume_kms_key=cluster.get("VolumeKmsKeyId"), output_kms_key=output_config.get("KmsKeyId"),
                      max_runtime_in_seconds=(job.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds"),
                      sagemaker_session=session, env=environment)
        monitor.monitoring_schedule_name = monitor_schedule_name
        monitor.job_definition_name = definition_name
        return monitor

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        return monitoring_call(self.sagemaker_session, method, params)

    def create_monitoring_schedule(self, endpoint_input: Any = None, record_preprocessor_script: str | None = None,
                                   post_analytics_processor_script: str | None = None,
                                   output_s3_uri: str | None = None, constraints: Any = None, statistics: Any = None,
                                   monitor_schedule_name: str | None = None,
                                   schedule_cron_expression: str | None = None, enable_cloudwatch_metrics: bool = True,
                                   batch_transform_input: Any = None, data_analysis_start_time: str | None = None,
                                   data_analysis_end_time: str | None = None) -> None:
        """CreateDataQualityJobDefinition, then CreateMonitoringSchedule over ``endpoint_input`` (an endpoint name
        or an :class:`EndpointInput`), as sagemaker v2's. The baseline is ``constraints``/``statistics`` (objects or
        S3 URIs), else the latest ``suggest_baseline`` job's files. The expression defaults to daily."""
        from .session import name_from_base

        if self.job_definition_name is not None or self.monitoring_schedule_name is not None:
            raise ValueError("It seems that this object was already used to create an Amazon Model Monitoring "
                             "Schedule. To create another, first delete the existing one using "
                             "my_monitor.delete_monitoring_schedule().")
        if (batch_transform_input is not None) ^ (endpoint_input is None):
            raise ValueError("Need to have either batch_transform_input or endpoint_input to create an Amazon Model "
                             "Monitoring Schedule. Please provide only one of the above required inputs")
        if batch_transform_input is not None:
            raise NotImplementedError("batch_transform_input: monitoring batch transform data capture is not run "
                                      "locally; monitor an endpoint.")
        if schedule_cron_expression == CronExpressionGenerator.now() and (
                data_analysis_start_time is None or data_analysis_end_time is None):
            raise ValueError("Both data_analysis_start_time and data_analysis_end_time are required for one time "
                             "monitoring schedule ")
        if record_preprocessor_script or post_analytics_processor_script:
            raise NotImplementedError("record_preprocessor_script / post_analytics_processor_script are not run by "
                                      "the local analyzer.")
        session = self.sagemaker_session
        schedule_name = monitor_schedule_name or name_from_base(self.base_job_name or "monitoring-schedule")
        definition_name = name_from_base("data-quality-job-definition")
        if isinstance(endpoint_input, str):
            endpoint_input = EndpointInput(endpoint_input, _ENDPOINT_INPUT_PATH)
        output = output_s3_uri or f"s3://{session.default_bucket()}/model-monitor/monitoring/{schedule_name}/results"
        environment = dict(self.env or {})
        environment["publish_cloudwatch_metrics"] = "Enabled" if enable_cloudwatch_metrics else "Disabled"
        cluster: dict[str, Any] = {"InstanceCount": self.instance_count, "InstanceType": self.instance_type,
                                   "VolumeSizeInGB": self.volume_size_in_gb}
        if self.volume_kms_key is not None:
            cluster["VolumeKmsKeyId"] = self.volume_kms_key
        output_config: dict[str, Any] = {"MonitoringOutputs": [MonitoringOutput(_OUTPUT_PATH, output)._to_request_dict()]}
        if self.output_kms_key is not None:
            output_config["KmsKeyId"] = self.output_kms_key
        request: dict[str, Any] = {
            "JobDefinitionName": definition_name,
            "DataQualityAppSpecification": {"ImageUri": self.image_uri, "Environment": environment},
            "DataQualityJobInput": endpoint_input._to_request_dict(),
            "DataQualityJobOutputConfig": output_config,
            "JobResources": {"ClusterConfig": cluster},
            "RoleArn": self.role,
        }
        baseline = self._baseline_config(constraints, statistics)
        if baseline:
            request["DataQualityBaselineConfig"] = baseline
        if self.max_runtime_in_seconds is not None:
            request["StoppingCondition"] = {"MaxRuntimeInSeconds": self.max_runtime_in_seconds}
        if self.network_config is not None:
            request["NetworkConfig"] = self.network_config._to_request_dict()
        if self.tags:
            request["Tags"] = self.tags
        self._call("create_data_quality_job_definition", **request)
        schedule: dict[str, Any] = {"ScheduleExpression": schedule_cron_expression or CronExpressionGenerator.daily()}
        if data_analysis_start_time is not None:
            schedule["DataAnalysisStartTime"] = data_analysis_start_time
        if data_analysis_end_time is not None:
            schedule["DataAnalysisEndTime"] = data_analysis_end_time
        try:
            self._call("create_monitoring_schedule", MonitoringScheduleName=schedule_name, MonitoringScheduleConfig={
                "ScheduleConfig": schedule, "MonitoringJobDefinitionName": definition_name,
                "MonitoringType": "DataQuality"}, Tags=self.tags or [])
        except Exception:
            logger.exception("Failed to create monitoring schedule.")
            self._call("delete_data_quality_job_definition", JobDefinitionName=definition_name)
            raise
        self.job_definition_name = definition_name
        self.monitoring_schedule_name = schedule_name

    def _baseline_config(self, constraints: Any, statistics: Any) -> dict[str, Any]:
        """The ConstraintsResource/StatisticsResource of the given baseline, or of the latest suggest_baseline.

        sagemaker v2 names the baselining job instead when no files are given (SageMaker finds its files); the
        local suggestion runs no processing job to name, so its files are named, which SageMaker accepts too."""
        job = self.latest_baselining_job
        if constraints is None and job is not None:
            constraints = f"{job.output_s3_uri}/constraints.json"
        if statistics is None and job is not None:
            statistics = f"{job.output_s3_uri}/statistics.json"
        config: dict[str, Any] = {}
        for member, given in (("ConstraintsResource", constraints), ("StatisticsResource", statistics)):
            if given is not None:
                config[member] = {"S3Uri": given if isinstance(given, str) else given.file_s3_uri}
        return config

    def describe_schedule(self) -> dict[str, Any]:
        described: dict[str, Any] = self.sagemaker_session.describe_monitoring_schedule(self.monitoring_schedule_name)
        return described

    def list_executions(self) -> list[MonitoringExecution]:
        """The schedule's executions that started a processing job, oldest first (``[-1]`` is the latest)."""
        summaries = self.sagemaker_session.list_monitoring_executions(self.monitoring_schedule_name)[
            "MonitoringExecutionSummaries"]
        if not summaries:
            logger.warning("No executions found for schedule. monitoring_schedule_name: %s",
                           self.monitoring_schedule_name)
            return []
        executions = [MonitoringExecution.from_processing_arn(self.sagemaker_session, summary["ProcessingJobArn"])
                      for summary in summaries if summary.get("ProcessingJobArn") is not None]
        executions.reverse()
        return executions

    def _latest(self, read: str) -> ModelMonitoringFile | None:
        from .exceptions import UnexpectedStatusException

        executions = self.list_executions()
        if not executions:
            return None
        try:
            found: ModelMonitoringFile = getattr(executions[-1], read)()
        except UnexpectedStatusException as exc:
            logger.warning("Unable to retrieve %s as job is in status '%s'. Latest %s only available for "
                           "completed executions.", read, exc.actual_status, read)
            return None
        return found

    def latest_monitoring_statistics(self) -> ModelMonitoringFile | None:
        """statistics.json of the latest execution (None when it has not completed)."""
        return self._latest("statistics")

    def latest_monitoring_constraint_violations(self) -> ModelMonitoringFile | None:
        """constraint_violations.json of the latest execution (None when it has not completed)."""
        return self._latest("constraint_violations")

    def start_monitoring_schedule(self) -> None:
        self.sagemaker_session.start_monitoring_schedule(self.monitoring_schedule_name)

    def stop_monitoring_schedule(self) -> None:
        self.sagemaker_session.stop_monitoring_schedule(self.monitoring_schedule_name)

    def delete_monitoring_schedule(self) -> None:
        """DeleteMonitoringSchedule, then its data quality job definition."""
        self.sagemaker_session.delete_monitoring_schedule(self.monitoring_schedule_name)
        self.monitoring_schedule_name = None
        if self.job_definition_name is not None:
            self._call("delete_data_quality_job_definition", JobDefinitionName=self.job_definition_name)
            self.job_definition_name = None
