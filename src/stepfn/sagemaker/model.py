"""Models (sagemaker v2 ``sagemaker.model`` / ``sagemaker.pipeline``) and the CreateModel request (docs/design/compat.md §6.5)."""

from __future__ import annotations

import os
from typing import Any

from ._git import clone_code
from ._objects import upload_entry_point
from ._runtime import create_resource
from ._values import is_placeholder
from .session import (
    SessionHolder,
    SessionLike,
    aws_boto_session,
    base_from_name,
    base_name_from_image,
    container_def,
    name_from_base,
    session_bucket,
)
from .validation import validate_request

__all__ = [
    "FrameworkModel",
    "Model",
    "PipelineModel",
    "build_model_request",
    "model_request",
]


class Model(SessionHolder):
    """A model image plus its artifacts: ``prepare_container_def()`` gives ``{Image, Environment, [ModelDataUrl]}``."""

    def __init__(
        self,
        image_uri: Any = None,
        model_data: Any = None,
        role: Any = None,
        predictor_cls: Any = None,
        env: Any = None,
        name: Any = None,
        vpc_config: Any = None,
        sagemaker_session: SessionLike | None = None,
        enable_network_isolation: Any = False,
        model_kms_key: Any = None,
        image_config: Any = None,
    ) -> None:
        self.image_uri = image_uri
        self.model_data = model_data
        self.role = role
        self.predictor_cls = predictor_cls
        self.env = env if env is not None else {}
        self.name = name
        self.vpc_config = vpc_config
        self._sagemaker_session = sagemaker_session
        self._enable_network_isolation = enable_network_isolation
        self.model_kms_key = model_kms_key
        self.image_config = image_config
        self.endpoint_name: str | None = None

    def enable_network_isolation(self) -> Any:
        return self._enable_network_isolation

    def serving_image_uri(self, region: str, instance_type: Any) -> Any:
        return self.image_uri

    def prepare_container_def(self, instance_type: Any = None) -> dict[str, Any]:
        return container_def(self.image_uri, self.model_data, self.env, image_config=self.image_config)

    def _create_sagemaker_model(self, instance_type: Any = None, accelerator_type: Any = None, tags: Any = None,
                                serverless_inference_config: Any = None) -> None:
        """CreateModel now (sagemaker v2's first step of ``deploy()``, which notebooks and the original SDK's tests
        call directly): a model without a name is named from its image, as sagemaker v2 names it."""
        if not self.name:
            image = self.serving_image_uri(self.sagemaker_session.boto_region_name, instance_type)
            self.name = name_from_base(base_name_from_image(image))
        request = build_model_request(self, instance_type)
        if tags:
            request["Tags"] = tags
        self._upload_code()
        session = self.sagemaker_session
        boto_session = aws_boto_session(session)
        create_resource(boto_session, session.boto_region_name if boto_session is not None else None, "model",
                        request)

    def _upload_code(self) -> None:
        """What CreateModel needs uploaded first: nothing for a plain image."""

    def deploy(self, initial_instance_count: int | None = None, instance_type: str | None = None,
               serializer: Any = None, deserializer: Any = None, accelerator_type: str | None = None,
               endpoint_name: str | None = None, tags: list[dict[str, str]] | None = None,
               kms_key: str | None = None, wait: bool = True, data_capture_config: Any = None,
               async_inference_config: Any = None, serverless_inference_config: Any = None,
               volume_size: int | None = None, model_data_download_timeout: int | None = None,
               container_startup_health_check_timeout: int | None = None, **kwargs: Any) -> Any:
        """CreateModel, CreateEndpointConfig and CreateEndpoint now, as sagemaker v2's ``deploy``: on local
        SageMaker for a local session (the model server on 127.0.0.1), on SageMaker for a session built on boto3.

        The endpoint (and its config) is ``endpoint_name``, else named from the model's name; with ``wait`` this
        returns once it is InService and raises :class:`~stepfn.sagemaker.exceptions.UnexpectedStatusException`
        when it fails. Returns ``predictor_cls(endpoint_name, sagemaker_session)`` with ``serializer`` /
        ``deserializer`` set when given, or None for a model without a ``predictor_cls`` (as v2)."""
        if async_inference_config is not None or serverless_inference_config is not None:
            raise NotImplementedError("Asynchronous and serverless endpoints are not deployed by stepfn; "
                                      "deploy with initial_instance_count and instance_type.")
        if self.role is None:
            raise ValueError("Role can not be null for deploying a model")
        if instance_type is None or initial_instance_count is None:
            raise ValueError("Must specify instance type and instance count unless using serverless inference")
        self._create_sagemaker_model(instance_type, accelerator_type, tags)
        self.endpoint_name = endpoint_name or name_from_base(base_from_name(str(self.name)))
        # Any: a stepfn Session has the endpoint calls; other SessionLike objects are refused just below.
        session: Any = self.sagemaker_session
        if not hasattr(session, "create_endpoint"):
            raise TypeError(f"deploy() needs a stepfn.sagemaker.Session, not {type(session).__name__}")
        capture = data_capture_config._to_request_dict() if data_capture_config is not None else None
        session.create_endpoint_config(
            self.endpoint_name, self.name, initial_instance_count, instance_type, accelerator_type, tags, kms_key,
            capture, volume_size, model_data_download_timeout, container_startup_health_check_timeout)
        session.create_endpoint(self.endpoint_name, self.endpoint_name, tags, wait)
        if self.predictor_cls is None:
            return None
        predictor = self.predictor_cls(self.endpoint_name, session)
        if serializer is not None:
            predictor.serializer = serializer
        if deserializer is not None:
            predictor.deserializer = deserializer
        return predictor


