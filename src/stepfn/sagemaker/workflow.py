"""sagemaker v2's ``sagemaker.workflow.airflow`` config builders: a job's request dict from an authoring object.

User code that builds its own SageMaker ``Task`` (a subclass with its own arguments) calls these as the original
Step Functions SDK's steps did, ``from sagemaker.workflow.airflow import training_config``; with the import rewritten
to ``stepfn.sagemaker.workflow.airflow`` the same names build the same requests. Unlike v2 they never upload code
and return no ``S3Operations`` upload plan (nothing here touches S3), so code that deletes that key finds none.
"""

from __future__ import annotations

import json
from typing import Any

from .estimator import EstimatorBase, training_job_config
from .model import FrameworkModel, Model, model_request
from .processing import Processor, processing_request
from .session import base_name_from_image, name_from_base
from .transformer import Transformer, transform_request
from .tuner import HyperparameterTuner, tuning_request

__all__ = ["model_config", "processing_config", "training_config", "transform_config", "tuning_config"]


def training_config(estimator: EstimatorBase, inputs: Any = None, job_name: Any = None,
                    mini_batch_size: Any = None) -> dict[str, Any]:
    """The request without debugger keys; the estimator keeps the hook the job would get.

    sagemaker v2 prepared the estimator for training here, which set its default ``debugger_hook_config``
    (``DebuggerHookConfig(s3_output_path=<output path>)`` for framework estimators); code that builds its own step
    reads it back (``estimator.debugger_hook_config._to_request_dict()``) to add ``DebugHookConfig`` itself.
    """
    request = training_job_config(estimator, inputs, job_name, mini_batch_size)
    hook = estimator.default_debugger_hook(estimator._last_output_path, estimator.sagemaker_session)
    if hook is not None:
        estimator.debugger_hook_config = hook
    return request


def transform_config(transformer: Transformer, data: Any, data_type: Any = "S3Prefix", content_type: Any = None,
                     compression_type: Any = None, split_type: Any = None, job_name: Any = None,
                     input_filter: Any = None, output_filter: Any = None, join_source: Any = None) -> dict[str, Any]:
    return transform_request(transformer, data, data_type, content_type, compression_type, split_type, job_name,
                             input_filter, output_filter, join_source)


def model_config(model: Model, instance_type: Any = None, role: Any = None, image_uri: Any = None) -> dict[str, Any]:
    model.image_uri = image_uri or model.image_uri
    if isinstance(model, FrameworkModel):
        request = model_request(model, instance_type)
    else:
        model.name = model.name or name_from_base(base_name_from_image(model.image_uri))
        container = model.prepare_container_def(instance_type)
        request = {"ModelName": model.name, "PrimaryContainer": container, "ExecutionRoleArn": model.role}
        if model.vpc_config:
            request["VpcConfig"] = model.vpc_config
    request["ExecutionRoleArn"] = role or model.role
    return request


def tuning_config(tuner: HyperparameterTuner, inputs: Any, job_name: Any = None, include_cls_metadata: bool = False,
                  mini_batch_size: Any = None) -> dict[str, Any]:
    request = tuning_request(tuner, inputs, job_name, mini_batch_size)
    if include_cls_metadata:
        static = request["TrainingJobDefinition"]["StaticHyperParameters"]
        static.setdefault("sagemaker_estimator_class_name", json.dumps(type(tuner.estimator).__name__))
        static.setdefault("sagemaker_estimator_module", json.dumps(_v2_module(tuner.estimator)))
    return request


def _v2_module(estimator: EstimatorBase) -> str:
    module: str = getattr(estimator, "_v2_module", "sagemaker.estimator")
    return module


def processing_config(processor: Processor, inputs: Any = None, outputs: Any = None, job_name: Any = None,
                      experiment_config: Any = None, container_arguments: Any = None,
                      container_entrypoint: Any = None, kms_key_id: Any = None) -> dict[str, Any]:
    request = processing_request(processor, inputs, outputs, job_name, container_arguments, container_entrypoint,
                                 kms_key_id)
    if experiment_config is not None:
        request["ExperimentConfig"] = experiment_config
    return request
