"""SageMaker steps (``stepfunctions.steps.sagemaker``, docs/design/compat.md §5): Tasks whose Parameters are SageMaker requests.

Each step builds its request with :mod:`stepfn.sagemaker` (pure: nothing is uploaded, no AWS call), adds its own
arguments, then deep-merges the caller's ``parameters`` last. ``Resource`` is
``arn:{partition}:states:::sagemaker:<api>[.sync]``; Training, Transform, Tuning and Processing wait for the job
(``.sync``) unless ``wait_for_completion=False``. Placeholders are allowed in every argument: they render as
``"Key.$"`` entries where they land. With ``query_language="JSONata"`` the request goes in ``Arguments`` (caller
``arguments`` are merged the same way) and placeholders render as ``{% %}`` expressions.
"""

from __future__ import annotations

import copy
import warnings
from enum import Enum
from typing import Any

from stepfn.asl.paths import reference_path_keys
from stepfn.inputs.placeholders import Expression, Placeholder
from stepfn.sagemaker.endpoint import endpoint_config_request, endpoint_request
from stepfn.sagemaker.estimator import DroppedSettingWarning, EstimatorBase, training_request
from stepfn.sagemaker.model import FrameworkModel, Model, PipelineModel, model_request
from stepfn.sagemaker.processing import Processor, processing_request
from stepfn.sagemaker.transformer import Transformer, transform_request
from stepfn.sagemaker.tuner import HyperparameterTuner, tuning_request

# The original module re-exported sagemaker v2's ``workflow.airflow`` config builders; ported code imports them
# from either place.
from stepfn.sagemaker.workflow import (
    model_config,
    processing_config,
    training_config,
    transform_config,
    tuning_config,
)
from stepfn.steps.fields import Field
from stepfn.steps.integration_resources import IntegrationPattern, get_service_integration_arn
from stepfn.steps.states import State, Task
from stepfn.steps.utils import merge_dicts, tags_dict_to_kv_list

__all__ = [
    "EndpointConfigStep",
    "EndpointStep",
    "ModelStep",
    "ProcessingStep",
    "SageMakerApi",
    "TrainingStep",
    "TransformStep",
    "TuningStep",
    "model_config",
    "processing_config",
    "training_config",
    "transform_config",
    "tuning_config",
]

SAGEMAKER_SERVICE_NAME = "sagemaker"


class SageMakerApi(Enum):
    CreateTrainingJob = "createTrainingJob"
    CreateTransformJob = "createTransformJob"
    CreateModel = "createModel"
    CreateEndpointConfig = "createEndpointConfig"
    UpdateEndpoint = "updateEndpoint"
    CreateEndpoint = "createEndpoint"
    CreateHyperParameterTuningJob = "createHyperParameterTuningJob"
    CreateProcessingJob = "createProcessingJob"


def _resource(api: SageMakerApi, wait_for_completion: bool = False) -> str:
    pattern = IntegrationPattern.WaitForCompletion if wait_for_completion else IntegrationPattern.CallAndContinue
    return get_service_integration_arn(SAGEMAKER_SERVICE_NAME, api, pattern)


def _tags(tags: Any) -> Any:
    return tags if isinstance(tags, Expression) else tags_dict_to_kv_list(tags)


def _request_field(kwargs: dict[str, Any]) -> str:
    """A JSONata state carries its request in ``Arguments``; a JSONPath state in ``Parameters``."""
    if kwargs.get(Field.QueryLanguage.value) == "JSONata":
        return Field.Arguments.value
    return Field.Parameters.value


def _finish(request: dict[str, Any], tags: Any, kwargs: dict[str, Any]) -> None:
    """Step tags (in place when present), then the caller's ``parameters`` deep-merged last (docs/design/compat.md §5, §11 #8)."""
    if tags:
        request["Tags"] = _tags(tags)
    caller = kwargs.get(_request_field(kwargs))
    if isinstance(caller, dict):
        merge_dicts(request, caller)


def _inject(kwargs: dict[str, Any], resource: str, parameters: dict[str, Any], parameters_first: bool = False) -> None:
    """Put Resource and Parameters after the caller's kwargs; a kwarg the caller passed keeps its position."""
    entries = [(Field.Resource.value, resource), (_request_field(kwargs), parameters)]
    if parameters_first:
        entries.reverse()
    for name, value in entries:
        kwargs[name] = value


def _warn_dropped(owner: str, settings: list[str]) -> None:
    if settings:
        names = ", ".join(settings)
        warnings.warn(
            DroppedSettingWarning(
                f"{owner}: {names} not included in the request (as in the original SDK); "
                "pass them through parameters= to send them."
            ),
            stacklevel=3,
        )


