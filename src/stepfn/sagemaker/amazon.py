"""Amazon built-in algorithms (sagemaker v2 ``sagemaker.amazon``), ``RecordSet`` and ``record_set()`` (§6.4), and
their predictors with ``sagemaker.amazon.common``'s RecordIO-protobuf serializer and deserializer.

Each estimator validates its hyperparameters when they are set, as sagemaker v2's ``Hyperparameter`` descriptors
do (placeholders are not checked). ``hyperparameters()`` gives them in constructor order as strings (lists as
JSON); the request then appends ``feature_dim`` from the training RecordSet and the step's ``mini_batch_size``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from stepfn._recordio import Record, decode_record, iter_frames

from . import image_uris
from ._values import is_placeholder
from .deserializers import JSONDeserializer, SimpleBaseDeserializer
from .estimator import EstimatorBase
from .inputs import TrainingInput
from .model import Model
from .predictor import Predictor, _framework_predictor
from .recordio import encode_dense_record, frame_record, tensor_type_of, write_dense_records
from .serializers import CSVSerializer, SimpleBaseSerializer
from .session import sagemaker_timestamp

__all__ = [
    "KNN",
    "LDA",
    "NTM",
    "PCA",
    "AlgorithmModel",
    "AmazonAlgorithmEstimatorBase",
    "FactorizationMachines",
    "FactorizationMachinesModel",
    "FactorizationMachinesPredictor",
    "IPInsights",
    "IPInsightsModel",
    "IPInsightsPredictor",
    "KMeans",
    "KMeansModel",
    "KMeansPredictor",
    "KNNModel",
    "KNNPredictor",
    "LDAModel",
    "LDAPredictor",
    "LinearLearner",
    "LinearLearnerModel",
    "LinearLearnerPredictor",
    "NTMModel",
    "NTMPredictor",
    "Object2Vec",
    "Object2VecModel",
    "PCAModel",
    "PCAPredictor",
    "RandomCutForest",
    "RandomCutForestModel",
    "RandomCutForestPredictor",
    "RecordDeserializer",
    "RecordSerializer",
    "RecordSet",
    "get_image_uri",
    "numpy_to_record_serializer",
    "read_recordio",
    "read_records",
    "record_deserializer",
    "write_numpy_to_dense_tensor",
    "write_spmatrix_to_sparse_tensor",
]

Check = tuple[Callable[[Any], bool], str]


def gt(bound: float) -> Check:
    return (lambda v: v > bound, f"value > {bound}")


def ge(bound: float) -> Check:
    return (lambda v: v >= bound, f"value >= {bound}")


def lt(bound: float) -> Check:
    return (lambda v: v < bound, f"value < {bound}")


def le(bound: float) -> Check:
    return (lambda v: v <= bound, f"value <= {bound}")


def isin(*allowed: Any) -> Check:
    return (lambda v: v in allowed, f"value in {allowed!r}")


class Hyperparameter:
    """A validated hyperparameter attribute stored under its SageMaker name in ``obj._hyperparameters``."""

    def __init__(self, name: str, data_type: type = str, *checks: Check) -> None:
        self.name = name
        self.data_type = data_type
        self.checks = checks

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._hyperparameters.get(self.name)

    def __set__(self, obj: Any, value: Any) -> None:
        if value is None:
            obj._hyperparameters.pop(self.name, None)
            return
        if not is_placeholder(value):
            try:
                if self.data_type is not list:
                    value = self.data_type(value)
            except (TypeError, ValueError) as error:
                raise ValueError(
                    f"Invalid hyperparameter value {value!r} for {self.attribute}: expected {self.data_type.__name__}"
                ) from error
            for check, expectation in self.checks:
                if not check(value):
                    raise ValueError(
                        f"Invalid hyperparameter value {value!r} for {self.attribute}. Expecting: {expectation}"
                    )
        obj._hyperparameters[self.name] = value


def get_image_uri(region_name: str, repo_name: str, repo_version: str = "1") -> str:
    """sagemaker v1's image lookup, which v2 kept in ``sagemaker.amazon.amazon_estimator`` as a deprecated alias of
    ``image_uris.retrieve(framework=repo_name, region=region_name, version=repo_version)``."""
    warnings.warn("The method get_image_uri has been renamed in sagemaker>=2: use image_uris.retrieve",
                  DeprecationWarning, stacklevel=2)
    return image_uris.retrieve(repo_name, region_name, repo_version)


class RecordSet:
    """A RecordIO-protobuf data set on S3: one channel, sharded across instances (``ShardedByS3Key``)."""

    def __init__(self, s3_data: Any, num_records: int, feature_dim: int, s3_data_type: str = "ManifestFile",
                 channel: str = "train") -> None:
        self.s3_data = s3_data
        self.num_records = num_records
        self.feature_dim = feature_dim
        self.s3_data_type = s3_data_type
        self.channel = channel

    def records_s3_input(self) -> TrainingInput:
        return TrainingInput(self.s3_data, distribution="ShardedByS3Key", s3_data_type=self.s3_data_type)

    def data_channel(self) -> dict[str, TrainingInput]:
        return {self.channel: self.records_s3_input()}

    def __repr__(self) -> str:
        return f"RecordSet({self.__dict__!r})"


Uploader = Callable[[str, bytes], None]


def _default_uploader(uri: str, data: bytes) -> None:
    # The only I/O in stepfn.sagemaker, and only when the caller gave no uploader: the local object store.
    from stepfn.local.objectstore import ObjectStore

    ObjectStore().put_bytes(uri, data)


class AmazonAlgorithmEstimatorBase(EstimatorBase):
    """Base of the built-in algorithm estimators; the image is ``<repository>:1`` for the session's region."""

    repo_name = ""

    @classmethod
    def _prepare_init_params_from_job_description(cls, job_details: dict[str, Any],
                                                  model_channel_name: str | None = None) -> dict[str, Any]:
        raise NotImplementedError(f"{cls.__name__}.attach() is not supported; attach with Estimator.attach().")
    feature_dim = Hyperparameter("feature_dim", int, gt(0))
    mini_batch_size = Hyperparameter("mini_batch_size", int, gt(0))

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None,
                 data_location: Any = None, enable_network_isolation: Any = False, **kwargs: Any) -> None:
        self._hyperparameters: dict[str, Any] = {}
        super().__init__(role, instance_count, instance_type, enable_network_isolation=enable_network_isolation,
                         **kwargs)
        self._data_location = data_location

    @property
    def data_location(self) -> str:
        if self._data_location is None:
            return f"s3://{self.sagemaker_session.default_bucket()}/sagemaker-record-sets/"
        return str(self._data_location)

    @data_location.setter
    def data_location(self, location: str) -> None:
        if not location.startswith("s3://"):
            raise ValueError(f'Expecting an S3 URL beginning with "s3://". Got "{location}"')
        self._data_location = location if location.endswith("/") else location + "/"

    def training_image_uri(self) -> str:
        return image_uris.retrieve(self.repo_name, self.sagemaker_session.boto_region_name)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            name: json.dumps(value) if isinstance(value, list) else value if is_placeholder(value) else str(value)
            for name, value in self._hyperparameters.items()
        }

    def prepare_inputs(self, inputs: Any, mini_batch_size: Any) -> None:
        """Take ``feature_dim`` from the training RecordSet and set ``mini_batch_size`` (docs/design/compat.md §6.4)."""
        if isinstance(inputs, list):
            records = [r for r in inputs if isinstance(r, RecordSet)]
            if len(records) != len(inputs):
                raise TypeError("Training data must be represented in RecordSet or list of RecordSets")
            train = next((r for r in records if r.channel == "train"), None)
            if train is None:
                raise ValueError("Must provide train channel.")
            feature_dim = train.feature_dim
        elif isinstance(inputs, RecordSet):
            feature_dim = inputs.feature_dim
        elif is_placeholder(inputs) and self.feature_dim is not None:
            feature_dim = self.feature_dim
        else:
            raise TypeError("Training data must be represented in RecordSet or list of RecordSets")
        self._hyperparameters.pop("feature_dim", None)
        self._hyperparameters.pop("mini_batch_size", None)
        self.feature_dim = feature_dim
        self.check_mini_batch_size(mini_batch_size)
        self.mini_batch_size = mini_batch_size

    def fit(self, records: Any = None, mini_batch_size: Any = None, wait: bool = True, logs: Any = True,  # type: ignore[override]
            job_name: str | None = None, experiment_config: dict[str, Any] | None = None) -> None:
        """Train on ``records`` (a RecordSet or a list of them) now, as sagemaker v2's built-in estimators do."""
        self._fit(records, wait, job_name, experiment_config, mini_batch_size, logs)

    def check_mini_batch_size(self, mini_batch_size: Any) -> None:
        """Algorithm-specific mini-batch rules (sagemaker v2 ``_prepare_for_training``)."""

    def create_model(self, role: Any = None, **kwargs: Any) -> Model:
        """The algorithm's model of this training job's artifacts (sagemaker v2 ``<Algo>Model``: a ``PCAModel`` for
        PCA, whose ``deploy()`` returns a ``PCAPredictor``, ...)."""
        kwargs.setdefault("enable_network_isolation", self.enable_network_isolation())
        return _MODELS[self.repo_name](self.model_data, role or self.role, vpc_config=self.get_vpc_config(),
                                       sagemaker_session=self._sagemaker_session, **kwargs)

    def record_set(self, train: Any, labels: Any = None, channel: str = "train", encrypt: bool = False,
                   upload: Uploader | None = None) -> RecordSet:
        """Write ``train`` (a 2-D array) as RecordIO-protobuf shards and a manifest; return their RecordSet.

        One ``matrix_<i>.pbr`` shard per training instance goes under ``<data_location><Class>-<timestamp>/``,
        next to a ``.amazon.manifest``. ``upload(uri, data)`` stores each object; without it ``s3://`` URIs go to
        stepfn's local object store. ``encrypt`` is accepted for signature compatibility (local objects are
        not encrypted; on AWS use bucket default encryption).
        """
        from stepfn._extras import needs_extra

        with needs_extra("record_set (RecordIO-protobuf shards)"):
            import numpy as np

        array = np.asarray(train)
        if array.ndim != 2:
            raise ValueError("Array must be a Matrix")
        label_array = None
        if labels is not None:
            label_array = np.asarray(labels)
            if label_array.ndim != 1:
                raise ValueError("Labels must be a Vector")
            if label_array.shape[0] not in array.shape:
                raise ValueError(f"Label shape {label_array.shape} not compatible with array shape {array.shape}")
        shards = int(self.instance_count or 1)
        shard_size = array.shape[0] // shards
        if shard_size == 0:
            raise ValueError("Array length is less than num shards")
        location = self.data_location
        if not location.endswith("/"):
            location += "/"
        prefix = f"{location}{type(self).__name__}-{sagemaker_timestamp()}/"
        store = upload or _default_uploader
        feature_type = tensor_type_of(array.dtype)
        label_type = tensor_type_of(label_array.dtype) if label_array is not None else "Float32"
        names = []
        for index in range(shards):
            end = (index + 1) * shard_size if index < shards - 1 else array.shape[0]
            rows = array[index * shard_size:end]
            shard_labels: Any = label_array[index * shard_size:end] if label_array is not None else None
            name = f"matrix_{index}.pbr"
            store(prefix + name, write_dense_records(rows, shard_labels, feature_type, label_type))
            names.append(name)
        manifest = prefix + ".amazon.manifest"
        store(manifest, json.dumps([{"prefix": prefix}, *names]).encode("utf-8"))
        return RecordSet(manifest, num_records=array.shape[0], feature_dim=array.shape[1], channel=channel)


