"""Helpers kept under the original's module name (``stepfunctions.steps.utils``, docs/design/compat.md §1, §4)."""

from __future__ import annotations

from typing import Any

from stepfn.steps.integration_resources import get_aws_partition, get_service_integration_arn


def tags_dict_to_kv_list(tags_dict: dict[str, Any]) -> list[dict[str, Any]]:
    """``{k: v}`` -> ``[{"Key": k, "Value": v}]``, the shape AWS APIs take tags in."""
    return [{"Key": key, "Value": value} for key, value in tags_dict.items()]


def merge_dicts(target: dict[str, Any], source: dict[str, Any]) -> None:
    """Merge ``source`` into ``target`` in place, in source order.

    A new key is appended; dict into dict merges recursively; anything else overwrites in place (the
    key keeps its position).
    """
    if not isinstance(target, dict) or not isinstance(source, dict):
        return
    for key, value in source.items():
        if key in target and isinstance(target[key], dict) and isinstance(value, dict):
            merge_dicts(target[key], value)
        elif key not in target or target[key] != value:
            target[key] = value


__all__ = ["get_aws_partition", "get_service_integration_arn", "merge_dicts", "tags_dict_to_kv_list"]
