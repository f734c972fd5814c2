"""CreateModel and CreateEndpointConfig kept as Describe*-shaped records, and a model made ready to serve.

``create_model`` / ``create_endpoint_config`` validate what SageMaker validates (names, required members,
referenced models) and store DescribeModel / DescribeEndpointConfig records (docs/design/sagemaker-contract.md §2.3).
``prepare_variant`` turns a stored model into what the model server (``inference.py``) loads: the
``ModelDataUrl`` archive extracted safely (no member may leave the model directory), the entry program
located from ``SAGEMAKER_PROGRAM`` / ``SAGEMAKER_SUBMIT_DIRECTORY`` (a ``code/`` directory inside the model
archive, a ``sourcedir.tar.gz`` in the object store, or a local directory), and the framework whose default
handlers apply when the program leaves one out (docs/design/sagemaker-contract.md §4.1).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stepfn.errors import ServiceError, StoreError
from stepfn.local.objectstore import ObjectStore
from stepfn.local.sagemaker.envs import (
    JobEnvironmentError,
    ensure_requirements,
    environment_for_image,
    job_env_mode,
    spec_for_image,
)
from stepfn.local.sagemaker.images import UnknownImageError, repository_of, resolve_image
from stepfn.local.sagemaker.jobdir import safe_extract
from stepfn.local.sagemaker.records import RecordStore, arn, check_name, now_millis, sagemaker_error

_MODEL_MEMBERS = (
    "PrimaryContainer", "Containers", "InferenceExecutionConfig", "ExecutionRoleArn", "VpcConfig",
    "EnableNetworkIsolation",
)
_CONFIG_MEMBERS = (
    "ProductionVariants", "DataCaptureConfig", "KmsKeyId", "AsyncInferenceConfig", "ExplainerConfig",
    "ShadowProductionVariants", "ExecutionRoleArn", "VpcConfig", "EnableNetworkIsolation",
)

# Repository name (the part of the image URI after the registry) -> local serving defaults.
_FRAMEWORKS = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "xgboost": "xgboost",
    "pytorch-inference": "pytorch",
    "sagemaker-pytorch": "pytorch",
    "tensorflow-inference": "tensorflow",
    "sagemaker-tensorflow-serving": "tensorflow",
    "huggingface-pytorch-inference": "huggingface",
    "huggingface-tensorflow-inference": "huggingface",
    "kmeans": "kmeans",
    "pca": "pca",
    "linear-learner": "linear-learner",
    "blazingtext": "blazingtext",
}


def _missing(operation: str, member: str) -> ServiceError:
    return sagemaker_error(
        operation, "ValidationException",
        f"1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null",
    )


def create_model(records: RecordStore, params: dict[str, Any]) -> dict[str, Any]:
    """CreateModel: stores the DescribeModel record, returns ``{"ModelArn": ...}``."""
    name = check_name("model", params.get("ModelName"), "CreateModel", "ModelName")
    containers = _containers(params)
    if not containers:
        raise sagemaker_error(
            "CreateModel", "ValidationException",
            "Either PrimaryContainer or Containers must be specified.",
        )
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not (container.get("Image") or container.get("ModelPackageName")):
            raise sagemaker_error(
                "CreateModel", "ValidationException",
                f"Container {index + 1} needs an Image (or a ModelPackageName).",
            )
    model_arn = arn("model", name)
    record: dict[str, Any] = {"ModelName": name}
    record.update({key: params[key] for key in _MODEL_MEMBERS if key in params})
    record.update({"CreationTime": now_millis(), "ModelArn": model_arn})
    records.create("model", name, record, operation="CreateModel")
    return {"ModelArn": model_arn}


def create_endpoint_config(records: RecordStore, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEndpointConfig: every variant must name an existing model, as SageMaker checks."""
    operation = "CreateEndpointConfig"
    name = check_name("endpoint-config", params.get("EndpointConfigName"), operation, "EndpointConfigName")
    variants = params.get("ProductionVariants")
    if not isinstance(variants, list) or not variants:
        raise _missing(operation, "productionVariants")
    if len(variants) > 10:
        raise sagemaker_error(
            operation, "ValidationException",
            "1 validation error detected: Value at 'productionVariants' failed to satisfy constraint: "
            "Member must have length less than or equal to 10",
        )
    seen: set[str] = set()
    for variant in variants:
        variant_name = variant.get("VariantName") if isinstance(variant, dict) else None
        if not variant_name:
            raise _missing(operation, "productionVariants.member.variantName")
        if variant_name in seen:
            raise sagemaker_error(operation, "ValidationException", f"Variant name {variant_name} is not unique.")
        seen.add(variant_name)
        model_name = variant.get("ModelName")
        if not model_name:
            raise _missing(operation, "productionVariants.member.modelName")
        if records.get("model", model_name) is None:
            raise sagemaker_error(operation, "ValidationException", f'Could not find model "{arn("model", model_name)}".')
    config_arn = arn("endpoint-config", name)
    record: dict[str, Any] = {"EndpointConfigName": name, "EndpointConfigArn": config_arn}
    record.update({key: params[key] for key in _CONFIG_MEMBERS if key in params})
    record["CreationTime"] = now_millis()
    records.create("endpoint-config", name, record, operation=operation)
    return {"EndpointConfigArn": config_arn}