class KMeans(AmazonAlgorithmEstimatorBase):
    """k-means clustering (``kmeans``)."""

    repo_name = "kmeans"
    k = Hyperparameter("k", int, gt(1))
    init_method = Hyperparameter("init_method", str, isin("random", "kmeans++"))
    max_iterations = Hyperparameter("local_lloyd_max_iter", int, gt(0))
    tol = Hyperparameter("local_lloyd_tol", float, ge(0), le(1))
    num_trials = Hyperparameter("local_lloyd_num_trials", int, gt(0))
    local_init_method = Hyperparameter("local_lloyd_init_method", str, isin("random", "kmeans++"))
    half_life_time_size = Hyperparameter("half_life_time_size", int, ge(0))
    epochs = Hyperparameter("epochs", int, gt(0))
    center_factor = Hyperparameter("extra_center_factor", int, gt(0))
    eval_metrics = Hyperparameter("eval_metrics", list)

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None, k: Any = None,
                 init_method: Any = None, max_iterations: Any = None, tol: Any = None, num_trials: Any = None,
                 local_init_method: Any = None, half_life_time_size: Any = None, epochs: Any = None,
                 center_factor: Any = None, eval_metrics: Any = None, **kwargs: Any) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.k = k
        self.init_method = init_method
        self.max_iterations = max_iterations
        self.tol = tol
        self.num_trials = num_trials
        self.local_init_method = local_init_method
        self.half_life_time_size = half_life_time_size
        self.epochs = epochs
        self.center_factor = center_factor
        self.eval_metrics = eval_metrics

    def hyperparameters(self) -> dict[str, Any]:
        # KMeans must fit on dense Record objects; sagemaker v2 always sends this first.
        return {"force_dense": "True", **super().hyperparameters()}


