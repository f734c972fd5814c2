"""Beyond the original (docs/design/compat.md §10, §12) and the placeholder fixes (§11 #2, #11): each feature, and
unchanged output when it is not used."""

from __future__ import annotations

import json
import re

import pytest

from stepfn.inputs import ContextObject, ExecutionInput, MapItemIndex, MapItemValue, StepInput, Variable
from stepfn.steps import (
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    Graph,
    ItemProcessor,
    LambdaStep,
    Map,
    Parallel,
    Pass,
    Retry,
    Succeed,
    Task,
    Wait,
)
from stepfn.steps import intrinsics as fn


def exact(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return f"^{re.escape(text)}$"


def test_list_with_placeholders_becomes_states_array() -> None:
    """§11 #2: the original crashed with ``TypeError: Object of type ExecutionInput is not JSON serializable``."""
    execution_input = ExecutionInput()
    step = Task("T", resource="r", parameters={
        "Before": 1,
        "ContainerArguments": ["--x", execution_input["x"]],
        "Mixed": [1, 2.5, True, None, "it's {x} \\", StepInput()["y"]],
        "After": [1, 2],
    })
    assert step.to_dict()["Parameters"] == {
        "Before": 1,
        "ContainerArguments.$": "States.Array('--x', $$.Execution.Input['x'])",
        "Mixed.$": "States.Array(1, 2.5, true, null, 'it\\'s \\{x\\} \\\\', $['y'])",
        "After": [1, 2],
    }


@pytest.mark.parametrize("items", [
    [ExecutionInput()["x"], {"a": 1}],
    [ExecutionInput()["x"], [1]],
])
def test_list_with_placeholder_and_non_scalars_raises(items: list[object]) -> None:
    with pytest.raises(ValueError, match=r"^A list that contains a Placeholder may only contain scalar values \(str, int, float, bool, None\).$"):
        Pass("P", parameters={"K": items}).to_dict()
    with pytest.raises(ValueError, match="may only contain scalar values"):
        Pass("P", parameters={"K": [[ExecutionInput()["x"]]]}).to_dict()


def test_placeholders_in_every_field() -> None:
    execution_input = ExecutionInput()
    wait = Wait("W", comment="c", seconds=execution_input["s"])
    assert wait.to_json() == '{"Comment": "c", "SecondsPath": "$$.Execution.Input[\'s\']", "Type": "Wait", "End": true}'
    assert Wait("W", timestamp=StepInput()["t"]).to_dict()["TimestampPath"] == "$['t']"
    task = Task("T", resource="r", timeout_seconds=execution_input["t"], heartbeat_seconds=execution_input["h"],
                input_path=execution_input["in"], result_path=StepInput()["out"])
    assert task.to_dict() == {
        "Resource": "r",
        "TimeoutSecondsPath": "$$.Execution.Input['t']",
        "HeartbeatSecondsPath": "$$.Execution.Input['h']",
        "InputPath": "$$.Execution.Input['in']",
        "ResultPath": "$['out']",
        "Type": "Task",
        "End": True,
    }
    fail = Fail("F", error=execution_input["e"], cause=fn.Format("bad {}", execution_input["c"]))
    assert fail.to_dict() == {"ErrorPath": "$$.Execution.Input['e']",
                              "CausePath": "States.Format('bad {}', $$.Execution.Input['c'])", "Type": "Fail"}
    mapped = Map("M", items_path=execution_input["items"], max_concurrency=execution_input["n"], iterator=Pass("I"))
    assert list(mapped.to_dict())[:2] == ["ItemsPath", "MaxConcurrencyPath"]
    with pytest.raises(ValueError, match="Result is a literal value"):
        Pass("P", result=execution_input["r"]).to_dict()
    with pytest.raises(ValueError, match="Result is a literal value"):
        Pass("P", result={"a": execution_input["r"]}).to_dict()
    with pytest.raises(ValueError, match="field 'Comment' of state 'P' cannot take a Placeholder"):
        Pass("P", comment=execution_input["c"]).to_dict()


def test_choice_rule_placeholders() -> None:
    """§11 #11 and §10: any Placeholder as variable; a Placeholder value picks the …Path operator."""
    execution_input = ExecutionInput()
    rule = ChoiceRule.StringEquals(execution_input["a"], StepInput()["b"])
    assert rule.to_dict() == {"Variable": "$$.Execution.Input['a']", "StringEqualsPath": "$['b']"}
    assert ChoiceRule.NumericLessThanPath("$.x", execution_input["y"]).to_dict() == {
        "Variable": "$.x", "NumericLessThanPath": "$$.Execution.Input['y']"}
    assert ChoiceRule.BooleanEquals(Variable("flag"), True).to_dict() == {"Variable": "$flag", "BooleanEquals": True}
    with pytest.raises(ValueError, match="has no Path form"):
        ChoiceRule.IsNull("$.x", execution_input["y"])
    with pytest.raises(ValueError, match="has no Path form"):
        ChoiceRule.StringMatches("$.x", execution_input["y"])


def test_choice_rule_validation_texts() -> None:
    with pytest.raises(ValueError, match=exact("Expected variable must be a placeholder or must start with '$', but got 'Variable'")):
        ChoiceRule.StringEquals("Variable", "42")
    with pytest.raises(ValueError, match=exact("Expected value must be a placeholder or must start with '$', but got 'string'")):
        ChoiceRule.NumericEqualsPath("$.v", "string")
    for name, bad in (("StringEquals", 42), ("NumericEquals", "ABC"), ("BooleanEquals", 42),
                      ("TimestampEquals", True), ("IsPresent", 101)):
        prefix = "Is" if name.startswith("Is") else name.split("E")[0].replace("Timestamp", "Timestamp")
        with pytest.raises(ValueError, match=f"^Expected value to be a {prefix}, but got {bad}$"):
            getattr(ChoiceRule, name)("$.v", bad)
    assert ChoiceRule.NumericEquals("$.v", True).to_dict() == {"Variable": "$.v", "NumericEquals": True}
    with pytest.raises(ValueError, match=exact("Rule 'x' is invalid")):
        ChoiceRule.And(["x"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=exact("Rule 'x' is invalid")):
        Choice("C").add_choice("x", Succeed("S"))


def test_every_choice_operator_serializes() -> None:
    for family, value in (("String", "a"), ("Numeric", 1), ("Timestamp", "2020-01-01T00:00:00Z")):
        for comparison in ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals"):
            name = f"{family}{comparison}"
            assert getattr(ChoiceRule, name)("$.v", value).to_dict() == {"Variable": "$.v", name: value}
            assert getattr(ChoiceRule, f"{name}Path")("$.v", "$.w").to_dict() == {"Variable": "$.v", f"{name}Path": "$.w"}
    assert ChoiceRule.BooleanEqualsPath("$.v", "$.w").to_dict() == {"Variable": "$.v", "BooleanEqualsPath": "$.w"}
    for name in ("IsNull", "IsPresent", "IsString", "IsNumeric", "IsTimestamp", "IsBoolean"):
        assert getattr(ChoiceRule, name)("$.v", False).to_dict() == {"Variable": "$.v", name: False}
    rule = ChoiceRule.Or([ChoiceRule.Not(ChoiceRule.StringMatches("$.s", "a*")), ChoiceRule.IsNull("$.n", True)])
    assert rule.to_dict() == {"Or": [{"Not": {"Variable": "$.s", "StringMatches": "a*"}}, {"Variable": "$.n", "IsNull": True}]}


def test_result_selector_credentials_assign_and_retry_fields() -> None:
    step = LambdaStep("L", parameters={"FunctionName": "f"}, result_selector={"body": StepInput()["Payload"], "k": 1},
                      credentials={"RoleArn": ExecutionInput()["role"]}, assign={"last": StepInput()["Payload"], "n": 1},
                      retry=Retry(error_equals=["States.ALL"], max_attempts=3, max_delay_seconds=30, jitter_strategy="FULL"))
    assert step.to_json() == json.dumps({
        "Parameters": {"FunctionName": "f"},
        "ResultSelector": {"body.$": "$['Payload']", "k": 1},
        "Credentials": {"RoleArn.$": "$$.Execution.Input['role']"},
        "Assign": {"last.$": "$['Payload']", "n": 1},
        "Resource": "arn:aws:states:::lambda:invoke",
        "Type": "Task",
        "End": True,
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}],
    })


