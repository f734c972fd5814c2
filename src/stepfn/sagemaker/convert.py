"""``from_sagemaker(obj)``: turn a sagemaker v2 object into stepfn's equivalent by its public attributes.

stepfn never imports the ``sagemaker`` package; objects are recognised by class name (and, for the built-in
algorithms, by the stepfn class of the same name), so this works wherever a user has sagemaker v2 installed.
"""

from __future__ import annotations

from typing import Any

from . import _frameworks, amazon
from .estimator import Estimator, EstimatorBase
from .model import FrameworkModel, Model, PipelineModel
from .processing import NetworkConfig, Processor, ScriptProcessor
from .transformer import Transformer
from .tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner, IntegerParameter

__all__ = ["from_sagemaker"]

_BASE_ATTRIBUTES = (
    "volume_size", "volume_kms_key", "max_run", "input_mode", "output_path", "output_kms_key", "base_job_name",
    "tags", "subnets", "security_group_ids", "model_uri", "model_channel_name", "metric_definitions",
    "encrypt_inter_container_traffic", "use_spot_instances", "max_wait", "checkpoint_s3_uri",
    "checkpoint_local_path", "rules", "debugger_hook_config", "environment", "max_retry_attempts",
)


def _attrs(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in names if hasattr(obj, name)}


def _session(obj: Any) -> Any:
    return getattr(obj, "sagemaker_session", None)


def _base_kwargs(obj: Any) -> dict[str, Any]:
    kwargs = _attrs(obj, _BASE_ATTRIBUTES)
    kwargs["debugger_hook_config"] = None  # v2 debugger objects are not stepfn's; re-derived from defaults
    kwargs["rules"] = None
    isolation = getattr(obj, "enable_network_isolation", None)
    kwargs["enable_network_isolation"] = isolation() if callable(isolation) else bool(isolation)
    return {"role": obj.role, "instance_count": obj.instance_count, "instance_type": obj.instance_type,
            "sagemaker_session": _session(obj), **kwargs}


def _user_hyperparameters(obj: Any) -> dict[str, Any]:
    values = dict(getattr(obj, "_hyperparameters", None) or {})
    return {k: v for k, v in values.items() if not str(k).startswith("sagemaker_")}


def _estimator(obj: Any) -> EstimatorBase:
    name = type(obj).__name__
    algorithm = getattr(amazon, name, None)
    if isinstance(algorithm, type) and issubclass(algorithm, amazon.AmazonAlgorithmEstimatorBase):
        kwargs = _base_kwargs(obj)
        if name == "LDA":
            kwargs.pop("instance_count")
        estimator = algorithm(**kwargs)
        for attribute, descriptor in vars(algorithm).items():
            if isinstance(descriptor, amazon.Hyperparameter) and attribute not in ("feature_dim", "mini_batch_size"):
                setattr(estimator, attribute, getattr(obj, attribute, None))
        return estimator
    framework = getattr(_frameworks, name, None)
    if isinstance(framework, type) and issubclass(framework, EstimatorBase):
        kwargs = _base_kwargs(obj)
        kwargs.update(
            entry_point=obj.entry_point, source_dir=obj.source_dir, hyperparameters=_user_hyperparameters(obj),
            image_uri=getattr(obj, "image_uri", None), container_log_level=obj.container_log_level,
            code_location=getattr(obj, "code_location", None),
        )
        for extra in ("framework_version", "py_version", "model_dir", "transformers_version",
                      "tensorflow_version", "pytorch_version"):
            if hasattr(obj, extra):
                kwargs[extra] = getattr(obj, extra)
        converted: EstimatorBase = framework(**kwargs)
        return converted
    hyperparameters = obj.hyperparameters() if callable(getattr(obj, "hyperparameters", None)) else {}
    return Estimator(obj.image_uri, hyperparameters=dict(hyperparameters or {}), **_base_kwargs(obj))


