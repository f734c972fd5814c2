"""The framework estimators and models of docs/design/compat.md §6.3 / §6.5: SKLearn, PyTorch, XGBoost, TensorFlow, HuggingFace.

Public names are re-exported from the sagemaker-v2-named modules (``stepfn.sagemaker.sklearn`` and so on).
"""

from __future__ import annotations

import re
from typing import Any

from stepfn.errors import UnsupportedSettingError

from . import image_uris
from ._values import is_placeholder
from .estimator import Framework, TrainingContext, removed_argument, renamed_argument
from .model import FrameworkModel
from .predictor import HuggingFacePredictor, PyTorchPredictor, SKLearnPredictor, TensorFlowPredictor, XGBoostPredictor
from .processing import FrameworkProcessor, NetworkConfig, ScriptProcessor
from .session import Session, SessionLike

__all__ = [
    "HuggingFace",
    "HuggingFaceModel",
    "PyTorch",
    "PyTorchModel",
    "SKLearn",
    "SKLearnModel",
    "SKLearnProcessor",
    "TensorFlow",
    "TensorFlowModel",
    "XGBoost",
    "XGBoostModel",
]


# sagemaker v2's fw_utils.framework_name_from_image: an ECR image URI, then the framework images' names and tags.
_ECR_URI = re.compile(r"^(\d+)(\.)dkr(\.)ecr(\.)(.+)(\.)(.*)(/)(.*:.*)$")
_FRAMEWORK_IMAGE = re.compile(
    r"""^(?:sagemaker(?:-rl)?-)?
    (tensorflow|mxnet|chainer|pytorch|scikit-learn|xgboost
    |huggingface-tensorflow|huggingface-pytorch
    |huggingface-tensorflow-trcomp|huggingface-pytorch-trcomp)(?:-)?
    (scriptmode|training)?
    :(.*)-(.*?)-(py2|py3\d*)(?:.*)$""",
    re.VERBOSE,
)
_LEGACY_IMAGE = re.compile(r"^sagemaker-(tensorflow|mxnet)-(py2|py3)-(cpu|gpu):(.*)$")
_TAG = re.compile(r"^(.*)-(cpu|gpu)-(py2|py3\d*)$")


def framework_name_from_image(image_uri: str) -> tuple[str | None, str | None, str | None, str | None]:
    """``(framework, py_version, tag, scriptmode)`` of a SageMaker framework image, all None for another image."""
    ecr = _ECR_URI.match(image_uri)
    if ecr is None:
        return None, None, None, None
    name = _FRAMEWORK_IMAGE.match(ecr.group(9))
    if name is not None:
        framework, scriptmode, version, device, py = name.groups()
        return framework, py, f"{version}-{device}-{py}", scriptmode
    legacy = _LEGACY_IMAGE.match(ecr.group(9))
    if legacy is not None:
        return legacy.group(1), legacy.group(2), legacy.group(4), None
    return None, None, None, None


def framework_version_from_tag(image_tag: str) -> str | None:
    """``2.2`` from ``2.2-cpu-py37`` (sagemaker v2's)."""
    match = _TAG.match(image_tag)
    return None if match is None else match.group(1)


def _versions_from_image(cls: type, params: dict[str, Any], job_name: str) -> tuple[str | None, str | None]:
    """Replace ``image_uri`` in attach()'s ``params`` by the framework's version and Python, as v2's framework
    estimators do; an image that is not the framework's own stays ``image_uri``. Returns (tag, scriptmode)."""
    image_uri = params.pop("image_uri")
    framework, py_version, tag, scriptmode = framework_name_from_image(image_uri)
    if framework and framework != getattr(cls, "_framework_name", None):
        raise ValueError(f"Training job: {job_name} didn't use image for requested framework")
    params["py_version"] = py_version
    params["framework_version"] = framework_version_from_tag(tag) if tag else None
    if not framework:
        params["image_uri"] = image_uri
    return tag, scriptmode


def _unsupported(name: str, value: Any) -> None:
    if value:
        raise NotImplementedError(f"{name}= is not supported by stepfn's request builder.")


