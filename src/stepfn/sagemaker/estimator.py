"""Estimators (sagemaker v2 ``sagemaker.estimator``) and the CreateTrainingJob request they build (docs/design/compat.md §6.2).

``EstimatorBase`` keeps sagemaker v2's constructor arguments and attribute names; ``Estimator`` runs a
bring-your-own image and ``Framework`` is the base of the script-mode framework estimators. Building a request is
pure: nothing is uploaded, no local path is checked, and the only possible AWS call is the STS lookup a
:class:`~stepfn.sagemaker.session.Session` makes when it has no default bucket.
"""

from __future__ import annotations

import json
import os
import posixpath
import sys
import warnings
from dataclasses import dataclass
from typing import Any

# sagemaker v2's estimator module imports the package and these modules by name, and code reaches them through it
# (``from sagemaker.estimator import sagemaker``, then ``sagemaker.estimator.image_uris.retrieve(...)``); the names
# stay here for that. The package is partly initialised at this point, and Python binds it from sys.modules.
import stepfn.sagemaker as sagemaker  # noqa: F401

from . import image_uris, s3  # noqa: F401
from ._git import clone_code
from ._jobs import TRAINING, print_job_log, shows_logs
from ._objects import upload_entry_point
from ._runtime import describe_training_job, run_training_job, wait_for_training_job
from ._values import is_placeholder, json_encode_value, str_encode_value
from .debugger import DebuggerHookConfig, Rule
from .exceptions import UnexpectedStatusException
from .inputs import FileSystemInput, TrainingInput
from .local import file_input
from .model import Model
from .predictor import Predictor
from .session import (
    SessionHolder,
    SessionLike,
    aws_boto_session,
    base_from_name,
    base_name_from_image,
    name_from_base,
    session_bucket,
)
from .transformer import Transformer
from .validation import is_local_mode, validate_request

__all__ = [
    "DroppedSettingWarning",
    "Estimator",
    "EstimatorBase",
    "Framework",
    "build_training_job_request",
    "training_base_request",
    "training_request",
]

# Settings sagemaker 2.72.3's workflow config never put in the request (docs/design/compat.md §6.2, §11 #12).
_NOT_EMITTED = (
    "checkpoint_s3_uri",
    "checkpoint_local_path",
    "enable_network_isolation",
    "encrypt_inter_container_traffic",
    "environment",
    "max_retry_attempts",
    "enable_sagemaker_metrics",
    "tensorboard_output_config",
    "profiler_config",
)


# sagemaker v2 still takes its v1 argument names (``renamed_kwargs``), with a DeprecationWarning; notebooks
# written for v1 and run on v2 (e.g. ``SKLearn(train_instance_type=...)``) rely on it.
_V1_NAMES = {
    "train_instance_count": "instance_count",
    "train_instance_type": "instance_type",
    "train_max_run": "max_run",
    "train_use_spot_instances": "use_spot_instances",
    "train_max_wait": "max_wait",
    "train_volume_size": "volume_size",
    "train_volume_kms_key": "volume_kms_key",
}


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside ``stepfn.sagemaker`` (subclass chains vary in depth)."""
    package = os.path.dirname(__file__)
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame = frame.f_back
        level += 1
    return level


def renamed_argument(old_name: str, new_name: str, value: Any, kwargs: dict[str, Any]) -> Any:
    """sagemaker v2's ``renamed_kwargs``: the v1 name still works, with a DeprecationWarning."""
    if old_name in kwargs:
        warnings.warn(f"{old_name} has been renamed in sagemaker>=2: use {new_name}", DeprecationWarning,
                      stacklevel=_user_stacklevel())
        return kwargs.pop(old_name)
    return value


def removed_argument(name: str, kwargs: dict[str, Any], why: str) -> None:
    """sagemaker v2's ``removed_kwargs``: a v1 argument v2 no longer uses is dropped with a DeprecationWarning."""
    if name in kwargs:
        kwargs.pop(name)
        warnings.warn(f"{name} has been removed in sagemaker>=2 ({why}); drop the argument", DeprecationWarning,
                      stacklevel=_user_stacklevel())


class DroppedSettingWarning(UserWarning):
    """An estimator/processor setting the original SDK's request silently left out (docs/design/compat.md §11 #12)."""


@dataclass(frozen=True)
class TrainingContext:
    """What an estimator needs to know about the request being built.

    The region and the default bucket are read from the session only when asked for, so a bring-your-own-image
    request with an output path needs neither.
    """

    job_name: str
    output_path: Any
    session: SessionLike

    @property
    def region(self) -> str:
        return self.session.boto_region_name

    def bucket_of(self) -> str:
        return session_bucket(self.session)


