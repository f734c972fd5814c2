"""stepfn's SageMaker object model: sagemaker v2's authoring classes, building request dicts and nothing else.

Everything here is pure (docs/design/compat.md §6): no upload, no local path check, and no AWS call except the STS lookup a
:class:`Session` without a default bucket makes. The ``sagemaker`` package is never imported. Submodules carry
sagemaker v2's names (``stepfn.sagemaker.estimator``, ``.sklearn``, ``.pytorch``, ``.xgboost``, ``.tensorflow``,
``.huggingface``, ``.amazon``, ``.inputs``, ``.model``, ``.transformer``, ``.processing``, ``.tuner``, ``.analytics``), so ported
code changes only its imports.
"""

from __future__ import annotations

import importlib
import sys

# parameter, pipeline and utils too: sagemaker v2's package imports them (or modules that do), so code reaches them
# as attributes after a bare ``import sagemaker`` (``sagemaker.utils.name_from_base(...)``).
from . import deserializers, image_uris, parameter, pipeline, s3, serializers, utils, workflow
from ._frameworks import (
    HuggingFace,
    HuggingFaceModel,
    PyTorch,
    PyTorchModel,
    SKLearn,
    SKLearnModel,
    SKLearnProcessor,
    TensorFlow,
    TensorFlowModel,
    XGBoost,
    XGBoostModel,
)
from .amazon import (
    KNN,
    LDA,
    NTM,
    PCA,
    AmazonAlgorithmEstimatorBase,
    FactorizationMachines,
    FactorizationMachinesModel,
    FactorizationMachinesPredictor,
    IPInsights,
    IPInsightsModel,
    IPInsightsPredictor,
    KMeans,
    KMeansModel,
    KMeansPredictor,
    KNNModel,
    KNNPredictor,
    LDAModel,
    LDAPredictor,
    LinearLearner,
    LinearLearnerModel,
    LinearLearnerPredictor,
    NTMModel,
    NTMPredictor,
    Object2Vec,
    Object2VecModel,
    PCAModel,
    PCAPredictor,
    RandomCutForest,
    RandomCutForestModel,
    RandomCutForestPredictor,
    RecordSet,
)
from .analytics import HyperparameterTuningJobAnalytics, TrainingJobAnalytics
from .convert import from_sagemaker
from .debugger import (
    CollectionConfig,
    DebuggerHookConfig,
    ProfilerConfig,
    Rule,
    TensorBoardOutputConfig,
    rule_configs,
)
from .endpoint import (
    build_endpoint_config_request,
    build_endpoint_request,
    endpoint_config_request,
    endpoint_request,
)
from .estimator import (
    DroppedSettingWarning,
    Estimator,
    EstimatorBase,
    Framework,
    build_training_job_request,
    training_request,
)
from .inputs import FileSystemInput, ShuffleConfig, TrainingInput, s3_input
from .model import FrameworkModel, Model, PipelineModel, build_model_request, model_request
from .model_monitor import DataCaptureConfig, DatasetFormat, DefaultModelMonitor
from .predictor import (
    HuggingFacePredictor,
    Predictor,
    PyTorchPredictor,
    RealTimePredictor,
    SKLearnPredictor,
    TensorFlowPredictor,
    XGBoostPredictor,
)
from .processing import (
    NetworkConfig,
    ProcessingInput,
    ProcessingOutput,
    Processor,
    ScriptProcessor,
    build_processing_job_request,
    processing_request,
)
from .session import (
    Session,
    base_name_from_image,
    container_def,
    get_execution_role,
    name_from_base,
    pipeline_container_def,
    production_variant,
)
from .transformer import Transformer, build_transform_job_request, transform_request
from .tuner import (
    CategoricalParameter,
    ContinuousParameter,
    HyperparameterTuner,
    IntegerParameter,
    WarmStartConfig,
    WarmStartTypes,
    build_tuning_job_request,
    tuning_request,
)
from .validation import RequestValidationError, validate_request

__version__ = "2.72.3"
"""The sagemaker release whose v2 API and request builders this package reproduces (docs/design/compat.md §6). Code
ported from sagemaker reads it as it reads ``sagemaker.__version__``: printed, or compared to take its v2 path."""

