"""sagemaker v2 ``sagemaker.model_monitor``: ``DataCaptureConfig`` for CreateEndpointConfig (docs/design/compat.md
§6.7), ``DatasetFormat``, the monitoring files and ``DefaultModelMonitor``'s baseline suggestion."""

from __future__ import annotations

import json
from typing import Any

from .session import SessionLike

__all__ = [
    "BaseliningJob",
    "ConstraintViolations",
    "Constraints",
    "DataCaptureConfig",
    "DatasetFormat",
    "DefaultModelMonitor",
    "ModelMonitoringFile",
    "MonitoringDatasetFormat",
    "Statistics",
]

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


class DefaultModelMonitor:
    """Model Monitor with the analyzer image (``sagemaker.model_monitor.DefaultModelMonitor``).

    ``suggest_baseline`` computes the baseline here, as the analyzer's baseline job does
    (:mod:`stepfn.local.sagemaker.monitor`, with pandas), reading the dataset from and writing
    ``statistics.json`` / ``constraints.json`` to the session's object store. Monitoring schedules need SageMaker's
    scheduler: locally, run the analyzer image in a ProcessingStep of a workflow (``image_uri`` from
    ``image_uris.retrieve("model-monitor", region)``) with ``baseline_constraints`` in its environment.
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

    def create_monitoring_schedule(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "Monitoring schedules run on SageMaker's scheduler, which stepfn does not emulate. Locally, run a "
            "monitoring job as a ProcessingStep on image_uris.retrieve('model-monitor', region) with the "
            "environment dataset_format, dataset_source, output_path, baseline_constraints and "
            "baseline_statistics; it writes constraint_violations.json and ends with ExitMessage "
            "'CompletedWithViolations: ...' when it finds any."
        )