class TrainingJob:
    """The job ``fit()`` started (sagemaker v2's ``estimator.latest_training_job``): its ``name`` and status."""

    def __init__(self, name: str, sagemaker_session: SessionLike) -> None:
        self.name = name
        self.job_name = name
        self.sagemaker_session = sagemaker_session

    def aws_region(self) -> str | None:
        """The region AWS calls go to; None for a local session."""
        if aws_boto_session(self.sagemaker_session) is None:
            return None
        return self.sagemaker_session.boto_region_name

    def describe(self) -> dict[str, Any]:
        return describe_training_job(aws_boto_session(self.sagemaker_session), self.aws_region(),
                                     self.name)

    def wait(self, logs: Any = True) -> dict[str, Any]:
        """Wait for the job to end; raise unless it completed."""
        record = wait_for_training_job(aws_boto_session(self.sagemaker_session), self.aws_region(),
                                       self.name)
        self.check(record)
        return record

    def check(self, record: dict[str, Any]) -> None:
        status = record.get("TrainingJobStatus")
        if status != "Completed":
            raise UnexpectedStatusException(
                message=f"Error for Training job {self.name}: {status}. Reason: {record.get('FailureReason')}",
                allowed_statuses=["Completed"], actual_status=str(status))


def _check_local_mode(instance_type: Any, instance_count: Any, sagemaker_session: Any) -> None:
    """sagemaker v2's checks of Local Mode (``instance_type="local"``/``"local_gpu"``): it runs on this machine,
    so a session that calls SageMaker (built on boto3) cannot run it, and local GPU training is one instance."""
    if not is_local_mode(instance_type):
        return
    if instance_type == "local_gpu" and isinstance(instance_count, int) and instance_count > 1:
        raise RuntimeError("Distributed Training in Local GPU is not supported")
    if aws_boto_session(sagemaker_session) is not None:
        raise RuntimeError("instance_type local or local_gpu is only supported with an instance of LocalSession")


