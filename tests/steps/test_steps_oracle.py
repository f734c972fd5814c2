"""The original SDK's unit-test cases, ported, checked against the recorded ``to_dict()`` oracle.

Each record of ``to_dict_records_sagemaker-2.72.3.jsonl`` is one outermost ``to_dict()`` the original
made while running one of its tests (the states a Graph visits included). For every test whose records
involve no SageMaker step, the case below builds the same objects with stepfn and must produce exactly
that set of ``(class, state_id, json)`` records.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stepfn.inputs import ExecutionInput
from stepfn.steps import (
    BatchSubmitJobStep,
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    EcsRunTaskStep,
    Fail,
    FrozenGraph,
    GlueStartJobRunStep,
    Graph,
    LambdaStep,
    Map,
    Parallel,
    Pass,
    Retry,
    State,
    Succeed,
    Task,
    Wait,
    service,
)
from stepfn.steps.integration_resources import IntegrationPattern
from stepfn.steps.states import Block

SAGEMAKER_STEPS = {"TrainingStep", "ModelStep", "EndpointStep", "EndpointConfigStep", "TransformStep",
                   "ProcessingStep", "TuningStep"}
#: Pipeline templates are built from SageMaker objects; their Graph records belong to stepfn.template's tests.
NOT_HERE = {"tests/unit/test_pipeline.py::test_pca_training_pipeline", "tests/unit/test_pipeline.py::test_inference_pipeline"}
LAMBDA = "arn:aws:lambda:us-east-1:1234567890:function:"

Record = tuple[str, Any, str]


def exact(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return f"^{re.escape(text)}$"


@pytest.fixture(autouse=True)
def _no_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PARTITION", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


def _oracle(golden_dir: Path) -> dict[str, set[Record]]:
    records: dict[str, set[Record]] = defaultdict(set)
    for line in (golden_dir / "to_dict_records_sagemaker-2.72.3.jsonl").read_text().splitlines():
        record = json.loads(line)
        records[record["test"]].add((record["class"], record["state_id"], record["json"]))
    return records


def produced(*objects: Block) -> set[Record]:
    """The records the original would have made: each object, and each state a Graph visits."""
    records: set[Record] = set()
    for obj in objects:
        records.add((type(obj).__name__, getattr(obj, "state_id", None), json.dumps(obj.to_dict())))
        if isinstance(obj, Graph) and not isinstance(obj, FrozenGraph):
            for state in obj.iter_states():
                records.add((type(state).__name__, state.state_id, json.dumps(state.to_dict())))
    return records


CASES: dict[str, Callable[[], set[Record]]] = {}


def case(test_id: str) -> Callable[[Callable[[], set[Record]]], Callable[[], set[Record]]]:
    def register(function: Callable[[], set[Record]]) -> Callable[[], set[Record]]:
        CASES[test_id] = function
        return function
    return register


# -- tests/unit/test_steps.py ------------------------------------------------------------------------------


@case("tests/unit/test_steps.py::test_state_creation")
def _state_creation() -> set[Record]:
    state = State(state_id="StartState", state_type="Void", comment="This is a comment", input_path="$.Input",
                  output_path="$.Output", parameters={"Key": "Value"}, result_path="$.Result")
    with pytest.raises(TypeError, match=exact("Field 'unknown_attribute' is not supported.")):
        State(state_id="State", state_type="Void", unknown_attribute=True)
    return produced(state)


@case("tests/unit/test_steps.py::test_pass_state_creation")
def _pass_creation() -> set[Record]:
    return produced(Pass("Pass", result="Pass"))


@case("tests/unit/test_steps.py::test_succeed_state_creation")
def _succeed_creation() -> set[Record]:
    succeed = Succeed(state_id="Succeed", comment="This is a comment")
    assert succeed.comment == "This is a comment"
    return produced(succeed)


@case("tests/unit/test_steps.py::test_fail_creation")
def _fail_creation() -> set[Record]:
    fail = Fail(state_id="Fail", error="ErrorA", cause="Kaiju attack", comment="This is a comment")
    assert (fail.error, fail.cause) == ("ErrorA", "Kaiju attack")
    return produced(fail)


@case("tests/unit/test_steps.py::test_wait_state_creation")
def _wait_creation() -> set[Record]:
    return produced(Wait(state_id="Wait", seconds=10), Wait(state_id="Wait", seconds_path="$.SecondsPath"))


@case("tests/unit/test_steps.py::test_choice_state_creation")
def _choice_creation() -> set[Record]:
    choice = Choice("Choice", input_path="$.Input")
    choice.add_choice(ChoiceRule.IsPresent("$.StringVariable1", True), Pass("End State 1"))
    choice.add_choice(ChoiceRule.StringEquals("$.StringVariable1", "ABC"), Pass("End State 1"))
    choice.add_choice(ChoiceRule.StringLessThanEqualsPath("$.StringVariable2", "$.value"), Pass("End State 2"))
    choice.default_choice(Pass("End State 3"))
    assert len(choice.choices) == 3
    assert choice.default.state_id == "End State 3"
    return produced(choice)


@case("tests/unit/test_steps.py::test_task_state_creation")
def _task_creation() -> set[Record]:
    task = Task("Task", resource=LAMBDA + "StartLambda")
    task.add_retry(Retry(error_equals=["ErrorA", "ErrorB"], interval_seconds=1, max_attempts=2, backoff_rate=2))
    task.add_retry(Retry(error_equals=["ErrorC"], interval_seconds=5))
    task.add_catch(Catch(error_equals=["States.ALL"], next_step=Pass("End State")))
    assert task.type == "Task"
    return produced(task)


@case("tests/unit/test_steps.py::test_task_state_creation_with_dynamic_timeout")
def _task_dynamic_timeout() -> set[Record]:
    return produced(Task("Task", resource=LAMBDA + "StartLambda", timeout_seconds_path="$.timeout",
                         heartbeat_seconds_path="$.heartbeat"))


@case("tests/unit/test_steps.py::test_parallel_state_creation")
def _parallel_creation() -> set[Record]:
    parallel = Parallel("Parallel")
    for index in (1, 2, 3):
        parallel.add_branch(Pass(f"Branch {index}"))
    return produced(parallel)


@case("tests/unit/test_steps.py::test_map_state_creation")
def _map_creation() -> set[Record]:
    return produced(Map("Map", iterator=Pass("FirstIteratorState"), items_path="$", max_concurrency=0))


@case("tests/unit/test_steps.py::test_catch_creation")
def _catch_creation() -> set[Record]:
    return produced(Catch(error_equals=["States.ALL"], next_step=Fail("End")))


@case("tests/unit/test_steps.py::test_append_states_after_terminal_state_will_fail")
def _append_after_terminal() -> set[Record]:
    pass2 = Pass("Pass2")
    for terminal in (Fail("Fail"), Succeed("Succeed")):
        chain = Chain()
        chain.append(Pass("Pass"))
        chain.append(terminal)
        with pytest.raises(ValueError, match=f"State type `{terminal.state_type}` does not support method `next`."):
            chain.append(pass2)
    return produced(pass2)


def _paths_none_task() -> Task:
    return Task("Task", resource=LAMBDA + "StartLambda", result_path=None, input_path=None, output_path=None)


@case("tests/unit/test_steps.py::test_paths_none")
def _paths_none() -> set[Record]:
    return produced(_paths_none_task())


@case("tests/unit/test_steps.py::test_paths_none_converted_to_null")
def _paths_none_null() -> set[Record]:
    task = _paths_none_task()
    assert '"ResultPath": null' in task.to_json()
    return produced(task)


@case("tests/unit/test_steps.py::test_default_paths_not_included")
def _default_paths() -> set[Record]:
    return produced(Task("Task", resource=LAMBDA + "StartLambda"))


@case("tests/unit/test_steps.py::test_default_paths_not_converted_to_null")
def _default_paths_null() -> set[Record]:
    task = Task("Task", resource=LAMBDA + "StartLambda")
    assert "null" not in task.to_json()
    return produced(task)


def _retries() -> tuple[Retry, list[Retry]]:
    retry = Retry(error_equals=["ErrorA", "ErrorB"], interval_seconds=1, max_attempts=2, backoff_rate=2)
    return retry, [retry, Retry(error_equals=["ErrorC"], interval_seconds=5)]


def _catches() -> tuple[Catch, list[Catch]]:
    catch = Catch(error_equals=["States.ALL"], next_step=Pass("End State"))
    return catch, [catch, Catch(error_equals=["States.TaskFailed"], next_step=Pass("Next State"))]


def _handler_case(kind: str, how: str, handler: str, index: int) -> Callable[[], set[Record]]:
    def build() -> set[Record]:
        single, many = _retries() if handler == "retry" else _catches()
        # The original's map add_retry test listed its parameters in the other order.
        value: Any = (many, single)[index] if (kind, how, handler) == ("map", "add", "retry") else (single, many)[index]
        extra: dict[str, Any] = {"iterator": Pass("Iterator")} if kind == "map" else {}
        cls = {"parallel": Parallel, "map": Map, "task": Task}[kind]
        if how == "constructor":
            step = cls(kind.title(), **{handler: value}, **extra)
        else:
            step = cls(kind.title(), **extra)
            getattr(step, f"add_{handler}")(value)
        return produced(step)
    return build


for _kind in ("parallel", "map", "task"):
    for _handler, _noun in (("retry", "retrier_to_retriers"), ("catch", "catcher_to_catchers")):
        for _how, _verb in (("constructor", f"constructor_with_{_handler}"), ("add", f"add_{_handler}")):
            for _index in (0, 1):
                CASES[
                    f"tests/unit/test_steps.py::test_{_kind}_state_{_verb}_adds_{_noun}"
                    f"[{_handler}{_index}-expected_{_handler}{_index}]"
                ] = _handler_case(_kind, _how, _handler, _index)


# -- tests/unit/test_graph.py ------------------------------------------------------------------------------


@case("tests/unit/test_graph.py::test_nested_parallel_example")
def _nested_parallel() -> set[Record]:
    nested_level_1 = Parallel("NestedStateLevel1")
    nested_level_1.add_branch(Succeed("NestedStateLevel2"))
    first_state = Parallel("FirstState")
    first_state.add_branch(nested_level_1)
    graph = Graph(first_state, comment="This is a test.", version="1.0", timeout_seconds=3600)
    return produced(graph)


def _wait_loop_graph(variable: Any) -> Graph:
    first_state = Task("FirstState", resource=LAMBDA + "FirstState")
    retry = Chain([Pass("Retry"), Pass("Cleanup"), first_state])
    choice = Choice("Is Completed?")
    choice.add_choice(ChoiceRule.BooleanEquals(variable(first_state), True), Succeed("Complete"))
    choice.add_choice(ChoiceRule.BooleanEquals(variable(first_state), False), retry)
    return Graph(Chain([first_state, choice]))


@case("tests/unit/test_graph.py::test_wait_loop")
def _wait_loop() -> set[Record]:
    return produced(_wait_loop_graph(lambda state: "$.Completed"))


@case("tests/unit/test_placeholders_with_steps.py::test_choice_state_with_placeholders")
def _choice_with_placeholders() -> set[Record]:
    return produced(_wait_loop_graph(lambda state: state.output()["Completed"]))


@case("tests/unit/test_graph.py::test_wait_example")
def _wait_example() -> set[Record]:
    chain = Chain([
        Task("FirstState", resource=LAMBDA + "StartState"),
        Wait("wait_using_seconds", seconds=10),
        Wait("wait_using_timestamp", timestamp="2015-09-04T01:59:00Z"),
        Wait("wait_using_timestamp_path", timestamp_path="$.expirydate"),
        Wait("wait_using_seconds_path", seconds_path="$.expiryseconds"),
        Task("FinalState", resource=LAMBDA + "EndLambda"),
    ])
    return produced(Graph(chain))


@case("tests/unit/test_graph.py::test_choice_example")
def _choice_example() -> set[Record]:
    next_state = Task("NextState", resource=LAMBDA + "NextState")
    choice = Choice("ChoiceState")
    choice.default_choice(Fail("DefaultState", error="DefaultStateError", cause="No Matches!"))
    choice.add_choice(ChoiceRule.NumericEquals("$.foo", 1),
                      Chain([Task("FirstMatchState", resource=LAMBDA + "FirstMatchState"), next_state]))
    choice.add_choice(ChoiceRule.NumericEquals("$.foo", 2),
                      Chain([Task("SecondMatchState", resource=LAMBDA + "SecondMatchState"), next_state]))
    return produced(Graph(Chain([Task("FirstState", resource=LAMBDA + "StartLambda"), choice])))


@case("tests/unit/test_graph.py::test_graph_from_string")
def _graph_from_string() -> set[Record]:
    graph = Graph(Chain([Pass("HelloWorld")]))
    frozen = FrozenGraph.from_json(graph.to_json())
    assert frozen.to_dict() == graph.to_dict()
    return produced(graph, frozen)


# -- tests/unit/test_placeholders_with_steps.py / _with_workflows.py ----------------------------------------


@case("tests/unit/test_placeholders_with_steps.py::test_workflow_input_placeholder")
def _workflow_input_placeholder() -> set[Record]:
    execution_input = ExecutionInput()
    return produced(Pass("StateOne", parameters={
        "ParamA": "SampleValueA",
        "ParamB": execution_input,
        "ParamC": execution_input["Key01"],
        "ParamD": execution_input["Key02"]["Key03"],
        "ParamE": execution_input["Key01"]["Key03"],
    }))


@case("tests/unit/test_placeholders_with_steps.py::test_step_input_placeholder")
def _step_input_placeholder() -> set[Record]:
    one = Pass("StateOne")
    two = Pass("StateTwo", parameters={
        "ParamA": one.output(),
        "ParamB": one.output()["Response"]["Key02"],
        "ParamC": "SampleValueC",
    })
    return produced(two)


def _three_states(with_param_i: bool = False) -> tuple[Pass, Pass, Pass]:
    execution_input = ExecutionInput()
    one = Pass("StateOne", parameters={"ParamA": execution_input["Key02"]["Key03"],
                                       "ParamD": execution_input["Key01"]["Key03"]})
    two = Pass("StateTwo", parameters={"ParamC": execution_input["Key05"], "ParamB": "SampleValueB",
                                       "ParamE": one.output()["Response"]["Key04"]})
    three_parameters: dict[str, Any] = {"ParamG": "SampleValueG", "ParamF": execution_input["Key06"],
                                        "ParamH": "SampleValueH"}
    if with_param_i:
        three_parameters["ParamI"] = two.output()
    return one, two, Pass("StateThree", parameters=three_parameters)


@case("tests/unit/test_placeholders_with_steps.py::test_workflow_with_placeholders")
def _workflow_with_placeholders() -> set[Record]:
    return produced(Graph(Chain(list(_three_states()))))


@case("tests/unit/test_placeholders_with_workflows.py::test_workflow_execute_with_valid_input")
def _workflow_execute_valid_input() -> set[Record]:
    graph = Graph(Chain(list(_three_states(with_param_i=True))))
    return {record for record in produced(graph) if record[0] == "Graph"}


@case("tests/unit/test_placeholders_with_steps.py::test_step_input_order_validation")
def _step_input_order() -> set[Record]:
    one, two, three = _three_states()
    with pytest.raises(ValueError, match=exact("State 'StateTwo' is using an illegal placeholder for the 'ParamE' parameter.")):
        Graph(Chain([one, three, two]))
    return produced(one, three)


@case("tests/unit/test_placeholders_with_steps.py::test_map_state_with_placeholders")
def _map_with_placeholders() -> set[Record]:
    execution_input = ExecutionInput()
    map_state = Map("MapState01")
    map_state.attach_iterator(Pass("TrainIterator", parameters={
        "ParamA": map_state.output()["X"]["Y"],
        "ParamB": execution_input["Key01"]["Key02"]["Key03"],
    }))
    return produced(map_state, Graph(map_state))


@case("tests/unit/test_placeholders_with_steps.py::test_parallel_state_with_placeholders")
def _parallel_with_placeholders() -> set[Record]:
    execution_input = ExecutionInput()
    parallel = Parallel("ParallelState01")
    parallel.add_branch(Pass("Branch_A", parameters={"ParamA": parallel.output()["A"]["B"],
                                                     "ParamB": execution_input["Key01"]}))
    parallel.add_branch(Pass("Branch_B", parameters={"ParamA": "TestValue",
                                                     "ParamB": parallel.output()["Response"]["Key"]["State"]}))
    parallel.add_branch(Pass("Branch_C", parameters={"ParamA": parallel.output()["A"]["B"]["C"],
                                                     "ParamB": "HelloWorld"}))
    return produced(parallel, Graph(parallel))


# -- tests/unit/test_workflow.py / test_widgets.py (their definitions) -------------------------------------


@case("tests/unit/test_workflow.py::test_workflow_creation_failure_duplicate_state_ids")
def _duplicate_ids() -> set[Record]:
    first, second = Pass("HelloWorld"), Succeed("HelloWorld")
    with pytest.raises(ValueError, match=re.escape("Found duplicate state id 'HelloWorld' in workflow.")):
        Graph(Chain([first, second]))
    return produced(first, second)


@case("tests/unit/test_workflow.py::test_workflow_update_when_statemachinearn_is_none")
def _update_without_arn() -> set[Record]:
    first, second = Pass("HelloWorld"), Succeed("Complete")
    Chain([first, second])
    return produced(first, second)


@case("tests/unit/test_workflow.py::test_workflow_update")
def _update() -> set[Record]:
    return produced(Graph(Pass("HelloWorld")))


@case("tests/unit/test_workflow.py::test_cloudformation_export_with_simple_definition")
def _cloudformation_definition() -> set[Record]:
    graph = Graph(Chain([Pass("HelloWorld"), Succeed("Complete")]))
    return {record for record in produced(graph) if record[0] == "Graph"}


def _widget_graph() -> set[Record]:
    return produced(Graph(Chain([Pass("Prepare Data"), Pass("Start Training"), Pass("Batch Transform"),
                                 Pass("Deploy")])))


CASES["tests/unit/test_widgets.py::test_workflow_graph"] = _widget_graph
CASES["tests/unit/test_widgets.py::test_execution_graph"] = _widget_graph


# -- tests/unit/test_compute_steps.py ------------------------------------------------------------------------


@case("tests/unit/test_compute_steps.py::test_lambda_step_creation")
def _lambda_creation() -> set[Record]:
    plain = LambdaStep("Echo")
    callback = LambdaStep("lambda", wait_for_callback=True, parameters={
        "Payload": {"model.$": "$.new_model", "token.$": "$$.Task.Token"}})
    return produced(plain, callback)


def _job_case(cls: type, state_id: str, parameters: dict[str, Any]) -> Callable[[], set[Record]]:
    def build() -> set[Record]:
        return produced(cls(state_id, wait_for_completion=False), cls(state_id, parameters=parameters))
    return build


CASES["tests/unit/test_compute_steps.py::test_glue_start_job_run_step_creation"] = _job_case(
    GlueStartJobRunStep, "Glue Job", {"JobName": "Job"})
CASES["tests/unit/test_compute_steps.py::test_batch_submit_job_step_creation"] = _job_case(
    BatchSubmitJobStep, "Batch Job", {"JobName": "Job", "JobQueue": "JobQueue"})
CASES["tests/unit/test_compute_steps.py::test_ecs_run_task_step_creation"] = _job_case(
    EcsRunTaskStep, "Ecs Job", {"TaskDefinition": "Task"})


# -- tests/unit/test_service_steps.py: the request is data, the pattern comes from the test's name ------------

_PATTERN_SUFFIXES = {
    "_call_and_continue": IntegrationPattern.CallAndContinue,
    "_wait_for_completion": IntegrationPattern.WaitForCompletion,
    "_wait_for_task_token": IntegrationPattern.WaitForTaskToken,
}
#: The original's two-step service tests built the default step first and the other flavour second.
_SECOND_FLAVOUR = {
    "SnsPublishStep": {"wait_for_callback": True},
    "SqsSendMessageStep": {"wait_for_callback": True},
    "EventBridgePutEventsStep": {"wait_for_callback": True},
    "EmrCreateClusterStep": {"wait_for_completion": False},
    "EmrTerminateClusterStep": {"wait_for_completion": False},
    "EmrAddStepStep": {"wait_for_completion": False},
}


def _service_case(test_id: str, records: list[dict[str, Any]]) -> Callable[[], set[Record]]:
    def build() -> set[Record]:
        steps = []
        for position, record in enumerate(records):
            cls = getattr(service, record["class"])
            kwargs: dict[str, Any] = {"parameters": json.loads(record["json"])["Parameters"]}
            for suffix, pattern in _PATTERN_SUFFIXES.items():
                if test_id.endswith(suffix):
                    kwargs["integration_pattern"] = pattern
            if position == 1:
                kwargs.update(_SECOND_FLAVOUR[record["class"]])
            steps.append(cls(record["state_id"], **kwargs))
        return produced(*steps)
    return build


def _register_service_cases() -> None:
    # Read at collection time (the cases become parametrize ids), so not through the golden_dir fixture.
    path = Path(__file__).resolve().parents[1] / "data" / "golden" / "to_dict_records_sagemaker-2.72.3.jsonl"
    by_test: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["test"].startswith("tests/unit/test_service_steps.py::"):
            by_test[record["test"]].append(record)
    for test_id, records in by_test.items():
        CASES[test_id] = _service_case(test_id, records)


_register_service_cases()


# -- the oracle check ----------------------------------------------------------------------------------------


def test_every_non_sagemaker_record_has_a_case(golden_dir: Path) -> None:
    oracle = _oracle(golden_dir)
    wanted = {
        test_id for test_id, records in oracle.items()
        if any(cls not in SAGEMAKER_STEPS for cls, _, _ in records) and test_id not in NOT_HERE
    }
    assert wanted - set(CASES) == set()
    # Every record of those tests is non-SageMaker, so the cases cover all of them.
    assert all(cls not in SAGEMAKER_STEPS for test_id in wanted for cls, _, _ in oracle[test_id])


@pytest.mark.parametrize("test_id", sorted(CASES))
def test_oracle_case(golden_dir: Path, test_id: str) -> None:
    assert CASES[test_id]() == _oracle(golden_dir)[test_id]