def test_variables_and_context_objects() -> None:
    step = Pass("P", parameters={"total": Variable("total"), "token": ContextObject("Task.Token"),
                                 "item": MapItemValue()["id"], "index": MapItemIndex()})
    assert step.to_dict()["Parameters"] == {"total.$": "$total", "token.$": "$$.Task.Token",
                                            "item.$": "$$.Map.Item.Value['id']", "index.$": "$$.Map.Item.Index"}


def test_distributed_map() -> None:
    execution_input = ExecutionInput()
    mapped = Map(
        "M",
        item_reader={"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "MaxItems": execution_input["n"]},
                     "Parameters": {"Bucket": execution_input["bucket"], "Key": "data.csv"}},
        item_selector={"value": MapItemValue(), "index": MapItemIndex()},
        item_batcher={"MaxItemsPerBatch": 10, "BatchInput": {"run": execution_input["run"]}},
        result_writer={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "p"}},
        tolerated_failure_percentage=5,
        tolerated_failure_count_path="$.maxFailures",
        label="Rows",
        max_concurrency_path="$.concurrency",
    )
    mapped.attach_item_processor(Chain([Pass("A"), Succeed("B")]), mode="DISTRIBUTED", execution_type="EXPRESS")
    assert mapped.to_dict() == {
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "CSV", "MaxItemsPath": "$$.Execution.Input['n']"},
                       "Parameters": {"Bucket.$": "$$.Execution.Input['bucket']", "Key": "data.csv"}},
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index"},
        "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"run.$": "$$.Execution.Input['run']"}},
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "p"}},
        "ToleratedFailurePercentage": 5,
        "ToleratedFailureCountPath": "$.maxFailures",
        "Label": "Rows",
        "MaxConcurrencyPath": "$.concurrency",
        "Type": "Map",
        "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "A",
                          "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}},
    }
    assert list(mapped.to_dict())[-1] == "ItemProcessor"


