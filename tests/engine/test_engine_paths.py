"""JSONPath, reference paths, payload templates and ResultPath (stepfn.asl.paths) and JSONata (stepfn.asl.jsonata)."""

from __future__ import annotations

from typing import Any

import pytest

from stepfn.asl.jsonata import compile_jsonata, compile_jsonata_template, is_jsonata
from stepfn.asl.paths import (
    RESULT_PATH_DEFAULT,
    PathNotFound,
    PathSyntaxError,
    Sources,
    apply_result_path,
    compile_path,
    compile_reference_path,
    compile_template,
)
from stepfn.errors import DefinitionError, StatesError

DATA: dict[str, Any] = {
    "a": {"b": [1, 2, {"c": 3}]},
    "users": [{"status": 0, "name": "x"}, {"status": 1, "name": "y"}],
    "dash-key": 5,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", DATA),
        ("$.a.b[2].c", 3),
        ("$.a.b[-1]", {"c": 3}),
        ("$['dash-key']", 5),
        ("$.dash-key", 5),
        ("$.a.b[*]", [1, 2, {"c": 3}]),
        ("$..c", [3]),
        ("$.a.b[0:2]", [1, 2]),
        ("$.a.b[0,2]", [1, {"c": 3}]),
        ("$.users[?(@.status == 0)].name", ["x"]),
        ("$.users[?(@.status > 0 && @.name == 'y')]", [{"status": 1, "name": "y"}]),
        ("$.users[*].missing", []),
        ("$.a.b.length()", 3),
    ],
)
def test_path_selects_like_jayway(path: str, expected: Any) -> None:
    assert compile_path(path).find(DATA) == expected


def test_missing_definite_step_names_the_jayway_path() -> None:
    with pytest.raises(PathNotFound, match=r"Missing property in path \$\['a'\]\['zz'\]"):
        compile_path("$.a.zz.q").find(DATA)


@pytest.mark.parametrize("bad", ["a.b", "$.a[", "$.a['x", "$[?(@.a ==", "$.a..", "$[1:2:0]"])
def test_bad_syntax_raises_definition_error(bad: str) -> None:
    with pytest.raises(PathSyntaxError) as info:
        compile_path(bad)
    assert isinstance(info.value, DefinitionError)


def test_reference_path_rejects_wildcards() -> None:
    assert compile_reference_path("$.a[0].b").definite
    with pytest.raises(PathSyntaxError):
        compile_reference_path("$.a[*]")


def test_roots_context_and_variables() -> None:
    sources = Sources(DATA, lambda: {"Execution": {"Id": "arn"}}, {"v": {"k": 9}}.__getitem__, lambda: "uuid")
    assert compile_path("$$.Execution.Id").resolve(sources) == "arn"
    assert compile_path("$v.k").resolve(sources) == 9
    with pytest.raises(PathNotFound):
        compile_path("$nope").resolve(sources)


def test_template_evaluates_paths_context_variables_and_keeps_literals() -> None:
    sources = Sources(DATA, lambda: {"State": {"Name": "S"}}, {"v": 7}.__getitem__, lambda: "uuid")
    template = compile_template({"x.$": "$.a.b[0]", "lit": [1, None, {"n.$": "$$.State.Name"}], "v.$": "$v"})
    assert template.evaluate(sources) == {"x": 1, "lit": [1, None, {"n": "S"}], "v": 7}
    literal = compile_template({"k": "$.not.a.path"})
    assert literal.literal and literal.evaluate(sources) == {"k": "$.not.a.path"}


def test_template_missing_path_is_states_runtime_with_aws_cause() -> None:
    sources = Sources({"a": 1}, dict, {}.__getitem__, lambda: "uuid")
    with pytest.raises(StatesError) as info:
        compile_template({"value.$": "$.no_such_jsonpath"}).evaluate(sources)
    assert info.value.error == "States.Runtime"
    assert info.value.cause == (
        "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"a\":1}'"
    )


def test_result_path_merges_without_mutating_input() -> None:
    raw = {"a": {"b": 1}}
    merged = apply_result_path(raw, 5, compile_reference_path("$.a.c"))
    assert merged == {"a": {"b": 1, "c": 5}} and raw == {"a": {"b": 1}}
    assert apply_result_path(raw, 5, None) is raw
    assert apply_result_path(raw, 5, RESULT_PATH_DEFAULT) == 5
    with pytest.raises(StatesError) as info:
        apply_result_path({"a": 1}, 5, compile_reference_path("$.a.b"))
    assert info.value.error == "States.ResultPathMatchFailure"


def test_jsonata_expressions_and_templates() -> None:
    assert is_jsonata("{% 1 %}") and not is_jsonata(" {% 1 %} ")
    states = {"input": {"n": 2, "arr": [1, 2, 3]}}
    assert compile_jsonata("{% $states.input.n * $x %}").evaluate(states, {"x": 4}, field="Output") == 8
    assert compile_jsonata("{% $partition([1,2,3], 2) %}").evaluate(states, {}, field="Output") == [[1, 2], [3]]
    assert compile_jsonata("{% $range(1, 5, 2) %}").evaluate(states, {}, field="Output") == [1, 3, 5]
    assert compile_jsonata("{% $parse('[1]') %}").evaluate(states, {}, field="Output") == [1]
    template = compile_jsonata_template({"a": "{% $states.input.arr %}", "b": " {% nope %} ", "c": None}, field="Output")
    assert template.evaluate(states, {}) == {"a": [1, 2, 3], "b": " {% nope %} ", "c": None}


def test_jsonata_undefined_and_errors_are_query_evaluation_errors() -> None:
    with pytest.raises(StatesError) as info:
        compile_jsonata("{% $states.input.missing %}").evaluate({"input": {}}, {}, field="Output")
    assert info.value.error == "States.QueryEvaluationError"
    with pytest.raises(StatesError) as info:
        compile_jsonata("{% $x.y() %}").evaluate({"input": {}}, {"x": 1}, field="Output")
    assert info.value.error == "States.QueryEvaluationError"