class EstimatorBase(SessionHolder):
    """Settings shared by every estimator; argument names and defaults follow sagemaker v2 (docs/design/compat.md §6.2)."""

    def __init__(
        self,
        role: Any = None,
        instance_count: Any = None,
        instance_type: Any = None,
        volume_size: Any = 30,
        volume_kms_key: Any = None,
        max_run: Any = 24 * 60 * 60,
        input_mode: Any = "File",
        output_path: Any = None,
        output_kms_key: Any = None,
        base_job_name: str | None = None,
        sagemaker_session: SessionLike | None = None,
        tags: Any = None,
        subnets: Any = None,
        security_group_ids: Any = None,
        model_uri: Any = None,
        model_channel_name: str = "model",
        metric_definitions: Any = None,
        encrypt_inter_container_traffic: Any = False,
        use_spot_instances: Any = False,
        max_wait: Any = None,
        checkpoint_s3_uri: Any = None,
        checkpoint_local_path: Any = None,
        rules: list[Any] | None = None,
        debugger_hook_config: DebuggerHookConfig | bool | None = None,
        tensorboard_output_config: Any = None,
        enable_sagemaker_metrics: Any = None,
        enable_network_isolation: Any = False,
        profiler_config: Any = None,
        disable_profiler: bool = False,
        environment: Any = None,
        max_retry_attempts: Any = None,
        **v1_names: Any,
    ) -> None:
        unknown = sorted(set(v1_names) - set(_V1_NAMES))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}")
        _check_local_mode(v1_names.get("train_instance_type", instance_type),
                          v1_names.get("train_instance_count", instance_count), sagemaker_session)
        self.role = role
        self.instance_count = instance_count
        self.instance_type = instance_type
        self.volume_size = volume_size
        self.volume_kms_key = volume_kms_key
        self.max_run = max_run
        self.input_mode = input_mode
        self.output_path = output_path
        self.output_kms_key = output_kms_key
        self.base_job_name = base_job_name
        self._sagemaker_session = sagemaker_session
        self.tags = tags
        self.subnets = subnets
        self.security_group_ids = security_group_ids
        self.model_uri = model_uri
        self.model_channel_name = model_channel_name
        self.metric_definitions = metric_definitions
        self.encrypt_inter_container_traffic = encrypt_inter_container_traffic
        self.use_spot_instances = use_spot_instances
        self.max_wait = max_wait
        self.checkpoint_s3_uri = checkpoint_s3_uri
        self.checkpoint_local_path = checkpoint_local_path
        self.rules = rules
        self.debugger_hook_config = debugger_hook_config
        self.tensorboard_output_config = tensorboard_output_config
        self.enable_sagemaker_metrics = enable_sagemaker_metrics
        self._enable_network_isolation = enable_network_isolation
        self.profiler_config = profiler_config
        self.disable_profiler = disable_profiler
        self.environment = environment
        self.max_retry_attempts = max_retry_attempts
        self._current_job_name: str | None = None
        self._last_output_path: Any = None
        self.latest_training_job: TrainingJob | None = None
        # Every job fit() started, oldest first, as v2 keeps them: notebooks read estimator.jobs[-1].describe().
        self.jobs: list[TrainingJob] = []
        for old_name, value in v1_names.items():
            warnings.warn(f"{old_name} has been renamed in sagemaker>=2: use {_V1_NAMES[old_name]}",
                          DeprecationWarning, stacklevel=_user_stacklevel())
            setattr(self, _V1_NAMES[old_name], value)

    @property
    def latest_job_name(self) -> str | None:
        """The training job name of the last request built (sagemaker v2 ``_current_job_name``)."""
        return self._current_job_name

    def enable_network_isolation(self) -> Any:
        return self._enable_network_isolation

    def training_image_uri(self) -> Any:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        raise NotImplementedError

    def encode_hyperparameter(self, value: Any) -> Any:
        """How this estimator turns one hyperparameter value into the string SageMaker gets (docs/design/compat.md §11 #3)."""
        return str_encode_value(value)

    def get_vpc_config(self) -> dict[str, Any] | None:
        if self.subnets is None or self.security_group_ids is None:
            return None
        return {"Subnets": self.subnets, "SecurityGroupIds": self.security_group_ids}

    def dropped_settings(self) -> list[str]:
        """Names of the settings given here that the workflow request does not carry (docs/design/compat.md §11 #12)."""
        dropped = []
        for name in _NOT_EMITTED:
            value = self._enable_network_isolation if name == "enable_network_isolation" else getattr(self, name)
            if value not in (None, False):
                dropped.append(name)
        return dropped

    def prepare_inputs(self, inputs: Any, mini_batch_size: Any) -> None:
        """Hook for estimators that check their training data (the built-in algorithms)."""

    def with_mini_batch_size(self, hyperparameters: dict[str, Any], inputs: Any,
                             mini_batch_size: Any) -> dict[str, Any]:
        """Only the built-in algorithms take ``mini_batch_size``; the others ignore it, as sagemaker v2 did."""
        return hyperparameters

    def request_hyperparameters(self, context: TrainingContext) -> dict[str, Any]:
        """The ``HyperParameters`` of a request for this estimator, every value encoded."""
        return {str(k): self.encode_hyperparameter(v) for k, v in (self.hyperparameters() or {}).items()}

    def default_debugger_hook(self, output_path: Any, session: SessionLike) -> DebuggerHookConfig | None:
        """The hook the request carries: the user's, a default one, or None (docs/design/compat.md §6.2)."""
        hook = self.debugger_hook_config
        if hook is False:
            return None
        if hook is None and self.rules:
            return DebuggerHookConfig(s3_output_path=output_path)
        if isinstance(hook, DebuggerHookConfig) and not hook.s3_output_path:
            return DebuggerHookConfig(
                s3_output_path=output_path,
                container_local_output_path=hook.container_local_output_path,
                hook_parameters=hook.hook_parameters,
                collection_configs=hook.collection_configs,
            )
        return hook if isinstance(hook, DebuggerHookConfig) else None

    @classmethod
    def attach(cls, training_job_name: str, sagemaker_session: SessionLike | None = None,
               model_channel_name: str = "model") -> Any:
        """An estimator bound to an existing training job, as sagemaker v2's ``attach``: its settings come from
        DescribeTrainingJob (and its tags), ``latest_training_job`` is that job, and this waits for it to end, so
        ``model_data``, ``create_model()`` and ``deploy()`` use its model. A job that failed raises."""
        from .session import Session

        session: Any = sagemaker_session or Session()
        boto_session = aws_boto_session(session)
        region = session.boto_region_name if boto_session is not None else None
        details = describe_training_job(boto_session, region, training_job_name)
        params = cls._prepare_init_params_from_job_description(details, model_channel_name)
        if boto_session is not None:
            client = boto_session.client("sagemaker", region_name=region)
            params["tags"] = client.list_tags(ResourceArn=details["TrainingJobArn"])["Tags"]
        elif details.get("Tags"):
            params["tags"] = details["Tags"]
        estimator = cls(sagemaker_session=session, **params)
        job = TrainingJob(training_job_name, session)
        estimator.latest_training_job = job
        estimator._current_job_name = training_job_name
        record = wait_for_training_job(boto_session, region, training_job_name)
        if record.get("TrainingJobStatus") != "Stopped":  # v2 accepts a stopped job's partial model
            job.check(record)
        return estimator

    @classmethod
    def _prepare_init_params_from_job_description(cls, job_details: dict[str, Any],
                                                  model_channel_name: str | None = None) -> dict[str, Any]:
        """Constructor arguments from a DescribeTrainingJob response (sagemaker v2's, member for member)."""
        resources = job_details["ResourceConfig"]
        spec = job_details["AlgorithmSpecification"]
        params: dict[str, Any] = {
            "role": job_details["RoleArn"],
            "instance_count": resources["InstanceCount"],
            "instance_type": resources["InstanceType"],
            "volume_size": resources["VolumeSizeInGB"],
            "max_run": job_details["StoppingCondition"]["MaxRuntimeInSeconds"],
            "input_mode": spec["TrainingInputMode"],
            "base_job_name": base_from_name(job_details["TrainingJobName"]),
            "output_path": job_details["OutputDataConfig"]["S3OutputPath"],
            "output_kms_key": job_details["OutputDataConfig"].get("KmsKeyId"),
            "hyperparameters": dict(job_details.get("HyperParameters") or {}),
        }
        if "EnableNetworkIsolation" in job_details:
            params["enable_network_isolation"] = job_details["EnableNetworkIsolation"]
        if "AlgorithmName" in spec:
            raise NotImplementedError("attach() to a job of an algorithm resource (AlgorithmName) is not supported.")
        if "TrainingImage" not in spec:
            raise RuntimeError("Invalid AlgorithmSpecification. Either TrainingImage or AlgorithmName is expected. "
                               "None was found.")
        params["image_uri"] = spec["TrainingImage"]
        if spec.get("MetricDefinitions"):
            params["metric_definitions"] = spec["MetricDefinitions"]
        if "EnableInterContainerTrafficEncryption" in job_details:
            params["encrypt_inter_container_traffic"] = job_details["EnableInterContainerTrafficEncryption"]
        vpc = job_details.get("VpcConfig") or {}
        if vpc.get("Subnets"):
            params["subnets"] = vpc["Subnets"]
        if vpc.get("SecurityGroupIds"):
            params["security_group_ids"] = vpc["SecurityGroupIds"]
        for channel in job_details.get("InputDataConfig") or []:
            if model_channel_name and channel["ChannelName"] == model_channel_name:
                params["model_channel_name"] = model_channel_name
                params["model_uri"] = channel["DataSource"]["S3DataSource"]["S3Uri"]
                break
        stopping = job_details.get("StoppingCondition") or {}
        if job_details.get("EnableManagedSpotTraining"):
            params["use_spot_instances"] = True
            if stopping.get("MaxWaitTimeInSeconds"):
                params["max_wait"] = stopping["MaxWaitTimeInSeconds"]
        if job_details.get("RetryStrategy"):
            params["max_retry_attempts"] = job_details["RetryStrategy"].get("MaximumRetryAttempts")
            if stopping.get("MaxWaitTimeInSeconds"):
                params["max_wait"] = stopping["MaxWaitTimeInSeconds"]
        return params

    def fit(self, inputs: Any = None, wait: bool = True, logs: Any = True, job_name: str | None = None,
            experiment_config: dict[str, Any] | None = None) -> None:
        """Run a training job now, as sagemaker v2's ``fit``: on local SageMaker for a local session (the job's log
        is also ``stepfn logs <job>``), on SageMaker for a session built on boto3. With ``wait`` and ``logs`` the
        job's log is printed as it runs, as v2 prints it under the notebook cell.

        With ``wait``, a job that does not complete raises :class:`~stepfn.sagemaker.exceptions.UnexpectedStatusException`;
        ``latest_training_job`` names the job and ``model_data`` / ``create_model()`` then use its artifacts.
        """
        self._fit(inputs, wait, job_name, experiment_config, None, logs)

    def logs(self) -> None:
        """Print the training job's log until it ends, as sagemaker v2's ``logs()`` (``Session.logs_for_job``)."""
        if self.latest_training_job is None:
            raise ValueError("Estimator is not associated with a training job")
        session: Any = self.sagemaker_session
        session.logs_for_job(self.latest_training_job.name, wait=True)

    def _fit(self, inputs: Any, wait: bool, job_name: str | None, experiment_config: dict[str, Any] | None,
             mini_batch_size: Any, logs: Any = False) -> None:
        request = build_training_job_request(self, inputs, job_name, mini_batch_size)
        self._upload_code()
        if experiment_config:
            request["ExperimentConfig"] = experiment_config
        job = TrainingJob(request["TrainingJobName"], self.sagemaker_session)
        self.latest_training_job = job
        self.jobs.append(job)
        boto_session = aws_boto_session(job.sagemaker_session)
        streamed = wait and shows_logs(logs)
        record = run_training_job(boto_session, job.aws_region(), request, wait=wait and not streamed)
        if streamed:
            # The job runs detached (locally too): its log is printed while it runs, then its end is read.
            print_job_log(TRAINING, job.sagemaker_session, job.name, wait=True, poll=10, check=False)
            record = wait_for_training_job(boto_session, job.aws_region(), job.name)
        if wait:
            job.check(record)

    def _upload_code(self) -> None:
        """What ``fit()`` uploads before the job starts: nothing for an image's own algorithm."""

    def model_data_for_current_job(self) -> Any:
        if self._current_job_name is None or self.output_path is None or is_placeholder(self.output_path):
            return None
        return posixpath.join(str(self.output_path), self._current_job_name, "output", "model.tar.gz")

    @property
    def model_data(self) -> Any:
        """The artifacts of the job ``fit()`` ran, else where the last request's job will write its model
        (sagemaker v2 reads this for ``create_model``)."""
        if self.latest_training_job is not None:
            return self.latest_training_job.describe()["ModelArtifacts"]["S3ModelArtifacts"]
        return self.model_data_for_current_job()

    @property
    def training_job_analytics(self) -> Any:
        """The :class:`~stepfn.sagemaker.analytics.TrainingJobAnalytics` of the last training job (sagemaker v2)."""
        if self._current_job_name is None:
            raise ValueError("Estimator is not associated with a TrainingJob")
        from .analytics import TrainingJobAnalytics

        return TrainingJobAnalytics(self._current_job_name, sagemaker_session=self.sagemaker_session)

    def create_model(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def deploy(self, initial_instance_count: int | None = None, instance_type: str | None = None,
               serializer: Any = None, deserializer: Any = None, accelerator_type: str | None = None,
               endpoint_name: str | None = None, use_compiled_model: bool = False, wait: bool = True,
               model_name: str | None = None, kms_key: str | None = None, data_capture_config: Any = None,
               tags: list[dict[str, str]] | None = None, serverless_inference_config: Any = None,
               async_inference_config: Any = None, volume_size: int | None = None,
               model_data_download_timeout: int | None = None,
               container_startup_health_check_timeout: int | None = None, **kwargs: Any) -> Any:
        """Deploy the model of the job ``fit()`` ran, as sagemaker v2's ``estimator.deploy``: the model and the
        endpoint are named ``<base job name>-<timestamp>`` unless given; ``kwargs`` go to ``create_model``.
        Returns the model's predictor (see :meth:`stepfn.sagemaker.model.Model.deploy`)."""
        if self.latest_training_job is None:
            raise ValueError("Estimator is not associated with a training job")
        if use_compiled_model:
            raise NotImplementedError("use_compiled_model needs a SageMaker Neo compilation job; stepfn runs none.")
        image = self.training_image_uri()
        base = self.base_job_name or (base_name_from_image(image) if isinstance(image, str) else "estimator")
        default_name = name_from_base(base)
        model = self.create_model(**kwargs)
        model.name = model_name or default_name
        return model.deploy(
            initial_instance_count, instance_type, serializer, deserializer, accelerator_type,
            endpoint_name or default_name, tags or self.tags, kms_key, wait, data_capture_config,
            volume_size=volume_size, model_data_download_timeout=model_data_download_timeout,
            container_startup_health_check_timeout=container_startup_health_check_timeout)

    def transformer(
        self,
        instance_count: Any,
        instance_type: Any,
        strategy: Any = None,
        assemble_with: Any = None,
        output_path: Any = None,
        output_kms_key: Any = None,
        accept: Any = None,
        env: Any = None,
        max_concurrent_transforms: Any = None,
        max_payload: Any = None,
        tags: Any = None,
        role: Any = None,
        volume_kms_key: Any = None,
        model_name: Any = None,
    ) -> Any:
        """A Transformer for the model of the last training job.

        After ``fit()``, as sagemaker v2: the model is created now (CreateModel), named ``model_name`` else
        ``<base job name>-<timestamp>``, and its environment is the transform's. Otherwise (building a workflow)
        the model is expected to be named after the last request's job, unless ``model_name``."""
        base_name = self.base_job_name
        if self.latest_training_job is not None:
            image = self.training_image_uri()
            base_name = base_name or (base_name_from_image(image) if isinstance(image, str) else "transform")
            model = self.create_model(**({"role": role} if role else {}))
            model.name = model_name or name_from_base(base_name)
            model._create_sagemaker_model(instance_type, tags=tags or self.tags)
            model_name = model.name
            env = {**model.env, **(env or {})}
        return Transformer(
            model_name or self._current_job_name,
            instance_count,
            instance_type,
            strategy=strategy,
            assemble_with=assemble_with,
            output_path=output_path,
            output_kms_key=output_kms_key,
            accept=accept,
            max_concurrent_transforms=max_concurrent_transforms,
            max_payload=max_payload,
            tags=tags or self.tags,
            env=self._transformer_env(env),
            base_transform_job_name=base_name,
            sagemaker_session=self._sagemaker_session,
            volume_kms_key=volume_kms_key,
        )

    def _transformer_env(self, env: Any) -> Any:
        return env


class Estimator(EstimatorBase):
    """A bring-your-own-image estimator (``sagemaker.estimator.Estimator``)."""

    def __init__(self, image_uri: Any = None, role: Any = None, instance_count: Any = None, instance_type: Any = None,
                 hyperparameters: dict[str, Any] | None = None, **kwargs: Any) -> None:
        image_uri = renamed_argument("image_name", "image_uri", image_uri, kwargs)
        if image_uri is None:
            raise TypeError("Estimator() needs image_uri")
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.image_uri = image_uri
        self._hyperparameters: dict[str, Any] = dict(hyperparameters or {})

    def training_image_uri(self) -> Any:
        return self.image_uri

    def set_hyperparameters(self, **kwargs: Any) -> None:
        self._hyperparameters.update(kwargs)

    def hyperparameters(self) -> dict[str, Any]:
        return self._hyperparameters

    def create_model(self, role: Any = None, image_uri: Any = None, predictor_cls: Any = None,
                     **kwargs: Any) -> Any:
        """A plain Model of the training image, the last job's model data, role and VPC config."""
        kwargs.setdefault("enable_network_isolation", self.enable_network_isolation())
        return Model(
            image_uri or self.training_image_uri(),
            self.model_data,
            role or self.role,
            # v2 wraps a plain Predictor when none is given, so deploy() returns one.
            predictor_cls=predictor_cls if predictor_cls is not None else Predictor,
            vpc_config=self.get_vpc_config(),
            sagemaker_session=self._sagemaker_session,
            **kwargs,
        )


class Framework(EstimatorBase):
    """Base of the script-mode framework estimators (docs/design/compat.md §6.3). Hyperparameters are JSON-encoded."""

    # The class and module sagemaker v2 gives this estimator (tuning jobs record them).
    _v2_module = "sagemaker.estimator"
    _framework_name = ""

    def __init__(
        self,
        entry_point: Any = None,
        source_dir: Any = None,
        hyperparameters: dict[str, Any] | None = None,
        container_log_level: int = 20,
        code_location: Any = None,
        image_uri: Any = None,
        dependencies: Any = None,
        enable_network_isolation: Any = False,
        git_config: Any = None,
        checkpoint_s3_uri: Any = None,
        checkpoint_local_path: Any = None,
        enable_sagemaker_metrics: Any = None,
        **kwargs: Any,
    ) -> None:
        # v1 notebooks pass script_mode=True to SKLearn, XGBoost, ...; sagemaker v2's estimators take and ignore it.
        removed_argument("script_mode", kwargs, "every framework estimator trains in script mode")
        if dependencies:
            raise NotImplementedError("dependencies= needs an upload; stepfn uploads nothing. Put them in an s3:// source_dir.")
        if git_config:
            entry_point, source_dir = clone_code(git_config, entry_point, source_dir)
        super().__init__(
            enable_network_isolation=enable_network_isolation,
            checkpoint_s3_uri=checkpoint_s3_uri,
            checkpoint_local_path=checkpoint_local_path,
            enable_sagemaker_metrics=enable_sagemaker_metrics,
            **kwargs,
        )
        self.entry_point = entry_point
        self.source_dir = source_dir
        self.container_log_level = container_log_level
        self.code_location = code_location
        self.image_uri = image_uri
        self.git_config = git_config
        self._hyperparameters: dict[str, Any] = dict(hyperparameters or {})
        self._framework_hyperparameters: dict[str, Any] = {}
        self._submit_directory: Any = None

    @classmethod
    def _prepare_init_params_from_job_description(cls, job_details: dict[str, Any],
                                                  model_channel_name: str | None = None) -> dict[str, Any]:
        """As the base, plus the script (``sagemaker_program``, ``sagemaker_submit_directory``) and the
        hyperparameters JSON-decoded, as sagemaker v2's ``Framework`` reads them back."""
        params = super()._prepare_init_params_from_job_description(job_details, model_channel_name)
        hyperparameters = params["hyperparameters"]
        params["entry_point"] = json.loads(hyperparameters["sagemaker_program"])
        params["source_dir"] = json.loads(hyperparameters["sagemaker_submit_directory"])
        params["container_log_level"] = json.loads(hyperparameters.get("sagemaker_container_log_level", "20"))
        decoded: dict[str, Any] = {}
        for name, value in hyperparameters.items():
            # A tuning job adds this one without JSON-encoding it.
            decoded[name] = value.strip('"') if name == "_tuning_objective_metric" else json.loads(value)
        params["hyperparameters"] = decoded
        return params

    def set_hyperparameters(self, **kwargs: Any) -> None:
        self._hyperparameters.update(kwargs)

    def encode_hyperparameter(self, value: Any) -> Any:
        return json_encode_value(value)

    def hyperparameters(self) -> dict[str, Any]:
        """The user's hyperparameters JSON-encoded, plus the ``sagemaker_*`` ones of the last request built."""
        encoded = {str(k): self.encode_hyperparameter(v) for k, v in self._hyperparameters.items()}
        encoded.update(self._framework_hyperparameters)
        return encoded

    def training_image_uri(self) -> Any:
        if self.image_uri:
            return self.image_uri
        return self._default_image_uri("training", self.instance_type)

    def _default_image_uri(self, scope: str, instance_type: Any) -> str:
        raise NotImplementedError

    def _upload_code(self) -> None:
        """As sagemaker v2's ``fit()``: a lone local entry point goes up as ``sourcedir.tar.gz`` where the request's
        ``sagemaker_submit_directory`` points (a ``source_dir`` is read where it is, as for a workflow)."""
        submit = self._submit_directory
        if self.source_dir or not isinstance(self.entry_point, str) or not (
                isinstance(submit, str) and submit.startswith("s3://")):
            return
        upload_entry_point(self.sagemaker_session, self.entry_point, submit)

    def submit_directory(self, job_name: str, bucket_of: Any) -> Any:
        """Where the code is expected (nothing is uploaded; docs/design/compat.md §6.3 step 2 and §11 #12)."""
        source_dir = self.source_dir
        if isinstance(source_dir, str) and source_dir.lower().startswith(("s3://", "file://")):
            return source_dir
        if is_placeholder(source_dir):
            return source_dir
        if source_dir:
            return "file://" + os.path.abspath(source_dir)
        if self.code_location is not None:
            location = str(self.code_location)
            bucket, _, prefix = location[len("s3://"):].partition("/")
            key = posixpath.join(prefix, job_name, "source", "sourcedir.tar.gz") if prefix else posixpath.join(
                job_name, "source", "sourcedir.tar.gz")
            return f"s3://{bucket}/{key}"
        return f"s3://{bucket_of()}/{job_name}/source/sourcedir.tar.gz"

    def framework_hyperparameters(self, context: TrainingContext) -> dict[str, Any]:
        """The ``sagemaker_*`` hyperparameters, in sagemaker v2's order (docs/design/compat.md §6.3)."""
        self._submit_directory = self.submit_directory(context.job_name, context.bucket_of)
        script = self.entry_point if is_placeholder(self.entry_point) else os.path.basename(self.entry_point or "")
        return {
            "sagemaker_submit_directory": self._submit_directory,
            "sagemaker_program": script,
            "sagemaker_container_log_level": self.container_log_level,
            "sagemaker_job_name": context.job_name,
            "sagemaker_region": context.region,
        }

    def request_hyperparameters(self, context: TrainingContext) -> dict[str, Any]:
        extra = {k: self.encode_hyperparameter(v) for k, v in self.framework_hyperparameters(context).items()}
        self._framework_hyperparameters = extra
        return self.hyperparameters()

    def default_debugger_hook(self, output_path: Any, session: SessionLike) -> DebuggerHookConfig | None:
        # sagemaker v2 leaves the hook out where Debugger is not offered.
        if self.debugger_hook_config is None and session.boto_region_name != "us-iso-east-1":
            return DebuggerHookConfig(s3_output_path=output_path)
        return super().default_debugger_hook(output_path, session)

    def _model_entry_point(self) -> Any:
        return self.entry_point

    def _model_source_dir(self) -> Any:
        return self._submit_directory if self._submit_directory is not None else self.source_dir

    def _transformer_env(self, env: Any) -> Any:
        return env or {}


def _channel(name: Any, source: Any) -> dict[str, Any]:
    if isinstance(source, (TrainingInput, FileSystemInput, file_input)):
        config = _copy_config(source.config)
    elif isinstance(source, str) and source.startswith("file://"):
        # As sagemaker v2: Local Mode reads the directory where it is.
        config = file_input(source).config
    elif isinstance(source, str) or is_placeholder(source):
        config = TrainingInput(source).config
    else:
        raise ValueError(
            f"Cannot format input {source!r} for channel {name!r}. "
            "Expecting one of str, Placeholder, TrainingInput or FileSystemInput."
        )
    config["ChannelName"] = name
    return config


def _copy_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy_config(v) if isinstance(v, dict) else v for k, v in config.items()}


