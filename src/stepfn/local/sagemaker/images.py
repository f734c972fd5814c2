"""Which local runtime runs a training image (docs/design/sagemaker-contract.md §6): never pull an image, dispatch on its repository.

* images the user registered with :func:`register_image` run the registered command (``<command> train``, as
  ``docker run <image> train``), checked first so a user can override everything below;
* ``sagemaker-xgboost`` / ``xgboost`` without ``sagemaker_program`` run the XGBoost algorithm-mode emulator;
* ``kmeans``, ``pca``, ``linear-learner`` run the local built-in emulators, and Model Monitor's
  ``sagemaker-model-monitor-analyzer`` runs :mod:`stepfn.local.sagemaker.monitor`;
* the framework images (scikit-learn, XGBoost, PyTorch, TensorFlow, MXNet, Hugging Face...) run script mode
  with the sagemaker-training toolkit's semantics in this machine's Python;
* any other image runs with Docker itself (``docker run -v <job>/opt/ml:/opt/ml <image> train``) when a docker
  CLI is on PATH (``STEPFN_DOCKER=0`` turns that off);
* any other Amazon algorithm, and any unknown image, is an error that names it and says how to register one.

Registrations live in this process, and with ``persist=True`` also in ``$STEPFN_HOME/sagemaker/images.json``
so the CLI and server processes see them.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from stepfn.local.objectstore import stepfn_home

RuntimeKind = Literal["script", "builtin", "command", "docker"]

BUILTIN_ALGORITHMS = ("xgboost", "kmeans", "pca", "linear-learner", "blazingtext")
MODEL_MONITOR_ANALYZER = "sagemaker-model-monitor-analyzer"
# The job's environment is cleaned (no PYTHONPATH), so the command finds this very stepfn by path.
_ANALYZER_COMMAND = (sys.executable, "-c", "import runpy, sys; sys.path.insert(0, sys.argv.pop(1)); "
                     "runpy.run_module('stepfn.local.sagemaker.monitor', run_name='__main__')",
                     str(Path(__file__).resolve().parents[3]))
_XGBOOST_REPOSITORIES = ("sagemaker-xgboost", "xgboost")
_AMAZON_ALGORITHMS = (
    "factorization-machines", "ntm", "lda", "randomcutforest", "knn", "object2vec", "ipinsights", "blazingtext",
    "image-classification", "object-detection", "semantic-segmentation", "seq2seq", "forecasting-deepar",
    "sagemaker-rl-coach", "image-classification-neo", "xgboost-neo",
)
_FRAMEWORK_PATTERN = re.compile(
    r"^(sagemaker-scikit-learn|sagemaker-xgboost|xgboost|pytorch-training|tensorflow-training|mxnet-training"
    r"|huggingface-[a-z0-9-]*training[a-z0-9-]*|sagemaker-[a-z0-9-]*(pytorch|tensorflow|mxnet|chainer|sklearn)"
    r"[a-z0-9-]*|sagemaker-chainer|sagemaker-rl-[a-z0-9-]*|pytorch-training-neuronx?|autogluon-training)$"
)

_DOCKER_REFERENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*(@sha256:[0-9a-f]{64})?")


@dataclass(frozen=True)
class Runtime:
    """How to run one training image here."""

    kind: RuntimeKind
    image: str
    repository: str
    algorithm: str | None = None
    """For ``builtin``: ``xgboost``, ``kmeans``, ``pca`` or ``linear-learner``."""
    command: tuple[str, ...] = ()
    """For ``command``: the registered command, run with ``train`` appended; for ``docker``: the docker CLI."""
    program: Path | None = None
    """For ``command``: a bring-your-own image's program directory (its ``/opt/program``), first on PATH."""


@dataclass(frozen=True)
class _Registration:
    pattern: str
    command: tuple[str, ...]
    program: Path | None = None

    def matches(self, image: str) -> bool:
        if self.pattern.startswith("re:"):
            return re.fullmatch(self.pattern[3:], image) is not None
        return image == self.pattern or fnmatch.fnmatchcase(image, self.pattern)


_registry: list[_Registration] = []
_lock = threading.Lock()


def _registry_file(home: Path | None) -> Path:
    return (home or stepfn_home()) / "sagemaker" / "images.json"


def register_image(
    uri_or_pattern: str, command: str | list[str] | None = None, *, program_dir: str | Path | None = None,
    persist: bool = False, home: Path | None = None,
) -> None:
    """Run images matching ``uri_or_pattern`` with ``command`` (plus ``train``) instead of ``docker run``.

    ``program_dir`` is a bring-your-own image's program directory (what its Dockerfile copies to
    ``/opt/program``, its WORKDIR and first on its PATH): the job sees it at ``/opt/program`` when it runs in its
    own namespace, runs there, and finds its ``train`` script on PATH, so ``command`` may be left out.

    The pattern is an exact URI, a glob (``"*.dkr.ecr.*.amazonaws.com/my-algo:*"``) or a regular expression
    prefixed with ``re:``. The command is an argv list or a shell-like string; it runs with the job's relocated
    ``/opt/ml`` in ``SAGEMAKER_BASE_DIR``, in the working directory stepfn runs in (so relative script paths
    work as typed), with a clean environment (the platform's variables, not this process's). Later
    registrations win.
    """
    argv = tuple(shlex.split(command) if isinstance(command, str) else command or ())
    program = Path(program_dir).absolute() if program_dir is not None else None
    if not argv and program is None:
        raise ValueError("register_image needs a command or a program_dir")
    if program is not None and not program.is_dir():
        raise ValueError(f"program_dir {program} is not a directory")
    registration = _Registration(uri_or_pattern, argv, program)
    with _lock:
        _registry.insert(0, registration)
        if persist:
            path = _registry_file(home)
            saved = _load_saved(path)
            saved = [entry for entry in saved if entry["pattern"] != uri_or_pattern]
            entry: dict[str, object] = {"pattern": uri_or_pattern, "command": list(argv)}
            if program is not None:
                entry["program_dir"] = str(program)
            saved.insert(0, entry)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(saved, indent=1))