def test_inline_item_processor_kwarg_keeps_its_position() -> None:
    mapped = Map("M", item_processor=ItemProcessor(Pass("I")), items_path="$.a")
    assert list(mapped.to_dict()) == ["ItemProcessor", "ItemsPath", "Type", "End"]
    assert mapped.to_dict()["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    bare = Map("M", item_processor=Pass("I"))
    assert bare.to_dict()["ItemProcessor"] == {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}


def test_iterator_and_item_processor_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="either 'iterator' or 'item_processor'"):
        Map("M", iterator=Pass("I"), item_processor=Pass("J"))
    mapped = Map("M", iterator=Pass("I"))
    with pytest.raises(ValueError, match="either 'iterator' or 'item_processor'"):
        mapped.attach_item_processor(Pass("J"))
    processed = Map("M")
    processed.attach_item_processor(Pass("J"))
    with pytest.raises(ValueError, match="either 'iterator' or 'item_processor'"):
        processed.attach_iterator(Pass("I"))
    with pytest.raises(ValueError, match="mode must be"):
        ItemProcessor(Pass("I"), mode="PARALLEL")


def test_intrinsic_builders() -> None:
    execution_input = ExecutionInput()
    cases = {
        fn.Format("Hello {}, {} \\{lit}", execution_input["name"], 3): "States.Format('Hello {}, {} \\\\\\{lit\\}', $$.Execution.Input['name'], 3)",
        fn.StringToJson(fn.JsonPath("$.s")): "States.StringToJson($.s)",
        fn.JsonToString(StepInput()["o"]): "States.JsonToString($['o'])",
        fn.Array("a", 1, None, False): "States.Array('a', 1, null, false)",
        fn.ArrayPartition(fn.JsonPath("$.a"), 2): "States.ArrayPartition($.a, 2)",
        fn.ArrayContains(fn.JsonPath("$.a"), "x"): "States.ArrayContains($.a, 'x')",
        fn.ArrayRange(1, 9, 2): "States.ArrayRange(1, 9, 2)",
        fn.ArrayGetItem(fn.JsonPath("$.a"), 0): "States.ArrayGetItem($.a, 0)",
        fn.ArrayLength(fn.JsonPath("$.a")): "States.ArrayLength($.a)",
        fn.ArrayUnique(fn.JsonPath("$.a")): "States.ArrayUnique($.a)",
        fn.Base64Encode("x"): "States.Base64Encode('x')",
        fn.Base64Decode("eA=="): "States.Base64Decode('eA==')",
        fn.Hash(fn.JsonPath("$.d"), "SHA-256"): "States.Hash($.d, 'SHA-256')",
        fn.JsonMerge(fn.JsonPath("$.a"), fn.JsonPath("$.b")): "States.JsonMerge($.a, $.b, false)",
        fn.MathRandom(1, 10): "States.MathRandom(1, 10)",
        fn.MathRandom(1, 10, 7): "States.MathRandom(1, 10, 7)",
        fn.MathAdd(fn.JsonPath("$.n"), -1): "States.MathAdd($.n, -1)",
        fn.StringSplit("a,b", ","): "States.StringSplit('a,b', ',')",
        fn.UUID(): "States.UUID()",
        fn.Format("{}", fn.ArrayLength(fn.StringSplit(Variable("csv"), ","))):
            "States.Format('{}', States.ArrayLength(States.StringSplit($csv, ',')))",
    }
    for call, expected in cases.items():
        assert call.to_jsonpath() == expected
    step = Pass("P", parameters={"greeting": fn.Format("Hi {}", execution_input["name"])})
    assert step.to_dict()["Parameters"] == {"greeting.$": "States.Format('Hi {}', $$.Execution.Input['name'])"}
    with pytest.raises(ValueError, match="shallow merge"):
        fn.JsonMerge(fn.JsonPath("$.a"), fn.JsonPath("$.b"), deep=True)
    with pytest.raises(ValueError, match="must be a str, int, float, bool, None"):
        fn.Array({"a": 1})
    with pytest.raises(ValueError, match=re.escape("starting with '$'")):
        fn.JsonPath("a")


