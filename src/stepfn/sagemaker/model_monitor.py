"""sagemaker v2 ``sagemaker.model_monitor``: ``DataCaptureConfig`` for CreateEndpointConfig (docs/design/compat.md
§6.7), ``DatasetFormat``, the monitoring files, ``DefaultModelMonitor``'s baseline suggestion job and monitoring
schedules (create, update; ``CronExpressionGenerator``, ``EndpointInput``, ``MonitoringOutput``,
``MonitoringExecution``)."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from ._runtime import monitoring_call
from .processing import ProcessingInput, ProcessingJob, ProcessingOutput, Processor
from .session import SessionLike, name_from_base

__all__ = [
    "BaseliningJob",
    "BatchTransformInput",
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
    "MonitoringInput",
    "MonitoringOutput",
    "Statistics",
]

logger = logging.getLogger("stepfn.sagemaker.model_monitor")
_INPUT_PATH = "/opt/ml/processing/input"
_ENDPOINT_INPUT_PATH = f"{_INPUT_PATH}/endpoint"
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


class BaseliningJob(ProcessingJob):
    """A baseline suggestion job (sagemaker v2's ``BaseliningJob``): its statistics and suggested constraints."""

    def baseline_statistics(self, file_name: str = "statistics.json", kms_key: str | None = None) -> ModelMonitoringFile:
        return Statistics.from_s3_uri(f"{str(self.outputs[0].destination).rstrip('/')}/{file_name}", kms_key,
                                      self.sagemaker_session)

    def suggested_constraints(self, file_name: str = "constraints.json",
                              kms_key: str | None = None) -> ModelMonitoringFile:
        return Constraints.from_s3_uri(f"{str(self.outputs[0].destination).rstrip('/')}/{file_name}", kms_key,
                                       self.sagemaker_session)


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


class MonitoringInput:
    """What an endpoint's and a batch transform's monitoring inputs share (``sagemaker.model_monitor.
    MonitoringInput``): the analysis window's offsets and the attributes the model quality and Clarify monitors
    read."""

    def __init__(self, start_time_offset: str | None = None, end_time_offset: str | None = None,
                 features_attribute: str | None = None, inference_attribute: str | None = None,
                 probability_attribute: str | None = None, probability_threshold_attribute: float | None = None,
                 exclude_features_attribute: str | None = None) -> None:
        self.start_time_offset = start_time_offset
        self.end_time_offset = end_time_offset
        self.features_attribute = features_attribute
        self.inference_attribute = inference_attribute
        self.probability_attribute = probability_attribute
        self.probability_threshold_attribute = probability_threshold_attribute
        self.exclude_features_attribute = exclude_features_attribute

    def _optional_members(self) -> dict[str, Any]:
        members = (("StartTimeOffset", self.start_time_offset), ("EndTimeOffset", self.end_time_offset),
                   ("FeaturesAttribute", self.features_attribute), ("InferenceAttribute", self.inference_attribute),
                   ("ProbabilityAttribute", self.probability_attribute),
                   ("ProbabilityThresholdAttribute", self.probability_threshold_attribute),
                   ("ExcludeFeaturesAttribute", self.exclude_features_attribute))
        return {key: value for key, value in members if value is not None}


class EndpointInput(MonitoringInput):
    """The endpoint a monitoring job reads the captured data of, and where the job sees it."""

    def __init__(self, endpoint_name: str, destination: str, s3_input_mode: str = "File",
                 s3_data_distribution_type: str = "FullyReplicated", start_time_offset: str | None = None,
                 end_time_offset: str | None = None, features_attribute: str | None = None,
                 inference_attribute: str | None = None, probability_attribute: str | None = None,
                 probability_threshold_attribute: float | None = None,
                 exclude_features_attribute: str | None = None) -> None:
        super().__init__(start_time_offset, end_time_offset, features_attribute, inference_attribute,
                         probability_attribute, probability_threshold_attribute, exclude_features_attribute)
        self.endpoint_name = endpoint_name
        self.destination = destination
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type

    def _to_request_dict(self) -> dict[str, Any]:
        return {"EndpointInput": {"EndpointName": self.endpoint_name, "LocalPath": self.destination,
                                  "S3InputMode": self.s3_input_mode,
                                  "S3DataDistributionType": self.s3_data_distribution_type,
                                  **self._optional_members()}}


class BatchTransformInput(MonitoringInput):
    """The captured data of batch transform jobs a monitoring job reads (``sagemaker.model_monitor.
    BatchTransformInput``): the ``BatchDataCaptureConfig`` destination, where the job sees the data, and its
    format (:class:`MonitoringDatasetFormat`)."""

    def __init__(self, data_captured_destination_s3_uri: str, destination: str, dataset_format: dict[str, Any],
                 s3_input_mode: str = "File", s3_data_distribution_type: str = "FullyReplicated",
                 start_time_offset: str | None = None, end_time_offset: str | None = None,
                 features_attribute: str | None = None, inference_attribute: str | None = None,
                 probability_attribute: str | None = None, probability_threshold_attribute: float | None = None,
                 exclude_features_attribute: str | None = None) -> None:
        super().__init__(start_time_offset, end_time_offset, features_attribute, inference_attribute,
                         probability_attribute, probability_threshold_attribute, exclude_features_attribute)
        self.data_captured_destination_s3_uri = data_captured_destination_s3_uri
        self.destination = destination
        self.dataset_format = dataset_format
        self.s3_input_mode = s3_input_mode
        self.s3_data_distribution_type = s3_data_distribution_type

    def _to_request_dict(self) -> dict[str, Any]:
        return {"BatchTransformInput": {"DataCapturedDestinationS3Uri": self.data_captured_destination_s3_uri,
                                        "LocalPath": self.destination, "S3InputMode": self.s3_input_mode,
                                        "S3DataDistributionType": self.s3_data_distribution_type,
                                        "DatasetFormat": self.dataset_format, **self._optional_members()}}


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

    def _file(self, cls: type[ModelMonitoringFile], file_name: str, kms_key: str | None) -> ModelMonitoringFile | None:
        """The report ``file_name`` of this execution, as sagemaker v2 reads it: None when the job completed
        without writing it (the analyzer writes constraint_violations.json only when it found violations), and
        UnexpectedStatusException when the file is missing because the job has not completed."""
        from .exceptions import UnexpectedStatusException
        from .s3 import S3Downloader

        uri = f"{str(self.output.destination).rstrip('/')}/{file_name}"
        if uri not in S3Downloader.list(uri, sagemaker_session=self.sagemaker_session):
            status = self.describe()["ProcessingJobStatus"]
            if status != "Completed":
                raise UnexpectedStatusException(
                    message="The underlying job is not in 'Completed' state. You may only retrieve files for a job "
                            "that has completed successfully.", allowed_statuses=["Completed"], actual_status=status)
            return None
        return cls.from_s3_uri(uri, kms_key, self.sagemaker_session)

    def statistics(self, file_name: str = "statistics.json", kms_key: str | None = None) -> ModelMonitoringFile | None:
        return self._file(Statistics, file_name, kms_key)

    def constraint_violations(self, file_name: str = "constraint_violations.json",
                              kms_key: str | None = None) -> ModelMonitoringFile | None:
        """constraint_violations.json, or None when the execution completed without violations."""
        return self._file(ConstraintViolations, file_name, kms_key)


class DefaultModelMonitor:
    """Model Monitor with the analyzer image (``sagemaker.model_monitor.DefaultModelMonitor``).

    ``suggest_baseline`` runs a baseline suggestion processing job on the analyzer image (locally
    :mod:`stepfn.local.sagemaker.monitor`, with pandas), which writes ``statistics.json`` / ``constraints.json``
    to the session's object store. ``create_monitoring_schedule``
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
        """A baseline suggestion processing job on the analyzer image, as sagemaker v2 runs it: the dataset (an S3
        URI, or a local path uploaded under ``s3://<bucket>/model-monitor/baselining/<job>/input/``) at
        ``/opt/ml/processing/input/baseline_dataset_input``, the scripts beside it, statistics.json and
        constraints.json written to ``output_s3_uri`` (default ``.../baselining/<job>/results``). Locally the job
        runs the analyzer (:mod:`stepfn.local.sagemaker.monitor`) in its own process, with the user's scripts."""
        drift_method = getattr(getattr(monitoring_config_override, "distribution_constraints", None),
                               "categorical_drift_method", None)
        if drift_method not in (None, "ChiSquared", "LInfinity"):
            raise RuntimeError("Invalid value for monitoring_config_override.")
        session = self.sagemaker_session
        name = job_name or name_from_base(self.base_job_name or "baseline-suggestion-job")
        self.latest_baselining_job_name = name
        dataset_path = f"{_INPUT_PATH}/baseline_dataset_input"
        inputs = [self._upload_input(baseline_dataset, dataset_path, "baseline_dataset_input", name)]
        environment = dict(self.env or {})
        environment.update(output_path=_OUTPUT_PATH, publish_cloudwatch_metrics="Disabled",
                           dataset_format=json.dumps(dataset_format))
        for script, variable in ((record_preprocessor_script, "record_preprocessor_script"),
                                 (post_analytics_processor_script, "post_analytics_processor_script")):
            if script is not None:
                destination = f"{_INPUT_PATH}/{variable}_input"
                inputs.append(self._upload_input(script, destination, f"{variable}_input", name))
                environment[variable] = f"{destination}/{os.path.basename(script)}"
        environment["dataset_source"] = dataset_path
        if drift_method is not None:
            environment["categorical_drift_method"] = drift_method
        output = ProcessingOutput(
            source=_OUTPUT_PATH, output_name="monitoring_output",
            destination=output_s3_uri or f"s3://{session.default_bucket()}/model-monitor/baselining/{name}/results")
        processor = Processor(role=self.role, image_uri=self.image_uri, instance_count=self.instance_count,
                              instance_type=self.instance_type, volume_size_in_gb=self.volume_size_in_gb,
                              volume_kms_key=self.volume_kms_key, output_kms_key=self.output_kms_key,
                              max_runtime_in_seconds=self.max_runtime_in_seconds, base_job_name=self.base_job_name,
                              sagemaker_session=session, env=environment, tags=self.tags,
                              network_config=self.network_config)
        processor.run(inputs=inputs, outputs=[output], wait=wait, logs=logs, job_name=name)
        job = BaseliningJob(session, name, inputs, [output], self.output_kms_key)
        self.baselining_jobs.append(job)
        self.latest_baselining_job = job
        return job

    def _upload_input(self, source: str, destination: str, input_name: str, job_name: str) -> ProcessingInput:
        """``source`` (an S3 URI, or a local file uploaded as v2 uploads it) as a job input at ``destination``."""
        from .s3 import S3Uploader

        if not source.startswith("s3://"):
            prefix = f"s3://{self.sagemaker_session.default_bucket()}/model-monitor/baselining/{job_name}/input/" \
                     f"{input_name}"
            S3Uploader.upload(source, prefix, sagemaker_session=self.sagemaker_session)
            source = prefix
        return ProcessingInput(source=source, destination=destination, input_name=input_name)

    def _script_uri(self, script: str, schedule_name: str) -> str:
        """A monitoring schedule's script as an S3 URI: a local file is uploaded under
        ``s3://<bucket>/model-monitor/monitoring/<schedule>/input/<uuid>/``, as v2 uploads it."""
        import uuid

        from .s3 import S3Uploader

        if script.startswith("s3://"):
            return script
        prefix = f"s3://{self.sagemaker_session.default_bucket()}/model-monitor/monitoring/{schedule_name}/input/" \
                 f"{uuid.uuid4()}"
        S3Uploader.upload(script, prefix, sagemaker_session=self.sagemaker_session)
        return f"{prefix}/{os.path.basename(script)}"

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
        or an :class:`EndpointInput`) or ``batch_transform_input`` (a :class:`BatchTransformInput`), as sagemaker
        v2's. The baseline is ``constraints``/``statistics`` (objects or
        S3 URIs), and the latest ``suggest_baseline`` job (``BaseliningJobName``: SageMaker, and local SageMaker,
        read its files where none are given). The scripts (local paths are uploaded) run in every execution. The
        expression defaults to daily."""
        if self.job_definition_name is not None or self.monitoring_schedule_name is not None:
            raise ValueError("It seems that this object was already used to create an Amazon Model Monitoring "
                             "Schedule. To create another, first delete the existing one using "
                             "my_monitor.delete_monitoring_schedule().")
        if (batch_transform_input is not None) ^ (endpoint_input is None):
            raise ValueError("Need to have either batch_transform_input or endpoint_input to create an Amazon Model "
                             "Monitoring Schedule. Please provide only one of the above required inputs")
        _check_one_time(schedule_cron_expression, data_analysis_start_time, data_analysis_end_time)
        session = self.sagemaker_session
        schedule_name = monitor_schedule_name or name_from_base(self.base_job_name or "monitoring-schedule")
        definition_name = name_from_base("data-quality-job-definition")
        request = self._definition_request(
            schedule_name, definition_name, None, monitoring_input=endpoint_input or batch_transform_input,
            record_preprocessor_script=record_preprocessor_script,
            post_analytics_processor_script=post_analytics_processor_script,
            output_s3_uri=output_s3_uri or f"s3://{session.default_bucket()}/model-monitor/monitoring/{schedule_name}/"
                                           f"results",
            constraints=constraints, statistics=statistics, enable_cloudwatch_metrics=enable_cloudwatch_metrics,
            role=self.role, instance_count=self.instance_count, instance_type=self.instance_type,
            volume_size_in_gb=self.volume_size_in_gb, volume_kms_key=self.volume_kms_key,
            output_kms_key=self.output_kms_key, max_runtime_in_seconds=self.max_runtime_in_seconds, env=self.env,
            network_config=self.network_config, baselining_job_name=self.latest_baselining_job_name)
        if self.tags:
            request["Tags"] = self.tags
        self._call("create_data_quality_job_definition", **request)
        try:
            self._call("create_monitoring_schedule", MonitoringScheduleName=schedule_name,
                       MonitoringScheduleConfig=_schedule_config(
                           definition_name, schedule_cron_expression or CronExpressionGenerator.daily(),
                           data_analysis_start_time, data_analysis_end_time), Tags=self.tags or [])
        except Exception:
            logger.exception("Failed to create monitoring schedule.")
            self._call("delete_data_quality_job_definition", JobDefinitionName=definition_name)
            raise
        self.job_definition_name = definition_name
        self.monitoring_schedule_name = schedule_name

    def update_monitoring_schedule(self, endpoint_input: Any = None, record_preprocessor_script: str | None = None,
                                   post_analytics_processor_script: str | None = None,
                                   output_s3_uri: str | None = None, statistics: Any = None, constraints: Any = None,
                                   schedule_cron_expression: str | None = None, instance_count: Any = None,
                                   instance_type: Any = None, volume_size_in_gb: Any = None, volume_kms_key: Any = None,
                                   output_kms_key: Any = None, max_runtime_in_seconds: Any = None,
                                   env: dict[str, str] | None = None, network_config: Any = None,
                                   enable_cloudwatch_metrics: bool | None = None, role: Any = None,
                                   batch_transform_input: Any = None, data_analysis_start_time: str | None = None,
                                   data_analysis_end_time: str | None = None) -> None:
        """Change the schedule, as sagemaker v2 does: a new cron expression alone is an UpdateMonitoringSchedule;
        anything else makes a new data quality job definition (the current one's settings with the given ones
        changed) and points the schedule at it. The monitor's attributes follow; the old definition stays."""
        if batch_transform_input is not None and endpoint_input is not None:
            raise ValueError("Cannot update both batch_transform_input and endpoint_input to update an Amazon Model "
                             "Monitoring Schedule. Please provide atmost one of the above required inputs")
        if self.job_definition_name is None or self.monitoring_schedule_name is None:
            raise ValueError("Nothing to update, please create a schedule first.")
        changes = {key: value for key, value in locals().items() if key != "self" and value is not None}
        if not changes:
            return
        if set(changes) == {"schedule_cron_expression"}:
            _check_one_time(schedule_cron_expression, None, None)
            self._call("update_monitoring_schedule", MonitoringScheduleName=self.monitoring_schedule_name,
                       MonitoringScheduleConfig=_schedule_config(self.job_definition_name, schedule_cron_expression,
                                                                 None, None))
            return
        schedule = self.describe_schedule()["MonitoringScheduleConfig"].get("ScheduleConfig") or {}
        expression = schedule_cron_expression or schedule.get("ScheduleExpression")
        _check_one_time(expression, data_analysis_start_time, data_analysis_end_time)
        existing = self._call("describe_data_quality_job_definition", JobDefinitionName=self.job_definition_name)
        definition_name = name_from_base("data-quality-job-definition")
        request = self._definition_request(
            self.monitoring_schedule_name, definition_name, existing,
            monitoring_input=endpoint_input or batch_transform_input,
            record_preprocessor_script=record_preprocessor_script,
            post_analytics_processor_script=post_analytics_processor_script, output_s3_uri=output_s3_uri,
            constraints=constraints, statistics=statistics, enable_cloudwatch_metrics=enable_cloudwatch_metrics,
            role=role, instance_count=instance_count, instance_type=instance_type,
            volume_size_in_gb=volume_size_in_gb, volume_kms_key=volume_kms_key, output_kms_key=output_kms_key,
            max_runtime_in_seconds=max_runtime_in_seconds, env=env, network_config=network_config,
            baselining_job_name=None)
        if self.tags:
            request["Tags"] = self.tags
        self._call("create_data_quality_job_definition", **request)
        try:
            self._call("update_monitoring_schedule", MonitoringScheduleName=self.monitoring_schedule_name,
                       MonitoringScheduleConfig=_schedule_config(definition_name, expression,
                                                                 data_analysis_start_time, data_analysis_end_time))
        except Exception:
            logger.exception("Failed to update monitoring schedule.")
            self._call("delete_data_quality_job_definition", JobDefinitionName=definition_name)
            raise
        self.job_definition_name = definition_name
        for attribute, value in (("role", role), ("instance_count", instance_count), ("instance_type", instance_type),
                                 ("volume_size_in_gb", volume_size_in_gb), ("volume_kms_key", volume_kms_key),
                                 ("output_kms_key", output_kms_key),
                                 ("max_runtime_in_seconds", max_runtime_in_seconds), ("env", env),
                                 ("network_config", network_config)):
            if value is not None:
                setattr(self, attribute, value)

    def _definition_request(self, schedule_name: str, definition_name: str, existing: dict[str, Any] | None, *,
                            monitoring_input: Any, record_preprocessor_script: str | None,
                            post_analytics_processor_script: str | None, output_s3_uri: str | None,
                            constraints: Any, statistics: Any, enable_cloudwatch_metrics: bool | None, role: Any,
                            instance_count: Any, instance_type: Any, volume_size_in_gb: Any, volume_kms_key: Any,
                            output_kms_key: Any, max_runtime_in_seconds: Any, env: dict[str, str] | None,
                            network_config: Any, baselining_job_name: str | None) -> dict[str, Any]:
        """A CreateDataQualityJobDefinition request, as v2's ``_build_create_data_quality_job_definition_request``:
        ``existing`` (a described definition) with what is given laid over it."""
        existing = existing or {}
        app: dict[str, Any] = dict(existing.get("DataQualityAppSpecification") or {})
        baseline: dict[str, Any] = dict(existing.get("DataQualityBaselineConfig") or {})
        job_input: dict[str, Any] = dict(existing.get("DataQualityJobInput") or {})
        output_config: dict[str, Any] = dict(existing.get("DataQualityJobOutputConfig") or {})
        cluster: dict[str, Any] = dict((existing.get("JobResources") or {}).get("ClusterConfig") or {})
        stopping: dict[str, Any] = dict(existing.get("StoppingCondition") or {})
        app["ImageUri"] = self.image_uri
        if post_analytics_processor_script is not None:
            app["PostAnalyticsProcessorSourceUri"] = self._script_uri(post_analytics_processor_script, schedule_name)
        if record_preprocessor_script is not None:
            app["RecordPreprocessorSourceUri"] = self._script_uri(record_preprocessor_script, schedule_name)
        environment = dict(env or {})
        if enable_cloudwatch_metrics is not None:
            environment["publish_cloudwatch_metrics"] = "Enabled" if enable_cloudwatch_metrics else "Disabled"
        if environment:
            app["Environment"] = environment
        baseline.update(self._baseline_config(constraints, statistics))
        if baselining_job_name:
            baseline["BaseliningJobName"] = baselining_job_name
        if monitoring_input is not None:  # an endpoint name, an EndpointInput or a BatchTransformInput
            if isinstance(monitoring_input, str):
                monitoring_input = EndpointInput(monitoring_input, _ENDPOINT_INPUT_PATH)
            job_input = monitoring_input._to_request_dict()
        if output_s3_uri is not None:
            output_config["MonitoringOutputs"] = [MonitoringOutput(_OUTPUT_PATH, output_s3_uri)._to_request_dict()]
        if output_kms_key is not None:
            output_config["KmsKeyId"] = output_kms_key
        for member, value in (("InstanceCount", instance_count), ("InstanceType", instance_type),
                              ("VolumeSizeInGB", volume_size_in_gb), ("VolumeKmsKeyId", volume_kms_key)):
            if value is not None:
                cluster[member] = value
        if max_runtime_in_seconds is not None:
            stopping["MaxRuntimeInSeconds"] = max_runtime_in_seconds
        request: dict[str, Any] = {
            "JobDefinitionName": definition_name, "DataQualityAppSpecification": app,
            "DataQualityJobInput": job_input, "DataQualityJobOutputConfig": output_config,
            "JobResources": {"ClusterConfig": cluster}, "RoleArn": role if role is not None else existing["RoleArn"],
        }
        if baseline:
            request["DataQualityBaselineConfig"] = baseline
        if network_config is not None:
            request["NetworkConfig"] = network_config._to_request_dict()
        elif existing.get("NetworkConfig"):
            request["NetworkConfig"] = existing["NetworkConfig"]
        if stopping:
            request["StoppingCondition"] = stopping
        return request

    @staticmethod
    def _baseline_config(constraints: Any, statistics: Any) -> dict[str, Any]:
        """ConstraintsResource/StatisticsResource of the given baseline files (objects or S3 URIs)."""
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
            found: ModelMonitoringFile | None = getattr(executions[-1], read)()
        except UnexpectedStatusException as exc:
            logger.warning("Unable to retrieve %s as job is in status '%s'. Latest %s only available for "
                           "completed executions.", read, exc.actual_status, read)
            return None
        return found

    def latest_monitoring_statistics(self) -> ModelMonitoringFile | None:
        """statistics.json of the latest execution (None when it has not completed)."""
        return self._latest("statistics")

    def latest_monitoring_constraint_violations(self) -> ModelMonitoringFile | None:
        """constraint_violations.json of the latest execution (None when it has not completed, or completed
        without violations)."""
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


def _check_one_time(expression: str | None, start: str | None, end: str | None) -> None:
    if expression == CronExpressionGenerator.now() and (start is None or end is None):
        raise ValueError("Both data_analysis_start_time and data_analysis_end_time are required for one time "
                         "monitoring schedule ")


def _schedule_config(definition_name: str, expression: str | None, start: str | None,
                     end: str | None) -> dict[str, Any]:
    """A MonitoringScheduleConfig naming a data quality job definition, as sagemaker v2 writes it."""
    config: dict[str, Any] = {"MonitoringJobDefinitionName": definition_name, "MonitoringType": "DataQuality"}
    if expression is not None:
        schedule: dict[str, Any] = {"ScheduleExpression": expression}
        if start is not None:
            schedule["DataAnalysisStartTime"] = start
        if end is not None:
            schedule["DataAnalysisEndTime"] = end
        config["ScheduleConfig"] = schedule
    return config
