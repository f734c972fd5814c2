"""Framework environments: a job of a framework image runs in a Python environment that matches the image.

``STEPFN_JOB_ENV`` chooses where a framework estimator's or processor's code runs:

* ``image``: in a virtual environment holding the image's Python and pinned packages
  (:mod:`stepfn.local.sagemaker.frameworks`), built once with ``uv`` and shared by every job;
* ``host``: in stepfn's own Python, as before;
* ``auto`` (the default): in stepfn's own Python when the framework installed there (``scikit-learn``,
  ``xgboost``, ``torch``, ``tensorflow``, ``transformers`` for the Hugging Face images) is the image's release
  (the same major.minor: :func:`same_release` says why), else in the image's environment; so a ``framework_version="0.20.0"`` script that imports
  ``sklearn.externals.joblib`` runs in scikit-learn 0.20 even where stepfn's Python has scikit-learn 1.x.

A model is served where its job ran, by the same rule (``models.serving_environment``): in an environment, the
model server's handler host (``handlerhost.py``) runs its handler chain with the environment's Python, so a
scikit-learn 0.20 pickle loads in scikit-learn 0.20 and a PyTorch model needs no torch in stepfn's Python.

Environments live under ``$STEPFN_ENV_DIR`` (default ``$STEPFN_HOME/envs``), one directory per table row
(``sklearn-1.2-1-py3.9-cpu-<digest>``), marked complete only once built, and built under a file lock so that jobs
starting together build it once. The code's ``requirements.txt`` goes into a layer beside it keyed by the file's
hash (``<env>-req-<digest>``, put on ``PYTHONPATH``), resolved with the environment's pins as constraints so it
cannot swap the framework out from under the script; later jobs with the same file reuse the layer.

The image's Python is looked for on this machine (``uv python find``, then pyenv's versions), else uv downloads
a managed build. What uv prints while building goes to the job's log as it comes. Offline, the error names what
is missing (the interpreter or the packages) and the way out (``STEPFN_JOB_ENV=host``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import hashlib
import importlib.util
import json
import os
import pwd
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from stepfn.local.objectstore import stepfn_home
from stepfn.local.sagemaker.frameworks import (
    FrameworkEnvironment,
    UnknownFrameworkVersion,
    framework_of_image,
    lookup,
)

JOB_ENV = "STEPFN_JOB_ENV"
ENV_DIR = "STEPFN_ENV_DIR"
_COMPLETE = ".stepfn-complete.json"
Progress = Callable[[str], None]


class JobEnvironmentError(RuntimeError):
    """A framework environment cannot be built; the message says what is missing and what to do."""


@dataclass(frozen=True)
class JobEnvironment:
    """Where a job's Python comes from."""

    python: Path
    """The interpreter to run (``python``/``python3`` in a command mean this one)."""
    own: bool
    """True for a framework environment: the job's PYTHONPATH then leaves stepfn's own packages out."""
    root: Path | None = None
    spec: FrameworkEnvironment | None = None

    @property
    def bin_dir(self) -> Path:
        return self.python.parent


_MODULES = {"sklearn": "sklearn", "xgboost": "xgboost", "pytorch": "torch", "tensorflow": "tensorflow",
            "huggingface": "transformers"}
# The distributions that install each framework's module, whose metadata gives its version without importing it
# (importing torch or tensorflow takes seconds); TensorFlow's and XGBoost's CPU builds have names of their own.
_DISTRIBUTIONS = {
    "sklearn": ("scikit-learn",),
    "xgboost": ("xgboost", "xgboost-cpu"),
    "pytorch": ("torch",),
    "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"),
    "huggingface": ("transformers",),
}
_RELEASE = re.compile(r"(\d+)\.(\d+)")


def job_env_mode() -> str:
    mode = os.environ.get(JOB_ENV, "").strip().lower() or "auto"
    if mode not in ("auto", "image", "host"):
        raise JobEnvironmentError(f"{JOB_ENV}={mode!r}: use auto (the default), image or host")
    return mode