def test_intrinsics_parse_with_the_asl_parser() -> None:
    intrinsics = pytest.importorskip("stepfn.asl.intrinsics")
    call = fn.Format("it's {} \\{x\\}", fn.ArrayGetItem(fn.Array("a", 1, None), 0))
    assert intrinsics.is_intrinsic(call.to_jsonpath())
    intrinsics.parse_intrinsic(call.to_jsonpath())


def test_jsonata_per_workflow() -> None:
    source = StepInput()
    graph = Graph(Chain([
        Task("T", resource="arn:aws:states:::lambda:invoke", arguments={"FunctionName": "f", "Payload": source["a"]},
             output={"r": "{% $states.result.Payload %}"}, assign={"seen": source["a"]},
             catch=Catch(error_equals=["States.ALL"], next_step=Fail("Failed"), output={"e": "{% $states.errorOutput %}"})),
        Wait("W", seconds=Variable("delay")),
    ]), query_language="JSONata", comment="c")
    choice = Choice("C")
    choice.add_choice(ChoiceRule.Condition("{% $seen > 1 %}"), Succeed("Big"))
    choice.add_choice(ChoiceRule.Condition(source["flag"]), Succeed("Flag"))
    choice.default_choice(Succeed("Small"))
    graph.branch.steps[-1].next(choice)
    definition = graph.to_dict()
    assert list(definition) == ["QueryLanguage", "Comment", "StartAt", "States"]
    assert definition["States"]["T"] == {
        "Resource": "arn:aws:states:::lambda:invoke",
        "Arguments": {"FunctionName": "f", "Payload": "{% $states.input.a %}"},
        "Output": {"r": "{% $states.result.Payload %}"},
        "Assign": {"seen": "{% $states.input.a %}"},
        "Type": "Task",
        "Next": "W",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Output": {"e": "{% $states.errorOutput %}"}, "Next": "Failed"}],
    }
    assert definition["States"]["W"]["Seconds"] == "{% $delay %}"
    assert definition["States"]["C"]["Choices"] == [
        {"Condition": "{% $seen > 1 %}", "Next": "Big"},
        {"Condition": "{% $states.input.flag %}", "Next": "Flag"},
    ]


def test_jsonata_per_state_and_branch_inheritance() -> None:
    parallel = Parallel("P", query_language="JSONata", arguments={"x": StepInput()["x"]})
    parallel.add_branch(Pass("B", output={"y": StepInput()["y"]}))
    assert parallel.to_dict() == {
        "QueryLanguage": "JSONata", "Arguments": {"x": "{% $states.input.x %}"}, "Type": "Parallel", "End": True,
        "Branches": [{"StartAt": "B", "States": {"B": {"Output": {"y": "{% $states.input.y %}"}, "Type": "Pass", "End": True}}}],
    }


def test_jsonata_rejects_jsonpath_only_fields_and_vice_versa() -> None:
    with pytest.raises(ValueError, match="field 'Parameters' of state 'T' is not supported when QueryLanguage is JSONata"):
        Task("T", resource="r", parameters={"a": 1}, query_language="JSONata").to_dict()
    with pytest.raises(ValueError, match="field 'ResultPath' of state 'T' is not supported"):
        Graph(Task("T", resource="r", result_path=None), query_language="JSONata")
    with pytest.raises(ValueError, match="field 'Arguments' of state 'T' is only supported when QueryLanguage is JSONata"):
        Task("T", resource="r", arguments={"a": 1}).to_dict()
    choice = Choice("C", query_language="JSONata")
    choice.add_choice(ChoiceRule.IsPresent("$.x", True), Succeed("S"))
    with pytest.raises(ValueError, match=re.escape("use ChoiceRule.Condition")):
        choice.to_dict()
    jsonpath_choice = Choice("C")
    jsonpath_choice.add_choice(ChoiceRule.Condition("{% true %}"), Succeed("S"))
    with pytest.raises(ValueError, match="needs QueryLanguage JSONata"):
        jsonpath_choice.to_dict()
    with pytest.raises(ValueError, match="intrinsic function of JSONPath"):
        Pass("P", output={"u": fn.UUID()}, query_language="JSONata").to_dict()
    with pytest.raises(ValueError, match="ResultPath"):
        Catch(error_equals=["X"], next_step=Fail("F"), result_path="$.e")._to_dict("JSONata")


