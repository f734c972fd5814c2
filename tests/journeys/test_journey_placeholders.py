"""The original SDK's ``doc/placeholders.rst`` (v2.3.0), its snippets run locally as the page writes them.

The page is not committed here: ``port-sources.toml``'s ``placeholders_doc`` takes it from a fetched checkout of the
SDK (``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) and the two tests that run its snippets skip
without it. Each ``.. code-block:: python`` runs in a namespace holding what the page assumes imported (stepfn's
``ExecutionInput``, ``LambdaStep``, ``Chain``, ``Workflow``) and a ``workflow_execution_role``; local functions
are registered under the page's Lambda names. The page's second snippet reads
``lambda_state_first.output()["Response"]``, a key a Lambda task's result does not have; on AWS that fails the
execution with ``States.Runtime``, and locally it does too, so the corrected reading (``["Payload"]["Response"]``)
is run as well.

The Map test is ours: ``MapItemIndex`` and ``MapItemValue`` (the third and fourth ways, documented after v2.3.0).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from port_sources import materialize, needs, python_blocks

from stepfn.inputs import ExecutionInput, MapItemIndex, MapItemValue
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.steps import Chain, LambdaStep, Map, Pass
from stepfn.workflow import ExecutionFailedWarning, Workflow

workflow_execution_role = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"
calls: list[tuple[str, Any]] = []


def my_lambda(event: Any, context: Any) -> dict[str, Any]:
    calls.append(("MyLambda", event))
    return {"greeting": f"Hello {event['input'][5:]}{event['input'][:5]}"}


def make_api_call(event: Any, context: Any) -> dict[str, Any]:
    calls.append(("MakeApiCall", event))
    return {"Response": {"date": event["input"], "status": "ok"}}


def process_call_result(event: Any, context: Any) -> str:
    calls.append(("ProcessCallResult", event))
    return f"processed {event['input']['date']}"


@pytest.fixture(autouse=True)
def functions(stepfn_home: Path) -> Iterator[None]:
    calls.clear()
    names = {"MyLambda": my_lambda, "MakeApiCall": make_api_call, "ProcessCallResult": process_call_result}
    for name, function in names.items():
        register_function(name, function)
    yield
    for name in names:
        unregister_function(name)


def page_snippets(tmp_path: Path) -> list[str]:
    """The page's ``.. code-block:: python`` bodies, dedented, in order."""
    return python_blocks((materialize("placeholders_doc", tmp_path / "sources") / "doc" / "placeholders.rst").read_text())


def run_snippet(snippet: str) -> dict[str, Any]:
    """Run one snippet with the names the page assumes imported; returns what it defined."""
    namespace: dict[str, Any] = {"ExecutionInput": ExecutionInput, "LambdaStep": LambdaStep, "Chain": Chain,
                                 "Workflow": Workflow, "workflow_execution_role": workflow_execution_role}
    exec(compile(snippet, "doc/placeholders.rst", "exec"), namespace)  # the fetched page's own code
    return namespace


@needs("placeholders_doc")
def test_execution_input(tmp_path: Path) -> None:
    snippets = page_snippets(tmp_path)
    assert len(snippets) == 2
    page = run_snippet(snippets[0])  # creates the workflow and executes it with {'myDynamicInput': "WorldHello"}
    workflow = page["workflow"]
    (execution,) = workflow.list_executions()
    assert execution.get_output(wait=True)["Payload"] == {"greeting": "Hello HelloWorld"}
    assert calls == [("MyLambda", {"input": "WorldHello"})]

    # The schema is checked before anything starts, with the original's messages.
    with pytest.raises(ValueError, match="Expected run input with the schema"):
        workflow.execute(inputs={"myDynamicInput": 42})
    with pytest.raises(ValueError, match="Expected run input with the schema"):
        workflow.execute(inputs={})
    assert len(workflow.list_executions()) == 1


@needs("placeholders_doc")
def test_step_input_as_the_page_writes_it_fails_as_on_aws(tmp_path: Path) -> None:
    page = run_snippet(page_snippets(tmp_path)[1])  # defines the two steps and their Chain, no workflow
    workflow = Workflow(name="MyStepInputWorkflow", definition=page["definition"], role=workflow_execution_role)
    workflow.create()
    execution = workflow.execute()
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'MySecondLambdaStep': States.Runtime"):
        execution.get_output(wait=True)
    described = execution.describe()
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Runtime"
    assert "MySecondLambdaStep" in described["cause"] and "$['Response']" in described["cause"]

    # What the snippet means: the function's result is the task result's Payload.
    first, second = page["lambda_state_first"], page["lambda_state_second"]
    second.update_parameters(
        {"FunctionName": "ProcessCallResult", "Payload": {"input": first.output()["Payload"]["Response"]}}
    )
    workflow.update(definition=Chain([first, second]))
    execution = workflow.execute()
    assert execution.get_output(wait=True)["Payload"] == "processed 20192312"


def test_map_item_index_and_value() -> None:
    map_item_value = MapItemValue(schema={"name": str, "age": str})
    map_state = Map(
        "MapState",
        parameters={"MapIndex": MapItemIndex(), "Name": map_item_value["name"], "Age": map_item_value["age"]},
    )
    iterator_state = Pass("TrainIterator")
    map_state.attach_iterator(iterator_state)
    workflow = Workflow(name="MyMapWorkflow", definition=map_state, role=workflow_execution_role)
    workflow.create()
    assert workflow.definition.to_dict()["States"]["MapState"]["Parameters"] == {
        "MapIndex.$": "$$.Map.Item.Index", "Name.$": "$$.Map.Item.Value['name']", "Age.$": "$$.Map.Item.Value['age']"}
    workflow_input = [{"name": "John", "age": 21}, {"name": "Snow", "age": 18}]
    execution = workflow.execute(inputs=workflow_input)
    assert execution.get_output(wait=True) == [
        {"MapIndex": 0, "Age": 21, "Name": "John"},
        {"MapIndex": 1, "Age": 18, "Name": "Snow"},
    ]
