"""Builders for the 18 ``States.*`` intrinsic functions (docs/design/compat.md §10).

Each builder returns an :class:`Intrinsic`, which behaves like a Placeholder: put it in ``parameters``
(or any payload template) and it renders as ``"Key.$": "States.Format('x {}', $.a)"``. Arguments may
be literals (str, int, float, bool, None), Placeholders, :class:`JsonPath` references or other
intrinsics, so calls nest. String literals are quoted and escaped the way the ASL intrinsic grammar
requires (``\\'``, ``\\{``, ``\\}``, ``\\\\``).

Intrinsic functions exist only in JSONPath states; a JSONata state uses JSONata functions instead.
"""

from __future__ import annotations

import json
from typing import Any

from stepfn.inputs.placeholders import Expression

_ESCAPES = str.maketrans({"\\": "\\\\", "'": "\\'", "{": "\\{", "}": "\\}"})


class JsonPath(Expression):
    """A literal reference path, e.g. ``JsonPath('$.items')`` or ``JsonPath('$$.Execution.Id')``."""

    def __init__(self, path: str) -> None:
        if not path.startswith("$"):
            raise ValueError(f"Expected a path starting with '$', but got '{path}'")
        self.path = path

    def to_jsonpath(self) -> str:
        return self.path

    def __repr__(self) -> str:
        return f"JsonPath({self.path!r})"


def encode_string_literal(text: str) -> str:
    """``text`` as an intrinsic string literal: single-quoted, with ``' { } \\`` backslash-escaped."""
    return "'" + text.translate(_ESCAPES) + "'"


def encode_argument(value: Any) -> str:
    """One intrinsic argument: a path for an Expression, a quoted string, or a JSON number/boolean/null."""
    if isinstance(value, Expression):
        return value.to_jsonpath()
    if isinstance(value, str):
        return encode_string_literal(value)
    if value is None or isinstance(value, bool | int | float):
        return json.dumps(value)
    raise ValueError(
        f"An intrinsic function argument must be a str, int, float, bool, None or a Placeholder, but got {type(value).__name__}"
    )


class Intrinsic(Expression):
    """A call ``States.<name>(<args>)``; render with ``to_jsonpath()``."""

    def __init__(self, name: str, *args: Any) -> None:
        self.name = name
        self.args = args
        # Encode now so that a bad argument fails where the call is written, not at serialization.
        self._encoded = [self._encode(index, arg) for index, arg in enumerate(args)]

    def _encode(self, index: int, arg: Any) -> str:
        return encode_argument(arg)

    def to_jsonpath(self) -> str:
        return f"States.{self.name}({', '.join(self._encoded)})"

    def to_jsonata(self) -> str:
        raise ValueError(
            f"States.{self.name} is an intrinsic function of JSONPath; a JSONata state must use a JSONata expression"
        )

    def __repr__(self) -> str:
        return f"Intrinsic({self.to_jsonpath()!r})"


class _FormatCall(Intrinsic):
    def _encode(self, index: int, arg: Any) -> str:
        if index == 0 and isinstance(arg, str):
            # ``{}`` marks an argument slot in the template, so only the text between slots is escaped.
            return "'" + "{}".join(piece.translate(_ESCAPES) for piece in arg.split("{}")) + "'"
        return encode_argument(arg)


def Format(template: str | Expression, *args: Any) -> Intrinsic:
    """``States.Format``: ``template`` with each ``{}`` replaced by the next argument."""
    return _FormatCall("Format", template, *args)


def StringToJson(text: Any) -> Intrinsic:
    return Intrinsic("StringToJson", text)


def JsonToString(value: Any) -> Intrinsic:
    return Intrinsic("JsonToString", value)


def Array(*items: Any) -> Intrinsic:
    return Intrinsic("Array", *items)


def ArrayPartition(array: Any, chunk_size: Any) -> Intrinsic:
    return Intrinsic("ArrayPartition", array, chunk_size)


def ArrayContains(array: Any, value: Any) -> Intrinsic:
    return Intrinsic("ArrayContains", array, value)


def ArrayRange(start: Any, end: Any, step: Any) -> Intrinsic:
    return Intrinsic("ArrayRange", start, end, step)


def ArrayGetItem(array: Any, index: Any) -> Intrinsic:
    return Intrinsic("ArrayGetItem", array, index)


def ArrayLength(array: Any) -> Intrinsic:
    return Intrinsic("ArrayLength", array)


def ArrayUnique(array: Any) -> Intrinsic:
    return Intrinsic("ArrayUnique", array)


def Base64Encode(text: Any) -> Intrinsic:
    return Intrinsic("Base64Encode", text)


def Base64Decode(text: Any) -> Intrinsic:
    return Intrinsic("Base64Decode", text)


def Hash(data: Any, algorithm: Any) -> Intrinsic:
    """``States.Hash``; ``algorithm`` is one of MD5, SHA-1, SHA-256, SHA-384, SHA-512."""
    return Intrinsic("Hash", data, algorithm)


def JsonMerge(left: Any, right: Any, deep: bool = False) -> Intrinsic:
    """``States.JsonMerge``; Step Functions only supports the shallow merge, so ``deep`` must stay False."""
    if deep is not False:
        raise ValueError("States.JsonMerge only supports a shallow merge: deep must be False")
    return Intrinsic("JsonMerge", left, right, deep)


def MathRandom(start: Any, end: Any, seed: Any = None) -> Intrinsic:
    if seed is None:
        return Intrinsic("MathRandom", start, end)
    return Intrinsic("MathRandom", start, end, seed)


def MathAdd(value: Any, step: Any) -> Intrinsic:
    return Intrinsic("MathAdd", value, step)


def StringSplit(text: Any, delimiter: Any) -> Intrinsic:
    return Intrinsic("StringSplit", text, delimiter)


def UUID() -> Intrinsic:
    return Intrinsic("UUID")


__all__ = [
    "UUID",
    "Array",
    "ArrayContains",
    "ArrayGetItem",
    "ArrayLength",
    "ArrayPartition",
    "ArrayRange",
    "ArrayUnique",
    "Base64Decode",
    "Base64Encode",
    "Format",
    "Hash",
    "Intrinsic",
    "JsonMerge",
    "JsonPath",
    "JsonToString",
    "MathAdd",
    "MathRandom",
    "StringSplit",
    "StringToJson",
    "encode_argument",
    "encode_string_literal",
]