def _model(obj: Any) -> Model | PipelineModel:
    name = type(obj).__name__
    if name == "PipelineModel":
        return PipelineModel([_model(m) for m in obj.models], role=obj.role, name=obj.name,  # type: ignore[misc]
                             vpc_config=obj.vpc_config, sagemaker_session=_session(obj))
    common = {"role": obj.role, "env": dict(obj.env or {}), "name": obj.name, "vpc_config": obj.vpc_config,
              "sagemaker_session": _session(obj)}
    framework = getattr(_frameworks, name, None)
    if isinstance(framework, type) and issubclass(framework, FrameworkModel):
        kwargs = {**common, "model_data": obj.model_data, "entry_point": obj.entry_point,
                  "source_dir": obj.source_dir, "image_uri": obj.image_uri,
                  "container_log_level": obj.container_log_level}
        for extra in ("framework_version", "py_version", "transformers_version", "tensorflow_version",
                      "pytorch_version", "model_server_workers"):
            if hasattr(obj, extra):
                kwargs[extra] = getattr(obj, extra)
        converted: Model = framework(**kwargs)
        return converted
    return Model(obj.image_uri, obj.model_data, image_config=getattr(obj, "image_config", None), **common)


def _processor(obj: Any) -> Processor:
    network = obj.network_config
    if network is not None:
        network = NetworkConfig(network.enable_network_isolation, network.security_group_ids, network.subnets,
                                network.encrypt_inter_container_traffic)
    common = {"volume_size_in_gb": obj.volume_size_in_gb, "volume_kms_key": obj.volume_kms_key,
              "output_kms_key": obj.output_kms_key, "max_runtime_in_seconds": obj.max_runtime_in_seconds,
              "base_job_name": obj.base_job_name, "sagemaker_session": _session(obj), "env": obj.env,
              "tags": obj.tags, "network_config": network}
    if hasattr(obj, "command"):
        return ScriptProcessor(obj.role, obj.image_uri, obj.command, obj.instance_count, obj.instance_type,
                               **common)
    return Processor(obj.role, obj.image_uri, obj.instance_count, obj.instance_type,
                     entrypoint=getattr(obj, "entrypoint", None), **common)


def _tuner(obj: Any) -> HyperparameterTuner:
    ranges: dict[str, Any] = {}
    for kind, entries in obj.hyperparameter_ranges().items():
        for entry in entries:
            if kind.startswith("Categorical"):
                ranges[entry["Name"]] = CategoricalParameter(entry["Values"])
            else:
                cls = ContinuousParameter if kind.startswith("Continuous") else IntegerParameter
                ranges[entry["Name"]] = cls(entry["MinValue"], entry["MaxValue"], entry.get("ScalingType", "Auto"))
    return HyperparameterTuner(
        _estimator(obj.estimator), obj.objective_metric_name, ranges, metric_definitions=obj.metric_definitions,
        strategy=obj.strategy, objective_type=obj.objective_type, max_jobs=obj.max_jobs,
        max_parallel_jobs=obj.max_parallel_jobs, tags=obj.tags, base_tuning_job_name=obj.base_tuning_job_name,
        early_stopping_type=obj.early_stopping_type,
    )


def _transformer(obj: Any) -> Transformer:
    return Transformer(
        obj.model_name, obj.instance_count, obj.instance_type, strategy=obj.strategy,
        assemble_with=obj.assemble_with, output_path=obj.output_path, output_kms_key=obj.output_kms_key,
        accept=obj.accept, max_concurrent_transforms=obj.max_concurrent_transforms, max_payload=obj.max_payload,
        tags=obj.tags, env=obj.env, base_transform_job_name=obj.base_transform_job_name,
        sagemaker_session=_session(obj), volume_kms_key=obj.volume_kms_key,
    )


def from_sagemaker(obj: Any) -> Any:
    """The stepfn object for a sagemaker v2 Estimator, Model, Transformer, Processor or HyperparameterTuner."""
    kinds = [cls.__name__ for cls in type(obj).__mro__]
    if "HyperparameterTuner" in kinds:
        return _tuner(obj)
    if "Transformer" in kinds:
        return _transformer(obj)
    if "Processor" in kinds:
        return _processor(obj)
    if "EstimatorBase" in kinds:
        return _estimator(obj)
    if "Model" in kinds or "PipelineModel" in kinds:
        return _model(obj)
    raise TypeError(f"from_sagemaker() does not know how to convert a {type(obj).__module__}.{type(obj).__name__}")
