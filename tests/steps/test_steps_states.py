"""States, Chain and Graph behaviour: error texts (docs/design/compat.md §2.5), chaining, clone (§9), §11 fixes."""

from __future__ import annotations

import json
import logging
import re

import pytest

from stepfn.exceptions import DuplicateStatesInChain
from stepfn.inputs import ExecutionInput, StepInput
from stepfn.steps import (
    Catch,
    Chain,
    Choice,
    ChoiceRule,
    Fail,
    Field,
    FrozenGraph,
    Graph,
    Map,
    Parallel,
    Pass,
    Retry,
    State,
    Succeed,
    Task,
    Wait,
)
from stepfn.steps.states import to_pascalcase


def exact(text: str) -> str:
    """A ``match=`` pattern for exactly ``text``."""
    return f"^{re.escape(text)}$"


def test_to_pascalcase_and_field_enum() -> None:
    assert to_pascalcase("input_path") == "InputPath"
    assert Field.ItemsPath.value == "items_path"
    assert Field["NextStep"].value == "next_step"


def test_unknown_field_and_attribute_reads() -> None:
    with pytest.raises(TypeError, match=exact("Field 'unknown_field' is not supported.")):
        Pass("P", unknown_field=1)
    state = Pass("P", comment="c", parameters={}, result={})
    assert (state.comment, state.parameters, state.result, state.input_path) == ("c", {}, {}, None)
    with pytest.raises(AttributeError):
        _ = state.not_a_field
    # Setting an attribute does not change the output (docs/design/compat.md §2.1).
    state.comment = "other"
    assert state.to_dict()["Comment"] == "c"


