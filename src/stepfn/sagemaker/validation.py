"""Check SageMaker requests against botocore's own service model (docs/design/compat.md §6, docs/design/sagemaker-contract.md §2.5).

botocore's ``ParamValidator`` checks types, required members and minimums but not enums, patterns or maximums.
This walker reads the same shapes (loaded lazily through ``botocore.loaders``, once) and checks all of them, so a
request that passes here is one boto3 sends and SageMaker's own validation accepts. Placeholders and ``"K.$"``
members are resolved only at run time, so they count as present and are not checked further.

``local_mode`` checks a request of sagemaker v2's Local Mode (``instance_type="local"`` or ``"local_gpu"``), which
v2 sends to its local client, never to SageMaker: those instance types and ``FileDataSource`` channels
(``file://`` data) are accepted there, and everything else is checked as for SageMaker.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from stepfn.errors import Diagnostic, StepfnError

from ._values import is_placeholder

__all__ = ["LOCAL_INSTANCE_TYPES", "RequestValidationError", "argument_for", "is_local_mode", "request_problems",
           "validate_request"]

# sagemaker v2's Local Mode instance types (``sagemaker.local``): jobs and endpoints on this machine.
LOCAL_INSTANCE_TYPES = ("local", "local_gpu")


def is_local_mode(instance_type: Any) -> bool:
    """Whether ``instance_type`` is one of v2's Local Mode types."""
    return isinstance(instance_type, str) and instance_type in LOCAL_INSTANCE_TYPES

# Members botocore 1.34 still required and that classic (non-serverless) jobs need (docs/design/sagemaker-contract.md §2.1).
_ALSO_REQUIRED = {
    "CreateTrainingJob": ("AlgorithmSpecification", "ResourceConfig", "StoppingCondition"),
}


# The stepfn.sagemaker argument each request member comes from, so an error names what the user wrote.
_ARGUMENTS: dict[str, dict[str, str]] = {
    "CreateTrainingJob": {
        "TrainingJobName": "job_name",
        "RoleArn": "role",
        "AlgorithmSpecification.TrainingImage": "image_uri",
        "AlgorithmSpecification.TrainingInputMode": "input_mode",
        "AlgorithmSpecification.MetricDefinitions": "metric_definitions",
        "OutputDataConfig.S3OutputPath": "output_path",
        "OutputDataConfig.KmsKeyId": "output_kms_key",
        "ResourceConfig.InstanceCount": "instance_count",
        "ResourceConfig.InstanceType": "instance_type",
        "ResourceConfig.VolumeSizeInGB": "volume_size",
        "ResourceConfig.VolumeKmsKeyId": "volume_kms_key",
        "StoppingCondition.MaxRuntimeInSeconds": "max_run",
        "StoppingCondition.MaxWaitTimeInSeconds": "max_wait",
        "HyperParameters": "hyperparameters",
        "InputDataConfig": "data",
        "VpcConfig.Subnets": "subnets",
        "VpcConfig.SecurityGroupIds": "security_group_ids",
        "Tags": "tags",
        "ExperimentConfig": "experiment_config",
    },
    "CreateModel": {
        "ModelName": "name",
        "ExecutionRoleArn": "role",
        "PrimaryContainer.Image": "image_uri",
        "PrimaryContainer.ModelDataUrl": "model_data",
        "PrimaryContainer.Environment": "env",
        "VpcConfig": "vpc_config",
    },
    "CreateTransformJob": {
        "TransformJobName": "job_name",
        "ModelName": "model_name",
        "TransformInput.DataSource.S3DataSource.S3Uri": "data",
        "TransformInput.DataSource.S3DataSource.S3DataType": "data_type",
        "TransformInput.ContentType": "content_type",
        "TransformInput.CompressionType": "compression_type",
        "TransformInput.SplitType": "split_type",
        "TransformOutput.S3OutputPath": "output_path",
        "TransformOutput.AssembleWith": "assemble_with",
        "TransformResources.InstanceCount": "instance_count",
        "TransformResources.InstanceType": "instance_type",
        "BatchStrategy": "strategy",
        "MaxPayloadInMB": "max_payload",
        "Environment": "env",
    },
    "CreateProcessingJob": {
        "ProcessingJobName": "job_name",
        "RoleArn": "role",
        "AppSpecification.ImageUri": "image_uri",
        "ProcessingResources.ClusterConfig.InstanceCount": "instance_count",
        "ProcessingResources.ClusterConfig.InstanceType": "instance_type",
        "ProcessingResources.ClusterConfig.VolumeSizeInGB": "volume_size_in_gb",
        "StoppingCondition.MaxRuntimeInSeconds": "max_runtime_in_seconds",
        "ProcessingInputs": "inputs",
        "Environment": "env",
    },
    "CreateHyperParameterTuningJob": {
        "HyperParameterTuningJobName": "job_name",
        "HyperParameterTuningJobConfig.Strategy": "strategy",
        "HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs": "max_jobs",
        "HyperParameterTuningJobConfig.ResourceLimits.MaxParallelTrainingJobs": "max_parallel_jobs",
        "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.Type": "objective_type",
        "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective.MetricName": "objective_metric_name",
        "HyperParameterTuningJobConfig.ParameterRanges": "hyperparameter_ranges",
        "HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType": "early_stopping_type",
    },
    "CreateEndpointConfig": {
        "EndpointConfigName": "endpoint_config_name",
        "ProductionVariants": "model_name / initial_instance_count / instance_type / variant_name",
        "DataCaptureConfig": "data_capture_config",
    },
    "CreateEndpoint": {"EndpointName": "endpoint_name", "EndpointConfigName": "endpoint_config_name"},
    "UpdateEndpoint": {"EndpointName": "endpoint_name", "EndpointConfigName": "endpoint_config_name"},
}


