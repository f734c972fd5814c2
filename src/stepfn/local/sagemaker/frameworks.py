"""What Python environment each SageMaker framework image holds: a data table, one row per (framework, version).

A row gives the image's Python (``python``) and the packages it pins (CPU builds), taken from the image sources and
release notes (``source`` says which): aws/sagemaker-scikit-learn-container (``docker/<version>/base/Dockerfile.cpu``
plus ``requirements.txt`` of the release), aws/sagemaker-xgboost-container (``requirements.txt``, Dockerfile) and
aws/deep-learning-containers (the PyTorch, TensorFlow and Hugging Face images' release notes, CPU variants). Only the
packages a user script is likely to import are pinned (the framework, numpy, pandas, scipy...); the serving stacks,
MPI and CUDA libraries are left out. PyTorch comes from its CPU wheel index, so no CUDA libraries are downloaded.

:func:`framework_of_image` reads an image URI's repository and tag (``sagemaker-scikit-learn:1.2-1-cpu-py3``,
``pytorch-training:2.1-cpu-py310``, ``sagemaker-xgboost:1.7-1``) and :func:`lookup` picks the row. A Hugging Face
image's tag names two versions (``huggingface-pytorch-inference:2.1.0-transformers4.37.0-cpu-py310-ubuntu22.04``):
its rows are keyed by both, ``4.37-pytorch2.1``, since one transformers release ships with more than one PyTorch.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
_SKLEARN_SOURCE = "aws/sagemaker-scikit-learn-container docker/{v}/base/Dockerfile.cpu, requirements.txt"
_XGBOOST_SOURCE = "aws/sagemaker-xgboost-container requirements.txt, docker/{v}/base/Dockerfile.cpu"
_DLC_SOURCE = "aws/deep-learning-containers release notes, {f} training {v} CPU"
_HF_SOURCE = ("sagemaker v2 image_uris/huggingface.json: the (transformers, pytorch, python) of {v}; accelerate, "
              "datasets and pyarrow: the releases of the transformers release's months, as resolved to install")


@dataclass(frozen=True)
class FrameworkEnvironment:
    framework: str
    version: str
    python: str
    """``major.minor`` of the image's interpreter."""
    packages: tuple[str, ...]
    index: str | None = None
    """An extra package index searched before PyPI (PyTorch's CPU wheels)."""
    source: str = ""

    def with_python(self, python: str) -> FrameworkEnvironment:
        return FrameworkEnvironment(self.framework, self.version, python, self.packages, self.index, self.source)

    @property
    def key(self) -> str:
        """The cached environment's directory name: readable, plus a digest of everything that shapes it."""
        digest = hashlib.sha256(json.dumps([self.python, self.packages, self.index]).encode()).hexdigest()[:10]
        return f"{self.framework}-{self.version}-py{self.python}-cpu-{digest}"


def _row(framework: str, version: str, python: str, *packages: str, index: str | None = None,
         source: str = "") -> FrameworkEnvironment:
    return FrameworkEnvironment(framework, version, python, packages, index,
                                source.format(v=version, f=framework))


