"""stepfn.sagemaker, the SageMaker steps and the templates never need the ``sagemaker`` package (docs/design/compat.md §12.4)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import stepfn
import stepfn.sagemaker as package

SRC = Path(stepfn.__file__).parent


def test_no_source_file_imports_sagemaker() -> None:
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path}: {name}" for name in names if name.split(".")[0] == "sagemaker"]
    assert offenders == []


def test_importing_loads_neither_boto3_nor_numpy_nor_sagemaker() -> None:
    code = (
        "import sys\n"
        "import stepfn.sagemaker, stepfn.sagemaker.estimator, stepfn.sagemaker.amazon\n"
        "import stepfn.steps.sagemaker, stepfn.template\n"
        "bad = [m for m in ('boto3', 'botocore', 'numpy', 'sagemaker') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == ""


def test_submodules_re_export_sagemaker_v2_names() -> None:
    import importlib

    expected = {
        "estimator": ["Estimator", "Framework", "EstimatorBase"],
        "sklearn": ["SKLearn", "SKLearnModel", "SKLearnProcessor"],
        "pytorch": ["PyTorch", "PyTorchModel"],
        "xgboost": ["XGBoost", "XGBoostModel"],
        "tensorflow": ["TensorFlow", "TensorFlowModel"],
        "huggingface": ["HuggingFace", "HuggingFaceModel"],
        "amazon": ["KMeans", "PCA", "LinearLearner", "FactorizationMachines", "NTM", "LDA", "RandomCutForest",
                   "KNN", "IPInsights", "Object2Vec", "RecordSet"],
        "inputs": ["TrainingInput", "FileSystemInput"],
        "model": ["Model", "FrameworkModel", "PipelineModel"],
        "transformer": ["Transformer"],
        "processing": ["Processor", "ScriptProcessor", "ProcessingInput", "ProcessingOutput"],
        "tuner": ["HyperparameterTuner", "ContinuousParameter", "IntegerParameter", "CategoricalParameter"],
    }
    for module_name, names in expected.items():
        module = importlib.import_module(f"stepfn.sagemaker.{module_name}")
        for name in names:
            assert getattr(module, name) is getattr(package, name), f"{module_name}.{name}"
    assert sorted(package.__all__) == sorted(set(package.__all__))
    for name in package.__all__:
        assert hasattr(package, name), name


def test_the_package_has_the_version_of_the_sagemaker_release_it_reproduces() -> None:
    """``print(sagemaker.__version__)`` (Learn Amazon SageMaker's Step Functions notebooks) and version checks that
    pick a v1 or v2 code path read it."""
    import stepfn
    from stepfn import sagemaker

    assert sagemaker.__version__ == "2.72.3"
    assert int(sagemaker.__version__.split(".")[0]) == 2
    assert "__version__" in sagemaker.__all__
    assert stepfn.__version__ != sagemaker.__version__  # stepfn's own release is another number


def test_sagemaker_v2_deeper_module_paths_import_as_first_import() -> None:
    # A mechanical sagemaker -> stepfn.sagemaker rewrite of a notebook's imports, in a fresh interpreter.
    code = (
        "from stepfn.sagemaker.sklearn.estimator import SKLearn\n"
        "from stepfn.sagemaker.sklearn.processing import SKLearnProcessor\n"
        "from stepfn.sagemaker.xgboost.estimator import XGBoost\n"
        "from stepfn.sagemaker.pytorch.model import PyTorchModel\n"
        "from stepfn.sagemaker.amazon.amazon_estimator import RecordSet, image_uris\n"
        "from stepfn.sagemaker.amazon.kmeans import KMeans\n"
        "import stepfn.sagemaker as sagemaker\n"
        "assert sagemaker.sklearn.estimator.SKLearn is SKLearn is sagemaker.SKLearn\n"
        "assert SKLearnProcessor is sagemaker.SKLearnProcessor and XGBoost is sagemaker.XGBoost\n"
        "assert PyTorchModel is sagemaker.PyTorchModel and KMeans is sagemaker.KMeans\n"
        "assert RecordSet is sagemaker.RecordSet and image_uris is sagemaker.image_uris\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
