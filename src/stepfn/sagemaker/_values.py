"""How request builders treat placeholder values: they pass through untouched, and only concrete values are checked."""

from __future__ import annotations

import json
from typing import Any

from stepfn.inputs.placeholders import Expression

__all__ = ["is_placeholder", "json_encode_value", "str_encode_value"]


def is_placeholder(value: Any) -> bool:
    """True for a run-time value: a ``stepfn.inputs`` placeholder or an intrinsic function call.

    Such values render as ``"Key.$"`` entries, so builders pass them through untouched.
    """
    return isinstance(value, Expression)


def str_encode_value(value: Any) -> Any:
    """Generic and built-in estimators send ``str(value)`` (lists as JSON); placeholders pass through."""
    if is_placeholder(value) or isinstance(value, str):
        return value
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def json_encode_value(value: Any) -> Any:
    """Framework estimators send every value JSON-encoded (``"x"`` -> ``"\\"x\\""``); placeholders pass through."""
    if is_placeholder(value):
        return value
    return json.dumps(value)
