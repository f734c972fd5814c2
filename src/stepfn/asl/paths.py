"""JSONPath as AWS Step Functions evaluates it: paths, reference paths, payload templates, ResultPath.

Spec: states-language.net "Paths", "Reference Paths", "Payload Template" and the AWS developer guide's
"Processing input and output". AWS evaluates paths with Jayway JsonPath, so the behaviour here follows
Jayway where the spec is silent:

* a *definite* path (only ``.name`` and ``[n]`` steps) returns one value and fails when a step is missing;
* an *indefinite* path (wildcards, slices, unions, filters, ``..``) returns a list, ``[]`` when nothing matched;
* ``.length()`` at the end returns the length of the selected array/object/string.

A path starts at ``$`` (the effective input), ``$$`` (the context object) or ``$name`` (a variable).
Values are treated as immutable everywhere: :func:`apply_result_path` copies the containers it changes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from stepfn.errors import DefinitionError, StatesError

__all__ = [
    "RESULT_PATH_DEFAULT",
    "CompiledPath",
    "PathNotFound",
    "PathSyntaxError",
    "Sources",
    "Template",
    "apply_result_path",
    "compact_json",
    "compile_expression",
    "compile_path",
    "compile_reference_path",
    "compile_template",
    "json_encoder",
]


class PathSyntaxError(DefinitionError):
    """A path, reference path or payload template is not valid ASL."""

    def __init__(self, text: str, reason: str) -> None:
        self.text = text
        self.reason = reason
        super().__init__(f"invalid path {text!r}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.text, self.reason))


class PathNotFound(LookupError):
    """A definite path named a field or index the data does not have (Jayway's PathNotFoundException)."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


def json_encoder(*, ensure_ascii: bool = True, default: Callable[[Any], Any] | None = None,
                 check_circular: bool = True) -> Callable[[Any], str]:
    """A function writing what ``json.dumps(value, separators=(",", ":"), ensure_ascii=..., default=...)``
    writes, at about half the cost for small values: ``json.dumps`` with options builds a JSONEncoder per call,
    and its ``encode`` sets up the C encoder per call in Python; together more than encoding a history event
    (a 1,000-item Map records 4,006). The C encoder is made here directly, with a fresh circular-reference
    table per call as ``encode`` makes it; without ``check_circular`` (for values the caller built itself, never
    circular) one encoder, which then holds no state, serves every call and thread."""
    fallback = json.JSONEncoder(separators=(",", ":"), ensure_ascii=ensure_ascii, default=default,
                                check_circular=check_circular)
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return fallback.encode
    quote = json.encoder.encode_basestring_ascii if ensure_ascii else json.encoder.encode_basestring
    on_other = fallback.default  # ``default``, or the TypeError json.dumps raises for what JSON cannot hold
    if not check_circular:
        shared = make(None, on_other, quote, None, ":", ",", False, False, True)
        return lambda value: "".join(shared(value, 0))

    def encode(value: Any) -> str:
        return "".join(make({}, on_other, quote, None, ":", ",", False, False, True)(value, 0))

    return encode


_COMPACT = json_encoder(ensure_ascii=False)


def compact_json(value: Any) -> str:
    """JSON the way AWS prints payloads in histories and error causes: no spaces, non-ASCII kept."""
    if type(value) is int:  # what the encoder writes for an int (a bool is not one here), without its set-up
        return int.__repr__(value)
    return _COMPACT(value)


# --------------------------------------------------------------------------------------------- steps
@dataclass(frozen=True, slots=True)
class _Name:
    name: str


@dataclass(frozen=True, slots=True)
class _Index:
    index: int


@dataclass(frozen=True, slots=True)
class _Wildcard:
    pass


@dataclass(frozen=True, slots=True)
class _Union:
    keys: tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class _Slice:
    start: int | None
    stop: int | None
    step: int | None


@dataclass(frozen=True, slots=True)
class _Descend:
    """``..``: this node and every descendant, then the next step applies to each."""


@dataclass(frozen=True, slots=True)
class _Filter:
    predicate: Callable[[Any], bool]
    text: str


@dataclass(frozen=True, slots=True)
class _Length:
    pass


_Step = _Name | _Index | _Wildcard | _Union | _Slice | _Descend | _Filter | _Length
_DEFINITE = (_Name, _Index)


@dataclass(slots=True)
class Sources:
    """Where paths look: the effective input, the context object (built lazily) and the variables."""

    input: Any
    context: Callable[[], Any]
    variable: Callable[[str], Any]
    """Returns a variable's value or raises KeyError."""
    new_uuid: Callable[[], str]


class CompiledPath:
    """A parsed path. ``root`` is ``"$"``, ``"$$"`` or ``"var"`` (then ``variable`` names it)."""

    __slots__ = ("definite", "root", "steps", "text", "variable")

    def __init__(self, text: str, root: str, variable: str | None, steps: tuple[_Step, ...]) -> None:
        self.text = text
        self.root = root
        self.variable = variable
        self.steps = steps
        self.definite = all(isinstance(s, _DEFINITE) for s in steps)

    def __repr__(self) -> str:
        return f"CompiledPath({self.text!r})"

    @property
    def is_reference(self) -> bool:
        return self.definite

    def root_value(self, sources: Sources) -> Any:
        if self.root == "$":
            return sources.input
        if self.root == "$$":
            return sources.context()
        assert self.variable is not None
        try:
            return sources.variable(self.variable)
        except KeyError:
            raise PathNotFound(f"Undefined variable ${self.variable}") from None

    def resolve(self, sources: Sources) -> Any:
        return self.find(self.root_value(sources))

    def find(self, data: Any) -> Any:
        """The value(s) this path selects in ``data``; raises :class:`PathNotFound` for a missing definite step."""
        if self.definite:
            value = data
            for i, step in enumerate(self.steps):
                if isinstance(step, _Name):
                    if isinstance(value, dict) and step.name in value:
                        value = value[step.name]
                        continue
                    raise PathNotFound(f"Missing property in path {_render(self.steps[: i + 1])}")
                assert isinstance(step, _Index)
                if isinstance(value, list) and -len(value) <= step.index < len(value):
                    value = value[step.index]
                    continue
                raise PathNotFound(f"Index out of bounds when evaluating path {_render(self.steps[: i + 1])}")
            return value
        nodes = [data]
        length = False
        for step in self.steps:
            if isinstance(step, _Length):
                length = True
                continue
            nodes = _apply_step(step, nodes)
        if length:
            # Jayway applies length() to the selection's single result when the prefix is definite.
            prefix_definite = all(isinstance(s, _DEFINITE) for s in self.steps if not isinstance(s, _Length))
            if prefix_definite:
                if not nodes:
                    raise PathNotFound(f"Missing property in path {_render(self.steps[:-1])}")
                target = nodes[0]
                if isinstance(target, (list, dict, str)):
                    return len(target)
                raise PathNotFound(f"Invalid function call length() on {compact_json(target)}")
            return len(nodes)
        return nodes

    def assign(self, data: Any, value: Any) -> Any:
        """A copy of ``data`` with ``value`` placed at this reference path (ResultPath semantics)."""
        if self.root != "$":
            raise PathNotFound(f"Cannot assign into {self.text}")
        return _assign(data, self.steps, value, self.text)


def _assign(data: Any, steps: tuple[_Step, ...], value: Any, text: str) -> Any:
    if not steps:
        return value
    step = steps[0]
    if isinstance(step, _Name):
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise PathNotFound(f"Unable to apply ResultPath {text!r}: {compact_json(data)} is not an object")
        copy = dict(data)
        copy[step.name] = _assign(data.get(step.name), steps[1:], value, text)
        return copy
    if isinstance(step, _Index):
        if not isinstance(data, list) or not -len(data) <= step.index < len(data):
            raise PathNotFound(f"Unable to apply ResultPath {text!r}: index {step.index} is out of range")
        copy_list = list(data)
        copy_list[step.index] = _assign(data[step.index], steps[1:], value, text)
        return copy_list
    raise PathNotFound(f"Unable to apply ResultPath {text!r}")


def _render(steps: tuple[_Step, ...]) -> str:
    out = "$"
    for step in steps:
        if isinstance(step, _Name):
            out += f"['{step.name}']"
        elif isinstance(step, _Index):
            out += f"[{step.index}]"
        else:
            out += "[*]"
    return out


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _descendants(node: Any, out: list[Any]) -> None:
    out.append(node)
    if isinstance(node, dict):
        for child in node.values():
            _descendants(child, out)
    elif isinstance(node, list):
        for child in node:
            _descendants(child, out)


def _apply_step(step: _Step, nodes: list[Any]) -> list[Any]:
    out: list[Any] = []
    if isinstance(step, _Name):
        for node in nodes:
            if isinstance(node, dict) and step.name in node:
                out.append(node[step.name])
    elif isinstance(step, _Index):
        for node in nodes:
            if isinstance(node, list) and -len(node) <= step.index < len(node):
                out.append(node[step.index])
    elif isinstance(step, _Wildcard):
        for node in nodes:
            out.extend(_children(node))
    elif isinstance(step, _Union):
        for node in nodes:
            for key in step.keys:
                if isinstance(key, int):
                    if isinstance(node, list) and -len(node) <= key < len(node):
                        out.append(node[key])
                elif isinstance(node, dict) and key in node:
                    out.append(node[key])
    elif isinstance(step, _Slice):
        for node in nodes:
            if isinstance(node, list):
                out.extend(node[step.start : step.stop : step.step])
    elif isinstance(step, _Descend):
        for node in nodes:
            _descendants(node, out)
    elif isinstance(step, _Filter):
        for node in nodes:
            for child in _children(node):
                if step.predicate(child):
                    out.append(child)
    return out


# --------------------------------------------------------------------------------------------- parser
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT = re.compile(r"-?\d+")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, reason: str) -> PathSyntaxError:
        return PathSyntaxError(self.text, f"{reason} at position {self.pos}")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def parse(self) -> CompiledPath:
        text = self.text
        if not text.startswith("$"):
            raise PathSyntaxError(text, "a path must start with '$'")
        variable = None
        if text.startswith("$$"):
            root, self.pos = "$$", 2
        else:
            match = _VARIABLE_NAME.match(text, 1)
            if match:
                root, variable, self.pos = "var", match.group(), match.end()
            else:
                root, self.pos = "$", 1
        steps: list[_Step] = []
        while self.pos < len(text):
            ch = text[self.pos]
            if ch == ".":
                if self.peek(2) == "..":
                    self.pos += 2
                    steps.append(_Descend())
                    if self.peek() == "[":
                        continue
                    steps.append(self.dot_member())
                    continue
                self.pos += 1
                steps.append(self.dot_member())
            elif ch == "[":
                steps.append(self.bracket())
            elif ch.isspace():
                self.pos += 1
            else:
                raise self.error(f"unexpected {ch!r}")
        if any(isinstance(s, _Length) for s in steps[:-1]):
            raise PathSyntaxError(text, "length() must be the last step")
        return CompiledPath(text, root, variable, tuple(steps))

    def dot_member(self) -> _Step:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ".[":
            self.pos += 1
        name = self.text[start : self.pos]
        if not name:
            raise self.error("empty field name")
        if name == "*":
            return _Wildcard()
        if name == "length()":
            return _Length()
        return _Name(name)

    def bracket(self) -> _Step:
        self.pos += 1  # '['
        self.skip_space()
        if self.peek() == "?":
            return self.filter()
        if self.peek() == "*":
            self.pos += 1
            self.close()
            return _Wildcard()
        keys: list[str | int] = []
        slice_parts: list[int | None] | None = None
        while True:
            self.skip_space()
            ch = self.peek()
            if ch in ("'", '"'):
                keys.append(self.quoted())
            elif ch == ":" or _INT.match(self.text, self.pos):
                parts: list[int | None] = []
                current: int | None = None
                while True:
                    self.skip_space()
                    match = _INT.match(self.text, self.pos)
                    if match:
                        current = int(match.group())
                        self.pos = match.end()
                        self.skip_space()
                    if self.peek() == ":":
                        parts.append(current)
                        current = None
                        self.pos += 1
                        continue
                    parts.append(current)
                    break
                if len(parts) == 1:
                    if parts[0] is None:
                        raise self.error("expected an index")
                    keys.append(parts[0])
                else:
                    if keys or len(parts) > 3:
                        raise self.error("invalid slice")
                    slice_parts = parts
            else:
                raise self.error("expected an index, a quoted name, '*' or a filter")
            self.skip_space()
            if self.peek() == ",":
                self.pos += 1
                continue
            self.close()
            break
        if slice_parts is not None:
            padded = [*slice_parts, None, None][:3]
            if padded[2] == 0:
                raise self.error("slice step cannot be zero")
            return _Slice(padded[0], padded[1], padded[2])
        if len(keys) == 1:
            key = keys[0]
            return _Index(key) if isinstance(key, int) else _Name(key)
        return _Union(tuple(keys))

    def quoted(self) -> str:
        quote = self.text[self.pos]
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text) and self.text[self.pos + 1] in (quote, "\\"):
                # Jayway unescapes only the enclosing quote and the backslash; "\\x" stays as it is.
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == quote:
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise self.error("unterminated string")

    def close(self) -> None:
        self.skip_space()
        if self.peek() != "]":
            raise self.error("expected ']'")
        self.pos += 1

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def filter(self) -> _Filter:
        self.pos += 1  # '?'
        self.skip_space()
        if self.peek() != "(":
            raise self.error("expected '(' after '?'")
        start = self.pos
        depth = 0
        quote = None
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if quote:
                if ch == "\\":
                    self.pos += 1
                elif ch == quote:
                    quote = None
            elif ch in ("'", '"'):
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0:
                    break
            self.pos += 1
        if depth != 0:
            raise self.error("unbalanced parentheses in filter")
        body = self.text[start + 1 : self.pos]
        self.pos += 1
        self.close()
        return _Filter(_FilterParser(body, self.text).parse(), body)


