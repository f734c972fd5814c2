"""JSONata query language for ASL (``QueryLanguage: "JSONata"``), evaluated with jsonata-python.

Spec: AWS developer guide "Transforming data with JSONata in Step Functions". A field value is an
expression when the whole string is ``{% ... %}`` (no surrounding spaces); anything else is a literal.
Expressions see ``$states`` (``input``, ``result``, ``errorOutput``, ``context``) and the workflow
variables as ``$name``; AWS adds ``$partition``, ``$range``, ``$hash``, ``$random``, ``$uuid`` and
``$parse``. Evaluation errors become ``States.QueryEvaluationError`` with AWS's cause texts.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

import jsonata
from jsonata import utils as jsonata_utils

from stepfn.asl.paths import compact_json
from stepfn.errors import DefinitionError, StatesError

__all__ = [
    "JsonataExpression",
    "JsonataSyntaxError",
    "JsonataTemplate",
    "compile_jsonata",
    "compile_jsonata_template",
    "is_jsonata",
]

QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"


class JsonataSyntaxError(DefinitionError):
    """A ``{% %}`` expression does not parse."""


def is_jsonata(value: Any) -> bool:
    """True when ``value`` is a whole-string ``{% expression %}``."""
    return isinstance(value, str) and len(value) >= 4 and value.startswith("{%") and value.endswith("%}")


def _to_python(value: Any) -> Any:
    """JSONata's null marker and sequence types back to plain JSON values."""
    if value is None or value is jsonata_utils.Utils.NULL_VALUE:
        return None
    if isinstance(value, list):
        return [_to_python(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_python(item) for key, item in value.items()}
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _to_jsonata(value: Any) -> Any:
    return jsonata_utils.Utils.NULL_VALUE if value is None else value


def _partition(array: Any, size: Any) -> list[Any]:
    if not isinstance(array, list) or not isinstance(size, (int, float)) or size <= 0:
        raise StatesError(QUERY_EVALUATION_ERROR, "$partition expects an array and a positive chunk size")
    step = int(size)
    return [list(array[i : i + step]) for i in range(0, len(array), step)]


def _range(start: Any, end: Any, step: Any = 1) -> list[Any]:
    if step == 0:
        raise StatesError(QUERY_EVALUATION_ERROR, "$range step cannot be zero")
    out = []
    current = start
    while (step > 0 and current <= end) or (step < 0 and current >= end):
        out.append(current)
        current += step
        if len(out) > 1000:
            raise StatesError(QUERY_EVALUATION_ERROR, "$range result exceeds 1000 elements")
    return out


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


def _hash(data: Any, algorithm: Any = "SHA-256") -> str:
    name = _HASHES.get(algorithm) if isinstance(algorithm, str) else None
    if name is None:
        raise StatesError(QUERY_EVALUATION_ERROR, f"$hash: unsupported algorithm {algorithm!r}")
    text = data if isinstance(data, str) else compact_json(_to_python(data))
    return hashlib.new(name, text.encode()).hexdigest()


def _random(seed: Any = None) -> float:
    return random.Random(seed).random() if seed is not None else random.random()


def _parse(text: Any) -> Any:
    if not isinstance(text, str):
        raise StatesError(QUERY_EVALUATION_ERROR, "$parse expects a string")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise StatesError(QUERY_EVALUATION_ERROR, f"$parse could not parse {text!r}: {exc}") from None


class _UuidSource(threading.local):
    """The execution's id source, set around each evaluation so ``$uuid()`` reads it."""

    new_uuid: Callable[[], str] | None = None


_uuid_source = _UuidSource()


def _uuid() -> str:
    source = _uuid_source.new_uuid
    if source is None:
        import uuid

        return str(uuid.uuid4())
    return source()


class JsonataExpression:
    """One compiled expression (the text between ``{%`` and ``%}``)."""

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._compiled = jsonata.Jsonata(text)
        except Exception as exc:  # jsonata-python raises JException and assorted parser errors
            raise JsonataSyntaxError(f"invalid JSONata expression {text!r}: {exc}") from exc
        self._compiled.set_output_convert_nulls(False)
        self._compiled.set_validate_input(False)
        for name, function in (
            ("partition", _partition),
            ("range", _range),
            ("hash", _hash),
            ("random", _random),
            ("uuid", _uuid),
            ("parse", _parse),
        ):
            self._compiled.register_lambda(name, function)

    def evaluate(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any],
        *,
        field: str,
        new_uuid: Callable[[], str] | None = None,
        allow_undefined: bool = False,
    ) -> Any:
        """Evaluate with ``$states`` and the variables bound; errors are ``States.QueryEvaluationError``."""
        bindings = {name: _to_jsonata(value) for name, value in variables.items()}
        bindings["states"] = states
        _uuid_source.new_uuid = new_uuid
        try:
            result = self._compiled.evaluate(None, bindings)
        except StatesError:
            raise
        except Exception as exc:
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"An error occurred while evaluating the JSONata expression '{self.text}' specified for the "
                f"field '{field}': {exc}",
                field=field,
            ) from None
        finally:
            _uuid_source.new_uuid = None
        if result is None:
            if allow_undefined:
                return None
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.text}' specified for the field '{field}' returned nothing "
                "(undefined).",
                field=field,
            )
        if not isinstance(result, (dict, list, str, int, float, bool)) and result is not jsonata_utils.Utils.NULL_VALUE:
            raise StatesError(
                QUERY_EVALUATION_ERROR,
                f"The JSONata expression '{self.text}' specified for the field '{field}' returned an "
                "unsupported result type.",
                field=field,
            )
        return _to_python(result)