class PCA(AmazonAlgorithmEstimatorBase):
    """Principal component analysis (``pca``)."""

    repo_name = "pca"
    num_components = Hyperparameter("num_components", int, gt(0))
    algorithm_mode = Hyperparameter("algorithm_mode", str, isin("regular", "randomized"))
    subtract_mean = Hyperparameter("subtract_mean", bool)
    extra_components = Hyperparameter("extra_components", int)

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None,
                 num_components: Any = None, algorithm_mode: Any = None, subtract_mean: Any = None,
                 extra_components: Any = None, **kwargs: Any) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_components = num_components
        self.algorithm_mode = algorithm_mode
        self.subtract_mean = subtract_mean
        self.extra_components = extra_components


_LL_CRITERIA = ("accuracy", "f_beta", "precision_at_target_recall", "recall_at_target_precision",
                "cross_entropy_loss", "loss_function")


class LinearLearner(AmazonAlgorithmEstimatorBase):
    """Linear models for classification and regression (``linear-learner``)."""

    repo_name = "linear-learner"
    predictor_type = Hyperparameter("predictor_type", str,
                                    isin("binary_classifier", "regressor", "multiclass_classifier"))
    binary_classifier_model_selection_criteria = Hyperparameter(
        "binary_classifier_model_selection_criteria", str, isin(*_LL_CRITERIA))
    target_recall = Hyperparameter("target_recall", float, gt(0), lt(1))
    target_precision = Hyperparameter("target_precision", float, gt(0), lt(1))
    positive_example_weight_mult = Hyperparameter("positive_example_weight_mult", str)
    epochs = Hyperparameter("epochs", int, gt(0))
    use_bias = Hyperparameter("use_bias", bool)
    num_models = Hyperparameter("num_models", int, gt(0))
    num_calibration_samples = Hyperparameter("num_calibration_samples", int, gt(0))
    init_method = Hyperparameter("init_method", str, isin("uniform", "normal"))
    init_scale = Hyperparameter("init_scale", float, gt(0))
    init_sigma = Hyperparameter("init_sigma", float, gt(0))
    init_bias = Hyperparameter("init_bias", float)
    optimizer = Hyperparameter("optimizer", str, isin("sgd", "adam", "rmsprop", "auto"))
    loss = Hyperparameter("loss", str, isin("logistic", "squared_loss", "absolute_loss", "hinge_loss",
                                            "eps_insensitive_squared_loss", "eps_insensitive_absolute_loss",
                                            "quantile_loss", "huber_loss", "softmax_loss", "auto"))
    wd = Hyperparameter("wd", float, ge(0))
    l1 = Hyperparameter("l1", float, ge(0))
    momentum = Hyperparameter("momentum", float, ge(0), lt(1))
    learning_rate = Hyperparameter("learning_rate", float, gt(0))
    beta_1 = Hyperparameter("beta_1", float, ge(0), lt(1))
    beta_2 = Hyperparameter("beta_2", float, ge(0), lt(1))
    bias_lr_mult = Hyperparameter("bias_lr_mult", float, gt(0))
    bias_wd_mult = Hyperparameter("bias_wd_mult", float, ge(0))
    use_lr_scheduler = Hyperparameter("use_lr_scheduler", bool)
    lr_scheduler_step = Hyperparameter("lr_scheduler_step", int, gt(0))
    lr_scheduler_factor = Hyperparameter("lr_scheduler_factor", float, gt(0), lt(1))
    lr_scheduler_minimum_lr = Hyperparameter("lr_scheduler_minimum_lr", float, gt(0))
    normalize_data = Hyperparameter("normalize_data", bool)
    normalize_label = Hyperparameter("normalize_label", bool)
    unbias_data = Hyperparameter("unbias_data", bool)
    unbias_label = Hyperparameter("unbias_label", bool)
    num_point_for_scaler = Hyperparameter("num_point_for_scaler", int, gt(0))
    margin = Hyperparameter("margin", float, ge(0))
    quantile = Hyperparameter("quantile", float, gt(0), lt(1))
    loss_insensitivity = Hyperparameter("loss_insensitivity", float, gt(0))
    huber_delta = Hyperparameter("huber_delta", float, ge(0))
    early_stopping_patience = Hyperparameter("early_stopping_patience", int, gt(0))
    early_stopping_tolerance = Hyperparameter("early_stopping_tolerance", float, gt(0))
    num_classes = Hyperparameter("num_classes", int, gt(0), le(1_000_000))
    accuracy_top_k = Hyperparameter("accuracy_top_k", int, gt(0))
    f_beta = Hyperparameter("f_beta", float, gt(0))
    balance_multiclass_weights = Hyperparameter("balance_multiclass_weights", bool)

    _ORDER = (
        "binary_classifier_model_selection_criteria", "target_recall", "target_precision",
        "positive_example_weight_mult", "epochs", "use_bias", "num_models", "num_calibration_samples",
        "init_method", "init_scale", "init_sigma", "init_bias", "optimizer", "loss", "wd", "l1", "momentum",
        "learning_rate", "beta_1", "beta_2", "bias_lr_mult", "bias_wd_mult", "use_lr_scheduler",
        "lr_scheduler_step", "lr_scheduler_factor", "lr_scheduler_minimum_lr", "normalize_data",
        "normalize_label", "unbias_data", "unbias_label", "num_point_for_scaler", "margin", "quantile",
        "loss_insensitivity", "huber_delta", "early_stopping_patience", "early_stopping_tolerance",
        "num_classes", "accuracy_top_k", "f_beta", "balance_multiclass_weights",
    )

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None,
                 predictor_type: Any = None, **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name, None) for name in self._ORDER}
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.predictor_type = predictor_type
        for name in self._ORDER:
            setattr(self, name, settings[name])
        if predictor_type == "multiclass_classifier" and isinstance(self.num_classes, int) and self.num_classes < 3:
            raise ValueError(
                "For predictor_type 'multiclass_classifier', 'num_classes' should be set to a value greater than 2."
            )
        if predictor_type == "multiclass_classifier" and self.num_classes is None:
            raise ValueError(
                "For predictor_type 'multiclass_classifier', 'num_classes' should be set to a value greater than 2."
            )


