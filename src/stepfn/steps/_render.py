"""Turning stored field values into ASL values: where placeholders go and how they are spelled.

The original only replaced placeholders inside ``Parameters``. stepfn keeps those bytes and extends the
same idea to every field (docs/design/compat.md §10, §12):

* payload templates (Parameters, ResultSelector, ItemSelector, Assign, nested Parameters/BatchInput):
  a key ``K`` holding a placeholder becomes ``"K.$": <path>`` at the same position;
* a value field with a ``…Path`` twin (Seconds, TimeoutSeconds, MaxConcurrency, Error, …): the twin
  key replaces it at the same position;
* a ``…Path`` field: the placeholder's JSONPath;
* JSONata states: every placeholder becomes ``"{% <expression> %}"`` and no key is renamed.
"""

from __future__ import annotations

from typing import Any

from stepfn.inputs.placeholders import Expression
from stepfn.steps.intrinsics import encode_argument

JSONPATH = "JSONPath"
JSONATA = "JSONata"

_LIST_PLACEHOLDER = "A list that contains a Placeholder may only contain scalar values (str, int, float, bool, None)."

#: ASL keys whose values are payload templates in JSONPath states.
TEMPLATE_KEYS = frozenset({"Parameters", "ResultSelector", "ItemSelector", "Assign", "BatchInput", "Credentials"})

#: A placeholder given for the key on the left is emitted under the key on the right.
PATH_TWINS = {
    "Seconds": "SecondsPath",
    "Timestamp": "TimestampPath",
    "TimeoutSeconds": "TimeoutSecondsPath",
    "HeartbeatSeconds": "HeartbeatSecondsPath",
    "MaxConcurrency": "MaxConcurrencyPath",
    "Error": "ErrorPath",
    "Cause": "CausePath",
    "ToleratedFailurePercentage": "ToleratedFailurePercentagePath",
    "ToleratedFailureCount": "ToleratedFailureCountPath",
    "MaxItemsPerBatch": "MaxItemsPerBatchPath",
    "MaxInputBytesPerBatch": "MaxInputBytesPerBatchPath",
    "MaxItems": "MaxItemsPath",
}

#: State-level keys a JSONata state may not carry (they are JSONPath's ways of selecting data).
JSONPATH_ONLY_KEYS = frozenset(
    {
        "Parameters",
        "ResultSelector",
        "InputPath",
        "OutputPath",
        "ResultPath",
        "ItemsPath",
        "SecondsPath",
        "TimestampPath",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
        "ErrorPath",
        "CausePath",
        "MaxConcurrencyPath",
        "ToleratedFailurePercentagePath",
        "ToleratedFailureCountPath",
    }
)

#: State-level keys only a JSONata state may carry.
JSONATA_ONLY_KEYS = frozenset({"Arguments", "Output", "Items"})


def _where(state_id: str | None, key: str) -> str:
    return f"field '{key}' of state '{state_id}'" if state_id is not None else f"field '{key}'"


def jsonata_expression(expression: Expression) -> str:
    return "{% " + expression.to_jsonata() + " %}"


def array_intrinsic(items: list[Any]) -> str:
    """§11 #2: a list holding placeholders becomes a ``States.Array(...)`` call with literals encoded."""
    for item in items:
        if isinstance(item, dict | list) or not (
            isinstance(item, Expression) or item is None or isinstance(item, str | int | float | bool)
        ):
            raise ValueError(_LIST_PLACEHOLDER)
    return "States.Array(" + ", ".join(encode_argument(item) for item in items) + ")"