def input_channels(inputs: Any) -> list[dict[str, Any]] | None:
    """``InputDataConfig`` for the ``data`` forms of docs/design/compat.md §6.2 (RecordSets are handled by ``.amazon``)."""
    # Imported here: .amazon builds on this module, so a top-level import would be circular.
    from .amazon import RecordSet

    if inputs is None:
        return None
    if isinstance(inputs, RecordSet):
        return [_channel(inputs.channel, inputs.records_s3_input())]
    if isinstance(inputs, (str, TrainingInput, FileSystemInput, file_input)) or is_placeholder(inputs):
        return [_channel("training", inputs)]
    if isinstance(inputs, dict):
        return [_channel(name, source) for name, source in inputs.items()]
    if isinstance(inputs, list):
        channels: list[dict[str, Any]] = []
        for record in inputs:
            if not isinstance(record, RecordSet):
                raise ValueError(f"A list of inputs must hold RecordSets, got {type(record).__name__}.")
            if any(c["ChannelName"] == record.channel for c in channels):
                raise ValueError(f"Duplicate channel {record.channel} not allowed.")
            channels.append(_channel(record.channel, record.records_s3_input()))
        return channels
    raise ValueError(
        f"Cannot format input {inputs!r}. Expecting one of str, dict, TrainingInput, FileSystemInput, "
        "RecordSet, a list of RecordSets or a Placeholder."
    )


