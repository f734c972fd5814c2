"""``image_uris.retrieve``: sagemaker v2's image URI lookup over sagemaker v2's own image tables (compat §6.1).

``image_uri_config.json`` holds every image config of sagemaker v2's ``src/sagemaker/image_uri_config/`` (rebuilt
with ``tools/image_uri_tables.py``; each distinct region -> account map is stored once and named). The lookup
follows v2's rules, so a ported notebook gets the URI v2 gave it:

* the scope: a config either lists ``scope`` (one set of versions for all of them) or holds one table per scope;
  a lone scope is used whatever was asked, and XGBoost/scikit-learn default to ``training``;
* the version: a lone version is used when none is given, ``version_aliases`` map ``latest``/``1.13`` & co. to a
  version's table while the tag keeps what the caller wrote, and no version means the newest;
* the Python version (a lone one is the default), the processor (``cpu``/``gpu``, or the instance family when a
  table names families, as the ``c5``/``p3`` images do), a ``container_version`` suffix, ``tag_prefix``;
* the registry host ``{account}.dkr.ecr.{region}.{dns suffix of the region's partition}``.

Nothing is pulled or checked remotely. Errors are v2's ``Unsupported {what}: {value}. ...`` ValueErrors.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from stepfn._partitions import partition_for_region

__all__ = ["processor_for_instance_type", "retrieve", "rule_evaluator_image"]

_EMPTY_INSTANCE_TYPE = (
    "Empty SageMaker instance type. For options, see: https://aws.amazon.com/sagemaker/pricing/instance-types"
)
# DNS suffixes of the partitions' ECR endpoints (botocore's endpoint data; v2 asks botocore's resolver).
_DNS_SUFFIX = {
    "aws": "amazonaws.com",
    "aws-cn": "amazonaws.com.cn",
    "aws-us-gov": "amazonaws.com",
    "aws-iso": "c2s.ic.gov",
    "aws-iso-b": "sc2s.sgov.gov",
    "aws-iso-e": "cloud.adc-e.uk",
    "aws-iso-f": "csp.hci.ic.gov",
}
# Instance families with Graviton (arm64) images, and the frameworks that have them (v2 ``fw_utils``).
_GRAVITON_FAMILIES = ("m6g", "m6gd", "c6g", "c6gd", "c6gn", "c7g", "r6g", "r6gd")
_GRAVITON_FRAMEWORKS = ("tensorflow", "pytorch", "xgboost", "sklearn")
_ARM64_TAGS = {"xgboost": {"1.5-1": "1.5-1-arm64", "1.3-1": "1.3-1-arm64"}, "sklearn": {"1.0-1": "1.0-1-arm64-cpu-py3"}}
# Repositories whose tag carries the Neuron SDK version before the container version.
_NEURON_SDK_REPOSITORIES = ("pytorch-training-neuron", "pytorch-training-neuronx", "huggingface-vllm-inference-neuronx",
                            "huggingface-pytorch-inference-neuron", "huggingface-pytorch-inference-neuronx")
# v2 picks a newer CUDA build for p4d instances; these tags need a suffix there.
_P4D_CONTAINER_VERSIONS = {
    "tensorflow-2.3-gpu-py37": "cu110-ubuntu18.04-v3",
    "tensorflow-2.3.1-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-2.3.2-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-1.15-gpu-py37": "cu110-ubuntu18.04-v8",
    "tensorflow-1.15.4-gpu-py37": "cu110-ubuntu18.04",
    "tensorflow-1.15.5-gpu-py37": "cu110-ubuntu18.04",
    "mxnet-1.8-gpu-py37": "cu110-ubuntu16.04-v1",
    "mxnet-1.8.0-gpu-py37": "cu110-ubuntu16.04",
    "pytorch-1.6-gpu-py36": "cu110-ubuntu18.04-v3",
    "pytorch-1.6.0-gpu-py36": "cu110-ubuntu18.04",
    "pytorch-1.6-gpu-py3": "cu110-ubuntu18.04-v3",
    "pytorch-1.6.0-gpu-py3": "cu110-ubuntu18.04",
}


@cache
def _tables() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("image_uri_config.json").read_text(encoding="utf-8")
    tables: dict[str, Any] = json.loads(text)
    return tables


def frameworks() -> list[str]:
    """Every framework and algorithm name ``retrieve`` knows (sagemaker v2's config file names)."""
    return sorted(_tables()["configs"])


def config_for_framework(framework: str) -> dict[str, Any]:
    """sagemaker v2's config for ``framework`` (registry maps still named; see ``registries_of``)."""
    try:
        config: dict[str, Any] = _tables()["configs"][framework]
    except KeyError:
        raise ValueError(f"Unsupported framework: {framework}. Supported framework(s): "
                         f"{', '.join(frameworks())}.") from None
    return config


def registries_of(table: dict[str, Any]) -> dict[str, str]:
    """The region -> account map of a version table."""
    registries = table["registries"]
    pooled: dict[str, str] = _tables()["registries"][registries] if isinstance(registries, str) else registries
    return pooled


def _check(value: Any, options: Any, what: str) -> None:
    options = list(options)
    if value not in options:
        raise ValueError(
            f"Unsupported {what}: {value}. You may need to upgrade stepfn for newer {what}s. "
            f"Supported {what}(s): {', '.join(str(option) for option in options)}."
        )


def instance_family(instance_type: Any) -> str:
    """``ml.c5.xlarge`` -> ``c5`` (also ``ml_c5``); ``""`` when it is no SageMaker instance type."""
    if isinstance(instance_type, str):
        match = re.match(r"^ml[._]([a-z\d\-]+)\.?\w*$", instance_type)
        if match is not None:
            return match[1]
    return ""


def processor_for_instance_type(instance_type: Any, available: list[str] | None = None) -> str:
    """The processor part of a tag: ``cpu``/``gpu`` (``ml.p*``/``ml.g*``), or the family when ``available``
    lists it; ``local`` is cpu and ``local_gpu`` gpu. An empty type is an error, as in v2."""
    if not instance_type:
        raise ValueError(_EMPTY_INSTANCE_TYPE)
    if not isinstance(instance_type, str):
        raise ValueError(
            "instance_type must be a concrete string to look up an image URI; pass image_uri= when the "
            "instance type is a placeholder."
        )
    if instance_type.startswith("local"):
        return "cpu" if instance_type == "local" else "gpu"
    if instance_type.startswith("neuron"):
        return "neuron"
    family = instance_family(instance_type)
    if not family:
        raise ValueError(f"Invalid SageMaker instance type: {instance_type}. For options, see: "
                         "https://aws.amazon.com/sagemaker/pricing/instance-types")
    if available and family in available:
        return family
    for prefix in ("inf", "trn"):
        if family.startswith(prefix):
            return prefix
    return "gpu" if family[0] in ("g", "p") else "cpu"


def _processor(instance_type: Any, available: list[str] | None) -> str | None:
    if not available:
        return None
    if len(available) == 1 and not instance_type:
        return available[0]
    processor = processor_for_instance_type(instance_type, available)
    _check(processor, available, "processor")
    return processor


def _scope_config(config: dict[str, Any], framework: str, image_scope: str | None,
                  accelerator_type: str | None) -> dict[str, Any]:
    if accelerator_type:
        if not accelerator_type.startswith("ml.eia") and accelerator_type != "local_sagemaker_notebook":
            raise ValueError(f"Invalid SageMaker Elastic Inference accelerator type: {accelerator_type}. "
                             "See https://docs.aws.amazon.com/sagemaker/latest/dg/ei.html")
        image_scope = "eia"
    scopes = config.get("scope", list(config))
    if len(scopes) == 1:
        image_scope = scopes[0]
    if not image_scope and "scope" in config and set(scopes) == {"training", "inference"}:
        image_scope = scopes[0]
    _check(image_scope, scopes, "image scope")
    if "scope" in config:
        return config
    scoped: dict[str, Any] = config[str(image_scope)]
    return scoped


def _final_scope(framework: str, instance_type: Any, image_scope: str | None) -> str | None:
    if framework in _GRAVITON_FRAMEWORKS and instance_family(instance_type) in _GRAVITON_FAMILIES:
        return "inference_graviton"
    if image_scope is None and framework in ("xgboost", "sklearn"):
        # Their tables have no top-level scope list; training and inference images are the same.
        return "training"
    return image_scope


def _version_key(version: str) -> tuple[int, ...]:
    """Numeric parts with trailing zeros dropped, so ``0.11`` and ``0.11.0`` compare equal (as PEP 440 has it)."""
    parts = [int(part) for part in re.findall(r"\d+", version)]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _latest_version(config: dict[str, Any], framework_config: dict[str, Any], image_scope: str | None) -> str:
    scoped = framework_config.get(image_scope) if image_scope else None
    latest = scoped.get("version_aliases", {}).get("latest") if isinstance(scoped, dict) else None
    if latest:
        return str(latest)
    versions: list[str] = [v for v in config["versions"] if v != "latest"]
    if len(config["versions"]) == 1:
        return str(next(iter(config["versions"])))
    if not versions:
        raise ValueError("No version to default to; pass version=.")
    top, bottom = versions[0], versions[-1]
    if top.endswith(".x") or bottom.endswith(".x"):
        return f"{max(int(top[:-2]), int(bottom[:-2]))}.x"
    return top if _version_key(top) >= _version_key(bottom) else bottom


def _resolve_version(version: str | None, config: dict[str, Any], framework: str,
                     framework_config: dict[str, Any], image_scope: str | None) -> str:
    available: list[str] = list(config["versions"])
    aliases: list[str] = list(config.get("version_aliases", {}))
    if len(available) == 1 and version not in aliases:
        return available[0]
    if not version:
        version = _latest_version(config, framework_config, image_scope)
    _check(version, available + aliases, f"{framework} version")
    return version


def _py_version(py_version: str | None, version_config: dict[str, Any], framework: str) -> str | None:
    available = version_config.get("py_versions") if "repository" in version_config else list(version_config)
    if not available:
        return None
    if py_version is None and framework == "spark":
        return None
    if py_version is None and len(available) == 1:
        return str(available[0])
    _check(py_version, available, "Python version")
    return py_version


def _host(region: str) -> str:
    return f"ecr.{region}.{_DNS_SUFFIX.get(partition_for_region(region), 'amazonaws.com')}"


def retrieve(
    framework: str,
    region: str,
    version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    accelerator_type: str | None = None,
    image_scope: str | None = None,
    container_version: str | None = None,
    distribution: dict[str, Any] | None = None,
    base_framework_version: str | None = None,
    training_compiler_config: Any = None,
    sdk_version: str | None = None,
    inference_tool: str | None = None,
    serverless_inference_config: Any = None,
) -> str:
    """The ECR image URI of ``framework`` in ``region``, as sagemaker v2's ``image_uris.retrieve`` (same
    arguments, minus the JumpStart ones)."""
    lookup = framework
    if training_compiler_config and framework in ("huggingface", "pytorch"):
        lookup = f"{framework}-training-compiler"
        final_scope = image_scope
    else:
        if framework in ("huggingface", "pytorch"):
            family = instance_family(instance_type)
            if not inference_tool and family.startswith(("inf", "trn")):
                inference_tool = "neuron"
            if inference_tool in ("neuron", "neuronx"):
                lookup = f"{framework}-{inference_tool}"
        final_scope = _final_scope(framework, instance_type, image_scope)
    framework_config = config_for_framework(lookup)
    config = _scope_config(framework_config, lookup, final_scope, accelerator_type)
    original_version = version
    version = _resolve_version(version, config, framework, framework_config, image_scope)
    version_config: dict[str, Any] = config["versions"][config.get("version_aliases", {}).get(version, version)]
    if framework == "huggingface":
        base = version_config.get("version_aliases", {}).get(base_framework_version, base_framework_version)
        _check(base, [key for key in version_config if key != "version_aliases"], "base framework")
        version_config = version_config[base]
    py_version = _py_version(py_version, version_config, framework)
    version_config = version_config.get(py_version or "", version_config) if py_version else version_config
    registries = registries_of(version_config)
    _check(region, registries, "region")
    repository: str = version_config["repository"]
    processor = _processor(instance_type, config.get("processors") or version_config.get("processors"))
    if serverless_inference_config is not None and processor is not None:
        processor = "cpu"
    if version_config.get("container_version"):
        container_version = version_config["container_version"][processor]
    if repository in _NEURON_SDK_REPOSITORIES:
        if not sdk_version:
            sdk_version = sorted(version_config["sdk_versions"], reverse=True)[0]
        container_version = f"{sdk_version}-{container_version}"
    if framework == "huggingface":
        tag_prefix = _huggingface_tag_prefix(framework_config, repository, original_version, version,
                                             base_framework_version)
    else:
        tag_prefix = version_config.get("tag_prefix", version)
    if repository == f"{framework}-inference-graviton":
        container_version = f"{container_version}-sagemaker"
    _check_instance_framework(framework, instance_type)
    tag = _tag(framework, final_scope, instance_type, distribution, version, tag_prefix, processor, py_version,
               container_version, inference_tool)
    uri = f"{registries[region]}.dkr.{_host(region)}/{repository}"
    return f"{uri}:{tag}" if tag else uri


def _check_instance_framework(framework: str, instance_type: Any) -> None:
    """Trainium and Graviton instances take only some frameworks (v2 ``_validate_instance_deprecation``)."""
    # v2 tests ``framework in "pytorch"`` (a substring test on a string), so only pytorch and its prefixes
    # pass for Trainium; ``pytorch-neuron`` asked for directly does not.
    if isinstance(instance_type, str) and "trn" in instance_type and framework not in "pytorch":
        raise ValueError(f"Unsupported framework: {framework}. Supported framework(s) for Trainium instances: "
                         "pytorch.")
    if instance_family(instance_type) in _GRAVITON_FAMILIES and framework not in _GRAVITON_FRAMEWORKS:
        raise ValueError(f"Unsupported framework: {framework}. Supported framework(s) for Graviton instances: "
                         f"{', '.join(_GRAVITON_FRAMEWORKS)}.")


def _huggingface_tag_prefix(framework_config: dict[str, Any], repository: str, original_version: str | None,
                            version: str, base_framework_version: str | None) -> str:
    match = re.match(r"^(pytorch|tensorflow)(.*)$", base_framework_version or "")
    if match is None:
        raise ValueError(f"Unsupported base framework: {base_framework_version}.")
    base_version = match[2]
    tag_version = original_version
    if repository in ("huggingface-pytorch-trcomp-training", "huggingface-tensorflow-trcomp-training"):
        tag_version = version
    if repository in ("huggingface-pytorch-inference-neuron", "huggingface-pytorch-inference-neuronx"):
        tag_version = framework_config.get("version_aliases", {}).get(original_version, original_version)
        aliased = framework_config.get("versions", {}).get(tag_version, {}).get("version_aliases", {}).get(
            base_framework_version)
        if aliased:
            base_version = re.sub(r"^(pytorch|tensorflow)", "", aliased)
    return f"{base_version}-transformers{tag_version}"


def _tag(framework: str, scope: str | None, instance_type: Any, distribution: dict[str, Any] | None, version: str,
         tag_prefix: str, processor: str | None, py_version: str | None, container_version: str | None,
         inference_tool: str | None) -> str:
    family = instance_family(instance_type)
    middle = inference_tool or processor
    tag = "-".join(part for part in (tag_prefix, middle, py_version, container_version) if part)
    if framework in ("xgboost", "sklearn"):
        if family and scope == "inference_graviton":
            _check(family, _GRAVITON_FAMILIES, "instance type")
        if family in _GRAVITON_FAMILIES or scope == "inference_graviton":
            return _ARM64_TAGS[framework][version]
        return tag
    if instance_type is not None and (family == "p4d" or "smdistributed" in (distribution or {})):
        suffix = _P4D_CONTAINER_VERSIONS.get(f"{framework}-{tag}")
        if suffix:
            tag = f"{tag}-{suffix}"
    if framework == "sagemaker-tritonserver" and processor == "gpu":
        tag = tag.removesuffix("-gpu")
    return tag


def rule_evaluator_image(region: str) -> str:
    """The SageMaker Debugger built-in rule evaluator image for ``region``."""
    return retrieve("debugger", region)
