"""The definition `stepfn rerun --from STATE` runs (stepfn.workflow._rerun), checked on the ASL itself."""

from __future__ import annotations

import pytest

from stepfn.asl.validate import validate_definition
from stepfn.workflow._rerun import RerunError, build_rerun_definition, entered_input, failed_state

TRAIN = "arn:aws:states:::sagemaker:createTrainingJob.sync"
DEFINITION = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Next": "Train"},
        "Train": {"Type": "Task", "Resource": TRAIN, "Next": "Model",
                  "Parameters": {"TrainingJobName.$": "$$.Execution.Input.JobName", "RoleArn": "r"},
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Cleanup"}]},
        "Model": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createModel", "End": True,
                  "Parameters": {"ModelName": "fixed-name"}},
        "Cleanup": {"Type": "Fail"},
        "Sweep": {"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "Inner", "States": {
            "Inner": {"Type": "Task", "Resource": TRAIN, "End": True,
                      "Parameters": {"TrainingJobName.$": "States.Format('job-{}', $.i)"}}}}},
    },
}


def test_starts_at_the_state_with_its_input_and_fresh_job_names() -> None:
    rerun = build_rerun_definition(DEFINITION, "Train", {"prepared": True}, "abc123")
    assert rerun["StartAt"] == "Rerun from Train"
    assert rerun["States"]["Rerun from Train"]["Result"] == {"prepared": True}
    assert list(rerun["States"]) == ["Rerun from Train", "Train", "Model", "Cleanup"]  # Prepare, Sweep dropped
    assert rerun["States"]["Train"]["Parameters"]["TrainingJobName.$"] == (
        "States.Format('{}-abc123', $$.Execution.Input.JobName)")
    assert rerun["States"]["Model"]["Parameters"]["ModelName"] == "fixed-name-abc123"
    assert validate_definition(rerun) == []
    assert DEFINITION["States"]["Train"]["Parameters"]["TrainingJobName.$"] == "$$.Execution.Input.JobName"


def test_jobs_inside_a_map_and_jsonata_names_are_renamed_too() -> None:
    rerun = build_rerun_definition(DEFINITION, "Sweep", {"i": 1}, "x1")
    inner = rerun["States"]["Sweep"]["ItemProcessor"]["States"]["Inner"]
    assert inner["Parameters"]["TrainingJobName.$"] == "States.Format('{}-x1', States.Format('job-{}', $.i))"
    jsonata = {"QueryLanguage": "JSONata", "StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": TRAIN, "End": True, "Arguments": {"TrainingJobName": "{% $states.input.n %}"}}}}
    renamed = build_rerun_definition(jsonata, "T", {"n": "a"}, "x2")
    assert renamed["States"]["T"]["Arguments"]["TrainingJobName"] == "{% ($states.input.n) & '-x2' %}"
    assert renamed["States"]["Rerun from T"]["Output"] == {"n": "a"}


def test_refuses_nested_or_unknown_states_and_states_never_entered() -> None:
    with pytest.raises(RerunError, match="inside 'Sweep'"):
        build_rerun_definition(DEFINITION, "Inner", {}, "s")
    with pytest.raises(RerunError, match="not in this state machine"):
        build_rerun_definition(DEFINITION, "Nope", {}, "s")
    with pytest.raises(RerunError, match="never entered"):
        entered_input([], "Train")


def test_the_default_state_is_the_one_the_execution_failed_in() -> None:
    def entered(name: str) -> dict[str, object]:
        return {"stateEnteredEventDetails": {"name": name, "input": "{}"}}

    def exited(name: str) -> dict[str, object]:
        return {"stateExitedEventDetails": {"name": name}}

    events = [entered("Prepare"), exited("Prepare"), entered("Train")]
    assert failed_state(events, DEFINITION) == "Train"
    assert failed_state([*events, exited("Train")], DEFINITION) is None