# sagemaker v2 spreads these classes over deeper modules (``from sagemaker.sklearn.estimator import SKLearn``,
# ``from sagemaker.amazon.amazon_estimator import RecordSet``). stepfn keeps one flat module per family; each deeper
# path names that module, so rewriting ``sagemaker`` to ``stepfn.sagemaker`` in an import is enough.
_V2_MODULE_PATHS = {
    "sklearn": ("estimator", "model", "processing"),
    "xgboost": ("estimator", "model", "processing"),
    "pytorch": ("estimator", "model", "processing"),
    "tensorflow": ("estimator", "model", "processing"),
    "huggingface": ("estimator", "model"),
    "model_monitor": ("dataset_format", "model_monitoring", "data_capture_config", "monitoring_files",
                      "cron_expression_generator"),
    "workflow": ("airflow",),
    "local": ("local_session",),
    "amazon": ("amazon_estimator", "common", "kmeans", "pca", "linear_learner", "factorization_machines", "ntm", "lda",
               "randomcutforest", "knn", "ipinsights", "object2vec"),
}
for _family, _paths in _V2_MODULE_PATHS.items():
    _module = importlib.import_module(f"{__name__}.{_family}")
    for _path in _paths:
        sys.modules.setdefault(f"{__name__}.{_family}.{_path}", _module)
        setattr(_module, _path, _module)

__all__ = [
    "KNN",
    "LDA",
    "NTM",
    "PCA",
    "AmazonAlgorithmEstimatorBase",
    "CategoricalParameter",
    "CollectionConfig",
    "ContinuousParameter",
    "DataCaptureConfig",
    "DatasetFormat",
    "DebuggerHookConfig",
    "DefaultModelMonitor",
    "DroppedSettingWarning",
    "Estimator",
    "EstimatorBase",
    "FactorizationMachines",
    "FactorizationMachinesModel",
    "FactorizationMachinesPredictor",
    "FileSystemInput",
    "Framework",
    "FrameworkModel",
    "HuggingFace",
    "HuggingFaceModel",
    "HuggingFacePredictor",
    "HyperparameterTuner",
    "HyperparameterTuningJobAnalytics",
    "IPInsights",
    "IPInsightsModel",
    "IPInsightsPredictor",
    "IntegerParameter",
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
    "Model",
    "NTMModel",
    "NTMPredictor",
    "NetworkConfig",
    "Object2Vec",
    "Object2VecModel",
    "PCAModel",
    "PCAPredictor",
    "PipelineModel",
    "Predictor",
    "ProcessingInput",
    "ProcessingOutput",
    "Processor",
    "ProfilerConfig",
    "PyTorch",
    "PyTorchModel",
    "PyTorchPredictor",
    "RandomCutForest",
    "RandomCutForestModel",
    "RandomCutForestPredictor",
    "RealTimePredictor",
    "RecordSet",
    "RequestValidationError",
    "Rule",
    "SKLearn",
    "SKLearnModel",
    "SKLearnPredictor",
    "SKLearnProcessor",
    "ScriptProcessor",
    "Session",
    "ShuffleConfig",
    "TensorBoardOutputConfig",
    "TensorFlow",
    "TensorFlowModel",
    "TensorFlowPredictor",
    "TrainingInput",
    "TrainingJobAnalytics",
    "Transformer",
    "WarmStartConfig",
    "WarmStartTypes",
    "XGBoost",
    "XGBoostModel",
    "XGBoostPredictor",
    "__version__",
    "base_name_from_image",
    "build_endpoint_config_request",
    "build_endpoint_request",
    "build_model_request",
    "build_processing_job_request",
    "build_training_job_request",
    "build_transform_job_request",
    "build_tuning_job_request",
    "container_def",
    "deserializers",
    "endpoint_config_request",
    "endpoint_request",
    "from_sagemaker",
    "get_execution_role",
    "image_uris",
    "model_request",
    "name_from_base",
    "parameter",
    "pipeline",
    "pipeline_container_def",
    "processing_request",
    "production_variant",
    "rule_configs",
    "s3",
    "s3_input",
    "serializers",
    "training_request",
    "transform_request",
    "tuning_request",
    "utils",
    "validate_request",
    "workflow",
]
