"""Hyperparameter tuning (sagemaker v2 ``sagemaker.tuner`` / ``sagemaker.parameter``); the tuning request (§5.5)."""

from __future__ import annotations

import copy
import json
from enum import Enum
from typing import Any

from ._jobs import TUNING, SessionJob
from ._values import is_placeholder
from .estimator import EstimatorBase, Framework, TrainingJob, training_base_request
from .session import Session, SessionLike, base_from_name, base_name_from_image, name_from_base
from .validation import validate_request

__all__ = [
    "CategoricalParameter",
    "ContinuousParameter",
    "HyperparameterTuner",
    "IntegerParameter",
    "WarmStartConfig",
    "WarmStartTypes",
    "build_tuning_job_request",
    "tuning_request",
]


class _Range:
    __name__ = ""

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        raise NotImplementedError


class _NumericRange(_Range):
    def __init__(self, min_value: Any, max_value: Any, scaling_type: Any = "Auto") -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.scaling_type = scaling_type

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {
            "Name": name,
            "MinValue": _as_str(self.min_value),
            "MaxValue": _as_str(self.max_value),
            "ScalingType": self.scaling_type,
        }


def _as_str(value: Any) -> Any:
    return value if is_placeholder(value) else str(value)


class ContinuousParameter(_NumericRange):
    """A continuous range ``{Name, MinValue, MaxValue, ScalingType}`` (values as strings)."""

    __name__ = "Continuous"


class IntegerParameter(_NumericRange):
    """An integer range ``{Name, MinValue, MaxValue, ScalingType}`` (values as strings)."""

    __name__ = "Integer"


class CategoricalParameter(_Range):
    """A categorical range ``{Name, Values}``; framework estimators get JSON-quoted values."""

    __name__ = "Categorical"

    def __init__(self, values: Any) -> None:
        self.values = [values] if isinstance(values, (str, int, float)) else list(values)

    def as_tuning_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": [_as_str(v) for v in self.values]}

    def as_json_range(self, name: str) -> dict[str, Any]:
        return {"Name": name, "Values": [json.dumps(v) for v in self.values]}


class WarmStartTypes(Enum):
    IDENTICAL_DATA_AND_ALGORITHM = "IdenticalDataAndAlgorithm"
    TRANSFER_LEARNING = "TransferLearning"


class WarmStartConfig:
    """Warm start from parent tuning jobs."""

    def __init__(self, warm_start_type: WarmStartTypes | str, parents: Any) -> None:
        self.type = WarmStartTypes(warm_start_type) if isinstance(warm_start_type, str) else warm_start_type
        self.parents = list(parents)

    def to_input_req(self) -> dict[str, Any]:
        return {
            "WarmStartType": self.type.value,
            "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": p} for p in self.parents],
        }