def environments_root() -> Path:
    configured = os.environ.get(ENV_DIR)
    return Path(configured).absolute() if configured else stepfn_home() / "envs"


def uv_binary() -> str:
    """uv from the ``uv`` package stepfn depends on (it ships the binary), else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise JobEnvironmentError("uv is not installed (pip install uv), and framework environments are built "
                                    f"with it; or set {JOB_ENV}=host") from None
        return found


def spec_for_image(image: str) -> FrameworkEnvironment | None:
    """The pinned environment for a framework image, None for other images (they run in stepfn's Python)."""
    framework = framework_of_image(image)
    if framework is None:
        return None
    try:
        return lookup(framework)
    except UnknownFrameworkVersion as exc:
        raise JobEnvironmentError(str(exc)) from None


def pinned_version(spec: FrameworkEnvironment) -> str:
    """The version of the framework package the image pins (``0.20.0``, ``2.16.2``)."""
    names = _DISTRIBUTIONS[spec.framework]
    return next(p.split("==", 1)[1] for p in spec.packages if p.split("==", 1)[0] in names)


def installed_version(framework: str) -> str | None:
    """The version of ``framework`` in stepfn's own Python, None where it cannot import it."""
    if importlib.util.find_spec(_MODULES[framework]) is None:
        return None
    for name in _DISTRIBUTIONS[framework]:
        with contextlib.suppress(metadata.PackageNotFoundError):
            return metadata.version(name)
    return None  # importable from a source tree on the path, with no version to compare: not to be trusted


def same_release(installed: str | None, pinned: str) -> bool:
    """Whether the framework ``installed`` in stepfn's Python can stand in for the image's ``pinned`` one: the same
    major.minor (``1.2.2`` for ``1.2.1``, ``2.1.0+cpu`` for ``2.1.0``).

    Major.minor because these frameworks change what a script meets at minor releases, not only at major ones:
    scikit-learn removes what it deprecated two minor releases later (``sklearn.externals.joblib`` went in 0.23,
    ``OneHotEncoder(sparse=)`` in 1.4) and loads only its own release's pickles reliably, TensorFlow 2.16 made
    ``tf.keras`` Keras 3, and PyTorch and XGBoost change defaults between minor releases. Patch releases only fix
    bugs, and the images are published per minor release (``1.2-1``, ``2.1``, ``2.16``), so a patch apart is the
    same image. Comparing whole versions instead would send almost every job to a built environment for nothing."""
    if installed is None:
        return False
    ours, theirs = _RELEASE.match(installed), _RELEASE.match(pinned)
    return ours is not None and theirs is not None and ours.groups() == theirs.groups()


def environment_for_image(image: str, progress: Progress) -> JobEnvironment | None:
    """The environment a job of ``image`` runs in (built now if needed), or None for stepfn's own Python.
    Models are served by the same rule (``models.serving_environment``), so a model is loaded where it was made."""
    mode = job_env_mode()
    if mode == "host":
        return None
    spec = spec_for_image(image)
    if spec is None:
        return None
    if mode == "auto":
        installed, pinned = installed_version(spec.framework), pinned_version(spec)
        package = _DISTRIBUTIONS[spec.framework][0]
        if same_release(installed, pinned):
            progress(f"stepfn: stepfn's own Python runs it: its {package} {installed} is the {spec.framework} "
                     f"{spec.version} image's release ({pinned}); {JOB_ENV}=image runs it in the image's own "
                     "environment")
            return None
        found = f"has {package} {installed}" if installed else f"has no {package}"
        progress(f"stepfn: stepfn's own Python {found} and the {spec.framework} {spec.version} image {pinned}, so "
                 f"the image's environment runs it ({JOB_ENV}=host runs it in stepfn's own Python)")
    root = ensure_environment(spec, progress)
    return JobEnvironment(root / "bin" / "python", True, root, spec)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _summary(tail: list[str]) -> str:
    """uv's error and its innermost cause, from the last lines it printed."""
    errors = [line for line in tail if "error" in line.lower() and "cause:" not in line]
    causes = [line.strip() for line in tail if "cause:" in line]
    return " / ".join([*(errors[-1:] or tail[-1:]), *causes[-1:]])


@functools.lru_cache(maxsize=4)
def _system_certs_variable(uv: str) -> str:
    """``UV_SYSTEM_CERTS`` where this uv knows it (newer releases warn that ``UV_NATIVE_TLS`` is deprecated),
    else ``UV_NATIVE_TLS``, which every uv from 0.4 reads."""
    try:
        usage = subprocess.run([uv, "help", "pip", "install"], capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return "UV_NATIVE_TLS"
    return "UV_SYSTEM_CERTS" if "UV_SYSTEM_CERTS" in usage else "UV_NATIVE_TLS"


def _run_uv(args: list[str], progress: Progress, *, cwd: Path | None = None) -> tuple[int, list[str]]:
    """Run uv, passing each line it prints to ``progress``; returns its exit code and its last lines."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # uv would install into the environment stepfn runs in
    env.setdefault("UV_NO_PROGRESS", "1")  # progress bars are for terminals; the lines are enough in a log
    # Nor colours: the lines go to a job's log and into its FailureReason. A Jupyter kernel exports FORCE_COLOR,
    # and the control plane it starts (and the jobs that plane runs) inherit it.
    for forcing in ("FORCE_COLOR", "CLICOLOR_FORCE"):
        env.pop(forcing, None)
    env["NO_COLOR"] = "1"
    # The system's certificates, as pip uses them (a company CA included), under the name this uv reads.
    if "UV_SYSTEM_CERTS" not in env and "UV_NATIVE_TLS" not in env:
        env[_system_certs_variable(uv_binary())] = "1"
    process = subprocess.Popen([uv_binary(), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=cwd, stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    tail: list[str] = []
    for line in process.stdout:
        line = line.rstrip()
        if line:
            tail = [*tail[-19:], line]
            progress(f"  uv: {line}")
    return process.wait(), tail


def find_python(version: str) -> str | None:
    """An interpreter of ``major.minor`` on this machine: uv's search (PATH, uv-managed), then pyenv's."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        found = subprocess.run([uv_binary(), "python", "find", "--no-python-downloads", version],
                               capture_output=True, text=True, timeout=60, check=False)
        if found.returncode == 0 and found.stdout.strip():
            return found.stdout.strip()
    # pyenv's and uv's own installs, under $HOME and under the account's home (a clean environment may point
    # HOME elsewhere; the interpreters are still on this machine).
    homes = {os.path.expanduser("~"), pwd.getpwuid(os.getuid()).pw_dir}
    patterns = [os.path.join(os.environ.get("PYENV_ROOT", "/nonexistent"), "versions", f"{version}.*")]
    for home in sorted(homes):
        patterns += [os.path.join(home, ".pyenv", "versions", f"{version}.*"),
                     os.path.join(home, ".local", "share", "uv", "python", f"cpython-{version}.*")]
    for pattern in patterns:
        candidates = sorted(glob.glob(os.path.join(pattern, "bin", f"python{version}")))
        if candidates:
            return candidates[-1]
    return None


def ensure_environment(spec: FrameworkEnvironment, progress: Progress) -> Path:
    """The directory of ``spec``'s environment, built first if it is not there yet."""
    root = environments_root() / spec.key
    if (root / _COMPLETE).is_file():
        return root
    with _locked(root.with_name(root.name + ".lock")):
        if (root / _COMPLETE).is_file():  # another job built it while this one waited
            return root
        started = time.monotonic()
        progress(f"stepfn: building the {spec.framework} {spec.version} environment (Python {spec.python}, "
                 f"{' '.join(spec.packages)}) in {root}; jobs reuse it")
        if root.exists():
            shutil.rmtree(root)  # a build that did not finish
        python = find_python(spec.python)
        code, tail = _run_uv(["venv", "--relocatable", "--no-project", "--python", python or spec.python, str(root)],
                              progress)
        if code != 0:
            shutil.rmtree(root, ignore_errors=True)
            if python is not None:
                raise JobEnvironmentError(f"cannot make a virtual environment with {python}: {_summary(tail)}")
            raise JobEnvironmentError(
                f"Python {spec.python} (the {spec.framework} {spec.version} image's) is not on this machine and uv "
                f"could not download it: {_summary(tail)}. Install it (uv python install {spec.python}, "
                f"pyenv, your package manager), or set {JOB_ENV}=host to run the job in stepfn's own Python.")
        # pip too: the SDK's processing driver (runproc.sh) runs `pip install -r requirements.txt` itself.
        args = ["pip", "install", "--python", str(root / "bin" / "python"), "pip", *spec.packages]
        index = ["--extra-index-url", spec.index] if spec.index else []  # before PyPI: CPU builds, no CUDA
        code, tail = _run_uv([*args, *index], progress)
        if code != 0 and spec.index and any(spec.index.split("/")[2] in line for line in tail):
            progress(f"stepfn: {spec.index} cannot be reached; installing the same versions from PyPI "
                     "(their Linux builds bring CUDA libraries: a larger download)")
            code, tail = _run_uv(args, progress)
        if code != 0:
            shutil.rmtree(root, ignore_errors=True)
            raise JobEnvironmentError(
                f"cannot install the {spec.framework} {spec.version} packages ({' '.join(spec.packages)}) for "
                f"Python {spec.python}: {_summary(tail)}. They come from PyPI"
                f"{' and ' + spec.index if spec.index else ''}: connect once (uv caches them), point uv at a "
                f"mirror (UV_INDEX_URL, UV_FIND_LINKS), or set {JOB_ENV}=host.")
        (root / _COMPLETE).write_text(json.dumps({
            "framework": spec.framework, "version": spec.version, "python": spec.python,
            "packages": list(spec.packages), "index": spec.index, "source": spec.source,
            "seconds": round(time.monotonic() - started, 1)}))
        progress(f"stepfn: environment ready in {time.monotonic() - started:.1f} s")
    return root


def ensure_requirements(environment: JobEnvironment, requirements: Path, progress: Progress) -> Path:
    """The layer holding ``requirements.txt`` for ``environment`` (installed first if no job made it yet)."""
    assert environment.root is not None and environment.spec is not None
    text = requirements.read_bytes()
    digest = hashlib.sha256(text + environment.root.name.encode()).hexdigest()[:16]
    layer = environment.root.with_name(f"{environment.root.name}-req-{digest}")
    if (layer / _COMPLETE).is_file():
        progress(f"stepfn: requirements.txt layer {layer.name} (already installed)")
        return layer
    with _locked(layer.with_name(layer.name + ".lock")):
        if (layer / _COMPLETE).is_file():
            return layer
        if layer.exists():
            shutil.rmtree(layer)
        layer.mkdir(parents=True)
        constraints = layer / "constraints.txt"
        constraints.write_text("\n".join(environment.spec.packages) + "\n")
        progress(f"stepfn: installing requirements.txt into {layer.name} (reused by jobs with the same file)")
        args = ["pip", "install", "--python", str(environment.python), "--target", str(layer / "site-packages"),
                "-r", str(requirements), "--constraint", str(constraints)]
        if environment.spec.index:
            args += ["--extra-index-url", environment.spec.index]
        code, tail = _run_uv(args, progress, cwd=requirements.parent)
        if code != 0:
            shutil.rmtree(layer, ignore_errors=True)
            raise JobEnvironmentError(f"uv pip install -r requirements.txt failed: {' / '.join(tail[-5:])}")
        (layer / _COMPLETE).write_text(json.dumps({"requirements": text.decode(errors="replace")}))
    return layer


__all__ = [
    "ENV_DIR",
    "JOB_ENV",
    "JobEnvironment",
    "JobEnvironmentError",
    "ensure_environment",
    "ensure_requirements",
    "environment_for_image",
    "environments_root",
    "find_python",
    "installed_version",
    "job_env_mode",
    "pinned_version",
    "same_release",
    "spec_for_image",
]
