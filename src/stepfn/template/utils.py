"""Parameter rewriting used by the workflow templates (``stepfunctions.template.utils``, docs/design/compat.md §8)."""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["replace_parameters_with_context_object", "replace_parameters_with_jsonpath"]


def replace_parameters_with_context_object(step: Any) -> dict[str, str]:
    """``{"<key>.$": "$$.Execution.Input['<state_id>'].<key>"}`` for each top-level key of the step's Parameters."""
    return {
        f"{key}.$": f"$$.Execution.Input['{step.state_id}'].{key}"
        for key in (step.parameters or {})
    }


def replace_parameters_with_jsonpath(step: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the step's Parameters with the ``"<key>.$"`` entries of ``params`` put in place, recursively."""

    def merge(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
        result = dict(target)
        for key, value in source.items():
            if key.endswith(".$"):
                # The path entry takes the plain key's place, so the key order stays as written.
                result = {(key if k == key[:-2] else k): (value if k == key[:-2] else v) for k, v in result.items()}
                result[key] = value
            elif isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merge(result[key], value)
        return result

    return merge(copy.deepcopy(step.parameters or {}), params)