class HyperparameterTuner:
    """Tuning settings around one estimator (sagemaker v2 signature; ``estimator_name`` is not supported)."""

    def __init__(
        self,
        estimator: EstimatorBase,
        objective_metric_name: Any,
        hyperparameter_ranges: dict[str, _Range],
        metric_definitions: Any = None,
        strategy: Any = "Bayesian",
        objective_type: Any = "Maximize",
        max_jobs: Any = 1,
        max_parallel_jobs: Any = 1,
        tags: Any = None,
        base_tuning_job_name: str | None = None,
        warm_start_config: WarmStartConfig | None = None,
        early_stopping_type: Any = "Off",
        estimator_name: str | None = None,
    ) -> None:
        if not hyperparameter_ranges:
            raise ValueError("Need to specify hyperparameter ranges")
        self.estimator = estimator
        self.objective_metric_name = objective_metric_name
        self._hyperparameter_ranges = hyperparameter_ranges
        self.metric_definitions = metric_definitions
        self.strategy = strategy
        self.objective_type = objective_type
        self.max_jobs = max_jobs
        self.max_parallel_jobs = max_parallel_jobs
        self.tags = tags
        self.base_tuning_job_name = base_tuning_job_name
        self.warm_start_config = warm_start_config
        self.early_stopping_type = early_stopping_type
        self.estimator_name = estimator_name
        self.static_hyperparameters: dict[str, Any] = {}
        self.latest_tuning_job: SessionJob | None = None

    def hyperparameter_ranges(self) -> dict[str, list[dict[str, Any]]]:
        ranges: dict[str, list[dict[str, Any]]] = {}
        for kind in ("Continuous", "Categorical", "Integer"):
            entries = []
            for name, parameter in self._hyperparameter_ranges.items():
                if parameter is None or parameter.__name__ != kind:
                    continue
                if isinstance(parameter, CategoricalParameter) and isinstance(self.estimator, Framework):
                    entries.append(parameter.as_json_range(name))
                else:
                    entries.append(parameter.as_tuning_range(name))
            ranges[kind + "ParameterRanges"] = entries
        return ranges

    def prepare_static_hyperparameters(self, request_hyperparameters: dict[str, Any]) -> dict[str, Any]:
        static = {str(k): v if is_placeholder(v) else str(v) for k, v in request_hyperparameters.items()}
        for name in self._hyperparameter_ranges:
            static.pop(name, None)
        if isinstance(self.estimator, Framework):
            static["sagemaker_estimator_class_name"] = json.dumps(type(self.estimator).__name__)
            static["sagemaker_estimator_module"] = json.dumps(self.estimator._v2_module)
        self.static_hyperparameters = static
        return static

    @classmethod
    def attach(cls, tuning_job_name: str, sagemaker_session: SessionLike | None = None,
               job_details: dict[str, Any] | None = None, estimator_cls: str | None = None) -> HyperparameterTuner:
        """A tuner bound to an existing tuning job (one a TuningStep or ``fit()`` ran), as sagemaker v2's
        ``attach``: its settings and ranges come from DescribeHyperParameterTuningJob, its estimator from the
        training job definition (the class the static hyperparameters record, else ``Estimator``), so that
        ``best_training_job()``, ``best_estimator()`` and ``deploy()`` work on it."""
        session: Any = sagemaker_session or Session()
        job = SessionJob(TUNING, session, tuning_job_name)
        details = job_details or job.describe()
        if "TrainingJobDefinition" not in details:
            raise NotImplementedError("attach() to a multi-estimator tuning job (TrainingJobDefinitions) is not "
                                      "supported.")
        config = details["HyperParameterTuningJobConfig"]
        definition = copy.deepcopy(details["TrainingJobDefinition"])
        estimator_class = _estimator_class(estimator_cls, definition.get("StaticHyperParameters") or {})
        # The definition read as a training job's description, as v2 reads it.
        definition["HyperParameters"] = definition.pop("StaticHyperParameters", {})
        definition["HyperParameters"].pop("_tuning_objective_metric", None)
        definition["TrainingJobName"] = ""
        estimator = estimator_class(sagemaker_session=session,
                                    **estimator_class._prepare_init_params_from_job_description(definition))
        objective = config.get("HyperParameterTuningJobObjective") or {}
        warm_start = details.get("WarmStartConfig")
        tuner = cls(
            estimator, objective.get("MetricName"), _ranges_from_job(config.get("ParameterRanges") or {}),
            definition["AlgorithmSpecification"].get("MetricDefinitions"), strategy=config["Strategy"],
            objective_type=objective.get("Type", "Maximize"),
            max_jobs=config["ResourceLimits"]["MaxNumberOfTrainingJobs"],
            max_parallel_jobs=config["ResourceLimits"]["MaxParallelTrainingJobs"],
            base_tuning_job_name=base_from_name(tuning_job_name),
            warm_start_config=WarmStartConfig(
                warm_start["WarmStartType"],
                [p["HyperParameterTuningJobName"] for p in warm_start["ParentHyperParameterTuningJobs"]],
            ) if warm_start else None,
            early_stopping_type=config.get("TrainingJobEarlyStoppingType", "Off"),
        )
        tuner.latest_tuning_job = job
        return tuner

    def fit(self, inputs: Any = None, job_name: str | None = None, include_cls_metadata: bool = False,
            estimator_kwargs: dict[str, Any] | None = None, wait: bool = True, **kwargs: Any) -> None:
        """Start a tuning job now, as sagemaker v2's ``tuner.fit``: on local SageMaker for a local session (its
        training jobs run here, at most ``max_parallel_jobs`` at once), on SageMaker for a boto3 session.

        As in v2 (since 2.0) it waits for the job to end, a Failed job raising ``UnexpectedStatusException``; with
        ``wait=False`` it returns once the job is created and ``wait()`` waits for it. ``latest_tuning_job`` names
        it. ``include_cls_metadata`` has no effect: the estimator's class is always
        recorded with a framework's static hyperparameters, as the tuning request of a TuningStep records it.
        """
        if estimator_kwargs:
            raise NotImplementedError("estimator_kwargs= is for multi-estimator tuning (estimator_name), which "
                                      "stepfn does not support.")
        request = tuning_request(self, inputs, job_name, kwargs.get("mini_batch_size"))
        validate_request("CreateHyperParameterTuningJob", request)
        self.estimator._upload_code()
        job = SessionJob(TUNING, self.estimator.sagemaker_session, request["HyperParameterTuningJobName"])
        self.latest_tuning_job = job
        job.start(request, wait=wait)
        if wait:
            job.wait()

    def _ensure_last_tuning_job(self) -> SessionJob:
        if self.latest_tuning_job is None:
            raise ValueError("No tuning job available")
        return self.latest_tuning_job

    def wait(self) -> None:
        """Wait for the tuning job ``fit()`` started; a Failed job raises ``UnexpectedStatusException``."""
        self._ensure_last_tuning_job().wait()

    def stop_tuning_job(self) -> None:
        self._ensure_last_tuning_job().stop()

    def describe(self) -> dict[str, Any]:
        """DescribeHyperParameterTuningJob of the job ``fit()`` started."""
        return self._ensure_last_tuning_job().describe()

    def _get_best_training_job(self) -> dict[str, Any]:
        job = self._ensure_last_tuning_job()
        try:
            best: dict[str, Any] = job.describe()["BestTrainingJob"]
        except KeyError:
            # sagemaker v2 raises a bare Exception here; code that catches it expects that type.
            raise Exception(f"Best training job not available for tuning job: {job.name}") from None
        return best

    def best_training_job(self) -> str:
        """The name of the best training job of the tuning job so far (sagemaker v2)."""
        return str(self._get_best_training_job()["TrainingJobName"])

    def best_estimator(self, best_training_job: dict[str, Any] | None = None) -> EstimatorBase:
        """The estimator of the best training job, as sagemaker v2 gives it: ``attach()`` to that job, so its
        ``model_data``, ``create_model()`` and ``deploy()`` use that job's model."""
        best = best_training_job or self._get_best_training_job()
        try:
            attached: EstimatorBase = type(self.estimator).attach(best["TrainingJobName"],
                                                                  self.estimator.sagemaker_session)
            return attached
        except NotImplementedError:
            # Built-in algorithm estimators cannot be rebuilt from a job description here: the tuner's own
            # estimator, bound to the best job, deploys that job's model.
            pass
        estimator = copy.copy(self.estimator)
        estimator.latest_training_job = TrainingJob(best["TrainingJobName"], self.estimator.sagemaker_session)
        estimator._current_job_name = best["TrainingJobName"]
        return estimator

    def deploy(self, initial_instance_count: int | None = None, instance_type: str | None = None,
               serializer: Any = None, deserializer: Any = None, accelerator_type: str | None = None,
               endpoint_name: str | None = None, wait: bool = True, model_name: str | None = None,
               kms_key: str | None = None, data_capture_config: Any = None, **kwargs: Any) -> Any:
        """Deploy the best training job's model, as sagemaker v2's ``tuner.deploy``: the endpoint is named after
        that job unless ``endpoint_name`` is given. Returns the model's predictor."""
        best = self._get_best_training_job()
        return self.best_estimator(best).deploy(
            initial_instance_count=initial_instance_count, instance_type=instance_type, serializer=serializer,
            deserializer=deserializer, accelerator_type=accelerator_type,
            endpoint_name=endpoint_name or best["TrainingJobName"], wait=wait, model_name=model_name,
            kms_key=kms_key, data_capture_config=data_capture_config, **kwargs)