class TrainingStep(Task):
    """Creates a Task State to execute a SageMaker Training Job.

    The TrainingStep will also create a model by default, and the model shares the same name as the training
    job (``get_expected_model()``). ``data`` is an S3 URI, a dict of channel name to URI or TrainingInput, a
    TrainingInput, a RecordSet, a list of RecordSets, or a Placeholder; ``hyperparameters`` are merged over the
    estimator's (docs/design/compat.md §5.1, §11 #3).
    """

    def __init__(
        self,
        state_id: str,
        estimator: EstimatorBase,
        job_name: Any,
        data: Any = None,
        hyperparameters: Any = None,
        mini_batch_size: Any = None,
        experiment_config: Any = None,
        wait_for_completion: bool = True,
        tags: Any = None,
        output_data_config_path: Any = None,
        **kwargs: Any,
    ) -> None:
        self.estimator = estimator
        self.job_name = job_name
        _warn_dropped(f"TrainingStep {state_id!r}", estimator.dropped_settings())
        request = training_request(estimator, data, job_name, mini_batch_size)
        if output_data_config_path is not None:
            request["OutputDataConfig"]["S3OutputPath"] = output_data_config_path
        if isinstance(data, Expression):
            # The original moved the data placeholder's S3Uri to the end of S3DataSource.
            source = request["InputDataConfig"][0]["DataSource"]["S3DataSource"]
            source["S3Uri"] = source.pop("S3Uri")
        if hyperparameters is not None:
            request["HyperParameters"] = self._merge_hyperparameters(request.get("HyperParameters"), hyperparameters)
        if experiment_config is not None:
            request["ExperimentConfig"] = experiment_config
        _finish(request, tags, kwargs)
        _inject(kwargs, _resource(SageMakerApi.CreateTrainingJob, wait_for_completion), request)
        super().__init__(state_id, **kwargs)

    def _merge_hyperparameters(self, base: dict[str, Any] | None, given: Any) -> Any:
        if isinstance(given, Expression):
            return given
        if not isinstance(given, dict):
            raise TypeError(f"hyperparameters must be a dict or a Placeholder, got {type(given).__name__}")
        merged = dict(base or {})
        for key, value in given.items():
            merged[str(key)] = value if isinstance(value, (str, Expression)) else self.estimator.encode_hyperparameter(value)
        return merged

    def get_expected_model(self, model_name: Any = None) -> Model:
        """The estimator's model for the ModelStep that directly follows this step.

        Named ``model_name``, else after the training job; its model data is this step's
        ``$['ModelArtifacts']['S3ModelArtifacts']``, under the step's ``result_path`` when it has one
        (the original ignored it: its issue #104).
        """
        model: Model = self.estimator.create_model()
        model.name = model_name if model_name else self.job_name
        if self.estimator.environment:
            model.env = self.estimator.environment
        result: Any = self.output()
        result_path = self.fields.get(Field.ResultPath.value, "$")
        if result_path is None:
            raise ValueError(f"state '{self.state_id}': ResultPath is null, so the training job's result is "
                             "discarded and get_expected_model() has no model data to point at")
        keys = reference_path_keys(result_path)
        output_path = self.fields.get(Field.OutputPath.value, "$")
        kept = reference_path_keys(output_path) if isinstance(output_path, str) else None
        if kept is None or keys[:len(kept)] != kept:
            raise ValueError(f"state '{self.state_id}': OutputPath {output_path!r} does not keep the training "
                             f"result written at ResultPath {result_path!r}, so get_expected_model() cannot "
                             "point at its model data")
        for key in keys[len(kept):]:
            result = result[key]
        model.model_data = result["ModelArtifacts"]["S3ModelArtifacts"]
        return model

    def _clone_extras(self, duplicate: State, deep: bool) -> None:
        if deep:
            duplicate.estimator = copy.copy(self.estimator)  # type: ignore[attr-defined]


def _model_data_under_input_path(model: Model, input_path: Any) -> Model:
    """The model with its model data seen from a ModelStep's ``input_path``.

    ``get_expected_model()`` points under the TrainingStep's ``result_path`` (``$['TrainingResults'][...]``);
    a ModelStep whose ``input_path`` selects that result (``input_path='$.TrainingResults'``, as notebooks
    written for the original SDK do) reads ``$['ModelArtifacts']...`` of its narrowed input instead.
    """
    data = model.model_data
    if not isinstance(data, Placeholder) or data.parent is None or not isinstance(input_path, str):
        return model
    prefix = reference_path_keys(input_path)
    path = data._get_path()
    if not prefix or tuple(path[:len(prefix)]) != prefix:
        return model
    root = data
    while root.parent is not None:
        root = root.parent
    node: Placeholder = root  # the TrainingStep's own output(), which the ModelStep's checks accept
    for key in path[len(prefix):]:
        node = node[key]
    relative = copy.copy(model)
    relative.model_data = node
    return relative


