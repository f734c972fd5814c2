"""Image URI lookup from data tables, following sagemaker v2 ``image_uris.retrieve`` (docs/design/compat.md §6.1, docs/design/sagemaker-contract.md §6).

The tables in ``image_uris.json`` list account ids per region and the known versions for the frameworks and
built-in algorithms stepfn builds requests for. A URI is ``{account}.dkr.ecr.{region}.{domain}/{repository}:{tag}``
with the tag parts joined by ``-`` and empty parts dropped. Nothing is pulled or checked remotely.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["processor_for_instance_type", "retrieve", "rule_evaluator_image"]

_EMPTY_INSTANCE_TYPE = (
    "Empty SageMaker instance type. For options, see: https://aws.amazon.com/sagemaker/pricing/instance-types"
)


@cache
def _tables() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("image_uris.json").read_text(encoding="utf-8")
    tables: dict[str, Any] = json.loads(text)
    return tables


def _domain(region: str) -> str:
    return "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"


def _account(registries: dict[str, str], region: str, what: str) -> str:
    try:
        return registries[region]
    except KeyError:
        known = ", ".join(sorted(registries))
        raise ValueError(
            f"Unsupported region for {what}: {region!r}. stepfn knows these regions: {known}. "
            "Pass image_uri= to use another registry."
        ) from None


def _uri(account: str, region: str, repository: str, *tag_parts: str | None) -> str:
    tag = "-".join(part for part in tag_parts if part)
    return f"{account}.dkr.ecr.{region}.{_domain(region)}/{repository}:{tag}"


def processor_for_instance_type(instance_type: str | None) -> str:
    """``gpu`` for ``ml.p*``/``ml.g*`` instances, ``cpu`` otherwise; an empty type is an error, as in v2."""
    if not instance_type:
        raise ValueError(_EMPTY_INSTANCE_TYPE)
    if not isinstance(instance_type, str):
        raise ValueError(
            "instance_type must be a concrete string to look up an image URI; pass image_uri= when the "
            "instance type is a placeholder."
        )
    if instance_type.startswith("local"):
        return "gpu" if instance_type == "local_gpu" else "cpu"
    family = instance_type.split(".")[1] if "." in instance_type else instance_type
    return "gpu" if family.startswith(("p", "g")) else "cpu"


def _resolve_version(table: dict[str, Any], scope: dict[str, Any], framework: str, version: str | None) -> str:
    versions = scope["versions"]
    if version is None:
        raise ValueError(f"framework_version is required to look up the {framework} image.")
    if version in versions:
        return version
    alias = table.get("aliases", {}).get(version)
    if alias is not None and alias in versions:
        return str(alias)
    raise ValueError(
        f"Unsupported {framework} version: {version}. Supported {framework} version(s): {', '.join(versions)}."
    )


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.replace("-", ".").split(".") if part.isdigit())


def retrieve(
    framework: str,
    region: str,
    version: str | None = None,
    py_version: str | None = None,
    instance_type: str | None = None,
    image_scope: str | None = "training",
    base_framework_version: str | None = None,
) -> str:
    """The ECR image URI for ``framework`` (a framework name or a built-in algorithm repository) in ``region``."""
    tables = _tables()
    algorithms = tables["algorithms"]
    if framework in algorithms["repositories"]:
        registries = algorithms["registries"].get(framework, algorithms["registries"]["default"])
        return _uri(_account(registries, region, framework), region, algorithms["repositories"][framework], "1")
    try:
        table = tables["frameworks"][framework]
    except KeyError:
        raise ValueError(f"Unsupported framework: {framework}.") from None
    scope_name = image_scope or "training"
    try:
        scope = table["scopes"][scope_name]
    except KeyError:
        raise ValueError(f"Unsupported image scope for {framework}: {scope_name}.") from None
    if framework == "huggingface":
        return _huggingface(table, scope, scope_name, region, version, py_version, instance_type,
                            base_framework_version)
    resolved = _resolve_version(table, scope, framework, version)
    processor = scope.get("processor") or processor_for_instance_type(instance_type)
    allowed_py = scope.get("py_versions", [])
    if allowed_py and py_version is not None and py_version not in allowed_py:
        raise ValueError(
            f"Unsupported Python version: {py_version}. Supported Python version(s): {', '.join(allowed_py)}."
        )
    registries = table["registries"]
    repository = scope["repository"]
    legacy_before = scope.get("legacy_before")
    if legacy_before is not None and _version_key(resolved) < _version_key(legacy_before):
        registries = table["legacy_registries"]
        repository = scope["legacy_repository"]
        resolved = version or resolved
    account = _account(registries, region, framework)
    bare_from = scope.get("bare_tag_from")
    if bare_from is not None and _version_key(resolved) >= _version_key(bare_from):
        return _uri(account, region, repository, resolved)
    py_part = py_version if allowed_py else None
    return _uri(account, region, repository, resolved, processor, py_part)


def _huggingface(
    table: dict[str, Any],
    scope: dict[str, Any],
    scope_name: str,
    region: str,
    transformers_version: str | None,
    py_version: str | None,
    instance_type: str | None,
    base_framework_version: str | None,
) -> str:
    versions = scope["versions"]
    if transformers_version not in versions:
        raise ValueError(
            f"Unsupported huggingface version: {transformers_version}. "
            f"Supported huggingface version(s): {', '.join(versions)}."
        )
    bases = versions[transformers_version]
    if base_framework_version is None or base_framework_version not in bases:
        raise ValueError(
            f"Unsupported base framework {base_framework_version} for transformers {transformers_version}. "
            f"Supported: {', '.join(bases)}."
        )
    expected_py, container = bases[base_framework_version]
    if py_version is not None and py_version != expected_py:
        raise ValueError(f"Unsupported Python version: {py_version}. Supported Python version(s): {expected_py}.")
    base_name = "pytorch" if base_framework_version.startswith("pytorch") else "tensorflow"
    base_version = base_framework_version[len(base_name):]
    repository = f"huggingface-{base_name}-{scope_name}"
    processor = processor_for_instance_type(instance_type)
    if processor == "cpu":
        container = container.split("-", 1)[1]
    tag_version = f"{base_version}-transformers{transformers_version}"
    account = _account(table["registries"], region, "huggingface")
    return _uri(account, region, repository, tag_version, processor, expected_py, container)


def rule_evaluator_image(region: str) -> str:
    """The SageMaker Debugger built-in rule evaluator image for ``region``."""
    debugger = _tables()["debugger"]
    account = _account(debugger["registries"], region, "SageMaker Debugger rules")
    return _uri(account, region, debugger["repository"], debugger["tag"])