def _model_channel(estimator: EstimatorBase, channels: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not estimator.model_uri:
        return channels
    name = estimator.model_channel_name
    for channel in channels or []:
        if channel["ChannelName"] == name:
            raise ValueError(f"Duplicate channel {name} not allowed.")
    model = TrainingInput(estimator.model_uri, content_type="application/x-sagemaker-model", input_mode="File")
    return [*(channels or []), _channel(name, model)]


def _context(estimator: EstimatorBase, job_name: Any) -> TrainingContext:
    session = estimator.sagemaker_session
    if job_name is None or is_placeholder(job_name):
        image = estimator.training_image_uri()
        base = estimator.base_job_name or (base_name_from_image(image) if isinstance(image, str) else "training-job")
        name = name_from_base(base)
    else:
        name = job_name
    output_path = estimator.output_path
    if output_path is None:
        output_path = f"s3://{session.default_bucket()}/"
    return TrainingContext(name, output_path, session)


def training_base_request(estimator: EstimatorBase, inputs: Any = None, job_name: Any = None,
                          mini_batch_size: Any = None) -> dict[str, Any]:
    """sagemaker 2.72.3's ``training_base_config``: the request without TrainingJobName, Tags and debugger keys.

    The generated or given job name is kept as ``estimator.latest_job_name``.
    """
    estimator.prepare_inputs(inputs, mini_batch_size)
    context = _context(estimator, job_name)
    estimator._current_job_name = context.job_name
    estimator._last_output_path = context.output_path
    output_config: dict[str, Any] = {"S3OutputPath": context.output_path}
    if estimator.output_kms_key is not None:
        output_config["KmsKeyId"] = estimator.output_kms_key
    stop: dict[str, Any] = {"MaxRuntimeInSeconds": estimator.max_run}
    if estimator.max_wait:
        stop["MaxWaitTimeInSeconds"] = estimator.max_wait
    resources: dict[str, Any] = {
        "InstanceCount": estimator.instance_count,
        "InstanceType": estimator.instance_type,
        "VolumeSizeInGB": estimator.volume_size,
    }
    if estimator.volume_kms_key is not None:
        resources["VolumeKmsKeyId"] = estimator.volume_kms_key
    request: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingImage": estimator.training_image_uri(),
            "TrainingInputMode": estimator.input_mode,
        },
        "OutputDataConfig": output_config,
        "StoppingCondition": stop,
        "ResourceConfig": resources,
        "RoleArn": estimator.role,
    }
    channels = _model_channel(estimator, input_channels(inputs))
    if channels is not None:
        request["InputDataConfig"] = channels
    vpc = estimator.get_vpc_config()
    if vpc is not None:
        request["VpcConfig"] = vpc
    if estimator.use_spot_instances:
        request["EnableManagedSpotTraining"] = True
    hyperparameters = estimator.request_hyperparameters(context)
    if mini_batch_size is not None:
        hyperparameters = estimator.with_mini_batch_size(hyperparameters, inputs, mini_batch_size)
    if hyperparameters:
        request["HyperParameters"] = hyperparameters
    return request