def has_expression(value: Any) -> bool:
    if isinstance(value, Expression):
        return True
    if isinstance(value, dict):
        return any(has_expression(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(has_expression(v) for v in value)
    return False


def render_template(value: Any) -> Any:
    """A JSONPath payload template with placeholders moved to ``"K.$"`` keys (docs/design/compat.md §3)."""
    if isinstance(value, dict):
        rendered: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, Expression):
                rendered[f"{key}.$"] = item.to_jsonpath()
            elif isinstance(item, list) and any(isinstance(element, Expression) for element in item):
                rendered[f"{key}.$"] = array_intrinsic(item)
            else:
                rendered[key] = render_template(item)
        return rendered
    if isinstance(value, list):
        rendered_list = []
        for item in value:
            if isinstance(item, Expression) or (
                isinstance(item, list) and any(isinstance(element, Expression) for element in item)
            ):
                # Without a key of its own there is nowhere to put the ``.$`` suffix.
                raise ValueError(_LIST_PLACEHOLDER)
            rendered_list.append(render_template(item))
        return rendered_list
    return value


def render_jsonata(value: Any) -> Any:
    """A JSONata value: each placeholder becomes a ``{% %}`` string in place; keys stay as written."""
    if isinstance(value, Expression):
        return jsonata_expression(value)
    if isinstance(value, dict):
        return {key: render_jsonata(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render_jsonata(item) for item in value]
    return value


def render_structure(value: Any, state_id: str | None, key: str) -> Any:
    """A nested ASL object (ItemReader, ItemBatcher, ResultWriter, ProcessorConfig …) in a JSONPath state."""
    if isinstance(value, dict):
        rendered: dict[str, Any] = {}
        for inner_key, item in value.items():
            if inner_key in TEMPLATE_KEYS:
                rendered[inner_key] = render_template(item)
            elif isinstance(item, Expression):
                if inner_key in PATH_TWINS:
                    rendered[PATH_TWINS[inner_key]] = item.to_jsonpath()
                elif inner_key.endswith("Path"):
                    rendered[inner_key] = item.to_jsonpath()
                else:
                    raise ValueError(f"{_where(state_id, key + '.' + inner_key)} cannot take a Placeholder")
            else:
                rendered[inner_key] = render_structure(item, state_id, f"{key}.{inner_key}")
        return rendered
    if isinstance(value, list):
        return [render_structure(item, state_id, key) for item in value]
    if isinstance(value, Expression):
        raise ValueError(f"{_where(state_id, key)} cannot take a Placeholder")
    return value


def render_field(key: str, value: Any, language: str, state_id: str | None) -> tuple[str, Any]:
    """The (ASL key, ASL value) pair that one stored field contributes, in ``language``."""
    if language == JSONATA:
        if key in JSONPATH_ONLY_KEYS:
            raise ValueError(f"{_where(state_id, key)} is not supported when QueryLanguage is JSONata")
        if key == "Result" and has_expression(value):
            raise ValueError(f"{_where(state_id, key)} cannot take a Placeholder: Result is a literal value")
        return key, render_jsonata(value)
    if key in JSONATA_ONLY_KEYS:
        raise ValueError(f"{_where(state_id, key)} is only supported when QueryLanguage is JSONata")
    if key in TEMPLATE_KEYS:
        if isinstance(value, Expression):
            raise ValueError(f"{_where(state_id, key)} must be a dict; put the Placeholder under a key")
        return key, render_template(value)
    if isinstance(value, Expression):
        if key in PATH_TWINS:
            return PATH_TWINS[key], value.to_jsonpath()
        if key.endswith("Path"):
            return key, value.to_jsonpath()
        if key == "Result":
            raise ValueError(f"{_where(state_id, key)} cannot take a Placeholder: Result is a literal value")
        raise ValueError(f"{_where(state_id, key)} cannot take a Placeholder")
    if isinstance(value, dict | list):
        if key == "Result":
            if has_expression(value):
                raise ValueError(f"{_where(state_id, key)} cannot take a Placeholder: Result is a literal value")
            return key, value
        if has_expression(value):
            return key, render_structure(value, state_id, key)
    return key, value


__all__ = [
    "JSONATA",
    "JSONPATH",
    "array_intrinsic",
    "has_expression",
    "jsonata_expression",
    "render_field",
    "render_jsonata",
    "render_structure",
    "render_template",
]
