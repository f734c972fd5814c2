"""Intrinsic functions: parsing, evaluation and failures (docs/design/asl-engines.md §5.4)."""

from __future__ import annotations

import json
import pickle
import random
import re
from pathlib import Path
from typing import Any

import pytest

from stepfn.asl.intrinsics import (
    MAX_NESTING,
    IntrinsicCall,
    IntrinsicSyntaxError,
    Literal,
    PathArgument,
    StringLiteral,
    evaluate_intrinsic,
    is_intrinsic,
    parse_intrinsic,
)
from stepfn.errors import DefinitionError, StatesError


def _resolver(data: Any, context: Any = None, variables: dict[str, Any] | None = None):
    """A minimal dotted-path resolver standing in for the engine's (bracket-free paths only)."""

    def walk(node: Any, steps: list[str], path: str) -> Any:
        for step in steps:
            if isinstance(node, dict) and step in node:
                node = node[step]
            else:
                raise StatesError("States.Runtime", f"The JSONPath '{path}' could not be found")
        return node

    def resolve(path: str) -> Any:
        if path.startswith("$$"):
            return walk(context, [s for s in path[2:].split(".") if s], path)
        if path.startswith("$."):
            return walk(data, path[2:].split("."), path)
        if path == "$":
            return data
        name, *rest = path[1:].split(".")
        if not variables or name not in variables:
            raise StatesError("States.Runtime", f"undefined variable {name}")
        return walk(variables[name], rest, path)

    return resolve


def _eval(expr: str, data: Any = None, **kwargs: Any) -> Any:
    return evaluate_intrinsic(expr, _resolver(data, kwargs.pop("context", None), kwargs.pop("variables", None)),
                              new_uuid=lambda: "00000000-0000-4000-8000-000000000000", **kwargs)


# ------------------------------------------------------------------ cases recorded on AWS (conformance set)

def _recorded_cases(conformance_dir: Path) -> list[tuple[str, str, Any, Any, Any]]:
    """Pass states whose Parameters hold one intrinsic; returns (test_id, expr, input, context, expected)."""
    cases = []
    for line in (conformance_dir / "aws-recorded.jsonl").read_text().splitlines():
        row = json.loads(line)
        expected = row["expected"]
        states = row["definition"]["States"]
        if expected["status"] != "SUCCEEDED" or len(states) != 1:
            continue
        (state,) = states.values()
        params = state.get("Parameters")
        if state["Type"] != "Pass" or not isinstance(params, dict) or list(params) != ["FunctionResult.$"]:
            continue
        if set(state) - {"Type", "Parameters", "End"}:
            continue
        expr = params["FunctionResult.$"]
        result = expected["output"]["FunctionResult"]
        if not is_intrinsic(expr) or result == "RandomNumberGenerated" or "$$" in expr:
            continue
        cases.append((row["test_id"], expr, row["input"], {"Execution": {"Input": row["input"]}}, result))
    return cases


def test_recorded_intrinsic_cases_match_aws(conformance_dir: Path) -> None:
    cases = _recorded_cases(conformance_dir)
    assert len(cases) >= 100  # the extraction must keep finding the intrinsic suite
    failures = []
    for test_id, expr, data, context, expected in cases:
        got = _eval(expr, data, context=context)
        if json.dumps(got) != json.dumps(expected):
            failures.append(f"{test_id}: {expr} -> {got!r}, AWS gave {expected!r}")
    assert not failures, "\n".join(failures)


def test_recorded_context_cases(conformance_dir: Path) -> None:
    context = {
        "Execution": {"Name": "exec-name", "Input": {"FunctionInput": "a,b"}},
        "StateMachine": {"Id": "arn:aws:states:us-east-1:111111111111:stateMachine:sm-one-two", "Name": "sm-one-two"},
    }
    fmt = "States.Format('Formatting arguments fst={} and snd={}.', $$.Execution.Name, $$.StateMachine)"
    assert _eval(fmt, None, context=context) == (
        "Formatting arguments fst=exec-name and snd="
        "{Id=arn:aws:states:us-east-1:111111111111:stateMachine:sm-one-two, Name=sm-one-two}."
    )
    assert _eval("States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), 0)", context=context) == "sm"
    nested = (
        "States.ArrayGetItem(States.StringSplit($$.StateMachine.Name, '-'), "
        "States.MathAdd(States.ArrayLength(States.StringSplit($$.StateMachine.Name, '-')), -1))"
    )
    assert _eval(nested, context=context) == "two"
    assert _eval("States.StringSplit($$.Execution.Input.FunctionInput, ',')", context=context) == ["a", "b"]