@lru_cache(maxsize=4096)
def compile_jsonata(text: str) -> JsonataExpression:
    """Compile ``text`` (either ``{% expr %}`` or the bare expression)."""
    if is_jsonata(text):
        text = text[2:-2].strip()
    return JsonataExpression(text)


class JsonataTemplate:
    """A JSON value whose ``{% %}`` strings (at any depth) are evaluated; other values are literal."""

    __slots__ = ("_evaluate", "literal", "value")

    def __init__(self, value: Any, field: str) -> None:
        self.value = value
        fn = _compile(value, field)
        self.literal = fn is None
        self._evaluate = fn

    def evaluate(
        self,
        states: Mapping[str, Any],
        variables: Mapping[str, Any],
        *,
        new_uuid: Callable[[], str] | None = None,
    ) -> Any:
        if self._evaluate is None:
            return self.value
        return self._evaluate(states, variables, new_uuid)


_Evaluator = Callable[[Mapping[str, Any], Mapping[str, Any], "Callable[[], str] | None"], Any]


def _compile(value: Any, field: str) -> _Evaluator | None:
    # ``field`` grows with the position inside the template, as AWS names it in errors: 'Output/value' for a
    # key, 'Output/list[0]' for an item (issue 20 item 8).
    if is_jsonata(value):
        expression = compile_jsonata(value)

        def evaluate_expression(states: Mapping[str, Any], variables: Mapping[str, Any],
                                new_uuid: Callable[[], str] | None) -> Any:
            return expression.evaluate(states, variables, field=field, new_uuid=new_uuid)

        return evaluate_expression
    if isinstance(value, dict):
        parts = [(key, _compile(item, f"{field}/{key}"), item) for key, item in value.items()]
        if all(fn is None for _, fn, _ in parts):
            return None

        def evaluate_object(states: Mapping[str, Any], variables: Mapping[str, Any],
                            new_uuid: Callable[[], str] | None) -> Any:
            out = {}
            for key, fn, raw in parts:
                if fn is None:
                    out[key] = raw
                    continue
                out[key] = fn(states, variables, new_uuid)
            return out

        return evaluate_object
    if isinstance(value, list):
        items = [(_compile(item, f"{field}[{index}]"), item) for index, item in enumerate(value)]
        if all(fn is None for fn, _ in items):
            return None

        def evaluate_list(states: Mapping[str, Any], variables: Mapping[str, Any],
                          new_uuid: Callable[[], str] | None) -> Any:
            return [raw if fn is None else fn(states, variables, new_uuid) for fn, raw in items]

        return evaluate_list
    return None


def compile_jsonata_template(value: Any, *, field: str) -> JsonataTemplate:
    return JsonataTemplate(value, field)