class FrameworkModel(Model):
    """A script-mode model: the container finds the code through ``SAGEMAKER_*`` environment variables."""

    _framework_name = ""
    #: The predictor ``deploy()`` returns when none is given (sagemaker v2's framework models set one).
    _default_predictor_cls: Any = None

    def __init__(
        self,
        model_data: Any = None,
        image_uri: Any = None,
        role: Any = None,
        entry_point: Any = None,
        source_dir: Any = None,
        predictor_cls: Any = None,
        env: Any = None,
        name: Any = None,
        container_log_level: Any = 20,
        code_location: Any = None,
        sagemaker_session: SessionLike | None = None,
        dependencies: Any = None,
        git_config: Any = None,
        model_server_workers: Any = None,
        **kwargs: Any,
    ) -> None:
        if dependencies:
            raise NotImplementedError("dependencies= needs an upload; stepfn uploads nothing. Use an s3:// source_dir.")
        if git_config:
            entry_point, source_dir = clone_code(git_config, entry_point, source_dir)
        super().__init__(image_uri, model_data, role,
                         predictor_cls if predictor_cls is not None else self._default_predictor_cls, env, name,
                         sagemaker_session=sagemaker_session, **kwargs)
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.git_config = git_config
        self.container_log_level = container_log_level
        self.code_location = code_location
        self.model_server_workers = model_server_workers
        self.bucket: str | None = None
        if code_location and isinstance(code_location, str):
            self.bucket = code_location[len("s3://"):].split("/", 1)[0]

    def serving_image_uri(self, region: str, instance_type: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} needs image_uri=")

    def _upload_code(self) -> None:
        """As sagemaker v2 before CreateModel: a lone local entry point goes up as ``sourcedir.tar.gz`` where
        ``SAGEMAKER_SUBMIT_DIRECTORY`` points (a ``source_dir`` is read where it is)."""
        directory = self.code_directory()
        if self.source_dir or not isinstance(self.entry_point, str) or not (
                isinstance(directory, str) and directory.startswith("s3://")) or not os.path.isfile(self.entry_point):
            return
        upload_entry_point(self.sagemaker_session, self.entry_point, directory)

    def deploy_image(self, instance_type: Any) -> Any:
        if self.image_uri:
            return self.image_uri
        return self.serving_image_uri(self.sagemaker_session.boto_region_name, instance_type)

    def code_directory(self) -> Any:
        """``SAGEMAKER_SUBMIT_DIRECTORY``: an s3 source_dir, else the expected upload location, else ``""``."""
        if self.entry_point is None:
            return ""
        source_dir = self.source_dir
        if is_placeholder(source_dir):
            return source_dir
        if isinstance(source_dir, str) and source_dir.lower().startswith(("s3://", "file://")):
            return source_dir
        if source_dir:
            return "file://" + os.path.abspath(source_dir)
        bucket = self.bucket or session_bucket(self.sagemaker_session)
        return f"s3://{bucket}/{self.name}/source/sourcedir.tar.gz"

    def framework_env_vars(self) -> dict[str, Any]:
        script = self.entry_point
        if script is not None and not is_placeholder(script):
            script = os.path.basename(script)
        return {
            "SAGEMAKER_PROGRAM": script or "",
            "SAGEMAKER_SUBMIT_DIRECTORY": self.code_directory(),
            "SAGEMAKER_CONTAINER_LOG_LEVEL": str(self.container_log_level),
            "SAGEMAKER_REGION": self.sagemaker_session.boto_region_name,
        }

    def prepare_container_def(self, instance_type: Any = None) -> dict[str, Any]:
        """The container of docs/design/compat.md §6.5; names the model ``name_from_base(<repo>)`` when it has no name."""
        image = self.deploy_image(instance_type)
        if not self.name:
            self.name = name_from_base(base_name_from_image(image)) if isinstance(image, str) else None
        env = dict(self.env) if isinstance(self.env, dict) else {}
        env.update(self.framework_env_vars())
        if self.model_server_workers:
            env["SAGEMAKER_MODEL_SERVER_WORKERS"] = str(self.model_server_workers)
        return container_def(image, self.model_data, env)