def _containers(model: dict[str, Any]) -> list[dict[str, Any]]:
    if model.get("Containers"):
        return list(model["Containers"])
    return [model["PrimaryContainer"]] if model.get("PrimaryContainer") else []


# -- making a model servable -------------------------------------------------------------------------------


def framework_of(image: str | None) -> str | None:
    """The local serving defaults for an image URI (``.../sagemaker-xgboost:1.7-1`` -> ``xgboost``), or None."""
    if not image:
        return None
    return _FRAMEWORKS.get(repository_of(image))


def _fetch_into(store: ObjectStore, uri: str, destination: Path, scratch: Path) -> None:
    """Put the model data at ``uri`` (a tar.gz object, a prefix or a local path) into ``destination``."""
    if "://" not in uri or uri.startswith("file://"):
        local = store.local_path(uri)
        if local.is_dir():
            shutil.copytree(local, destination, dirs_exist_ok=True)
            return
    if uri.endswith((".tar.gz", ".tgz", ".tar")):
        scratch.mkdir(parents=True, exist_ok=True)
        archive = store.download(uri, scratch)
        safe_extract(archive, destination)
        archive.unlink(missing_ok=True)
        return
    store.download(uri if uri.endswith("/") else uri + "/", destination)


# The frameworks the handler host (handlerhost.py) serves: the handler chain's defaults, and TF Serving's contract.
_HOSTED_FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "huggingface", "tensorflow")


def _discard(line: str) -> None:
    return None


def serving_environment(image: str | None, framework: str | None, program: str | None, code_dir: Path,
                        progress: Callable[[str], None]) -> dict[str, str]:
    """``{"Python": ..., "PythonPath": ...}`` when the model is served by a handler host in its image's framework
    environment, else ``{}`` (stepfn's own Python serves it, as before).

    The environment is the one a job of the image runs in (``envs.environment_for_image``, under the same
    ``STEPFN_JOB_ENV``: under ``auto``, stepfn's Python only where its framework is the image's release), so a
    model is served where it was trained. XGBoost without an entry point is
    algorithm mode, which stepfn's emulator serves, as it trains it. Under ``auto`` an image version the table
    does not know is served in stepfn's Python, as it was before framework environments existed."""
    if not image or framework not in _HOSTED_FRAMEWORKS or (framework == "xgboost" and program is None):
        return {}
    try:
        if spec_for_image(image) is None:
            return {}
    except JobEnvironmentError:
        if job_env_mode() != "image":
            return {}
        raise
    environment = environment_for_image(image, progress)
    if environment is None:
        return {}
    found = {"Python": str(environment.python)}
    requirements = code_dir / "requirements.txt"
    if requirements.is_file():
        found["PythonPath"] = str(ensure_requirements(environment, requirements, progress) / "site-packages")
    progress(f"stepfn: the model is served in the {framework} environment ({environment.python})")
    return found