_TABLE: tuple[FrameworkEnvironment, ...] = (
    # scikit-learn: Python and scikit-learn from the base Dockerfile, the rest from the release's requirements.
    # 0.20.0: the base image installs scikit-learn==0.20.0 with pip into Miniconda's Python 3.7 and scipy with
    # conda, the release's requirements.txt pins pandas 0.25 and leaves numpy and six free: these are the versions
    # those resolved to when the image was last built (April 2020).
    _row("sklearn", "0.20.0", "3.7", "scikit-learn==0.20.0", "numpy==1.18.1", "pandas==0.25.3", "scipy==1.4.1",
         "six==1.14.0", source=_SKLEARN_SOURCE),
    # From 0.23-1 on the release's requirements.txt pins boto3 too, which training scripts import (to read or write
    # S3 themselves); before, the image had it only through sagemaker-containers, unpinned.
    _row("sklearn", "0.23-1", "3.7", "scikit-learn==0.23.2", "numpy==1.19.2", "pandas==1.1.3", "scipy==1.5.3",
         "joblib==0.17.0", "boto3==1.16.4", source=_SKLEARN_SOURCE),
    _row("sklearn", "1.0-1", "3.8", "scikit-learn==1.0.2", "numpy==1.19.5", "pandas==1.1.3", "scipy==1.5.3",
         "joblib==1.1.0", "boto3==1.24.17", source=_SKLEARN_SOURCE),
    _row("sklearn", "1.2-1", "3.9", "scikit-learn==1.2.1", "numpy==1.24.1", "pandas==1.1.3", "scipy==1.8.0",
         "joblib==1.2.0", "boto3==1.28.57", source=_SKLEARN_SOURCE),
    _row("sklearn", "1.4-2", "3.10", "scikit-learn==1.4.2", "numpy==2.1.0", "pyarrow==17.0.0", "pandas==2.2.3",
         "scipy==1.14.1", "boto3==1.28.57", source=_SKLEARN_SOURCE),
    # XGBoost script mode (algorithm mode runs stepfn's emulator instead).
    _row("xgboost", "1.5-1", "3.8", "xgboost==1.5.2", "numpy==1.19.2", "pandas==1.2.4", "scipy==1.6.2",
         "scikit-learn==0.24.1", source=_XGBOOST_SOURCE),
    _row("xgboost", "1.7-1", "3.8", "xgboost==1.7.4", "numpy==1.19.2", "pandas==1.2.4", "scipy==1.6.2",
         "scikit-learn==0.24.1", source=_XGBOOST_SOURCE),
    # PyTorch training images (CPU): torch, torchvision and torchaudio as released together.
    _row("pytorch", "1.13", "3.9", "torch==1.13.1", "torchvision==0.14.1", "torchaudio==0.13.1", "numpy==1.23.5",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.0", "3.10", "torch==2.0.1", "torchvision==0.15.2", "torchaudio==2.0.2", "numpy==1.24.4",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.1", "3.10", "torch==2.1.0", "torchvision==0.16.0", "torchaudio==2.1.0", "numpy==1.26.2",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.2", "3.10", "torch==2.2.0", "torchvision==0.17.0", "torchaudio==2.2.0", "numpy==1.26.4",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.3", "3.11", "torch==2.3.0", "torchvision==0.18.0", "torchaudio==2.3.0", "numpy==1.26.4",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.4", "3.11", "torch==2.4.0", "torchvision==0.19.0", "torchaudio==2.4.0", "numpy==1.26.4",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.5", "3.11", "torch==2.5.1", "torchvision==0.20.1", "torchaudio==2.5.1", "numpy==2.1.3",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    _row("pytorch", "2.6", "3.12", "torch==2.6.0", "torchvision==0.21.0", "torchaudio==2.6.0", "numpy==2.2.2",
         index=PYTORCH_CPU_INDEX, source=_DLC_SOURCE),
    # TensorFlow training images (CPU). 2.2: the last 2.x image of Python 3.7, which sagemaker v1-era notebooks name
    # (framework_version="2.2", py_version="py37"); TensorFlow 2.2 needs numpy < 1.19 and predates protobuf 4 (its
    # generated code raises "Descriptors cannot be created directly" with protobuf >= 4), as the image pinned them.
    _row("tensorflow", "2.2", "3.7", "tensorflow-cpu==2.2.0", "numpy==1.18.5", "protobuf==3.20.3",
         source=_DLC_SOURCE),
    _row("tensorflow", "2.11", "3.9", "tensorflow-cpu==2.11.0", "numpy==1.23.5", source=_DLC_SOURCE),
    _row("tensorflow", "2.12", "3.10", "tensorflow-cpu==2.12.0", "numpy==1.23.5", source=_DLC_SOURCE),
    _row("tensorflow", "2.13", "3.10", "tensorflow-cpu==2.13.0", "numpy==1.24.3", source=_DLC_SOURCE),
    _row("tensorflow", "2.14", "3.10", "tensorflow-cpu==2.14.1", "numpy==1.26.2", source=_DLC_SOURCE),
    _row("tensorflow", "2.16", "3.10", "tensorflow-cpu==2.16.2", "numpy==1.26.4", source=_DLC_SOURCE),
    _row("tensorflow", "2.18", "3.10", "tensorflow-cpu==2.18.0", "numpy==1.26.4", source=_DLC_SOURCE),
    # Hugging Face PyTorch images (training and inference), one row per (transformers, PyTorch) pair that
    # sagemaker v2's huggingface.json lists from transformers 4.26 on, with its Python. torch comes as the CPU
    # build; accelerate (the Trainer needs it) and datasets are releases from the months of the transformers
    # release (the images install them too; their exact pins were not read from the images). pyarrow is pinned
    # where the newest one breaks the row: later pyarrow releases dropped the PyExtensionType that datasets 2
    # imports, and the newest refuses NumPy 1 at import (its metadata does not say so: the resolver cannot see it).
    _row("huggingface", "4.26-pytorch1.13", "3.9", "transformers==4.26.0", "torch==1.13.1", "numpy==1.23.5",
         "accelerate==0.16.0", "datasets==2.9.0", "pyarrow==11.0.0", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.28-pytorch2.0", "3.10", "transformers==4.28.1", "torch==2.0.0", "numpy==1.24.4",
         "accelerate==0.18.0", "datasets==2.11.0", "pyarrow==11.0.0", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.36-pytorch2.1", "3.10", "transformers==4.36.0", "torch==2.1.0", "numpy==1.26.2",
         "accelerate==0.25.0", "datasets==2.15.0", "pyarrow==14.0.1", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.37-pytorch2.1", "3.10", "transformers==4.37.0", "torch==2.1.0", "numpy==1.26.2",
         "accelerate==0.26.1", "datasets==2.16.1", "pyarrow==14.0.2", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.46-pytorch2.3", "3.11", "transformers==4.46.1", "torch==2.3.0", "numpy==1.26.4",
         "accelerate==1.1.0", "datasets==3.1.0", "pyarrow==18.1.0", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.48-pytorch2.3", "3.11", "transformers==4.48.0", "torch==2.3.0", "numpy==1.26.4",
         "accelerate==1.2.1", "datasets==3.2.0", "pyarrow==18.1.0", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.49-pytorch2.5", "3.11", "transformers==4.49.0", "torch==2.5.1", "numpy==2.1.3",
         "accelerate==1.4.0", "datasets==3.3.2", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.49-pytorch2.6", "3.12", "transformers==4.49.0", "torch==2.6.0", "numpy==2.2.2",
         "accelerate==1.4.0", "datasets==3.3.2", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.51-pytorch2.6", "3.12", "transformers==4.51.3", "torch==2.6.0", "numpy==2.2.2",
         "accelerate==1.6.0", "datasets==3.5.0", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.55-pytorch2.7", "3.12", "transformers==4.55.0", "torch==2.7.1", "numpy==2.2.6",
         "accelerate==1.10.0", "datasets==4.0.0", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
    _row("huggingface", "4.56-pytorch2.8", "3.12", "transformers==4.56.2", "torch==2.8.0", "numpy==2.2.6",
         "accelerate==1.10.1", "datasets==4.1.1", index=PYTORCH_CPU_INDEX, source=_HF_SOURCE),
)
TABLE: dict[tuple[str, str], FrameworkEnvironment] = {(row.framework, row.version): row for row in _TABLE}

_REPOSITORIES = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
    "tensorflow-training": "tensorflow",
    "tensorflow-inference": "tensorflow",
    "huggingface-pytorch-training": "huggingface",
    "huggingface-pytorch-inference": "huggingface",
}
_TAG = re.compile(r"^(?P<version>\d+\.\d+(?:\.\d+)?(?:-\d+)?)(?:-(?P<processor>cpu|gpu))?(?:-py(?P<py>\d+))?")
_HF_TAG = re.compile(r"^(?P<torch>\d+\.\d+)(?:\.\d+)?-transformers(?P<transformers>\d+\.\d+)(?:\.\d+)?"
                     r"(?:-(?P<processor>cpu|gpu))?(?:-py(?P<py>\d+))?")


class UnknownFrameworkVersion(LookupError):
    """A framework image of a version the table does not hold; the message lists the versions it does."""


@dataclass(frozen=True)
class ImageFramework:
    framework: str
    version: str
    py_version: str | None
    """``3.10`` from a ``py310`` tag; None for ``py3`` or no tag part (the table's Python then)."""


def framework_of_image(image: str) -> ImageFramework | None:
    """The framework, version and Python an image URI names; None for images that are not framework images."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    repository, _, tag = name.partition(":")
    framework = _REPOSITORIES.get(repository)
    match = (_HF_TAG if framework == "huggingface" else _TAG).match(tag)
    if framework is None or match is None:
        return None
    py = match.group("py")
    py_version = f"{py[0]}.{py[1:]}" if py and len(py) > 1 else None
    if framework == "huggingface":
        return ImageFramework(framework, f"{match.group('transformers')}-pytorch{match.group('torch')}", py_version)
    return ImageFramework(framework, match.group("version"), py_version)


def lookup(image: ImageFramework) -> FrameworkEnvironment:
    """The table's row for an image (``2.1.0`` finds ``2.1``), its Python taken from the tag when it names one."""
    candidates = [image.version]
    parts = image.version.split("-")[0].split(".")
    if len(parts) == 3:
        candidates.append(".".join(parts[:2]))
    for version in candidates:
        row = TABLE.get((image.framework, version))
        if row is not None:
            return row.with_python(image.py_version) if image.py_version else row
    known = ", ".join(v for f, v in TABLE if f == image.framework)
    raise UnknownFrameworkVersion(
        f"no pinned environment for {image.framework} {image.version} (stepfn knows {known}); use one of those "
        "versions, or set STEPFN_JOB_ENV=host to run the job in stepfn's own Python")


__all__ = [
    "PYTORCH_CPU_INDEX",
    "TABLE",
    "FrameworkEnvironment",
    "ImageFramework",
    "UnknownFrameworkVersion",
    "framework_of_image",
    "lookup",
]
