"""Compilation walks a definition as validation does (stepfn.asl.definition's walk): same paths, same languages."""

from __future__ import annotations

from typing import Any

import pytest

from stepfn.asl import validate_definition
from stepfn.asl.definition import nested_machines, root_machine, state_sites
from stepfn.engine.definition import compile_definition
from stepfn.errors import DefinitionError

NESTED = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
    {"StartAt": "M", "States": {"M": {"Type": "Map", "QueryLanguage": "JSONata", "End": True, "ItemProcessor": {
        "StartAt": "In", "States": {"In": {"Type": "Pass", "Output": "{% $states.input %}", "End": True}}}}}},
]}}}


def _walk(machine: Any) -> list[tuple[str, str]]:
    found = []
    for site in state_sites(machine):
        found.append((site.path, site.language))
        for inner in nested_machines(site):
            found.extend(_walk(inner))
    return found


def test_the_walk_gives_every_state_its_path_and_inherited_language() -> None:
    assert _walk(root_machine(NESTED)) == [
        ("$.States.P", "JSONPath"),
        ("$.States.P.Branches[0].States.A", "JSONPath"),
        ("$.States.P.Branches[1].States.M", "JSONata"),
        ("$.States.P.Branches[1].States.M.ItemProcessor.States.In", "JSONata"),  # inherits from its Map
    ]


def test_validation_and_compilation_agree_on_a_nested_state_language() -> None:
    # The inner Pass is JSONata by inheritance: both accept its Output, both treat it as JSONata.
    assert validate_definition(NESTED) == []
    inner = compile_definition(NESTED).states["P"].branches[1].states["M"].processor.states["In"]  # type: ignore[attr-defined]
    assert inner.jsonata and inner.output is not None
    jsonpath_inside = {**NESTED}
    jsonpath_inside["States"] = {"P": {**NESTED["States"]["P"], "Branches": [
        NESTED["States"]["P"]["Branches"][0],
        {"StartAt": "M", "States": {"M": {"Type": "Map", "QueryLanguage": "JSONata", "End": True, "ItemProcessor": {
            "StartAt": "In", "States": {"In": {"Type": "Pass", "Parameters": {"a": 1}, "End": True}}}}}}]}}
    paths = [d.path for d in validate_definition(jsonpath_inside)]
    assert "$.States.P.Branches[1].States.M.ItemProcessor.States.In.Parameters" in paths


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        ({"Type": "Pass", "Next": "Nowhere"}, "$.States.P.Branches[0].States.A.Next: Missing 'Next' target: 'Nowhere'"),
        ({"Type": "Pass", "InputPath": "$.[", "End": True}, "$.States.P.Branches[0].States.A.InputPath"),
        ({"Type": "Teleport", "End": True}, "$.States.P.Branches[0].States.A.Type: Type must be one of Pass"),
    ],
)
def test_compile_errors_name_the_nested_state_by_its_path(inner: dict[str, Any], message: str) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": inner}}]}}}
    with pytest.raises(DefinitionError) as info:
        compile_definition(definition)
    assert str(info.value).startswith(message)


def test_the_engine_refuses_what_no_interpreter_can_run_and_runs_what_only_create_refuses() -> None:
    # Structure is refused with every problem listed, by the validator's rules (the builders do not re-check).
    broken = {"StartAt": "T", "States": {
        "T": {"Type": "Task", "Next": "Gone",
              "Retry": [{"ErrorEquals": [], "BackoffRate": 0.5}], "Catch": [{"ErrorEquals": ["States.ALL"]}]},
        "C": {"Type": "Choice", "Choices": []}}}
    with pytest.raises(DefinitionError) as info:
        compile_definition(broken)
    message = str(info.value)
    for where in ("$.States.T.Resource", "$.States.T.Next", "$.States.T.Retry[0].ErrorEquals",
                  "$.States.T.Retry[0].BackoffRate", "$.States.T.Catch[0].Next", "$.States.C.Choices"):
        assert where in message
    # What only CreateStateMachine refuses (here: a state with neither Next nor End) still runs.
    lenient = {"StartAt": "P", "States": {"P": {"Type": "Pass"}}}
    assert validate_definition(lenient) != []
    assert compile_definition(lenient).states["P"].next is None