class FactorizationMachines(AmazonAlgorithmEstimatorBase):
    """Factorization machines (``factorization-machines``)."""

    repo_name = "factorization-machines"
    num_factors = Hyperparameter("num_factors", int, gt(0))
    predictor_type = Hyperparameter("predictor_type", str, isin("binary_classifier", "regressor"))
    epochs = Hyperparameter("epochs", int, gt(0))
    clip_gradient = Hyperparameter("clip_gradient", float)
    eps = Hyperparameter("eps", float)
    rescale_grad = Hyperparameter("rescale_grad", float)
    bias_lr = Hyperparameter("bias_lr", float, ge(0))
    linear_lr = Hyperparameter("linear_lr", float, ge(0))
    factors_lr = Hyperparameter("factors_lr", float, ge(0))
    bias_wd = Hyperparameter("bias_wd", float, ge(0))
    linear_wd = Hyperparameter("linear_wd", float, ge(0))
    factors_wd = Hyperparameter("factors_wd", float, ge(0))
    bias_init_method = Hyperparameter("bias_init_method", str, isin("normal", "uniform", "constant"))
    bias_init_scale = Hyperparameter("bias_init_scale", float, ge(0))
    bias_init_sigma = Hyperparameter("bias_init_sigma", float, ge(0))
    bias_init_value = Hyperparameter("bias_init_value", float)
    linear_init_method = Hyperparameter("linear_init_method", str, isin("normal", "uniform", "constant"))
    linear_init_scale = Hyperparameter("linear_init_scale", float, ge(0))
    linear_init_sigma = Hyperparameter("linear_init_sigma", float, ge(0))
    linear_init_value = Hyperparameter("linear_init_value", float)
    factors_init_method = Hyperparameter("factors_init_method", str, isin("normal", "uniform", "constant"))
    factors_init_scale = Hyperparameter("factors_init_scale", float, ge(0))
    factors_init_sigma = Hyperparameter("factors_init_sigma", float, ge(0))
    factors_init_value = Hyperparameter("factors_init_value", float)

    _ORDER = (
        "epochs", "clip_gradient", "eps", "rescale_grad", "bias_lr", "linear_lr", "factors_lr", "bias_wd",
        "linear_wd", "factors_wd", "bias_init_method", "bias_init_scale", "bias_init_sigma", "bias_init_value",
        "linear_init_method", "linear_init_scale", "linear_init_sigma", "linear_init_value",
        "factors_init_method", "factors_init_scale", "factors_init_sigma", "factors_init_value",
    )

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None, num_factors: Any = None,
                 predictor_type: Any = None, **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name, None) for name in self._ORDER}
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_factors = num_factors
        self.predictor_type = predictor_type
        for name in self._ORDER:
            setattr(self, name, settings[name])