def tuning_request(tuner: HyperparameterTuner, inputs: Any = None, job_name: Any = None,
                   mini_batch_size: Any = None) -> dict[str, Any]:
    """The CreateHyperParameterTuningJob request of docs/design/compat.md §5.5 (before the TuningStep's additions)."""
    if tuner.estimator_name is not None:
        raise NotImplementedError("HyperparameterTuner with estimator_name (multi-estimator tuning) is not supported.")
    if job_name is None:
        image = tuner.estimator.training_image_uri()
        base = tuner.base_tuning_job_name or (base_name_from_image(image) if isinstance(image, str) else "tuning")
        job_name = name_from_base(base, max_length=32, short=True)
    config: dict[str, Any] = {
        "Strategy": tuner.strategy,
        "ResourceLimits": {
            "MaxNumberOfTrainingJobs": tuner.max_jobs,
            "MaxParallelTrainingJobs": tuner.max_parallel_jobs,
        },
        "TrainingJobEarlyStoppingType": tuner.early_stopping_type,
    }
    if tuner.objective_metric_name:
        config["HyperParameterTuningJobObjective"] = {
            "Type": tuner.objective_type,
            "MetricName": tuner.objective_metric_name,
        }
    ranges = tuner.hyperparameter_ranges()
    if ranges:
        config["ParameterRanges"] = ranges
    data_placeholder = is_placeholder(inputs)
    definition = training_base_request(tuner.estimator, None if data_placeholder else inputs, None, mini_batch_size)
    if data_placeholder:
        definition = _insert_after(definition, "RoleArn", "InputDataConfig", inputs)
    hyperparameters = definition.pop("HyperParameters", {})
    definition["StaticHyperParameters"] = tuner.prepare_static_hyperparameters(hyperparameters)
    if tuner.metric_definitions:
        definition["AlgorithmSpecification"]["MetricDefinitions"] = tuner.metric_definitions
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": job_name,
        "HyperParameterTuningJobConfig": config,
        "TrainingJobDefinition": definition,
    }
    if tuner.tags:
        request["Tags"] = tuner.tags
    if tuner.warm_start_config:
        request["WarmStartConfig"] = tuner.warm_start_config.to_input_req()
    return request


