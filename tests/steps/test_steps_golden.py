"""The non-SageMaker golden examples, rebuilt with stepfn and compared byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stepfn.inputs import ExecutionInput, MapItemValue
from stepfn.steps import (
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    Graph,
    LambdaStep,
    Map,
    Parallel,
    Pass,
    Retry,
    Succeed,
    Task,
    Wait,
    service,
)
from stepfn.steps import compute as compute_steps
from stepfn.steps.integration_resources import IntegrationPattern
from stepfn.workflow.cloudformation import build_cloudformation_template


@pytest.fixture(autouse=True)
def _no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    # Golden ARNs use the ``aws`` partition; a developer's region must not leak into them.
    for name in ("AWS_PARTITION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def hello_world() -> Graph:
    return Graph(Chain([Pass("HelloWorld"), Succeed("Complete")]))


def all_states() -> Graph:
    start = Pass("Start", comment="c", input_path="$.in", parameters={"A": 1, "B": {"C": [1, 2]}},
                 result_path="$.r", output_path="$")
    wait = Wait("Wait 3", seconds=3)
    task = Task(
        "Task",
        resource="arn:aws:lambda:us-east-1:1:function:F",
        timeout_seconds=30,
        heartbeat_seconds=10,
        result_path=None,
        retry=Retry(error_equals=["States.TaskFailed"], interval_seconds=15, max_attempts=2, backoff_rate=4.0),
        catch=Catch(error_equals=["States.ALL"], result_path="$.error", next_step=Fail("Failed", error="Err", cause="Boom")),
    )
    parallel = Parallel("Par")
    parallel.add_branch(Pass("B1"))
    parallel.add_branch(Chain([Pass("B2a"), Succeed("B2b")]))
    map_state = Map("Map", iterator=Pass("It"), items_path="$.items", max_concurrency=2,
                    parameters={"item": MapItemValue()})
    choice = Choice("Choice?")
    choice.add_choice(
        ChoiceRule.And([ChoiceRule.NumericGreaterThan("$.n", 1), ChoiceRule.Not(ChoiceRule.IsNull("$.x", True))]),
        Succeed("Yes"),
    )
    choice.add_choice(ChoiceRule.StringMatches("$.s", "log-*.txt"), Succeed("Match"))
    choice.default_choice(Fail("No"))
    return Graph(Chain([start, wait, task, parallel, map_state, choice]), timeout_seconds=3600,
                 comment="All states", version="1.0")


def placeholders() -> tuple[Graph, ExecutionInput]:
    execution_input = ExecutionInput(schema={"JobName": str, "Nested": {"X": int}})
    lambda1 = LambdaStep("Lambda1", parameters={
        "FunctionName": "f",
        "Payload": {
            "name": execution_input["JobName"],
            "x": execution_input["Nested"]["X"],
            "all": execution_input,
        },
    })
    lambda2 = LambdaStep("Lambda2", parameters={
        "FunctionName": "g",
        "Payload": {"prev": lambda1.output()["Payload"]["body"], "list": [{"k": lambda1.output()[0]}]},
    })
    check = Choice("Check")
    check.add_choice(ChoiceRule.StringEquals(lambda2.output()["status"], "OK"), Succeed("Done"))
    check.default_choice(Fail("Bad"))
    return Graph(Chain([lambda1, lambda2, check])), execution_input


def test_hello_world_definition(golden_dir: Path) -> None:
    graph = hello_world()
    assert graph.to_json(pretty=True) == (golden_dir / "01_hello_world.definition.json").read_text()
    assert graph.to_json() == (golden_dir / "01_hello_world.definition.compact.json").read_text()


@pytest.mark.parametrize(("description", "golden"), [
    (None, "01_hello_world.cloudformation.yaml"),
    ("My description", "01_hello_world.cloudformation_desc.yaml"),
])
def test_hello_world_cloudformation(golden_dir: Path, description: str | None, golden: str) -> None:
    template = build_cloudformation_template(hello_world().to_dict(), "HelloWorld",
                                             "arn:aws:iam::1234567890:role/R", description)
    assert template == (golden_dir / golden).read_text()


def test_all_states_definition(golden_dir: Path) -> None:
    graph = all_states()
    assert graph.to_json(pretty=True) == (golden_dir / "02_all_states.definition.json").read_text()
    assert graph.to_json() == (golden_dir / "02_all_states.definition.compact.json").read_text()


def test_placeholders_definition_and_schema(golden_dir: Path) -> None:
    graph, execution_input = placeholders()
    assert graph.to_json(pretty=True) == (golden_dir / "03_placeholders.definition.json").read_text()
    assert execution_input.get_schema_as_json(pretty=True) == (golden_dir / "03_placeholders.schema.json").read_text()


def _service_step_class(name: str) -> type:
    return getattr(service, name, None) or getattr(compute_steps, name)


def _service_cases(golden: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (golden / "08_service_steps.jsonl").read_text().splitlines() if line]


def test_service_steps_golden(golden_dir: Path) -> None:
    cases = _service_cases(golden_dir)
    assert len(cases) == 43
    for case in cases:
        kwargs = dict(case["kwargs"])  # type: ignore[call-overload]
        if "integration_pattern" in kwargs:
            kwargs["integration_pattern"] = IntegrationPattern[kwargs["integration_pattern"]]
        step = _service_step_class(str(case["class"]))("S", parameters={"K": "V"}, **kwargs)
        assert step.to_json() == case["json"], case


def test_key_order_examples(golden_dir: Path) -> None:
    cases = {
        json.loads(line)["case"]: json.loads(line)["json"]
        for line in (golden_dir / "09_key_order_examples.jsonl").read_text().splitlines()
        if line
    }
    built = {
        "Task('T', resource='r', result_path='$.x', comment='c')":
            Task("T", resource="r", result_path="$.x", comment="c"),
        "Task('T', comment='c', resource='r', result_path='$.x')":
            Task("T", comment="c", resource="r", result_path="$.x"),
        "LambdaStep('L', result_path='$.x', parameters={...})":
            LambdaStep("L", result_path="$.x", parameters={"FunctionName": "f"}),
        "Pass with result None paths": Pass("P", input_path=None, output_path=None, result_path=None),
    }
    mapped = Map("M", items_path="$.a")
    mapped.attach_iterator(Pass("I"))
    built["Map attach_iterator (Iterator appended after End)"] = mapped
    for case, state in built.items():
        assert state.to_json() == cases[case], case
    # The ModelStep case belongs to the SageMaker steps (helper E's tests).
    assert set(cases) - set(built) == {"ModelStep (Parameters before Resource)"}


def test_cloudformation_extras_and_no_global_yaml_change(golden_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    import yaml

    before = dict(yaml.SafeDumper.yaml_representers)
    with caplog.at_level("WARNING"):
        template = build_cloudformation_template(
            hello_world().to_dict(), "HelloWorld", "arn:aws:iam::1234567890:role/R",
            type="EXPRESS",
            logging_configuration={"level": "ALL", "includeExecutionData": True,
                                   "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": "arn:lg"}}]},
            tracing_configuration={"enabled": True},
        )
    assert "To reuse the CloudFormation template in different regions" in caplog.text
    plain = (golden_dir / "01_hello_world.cloudformation.yaml").read_text()
    assert template.startswith(plain)
    assert template[len(plain):] == (
        "      StateMachineType: EXPRESS\n"
        "      LoggingConfiguration:\n"
        "        Level: ALL\n"
        "        IncludeExecutionData: true\n"
        "        Destinations:\n"
        "        - CloudWatchLogsLogGroup:\n"
        "            LogGroupArn: arn:lg\n"
        "      TracingConfiguration:\n"
        "        Enabled: true\n"
    )
    # §11 #7: the global SafeDumper is untouched, so other YAML users see no literal-style strings.
    assert yaml.SafeDumper.yaml_representers == before
    assert yaml.safe_dump({"a": "x\ny"}) == "a: 'x\n\n  y'\n"