def unregister_image(uri_or_pattern: str, *, home: Path | None = None) -> None:
    with _lock:
        _registry[:] = [r for r in _registry if r.pattern != uri_or_pattern]
        path = _registry_file(home)
        saved = _load_saved(path)
        if any(entry["pattern"] == uri_or_pattern for entry in saved):
            path.write_text(json.dumps([e for e in saved if e["pattern"] != uri_or_pattern], indent=1))


def _load_saved(path: Path) -> list[dict[str, object]]:
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return []
    return [e for e in data if isinstance(e, dict) and isinstance(e.get("pattern"), str)]


def repository_of(image: str) -> str:
    """``<acct>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:1.7-1`` -> ``sagemaker-xgboost``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


class UnknownImageError(LookupError):
    """No local runtime for an image; the message says how to register one."""


def resolve_image(image: str, *, script_mode: bool, home: Path | None = None) -> Runtime:
    """The runtime for ``image``; ``script_mode`` is whether the job names an entry point (``sagemaker_program``)."""
    repository = repository_of(image)
    with _lock:
        registrations = list(_registry)
    saved = [_Registration(str(e["pattern"]), tuple(str(a) for a in e["command"]),  # type: ignore[attr-defined]
                           Path(str(e["program_dir"])) if e.get("program_dir") else None)
             for e in _load_saved(_registry_file(home))]
    for registration in registrations + saved:
        if registration.matches(image):
            return Runtime("command", image, repository, command=registration.command, program=registration.program)
    if repository == MODEL_MONITOR_ANALYZER:
        # Model Monitor's analyzer (baseline and monitoring jobs) is emulated in Python with pandas.
        return Runtime("command", image, repository, command=_ANALYZER_COMMAND)
    if repository in _XGBOOST_REPOSITORIES and not script_mode:
        return Runtime("builtin", image, repository, algorithm="xgboost")
    if repository in BUILTIN_ALGORITHMS:
        return Runtime("builtin", image, repository, algorithm=repository)
    if _FRAMEWORK_PATTERN.match(repository):
        if not script_mode:
            raise UnknownImageError(
                f"Framework image {image} needs an entry point: set the sagemaker_program hyperparameter "
                "(and sagemaker_submit_directory) as the SageMaker framework estimators do."
            )
        return Runtime("script", image, repository)
    if os.environ.get("STEPFN_DOCKER", "1") != "0" and shutil.which("docker"):
        # The image is one argument of `docker run`: a request's "--volume=/:/host" must not become an option.
        if not _DOCKER_REFERENCE.fullmatch(image):
            raise UnknownImageError(f"{image!r} is not a container image reference (registry/name[:tag][@digest])")
        return Runtime("docker", image, repository, command=("docker",))
    if repository in _AMAZON_ALGORITHMS:
        raise UnknownImageError(
            f"The built-in algorithm {repository!r} ({image}) does not run locally; stepfn emulates "
            f"{', '.join(BUILTIN_ALGORITHMS)}. Run it on AWS, or register a local command for it with "
            f"stepfn.local.sagemaker.register_image({image!r}, ['python', 'my_train.py'])."
        )
    raise UnknownImageError(
        f"No local runtime for training image {image!r}. Register one with "
        f"stepfn.local.sagemaker.register_image({image!r}, ['python', 'my_train.py']) (a command run as "
        "'<command> train' with SAGEMAKER_BASE_DIR pointing at the job's /opt/ml), or use a SageMaker framework "
        "image with sagemaker_program for script mode."
    )



def image_metric_definitions(runtime: Runtime) -> list[dict[str, str]]:
    """The metrics SageMaker defines for an image itself, used where a job or tuning job gives none of its own:
    a built-in algorithm's, and the XGBoost image's in script mode too (its scripts' ``xgb.train`` prints the same
    ``[i]\tvalidation-rmse:...`` lines, and a ``HyperparameterTuner`` of an ``XGBoost`` estimator tunes on them)."""
    from stepfn.local.sagemaker.builtins import METRIC_DEFINITIONS

    if runtime.kind == "builtin":
        return METRIC_DEFINITIONS.get(runtime.algorithm or "", [])
    if runtime.repository in _XGBOOST_REPOSITORIES:
        return METRIC_DEFINITIONS["xgboost"]
    return []

__all__ = [
    "BUILTIN_ALGORITHMS",
    "Runtime",
    "UnknownImageError",
    "image_metric_definitions",
    "register_image",
    "repository_of",
    "resolve_image",
    "unregister_image",
]
