"""Port of amazon-sagemaker-examples ``hello_world_workflow.ipynb``, then what its readers do next.

The notebook's cells as written (``from stepfunctions.steps import *`` became ``from stepfn.steps import *``):
a basic Pass workflow, then a branching workflow whose Choice leads to a Wait, a Parallel, a Lambda task with
Retry and Catch, and Succeed, or to Fail. The Lambda function is the notebook's base64 function, registered as a
local function. After the notebook: a failing function exhausts the Retry and is caught, the workflow is attached
by ARN in a "new session", updated with a Map over several inputs, and run again.

The client runs a 200x clock so the notebook's 3 s Wait and 15 s/60 s retry intervals take milliseconds.
"""
# ruff: noqa: F403, F405

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import stepfn
from stepfn.engine.clock import ScaledClock
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.steps import *
from stepfn.workflow import ExecutionFailedWarning, ExecutionStatus, Workflow
from stepfn.workflow.local_client import LocalStepFunctionsClient

workflow_execution_role = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"
FUNCTION = "HelloWorldBase64"


class ServiceUnavailable(Exception):
    """What the function raises while its downstream service is down."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["input"] == "down":
        raise ServiceUnavailable("the encoder is down")
    return {"statusCode": 200, "input": event["input"], "output": base64.b64encode(event["input"].encode()).decode("UTF-8")}


@pytest.fixture
def client(stepfn_home: Path) -> Iterator[LocalStepFunctionsClient]:
    register_function(FUNCTION, lambda_handler)
    logger = logging.getLogger("stepfn")
    handlers, level = list(logger.handlers), logger.level
    stepfn.set_stream_logger(level=logging.INFO)
    yield LocalStepFunctionsClient(clock=ScaledClock(speed=200))
    logger.handlers[:] = handlers
    logger.setLevel(level)
    unregister_function(FUNCTION)


def build_branching(client: LocalStepFunctionsClient, lambda_input: str) -> tuple[Workflow, Pass]:
    start_pass_state = Pass(state_id="MyPassState")
    choice_state = Choice(state_id="Is this Hello World example?")
    wait_state = Wait(state_id="Wait for 3 seconds", seconds=3)
    parallel_state = Parallel("MyParallelState")
    parallel_state.add_branch(Pass(state_id="Hello"))
    parallel_state.add_branch(Pass(state_id="World"))
    lambda_state = LambdaStep(
        state_id="Convert HelloWorld to Base64",
        parameters={"FunctionName": FUNCTION, "Payload": {"input": lambda_input}},
    )
    lambda_state.add_retry(Retry(error_equals=["States.TaskFailed"], interval_seconds=15, max_attempts=2, backoff_rate=4.0))
    lambda_state.add_catch(Catch(error_equals=["States.TaskFailed"], next_step=Fail("LambdaTaskFailed")))
    succeed_state = Succeed("HelloWorldSuccessful")
    happy_path = Chain([wait_state, parallel_state, lambda_state, succeed_state])
    sad_state = Fail("HelloWorldFailed")
    choice_state.add_choice(
        rule=ChoiceRule.BooleanEquals(variable=start_pass_state.output()["IsHelloWorldExample"], value=True),
        next_step=happy_path,
    )
    choice_state.add_choice(
        ChoiceRule.BooleanEquals(variable=start_pass_state.output()["IsHelloWorldExample"], value=False),
        next_step=sad_state,
    )
    branching_workflow_definition = Chain([start_pass_state, choice_state])
    branching_workflow = Workflow(
        name="MyWorkflow_v2", definition=branching_workflow_definition, role=workflow_execution_role, client=client
    )
    return branching_workflow, start_pass_state


def entered(execution: Any) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution.list_events() if e["type"].endswith("StateEntered")]


def test_basic_workflow(client: LocalStepFunctionsClient) -> None:
    start_pass_state = Pass(state_id="MyPassState")
    basic_path = Chain([start_pass_state])
    basic_workflow = Workflow(name="MyWorkflow_Simple", definition=basic_path, role=workflow_execution_role,
                              client=client)
    assert "MyPassState" in basic_workflow.render_graph().data
    assert json.loads(basic_workflow.definition.to_json(pretty=True)) == {
        "StartAt": "MyPassState", "States": {"MyPassState": {"Type": "Pass", "End": True}}}
    template = basic_workflow.get_cloudformation_template()  # the SDK README's "Export an AWS CloudFormation Template"
    assert "AWS::StepFunctions::StateMachine" in template and "MyWorkflow_Simple" in template
    arn = basic_workflow.create()
    assert arn == basic_workflow.state_machine_arn and arn.endswith(":stateMachine:MyWorkflow_Simple")
    basic_workflow_execution = basic_workflow.execute()
    assert basic_workflow_execution.get_output(wait=True) == {}
    assert "MyPassState" in basic_workflow_execution.render_progress().data
    assert "PassStateExited" in basic_workflow_execution.list_events(html=True).data


def test_branching_workflow_both_ways(client: LocalStepFunctionsClient) -> None:
    branching_workflow, _ = build_branching(client, "HelloWorld")
    assert "MyParallelState" in branching_workflow.render_graph(portrait=False).data
    branching_workflow.create()
    branching_workflow_execution = branching_workflow.execute(inputs={"IsHelloWorldExample": True})
    output = branching_workflow_execution.get_output(wait=True)
    assert branching_workflow_execution.describe()["status"] == "SUCCEEDED"
    assert output["Payload"] == {"statusCode": 200, "input": "HelloWorld", "output": "SGVsbG9Xb3JsZA=="}
    assert output["StatusCode"] == 200
    assert entered(branching_workflow_execution) == [
        "MyPassState", "Is this Hello World example?", "Wait for 3 seconds", "MyParallelState", "Hello", "World",
        "Convert HelloWorld to Base64", "HelloWorldSuccessful"]
    progress = branching_workflow_execution.render_progress().data
    assert "HelloWorldSuccessful" in progress

    sad = branching_workflow.execute(inputs={"IsHelloWorldExample": False})
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'HelloWorldFailed'"):
        assert sad.get_output(wait=True) is None
    assert sad.describe()["status"] == "FAILED"
    assert entered(sad)[-1] == "HelloWorldFailed"
    statuses = [e.status for e in branching_workflow.list_executions()]
    assert statuses == [ExecutionStatus.Failed, ExecutionStatus.Succeeded]
    assert [e.status for e in branching_workflow.list_executions(status_filter=ExecutionStatus.Failed)] == ["FAILED"]


def test_retry_then_catch(client: LocalStepFunctionsClient) -> None:
    branching_workflow, _ = build_branching(client, "down")
    branching_workflow.create()
    execution = branching_workflow.execute(inputs={"IsHelloWorldExample": True})
    with pytest.warns(ExecutionFailedWarning, match="FAILED at state 'LambdaTaskFailed'"):
        execution.get_output(wait=True)
    events = execution.list_events()
    failures = [e for e in events if e["type"] in ("TaskFailed", "LambdaFunctionFailed")]
    assert len(failures) == 3  # the first try and max_attempts=2 retries
    assert {json.loads(e.get("taskFailedEventDetails", {}).get("cause", "{}")).get("errorType") for e in failures} == {
        "ServiceUnavailable"}
    assert execution.describe()["status"] == "FAILED"
    assert entered(execution)[-1] == "LambdaTaskFailed"


def test_attach_update_and_map(client: LocalStepFunctionsClient) -> None:
    branching_workflow, _ = build_branching(client, "HelloWorld")
    state_machine_arn = branching_workflow.create()
    branching_workflow.execute(inputs={"IsHelloWorldExample": True}).get_output(wait=True)

    # A later session only knows the ARN.
    attached = Workflow.attach(state_machine_arn, client=client)
    assert attached.name == "MyWorkflow_v2" and attached.role == workflow_execution_role
    assert json.loads(attached.definition.to_json()) == json.loads(branching_workflow.definition.to_json())
    assert [e.status for e in attached.list_executions()] == [ExecutionStatus.Succeeded]

    encode_each = Map("Encode each", items_path="$.Words", max_concurrency=2)
    encode_each.attach_iterator(LambdaStep(
        "Encode word", parameters={"FunctionName": FUNCTION, "Payload": {"input.$": "$"}},
        result_selector={"encoded.$": "$.Payload.output"},
    ))
    attached.update(definition=Chain([encode_each, Succeed("Done")]))
    execution = attached.execute(inputs={"Words": ["Hello", "World", "down"]})
    with pytest.warns(ExecutionFailedWarning, match="ServiceUnavailable: the encoder is down"):
        execution.get_output(wait=True)
    # One iteration fails, so the Map fails the execution, as on AWS.
    assert execution.describe()["status"] == "FAILED"
    execution = attached.execute(inputs={"Words": ["Hello", "World"]})
    assert execution.get_output(wait=True) == [{"encoded": "SGVsbG8="}, {"encoded": "V29ybGQ="}]
    described = client.describe_state_machine(stateMachineArn=state_machine_arn)
    assert json.loads(described["definition"])["StartAt"] == "Encode each"
    assert [w["name"] for w in Workflow.list_workflows(client=client)] == ["MyWorkflow_v2"]
    assert len(attached.list_executions()) == 3


def test_stop_and_clean_up(client: LocalStepFunctionsClient) -> None:
    # The notebooks' clean-up cells, after stopping a run that waits (30 s at 200x: 0.15 s, so stop at once).
    waiting = Workflow("MyWorkflow_Waiting", Chain([Wait("Wait a long time", seconds=3600)]), workflow_execution_role,
                       client=client)
    waiting.create()
    execution = waiting.execute()
    execution.stop(cause="changed my mind")
    assert execution.describe()["status"] == "ABORTED"
    last = execution.list_events(reverse_order=True, max_items=1)
    assert [(e["type"], e["executionAbortedEventDetails"]["cause"]) for e in last] == [
        ("ExecutionAborted", "changed my mind")]
    waiting.delete()
    assert "MyWorkflow_Waiting" not in [w["name"] for w in Workflow.list_workflows(client=client)]
