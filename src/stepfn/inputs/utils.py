"""Schema helpers kept under the original's name (``stepfunctions.inputs.utils``, docs/design/compat.md §1)."""

from __future__ import annotations

from typing import Any


def flatten(input: dict[Any, Any], parent_key: str = "", sep: str = ".") -> dict[str, Any]:
    """Flatten nested dicts into one level whose keys join the names with ``sep`` (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``)."""
    items: dict[str, Any] = {}
    for key, value in input.items():
        new_key = f"{parent_key}{sep}{key}" if parent_key else str(key)
        if isinstance(value, dict):
            items.update(flatten(value, new_key, sep=sep))
        else:
            items[new_key] = value
    return items


def replace_type_with_str(schema: dict[Any, Any]) -> dict[Any, Any]:
    """The schema with each type replaced by its ``__name__`` (``int`` -> ``"int"``), for JSON export."""
    return {
        key: replace_type_with_str(value) if isinstance(value, dict) else value.__name__
        for key, value in schema.items()
    }


__all__ = ["flatten", "replace_type_with_str"]