# Filter expressions: comparisons of @-paths and literals joined by &&, ||, ! and parentheses.
_FILTER_TOKEN = re.compile(
    r"\s*(?:(?P<op>==|!=|<=|>=|<|>|&&|\|\||!|\(|\)|=~)"
    r"|(?P<str>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")"
    r"|(?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<path>@[^\s=!<>&|()]*)"
    r"|(?P<word>true|false|null))"
)


class _FilterParser:
    def __init__(self, body: str, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(body):
            if body[pos:].strip() == "":
                break
            match = _FILTER_TOKEN.match(body, pos)
            if not match or match.end() == pos:
                raise PathSyntaxError(text, f"cannot parse filter expression {body!r}")
            kind = match.lastgroup
            raw = match.group(kind or "op")
            if kind == "str":
                self.tokens.append(("lit", raw[1:-1].replace("\\'", "'").replace('\\"', '"')))
            elif kind == "num" or kind == "word":
                self.tokens.append(("lit", json.loads(raw)))
            elif kind == "path":
                sub = compile_path("$" + raw[1:]) if raw != "@" else compile_path("$")
                self.tokens.append(("path", sub))
            else:
                self.tokens.append(("op", raw))
            pos = match.end()
        self.i = 0

    def parse(self) -> Callable[[Any], bool]:
        predicate = self.or_expr()
        if self.i != len(self.tokens):
            raise PathSyntaxError(self.text, "trailing tokens in filter expression")
        return predicate

    def next_is(self, op: str) -> bool:
        if self.i < len(self.tokens) and self.tokens[self.i] == ("op", op):
            self.i += 1
            return True
        return False

    def or_expr(self) -> Callable[[Any], bool]:
        left = self.and_expr()
        while self.next_is("||"):
            right = self.and_expr()
            left = (lambda a, b: lambda node: a(node) or b(node))(left, right)
        return left

    def and_expr(self) -> Callable[[Any], bool]:
        left = self.unary()
        while self.next_is("&&"):
            right = self.unary()
            left = (lambda a, b: lambda node: a(node) and b(node))(left, right)
        return left

    def unary(self) -> Callable[[Any], bool]:
        if self.next_is("!"):
            inner = self.unary()
            return lambda node: not inner(node)
        if self.next_is("("):
            inner = self.or_expr()
            if not self.next_is(")"):
                raise PathSyntaxError(self.text, "expected ')' in filter expression")
            return inner
        left = self.operand()
        if self.i < len(self.tokens) and self.tokens[self.i][0] == "op" and self.tokens[self.i][1] in _COMPARE:
            op = _COMPARE[self.tokens[self.i][1]]
            self.i += 1
            right = self.operand()
            return lambda node: _compare(op, left(node), right(node))
        return lambda node: left(node) is not _MISSING

    def operand(self) -> Callable[[Any], Any]:
        if self.i >= len(self.tokens):
            raise PathSyntaxError(self.text, "incomplete filter expression")
        kind, value = self.tokens[self.i]
        self.i += 1
        if kind == "lit":
            return lambda node: value
        if kind == "path":
            def read(node: Any, path: CompiledPath = value) -> Any:
                try:
                    return path.find(node)
                except PathNotFound:
                    return _MISSING
            return read
        raise PathSyntaxError(self.text, f"unexpected {value!r} in filter expression")


_MISSING = object()
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=~": lambda a, b: re.fullmatch(b, a) is not None,
}