_OPTIMIZERS = ("adagrad", "adam", "rmsprop", "sgd", "adadelta")


class NTM(AmazonAlgorithmEstimatorBase):
    """Neural topic model (``ntm``)."""

    repo_name = "ntm"
    num_topics = Hyperparameter("num_topics", int, ge(2), le(1000))
    encoder_layers = Hyperparameter("encoder_layers", list)
    epochs = Hyperparameter("epochs", int, ge(1), le(100))
    encoder_layers_activation = Hyperparameter("encoder_layers_activation", str, isin("sigmoid", "tanh", "relu"))
    optimizer = Hyperparameter("optimizer", str, isin(*_OPTIMIZERS))
    tolerance = Hyperparameter("tolerance", float, ge(1e-6), le(0.1))
    num_patience_epochs = Hyperparameter("num_patience_epochs", int, ge(1), le(10))
    batch_norm = Hyperparameter("batch_norm", bool)
    rescale_gradient = Hyperparameter("rescale_gradient", float, ge(1e-3), le(1.0))
    clip_gradient = Hyperparameter("clip_gradient", float, ge(1e-3))
    weight_decay = Hyperparameter("weight_decay", float, ge(0.0), le(1.0))
    learning_rate = Hyperparameter("learning_rate", float, ge(1e-6), le(1.0))

    _ORDER = ("encoder_layers", "epochs", "encoder_layers_activation", "optimizer", "tolerance",
              "num_patience_epochs", "batch_norm", "rescale_gradient", "clip_gradient", "weight_decay",
              "learning_rate")

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None, num_topics: Any = None,
                 **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name, None) for name in self._ORDER}
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_topics = num_topics
        for name in self._ORDER:
            setattr(self, name, settings[name])

    def check_mini_batch_size(self, mini_batch_size: Any) -> None:
        if isinstance(mini_batch_size, int) and not 1 <= mini_batch_size <= 10000:
            raise ValueError("mini_batch_size must be in [1, 10000]")


class LDA(AmazonAlgorithmEstimatorBase):
    """Latent Dirichlet allocation (``lda``); single instance, and ``mini_batch_size`` is required."""

    repo_name = "lda"
    num_topics = Hyperparameter("num_topics", int, gt(0))
    alpha0 = Hyperparameter("alpha0", float, gt(0))
    max_restarts = Hyperparameter("max_restarts", int, gt(0))
    max_iterations = Hyperparameter("max_iterations", int, gt(0))
    tol = Hyperparameter("tol", float, gt(0))

    def __init__(self, role: Any, instance_type: Any = None, num_topics: Any = None, alpha0: Any = None,
                 max_restarts: Any = None, max_iterations: Any = None, tol: Any = None, **kwargs: Any) -> None:
        if kwargs.pop("instance_count", 1) not in (1, None):
            raise ValueError("LDA only supports single instance training. Defaulting to 1 ml.c4.xlarge.")
        super().__init__(role, 1, instance_type, **kwargs)
        self.num_topics = num_topics
        self.alpha0 = alpha0
        self.max_restarts = max_restarts
        self.max_iterations = max_iterations
        self.tol = tol

    def check_mini_batch_size(self, mini_batch_size: Any) -> None:
        if mini_batch_size is None:
            raise ValueError("Must specify an integer mini_batch_size")


class RandomCutForest(AmazonAlgorithmEstimatorBase):
    """Random cut forest anomaly detection (``randomcutforest``); mini-batch size is fixed at 1000."""

    repo_name = "randomcutforest"
    MINI_BATCH_SIZE = 1000
    eval_metrics = Hyperparameter("eval_metrics", list)
    num_trees = Hyperparameter("num_trees", int, ge(50), le(1000))
    num_samples_per_tree = Hyperparameter("num_samples_per_tree", int, ge(1), le(2048))

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None,
                 num_samples_per_tree: Any = None, num_trees: Any = None, eval_metrics: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_samples_per_tree = num_samples_per_tree
        self.num_trees = num_trees
        self.eval_metrics = eval_metrics

    def check_mini_batch_size(self, mini_batch_size: Any) -> None:
        if mini_batch_size is not None and mini_batch_size != self.MINI_BATCH_SIZE:
            raise ValueError(f"Random Cut Forest uses a fixed mini_batch_size of {self.MINI_BATCH_SIZE}")