def training_job_config(estimator: EstimatorBase, inputs: Any = None, job_name: Any = None,
                        mini_batch_size: Any = None) -> dict[str, Any]:
    """sagemaker 2.72.3's ``training_config``: the base request, TrainingJobName, Tags and metric definitions.

    No debugger keys: the original Step Functions SDK's TrainingStep (and user steps written like it) add
    ``DebugHookConfig`` after whatever they add themselves, so the key lands last in their requests.
    """
    request = training_base_request(estimator, inputs, job_name, mini_batch_size)
    request["TrainingJobName"] = job_name if is_placeholder(job_name) else estimator._current_job_name
    if estimator.tags is not None:
        request["Tags"] = estimator.tags
    if estimator.metric_definitions is not None:
        request["AlgorithmSpecification"]["MetricDefinitions"] = estimator.metric_definitions
    return request


def training_request(estimator: EstimatorBase, inputs: Any = None, job_name: Any = None,
                     mini_batch_size: Any = None) -> dict[str, Any]:
    """The CreateTrainingJob request of docs/design/compat.md §5.1 (before the TrainingStep's own additions)."""
    request = training_job_config(estimator, inputs, job_name, mini_batch_size)
    session = estimator.sagemaker_session
    hook = estimator.default_debugger_hook(estimator._last_output_path, session)
    if hook is not None:
        request["DebugHookConfig"] = hook._to_request_dict()
    if estimator.rules is not None:
        request["DebugRuleConfigurations"] = [_rule_dict(rule, session.boto_region_name) for rule in estimator.rules]
    return request


def _rule_dict(rule: Any, region: str) -> dict[str, Any]:
    if isinstance(rule, Rule):
        return rule.to_debugger_rule_config_dict(region)
    result: dict[str, Any] = rule.to_debugger_rule_config_dict()
    return result


def build_training_job_request(estimator: EstimatorBase, inputs: Any = None, job_name: Any = None,
                               mini_batch_size: Any = None, *, validate: bool = True) -> dict[str, Any]:
    """A CreateTrainingJob request ready for boto3, checked against botocore's model (see ``validation``)."""
    request = training_request(estimator, inputs, job_name, mini_batch_size)
    if validate:
        validate_request("CreateTrainingJob", request, local_mode=is_local_mode(estimator.instance_type))
    return request

