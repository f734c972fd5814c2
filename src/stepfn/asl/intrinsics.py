"""Intrinsic functions of JSONPath-mode ASL: ``States.Format(...)`` and the other 17.

Spec: docs/design/asl-engines.md §5.4 and the AWS developer guide, "Intrinsic functions". A hand-written recursive
descent parser turns the text of a ``"key.$"`` value into an :class:`IntrinsicCall` tree (cached, so an
engine can call :func:`parse_intrinsic` on every evaluation); :func:`evaluate_intrinsic` walks the tree.

Grammar (what AWS accepts at CreateStateMachine)::

    call     := 'States.' NAME ws '(' ws [arg (ws ',' ws arg)*] ws ')'
    arg      := STRING | NUMBER | 'true' | 'false' | 'null' | PATH | call
    STRING   := "'" (char | '\\' escapable)* "'"      escapable: ' { } \\ and other punctuation
    PATH     := '$' ... | '$$' ... | '$name' ...        up to the next top-level ',' ')' or space

Rules taken from AWS behaviour recorded against the real service (LocalStack snapshots and published
characterisation suites), where the documentation is silent:

- Failures at run time are ``States.Runtime`` with the cause ``Invalid arguments in States.<Name>``, not
  ``States.IntrinsicFailure``: AWS reports intrinsic failures as runtime errors, which ``States.ALL``
  does not catch. Wrong argument counts are also run-time failures: AWS creates such state machines.
- ``\\n``-style escapes (a backslash before a letter or digit) are rejected when the definition is
  created; ``\\"`` is accepted and means ``"``.
- ``MathAdd`` rounds like Java's ``Math.round`` (half up); ``ArrayRange``, ``ArrayGetItem`` and
  ``MathRandom`` truncate fractional arguments; ``MathRandom``'s end is exclusive.
- ``Format`` renders ``null`` as ``null``, objects as ``{k=v, ...}`` and arrays as ``[a, b]`` (Java's
  ``toString``); an unmatched ``{`` or ``}`` in the template fails.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeAlias

from stepfn.errors import DefinitionError, StatesError

MAX_NESTING = 10
INTRINSIC_ERROR = "States.Runtime"
_MAX_ENCODE_CHARS = 10_000
_MAX_RANGE_ITEMS = 1000
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_HASHES: dict[str, Callable[[bytes], Any]] = {
    "MD5": hashlib.md5,
    "SHA-1": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-384": hashlib.sha384,
    "SHA-512": hashlib.sha512,
}
FUNCTION_NAMES: frozenset[str] = frozenset(
    {
        "Format", "StringToJson", "JsonToString", "Array", "ArrayPartition", "ArrayContains", "ArrayRange",
        "ArrayGetItem", "ArrayLength", "ArrayUnique", "Base64Encode", "Base64Decode", "Hash", "JsonMerge",
        "MathRandom", "MathAdd", "StringSplit", "UUID",
    }
)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z0-9_]+")
_WORD_END = frozenset(" \t\n\r,)")


class IntrinsicSyntaxError(DefinitionError):
    """The text of a ``.$`` field is not a well-formed intrinsic function call."""

    def __init__(self, text: str, reason: str, position: int) -> None:
        self.text = text
        self.reason = reason
        self.position = position
        super().__init__(f"Invalid intrinsic function {text!r}: {reason} (at character {position})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.text, self.reason, self.position))


@dataclass(frozen=True)
class Literal:
    """A number, boolean or ``null`` written in the call."""

    value: Any


@dataclass(frozen=True)
class StringLiteral:
    """A quoted string. ``raw`` keeps the escapes so that ``States.Format`` can tell ``\\{`` from ``{``."""

    value: str
    raw: str


@dataclass(frozen=True)
class PathArgument:
    """``$.a.b``, ``$$.Execution.Id`` or ``$var.x``: resolved by the engine at evaluation time."""

    path: str


@dataclass(frozen=True)
class IntrinsicCall:
    """One ``States.<name>(args)`` call; ``name`` is the short name (``Format``)."""

    name: str
    args: tuple[Argument, ...]
    text: str

    @property
    def function(self) -> str:
        return f"States.{self.name}"

    def paths(self) -> list[str]:
        """Every path argument in the call tree, in source order (for static validation)."""
        found: list[str] = []
        for arg in self.args:
            if isinstance(arg, PathArgument):
                found.append(arg.path)
            elif isinstance(arg, IntrinsicCall):
                found.extend(arg.paths())
        return found


Argument: TypeAlias = Literal | StringLiteral | PathArgument | IntrinsicCall


def is_intrinsic(text: object) -> bool:
    """Whether a ``.$`` value is meant as an intrinsic call (rather than a path); says nothing of validity."""
    return isinstance(text, str) and text.lstrip().startswith("States.")


def parse_intrinsic(text: str) -> IntrinsicCall:
    """Parse ``text`` into a call tree, raising :class:`IntrinsicSyntaxError` on malformed input."""
    if not isinstance(text, str):
        raise IntrinsicSyntaxError(repr(text), "an intrinsic function must be a string", 0)
    return _parse_cached(text)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> IntrinsicCall:
    parser = _Parser(text)
    parser.skip_space()
    call = parser.call(depth=1)
    parser.skip_space()
    if parser.pos != len(text):
        parser.fail("unexpected text after the closing parenthesis")
    return call


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, reason: str) -> None:
        raise IntrinsicSyntaxError(self.text, reason, self.pos)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_space(self) -> None:
        while self.peek() in (" ", "\t", "\n", "\r") and self.peek():
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "the end of the text"
            self.fail(f"expected {char!r} but found {found}")
        self.pos += 1

    def call(self, depth: int) -> IntrinsicCall:
        start = self.pos
        if depth > MAX_NESTING:
            self.fail(f"intrinsic functions can be nested at most {MAX_NESTING} deep")
        if not self.text.startswith("States.", self.pos):
            self.fail("an intrinsic function starts with 'States.'")
        self.pos += len("States.")
        match = _NAME.match(self.text, self.pos)
        if match is None:
            self.fail("missing function name after 'States.'")
            raise AssertionError  # unreachable: fail() raises
        name = match.group()
        if name not in FUNCTION_NAMES:
            self.fail(f"unknown intrinsic function 'States.{name}'")
        self.pos = match.end()
        self.skip_space()
        self.expect("(")
        self.skip_space()
        args: list[Argument] = []
        if self.peek() == ")":
            self.pos += 1
        else:
            while True:
                args.append(self.argument(depth))
                self.skip_space()
                if self.peek() == ",":
                    self.pos += 1
                    self.skip_space()
                    continue
                self.expect(")")
                break
        return IntrinsicCall(name, tuple(args), self.text[start : self.pos])

    def argument(self, depth: int) -> Argument:
        char = self.peek()
        if char == "'":
            return self.string()
        if char == "$":
            return self.path()
        if char == "-" or char.isdigit():
            return self.number()
        if self.text.startswith("States.", self.pos):
            return self.call(depth + 1)
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.pos):
                end = self.pos + len(word)
                if end == len(self.text) or self.text[end] in _WORD_END:
                    self.pos = end
                    return Literal(value)
        if not char:
            self.fail("unexpected end of text: missing ')'")
        self.fail(f"unexpected {char!r}: an argument is a 'string', a number, true, false, null, a path or a call")
        raise AssertionError  # unreachable: fail() raises

    def number(self) -> Literal:
        match = _NUMBER.match(self.text, self.pos)
        if match is None:
            self.fail("malformed number")
            raise AssertionError  # unreachable: fail() raises
        end = match.end()
        if end < len(self.text) and self.text[end] not in _WORD_END:
            self.pos = end
            self.fail("malformed number")
        self.pos = end
        token = match.group()
        if any(c in token for c in ".eE"):
            return Literal(float(token))
        return Literal(int(token))

    def string(self) -> StringLiteral:
        self.pos += 1
        start = self.pos
        value: list[str] = []
        while True:
            char = self.peek()
            if not char:
                self.fail("unterminated string literal")
            if char == "'":
                raw = self.text[start : self.pos]
                self.pos += 1
                return StringLiteral("".join(value), raw)
            if char == "\\":
                escaped = self.text[self.pos + 1 : self.pos + 2]
                if not escaped:
                    self.fail("unterminated string literal")
                if escaped.isalnum():
                    self.fail(f"invalid escape sequence '\\{escaped}': only ' {{ }} \\ and punctuation can be escaped")
                value.append(escaped)
                self.pos += 2
                continue
            value.append(char)
            self.pos += 1

    def path(self) -> PathArgument:
        start = self.pos
        depth = 0
        quote = ""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if quote:
                if char == "\\":
                    self.pos += 1
                elif char == quote:
                    quote = ""
            elif depth and char in "'\"":
                quote = char
            elif char == "[":
                depth += 1
            elif char == "]":
                if depth == 0:
                    self.fail("unbalanced ']' in path")
                depth -= 1
            elif depth == 0 and char in _WORD_END:
                break
            elif depth == 0 and char in "('":
                self.fail(f"unexpected {char!r} in path")
            self.pos += 1
        if depth or quote:
            self.fail("unterminated '[' in path")
        path = self.text[start : self.pos]
        if not _is_path_shape(path):
            self.pos = start
            self.fail(f"malformed path {path!r}")
        return PathArgument(path)


_PATH_HEAD = re.compile(r"\$(?:\$|[A-Za-z_][A-Za-z0-9_]*)?")


def _is_path_shape(path: str) -> bool:
    """A cheap structural check; the engine's path compiler does the full one when resolving."""
    head = _PATH_HEAD.match(path)
    if head is None:
        return False
    rest = path[head.end() :]
    return rest == "" or rest[0] in ".["


# --------------------------------------------------------------------------------------------- evaluation


def evaluate_intrinsic(
    expr: str | IntrinsicCall,
    resolve: Callable[[str], Any],
    *,
    new_uuid: Callable[[], str],
    rng: random.Random | None = None,
) -> Any:
    """Evaluate a call. ``resolve(path)`` returns the value of a ``$``, ``$$`` or ``$var`` path (and raises
    the engine's own error when it is missing); ``new_uuid`` supplies ``States.UUID`` values and ``rng``
    unseeded ``States.MathRandom`` values, so both stay injectable. Invalid arguments raise
    ``StatesError("States.Runtime", "Invalid arguments in States.<Name>")``."""
    call = parse_intrinsic(expr) if isinstance(expr, str) else expr
    return _Evaluator(resolve, new_uuid, rng or _DEFAULT_RNG).call(call)


_DEFAULT_RNG = random.Random()


class _InvalidArguments(Exception):
    """Raised inside a function body; turned into the AWS error naming the function."""


class _Evaluator:
    def __init__(self, resolve: Callable[[str], Any], new_uuid: Callable[[], str], rng: random.Random) -> None:
        self.resolve = resolve
        self.new_uuid = new_uuid
        self.rng = rng

    def value(self, arg: Argument) -> Any:
        if isinstance(arg, Literal):
            return arg.value
        if isinstance(arg, StringLiteral):
            return arg.value
        if isinstance(arg, PathArgument):
            return self.resolve(arg.path)
        return self.call(arg)

    def call(self, call: IntrinsicCall) -> Any:
        values = [self.value(arg) for arg in call.args]
        try:
            if call.name == "Format":
                return _format(call, values)
            if call.name == "UUID":
                _arity(values, 0)
                return self.new_uuid()
            if call.name == "MathRandom":
                return _math_random(values, self.rng)
            return _FUNCTIONS[call.name](*_checked_arity(call.name, values))
        except _InvalidArguments as exc:
            raise StatesError(INTRINSIC_ERROR, f"Invalid arguments in {call.function}") from exc


def _arity(values: list[Any], count: int) -> None:
    if len(values) != count:
        raise _InvalidArguments(f"expected {count} argument(s), got {len(values)}")


def _checked_arity(name: str, values: list[Any]) -> list[Any]:
    if name != "Array":
        _arity(values, _ARITY[name])
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> int | float:
    if not _is_number(value) or (isinstance(value, float) and not math.isfinite(value)):
        raise _InvalidArguments(f"expected a number, got {value!r}")
    return value  # type: ignore[no-any-return]


def _truncated(value: Any) -> int:
    return int(_number(value))


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _InvalidArguments(f"expected a string, got {value!r}")
    return value


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _InvalidArguments(f"expected an array, got {value!r}")
    return value


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _InvalidArguments(f"expected a JSON object, got {value!r}")
    return value


def _json_key(value: Any) -> str:
    """Equality key with JSON semantics: ``true`` differs from ``1``, key order does not matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _java_text(value: Any) -> str:
    """How AWS (Java) prints a value substituted into ``States.Format``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={_java_text(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)


def _format(call: IntrinsicCall, values: list[Any]) -> str:
    if not values:
        raise _InvalidArguments("States.Format needs a template")
    template = call.args[0]
    # A template written in the call keeps its escapes; one read from a path is data, so its backslashes
    # are ordinary characters.
    literal = isinstance(template, StringLiteral)
    raw = template.raw if isinstance(template, StringLiteral) else _string(values[0])
    substitutes = [_java_text(value) for value in values[1:]]
    out: list[str] = []
    used = 0
    i = 0
    while i < len(raw):
        char = raw[i]
        if literal and char == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
            continue
        if char == "{":
            if raw[i + 1 : i + 2] != "}" or used >= len(substitutes):
                raise _InvalidArguments("unmatched '{' or too few arguments")
            out.append(substitutes[used])
            used += 1
            i += 2
            continue
        if char == "}":
            raise _InvalidArguments("unmatched '}'")
        out.append(char)
        i += 1
    if used != len(substitutes):
        raise _InvalidArguments("more arguments than '{}' placeholders")
    return "".join(out)


def _string_to_json(value: Any) -> Any:
    text = _string(value)
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _InvalidArguments(str(exc)) from exc


def _json_to_string(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _array_of(*values: Any) -> list[Any]:
    return list(values)


def _array_partition(array: Any, size: Any) -> list[list[Any]]:
    items = _array(array)
    chunk = _java_round(_number(size))
    if chunk <= 0:
        raise _InvalidArguments("chunk size must be positive")
    return [items[i : i + chunk] for i in range(0, len(items), chunk)]


def _array_contains(array: Any, value: Any) -> bool:
    key = _json_key(value)
    return any(_json_key(item) == key for item in _array(array))


def _array_range(start: Any, end: Any, step: Any) -> list[int]:
    first, last, delta = _truncated(start), _truncated(end), _truncated(step)
    if delta == 0:
        raise _InvalidArguments("step must not be zero")
    if first == last:
        return [first]
    count = max(0, (last - first) // delta + 1)
    if count > _MAX_RANGE_ITEMS:
        raise _InvalidArguments(f"ArrayRange produces {count} items, more than {_MAX_RANGE_ITEMS}")
    return list(range(first, last + (1 if delta > 0 else -1), delta))


def _array_get_item(array: Any, index: Any) -> Any:
    items = _array(array)
    position = _truncated(index)
    if position < 0:
        raise _InvalidArguments("negative index")
    if position >= len(items):
        # AWS answers null for any index into an empty array but fails past the end of a non-empty one.
        if not items:
            return None
        raise _InvalidArguments("index out of bounds")
    return items[position]


def _array_length(array: Any) -> int:
    return len(_array(array))


def _array_unique(array: Any) -> list[Any]:
    seen: set[str] = set()
    unique: list[Any] = []
    for item in _array(array):
        key = _json_key(item)
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


def _limited(value: Any) -> str:
    text = _string(value)
    if len(text) > _MAX_ENCODE_CHARS:
        raise _InvalidArguments(f"input longer than {_MAX_ENCODE_CHARS} characters")
    return text


def _base64_encode(text: Any) -> str:
    return base64.b64encode(_limited(text).encode("utf-8")).decode("ascii")


_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/]")


def _base64_decode(text: Any) -> str:
    # AWS decodes leniently (a MIME decoder): characters outside the alphabet are skipped, decoding stops
    # at the first padding character, and missing padding is tolerated. A last unit of a single character
    # carries only 6 of a byte's 8 bits, and there the decoder gives up: AWS fails with States.Runtime
    # (issue 20: "%%%not-base64%%%" keeps 9 alphabet characters).
    data = _NOT_BASE64.sub("", _limited(text).split("=", 1)[0])
    if len(data) % 4 == 1:
        raise _InvalidArguments("the last unit of the base64 text does not have enough valid bits")
    # Only alphabet characters remain and the padding is completed, so the decoder cannot fail here.
    return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", errors="replace")


def _hash(data: Any, algorithm: Any) -> str:
    # AWS hashes non-string data by its JSON text rather than refusing it.
    text = data if isinstance(data, str) else _json_to_string(data)
    if len(text) > _MAX_ENCODE_CHARS:
        raise _InvalidArguments(f"input longer than {_MAX_ENCODE_CHARS} characters")
    hasher = _HASHES.get(algorithm) if isinstance(algorithm, str) else None
    if hasher is None:
        raise _InvalidArguments(f"unknown hash algorithm {algorithm!r}; use one of {sorted(_HASHES)}")
    return str(hasher(text.encode("utf-8")).hexdigest())


def _json_merge(first: Any, second: Any, deep: Any) -> dict[str, Any]:
    if not isinstance(deep, bool):
        raise _InvalidArguments("the third argument must be a boolean")
    if deep:
        raise _InvalidArguments("Step Functions only supports shallow merging: the third argument must be false")
    merged = dict(_object(first))
    merged.update(_object(second))
    return {key: merged[key] for key in _java_hash_map_order(list(merged))}


def _java_hash_map_order(keys: list[str]) -> list[str]:
    """Key order of a ``java.util.HashMap`` filled in this order: AWS returns JsonMerge results in it
    (recorded: merging ``{a, b, d}`` with ``{a, c, d}`` gives ``a, b, c, d``). Buckets are iterated in
    index order, entries in a bucket in insertion order; the table doubles past a 0.75 load factor."""
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        code = 0
        units = key.encode("utf-16-be", errors="surrogatepass")
        for i in range(0, len(units), 2):
            code = (31 * code + int.from_bytes(units[i : i + 2], "big")) & 0xFFFFFFFF
        return (code ^ (code >> 16)) & (capacity - 1)

    return sorted(keys, key=bucket)


def _java_round(value: int | float) -> int:
    """``Math.round``: half rounds up, so ``-1.5`` becomes ``-1`` (Python's ``round`` would give ``-2``)."""
    return value if isinstance(value, int) else math.floor(value + 0.5)


def _math_add(first: Any, second: Any) -> int:
    a, b = _java_round(_number(first)), _java_round(_number(second))
    for operand in (a, b):
        if not _INT32_MIN <= operand <= _INT32_MAX:
            raise _InvalidArguments("operands must fit in a 32-bit integer")
    return a + b


def _math_random(values: list[Any], rng: random.Random) -> int:
    if len(values) not in (2, 3):
        raise _InvalidArguments("expected 2 or 3 arguments")
    start, end = _truncated(values[0]), _truncated(values[1])
    if start >= end:
        raise _InvalidArguments("start must be less than end")
    if len(values) == 3:
        # A seed makes the result reproducible, as on AWS (though not the same number AWS would give).
        return random.Random(_truncated(values[2])).randrange(start, end)
    return rng.randrange(start, end)


def _string_split(text: Any, delimiters: Any) -> list[str]:
    source, chars = _string(text), _string(delimiters)
    if not chars:
        return [source] if source else []
    parts = re.split("|".join(re.escape(c) for c in chars), source)
    return [part for part in parts if part]


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "StringToJson": _string_to_json,
    "JsonToString": _json_to_string,
    "Array": _array_of,
    "ArrayPartition": _array_partition,
    "ArrayContains": _array_contains,
    "ArrayRange": _array_range,
    "ArrayGetItem": _array_get_item,
    "ArrayLength": _array_length,
    "ArrayUnique": _array_unique,
    "Base64Encode": _base64_encode,
    "Base64Decode": _base64_decode,
    "Hash": _hash,
    "JsonMerge": _json_merge,
    "MathAdd": _math_add,
    "StringSplit": _string_split,
}
_ARITY: dict[str, int] = {
    "StringToJson": 1,
    "JsonToString": 1,
    "ArrayPartition": 2,
    "ArrayContains": 2,
    "ArrayRange": 3,
    "ArrayGetItem": 2,
    "ArrayLength": 1,
    "ArrayUnique": 1,
    "Base64Encode": 1,
    "Base64Decode": 1,
    "Hash": 2,
    "JsonMerge": 3,
    "MathAdd": 2,
    "StringSplit": 2,
}

__all__ = [
    "FUNCTION_NAMES",
    "INTRINSIC_ERROR",
    "MAX_NESTING",
    "Argument",
    "IntrinsicCall",
    "IntrinsicSyntaxError",
    "Literal",
    "PathArgument",
    "StringLiteral",
    "evaluate_intrinsic",
    "is_intrinsic",
    "parse_intrinsic",
]