class KNN(AmazonAlgorithmEstimatorBase):
    """k-nearest neighbours (``knn``)."""

    repo_name = "knn"
    k = Hyperparameter("k", int, ge(1))
    sample_size = Hyperparameter("sample_size", int, ge(1))
    predictor_type = Hyperparameter("predictor_type", str, isin("classifier", "regressor"))
    dimension_reduction_type = Hyperparameter("dimension_reduction_type", str, isin("sign", "fjlt"))
    dimension_reduction_target = Hyperparameter("dimension_reduction_target", int, ge(1))
    index_type = Hyperparameter("index_type", str, isin("faiss.Flat", "faiss.IVFFlat", "faiss.IVFPQ"))
    index_metric = Hyperparameter("index_metric", str, isin("L2", "INNER_PRODUCT", "COSINE"))
    faiss_index_ivf_nlists = Hyperparameter("faiss_index_ivf_nlists", str)
    faiss_index_pq_m = Hyperparameter("faiss_index_pq_m", int, ge(1))

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None, k: Any = None,
                 sample_size: Any = None, predictor_type: Any = None, dimension_reduction_type: Any = None,
                 dimension_reduction_target: Any = None, index_type: Any = None, index_metric: Any = None,
                 faiss_index_ivf_nlists: Any = None, faiss_index_pq_m: Any = None, **kwargs: Any) -> None:
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.k = k
        self.sample_size = sample_size
        self.predictor_type = predictor_type
        self.dimension_reduction_type = dimension_reduction_type
        self.dimension_reduction_target = dimension_reduction_target
        self.index_type = index_type
        self.index_metric = index_metric
        self.faiss_index_ivf_nlists = faiss_index_ivf_nlists
        self.faiss_index_pq_m = faiss_index_pq_m
        if dimension_reduction_type and not dimension_reduction_target:
            raise ValueError(
                '"dimension_reduction_target" is required when "dimension_reduction_type" is set.'
            )


class IPInsights(AmazonAlgorithmEstimatorBase):
    """IP address embeddings for anomaly detection (``ipinsights``)."""

    repo_name = "ipinsights"
    num_entity_vectors = Hyperparameter("num_entity_vectors", int, ge(1), le(250_000_000))
    vector_dim = Hyperparameter("vector_dim", int, ge(4), le(4096))
    batch_metrics_publish_interval = Hyperparameter("batch_metrics_publish_interval", int, ge(1))
    epochs = Hyperparameter("epochs", int, ge(1))
    learning_rate = Hyperparameter("learning_rate", float, ge(1e-6), le(10.0))
    num_ip_encoder_layers = Hyperparameter("num_ip_encoder_layers", int, ge(0), le(100))
    random_negative_sampling_rate = Hyperparameter("random_negative_sampling_rate", int, ge(0), le(500))
    shuffled_negative_sampling_rate = Hyperparameter("shuffled_negative_sampling_rate", int, ge(0), le(500))
    weight_decay = Hyperparameter("weight_decay", float, ge(0.0), le(10.0))

    _ORDER = ("batch_metrics_publish_interval", "epochs", "learning_rate", "num_ip_encoder_layers",
              "random_negative_sampling_rate", "shuffled_negative_sampling_rate", "weight_decay")

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None,
                 num_entity_vectors: Any = None, vector_dim: Any = None, **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name, None) for name in self._ORDER}
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.num_entity_vectors = num_entity_vectors
        self.vector_dim = vector_dim
        for name in self._ORDER:
            setattr(self, name, settings[name])

    def check_mini_batch_size(self, mini_batch_size: Any) -> None:
        if isinstance(mini_batch_size, int) and not 1 <= mini_batch_size <= 500000:
            raise ValueError("mini_batch_size must be in [1, 500000]")


_NETWORKS = ("hcnn", "bilstm", "pooled_embedding")


class Object2Vec(AmazonAlgorithmEstimatorBase):
    """General-purpose embeddings of object pairs (``object2vec``)."""

    repo_name = "object2vec"
    epochs = Hyperparameter("epochs", int, ge(1), le(100))
    enc0_max_seq_len = Hyperparameter("enc0_max_seq_len", int, ge(1), le(5000))
    enc0_vocab_size = Hyperparameter("enc0_vocab_size", int, ge(2), le(3_000_000))
    enc_dim = Hyperparameter("enc_dim", int, ge(4), le(10000))
    early_stopping_patience = Hyperparameter("early_stopping_patience", int, ge(1), le(5))
    early_stopping_tolerance = Hyperparameter("early_stopping_tolerance", float, ge(1e-6), le(0.1))
    dropout = Hyperparameter("dropout", float, ge(0.0), le(1.0))
    weight_decay = Hyperparameter("weight_decay", float, ge(0.0), le(10000.0))
    bucket_width = Hyperparameter("bucket_width", int, ge(0), le(100))
    num_classes = Hyperparameter("num_classes", int, ge(2), le(30))
    mlp_layers = Hyperparameter("mlp_layers", int, ge(1), le(10))
    mlp_dim = Hyperparameter("mlp_dim", int, ge(2), le(10000))
    mlp_activation = Hyperparameter("mlp_activation", str, isin("tanh", "relu", "linear"))
    output_layer = Hyperparameter("output_layer", str, isin("softmax", "mean_squared_error"))
    optimizer = Hyperparameter("optimizer", str, isin(*_OPTIMIZERS))
    learning_rate = Hyperparameter("learning_rate", float, ge(1e-6), le(1.0))
    negative_sampling_rate = Hyperparameter("negative_sampling_rate", int, ge(0), le(100))
    comparator_list = Hyperparameter("comparator_list", str)
    tied_token_embedding_weight = Hyperparameter("tied_token_embedding_weight", bool)
    token_embedding_storage_type = Hyperparameter("token_embedding_storage_type", str, isin("dense", "row_sparse"))
    enc0_network = Hyperparameter("enc0_network", str, isin(*_NETWORKS))
    enc1_network = Hyperparameter("enc1_network", str, isin(*_NETWORKS, "enc0"))
    enc0_cnn_filter_width = Hyperparameter("enc0_cnn_filter_width", int, ge(1), le(9))
    enc1_cnn_filter_width = Hyperparameter("enc1_cnn_filter_width", int, ge(1), le(9))
    enc1_max_seq_len = Hyperparameter("enc1_max_seq_len", int, ge(1), le(5000))
    enc0_token_embedding_dim = Hyperparameter("enc0_token_embedding_dim", int, ge(2), le(1000))
    enc1_token_embedding_dim = Hyperparameter("enc1_token_embedding_dim", int, ge(2), le(1000))
    enc1_vocab_size = Hyperparameter("enc1_vocab_size", int, ge(2), le(3_000_000))
    enc0_layers = Hyperparameter("enc0_layers", int, ge(1), le(4))
    enc1_layers = Hyperparameter("enc1_layers", int, ge(1), le(4))
    enc0_freeze_pretrained_embedding = Hyperparameter("enc0_freeze_pretrained_embedding", bool)
    enc1_freeze_pretrained_embedding = Hyperparameter("enc1_freeze_pretrained_embedding", bool)

    _ORDER = (
        "enc_dim", "mini_batch_size", "early_stopping_patience", "early_stopping_tolerance", "dropout",
        "weight_decay", "bucket_width", "num_classes", "mlp_layers", "mlp_dim", "mlp_activation", "output_layer",
        "optimizer", "learning_rate", "negative_sampling_rate", "comparator_list", "tied_token_embedding_weight",
        "token_embedding_storage_type", "enc0_network", "enc1_network", "enc0_cnn_filter_width",
        "enc1_cnn_filter_width", "enc1_max_seq_len", "enc0_token_embedding_dim", "enc1_token_embedding_dim",
        "enc1_vocab_size", "enc0_layers", "enc1_layers", "enc0_freeze_pretrained_embedding",
        "enc1_freeze_pretrained_embedding",
    )

    def __init__(self, role: Any, instance_count: Any = None, instance_type: Any = None, epochs: Any = None,
                 enc0_max_seq_len: Any = None, enc0_vocab_size: Any = None, **kwargs: Any) -> None:
        settings = {name: kwargs.pop(name, None) for name in self._ORDER}
        super().__init__(role, instance_count, instance_type, **kwargs)
        self.epochs = epochs
        self.enc0_max_seq_len = enc0_max_seq_len
        self.enc0_vocab_size = enc0_vocab_size
        for name in self._ORDER:
            setattr(self, name, settings[name])
        self._own_mini_batch_size = self.mini_batch_size

    def prepare_inputs(self, inputs: Any, mini_batch_size: Any) -> None:
        # The constructor's mini_batch_size stands unless the step gives one.
        super().prepare_inputs(inputs, mini_batch_size if mini_batch_size is not None else self._own_mini_batch_size)