class PipelineModel:
    """Several models served in sequence behind one endpoint (``sagemaker.pipeline.PipelineModel``)."""

    def __init__(self, models: list[Model], role: Any = None, predictor_cls: Any = None, name: Any = None,
                 vpc_config: Any = None, sagemaker_session: SessionLike | None = None,
                 enable_network_isolation: Any = False) -> None:
        self.models = models
        self.role = role
        self.predictor_cls = predictor_cls
        self.name = name
        self.vpc_config = vpc_config
        self.sagemaker_session = sagemaker_session
        self._enable_network_isolation = enable_network_isolation

    def enable_network_isolation(self) -> Any:
        return self._enable_network_isolation

    def pipeline_container_def(self, instance_type: Any = None) -> list[dict[str, Any]]:
        return [model.prepare_container_def(instance_type) for model in self.models]


def model_request(model: Model, instance_type: Any = None) -> dict[str, Any]:
    """The CreateModel request of a FrameworkModel (docs/design/compat.md §6.5) or a plain Model (docs/design/compat.md §5.2, fix §11 #9)."""
    if isinstance(model, FrameworkModel):
        primary = model.prepare_container_def(instance_type)
        request: dict[str, Any] = {
            "ModelName": model.name,
            "PrimaryContainer": primary,
            "ExecutionRoleArn": model.role,
        }
        if model.vpc_config:
            request["VpcConfig"] = model.vpc_config
        return request
    primary = {"Environment": model.env, "Image": model.image_uri, "ModelDataUrl": model.model_data}
    if model.image_config:
        primary["ImageConfig"] = model.image_config
    request = {"ExecutionRoleArn": model.role, "ModelName": model.name, "PrimaryContainer": primary}
    if model.vpc_config:
        request["VpcConfig"] = model.vpc_config
    return request


def build_model_request(model: Model | PipelineModel, instance_type: Any = None, *,
                        validate: bool = True) -> dict[str, Any]:
    """A CreateModel request ready for boto3 (a PipelineModel gives ``Containers``)."""
    if isinstance(model, PipelineModel):
        request: dict[str, Any] = {
            "ModelName": model.name,
            "Containers": model.pipeline_container_def(instance_type),
            "ExecutionRoleArn": model.role,
        }
        if model.vpc_config:
            request["VpcConfig"] = model.vpc_config
    else:
        request = model_request(model, instance_type)
        if model.model_data is None:
            request["PrimaryContainer"].pop("ModelDataUrl", None)
    if validate:
        validate_request("CreateModel", request)
    return request