def argument_for(operation: str, path: str) -> str | None:
    """The builder argument behind a request member (longest matching prefix), if stepfn knows it."""
    table = _ARGUMENTS.get(operation, {})
    candidate = path
    while candidate:
        if candidate in table:
            return table[candidate]
        cut = max(candidate.rfind("."), candidate.rfind("["), candidate.rfind(" "))
        candidate = candidate[:cut] if cut > 0 else ""
    return None


class RequestValidationError(StepfnError, ValueError):
    """A request failed validation; ``diagnostics`` names every member at fault by its dotted path."""

    def __init__(self, operation: str, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        self.operation = operation
        self.diagnostics = tuple(diagnostics)
        lines = "\n".join(
            f"  - {d.path}: {d.message}" + (f" (argument {d.field!r})" if d.field else "") for d in self.diagnostics
        )
        super().__init__(f"Invalid {operation} request ({len(self.diagnostics)} problem(s)):\n{lines}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.operation, self.diagnostics))


@cache
def _service_model() -> Any:
    import botocore.loaders
    import botocore.model

    loader = botocore.loaders.create_loader()
    return botocore.model.ServiceModel(loader.load_service_model("sagemaker", "service-2"), "sagemaker")


@cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern.removeprefix("^").removesuffix("$"), re.DOTALL)
    except re.error:  # a Java-only construct; the service checks it
        return None


class _Walker:
    def __init__(self, operation: str, local_mode: bool = False) -> None:
        self.operation = operation
        self.local_mode = local_mode
        self.problems: list[Diagnostic] = []

    def report(self, path: str, code: str, message: str) -> None:
        field = argument_for(self.operation, path)
        self.problems.append(Diagnostic(path=path, code=code, message=message, field=field))

    def check(self, value: Any, shape: Any, path: str) -> None:
        if is_placeholder(value):
            return
        kind = shape.type_name
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(value, shape, path)

    def _structure(self, value: Any, shape: Any, path: str, extra_required: tuple[str, ...] = ()) -> None:
        if not isinstance(value, dict):
            self.report(path or "(request)", "type", f"expected a dict, got {type(value).__name__}")
            return
        given = {key.removesuffix(".$") for key in value}
        for name in (*shape.required_members, *extra_required):
            if name not in given or (name in value and value[name] is None):
                self.report(_join(path, name), "required", "is required")
        for key, member_value in value.items():
            name = key.removesuffix(".$")
            if self.local_mode and name == "FileDataSource" and path.endswith("DataSource"):
                self._file_data_source(member_value, _join(path, name))
                continue
            if name not in shape.members:
                valid = ", ".join(shape.members)
                self.report(_join(path, key), "unknown", f"unknown member; valid members: {valid}")
                continue
            if key.endswith(".$") or member_value is None:
                continue
            self.check(member_value, shape.members[name], _join(path, name))

    def _file_data_source(self, value: Any, path: str) -> None:
        """v2 Local Mode's ``file_input``: ``{"FileDataDistributionType": ..., "FileUri": "file://..."}``."""
        uri = value.get("FileUri") if isinstance(value, dict) else None
        if not isinstance(uri, str) or not uri.startswith("file://"):
            self.report(_join(path, "FileUri"), "pattern", f"{uri!r} is not a file:// URI")

    def _list(self, value: Any, shape: Any, path: str) -> None:
        if not isinstance(value, (list, tuple)):
            self.report(path, "type", f"expected a list, got {type(value).__name__}")
            return
        self._length(len(value), shape, path, "items")
        for index, item in enumerate(value):
            self.check(item, shape.member, f"{path}[{index}]")

    def _map(self, value: Any, shape: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.report(path, "type", f"expected a dict, got {type(value).__name__}")
            return
        self._length(len(value), shape, path, "entries")
        for key, item in value.items():
            self.check(key.removesuffix(".$"), shape.key, f"{path} key {key!r}")
            if not str(key).endswith(".$"):
                self.check(item, shape.value, _join(path, str(key)))

    def _string(self, value: Any, shape: Any, path: str) -> None:
        if not isinstance(value, str):
            self.report(path, "type", f"expected a string, got {type(value).__name__} {value!r}")
            return
        self._length(len(value), shape, path, "characters")
        local = self.local_mode and path.endswith("InstanceType") and value in LOCAL_INSTANCE_TYPES
        if shape.enum and value not in shape.enum and not local:
            choices = ", ".join(shape.enum) if len(shape.enum) <= 12 else ", ".join(shape.enum[:12]) + ", ..."
            self.report(path, "enum", f"{value!r} is not one of: {choices}")
        pattern = shape.metadata.get("pattern")
        compiled = _compiled(pattern) if pattern else None
        if compiled is not None and not compiled.fullmatch(value):
            self.report(path, "pattern", f"{value!r} does not match the pattern {pattern}")

    def _integer(self, value: Any, shape: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(path, "type", f"expected an integer, got {type(value).__name__} {value!r}")
            return
        self._range(value, shape, path)

    _long = _integer

    def _float(self, value: Any, shape: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.report(path, "type", f"expected a number, got {type(value).__name__} {value!r}")
            return
        self._range(value, shape, path)

    _double = _float

    def _boolean(self, value: Any, shape: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.report(path, "type", f"expected a boolean, got {type(value).__name__} {value!r}")

    def _length(self, length: int, shape: Any, path: str, unit: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.report(path, "min", f"has {length} {unit}, fewer than the minimum {low}")
        if high is not None and length > high:
            self.report(path, "max", f"has {length} {unit}, more than the maximum {high}")

    def _range(self, value: float, shape: Any, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.report(path, "min", f"{value} is below the minimum {low}")
        if high is not None and value > high:
            self.report(path, "max", f"{value} is above the maximum {high}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def request_problems(operation: str, request: dict[str, Any], *, local_mode: bool = False) -> list[Diagnostic]:
    """Every problem of ``request`` as input of the SageMaker ``operation`` (e.g. ``"CreateTrainingJob"``)."""
    shape = _service_model().operation_model(operation).input_shape
    walker = _Walker(operation, local_mode)
    walker._structure(request, shape, "", _ALSO_REQUIRED.get(operation, ()))
    return walker.problems


def validate_request(operation: str, request: dict[str, Any], *, local_mode: bool = False) -> None:
    """Raise :class:`RequestValidationError` listing every problem; return quietly when the request is valid."""
    problems = request_problems(operation, request, local_mode=local_mode)
    if problems:
        raise RequestValidationError(operation, problems)