class RecordSerializer(SimpleBaseSerializer):
    """A numpy array as RecordIO-protobuf (sagemaker v2 ``sagemaker.amazon.common.RecordSerializer``): a 1-D array is
    one record, a 2-D array one record per row, each row the record's ``features["values"]`` tensor of the array's
    dtype (int: Int32, float64: Float64, float32: Float32)."""

    default_content_type = "application/x-recordio-protobuf"

    def serialize(self, data: Any) -> bytes:
        if len(data.shape) == 1:
            data = data.reshape(1, data.shape[0])
        if len(data.shape) != 2:
            raise ValueError(f"Expected a 1D or 2D array, but got a {len(data.shape)}D array instead.")
        return write_dense_records(data, feature_type=tensor_type_of(data.dtype))


class RecordDeserializer(SimpleBaseDeserializer):
    """RecordIO-protobuf records from an endpoint (sagemaker v2 ``sagemaker.amazon.common.RecordDeserializer``): a
    list of records whose ``label`` (and ``features``) map names to tensors, read as v2's ``record_pb2`` ones are:
    ``record.label["projection"].float32_tensor.values``."""

    default_accept: str | tuple[str, ...] = "application/x-recordio-protobuf"

    def deserialize(self, stream: Any, content_type: str) -> Any:
        try:
            return read_records(stream)
        finally:
            stream.close()


# sagemaker v2's sagemaker.amazon.common functions, which notebooks call to write training data for the algorithms
# (``smac.write_numpy_to_dense_tensor(buf, vectors, labels)``) and to read their RecordIO-protobuf answers.


def _checked_labels(array: Any, labels: Any) -> str:
    """The label tensor type, once ``array`` and ``labels`` have the shapes v2 requires."""
    if len(array.shape) != 2:
        raise ValueError("Array must be a Matrix")
    if labels is None:
        return "Float32"
    if len(labels.shape) != 1:
        raise ValueError("Labels must be a Vector")
    if labels.shape[0] not in array.shape:
        raise ValueError(f"Label shape {labels.shape} not compatible with array shape {array.shape}")
    return tensor_type_of(labels.dtype)


def write_numpy_to_dense_tensor(file: Any, array: Any, labels: Any = None) -> None:
    """Write each row of the 2-D numpy ``array`` (with its label) to the binary ``file`` as one RecordIO-protobuf
    record, tensors typed after the arrays' dtypes."""
    label_type = _checked_labels(array, labels)
    file.write(write_dense_records(array, labels, tensor_type_of(array.dtype), label_type))


def write_spmatrix_to_sparse_tensor(file: Any, array: Any, labels: Any = None) -> None:
    """Write each row of the scipy sparse matrix ``array`` (with its label) to the binary ``file`` as one sparse
    RecordIO-protobuf record: the row's values, their columns as keys, the matrix's width as shape."""
    if not hasattr(array, "tocsr"):
        raise TypeError("Array must be sparse")
    label_type = _checked_labels(array, labels)
    feature_type = tensor_type_of(array.dtype)
    rows = array.tocsr()
    for index in range(rows.shape[0]):
        row = rows.getrow(index)
        label = labels[index] if labels is not None else None
        file.write(frame_record(encode_dense_record(row.data, feature_type, label, label_type,
                                                    keys=row.indices.tolist(), shape=[rows.shape[1]])))


