"""The original SDK's ``README.rst`` (v2.3.0), its "Building a Workflow" and "Running a Workflow" snippets run
locally as the page writes them, in order, in one namespace.

The page is not committed here: ``port-sources.toml``'s ``sdk_readme`` takes it from a fetched checkout of the SDK
(``$STEPFN_PORT_SOURCES``, see ``scripts/ported-suites.sh``) and the test skips without it. The namespace holds what
the page assumes imported (stepfn's ``Pass``, ``Wait``, ``LambdaStep``, ``Retry``, ``Catch``, ``Fail``, ``Chain``,
``Workflow``) and the ``stepfunctions_execution_role`` it assumes defined; the page's ``MyLambda`` is a local function
registered under that name.

The page's last snippet, ``get_cloudformation_template()``, names no workflow: as written it raises ``NameError``
(under the original SDK too, which has no such global). The test pins that, then calls the method the section
describes, ``workflow.get_cloudformation_template()``, and reads the template as CloudFormation would.

After the page, what a reader checks next: the execution's output and the states it entered (the Wait of three
seconds included), and the Retry and Catch the page added, seen by attaching the workflow with a scaled clock and
running it while the function fails (three attempts, back-off of 15 and 60 seconds, then ``LambdaTaskFailed``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from port_sources import materialize, needs, python_blocks

from stepfn.engine import ScaledClock
from stepfn.local.lambdas import register_function, unregister_function
from stepfn.steps import Catch, Chain, Fail, LambdaStep, Pass, Retry, Wait
from stepfn.workflow import ExecutionFailedWarning, Workflow
from stepfn.workflow.local_client import LocalStepFunctionsClient

ROLE = "arn:aws:iam::111122223333:role/StepFunctionsWorkflowExecutionRole"
calls: list[Any] = []
failing = False


class EncoderDown(Exception):
    """What the stand-in function raises while the test makes it fail."""


def my_lambda(event: Any, context: Any) -> dict[str, Any]:
    """The page's "Convert HelloWorld to Base64" function."""
    import base64

    calls.append(event)
    if failing:
        raise EncoderDown("the encoder is down")
    return {"base64": base64.b64encode(event["input"].encode()).decode()}


@pytest.fixture(autouse=True)
def function(stepfn_home: Path) -> Iterator[None]:
    global failing
    calls.clear()
    failing = False
    register_function("MyLambda", my_lambda)
    yield
    unregister_function("MyLambda")


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


@needs("sdk_readme")
def test_readme_snippets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    global failing
    import yaml

    page = (materialize("sdk_readme", tmp_path / "sources") / "README.rst").read_text()
    blocks = python_blocks(page)
    assert len(blocks) == 10
    namespace: dict[str, Any] = {"Pass": Pass, "Wait": Wait, "LambdaStep": LambdaStep, "Retry": Retry,
                                 "Catch": Catch, "Fail": Fail, "Chain": Chain, "Workflow": Workflow,
                                 "stepfunctions_execution_role": ROLE}
    *runnable, template_block = blocks
    for block in runnable:
        exec(compile(block, "README.rst", "exec"), namespace)  # the fetched page's own code
    with pytest.raises(NameError, match="get_cloudformation_template"):
        exec(compile(template_block, "README.rst", "exec"), namespace)

    workflow, execution = namespace["workflow"], namespace["execution"]
    printed = json.loads(capsys.readouterr().out)  # print(workflow.definition.to_json(pretty=True))
    assert printed == workflow.definition.to_dict()
    assert list(printed["States"]) == ["MyPassState", "Wait for 3 seconds", "Convert HelloWorld to Base64",
                                       "LambdaTaskFailed"]
    assert "Convert HelloWorld to Base64" in workflow.render_graph(portrait=False).data

    assert execution.get_output(wait=True)["Payload"] == {"base64": "SGVsbG9Xb3JsZA=="}
    assert calls == [{"input": "HelloWorld"}]
    assert entered(execution.list_events()) == ["MyPassState", "Wait for 3 seconds", "Convert HelloWorld to Base64"]
    assert json.loads(execution.describe()["input"]) == {"IsHelloWorldExample": True}

    # What the section describes: a template holding the state machine, its definition and role as created.
    template = yaml.safe_load(workflow.get_cloudformation_template())
    (resource,) = template["Resources"].values()
    assert resource["Type"] == "AWS::StepFunctions::StateMachine"
    assert resource["Properties"]["StateMachineName"] == "MyWorkflow_v1234"
    assert json.loads(resource["Properties"]["DefinitionString"]) == printed
    assert resource["Properties"]["RoleArn"] == ROLE

    # The page's Retry and Catch: two retries 15 s then 60 s apart (scaled a thousandfold), then the Catch.
    failing = True
    calls.clear()
    attached = Workflow.attach(workflow.state_machine_arn, client=LocalStepFunctionsClient(clock=ScaledClock(1000)))
    failed = attached.execute(inputs={"IsHelloWorldExample": False})
    with pytest.warns(ExecutionFailedWarning, match="LambdaTaskFailed"):
        failed.get_output(wait=True)
    assert len(calls) == 3
    events = failed.list_events()
    assert entered(events)[-2:] == ["Convert HelloWorld to Base64", "LambdaTaskFailed"]
    assert [e["type"] for e in events].count("TaskFailed") == 3
    assert failed.describe()["status"] == "FAILED"