def test_recorded_json_merge_with_escaped_literal() -> None:
    expr = "States.JsonMerge(States.StringToJson('{\\\"constant_in_literal\\\": \\\"false\\\"}'), $.x, false)"
    assert _eval(expr, {"x": {"constant_input_field": "constant_value"}}) == {
        "constant_in_literal": "false",
        "constant_input_field": "constant_value",
    }


def test_recorded_variable_argument() -> None:
    expr = "States.Format('Format Func {}', $varname)"
    assert _eval(expr, {}, variables={"varname": "v"}) == "Format Func v"
    assert _eval("States.Format('{}', $obj.inner)", {}, variables={"obj": {"inner": 3}}) == "3"


# ------------------------------------------------------------------------------------ function behaviour

@pytest.mark.parametrize(
    ("expr", "data", "expected"),
    [
        ("States.Array()", None, []),
        ("States.Array(42, true, null, 'hello')", None, [42, True, None, "hello"]),
        ("States.Array(1, States.Array(2, 3))", None, [1, [2, 3]]),
        ("States.Array( $.a , $.b )", {"a": 1, "b": 2}, [1, 2]),
        ("States.Array(-1.5e3, 0, -0)", None, [-1500.0, 0, 0]),
        ("States.Format('Hello {}', $.name)", {"name": "Ada"}, "Hello Ada"),
        ("States.Format('{} {} {}', $.a, $.b, $.c)", {"a": "x", "b": 2, "c": True}, "x 2 true"),
        ("States.Format('Name: \\'{}\\', Surname: \"{}\"', $.n, $.s)", {"n": "G", "s": "M"}, "Name: 'G', Surname: \"M\""),
        ("States.Format('no placeholders')", None, "no placeholders"),
        ("States.Format($.t, $.n)", {"t": "Hello {}", "n": "Ada"}, "Hello Ada"),
        ("States.Format('escaped \\{\\} and {}', 1)", None, "escaped {} and 1"),
        ("States.Format('back\\\\slash {}', 'x')", None, "back\\slash x"),
        ("States.Format('{}|{}|{}', $.n, $.l, $.f)", {"n": None, "l": [1, "a", [True]], "f": 3.5}, "null|[1, a, [true]]|3.5"),
        ("States.Format('arn:{}:{}', $.svc, States.JsonToString($.obj))", {"svc": "l", "obj": {"k": 1}}, 'arn:l:{"k":1}'),
        ("States.StringToJson($.s)", {"s": '{"a": [1, 2]}'}, {"a": [1, 2]}),
        ("States.StringToJson('  ')", None, None),
        ("States.JsonToString($.o)", {"o": {"a": "é", "b": [1, None]}}, '{"a":"é","b":[1,null]}'),
        ("States.ArrayPartition($.a, 4)", {"a": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, [[1, 2, 3, 4], [5, 6, 7, 8], [9]]),
        ("States.ArrayPartition($.a, 1.5)", {"a": [1, 2, 3]}, [[1, 2], [3]]),
        ("States.ArrayContains($.a, 1)", {"a": [True, 2]}, False),
        ("States.ArrayContains($.a, $.v)", {"a": [{"x": 1, "y": 2}], "v": {"y": 2, "x": 1}}, True),
        ("States.ArrayRange(1, 9, 2)", None, [1, 3, 5, 7, 9]),
        ("States.ArrayRange(-2, 2, 2)", None, [-2, 0, 2]),
        ("States.ArrayRange(1.4, 5.6, 2.2)", None, [1, 3, 5]),
        ("States.ArrayRange(3, 3, -1)", None, [3]),
        ("States.ArrayRange(5, 1, -2)", None, [5, 3, 1]),
        ("States.ArrayRange(5, 1, 1)", None, []),
        ("States.ArrayRange(1.6, 1.4, 1)", None, [1]),
        ("States.ArrayGetItem($.a, 1)", {"a": [{"a": 1}, {"b": 2}]}, {"b": 2}),
        ("States.ArrayGetItem($.a, 1.2)", {"a": [10, 20, 30]}, 20),
        ("States.ArrayGetItem($.a, 999)", {"a": []}, None),
        ("States.ArrayGetItem(States.Array('x', 'y', 'z'), 1)", None, "y"),
        ("States.ArrayLength($.a)", {"a": []}, 0),
        ("States.ArrayUnique($.a)", {"a": [1, 1, True, True, 1.0, "1", None, None, {"a": 1, "b": 2}, {"b": 2, "a": 1}]},
         [1, True, 1.0, "1", None, {"a": 1, "b": 2}]),
        ("States.Base64Encode('hello')", None, "aGVsbG8="),
        ("States.Base64Encode($.s)", {"s": "こんにちは"}, "44GT44KT44Gr44Gh44Gv"),
        ("States.Base64Encode('🚀')", None, "8J+agA=="),
        ("States.Base64Decode('4pyT')", None, "✓"),
        ("States.Base64Decode('YWJjAGRlZg==')", None, "abc\x00def"),
        ("States.Base64Decode(' YWJjZA== ')", None, "abcd"),
        ("States.Base64Decode('abc')", None, "i\ufffd"),
        ("States.Base64Decode(States.Base64Encode($.s))", {"s": "hello"}, "hello"),
        ("States.Hash('hello', 'SHA-1')", None, "aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d"),
        ("States.Hash('', 'SHA-256')", None, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("States.Hash($.s, 'MD5')", {"s": "abc\x00def"}, "a5e4d5963ae44c1f4bfb37b1a3d55a3c"),
        ("States.Hash('🚀', 'SHA-256')", None, "ebbc0b2870eb323f2b6cffa5c493ceef81ae7eb36afc73d4e0367301631daec5"),
        ("States.Hash(States.Format('{}:{}', $.a, $.b), 'SHA-256')", {"a": "x", "b": "y"},
         "1274e286686b54fe765ec40735665b4bf789cee2a5b22124c5e0491a88e15271"),
        ("States.JsonMerge($.a, $.b, false)", {"a": {"x": {"p": 1}, "y": 1}, "b": {"x": {"q": 2}}}, {"x": {"q": 2}, "y": 1}),
        ("States.MathAdd($.v, -1)", {"v": 111}, 110),
        ("States.MathAdd(-2.5, 0)", None, -2),
        ("States.MathAdd(2.5, 0)", None, 3),
        ("States.StringSplit('This.is+a,test=string', '.+,=')", None, ["This", "is", "a", "test", "string"]),
        ("States.StringSplit(',,,,', ',')", None, []),
        ("States.StringSplit('abc', '')", None, ["abc"]),
        ("States.UUID()", None, "00000000-0000-4000-8000-000000000000"),
    ],
)
def test_function_results(expr: str, data: Any, expected: Any) -> None:
    assert json.dumps(_eval(expr, data)) == json.dumps(expected)


def test_array_range_limit_is_1000_items() -> None:
    assert len(_eval("States.ArrayRange(1, 1000, 1)")) == 1000
    assert _eval("States.ArrayRange(1000, 1, -1)")[-1] == 1


def test_encoding_limit_is_10000_characters() -> None:
    assert _eval("States.Base64Encode($.s)", {"s": "a" * 10_000}).startswith("YWFh")
    assert _eval("States.Base64Decode($.s)", {"s": "YWFh" * 2_500}) == "a" * 7_500
    assert len(_eval("States.Hash($.s, 'SHA-512')", {"s": "a" * 10_000})) == 128


def test_math_random_is_deterministic_with_a_seed() -> None:
    first = _eval("States.MathRandom(1, 1000, 42)")
    assert first == _eval("States.MathRandom(1, 1000, 42)")
    assert 1 <= first < 1000
    seeds = {_eval(f"States.MathRandom(0, 1000000, {seed})") for seed in range(20)}
    assert len(seeds) > 10  # different seeds give different numbers
    rng = random.Random(7)
    values = [_eval("States.MathRandom(1.6, 5.4)", rng=rng) for _ in range(200)]
    assert set(values) == {1, 2, 3, 4}  # truncated bounds, exclusive end
    assert _eval("States.MathRandom(1, 10, -10)") in range(1, 10)


# ----------------------------------------------------------------------------------------- failures

@pytest.mark.parametrize(
    ("expr", "data", "function"),
    [
        ("States.Format('{} {}', $.a)", {"a": 1}, "Format"),
        ("States.Format('{}', 1, 2)", None, "Format"),
        ("States.Format('Hello {', 1)", None, "Format"),
        ("States.Format('Hello {{}}', 1)", None, "Format"),
        ("States.Format('}')", None, "Format"),
        ("States.Format($.t)", {"t": 123}, "Format"),
        ("States.Format()", None, "Format"),
        ("States.StringToJson('{bad')", None, "StringToJson"),
        ("States.StringToJson(1)", None, "StringToJson"),
        ("States.JsonToString(1, 2)", None, "JsonToString"),
        ("States.ArrayPartition($.a, 0.49)", {"a": [1]}, "ArrayPartition"),
        ("States.ArrayPartition($.a, -1)", {"a": [1]}, "ArrayPartition"),
        ("States.ArrayPartition('x', 1)", None, "ArrayPartition"),
        ("States.ArrayContains('x', 1)", None, "ArrayContains"),
        ("States.ArrayRange('a', 5, 1)", None, "ArrayRange"),
        ("States.ArrayRange(1, 10, 0.49)", None, "ArrayRange"),
        ("States.ArrayRange(1, 1001, 1)", None, "ArrayRange"),
        ("States.ArrayRange(1001, 1, -1)", None, "ArrayRange"),
        ("States.ArrayRange(1, 5)", None, "ArrayRange"),
        ("States.ArrayRange(1, 5, 1, 99)", None, "ArrayRange"),
        ("States.ArrayGetItem('not-array', 0)", None, "ArrayGetItem"),
        ("States.ArrayGetItem($.a, 3)", {"a": [1, 2, 3]}, "ArrayGetItem"),
        ("States.ArrayGetItem($.a, -1)", {"a": [1, 2, 3]}, "ArrayGetItem"),
        ("States.ArrayGetItem($.a, '1')", {"a": [1, 2, 3]}, "ArrayGetItem"),
        ("States.ArrayLength($.o)", {"o": {}}, "ArrayLength"),
        ("States.ArrayUnique(1)", None, "ArrayUnique"),
        ("States.Base64Encode(123)", None, "Base64Encode"),
        ("States.Base64Encode($.s)", {"s": "a" * 10_001}, "Base64Encode"),
        ("States.Base64Encode('a', 'b')", None, "Base64Encode"),
        ("States.Base64Decode($.o)", {"o": {}}, "Base64Decode"),
        ("States.Base64Decode($.s)", {"s": "A" * 10_001}, "Base64Decode"),
        ("States.Base64Decode('%%%not-base64%%%')", None, "Base64Decode"),
        ("States.Base64Decode('YWJjZ')", None, "Base64Decode"),
        ("States.Hash('hello', 123)", None, "Hash"),
        ("States.Hash('hello', 'sha-256')", None, "Hash"),
        ("States.Hash('hello', 'SHA256')", None, "Hash"),
        ("States.Hash('hello')", None, "Hash"),
        ("States.Hash($.s, 'MD5')", {"s": "a" * 10_001}, "Hash"),
        ("States.JsonMerge($.a, $.a, true)", {"a": {}}, "JsonMerge"),
        ("States.JsonMerge($.a, $.a, 'false')", {"a": {}}, "JsonMerge"),
        ("States.JsonMerge($.a, 1, false)", {"a": {}}, "JsonMerge"),
        ("States.MathRandom(1, 1)", None, "MathRandom"),
        ("States.MathRandom(10, 5)", None, "MathRandom"),
        ("States.MathRandom(1.4, 1.6)", None, "MathRandom"),
        ("States.MathRandom('a', 10)", None, "MathRandom"),
        ("States.MathRandom(1, 10, null)", None, "MathRandom"),
        ("States.MathRandom(1)", None, "MathRandom"),
        ("States.MathAdd($.a, 1)", {"a": "NOT A NUMBER"}, "MathAdd"),
        ("States.MathAdd(true, 1)", None, "MathAdd"),
        ("States.MathAdd(2147483648, 1)", None, "MathAdd"),
        ("States.StringSplit(1, ',')", None, "StringSplit"),
        ("States.StringSplit('a', 1)", None, "StringSplit"),
        ("States.UUID(1)", None, "UUID"),
    ],
)
def test_invalid_arguments_fail_like_aws(expr: str, data: Any, function: str) -> None:
    with pytest.raises(StatesError) as info:
        _eval(expr, data)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == f"Invalid arguments in States.{function}"


def test_missing_path_error_comes_from_the_resolver() -> None:
    with pytest.raises(StatesError, match="could not be found"):
        _eval("States.Hash($.missing, 'SHA-256')", {})


# ------------------------------------------------------------------------------------------- parsing

def test_parse_tree_shape() -> None:
    call = parse_intrinsic("States.Format('a\\'{}', $.x[0]['k'], $$.Execution.Id, $v.y, States.UUID(), 1.5, false)")
    assert call.name == "Format"
    assert call.function == "States.Format"
    assert call.args == (
        StringLiteral("a'{}", "a\\'{}"),
        PathArgument("$.x[0]['k']"),
        PathArgument("$$.Execution.Id"),
        PathArgument("$v.y"),
        IntrinsicCall("UUID", (), "States.UUID()"),
        Literal(1.5),
        Literal(False),
    )
    assert call.paths() == ["$.x[0]['k']", "$$.Execution.Id", "$v.y"]
    assert parse_intrinsic(call.text) is call  # parsed once, cached


def test_string_literal_keeps_raw_newlines_and_unescaped_braces() -> None:
    assert parse_intrinsic("States.StringSplit('Hello\nWorld', '\n')").args[1] == StringLiteral("\n", "\n")
    assert parse_intrinsic("States.StringToJson('{\"a\":1}')").args[0] == StringLiteral('{"a":1}', '{"a":1}')


def test_nesting_up_to_ten_levels() -> None:
    def nested(depth: int) -> str:
        return "States.Array(" * depth + "1" + ")" * depth

    assert _eval(nested(MAX_NESTING)) == json.loads("[" * MAX_NESTING + "1" + "]" * MAX_NESTING)
    with pytest.raises(IntrinsicSyntaxError, match="nested at most 10"):
        parse_intrinsic(nested(MAX_NESTING + 1))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("States.Foo()", "unknown intrinsic function 'States.Foo'"),
        ("States.Format", "expected '('"),
        ("States.Array(", "unexpected end of text"),
        ("States.Array($.a) trailing", "unexpected text after"),
        ("States.Array([1,2])", "unexpected '['"),
        ("States.Array(1.)", "malformed number"),
        ("States.Array(.5)", "unexpected '.'"),
        ("States.Array(1,)", "unexpected ')'"),
        ("States.ArrayGetItem($.arr, )", "unexpected ')'"),
        ("States.Array('abc)", "unterminated string"),
        ("States.Base64Decode('YWJj\\nZA==')", "invalid escape sequence"),
        ("States.Array(True)", "unexpected 'T'"),
        ("States.Array(nullx)", "unexpected 'n'"),
        ("States.Array($.a[0)", "unterminated '['"),
        ("States.Array($.a])", "unbalanced ']'"),
        ("States.Array($-x)", "malformed path"),
        ("states.Array()", "starts with 'States.'"),
        ("States.(1)", "missing function name"),
        ("$.a", "starts with 'States.'"),
    ],
)
def test_syntax_errors(text: str, reason: str) -> None:
    with pytest.raises(IntrinsicSyntaxError, match=re.escape(reason)) as info:
        parse_intrinsic(text)
    assert isinstance(info.value, DefinitionError)
    assert info.value.text == text
    copy = pickle.loads(pickle.dumps(info.value))
    assert (copy.text, copy.reason, copy.position) == (info.value.text, info.value.reason, info.value.position)


def test_is_intrinsic() -> None:
    assert is_intrinsic("States.Array()")
    assert is_intrinsic("  States.Bogus(")
    assert not is_intrinsic("$.States")
    assert not is_intrinsic(None)


def test_non_string_expression_is_a_syntax_error() -> None:
    with pytest.raises(IntrinsicSyntaxError):
        parse_intrinsic(42)  # type: ignore[arg-type]
