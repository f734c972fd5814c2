"""Placeholders for values known only at run time (``stepfunctions.inputs``, docs/design/compat.md §3)."""

from __future__ import annotations

from stepfn.inputs.placeholders import (
    ContextObject,
    ExecutionInput,
    Expression,
    MapItemIndex,
    MapItemValue,
    Placeholder,
    StepInput,
    ValidationResult,
    Variable,
)

__all__ = [
    "ContextObject",
    "ExecutionInput",
    "Expression",
    "MapItemIndex",
    "MapItemValue",
    "Placeholder",
    "StepInput",
    "ValidationResult",
    "Variable",
]