def test_unused_additions_change_no_bytes(golden_dir: object) -> None:
    """Every §10 keyword is optional: states built without them serialize as the original did."""
    task = Task("T", resource="r", result_path="$.x", retry=Retry(error_equals=["A"], interval_seconds=1))
    assert task.to_json() == '{"Resource": "r", "ResultPath": "$.x", "Type": "Task", "End": true, "Retry": [{"ErrorEquals": ["A"], "IntervalSeconds": 1}]}'
    mapped = Map("M", iterator=Pass("I"), items_path="$", max_concurrency=0)
    assert mapped.to_json() == (
        '{"Iterator": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}, "ItemsPath": "$", '
        '"MaxConcurrency": 0, "Type": "Map", "End": true}'
    )
    assert Graph(Pass("P"), comment="c").to_json() == '{"Comment": "c", "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'


def test_generated_definitions_pass_the_static_validator() -> None:
    """What the §10 builders emit is ASL that Step Functions' own checks (stepfn.asl.validate) accept."""
    pytest.importorskip("stepfn.asl.validate")
    execution_input = ExecutionInput()
    task = LambdaStep(
        "L",
        parameters={"FunctionName": "f", "Args": ["--x", execution_input["x"]], "Greeting": fn.Format("hi {}", execution_input["y"])},
        result_selector={"Body": StepInput()["Payload"]},
        credentials={"RoleArn": execution_input["role"]},
        assign={"last": StepInput()["Payload"]},
        retry=Retry(error_equals=["States.ALL"], max_attempts=3, max_delay_seconds=30, jitter_strategy="FULL"),
    )
    mapped = Map(
        "M",
        item_reader={"Resource": "arn:aws:states:::s3:getObject",
                     "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", "MaxItems": execution_input["n"]},
                     "Parameters": {"Bucket": execution_input["bucket"], "Key": "data.csv"}},
        item_selector={"value": MapItemValue(), "index": MapItemIndex()},
        item_batcher={"MaxItemsPerBatch": 10},
        result_writer={"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "out", "Prefix": "p"}},
        tolerated_failure_percentage=5,
        label="Rows",
        max_concurrency_path="$.concurrency",
    )
    mapped.attach_item_processor(Chain([Pass("A"), Succeed("B")]), mode="DISTRIBUTED", execution_type="EXPRESS")
    choice = Choice("C")
    choice.add_choice(ChoiceRule.StringEquals(execution_input["a"], StepInput()["b"]),
                      Fail("F", error=execution_input["e"], cause=fn.Format("bad {}", execution_input["c"])))
    choice.default_choice(Succeed("OK"))
    jsonpath_graph = Graph(Chain([task, mapped, Wait("W", seconds=execution_input["s"]), choice]))
    assert jsonpath_graph.validate() == []

    source = StepInput()
    jsonata_graph = Graph(Chain([
        Task("T", resource="arn:aws:states:::lambda:invoke", arguments={"FunctionName": "f", "Payload": source["a"]},
             output={"r": "{% $states.result.Payload %}"}, assign={"seen": source["a"]}),
        Wait("W", seconds=Variable("delay")),
    ]), query_language="JSONata")
    assert jsonata_graph.validate() == []


def _all_state_and_step_classes() -> list[tuple[type, dict[str, object]]]:
    from stepfn.steps import compute, service

    classes: list[tuple[type, dict[str, object]]] = [
        (Pass, {}), (Choice, {}), (Succeed, {}), (Parallel, {}), (Task, {}), (Wait, {"seconds": 10}),
        (Map, {"iterator": Pass("PassState")}),
    ]
    for module in (compute, service):
        classes.extend((getattr(module, name), {}) for name in module.__all__)
    return classes


@pytest.mark.parametrize(("cls", "extra"), _all_state_and_step_classes(), ids=lambda value: getattr(value, "__name__", ""))
def test_path_fields_take_placeholders_on_every_step(cls: type, extra: dict[str, object]) -> None:
    execution_input = ExecutionInput(schema={"input_path": str})
    step_input = StepInput(schema={"output_path": str})
    step = cls("S", input_path=execution_input["input_path"], output_path=step_input["output_path"], **extra)
    assert step.to_dict()["InputPath"] == "$$.Execution.Input['input_path']"
    assert step.to_dict()["OutputPath"] == "$['output_path']"