def prepare_container(
    store: ObjectStore, container: dict[str, Any], workdir: Path, *, operation: str, home: Path | None = None,
    progress: Callable[[str], None] = _discard,
) -> dict[str, Any]:
    """Extract one ContainerDefinition under ``workdir``; returns the container spec the model server loads.
    ``progress`` gets the lines of a framework environment's build (the model's log)."""
    model_dir = workdir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    environment = {str(k): str(v) for k, v in (container.get("Environment") or {}).items()}
    try:
        if container.get("ModelDataUrl"):
            _fetch_into(store, container["ModelDataUrl"], model_dir, workdir / "download")
        elif (source := (container.get("ModelDataSource") or {}).get("S3DataSource")) is not None:
            uri = source["S3Uri"]
            if source.get("CompressionType") == "Gzip":
                _fetch_into(store, uri, model_dir, workdir / "download")
            else:
                store.download(uri, model_dir)
        # An empty SAGEMAKER_PROGRAM (a TensorFlowModel without entry_point) names no program.
        program = environment.get("SAGEMAKER_PROGRAM") or None
        code_dir = _code_dir(store, environment.get("SAGEMAKER_SUBMIT_DIRECTORY"), model_dir, workdir)
    except (StoreError, OSError) as exc:
        raise sagemaker_error(operation, "ValidationException", f"Could not prepare the model data: {exc}") from exc
    framework = framework_of(container.get("Image"))
    if framework == "tensorflow" and program is None and (code_dir / "inference.py").is_file():
        # The TF Serving container runs code/inference.py from the model whatever the environment says.
        program = "inference.py"
    if framework == "huggingface" and program is None and code_dir == model_dir / "code" \
            and (code_dir / "inference.py").is_file():
        # The Hugging Face toolkit imports the module "inference" from the model's code/ when
        # SAGEMAKER_PROGRAM names none (a model.tar.gz packed with code/inference.py by hand).
        program = "inference.py"
    command = _registered_command(container.get("Image"), home)
    if framework is None and program is None and command is None:
        raise sagemaker_error(
            operation, "ValidationException",
            f"Image {container.get('Image')!r} cannot be served locally: stepfn serves SageMaker's scikit-learn and "
            "XGBoost images, the kmeans/pca/linear-learner built-ins, any image whose model names an entry "
            "point (Environment SAGEMAKER_PROGRAM, with SAGEMAKER_SUBMIT_DIRECTORY or code/ in model.tar.gz), and "
            "images registered with stepfn.local.sagemaker.images.register_image(uri, command) (run as "
            "'<command> serve', listening on $SAGEMAKER_BIND_TO_PORT).",
        )
    if program is not None and command is None and not (code_dir / program).is_file():
        raise sagemaker_error(
            operation, "ValidationException",
            f"Entry point {program} (SAGEMAKER_PROGRAM) not found in {code_dir}",
        )
    try:
        hosted = {} if command is not None else serving_environment(
            container.get("Image"), framework, program, code_dir, progress)
    except JobEnvironmentError as exc:
        raise sagemaker_error(operation, "ValidationException", f"Cannot serve the model: {exc}") from exc
    return {
        **hosted,
        "ModelDir": str(model_dir),
        "CodeDir": str(code_dir),
        "Program": program,
        "Framework": framework or "generic",
        "Environment": environment,
        "Image": container.get("Image"),
        "Command": [*command, "serve"] if command else None,
    }


def _registered_command(image: str | None, home: Path | None) -> tuple[str, ...] | None:
    """The local command a user registered for ``image`` (``docker run <image> serve`` runs it), or None."""
    if not image:
        return None
    try:
        runtime = resolve_image(image, script_mode=True, home=home)
    except UnknownImageError:
        return None
    return runtime.command if runtime.kind == "command" else None


def _code_dir(store: ObjectStore, submit: str | None, model_dir: Path, workdir: Path) -> Path:
    """Where the entry program lives: SAGEMAKER_SUBMIT_DIRECTORY, else ``code/`` in the model (toolkit default)."""
    if not submit or submit.rstrip("/") in ("/opt/ml/model/code", "/opt/ml/model"):
        return model_dir / "code" if (model_dir / "code").is_dir() else model_dir
    if submit.endswith((".tar.gz", ".tgz")):
        code_dir = workdir / "code"
        scratch = workdir / "code-download"
        scratch.mkdir(parents=True, exist_ok=True)
        archive = store.download(submit, scratch)
        safe_extract(archive, code_dir)
        return code_dir
    local = store.local_path(submit)
    if local.is_dir():
        return local
    code_dir = workdir / "code"
    store.download(submit.rstrip("/") + "/", code_dir)
    return code_dir


def prepare_variant(
    records: RecordStore, store: ObjectStore, model_name: str, workdir: Path, *, operation: str,
    progress: Callable[[str], None] = _discard,
) -> list[dict[str, Any]]:
    """Every container of ``model_name`` ready to serve (more than one for a serial inference pipeline)."""
    model = records.get("model", model_name)
    if model is None:
        raise sagemaker_error(operation, "ValidationException", f'Could not find model "{arn("model", model_name)}".')
    containers = _containers(model)
    if len(containers) > 1 and (model.get("InferenceExecutionConfig") or {}).get("Mode") == "Direct":
        raise sagemaker_error(operation, "ValidationException",
                              "Direct-invocation multi-container models are not supported locally.")
    if workdir.exists():
        shutil.rmtree(workdir)
    return [
        prepare_container(store, container, workdir / f"container-{index}", operation=operation, home=records.home,
                          progress=progress)
        for index, container in enumerate(containers)
    ]


__all__ = [
    "create_endpoint_config",
    "create_model",
    "framework_of",
    "prepare_container",
    "prepare_variant",
    "serving_environment",
]