def read_recordio(f: Any) -> Iterator[bytes]:
    """The payload of each RecordIO record in the binary file object ``f``."""
    yield from iter_frames(f.read())


def read_records(file: Any) -> list[Record]:
    """The records in the binary file object ``file``; each reads as v2's ``record_pb2.Record`` is read
    (``record.features["values"].float32_tensor.values``, ``record.label[...]``)."""
    return [decode_record(payload) for payload in read_recordio(file)]


class numpy_to_record_serializer(RecordSerializer):
    """sagemaker v1's name of :class:`RecordSerializer` (v2 keeps it with a DeprecationWarning)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("The class numpy_to_record_serializer has been renamed in sagemaker>=2: use RecordSerializer",
                      DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


class record_deserializer(RecordDeserializer):
    """sagemaker v1's name of :class:`RecordDeserializer` (v2 keeps it with a DeprecationWarning)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn("The class record_deserializer has been renamed in sagemaker>=2: use RecordDeserializer",
                      DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)


def _algorithm_predictor(name: str, algorithm: str) -> type[Predictor]:
    return _framework_predictor(name, RecordSerializer, RecordDeserializer,
                                f"A {algorithm} endpoint: RecordIO-protobuf records in and out.", __name__)


# sagemaker v2's predictor of each algorithm: all but IP Insights (CSV in, JSON out) speak RecordIO-protobuf;
# Object2Vec has none of its own (a plain Predictor).
PCAPredictor = _algorithm_predictor("PCAPredictor", "PCA")
KMeansPredictor = _algorithm_predictor("KMeansPredictor", "k-means")
LinearLearnerPredictor = _algorithm_predictor("LinearLearnerPredictor", "Linear Learner")
FactorizationMachinesPredictor = _algorithm_predictor("FactorizationMachinesPredictor", "Factorization Machines")
NTMPredictor = _algorithm_predictor("NTMPredictor", "NTM")
LDAPredictor = _algorithm_predictor("LDAPredictor", "LDA")
RandomCutForestPredictor = _algorithm_predictor("RandomCutForestPredictor", "Random Cut Forest")
KNNPredictor = _algorithm_predictor("KNNPredictor", "k-NN")
IPInsightsPredictor = _framework_predictor("IPInsightsPredictor", CSVSerializer, JSONDeserializer,
                                           "An IP Insights endpoint: CSV in, JSON out.", __name__)



class AlgorithmModel(Model):
    """A built-in algorithm's model (the base of sagemaker v2's ``PCAModel``, ``KMeansModel``, ...): the algorithm's
    image in the session's region, looked up when first needed, and its predictor as ``deploy()``'s."""

    algorithm: type[AmazonAlgorithmEstimatorBase] = AmazonAlgorithmEstimatorBase
    default_predictor: type[Predictor] = Predictor

    def __init__(self, model_data: Any, role: Any = None, sagemaker_session: Any = None, predictor_cls: Any = None,
                 **kwargs: Any) -> None:
        self._image_uri: Any = None
        super().__init__(model_data=model_data, role=role, sagemaker_session=sagemaker_session,
                         predictor_cls=predictor_cls if predictor_cls is not None else self.default_predictor, **kwargs)

    @property
    def image_uri(self) -> Any:
        if self._image_uri is None:
            return image_uris.retrieve(self.algorithm.repo_name, self.sagemaker_session.boto_region_name)
        return self._image_uri

    @image_uri.setter
    def image_uri(self, value: Any) -> None:
        self._image_uri = value


def _algorithm_model(name: str, algorithm: type[AmazonAlgorithmEstimatorBase],
                     predictor: type[Predictor] = Predictor) -> type[AlgorithmModel]:
    return type(name, (AlgorithmModel,), {"algorithm": algorithm, "default_predictor": predictor, "__module__": __name__,
                                          "__doc__": f"A {algorithm.__name__} model; deploy() returns a {predictor.__name__}."})


PCAModel = _algorithm_model("PCAModel", PCA, PCAPredictor)
KMeansModel = _algorithm_model("KMeansModel", KMeans, KMeansPredictor)
LinearLearnerModel = _algorithm_model("LinearLearnerModel", LinearLearner, LinearLearnerPredictor)
FactorizationMachinesModel = _algorithm_model("FactorizationMachinesModel", FactorizationMachines,
                                              FactorizationMachinesPredictor)
NTMModel = _algorithm_model("NTMModel", NTM, NTMPredictor)
LDAModel = _algorithm_model("LDAModel", LDA, LDAPredictor)
RandomCutForestModel = _algorithm_model("RandomCutForestModel", RandomCutForest, RandomCutForestPredictor)
KNNModel = _algorithm_model("KNNModel", KNN, KNNPredictor)
IPInsightsModel = _algorithm_model("IPInsightsModel", IPInsights, IPInsightsPredictor)
Object2VecModel = _algorithm_model("Object2VecModel", Object2Vec)

_MODELS: dict[str, type[AlgorithmModel]] = {model.algorithm.repo_name: model for model in (
    PCAModel, KMeansModel, LinearLearnerModel, FactorizationMachinesModel, NTMModel, LDAModel, RandomCutForestModel,
    KNNModel, IPInsightsModel, Object2VecModel)}