class ModelStep(Task):
    """Creates a Task State to create a SageMaker model (``createModel``; Parameters come before Resource)."""

    def __init__(self, state_id: str, model: Model | PipelineModel, model_name: Any = None,
                 instance_type: Any = None, tags: Any = None, **kwargs: Any) -> None:
        named = model_name is not None and not (isinstance(model_name, str) and model_name == "")
        if isinstance(model, Model):
            model = _model_data_under_input_path(model, kwargs.get(Field.InputPath.value))
        if isinstance(model, FrameworkModel):
            request = model_request(model, instance_type)
            if named:
                request["ModelName"] = model_name
        elif isinstance(model, Model):
            request = model_request(model, instance_type)
            request["ModelName"] = model_name if named else model.name
        elif isinstance(model, PipelineModel):
            request = {
                "ModelName": model_name if named else model.name,
                "Containers": model.pipeline_container_def(instance_type),
                "ExecutionRoleArn": model.role,
            }
            if model.vpc_config:
                request["VpcConfig"] = model.vpc_config
        else:
            raise ValueError(
                "Expected 'model' parameter to be of type 'sagemaker.model.Model', but received type "
                f"'{type(model).__name__}'"
            )
        self.model = model
        _finish(request, tags, kwargs)
        _inject(kwargs, _resource(SageMakerApi.CreateModel), request, parameters_first=True)
        super().__init__(state_id, **kwargs)


class EndpointConfigStep(Task):
    """Creates a Task State to create an endpoint configuration with one production variant."""

    def __init__(self, state_id: str, endpoint_config_name: Any, model_name: Any, initial_instance_count: Any,
                 instance_type: Any, variant_name: Any = "AllTraffic", data_capture_config: Any = None,
                 tags: Any = None, **kwargs: Any) -> None:
        request = endpoint_config_request(endpoint_config_name, model_name, initial_instance_count, instance_type,
                                          variant_name, data_capture_config)
        _finish(request, tags, kwargs)
        _inject(kwargs, _resource(SageMakerApi.CreateEndpointConfig), request)
        super().__init__(state_id, **kwargs)


class EndpointStep(Task):
    """Creates a Task State to create (or, with ``update=True``, update) an endpoint."""

    def __init__(self, state_id: str, endpoint_name: Any, endpoint_config_name: Any, tags: Any = None,
                 update: bool = False, **kwargs: Any) -> None:
        request = endpoint_request(endpoint_name, endpoint_config_name)
        _finish(request, tags, kwargs)
        api = SageMakerApi.UpdateEndpoint if update else SageMakerApi.CreateEndpoint
        _inject(kwargs, _resource(api), request)
        super().__init__(state_id, **kwargs)


class TransformStep(Task):
    """Creates a Task State to execute a SageMaker batch transform job (docs/design/compat.md §5.3)."""

    def __init__(
        self,
        state_id: str,
        transformer: Transformer,
        job_name: Any,
        model_name: Any,
        data: Any,
        data_type: Any = "S3Prefix",
        content_type: Any = None,
        compression_type: Any = None,
        split_type: Any = None,
        experiment_config: Any = None,
        wait_for_completion: bool = True,
        tags: Any = None,
        input_filter: Any = None,
        output_filter: Any = None,
        join_source: Any = None,
        **kwargs: Any,
    ) -> None:
        output_path = None
        if isinstance(job_name, Expression) and transformer.output_path is None:
            from stepfn.steps.intrinsics import Format

            bucket = transformer.sagemaker_session.default_bucket()
            output_path = Format(f"s3://{bucket}/{{}}", job_name)
        request = transform_request(
            transformer, data, data_type, content_type, compression_type, split_type,
            job_name=job_name if isinstance(job_name, str) else None,
            input_filter=input_filter, output_filter=output_filter, join_source=join_source,
            output_path=output_path,
        )
        if isinstance(job_name, Expression):
            request["TransformJobName"] = job_name
        request["ModelName"] = model_name
        if experiment_config is not None:
            request["ExperimentConfig"] = experiment_config
        _finish(request, tags, kwargs)
        _inject(kwargs, _resource(SageMakerApi.CreateTransformJob, wait_for_completion), request)
        super().__init__(state_id, **kwargs)


class TuningStep(Task):
    """Creates a Task State to execute a SageMaker hyperparameter tuning job (docs/design/compat.md §5.5)."""

    def __init__(self, state_id: str, tuner: HyperparameterTuner, job_name: Any, data: Any,
                 wait_for_completion: bool = True, tags: Any = None, **kwargs: Any) -> None:
        request = tuning_request(tuner, data, job_name)
        _finish(request, tags, kwargs)
        _inject(kwargs, _resource(SageMakerApi.CreateHyperParameterTuningJob, wait_for_completion), request)
        super().__init__(state_id, **kwargs)


class ProcessingStep(Task):
    """Creates a Task State to execute a SageMaker processing job (docs/design/compat.md §5.6)."""

    def __init__(
        self,
        state_id: str,
        processor: Processor,
        job_name: Any,
        inputs: Any = None,
        outputs: Any = None,
        experiment_config: Any = None,
        container_arguments: Any = None,
        container_entrypoint: Any = None,
        kms_key_id: Any = None,
        wait_for_completion: bool = True,
        tags: Any = None,
        **kwargs: Any,
    ) -> None:
        _warn_dropped(f"ProcessingStep {state_id!r}", processor.dropped_settings())
        request = processing_request(processor, inputs, outputs, job_name, container_arguments,
                                     container_entrypoint, kms_key_id)
        if experiment_config is not None:
            request["ExperimentConfig"] = experiment_config
        _finish(request, tags, kwargs)
        _inject(kwargs, _resource(SageMakerApi.CreateProcessingJob, wait_for_completion), request)
        super().__init__(state_id, **kwargs)