def _compare(op: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    if left is _MISSING or right is _MISSING:
        return False
    # Jayway compares numbers with numbers and strings with strings; a mixed comparison is false.
    if isinstance(left, bool) != isinstance(right, bool):
        return False
    if isinstance(left, (int, float)) != isinstance(right, (int, float)):
        return op is _COMPARE["!="]
    try:
        return bool(op(left, right))
    except TypeError:
        return False


@lru_cache(maxsize=4096)
def compile_path(text: str) -> CompiledPath:
    """Parse a Path (``$``, ``$$`` or ``$var`` rooted). Raises :class:`PathSyntaxError`."""
    if not isinstance(text, str):
        raise PathSyntaxError(repr(text), "a path must be a string")
    return _Parser(text).parse()


@lru_cache(maxsize=4096)
def compile_reference_path(text: str) -> CompiledPath:
    """Parse a Reference Path: a single node, only ``.name`` and ``[n]`` steps (ResultPath, Variable...)."""
    path = compile_path(text)
    if not path.definite:
        raise PathSyntaxError(text, "a reference path may only use '.field' and '[index]' steps")
    return path


def reference_path_keys(text: str) -> tuple[str | int, ...]:
    """The keys a Reference Path walks from its root: ``$.train['a'][0]`` -> ``("train", "a", 0)``."""
    return tuple(step.name if isinstance(step, _Name) else step.index  # type: ignore[union-attr]
                 for step in compile_reference_path(text).steps)


# --------------------------------------------------------------------------------------------- templates
def _path_failure(path: str, field: str, sources: Sources) -> StatesError:
    return StatesError(
        "States.Runtime",
        f"The JSONPath '{path}' specified for the field '{field}' could not be found in the input "
        f"'{compact_json(sources.input)}'",
        field=field,
        path=path,
    )


class Template:
    """A compiled payload template (Parameters, ResultSelector, ItemSelector, Assign, ErrorPath...).

    ``evaluate(sources)`` returns a fresh value; keys ending in ``.$`` take a path, a ``$$`` path, a
    variable path or an intrinsic function call. A template without any ``.$`` key evaluates to its
    literal (shared, never mutated).
    """

    __slots__ = ("evaluate", "literal")

    def __init__(self, evaluate: Callable[[Sources], Any], literal: bool) -> None:
        self.evaluate = evaluate
        self.literal = literal


def compile_template(value: Any, *, field: str = "Parameters") -> Template:
    """Compile a payload template. Raises :class:`PathSyntaxError` for a malformed path or intrinsic."""
    fn = _compile_value(value, field)
    if fn is None:
        return Template(lambda sources: value, True)
    return Template(fn, False)


def compile_expression(text: str, field: str) -> Callable[[Sources], Any]:
    """The evaluator for one ``"key.$"`` value: a path or an intrinsic function."""
    if text.startswith("States."):
        return _compile_intrinsic(text, field)
    path = compile_path(text)

    def evaluate(sources: Sources) -> Any:
        try:
            return path.resolve(sources)
        except PathNotFound:
            raise _path_failure(text, field, sources) from None

    return evaluate


def _compile_intrinsic(text: str, field: str) -> Callable[[Sources], Any]:
    from stepfn.asl import intrinsics

    call = intrinsics.parse_intrinsic(text)

    def evaluate(sources: Sources) -> Any:
        def resolve(path_text: str) -> Any:
            path = compile_path(path_text)
            try:
                return path.resolve(sources)
            except PathNotFound:
                raise _path_failure(path_text, field, sources) from None

        return intrinsics.evaluate_intrinsic(call, resolve, new_uuid=sources.new_uuid)

    return evaluate


def _compile_value(value: Any, field: str) -> Callable[[Sources], Any] | None:
    if isinstance(value, dict):
        parts: list[tuple[str, Any, bool]] = []
        dynamic = False
        for key, item in value.items():
            if isinstance(key, str) and key.endswith(".$") and len(key) > 2:
                if not isinstance(item, str):
                    raise PathSyntaxError(str(item), f"the value of {key!r} must be a path string")
                parts.append((key[:-2], compile_expression(item, key), True))
                dynamic = True
            else:
                sub = _compile_value(item, field)
                if sub is None:
                    parts.append((key, item, False))
                else:
                    parts.append((key, sub, True))
                    dynamic = True
        if not dynamic:
            return None
        frozen = tuple(parts)

        def evaluate_object(sources: Sources) -> Any:
            return {key: (fn(sources) if is_fn else fn) for key, fn, is_fn in frozen}

        return evaluate_object
    if isinstance(value, list):
        items = [_compile_value(item, field) for item in value]
        if all(item is None for item in items):
            return None
        pairs = tuple(zip(value, items, strict=True))

        def evaluate_list(sources: Sources) -> Any:
            return [fn(sources) if fn is not None else raw for raw, fn in pairs]

        return evaluate_list
    return None


# --------------------------------------------------------------------------------------------- ResultPath
_UNSET: Any = object()


def apply_result_path(raw_input: Any, result: Any, result_path: CompiledPath | Any | None) -> Any:
    """Merge a state's result into its raw input as ResultPath says.

    ``result_path`` is a compiled reference path, ``None`` for ``"ResultPath": null`` (keep the input,
    discard the result), or :data:`RESULT_PATH_DEFAULT` (``$``: the result replaces the input).
    """
    if result_path is None:
        return raw_input
    if result_path is RESULT_PATH_DEFAULT or not result_path.steps:
        return result
    try:
        return result_path.assign(raw_input, result)
    except PathNotFound as exc:
        raise StatesError("States.ResultPathMatchFailure", exc.message, field="ResultPath",
                          path=result_path.text) from None


RESULT_PATH_DEFAULT: Any = _UNSET