class _ScriptModeFramework(Framework):
    """Frameworks whose models get the estimator's entry point and submit directory (docs/design/compat.md §6.5)."""

    _model_class: type[FrameworkModel]
    _image_framework = ""

    @classmethod
    def _prepare_init_params_from_job_description(cls, job_details: dict[str, Any],
                                                  model_channel_name: str | None = None) -> dict[str, Any]:
        params = super()._prepare_init_params_from_job_description(job_details, model_channel_name)
        _versions_from_image(cls, params, job_details["TrainingJobName"])
        return params

    def __init__(self, entry_point: Any, framework_version: Any = None, py_version: Any = None,
                 source_dir: Any = None, hyperparameters: dict[str, Any] | None = None, image_uri: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(entry_point=entry_point, source_dir=source_dir, hyperparameters=hyperparameters,
                         image_uri=image_uri, **kwargs)
        if framework_version is None and image_uri is None:
            raise ValueError(
                f"framework_version or image_uri must be set for {type(self).__name__}."
            )
        self.framework_version = framework_version
        self.py_version = py_version

    def _default_image_uri(self, scope: str, instance_type: Any) -> str:
        return image_uris.retrieve(self._image_framework, self.sagemaker_session.boto_region_name,
                                   self.framework_version, self.py_version, instance_type, image_scope=scope)

    def create_model(self, model_server_workers: Any = None, role: Any = None, entry_point: Any = None,
                     source_dir: Any = None, **kwargs: Any) -> FrameworkModel:
        kwargs.setdefault("image_uri", self.image_uri)
        kwargs.setdefault("enable_network_isolation", self.enable_network_isolation())
        return self._model_class(
            model_data=self.model_data,
            role=role or self.role,
            entry_point=entry_point or self._model_entry_point(),
            source_dir=source_dir or self._model_source_dir(),
            framework_version=self.framework_version,
            py_version=self.py_version,
            container_log_level=self.container_log_level,
            sagemaker_session=self._sagemaker_session,
            vpc_config=self.get_vpc_config(),
            model_server_workers=model_server_workers,
            **kwargs,
        )


class _VersionedModel(FrameworkModel):
    _image_framework = ""

    def __init__(self, model_data: Any, role: Any = None, entry_point: Any = None, framework_version: Any = None,
                 py_version: Any = None, image_uri: Any = None, predictor_cls: Any = None,
                 model_server_workers: Any = None, **kwargs: Any) -> None:
        super().__init__(model_data, image_uri, role, entry_point, predictor_cls=predictor_cls,
                         model_server_workers=model_server_workers, **kwargs)
        self.framework_version = framework_version
        self.py_version = py_version

    def serving_image_uri(self, region: str, instance_type: Any) -> Any:
        return image_uris.retrieve(self._image_framework, region, self.framework_version, self.py_version,
                                   instance_type, image_scope="inference")


class SKLearnModel(_VersionedModel):
    """A scikit-learn model served by the SageMaker scikit-learn container."""

    _default_predictor_cls = SKLearnPredictor

    _image_framework = "sklearn"

    def __init__(self, model_data: Any, role: Any = None, entry_point: Any = None, framework_version: Any = None,
                 py_version: Any = "py3", image_uri: Any = None, **kwargs: Any) -> None:
        super().__init__(model_data, role, entry_point, framework_version, py_version, image_uri, **kwargs)


class PyTorchModel(_VersionedModel):
    """A PyTorch model served by the PyTorch inference container."""

    _default_predictor_cls = PyTorchPredictor

    _image_framework = "pytorch"


class XGBoostModel(_VersionedModel):
    """An XGBoost model served by the SageMaker XGBoost container."""

    _default_predictor_cls = XGBoostPredictor

    _image_framework = "xgboost"

    def __init__(self, model_data: Any, role: Any = None, entry_point: Any = None, framework_version: Any = None,
                 image_uri: Any = None, py_version: Any = "py3", **kwargs: Any) -> None:
        super().__init__(model_data, role, entry_point, framework_version, py_version, image_uri, **kwargs)


class TensorFlowModel(_VersionedModel):
    """A TensorFlow Serving model."""

    _default_predictor_cls = TensorFlowPredictor

    _image_framework = "tensorflow"

    def __init__(self, model_data: Any, role: Any = None, entry_point: Any = None, image_uri: Any = None,
                 framework_version: Any = None, container_log_level: Any = 20, **kwargs: Any) -> None:
        kwargs.pop("py_version", None)
        super().__init__(model_data, role, entry_point, framework_version, None, image_uri,
                         container_log_level=container_log_level, **kwargs)


class HuggingFaceModel(FrameworkModel):
    """A Hugging Face transformers model."""

    _default_predictor_cls = HuggingFacePredictor

    def __init__(self, role: Any = None, model_data: Any = None, entry_point: Any = None,
                 transformers_version: Any = None, tensorflow_version: Any = None, pytorch_version: Any = None,
                 py_version: Any = None, image_uri: Any = None, **kwargs: Any) -> None:
        kwargs.pop("framework_version", None)
        super().__init__(model_data, image_uri, role, entry_point, **kwargs)
        self.transformers_version = transformers_version
        self.tensorflow_version = tensorflow_version
        self.pytorch_version = pytorch_version
        self.py_version = py_version

    def serving_image_uri(self, region: str, instance_type: Any) -> Any:
        base = f"pytorch{self.pytorch_version}" if self.pytorch_version else f"tensorflow{self.tensorflow_version}"
        return image_uris.retrieve("huggingface", region, self.transformers_version, self.py_version,
                                   instance_type, image_scope="inference", base_framework_version=base)


class SKLearn(_ScriptModeFramework):
    """Scikit-learn script mode (``sagemaker.sklearn.SKLearn``)."""

    _v2_module = "sagemaker.sklearn.estimator"
    _framework_name = "scikit-learn"
    _image_framework = "sklearn"
    _model_class = SKLearnModel

    def __init__(self, entry_point: Any, framework_version: Any = None, py_version: Any = "py3",
                 source_dir: Any = None, hyperparameters: dict[str, Any] | None = None, image_uri: Any = None,
                 **kwargs: Any) -> None:
        if py_version and py_version != "py3":
            raise UnsupportedSettingError("Scikit-learn image only supports Python 3. Please use 'py3' for py_version.")
        _check_sklearn_instances(kwargs.get("instance_type", kwargs.get("train_instance_type")),
                                 kwargs.get("instance_count", kwargs.get("train_instance_count")))
        # sagemaker v2 trains scikit-learn on one instance whatever the caller left out: a request (and the
        # inference pipeline template's transform, which reuses the count) never carries InstanceCount null.
        kwargs["instance_count"] = 1
        super().__init__(entry_point, framework_version, py_version, source_dir, hyperparameters, image_uri,
                         **kwargs)


# The GPU types sagemaker v2's SKLearn refuses by name (it checks this list, not the instance family).
_SKLEARN_GPU_TYPES = frozenset({
    "ml.p2.xlarge", "ml.p2.8xlarge", "ml.p2.16xlarge", "ml.p3.xlarge", "ml.p3.8xlarge", "ml.p3.16xlarge",
})
_SKLEARN_ONE_INSTANCE = (
    "Scikit-Learn does not support distributed training. Please remove the 'instance_count' argument or set "
    "'instance_count=1' when initializing SKLearn."
)


def _check_sklearn_instances(instance_type: Any, instance_count: Any) -> None:
    """sagemaker v2's checks, with its exception types: GPU types and more than one instance are refused."""
    if isinstance(instance_type, str) and instance_type in _SKLEARN_GPU_TYPES:
        raise ValueError(
            "GPU training is not supported for Scikit-Learn. Please pick a different instance type from here: "
            "https://aws.amazon.com/ec2/instance-types/"
        )
    if not instance_count:
        return
    if is_placeholder(instance_count):
        # The count is fixed at 1, so a run-time value has nothing to choose.
        raise TypeError(f"Invalid type of instance_count ({type(instance_count).__name__}). {_SKLEARN_ONE_INSTANCE}")
    if instance_count != 1:
        raise UnsupportedSettingError(_SKLEARN_ONE_INSTANCE)


class PyTorch(_ScriptModeFramework):
    """PyTorch script mode (``sagemaker.pytorch.PyTorch``)."""

    _v2_module = "sagemaker.pytorch.estimator"
    _framework_name = "pytorch"
    _image_framework = "pytorch"
    _model_class = PyTorchModel

    def __init__(self, entry_point: Any, framework_version: Any = None, py_version: Any = None,
                 source_dir: Any = None, hyperparameters: dict[str, Any] | None = None, image_uri: Any = None,
                 distribution: Any = None, **kwargs: Any) -> None:
        distribution = renamed_argument("distributions", "distribution", distribution, kwargs)
        _unsupported("distribution", distribution)
        super().__init__(entry_point, framework_version, py_version, source_dir, hyperparameters, image_uri,
                         **kwargs)


class XGBoost(_ScriptModeFramework):
    """XGBoost script mode (``sagemaker.xgboost.XGBoost``)."""

    _v2_module = "sagemaker.xgboost.estimator"
    _framework_name = "xgboost"
    _image_framework = "xgboost"
    _model_class = XGBoostModel

    def __init__(self, entry_point: Any, framework_version: Any, source_dir: Any = None,
                 hyperparameters: dict[str, Any] | None = None, py_version: Any = "py3", image_uri: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(entry_point, framework_version, py_version, source_dir, hyperparameters, image_uri,
                         **kwargs)


class TensorFlow(Framework):
    """TensorFlow script mode (``sagemaker.tensorflow.TensorFlow``); adds ``model_dir`` unless it is False."""

    _v2_module = "sagemaker.tensorflow.estimator"
    _framework_name = "tensorflow"

    @classmethod
    def _prepare_init_params_from_job_description(cls, job_details: dict[str, Any],
                                                  model_channel_name: str | None = None) -> dict[str, Any]:
        params = super()._prepare_init_params_from_job_description(job_details, model_channel_name)
        image_uri = params["image_uri"]
        tag, scriptmode = _versions_from_image(cls, params, job_details["TrainingJobName"])
        if tag is None:
            return params
        model_dir = params["hyperparameters"].pop("model_dir", None)
        if model_dir:
            params["model_dir"] = model_dir
        elif scriptmode is None:
            params["model_dir"] = False
        if tag == "1.0":  # v2 maps the deprecated 1.0 tag to TensorFlow 1.4
            params["framework_version"] = "1.4"
        if not scriptmode:  # legacy images are kept as given
            params["image_uri"] = image_uri
        return params

    def __init__(self, py_version: Any = None, framework_version: Any = None, model_dir: Any = None,
                 image_uri: Any = None, distribution: Any = None, **kwargs: Any) -> None:
        # sagemaker v1 notebooks pass script_mode=True; v2 trains TensorFlow in script mode only.
        removed_argument("script_mode", kwargs, "TensorFlow training is always script mode")
        distribution = renamed_argument("distributions", "distribution", distribution, kwargs)
        _unsupported("distribution", distribution)
        super().__init__(image_uri=image_uri, **kwargs)
        if framework_version is None and image_uri is None:
            raise ValueError("framework_version or image_uri must be set for TensorFlow.")
        self.framework_version = framework_version
        self.py_version = py_version
        self.model_dir = model_dir

    def _default_image_uri(self, scope: str, instance_type: Any) -> str:
        return image_uris.retrieve("tensorflow", self.sagemaker_session.boto_region_name, self.framework_version,
                                   self.py_version, instance_type, image_scope=scope)

    def framework_hyperparameters(self, context: TrainingContext) -> dict[str, Any]:
        params = super().framework_hyperparameters(context)
        if self.model_dir is not False:
            if self.model_dir is None and not is_placeholder(context.output_path):
                params["model_dir"] = f"{str(context.output_path).rstrip('/')}/{context.job_name}/model"
            elif self.model_dir is not None:
                params["model_dir"] = self.model_dir
        return params

    def create_model(self, role: Any = None, entry_point: Any = None, source_dir: Any = None,
                     **kwargs: Any) -> TensorFlowModel:
        kwargs.setdefault("image_uri", self.image_uri)
        kwargs.setdefault("enable_network_isolation", self.enable_network_isolation())
        return TensorFlowModel(
            model_data=self.model_data,
            role=role or self.role,
            entry_point=entry_point,
            source_dir=source_dir,
            container_log_level=self.container_log_level,
            framework_version=self.framework_version,
            sagemaker_session=self._sagemaker_session,
            vpc_config=self.get_vpc_config(),
            **kwargs,
        )


class HuggingFace(Framework):
    """Hugging Face transformers script mode (``sagemaker.huggingface.HuggingFace``)."""

    _v2_module = "sagemaker.huggingface.estimator"

    @classmethod
    def _prepare_init_params_from_job_description(cls, job_details: dict[str, Any],
                                                  model_channel_name: str | None = None) -> dict[str, Any]:
        raise NotImplementedError("HuggingFace.attach() is not supported; attach with Estimator.attach().")

    def __init__(self, py_version: Any, entry_point: Any, transformers_version: Any = None,
                 tensorflow_version: Any = None, pytorch_version: Any = None, source_dir: Any = None,
                 hyperparameters: dict[str, Any] | None = None, image_uri: Any = None, distribution: Any = None,
                 compiler_config: Any = None, **kwargs: Any) -> None:
        _unsupported("distribution", distribution)
        _unsupported("compiler_config", compiler_config)
        super().__init__(entry_point=entry_point, source_dir=source_dir, hyperparameters=hyperparameters,
                         image_uri=image_uri, **kwargs)
        if image_uri is None and (transformers_version is None or not (tensorflow_version or pytorch_version)):
            raise ValueError(
                "transformers_version and one of tensorflow_version/pytorch_version must be set unless image_uri is."
            )
        if tensorflow_version and pytorch_version:
            raise ValueError("tensorflow_version and pytorch_version are both set; choose one.")
        self.py_version = py_version
        self.transformers_version = transformers_version
        self.tensorflow_version = tensorflow_version
        self.pytorch_version = pytorch_version

    def _default_image_uri(self, scope: str, instance_type: Any) -> str:
        base = f"pytorch{self.pytorch_version}" if self.pytorch_version else f"tensorflow{self.tensorflow_version}"
        return image_uris.retrieve("huggingface", self.sagemaker_session.boto_region_name, self.transformers_version,
                                   self.py_version, instance_type, image_scope=scope,
                                   base_framework_version=base)

    def create_model(self, role: Any = None, entry_point: Any = None, source_dir: Any = None,
                     **kwargs: Any) -> HuggingFaceModel:
        kwargs.setdefault("image_uri", self.image_uri)
        kwargs.setdefault("enable_network_isolation", self.enable_network_isolation())
        return HuggingFaceModel(
            role=role or self.role,
            model_data=self.model_data,
            entry_point=entry_point,
            source_dir=source_dir,
            transformers_version=self.transformers_version,
            tensorflow_version=self.tensorflow_version,
            pytorch_version=self.pytorch_version,
            py_version=self.py_version,
            container_log_level=self.container_log_level,
            sagemaker_session=self._sagemaker_session,
            vpc_config=self.get_vpc_config(),
            **kwargs,
        )


class SKLearnProcessor(ScriptProcessor):
    """A ScriptProcessor on the scikit-learn image (``sagemaker.sklearn.processing.SKLearnProcessor``)."""

    def __init__(self, framework_version: Any, role: Any, instance_type: Any, instance_count: Any,
                 command: Any = None, volume_size_in_gb: Any = 30, volume_kms_key: Any = None,
                 output_kms_key: Any = None, max_runtime_in_seconds: Any = None, base_job_name: str | None = None,
                 sagemaker_session: SessionLike | None = None, env: Any = None, tags: Any = None,
                 network_config: NetworkConfig | None = None) -> None:
        session = sagemaker_session or Session()
        image_uri = image_uris.retrieve("sklearn", session.boto_region_name, framework_version, "py3",
                                        instance_type, image_scope="training")
        self._command_given = command is not None
        super().__init__(role, image_uri, command or ["python3"], instance_count, instance_type,
                         volume_size_in_gb, volume_kms_key, output_kms_key, max_runtime_in_seconds,
                         base_job_name, session, env, tags, network_config)
        self.framework_version = framework_version

    def dropped_settings(self) -> list[str]:
        return ["command"] if self._command_given else []


class _FrameworkProcessorOf(FrameworkProcessor):
    """sagemaker v2's per-framework FrameworkProcessors (``sagemaker.pytorch.processing.PyTorchProcessor``, ...):
    a FrameworkProcessor whose ``estimator_cls`` is fixed."""

    estimator: type

    def __init__(self, framework_version: str, role: Any = None, instance_count: Any = None,
                 instance_type: Any = None, py_version: str = "py3", image_uri: Any = None, command: Any = None,
                 volume_size_in_gb: Any = 30, volume_kms_key: Any = None, output_kms_key: Any = None,
                 code_location: str | None = None, max_runtime_in_seconds: Any = None,
                 base_job_name: str | None = None, sagemaker_session: SessionLike | None = None, env: Any = None,
                 tags: Any = None, network_config: NetworkConfig | None = None) -> None:
        super().__init__(self.estimator, framework_version, role, instance_count, instance_type, py_version,
                         image_uri, command, volume_size_in_gb, volume_kms_key, output_kms_key, code_location,
                         max_runtime_in_seconds, base_job_name, sagemaker_session, env, tags, network_config)


class PyTorchProcessor(_FrameworkProcessorOf):
    estimator = PyTorch


class XGBoostProcessor(_FrameworkProcessorOf):
    estimator = XGBoost


class TensorFlowProcessor(_FrameworkProcessorOf):
    estimator = TensorFlow