def _insert_after(mapping: dict[str, Any], anchor: str, key: str, value: Any) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for k, v in mapping.items():
        if k != key:
            result[k] = v
        if k == anchor:
            result[key] = value
    return result


def build_tuning_job_request(tuner: HyperparameterTuner, inputs: Any = None, job_name: Any = None,
                             *, validate: bool = True) -> dict[str, Any]:
    """A CreateHyperParameterTuningJob request ready for boto3."""
    request = tuning_request(tuner, inputs, job_name)
    if validate:
        validate_request("CreateHyperParameterTuningJob", request)
    return request


def _estimator_class(estimator_cls: str | None, static_hyperparameters: dict[str, Any]) -> type[EstimatorBase]:
    """The estimator class of a tuning job: ``estimator_cls`` (``"sagemaker.tensorflow.TensorFlow"``), else the
    class its static hyperparameters record, else ``Estimator``. Only stepfn.sagemaker's own estimator classes
    are looked up, by name: nothing is imported from a name a job description carries."""
    import stepfn.sagemaker as package

    from . import estimator as estimators

    name = estimator_cls.rsplit(".", 1)[-1] if estimator_cls else None
    if name is None and "sagemaker_estimator_class_name" in static_hyperparameters:
        name = json.loads(static_hyperparameters["sagemaker_estimator_class_name"])
    found = getattr(package, name, None) if isinstance(name, str) else None
    if isinstance(found, type) and issubclass(found, estimators.EstimatorBase):
        return found
    if estimator_cls:
        raise ValueError(f"estimator_cls {estimator_cls!r} is not one of stepfn.sagemaker's estimator classes.")
    return estimators.Estimator


def _ranges_from_job(parameter_ranges: dict[str, Any]) -> dict[str, _Range]:
    """The ranges of a tuning job's ``ParameterRanges``, as v2 reads them back."""
    ranges: dict[str, _Range] = {}
    for entry in parameter_ranges.get("CategoricalParameterRanges") or []:
        ranges[entry["Name"]] = CategoricalParameter(entry["Values"])
    for entry in parameter_ranges.get("ContinuousParameterRanges") or []:
        ranges[entry["Name"]] = ContinuousParameter(float(entry["MinValue"]), float(entry["MaxValue"]))
    for entry in parameter_ranges.get("IntegerParameterRanges") or []:
        ranges[entry["Name"]] = IntegerParameter(int(entry["MinValue"]), int(entry["MaxValue"]))
    return ranges
