"""Placeholders: trees, schemas, validation and paths (docs/design/compat.md §3; the original's test_placeholders.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from stepfn.inputs import (
    ContextObject,
    ExecutionInput,
    MapItemIndex,
    MapItemValue,
    Placeholder,
    StepInput,
    ValidationResult,
    Variable,
)
from stepfn.inputs.utils import flatten, replace_type_with_str


def check_immutable(placeholder: Placeholder) -> bool:
    if not placeholder.immutable:
        return False
    return all(check_immutable(child) for child in placeholder.store.values())


def test_creation_with_subscript_and_type() -> None:
    step_input = StepInput()
    variable = step_input["A"]
    assert (variable.name, variable.type) == ("A", None)
    typed = ExecutionInput()["A"]["b"].get("C", float)
    assert (typed.name, typed.type) == ("C", float)
    assert ExecutionInput()["A"][0].name == 0


def test_invalid_keys_and_type_conflicts() -> None:
    step_input = StepInput()
    with pytest.raises(ValueError, match="Key name can only be string or integer"):
        step_input["A"][1.3]  # type: ignore[index]
    with pytest.raises(ValueError, match="Key name can only be string or integer"):
        step_input["A"].get(1.2, str)  # type: ignore[arg-type]
    execution_input = ExecutionInput()
    execution_input["A"]["b"].get("C", float)
    with pytest.raises(ValueError, match="Key already exists with a different value type: <class 'float'>"):
        execution_input["A"]["b"].get("C", int)


def test_path_contains_and_is_empty() -> None:
    step_input = StepInput()
    deep = step_input["Key01"]["Key04"]
    other = StepInput()["Key07"]
    assert deep._get_path() == ["Key01", "Key04"]
    assert step_input.contains(deep) and deep in step_input
    assert not step_input.contains(other)
    leaf = step_input["A"]["B"]
    assert leaf._is_empty()
    leaf["C"]
    assert not leaf._is_empty()


def test_schema_as_dict_and_json() -> None:
    execution_input = ExecutionInput()
    execution_input["A"]["b"].get("C", float)
    execution_input["Message"]
    execution_input["Key03"]
    execution_input["Key03"]["Key04"]
    assert execution_input.get_schema_as_dict() == {"A": {"b": {"C": float}}, "Message": str, "Key03": {"Key04": str}}
    step_input = StepInput()
    step_input["Response"].get("StatusCode", int)
    step_input["A"]
    assert step_input.get_schema_as_json() == json.dumps({"Response": {"StatusCode": "int"}, "A": "str"})


def test_make_immutable_and_schema_freezes() -> None:
    execution_input = ExecutionInput()
    execution_input["A"]["b"].get("C", float)
    assert not check_immutable(execution_input)
    execution_input._make_immutable()
    assert check_immutable(execution_input)

    schema = {"A": {"B": {"C": int}}, "Request": {"Status": str}, "Hello": float}
    frozen = ExecutionInput(schema=schema)
    assert frozen.get_schema_as_dict() == schema
    assert frozen.immutable
    assert frozen["A"]["B"].get("C", int) is frozen["A"]["B"]["C"]
    with pytest.raises(ValueError, match="does not conform to schema"):
        frozen["A"]["B"]["D"]
    with pytest.raises(ValueError, match="different value type"):
        frozen["A"]["B"].get("C", float)


def test_jsonpaths() -> None:
    assert ExecutionInput()["A"]["b"].get("C", float).to_jsonpath() == "$$.Execution.Input['A']['b']['C']"
    assert ExecutionInput().to_jsonpath() == "$$.Execution.Input"
    assert StepInput()["A"]["b"].get(0, float).to_jsonpath() == "$['A']['b'][0]"
    assert StepInput().to_jsonpath() == "$"
    assert MapItemValue()["A"][0].to_jsonpath() == "$$.Map.Item.Value['A'][0]"
    assert MapItemIndex().to_jsonpath() == "$$.Map.Item.Index"


def test_map_item_index_has_no_children() -> None:
    with pytest.raises(AttributeError):
        MapItemIndex()["A"]
    with pytest.raises(AttributeError):
        MapItemIndex(schema={"A": int})
    assert MapItemIndex().get_schema_as_dict() == {}


def test_names_with_quotes_and_backslashes_are_escaped() -> None:
    """§11 #11: the original produced ``['it's']``, which no JSONPath parser accepts."""
    assert ExecutionInput()["it's"].to_jsonpath() == "$$.Execution.Input['it\\'s']"
    assert StepInput()["a\\b"].to_jsonpath() == "$['a\\\\b']"


def test_context_object_and_variable_paths() -> None:
    assert ContextObject("Task.Token").to_jsonpath() == "$$.Task.Token"
    assert ContextObject("Execution")["Id"].to_jsonpath() == "$$.Execution['Id']"
    assert Variable("total").to_jsonpath() == "$total"
    assert Variable("order")["items"][0].to_jsonpath() == "$order['items'][0]"
    with pytest.raises(ValueError, match="Invalid variable name"):
        Variable("not valid")


def test_jsonata_forms() -> None:
    assert StepInput()["a"]["b c"][0].to_jsonata() == "$states.input.a.`b c`[0]"
    assert ExecutionInput()["x"].to_jsonata() == "$states.context.Execution.Input.x"
    assert ContextObject("Task.Token").to_jsonata() == "$states.context.Task.Token"
    assert Variable("v")["k"].to_jsonata() == "$v.k"


def test_validate() -> None:
    execution_input = ExecutionInput(schema={"JobName": str, "Nested": {"X": int}})
    assert execution_input.validate({"JobName": "j", "Nested": {"X": 1}, "extra": True}) == ValidationResult(True, [], [])
    result = execution_input.validate({"JobName": 3})
    assert not result.valid
    assert result.keys_missing == ["Nested.X"]
    assert result.keys_type_mismatch == [("JobName", str, int)]


def test_validate_none_reports_every_key_missing() -> None:
    """§11 #1: the original raised AttributeError for ``execute(inputs=None)`` with a schema."""
    execution_input = ExecutionInput(schema={"JobName": str, "Nested": {"X": int}})
    assert execution_input.validate(None) == ValidationResult(False, ["JobName", "Nested.X"], [])


def test_clone_shallow_and_deep() -> None:
    root = ExecutionInput()
    child = root["a"]
    shallow = root.clone()
    assert shallow is not root and shallow.store is not root.store and shallow["a"] is child
    deep = root.clone(deep=True)
    assert deep["a"] is not child
    assert deep["a"].parent is deep
    assert deep["a"].to_jsonpath() == child.to_jsonpath()


def test_utils() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": 2}}, "e": 3}) == {"a.b": 1, "a.c.d": 2, "e": 3}
    assert replace_type_with_str({"a": {"b": int}, "c": str}) == {"a": {"b": "int"}, "c": "str"}


def test_import_needs_no_boto3_or_region() -> None:
    code = (
        "import sys, stepfn.inputs, stepfn.steps, stepfn.exceptions\n"
        "from stepfn.steps import LambdaStep\n"
        "LambdaStep('L').to_json()\n"
        "loaded = [m for m in ('boto3', 'botocore', 'sqlite3', 'stepfn.engine') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