def test_exact_error_texts() -> None:
    with pytest.raises(ValueError) as info:
        Succeed("S").next(Pass("P"))
    assert str(info.value) == (
        "Unexpected State instance `" + Pass("P").to_json(pretty=True) + "`, State type `Succeed` does not support method `next`."
    )
    with pytest.raises(ValueError, match=exact("Pass state does not support retry field. ")):
        Pass("P").add_retry(Retry(error_equals=["X"]))
    with pytest.raises(ValueError, match=exact("Choice state does not support catch field. ")):
        Choice("C").add_catch(Catch(error_equals=["X"], next_step=Fail("F")))
    with pytest.raises(ValueError, match=exact("The Wait state MUST contain exactly one of 'seconds', 'seconds_path', 'timestamp' or 'timestamp_path'.")):
        Wait("W", seconds=1, seconds_path="$.s")
    with pytest.raises(ValueError, match="exactly one"):
        Wait("W")
    with pytest.raises(ValueError, match=exact("Only one of 'timeout_seconds' or 'timeout_seconds_path' can be provided.")):
        Task("T", timeout_seconds=1, timeout_seconds_path="$.t")
    with pytest.raises(ValueError, match=exact("Only one of 'heartbeat_seconds' or 'heartbeat_seconds_path' can be provided.")):
        Task("T", heartbeat_seconds=1, heartbeat_seconds_path="$.t")
    with pytest.raises(TypeError, match=exact("Chain takes a 'list' of steps. You provided an input that is not a list.")):
        Chain(Pass("P"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=exact("Expected branch to be a State or a Chain, but got `None`")):
        Graph(None)  # type: ignore[arg-type]
    empty = Graph(Chain([]))  # accepted, as in the original; refused when serialized
    with pytest.raises(ValueError, match=exact("The chain is empty")):
        empty.to_dict()
    with pytest.raises(ValueError, match=exact("Expected definition to be a dict, but got `<class 'str'>`.")):
        FrozenGraph("{}")  # type: ignore[arg-type]


def test_chaining_steps_repoints_previous_state() -> None:
    """§11 #5 (kept): append() calls next() on the previous last state, wherever else it is used."""
    s1, s2, s3 = Pass("Step - One"), Pass("Step - Two"), Pass("Step - Three")
    Chain([s1, s2])
    assert s1.next_step is s2 and s2.next_step is None
    chain1 = Chain([s2, s3])
    chain2 = Chain([s1, s3])
    assert s1.next_step is s3
    with pytest.raises(DuplicateStatesInChain, match=exact("State 'Step - Three' is already inside this chain. A chain cannot have duplicate states.")):
        chain2.append(s3)
    with pytest.raises(DuplicateStatesInChain, match=exact("Duplicate states in the chain.")):
        Chain([chain1, chain2])
    s1.next(s2)
    chain3 = Chain([s3, s1])
    assert chain3.steps == [s3, s1]
    assert (s3.next_step, s1.next_step, s2.next_step) == (s1, s2, s3)
    assert Chain([Chain([s1]), s2]).state_id == "Step - One"
    assert list(Chain([s1, s2])) == [s1, s2]


def test_chaining_choice_sets_default_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    s1, choice, s3 = Pass("One"), Choice("Two"), Pass("Three")
    Chain([s1, choice, s3])
    assert choice.default is s3 and choice.next_step is None
    with caplog.at_level(logging.WARNING):
        Chain([choice, s1])
    assert "Chaining Choice state: Overwriting Two's current default_choice (Three) with One" in caplog.text
    assert choice.default is s1


def test_retry_and_catch_accept_one_or_a_list() -> None:
    retry = Retry(error_equals=["A"])
    catch = Catch(error_equals=["States.ALL"], next_step=Fail("F"))
    task = Task("T", retry=[retry, retry], catch=catch)
    task.add_catch([catch])
    assert len(task.retries) == 2 and len(task.catches) == 2


def test_update_parameters_lands_after_type_when_new() -> None:
    task = Task("T", resource="r")
    task.update_parameters({"A": 1})
    assert list(task.to_dict()) == ["Resource", "Type", "Parameters", "End"]
    task.update_parameters({"B": 2})
    assert task.to_dict()["Parameters"] == {"B": 2}


def test_output_and_output_schema() -> None:
    state = Pass("P", output_schema={"a": int})
    assert isinstance(state.output(), StepInput)
    assert state.output().immutable
    with pytest.raises(ValueError):
        state.output()["b"]


def test_str_and_repr() -> None:
    state = Pass("P", comment="c")
    assert str(state) == json.dumps({"Comment": "c", "Type": "Pass", "End": True}, indent=4)
    assert repr(state) == "Pass(id='P', comment='c', type='Pass')"
    assert repr(Retry(error_equals=["A"])) == "Retry(error_equals=['A'])"


def test_graph_duplicate_ids() -> None:
    with pytest.raises(ValueError, match=exact("Each state in a workflow must have a unique state id. Found duplicate state id 'A' in workflow.")):
        Graph(Chain([Pass("A"), Pass("B"), Succeed("A")]))
    # Two objects with identical output count as one state.
    choice = Choice("C")
    choice.add_choice(ChoiceRule.IsPresent("$.x", True), Succeed("Done"))
    choice.default_choice(Succeed("Done"))
    assert list(Graph(choice).to_dict()["States"]) == ["C", "Done"]


def test_graph_illegal_placeholder_in_nested_dict() -> None:
    first, second = Pass("First"), Pass("Second")
    third = Pass("Third", parameters={"Outer": {"Inner": first.output()["x"]}})
    with pytest.raises(ValueError, match=exact("State 'Third' is using an illegal placeholder for the 'Inner' parameter.")):
        Graph(Chain([first, second, third]))
    # ExecutionInput placeholders are always legal, and the previous state's output is.
    ok = Pass("Ok", parameters={"a": second.output()["y"], "b": ExecutionInput()["z"]})
    Graph(Chain([Pass("First2"), second, ok]))


def test_graph_rebuilds_states_on_every_serialization() -> None:
    """§11 #4: the original snapshot the states when the Graph was built; later edits were lost."""
    first, second = Pass("First"), Pass("Second")
    graph = Graph(Chain([first, second]))
    before = graph.to_json()
    assert graph.to_json() == before  # unchanged graph, same bytes
    second.update_parameters({"x": 1})
    second.next(Succeed("Done"))
    states = graph.to_dict()["States"]
    assert states["Second"] == {"Type": "Pass", "Parameters": {"x": 1}, "Next": "Done"}
    assert states["Done"] == {"Type": "Succeed"}
    # Validation also runs again at serialization.
    second.next(Pass("First", comment="clash"))
    with pytest.raises(ValueError, match="duplicate state id 'First'"):
        graph.to_dict()


def test_frozen_graph_stays_frozen() -> None:
    definition = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
    frozen = FrozenGraph.from_json(json.dumps(definition))
    assert frozen.to_dict() == definition
    assert frozen.to_json(pretty=True) == json.dumps(definition, indent=4)


def test_long_chain_has_no_recursion_limit() -> None:
    states = [Pass(f"S{i}") for i in range(3000)]
    graph = Graph(Chain(states))
    assert len(graph.to_dict()["States"]) == 3000


def test_map_iterator_positions() -> None:
    attached = Map("M", items_path="$.a")
    attached.attach_iterator(Pass("I"))
    assert list(attached.to_dict()) == ["ItemsPath", "Type", "End", "Iterator"]
    given = Map("M", iterator=Pass("I"), items_path="$.a")
    given.attach_iterator(Pass("J"))
    assert list(given.to_dict()) == ["Iterator", "ItemsPath", "Type", "End"]
    assert given.to_dict()["Iterator"]["StartAt"] == "J"


# -- clone (docs/design/compat.md §9) ---------------------------------------------------------------------------------------


def test_shallow_clone_shares_transitions_but_not_containers() -> None:
    done = Succeed("Done")
    task = Task("T", resource="r", parameters={"a": [1]}, retry=Retry(error_equals=["X"]))
    task.next(done)
    copy = task.clone()
    assert type(copy) is Task and copy.state_id == "T"
    assert copy.next_step is done
    assert copy.fields is not task.fields and copy.retries is not task.retries
    assert copy.fields["parameters"] is task.fields["parameters"]
    assert copy.output() is not task.output()
    copy.add_retry(Retry(error_equals=["Y"]))
    assert len(task.retries) == 1
    assert copy.to_dict()["Next"] == "Done"


def test_clone_reused_in_another_chain_does_not_repoint_original() -> None:
    a, b = Pass("A"), Pass("B")
    Chain([a, b])
    a2 = a.clone()
    Chain([a2, Succeed("Other")])
    assert a.next_step is b
    assert a2.next_step.state_id == "Other"


def test_deep_clone_copies_values_and_keeps_placeholders() -> None:
    execution_input = ExecutionInput()
    task = Task("T", resource="r", parameters={"x": execution_input["x"], "nested": {"k": [1]}},
                catch=Catch(error_equals=["States.ALL"], next_step=Fail("F")))
    deep = task.clone(deep=True)
    assert deep.fields["parameters"] is not task.fields["parameters"]
    assert deep.fields["parameters"]["nested"]["k"] is not task.fields["parameters"]["nested"]["k"]
    assert deep.fields["parameters"]["x"] is execution_input["x"]
    assert deep.catches[0] is not task.catches[0]
    assert deep.catches[0].next_step is task.catches[0].next_step
    assert deep.to_dict() == task.to_dict()


def test_deep_clone_of_parallel_map_choice() -> None:
    parallel = Parallel("P")
    branch = Chain([Pass("B1"), Pass("B2")])
    parallel.add_branch(branch)
    copy = parallel.clone(deep=True)
    assert copy.branches[0] is not branch
    assert copy.branches[0].steps[0] is not branch.steps[0]
    assert copy.branches[0].steps[0].next_step is copy.branches[0].steps[1]
    assert copy.to_dict() == parallel.to_dict()
    assert parallel.clone().branches[0] is branch

    mapped = Map("M")
    iterator = Pass("I")
    mapped.attach_iterator(iterator)
    mapped_copy = mapped.clone(deep=True)
    assert mapped_copy.iterator is not iterator
    assert mapped_copy.to_dict() == mapped.to_dict()

    choice = Choice("C")
    rule = ChoiceRule.StringEquals(StepInput()["a"], "x")
    target = Succeed("S")
    choice.add_choice(rule, target)
    choice_copy = choice.clone(deep=True)
    assert choice_copy.choices[0][0] is not rule
    assert choice_copy.choices[0][0].variable is rule.variable
    assert choice_copy.choices[0][1] is target
    shallow = choice.clone()
    shallow.add_choice(ChoiceRule.IsNull("$.b", True), target)
    assert len(choice.choices) == 1


def test_chain_and_graph_clone() -> None:
    a, b = Pass("A"), Pass("B")
    chain = Chain([a, b])
    shallow = chain.clone()
    assert shallow.steps == [a, b] and shallow.steps is not chain.steps
    deep = chain.clone(deep=True)
    assert deep.steps[0] is not a and deep.steps[0].next_step is deep.steps[1]
    graph = Graph(chain, comment="c")
    assert graph.clone(deep=True).to_dict() == graph.to_dict()
    state = State("S", "Pass")
    assert state.clone().to_dict() == state.to_dict()
